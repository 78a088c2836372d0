//! The `roster` binary itself: bootstrap from the environment, the token and permission
//! commands against a running server's database, graceful shutdown, restart.

use reqwest::StatusCode;

use super::process::{run, start, stop};

async fn get_status(base: &str, path: &str, token: &str) -> StatusCode {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header("Genestack-API-Token", token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn bootstrap_tokens_permissions_shutdown_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::fresh_database_url(&dir.path().join("sub")).await;
    let p = start(&db, true).await;
    assert_eq!(
        get_status(&p.base, "/api/v1/scim/Users", "boot-token-0123456789").await,
        StatusCode::OK
    );

    // Create a user through the API, then issue a token for it with the CLI while serving.
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/scim/Users", p.base))
        .header("Genestack-API-Token", "boot-token-0123456789")
        .header("Content-Type", "application/json")
        .body(r#"{"userName":"ops","displayName":"Ops","active":true,"emails":[]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let (ok, token, err) = run(&db, &["token", "issue", "--user", "OPS", "--name", "ci"]);
    assert!(ok, "{err}");
    let token = token.trim().to_owned();
    assert!(
        token.starts_with("rst_") && token.len() > 40 && !token.contains(char::is_whitespace),
        "{token:?}"
    );
    assert_eq!(
        get_status(&p.base, "/api/v1/scim/Users", &token).await,
        StatusCode::FORBIDDEN
    );
    let (ok, _, err) = run(&db, &["user", "grant", "ops", "manage-organization"]);
    assert!(ok, "{err}");
    assert_eq!(
        get_status(&p.base, "/api/v1/scim/Users", &token).await,
        StatusCode::OK
    );
    let (ok, _, _) = run(&db, &["user", "revoke", "ops", "manage-organization"]);
    assert!(ok);
    assert_eq!(
        get_status(&p.base, "/api/v1/scim/Users", &token).await,
        StatusCode::FORBIDDEN
    );
    let (ok, _, err) = run(&db, &["user", "grant", "ops", "fly"]);
    assert!(!ok && err.contains("manage-organization"), "{err}");
    let (ok, _, err) = run(&db, &["token", "issue", "--user", "nobody"]);
    assert!(!ok && err.contains("nobody"), "{err}");
    stop(p);

    // Restart with different bootstrap settings: ignored, old tokens still work.
    let p = start(&db, true).await;
    assert_eq!(
        get_status(&p.base, "/api/v1/scim/Users", "boot-token-0123456789").await,
        StatusCode::OK
    );
    stop(p);
}

#[test]
fn help_documents_every_setting() {
    let (ok, out, _) = run("sqlite::memory:", &["serve", "--help"]);
    assert!(ok);
    for v in [
        "ROSTER_LISTEN",
        "ROSTER_DATABASE_URL",
        "ROSTER_BOOTSTRAP_ADMIN",
        "ROSTER_BOOTSTRAP_PASSWORD",
        "ROSTER_BOOTSTRAP_TOKEN",
        "ROSTER_MAX_BODY_BYTES",
        "ROSTER_PUBLIC_URL",
    ] {
        assert!(out.contains(v), "serve --help lacks {v}");
    }
    let (ok, out, _) = run("sqlite::memory:", &["token", "issue", "--help"]);
    assert!(ok && out.contains("--user"));
}
