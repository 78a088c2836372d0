//! Discovery: ServiceProviderConfig, Schemas, ResourceTypes.

use reqwest::{Method, StatusCode};

use crate::helpers::*;

#[tokio::test]
async fn discovery_describes_what_works() {
    let app = TestApp::spawn().await;
    let spc = app
        .raw(Method::GET, "/scim/v2/ServiceProviderConfig", &[], None)
        .await;
    assert_eq!(spc.status, StatusCode::OK);
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["sort"]["supported"], true);
    assert_eq!(spc.body["etag"]["supported"], true);
    assert_eq!(spc.body["filter"]["maxResults"], 1000);
    assert_eq!(spc.body["bulk"]["supported"], true);
    assert_eq!(spc.body["bulk"]["maxOperations"], 1000);
    assert_eq!(
        spc.body["authenticationSchemes"][0]["type"],
        "oauthbearertoken"
    );
    let schemas = app.raw(Method::GET, "/scim/v2/Schemas", &[], None).await;
    // User, enterprise User, Group, Roster's Group extension, and the three of RFC 7643 §7.
    assert_eq!(schemas.body["totalResults"], 7);
    let ext = app
        .raw(
            Method::GET,
            "/scim/v2/Schemas/urn:roster:params:scim:schemas:extension:roster:2.0:Group",
            &[],
            None,
        )
        .await;
    assert_eq!(ext.body["attributes"][0]["name"], "slug");
    assert_eq!(ext.body["attributes"][0]["mutability"], "readOnly");
    let user = app
        .raw(
            Method::GET,
            &format!("/scim/v2/Schemas/{USER_URN}"),
            &[],
            None,
        )
        .await;
    let pw = user.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "password")
        .unwrap();
    assert_eq!(pw["returned"], "never");
    let user_name = user.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .unwrap();
    assert_eq!(user_name["uniqueness"], "server");
    let rts = app
        .raw(Method::GET, "/scim/v2/ResourceTypes", &[], None)
        .await;
    assert_eq!(rts.body["Resources"][1]["endpoint"], "/Groups");
    assert_eq!(
        app.raw(Method::GET, "/scim/v2/ResourceTypes/User", &[], None)
            .await
            .body["schema"],
        USER_URN
    );
    assert_scim_error(
        &app.raw(Method::GET, "/scim/v2/ResourceTypes/Nope", &[], None)
            .await,
        404,
        None,
    );
}
