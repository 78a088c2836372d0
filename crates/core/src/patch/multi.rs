//! Multi-valued complex attributes (emails, phoneNumbers, addresses, ...) under PATCH:
//! one engine over JSON objects, with value filters (`emails[type eq "work"].value`) and
//! `primary` kept unique. Entra ID adds through a filter that matches nothing
//! (`phoneNumbers[type eq "mobile"].value`): that creates the entry the filter describes.

use serde_json::{Map, Value as Json};

use super::OpKind;
use crate::filter::{CompareOp, Filter, PatchPath, Value};
use crate::json::get_ci;
use crate::user::Email;
use crate::CoreError;

pub type Item = Map<String, Json>;

fn items_of(name: &str, v: Option<&Json>) -> Result<Vec<Item>, CoreError> {
    let list: Vec<&Json> = match v {
        Some(Json::Array(a)) => {
            // Refused before any work: more values than the attribute may hold at all.
            crate::user::check_count(name, a.len())?;
            a.iter().collect()
        }
        Some(o @ Json::Object(_)) => vec![o],
        _ => {
            return Err(CoreError::invalid_value(format!(
                "{name} must be an array of objects"
            )))
        }
    };
    list.into_iter()
        .map(|x| {
            x.as_object().cloned().ok_or_else(|| {
                CoreError::invalid_value(format!("each of {name} must be an object"))
            })
        })
        .collect()
}

fn set_ci(m: &mut Item, k: &str, v: Json) {
    let key = m
        .keys()
        .find(|key| key.eq_ignore_ascii_case(k))
        .cloned()
        .unwrap_or_else(|| k.to_owned());
    m.insert(key, v);
}

fn remove_ci(m: &mut Item, k: &str) {
    if let Some(key) = m.keys().find(|key| key.eq_ignore_ascii_case(k)).cloned() {
        m.remove(&key);
    }
}

/// A value's text with its keys in order (a `Map` iterates sorted), for equality.
fn canonical(m: &Item) -> String {
    serde_json::to_string(m).unwrap_or_default()
}

