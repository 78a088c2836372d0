//! Object-storage key pairs (S3-style access and secret keys), on a user's page for
//! administrators and on one's own account: one per storage, made on first view; the secret
//! key shown on request (it is sealed at rest, so it can be), and a new one on request after
//! a confirmation (clients using the old one stop working).

use axum::extract::State;
use axum::response::Response;
use roster_core::policy::TokenAdmin;
use roster_core::PageRequest;
use roster_store::CredentialQuery;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Form, Me};
use crate::app::AppState;
use crate::http::extract::PathParam;
use crate::http::ApiError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(of_user))
        .routes(routes!(own))
}

/// The user's key pairs as the pages list them (making the ones they lack).
pub(super) async fn rows(
    state: &AppState,
    me: &Me,
    by: &TokenAdmin,
    user: Uuid,
) -> Result<Vec<Value>, ApiError> {
    let key = state.tokens.server_key();
    let make = || crate::tokens::new_key_pair(key);
    let query = CredentialQuery {
        // A deployment has a handful of storages; a page of 100 shows them all.
        page: PageRequest {
            start_index: 1,
            count: 100,
        },
        ..CredentialQuery::default()
    };
    let found = me
        .caller
        .store()
        .credentials(by, &me.caller.ctx(), user, &make, &query)
        .await?;
    Ok(found
        .items
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "storage": c.storage.id.to_string(),
                "storage_name": c.storage.display_name,
                "region": c.storage.region,
                "access_key": c.access_key,
            })
        })
        .collect())
}

/// Shows a key pair's secret key, or (once confirmed) gives it a new one.
async fn act(
    state: &AppState,
    me: &Me,
    by: &TokenAdmin,
    user: Uuid,
    form: &Form,
    base: &str,
) -> Result<Response, ApiError> {
    let storage = form
        .text("storage")
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| ApiError::invalid_value("which storage: its id is missing"))?;
    let id = form
        .text("credential")
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| ApiError::invalid_value("which key pair: its id is missing"))?;
    let store = me.caller.store();
    let key = state.tokens.server_key();
    let missing = || ApiError::invalid_value("no such key pair");
    let (c, intro) = match form.get("action") {
        Some("show") => {
            let c = store
                .credential(by, user, storage, id)
                .await?
                .ok_or_else(missing)?;
            let intro = format!(
                "The key pair for {} ({}). Access key: {}",
                c.storage.display_name, c.storage.region, c.access_key
            );
            (c, intro)
        }
        Some("regenerate") => {
            let c = store
                .credential(by, user, storage, id)
                .await?
                .ok_or_else(missing)?;
            let ask = (
                format!("A new secret key for {}?", c.access_key),
                format!("Clients using the current secret key for {} ({}) stop working at once. The access key stays.", c.storage.display_name, c.storage.region),
                "Make a new secret key",
            );
            let action = format!("{base}/credentials");
            if let Some(page) = super::unconfirmed(me, form, &action, ask, base) {
                return Ok(page);
            }
            let secret = |access: &str| crate::tokens::seal_secret_key(key, access);
            let c = store
                .regenerate_credential(by, &me.caller.ctx(), user, storage, id, &secret)
                .await?;
            let intro = format!(
                "A new secret key for {} ({}); the old one stopped working. Access key: {}",
                c.storage.display_name, c.storage.region, c.access_key
            );
            (c, intro)
        }
        _ => return Err(ApiError::invalid_value("action must be show or regenerate")),
    };
    let secret = crate::tokens::open_secret_key(key, &c)?;
    Ok(me.page(
        "",
        "secret.html",
        json!({
            "title": "S3 key pair",
            "intro": intro,
            "secret": secret,
            "secret_label": "Secret key",
            "back": base,
            "back_label": "Done",
        }),
    ))
}

#[utoipa::path(post, path = "/users/{id}/credentials",
    params(("id" = String, Path, description = "The user's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`storage`, `credential`, `action` (show or regenerate), `confirmed` (yes, for regenerate), `csrf`"),
    description = "Shows a user's secret key for a storage, or makes a new one (manage-organization).",
    responses((status = 200, description = "The key pair, or the confirmation", content_type = "text/html", body = String)))]
async fn of_user(
    State(state): State<AppState>,
    me: Me,
    PathParam(raw): PathParam,
    form: Form,
) -> Result<Response, ApiError> {
    let id = super::users::user_id(&raw)?;
    let by = me.caller.principal().user_admin()?.credential_admin();
    act(&state, &me, &by, id, &form, &format!("/console/users/{id}")).await
}

#[utoipa::path(post, path = "/me/credentials",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`storage`, `credential`, `action` (show or regenerate), `confirmed` (yes, for regenerate), `csrf`"),
    description = "Shows one's secret key for a storage, or makes a new one.",
    responses((status = 200, description = "The key pair, or the confirmation", content_type = "text/html", body = String)))]
async fn own(State(state): State<AppState>, me: Me, form: Form) -> Result<Response, ApiError> {
    let p = me.caller.principal();
    let (by, id) = (p.self_service().token_admin(), p.user_id);
    act(&state, &me, &by, id, &form, "/console/me").await
}
