//! `/scim/v2/Users`: CRUD, filters, ETags, PUT, the enterprise extension, error kinds.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[tokio::test]
async fn users_crud_filters_and_etags() {
    let app = TestApp::spawn().await;
    let r = app
        .scim_admin(
            Method::POST,
            "/Users",
            json!({
                "schemas": [USER_URN], "userName": "bjensen", "password": "s3cret!-long-enough",
                "name": {"givenName": "Barbara", "familyName": "Jensen"},
                "emails": [{"value": "bjensen@example.com", "type": "home", "primary": true}],
            }),
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
        .scim_admin(Method::POST, "/Users", json!({"userName": "BJENSEN"}))
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
        .scim_patch(
            &path,
            ADMIN_TOKEN,
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
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
        .scim_patch(
            &path,
            ADMIN_TOKEN,
            json!([{"op": "replace", "path": "nickName2", "value": "x"}]),
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
async fn put_replaces_and_ignores_read_only_attributes() {
    let app = TestApp::spawn().await;
    let r = app
        .scim_admin(Method::POST, "/Users", json!({"userName": "okta1", "displayName": "D", "externalId": "x1", "name": {"givenName": "G"}}))
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    let r = app
        .scim_admin(Method::PUT, &path, json!({"schemas": [USER_URN], "id": "ignored", "meta": {"version": "W/\"99\""},
            "userName": "okta1", "active": false, "emails": [{"value": "o@x.com", "primary": true}]}))
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
        .scim_admin(Method::PUT, &path, json!({"displayName": "no userName"}))
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
        .scim_admin(
            Method::POST,
            "/Groups",
            json!({"displayName": "G", "members": [{"value": a}]}),
        )
        .await;
    let gpath = format!("/Groups/{}", g.body["id"].as_str().unwrap());
    let r = app
        .scim_admin(
            Method::PUT,
            &gpath,
            json!({"displayName": "G2", "members": [{"value": b}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["displayName"], "G2");
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["members"][0]["value"], json!(b));
}

#[tokio::test]
async fn enterprise_extension_is_stored_patched_filtered_and_hidden_from_odm() {
    let app = TestApp::spawn().await;
    let boss = app.create_user("boss").await;
    let r = app
        .scim_admin(Method::POST, "/Users", json!({
            "schemas": [USER_URN, ENT], "userName": "emp1", "externalId": "e1",
            ENT: {"employeeNumber": "701984", "department": "Tour Operations", "costCenter": "4130", "manager": {"value": boss}},
        }))
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
        .scim_patch(&format!("/Users/{id}"), ADMIN_TOKEN, json!([
            {"op": "Replace", "path": format!("{ENT}:department"), "value": "Finance"},
            {"op": "Add", "path": format!("{ENT}:manager"), "value": boss},
            {"op": "replace", "value": {ENT: {"division": "EMEA"}, format!("{ENT}:organization"): "Roster"}},
        ]))
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
        .scim_patch(
            &format!("/Users/{id}"),
            ADMIN_TOKEN,
            json!([{"op": "replace", "path": format!("{ENT}:manager"), "value": "not-an-id"}]),
        )
        .await;
    assert_scim_error(&bad, 400, Some("invalidValue"));
    let r = app
        .scim_patch(
            &format!("/Users/{id}"),
            ADMIN_TOKEN,
            json!([{"op": "remove", "path": format!("{ENT}:manager")}]),
        )
        .await;
    assert!(r.body[ENT].get("manager").is_none());

    // The ODM SDK rejects any URN but the core one: ODM never shows the extension.
    let odm = app
        .odm(Method::GET, &format!("/Users/{id}"), ADMIN_TOKEN, None)
        .await;
    assert_eq!(odm.body["schemas"], json!([USER_URN]));
    assert!(odm.body.get(ENT).is_none());
    let r = app.odm_patch(&format!("/Users/{id}"), ADMIN_TOKEN, json!([{"op": "replace", "path": format!("{ENT}:department"), "value": {"department": "x"}}])).await;
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
        .scim_admin(
            Method::POST,
            "/Users",
            json!({"schemas": ["urn:scim:schemas:core:1.0"], "userName": "old"}),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidVers"));
}

#[tokio::test]
async fn a_stored_manager_that_is_not_a_user_id_gets_no_ref() {
    let app = TestApp::spawn().await;
    let id = app.create_user("legacy").await;
    // Written past the API (which accepts only user ids), as imported data could be.
    app.store
        .update_user(
            &operator().user_admin().editor(),
            &Default::default(),
            id.parse().unwrap(),
            None,
            &|u| {
                u.enterprise.manager = Some("EMP-0042".into());
                Ok(())
            },
        )
        .await
        .unwrap();
    let r = app
        .scim(Method::GET, &format!("/Users/{id}"), ADMIN_TOKEN, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let m = &r.body[ENT]["manager"];
    assert_eq!(m, &json!({"value": "EMP-0042"}), "{}", r.text);
}
