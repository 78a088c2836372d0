//! Who may do what. This module is the only place that hands out capability handles, and the
//! store's writes (and the reads that must be restricted) demand one: a handler that forgot
//! its permission check has nothing to pass and does not compile. Handles have private
//! fields and no public constructor; they come from a [`Principal`] (an authenticated caller)
//! through the checks below, or from an [`Operator`] (whoever runs the CLI on the database).
//!
//! A handle can be made by the policy, and only by it:
//! ```
//! use roster_core::policy::{Operator, UserAdmin};
//! let admin: UserAdmin = Operator::local("doc").user_admin();
//! # let _ = admin;
//! ```
//! Forging one outside this module fails to compile (its fields are private):
//! ```compile_fail
//! use roster_core::policy::{Actor, UserAdmin};
//! let admin = UserAdmin { actor: Actor::Operator("doc") };
//! ```
//!
//! Refusals carry a typed [`Denied`], worded neutrally; each dialect renders its own text.

use std::fmt;

use uuid::Uuid;

use crate::group::Role;
use crate::permission::{Permission, PermissionSet};
use crate::user::User;
use crate::CoreError;

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_seq: i64,
    pub user_id: Uuid,
    pub user_name: String,
    pub permissions: PermissionSet,
}

/// Who a change is attributed to in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(Uuid),
    /// The CLI or the bootstrap, named by what it does (`cli:token-issue`, `bootstrap`).
    Operator(&'static str),
}

impl Actor {
    pub fn audit_name(&self) -> String {
        match self {
            Actor::User(id) => id.to_string(),
            Actor::Operator(what) => (*what).to_owned(),
        }
    }
}

/// Why the policy refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The organization-wide permission the operation needs.
    Permission(Permission),
    /// Changing a group needs its admin role there, or manage-groups.
    GroupAdmin,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denied::Permission(p) => write!(f, "the {p} permission is required"),
            Denied::GroupAdmin => {
                f.write_str("the group's admin role or the manage-groups permission is required")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Any,
    Own(Uuid),
}

impl Scope {
    fn covers(self, id: Uuid) -> bool {
        match self {
            Scope::Any => true,
            Scope::Own(own) => own == id,
        }
    }
}