fn is_primary(m: &Item) -> bool {
    matches!(get_ci(m, "primary"), Some(Json::Bool(true)))
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

/// Sub-attribute filters: strings compare case-insensitively, `primary` as a boolean.
fn matches(m: &Item, f: &Filter) -> Result<bool, CoreError> {
    Ok(match f {
        Filter::And(a, b) => matches(m, a)? && matches(m, b)?,
        Filter::Or(a, b) => matches(m, a)? || matches(m, b)?,
        Filter::Not(a) => !matches(m, a)?,
        Filter::Present(a) => {
            get_ci(m, &a.name).is_some_and(|v| !v.is_null() && v != &Json::String(String::new()))
        }
        Filter::Compare { attr, op, value } => match (get_ci(m, &attr.name), value) {
            (Some(Json::String(have)), Value::String(want)) => {
                text_op(&have.to_lowercase(), *op, &want.to_lowercase())
            }
            (Some(Json::Bool(have)), Value::Bool(want)) => match op {
                CompareOp::Eq => have == want,
                CompareOp::Ne => have != want,
                _ => false,
            },
            (None | Some(Json::Null), Value::Bool(false)) => *op == CompareOp::Eq,
            (None | Some(Json::Null), _) => *op == CompareOp::Ne,
            _ => false,
        },
        Filter::ValuePath { .. } => {
            return Err(CoreError::InvalidFilter(
                "nested value filters are not allowed".into(),
            ))
        }
    })
}

/// The entry an `eq`-only filter describes: `type eq "work" and primary eq true`.
fn described_by(f: &Filter, out: &mut Item) -> bool {
    match f {
        Filter::And(a, b) => described_by(a, out) && described_by(b, out),
        Filter::Compare {
            attr,
            op: CompareOp::Eq,
            value,
        } if attr.sub.is_none() => {
            let v = match value {
                Value::String(s) => Json::String(s.clone()),
                Value::Bool(b) => Json::Bool(*b),
                _ => return false,
            };
            out.insert(attr.name.clone(), v);
            true
        }
        _ => false,
    }
}

/// Keeps at most one primary: the one at `keep`.
fn single_primary(items: &mut [Item], keep: usize) {
    for (i, m) in items.iter_mut().enumerate() {
        if i != keep && is_primary(m) {
            set_ci(m, "primary", Json::Bool(false));
        }
    }
}

/// Applies one operation to a multi-valued attribute's items.
pub fn apply(
    name: &str,
    items: &mut Vec<Item>,
    op: OpKind,
    path: &PatchPath,
    value: Option<&Json>,
) -> Result<(), CoreError> {
    let sub = path.sub.clone().or_else(|| path.attr.sub.clone());
    let Some(f) = &path.filter else {
        match (op, &sub) {
            (OpKind::Remove, None) => items.clear(),
            (OpKind::Replace, None) => *items = items_of(name, value)?,
            (OpKind::Add, None) => {
                // Adding a value already there is no change (RFC 7644 §3.5.2.1); a set of
                // the values' canonical forms keeps this linear.
                let mut seen: std::collections::HashSet<String> =
                    items.iter().map(canonical).collect();
                let mut primary = None;
                for new in items_of(name, value)? {
                    if seen.insert(canonical(&new)) {
                        if is_primary(&new) {
                            primary = Some(items.len());
                        }
                        items.push(new);
                    }
                }
                if let Some(p) = primary {
                    single_primary(items, p);
                }
            }
            // `emails.value` without a filter addresses every entry's sub-attribute.
            (_, Some(s)) => {
                for m in items.iter_mut() {
                    set_sub(m, op, s, value)?;
                }
            }
        }
        return Ok(());
    };
    let mut hits = Vec::new();
    for (i, m) in items.iter().enumerate() {
        if matches(m, f)? {
            hits.push(i);
        }
    }
    if hits.is_empty() {
        let mut new = Item::new();
        if op == OpKind::Add && described_by(f, &mut new) {
            match &sub {
                Some(s) => set_sub(&mut new, OpKind::Add, s, value)?,
                None => new.extend(items_of(name, value)?.into_iter().flatten()),
            }
            items.push(new);
            return Ok(());
        }
        return match op {
            OpKind::Add => Ok(()),
            _ => Err(CoreError::NoTarget(format!("no {name} entry matches {f}"))),
        };
    }
    match (op, &sub) {
        (OpKind::Remove, None) => {
            let mut i = 0;
            items.retain(|_| {
                let keep = !hits.contains(&i);
                i += 1;
                keep
            });
        }
        (_, None) => {
            let new = items_of(name, value)?
                .into_iter()
                .next()
                .unwrap_or_default();
            for &i in &hits {
                if let Some(m) = items.get_mut(i) {
                    if op == OpKind::Replace {
                        *m = new.clone();
                    } else {
                        m.extend(new.clone());
                    }
                }
            }
        }
        (_, Some(s)) => {
            for &i in &hits {
                if let Some(m) = items.get_mut(i) {
                    set_sub(m, op, s, value)?;
                }
            }
        }
    }
    if let Some(p) = items.iter().rposition(is_primary) {
        single_primary(items, p);
    }
    Ok(())
}

fn set_sub(m: &mut Item, op: OpKind, sub: &str, value: Option<&Json>) -> Result<(), CoreError> {
    if op == OpKind::Remove {
        remove_ci(m, sub);
        return Ok(());
    }
    let v = match value {
        // The ODM SDK wraps values in an object named after the attribute.
        Some(Json::Object(o)) if o.len() == 1 => o.values().next().cloned().unwrap_or(Json::Null),
        Some(v) => v.clone(),
        None => Json::Null,
    };
    let v = if sub.eq_ignore_ascii_case("primary") {
        Json::Bool(super::parse_bool(Some(&v), "primary")?)
    } else {
        v
    };
    set_ci(m, sub, v);
    Ok(())
}

/// One email object (`value`, `type`, `primary`, `display`).
pub fn parse_email(v: &Json) -> Result<Email, CoreError> {
    let o = v
        .as_object()
        .ok_or_else(|| CoreError::invalid_value("each email must be an object"))?;
    let text = |k: &str| -> Result<Option<String>, CoreError> {
        match get_ci(o, k) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(CoreError::invalid_value(format!(
                "emails[].{k} must be a string"
            ))),
        }
    };
    let value = text("value")?
        .ok_or_else(|| CoreError::invalid_value("emails[].value must be a string"))?;
    let primary = match get_ci(o, "primary") {
        None | Some(Json::Null) => false,
        p => super::parse_bool(p, "emails[].primary")?,
    };
    let e = Email {
        value,
        kind: text("type")?,
        primary,
        display: text("display")?,
    };
    e.validate()?;
    Ok(e)
}

/// Emails are typed in the model (they feed the filter index); PATCH works on them as JSON.
pub fn apply_emails(
    emails: &mut Vec<Email>,
    op: OpKind,
    path: &PatchPath,
    value: Option<&Json>,
) -> Result<(), CoreError> {
    let mut items: Vec<Item> = emails
        .iter()
        .filter_map(|e| serde_json::to_value(e).ok()?.as_object().cloned())
        .collect();
    apply("emails", &mut items, op, path, value)?;
    *emails = items
        .into_iter()
        .map(|m| parse_email(&Json::Object(m)))
        .collect::<Result<_, _>>()?;
    Ok(())
}
