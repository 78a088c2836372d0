//! Group PATCH → one [`GroupChange`] of member deltas, so a 100,000-member group is never
//! loaded to add one member.

use serde_json::Value as Json;
use uuid::Uuid;

use super::user::{is_echoed_read_only, unwrap_named};
use super::{OpKind, PatchOp, Unknown};
use crate::filter::{parse_path, CompareOp, Filter, PatchPath, Value};
use crate::group::{GroupChange, MemberOp, NewMember, Role};
use crate::json::get_ci;
use crate::CoreError;

/// `own_id` is the group's id (from the URL), so an echoed unchanged `id` is no change.
pub fn group_change(
    ops: &[PatchOp],
    unknown: Unknown,
    own_id: &str,
) -> Result<GroupChange, CoreError> {
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
                    if is_echoed_read_only(k, v, own_id)? {
                        continue;
                    }
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

fn member_items(value: Option<&Json>) -> Result<Vec<NewMember>, CoreError> {
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
            let id = get_ci(o, "value").and_then(Json::as_str).ok_or_else(|| {
                CoreError::invalid_value("each member needs a string value (the user id)")
            })?;
            let role = match get_ci(o, "role") {
                None | Some(Json::Null) => None,
                Some(Json::String(r)) => Some(r.parse::<Role>()?),
                Some(_) => return Err(CoreError::invalid_value("member role must be a string")),
            };
            let display = match get_ci(o, "display") {
                Some(Json::String(d)) => Some(d.clone()),
                _ => None,
            };
            Ok(NewMember {
                id: parse_member_id(id)?,
                role,
                display,
            })
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
            change.members.push(MemberOp::Replace(member_items(value)?));
        }
        (None, OpKind::Remove, None) => match value {
            // Entra ID style: remove with a value listing the members.
            Some(v) => change.members.push(MemberOp::Remove(
                member_items(Some(v))?.into_iter().map(|m| m.id).collect(),
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
                ids.into_iter()
                    .map(|id| NewMember::new(id, Some(role)))
                    .collect(),
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
