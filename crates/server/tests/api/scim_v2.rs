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
