//! Who may do what. Handlers obtain a capability value from here before calling the
//! store's write operations, so a route that forgot its permission check has nothing to
//! pass and does not compile.

use uuid::Uuid;

use crate::group::Role;
use crate::permission::{Permission, PermissionSet};
use crate::CoreError;

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_seq: i64,
    pub user_id: Uuid,
    pub user_name: String,
    pub permissions: PermissionSet,
}

/// Proof that the caller holds `manage-organization`: needed for every user operation.
#[derive(Debug, Clone, Copy)]
pub struct OrgAdmin<'a>(&'a Principal);

impl OrgAdmin<'_> {
    pub fn principal(&self) -> &Principal {
        self.0
    }
}

impl Principal {
    pub fn has(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    pub fn org_admin(&self) -> Result<OrgAdmin<'_>, CoreError> {
        if self.has(Permission::ManageOrganization) {
            Ok(OrgAdmin(self))
        } else {
            Err(CoreError::Forbidden(format!(
                "Operation is not permitted. The \"{}\" permission is required.",
                Permission::ManageOrganization.odm_label()
            )))
        }
    }

    /// The caller's standing in one group, given their membership role there (if any).
    pub fn group_access(&self, role: Option<Role>) -> GroupAccess {
        if self.has(Permission::ManageGroups) {
            GroupAccess::Manager
        } else {
            match role {
                Some(Role::Admin) => GroupAccess::Admin,
                Some(Role::Member) => GroupAccess::Member,
                None => GroupAccess::None,
            }
        }
    }
}

/// ODM's group matrix: managers and group admins modify, members only see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupAccess {
    Manager,
    Admin,
    Member,
    None,
}

/// Proof that the caller may change or delete one group.
#[derive(Debug, Clone, Copy)]
pub struct GroupEditor(());

impl GroupAccess {
    pub fn can_view(self) -> bool {
        self != GroupAccess::None
    }

    pub fn editor(self) -> Result<GroupEditor, CoreError> {
        match self {
            GroupAccess::Manager | GroupAccess::Admin => Ok(GroupEditor(())),
            _ => Err(CoreError::Forbidden(format!(
                "Operation is not permitted. The \"Group admin\" role in the group or the \"{}\" permission is required.",
                Permission::ManageGroups.odm_label()
            ))),
        }
    }
}
