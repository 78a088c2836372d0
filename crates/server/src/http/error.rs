//! The one API error type.
//!
//! Policy, in one place:
//! - Handlers, extractors and the framework's own rejections all end as an [`ApiError`]: a
//!   [`Kind`] (which decides the status, in [`Kind::status`], the only status table), a
//!   detail for the client, optionally the typed reason behind a 403 or 404 (so a dialect
//!   can word it its own way), a `Retry-After`, and the cause.
//! - An `ApiError` turned into a response is not rendered yet: it travels in the response's
//!   extensions to the error layer of [`super::dialect`], which renders it in the format of
//!   the dialect whose prefix the request was under (or as RFC 9457 problem JSON outside
//!   every dialect).
//! - Server errors (5xx) are logged here, once, with their whole cause chain; the client
//!   only learns that the log has the details. Client errors are not logged.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_core::policy::Denied;
use roster_core::{CoreError, Entity};
use roster_store::StoreError;

/// What went wrong, as far as the status and the dialects' error codes are concerned. The
/// 400 kinds carry RFC 7644 §3.12's `scimType` names; other dialects ignore the difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    InvalidFilter,
    InvalidSyntax,
    InvalidPath,
    InvalidValue,
    NoTarget,
    Mutability,
    TooMany,
    InvalidVers,
    /// RFC 6749 §5.2: a grant (password, refresh token) that is not valid.
    InvalidGrant,
    UnsupportedGrantType,
    InvalidScope,
    Unauthenticated,
    Forbidden,
    /// Sensitive data where it would be logged (RFC 7644: 403 `sensitive`).
    Sensitive,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PreconditionFailed,
    PayloadTooLarge,
    UriTooLong,
    UnsupportedMediaType,
    TooManyRequests,
    Internal,
    Unavailable,
}

impl Kind {
    /// The status table.
    pub fn status(self) -> StatusCode {
        use Kind::*;
        match self {
            InvalidFilter | InvalidSyntax | InvalidPath | InvalidValue | NoTarget | Mutability
            | TooMany | InvalidVers | InvalidGrant | UnsupportedGrantType | InvalidScope => {
                StatusCode::BAD_REQUEST
            }
            Unauthenticated => StatusCode::UNAUTHORIZED,
            Forbidden | Sensitive => StatusCode::FORBIDDEN,
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Conflict => StatusCode::CONFLICT,
            PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UriTooLong => StatusCode::URI_TOO_LONG,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The kind behind a bare status (a rejection the framework produced on its own).
    pub fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::UNAUTHORIZED => Kind::Unauthenticated,
            StatusCode::FORBIDDEN => Kind::Forbidden,
            StatusCode::NOT_FOUND => Kind::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Kind::MethodNotAllowed,
            StatusCode::CONFLICT => Kind::Conflict,
            StatusCode::PRECONDITION_FAILED => Kind::PreconditionFailed,
            StatusCode::PAYLOAD_TOO_LARGE => Kind::PayloadTooLarge,
            StatusCode::URI_TOO_LONG => Kind::UriTooLong,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Kind::UnsupportedMediaType,
            StatusCode::TOO_MANY_REQUESTS => Kind::TooManyRequests,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => Kind::Unavailable,
            s if s.is_server_error() => Kind::Internal,
            _ => Kind::InvalidSyntax,
        }
    }
}

type Source = Arc<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone)]
pub struct ApiError {
    kind: Kind,
    detail: String,
    denied: Option<Denied>,
    missing: Option<Entity>,
    retry_after: Option<u64>,
    /// `RateLimit-Policy` and `RateLimit` of a 429.
    rate_limit: Option<Arc<(String, String)>>,
    /// The request field a 400 is about, for formats that key errors by field (DRF's).
    field: Option<&'static str>,
    source: Option<Source>,
}

