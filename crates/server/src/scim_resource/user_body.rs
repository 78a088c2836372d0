//! Reads a SCIM User resource from a request body into the core's [`NewUser`].

use roster_core::patch::{parse_bool, parse_email, parse_manager};
use roster_core::schema::ENTERPRISE_SCHEMA;
use roster_core::{CoreError, NewUser, UserName};
use serde_json::{Map, Value};

/// A parsed user body; `password` is kept apart so each dialect decides what to do with it.
pub struct UserBody {
    pub user: NewUser,
    pub password: Option<String>,
    pub raw: Map<String, Value>,
}

fn text(o: &Map<String, Value>, key: &str) -> Result<Option<String>, CoreError> {
    match roster_core::json::get_ci(o, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(CoreError::invalid_value(format!("{key} must be a string"))),
    }
}

pub use roster_core::json::get_ci_set as get_ci;

/// Schema ids an identity provider names in `schemas` that are not Roster's but carry no
/// data: Microsoft Entra ID lists its ADSCIM Group schema in every POST /Groups.
const TOLERATED: &[&str] =
    &["http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"];

/// Refuses a body that claims, or carries an object under, a schema URN the resource type
/// does not have (`allowed`: its core schema and extensions): its data would otherwise be
/// dropped without a word. Keys that are not URNs are attributes, checked elsewhere.
pub fn check_schemas(v: &Value, allowed: &[&str], resource: &str) -> Result<(), CoreError> {
    let Some(o) = v.as_object() else {
        return Ok(());
    };
    let known = |urn: &str| {
        allowed.iter().any(|a| a.eq_ignore_ascii_case(urn))
            || TOLERATED.iter().any(|t| t.eq_ignore_ascii_case(urn))
    };
    if let Some(Value::Array(urns)) = get_ci(o, "schemas") {
        if urns
            .iter()
            .filter_map(Value::as_str)
            .any(|u| u.starts_with("urn:scim:schemas:"))
        {
            return Err(CoreError::InvalidVers(format!(
                "SCIM 1.x schemas are not supported; use {}",
                allowed.join(", ")
            )));
        }
        if let Some(urn) = urns.iter().filter_map(Value::as_str).find(|u| !known(u)) {
            return Err(CoreError::invalid_value(format!(
                "schemas names {urn:?}, which is not a schema of a {resource} here (known: {})",
                allowed.join(", ")
            )));
        }
    }
    let is_urn = |k: &str| k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    if let Some(urn) = o.keys().find(|k| is_urn(k) && !known(k)) {
        return Err(CoreError::invalid_value(format!(
            "the body carries {urn:?}, which is not a schema extension of a {resource} here (known: {})",
            allowed.join(", ")
        )));
    }
    Ok(())
}

pub fn parse_user_body(v: &Value) -> Result<UserBody, CoreError> {
    let o = v
        .as_object()
        .ok_or_else(|| CoreError::InvalidSyntax("a User must be a JSON object".into()))?;
    if let Some(s) = get_ci(o, "schemas") {
        let Some(urns) = s.as_array().filter(|a| a.iter().all(Value::is_string)) else {
            return Err(CoreError::invalid_value(
                "schemas must be an array of schema URNs",
            ));
        };
        if urns.iter().any(|u| {
            u.as_str()
                .is_some_and(|u| u.starts_with("urn:scim:schemas:"))
        }) {
            return Err(CoreError::InvalidVers(
                "SCIM 1.x schemas are not supported; use urn:ietf:params:scim:schemas:core:2.0:User".into(),
            ));
        }
    }
    let name =
        text(o, "userName")?.ok_or_else(|| CoreError::invalid_value("userName is required"))?;
    let mut user = NewUser::new(UserName::parse(&name)?);
    user.external_id = text(o, "externalId")?;
    user.display_name = text(o, "displayName")?;
    user.locale = text(o, "locale")?;
    if let Some(n) = get_ci(o, "name") {
        let n = roster_core::json::single(n, "name")?
            .as_object()
            .ok_or_else(|| CoreError::invalid_value("name must be an object"))?;
        user.given_name = text(n, "givenName")?;
        user.family_name = text(n, "familyName")?;
    }
    match get_ci(o, "active") {
        Some(a) => user.active = parse_bool(Some(a), "active")?,
        None => user.active_assigned = false,
    }
    if let Some(e) = get_ci(o, "emails") {
        let arr = e
            .as_array()
            .ok_or_else(|| CoreError::invalid_value("emails must be an array"))?;
        user.emails = arr.iter().map(parse_email).collect::<Result<_, _>>()?;
    }
    if let Some(e) = get_ci(o, ENTERPRISE_SCHEMA) {
        let e = e.as_object().ok_or_else(|| {
            CoreError::invalid_value(format!("{ENTERPRISE_SCHEMA} must be an object"))
        })?;
        let ent = &mut user.enterprise;
        ent.employee_number = text(e, "employeeNumber")?;
        ent.cost_center = text(e, "costCenter")?;
        ent.organization = text(e, "organization")?;
        ent.division = text(e, "division")?;
        ent.department = text(e, "department")?;
        ent.manager = parse_manager(get_ci(e, "manager"))?;
    }
    for (i, path) in roster_core::user::PROFILE_ATTRS.iter().enumerate() {
        let v = match path.split_once('.') {
            Some((parent, child)) => match get_ci(o, parent) {
                Some(Value::Object(n)) => text(n, child)?,
                _ => None,
            },
            None => text(o, path)?,
        };
        if let Some(slot) = user.profile.get_mut(i) {
            *slot = v;
        }
    }
    for name in roster_core::user::MULTI_ATTRS {
        match get_ci(o, name) {
            None => {}
            Some(Value::Array(items)) => {
                roster_core::user::check_count(name, items.len())?;
                let mut items = items.clone();
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    roster_core::user::canonical_item(name, item)?;
                }
                roster_core::user::validate_multi(name, &items)?;
                if !items.is_empty() {
                    user.multi.insert(name.to_owned(), items);
                }
            }
            Some(_) => return Err(CoreError::invalid_value(format!("{name} must be an array"))),
        }
    }
    let password = text(o, "password")?;
    user.validate()?;
    Ok(UserBody {
        user,
        password,
        raw: o.clone(),
    })
}
