//! SCIM PATCH (RFC 7644 §3.5.2): parsing of the request, application to a user in memory
//! (the store wraps it in a transaction, so a failing operation changes nothing), and
//! translation of a group PATCH into a [`GroupChange`] of member deltas.

use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::filter::{parse_path, AttrPath, CompareOp, Filter, PatchPath, Value};
use crate::group::{GroupChange, MemberOp, Role};
use crate::user::{Email, User, UserName};
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
    let schemas = obj.get("schemas").and_then(Json::as_array).ok_or_else(|| {
        syntax(format!(
            "schemas must be an array containing \"{PATCH_OP_URN}\""
        ))
    })?;
    if !schemas.iter().any(|s| s.as_str() == Some(PATCH_OP_URN)) {
        return Err(syntax(format!("schemas must contain \"{PATCH_OP_URN}\"")));
    }
    let ops = obj
        .get("Operations")
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
    let kind = match o
        .get("op")
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
    let path = match o.get("path") {
        None | Some(Json::Null) => None,
        Some(Json::String(p)) => Some(parse_path(p)?),
        Some(_) => {
            return Err(CoreError::InvalidPath(format!(
                "Operations[{i}].path must be a string"
            )))
        }
    };
    let value = o.get("value").filter(|v| !v.is_null()).cloned();
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
                    (_, Some(Json::Object(m))) => match m.get("password") {
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

enum Target {
    Attr(UserAttr),
    ReadOnly(&'static str),
    Unknown,
}

fn user_target(attr: &AttrPath) -> Target {
    let name = attr.name.to_ascii_lowercase();
    let sub = attr.sub.as_deref().map(str::to_ascii_lowercase);
    if let Some(uri) = &attr.uri {
        if uri.eq_ignore_ascii_case(crate::schema::ENTERPRISE_SCHEMA) {
            return match (name.as_str(), sub.as_deref()) {
                ("employeenumber", None) => Target::Attr(UserAttr::EmployeeNumber),
                ("costcenter", None) => Target::Attr(UserAttr::CostCenter),
                ("organization", None) => Target::Attr(UserAttr::Organization),
                ("division", None) => Target::Attr(UserAttr::Division),
                ("department", None) => Target::Attr(UserAttr::Department),
                ("manager", None | Some("value")) => Target::Attr(UserAttr::Manager),
                ("manager", Some(_)) => Target::ReadOnly("manager.displayName"),
                _ => Target::Unknown,
            };
        }
        if !uri.eq_ignore_ascii_case(crate::schema::USER_SCHEMA) {
            return Target::Unknown;
        }
    }
    match (name.as_str(), sub.as_deref()) {
        ("username", None) => Target::Attr(UserAttr::UserName),
        ("externalid", None) => Target::Attr(UserAttr::ExternalId),
        ("displayname", None) => Target::Attr(UserAttr::DisplayName),
        ("name", Some("givenname")) => Target::Attr(UserAttr::GivenName),
        ("name", Some("familyname")) => Target::Attr(UserAttr::FamilyName),
        ("active", None) => Target::Attr(UserAttr::Active),
        ("locale", None) => Target::Attr(UserAttr::Locale),
        ("emails", _) => Target::Attr(UserAttr::Emails),
        ("id", None) => Target::ReadOnly("id"),
        ("meta", _) => Target::ReadOnly("meta"),
        ("schemas", None) => Target::ReadOnly("schemas"),
        ("groups", _) => Target::ReadOnly("groups"),
        ("password", None) => Target::ReadOnly("password"),
        _ => Target::Unknown,
    }
}

/// Applies every operation to `user`; on error the caller discards the copy.
pub fn apply_user_patch(
    user: &mut User,
    ops: &[PatchOp],
    profile: &UserPatchProfile,
) -> Result<(), CoreError> {
    for op in ops {
        match &op.path {
            Some(path) => apply_user_path(user, op.op, path, op.value.as_ref(), profile)?,
            None => {
                let Some(Json::Object(map)) = &op.value else {
                    return Err(CoreError::invalid_value(
                        "an operation without path needs an object value of attribute: value pairs",
                    ));
                };
                for (key, v) in flatten_no_path(map) {
                    let path = parse_path(&key)?;
                    apply_user_path(user, op.op, &path, Some(&v), profile)?;
                }
            }
        }
    }
    user.validate()
}

/// `{"name": {"givenName": "x"}}` → `name.givenName`; keys that are already paths stay.
fn flatten_no_path(map: &Map<String, Json>) -> Vec<(String, Json)> {
    let mut out = Vec::new();
    for (k, v) in map {
        match v {
            Json::Object(inner) if k.eq_ignore_ascii_case("name") => {
                for (sk, sv) in inner {
                    out.push((format!("name.{sk}"), sv.clone()));
                }
            }
            // {"urn:...:enterprise:2.0:User": {"department": "x"}} → URN:department
            Json::Object(inner) if k.eq_ignore_ascii_case(crate::schema::ENTERPRISE_SCHEMA) => {
                for (sk, sv) in inner {
                    out.push((format!("{k}:{sk}"), sv.clone()));
                }
            }
            _ => out.push((k.clone(), v.clone())),
        }
    }
    out
}

/// The ODM SDK can only send an object as `value`, so `path: "displayName"` arrives with
/// `value: {"displayName": "X"}`: unwrap such a one-key object aimed at a simple attribute.
fn unwrap_named(path: &PatchPath, value: &Json) -> Json {
    let leaf = path
        .sub
        .as_deref()
        .or(path.attr.sub.as_deref())
        .unwrap_or(&path.attr.name);
    if let Json::Object(m) = value {
        if let Some((_, v)) = m.iter().find(|(k, _)| k.eq_ignore_ascii_case(leaf)) {
            return v.clone();
        }
    }
    value.clone()
}

fn apply_user_path(
    user: &mut User,
    op: OpKind,
    path: &PatchPath,
    value: Option<&Json>,
    profile: &UserPatchProfile,
) -> Result<(), CoreError> {
    let attr = match user_target(&path.attr) {
        Target::Attr(a) if profile.editable.contains(&a) => a,
        Target::ReadOnly(name) => {
            return Err(CoreError::Mutability(format!(
                "{name} is read-only and cannot be changed"
            )))
        }
        Target::Attr(a) if profile.read_only.contains(&a) => {
            return Err(CoreError::Mutability(format!(
                "{} cannot be changed here",
                path.attr
            )))
        }
        Target::Unknown | Target::Attr(_) => {
            return match profile.unknown {
                Unknown::Ignore => Ok(()),
                Unknown::Reject => Err(CoreError::InvalidPath(format!(
                    "{} is not an attribute that can be patched",
                    path.attr
                ))),
            }
        }
    };
    if attr == UserAttr::Emails {
        return apply_emails(user, op, path, value);
    }
    if path.filter.is_some() {
        return Err(CoreError::InvalidPath(format!(
            "{} is single-valued; a [filter] does not apply",
            path.attr
        )));
    }
    let value = value.map(|v| unwrap_named(path, v));
    let text = |v: &Option<Json>| -> Result<Option<String>, CoreError> {
        match v {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(CoreError::invalid_value(format!(
                "{} must be a string",
                path.attr
            ))),
        }
    };
    let removing = op == OpKind::Remove;
    let new_text = || if removing { Ok(None) } else { text(&value) };
    match attr {
        UserAttr::UserName => {
            let s = new_text()?.ok_or_else(|| {
                CoreError::invalid_value("userName is required and cannot be removed")
            })?;
            user.user_name = UserName::parse(&s)?;
        }
        UserAttr::ExternalId => user.external_id = new_text()?,
        UserAttr::DisplayName => user.display_name = new_text()?,
        UserAttr::GivenName => user.given_name = new_text()?,
        UserAttr::FamilyName => user.family_name = new_text()?,
        UserAttr::Locale => user.locale = new_text()?,
        UserAttr::EmployeeNumber => user.enterprise.employee_number = new_text()?,
        UserAttr::CostCenter => user.enterprise.cost_center = new_text()?,
        UserAttr::Organization => user.enterprise.organization = new_text()?,
        UserAttr::Division => user.enterprise.division = new_text()?,
        UserAttr::Department => user.enterprise.department = new_text()?,
        UserAttr::Manager => {
            user.enterprise.manager = if removing {
                None
            } else {
                parse_manager(value.as_ref())?
            };
        }
        UserAttr::Active => {
            if removing {
                return Err(CoreError::invalid_value(
                    "active cannot be removed; set it to false",
                ));
            }
            user.active = parse_bool(value.as_ref(), "active")?;
        }
        UserAttr::Emails => {}
    }
    Ok(())
}

/// A manager reference: the id as a string (Entra ID) or `{"value": id}` (RFC 7643 §4.3);
/// an empty value clears it.
pub fn parse_manager(v: Option<&Json>) -> Result<Option<String>, CoreError> {
    let id = match v {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::String(s)) => s.clone(),
        Some(Json::Object(m)) => match m.get("value") {
            None | Some(Json::Null) => return Ok(None),
            Some(Json::String(s)) => s.clone(),
            Some(_) => return Err(CoreError::invalid_value("manager.value must be a string")),
        },
        Some(_) => {
            return Err(CoreError::invalid_value(
                "manager must be a user id or {\"value\": id}",
            ))
        }
    };
    if id.is_empty() {
        return Ok(None);
    }
    uuid::Uuid::parse_str(&id)
        .map(|u| Some(u.to_string()))
        .map_err(|_| CoreError::invalid_value(format!("manager {id:?} is not a user id")))
}

/// Booleans, plus the strings "true"/"false" in any case that Entra ID sends.
pub fn parse_bool(v: Option<&Json>, name: &str) -> Result<bool, CoreError> {
    match v {
        Some(Json::Bool(b)) => Ok(*b),
        Some(Json::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Json::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(CoreError::invalid_value(format!(
            "{name} must be true or false"
        ))),
    }
}

fn parse_emails(v: &Json) -> Result<Vec<Email>, CoreError> {
    let items: Vec<Json> = match v {
        Json::Array(a) => a.clone(),
        Json::Object(_) => vec![v.clone()],
        _ => {
            return Err(CoreError::invalid_value(
                "emails must be an array of email objects",
            ))
        }
    };
    items.iter().map(parse_email).collect()
}

/// One email object (`value`, `type`, `primary`).
pub fn parse_email(v: &Json) -> Result<Email, CoreError> {
    let o = v
        .as_object()
        .ok_or_else(|| CoreError::invalid_value("each email must be an object"))?;
    let value = o
        .get("value")
        .and_then(Json::as_str)
        .ok_or_else(|| CoreError::invalid_value("emails[].value must be a string"))?;
    let kind = match o.get("type") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(_) => return Err(CoreError::invalid_value("emails[].type must be a string")),
    };
    let primary = match o.get("primary") {
        None | Some(Json::Null) => false,
        p => parse_bool(p, "emails[].primary")?,
    };
    let e = Email {
        value: value.to_owned(),
        kind,
        primary,
    };
    e.validate()?;
    Ok(e)
}

fn email_matches(e: &Email, f: &Filter) -> Result<bool, CoreError> {
    Ok(match f {
        Filter::And(a, b) => email_matches(e, a)? && email_matches(e, b)?,
        Filter::Or(a, b) => email_matches(e, a)? || email_matches(e, b)?,
        Filter::Not(a) => !email_matches(e, a)?,
        Filter::Present(a) => match a.name.to_ascii_lowercase().as_str() {
            "value" => true,
            "type" => e.kind.is_some(),
            "primary" => e.primary,
            _ => false,
        },
        Filter::Compare { attr, op, value } => {
            let field = attr.name.to_ascii_lowercase();
            match (field.as_str(), value) {
                ("value", Value::String(s)) => {
                    text_op(&e.value.to_lowercase(), *op, &s.to_lowercase())
                }
                ("type", Value::String(s)) => text_op(
                    &e.kind.clone().unwrap_or_default().to_lowercase(),
                    *op,
                    &s.to_lowercase(),
                ),
                ("primary", Value::Bool(b)) => match op {
                    CompareOp::Eq => e.primary == *b,
                    CompareOp::Ne => e.primary != *b,
                    _ => false,
                },
                _ => {
                    return Err(CoreError::InvalidFilter(format!(
                        "emails has no sub-attribute filter {attr} {} {value}",
                        op.as_str()
                    )))
                }
            }
        }
        Filter::ValuePath { .. } => {
            return Err(CoreError::InvalidFilter(
                "nested value filters are not allowed".into(),
            ))
        }
    })
}

fn text_op(a: &str, op: CompareOp, b: &str) -> bool {
    match op {
        CompareOp::Eq => a == b,
        CompareOp::Ne => a != b,
        CompareOp::Co => a.contains(b),
        CompareOp::Sw => a.starts_with(b),
        CompareOp::Ew => a.ends_with(b),
        CompareOp::Gt => a > b,
        CompareOp::Ge => a >= b,
        CompareOp::Lt => a < b,
        CompareOp::Le => a <= b,
    }
}

fn apply_emails(
    user: &mut User,
    op: OpKind,
    path: &PatchPath,
    value: Option<&Json>,
) -> Result<(), CoreError> {
    let sub = path.sub.clone().or_else(|| path.attr.sub.clone());
    match (&path.filter, op) {
        (None, OpKind::Remove) if sub.is_none() => user.emails.clear(),
        (None, OpKind::Add) if sub.is_none() => {
            let new = parse_emails(value.unwrap_or(&Json::Null))?;
            if new.iter().any(|e| e.primary) {
                user.emails.iter_mut().for_each(|e| e.primary = false);
            }
            for e in new {
                if !user
                    .emails
                    .iter()
                    .any(|x| x.value.eq_ignore_ascii_case(&e.value))
                {
                    user.emails.push(e);
                }
            }
        }
        (None, OpKind::Replace) if sub.is_none() => {
            user.emails = parse_emails(value.unwrap_or(&Json::Null))?;
        }
        (Some(f), _) => {
            let idx: Vec<usize> = user
                .emails
                .iter()
                .enumerate()
                .filter_map(|(i, e)| match email_matches(e, f) {
                    Ok(true) => Some(Ok(i)),
                    Ok(false) => None,
                    Err(err) => Some(Err(err)),
                })
                .collect::<Result<_, _>>()?;
            if idx.is_empty() {
                if op == OpKind::Remove || op == OpKind::Replace {
                    return Err(CoreError::NoTarget(format!("no email matches {f}")));
                }
                // add with a filter that matches nothing: nothing to amend.
                return Ok(());
            }
            if op == OpKind::Remove && sub.is_none() {
                let mut i = 0;
                user.emails.retain(|_| {
                    let keep = !idx.contains(&i);
                    i += 1;
                    keep
                });
                return Ok(());
            }
            for i in idx {
                if let Some(e) = user.emails.get_mut(i) {
                    set_email_sub(e, op, sub.as_deref(), value)?;
                }
            }
        }
        (None, _) => {
            return Err(CoreError::InvalidPath(
                "emails.<sub> needs a filter: emails[type eq \"work\"].value".into(),
            ))
        }
    }
    Ok(())
}

fn set_email_sub(
    e: &mut Email,
    op: OpKind,
    sub: Option<&str>,
    value: Option<&Json>,
) -> Result<(), CoreError> {
    match sub.map(str::to_ascii_lowercase).as_deref() {
        None => {
            *e = parse_email(value.unwrap_or(&Json::Null))?;
        }
        Some("value") => match (op, value) {
            (OpKind::Remove, _) => {
                return Err(CoreError::invalid_value("emails.value is required"))
            }
            (_, Some(Json::String(s))) => e.value = s.clone(),
            _ => return Err(CoreError::invalid_value("emails.value must be a string")),
        },
        Some("type") => match (op, value) {
            (OpKind::Remove, _) => e.kind = None,
            (_, Some(Json::String(s))) => e.kind = Some(s.clone()),
            _ => return Err(CoreError::invalid_value("emails.type must be a string")),
        },
        Some("primary") => {
            e.primary = op != OpKind::Remove && parse_bool(value, "emails.primary")?;
        }
        Some(other) => {
            return Err(CoreError::InvalidPath(format!(
                "emails has no sub-attribute {other}"
            )))
        }
    }
    Ok(())
}

// ----- groups -----------------------------------------------------------------------

/// Translates a group PATCH into one [`GroupChange`]; `unknown` decides what happens to
/// attributes outside the group schema.
pub fn group_change(ops: &[PatchOp], unknown: Unknown) -> Result<GroupChange, CoreError> {
    let mut change = GroupChange::default();
    for op in ops {
        match &op.path {
            Some(path) => group_path(&mut change, op.op, path, op.value.as_ref(), unknown)?,
            None => {
                let Some(Json::Object(map)) = &op.value else {
                    return Err(CoreError::invalid_value(
                        "an operation without path needs an object value of attribute: value pairs",
                    ));
                };
                for (k, v) in map {
                    let path = parse_path(k)?;
                    group_path(&mut change, op.op, &path, Some(v), unknown)?;
                }
            }
        }
    }
    change.validate()?;
    Ok(change)
}

fn group_path(
    change: &mut GroupChange,
    op: OpKind,
    path: &PatchPath,
    value: Option<&Json>,
    unknown: Unknown,
) -> Result<(), CoreError> {
    if let Some(uri) = &path.attr.uri {
        if !uri.eq_ignore_ascii_case(crate::schema::GROUP_SCHEMA) {
            return ignore_or_reject(path, unknown);
        }
    }
    let name = path.attr.name.to_ascii_lowercase();
    match name.as_str() {
        "members" => return members_op(change, op, path, value),
        "id" | "meta" | "schemas" => {
            return Err(CoreError::Mutability(format!(
                "{} is read-only and cannot be changed",
                path.attr.name
            )))
        }
        "displayname" | "externalid" if path.filter.is_some() || path.attr.sub.is_some() => {
            return Err(CoreError::InvalidPath(format!(
                "{} is a simple attribute",
                path.attr.name
            )))
        }
        "displayname" | "externalid" => {}
        _ => return ignore_or_reject(path, unknown),
    }
    let value = value.map(|v| unwrap_named(path, v));
    let text = match (op, &value) {
        (OpKind::Remove, _) | (_, None | Some(Json::Null)) => None,
        (_, Some(Json::String(s))) => Some(s.clone()),
        _ => {
            return Err(CoreError::invalid_value(format!(
                "{} must be a string",
                path.attr.name
            )))
        }
    };
    match name.as_str() {
        "displayname" => {
            change.display_name = Some(text.ok_or_else(|| {
                CoreError::invalid_value("displayName is required and cannot be removed")
            })?)
        }
        _ => change.external_id = Some(text),
    }
    Ok(())
}

fn ignore_or_reject(path: &PatchPath, unknown: Unknown) -> Result<(), CoreError> {
    match unknown {
        Unknown::Ignore => Ok(()),
        Unknown::Reject => Err(CoreError::InvalidPath(format!(
            "{} is not a group attribute that can be patched",
            path.attr
        ))),
    }
}

/// Parses a member id; a malformed one is the client's mistake.
pub fn parse_member_id(s: &str) -> Result<Uuid, CoreError> {
    Uuid::parse_str(s).map_err(|_| {
        CoreError::invalid_value(format!("member value {s:?} is not a user id (a UUID)"))
    })
}

fn member_items(value: Option<&Json>) -> Result<Vec<(Uuid, Option<Role>)>, CoreError> {
    let items: Vec<&Json> = match value {
        Some(Json::Array(a)) => a.iter().collect(),
        Some(v @ Json::Object(_)) => vec![v],
        _ => {
            return Err(CoreError::invalid_value(
                "members must be an array of {\"value\": \"<user id>\"} objects",
            ))
        }
    };
    items
        .into_iter()
        .map(|m| {
            let o = m.as_object().ok_or_else(|| {
                CoreError::invalid_value("each member must be an object with a value")
            })?;
            let id = o.get("value").and_then(Json::as_str).ok_or_else(|| {
                CoreError::invalid_value("each member needs a string value (the user id)")
            })?;
            let role = match o.get("role") {
                None | Some(Json::Null) => None,
                Some(Json::String(r)) => Some(r.parse::<Role>()?),
                Some(_) => return Err(CoreError::invalid_value("member role must be a string")),
            };
            Ok((parse_member_id(id)?, role))
        })
        .collect()
}

/// Ids named by a members filter: `value eq "x"`, optionally or-ed together.
fn filter_member_ids(f: &Filter, out: &mut Vec<Uuid>) -> Result<(), CoreError> {
    match f {
        Filter::Or(a, b) => {
            filter_member_ids(a, out)?;
            filter_member_ids(b, out)
        }
        Filter::Compare {
            attr,
            op: CompareOp::Eq,
            value: Value::String(s),
        } if attr.is("value") => {
            out.push(parse_member_id(s)?);
            Ok(())
        }
        _ => Err(CoreError::InvalidFilter(format!(
            "members can be selected by value eq \"<id>\" (optionally or-ed), not by {f}"
        ))),
    }
}

fn members_op(
    change: &mut GroupChange,
    op: OpKind,
    path: &PatchPath,
    value: Option<&Json>,
) -> Result<(), CoreError> {
    let sub = path
        .sub
        .as_deref()
        .or(path.attr.sub.as_deref())
        .map(str::to_ascii_lowercase);
    match (&path.filter, op, sub.as_deref()) {
        (None, OpKind::Add, None) => change.members.push(MemberOp::Add(member_items(value)?)),
        (None, OpKind::Replace, None) => {
            let items = member_items(value)?;
            change.members.push(MemberOp::Replace(
                items
                    .into_iter()
                    .map(|(id, role)| (id, role.unwrap_or(Role::Member)))
                    .collect(),
            ));
        }
        (None, OpKind::Remove, None) => match value {
            // Entra ID style: remove with a value listing the members.
            Some(v) => change.members.push(MemberOp::Remove(
                member_items(Some(v))?
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect(),
            )),
            None => change.members.push(MemberOp::RemoveAll),
        },
        (Some(f), OpKind::Remove, None) => {
            let mut ids = Vec::new();
            filter_member_ids(f, &mut ids)?;
            change.members.push(MemberOp::Remove(ids));
        }
        (Some(f), OpKind::Add | OpKind::Replace, Some("role")) => {
            let role = match value.map(|v| unwrap_named(path, v)) {
                Some(Json::String(r)) => r.parse::<Role>()?,
                _ => {
                    return Err(CoreError::invalid_value(
                        "members[...].role must be \"admin\" or \"member\"",
                    ))
                }
            };
            let mut ids = Vec::new();
            filter_member_ids(f, &mut ids)?;
            change.members.push(MemberOp::Add(
                ids.into_iter().map(|id| (id, Some(role))).collect(),
            ));
        }
        _ => {
            return Err(CoreError::InvalidPath(format!(
                "unsupported members operation {op:?} on path {}{}",
                path.attr,
                path.filter
                    .as_ref()
                    .map(|f| format!("[{f}]"))
                    .unwrap_or_default()
            )))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::Meta;
    use serde_json::json;

    fn user() -> User {
        User {
            seq: 1,
            id: Uuid::nil(),
            user_name: UserName::parse("bjensen").unwrap(),
            external_id: None,
            display_name: Some("Barbara".into()),
            given_name: None,
            family_name: None,
            emails: vec![Email {
                value: "b@x.com".into(),
                kind: Some("work".into()),
                primary: true,
            }],
            active: true,
            locale: None,
            enterprise: Default::default(),
            meta: Meta {
                created: 0,
                last_modified: 0,
                version: 1,
            },
            set_password_hash: None,
        }
    }

    const ALL: UserPatchProfile = UserPatchProfile {
        editable: &[
            UserAttr::UserName,
            UserAttr::ExternalId,
            UserAttr::DisplayName,
            UserAttr::GivenName,
            UserAttr::FamilyName,
            UserAttr::Active,
            UserAttr::Locale,
            UserAttr::Emails,
        ],
        read_only: &[],
        unknown: Unknown::Reject,
    };

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
        ])), Unknown::Ignore).unwrap();
        assert_eq!(
            c.members,
            vec![
                MemberOp::Add(vec![(a, None)]),
                MemberOp::Remove(vec![b]),
                MemberOp::Add(vec![(a, Some(Role::Admin))])
            ]
        );
        assert_eq!(c.display_name.as_deref(), Some("G"));
        assert!(matches!(
            group_change(
                &ops(json!([{"op": "replace", "path": "id", "value": "x"}])),
                Unknown::Ignore
            ),
            Err(CoreError::Mutability(_))
        ));
        assert!(matches!(
            group_change(
                &ops(json!([{"op": "add", "path": "members", "value": {"value": "nope"}}])),
                Unknown::Ignore
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
