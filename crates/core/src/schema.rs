//! Attribute resolution: turns a parsed [`Filter`] into a typed [`Cond`] over the fields
//! the store knows how to query. Attribute names match case-insensitively (RFC 7643 §2.1);
//! string values of case-insensitive attributes are folded here so the store compares
//! folded with folded.

use uuid::Uuid;

use crate::filter::{AttrPath, CompareOp, Filter, Value};
use crate::user::fold;
use crate::{parse_datetime, CoreError, Micros};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Roster's extension of Group: an organization's `slug` (read-only; `roster org`).
pub const ROSTER_GROUP_SCHEMA: &str = "urn:roster:params:scim:schemas:extension:roster:2.0:Group";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    UserId,
    UserName,
    UserExternalId,
    /// The user's number (`seq`): no SCIM attribute; dialects with integer ids filter and
    /// sort on it by name.
    UserSeq,
    UserDisplayName,
    GivenName,
    FamilyName,
    Active,
    /// The organization's owner (no SCIM attribute: dialects filter on it by name).
    Owner,
    Locale,
    UserCreated,
    UserLastModified,
    EmployeeNumber,
    CostCenter,
    Organization,
    Division,
    Department,
    ManagerValue,
    /// One of [`crate::user::PROFILE_ATTRS`], by index.
    Profile(usize),
    EmailValue,
    EmailType,
    EmailPrimary,
    GroupId,
    GroupDisplayName,
    GroupExternalId,
    GroupCreated,
    GroupLastModified,
    MemberValue,
    /// A user's `groups` (RFC 7643 §4.1.2): the group's id, its displayName, and the
    /// membership type, always "direct" (Roster has no nested groups).
    UserGroupValue,
    UserGroupDisplay,
    UserGroupType,
}

/// Multi-valued attributes that live in their own table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    Emails,
    Members,
    /// The groups a user is a member of (read from the memberships).
    Groups,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Text compared case-insensitively: values are folded.
    TextCi,
    /// Text compared exactly.
    Text,
    Bool,
    DateTime,
    Int,
}

impl Field {
    pub fn ty(self) -> FieldType {
        use Field::*;
        match self {
            UserId | UserExternalId | GroupId | GroupExternalId | MemberValue | EmployeeNumber
            | ManagerValue | UserGroupValue => FieldType::Text,
            CostCenter | Organization | Division | Department => FieldType::TextCi,
            // profileUrl is a URI: compared exactly.
            Profile(3) => FieldType::Text,
            Profile(_) => FieldType::TextCi,
            UserName | UserDisplayName | GivenName | FamilyName | Locale | EmailValue
            | EmailType | GroupDisplayName | UserGroupDisplay | UserGroupType => FieldType::TextCi,
            Active | Owner | EmailPrimary => FieldType::Bool,
            UserSeq => FieldType::Int,
            UserCreated | UserLastModified | GroupCreated | GroupLastModified => {
                FieldType::DateTime
            }
        }
    }
}

/// A typed comparison value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Text(String),
    Time(Micros),
    Int(i64),
}

/// A filter resolved against a schema; what the store compiles to SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Cmp(Field, CompareOp, Scalar),
    Present(Field),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    /// Some element of the collection satisfies the inner condition (over its sub-fields).
    Any(Collection, Option<Box<Cond>>),
}

/// Which resource a filter is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    User,
    Group,
}

enum Resolved {
    Field(Field),
    /// A multi-valued attribute: the sub-field compared when none is named.
    Multi(Collection, Field),
}

fn unknown(attr: &AttrPath) -> CoreError {
    if attr.name.eq_ignore_ascii_case("password") {
        // RFC 7644 §3.12 "sensitive": a filter travels in the URL, where it gets logged.
        return CoreError::Sensitive(
            "password cannot appear in a filter: URLs are logged and cached".into(),
        );
    }
    CoreError::InvalidFilter(format!("unknown or unfilterable attribute {attr}"))
}

