//! What audit rows record: the action as an enum (its stored names are stable), the actor
//! from the capability handle, the target, the request id.

/// Every kind of change Roster records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Bootstrap,
    UserCreate,
    UserUpdate,
    UserDelete,
    PermissionGrant,
    PermissionRevoke,
    TokenIssue,
    TokenRevoke,
    GroupCreate,
    GroupUpdate,
    GroupDelete,
}

impl Action {
    /// The name stored in `audit_log.action`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Bootstrap => "bootstrap",
            Action::UserCreate => "user.create",
            Action::UserUpdate => "user.update",
            Action::UserDelete => "user.delete",
            Action::PermissionGrant => "permission.grant",
            Action::PermissionRevoke => "permission.revoke",
            Action::TokenIssue => "token.issue",
            Action::TokenRevoke => "token.revoke",
            Action::GroupCreate => "group.create",
            Action::GroupUpdate => "group.update",
            Action::GroupDelete => "group.delete",
        }
    }
}
