//! JSON helpers for the wire shapes: SCIM attribute names are case-insensitive (RFC 7643
//! §2.1), so keys are looked up without regard to case everywhere a body is read.

use serde_json::{Map, Value};

/// The value under `key`, matched case-insensitively (an exact match first: it is the
/// common case and stays a map lookup).
pub fn get_ci<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.get(key).or_else(|| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// As [`get_ci`], with `null` read as absent.
pub fn get_ci_set<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    get_ci(o, key).filter(|v| !v.is_null())
}

/// A singular complex attribute's value: the object itself, or the one element of a
/// one-element array, which Microsoft Entra ID sends for `manager`.
pub fn single<'a>(v: &'a Value, name: &str) -> Result<&'a Value, crate::CoreError> {
    match v {
        Value::Array(a) => match a.as_slice() {
            [one] => Ok(one),
            _ => Err(crate::CoreError::invalid_value(format!(
                "{name} is single-valued: give one value, not an array of {}",
                a.len()
            ))),
        },
        other => Ok(other),
    }
}