fn resolve_attr(res: Resource, attr: &AttrPath) -> Result<Resolved, CoreError> {
    let core = match res {
        Resource::User => USER_SCHEMA,
        Resource::Group => GROUP_SCHEMA,
    };
    let name = attr.name.to_ascii_lowercase();
    let sub = attr.sub.as_deref().map(str::to_ascii_lowercase);
    if let Some(uri) = &attr.uri {
        if res == Resource::User && uri.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) {
            return enterprise_field(&name, sub.as_deref())
                .map(Resolved::Field)
                .ok_or_else(|| unknown(attr));
        }
        if !uri.eq_ignore_ascii_case(core) {
            return Err(unknown(attr));
        }
    }
    let f = match (res, name.as_str(), sub.as_deref()) {
        (Resource::User, "id", None) => Field::UserId,
        (Resource::User, "username", None) => Field::UserName,
        (Resource::User, "externalid", None) => Field::UserExternalId,
        (Resource::User, "displayname", None) => Field::UserDisplayName,
        (Resource::User, "name", Some("givenname")) => Field::GivenName,
        (Resource::User, "name", Some("familyname")) => Field::FamilyName,
        (Resource::User, "active", None) => Field::Active,
        (Resource::User, "locale", None) => Field::Locale,
        (Resource::User, "meta", Some("created")) => Field::UserCreated,
        (Resource::User, "meta", Some("lastmodified")) => Field::UserLastModified,
        (Resource::User, "emails", None) => {
            return Ok(Resolved::Multi(Collection::Emails, Field::EmailValue))
        }
        (Resource::User, "emails", Some(s)) => {
            return email_sub(s)
                .map(|f| Resolved::Multi(Collection::Emails, f))
                .ok_or_else(|| unknown(attr))
        }
        (Resource::User, "groups", None) => {
            return Ok(Resolved::Multi(Collection::Groups, Field::UserGroupValue))
        }
        (Resource::User, "groups", Some(s)) => {
            return group_sub(s)
                .map(|f| Resolved::Multi(Collection::Groups, f))
                .ok_or_else(|| unknown(attr))
        }
        (Resource::User, n, s) if crate::user::profile_index(&attr_key(n, s)).is_some() => {
            Field::Profile(crate::user::profile_index(&attr_key(n, s)).unwrap_or_default())
        }
        // A name only the enterprise extension defines needs no URN (RFC 7644 §3.10: the
        // core User schema has no attribute of that name, so it is unambiguous).
        (Resource::User, n, s) if attr.uri.is_none() && enterprise_field(n, s).is_some() => {
            enterprise_field(n, s).unwrap_or(Field::ManagerValue)
        }
        (Resource::Group, "id", None) => Field::GroupId,
        (Resource::Group, "displayname", None) => Field::GroupDisplayName,
        (Resource::Group, "externalid", None) => Field::GroupExternalId,
        (Resource::Group, "meta", Some("created")) => Field::GroupCreated,
        (Resource::Group, "meta", Some("lastmodified")) => Field::GroupLastModified,
        (Resource::Group, "members", None | Some("value")) => {
            return Ok(Resolved::Multi(Collection::Members, Field::MemberValue))
        }
        _ => return Err(unknown(attr)),
    };
    Ok(Resolved::Field(f))
}

fn attr_key(name: &str, sub: Option<&str>) -> String {
    match sub {
        Some(s) => format!("{name}.{s}"),
        None => name.to_owned(),
    }
}

fn enterprise_field(name: &str, sub: Option<&str>) -> Option<Field> {
    Some(match (name, sub) {
        ("employeenumber", None) => Field::EmployeeNumber,
        ("costcenter", None) => Field::CostCenter,
        ("organization", None) => Field::Organization,
        ("division", None) => Field::Division,
        ("department", None) => Field::Department,
        ("manager", None | Some("value")) => Field::ManagerValue,
        _ => return None,
    })
}

fn email_sub(s: &str) -> Option<Field> {
    match s {
        "value" => Some(Field::EmailValue),
        "type" => Some(Field::EmailType),
        "primary" => Some(Field::EmailPrimary),
        _ => None,
    }
}

fn member_sub(s: &str) -> Option<Field> {
    (s == "value").then_some(Field::MemberValue)
}

fn group_sub(s: &str) -> Option<Field> {
    match s {
        "value" => Some(Field::UserGroupValue),
        "display" => Some(Field::UserGroupDisplay),
        "type" => Some(Field::UserGroupType),
        _ => None,
    }
}

/// A validated sort order (RFC 7644 §3.4.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub field: Field,
    pub descending: bool,
}

/// Resolves `sortBy` / `sortOrder`. Only single-valued attributes sort; `emails` sorts by
/// nothing useful without its primary value, so it is refused rather than guessed.
pub fn resolve_sort(
    res: Resource,
    sort_by: &str,
    sort_order: Option<&str>,
) -> Result<Sort, CoreError> {
    let attr = crate::filter::parse_attr_path(sort_by.trim()).map_err(|_| {
        CoreError::invalid_value(format!("sortBy {sort_by:?} is not an attribute path"))
    })?;
    let field = match resolve_attr(res, &attr) {
        Ok(Resolved::Field(f)) => f,
        _ => {
            return Err(CoreError::invalid_value(format!(
                "cannot sort by {sort_by:?}: sortBy takes a single-valued attribute such as userName, displayName, name.familyName or meta.lastModified"
            )))
        }
    };
    let descending = match sort_order.map(str::to_ascii_lowercase).as_deref() {
        None | Some("ascending") => false,
        Some("descending") => true,
        Some(other) => {
            return Err(CoreError::invalid_value(format!(
                "sortOrder must be \"ascending\" or \"descending\", got {other:?}"
            )))
        }
    };
    Ok(Sort { field, descending })
}

