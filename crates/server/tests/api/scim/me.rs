//! `/scim/v2/Me`: the caller's own account.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn me_and_password_changes() {
    let app = TestApp::spawn().await;
    let id = app.create_user("self").await;
    let t = app.token_for("self").await;
    let me = app.scim(Method::GET, "/Me", &t, None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["id"], json!(id));
    let r = app
        .scim_patch(
            "/Me",
            &t,
            json!([{"op": "replace", "value": {"displayName": "Me!", "password": "n3w-secret-passphrase"}}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["displayName"], "Me!");
    assert!(r.body.get("password").is_none());
    let r = app
        .scim_patch(
            "/Me",
            &t,
            json!([{"op": "replace", "path": "userName", "value": "root"}]),
        )
        .await;
    assert_scim_error(&r, 400, Some("mutability"));
    let r = app
        .scim_patch(
            "/Me",
            &t,
            json!([{"op": "replace", "path": "active", "value": false}]),
        )
        .await;
    assert_scim_error(&r, 400, Some("mutability"));
    // An admin changes a password through PATCH with a path.
    let r = app
        .scim_patch(
            &format!("/Users/{id}"),
            ADMIN_TOKEN,
            json!([{"op": "replace", "path": "password", "value": "an0ther-long-passphrase"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["meta"]["version"], "W/\"3\"");
    let r = app
        .scim_patch(
            &format!("/Users/{id}"),
            ADMIN_TOKEN,
            json!([{"op": "replace", "path": "password", "value": 5}]),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
}
