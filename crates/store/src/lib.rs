//! Persistence for the directory model: the [`Store`] supertrait over one trait per
//! aggregate ([`UserStore`], [`GroupStore`], [`CredentialStore`], [`OAuthStore`],
//! [`AccessStore`], [`LinkStore`], [`OutboxStore`], [`AuditStore`]), one module
//! per backend. Every write is one transaction with its audit row; filters arrive as typed
//! [`Cond`]s and are compiled to parameterised SQL in [`sql`], never evaluated over a whole
//! table in Rust.
//!
//! Writes, and the reads that must be restricted, take a capability handle that only
//! `roster_core::policy` hands out, so a handler has to ask the policy first:
//! ```no_run
//! # async fn handler(
//! #     store: &dyn roster_store::Store,
//! #     caller: &roster_core::Principal,
//! #     new: &roster_core::NewUser,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! let admin = caller.user_admin()?; // refused unless the caller has manage-organization
//! store.create_user(&admin, &Default::default(), new).await?;
//! # Ok(())
//! # }
//! ```
//! A handler that skipped the check has no handle to pass, and the principal itself is no
//! substitute; neither compiles:
//! ```compile_fail
//! # async fn handler(store: &dyn roster_store::Store, new: &roster_core::NewUser) {
//! store.create_user(&Default::default(), new).await;
//! # }
//! ```
//! ```compile_fail
//! # async fn handler(
//! #     store: &dyn roster_store::Store,
//! #     caller: &roster_core::Principal,
//! #     new: &roster_core::NewUser,
//! # ) {
//! store.create_user(caller, &Default::default(), new).await;
//! # }
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod db;
mod error;
pub mod postgres;
pub mod sql;
mod sql_store;
pub mod sqlite;

use async_trait::async_trait;
use roster_core::group::GroupChange;
use roster_core::policy::{
    AccountMailer, AuditReader, CapabilityAdmin, GroupCreator, GroupEditor, GroupManager,
    GroupReader, Operator, TokenAdmin, UserAdmin, UserEditor, UserReader,
};
use roster_core::role::{NewRole, OrgRole};
use roster_core::schema::Cond;
use roster_core::secret::NewToken;
use roster_core::{
    CoreError, Group, NewGroup, NewUser, Page, PageRequest, Permission, PermissionSet, Principal,
    Role, User, UserGroup, UserName,
};
use std::time::Duration;

use uuid::Uuid;

pub use audit::{Action, AuditQuery, AuditRow};
pub use error::StoreError;

pub mod audit;
pub mod transfer;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The request a change belongs to: its id goes into the audit row (the actor comes from
/// the capability handle the write takes), and its gate decides whether it may still commit.
#[derive(Debug, Clone, Default)]
pub struct WriteCtx {
    pub request_id: Option<String>,
    pub gate: Option<CommitGate>,
}

/// Keeps a request's time-out from answering "failed" for a change that commits. The
/// time-out may fire only while no commit of the request has begun ([`CommitGate::time_out`]);
/// a commit may begin only if the time-out has not fired ([`CommitGate::begin_commit`]).
/// Either the request is answered 503 and nothing of it is stored, or it runs to its true
/// answer.
#[derive(Debug, Clone, Default)]
pub struct CommitGate(std::sync::Arc<std::sync::atomic::AtomicU8>);

const RUNNING: u8 = 0;
const COMMITTING: u8 = 1;
const TIMED_OUT: u8 = 2;

impl CommitGate {
    /// Before a COMMIT: refused once the request has timed out.
    pub fn begin_commit(&self) -> Result<()> {
        use std::sync::atomic::Ordering::SeqCst;
        match self.0.compare_exchange(RUNNING, COMMITTING, SeqCst, SeqCst) {
            Ok(_) | Err(COMMITTING) => Ok(()),
            Err(_) => Err(StoreError::Unavailable(
                "the request ran out of time before its change was committed; nothing was changed"
                    .into(),
            )),
        }
    }

    /// When the time-out fires: true if the request may be abandoned (nothing of it has begun
    /// to commit, and now nothing will); false if a commit has begun, so the request must be
    /// let finish and answer the truth.
    pub fn time_out(&self) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        match self.0.compare_exchange(RUNNING, TIMED_OUT, SeqCst, SeqCst) {
            Ok(_) | Err(TIMED_OUT) => true,
            Err(_) => false,
        }
    }
}

/// A change to apply to a loaded user inside the write transaction.
pub type UserEdit<'a> = &'a (dyn Fn(&mut User) -> Result<(), CoreError> + Send + Sync);

/// Which users a list shows.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    pub filter: Option<Cond>,
    /// Creation order (or newest first) when `None`.
    pub sort: Option<roster_core::schema::Sort>,
    /// Further keys after `sort`, in order (Contabo's repeated `orderBy`).
    pub then_sort: Vec<roster_core::schema::Sort>,
    /// Without a sort, the newest first rather than the oldest.
    pub newest_first: bool,
    pub only_active: bool,
    pub page: PageRequest,
    /// The groups a filter on the users' `groups` sees, and `with_groups` loads; with none,
    /// a user is in no group.
    pub groups: Option<GroupReader>,
    /// Load each user's [`User::groups`] (in the same statement).
    pub with_groups: bool,
    /// Load each user's [`User::roles`] (in the same statement).
    pub with_roles: bool,
    /// Only members of the group with this seq (an organization's members).
    pub member_of: Option<i64>,
    /// Only holders of this permission.
    pub with_permission: Option<Permission>,
}

