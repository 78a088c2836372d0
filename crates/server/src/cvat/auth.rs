//! `GET /api/server/about`, `POST /api/auth/login`, `POST /api/auth/logout`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use roster_core::secret;
use roster_store::SessionKey;
use serde_json::{json, Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{answer, Body, CSRF_COOKIE, SESSION_COOKIE};
use crate::app::AppState;
use crate::http::auth::{cookie, with_scheme};
use crate::http::body::JsonBody;
use crate::http::limits::ClientIp;
use crate::http::ApiError;
use crate::signin::{SecondFactor, Verdict};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(about))
        .routes(routes!(login))
        .routes(routes!(logout))
}

/// The version the SDK checks (`~=2.80.0` or `~=2.81.0`): the API this dialect implements.
const CVAT_API_VERSION: &str = "2.80.0";

#[utoipa::path(get, path = "/server/about", security(()),
    description = "The server's name and the CVAT API version it speaks (the SDK checks it on connect).",
    responses((status = 200, description = "About", body = Value)))]
pub async fn about() -> Response {
    answer(
        StatusCode::OK,
        &json!({
            "name": "Roster",
            "description": "A user and group directory speaking CVAT's users API",
            "version": CVAT_API_VERSION,
            "logo_url": "",
            "subtitle": concat!("Roster ", env!("CARGO_PKG_VERSION")),
        }),
    )
}

fn string<'a>(b: &'a Map<String, Value>, key: &'static str) -> Result<Option<&'a str>, ApiError> {
    match b.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid_value("Not a valid string.").on_field(key)),
    }
}

fn cookie_header(
    state: &AppState,
    name: &str,
    value: &str,
    max_age: u64,
    http_only: bool,
) -> HeaderValue {
    let secure = if state.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let http_only = if http_only { "; HttpOnly" } else { "" };
    // Flags first: the SDK joins every Set-Cookie with ", " and parses them in one go, and
    // Python's cookie parser drops them all when a header other than the last ends in a
    // flag (`HttpOnly`, `Secure`).
    let c = format!("{name}={value}{http_only}{secure}; Max-Age={max_age}; Path=/; SameSite=Lax");
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[utoipa::path(post, path = "/auth/login", security(()),
    request_body(content = Value, description = "`username` (or `email`) and `password`; `totp` (the current code, or a recovery code) for a user who enrolled TOTP"),
    description = "Checks the password (argon2id, under the password rate limits) and opens a session: answers a login key (`Authorization: Token <key>`) and sets the `sessionid` (HttpOnly) and `csrftoken` cookies, a new session every time.",
    responses((status = 200, description = "Token: `{\"key\"}`", body = Value),
              (status = 400, description = "Unable to log in with provided credentials")))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(body, _): Body,
) -> Result<Response, ApiError> {
    let b = body.as_object().cloned().unwrap_or_default();
    let password = string(&b, "password")?
        .ok_or_else(|| ApiError::invalid_value("This field is required.").on_field("password"))?;
    let name = match (string(&b, "username")?, string(&b, "email")?) {
        (Some(u), _) => u,
        (None, Some(e)) => e,
        (None, None) => {
            return Err(ApiError::invalid_value(
                "Must include \"username\" or \"email\" and \"password\".",
            )
            .on_field("non_field_errors"))
        }
    };
    let code = string(&b, "totp")?;
    let found = match state
        .signin
        .check_password(&state, ip, name, password, SecondFactor::Code(code))
        .await?
    {
        Verdict::Valid(l) => l,
        Verdict::CodeRequired => {
            return Err(ApiError::invalid_value(
                "This account uses two-factor sign-in: send the current code of the authenticator app (or a recovery code) as \"totp\", or use an API token.",
            )
            .on_field("totp"))
        }
        Verdict::CodeInvalid => {
            return Err(
                ApiError::invalid_value("The code is not valid, or was used already.")
                    .on_field("totp"),
            )
        }
        Verdict::Invalid | Verdict::CodeImpossible => {
            return Err(
                ApiError::invalid_value("Unable to log in with provided credentials.")
                    .on_field("non_field_errors"),
            )
        }
    };
    let opened = state.signin.open(&state, &found).await?;
    let mut res = answer(StatusCode::OK, &json!({"key": opened.key}));
    let max_age = state.signin.session_ttl().as_secs();
    let h = res.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookie_header(&state, SESSION_COOKIE, &opened.session_id, max_age, true),
    );
    // Readable by scripts: a page sends it back as X-CSRFToken.
    h.append(
        header::SET_COOKIE,
        cookie_header(&state, CSRF_COOKIE, &opened.csrf, max_age, false),
    );
    Ok(res)
}

#[utoipa::path(post, path = "/auth/logout", security(()),
    description = "Ends the session of the request (its cookie, or the login key in `Authorization: Token`) on every node, and clears the cookies.",
    responses((status = 200, description = "`{\"detail\": \"Successfully logged out.\"}`", body = Value)))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| with_scheme(v, "token"));
    match (key, cookie(&headers, SESSION_COOKIE)) {
        (Some(k), _) => {
            state
                .store
                .end_session(SessionKey::Key(&secret::hash_token(k)))
                .await?;
        }
        (None, Some(id)) if !id.is_empty() => {
            state
                .store
                .end_session(SessionKey::Cookie(&secret::hash_token(id)))
                .await?;
        }
        _ => {}
    }
    let mut res = answer(
        StatusCode::OK,
        &json!({"detail": "Successfully logged out."}),
    );
    let h = res.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookie_header(&state, SESSION_COOKIE, "", 0, true),
    );
    h.append(
        header::SET_COOKIE,
        cookie_header(&state, CSRF_COOKIE, "", 0, false),
    );
    Ok(res)
}