impl ApiError {
    pub fn new(kind: Kind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            denied: None,
            missing: None,
            retry_after: (kind == Kind::Unavailable).then_some(1),
            rate_limit: None,
            field: None,
            source: None,
        }
    }

    /// Names the request field this error is about.
    pub fn on_field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    pub fn field(&self) -> Option<&'static str> {
        self.field
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(Kind::InvalidValue, detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(Kind::InvalidSyntax, detail)
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(Kind::Unauthenticated, detail)
    }

    pub fn not_found(missing: Entity) -> Self {
        Self {
            missing: Some(missing.clone()),
            ..Self::new(Kind::NotFound, missing.to_string())
        }
    }

    /// No route under this path.
    pub fn no_route() -> Self {
        Self::new(
            Kind::NotFound,
            "no such endpoint; /openapi.json lists the routes Roster serves",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            Kind::MethodNotAllowed,
            "method not allowed on this endpoint; /openapi.json lists the methods each route takes",
        )
    }

    /// A failure on the server's side; `source` is logged, never shown.
    pub fn internal(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            source: Some(Arc::new(source)),
            ..Self::new(
                Kind::Internal,
                "internal error; the server log has the details",
            )
        }
    }

    /// Over a rate limit: 429 with `Retry-After` and the IETF `RateLimit` headers.
    pub fn too_many_requests(
        detail: impl Into<String>,
        retry_after: u64,
        policy: String,
        state: String,
    ) -> Self {
        Self {
            retry_after: Some(retry_after),
            rate_limit: Some(Arc::new((policy, state))),
            ..Self::new(Kind::TooManyRequests, detail)
        }
    }

    /// `RateLimit-Policy` and `RateLimit` header values, on a 429 from a limit.
    pub fn rate_limit(&self) -> Option<(&str, &str)> {
        self.rate_limit
            .as_deref()
            .map(|(p, s)| (p.as_str(), s.as_str()))
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }
    pub fn detail(&self) -> &str {
        &self.detail
    }
    /// The missing permission or role behind a 403 from the policy.
    pub fn denied(&self) -> Option<Denied> {
        self.denied
    }
    /// What a 404 did not find, when it was a lookup.
    pub fn missing(&self) -> Option<&Entity> {
        self.missing.as_ref()
    }
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// The detail followed by every cause, for the log.
    fn chain(&self) -> String {
        match &self.source {
            None => self.detail.clone(),
            Some(s) => format!("{}: {}", self.detail, roster_store::error_chain(s.as_ref())),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// An error on its way to the dialect that renders it (see [`super::dialect`]).
#[derive(Clone)]
pub(crate) struct Unrendered(pub Arc<ApiError>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() && self.kind != Kind::Unavailable {
            tracing::error!(error = %self.chain(), "request failed on the server side");
        } else if self.kind == Kind::Unavailable {
            tracing::warn!(error = %self.chain(), "request refused for now (503)");
        }
        let mut res = self.status().into_response();
        res.extensions_mut().insert(Unrendered(Arc::new(self)));
        res
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Message(String);

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let text = e.to_string();
        let kind = match e {
            CoreError::InvalidFilter(_) => Kind::InvalidFilter,
            CoreError::InvalidSyntax(_) => Kind::InvalidSyntax,
            CoreError::InvalidPath(_) => Kind::InvalidPath,
            CoreError::InvalidValue(_) => Kind::InvalidValue,
            CoreError::NoTarget(_) => Kind::NoTarget,
            CoreError::Mutability(_) => Kind::Mutability,
            CoreError::TooMany(_) => Kind::TooMany,
            CoreError::Uniqueness(_) => Kind::Conflict,
            CoreError::InvalidVers(_) => Kind::InvalidVers,
            CoreError::Sensitive(_) => Kind::Sensitive,
            CoreError::PreconditionFailed => Kind::PreconditionFailed,
            CoreError::Unavailable(_) => Kind::Unavailable,
            CoreError::NotFound(entity) => return ApiError::not_found(entity),
            CoreError::Forbidden(denied) => {
                return Self {
                    denied: Some(denied),
                    ..Self::new(Kind::Forbidden, text)
                }
            }
            CoreError::Internal(m) => return ApiError::internal(Message(m)),
        };
        Self::new(kind, text)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_)
            | StoreError::Conflict(_)
            | StoreError::VersionMismatch
            | StoreError::Rejected(_)
            | StoreError::Unavailable(_) => CoreError::from(e).into(),
            other => ApiError::internal(other),
        }
    }
}