impl Principal {
    pub fn has(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    pub fn actor(&self) -> Actor {
        Actor::User(self.user_id)
    }

    fn require(&self, p: Permission) -> Result<(), CoreError> {
        if self.has(p) {
            Ok(())
        } else {
            Err(CoreError::Forbidden(Denied::Permission(p)))
        }
    }

    /// manage-organization: every user operation.
    pub fn user_admin(&self) -> Result<UserAdmin, CoreError> {
        self.require(Permission::ManageOrganization)?;
        Ok(UserAdmin {
            actor: self.actor(),
        })
    }

    /// manage-groups: every group operation.
    pub fn group_manager(&self) -> Result<GroupManager, CoreError> {
        self.require(Permission::ManageGroups)?;
        Ok(GroupManager {
            actor: self.actor(),
        })
    }

    /// ORG_ADMIN (manage-organization and manage-groups): change any user's capabilities.
    /// ORG_ADMIN counts as holding every capability, so it may grant any; nobody else may
    /// change capabilities at all, their own included.
    pub fn capability_admin(&self) -> Result<CapabilityAdmin, CoreError> {
        for p in crate::capability::ORG_ADMIN_PERMISSIONS {
            self.require(p)?;
        }
        Ok(CapabilityAdmin {
            actor: self.actor(),
        })
    }

    /// The caller's own record: always granted, limited to it and to the personal profile.
    /// Every user, for a directory view that shows others only their public names (CVAT's
    /// BasicUser: a signed-in user may look colleagues up to assign work). The dialect that
    /// takes this renders others that way; writes still need [`Self::user_admin`].
    pub fn directory_reader(&self) -> UserReader {
        UserReader { scope: Scope::Any }
    }

    pub fn self_service(&self) -> SelfService {
        SelfService {
            actor: self.actor(),
            id: self.user_id,
        }
    }

    /// Every group with manage-groups, else the groups the caller is a member of.
    pub fn group_reader(&self) -> GroupReader {
        GroupReader {
            scope: if self.has(Permission::ManageGroups) {
                GroupScope::All
            } else {
                GroupScope::MemberOf(self.user_seq)
            },
        }
    }

    /// Anyone may create a group (ODM's rule: the creator becomes its admin).
    pub fn group_creator(&self) -> GroupCreator {
        GroupCreator {
            actor: self.actor(),
        }
    }

    /// The caller's standing in one group, given their membership role there (if any).
    pub fn group_access(&self, group: Uuid, role: Option<Role>) -> GroupAccess {
        let level = if self.has(Permission::ManageGroups) {
            Level::Manager
        } else {
            match role {
                Some(Role::Admin) => Level::Admin,
                Some(Role::Member) => Level::Member,
                None => Level::None,
            }
        };
        GroupAccess {
            actor: self.actor(),
            group,
            level,
        }
    }
}

/// manage-organization: create, read, change and delete any user; grant permissions.
#[derive(Debug, Clone)]
pub struct UserAdmin {
    actor: Actor,
}

impl UserAdmin {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    pub fn reader(&self) -> UserReader {
        UserReader { scope: Scope::Any }
    }
    pub fn editor(&self) -> UserEditor {
        UserEditor {
            actor: self.actor.clone(),
            scope: Scope::Any,
            own_emails: true,
        }
    }
    /// The audit trail is the organization's administrators' to read.
    pub fn audit_reader(&self) -> AuditReader {
        AuditReader(())
    }
    /// Administrators manage anyone's credentials (clients, object-storage keys).
    pub fn credential_admin(&self) -> TokenAdmin {
        TokenAdmin {
            actor: self.actor.clone(),
            scope: Scope::Any,
        }
    }
    /// Administrators may send any user a reset or verification link.
    pub fn account_mailer(&self) -> AccountMailer {
        AccountMailer {
            actor: self.actor.clone(),
            scope: Scope::Any,
        }
    }
}

/// May have a password-reset or verification link mailed to a user's own address: an
/// administrator for anyone, a user for themselves. The link goes only to the user, so the
/// handle grants no access to the account, only mail to it.
#[derive(Debug, Clone)]
pub struct AccountMailer {
    actor: Actor,
    scope: Scope,
}

impl AccountMailer {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    pub fn may_mail(&self, id: Uuid) -> bool {
        self.scope.covers(id)
    }
}

/// May change users' capabilities (and with them the permissions ORG_ADMIN stands for).
#[derive(Debug, Clone)]
pub struct CapabilityAdmin {
    actor: Actor,
}

impl CapabilityAdmin {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

/// May read the audit trail.
#[derive(Debug, Clone)]
pub struct AuditReader(());

/// The caller's own record.
#[derive(Debug, Clone)]
pub struct SelfService {
    actor: Actor,
    id: Uuid,
}

impl SelfService {
    pub fn id(&self) -> Uuid {
        self.id
    }
    pub fn reader(&self) -> UserReader {
        UserReader {
            scope: Scope::Own(self.id),
        }
    }
    pub fn editor(&self) -> UserEditor {
        UserEditor {
            actor: self.actor.clone(),
            scope: Scope::Own(self.id),
            own_emails: false,
        }
    }
    /// The personal profile and the account's email addresses (CVAT lets its users change
    /// their own email).
    pub fn contact_editor(&self) -> UserEditor {
        UserEditor {
            own_emails: true,
            ..self.editor()
        }
    }
    /// The caller's own credentials (their OAuth client).
    pub fn token_admin(&self) -> TokenAdmin {
        TokenAdmin {
            actor: self.actor.clone(),
            scope: Scope::Own(self.id),
        }
    }
    /// Links to the caller's own address.
    pub fn account_mailer(&self) -> AccountMailer {
        AccountMailer {
            actor: self.actor.clone(),
            scope: Scope::Own(self.id),
        }
    }
}

/// Which users a caller may read; the store applies it (others read as absent).
#[derive(Debug, Clone)]
pub struct UserReader {
    scope: Scope,
}

impl UserReader {
    pub fn may_read(&self, id: Uuid) -> bool {
        self.scope.covers(id)
    }
    /// `Some(id)` when the reader sees one user only.
    pub fn only(&self) -> Option<Uuid> {
        match self.scope {
            Scope::Any => None,
            Scope::Own(id) => Some(id),
        }
    }
}

/// May change users: any (an admin) or only one's own personal profile.
#[derive(Debug, Clone)]
pub struct UserEditor {
    actor: Actor,
    scope: Scope,
    /// Self-service may also change the account's email addresses (a changed address is
    /// unverified until its owner follows a verification link).
    own_emails: bool,
}

impl UserEditor {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn may_edit(&self, id: Uuid) -> bool {
        self.scope.covers(id)
    }

