use std::fmt;

use thiserror::Error;
use uuid::Uuid;

use crate::policy::Denied;

/// Every way a directory operation can fail, independent of any wire format. Messages are
/// neutral (no vendor wording): each dialect maps the variant to its own status code and
/// error body, and may word not-found and forbidden answers its own way from the typed
/// [`Entity`] and [`Denied`]. The names follow RFC 7644 §3.12 `scimType` where one applies.
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
    Uniqueness(Unique),
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    NotFound(Entity),
    #[error("{0}")]
    Forbidden(Denied),
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
}

/// What a lookup did not find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    User(Uuid),
    /// A user named by login (the CLI addresses users by userName).
    UserNamed(String),
    Group(Uuid),
    /// A role users hold ([`crate::role`]).
    Role(i64),
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entity::User(id) => write!(f, "no user with id {id}"),
            Entity::Role(id) => write!(f, "no role with id {id}"),
            Entity::UserNamed(n) => write!(f, "no user named {n:?}"),
            Entity::Group(id) => write!(f, "no group with id {id}"),
        }
    }
}

/// Which uniqueness rule a write broke (a unique index refused it; no racy pre-check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unique {
    UserName,
    /// A live API token of the same user already has the name.
    TokenName,
    /// An index Roster does not name; the text is the database's.
    Other(String),
}

impl fmt::Display for Unique {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unique::UserName => f.write_str("userName is already taken by another user"),
            Unique::TokenName => f.write_str("the user already has a live token of that name"),
            Unique::Other(m) => write!(f, "uniqueness violated: {m}"),
        }
    }
}