#[derive(Debug, Clone, Default)]
pub struct GroupQuery {
    pub filter: Option<Cond>,
    /// Creation order (or newest first) when `None`.
    pub sort: Option<roster_core::schema::Sort>,
    /// Without a sort, the newest first rather than the oldest.
    pub newest_first: bool,
    pub with_members: bool,
    pub page: PageRequest,
}

/// What the bootstrap creates, all in one transaction.
pub struct Bootstrap {
    pub admin: NewUser,
    pub token: NewToken,
}

/// Users: the directory's people. Writes take the capability handle the policy hands out;
/// reads take a reader that the store applies itself (what it may not see reads as absent).
#[async_trait]
pub trait UserStore: Send + Sync {
    async fn create_user(&self, by: &UserAdmin, ctx: &WriteCtx, new: &NewUser) -> Result<User>;
    /// Creates, or updates the user with the same userName (case-insensitively).
    /// Returns the user and whether it was created.
    async fn upsert_user(
        &self,
        by: &UserAdmin,
        ctx: &WriteCtx,
        new: &NewUser,
    ) -> Result<(User, bool)>;
    async fn get_user(&self, by: &UserReader, id: Uuid) -> Result<Option<User>>;
    /// The user with [`User::groups`]: those `groups` sees, in the same statement.
    async fn get_user_with_groups(
        &self,
        by: &UserReader,
        groups: &GroupReader,
        id: Uuid,
    ) -> Result<Option<User>>;
    /// The user with [`User::roles`], in the same statement.
    async fn get_user_with_roles(&self, by: &UserReader, id: Uuid) -> Result<Option<User>>;
    async fn find_user_by_name(&self, by: &UserReader, name: &UserName) -> Result<Option<User>>;
    async fn list_users(&self, by: &UserReader, q: &UserQuery) -> Result<Page<User>>;
    /// Loads, edits and writes back one user in a transaction; `if_match` is the version
    /// the caller saw (optimistic concurrency). The editor's own check runs on the result.
    async fn update_user(
        &self,
        by: &UserEditor,
        ctx: &WriteCtx,
        id: Uuid,
        if_match: Option<i64>,
        edit: UserEdit<'_>,
    ) -> Result<User>;
    /// As [`UserStore::update_user`], answering the user with [`User::groups`] (those
    /// `groups` sees), read by the statement that locks the user.
    async fn update_user_with_groups(
        &self,
        by: &UserEditor,
        groups: &GroupReader,
        ctx: &WriteCtx,
        id: Uuid,
        if_match: Option<i64>,
        edit: UserEdit<'_>,
    ) -> Result<User>;
    async fn delete_user(
        &self,
        by: &UserAdmin,
        ctx: &WriteCtx,
        id: Uuid,
        if_match: Option<i64>,
    ) -> Result<()>;
    async fn set_permission(
        &self,
        by: &UserAdmin,
        ctx: &WriteCtx,
        user: &UserName,
        permission: Permission,
        granted: bool,
    ) -> Result<()>;
}

/// Groups and their memberships.
#[async_trait]
pub trait GroupStore: Send + Sync {
    async fn create_group(
        &self,
        by: &GroupCreator,
        ctx: &WriteCtx,
        new: &NewGroup,
    ) -> Result<Group>;
    /// `None` when the group does not exist or lies outside the reader's scope: the two
    /// are indistinguishable to the caller.
    async fn get_group(
        &self,
        by: &GroupReader,
        id: Uuid,
        with_members: bool,
    ) -> Result<Option<Group>>;
    /// The user's role in the group, or `None` if not a member; `Err(NotFound)` if the
    /// group does not exist. The policy turns it into a [`roster_core::policy::GroupAccess`].
    async fn member_role(&self, group: Uuid, user_seq: i64) -> Result<Option<Role>>;
    /// The roles of those of `users` (seqs, at most 1,000) who are members of the group
    /// `group_seq`, in one query; non-members are absent.
    async fn member_roles(&self, group_seq: i64, users: &[i64]) -> Result<Vec<(i64, Role)>>;
    async fn list_groups(&self, by: &GroupReader, q: &GroupQuery) -> Result<Page<Group>>;
    /// The groups each of `users` (seqs) is a member of, as far as the reader sees them:
    /// one query per 500 users, ordered by user, then group creation.
    async fn groups_of(&self, by: &GroupReader, users: &[i64]) -> Result<Vec<UserGroup>>;
    /// Applies a change to the editor's group in one transaction; returns it without members.
    async fn modify_group(
        &self,
        by: &GroupEditor,
        ctx: &WriteCtx,
        if_match: Option<i64>,
        change: &GroupChange,
    ) -> Result<Group>;
    async fn delete_group(
        &self,
        by: &GroupEditor,
        ctx: &WriteCtx,
        if_match: Option<i64>,
    ) -> Result<()>;
}

