//! The web console at `/console`: server-rendered HTML (minijinja templates embedded in the
//! binary, one stylesheet, no script), for administrators to manage the directory and for
//! everyone to manage their own account. It is a dialect like the APIs: it reads its own
//! credential (the `roster_console` cookie), renders every error as a page, and acts only
//! through the capability handles the policy gives the signed-in user.
//!
//! Rules of this dialect:
//! - a session is a `console` row of the sessions table: `SameSite=Strict`, HttpOnly cookie,
//!   absolute time-out ROSTER_CONSOLE_SESSION_SECS and idle time-out ROSTER_CONSOLE_IDLE_SECS;
//! - every POST is a form carrying `csrf`: derived from the session cookie (or, before
//!   sign-in, matched against the `roster_console_csrf` cookie) and checked in constant
//!   time, and the request's `Origin` (or `Referer`) must be the public URL's;
//! - every answer is `no-store`, framed by nobody, under a CSP without any script;
//! - a page that needs a signed-in user sends others to the sign-in page; a page that needs
//!   a permission the user lacks is a 403 page, and the navigation shows no link to it.

mod audit;
mod credentials;
mod groups;
mod me;
mod roles;
mod setup;
mod signin;
mod storages;
mod users;

use std::sync::LazyLock;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::Environment;
use roster_core::{secret, Permission};
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::http::auth::{cookie, AuthState, Caller, Credential};
use crate::http::dialect::{Dialect, ErrorContext, Rendered};
use crate::http::extract::same_origin;
use crate::http::ApiError;

pub use setup::SetupCode;

/// The session cookie.
const SESSION_COOKIE: &str = "roster_console";
/// The CSRF cookie of the forms shown before a session exists (sign-in, setup).
const PRE_CSRF_COOKIE: &str = "roster_console_csrf";
/// Longest form body and field.
const MAX_FORM_BYTES: usize = 64 * 1024;
const MAX_FIELD: usize = 4096;
/// Enough for a user's roles (at most 100) as checkboxes.
const MAX_FIELDS: usize = 256;
/// Rows per page of every list.
const PAGE_SIZE: i64 = 50;

pub struct Console;

impl Dialect for Console {
    const NAME: &'static str = "console";
    const PREFIX: &'static str = "/console";
    const CHALLENGE: &'static str = "";
    const SECURITY: &'static [&'static str] = &["console_session"];
    const ERROR_BODY: &'static str = "an HTML page saying what went wrong";
    const TAG: &'static str = "Web console";

    fn credentials(headers: &HeaderMap) -> Result<Option<Credential<'_>>, ApiError> {
        Ok(cookie(headers, SESSION_COOKIE)
            .filter(|v| !v.is_empty())
            .map(Credential::Console))
    }

    fn render(e: &ApiError, _: &ErrorContext<'_>) -> Response {
        let title = e.status().canonical_reason().unwrap_or("Error");
        let html = render_template(
            "error.html",
            json!({"title": title, "status": e.status().as_u16(), "detail": e.detail()}),
        )
        .unwrap_or_else(|_| format!("<!DOCTYPE html><title>{title}</title><p>{title}</p>"));
        let mut res = (e.status(), html).into_response();
        harden(res.headers_mut());
        res
    }
}

/// Every template, by name (embedded: the binary needs no files at run time).
/// The templates named, each embedded from templates/console/.
macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/console/", $name)))),*]
    };
}

const TEMPLATE_SOURCES: &[(&str, &str)] = embedded![
    "base.html",
    "error.html",
    "sign-in.html",
    "setup.html",
    "users.html",
    "user.html",
    "user-new.html",
    "confirm.html",
    "secret.html",
    "groups.html",
    "group.html",
    "audit.html",
    "me.html",
    "totp.html",
    "pager.html",
    "tokens.html",
    "roles.html",
    "role.html",
    "role-form.html",
    "storages.html",
];

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // A page's optional parts (errors.<field>, form.<field>) are often absent.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    for (name, source) in TEMPLATE_SOURCES {
        if let Err(e) = env.add_template(name, source) {
            // A template that does not parse is a build mistake the unit tests catch.
            tracing::error!(template = name, error = %e, "console template does not parse");
        }
    }
    env
});

