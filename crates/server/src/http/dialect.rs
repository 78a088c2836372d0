//! What a dialect is to the HTTP layer, and how one is mounted.
//!
//! A dialect declares its prefix, the credentials it reads ([`Dialect::credentials`]), the
//! challenge of its 401s and how it renders an [`ApiError`]. [`mount`] puts its routes under
//! its prefix with a fallback and a 405 of its own and authentication as declared, and adds
//! its routes to the OpenAPI document. [`render_errors`], once around the whole app, renders
//! every error response by the prefix it was answered under: the handlers' errors, the
//! extractors' rejections, the framework's own (bad percent-encoding, 405, 413), a time-out.
//! Outside every dialect it answers RFC 9457 problem JSON.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;

use super::auth::{resolve, AuthState, Credential};
use super::error::{ApiError, Kind, Unrendered};
use super::limits;
use crate::app::AppState;

/// Where an error was answered, for the formats that echo it (paths, tracking ids).
pub struct ErrorContext<'a> {
    pub path: &'a str,
    pub request_id: Option<&'a str>,
}

pub trait Dialect: Send + Sync + 'static {
    /// Short name for logs and metrics (`scim`, `odm`).
    const NAME: &'static str;
    /// Where its routes live, e.g. `/scim/v2`.
    const PREFIX: &'static str;
    /// `WWW-Authenticate` of its 401s (RFC 7235).
    const CHALLENGE: &'static str;
    /// The OpenAPI security schemes its routes accept (any one of them), for every
    /// operation that does not declare its own (`security(())`: no authentication).
    const SECURITY: &'static [&'static str];
    /// What its error bodies look like, for the OpenAPI `default` response.
    const ERROR_BODY: &'static str;
    /// The OpenAPI tag of its operations.
    const TAG: &'static str;
    /// Whether requests without a credential count against the anonymous rate limit here
    /// (false where the handlers authenticate the client themselves and count failures).
    const LIMIT_ANONYMOUS: bool = true;

    /// The credential a request presents, read from the headers this dialect takes
    /// (`http::auth::single` refuses two different ones).
    fn credentials(headers: &HeaderMap) -> Result<Option<Credential<'_>>, ApiError>;

    /// Renders an error in the dialect's format.
    fn render(error: &ApiError, cx: &ErrorContext<'_>) -> Response;
}

/// What the error layer keeps of a dialect.
#[derive(Clone, Copy)]
pub struct Renderer {
    prefix: &'static str,
    challenge: &'static str,
    render: fn(&ApiError, &ErrorContext<'_>) -> Response,
}

impl Renderer {
    pub fn of<D: Dialect>() -> Self {
        Self {
            prefix: D::PREFIX,
            challenge: D::CHALLENGE,
            render: D::render,
        }
    }