/// An API token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub name: Option<String>,
    pub public_id: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Credentials: API tokens today (OAuth clients and S3 keys join them here).
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// `name`, when given, must not be the name of another live token of the user;
    /// `expires_at` in microseconds since the epoch.
    async fn create_token(
        &self,
        by: &TokenAdmin,
        ctx: &WriteCtx,
        user: &UserName,
        name: Option<&str>,
        token: &NewToken,
        expires_at: Option<i64>,
    ) -> Result<()>;
    /// Revokes the user's live tokens named `name`, or all of them; returns how many.
    async fn revoke_tokens(
        &self,
        by: &TokenAdmin,
        ctx: &WriteCtx,
        user: &UserName,
        name: Option<&str>,
    ) -> Result<u64>;
    /// Every token of the user, oldest first, revoked ones included.
    async fn list_tokens(&self, by: &TokenAdmin, user: &UserName) -> Result<Vec<TokenInfo>>;
    /// The active user owning a valid token with this SHA-256 hash (authentication itself,
    /// so it takes no handle), with the generation it was read at.
    async fn principal_for_token(&self, token_hash: &str) -> Result<Option<TokenGrant>>;
    /// The generation of the authentication data now: it moves whenever a token is revoked,
    /// re-dated or deleted, or a user deactivated, renamed, deleted, given or refused a
    /// permission, so a principal read at an equal generation is still exact.
    async fn auth_generation(&self) -> Result<i64>;
}

/// What a valid bearer token (an API token, or a JWT of an OAuth client) gives, as of one
/// generation of the authentication data.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub principal: Principal,
    /// [`CredentialStore::auth_generation`] when the principal was read (same statement).
    pub generation: i64,
    /// When the token stops being valid (microseconds since the epoch), if ever.
    pub expires_at: Option<i64>,
}

/// A secret as the server prepared it for one client: its SHA-256 (to verify) and its copy
/// sealed with the server key for the client's record (to show again).
#[derive(Debug, Clone)]
pub struct SealedSecret {
    pub hash: String,
    pub sealed: String,
}

/// Makes the secret of the client with this id (the id is bound into the sealed copy).
pub type SecretFor<'a> = &'a (dyn Fn(&str) -> SealedSecret + Send + Sync);

/// Re-encrypts one sealed value: `(record, sealed) -> sealed again`.
pub type Reseal<'a> = &'a (dyn Fn(&str, &str) -> std::result::Result<String, String> + Send + Sync);

/// What a value sealed for the client `client_id` is bound to (its associated data).
pub fn client_record(client_id: &str) -> String {
    format!("oauth_client:{client_id}")
}

/// What a signing key's sealed private half is bound to.
pub fn signing_key_record(kid: &str) -> String {
    format!("signing_key:{kid}")
}

/// What the server key's check value is bound to.
pub const KEY_CHECK_RECORD: &str = "server_meta:key_check";

/// A user's personal OAuth client.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub user_id: Uuid,
    pub user_name: String,
    pub secret_hash: String,
    pub secret_sealed: String,
    pub created_at: i64,
    pub rotated_at: i64,
}

/// A client presented at the token endpoint, with its owner (active owners only).
#[derive(Debug, Clone)]
pub struct GrantClient {
    pub client: OAuthClient,
    pub owner: Principal,
    /// When the owner last signed in (micros), to record sign-ins without a write each.
    pub current_login_at: Option<i64>,
}

/// A JWT signing key as stored.
#[derive(Debug, Clone)]
pub struct SigningKeyRecord {
    pub kid: String,
    /// base64url of the Ed25519 public key (the JWK `x`).
    pub public_key: String,
    /// PKCS#8 DER of the private key, sealed for [`signing_key_record`].
    pub private_sealed: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// A refresh token to store (its hash only).
#[derive(Debug, Clone)]
pub struct NewRefresh<'a> {
    pub hash: &'a str,
    /// Every token rotated from the same password grant shares it.
    pub family: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    /// Microseconds since the epoch.
    pub expires_at: i64,
}

