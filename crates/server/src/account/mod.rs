//! The pages a mailed link opens, at `/account`: `verify-email` confirms the address,
//! `reset-password` shows a form (new password twice) and sets it. Plain server-rendered
//! HTML without script; the form carries a CSRF token matched against a SameSite cookie.
//! The link's token is the only authority, and it is spent by the change it allows.
//!
//! Every answer, errors included, is `no-store`, `Referrer-Policy: no-referrer` (the token
//! is in the URL), framed by nobody, and under a CSP with no script at all.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_core::secret;
use roster_store::{LinkInfo, LinkPurpose, LinkState, Redeem};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::http::auth::{cookie, Credential};
use crate::http::dialect::{Dialect, ErrorContext, Rendered};
use crate::http::extract::{QueryPairs, RequestCtx};
use crate::http::ApiError;
use crate::mail::texts::{self, Lang, PageText};

/// The CSRF cookie: set with the form, matched against its hidden field.
const CSRF_COOKIE: &str = "roster_csrf";
/// Longer tokens are not Roster's (they are 43 characters).
const MAX_TOKEN_LEN: usize = 128;

pub struct Account;

impl Dialect for Account {
    const NAME: &'static str = "account";
    const PREFIX: &'static str = "/account";
    const CHALLENGE: &'static str = "";
    const SECURITY: &'static [&'static str] = &[];
    const ERROR_BODY: &'static str = "an HTML page saying what went wrong";
    const TAG: &'static str = "Account pages";

    /// The link's token is the authority; no header credential is read.
    fn credentials(_: &HeaderMap) -> Result<Option<Credential<'_>>, ApiError> {
        Ok(None)
    }

    fn render(e: &ApiError, _: &ErrorContext<'_>) -> Response {
        let title = e.status().canonical_reason().unwrap_or("Error");
        let body = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body><main><h1>{title}</h1><p id=\"error\">{}</p></main></body></html>",
            escape(e.detail())
        );
        let mut res = (e.status(), body).into_response();
        harden(res.headers_mut(), "'none'");
        res
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The headers every account page carries; `form_action` lists where a form may post and
/// redirect to (a redirect after a POST is checked against it too).
fn harden(h: &mut HeaderMap, form_action: &str) {
    let csp = format!(
        "default-src 'none'; style-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(style))
        .routes(routes!(verify_email))
        .routes(routes!(reset_form, reset_submit))
}

/// A page to render: its title, a message or an error, and the form when there is one.
#[derive(Default)]
struct Page {
    title: String,
    message: Option<String>,
    error: Option<String>,
    form: Option<serde_json::Value>,
}

impl Page {
    fn respond(self, state: &AppState, lang: Lang, status: StatusCode) -> Response {
        let ctx = minijinja::context! {
            lang => lang.code(),
            base => state.public_url.as_ref(),
            title => self.title,
            message => self.message,
            error => self.error,
            form => self.form,
        };
        let html = match state.mail.render("account/page.html", ctx) {
            Ok(html) => html,
            Err(e) => return ApiError::from(e).into_response(),
        };
        let mut res = (status, html).into_response();
        res.extensions_mut().insert(Rendered);
        let mut allowed = vec!["'self'".to_owned()];
        allowed.extend(state.mail.settings.redirect_allowlist.iter().cloned());
        harden(res.headers_mut(), &allowed.join(" "));
        res
    }
}

/// The error page of a link that cannot be used.
fn link_error(state: &AppState, lang: Lang, link: &LinkState) -> Response {
    let (status, text) = match link {
        LinkState::Expired => (StatusCode::GONE, PageText::LinkExpired),
        LinkState::Spent => (StatusCode::GONE, PageText::LinkSpent),
        _ => (StatusCode::BAD_REQUEST, PageText::LinkUnknown),
    };
    Page {
        title: texts::page(lang, PageText::ErrorTitle).to_owned(),
        error: Some(texts::page(lang, text).to_owned()),
        ..Page::default()
    }
    .respond(state, lang, status)
}

fn accept_lang(h: &HeaderMap) -> Lang {
    Lang::of_accept(h.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()))
}

