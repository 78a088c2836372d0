//! The token endpoint (RFC 6749 §4.3 password, §4.4 client credentials, §6 refresh),
//! revocation (RFC 7009) and introspection (RFC 7662).

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_core::{secret, Permission, Principal};
use roster_store::{GrantClient, Login, NewRefresh, RefreshUse};
use serde_json::{json, Value};

use super::form::{client_auth, ClientAuth, Form};
use crate::app::AppState;
use crate::http::auth::AuthState;
use crate::http::body::json_response;
use crate::http::limits::{self, ClientIp};
use crate::http::{ApiError, Kind};
use crate::signin::{SecondFactor, Verdict};
use crate::tokens::{new_secret, REFRESH_PREFIX};

/// Scopes a client may ask for. Tokens carry their owner's permissions whatever the
/// scope; it is recorded in the token for resource servers that look at it.
pub(super) const SCOPES: &[&str] = &["roster", "openid", "profile", "email", "offline_access"];
const DEFAULT_SCOPE: &str = "roster";

fn invalid_client() -> ApiError {
    // One answer for an unknown client id and a wrong secret.
    ApiError::unauthenticated("client authentication failed")
}

fn json_answer(status: StatusCode, body: Value) -> Response {
    let mut res = json_response(status, &body);
    let h = res.headers_mut();
    // RFC 6749 §5.1: token answers are never cached.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// The client that authenticated, with its active owner. A failure counts against the
/// client IP's anonymous rate limit (over it, the answer is 429 rather than 401).
async fn authenticate_client(
    state: &AppState,
    ip: Option<IpAddr>,
    auth: &ClientAuth,
) -> Result<GrantClient, ApiError> {
    let found = if auth.client_id.len() > 128 || auth.secret.len() > 256 {
        None
    } else {
        let presented = secret::hash_token(&auth.secret);
        state
            .store
            .grant_client(&auth.client_id)
            .await?
            .filter(|c| secret::ct_eq(&c.client.secret_hash, &presented))
    };
    match found {
        Some(c) => Ok(c),
        None => {
            crate::http::metrics::auth_failure("client_secret");
            limits::count_anonymous(state, ip).await?;
            Err(invalid_client())
        }
    }
}

/// The granted scope: the requested one if every part is known, else `invalid_scope`.
fn granted_scope(requested: Option<&str>) -> Result<String, ApiError> {
    let Some(r) = requested else {
        return Ok(DEFAULT_SCOPE.to_owned());
    };
    let mut parts: Vec<&str> = Vec::new();
    for s in r.split(' ').filter(|s| !s.is_empty()) {
        if !SCOPES.contains(&s) {
            return Err(ApiError::new(
                Kind::InvalidScope,
                format!(
                    "unknown scope {:?}; known: {}",
                    s.chars().take(64).collect::<String>(),
                    SCOPES.join(" ")
                ),
            ));
        }
        if !parts.contains(&s) {
            parts.push(s);
        }
    }
    Ok(if parts.is_empty() {
        DEFAULT_SCOPE.to_owned()
    } else {
        parts.join(" ")
    })
}

fn invalid_grant(detail: &str) -> ApiError {
    ApiError::new(Kind::InvalidGrant, detail)
}

/// A new refresh token and its hash.
fn new_refresh() -> (String, String) {
    let t = new_secret(REFRESH_PREFIX);
    let h = secret::hash_token(&t);
    (t, h)
}

fn micros_from_now(d: std::time::Duration) -> i64 {
    roster_core::now_micros().saturating_add(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

async fn grant(
    state: &AppState,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let form = match Form::parse(headers, body) {
        Ok(f) => f,
        Err(e) => {
            limits::count_anonymous(state, ip).await?;
            return Err(e);
        }
    };
    let grant_type = form.require("grant_type")?;
    if !matches!(
        grant_type,
        "client_credentials" | "password" | "refresh_token"
    ) {
        return Err(ApiError::new(
            Kind::UnsupportedGrantType,
            format!(
                "grant_type {:?} is not supported; use client_credentials, password or refresh_token",
                grant_type.chars().take(64).collect::<String>()
            ),
        ));
    }
    let auth = client_auth(headers, &form)?
        .ok_or_else(|| ApiError::unauthenticated("client authentication is required"))?;
    let client = authenticate_client(state, ip, &auth).await?;
    let tokens = &state.tokens;
    let store = state.store.as_ref();
    let (owner, scope, refresh): (Principal, String, Option<String>) = match grant_type {
        "client_credentials" => (client.owner, granted_scope(form.get("scope"))?, None),
        "password" => {
            let login = form.require("username")?;
            let password = form.require("password")?;
            let scope = granted_scope(form.get("scope"))?;
            // The client's owner only, by userName or email; a mismatch and a wrong
            // password are the same answer.
            let hash = store
                .password_for_login(client.owner.user_seq, login)
                .await?;
            let account = client.owner.user_seq;
            if let Some(ip) = ip {
                state
                    .limits
                    .limits
                    .before_password(ip, Some(account))
                    .await?;
            }
            let ok = match hash {
                Some(h) => state.passwords.verify(password.to_owned(), h).await?,
                None => false,
            };
            if !ok {
                state.limits.limits.after_password(account, false).await;
                return Err(invalid_grant("the username or password is not correct"));
            }
            let login = Login {
                user_seq: account,
                password_hash: None,
                password_stamp: 0,
            };
            let second = SecondFactor::Code(form.get("totp"));
            match state.signin.second_factor(state, login, second).await? {
                Verdict::Valid(_) => state.limits.limits.after_password(account, true).await,
                Verdict::CodeInvalid => {
                    state.limits.limits.after_password(account, false).await;
                    return Err(invalid_grant("the totp code is not valid, or was used already"));
                }
                _ => {
                    return Err(invalid_grant(
                        "this account uses two-factor sign-in: send the current code (or a recovery code) as totp",
                    ))
                }
            }
            let (t, h) = new_refresh();
            let family = uuid::Uuid::new_v4().simple().to_string();
            store
                .issue_refresh(
                    client.owner.user_seq,
                    &NewRefresh {
                        hash: &h,
                        family: &family,
                        client_id: &client.client.client_id,
                        scope: &scope,
                        expires_at: micros_from_now(tokens.refresh_ttl),
                    },
                )
                .await?;
            (client.owner, scope, Some(t))
        }
        _ => {
            let presented = form.require("refresh_token")?;
            if form.get("scope").is_some() {
                // RFC 6749 §6 allows narrowing; every scope grants the same, so refuse
                // rather than pretend.
                granted_scope(form.get("scope"))?;
            }
            let (t, h) = new_refresh();
            let used = store
                .use_refresh(
                    &secret::hash_token(presented),
                    &client.client.client_id,
                    &h,
                    micros_from_now(tokens.refresh_ttl),
                )
                .await?;
            match used {
                RefreshUse::Rotated(info) => (info.owner, info.scope, Some(t)),
                RefreshUse::Reused => {
                    tracing::warn!(
                        client_id = %client.client.client_id,
                        "a spent refresh token was presented again; its family is revoked"
                    );
                    return Err(invalid_grant("the refresh token is not valid"));
                }
                RefreshUse::Invalid => return Err(invalid_grant("the refresh token is not valid")),
            }
        }
    };
    let issued = tokens
        .issue(store, &owner, &client.client.client_id, &scope)
        .await?;
    // A sign-in (SailPoint's login timestamps): at most one write a minute per user, and a
    // failure to record it does not refuse the grant.
    let fresh = grant_type == "client_credentials"
        && client
            .current_login_at
            .is_some_and(|t| t > roster_core::now_micros() - 60_000_000);
    if !fresh {
        if let Err(e) = store.record_sign_in(owner.user_seq).await {
            tracing::warn!(error = %e, "could not record a sign-in");
        }
    }
    let mut body = json!({
        "access_token": issued.token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": scope,
    });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
        body["refresh_expires_in"] = json!(tokens.refresh_ttl.as_secs());
    }
    Ok(json_answer(StatusCode::OK, body))
}

#[utoipa::path(post, path = "/token", security(()),
    description = "Issues an access token (an EdDSA-signed JWT): `grant_type=client_credentials`, \
        `password` (`username` as userName or email, `password`; also returns a refresh token) or \
        `refresh_token` (rotated on every use). The client authenticates with HTTP Basic or with \
        `client_id`/`client_secret` in the body.",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "grant_type=client_credentials&client_id=...&client_secret=..."),
    responses((status = 200, description = "The token", body = Value),
              (status = 400, description = "invalid_request, invalid_grant, unsupported_grant_type, invalid_scope"),
              (status = 401, description = "invalid_client")))]
