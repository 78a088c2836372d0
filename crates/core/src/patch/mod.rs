//! SCIM PATCH (RFC 7644 §3.5.2): parsing of the request, application to a user in memory
//! (the store wraps it in a transaction, so a failing operation changes nothing), and
//! translation of a group PATCH into a [`GroupChange`] of member deltas.

use serde_json::Value as Json;

use crate::filter::{parse_path, PatchPath};
use crate::json::get_ci;
use crate::CoreError;

pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Operations in one PATCH request; more is a `tooMany` error.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: OpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Json>,
}

fn syntax(msg: impl Into<String>) -> CoreError {
    CoreError::InvalidSyntax(msg.into())
}

/// Parses a PatchOp message. `op` is matched case-insensitively (Entra ID sends `Replace`).
pub fn parse_patch(body: &Json) -> Result<Vec<PatchOp>, CoreError> {
    let obj = body
        .as_object()
        .ok_or_else(|| syntax("a PATCH body must be a JSON object"))?;
    let schemas = get_ci(obj, "schemas")
        .and_then(Json::as_array)
        .ok_or_else(|| {
            syntax(format!(
                "schemas must be an array containing \"{PATCH_OP_URN}\""
            ))
        })?;
    if !schemas.iter().any(|s| s.as_str() == Some(PATCH_OP_URN)) {
        return Err(syntax(format!("schemas must contain \"{PATCH_OP_URN}\"")));
    }
    let ops = get_ci(obj, "Operations")
        .and_then(Json::as_array)
        .ok_or_else(|| syntax("Operations must be an array of operations"))?;
    if ops.is_empty() {
        return Err(syntax("Operations must not be empty"));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(CoreError::TooMany(format!(
            "a PATCH may carry at most {MAX_OPERATIONS} operations, got {}",
            ops.len()
        )));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_op(i, op))
        .collect()
}

fn parse_op(i: usize, op: &Json) -> Result<PatchOp, CoreError> {
    let o = op
        .as_object()
        .ok_or_else(|| syntax(format!("Operations[{i}] must be an object")))?;
    let kind = match get_ci(o, "op")
        .and_then(Json::as_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("add") => OpKind::Add,
        Some("replace") => OpKind::Replace,
        Some("remove") => OpKind::Remove,
        _ => {
            return Err(syntax(format!(
                "Operations[{i}].op must be \"add\", \"replace\" or \"remove\""
            )))
        }
    };
    let path = match get_ci(o, "path") {
        None | Some(Json::Null) => None,
        Some(Json::String(p)) => Some(parse_path(p)?),
        Some(_) => {
            return Err(CoreError::InvalidPath(format!(
                "Operations[{i}].path must be a string"
            )))
        }
    };
    let value = get_ci(o, "value").filter(|v| !v.is_null()).cloned();
    if kind != OpKind::Remove && value.is_none() {
        return Err(CoreError::invalid_value(format!(
            "Operations[{i}] ({kind:?}) needs a value"
        )));
    }
    if kind == OpKind::Remove && path.is_none() && value.is_none() {
        return Err(CoreError::NoTarget(format!(
            "Operations[{i}]: remove needs a path"
        )));
    }
    Ok(PatchOp {
        op: kind,
        path,
        value,
    })
}

/// Pulls password changes out of a PATCH so the caller can hash them (slowly, outside the
/// write transaction). `Some(Some(pw))`: set; `Some(None)`: remove; `None`: untouched.
pub fn take_password(ops: &mut Vec<PatchOp>) -> Result<Option<Option<String>>, CoreError> {
    let mut found = None;
    let is_pw = |p: &PatchPath| p.attr.is("password") && p.filter.is_none();
    for op in ops.iter_mut() {
        match (&op.path, &mut op.value) {
            (Some(p), v) if is_pw(p) => {
                found = Some(match (op.op, v) {
                    (OpKind::Remove, _) => None,
                    (_, Some(Json::String(s))) => Some(s.clone()),
                    (_, Some(Json::Object(m))) => match get_ci(m, "password") {
                        Some(Json::String(s)) => Some(s.clone()),
                        _ => return Err(CoreError::invalid_value("password must be a string")),
                    },
                    _ => return Err(CoreError::invalid_value("password must be a string")),
                });
            }
            (None, Some(Json::Object(m))) => {
                if let Some(k) = m
                    .keys()
                    .find(|k| k.eq_ignore_ascii_case("password"))
                    .cloned()
                {
                    match m.remove(&k) {
                        Some(Json::String(s)) => found = Some(Some(s)),
                        _ => return Err(CoreError::invalid_value("password must be a string")),
                    }
                }
            }
            _ => {}
        }
    }
    ops.retain(|op| !op.path.as_ref().is_some_and(is_pw));
    if let Some(Some(p)) = &found {
        if p.is_empty() {
            return Err(CoreError::invalid_value("password must not be empty"));
        }
    }
    Ok(found)
}