const STYLE: &str = include_str!("../../templates/console/console.css");

fn render_template(name: &str, ctx: Value) -> Result<String, ApiError> {
    let t = TEMPLATES
        .get_template(name)
        .map_err(|e| ApiError::internal(std::io::Error::other(e.to_string())))?;
    t.render(minijinja::Value::from_serialize(&ctx))
        .map_err(|e| ApiError::internal(std::io::Error::other(e.to_string())))
}

/// The headers of every console answer.
fn harden(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
}

/// A rendered page (`status` other than 200 for a form shown again with its errors).
fn page(status: StatusCode, name: &str, ctx: Value) -> Response {
    match render_template(name, ctx) {
        Ok(html) => {
            let mut res = (status, html).into_response();
            if !status.is_success() {
                // Written whole, with the form and its messages: the error layer keeps it.
                res.extensions_mut().insert(Rendered);
            }
            harden(res.headers_mut());
            res
        }
        Err(e) => e.into_response(),
    }
}

/// After a change: back to a page (POST, redirect, GET), with a message key the page words.
fn see_other(to: &str) -> Response {
    let mut res = Redirect::to(to).into_response();
    harden(res.headers_mut());
    res
}

fn cookie_value(state: &AppState, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
    let secure = if state.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    // No Max-Age: the cookie ends with the browser; the server's time-outs still apply.
    let age = max_age.map_or(String::new(), |a| format!("; Max-Age={a}"));
    let c = format!("{name}={value}; HttpOnly{secure}; Path=/console; SameSite=Strict{age}");
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Opens a console session for a user whose password was just checked and answers a
/// redirect to `to` that sets its cookie.
async fn start_session(
    state: &AppState,
    login: &roster_store::Login,
    to: &str,
) -> Result<Response, ApiError> {
    let (ttl, idle) = state.signin.console_timeouts();
    let opened = state
        .signin
        .open_kind(state, login, roster_store::SessionKind::Console, ttl, idle)
        .await?;
    let mut res = see_other(to);
    res.headers_mut().append(
        header::SET_COOKIE,
        cookie_value(
            state,
            SESSION_COOKIE,
            &opened.session_id,
            Some(ttl.as_secs()),
        ),
    );
    Ok(res)
}

/// The CSRF token of the session whose cookie is `session_id`: a one-way function of the
/// cookie (which pages cannot read), so forms carry it without the server keeping it.
fn csrf_of(session_id: &str) -> String {
    secret::hash_token(&format!("console-csrf:{session_id}"))
}

/// What every page of a signed-in user shows: who they are, what the navigation offers, and
/// the CSRF token of its forms.
pub(crate) struct Me {
    pub caller: Caller,
    pub csrf: String,
    pub session_seq: i64,
}

impl Me {
    fn may_users(&self) -> bool {
        self.caller.principal().has(Permission::ManageOrganization)
    }

    fn may_groups(&self) -> bool {
        self.caller.principal().has(Permission::ManageGroups)
    }

    /// The layout's part of a page's context, merged into `ctx`.
    fn ctx(&self, section: &str, mut ctx: Value) -> Value {
        let p = self.caller.principal();
        if let Value::Object(m) = &mut ctx {
            m.insert(
                "me".into(),
                json!({
                    "id": p.user_id.to_string(),
                    "user_name": p.user_name,
                    "may_users": self.may_users(),
                    "may_groups": self.may_groups(),
                }),
            );
            m.insert("csrf".into(), json!(self.csrf));
            m.insert("section".into(), json!(section));
        }
        ctx
    }

    fn page(&self, section: &str, name: &str, ctx: Value) -> Response {
        page(StatusCode::OK, name, self.ctx(section, ctx))
    }

    fn page_status(&self, status: StatusCode, section: &str, name: &str, ctx: Value) -> Response {
        page(status, name, self.ctx(section, ctx))
    }
}

impl FromRequestParts<AppState> for Me {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let next = if parts.method == Method::GET {
            // The URI as the client sent it: nesting under /console stripped `parts.uri`.
            let uri = parts
                .extensions
                .get::<axum::extract::OriginalUri>()
                .map_or(&parts.uri, |o| &o.0);
            let path = uri.path_and_query().map_or("/console", |p| p.as_str());
            format!(
                "?next={}",
                form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
            )
        } else {
            String::new()
        };
        // A dead session cookie (ended elsewhere, idle, expired) goes with the redirect, so
        // the sign-in form that follows is judged by its own pre-session token.
        let dead_cookie = cookie(&parts.headers, SESSION_COOKIE).is_some_and(|v| !v.is_empty());
        let sign_in = || {
            let mut res = see_other(&format!("/console/sign-in{next}"));
            if dead_cookie {
                res.headers_mut().append(
                    header::SET_COOKIE,
                    cookie_value(state, SESSION_COOKIE, "", Some(0)),
                );
            }
            res
        };
        match parts.extensions.get::<AuthState>() {
            Some(AuthState::Authenticated(_)) => {}
            Some(AuthState::Rejected(e)) if e.status() != StatusCode::UNAUTHORIZED => {
                return Err(e.clone().into_response())
            }
            _ => return Err(sign_in()),
        }
        let caller = Caller::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some((_, seq)) = caller.session() else {
            return Err(sign_in());
        };
        let id = cookie(&parts.headers, SESSION_COOKIE).unwrap_or_default();
        Ok(Me {
            csrf: csrf_of(id),
            session_seq: seq,
            caller,
        })
    }
}