/// A live refresh token.
#[derive(Debug, Clone)]
pub struct RefreshInfo {
    pub owner: Principal,
    pub client_id: String,
    pub scope: String,
    pub family: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What presenting a refresh token came to.
#[derive(Debug, Clone)]
pub enum RefreshUse {
    /// Spent; its successor stored: the grant goes ahead for this owner.
    Rotated(RefreshInfo),
    /// Already spent: its whole family is revoked now.
    Reused,
    /// Unknown, revoked, expired, another client's, or its owner is gone or deactivated.
    Invalid,
}

/// OAuth: users' clients, the signing keys, refresh tokens, and the server key's check
/// value. Lookups made to authenticate a client or a token take no handle (they are
/// authentication itself); so do refresh-token rotations, which the presented token alone
/// authorises.
#[async_trait]
pub trait OAuthStore: Send + Sync {
    /// A fact about the database (`server_meta`).
    async fn meta(&self, name: &str) -> Result<Option<String>>;
    /// Sets the fact unless it is set; returns the value now stored (another node's, if it
    /// was first).
    async fn init_meta(&self, by: &Operator, name: &str, value: &str) -> Result<String>;
    /// The user's client, created with id `new_id` and `secret` when the user has none.
    async fn ensure_client(
        &self,
        by: &TokenAdmin,
        ctx: &WriteCtx,
        user: &UserName,
        new_id: &str,
        secret: SecretFor<'_>,
    ) -> Result<OAuthClient>;
    /// Gives the user's client a new secret (creating the client as [`Self::ensure_client`]
    /// does); the old secret stops working at once and the client's refresh tokens end.
    async fn rotate_client_secret(
        &self,
        by: &TokenAdmin,
        ctx: &WriteCtx,
        user: &UserName,
        new_id: &str,
        secret: SecretFor<'_>,
    ) -> Result<OAuthClient>;
    async fn grant_client(&self, client_id: &str) -> Result<Option<GrantClient>>;
    /// The password hash of user `user_seq` if `login` is its userName or one of its emails.
    async fn password_for_login(&self, user_seq: i64, login: &str) -> Result<Option<String>>;
    /// The active owner of client `client_id`, if that is user `user_id` and its tokens
    /// issued at `issued_at` (seconds) are not void since a deactivation: what a JWT is
    /// checked against on every request. With the generation of the authentication data it
    /// was read at (the grant's `expires_at` is `None`: the JWT says when it ends).
    async fn principal_for_client(
        &self,
        user_id: Uuid,
        client_id: &str,
        issued_at: i64,
    ) -> Result<Option<TokenGrant>>;
    /// Every signing key, newest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;
    /// Adds a key that signs from now on; the keys before it are retired now, and retired
    /// keys older than `forget_before` (micros) are deleted.
    async fn add_signing_key(
        &self,
        by: &Operator,
        ctx: &WriteCtx,
        key: &SigningKeyRecord,
        forget_before: i64,
    ) -> Result<()>;
    /// Stores a refresh token of `owner` (user seq).
    async fn issue_refresh(&self, owner: i64, new: &NewRefresh<'_>) -> Result<()>;
    /// Spends the refresh token `hash` of client `client_id` and stores its successor
    /// `next_hash` (same family and scope, expiring at `next_expires_at`).
    async fn use_refresh(
        &self,
        hash: &str,
        client_id: &str,
        next_hash: &str,
        next_expires_at: i64,
    ) -> Result<RefreshUse>;
    /// Revokes the family of refresh token `hash` if it belongs to `client_id`.
    async fn revoke_refresh(&self, hash: &str, client_id: &str) -> Result<bool>;
    /// A refresh token that could still be used.
    async fn refresh_info(&self, hash: &str) -> Result<Option<RefreshInfo>>;
    /// Rewrites every sealed value with `reseal(record, sealed)` in one transaction; any
    /// error leaves everything as it was. Returns how many values were rewritten.
    async fn reseal(&self, by: &Operator, ctx: &WriteCtx, reseal: Reseal<'_>) -> Result<u64>;
}

/// A user with what authorises them: permissions, capabilities (as shown: `ORG_ADMIN` from
/// the permissions), sign-in times and the last password change (micros).
#[derive(Debug, Clone)]
pub struct Access {
    pub user: User,
    pub permissions: PermissionSet,
    pub capabilities: Vec<String>,
    pub last_login_at: Option<i64>,
    pub current_login_at: Option<i64>,
    pub password_changed_at: Option<i64>,
}

/// Edits a capability set: the set as shown in, the new set out.
pub type CapabilityEdit<'a> =
    &'a (dyn Fn(&[String]) -> std::result::Result<Vec<String>, CoreError> + Send + Sync);

/// What authorises a user (SailPoint's view of a user).
#[async_trait]
pub trait AccessStore: Send + Sync {
    async fn access(&self, by: &UserReader, id: Uuid) -> Result<Option<Access>>;
    /// Applies `edit` to the user's capabilities in one transaction (gaining or losing
    /// `ORG_ADMIN` grants or revokes its permissions); an error from `edit` changes nothing.
    async fn set_capabilities(
        &self,
        by: &CapabilityAdmin,
        ctx: &WriteCtx,
        id: Uuid,
        edit: CapabilityEdit<'_>,
    ) -> Result<Access>;
    /// Records a sign-in of user `user_seq` now: the current sign-in becomes the last one.
    async fn record_sign_in(&self, user_seq: i64) -> Result<()>;
    /// Permissions and last sign-in of the users with these seqs that `by` may read
    /// (one statement; seqs it may not read or that do not exist are left out).
    async fn authz_of(
        &self,
        by: &UserReader,
        seqs: &[i64],
    ) -> Result<std::collections::HashMap<i64, Authz>>;
}

/// What a one-time link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    PasswordReset,
    EmailVerification,
}

impl LinkPurpose {
    /// As stored (`one_time_tokens.purpose`, `mail_outbox.kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::PasswordReset => "password-reset",
            LinkPurpose::EmailVerification => "email-verification",
        }
    }
}

/// At most one link of each purpose per user in this long (micros): a flood of requests
/// must not become a flood of mail to one inbox.
pub const LINK_INTERVAL_MICROS: i64 = 60_000_000;

/// A one-time link to store: the SHA-256 of its token only.
#[derive(Debug, Clone)]
pub struct NewLink<'a> {
    pub purpose: LinkPurpose,
    pub hash: &'a str,
    /// Microseconds since the epoch.
    pub expires_at: i64,
    /// Where the page sends the user once the link is used (already checked against the
    /// allow-list).
    pub redirect_url: Option<&'a str>,
    /// No new link of this purpose for the user within this of the last (micros;
    /// [`LINK_INTERVAL_MICROS`] for links that people ask for).
    pub min_interval_micros: i64,
}

