//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5 and §3.9): which attributes a
//! response carries. Applied to the rendered JSON, so every dialect output and every
//! operation (GET, list, .search, POST, PUT, PATCH) is shaped by the same code.

use roster_core::filter::{parse_attr_path, AttrPath};
use serde_json::{Map, Value};

use crate::http::ApiError;

/// Attributes with `returned: always`: never dropped.
const ALWAYS: &[&str] = &["id", "schemas"];

#[derive(Debug, Clone, Default)]
pub struct Projection {
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

fn parse_list<'a>(
    items: impl Iterator<Item = &'a str>,
    param: &str,
) -> Result<Vec<AttrPath>, ApiError> {
    items
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            parse_attr_path(s).map_err(|_| {
                ApiError::invalid_value(format!("{param}: {s:?} is not an attribute path"))
            })
        })
        .collect()
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
        let named = |a: &AttrPath| a.name.eq_ignore_ascii_case(name);
        if self.excluded.iter().any(|a| named(a) && a.sub.is_none()) {
            return false;
        }
        self.attributes.is_empty() || self.attributes.iter().any(named)
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
            for a in &self.attributes {
                copy_attr(obj, &mut kept, a);
            }
            *obj = kept;
        }
        for a in &self.excluded {
            remove_attr(obj, a);
        }
    }
}

/// The object holding `a`: the resource itself, or an extension's object when the path
/// is qualified with an extension URN.
fn container<'a>(
    obj: &'a Map<String, Value>,
    a: &AttrPath,
) -> Option<(&'a Map<String, Value>, Option<String>)> {
    match &a.uri {
        Some(uri) if !is_core(uri) => {
            let key = obj.keys().find(|k| k.eq_ignore_ascii_case(uri))?.clone();
            obj.get(&key)?.as_object().map(|m| (m, Some(key)))
        }
        _ => Some((obj, None)),
    }
}

fn is_core(uri: &str) -> bool {
    uri.to_ascii_lowercase()
        .starts_with("urn:ietf:params:scim:schemas:core:2.0:")
}

fn key_of(m: &Map<String, Value>, name: &str) -> Option<String> {
    m.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn only_sub(v: &Value, sub: &str) -> Option<Value> {
    match v {
        Value::Object(m) => {
            let k = key_of(m, sub)?;
            let mut out = Map::new();
            out.insert(k.clone(), m.get(&k)?.clone());
            Some(Value::Object(out))
        }
        Value::Array(items) => Some(Value::Array(
            items.iter().filter_map(|i| only_sub(i, sub)).collect(),
        )),
        _ => None,
    }
}

fn copy_attr(from: &Map<String, Value>, to: &mut Map<String, Value>, a: &AttrPath) {
    // `urn:...:enterprise:2.0:User` alone names the whole extension.
    if let Some(uri) = &a.uri {
        let whole = format!("{uri}:{}", a.name);
        if let Some(k) = key_of(from, &whole) {
            if let Some(v) = from.get(&k) {
                to.insert(k, v.clone());
            }
            return;
        }
    }
    let Some((src, ext)) = container(from, a) else {
        return;
    };
    let Some(k) = key_of(src, &a.name) else {
        return;
    };
    let Some(v) = src.get(&k) else { return };
    let picked = match &a.sub {
        None => Some(v.clone()),
        Some(sub) => only_sub(v, sub),
    };
    let Some(picked) = picked else { return };
    let target = match ext {
        None => to,
        Some(ext) => {
            let e = to.entry(ext).or_insert_with(|| Value::Object(Map::new()));
            match e.as_object_mut() {
                Some(m) => m,
                None => return,
            }
        }
    };
    match (target.get_mut(&k), picked) {
        // Two sub-attributes of one complex attribute: merge them.
        (Some(Value::Object(have)), Value::Object(more)) => have.extend(more),
        (_, p) => {
            target.insert(k, p);
        }
    }
}

fn remove_attr(obj: &mut Map<String, Value>, a: &AttrPath) {
    if a.sub.is_none() && a.uri.is_none() && ALWAYS.iter().any(|x| x.eq_ignore_ascii_case(&a.name))
    {
        return;
    }
    let target = match &a.uri {
        Some(uri) if !is_core(uri) => {
            let whole = format!("{uri}:{}", a.name);
            if let Some(k) = key_of(obj, &whole) {
                obj.remove(&k);
                return;
            }
            match key_of(obj, uri)
                .and_then(|k| obj.get_mut(&k))
                .and_then(Value::as_object_mut)
            {
                Some(m) => m,
                None => return,
            }
        }
        _ => obj,
    };
    let Some(k) = key_of(target, &a.name) else {
        return;
    };
    match &a.sub {
        None => {
            target.remove(&k);
        }
        Some(sub) => match target.get_mut(&k) {
            Some(Value::Object(m)) => {
                if let Some(sk) = key_of(m, sub) {
                    m.remove(&sk);
                }
            }
            Some(Value::Array(items)) => {
                for i in items.iter_mut().filter_map(Value::as_object_mut) {
                    if let Some(sk) = key_of(i, sub) {
                        i.remove(&sk);
                    }
                }
            }
            _ => {}
        },
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
