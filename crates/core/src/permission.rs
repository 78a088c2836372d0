use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Organization-wide permissions. Each dialect's vocabulary maps onto these in one table
/// here (its labels, e.g. ODM's "Manage organization", are the dialect's wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    ManageOrganization,
    ManageGroups,
}

/// (permission, wire name) — the one vocabulary table.
const TABLE: &[(Permission, &str)] = &[
    (Permission::ManageOrganization, "manage-organization"),
    (Permission::ManageGroups, "manage-groups"),
];

impl Permission {
    pub const ALL: [Permission; 2] = [Permission::ManageOrganization, Permission::ManageGroups];

    pub fn as_str(self) -> &'static str {
        TABLE
            .iter()
            .find(|(p, _)| *p == self)
            .map(|(_, s)| *s)
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
            .find(|(_, name)| *name == s)
            .map(|(p, _)| *p)
            .ok_or_else(|| {
                let names: Vec<&str> = TABLE.iter().map(|(_, n)| *n).collect();
                format!("unknown permission {s:?}; known: {}", names.join(", "))
            })
    }
}

pub type PermissionSet = BTreeSet<Permission>;
