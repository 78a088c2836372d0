//! SailPoint Identity Security Cloud's auth-users API, as both generations of its Python SDK
//! call it: `sailpoint==1.4.2` at `/v3/auth-users/{id}`, 2.x at `/auth-users/v1/{id}`, one
//! handler for both (see `shared/contracts/sailpoint.md`). Rules of this dialect:
//! - ids are the SCIM id, accepted dashed or as 32 hex digits; any other shape is 404;
//! - `capabilities` are the core's capability set (`ORG_ADMIN` = manage-organization +
//!   manage-groups), changed with RFC 6902 JSON Patch on `/capabilities` only;
//! - errors are `ErrorResponseDto` (400/403/404/5xx), 401 `{"error": {...}}` and 429
//!   `{"message": {...}}` (objects: 1.4.2 parses nothing else), always `application/json`.

mod auth_users;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::http::auth::{bearer, header_values, single, Credential};
use crate::http::dialect::{Dialect, ErrorContext};
use crate::http::{ApiError, Kind};

/// SailPoint's detail code of an error.
fn detail_code(e: &ApiError) -> &'static str {
    match (e.kind(), e.status()) {
        (Kind::Mutability, _) => "400.1.1 Illegal update attempt",
        (_, StatusCode::BAD_REQUEST) => "400.1 Bad Request Content",
        (_, StatusCode::FORBIDDEN) => "403 Forbidden",
        (_, StatusCode::NOT_FOUND) => "404 Not found",
        (_, StatusCode::METHOD_NOT_ALLOWED) => "405 Method Not Allowed",
        (_, StatusCode::PAYLOAD_TOO_LARGE) => "413 Payload Too Large",
        (_, StatusCode::UNSUPPORTED_MEDIA_TYPE) => "415 Unsupported Media Type",
        (_, StatusCode::SERVICE_UNAVAILABLE) => "503 Service Unavailable",
        (_, s) if s.is_server_error() => "500.0 Internal Fault",
        _ => "400.1 Bad Request Content",
    }
}

fn render(e: &ApiError, cx: &ErrorContext<'_>) -> Response {
    let body = match e.kind() {
        Kind::Unauthenticated => json!({"error": {"message": e.detail()}}),
        Kind::TooManyRequests => json!({"message": {"text": e.detail()}}),
        _ => json!({
            "detailCode": detail_code(e),
            "trackingId": cx.request_id.unwrap_or_default(),
            "messages": [{"locale": "en-US", "localeOrigin": "DEFAULT", "text": e.detail()}],
            "causes": [],
        }),
    };
    let mut res = body.to_string().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// `Authorization: Bearer` with an OAuth access token (what the SDK fetched) or an API token.
fn credentials(headers: &HeaderMap) -> Result<Option<Credential<'_>>, ApiError> {
    let values = header_values(headers, &header::AUTHORIZATION)?;
    single(
        values
            .into_iter()
            .map(|v| Credential::Token(bearer(v).unwrap_or(v))),
    )
}

const ERROR_BODY: &str = "SailPoint's ErrorResponseDto (`detailCode`, `trackingId`, `messages`); 401 `{\"error\": {\"message\": ...}}`, 429 `{\"message\": {\"text\": ...}}`";

macro_rules! sailpoint_dialect {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $prefix:literal) => {
        $(#[$doc])*
        pub struct $ty;

        impl Dialect for $ty {
            const NAME: &'static str = $name;
            const PREFIX: &'static str = $prefix;
            const CHALLENGE: &'static str = "Bearer";
            const SECURITY: &'static [&'static str] = &["bearer"];
            const ERROR_BODY: &'static str = ERROR_BODY;
            const TAG: &'static str = "SailPoint auth-users";

            fn credentials(headers: &HeaderMap) -> Result<Option<Credential<'_>>, ApiError> {
                credentials(headers)
            }

            fn render(e: &ApiError, cx: &ErrorContext<'_>) -> Response {
                render(e, cx)
            }
        }
    };
}

sailpoint_dialect!(
    /// `/v3/auth-users`: `sailpoint==1.4.2` (`sailpoint.v3`).
    SailPointV3, "sailpoint_v3", "/v3/auth-users"
);
sailpoint_dialect!(
    /// `/auth-users/v1`: `sailpoint` 2.x (`sailpoint.auth_users`).
    SailPointV1, "sailpoint_v1", "/auth-users/v1"
);

/// The routes, mounted under both prefixes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(auth_users::get, auth_users::patch))
}