/// The hash of a presented token, or `None` when it cannot be one of Roster's.
fn token_hash(token: Option<&str>) -> Option<String> {
    token
        .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_LEN)
        .map(secret::hash_token)
}

/// Where a used link sends the user: its redirect, if its origin is still allowed.
fn finish(state: &AppState, info: &LinkInfo, page: Page, lang: Lang) -> Response {
    match info
        .redirect_url
        .as_deref()
        .filter(|r| state.mail.redirect_allowed(r))
        .and_then(|r| HeaderValue::from_str(r).ok())
    {
        Some(to) => {
            let mut res = StatusCode::SEE_OTHER.into_response();
            let mut allowed = vec!["'self'".to_owned()];
            allowed.extend(state.mail.settings.redirect_allowlist.iter().cloned());
            harden(res.headers_mut(), &allowed.join(" "));
            res.headers_mut().insert(header::LOCATION, to);
            res
        }
        None => page.respond(state, lang, StatusCode::OK),
    }
}

#[utoipa::path(get, path = "/style.css", security(()),
    description = "The account pages' stylesheet.",
    responses((status = 200, description = "CSS", content_type = "text/css", body = String)))]
async fn style() -> Response {
    let mut res = include_str!("../../templates/account/style.css").into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css"));
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

#[utoipa::path(get, path = "/verify-email", security(()),
    params(("token" = String, Query, description = "The token from the verification mail")),
    description = "Confirms the address the verification mail went to, spends the link, and shows a result page (or redirects to the link's allowed redirectUrl).",
    responses((status = 200, description = "Confirmed", content_type = "text/html", body = String),
              (status = 303, description = "Confirmed; on to the redirectUrl"),
              (status = 400, description = "Not a valid link", content_type = "text/html", body = String),
              (status = 410, description = "Expired or used already", content_type = "text/html", body = String)))]
async fn verify_email(
    axum::extract::State(state): axum::extract::State<AppState>,
    RequestCtx(ctx): RequestCtx,
    headers: HeaderMap,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let lang = accept_lang(&headers);
    let Some(hash) = token_hash(q.get("token")) else {
        return Ok(link_error(&state, lang, &LinkState::Unknown));
    };
    let purpose = LinkPurpose::EmailVerification;
    match state
        .store
        .redeem_link(&ctx, &hash, purpose, Redeem::VerifyEmail)
        .await?
    {
        LinkState::Valid(info) => {
            let lang = Lang::of_user(&info.user);
            let page = Page {
                title: texts::page(lang, PageText::VerifyTitle).to_owned(),
                message: Some(
                    texts::page(lang, PageText::Verified).replace("{email}", &info.email),
                ),
                ..Page::default()
            };
            Ok(finish(&state, &info, page, lang))
        }
        other => Ok(link_error(&state, lang, &other)),
    }
}

/// The reset form for a valid link, with a fresh CSRF token in its cookie and field.
fn form_page(
    state: &AppState,
    info: &LinkInfo,
    token: &str,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let lang = Lang::of_user(&info.user);
    let csrf = secret::random_secret("");
    let min = state.passwords.policy().min_len;
    let form = json!({
        "token": token,
        "csrf": csrf,
        "account": texts::page(lang, PageText::Account).replace("{login}", info.user.user_name.as_str()),
        "password_label": texts::page(lang, PageText::NewPassword),
        "confirm_label": texts::page(lang, PageText::Repeat),
        "submit": texts::page(lang, PageText::Submit),
        "hint": texts::page(lang, PageText::Hint).replace("{min}", &min.to_string()),
        "min_len": min,
    });
    let mut res = Page {
        title: texts::page(lang, PageText::ResetTitle).to_owned(),
        error,
        form: Some(form),
        ..Page::default()
    }
    .respond(state, lang, status);
    let secure = if state.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{CSRF_COOKIE}={csrf}; Path=/account; HttpOnly; SameSite=Strict{secure}");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

#[utoipa::path(get, path = "/reset-password", security(()),
    params(("token" = String, Query, description = "The token from the reset mail")),
    description = "The form to choose a new password (twice). Nothing changes until it is posted.",
    responses((status = 200, description = "The form", content_type = "text/html", body = String),
              (status = 400, description = "Not a valid link", content_type = "text/html", body = String),
              (status = 410, description = "Expired or used already", content_type = "text/html", body = String)))]