/// A mail for the outbox. Its body carries the link's token, so it arrives sealed with the
/// server key (for [`mail_record`] of its message id).
#[derive(Debug, Clone)]
pub struct NewMail {
    pub message_id: String,
    pub recipient: String,
    pub subject: String,
    pub body_sealed: String,
}

/// What a value sealed for the mail `message_id` is bound to.
pub fn mail_record(message_id: &str) -> String {
    format!("mail:{message_id}")
}

/// Writes the mail of a link for the user as the transaction loaded them.
pub type MailFor<'a> = &'a (dyn Fn(&User) -> Result<NewMail, CoreError> + Send + Sync);

/// What asking for a link came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkIssued {
    /// The link and its mail are stored; the mail is in the outbox under this id.
    Queued { mail_id: i64 },
    /// The user got a link of this purpose less than [`NewLink::min_interval_micros`] ago.
    TooSoon { retry_after_secs: u64 },
}

/// A stored link that can still be used.
#[derive(Debug, Clone)]
pub struct LinkInfo {
    pub user: User,
    pub purpose: LinkPurpose,
    /// The address the link was mailed to.
    pub email: String,
    pub redirect_url: Option<String>,
    pub expires_at: i64,
}

/// What a presented link token is.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per page request; boxing would only move the allocation"
)]
pub enum LinkState {
    Valid(LinkInfo),
    /// Used already, or replaced by a newer link of the same purpose.
    Spent,
    Expired,
    /// No such link (a mistyped or tampered token), or its user is gone.
    Unknown,
}

/// What using a link does besides spending it (both mark its address verified).
#[derive(Debug, Clone, Copy)]
pub enum Redeem<'a> {
    VerifyEmail,
    /// Sets the password (an argon2id PHC string); the user's refresh tokens end and their
    /// earlier access tokens stop working: whoever knew the old password is signed out.
    SetPassword {
        hash: &'a str,
    },
}

/// One-time links (password reset, email verification) and the mails that carry them.
/// Asking for a link takes a handle; using one takes none: the token is the authority.
#[async_trait]
pub trait LinkStore: Send + Sync {
    /// Stores a link for user `id` and its mail (`mail` renders it for the user as locked
    /// in the transaction) together; the user's earlier links of that purpose stop working.
    async fn issue_link(
        &self,
        by: &AccountMailer,
        ctx: &WriteCtx,
        id: Uuid,
        link: &NewLink<'_>,
        mail: MailFor<'_>,
    ) -> Result<LinkIssued>;
    /// The link with this token hash, if it is for `purpose`.
    async fn link(&self, hash: &str, purpose: LinkPurpose) -> Result<LinkState>;
    /// Spends the link if it is still valid and does what `redeem` says, in one
    /// transaction; answers what the link was (only `Valid` changed anything).
    async fn redeem_link(
        &self,
        ctx: &WriteCtx,
        hash: &str,
        purpose: LinkPurpose,
        redeem: Redeem<'_>,
    ) -> Result<LinkState>;
}

/// A session to store: hashes of its three secrets, and the password it was opened with.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub key_hash: &'a str,
    pub csrf_hash: &'a str,
    pub user_seq: i64,
    /// [`Login::password_stamp`] as the password was checked.
    pub password_stamp: i64,
    pub expires_at: i64,
    pub kind: SessionKind,
    /// Ends the session after this long without a request (0: only `expires_at`).
    pub idle_micros: i64,
}

/// Who a session is for: a cookie of one kind never opens a session of the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// CVAT's login (cookies and a login key).
    Api,
    /// The web console (a `SameSite=Strict` cookie, idle and absolute time-outs).
    Console,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Api => "api",
            SessionKind::Console => "console",
        }
    }
}

/// A live session as its owner sees it in a list (no secret, not even a hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub seq: i64,
    pub kind: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// An active user a sign-in names, with what checks their password.
#[derive(Debug, Clone)]
pub struct Login {
    pub user_seq: i64,
    pub password_hash: Option<String>,
    /// When the password last changed (0 for never): a session or a remembered Basic
    /// credential stays valid only while it is the same.
    pub password_stamp: i64,
}

/// A live session's user and the hash of its CSRF token.
#[derive(Debug, Clone)]
pub struct SessionAuth {
    pub principal: Principal,
    pub csrf_hash: String,
    /// The session's number (what a list of sessions shows, and ends one by).
    pub seq: i64,
}