/// Resolves a filter over users or groups.
pub fn resolve(res: Resource, f: &Filter) -> Result<Cond, CoreError> {
    Ok(match f {
        Filter::And(a, b) => Cond::And(Box::new(resolve(res, a)?), Box::new(resolve(res, b)?)),
        Filter::Or(a, b) => Cond::Or(Box::new(resolve(res, a)?), Box::new(resolve(res, b)?)),
        Filter::Not(a) => Cond::Not(Box::new(resolve(res, a)?)),
        Filter::Present(attr) => match resolve_attr(res, attr)? {
            Resolved::Field(f) => Cond::Present(f),
            Resolved::Multi(c, f) if attr.sub.is_some() => {
                Cond::Any(c, Some(Box::new(Cond::Present(f))))
            }
            Resolved::Multi(c, _) => Cond::Any(c, None),
        },
        Filter::Compare { attr, op, value } => match resolve_attr(res, attr)? {
            Resolved::Field(f) => compare(f, *op, value)?,
            Resolved::Multi(c, f) => Cond::Any(c, Some(Box::new(compare(f, *op, value)?))),
        },
        Filter::ValuePath { attr, filter } => {
            let Resolved::Multi(c, _) = resolve_attr(res, attr)? else {
                return Err(CoreError::InvalidFilter(format!(
                    "{attr} is not multi-valued; a [filter] needs a multi-valued attribute"
                )));
            };
            Cond::Any(c, Some(Box::new(resolve_sub(c, filter)?)))
        }
    })
}

/// Resolves the inside of `emails[...]`: names are sub-attributes of the collection.
fn resolve_sub(c: Collection, f: &Filter) -> Result<Cond, CoreError> {
    let field = |attr: &AttrPath| -> Result<Field, CoreError> {
        let name = attr.name.to_ascii_lowercase();
        let found = match c {
            Collection::Emails => email_sub(&name),
            Collection::Members => member_sub(&name),
            Collection::Groups => group_sub(&name),
        };
        match found {
            Some(f) if attr.sub.is_none() && attr.uri.is_none() => Ok(f),
            _ => Err(unknown(attr)),
        }
    };
    Ok(match f {
        Filter::And(a, b) => Cond::And(Box::new(resolve_sub(c, a)?), Box::new(resolve_sub(c, b)?)),
        Filter::Or(a, b) => Cond::Or(Box::new(resolve_sub(c, a)?), Box::new(resolve_sub(c, b)?)),
        Filter::Not(a) => Cond::Not(Box::new(resolve_sub(c, a)?)),
        Filter::Present(attr) => Cond::Present(field(attr)?),
        Filter::Compare { attr, op, value } => compare(field(attr)?, *op, value)?,
        Filter::ValuePath { attr, .. } => {
            return Err(CoreError::InvalidFilter(format!(
                "value filters cannot be nested ({attr}[...] inside [...])"
            )))
        }
    })
}

