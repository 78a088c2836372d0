//! CVAT's users API at `/api` (`cvat-sdk` 2.80.0, low and high level; contract in
//! `shared/contracts/cvat.md`): the server's about, login and logout (`auth.rs`), users
//! (`users.rs`), the list's parameters (`query.rs`) and the shapes (`render.rs`).
//!
//! Rules of this dialect, visible here rather than threaded through core:
//! - a user's id is their number (`seq`); `url` is absolute;
//! - credentials: `Authorization: Basic` (userName or email + password, on every request),
//!   `Token <login key>`, `Bearer <API token or JWT>`, else the `sessionid` cookie; a request
//!   with `Authorization` is judged by it alone, whatever cookies it carries;
//! - an unsafe method signed in by the session cookie needs `X-CSRFToken` equal to the
//!   `csrftoken` cookie (and to the session's token) and an `Origin` (or `Referer`) on the
//!   public URL; the token never changes during a session (the SDK keeps the first);
//! - errors are DRF's: `{"detail": ...}`, or `{"<field>": ["..."]}` for a field's 400; never
//!   502/503/504 for a client's mistake (the SDK retries those);
//! - `username` is always what the SDK's pattern `^[\w.@+-]+$` and 150 characters allow
//!   ([`render::username`] says how other userNames are shown).
//! - organizations are groups with a slug (`roster org`): `org`, `org_id` or
//!   `X-Organization` limits lists and reads to the organization's members.

mod auth;
mod query;
mod render;
mod users;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roster_core::secret;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::http::auth::{
    cookie, header_values, single, with_scheme, AuthMethod, AuthState, Credential,
};
use crate::http::body::{json_response, JsonBody, MediaTypes};
use crate::http::dialect::{Dialect, ErrorContext};
use crate::http::extract::same_origin;
use crate::http::{ApiError, Kind};

pub struct Cvat;

const SESSION_COOKIE: &str = "sessionid";
const CSRF_COOKIE: &str = "csrftoken";

impl Dialect for Cvat {
    const NAME: &'static str = "cvat";
    const PREFIX: &'static str = "/api";
    const CHALLENGE: &'static str = "Basic realm=\"roster\"";
    const SECURITY: &'static [&'static str] = &["password", "login_key", "bearer", "session"];
    const ERROR_BODY: &'static str =
        "Django REST framework's error JSON: `{\"detail\": ...}`, or `{\"<field>\": [\"...\"]}`";
    const TAG: &'static str = "CVAT users";

    fn credentials(headers: &HeaderMap) -> Result<Option<Credential<'_>>, ApiError> {
        let values = header_values(headers, &header::AUTHORIZATION)?;
        let found = values
            .into_iter()
            .map(|v| {
                if let Some(b) = with_scheme(v, "basic") {
                    Ok(Credential::Basic(b))
                } else if let Some(k) = with_scheme(v, "token") {
                    Ok(Credential::LoginKey(k))
                } else if let Some(t) = with_scheme(v, "bearer") {
                    Ok(Credential::Token(t))
                } else {
                    Err(ApiError::unauthenticated(
                        "the Authorization header takes Basic, Token or Bearer credentials",
                    ))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        match single(found)? {
            Some(c) => Ok(Some(c)),
            None => Ok(cookie(headers, SESSION_COOKIE)
                .filter(|s| !s.is_empty())
                .map(Credential::Session)),
        }
    }

    fn render(e: &ApiError, _cx: &ErrorContext<'_>) -> Response {
        let body = match e.field() {
            Some(f) if e.status().is_client_error() => json!({ f: [e.detail()] }),
            _ => json!({"detail": e.detail()}),
        };
        json_response(e.status(), &body)
    }
}

pub struct CvatJson;

impl MediaTypes for CvatJson {
    const ACCEPTED: &'static [&'static str] = &["application/json", "application/vnd.cvat+json"];
    const EMPTY_IS_EMPTY_OBJECT: bool = true;
}

/// A JSON object body (an empty one reads as `{}`).
type Body = JsonBody<CvatJson>;

/// Answers in CVAT's media type, as CVAT does.
fn answer(status: axum::http::StatusCode, body: &Value) -> Response {
    let mut res = json_response(status, body);
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/vnd.cvat+json"),
    );
    res
}

fn csrf_failed(why: &str) -> ApiError {
    ApiError::new(Kind::Forbidden, format!("CSRF Failed: {why}"))
}

/// The CSRF check of a session-authenticated unsafe request (Django's: the header token,
/// the cookie and the session's token agree, and the request comes from our own origin).
fn check_csrf(state: &AppState, headers: &HeaderMap, csrf_hash: &str) -> Result<(), ApiError> {
    let sent = headers
        .get("x-csrftoken")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if sent.is_empty() {
        return Err(csrf_failed("CSRF token missing (send X-CSRFToken)."));
    }
    let cookie_ok = cookie(headers, CSRF_COOKIE).is_some_and(|c| secret::ct_eq(c, sent));
    if !cookie_ok || !secret::ct_eq(&secret::hash_token(sent), csrf_hash) {
        return Err(csrf_failed("CSRF token incorrect."));
    }
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !same_origin(&state.public_url, from) {
        return Err(csrf_failed(
            "Origin checking failed: the request does not come from this server's public URL.",
        ));
    }
    Ok(())
}

async fn csrf(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // A login starts a session; the cookies of an old one must not stand in its way.
    let login = req.uri().path().ends_with("/auth/login");
    if unsafe_method && !login {
        if let Some(AuthState::Authenticated(a)) = req.extensions().get::<AuthState>() {
            if a.method == AuthMethod::Session {
                let hash = a.csrf_hash.as_deref().unwrap_or("");
                if let Err(e) = check_csrf(&state, req.headers(), hash) {
                    return e.into_response();
                }
            }
        }
    }
    next.run(req).await
}

/// The dialect's routes with the CSRF check inside them (mounting adds authentication
/// outside, so the check sees how the request signed in).
pub fn routes(state: &AppState) -> OpenApiRouter<AppState> {
    auth::routes()
        .merge(users::routes())
        .layer(axum::middleware::from_fn_with_state(state.clone(), csrf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let base = "http://127.0.0.1:8080";
        assert!(same_origin(base, "http://127.0.0.1:8080"));
        assert!(same_origin(base, "http://127.0.0.1:8080/api/users"));
        assert!(!same_origin(base, "http://127.0.0.1:8081"));
        assert!(!same_origin(base, "https://127.0.0.1:8080"));
        assert!(!same_origin(base, "http://127.0.0.1:8080.evil.example"));
        assert!(!same_origin(base, ""));
    }
}