pub async fn token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    grant(&state, ip, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

#[utoipa::path(post, path = "/{realm}/protocol/openid-connect/token", security(()),
    params(("realm" = String, Path, description = "Any realm name (Contabo's clients use `contabo`)")),
    description = "The token endpoint at Keycloak's path, for clients configured with a realm URL \
        (Contabo's `cntb`, Terraform). Same as POST /oauth/token.",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "grant_type=password&client_id=...&client_secret=...&username=...&password=...[&totp=123456] (totp: for a user who enrolled TOTP)"),
    responses((status = 200, description = "The token", body = Value),
              (status = 400, description = "invalid_request, invalid_grant, unsupported_grant_type"),
              (status = 401, description = "invalid_client")))]
pub async fn keycloak_token(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(State(state), ip, headers, body).await
}

#[utoipa::path(post, path = "/revoke", security(()),
    description = "Revokes a refresh token and every token rotated from the same grant (RFC 7009). \
        The client authenticates as at /oauth/token; the answer is 200 whether or not the token was known.",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "token=...&token_type_hint=refresh_token"),
    responses((status = 200, description = "Revoked, or nothing to revoke"),
              (status = 401, description = "invalid_client")))]
pub async fn revoke(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        let form = Form::parse(&headers, &body)?;
        let auth = client_auth(&headers, &form)?
            .ok_or_else(|| ApiError::unauthenticated("client authentication is required"))?;
        let client = authenticate_client(&state, ip, &auth).await?;
        let token = form.require("token")?;
        // Access tokens are short-lived JWTs nobody keeps a list of: revoking one is
        // deactivating its user or rotating its client. Unknown tokens are no error (§2.2).
        state
            .store
            .revoke_refresh(&secret::hash_token(token), &client.client.client_id)
            .await?;
        Ok::<_, ApiError>(json_answer(StatusCode::OK, json!({})))
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

#[utoipa::path(post, path = "/introspect",
    security(("oauth_client" = []), ("bearer" = [])),
    description = "Says whether a token is active and whose it is (RFC 7662). The caller \
        authenticates as a client or with a Bearer credential; callers without manage-organization \
        learn only about their own tokens.",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "token=..."),
    responses((status = 200, description = "`{\"active\": ...}` and, when active, the token's claims", body = Value),
              (status = 401, description = "invalid_client")))]