/// How a session is named: by its cookie or by its login key.
#[derive(Debug, Clone, Copy)]
pub enum SessionKey<'a> {
    Cookie(&'a str),
    Key(&'a str),
    /// The console's cookie.
    Console(&'a str),
}

/// Sign-in sessions (CVAT's cookies and login keys), kept in the database so every node
/// sees them. Like refresh tokens they are the bookkeeping of a password check the caller
/// has just passed, so they take no capability handle. A session ends at its expiry, at
/// logout, when its user is deactivated or deleted, and when the password changes.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The active user `login` names: their userName, else the one user with that email
    /// address (an address two users share names nobody).
    async fn login(&self, login: &str) -> Result<Option<Login>>;
    /// Stores a session (and drops expired ones).
    async fn create_session(&self, s: &NewSession<'_>) -> Result<()>;
    /// The session's user, if the session is live.
    async fn session(&self, key: SessionKey<'_>) -> Result<Option<SessionAuth>>;
    /// Ends the session; false when there was none.
    async fn end_session(&self, key: SessionKey<'_>) -> Result<bool>;
    /// User `user_seq` if active, their password is still the one of `password_stamp` and
    /// they have no TOTP enrolled (a remembered Basic credential: Basic cannot carry a code).
    async fn principal_with_password(
        &self,
        user_seq: i64,
        password_stamp: i64,
    ) -> Result<Option<Principal>>;
    /// The user's live sessions, newest first (at most 100).
    async fn sessions_of(&self, user_seq: i64) -> Result<Vec<SessionInfo>>;
    /// Ends the user's session `seq` (`None`: every session of the user); how many ended.
    async fn end_sessions_of(&self, user_seq: i64, seq: Option<i64>) -> Result<u64>;
}

/// A user's TOTP enrolment as sign-ins read it.
#[derive(Debug, Clone)]
pub struct TotpRecord {
    /// The shared secret, sealed with the server key under [`totp_record`].
    pub secret_sealed: String,
    /// `None` while the enrolment waits for its first code.
    pub enrolled_at: Option<i64>,
    pub last_step: i64,
    /// Recovery codes not used yet.
    pub recovery_left: i64,
}

/// The record name a TOTP secret is sealed under (binds the ciphertext to its user's
/// number, which exports and imports keep).
pub fn totp_record(user_seq: i64) -> String {
    format!("totp:{user_seq}")
}

/// TOTP second factors. Enrolment and reset are credential changes and take the
/// [`TokenAdmin`] handle of the user (their own, or an administrator's); spending a code or
/// a recovery code is the bookkeeping of a sign-in in progress (like a session) and takes
/// none.
#[async_trait]
pub trait TotpStore: Send + Sync {
    async fn totp(&self, user_seq: i64) -> Result<Option<TotpRecord>>;
    /// Starts (or restarts) an enrolment with a new sealed secret; an enrolled TOTP stays in
    /// force until [`TotpStore::confirm_totp`] replaces it.
    async fn begin_totp(&self, by: &TokenAdmin, user: Uuid, secret_sealed: &str) -> Result<()>;
    /// Completes the pending enrolment with its first accepted code's `step` and the hashes
    /// of new recovery codes (replacing any earlier ones); false when none was pending.
    async fn confirm_totp(
        &self,
        by: &TokenAdmin,
        ctx: &WriteCtx,
        user: Uuid,
        pending_sealed: &str,
        step: i64,
        recovery_hashes: &[String],
    ) -> Result<bool>;
    /// Removes the user's TOTP and recovery codes; false when there was none.
    async fn reset_totp(&self, by: &TokenAdmin, ctx: &WriteCtx, user: Uuid) -> Result<bool>;
    /// Records `step` as used if it is newer than the last one; false for a replay.
    async fn use_totp_step(&self, user_seq: i64, step: i64) -> Result<bool>;
    /// Spends a recovery code; false when it is not one of the user's unused codes.
    async fn use_recovery_code(&self, user_seq: i64, code_hash: &str) -> Result<bool>;
}

/// An organization (CVAT): a group with a unique slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// The group's seq (CVAT's `org_id`).
    pub seq: i64,
    pub id: Uuid,
    pub slug: String,
    pub display_name: String,
}

/// Which organization.
#[derive(Debug, Clone, Copy)]
pub enum OrgKey<'a> {
    Slug(&'a str),
    Seq(i64),
}

/// Organizations. Reads take no handle: an organization's slug and name are what every
/// member's client sends; its members are read through [`UserQuery::member_of`].
#[async_trait]
pub trait OrgStore: Send + Sync {
    /// Creates the group and its slug in one transaction.
    async fn create_org(
        &self,
        by: &GroupManager,
        ctx: &WriteCtx,
        slug: &str,
        display_name: &str,
    ) -> Result<Org>;
    async fn org(&self, key: OrgKey<'_>) -> Result<Option<Org>>;
    /// Oldest first.
    async fn list_orgs(&self) -> Result<Vec<Org>>;
    /// Deletes the organization's group (its memberships with it); false when unknown.
    async fn delete_org(&self, by: &GroupManager, ctx: &WriteCtx, slug: &str) -> Result<bool>;
}

/// What authorises each of some users, for dialects that show it in lists.
#[derive(Debug, Clone, Default)]
pub struct Authz {
    pub permissions: PermissionSet,
    pub last_login_at: Option<i64>,
}

/// Roles users hold (Contabo's roles). Reads take no handle: a role says what it allows, not
/// who holds it.
#[async_trait]
pub trait RoleStore: Send + Sync {
    async fn create_role(&self, by: &UserAdmin, ctx: &WriteCtx, new: &NewRole) -> Result<OrgRole>;
    async fn get_role(&self, id: i64) -> Result<Option<OrgRole>>;
    /// Oldest first.
    async fn list_roles(&self, page: &PageRequest) -> Result<Page<OrgRole>>;
    /// Replaces the role; its holders gain or lose what `admin` gives at once.
    async fn update_role(
        &self,
        by: &UserAdmin,
        ctx: &WriteCtx,
        id: i64,
        new: &NewRole,
    ) -> Result<OrgRole>;
    /// Deletes the role; its holders lose it (and what it gave). A user's roles are read
    /// with the user ([`UserStore::get_user_with_roles`], [`UserQuery::with_roles`]).
    async fn delete_role(&self, by: &UserAdmin, ctx: &WriteCtx, id: i64) -> Result<()>;
}

/// An S3-compatible object storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectStorage {
    pub id: Uuid,
    pub display_name: String,
    pub region: String,
}

/// A user's key pair for one object storage; the secret key sealed for
/// [`storage_credential_record`] of its access key.
#[derive(Debug, Clone)]
pub struct StorageCredential {
    pub id: i64,
    pub storage: ObjectStorage,
    pub access_key: String,
    pub secret_sealed: String,
}

/// What a value sealed for the credential with access key `access_key` is bound to.
pub fn storage_credential_record(access_key: &str) -> String {
    format!("storage_credential:{access_key}")
}

/// A new key pair: (access key, secret key sealed for it).
pub type KeyPairFor<'a> = &'a (dyn Fn() -> (String, String) + Send + Sync);
/// A new secret key sealed for this access key.
pub type SecretKeyFor<'a> = &'a (dyn Fn(&str) -> String + Send + Sync);

/// What a credential list sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialOrder {
    CredentialId,
    DisplayName,
    Region,
    ObjectStorageId,
}

/// Which of a user's credentials a list shows.
#[derive(Debug, Clone, Default)]
pub struct CredentialQuery {
    pub storage: Option<Uuid>,
    pub region: Option<String>,
    pub display_name: Option<String>,
    /// Keys in order, each descending or not; credential id last.
    pub order: Vec<(CredentialOrder, bool)>,
    pub page: PageRequest,
}

/// Object storages and users' credentials for them. Every user has one credential per
/// storage, made on first use (it needs the server key, which the store does not hold).
#[async_trait]
pub trait StorageStore: Send + Sync {
    /// Storages are the deployment's, so adding and removing one needs manage-organization
    /// (the CLI's operator has it).
    async fn add_storage(
        &self,
        by: &UserAdmin,
        ctx: &WriteCtx,
        display_name: &str,
        region: &str,
    ) -> Result<ObjectStorage>;
    /// Adds this storage if there is none at all (a fresh deployment's); returns whether.
    async fn ensure_storage(&self, by: &Operator, display_name: &str, region: &str)
        -> Result<bool>;
    async fn list_storages(&self) -> Result<Vec<ObjectStorage>>;
    /// Removes the storage and every credential for it.
    async fn remove_storage(&self, by: &UserAdmin, ctx: &WriteCtx, id: Uuid) -> Result<()>;
    /// The user's credentials as `q` asks, after making the ones the user lacks with `make`.
    async fn credentials(
        &self,
        by: &TokenAdmin,
        ctx: &WriteCtx,
        user: Uuid,
        make: KeyPairFor<'_>,
        q: &CredentialQuery,
    ) -> Result<Page<StorageCredential>>;
    async fn credential(
        &self,
        by: &TokenAdmin,
        user: Uuid,
        storage: Uuid,
        id: i64,
    ) -> Result<Option<StorageCredential>>;
    /// A new secret key for the credential (the access key stays); the old one is gone.
    async fn regenerate_credential(
        &self,
        by: &TokenAdmin,
        ctx: &WriteCtx,
        user: Uuid,
        storage: Uuid,
        id: i64,
        secret: SecretKeyFor<'_>,
    ) -> Result<StorageCredential>;
}

/// A mail in the outbox.
#[derive(Debug, Clone)]
pub struct MailRow {
    pub id: i64,
    pub message_id: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    /// Empty once sent.
    pub body_sealed: String,
    /// `queued`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, Copy)]
pub enum MailOutcome<'a> {
    Sent,
    /// Try again at `at` (micros): the server was down or answered 4xx.
    Retry {
        at: i64,
        error: &'a str,
    },
    /// Give up: a permanent (5xx) answer, or retried for too long.
    Failed {
        error: &'a str,
    },
}

/// The mail outbox. Senders on every node claim due mails with a lease, so two nodes never
/// hold one mail at once, and a node that dies mid-send leaves it to the next claim after
/// the lease.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `limit` queued mails due at `now` whose lease (if any) has run out, for
    /// `owner` until `lease_until` (micros); counts the attempt.
    async fn claim_mail(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<MailRow>>;
    /// Records what delivering a mail claimed by `owner` came to; false when the lease had
    /// passed to another claim (nothing is recorded then).
    async fn finish_mail(&self, id: i64, owner: &str, outcome: MailOutcome<'_>) -> Result<bool>;
    /// When the next queued mail is due (micros), if any.
    async fn next_mail_due(&self) -> Result<Option<i64>>;
    /// Mails, newest first, optionally only those with `status`.
    async fn list_mail(
        &self,
        by: &Operator,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<MailRow>>;
    /// Queues a failed (or queued) mail again, due now; false if there is no such mail or it
    /// was sent.
    async fn retry_mail(&self, by: &Operator, ctx: &WriteCtx, id: i64) -> Result<bool>;
}

/// The audit trail: one row per change, written by the change's own transaction.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Matching rows, newest first.
    async fn audit_rows(&self, by: &AuditReader, q: &AuditQuery) -> Result<Vec<AuditRow>>;
    /// Deletes the rows older than `before` (micros), `batch` rows per transaction so that
    /// writers never wait long; records the pruning itself as one row. Returns how many.
    async fn prune_audit(&self, by: &Operator, before: i64, batch: i64) -> Result<u64>;
}

/// A user or a group, as a search over both finds it.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "a page holds at most 1,000; boxing each user would cost an allocation apiece"
)]
pub enum Found {
    User(User),
    Group(Group),
}

/// A search over users and groups at once (POST `/.search`): each type with its reader and
/// query (`None` leaves the type out), one page over both. The two queries carry the same
/// sort (or none): the page is ordered by it across both types, else by creation.
#[derive(Debug, Clone, Copy)]
pub struct SearchQuery<'a> {
    pub users: Option<(&'a UserReader, &'a UserQuery)>,
    pub groups: Option<(&'a GroupReader, &'a GroupQuery)>,
    /// Without a sort, the newest first rather than the oldest.
    pub newest_first: bool,
    pub page: PageRequest,
}

