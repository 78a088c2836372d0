//! Attacks an ordinary account could make (THREAT-MODEL.md), each reproduced and refused.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use roster_core::secret::PasswordPolicy;
use roster_server::app::AppOptions;
use roster_server::passwords::Passwords;
use serde_json::{json, Value};

use crate::helpers::*;

fn roles(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"value": format!("role-{i}"), "type": "app"}))
            .collect(),
    )
}

#[tokio::test]
async fn multi_valued_attributes_and_projections_are_bounded() {
    let app = TestApp::spawn().await;
    let id = app.create_user("many").await;
    let path = format!("/Users/{id}");
    // At most 100 values per multi-valued attribute, on create, replace and add.
    let mut body = user_body("too-many");
    body["roles"] = roles(101);
    assert_scim_error(
        &app.scim_admin(Method::POST, "/Users", body).await,
        400,
        Some("tooMany"),
    );
    let r = app
        .scim_patch(
            &path,
            ADMIN_TOKEN,
            json!([{"op": "add", "path": "roles", "value": roles(100)}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["roles"].as_array().unwrap().len(), 100);
    // Adding values already there changes nothing (and costs one pass, not one per value).
    let r = app
        .scim_patch(
            &path,
            ADMIN_TOKEN,
            json!([{"op": "add", "path": "roles", "value": roles(100)}]),
        )
        .await;
    assert_eq!(r.body["roles"].as_array().unwrap().len(), 100);
    let more = json!([{"op": "add", "path": "roles", "value": [{"value": "one-more"}]}]);
    assert_scim_error(
        &app.scim_patch(&path, ADMIN_TOKEN, more).await,
        400,
        Some("tooMany"),
    );
    let emails: Vec<Value> = (0..101)
        .map(|i| json!({"value": format!("m{i}@x.org")}))
        .collect();
    let r = app
        .scim_patch(
            &path,
            ADMIN_TOKEN,
            json!([{"op": "replace", "path": "emails", "value": emails}]),
        )
        .await;
    assert_scim_error(&r, 400, Some("tooMany"));

    // attributes / excludedAttributes: at most 100 entries; duplicates collapse.
    let listed = vec!["roles.value"; 101].join(",");
    let r = app
        .scim(
            Method::GET,
            &format!("{path}?attributes={listed}"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_scim_error(&r, 400, Some("tooMany"));
    let r = app
        .scim(
            Method::GET,
            &format!("{path}?excludedAttributes={listed}"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_scim_error(&r, 400, Some("tooMany"));
    let listed = [vec!["roles.value"; 98], vec!["ROLES.type", "userName"]]
        .concat()
        .join(",");
    let r = app
        .scim(
            Method::GET,
            &format!("{path}?attributes={listed}"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let first = &r.body["roles"][0];
    assert_eq!(
        first,
        &json!({"value": "role-0", "type": "app"}),
        "both sub-attributes kept"
    );
    assert_eq!(r.body["userName"], "many");
    assert!(r.body.get("emails").is_none());
}

#[tokio::test]
async fn self_service_keeps_to_the_personal_profile() {
    let app = TestApp::spawn().await;
    let id = app.create_user("me").await;
    let t = app.token_for("me").await;
    let before = app.snapshot().await;
    for (path, value) in [
        ("roles", roles(1)),
        ("entitlements", json!([{"value": "admin-console"}])),
        ("x509Certificates", json!([{"value": "MIIB..."}])),
        ("userType", json!("Employee")),
        ("title", json!("CEO")),
        (
            "emails",
            json!([{"value": "admin@example.com", "primary": true}]),
        ),
        ("externalId", json!("x")),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            json!("Finance"),
        ),
    ] {
        let r = app
            .scim_patch(
                "/Me",
                &t,
                json!([{"op": "replace", "path": path, "value": value}]),
            )
            .await;
        assert_scim_error(&r, 400, Some("mutability"));
        // Path-less, the same refusal.
        let r = app
            .scim_patch("/Me", &t, json!([{"op": "add", "value": {path: value}}]))
            .await;
        assert!(r.status == StatusCode::BAD_REQUEST, "{path}: {}", r.text);
    }
    assert_eq!(app.snapshot().await, before, "nothing changed");
    // The personal profile is the user's own.
    let ops = json!([{"op": "replace", "value": {
        "displayName": "Me", "nickName": "m", "timezone": "Europe/Berlin",
        "phoneNumbers": [{"value": "+49 30 1234", "type": "work"}],
        "name": {"givenName": "M"}}}]);
    let r = app.scim_patch("/Me", &t, ops).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (r.body["nickName"].clone(), r.body["id"].clone()),
        (json!("m"), json!(id))
    );
}

#[tokio::test]
async fn one_password_policy_wherever_a_password_is_set() {
    let app = TestApp::spawn().await;
    let id = app.create_user("pw-user-account").await;
    let t = app.token_for("pw-user-account").await;
    let path = format!("/Users/{id}");
    let long = "x".repeat(257);
    // Too short, too long, the account's login (case-insensitively), its email.
    for bad in [
        "short",
        &long,
        "PW-USER-ACCOUNT",
        "pw-user-account@example.com",
    ] {
        let set = json!([{"op": "replace", "path": "password", "value": bad}]);
        let r = app.scim_patch(&path, ADMIN_TOKEN, set.clone()).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
        assert_scim_error(
            &app.scim_patch("/Me", &t, set).await,
            400,
            Some("invalidValue"),
        );
    }
    let mut body = user_body("new-one");
    body["password"] = json!("new-one@example.com");
    assert_scim_error(
        &app.scim_admin(Method::POST, "/Users", body).await,
        400,
        Some("invalidValue"),
    );
    let r = app
        .scim_patch("/Me", &t, json!([{"op": "remove", "path": "password"}]))
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = app
        .scim_patch(
            "/Me",
            &t,
            json!([{"op": "replace", "path": "password", "value": "a perfectly good passphrase"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A password change has its own audit action.
    let rows = app
        .store
        .audit_rows(
            &operator().audit_reader(),
            &roster_store::AuditQuery {
                action: Some(roster_store::Action::PasswordChange),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].target.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn password_hashing_runs_on_a_bounded_pool() {
    let pool = Passwords::new(1, Duration::from_millis(50), PasswordPolicy::default());
    let app = Arc::new(TestApp::spawn_with(AppOptions::default(), Some(pool)).await);
    app.create_user("hasher").await;
    let t = app.token_for("hasher").await;
    let mut calls = Vec::new();
    for i in 0..24 {
        let (app, t) = (app.clone(), t.clone());
        calls.push(tokio::spawn(async move {
            let ops = json!([{"op": "replace", "path": "password", "value": format!("passphrase number {i}")}]);
            app.scim_patch("/Me", &t, ops).await
        }));
    }
    let mut refused = 0;
    for c in calls {
        let r = c.await.unwrap();
        match r.status {
            StatusCode::OK => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_scim_error(&r, 503, None);
                assert!(
                    r.headers.contains_key("retry-after"),
                    "503 without Retry-After"
                );
                refused += 1;
            }
            other => panic!("{other}: {}", r.text),
        }
    }
    assert!(
        refused > 0,
        "24 concurrent hashes on one worker with a 50 ms queue: some wait too long"
    );
}

#[tokio::test]
async fn deactivation_revokes_tokens_for_good() {
    let app = TestApp::spawn().await;
    let id = app.create_user("leaver").await;
    let t = app.token_for("leaver").await;
    assert_eq!(
        app.scim(Method::GET, "/Me", &t, None).await.status,
        StatusCode::OK
    );
    let path = format!("/Users/{id}");
    let off = json!([{"op": "replace", "path": "active", "value": false}]);
    assert_eq!(
        app.scim_patch(&path, ADMIN_TOKEN, off).await.status,
        StatusCode::OK
    );
    let on = json!([{"op": "replace", "path": "active", "value": true}]);
    assert_eq!(
        app.scim_patch(&path, ADMIN_TOKEN, on).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.scim(Method::GET, "/Me", &t, None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn two_different_credentials_are_refused() {
    let app = TestApp::spawn().await;
    app.create_user("second").await;
    let other = app.token_for("second").await;
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let second = format!("Bearer {other}");
    for (h, status) in [
        (
            vec![
                ("Authorization", admin.as_str()),
                ("Authorization", admin.as_str()),
            ],
            200,
        ),
        (
            vec![
                ("Authorization", admin.as_str()),
                ("Authorization", "Bearer wrong"),
            ],
            401,
        ),
        (
            vec![
                ("Authorization", "Bearer wrong"),
                ("Authorization", admin.as_str()),
            ],
            401,
        ),
        (
            vec![
                ("Authorization", second.as_str()),
                ("Authorization", admin.as_str()),
            ],
            401,
        ),
        (
            vec![
                ("Authorization", admin.as_str()),
                ("Authorization", "Basic YTpi"),
            ],
            401,
        ),
    ] {
        let r = app.raw(Method::GET, "/scim/v2/Users", &h, None).await;
        assert_eq!(r.status.as_u16(), status, "{h:?}: {}", r.text);
    }
}

#[tokio::test]
async fn request_ids_links_and_caching_are_not_the_clients_to_choose() {
    let app = TestApp::spawn().await;
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let huge = "r".repeat(60_000);
    let r = app
        .raw(
            Method::GET,
            "/scim/v2/Me",
            &[
                ("Authorization", &auth),
                ("x-request-id", &huge),
                ("Host", "evil.example"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rid = r.headers["x-request-id"].to_str().unwrap();
    assert!(
        uuid::Uuid::parse_str(rid).is_ok(),
        "a 60,000-character id is replaced: {rid}"
    );
    // Links come from the public URL, never from the Host header.
    let location = r.body["meta"]["location"].as_str().unwrap();
    assert!(
        location.starts_with(&app.base) && !location.contains("evil"),
        "{location}"
    );
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    // Non-text bytes in a request id are not echoed either.
    let client = reqwest::Client::new();
    let res = client
        .get(format!("{}/healthz", app.base))
        .header(
            "x-request-id",
            reqwest::header::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(uuid::Uuid::parse_str(res.headers()["x-request-id"].to_str().unwrap()).is_ok());
    for path in ["/api/v1/scim/Users", "/nope"] {
        let r = app
            .raw(
                Method::GET,
                path,
                &[("Genestack-API-Token", ADMIN_TOKEN)],
                None,
            )
            .await;
        assert_eq!(r.headers["cache-control"], "no-store", "{path}");
        assert_eq!(r.headers["x-content-type-options"], "nosniff", "{path}");
    }
    let r = app.raw(Method::GET, "/openapi.json", &[], None).await;
    assert!(r.headers["cache-control"]
        .to_str()
        .unwrap()
        .starts_with("public"));
}
