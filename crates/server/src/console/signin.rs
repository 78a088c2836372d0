//! Sign-in (userName or email, password, and the TOTP code of a user who enrolled one) and
//! sign-out, of this browser or everywhere.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use roster_core::secret;
use roster_store::SessionKey;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{
    cookie_value, page, pre_session_csrf, see_other, start_session, Form, Me, PRE_CSRF_COOKIE,
    SESSION_COOKIE,
};
use crate::app::AppState;
use crate::http::auth::cookie;
use crate::http::extract::QueryPairs;
use crate::http::limits::ClientIp;
use crate::http::ApiError;
use crate::signin::{SecondFactor, Verdict};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(form, submit))
        .routes(routes!(sign_out))
        .routes(routes!(sign_out_everywhere))
}

/// Where to go after signing in: a console page, never another site.
fn next_of(v: Option<&str>) -> &str {
    match v {
        Some(n) if n.starts_with("/console") && !n.contains("//") && !n.contains('\\') => n,
        _ => "/console",
    }
}

fn message(m: Option<&str>) -> Option<&'static str> {
    match m? {
        "signed-out" => Some("You are signed out."),
        "everywhere" => Some("You are signed out on every device."),
        "password" => Some("Your password was changed: sign in with the new one."),
        "setup" => Some("The first administrator was created: sign in."),
        _ => None,
    }
}

fn show(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    ctx: serde_json::Value,
) -> Response {
    let (csrf, set) = pre_session_csrf(state, headers);
    let mut ctx = ctx;
    ctx["csrf"] = json!(csrf);
    let mut res = page(status, "sign-in.html", ctx);
    if let Some(c) = set {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

#[utoipa::path(get, path = "/sign-in", security(()),
    description = "The sign-in form: userName or email, password, and the authenticator code once TOTP is enrolled.",
    responses((status = 200, description = "The form", content_type = "text/html", body = String)))]
async fn form(State(state): State<AppState>, headers: HeaderMap, q: QueryPairs) -> Response {
    show(
        &state,
        &headers,
        StatusCode::OK,
        json!({
            "next": next_of(q.get("next")),
            "message": message(q.get("m")),
        }),
    )
}

#[utoipa::path(post, path = "/sign-in", security(()),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`login`, `password`, `code` (TOTP or recovery code), `next`, `csrf`"),
    description = "Checks the password (argon2id, the password rate limits) and the TOTP code, and opens a console session (`roster_console` cookie, SameSite=Strict).",
    responses((status = 303, description = "Signed in"), (status = 400, description = "The form again, with what was wrong", content_type = "text/html", body = String)))]
async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, ApiError> {
    let login = form.text("login").unwrap_or("");
    let password = form.get("password").unwrap_or("");
    let next = next_of(form.get("next")).to_owned();
    let again = |field: &str, error: &str| {
        show(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            json!({"next": next, "login": login, "errors": {field: error}}),
        )
    };
    if login.is_empty() {
        return Ok(again("login", "Enter your user name or email address."));
    }
    if password.is_empty() {
        return Ok(again("password", "Enter your password."));
    }
    let verdict = state
        .signin
        .check_password(
            &state,
            ip,
            login,
            password,
            SecondFactor::Code(form.text("code")),
        )
        .await?;
    let found = match verdict {
        Verdict::Valid(l) => l,
        Verdict::Invalid | Verdict::CodeImpossible => {
            return Ok(again(
                "password",
                "The user name or password is not correct.",
            ))
        }
        Verdict::CodeRequired => {
            return Ok(again(
                "code",
                "Enter the 6-digit code from your authenticator app (or a recovery code), with your password.",
            ))
        }
        Verdict::CodeInvalid => {
            return Ok(again(
                "code",
                "The code is not valid, or was used already. Enter the current code, with your password.",
            ))
        }
    };
    let mut res = start_session(&state, &found, &next).await?;
    res.headers_mut().append(
        header::SET_COOKIE,
        cookie_value(&state, PRE_CSRF_COOKIE, "", Some(0)),
    );
    Ok(res)
}

fn signed_out(state: &AppState, m: &str) -> Response {
    let mut res = see_other(&format!("/console/sign-in?m={m}"));
    res.headers_mut().append(
        header::SET_COOKIE,
        cookie_value(state, SESSION_COOKIE, "", Some(0)),
    );
    res
}

#[utoipa::path(post, path = "/sign-out",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`"),
    description = "Ends this browser's console session on every node.",
    responses((status = 303, description = "Signed out")))]
async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    _form: Form,
) -> Result<Response, ApiError> {
    if let Some(id) = cookie(&headers, SESSION_COOKIE).filter(|v| !v.is_empty()) {
        state
            .store
            .end_session(SessionKey::Console(&secret::hash_token(id)))
            .await?;
    }
    Ok(signed_out(&state, "signed-out"))
}

#[utoipa::path(post, path = "/sign-out-everywhere",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`"),
    description = "Ends every session of the signed-in user: console sessions and CVAT logins, on every device.",
    responses((status = 303, description = "Signed out everywhere")))]
async fn sign_out_everywhere(
    State(state): State<AppState>,
    me: Me,
    _form: Form,
) -> Result<Response, ApiError> {
    state
        .store
        .end_sessions_of(me.caller.principal().user_seq, None)
        .await?;
    Ok(signed_out(&state, "everywhere"))
}
