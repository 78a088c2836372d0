//! What Microsoft Entra ID's provisioning service and SCIM checkers send that goes beyond
//! (or around) RFC 7644's letter: the `attr[filter].sub op value` filter form, attribute
//! names in any case down to sub-attributes of extensions, `manager` without its URN and as
//! a one-element array, unknown schemas, lists without `count`, and a documentation link
//! that resolves.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

async fn find(app: &TestApp, filter: &str) -> Resp {
    app.find_users(filter, ADMIN_TOKEN).await
}

#[tokio::test]
async fn entra_filters_a_value_path_followed_by_a_sub_attribute() {
    let app = TestApp::spawn().await;
    for (name, emails) in [
        (
            "work-x",
            json!([{"value": "x@corp.example", "type": "work"}, {"value": "y@home.example", "type": "home"}]),
        ),
        (
            "home-x",
            json!([{"value": "x@corp.example", "type": "home"}]),
        ),
        (
            "other",
            json!([{"value": "z@corp.example", "type": "work"}]),
        ),
    ] {
        let r = app
            .scim_admin(
                Method::POST,
                "/Users",
                json!({"userName": name, "emails": emails}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    for (filter, want) in [
        (
            r#"emails[type eq "work"].value eq "x@corp.example""#,
            vec!["work-x"],
        ),
        // Both conditions on the same email: work-x's work address is not y@...
        (
            r#"emails[type eq "work"].value eq "y@home.example""#,
            vec![],
        ),
        (r#"emails[type eq "home"].value co "@CORP""#, vec!["home-x"]),
        (
            r#"emails[type eq "work"].value pr and userName ne "other""#,
            vec!["work-x"],
        ),
        (
            r#"emails[type eq "home" or type eq "work"].value sw "x@""#,
            vec!["home-x", "work-x"],
        ),
    ] {
        let r = find(&app, filter).await;
        assert_eq!(r.status, StatusCode::OK, "{filter}: {}", r.text);
        let want: Vec<String> = want.into_iter().map(str::to_owned).collect();
        assert_eq!(sorted_user_names(&r), want, "{filter}");
    }
    let r = find(&app, r#"emails[type eq "work"].nosuch eq "x""#).await;
    assert_scim_error(&r, 400, Some("invalidFilter"));
    let r = find(&app, r#"emails[type eq "work"].value"#).await;
    assert_scim_error(&r, 400, Some("invalidFilter"));
}

#[tokio::test]
async fn attribute_names_are_case_insensitive_down_to_extension_sub_attributes() {
    let app = TestApp::spawn().await;
    let boss = app.create_user("boss").await;
    // Entra ID's create, key for key.
    let r = app
        .scim_admin(
            Method::POST,
            "/Users",
            json!({
                "schemas": [USER_URN, ENT],
                "UserName": "entra.user", "Active": true, "DisplayName": "Entra User",
                "Name": {"GivenName": "Entra", "FamilyName": "User"},
                "Emails": [{"Primary": true, "Type": "work", "Value": "entra.user@corp.example"}],
                "PhoneNumbers": [{"Type": "mobile", "Value": "+1 555 0100", "Primary": true}],
                "Addresses": [{"Type": "work", "StreetAddress": "1 Main St", "Locality": "Springfield",
                               "PostalCode": "12345", "Country": "US"}],
                ENT: {"Department": "Sales", "EmployeeNumber": "E-1", "Manager": {"Value": boss}},
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let stored = app
        .scim(Method::GET, &format!("/Users/{id}"), ADMIN_TOKEN, None)
        .await
        .body;
    assert_eq!(stored["userName"], "entra.user");
    assert_eq!(stored["name"]["givenName"], "Entra");
    assert_eq!(stored["emails"][0]["value"], "entra.user@corp.example");
    assert_eq!(stored["emails"][0]["primary"], true);
    assert_eq!(stored[ENT]["department"], "Sales");
    assert_eq!(stored[ENT]["employeeNumber"], "E-1");
    assert_eq!(stored[ENT]["manager"]["value"], json!(boss), "{stored}");
    assert_eq!(
        stored[ENT]["manager"]["$ref"],
        json!(format!("{}/scim/v2/Users/{boss}", app.base))
    );
    // Sub-attributes of multi-valued attributes read back in the RFC's spelling.
    assert_eq!(
        stored["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100", "primary": true}])
    );
    assert_eq!(
        stored["addresses"],
        json!([{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield",
                "postalCode": "12345", "country": "US"}])
    );
    let r = find(&app, &format!("{ENT}:manager.value eq \"{boss}\"")).await;
    assert_eq!(sorted_user_names(&r), vec!["entra.user"]);

    // PATCH: a PatchOp message's own keys, paths and values in any case.
    let r = app
        .scim_admin(
            Method::PATCH,
            &format!("/Users/{id}"),
            json!({"Schemas": [PATCH_URN], "operations": [
                {"OP": "Replace", "Path": "phoneNumbers[type eq \"mobile\"].Value", "Value": "+1 555 0199"},
                {"op": "add", "path": "ims", "value": [{"Value": "entra", "Type": "xmpp"}]},
                {"op": "replace", "path": format!("{ENT}:Manager"), "value": {"VALUE": boss}},
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["phoneNumbers"][0]["value"], "+1 555 0199");
    assert_eq!(
        r.body["ims"],
        json!([{"value": "entra", "type": "xmpp"}]),
        "{}",
        r.text
    );
    assert_eq!(r.body[ENT]["manager"]["value"], json!(boss));

    // Two spellings of one sub-attribute are ambiguous: refused, nothing stored.
    let r = app
        .scim_admin(
            Method::POST,
            "/Users",
            json!({"userName": "twice", "phoneNumbers": [{"value": "1", "Value": "2"}]}),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(sorted_user_names(&find(&app, "userName eq \"twice\"").await).is_empty());
}

#[tokio::test]
async fn manager_needs_no_urn_and_may_come_as_a_one_element_array() {
    let app = TestApp::spawn().await;
    let boss = app.create_user("boss").await;
    let other = app.create_user("other-boss").await;
    let id = app.create_user("report").await;
    let path = format!("/Users/{id}");
    let manager_of = |r: &Resp| r.body[ENT]["manager"]["value"].clone();

    // Entra's tutorial example, verbatim but for the ids.
    let r = app
        .scim_patch(
            &path,
            ADMIN_TOKEN,
            json!([{"op": "Add", "path": "manager",
                    "value": [{"$ref": format!("../Users/{boss}"), "value": boss}]}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(manager_of(&r), json!(boss));
    // Entra's other forms: a bare id, and the path-less object.
    let r = app
        .scim_patch(
            &path,
            ADMIN_TOKEN,
            json!([{"op": "Replace", "path": "manager", "value": other}]),
        )
        .await;
    assert_eq!(manager_of(&r), json!(other), "{}", r.text);
    let r = app
        .scim_patch(
            &path,
            ADMIN_TOKEN,
            json!([{"op": "replace", "value": {"manager": {"value": boss}, "department": "Ops"}}]),
        )
        .await;
    assert_eq!(manager_of(&r), json!(boss), "{}", r.text);
    assert_eq!(r.body[ENT]["department"], "Ops");
    // Every enterprise attribute resolves without the URN, also in a filter.
    let r = app
        .scim_patch(
            &path,
            ADMIN_TOKEN,
            json!([{"op": "replace", "path": "costCenter", "value": "CC-7"}]),
        )
        .await;
    assert_eq!(r.body[ENT]["costCenter"], "CC-7", "{}", r.text);
    let r = find(
        &app,
        &format!("manager eq \"{boss}\" and department eq \"ops\""),
    )
    .await;
    assert_eq!(sorted_user_names(&r), vec!["report"]);
    // More than one manager is not a manager.
    let r = app
        .scim_patch(
            &path,
            ADMIN_TOKEN,
            json!([{"op": "add", "path": "manager", "value": [{"value": boss}, {"value": other}]}]),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = app
        .scim_patch(
            &path,
            ADMIN_TOKEN,
            json!([{"op": "remove", "path": "manager"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(manager_of(&r), Value::Null, "{}", r.text);
    // `name` is singular too.
    let r = app
        .scim_patch(
            &path,
            ADMIN_TOKEN,
            json!([{"op": "replace", "path": "name", "value": [{"givenName": "Rita"}]}]),
        )
        .await;
    assert_eq!(r.body["name"]["givenName"], "Rita", "{}", r.text);
}

#[tokio::test]
async fn unknown_schemas_are_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let gid = app.create_group("Team").await;
    let uid = app.create_user("known").await;
    let before = app.snapshot().await;
    let foreign = "urn:example:params:scim:schemas:extension:acme:2.0:User";
    for (method, path, body, urn) in [
        (
            Method::POST,
            "/Users".to_owned(),
            json!({"schemas": [USER_URN, foreign], "userName": "x1"}),
            foreign,
        ),
        (
            Method::POST,
            "/Users".to_owned(),
            json!({"schemas": [USER_URN], "userName": "x2", foreign: {"badge": "7"}}),
            foreign,
        ),
        (
            Method::POST,
            "/Users".to_owned(),
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "x3"}),
            "urn:ietf:params:scim:schemas:core:2.0:Group",
        ),
        (
            Method::PUT,
            format!("/Users/{uid}"),
            json!({"schemas": [USER_URN], "userName": "known", foreign: {}}),
            foreign,
        ),
        (
            Method::POST,
            "/Groups".to_owned(),
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", foreign], "displayName": "G"}),
            foreign,
        ),
        (
            Method::PUT,
            format!("/Groups/{gid}"),
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G",
                   ENT: {"department": "x"}}),
            ENT,
        ),
    ] {
        let r = app.scim_admin(method.clone(), &path, body).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains(urn), "{method} {path}: {detail}");
    }
    assert_eq!(app.snapshot().await, before, "nothing was stored");
    // The schemas Roster publishes are accepted in any case.
    let r = app
        .scim_admin(
            Method::POST,
            "/Users",
            json!({"schemas": [USER_URN.to_uppercase(), ENT], "userName": "ok", ENT: {"division": "D"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn a_list_without_count_returns_up_to_max_results() {
    let app = TestApp::spawn().await;
    let spc = app
        .scim(Method::GET, "/ServiceProviderConfig", ADMIN_TOKEN, None)
        .await;
    let max = spc.body["filter"]["maxResults"].as_i64().unwrap();
    assert_eq!(max, 1000);
    for i in 0..150 {
        app.create_user(&format!("user{i:03}")).await;
        app.create_group(&format!("group{i:03}")).await;
    }
    for path in ["/Users", "/Groups"] {
        let r = app.scim(Method::GET, path, ADMIN_TOKEN, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let total = r.body["totalResults"].as_i64().unwrap();
        assert!(total > 100 && total <= max, "{path}: {total}");
        assert_eq!(r.body["itemsPerPage"], json!(total), "{path}");
        assert_eq!(r.body["Resources"].as_array().unwrap().len() as i64, total);
    }
    let r = app
        .scim_admin(
            Method::POST,
            "/Users/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}),
        )
        .await;
    assert_eq!(r.body["itemsPerPage"], 151, "{}", r.text);
    // `count` still pages, and is still clamped to the maximum.
    let r = app
        .scim(Method::GET, "/Users?count=7", ADMIN_TOKEN, None)
        .await;
    assert_eq!(r.body["itemsPerPage"], 7);
    // The ODM view keeps its seed's default of 100.
    let r = app.odm(Method::GET, "/Users", ADMIN_TOKEN, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["itemsPerPage"], 100, "{}", r.text);
}

#[tokio::test]
async fn the_documentation_uri_resolves() {
    let app = TestApp::spawn().await;
    let spc = app
        .scim(Method::GET, "/ServiceProviderConfig", ADMIN_TOKEN, None)
        .await;
    let uri = spc.body["documentationUri"].as_str().unwrap().to_owned();
    assert!(uri.starts_with(&app.base), "{uri}");
    let r = app.client.get(&uri).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{uri}");
    let doc: Value = r.json().await.unwrap();
    assert!(doc["paths"]["/scim/v2/Users"].is_object(), "{doc}");
}
