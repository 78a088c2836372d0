//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5 and §3.9): which attributes a
//! response carries. Applied to the rendered JSON, so every dialect output and every
//! operation (GET, list, .search, POST, PUT, PATCH) is shaped by the same code.

use std::collections::{BTreeMap, HashSet};

use roster_core::filter::parse_attr_path;
use serde_json::{Map, Value};

use crate::http::{ApiError, Kind};

/// Attributes with `returned: always`: never dropped.
const ALWAYS: &[&str] = &["id", "schemas"];

/// Most entries `attributes` or `excludedAttributes` may list (after duplicates collapse,
/// the work of applying them is linear in the size of the resource).
pub const MAX_PATHS: usize = 100;

/// What a projection names of one attribute: all of it, or some sub-attributes.
#[derive(Debug, Clone, Default)]
struct Selection {
    whole: bool,
    /// Lower-cased sub-attribute names.
    subs: HashSet<String>,
}

/// An attribute: the extension URN it lives under (`None` for the core schema), lower-cased,
/// and its lower-cased name.
type Attr = (Option<String>, String);

#[derive(Debug, Clone, Default)]
pub struct Projection {
    attributes: BTreeMap<Attr, Selection>,
    excluded: BTreeMap<Attr, Selection>,
}

fn parse_list<'a>(
    items: impl Iterator<Item = &'a str>,
    param: &str,
) -> Result<BTreeMap<Attr, Selection>, ApiError> {
    let mut out: BTreeMap<Attr, Selection> = BTreeMap::new();
    let mut n = 0;
    for s in items.map(str::trim).filter(|s| !s.is_empty()) {
        n += 1;
        if n > MAX_PATHS {
            return Err(ApiError::new(
                Kind::TooMany,
                format!("{param} may list at most {MAX_PATHS} attribute paths"),
            ));
        }
        let a = parse_attr_path(s).map_err(|_| {
            ApiError::invalid_value(format!("{param}: {s:?} is not an attribute path"))
        })?;
        let uri = a
            .uri
            .filter(|u| !is_core(u))
            .map(|u| u.to_ascii_lowercase());
        let sel = out.entry((uri, a.name.to_ascii_lowercase())).or_default();
        match a.sub {
            None => sel.whole = true,
            Some(sub) => {
                sel.subs.insert(sub.to_ascii_lowercase());
            }
        }
    }
    Ok(out)
}

impl Projection {
    /// From comma-separated query parameters.
    pub fn from_query(attributes: Option<&str>, excluded: Option<&str>) -> Result<Self, ApiError> {
        Ok(Self {
            attributes: parse_list(attributes.unwrap_or("").split(','), "attributes")?,
            excluded: parse_list(excluded.unwrap_or("").split(','), "excludedAttributes")?,
        })
    }

    /// From the arrays of a SearchRequest body.
    pub fn from_lists(attributes: &[String], excluded: &[String]) -> Result<Self, ApiError> {
        Ok(Self {
            attributes: parse_list(attributes.iter().map(String::as_str), "attributes")?,
            excluded: parse_list(excluded.iter().map(String::as_str), "excludedAttributes")?,
        })
    }

    /// Whether a top-level attribute will appear: lets the store skip loading members.
    pub fn includes(&self, name: &str) -> bool {
        let attr = (None, name.to_ascii_lowercase());
        if self.excluded.get(&attr).is_some_and(|s| s.whole) {
            return false;
        }
        self.attributes.is_empty() || self.attributes.contains_key(&attr)
    }

    pub fn apply(&self, v: &mut Value) {
        let Value::Object(obj) = v else { return };
        if !self.attributes.is_empty() {
            let mut kept = Map::new();
            for (k, val) in obj.iter() {
                if ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(k)) {
                    kept.insert(k.clone(), val.clone());
                }
            }
            for ((uri, name), sel) in &self.attributes {
                copy_attr(obj, &mut kept, uri.as_deref(), name, sel);
            }
            *obj = kept;
        }
        for ((uri, name), sel) in &self.excluded {
            remove_attr(obj, uri.as_deref(), name, sel);
        }
    }
}