async fn reset_form(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: HeaderMap,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let lang = accept_lang(&headers);
    let token = q.get("token").unwrap_or("");
    let Some(hash) = token_hash(Some(token)) else {
        return Ok(link_error(&state, lang, &LinkState::Unknown));
    };
    match state.store.link(&hash, LinkPurpose::PasswordReset).await? {
        LinkState::Valid(info) => Ok(form_page(&state, &info, token, None, StatusCode::OK)),
        other => Ok(link_error(&state, lang, &other)),
    }
}

#[utoipa::path(post, path = "/reset-password", security(()),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`token`, `csrf`, `password`, `confirm`"),
    description = "Sets the new password (argon2id), spends the link, marks the address verified, ends the user's refresh tokens and earlier access tokens; then redirects to the link's allowed redirectUrl or shows a success page.",
    responses((status = 200, description = "Changed", content_type = "text/html", body = String),
              (status = 303, description = "Changed; on to the redirectUrl"),
              (status = 400, description = "Refused: the form again, saying why", content_type = "text/html", body = String),
              (status = 410, description = "Expired or used already", content_type = "text/html", body = String)))]
async fn reset_submit(
    axum::extract::State(state): axum::extract::State<AppState>,
    RequestCtx(ctx): RequestCtx,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut token = String::new();
    let mut csrf = String::new();
    let mut password = String::new();
    let mut confirm = String::new();
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "token" => token = v.into_owned(),
            "csrf" => csrf = v.into_owned(),
            "password" => password = v.into_owned(),
            "confirm" => confirm = v.into_owned(),
            _ => {}
        }
    }
    let lang = accept_lang(&headers);
    let Some(hash) = token_hash(Some(&token)) else {
        return Ok(link_error(&state, lang, &LinkState::Unknown));
    };
    let purpose = LinkPurpose::PasswordReset;
    let info = match state.store.link(&hash, purpose).await? {
        LinkState::Valid(info) => info,
        other => return Ok(link_error(&state, lang, &other)),
    };
    let lang = Lang::of_user(&info.user);
    let refuse = |text: String| {
        Ok(form_page(
            &state,
            &info,
            &token,
            Some(text),
            StatusCode::BAD_REQUEST,
        ))
    };
    let csrf_ok =
        !csrf.is_empty() && cookie(&headers, CSRF_COOKIE).is_some_and(|c| secret::ct_eq(c, &csrf));
    if !csrf_ok {
        return refuse(texts::page(lang, PageText::FormExpired).to_owned());
    }
    if password != confirm {
        return refuse(texts::page(lang, PageText::Mismatch).to_owned());
    }
    let user = &info.user;
    if let Some(p) =
        state
            .passwords
            .policy()
            .problem(&password, user.user_name.as_str(), &user.emails)
    {
        return refuse(texts::password_problem(lang, p));
    }
    let phc = state.passwords.hash(password).await?;
    match state
        .store
        .redeem_link(&ctx, &hash, purpose, Redeem::SetPassword { hash: &phc })
        .await?
    {
        LinkState::Valid(info) => {
            tracing::info!(user = %info.user.id, "password set through a reset link");
            let page = Page {
                title: texts::page(lang, PageText::ResetTitle).to_owned(),
                message: Some(texts::page(lang, PageText::PasswordSet).to_owned()),
                ..Page::default()
            };
            Ok(finish(&state, &info, page, lang))
        }
        other => Ok(link_error(&state, lang, &other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("xroster_csrf=no; roster_csrf=yes"),
        );
        assert_eq!(cookie(&h, CSRF_COOKIE), Some("yes"));
        assert_eq!(cookie(&HeaderMap::new(), CSRF_COOKIE), None);
    }

    #[test]
    fn error_pages_escape_and_forbid_script_and_framing() {
        let res = Account::render(
            &ApiError::invalid_value("<script>x</script>"),
            &ErrorContext {
                path: "/account/x",
                request_id: None,
            },
        );
        let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(res.headers()[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(res.headers()[header::REFERRER_POLICY], "no-referrer");
    }
}
