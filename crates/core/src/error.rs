use thiserror::Error;

/// Every way a directory operation can fail, independent of any wire format.
/// Dialects map each variant to their own status code and error body; the names follow
/// RFC 7644 §3.12 `scimType` where one applies.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CoreError {
    #[error("{0}")]
    InvalidFilter(String),
    #[error("{0}")]
    InvalidSyntax(String),
    #[error("{0}")]
    InvalidPath(String),
    #[error("{0}")]
    InvalidValue(String),
    #[error("{0}")]
    NoTarget(String),
    #[error("{0}")]
    Mutability(String),
    #[error("{0}")]
    Uniqueness(String),
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    /// Sensitive data where it would be logged or cached, e.g. a password in a URL.
    #[error("{0}")]
    Sensitive(String),
    /// A SCIM protocol version Roster does not speak (SCIM 1.x URNs).
    #[error("{0}")]
    InvalidVers(String),
    #[error("resource version does not match If-Match")]
    PreconditionFailed,
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    pub fn invalid_value(msg: impl Into<String>) -> Self {
        Self::InvalidValue(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }
}