fn is_core(uri: &str) -> bool {
    uri.to_ascii_lowercase()
        .starts_with("urn:ietf:params:scim:schemas:core:2.0:")
}

fn key_of(m: &Map<String, Value>, name: &str) -> Option<String> {
    m.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn wanted(sel: &Selection, key: &str) -> bool {
    sel.subs.contains(&key.to_ascii_lowercase())
}

/// The selected part of one attribute's value; `None` when nothing of it is selected.
fn pick(v: &Value, sel: &Selection) -> Option<Value> {
    if sel.whole {
        return Some(v.clone());
    }
    let only = |m: &Map<String, Value>| -> Map<String, Value> {
        m.iter()
            .filter(|(k, _)| wanted(sel, k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    match v {
        Value::Object(m) => Some(Value::Object(only(m))),
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .filter_map(Value::as_object)
                .map(only)
                .filter(|m| !m.is_empty())
                .map(Value::Object)
                .collect(),
        )),
        _ => None,
    }
}

fn copy_attr(
    from: &Map<String, Value>,
    to: &mut Map<String, Value>,
    uri: Option<&str>,
    name: &str,
    sel: &Selection,
) {
    let (src, target) = match uri {
        None => (from, to),
        Some(uri) => {
            // `urn:...:enterprise:2.0:User` alone names the whole extension.
            if let Some(k) = key_of(from, &format!("{uri}:{name}")) {
                if let Some(v) = from.get(&k) {
                    to.insert(k, v.clone());
                }
                return;
            }
            let Some(ext) = key_of(from, uri) else { return };
            let Some(Value::Object(src)) = from.get(&ext) else {
                return;
            };
            let slot = to.entry(ext).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(target) = slot else { return };
            (src, target)
        }
    };
    let Some(k) = key_of(src, name) else { return };
    if let Some(picked) = src.get(&k).and_then(|v| pick(v, sel)) {
        target.insert(k, picked);
    }
}

fn remove_attr(obj: &mut Map<String, Value>, uri: Option<&str>, name: &str, sel: &Selection) {
    let target = match uri {
        None => {
            if sel.whole && ALWAYS.contains(&name) {
                return;
            }
            obj
        }
        Some(uri) => {
            if let Some(k) = key_of(obj, &format!("{uri}:{name}")) {
                obj.remove(&k);
                return;
            }
            match key_of(obj, uri).and_then(|k| obj.get_mut(&k)) {
                Some(Value::Object(m)) => m,
                _ => return,
            }
        }
    };
    let Some(k) = key_of(target, name) else {
        return;
    };
    if sel.whole {
        target.remove(&k);
        return;
    }
    let strip = |m: &mut Map<String, Value>| m.retain(|key, _| !wanted(sel, key));
    match target.get_mut(&k) {
        Some(Value::Object(m)) => strip(m),
        Some(Value::Array(items)) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(strip),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "b",
               "name": {"givenName": "B", "familyName": "J"}, "emails": [{"value": "a@x", "type": "work"}],
               "meta": {"resourceType": "User"}})
    }

    #[test]
    fn attributes_keep_always_returned_and_requested() {
        let mut u = user();
        Projection::from_query(Some("userName,name.familyName,emails.value"), None)
            .unwrap()
            .apply(&mut u);
        assert_eq!(
            u,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "b",
                             "name": {"familyName": "J"}, "emails": [{"value": "a@x"}]})
        );
        let mut u = user();
        Projection::from_query(
            Some("urn:ietf:params:scim:schemas:core:2.0:User:userName"),
            None,
        )
        .unwrap()
        .apply(&mut u);
        assert_eq!(u["userName"], "b");
        assert!(u.get("name").is_none());
    }

    #[test]
    fn excluded_never_drops_id() {
        let mut u = user();
        Projection::from_query(None, Some("id,emails,name.givenName"))
            .unwrap()
            .apply(&mut u);
        assert_eq!(u["id"], "1");
        assert!(u.get("emails").is_none());
        assert_eq!(u["name"], json!({"familyName": "J"}));
    }
}
