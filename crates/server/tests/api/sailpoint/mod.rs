//! SailPoint auth-users: both prefixes, both id forms, JSON Patch on capabilities (all or
//! nothing), ORG_ADMIN as the two permissions, and SailPoint's error bodies for every error
//! under its prefixes, the framework's own included.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{TestApp, ADMIN_TOKEN};

async fn sp(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> crate::helpers::Resp {
    let auth = format!("Bearer {token}");
    let mut h = vec![
        ("Authorization", auth.as_str()),
        ("Accept", "application/json"),
    ];
    if body.is_some() {
        h.push(("Content-Type", "application/json-patch+json"));
    }
    app.raw(method, path, &h, body.map(|b| b.to_string().into_bytes()))
        .await
}

fn assert_dto(r: &crate::helpers::Resp, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.body["detailCode"], code, "{}", r.text);
    assert!(
        r.body["trackingId"].as_str().is_some_and(|t| !t.is_empty()),
        "{}",
        r.text
    );
    assert_eq!(r.body["messages"][0]["localeOrigin"], "DEFAULT");
}

#[tokio::test]
async fn auth_users_on_both_prefixes_with_patch_and_errors() {
    let app = TestApp::spawn().await;
    let id = app.create_user("pat").await;
    let simple = id.replace('-', "");
    for prefix in ["/v3/auth-users", "/auth-users/v1"] {
        for form in [&id, &simple] {
            let r = sp(
                &app,
                Method::GET,
                &format!("{prefix}/{form}"),
                ADMIN_TOKEN,
                None,
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.headers["content-type"], "application/json");
            assert_eq!(r.body["id"], id.as_str());
            assert_eq!(r.body["uid"], "pat");
            assert_eq!(r.body["capabilities"], json!([]));
            assert!(r.body.get("firstname").is_some() && r.body.get("lastname").is_some());
        }
    }
    let path = format!("/auth-users/v1/{id}");
    let r = sp(
        &app,
        Method::PATCH,
        &path,
        ADMIN_TOKEN,
        Some(json!([{"op": "add", "path": "/capabilities/-", "value": "ORG_ADMIN"}])),
    )
    .await;
    assert_eq!(r.body["capabilities"], json!(["ORG_ADMIN"]), "{}", r.text);
    // ORG_ADMIN is the two permissions: pat's own token now lists users on SCIM.
    let t = app.token_for("pat").await;
    assert_eq!(
        app.scim(Method::GET, "/Users?count=1", &t, None)
            .await
            .status,
        200
    );

    // All or nothing: the valid first operation of a failing patch is not applied.
    let bad = [
        (
            json!([{"op": "add", "path": "/capabilities/-", "value": "HELPDESK"}, {"op": "replace", "path": "/uid", "value": "x"}]),
            "400.1.1 Illegal update attempt",
        ),
        (
            json!([{"op": "add", "path": "/capabilities/-", "value": "HELPDESK"}, {"op": "test", "path": "/capabilities/0", "value": "NOPE"}]),
            "400.1 Bad Request Content",
        ),
        (
            json!([{"op": "add", "path": "/capabilities/-", "value": "root"}]),
            "400.1 Bad Request Content",
        ),
        (
            json!([{"op": "remove", "path": "/capabilities/9"}]),
            "400.1 Bad Request Content",
        ),
        (
            json!([{"op": "frobnicate", "path": "/capabilities"}]),
            "400.1 Bad Request Content",
        ),
        (json!({"op": "add"}), "400.1 Bad Request Content"),
        (
            json!([{"op": "move", "from": "/capabilities/0", "path": "/capabilities/1"}]),
            "400.1 Bad Request Content",
        ),
    ];
    for (body, code) in bad {
        let r = sp(&app, Method::PATCH, &path, ADMIN_TOKEN, Some(body.clone())).await;
        assert_dto(&r, 400, code);
        let now = sp(&app, Method::GET, &path, ADMIN_TOKEN, None).await;
        assert_eq!(now.body["capabilities"], json!(["ORG_ADMIN"]), "{body}");
    }
    let r = app
        .raw(
            Method::PATCH,
            &path,
            &[
                ("Authorization", &format!("Bearer {ADMIN_TOKEN}")),
                ("Content-Type", "text/plain"),
            ],
            Some(b"[]".to_vec()),
        )
        .await;
    assert_dto(&r, 415, "415 Unsupported Media Type");

    // A plain user reads only themselves and patches nobody; unknown ids and shapes are 404.
    app.create_user("joe").await;
    let joe = app.jwt_for("joe").await;
    assert_dto(
        &sp(&app, Method::GET, &path, &joe, None).await,
        403,
        "403 Forbidden",
    );
    let r = sp(&app, Method::PATCH, &path, &joe, Some(json!([]))).await;
    assert_dto(&r, 403, "403 Forbidden");
    assert_dto(
        &sp(
            &app,
            Method::GET,
            "/v3/auth-users/ef38f94347e94562b5bb8424a56397d8",
            ADMIN_TOKEN,
            None,
        )
        .await,
        404,
        "404 Not found",
    );
    assert_dto(
        &sp(&app, Method::GET, "/v3/auth-users/12345", ADMIN_TOKEN, None).await,
        404,
        "404 Not found",
    );
    // The framework's own answers under the prefix are SailPoint's too.
    assert_dto(
        &sp(&app, Method::DELETE, &path, ADMIN_TOKEN, None).await,
        405,
        "405 Method Not Allowed",
    );
    assert_dto(
        &sp(&app, Method::GET, "/v3/auth-users", ADMIN_TOKEN, None).await,
        404,
        "404 Not found",
    );
    let r = sp(
        &app,
        Method::GET,
        &path,
        "not-a-token-at-all-0123456789",
        None,
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.body["error"]["message"].is_string(), "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/json");
}

#[tokio::test]
async fn capability_changes_are_audited_and_show_through_the_cli_permission_table() {
    let app = TestApp::spawn().await;
    let id = app.create_user("amy").await;
    app.grant("amy", roster_core::Permission::ManageOrganization)
        .await;
    let path = format!("/v3/auth-users/{id}");
    assert_eq!(
        sp(&app, Method::GET, &path, ADMIN_TOKEN, None).await.body["capabilities"],
        json!([])
    );
    app.grant("amy", roster_core::Permission::ManageGroups)
        .await;
    assert_eq!(
        sp(&app, Method::GET, &path, ADMIN_TOKEN, None).await.body["capabilities"],
        json!(["ORG_ADMIN"])
    );
    let r = sp(
        &app,
        Method::PATCH,
        &path,
        ADMIN_TOKEN,
        Some(json!([{"op": "replace", "path": "/capabilities", "value": ["HELPDESK"]}])),
    )
    .await;
    assert_eq!(r.body["capabilities"], json!(["HELPDESK"]), "{}", r.text);
    let t = app.token_for("amy").await;
    assert_eq!(
        app.scim(Method::GET, "/Users?count=1", &t, None)
            .await
            .status,
        403,
        "losing ORG_ADMIN revokes both permissions"
    );
    let rows = app
        .store
        .audit_rows(
            &crate::helpers::operator().user_admin().audit_reader(),
            &roster_store::AuditQuery {
                action: Some(roster_store::Action::CapabilityChange),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let target = rows[0].target.clone().unwrap_or_default();
    assert!(
        target.contains("+HELPDESK") && target.contains("-ORG_ADMIN"),
        "{target}"
    );
    // An empty patch changes nothing and writes no audit row.
    let r = sp(&app, Method::PATCH, &path, ADMIN_TOKEN, Some(json!([]))).await;
    assert_eq!(r.status, 200);
}
