//! First run: on an empty directory started without the bootstrap settings, the server logs
//! a one-time URL (`/console/setup?code=…`); its page creates the first administrator (every
//! permission, an API token shown once). The code lives in this process only: it is good
//! until used or until the server restarts, and the store refuses a second first
//! administrator whichever node's code is used.

use std::sync::Mutex;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use roster_core::{secret, Email, NewUser, UserName};
use roster_store::{Bootstrap, WriteCtx};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{page, pre_session_csrf, Form};
use crate::app::AppState;
use crate::http::extract::QueryPairs;
use crate::http::request_id;
use crate::http::ApiError;

/// The setup code of this process, while the directory has no user.
#[derive(Default)]
pub struct SetupCode(Mutex<Option<String>>);

impl SetupCode {
    /// A new code (replacing any other).
    pub fn issue(&self) -> String {
        let code = secret::random_base32(32);
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(code.clone());
        code
    }

    fn matches(&self, code: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_deref()
            .is_some_and(|c| secret::ct_eq(c, code))
    }

    fn spend(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(form, submit))
}

fn bad_code() -> ApiError {
    ApiError::new(
        crate::http::Kind::NotFound,
        "this setup link is not valid: it was used already, or the server restarted (its log shows a new one while the directory is empty)",
    )
}

fn show(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    mut ctx: serde_json::Value,
) -> Response {
    let (csrf, set) = pre_session_csrf(state, headers);
    ctx["csrf"] = json!(csrf);
    let mut res = page(status, "setup.html", ctx);
    if let Some(c) = set {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

#[utoipa::path(get, path = "/setup", security(()),
    params(("code" = String, Query, description = "The one-time code the server logged")),
    description = "First run only: the form that creates the first administrator.",
    responses((status = 200, description = "The form", content_type = "text/html", body = String),
              (status = 404, description = "The code is not (or no longer) valid")))]
async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let code = q.get("code").unwrap_or("");
    if !state.setup.matches(code) {
        return Err(bad_code());
    }
    Ok(show(
        &state,
        &headers,
        StatusCode::OK,
        json!({"code": code}),
    ))
}

#[utoipa::path(post, path = "/setup", security(()),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`code`, `user_name`, `email`, `password`, `password2`, `csrf`"),
    description = "Creates the first administrator (every permission, an API token shown once) and spends the code.",
    responses((status = 200, description = "Done: the API token, shown once", content_type = "text/html", body = String),
              (status = 400, description = "The form again, with what was wrong", content_type = "text/html", body = String)))]
async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, ApiError> {
    let code = form.get("code").unwrap_or("");
    if !state.setup.matches(code) {
        return Err(bad_code());
    }
    let user_name = form.text("user_name").unwrap_or("");
    let email = form.text("email");
    let password = form.get("password").unwrap_or("");
    let again = |field: &str, error: String| {
        show(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            json!({"code": code, "user_name": user_name, "email": email, "errors": {field: error}}),
        )
    };
    let name = match UserName::parse(user_name) {
        Ok(n) => n,
        Err(e) => return Ok(again("user_name", e.to_string())),
    };
    let mut admin = NewUser::new(name);
    admin.display_name = Some(user_name.to_owned());
    if let Some(e) = email {
        let e = Email {
            value: e.to_owned(),
            kind: Some("work".into()),
            primary: true,
            display: None,
        };
        if let Err(err) = e.validate() {
            return Ok(again("email", err.to_string()));
        }
        admin.emails = vec![e];
    }
    if let Err(e) = state
        .passwords
        .policy()
        .check(password, user_name, &admin.emails)
    {
        return Ok(again("password", e.to_string()));
    }
    if form.get("password2") != Some(password) {
        return Ok(again("password2", "The two passwords differ.".into()));
    }
    admin.password_hash = Some(state.passwords.hash(password.to_owned()).await?);
    let token = secret::generate_token();
    let b = Bootstrap {
        admin,
        token: secret::from_secret(token.secret.clone()),
    };
    let ctx = WriteCtx {
        request_id: request_id::of(&headers).map(str::to_owned),
        gate: None,
    };
    let created = crate::bootstrap::first_admin(state.store.as_ref(), &ctx, &b)
        .await
        .map_err(|e| ApiError::internal(std::io::Error::other(format!("{e:#}"))))?;
    state.setup.spend();
    if !created {
        return Err(bad_code());
    }
    tracing::info!(admin = %user_name, "setup: the first administrator was created in the console");
    Ok(page(
        StatusCode::OK,
        "secret.html",
        json!({
            "title": "The first administrator is ready",
            "intro": format!("{user_name} has every permission. This API token is shown once: keep it somewhere safe (it works with every API, e.g. Authorization: Bearer <token>)."),
            "secret": token.secret,
            "back": "/console/sign-in?m=setup",
            "back_label": "Sign in",
        }),
    ))
}
