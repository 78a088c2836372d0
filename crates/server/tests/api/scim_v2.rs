//! `/scim/v2`: the standard semantics that differ from the ODM profile.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn users_crud_filters_and_etags() {
    let app = TestApp::spawn().await;
    let r = app
        .scim(
            Method::POST,
            "/Users",
            ADMIN_TOKEN,
            Some(json!({
                "schemas": [USER_URN], "userName": "bjensen", "password": "s3cret!",
                "name": {"givenName": "Barbara", "familyName": "Jensen"},
                "emails": [{"value": "bjensen@example.com", "type": "home", "primary": true}],
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(
        r.body.get("password").is_none(),
        "password is never returned"
    );
    assert_eq!(r.body["name"]["familyName"], "Jensen");
    assert_eq!(r.body["emails"][0]["type"], "home");
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.headers["etag"], "W/\"1\"");
    let dup = app
        .scim(
            Method::POST,
            "/Users",
            ADMIN_TOKEN,
            Some(json!({"userName": "BJENSEN"})),
        )
        .await;
    assert_scim_error(&dup, 409, Some("uniqueness"));

    let f = app.scim(Method::GET, "/Users?filter=name.familyName%20sw%20%22jen%22%20or%20emails.value%20co%20%22nobody%22", ADMIN_TOKEN, None).await;
    assert_eq!(f.body["totalResults"], 1, "{}", f.text);
    let f = app
        .scim(
            Method::GET,
            "/Users?filter=not%20(userName%20eq%20%22bjensen%22)",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(f.body["totalResults"], 1);
    assert_eq!(f.body["Resources"][0]["userName"], "admin");

    // Deactivated users stay listed at /scim/v2.
    let path = format!("/Users/{id}");
    let r = app
        .scim(
            Method::PATCH,
            &path,
            ADMIN_TOKEN,
            Some(patch(
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["active"], false);
    let f = app
        .scim(
            Method::GET,
            "/Users?filter=active%20eq%20false",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(f.body["totalResults"], 1);

    // If-Match: stale version → 412 and nothing changes.
    let stale = app
        .raw(
            Method::PATCH,
            &format!("/scim/v2{path}"),
            &[
                ("Authorization", &format!("Bearer {ADMIN_TOKEN}")),
                ("If-Match", "W/\"1\""),
                ("Content-Type", "application/scim+json"),
            ],
            Some(
                patch(json!([{"op": "replace", "path": "displayName", "value": "X"}]))
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await;
    assert_scim_error(&stale, 412, None);
    let r = app.scim(Method::GET, &path, ADMIN_TOKEN, None).await;
    assert!(r.body.get("displayName").is_none());
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");

    let unknown = app
        .scim(
            Method::PATCH,
            &path,
            ADMIN_TOKEN,
            Some(patch(
                json!([{"op": "replace", "path": "nickName2", "value": "x"}]),
            )),
        )
        .await;
    assert_scim_error(&unknown, 400, Some("invalidPath"));

    // DELETE removes for real.
    assert_eq!(
        app.scim(Method::DELETE, &path, ADMIN_TOKEN, None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_scim_error(
        &app.scim(Method::GET, &path, ADMIN_TOKEN, None).await,
        404,
        None,
    );
    assert_scim_error(
        &app.scim(Method::GET, "/Users/not-a-uuid", ADMIN_TOKEN, None)
            .await,
        404,
        None,
    );
}

#[tokio::test]
async fn groups_take_members_and_patch_answers_200() {
    let app = TestApp::spawn().await;
    let a = app.create_user("a").await;
    let b = app.create_user("b").await;
    let r = app
        .scim(
            Method::POST,
            "/Groups",
            ADMIN_TOKEN,
            Some(json!({"displayName": "Eng", "members": [{"value": a}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.body["members"].as_array().unwrap().len(),
        1,
        "the caller is not added at /scim/v2"
    );
    let path = format!("/Groups/{}", r.body["id"].as_str().unwrap());
    let r = app
        .scim(
            Method::PATCH,
            &path,
            ADMIN_TOKEN,
            Some(patch(json!([
                {"op": "Add", "path": "members", "value": [{"value": a}, {"value": b}]},
                {"op": "remove", "path": "members", "value": [{"value": a}]},
            ]))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["members"][0]["value"], json!(b));
    let f = app
        .scim(
            Method::GET,
            &format!("/Groups?filter=members.value%20eq%20%22{b}%22&excludedAttributes=members"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(f.body["totalResults"], 1, "{}", f.text);
    assert!(f.body["Resources"][0].get("members").is_none());
    // Deleting a user removes their memberships.
    app.scim(Method::DELETE, &format!("/Users/{b}"), ADMIN_TOKEN, None)
        .await;
    let g = app.scim(Method::GET, &path, ADMIN_TOKEN, None).await;
    assert_eq!(g.body["members"], json!([]));
}

#[tokio::test]
async fn scim_needs_a_bearer_token() {
    let app = TestApp::spawn().await;
    let r = app
        .raw(
            Method::GET,
            "/scim/v2/Users",
            &[("Genestack-API-Token", ADMIN_TOKEN)],
            None,
        )
        .await;
    assert_scim_error(&r, 401, None);
    let id = app.create_user("plain").await;
    let t = app.token_for("plain").await;
    assert_scim_error(
        &app.scim(Method::GET, &format!("/Users/{id}"), &t, None)
            .await,
        403,
        None,
    );
    assert_scim_error(&app.scim(Method::GET, "/Groups", &t, None).await, 403, None);
}

#[tokio::test]
async fn put_replaces_and_ignores_read_only_attributes() {
    let app = TestApp::spawn().await;
    let r = app
        .scim(Method::POST, "/Users", ADMIN_TOKEN, Some(json!({"userName": "okta1", "displayName": "D", "externalId": "x1", "name": {"givenName": "G"}})))
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    let r = app
        .scim(Method::PUT, &path, ADMIN_TOKEN, Some(json!({"schemas": [USER_URN], "id": "ignored", "meta": {"version": "W/\"99\""},
            "userName": "okta1", "active": false, "emails": [{"value": "o@x.com", "primary": true}]})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["id"], json!(id));
    assert_eq!(r.body["active"], false);
    assert!(
        r.body.get("displayName").is_none(),
        "absent attributes are cleared by PUT"
    );
    assert!(r.body.get("externalId").is_none());
    assert!(r.body.get("name").is_none());
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");
    let missing = app
        .scim(
            Method::PUT,
            &path,
            ADMIN_TOKEN,
            Some(json!({"displayName": "no userName"})),
        )
        .await;
    assert_scim_error(&missing, 400, Some("invalidValue"));
    let stale = app
        .raw(
            Method::PUT,
            &format!("/scim/v2{path}"),
            &[
                ("Authorization", &format!("Bearer {ADMIN_TOKEN}")),
                ("If-Match", "W/\"1\""),
                ("Content-Type", "application/scim+json"),
            ],
            Some(json!({"userName": "okta1"}).to_string().into_bytes()),
        )
        .await;
    assert_scim_error(&stale, 412, None);
    // Group PUT replaces the member list.
    let a = app.create_user("pa").await;
    let b = app.create_user("pb").await;
    let g = app
        .scim(
            Method::POST,
            "/Groups",
            ADMIN_TOKEN,
            Some(json!({"displayName": "G", "members": [{"value": a}]})),
        )
        .await;
    let gpath = format!("/Groups/{}", g.body["id"].as_str().unwrap());
    let r = app
        .scim(
            Method::PUT,
            &gpath,
            ADMIN_TOKEN,
            Some(json!({"displayName": "G2", "members": [{"value": b}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["displayName"], "G2");
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["members"][0]["value"], json!(b));
}

#[tokio::test]
async fn sorting_projection_search_and_conditional_get() {
    let app = TestApp::spawn().await;
    for (n, d) in [("carol", "Zed"), ("alice", "Yan"), ("bob", "Xu")] {
        app.scim(
            Method::POST,
            "/Users",
            ADMIN_TOKEN,
            Some(json!({"userName": n, "displayName": d, "name": {"familyName": d}})),
        )
        .await;
    }
    let names = |r: &Resp| -> Vec<String> {
        r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = app
        .scim(Method::GET, "/Users?sortBy=userName", ADMIN_TOKEN, None)
        .await;
    assert_eq!(names(&r), ["admin", "alice", "bob", "carol"]);
    let r = app
        .scim(
            Method::GET,
            "/Users?sortBy=name.familyName&sortOrder=descending",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(
        names(&r),
        ["carol", "alice", "bob", "admin"],
        "users without a value sort last"
    );
    assert_scim_error(
        &app.scim(Method::GET, "/Users?sortBy=emails", ADMIN_TOKEN, None)
            .await,
        400,
        Some("invalidValue"),
    );
    assert_scim_error(
        &app.scim(
            Method::GET,
            "/Users?sortBy=userName&sortOrder=sideways",
            ADMIN_TOKEN,
            None,
        )
        .await,
        400,
        Some("invalidValue"),
    );

    let r = app
        .scim(
            Method::GET,
            "/Users?attributes=userName&filter=userName%20eq%20%22bob%22",
            ADMIN_TOKEN,
            None,
        )
        .await;
    let u = &r.body["Resources"][0];
    assert_eq!(
        u.as_object().unwrap().keys().cloned().collect::<Vec<_>>(),
        ["id", "schemas", "userName"]
    );
    let r = app
        .scim(
            Method::GET,
            "/Users?excludedAttributes=meta,name&count=1",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert!(
        r.body["Resources"][0].get("meta").is_none() && r.body["Resources"][0].get("id").is_some()
    );

    let s = app
        .scim(Method::POST, "/Users/.search", ADMIN_TOKEN, Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "displayName sw \"Y\" or displayName sw \"Z\"", "sortBy": "userName", "attributes": ["userName"], "startIndex": 1, "count": 10})))
        .await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    assert_eq!(names(&s), ["alice", "carol"]);
    let bad = app
        .scim(
            Method::POST,
            "/Users/.search",
            ADMIN_TOKEN,
            Some(json!({"filter": "userName pr"})),
        )
        .await;
    assert_scim_error(&bad, 400, Some("invalidSyntax"));
    app.scim(
        Method::POST,
        "/Groups",
        ADMIN_TOKEN,
        Some(json!({"displayName": "Yankees"})),
    )
    .await;
    let all = app
        .scim(Method::POST, "/.search", ADMIN_TOKEN, Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "displayName sw \"Y\""})))
        .await;
    assert_eq!(all.body["totalResults"], 2, "{}", all.text);

    let id = s.body["Resources"][0]["id"].as_str().unwrap().to_owned();
    let first = app
        .scim(Method::GET, &format!("/Users/{id}"), ADMIN_TOKEN, None)
        .await;
    let etag = first.headers["etag"].to_str().unwrap().to_owned();
    let again = app
        .raw(
            Method::GET,
            &format!("/scim/v2/Users/{id}"),
            &[
                ("Authorization", &format!("Bearer {ADMIN_TOKEN}")),
                ("If-None-Match", &etag),
            ],
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.text.is_empty());
    let changed = app
        .raw(
            Method::GET,
            &format!("/scim/v2/Users/{id}"),
            &[
                ("Authorization", &format!("Bearer {ADMIN_TOKEN}")),
                ("If-None-Match", "W/\"0\""),
            ],
            None,
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
}

#[tokio::test]
async fn me_and_password_changes() {
    let app = TestApp::spawn().await;
    let id = app.create_user("self").await;
    let t = app.token_for("self").await;
    let me = app.scim(Method::GET, "/Me", &t, None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["id"], json!(id));
    let r = app.scim(Method::PATCH, "/Me", &t, Some(patch(json!([{"op": "replace", "value": {"displayName": "Me!", "password": "n3w-secret"}}])))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["displayName"], "Me!");
    assert!(r.body.get("password").is_none());
    let r = app
        .scim(
            Method::PATCH,
            "/Me",
            &t,
            Some(patch(
                json!([{"op": "replace", "path": "userName", "value": "root"}]),
            )),
        )
        .await;
    assert_scim_error(&r, 400, Some("mutability"));
    let r = app
        .scim(
            Method::PATCH,
            "/Me",
            &t,
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": false}]),
            )),
        )
        .await;
    assert_scim_error(&r, 400, Some("mutability"));
    // An admin changes a password through PATCH with a path.
    let r = app
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            ADMIN_TOKEN,
            Some(patch(
                json!([{"op": "replace", "path": "password", "value": "an0ther"}]),
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["meta"]["version"], "W/\"3\"");
    let r = app
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            ADMIN_TOKEN,
            Some(patch(
                json!([{"op": "replace", "path": "password", "value": 5}]),
            )),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
}

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
    assert_eq!(schemas.body["totalResults"], 6);
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

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[tokio::test]
async fn enterprise_extension_is_stored_patched_filtered_and_hidden_from_odm() {
    let app = TestApp::spawn().await;
    let boss = app.create_user("boss").await;
    let r = app
        .scim(Method::POST, "/Users", ADMIN_TOKEN, Some(json!({
            "schemas": [USER_URN, ENT], "userName": "emp1", "externalId": "e1",
            ENT: {"employeeNumber": "701984", "department": "Tour Operations", "costCenter": "4130", "manager": {"value": boss}},
        })))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["schemas"], json!([USER_URN, ENT]));
    assert_eq!(r.body[ENT]["employeeNumber"], "701984");
    assert_eq!(r.body[ENT]["manager"]["value"], json!(boss));
    assert_eq!(
        r.body[ENT]["manager"]["$ref"],
        format!("{}/scim/v2/Users/{boss}", app.base)
    );
    let id = r.body["id"].as_str().unwrap().to_owned();

    // Entra ID's shapes: qualified paths, manager as a bare id, capitalised ops.
    let r = app
        .scim(Method::PATCH, &format!("/Users/{id}"), ADMIN_TOKEN, Some(patch(json!([
            {"op": "Replace", "path": format!("{ENT}:department"), "value": "Finance"},
            {"op": "Add", "path": format!("{ENT}:manager"), "value": boss},
            {"op": "replace", "value": {ENT: {"division": "EMEA"}, format!("{ENT}:organization"): "Roster"}},
        ]))))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body[ENT]["department"], "Finance");
    assert_eq!(r.body[ENT]["division"], "EMEA");
    assert_eq!(r.body[ENT]["organization"], "Roster");
    let f = app
        .scim(
            Method::GET,
            &format!("/Users?filter={ENT}:department%20eq%20%22finance%22"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(f.body["totalResults"], 1, "{}", f.text);
    let f = app
        .scim(
            Method::GET,
            &format!("/Users?filter={ENT}:manager.value%20eq%20%22{boss}%22"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(f.body["totalResults"], 1, "{}", f.text);
    let bad = app
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            ADMIN_TOKEN,
            Some(patch(
                json!([{"op": "replace", "path": format!("{ENT}:manager"), "value": "not-an-id"}]),
            )),
        )
        .await;
    assert_scim_error(&bad, 400, Some("invalidValue"));
    let r = app
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            ADMIN_TOKEN,
            Some(patch(
                json!([{"op": "remove", "path": format!("{ENT}:manager")}]),
            )),
        )
        .await;
    assert!(r.body[ENT].get("manager").is_none());

    // The ODM SDK rejects any URN but the core one: ODM never shows the extension.
    let odm = app
        .odm(Method::GET, &format!("/Users/{id}"), ADMIN_TOKEN, None)
        .await;
    assert_eq!(odm.body["schemas"], json!([USER_URN]));
    assert!(odm.body.get(ENT).is_none());
    let r = app.odm(Method::PATCH, &format!("/Users/{id}"), ADMIN_TOKEN, Some(patch(json!([{"op": "replace", "path": format!("{ENT}:department"), "value": {"department": "x"}}])))).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "attributes outside the ODM schema are ignored"
    );
    let r = app
        .scim(
            Method::GET,
            &format!("/Users/{id}?attributes={ENT}:department"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(r.body[ENT], json!({"department": "Finance"}), "{}", r.text);
}

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

#[tokio::test]
async fn bulk_resolves_bulk_ids_and_honours_fail_on_errors() {
    let app = TestApp::spawn().await;
    // The group refers to users created later in the same request.
    let r = app
        .scim(Method::POST, "/Bulk", ADMIN_TOKEN, Some(json!({"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "Tour Guides", "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "guide1"}},
            {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {"userName": "guide2"}},
            {"method": "PATCH", "path": "/Users/bulkId:u1", "data": {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "displayName", "value": "G1"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "dup", "data": {"userName": "GUIDE1"}},
        ]})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let ops = r.body["Operations"].as_array().unwrap();
    let status: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["201", "201", "201", "200", "409"], "{}", r.text);
    assert_eq!(ops[4]["response"]["scimType"], "uniqueness");
    let gloc = ops[0]["location"].as_str().unwrap();
    let gid = gloc.rsplit('/').next().unwrap();
    let g = app
        .scim(Method::GET, &format!("/Groups/{gid}"), ADMIN_TOKEN, None)
        .await;
    assert_eq!(g.body["members"].as_array().unwrap().len(), 2, "{}", g.text);
    let u1 = ops[1]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.scim(Method::GET, &format!("/Users/{u1}"), ADMIN_TOKEN, None)
            .await
            .body["displayName"],
        "G1"
    );

    // failOnErrors: 1 stops after the first failure; later operations do not run.
    let r = app
        .scim(
            Method::POST,
            "/Bulk",
            ADMIN_TOKEN,
            Some(json!({"schemas": [BULK], "failOnErrors": 1, "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "guide2"}},
                {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "never"}},
            ]})),
        )
        .await;
    assert_eq!(
        r.body["Operations"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );
    let f = app
        .scim(
            Method::GET,
            "/Users?filter=userName%20eq%20%22never%22",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(f.body["totalResults"], 0);

    // Circular references cannot run; limits are enforced.
    let r = app
        .scim(Method::POST, "/Bulk", ADMIN_TOKEN, Some(json!({"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "x", "data": {"displayName": "X", "members": [{"value": "bulkId:y"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "y", "data": {"displayName": "Y", "members": [{"value": "bulkId:x"}]}},
        ]})))
        .await;
    assert!(
        r.body["Operations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["status"] == "409"),
        "{}",
        r.text
    );
    let many: Vec<_> = (0..1001)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
        .collect();
    let r = app
        .scim(
            Method::POST,
            "/Bulk",
            ADMIN_TOKEN,
            Some(json!({"schemas": [BULK], "Operations": many})),
        )
        .await;
    assert_scim_error(&r, 413, None);
    let r = app
        .scim(
            Method::POST,
            "/Bulk",
            ADMIN_TOKEN,
            Some(json!({"schemas": [BULK], "Operations": [{"method": "GET", "path": "/Users"}]})),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidSyntax"));
    // Each operation keeps its own permission checks.
    app.create_user("plain").await;
    let t = app.token_for("plain").await;
    let r = app.scim(Method::POST, "/Bulk", &t, Some(json!({"schemas": [BULK], "Operations": [{"method": "POST", "path": "/Users", "bulkId": "p", "data": {"userName": "sneaky"}}]}))).await;
    assert_eq!(r.body["Operations"][0]["status"], "403", "{}", r.text);
}

#[tokio::test]
async fn ten_thousand_members_in_one_patch() {
    let app = TestApp::spawn().await;
    // Seed users straight through the store: this test is about the PATCH, not 10k POSTs.
    let mut ids = Vec::new();
    for i in 0..10_000 {
        let u =
            roster_core::NewUser::new(roster_core::UserName::parse(&format!("bulk{i}")).unwrap());
        ids.push(
            app.store
                .create_user(&operator().user_admin(), &Default::default(), &u)
                .await
                .unwrap()
                .id
                .to_string(),
        );
    }
    let g = app
        .scim(
            Method::POST,
            "/Groups",
            ADMIN_TOKEN,
            Some(json!({"displayName": "everyone"})),
        )
        .await;
    let path = format!("/Groups/{}", g.body["id"].as_str().unwrap());
    let members: Vec<_> = ids.iter().map(|id| json!({"value": id})).collect();
    let t = std::time::Instant::now();
    let r = app
        .scim(
            Method::PATCH,
            &format!("{path}?excludedAttributes=members"),
            ADMIN_TOKEN,
            Some(patch(
                json!([{"op": "add", "path": "members", "value": members}]),
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    eprintln!("10,000-member PATCH took {:?}", t.elapsed());
    assert!(r.body.get("members").is_none());
    let full = app.scim(Method::GET, &path, ADMIN_TOKEN, None).await;
    assert_eq!(full.body["members"].as_array().unwrap().len(), 10_000);
    // Adding members that are already there is not an error and changes nothing.
    let again = app
        .scim(
            Method::PATCH,
            &format!("{path}?attributes=displayName"),
            ADMIN_TOKEN,
            Some(patch(
                json!([{"op": "add", "path": "members", "value": [{"value": ids[0]}]}]),
            )),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    let list = app
        .scim(
            Method::GET,
            "/Groups?excludedAttributes=members",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert!(list.body["Resources"][0].get("members").is_none());
    assert_eq!(list.body["Resources"][0]["displayName"], "everyone");
}

#[tokio::test]
async fn sensitive_and_version_errors() {
    let app = TestApp::spawn().await;
    let r = app
        .scim(
            Method::GET,
            "/Users?filter=password%20eq%20%22hunter2%22",
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_scim_error(&r, 403, Some("sensitive"));
    let r = app
        .scim(
            Method::POST,
            "/Users",
            ADMIN_TOKEN,
            Some(json!({"schemas": ["urn:scim:schemas:core:1.0"], "userName": "old"})),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidVers"));
}

#[tokio::test]
async fn deep_pages_are_the_same_rows_as_a_full_listing() {
    let app = TestApp::spawn().await;
    for i in 0..40 {
        let u =
            roster_core::NewUser::new(roster_core::UserName::parse(&format!("p{i:02}")).unwrap());
        let u = app
            .store
            .create_user(&operator().user_admin(), &Default::default(), &u)
            .await
            .unwrap();
        if i % 3 == 0 {
            app.scim(
                Method::PATCH,
                &format!("/Users/{}", u.id),
                ADMIN_TOKEN,
                Some(patch(
                    json!([{"op": "replace", "path": "active", "value": false}]),
                )),
            )
            .await;
        }
    }
    let names = |r: &Resp| -> Vec<String> {
        r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = names(
        &app.scim(Method::GET, "/Users?count=100", ADMIN_TOKEN, None)
            .await,
    );
    let mut paged = Vec::new();
    for start in (1..=41).step_by(7) {
        paged.extend(names(
            &app.scim(
                Method::GET,
                &format!("/Users?startIndex={start}&count=7"),
                ADMIN_TOKEN,
                None,
            )
            .await,
        ));
    }
    assert_eq!(paged, all);
    // With a filter (ODM lists active users only) the seek keeps the filter.
    let active: Vec<String> = names(
        &app.odm(Method::GET, "/Users?count=100", ADMIN_TOKEN, None)
            .await,
    );
    let page = names(
        &app.odm(
            Method::GET,
            "/Users?startIndex=11&count=5",
            ADMIN_TOKEN,
            None,
        )
        .await,
    );
    assert_eq!(page, active[10..15]);
    let f = names(
        &app.scim(
            Method::GET,
            "/Users?filter=userName%20sw%20%22p1%22&startIndex=3&count=3",
            ADMIN_TOKEN,
            None,
        )
        .await,
    );
    assert_eq!(f, ["p12", "p13", "p14"]);
}