fn compare(f: Field, op: CompareOp, value: &Value) -> Result<Cond, CoreError> {
    use CompareOp::*;
    let mismatch = |expected: &str| {
        CoreError::InvalidFilter(format!(
            "{f:?} compares with {expected}; {op:?} {value} does not fit",
            f = f,
            op = op.as_str()
        ))
    };
    if *value == Value::Null {
        // RFC 7644 §3.4.2.2: null compares as "no value".
        return match op {
            Eq => Ok(Cond::Not(Box::new(Cond::Present(f)))),
            Ne => Ok(Cond::Present(f)),
            _ => Err(mismatch("eq or ne for null")),
        };
    }
    let scalar = match (f.ty(), value) {
        // No stored text holds a NUL (writes refuse it), and PostgreSQL cannot take one.
        (_, Value::String(s)) if s.contains('\0') => {
            return Err(CoreError::InvalidFilter(
                "a filter value must not contain NUL".into(),
            ))
        }
        (FieldType::TextCi, Value::String(s)) => Scalar::Text(fold(s)),
        (FieldType::Text, Value::String(s)) => {
            if matches!(
                f,
                Field::UserId
                    | Field::GroupId
                    | Field::MemberValue
                    | Field::ManagerValue
                    | Field::UserGroupValue
            ) {
                // Ids are stored in canonical lower-case hyphenated form.
                Scalar::Text(
                    Uuid::parse_str(s)
                        .map(|u| u.to_string())
                        .unwrap_or_else(|_| s.clone()),
                )
            } else {
                Scalar::Text(s.clone())
            }
        }
        (FieldType::Bool, Value::Bool(b)) => {
            if !matches!(op, Eq | Ne) {
                return Err(mismatch("eq or ne"));
            }
            Scalar::Bool(*b)
        }
        (FieldType::DateTime, Value::String(s)) => {
            if matches!(op, Co | Sw | Ew) {
                return Err(mismatch("eq ne gt ge lt le"));
            }
            Scalar::Time(parse_datetime(s).ok_or_else(|| {
                CoreError::InvalidFilter(format!("{s:?} is not an RFC 3339 date-time"))
            })?)
        }
        (FieldType::TextCi | FieldType::Text, _) => return Err(mismatch("a \"string\"")),
        (FieldType::Bool, _) => return Err(mismatch("true or false")),
        (FieldType::DateTime, _) => return Err(mismatch("a \"date-time\" string")),
        (FieldType::Int, Value::Number(n)) => {
            if matches!(op, Co | Sw | Ew) {
                return Err(mismatch("eq ne gt ge lt le"));
            }
            Scalar::Int(n.as_i64().ok_or_else(|| mismatch("an integer"))?)
        }
        (FieldType::Int, _) => return Err(mismatch("an integer")),
    };
    Ok(Cond::Cmp(f, op, scalar))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::parse_filter;

    fn user(s: &str) -> Result<Cond, CoreError> {
        resolve(Resource::User, &parse_filter(s)?)
    }

    #[test]
    fn folds_case_insensitive_values() {
        assert_eq!(
            user(r#"USERNAME eq "BJensen""#).unwrap(),
            Cond::Cmp(
                Field::UserName,
                CompareOp::Eq,
                Scalar::Text("bjensen".into())
            )
        );
    }

    #[test]
    fn emails_value_path() {
        let c = user(r#"emails[type eq "work" and value eq "A@x.com"]"#).unwrap();
        let Cond::Any(Collection::Emails, Some(inner)) = c else {
            panic!("{c:?}")
        };
        assert!(matches!(*inner, Cond::And(..)));
        assert!(matches!(
            user("emails.value co \"x\"").unwrap(),
            Cond::Any(Collection::Emails, Some(_))
        ));
    }

    #[test]
    fn type_errors_are_invalid_filter() {
        for bad in [
            "active eq \"yes\"",
            "active gt true",
            "userName eq true",
            "meta.created gt \"yesterday\"",
            "nosuch eq \"x\"",
            "emails[nosuch eq \"x\"]",
            "userName[value eq \"x\"]",
            "urn:x:y:userName eq \"a\"",
        ] {
            assert!(
                matches!(user(bad), Err(CoreError::InvalidFilter(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn groups_of_a_user() {
        let id = "2819C223-7F76-453A-919D-413861904646";
        assert_eq!(
            user(&format!("groups.value eq \"{id}\"")).unwrap(),
            Cond::Any(
                Collection::Groups,
                Some(Box::new(Cond::Cmp(
                    Field::UserGroupValue,
                    CompareOp::Eq,
                    Scalar::Text(id.to_ascii_lowercase())
                )))
            )
        );
        assert!(matches!(
            user(r#"groups[display co "eng" and type eq "direct"]"#).unwrap(),
            Cond::Any(Collection::Groups, Some(_))
        ));
        assert!(matches!(
            user("groups pr").unwrap(),
            Cond::Any(Collection::Groups, None)
        ));
        assert!(user(r#"groups.role eq "admin""#).is_err());
        assert!(resolve_sort(Resource::User, "groups", None).is_err());
    }

    #[test]
    fn enterprise_attributes_need_no_urn() {
        assert_eq!(
            user(r#"Department eq "Sales""#).unwrap(),
            Cond::Cmp(
                Field::Department,
                CompareOp::Eq,
                Scalar::Text("sales".into())
            )
        );
        assert!(matches!(
            user(r#"manager.value eq "x""#).unwrap(),
            Cond::Cmp(Field::ManagerValue, ..)
        ));
        // A core URN does not reach into the extension.
        assert!(user(&format!("{USER_SCHEMA}:department eq \"x\"")).is_err());
    }

    #[test]
    fn null_means_absent() {
        assert_eq!(
            user("externalId eq null").unwrap(),
            Cond::Not(Box::new(Cond::Present(Field::UserExternalId)))
        );
    }
}
