//! OAuth 2.0 (RFC 6749) as a dialect: the token endpoint at `/oauth/token` and at the
//! Keycloak path Contabo's clients use (`/auth/realms/{realm}/protocol/openid-connect/token`,
//! any realm), revocation (RFC 7009), introspection (RFC 7662), and discovery under
//! `/.well-known` (the JWKS and the OpenID provider metadata).
//!
//! Errors are RFC 6749 §5.2 bodies, `{"error": code, "error_description": text}`, for every
//! 4xx under these prefixes, the framework's own rejections included; a 401 always says
//! `invalid_client` and never whether the client id exists.

mod discovery;
mod form;
mod token;

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::http::auth::{bearer_only, Credential};
use crate::http::dialect::{Dialect, ErrorContext};
use crate::http::{ApiError, Kind};

/// The RFC 6749 §5.2 code of an error.
fn code(e: &ApiError) -> &'static str {
    match e.kind() {
        Kind::Unauthenticated => "invalid_client",
        Kind::InvalidGrant => "invalid_grant",
        Kind::UnsupportedGrantType => "unsupported_grant_type",
        Kind::InvalidScope => "invalid_scope",
        Kind::Forbidden | Kind::Sensitive => "unauthorized_client",
        Kind::Unavailable | Kind::TooManyRequests => "temporarily_unavailable",
        k if k.status().is_server_error() => "server_error",
        _ => "invalid_request",
    }
}

fn render(e: &ApiError, _: &ErrorContext<'_>) -> Response {
    let mut res = json!({"error": code(e), "error_description": e.detail()})
        .to_string()
        .into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

const ERROR_BODY: &str =
    "An RFC 6749 §5.2 error: `{\"error\": \"invalid_request\", \"error_description\": ...}`";
/// RFC 6749 §2.3.1: a client that authenticated with HTTP Basic is challenged the same way.
const CHALLENGE: &str = "Basic realm=\"roster\", charset=\"UTF-8\"";

/// The three prefixes differ only in name, path and what credentials they read.
macro_rules! oauth_dialect {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $prefix:literal, $challenge:expr, $security:expr, $credentials:expr) => {
        $(#[$doc])*
        pub struct $ty;

        impl Dialect for $ty {
            const NAME: &'static str = $name;
            const PREFIX: &'static str = $prefix;
            const CHALLENGE: &'static str = $challenge;
            const SECURITY: &'static [&'static str] = $security;
            const ERROR_BODY: &'static str = ERROR_BODY;
            const TAG: &'static str = "OAuth 2.0";
            // The token endpoints count failed client authentications themselves: a
            // successful grant is authenticated, however it arrived.
            const LIMIT_ANONYMOUS: bool = false;

            fn credentials(headers: &HeaderMap) -> Result<Option<Credential<'_>>, ApiError> {
                ($credentials)(headers)
            }

            fn render(e: &ApiError, cx: &ErrorContext<'_>) -> Response {
                render(e, cx)
            }
        }
    };
}

fn no_credentials(_: &HeaderMap) -> Result<Option<Credential<'_>>, ApiError> {
    Ok(None)
}

oauth_dialect!(
    /// `/oauth`: token, revoke, introspect.
    OAuth, "oauth", "/oauth", CHALLENGE, &["oauth_client"], bearer_only
);
oauth_dialect!(
    /// `/auth/realms`: the Keycloak token path.
    Keycloak, "keycloak", "/auth/realms", CHALLENGE, &["oauth_client"], no_credentials
);
oauth_dialect!(
    /// `/.well-known`: public discovery documents.
    WellKnown, "well_known", "/.well-known", "Bearer", &[], no_credentials
);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(token::token))
        .routes(routes!(token::revoke))
        .routes(routes!(token::introspect))
}

pub fn keycloak_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(token::keycloak_token))
}

pub fn well_known_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(discovery::jwks))
        .routes(routes!(discovery::openid_configuration))
}
