//! What audit rows record: the action as an enum (its stored names are stable), the actor
//! from the capability handle, the target, the request id.

/// Every kind of change Roster records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Bootstrap,
    UserCreate,
    UserUpdate,
    UserDelete,
    /// A user's password was set or changed (besides the update row of the same change).
    PasswordChange,
    PermissionGrant,
    PermissionRevoke,
    TokenIssue,
    TokenRevoke,
    GroupCreate,
    GroupUpdate,
    GroupDelete,
    /// A user's OAuth client was created, or its secret rotated.
    ClientCreate,
    ClientRotate,
    /// A JWT signing key was added (and the previous one retired).
    SigningKeyAdd,
    /// Every sealed secret was re-encrypted under a new server key.
    SecretsRekey,
    /// A spent refresh token was presented again: its whole family was revoked.
    RefreshReuse,
    /// A user's capabilities changed (the target says which were added and removed).
    CapabilityChange,
    /// Rows past the retention period were deleted (the target says how many).
    AuditPrune,
    /// A password-reset or verification link was mailed (the target names the purpose).
    LinkIssue,
    /// A user proved to own their address by following a link.
    EmailVerify,
    /// An operator queued a mail again.
    MailRetry,
    RoleCreate,
    RoleUpdate,
    RoleDelete,
    StorageAdd,
    StorageRemove,
    /// A user's credentials for storages they had none for were made.
    CredentialCreate,
    CredentialRegenerate,
    /// A directory was loaded from an export (the target says how many rows).
    Import,
    /// A user enrolled a TOTP second factor (the first code was accepted).
    TotpEnrol,
    /// A user's TOTP was removed (by themselves or an administrator).
    TotpReset,
}

impl Action {
    pub const ALL: [Action; 32] = [
        Action::Bootstrap,
        Action::UserCreate,
        Action::UserUpdate,
        Action::UserDelete,
        Action::PasswordChange,
        Action::PermissionGrant,
        Action::PermissionRevoke,
        Action::TokenIssue,
        Action::TokenRevoke,
        Action::GroupCreate,
        Action::GroupUpdate,
        Action::GroupDelete,
        Action::ClientCreate,
        Action::ClientRotate,
        Action::SigningKeyAdd,
        Action::SecretsRekey,
        Action::RefreshReuse,
        Action::CapabilityChange,
        Action::AuditPrune,
        Action::LinkIssue,
        Action::EmailVerify,
        Action::MailRetry,
        Action::RoleCreate,
        Action::RoleUpdate,
        Action::RoleDelete,
        Action::StorageAdd,
        Action::StorageRemove,
        Action::CredentialCreate,
        Action::CredentialRegenerate,
        Action::Import,
        Action::TotpEnrol,
        Action::TotpReset,
    ];

    /// The action stored under this name.
    pub fn parse(name: &str) -> Option<Action> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The name stored in `audit_log.action`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Bootstrap => "bootstrap",
            Action::UserCreate => "user.create",
            Action::UserUpdate => "user.update",
            Action::UserDelete => "user.delete",
            Action::PasswordChange => "user.password",
            Action::PermissionGrant => "permission.grant",
            Action::PermissionRevoke => "permission.revoke",
            Action::TokenIssue => "token.issue",
            Action::TokenRevoke => "token.revoke",
            Action::GroupCreate => "group.create",
            Action::GroupUpdate => "group.update",
            Action::GroupDelete => "group.delete",
            Action::ClientCreate => "oauth-client.create",
            Action::ClientRotate => "oauth-client.rotate",
            Action::SigningKeyAdd => "signing-key.add",
            Action::SecretsRekey => "secrets.rekey",
            Action::RefreshReuse => "refresh-token.reuse",
            Action::CapabilityChange => "user.capabilities",
            Action::AuditPrune => "audit.prune",
            Action::LinkIssue => "account-link.issue",
            Action::EmailVerify => "user.email-verify",
            Action::MailRetry => "mail.retry",
            Action::RoleCreate => "role.create",
            Action::RoleUpdate => "role.update",
            Action::RoleDelete => "role.delete",
            Action::StorageAdd => "object-storage.add",
            Action::StorageRemove => "object-storage.remove",
            Action::CredentialCreate => "storage-credential.create",
            Action::CredentialRegenerate => "storage-credential.regenerate",
            Action::Import => "directory.import",
            Action::TotpEnrol => "totp.enrol",
            Action::TotpReset => "totp.reset",
        }
    }
}

/// One audit row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    /// Microseconds since the epoch.
    pub at: i64,
    pub actor: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub request_id: Option<String>,
    /// The attributes the change changed (names only), when the row says.
    pub changes: Vec<String>,
}

/// Which audit rows to read: every given condition must hold; newest first, at most
/// `limit` (capped at 1,000), older than `before` (a row's `seq`) when set.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub request_id: Option<String>,
    pub actor: Option<String>,
    pub action: Option<Action>,
    /// Rows about this resource: a target that is this id, or starts with it and a space
    /// (`<user id> <token id>`).
    pub target: Option<String>,
    /// Rows at or after / before this time (microseconds since the epoch).
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub before: Option<i64>,
    pub limit: Option<i64>,
}