/// Searches that span aggregates.
#[async_trait]
pub trait SearchStore: Send + Sync {
    /// One page of the users and groups `q` finds; `total` counts both.
    async fn search(&self, q: &SearchQuery<'_>) -> Result<Page<Found>>;
}

/// The database itself.
#[async_trait]
pub trait Lifecycle: Send + Sync {
    /// Answers when the database does (for /healthz).
    async fn ping(&self) -> Result<()>;
    /// Connections of the pool: how many there are and how many are idle.
    fn pool_stats(&self) -> PoolStats;
    /// Mails waiting to be sent (queued, due or not).
    async fn mail_queued(&self) -> Result<i64>;
    /// The last migration applied (what an export records and an import checks).
    async fn schema_version(&self) -> Result<i64>;
    /// Loads an export's rows into this database, which must be empty unless `merge`, in one
    /// transaction with its audit row ([`transfer`]).
    async fn import(
        &self,
        by: &Operator,
        rows: &mut (dyn Iterator<Item = Result<transfer::ImportRow>> + Send),
        merge: bool,
    ) -> Result<transfer::Counts>;
    /// Closes every connection (graceful shutdown).
    async fn close(&self);
    /// Creates the first admin with every permission, unless any user exists.
    /// Returns false when the database was not empty.
    async fn bootstrap(&self, by: &Operator, ctx: &WriteCtx, b: &Bootstrap) -> Result<bool>;
}

/// A connection pool's state, for the metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
}

