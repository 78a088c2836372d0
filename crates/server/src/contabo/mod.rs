//! The Contabo users API at `/v1` (`pfruck-contabo` 2.0.0; contract in
//! `shared/contracts/contabo.md`): users (`users.rs`), the caller's OAuth client
//! (`client.rs`), and the shapes they answer in (`render.rs`).
//!
//! Rules of this dialect, visible here rather than threaded through core:
//! - every call needs an `x-request-id` header (400 without), echoed like `x-trace-id`;
//! - errors are `{"statusCode", "message", "timestamp", "path"}`, the framework's own too;
//! - a user's login (`userName`) is their email; `enabled` is `active`; delete is a hard
//!   delete (404 everywhere afterwards);
//! - `firstName`/`lastName` are never empty in a read (the SDK refuses the whole page
//!   otherwise): given/family name, then displayName, then the email's local part;
//! - `locale` is one of `de-DE`, `de`, `en-US`, `en`, in writes and reads;
//! - no password can be set here (the reset mail is how a user chooses one).

mod client;
mod render;
mod users;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::http::auth::{bearer_only, Credential};
use crate::http::body::json_response;
use crate::http::dialect::{Dialect, ErrorContext};
use crate::http::request_id::ClientRequestId;
use crate::http::ApiError;

pub struct Contabo;

impl Dialect for Contabo {
    const NAME: &'static str = "contabo";
    const PREFIX: &'static str = "/v1";
    const CHALLENGE: &'static str = "Bearer";
    const SECURITY: &'static [&'static str] = &["bearer"];
    const ERROR_BODY: &'static str =
        "Contabo's error JSON: `statusCode`, `message`, `timestamp`, `path`";
    const TAG: &'static str = "Contabo users";

    fn credentials(headers: &HeaderMap) -> Result<Option<Credential<'_>>, ApiError> {
        bearer_only(headers)
    }

    fn render(e: &ApiError, cx: &ErrorContext<'_>) -> Response {
        json_response(
            e.status(),
            &json!({
                "statusCode": e.status().as_u16(),
                "message": e.detail(),
                "timestamp": roster_core::format_micros(roster_core::now_micros()),
                "path": cx.path,
            }),
        )
    }
}

const TRACE_ID: HeaderName = HeaderName::from_static("x-trace-id");

/// Every call names itself with `x-request-id` (echoed by the server-wide layer), and its
/// `x-trace-id`, when sent, comes back too.
async fn request_headers(req: Request, next: Next) -> Response {
    if req.extensions().get::<ClientRequestId>().is_none() {
        return ApiError::invalid_value(
            "the x-request-id header is required (a UUID4 that names the request)",
        )
        .into_response();
    }
    let trace = req.headers().get(&TRACE_ID).cloned();
    let mut res = next.run(req).await;
    if let Some(t) = trace {
        res.headers_mut().insert(TRACE_ID, t);
    }
    res
}

pub fn routes() -> OpenApiRouter<AppState> {
    users::routes()
        .merge(client::routes())
        .layer(axum::middleware::from_fn(request_headers))
}

/// `{"data": [..], "_links": {"self": ..}}`: every Contabo answer with data.
fn found(status: StatusCode, data: Vec<serde_json::Value>, self_link: &str) -> Response {
    json_response(
        status,
        &json!({"data": data, "_links": {"self": self_link}}),
    )
}