/// A POSTed form, its CSRF token and origin checked (the session's token when the request
/// has a session cookie, else the pre-session cookie's).
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A field's value, trimmed; `None` when absent or blank.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn csrf_refused(why: &str) -> ApiError {
    ApiError::new(
        crate::http::Kind::Forbidden,
        format!("the form was refused ({why}); reload the page and send it again"),
    )
}

impl FromRequest<AppState> for Form {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let headers = req.headers().clone();
        // A session cookie counts only while its session lives: a form sent with a dead one
        // (the sign-in form after a sign-out elsewhere) carries the pre-session token.
        let live_session = matches!(
            req.extensions().get::<AuthState>(),
            Some(AuthState::Authenticated(_))
        );
        let from = headers
            .get(header::ORIGIN)
            .or_else(|| headers.get(header::REFERER))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !same_origin(&state.public_url, from) {
            return Err(csrf_refused("it does not come from this server's pages"));
        }
        let essence = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence != "application/x-www-form-urlencoded" {
            return Err(ApiError::new(
                crate::http::Kind::UnsupportedMediaType,
                "the console takes forms (application/x-www-form-urlencoded)",
            ));
        }
        let body = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES)
            .await
            .map_err(|_| {
                ApiError::new(
                    crate::http::Kind::PayloadTooLarge,
                    "the form is larger than the console takes",
                )
            })?;
        let fields = parse_form(&body)?;
        let form = Form(fields);
        let sent = form.get("csrf").unwrap_or("");
        let session = cookie(&headers, SESSION_COOKIE).filter(|v| !v.is_empty() && live_session);
        let expected = match session {
            Some(id) => csrf_of(id),
            None => cookie(&headers, PRE_CSRF_COOKIE)
                .unwrap_or_default()
                .to_owned(),
        };
        if sent.is_empty() || expected.is_empty() || !secret::ct_eq(sent, &expected) {
            return Err(csrf_refused("its CSRF token is missing or wrong"));
        }
        Ok(form)
    }
}

