//! Who may call the ODM routes: its two token headers, and its own 401 body.

use reqwest::{Method, StatusCode};

use crate::helpers::*;

#[tokio::test]
async fn every_odm_auth_header_form_works_and_bad_tokens_get_the_sdk_401_body() {
    let app = TestApp::spawn().await;
    let path = "/api/v1/scim/Users";
    for headers in [
        vec![("Genestack-API-Token", ADMIN_TOKEN)],
        vec![("Authorization", &*format!("Bearer {ADMIN_TOKEN}"))],
        vec![("Authorization", &*format!("bearer {ADMIN_TOKEN}"))],
        vec![("Authorization", ADMIN_TOKEN)],
        // Both headers with the same token: one credential.
        vec![
            ("Authorization", &*format!("Bearer {ADMIN_TOKEN}")),
            ("Genestack-API-Token", ADMIN_TOKEN),
        ],
    ] {
        let r = app.raw(Method::GET, path, &headers, None).await;
        assert_eq!(r.status, StatusCode::OK, "{headers:?}");
    }
    app.create_user("other").await;
    let other_token = app.token_for("other").await;
    for headers in [
        vec![],
        vec![("Genestack-API-Token", "nope")],
        vec![("Authorization", "Bearer nope")],
        // Two credentials that are not the same one: which was meant is not guessed.
        vec![
            ("Authorization", "Bearer wrong"),
            ("Genestack-API-Token", ADMIN_TOKEN),
        ],
        vec![
            ("Authorization", &*format!("Bearer {other_token}")),
            ("Genestack-API-Token", ADMIN_TOKEN),
        ],
        vec![
            ("Genestack-API-Token", &*other_token),
            ("Genestack-API-Token", ADMIN_TOKEN),
        ],
    ] {
        let r = app.raw(Method::GET, path, &headers, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("Genestack-API-Token") && msg.contains("Authorization"),
            "{msg}"
        );
    }
}
