//! The caller's own OAuth client (`GET /v1/users/client`) and its new secret
//! (`PUT /v1/users/client/secret`): the pair `POST /oauth/token` takes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::found;
use crate::app::AppState;
use crate::http::auth::Caller;
use crate::http::ApiError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show))
        .routes(routes!(rotate))
}

#[utoipa::path(get, path = "/users/client",
    description = "The caller's OAuth client (created on first use) with its current secret.",
    responses((status = 200, description = "FindClientResponse", body = Value)))]
pub async fn show(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let (client_id, secret) = crate::tokens::own_client(&state, &caller, false).await?;
    Ok(found(
        StatusCode::OK,
        vec![json!({
            "tenantId": state.tenant_id.as_ref(),
            "customerId": state.customer_id.as_ref(),
            "id": caller.principal().user_id.to_string(),
            "clientId": client_id,
            "secret": secret,
        })],
        "/v1/users/client",
    ))
}

#[utoipa::path(put, path = "/users/client/secret",
    description = "A new secret for the caller's client: the previous one stops working at once, and so do the client's refresh tokens.",
    responses((status = 200, description = "GenerateClientSecretResponse", body = Value)))]
pub async fn rotate(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let (_, secret) = crate::tokens::own_client(&state, &caller, true).await?;
    Ok(found(
        StatusCode::OK,
        vec![json!({
            "tenantId": state.tenant_id.as_ref(),
            "customerId": state.customer_id.as_ref(),
            "secret": secret,
        })],
        "/v1/users/client/secret",
    ))
}
