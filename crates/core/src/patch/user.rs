//! User PATCH, applied in memory to the loaded user inside the store's transaction.

use serde_json::{Map, Value as Json};

use super::{multi, OpKind, PatchOp, Unknown, UserAttr, UserPatchProfile};
use crate::filter::{parse_path, AttrPath, PatchPath};
use crate::schema::{ENTERPRISE_SCHEMA, USER_SCHEMA};
use crate::user::{multi_name, profile_index, User, UserName, PROFILE_ATTRS};
use crate::CoreError;

enum Target {
    Attr(UserAttr),
    /// `name` as a whole.
    Name,
    Profile(usize),
    Multi(&'static str),
    /// The whole enterprise extension (`path: "urn:...:enterprise:2.0:User"`).
    Enterprise,
    ReadOnly(&'static str),
    Unknown,
}

fn enterprise_target(name: &str, sub: Option<&str>) -> Target {
    match (name, sub) {
        ("employeenumber", None) => Target::Attr(UserAttr::EmployeeNumber),
        ("costcenter", None) => Target::Attr(UserAttr::CostCenter),
        ("organization", None) => Target::Attr(UserAttr::Organization),
        ("division", None) => Target::Attr(UserAttr::Division),
        ("department", None) => Target::Attr(UserAttr::Department),
        ("manager", None | Some("value")) => Target::Attr(UserAttr::Manager),
        ("manager", Some(_)) => Target::ReadOnly("manager.$ref"),
        _ => Target::Unknown,
    }
}

fn user_target(attr: &AttrPath) -> Target {
    let name = attr.name.to_ascii_lowercase();
    let sub = attr.sub.as_deref().map(str::to_ascii_lowercase);
    if let Some(uri) = &attr.uri {
        if format!("{uri}:{}", attr.name).eq_ignore_ascii_case(ENTERPRISE_SCHEMA) {
            return Target::Enterprise;
        }
        if uri.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) {
            return enterprise_target(&name, sub.as_deref());
        }
        if !uri.eq_ignore_ascii_case(USER_SCHEMA) {
            return Target::Unknown;
        }
    }
    match (name.as_str(), sub.as_deref()) {
        ("username", None) => Target::Attr(UserAttr::UserName),
        ("externalid", None) => Target::Attr(UserAttr::ExternalId),
        ("displayname", None) => Target::Attr(UserAttr::DisplayName),
        ("name", None) => Target::Name,
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
        (n, s) => {
            let key = match s {
                Some(s) => format!("{n}.{s}"),
                None => n.to_owned(),
            };
            if let Some(i) = profile_index(&key) {
                Target::Profile(i)
            } else if let Some(m) = multi_name(n) {
                Target::Multi(m)
            } else if attr.uri.is_none() {
                // A name only the enterprise extension defines (Entra ID's `manager`)
                // resolves to it: the core schema has no such attribute (RFC 7644 §3.10).
                enterprise_target(n, s)
            } else {
                Target::Unknown
            }
        }
    }
}

/// Read-only keys a client echoes back unchanged in a path-less value (Okta sends the
/// resource's own `id`): "changing" them to their current value is no change (as RFC 7644
/// §3.5.1 says for PUT). `meta` and `schemas` are message metadata there; a different
/// `id` is a real attempt to change it and fails.
pub(super) fn is_echoed_read_only(
    key: &str,
    value: &Json,
    own_id: &str,
) -> Result<bool, CoreError> {
    if key.eq_ignore_ascii_case("meta") || key.eq_ignore_ascii_case("schemas") {
        return Ok(true);
    }
    if key.eq_ignore_ascii_case("id") {
        return match value {
            Json::String(s) if s.eq_ignore_ascii_case(own_id) => Ok(true),
            _ => Err(CoreError::Mutability(
                "id is read-only and cannot be changed".into(),
            )),
        };
    }
    Ok(false)
}

/// Applies every operation to `user`; on error the caller discards the copy.
pub fn apply_user_patch(
    user: &mut User,
    ops: &[PatchOp],
    profile: &UserPatchProfile,
) -> Result<(), CoreError> {
    for op in ops {
        match &op.path {
            Some(path) => apply_path(user, op.op, path, op.value.as_ref(), profile)?,
            None => {
                let Some(Json::Object(map)) = &op.value else {
                    return Err(CoreError::invalid_value(
                        "an operation without path needs an object value of attribute: value pairs",
                    ));
                };
                let own_id = user.id.to_string();
                for (key, v) in flatten_no_path(map) {
                    if is_echoed_read_only(&key, &v, &own_id)? {
                        continue;
                    }
                    let path = parse_path(&key)?;
                    apply_path(user, op.op, &path, Some(&v), profile)?;
                }
            }
        }
    }
    user.validate()
}

/// `{"name": {"givenName": "x"}}` → `name.givenName`; the extension object → `URN:key`.
fn flatten_no_path(map: &Map<String, Json>) -> Vec<(String, Json)> {
    let mut out = Vec::new();
    for (k, v) in map {
        match v {
            Json::Object(inner)
                if k.eq_ignore_ascii_case("name") || k.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) =>
            {
                let sep = if k.eq_ignore_ascii_case("name") {
                    "."
                } else {
                    ":"
                };
                for (sk, sv) in inner {
                    out.push((format!("{k}{sep}{sk}"), sv.clone()));
                }
            }
            _ => out.push((k.clone(), v.clone())),
        }
    }
    out
}

