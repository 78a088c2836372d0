//! SailPoint capabilities: a set on each user, and the one table that maps them onto Roster
//! permissions. `ORG_ADMIN` *is* manage-organization together with manage-groups (it is
//! never stored: a user shows it exactly when they hold both); every other capability is
//! stored as it is until some dialect gives it a meaning.

use std::collections::BTreeSet;

use crate::permission::{Permission, PermissionSet};
use crate::CoreError;

/// The capability names both SailPoint SDK generations accept (2.x adds the last two);
/// only these are ever stored or shown.
pub const NAMES: &[&str] = &[
    "CERT_ADMIN",
    "CLOUD_GOV_ADMIN",
    "CLOUD_GOV_USER",
    "HELPDESK",
    "ORG_ADMIN",
    "REPORT_ADMIN",
    "ROLE_ADMIN",
    "ROLE_SUBADMIN",
    "SAAS_MANAGEMENT_ADMIN",
    "SAAS_MANAGEMENT_READER",
    "SOURCE_ADMIN",
    "SOURCE_SUBADMIN",
    "das:ui-administrator",
    "das:ui-compliance_manager",
    "das:ui-auditor",
    "das:ui-data-scope",
    "sp:aic-dashboard-read",
    "sp:aic-dashboard-write",
    "sp:ui-config-hub-admin",
    "sp:ui-config-hub-backup-admin",
    "sp:ui-config-hub-read",
    "INTERNAL",
    "POLICY_ADMIN",
];

pub const ORG_ADMIN: &str = "ORG_ADMIN";

/// What a role with `admin: true` (Contabo's admin role, [`crate::role`]) gives every holder,
/// for as long as they hold one: the same permission table as the capabilities.
pub const ROLE_ADMIN_GRANTS: Permission = Permission::ManageOrganization;

/// What `ORG_ADMIN` stands for, in the one table.
pub const ORG_ADMIN_PERMISSIONS: [Permission; 2] =
    [Permission::ManageOrganization, Permission::ManageGroups];

/// CVAT's user groups in the same table, highest first: `admin` is the `ORG_ADMIN` pair,
/// `business` (who may create organizations, which are groups here) manage-groups alone,
/// `user` neither. CVAT's `worker` (less than a user) has no counterpart: Roster gives a
/// user nothing less than `user`.
pub const CVAT_GROUPS: [(&str, &[Permission]); 3] = [
    ("admin", &ORG_ADMIN_PERMISSIONS),
    ("business", &[Permission::ManageGroups]),
    ("user", &[]),
];

/// The CVAT group these permissions show as: the highest whose permissions are all held.
pub fn cvat_group(permissions: &PermissionSet) -> &'static str {
    CVAT_GROUPS
        .iter()
        .find(|(_, needs)| needs.iter().all(|p| permissions.contains(p)))
        .map_or("user", |(name, _)| name)
}

/// The permissions a CVAT group stands for, by name.
pub fn cvat_group_permissions(name: &str) -> Option<&'static [Permission]> {
    CVAT_GROUPS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| *p)
}

/// A known capability name (exact spelling: the SDK's enum is case-sensitive).
pub fn parse(name: &str) -> Result<&'static str, CoreError> {
    NAMES.iter().copied().find(|n| *n == name).ok_or_else(|| {
        CoreError::invalid_value(format!(
            "unknown capability {:?}",
            name.chars().take(64).collect::<String>()
        ))
    })
}

/// Whether these permissions make an `ORG_ADMIN`.
pub fn is_org_admin(permissions: &PermissionSet) -> bool {
    ORG_ADMIN_PERMISSIONS
        .iter()
        .all(|p| permissions.contains(p))
}

/// The capabilities a user shows: `ORG_ADMIN` from the permissions, the stored ones, sorted.
pub fn shown(permissions: &PermissionSet, stored: &[String]) -> Vec<String> {
    let mut out: BTreeSet<String> = stored
        .iter()
        .filter(|c| NAMES.contains(&c.as_str()) && *c != ORG_ADMIN)
        .cloned()
        .collect();
    if is_org_admin(permissions) {
        out.insert(ORG_ADMIN.to_owned());
    }
    out.into_iter().collect()
}

/// What a new capability set means for the store: permissions to grant and revoke, and the
/// capabilities to keep stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Change {
    pub grant: Vec<Permission>,
    pub revoke: Vec<Permission>,
    pub stored: Vec<String>,
}

/// The change from a user's `permissions` to the capability set `after` (each a known
/// name; duplicates collapse). Gaining `ORG_ADMIN` grants both of its permissions, losing it
/// revokes both; otherwise permissions stay as they are.
pub fn change(permissions: &PermissionSet, after: &[String]) -> Result<Change, CoreError> {
    let mut set = BTreeSet::new();
    for c in after {
        set.insert(parse(c)?);
    }
    let was = is_org_admin(permissions);
    let will = set.remove(ORG_ADMIN);
    let (grant, revoke) = match (was, will) {
        (false, true) => (ORG_ADMIN_PERMISSIONS.to_vec(), Vec::new()),
        (true, false) => (Vec::new(), ORG_ADMIN_PERMISSIONS.to_vec()),
        _ => (Vec::new(), Vec::new()),
    };
    Ok(Change {
        grant,
        revoke,
        stored: set.into_iter().map(str::to_owned).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvat_groups_read_back_as_written() {
        for (name, perms) in CVAT_GROUPS {
            let set: PermissionSet = perms.iter().copied().collect();
            assert_eq!(cvat_group(&set), name);
            assert_eq!(cvat_group_permissions(name), Some(perms));
        }
        let only_org: PermissionSet = [Permission::ManageOrganization].into_iter().collect();
        assert_eq!(cvat_group(&only_org), "user");
        assert_eq!(cvat_group_permissions("worker"), None);
    }

    #[test]
    fn org_admin_is_the_two_permissions() {
        let both: PermissionSet = ORG_ADMIN_PERMISSIONS.into_iter().collect();
        let one: PermissionSet = [Permission::ManageGroups].into_iter().collect();
        assert_eq!(shown(&both, &[]), vec!["ORG_ADMIN"]);
        assert!(shown(&one, &[]).is_empty());
        // Stored junk (or a stored ORG_ADMIN) is never shown.
        let stored = vec![
            "HELPDESK".to_owned(),
            "bogus".to_owned(),
            "ORG_ADMIN".to_owned(),
        ];
        assert_eq!(shown(&one, &stored), vec!["HELPDESK"]);

        let c = change(
            &one,
            &["ORG_ADMIN".into(), "HELPDESK".into(), "HELPDESK".into()],
        )
        .unwrap();
        assert_eq!(c.grant, ORG_ADMIN_PERMISSIONS.to_vec());
        assert_eq!(c.stored, vec!["HELPDESK"]);
        let c = change(&both, &[]).unwrap();
        assert_eq!(c.revoke, ORG_ADMIN_PERMISSIONS.to_vec());
        // Untouched ORG_ADMIN-ness leaves a lone permission alone.
        assert_eq!(change(&one, &[]).unwrap(), Change::default());
        assert!(change(&one, &["org_admin".into()]).is_err());
    }
}
