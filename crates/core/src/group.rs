use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::user::{check_text, Meta};
use crate::CoreError;

/// A member's role inside one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Member,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, CoreError> {
        match s.to_ascii_lowercase().as_str() {
            "member" => Ok(Role::Member),
            "admin" => Ok(Role::Admin),
            _ => Err(CoreError::invalid_value(format!(
                "member role must be \"admin\" or \"member\", got {s:?}"
            ))),
        }
    }
}

/// A member as shown inside a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: Uuid,
    /// The user's display name (or userName).
    pub display: Option<String>,
    /// The `display` the client supplied with the member, echoed back as given.
    pub given_display: Option<String>,
    pub role: Role,
}

/// A member as a client names it when adding: the id, and optionally a role and a display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMember {
    pub id: Uuid,
    /// `None` keeps an existing member's role (a new member gets `member`).
    pub role: Option<Role>,
    pub display: Option<String>,
}

impl NewMember {
    pub fn new(id: Uuid, role: Option<Role>) -> Self {
        Self {
            id,
            role,
            display: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub seq: i64,
    pub id: Uuid,
    pub display_name: String,
    pub external_id: Option<String>,
    /// `None` when members were not loaded (excludedAttributes=members): loading them is the
    /// expensive part of a group read.
    pub members: Option<Vec<Member>>,
    /// Set when the group is an organization ([`validate_slug`]).
    pub slug: Option<String>,
    pub meta: Meta,
}

/// A group as one of its members' `groups` shows it (RFC 7643 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserGroup {
    /// The member (a user's seq).
    pub user_seq: i64,
    pub id: Uuid,
    pub display_name: String,
}

#[derive(Debug, Clone)]
pub struct NewGroup {
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: Vec<NewMember>,
}

pub fn validate_display_name(name: &str) -> Result<(), CoreError> {
    if name.trim().is_empty() {
        return Err(CoreError::invalid_value("displayName must not be empty"));
    }
    check_text("displayName", name)
}

impl NewGroup {
    pub fn validate(&self) -> Result<(), CoreError> {
        validate_display_name(&self.display_name)?;
        if let Some(e) = &self.external_id {
            check_text("externalId", e)?;
        }
        Ok(())
    }
}

/// One membership change; a group PATCH is a sequence of these, applied in order.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberOp {
    /// Upsert: adding an existing member with a role updates the role; without a role an
    /// existing member keeps theirs (adding a member twice is not an error, RFC 7644).
    Add(Vec<NewMember>),
    Remove(Vec<Uuid>),
    RemoveAll,
    Replace(Vec<NewMember>),
}

/// A set of changes to one group, applied by the store in one transaction. Member changes
/// are deltas so a PATCH on a 100,000-member group never loads the member list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupChange {
    pub display_name: Option<String>,
    /// `Some(None)` clears externalId.
    pub external_id: Option<Option<String>>,
    pub members: Vec<MemberOp>,
}

impl GroupChange {
    pub fn validate(&self) -> Result<(), CoreError> {
        if let Some(n) = &self.display_name {
            validate_display_name(n)?;
        }
        if let Some(Some(e)) = &self.external_id {
            check_text("externalId", e)?;
        }
        Ok(())
    }
}

/// Longest organization slug (CVAT's limit).
pub const MAX_SLUG_LEN: usize = 16;

/// An organization's slug: 1 to 16 of `A-Z a-z 0-9 - _` (what CVAT accepts).
pub fn validate_slug(slug: &str) -> Result<(), CoreError> {
    let ok = !slug.is_empty()
        && slug.len() <= MAX_SLUG_LEN
        && slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid_value(format!(
            "an organization slug is 1 to {MAX_SLUG_LEN} of A-Z a-z 0-9 - _"
        )))
    }
}