/// How a dialect treats attributes it does not edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// ODM: attributes outside its schema are silently ignored.
    Ignore,
    /// SCIM: an unknown attribute is an `invalidPath` error.
    Reject,
}

/// Which user attributes a dialect lets PATCH change.
#[derive(Debug, Clone, Copy)]
pub struct UserPatchProfile {
    pub editable: &'static [UserAttr],
    /// In the dialect's schema but not changeable there: an error, not ignored.
    pub read_only: &'static [UserAttr],
    pub unknown: Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAttr {
    UserName,
    ExternalId,
    DisplayName,
    GivenName,
    FamilyName,
    Active,
    Locale,
    Emails,
    EmployeeNumber,
    CostCenter,
    Organization,
    Division,
    Department,
    Manager,
    /// The personal attributes of `roster_core::user::PROFILE_ATTRS`: nickName, profileUrl,
    /// preferredLanguage, timezone, the rest of `name`.
    Profile,
    /// `title` and `userType`: what others authorize on, not personal.
    Title,
    UserType,
    /// The personal multi-valued attributes: phoneNumbers, addresses, ims, photos.
    Multi,
    /// What downstream systems authorize on.
    Entitlements,
    Roles,
    X509Certificates,
}

impl UserPatchProfile {
    /// Every attribute Roster keeps is editable; an unknown one is an error (standard SCIM).
    pub const FULL: UserPatchProfile = UserPatchProfile {
        editable: &[
            UserAttr::UserName,
            UserAttr::ExternalId,
            UserAttr::DisplayName,
            UserAttr::GivenName,
            UserAttr::FamilyName,
            UserAttr::Active,
            UserAttr::Locale,
            UserAttr::Emails,
            UserAttr::EmployeeNumber,
            UserAttr::CostCenter,
            UserAttr::Organization,
            UserAttr::Division,
            UserAttr::Department,
            UserAttr::Manager,
            UserAttr::Profile,
            UserAttr::Title,
            UserAttr::UserType,
            UserAttr::Multi,
            UserAttr::Entitlements,
            UserAttr::Roles,
            UserAttr::X509Certificates,
        ],
        read_only: &[],
        unknown: Unknown::Reject,
    };

    /// Self-service: the personal profile only. What others authorize on (login, status,
    /// emails until a verified change exists, title, userType, entitlements, roles,
    /// certificates, the enterprise extension) is an error, not ignored.
    pub const PERSONAL: UserPatchProfile = UserPatchProfile {
        editable: &[
            UserAttr::DisplayName,
            UserAttr::GivenName,
            UserAttr::FamilyName,
            UserAttr::Locale,
            UserAttr::Profile,
            UserAttr::Multi,
        ],
        read_only: &[
            UserAttr::UserName,
            UserAttr::Active,
            UserAttr::ExternalId,
            UserAttr::Emails,
            UserAttr::Title,
            UserAttr::UserType,
            UserAttr::Entitlements,
            UserAttr::Roles,
            UserAttr::X509Certificates,
            UserAttr::EmployeeNumber,
            UserAttr::CostCenter,
            UserAttr::Organization,
            UserAttr::Division,
            UserAttr::Department,
            UserAttr::Manager,
        ],
        unknown: Unknown::Reject,
    };
}

impl UserAttr {
    /// The Enterprise User extension's attributes.
    pub const ENTERPRISE: [UserAttr; 6] = [
        UserAttr::EmployeeNumber,
        UserAttr::CostCenter,
        UserAttr::Organization,
        UserAttr::Division,
        UserAttr::Department,
        UserAttr::Manager,
    ];
}

mod group;
mod multi;
mod user;

pub use group::{group_change, parse_member_id};
pub use multi::parse_email;
pub use user::{apply_user_patch, parse_bool, parse_manager};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::{MemberOp, NewMember, Role};
    use crate::user::{Email, User, UserName};
    use serde_json::json;
    use uuid::Uuid;

    fn user() -> User {
        let mut new = crate::NewUser::new(UserName::parse("bjensen").unwrap());
        new.display_name = Some("Barbara".into());
        new.emails = vec![Email {
            value: "b@x.com".into(),
            kind: Some("work".into()),
            primary: true,
            display: None,
        }];
        new.stored(1, Uuid::nil(), 0)
    }

