//! The authentication seam. Each dialect declares which credentials it reads and from which
//! headers ([`super::dialect::Dialect::credentials`]); this module checks them, whatever the
//! dialect, and says how the caller signed in. The outcome is put into the request's
//! extensions before any handler runs (so rate limits, metrics and the audit log can see
//! it), and handlers that need a caller take [`Caller`].
//!
//! New credential kinds (OAuth JWTs, HTTP Basic, browser sessions) are a new [`Credential`]
//! variant checked in [`resolve`]; dialects only list them.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use roster_core::{secret, Principal};
use roster_store::{Store, WriteCtx};

use super::error::ApiError;
use crate::app::AppState;

/// A credential as the request presented it, before it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// An API token (`Authorization: Bearer`, or a dialect's own API-key header).
    Token(&'a str),
}

/// How the caller signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ApiToken,
}

/// A verified caller.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub method: AuthMethod,
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
    let (scheme, rest) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// The value of a header the request sent once; `None` when absent or not text.
pub fn header_text<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Checks each presented credential in turn and returns the first that is valid.
pub async fn resolve(
    state: &AppState,
    candidates: &[Credential<'_>],
) -> Result<Option<Authenticated>, ApiError> {
    for c in candidates {
        match c {
            Credential::Token(t) => {
                if t.len() > MAX_CREDENTIAL_LEN {
                    continue;
                }
                if let Some(principal) = state
                    .store
                    .principal_for_token(&secret::hash_token(t))
                    .await?
                {
                    return Ok(Some(Authenticated {
                        principal,
                        method: AuthMethod::ApiToken,
                    }));
                }
            }
        }
    }
    Ok(None)
}

/// The authenticated caller of a route that needs one, with the store it acts on; 401
/// otherwise (the error layer adds the dialect's `WWW-Authenticate` challenge).
pub struct Caller {
    auth: Arc<Authenticated>,
    request_id: Option<String>,
    store: Arc<dyn Store>,
}

impl Caller {
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub fn principal(&self) -> &Principal {
        &self.auth.principal
    }

    pub fn method(&self) -> AuthMethod {
        self.auth.method
    }

    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The request a write belongs to, for its audit row.
    pub fn ctx(&self) -> WriteCtx {
        WriteCtx {
            request_id: self.request_id.clone(),
        }
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
            }),
            Some(AuthState::Rejected(e)) => Err(e.clone()),
            Some(AuthState::Anonymous) | None => Err(ApiError::unauthenticated(
                "authentication required: this endpoint needs a credential",
            )),
        }
    }
}