/// Everything a Roster server needs from its database, one trait per aggregate.
pub trait Store:
    UserStore
    + GroupStore
    + CredentialStore
    + OAuthStore
    + AccessStore
    + LinkStore
    + OutboxStore
    + RoleStore
    + StorageStore
    + SessionStore
    + TotpStore
    + OrgStore
    + AuditStore
    + SearchStore
    + Lifecycle
    + 'static
{
}

impl<
        T: UserStore
            + GroupStore
            + CredentialStore
            + OAuthStore
            + AccessStore
            + LinkStore
            + OutboxStore
            + RoleStore
            + StorageStore
            + SessionStore
            + TotpStore
            + OrgStore
            + AuditStore
            + SearchStore
            + Lifecycle
            + 'static,
    > Store for T
{
}

/// `error: cause: cause ...`, for logs and internal-error messages.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

/// An online backup of the SQLite database at `url` into the new file `dest` (see
/// [`sqlite::backup`]); PostgreSQL has its own tools (`pg_dump`).
pub fn backup(url: &str, dest: &std::path::Path) -> Result<i32> {
    if url.starts_with("sqlite:") {
        sqlite::backup(url, dest)
    } else {
        Err(StoreError::Config(
            "roster backup copies the embedded SQLite database; back PostgreSQL up with pg_dump or its base backups".into(),
        ))
    }
}

/// Opens the backend named by a database URL and runs its migrations.
pub async fn open(url: &str, opts: &OpenOptions) -> Result<std::sync::Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        let b = sqlite::SqliteBackend::open(url, opts).await?;
        Ok(std::sync::Arc::new(sql_store::SqlStore::new(b)))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let b = postgres::PgBackend::open(url, opts).await?;
        Ok(std::sync::Arc::new(sql_store::SqlStore::new(b)))
    } else {
        Err(StoreError::Config(format!(
            "unsupported database URL {:?}: expected sqlite:///path/to/roster.db or postgres://user@host:5432/db",
            redact(url)
        )))
    }
}

/// Connection settings shared by the backends.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Pool size (SQLite: read connections; it always has one writer).
    pub max_connections: u32,
    /// SQLite: how long a writer waits for another process's lock.
    pub busy_timeout: Duration,
    /// PostgreSQL: how long to keep retrying the first connection before giving up.
    pub connect_timeout: Duration,
    /// How long a request waits for a pooled (read) connection before failing (503).
    pub acquire_timeout: Duration,
    /// Limit on one statement (PostgreSQL: server-side; SQLite: a progress handler).
    pub statement_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            max_connections: 4,
            busy_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(30),
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// Hides a password in a URL before it is logged.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!(
            "{}://***@{}",
            url.get(..s).unwrap_or(""),
            url.get(at + 1..).unwrap_or("")
        ),
        _ => url.to_owned(),
    }
}