    const ALL: UserPatchProfile = UserPatchProfile::FULL;

    fn ops(v: Json) -> Vec<PatchOp> {
        parse_patch(&json!({"schemas": [PATCH_OP_URN], "Operations": v})).unwrap()
    }

    #[test]
    fn replace_without_path_and_entra_strings() {
        let mut u = user();
        apply_user_patch(&mut u, &ops(json!([{"op": "Replace", "value": {"displayName": "B", "active": "False", "name": {"givenName": "Bab"}}}])), &ALL).unwrap();
        assert_eq!(u.display_name.as_deref(), Some("B"));
        assert!(!u.active);
        assert_eq!(u.given_name.as_deref(), Some("Bab"));
    }

    #[test]
    fn odm_object_value_with_path_is_unwrapped() {
        let mut u = user();
        apply_user_patch(
            &mut u,
            &ops(json!([{"op": "replace", "path": "displayName", "value": {"displayName": "X"}}])),
            &ALL,
        )
        .unwrap();
        assert_eq!(u.display_name.as_deref(), Some("X"));
    }

    #[test]
    fn read_only_and_unknown() {
        let mut u = user();
        let e = apply_user_patch(
            &mut u,
            &ops(json!([{"op": "replace", "path": "id", "value": "x"}])),
            &ALL,
        );
        assert!(matches!(e, Err(CoreError::Mutability(_))));
        let e = apply_user_patch(
            &mut u,
            &ops(json!([{"op": "replace", "path": "nickName2", "value": "x"}])),
            &ALL,
        );
        assert!(matches!(e, Err(CoreError::InvalidPath(_))));
        let odm = UserPatchProfile {
            editable: &[UserAttr::DisplayName],
            read_only: &[UserAttr::Emails],
            unknown: Unknown::Ignore,
        };
        apply_user_patch(
            &mut u,
            &ops(json!([{"op": "replace", "path": "name.familyName", "value": "x"}])),
            &odm,
        )
        .unwrap();
        assert_eq!(u, user());
    }

    #[test]
    fn email_value_path() {
        let mut u = user();
        apply_user_patch(&mut u, &ops(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "n@x.com"}])), &ALL).unwrap();
        assert_eq!(u.emails[0].value, "n@x.com");
        let e = apply_user_patch(
            &mut u,
            &ops(json!([{"op": "remove", "path": "emails[type eq \"home\"]"}])),
            &ALL,
        );
        assert!(matches!(e, Err(CoreError::NoTarget(_))));
        apply_user_patch(
            &mut u,
            &ops(json!([{"op": "remove", "path": "emails[type eq \"work\"]"}])),
            &ALL,
        )
        .unwrap();
        assert!(u.emails.is_empty());
    }

    #[test]
    fn group_member_ops() {
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        let c = group_change(&ops(json!([
            {"op": "add", "path": "members", "value": {"value": a.to_string()}},
            {"op": "remove", "path": format!("members[value eq \"{b}\"]")},
            {"op": "replace", "path": format!("members[value eq \"{a}\"].role"), "value": "admin"},
            {"op": "replace", "value": {"displayName": "G", "nosuch": 1}},
        ])), Unknown::Ignore, "").unwrap();
        assert_eq!(
            c.members,
            vec![
                MemberOp::Add(vec![NewMember::new(a, None)]),
                MemberOp::Remove(vec![b]),
                MemberOp::Add(vec![NewMember::new(a, Some(Role::Admin))])
            ]
        );
        assert_eq!(c.display_name.as_deref(), Some("G"));
        assert!(matches!(
            group_change(
                &ops(json!([{"op": "replace", "path": "id", "value": "x"}])),
                Unknown::Ignore,
                ""
            ),
            Err(CoreError::Mutability(_))
        ));
        assert!(matches!(
            group_change(
                &ops(json!([{"op": "add", "path": "members", "value": {"value": "nope"}}])),
                Unknown::Ignore,
                ""
            ),
            Err(CoreError::InvalidValue(_))
        ));
    }

    #[test]
    fn malformed_patch_bodies() {
        for bad in [
            json!({}),
            json!({"schemas": [PATCH_OP_URN]}),
            json!({"schemas": [], "Operations": [{"op": "add", "value": {}}]}),
            json!({"schemas": [PATCH_OP_URN], "Operations": []}),
            json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "upsert", "value": {}}]}),
            json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "add"}]}),
            json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "remove"}]}),
        ] {
            assert!(parse_patch(&bad).is_err(), "{bad}");
        }
    }
}