pub async fn introspect(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    auth_state: Option<axum::Extension<AuthState>>,
    body: Bytes,
) -> Response {
    let run = async {
        let form = Form::parse(&headers, &body)?;
        let caller: Principal = match client_auth(&headers, &form)? {
            Some(auth) => authenticate_client(&state, ip, &auth).await?.owner,
            None => match auth_state.map(|e| e.0) {
                Some(AuthState::Authenticated(a)) => a.principal.clone(),
                Some(AuthState::Rejected(e)) => return Err(e),
                _ => {
                    return Err(ApiError::unauthenticated(
                        "client authentication is required",
                    ))
                }
            },
        };
        let token = form.require("token")?;
        let store = state.store.as_ref();
        let mine = |owner: &Principal| {
            owner.user_id == caller.user_id || caller.has(Permission::ManageOrganization)
        };
        let inactive = json!({"active": false});
        let body = if roster_core::jwt::looks_like_jwt(token) {
            match state.tokens.claims(store, token).await? {
                Ok(c) => {
                    let owner = match uuid::Uuid::parse_str(&c.sub) {
                        Ok(id) => store
                            .principal_for_client(id, &c.client_id, c.iat)
                            .await?
                            .map(|g| g.principal),
                        Err(_) => None,
                    };
                    match owner {
                        Some(o) if mine(&o) => json!({
                            "active": true, "token_type": "Bearer", "scope": c.scope,
                            "client_id": c.client_id, "username": o.user_name, "sub": c.sub,
                            "iss": c.iss, "iat": c.iat, "exp": c.exp, "jti": c.jti,
                        }),
                        _ => inactive,
                    }
                }
                Err(_) => inactive,
            }
        } else {
            match store.refresh_info(&secret::hash_token(token)).await? {
                Some(i) if mine(&i.owner) => json!({
                    "active": true, "token_type": "refresh_token", "scope": i.scope,
                    "client_id": i.client_id, "username": i.owner.user_name,
                    "sub": i.owner.user_id.to_string(), "iss": state.tokens.issuer(),
                    "iat": i.created_at / 1_000_000, "exp": i.expires_at / 1_000_000,
                }),
                _ => inactive,
            }
        };
        Ok::<_, ApiError>(json_answer(StatusCode::OK, body))
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}