fn parse_form(body: &Bytes) -> Result<Vec<(String, String)>, ApiError> {
    if std::str::from_utf8(body).is_err() {
        return Err(ApiError::invalid_syntax("the form is not UTF-8"));
    }
    let mut out = Vec::new();
    for (k, v) in form_urlencoded::parse(body) {
        if out.len() >= MAX_FIELDS {
            return Err(ApiError::invalid_syntax("the form has too many fields"));
        }
        if v.len() > MAX_FIELD || k.len() > 64 {
            return Err(ApiError::invalid_value(format!(
                "the field {:?} is longer than {MAX_FIELD} bytes",
                k.chars().take(64).collect::<String>()
            )));
        }
        if v.contains('\0') {
            return Err(ApiError::invalid_value("the form contains a NUL character"));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

/// A fresh pre-session CSRF token and the cookie that carries it (sign-in and setup forms).
fn pre_session_csrf(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie(headers, PRE_CSRF_COOKIE).filter(|v| v.len() == 32) {
        Some(v) => (v.to_owned(), None),
        None => {
            let t = secret::random_base32(32);
            let c = cookie_value(state, PRE_CSRF_COOKIE, &t, None);
            (t, Some(c))
        }
    }
}

/// A change that cannot be undone asks first: `None` once the form says `confirmed=yes`,
/// else the page that asks, posting the same fields back to `action` with it.
fn unconfirmed(
    me: &Me,
    form: &Form,
    action: &str,
    (title, text, button): (String, String, &str),
    back: &str,
) -> Option<Response> {
    if form.get("confirmed") == Some("yes") {
        return None;
    }
    let mut fields: Vec<[&str; 2]> = form
        .0
        .iter()
        .filter(|(k, _)| k != "csrf" && k != "confirmed")
        .map(|(k, v)| [k.as_str(), v.as_str()])
        .collect();
    fields.push(["confirmed", "yes"]);
    Some(me.page(
        "",
        "confirm.html",
        json!({"title": title, "text": text, "action": action, "fields": fields, "button": button, "back": back}),
    ))
}

/// A page's context with `extra` (a message, a form shown again, its errors) added.
fn merge(mut ctx: Value, extra: Value) -> Value {
    if let (Value::Object(m), Value::Object(x)) = (&mut ctx, extra) {
        m.extend(x);
    }
    ctx
}

/// Given and family name, as far as known.
fn full_name(u: &roster_core::User) -> String {
    [u.given_name.as_deref(), u.family_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A date as the console shows it (UTC, to the minute).
fn when(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn when_opt(micros: Option<i64>) -> Option<String> {
    micros.map(when)
}

/// A query-string value, bounded.
fn param<'a>(q: &'a crate::http::extract::QueryPairs, name: &str) -> Option<&'a str> {
    q.get(name)
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

/// 1-based page number of a list (bounded so an offset stays an i64).
fn page_number(q: &crate::http::extract::QueryPairs) -> i64 {
    param(q, "page")
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1)
        .clamp(1, 1_000_000)
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(home))
        .routes(routes!(style))
        .merge(setup::routes())
        .merge(signin::routes())
        .merge(users::routes())
        .merge(groups::routes())
        .merge(roles::routes())
        .merge(storages::routes())
        .merge(credentials::routes())
        .merge(audit::routes())
        .merge(me::routes())
}

#[utoipa::path(get, path = "", security(()),
    description = "The console's start: the user list for administrators, one's own account for everyone else (the sign-in page without a session).",
    responses((status = 303, description = "Where to go")))]
async fn home(me: Me) -> Response {
    if me.may_users() {
        see_other("/console/users")
    } else if me.may_groups() {
        see_other("/console/groups")
    } else {
        see_other("/console/me")
    }
}

#[utoipa::path(get, path = "/static/console.css", security(()),
    description = "The console's stylesheet.",
    responses((status = 200, description = "CSS", content_type = "text/css", body = String)))]
async fn style() -> Response {
    let mut res = STYLE.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATE_SOURCES {
            assert!(TEMPLATES.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn templates_escape_what_users_typed() {
        let html = render_template(
            "error.html",
            json!({"title": "x", "status": 400, "detail": "<script>alert(1)</script>"}),
        )
        .unwrap();
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
    }

    #[test]
    fn forms_are_bounded() {
        let long = format!("a={}", "x".repeat(MAX_FIELD + 1));
        assert!(parse_form(&Bytes::from(long)).is_err());
        let many = (0..=MAX_FIELDS)
            .map(|i| format!("f{i}=1"))
            .collect::<Vec<_>>()
            .join("&");
        assert!(parse_form(&Bytes::from(many)).is_err());
        assert!(parse_form(&Bytes::from_static(b"a=%00")).is_err());
        assert_eq!(
            parse_form(&Bytes::from_static(b"a=1&b=x+y")).unwrap()[1].1,
            "x y"
        );
    }
}
