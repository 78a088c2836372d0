//! The three grants, the Keycloak path, refresh rotation and reuse, revoke, introspect,
//! client-secret rotation.

use base64::Engine;
use reqwest::Method;
use roster_core::policy::Operator;
use roster_store::WriteCtx;

use crate::helpers::{urlencode, TestApp, ADMIN_TOKEN};

const PASSWORD: &str = "a long enough password";

/// A user `name` with a password, created through SCIM.
async fn user_with_password(app: &TestApp, name: &str) -> String {
    let body = serde_json::json!({
        "schemas": [crate::helpers::USER_URN], "userName": name, "password": PASSWORD,
        "emails": [{"value": format!("{name}@example.com"), "primary": true}],
    });
    let r = app.scim_admin(Method::POST, "/Users", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

/// POST /oauth/token with this form body.
async fn post_token(app: &TestApp, body: &str) -> crate::helpers::Resp {
    app.form("/oauth/token", &[], body).await
}

/// The password grant for `user` (with [`PASSWORD`]) through client `id`.
async fn password_grant(app: &TestApp, user: &str, id: &str, secret: &str) -> crate::helpers::Resp {
    let body = format!(
        "grant_type=password&username={user}&password={}&{}",
        urlencode(PASSWORD),
        creds(id, secret)
    );
    post_token(app, &body).await
}

fn creds(id: &str, secret: &str) -> String {
    format!("client_id={id}&client_secret={}", urlencode(secret))
}

#[tokio::test]
async fn client_credentials_in_the_body_or_basic_and_the_token_works_on_scim() {
    let app = TestApp::spawn().await;
    let uid = app.create_user("carol").await;
    let (id, secret) = app.client_for("carol").await;
    assert!(id.starts_with("rc-") && secret.len() >= 43, "{id} {secret}");
    // The same client on a second call: one client per user.
    assert_eq!(app.client_for("carol").await, (id.clone(), secret.clone()));

    let r = post_token(
        &app,
        &format!("grant_type=client_credentials&{}", creds(&id, &secret)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 3600);
    assert_eq!(r.body["scope"], "roster");
    assert!(r.body.get("refresh_token").is_none(), "{}", r.text);
    let token = r.body["access_token"].as_str().unwrap();
    let me = app.scim(Method::GET, "/Me", token, None).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["id"], uid.as_str());

    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let auth = format!("Basic {basic}");
    let r = app
        .form(
            "/oauth/token",
            &[("Authorization", &auth)],
            "grant_type=client_credentials&scope=openid%20roster",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["scope"], "openid roster");

    // The Keycloak path, any realm.
    let r = app
        .form(
            "/auth/realms/contabo/protocol/openid-connect/token",
            &[],
            &format!("grant_type=client_credentials&{}", creds(&id, &secret)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn password_grant_by_username_or_email_with_refresh_rotation_and_reuse_detection() {
    let app = TestApp::spawn().await;
    user_with_password(&app, "dave").await;
    let (id, secret) = app.client_for("dave").await;
    let pw = urlencode(PASSWORD);
    for login in ["dave", "DAVE@example.com"] {
        let r = post_token(
            &app,
            &format!(
                "grant_type=password&username={}&password={pw}&{}",
                urlencode(login),
                creds(&id, &secret)
            ),
        )
        .await;
        assert_eq!(r.status, 200, "{login}: {}", r.text);
        assert!(r.body["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("rrt_"));
    }
    // A wrong password, and another user's login with the right password: invalid_grant.
    user_with_password(&app, "erin").await;
    for (login, password) in [("dave", "wrong password!!"), ("erin", PASSWORD)] {
        let r = post_token(
            &app,
            &format!(
                "grant_type=password&username={login}&password={}&{}",
                urlencode(password),
                creds(&id, &secret)
            ),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["error"], "invalid_grant");
        assert!(r.body.get("access_token").is_none());
    }

    let r = password_grant(&app, "dave", &id, &secret).await;
    let first = r.body["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |t: &str| {
        format!(
            "grant_type=refresh_token&refresh_token={}&{}",
            urlencode(t),
            creds(&id, &secret)
        )
    };
    let r = post_token(&app, &refresh(&first)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let second = r.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.scim(Method::GET, "/Me", &access, None).await.status,
        200
    );

    // The spent one again: refused, and its whole family ends (the second one too).
    let r = post_token(&app, &refresh(&first)).await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let r = post_token(&app, &refresh(&second)).await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let audit = app
        .store
        .audit_rows(
            &Operator::local("test").user_admin().audit_reader(),
            &roster_store::AuditQuery {
                action: Some(roster_store::Action::RefreshReuse),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);

    // Another client cannot use dave's refresh token.
    let r = password_grant(&app, "dave", &id, &secret).await;
    let third = r.body["refresh_token"].as_str().unwrap().to_owned();
    let (eid, esecret) = app.client_for("erin").await;
    let r = post_token(
        &app,
        &format!(
            "grant_type=refresh_token&refresh_token={third}&{}",
            creds(&eid, &esecret)
        ),
    )
    .await;
    assert_eq!(r.body["error"], "invalid_grant", "{}", r.text);
    // ...and it still works for dave's own client.
    assert_eq!(post_token(&app, &refresh(&third)).await.status, 200);
}

#[tokio::test]
async fn revoke_and_introspect() {
    let app = TestApp::spawn().await;
    user_with_password(&app, "fay").await;
    let (id, secret) = app.client_for("fay").await;
    let r = password_grant(&app, "fay", &id, &secret).await;
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();

    let r = app
        .form(
            "/oauth/introspect",
            &[],
            &format!("token={access}&{}", creds(&id, &secret)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["username"], "fay");
    assert_eq!(r.body["client_id"], id.as_str());
    let r = app
        .form(
            "/oauth/introspect",
            &[],
            &format!("token={refresh}&{}", creds(&id, &secret)),
        )
        .await;
    assert_eq!(
        (r.body["active"].as_bool(), r.body["token_type"].as_str()),
        (Some(true), Some("refresh_token"))
    );
    // Another user learns nothing about fay's tokens; an admin (Bearer API token) does.
    app.create_user("gil").await;
    let (gid, gsecret) = app.client_for("gil").await;
    let r = app
        .form(
            "/oauth/introspect",
            &[],
            &format!("token={access}&{}", creds(&gid, &gsecret)),
        )
        .await;
    assert_eq!(r.body, serde_json::json!({"active": false}));
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let r = app
        .form(
            "/oauth/introspect",
            &[("Authorization", &bearer)],
            &format!("token={access}"),
        )
        .await;
    assert_eq!(r.body["active"], true, "{}", r.text);
    // Unauthenticated introspection is refused.
    let r = app
        .form("/oauth/introspect", &[], &format!("token={access}"))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    let r = app
        .form(
            "/oauth/revoke",
            &[],
            &format!(
                "token={refresh}&token_type_hint=refresh_token&{}",
                creds(&id, &secret)
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = post_token(
        &app,
        &format!(
            "grant_type=refresh_token&refresh_token={refresh}&{}",
            creds(&id, &secret)
        ),
    )
    .await;
    assert_eq!(r.body["error"], "invalid_grant");
    let r = app
        .form(
            "/oauth/introspect",
            &[],
            &format!("token={refresh}&{}", creds(&id, &secret)),
        )
        .await;
    assert_eq!(r.body["active"], false);
    // Unknown tokens revoke fine (RFC 7009 §2.2).
    let r = app
        .form(
            "/oauth/revoke",
            &[],
            &format!("token=nonsense&{}", creds(&id, &secret)),
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn rotating_the_secret_stops_the_old_one_at_once_and_ends_refresh_tokens() {
    let app = TestApp::spawn().await;
    user_with_password(&app, "hal").await;
    let (id, old) = app.client_for("hal").await;
    let r = password_grant(&app, "hal", &id, &old).await;
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
    let key = crate::helpers::test_server_key();
    let make = |cid: &str| {
        roster_server::tokens::seal_client_secret(
            &key,
            cid,
            "rcs_the-new-secret-0123456789abcdef0123456789",
        )
    };
    let c = app
        .store
        .rotate_client_secret(
            &Operator::local("test").token_admin(),
            &WriteCtx::default(),
            &roster_core::UserName::parse("hal").unwrap(),
            "rc-unused",
            &make,
        )
        .await
        .unwrap();
    assert_eq!(c.client_id, id, "rotation keeps the client id");
    let new = "rcs_the-new-secret-0123456789abcdef0123456789";
    let r = post_token(
        &app,
        &format!("grant_type=client_credentials&{}", creds(&id, &old)),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let r = post_token(
        &app,
        &format!("grant_type=client_credentials&{}", creds(&id, new)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = post_token(
        &app,
        &format!(
            "grant_type=refresh_token&refresh_token={refresh}&{}",
            creds(&id, new)
        ),
    )
    .await;
    assert_eq!(r.body["error"], "invalid_grant");
}