/// The ODM SDK can only send an object as `value`, so `path: "displayName"` arrives with
/// `value: {"displayName": "X"}`: unwrap such an object aimed at a simple attribute.
pub(super) fn unwrap_named(path: &PatchPath, value: &Json) -> Json {
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

fn editable(profile: &UserPatchProfile, a: UserAttr, path: &PatchPath) -> Result<bool, CoreError> {
    if profile.editable.contains(&a) {
        return Ok(true);
    }
    if profile.read_only.contains(&a) {
        return Err(CoreError::Mutability(format!(
            "{} cannot be changed here",
            path.attr
        )));
    }
    match profile.unknown {
        Unknown::Ignore => Ok(false),
        Unknown::Reject => Err(CoreError::InvalidPath(format!(
            "{} is not an attribute that can be patched",
            path.attr
        ))),
    }
}

fn apply_path(
    user: &mut User,
    op: OpKind,
    path: &PatchPath,
    value: Option<&Json>,
    profile: &UserPatchProfile,
) -> Result<(), CoreError> {
    let attr = match user_target(&path.attr) {
        Target::ReadOnly(name) => {
            return Err(CoreError::Mutability(format!(
                "{name} is read-only and cannot be changed"
            )))
        }
        Target::Unknown => {
            return match profile.unknown {
                Unknown::Ignore => Ok(()),
                Unknown::Reject => Err(CoreError::InvalidPath(format!(
                    "{} is not an attribute that can be patched",
                    path.attr
                ))),
            }
        }
        Target::Name => {
            if !editable(profile, UserAttr::GivenName, path)? {
                return Ok(());
            }
            return apply_name(user, op, value, profile);
        }
        Target::Enterprise => {
            if !editable(profile, UserAttr::Department, path)? {
                return Ok(());
            }
            return apply_enterprise(user, op, value, profile);
        }
        Target::Profile(i) => {
            let attr = match PROFILE_ATTRS.get(i).copied() {
                Some("title") => UserAttr::Title,
                Some("userType") => UserAttr::UserType,
                _ => UserAttr::Profile,
            };
            if !editable(profile, attr, path)? {
                return Ok(());
            }
            let v = text_value(op, path, value)?;
            if let Some(slot) = user.profile.get_mut(i) {
                *slot = v;
            }
            return Ok(());
        }
        Target::Multi(name) => {
            let attr = match name {
                "entitlements" => UserAttr::Entitlements,
                "roles" => UserAttr::Roles,
                "x509Certificates" => UserAttr::X509Certificates,
                _ => UserAttr::Multi,
            };
            if !editable(profile, attr, path)? {
                return Ok(());
            }
            let mut items: Vec<multi::Item> = user
                .multi
                .get(name)
                .map(|v| v.iter().filter_map(|x| x.as_object().cloned()).collect())
                .unwrap_or_default();
            multi::apply(name, &mut items, op, path, value)?;
            for item in &mut items {
                crate::user::canonical_item(name, item)?;
            }
            if items.is_empty() {
                user.multi.remove(name);
            } else {
                user.multi.insert(
                    name.to_owned(),
                    items.into_iter().map(Json::Object).collect(),
                );
            }
            return Ok(());
        }
        Target::Attr(a) => {
            if !editable(profile, a, path)? {
                return Ok(());
            }
            a
        }
    };
    if attr == UserAttr::Emails {
        return multi::apply_emails(&mut user.emails, op, path, value);
    }
    if path.filter.is_some() {
        return Err(CoreError::InvalidPath(format!(
            "{} is single-valued; a [filter] does not apply",
            path.attr
        )));
    }
    let e = &mut user.enterprise;
    match attr {
        UserAttr::UserName => {
            let s = text_value(op, path, value)?.ok_or_else(|| {
                CoreError::invalid_value("userName is required and cannot be removed")
            })?;
            user.user_name = UserName::parse(&s)?;
        }
        UserAttr::ExternalId => user.external_id = text_value(op, path, value)?,
        UserAttr::DisplayName => user.display_name = text_value(op, path, value)?,
        UserAttr::GivenName => user.given_name = text_value(op, path, value)?,
        UserAttr::FamilyName => user.family_name = text_value(op, path, value)?,
        UserAttr::Locale => user.locale = text_value(op, path, value)?,
        UserAttr::EmployeeNumber => e.employee_number = text_value(op, path, value)?,
        UserAttr::CostCenter => e.cost_center = text_value(op, path, value)?,
        UserAttr::Organization => e.organization = text_value(op, path, value)?,
        UserAttr::Division => e.division = text_value(op, path, value)?,
        UserAttr::Department => e.department = text_value(op, path, value)?,
        UserAttr::Manager => {
            let v = value.map(|v| unwrap_named(path, v));
            e.manager = if op == OpKind::Remove {
                None
            } else {
                parse_manager(v.as_ref())?
            };
        }
        // Removing `active` leaves the account without the flag, which Roster reads as
        // active (RFC 7644 §3.5.2.2: the attribute becomes unassigned).
        UserAttr::Active => {
            user.active = op == OpKind::Remove
                || parse_bool(value.map(|v| unwrap_named(path, v)).as_ref(), "active")?;
            user.active_assigned = op != OpKind::Remove;
        }
        UserAttr::Emails
        | UserAttr::Profile
        | UserAttr::Title
        | UserAttr::UserType
        | UserAttr::Multi
        | UserAttr::Entitlements
        | UserAttr::Roles
        | UserAttr::X509Certificates => {}
    }
    Ok(())
}

fn text_value(
    op: OpKind,
    path: &PatchPath,
    value: Option<&Json>,
) -> Result<Option<String>, CoreError> {
    if op == OpKind::Remove {
        return Ok(None);
    }
    match value.map(|v| unwrap_named(path, v)) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(_) => Err(CoreError::invalid_value(format!(
            "{} must be a string",
            path.attr
        ))),
    }
}

