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
mod credentials;
mod render;
mod roles;
mod users;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::http::auth::{bearer_only, Credential};
use crate::http::body::{json_response, JsonBody, MediaTypes};
use crate::http::dialect::{Dialect, ErrorContext};
use crate::http::extract::QueryPairs;
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
        .merge(roles::routes())
        .merge(credentials::routes())
        .layer(axum::middleware::from_fn(request_headers))
}

/// `{"data": [..], "_links": {"self": ..}}`: every Contabo answer with data.
fn found(status: StatusCode, data: Vec<serde_json::Value>, self_link: &str) -> Response {
    json_response(
        status,
        &json!({"data": data, "_links": {"self": self_link}}),
    )
}

pub struct ContaboJson;

impl MediaTypes for ContaboJson {
    const ACCEPTED: &'static [&'static str] = &["application/json"];
}

/// A JSON object body, as Contabo's SDK sends it.
type Body = JsonBody<ContaboJson>;

/// Largest page of a list, and the default.
const MAX_SIZE: i64 = 1000;
const DEFAULT_SIZE: i64 = 10;

fn query_int(q: &QueryPairs, name: &str, default: i64, max: i64) -> Result<i64, ApiError> {
    match q.get(name) {
        None | Some("") => Ok(default),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid_value(format!(
                "{name} must be a whole number from 1 to {max}"
            ))),
        },
    }
}

/// `page` (1-based) and `size` of a list.
fn page_params(q: &QueryPairs) -> Result<(i64, i64), ApiError> {
    Ok((
        query_int(q, "page", 1, i64::from(u32::MAX))?,
        query_int(q, "size", DEFAULT_SIZE, MAX_SIZE)?,
    ))
}

/// A list's `_links`: this page, the first, the last, and the neighbours (null at the
/// ends), each with the request's other parameters.
fn list_links(path: &str, q: &QueryPairs, page: i64, size: i64, pages: i64) -> serde_json::Value {
    let link = |p: i64| {
        let mut params: Vec<(String, String)> = vec![
            ("page".into(), p.to_string()),
            ("size".into(), size.to_string()),
        ];
        for (k, v) in &q.0 {
            if k != "page" && k != "size" {
                params.push((k.clone(), v.clone()));
            }
        }
        let qs: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        format!("{path}?{qs}")
    };
    let last = pages.max(1);
    json!({
        "self": link(page),
        "first": link(1),
        "previous": (page > 1).then(|| link((page - 1).min(last))),
        "next": (page < pages).then(|| link(page + 1)),
        "last": link(last),
    })
}

/// A store error as this dialect answers it: "not found" in the caller's own words (which
/// entry, by which id), anything else as it is.
fn missing_as(e: roster_store::StoreError, not_found: impl FnOnce() -> ApiError) -> ApiError {
    match ApiError::from(e) {
        e if e.status() == StatusCode::NOT_FOUND => not_found(),
        e => e,
    }
}
