use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Organization-wide permissions. Each dialect maps its own vocabulary onto these
/// (ODM "Manage organization" / "Manage groups"); the mapping lives here, in one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    ManageOrganization,
    ManageGroups,
}

/// (permission, wire name, ODM's label) — the one vocabulary table.
const TABLE: &[(Permission, &str, &str)] = &[
    (
        Permission::ManageOrganization,
        "manage-organization",
        "Manage organization",
    ),
    (Permission::ManageGroups, "manage-groups", "Manage groups"),
];

impl Permission {
    pub const ALL: [Permission; 2] = [Permission::ManageOrganization, Permission::ManageGroups];

    pub fn as_str(self) -> &'static str {
        TABLE
            .iter()
            .find(|(p, _, _)| *p == self)
            .map(|(_, s, _)| *s)
            .unwrap_or("")
    }

    /// The label ODM's documentation uses for this permission.
    pub fn odm_label(self) -> &'static str {
        TABLE
            .iter()
            .find(|(p, _, _)| *p == self)
            .map(|(_, _, l)| *l)
            .unwrap_or("")
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TABLE
            .iter()
            .find(|(_, name, _)| *name == s)
            .map(|(p, _, _)| *p)
            .ok_or_else(|| {
                let names: Vec<&str> = TABLE.iter().map(|(_, n, _)| *n).collect();
                format!("unknown permission {s:?}; known: {}", names.join(", "))
            })
    }
}

pub type PermissionSet = BTreeSet<Permission>;