    fn covers(&self, path: &str) -> bool {
        path.strip_prefix(self.prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

/// Every mounted dialect's renderer, longest prefix first.
#[derive(Clone)]
pub struct Renderers(Arc<[Renderer]>);

impl Renderers {
    pub fn new(mut all: Vec<Renderer>) -> Self {
        all.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        Self(all.into())
    }

    pub fn for_path(&self, path: &str) -> Option<Renderer> {
        self.0.iter().find(|r| r.covers(path)).copied()
    }

    /// `error` as the dialect of `cx.path` renders it (problem JSON outside every dialect),
    /// with its status, `Retry-After` and, on a 401, the dialect's challenge.
    pub fn render(&self, error: &ApiError, cx: &ErrorContext<'_>) -> Response {
        finish(error, self.for_path(cx.path), cx)
    }
}

async fn no_route() -> ApiError {
    ApiError::no_route()
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// The dialect's routes under its prefix, with its fallback, 405 and authentication; its
/// part of the OpenAPI document goes into `doc`.
pub fn mount<D: Dialect>(
    routes: OpenApiRouter<AppState>,
    state: &AppState,
    doc: &mut utoipa::openapi::OpenApi,
) -> Router<AppState> {
    let (router, api) = routes.split_for_parts();
    let mut nested = utoipa::openapi::OpenApi::default();
    nested.paths = api.paths;
    nested.components = api.components;
    for (path, item) in nested.paths.paths.iter_mut() {
        let ops = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ];
        for (method, op) in ops {
            if let Some(op) = op {
                document_dialect::<D>(op, method, path);
            }
        }
    }
    *doc = std::mem::take(doc).nest(D::PREFIX, nested);
    Router::new().nest(D::PREFIX, with_dialect::<D>(router, state))
}

/// What every operation of a dialect shares: a unique operation id, its security schemes
/// (unless the operation declares its own) and a `default` response in its error format.
fn document_dialect<D: Dialect>(
    op: &mut utoipa::openapi::path::Operation,
    method: &str,
    path: &str,
) {
    use utoipa::openapi::security::SecurityRequirement;
    // Handler names repeat across resources and dialects; ids must be unique in a document.
    let words: Vec<String> = path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    op.operation_id = Some(format!("{}_{method}_{}", D::NAME, words.join("_")));
    op.tags.get_or_insert_with(|| vec![D::TAG.to_owned()]);
    if op.security.is_none() {
        op.security = Some(
            D::SECURITY
                .iter()
                .map(|s| SecurityRequirement::new::<_, _, &str>(*s, []))
                .collect(),
        );
    }
    op.responses
        .responses
        .entry("default".to_owned())
        .or_insert_with(|| utoipa::openapi::Response::new(D::ERROR_BODY).into());
}

/// A dialect's router with its fallback, 405 and authentication, not yet under its prefix
/// (also what /Bulk dispatches its operations to).
pub fn with_dialect<D: Dialect>(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    router
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate::<D>,
        ))
}

/// Checks the credentials the dialect reads, once, before any handler runs. A request that
/// arrives authenticated already (a /Bulk operation dispatched internally) is left as it is:
/// request extensions never come from the network.
async fn authenticate<D: Dialect>(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    if req.extensions().get::<AuthState>().is_some() {
        return next.run(req).await;
    }
    let ip = limits::ip_from(req.extensions(), req.headers(), &state);
    let outcome = match D::credentials(req.headers()) {
        Ok(None) => AuthState::Anonymous,
        Ok(Some(c)) => match resolve(&state, c, ip).await {
            Ok(Some(a)) => AuthState::Authenticated(Arc::new(a)),
            Ok(None) => {
                super::metrics::auth_failure(c.scheme());
                AuthState::Rejected(ApiError::unauthenticated(
                    "the credential is not valid: unknown, revoked or expired, or its user is deactivated",
                ))
            }
            Err(e) => AuthState::Rejected(e),
        },
        Err(e) => AuthState::Rejected(e),
    };
    // Rate limits: anonymous requests and failed credentials per client, signed-in
    // callers per credential (when that limit is on).
    let limited = match &outcome {
        AuthState::Anonymous if !D::LIMIT_ANONYMOUS => Ok(()),
        AuthState::Anonymous | AuthState::Rejected(_) => limits::count_anonymous(&state, ip).await,
        AuthState::Authenticated(a) => {
            let l = &state.limits.limits;
            if l.enabled(limits::Kind::PerCredential) {
                let key = format!("{:?}:{}", a.method, a.principal.user_id);
                l.check(limits::Kind::PerCredential, &key).await
            } else {
                Ok(())
            }
        }
    };
    super::envelope::AccessSlot::note(req.extensions(), D::NAME, ip);
    if let (AuthState::Authenticated(a), Some(slot)) = (
        &outcome,
        req.extensions().get::<Arc<super::envelope::AccessSlot>>(),
    ) {
        let _ = slot.principal.set(a.principal.user_id);
    }
    if let Err(e) = limited {
        return e.into_response();
    }
    req.extensions_mut().insert(outcome);
    next.run(req).await
}

/// The error layer (see the module docs): `res`, answered to a request for `uri` with
/// tracking id `request_id`, rendered by the dialect of `uri` when it is an error.
pub async fn render_errors(
    renderers: &Renderers,
    uri: &axum::http::Uri,
    request_id: Option<&HeaderValue>,
    res: Response,
) -> Response {
    if !(res.status().is_client_error() || res.status().is_server_error()) {
        return res;
    }
    let cx = ErrorContext {
        path: uri.path(),
        request_id: request_id.and_then(|v| v.to_str().ok()),
    };
    render_response(res, renderers.for_path(uri.path()), &cx).await
}

/// Marks an error answer a handler wrote whole in its dialect's format (an HTML page that
/// says what went wrong and offers the form again), which the error layer leaves as it is.
#[derive(Clone, Copy)]
pub struct Rendered;

/// Renders an error response that has not been rendered yet; others pass unchanged.
pub async fn render_response(
    mut res: Response,
    renderer: Option<Renderer>,
    cx: &ErrorContext<'_>,
) -> Response {
    let error = match res.extensions_mut().remove::<Unrendered>() {
        Some(Unrendered(e)) => e,
        None if is_json(res.headers()) || res.extensions().get::<Rendered>().is_some() => {
            return res
        }
        None => Arc::new(framework_rejection(res).await),
    };
    finish(&error, renderer, cx)
}

fn finish(error: &ApiError, renderer: Option<Renderer>, cx: &ErrorContext<'_>) -> Response {
    let mut out = match renderer {
        Some(r) => (r.render)(error, cx),
        None => problem_json(error),
    };
    *out.status_mut() = error.status();
    let h = out.headers_mut();
    if let Some(secs) = error.retry_after() {
        h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if let Some((policy, state)) = error.rate_limit() {
        if let (Ok(p), Ok(s)) = (HeaderValue::from_str(policy), HeaderValue::from_str(state)) {
            h.insert("ratelimit-policy", p);
            h.insert("ratelimit", s);
        }
    }
    if error.status() == StatusCode::UNAUTHORIZED && !h.contains_key(header::WWW_AUTHENTICATE) {
        let challenge = renderer.map_or("Bearer", |r| r.challenge);
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    out
}

fn is_json(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"))
}

/// A rejection the framework made on its own (plain text or empty): same status, its text
/// as the detail.
async fn framework_rejection(res: Response) -> ApiError {
    let status = res.status();
    let text = axum::body::to_bytes(res.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let detail = match (status, text.is_empty()) {
        (StatusCode::SERVICE_UNAVAILABLE, true) => {
            "the request took longer than the server allows (ROSTER_REQUEST_TIMEOUT_SECS)"
                .to_owned()
        }
        (_, true) => status.canonical_reason().unwrap_or("error").to_owned(),
        (_, false) => text,
    };
    ApiError::new(Kind::from_status(status), detail)
}

/// RFC 9457 problem details: answers outside every dialect, and the format of Roster's own
/// APIs.
pub fn problem_json(e: &ApiError) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": e.status().canonical_reason().unwrap_or("Error"),
        "status": e.status().as_u16(),
        "detail": e.detail(),
    });
    let mut res = Response::new(Body::from(body.to_string()));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res.into_response()
}
