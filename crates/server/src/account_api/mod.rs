//! Roster's own account API at `/api/v1/accounts`: have a password-reset or a verification
//! link mailed to a user. Administrators (manage-organization) may for anyone, a user for
//! themselves. The answer is 202 as soon as the mail is in the outbox; errors are RFC 9457
//! problem JSON.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_core::policy::AccountMailer;
use roster_core::{CoreError, Entity};
use roster_store::LinkPurpose;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::app::AppState;
use crate::http::auth::{bearer_only, Caller, Credential};
use crate::http::body::json_response;
use crate::http::dialect::{problem_json, Dialect, ErrorContext};
use crate::http::extract::PathParam;
use crate::http::ApiError;

pub struct AccountApi;

impl Dialect for AccountApi {
    const NAME: &'static str = "accounts";
    const PREFIX: &'static str = "/api/v1/accounts";
    const CHALLENGE: &'static str = "Bearer";
    const SECURITY: &'static [&'static str] = &["bearer"];
    const ERROR_BODY: &'static str =
        "RFC 9457 problem details (`type`, `title`, `status`, `detail`)";
    const TAG: &'static str = "Roster accounts";

    fn credentials(headers: &HeaderMap) -> Result<Option<Credential<'_>>, ApiError> {
        bearer_only(headers)
    }

    fn render(e: &ApiError, _: &ErrorContext<'_>) -> Response {
        problem_json(e)
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(password_reset))
        .routes(routes!(email_verification))
}

/// `{"redirectUrl": "..."}`, or no body at all.
fn redirect_of(body: &axum::body::Bytes) -> Result<Option<String>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_syntax(format!("the body is not JSON: {e}")))?;
    let Value::Object(map) = v else {
        return Err(ApiError::invalid_syntax("the body must be a JSON object"));
    };
    if let Some(k) = map.keys().find(|k| k.as_str() != "redirectUrl") {
        return Err(ApiError::invalid_value(format!(
            "unknown attribute {k:?}; the body takes only redirectUrl"
        )));
    }
    match map.get("redirectUrl") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid_value("redirectUrl must be a string")),
    }
}

fn user_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw)
        .map_err(|_| ApiError::from(CoreError::NotFound(Entity::UserNamed(raw.to_owned()))))
}

/// An administrator's handle for anyone, or the caller's own.
fn mailer(caller: &Caller, id: Uuid) -> Result<AccountMailer, ApiError> {
    let p = caller.principal();
    if p.user_id == id {
        return Ok(p.self_service().account_mailer());
    }
    Ok(p.user_admin()?.account_mailer())
}

async fn queue(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
    body: &axum::body::Bytes,
    purpose: LinkPurpose,
) -> Result<Response, ApiError> {
    let id = user_id(raw_id)?;
    let by = mailer(caller, id)?;
    let redirect = redirect_of(body)?;
    state
        .mail
        .send_link(state, &by, &caller.ctx(), id, purpose, redirect.as_deref())
        .await?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &json!({"status": "queued", "kind": purpose.as_str()}),
    ))
}

#[utoipa::path(post, path = "/{id}/password-reset",
    params(("id" = String, Path, description = "The user's id")),
    request_body(content = Value, description = "Optional: `{\"redirectUrl\": \"https://app.example.com/done\"}` (its origin must be in ROSTER_REDIRECT_ALLOWLIST)"),
    description = "Mails the user a single-use link to choose a new password (ROSTER_RESET_TOKEN_TTL_SECS); earlier reset links stop working. At most one per user per minute (429).",
    responses((status = 202, description = "The mail is queued", body = Value)))]
async fn password_reset(
    axum::extract::State(state): axum::extract::State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    queue(&state, &caller, &id, &body, LinkPurpose::PasswordReset).await
}

#[utoipa::path(post, path = "/{id}/email-verification",
    params(("id" = String, Path, description = "The user's id")),
    request_body(content = Value, description = "Optional: `{\"redirectUrl\": ...}` as for password-reset"),
    description = "Mails the user a link that confirms their address (ROSTER_VERIFY_TOKEN_TTL_SECS). At most one per user per minute (429).",
    responses((status = 202, description = "The mail is queued", body = Value)))]
async fn email_verification(
    axum::extract::State(state): axum::extract::State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    queue(&state, &caller, &id, &body, LinkPurpose::EmailVerification).await
}