/// `name` as a whole: add merges the given sub-attributes, replace sets exactly them,
/// remove clears every part.
fn apply_name(
    user: &mut User,
    op: OpKind,
    value: Option<&Json>,
    profile: &UserPatchProfile,
) -> Result<(), CoreError> {
    if op != OpKind::Add {
        user.given_name = None;
        user.family_name = None;
        for key in [
            "name.formatted",
            "name.middleName",
            "name.honorificPrefix",
            "name.honorificSuffix",
        ] {
            if let Some(slot) = profile_index(key).and_then(|i| user.profile.get_mut(i)) {
                *slot = None;
            }
        }
    }
    if op == OpKind::Remove {
        return Ok(());
    }
    let Some(Json::Object(m)) = value.map(|v| crate::json::single(v, "name")).transpose()? else {
        return Err(CoreError::invalid_value("name must be an object"));
    };
    for (k, v) in m {
        let path = parse_path(&format!("name.{k}"))?;
        apply_path(user, OpKind::Replace, &path, Some(v), profile)?;
    }
    Ok(())
}

fn apply_enterprise(
    user: &mut User,
    op: OpKind,
    value: Option<&Json>,
    profile: &UserPatchProfile,
) -> Result<(), CoreError> {
    if op == OpKind::Remove {
        user.enterprise = Default::default();
        return Ok(());
    }
    if op == OpKind::Replace {
        user.enterprise = Default::default();
    }
    let Some(Json::Object(m)) = value else {
        return Err(CoreError::invalid_value(format!(
            "{ENTERPRISE_SCHEMA} must be an object"
        )));
    };
    for (k, v) in m.iter().filter(|(k, _)| k.as_str() != "schemas") {
        let path = parse_path(&format!("{ENTERPRISE_SCHEMA}:{k}"))?;
        apply_path(user, OpKind::Replace, &path, Some(v), profile)?;
    }
    Ok(())
}

/// A manager reference: the id as a string (Entra ID), `{"value": id}` (RFC 7643 §4.3;
/// any case, `{"Value": id}` from Entra's create), or a one-element array of that (Entra's
/// PATCH); an empty value clears it.
pub fn parse_manager(v: Option<&Json>) -> Result<Option<String>, CoreError> {
    let v = v.map(|v| crate::json::single(v, "manager")).transpose()?;
    let id = match v {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::String(s)) => s.clone(),
        Some(Json::Object(m)) => match crate::json::get_ci(m, "value") {
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