    /// Checked by the store on the edited copy before it is written: self-service keeps to
    /// the personal profile, whatever the dialect's PATCH profile let through (its login,
    /// status, emails and what others authorize on stay as they are).
    pub fn check(&self, before: &User, after: &User) -> Result<(), CoreError> {
        if self.scope == Scope::Any {
            return Ok(());
        }
        let multi = |name: &str| before.multi.get(name) == after.multi.get(name);
        let profile = |name: &str| {
            let i = crate::user::profile_index(name);
            i.map(|i| before.profile.get(i)) == i.map(|i| after.profile.get(i))
        };
        let fixed: [(&str, bool); 12] = [
            ("userName", before.user_name == after.user_name),
            ("externalId", before.external_id == after.external_id),
            (
                "active",
                before.active == after.active && before.active_assigned == after.active_assigned,
            ),
            ("emails", self.own_emails || before.emails == after.emails),
            ("the roles held", after.set_roles.is_none()),
            ("permissions", after.set_permissions.is_none()),
            ("title", profile("title")),
            ("userType", profile("userType")),
            ("entitlements", multi("entitlements")),
            ("roles", multi("roles")),
            ("x509Certificates", multi("x509Certificates")),
            (
                "the enterprise extension",
                before.enterprise == after.enterprise,
            ),
        ];
        match fixed.iter().find(|(_, same)| !same) {
            Some((name, _)) => Err(CoreError::Mutability(format!(
                "{name} cannot be changed on one's own account"
            ))),
            None => Ok(()),
        }
    }
}

/// manage-groups: see, create, change and delete every group.
#[derive(Debug, Clone)]
pub struct GroupManager {
    actor: Actor,
}

impl GroupManager {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    pub fn reader(&self) -> GroupReader {
        GroupReader {
            scope: GroupScope::All,
        }
    }
    pub fn creator(&self) -> GroupCreator {
        GroupCreator {
            actor: self.actor.clone(),
        }
    }
    pub fn editor(&self, group: Uuid) -> GroupEditor {
        GroupEditor {
            actor: self.actor.clone(),
            group,
        }
    }
}

/// Which groups a reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupScope {
    All,
    /// Only groups this user (seq) is a member of.
    MemberOf(i64),
}

/// Reads groups within a scope; the store applies it in the query itself.
#[derive(Debug, Clone)]
pub struct GroupReader {
    scope: GroupScope,
}

impl GroupReader {
    pub fn scope(&self) -> GroupScope {
        self.scope
    }
}

/// May create a group.
#[derive(Debug, Clone)]
pub struct GroupCreator {
    actor: Actor,
}

impl GroupCreator {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Manager,
    Admin,
    Member,
    None,
}

/// The caller's standing in one group (ODM's matrix: managers and group admins change it,
/// members only see it).
#[derive(Debug, Clone)]
pub struct GroupAccess {
    actor: Actor,
    group: Uuid,
    level: Level,
}

impl GroupAccess {
    pub fn can_view(&self) -> bool {
        self.level != Level::None
    }

    pub fn editor(&self) -> Result<GroupEditor, CoreError> {
        match self.level {
            Level::Manager | Level::Admin => Ok(GroupEditor {
                actor: self.actor.clone(),
                group: self.group,
            }),
            _ => Err(CoreError::Forbidden(Denied::GroupAdmin)),
        }
    }
}

/// May change or delete one group.
#[derive(Debug, Clone)]
pub struct GroupEditor {
    actor: Actor,
    group: Uuid,
}

impl GroupEditor {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    pub fn group(&self) -> Uuid {
        self.group
    }
}

/// May issue and revoke API tokens and show or rotate OAuth clients: the operator for any
/// user, a user for their own (the store checks whose they are).
#[derive(Debug, Clone)]
pub struct TokenAdmin {
    actor: Actor,
    scope: Scope,
}

impl TokenAdmin {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    pub fn may_manage(&self, id: Uuid) -> bool {
        self.scope.covers(id)
    }
}

/// Whoever runs the `roster` CLI (and the bootstrap) against the database: they hold the
/// database itself, so they may do everything. Only `roster`'s CLI commands (`admin.rs`) and bootstrap
/// make one; no HTTP handler may (the layering check in `scripts/check-layering.sh` fails
/// when one does).
#[derive(Debug, Clone)]
pub struct Operator {
    actor: Actor,
}

impl Operator {
    /// `what` names the command in the audit log, e.g. `cli:token-issue`.
    pub fn local(what: &'static str) -> Self {
        Self {
            actor: Actor::Operator(what),
        }
    }
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    pub fn user_admin(&self) -> UserAdmin {
        UserAdmin {
            actor: self.actor.clone(),
        }
    }
    pub fn group_manager(&self) -> GroupManager {
        GroupManager {
            actor: self.actor.clone(),
        }
    }
    pub fn token_admin(&self) -> TokenAdmin {
        TokenAdmin {
            actor: self.actor.clone(),
            scope: Scope::Any,
        }
    }
    pub fn capability_admin(&self) -> CapabilityAdmin {
        CapabilityAdmin {
            actor: self.actor.clone(),
        }
    }
    pub fn audit_reader(&self) -> AuditReader {
        AuditReader(())
    }
    pub fn account_mailer(&self) -> AccountMailer {
        self.user_admin().account_mailer()
    }
}
