//! Who may call `/scim/v2`: a Bearer token, and the permission each resource needs.

use reqwest::Method;

use crate::helpers::*;

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
