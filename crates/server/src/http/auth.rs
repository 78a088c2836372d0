//! The authentication seam. Each dialect declares which credentials it reads and from which
//! headers ([`super::dialect::Dialect::credentials`]); this module checks them, whatever the
//! dialect, and says how the caller signed in. The outcome is put into the request's
//! extensions before any handler runs (so rate limits, metrics and the audit log can see
//! it), and handlers that need a caller take [`Caller`].
//!
//! A Bearer credential is an API token or an OAuth access token (a JWT, told apart by its
//! shape): every dialect that takes Bearer tokens takes both. HTTP Basic, login keys and
//! session cookies are checked by [`crate::signin`]. A new credential kind is a new
//! [`Credential`] variant checked in [`resolve`]; dialects only list the ones they read.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use roster_core::{secret, Principal};
use roster_store::{CommitGate, Store, WriteCtx};

use super::error::ApiError;
use crate::app::AppState;

/// A credential as the request presented it, before it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// An API token (`Authorization: Bearer`, or a dialect's own API-key header).
    Token(&'a str),
    /// `Authorization: Basic`: the base64 of a userName or email, a colon and a password.
    Basic(&'a str),
    /// A login key from a sign-in (`Authorization: Token <key>`).
    LoginKey(&'a str),
    /// A session cookie from a sign-in.
    Session(&'a str),
    /// The web console's session cookie.
    Console(&'a str),
}

impl Credential<'_> {
    /// The scheme's name in metrics.
    pub fn scheme(&self) -> &'static str {
        match self {
            Credential::Token(t) if roster_core::jwt::looks_like_jwt(t) => "jwt",
            Credential::Token(_) => "token",
            Credential::Basic(_) => "basic",
            Credential::LoginKey(_) => "login-key",
            Credential::Session(_) => "session",
            Credential::Console(_) => "console",
        }
    }
}

/// How the caller signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ApiToken,
    /// An OAuth access token (JWT) from /oauth/token.
    OAuth,
    /// A password on the request itself (HTTP Basic).
    Password,
    /// A login key.
    LoginKey,
    /// A session cookie: unsafe methods need the session's CSRF token too.
    Session,
}

/// A verified caller.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub method: AuthMethod,
    /// For a session, the hash of its CSRF token.
    pub csrf_hash: Option<String>,
    /// For a session, its number.
    pub session_seq: Option<i64>,
}

/// What authentication made of a request (in its extensions).
#[derive(Debug, Clone)]
pub enum AuthState {
    /// No credential presented.
    Anonymous,
    Authenticated(Arc<Authenticated>),
    /// A credential was presented and refused (or could not be checked).
    Rejected(ApiError),
}

/// Longest credential worth looking up: bounds the work a request can make us do.
const MAX_CREDENTIAL_LEN: usize = 512;

/// `Authorization: Bearer <t>` (scheme case-insensitive), if that is what the value is.
pub fn bearer(value: &str) -> Option<&str> {
    with_scheme(value, "bearer")
}

/// The one `Authorization: Bearer` token of a request (Roster's own APIs take no other).
pub fn bearer_only(headers: &HeaderMap) -> Result<Option<Credential<'_>>, ApiError> {
    let values = header_values(headers, &header::AUTHORIZATION)?;
    single(values.into_iter().filter_map(bearer).map(Credential::Token))
}

/// Every value of a header (a header may be sent more than once), trimmed; a value that is
/// not text is refused.
pub fn header_values<'a>(
    headers: &'a HeaderMap,
    name: &header::HeaderName,
) -> Result<Vec<&'a str>, ApiError> {
    headers
        .get_all(name)
        .iter()
        .map(|v| {
            v.to_str().map(str::trim).map_err(|_| {
                ApiError::unauthenticated(format!("the {name} header is not readable text"))
            })
        })
        .filter(|v| !matches!(v, Ok("")))
        .collect()
}

/// The request's one credential: none, or the same one wherever it was presented. Two that
/// differ (a good token and a bad one, two users' tokens, a header sent twice) are refused:
/// which one was meant is not Roster's to guess.
pub fn single<'a>(
    found: impl IntoIterator<Item = Credential<'a>>,
) -> Result<Option<Credential<'a>>, ApiError> {
    let mut one: Option<Credential<'a>> = None;
    for c in found {
        match one {
            Some(o) if o != c => {
                return Err(ApiError::unauthenticated(
                    "the request presents two different credentials; send one",
                ))
            }
            _ => one = Some(c),
        }
    }
    Ok(one)
}

