//! Roles users hold (Contabo's `RoleResponse`): a name, whether it makes its holders
//! administrators (`admin`: manage-organization, see [`crate::capability::ROLE_ADMIN_GRANTS`]),
//! whether it reaches every resource, and per-API permissions. Not the `admin`/`member` role of
//! a group membership ([`crate::Role`]).

use serde::{Deserialize, Serialize};

use crate::CoreError;

/// Most permissions per role, and resources per permission.
pub const MAX_PERMISSIONS: usize = 100;
/// Most roles a user holds.
pub const MAX_ROLES_PER_USER: usize = 100;
const MAX_NAME: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RoleAction {
    Create,
    Read,
    Update,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRef {
    #[serde(rename = "tagId")]
    pub tag_id: i64,
    #[serde(rename = "tagName")]
    pub tag_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolePermission {
    #[serde(rename = "apiName")]
    pub api_name: String,
    pub actions: Vec<RoleAction>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<TagRef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    /// Shipped with a deployment.
    Default,
    /// Made by an administrator.
    Custom,
}

impl RoleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::Default => "default",
            RoleKind::Custom => "custom",
        }
    }
    pub fn parse(s: &str) -> Option<RoleKind> {
        match s {
            "default" => Some(RoleKind::Default),
            "custom" => Some(RoleKind::Custom),
            _ => None,
        }
    }
}

/// A role as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRole {
    pub name: String,
    pub admin: bool,
    pub access_all_resources: bool,
    pub kind: RoleKind,
    pub permissions: Vec<RolePermission>,
}

impl NewRole {
    pub fn validate(&self) -> Result<(), CoreError> {
        let n = self.name.trim().chars().count();
        if n == 0 || n > MAX_NAME {
            return Err(CoreError::invalid_value(format!(
                "a role's name must have 1 to {MAX_NAME} characters"
            )));
        }
        if self.permissions.len() > MAX_PERMISSIONS {
            return Err(CoreError::TooMany(format!(
                "at most {MAX_PERMISSIONS} permissions per role"
            )));
        }
        for p in &self.permissions {
            let n = p.api_name.chars().count();
            if n == 0 || n > MAX_NAME {
                return Err(CoreError::invalid_value(format!(
                    "apiName must have 1 to {MAX_NAME} characters"
                )));
            }
            if p.resources.len() > MAX_PERMISSIONS || p.actions.len() > 4 {
                return Err(CoreError::TooMany(format!(
                    "at most {MAX_PERMISSIONS} resources and 4 actions per permission"
                )));
            }
            if p.resources
                .iter()
                .any(|r| r.tag_name.chars().count() > MAX_NAME)
            {
                return Err(CoreError::invalid_value(format!(
                    "tagName must have at most {MAX_NAME} characters"
                )));
            }
        }
        Ok(())
    }
}

/// A stored role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRole {
    pub id: i64,
    pub role: NewRole,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_bounded() {
        let ok = NewRole {
            name: "admins".into(),
            admin: true,
            access_all_resources: true,
            kind: RoleKind::Custom,
            permissions: vec![RolePermission {
                api_name: "/v1/compute/instances".into(),
                actions: vec![RoleAction::Create, RoleAction::Read],
                resources: vec![TagRef {
                    tag_id: 12,
                    tag_name: "web".into(),
                }],
            }],
        };
        assert!(ok.validate().is_ok());
        let json = serde_json::to_value(&ok.permissions).unwrap();
        assert_eq!(json[0]["actions"], serde_json::json!(["CREATE", "READ"]));
        assert_eq!(json[0]["resources"][0]["tagId"], 12);
        let mut bad = ok.clone();
        bad.name = " ".into();
        assert!(bad.validate().is_err());
        let mut bad = ok;
        bad.permissions = vec![bad.permissions[0].clone(); MAX_PERMISSIONS + 1];
        assert!(matches!(bad.validate(), Err(CoreError::TooMany(_))));
    }
}
