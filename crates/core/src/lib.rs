//! Roster's directory model. Nothing here knows about HTTP or SQL: dialect modules
//! translate their wire shapes into these types, and the store persists them.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod capability;
pub mod error;
pub mod eval;
pub mod filter;
pub mod group;
pub mod json;
pub mod jwt;
pub mod paging;
pub mod patch;
pub mod permission;
pub mod policy;
pub mod role;
pub mod schema;
pub mod sealed;
pub mod secret;
pub mod user;

pub use error::{CoreError, Entity, Unique};
pub use group::{Group, GroupChange, Member, MemberOp, NewGroup, NewMember, Role, UserGroup};
pub use paging::{Page, PageRequest};
pub use permission::{Permission, PermissionSet};
pub use policy::Principal;
pub use user::{Email, Enterprise, Meta, NewUser, User, UserName};

/// Microseconds since the Unix epoch: the one timestamp representation stored and compared.
pub type Micros = i64;

/// Current time in microseconds since the epoch.
pub fn now_micros() -> Micros {
    chrono::Utc::now().timestamp_micros()
}

/// RFC 3339 rendering (UTC, millisecond precision) used by every dialect.
pub fn format_micros(us: Micros) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 timestamp into microseconds.
pub fn parse_datetime(s: &str) -> Option<Micros> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_micros())
}