/// `Authorization: <scheme> <value>` (scheme case-insensitive), if that is the scheme.
pub fn with_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, rest) = value.trim().split_once(' ')?;
    s.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// The value of cookie `name` (exact name), from any `Cookie` header.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn signed_in(principal: Principal, method: AuthMethod) -> Authenticated {
    Authenticated {
        principal,
        method,
        csrf_hash: None,
        session_seq: None,
    }
}

/// Checks the credential (`ip`: the client's, for the password rate limits): `None` when it
/// names no valid identity.
pub async fn resolve(
    state: &AppState,
    credential: Credential<'_>,
    ip: Option<std::net::IpAddr>,
) -> Result<Option<Authenticated>, ApiError> {
    use roster_store::SessionKey;
    match credential {
        Credential::Basic(payload) => Ok(state
            .signin
            .basic(state, ip, payload)
            .await?
            .map(|p| signed_in(p, AuthMethod::Password))),
        Credential::LoginKey(k) | Credential::Session(k) | Credential::Console(k)
            if k.len() > MAX_CREDENTIAL_LEN =>
        {
            Ok(None)
        }
        Credential::LoginKey(k) => {
            let hash = secret::hash_token(k);
            let found = state.store.session(SessionKey::Key(&hash)).await?;
            Ok(found.map(|s| signed_in(s.principal, AuthMethod::LoginKey)))
        }
        Credential::Session(id) | Credential::Console(id) => {
            let hash = secret::hash_token(id);
            let key = match credential {
                Credential::Console(_) => SessionKey::Console(&hash),
                _ => SessionKey::Cookie(&hash),
            };
            let found = state.store.session(key).await?;
            Ok(found.map(|s| Authenticated {
                principal: s.principal,
                method: AuthMethod::Session,
                csrf_hash: Some(s.csrf_hash),
                session_seq: Some(s.seq),
            }))
        }
        Credential::Token(t) if roster_core::jwt::looks_like_jwt(t) => {
            let found = state
                .tokens
                .principal(&state.principals, &state.store, t)
                .await?;
            Ok(found.map(|principal| signed_in(principal, AuthMethod::OAuth)))
        }
        Credential::Token(t) => {
            if t.len() > MAX_CREDENTIAL_LEN {
                return Ok(None);
            }
            let found = state
                .principals
                .principal_for_token(&state.store, &secret::hash_token(t))
                .await?;
            Ok(found.map(|principal| signed_in(principal, AuthMethod::ApiToken)))
        }
    }
}

/// The authenticated caller of a route that needs one, with the store it acts on; 401
/// otherwise (the error layer adds the dialect's `WWW-Authenticate` challenge).
pub struct Caller {
    auth: Arc<Authenticated>,
    request_id: Option<String>,
    store: Arc<dyn Store>,
    passwords: Arc<crate::passwords::Passwords>,
    gate: Option<CommitGate>,
}

impl Caller {
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub fn passwords(&self) -> &crate::passwords::Passwords {
        &self.passwords
    }

    pub fn principal(&self) -> &Principal {
        &self.auth.principal
    }

    pub fn method(&self) -> AuthMethod {
        self.auth.method
    }

    /// The CSRF token hash and number of the caller's session, when they came with one.
    pub fn session(&self) -> Option<(&str, i64)> {
        Some((self.auth.csrf_hash.as_deref()?, self.auth.session_seq?))
    }

    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The request a write belongs to: its id for the audit row, its time-out's gate.
    pub fn ctx(&self) -> WriteCtx {
        WriteCtx {
            request_id: self.request_id.clone(),
            gate: self.gate.clone(),
        }
    }

    pub(crate) fn gate(&self) -> Option<&CommitGate> {
        self.gate.as_ref()
    }

    /// What an internal sub-request (a /Bulk operation) runs as: the same caller.
    pub(crate) fn authenticated(&self) -> Arc<Authenticated> {
        self.auth.clone()
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let request_id = super::request_id::of(&parts.headers).map(str::to_owned);
        match parts.extensions.get::<AuthState>() {
            Some(AuthState::Authenticated(a)) => Ok(Caller {
                auth: a.clone(),
                request_id,
                store: state.store.clone(),
                passwords: state.passwords.clone(),
                gate: parts.extensions.get::<CommitGate>().cloned(),
            }),
            Some(AuthState::Rejected(e)) => Err(e.clone()),
            Some(AuthState::Anonymous) | None => Err(ApiError::unauthenticated(
                "authentication required: this endpoint needs a credential",
            )),
        }
    }
}
