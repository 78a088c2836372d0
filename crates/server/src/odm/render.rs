//! ODM's shapes, which its SDK's strict models insist on: only the core schema URN, only
//! `work` emails, `displayName` and `active` always present, members with their `display`
//! and Roster's `role`.

use roster_core::{Group, User};
use serde_json::{json, Value};

use crate::scim_resource::{group_base, user_base, Links};

pub fn user_json(u: &User, links: &Links) -> Value {
    let mut o = user_base(u, links);
    // Required non-null by the SDK: fall back to the login.
    let dn = u
        .display_name
        .clone()
        .unwrap_or_else(|| u.user_name.as_str().to_owned());
    o.insert("displayName".into(), json!(dn));
    let emails: Vec<Value> = u
        .emails
        .iter()
        .filter(|e| {
            e.kind
                .as_deref()
                .is_none_or(|k| k.eq_ignore_ascii_case("work"))
        })
        .map(|e| {
            let mut m = json!({"value": e.value, "primary": e.primary});
            if e.kind.is_some() {
                m["type"] = json!("work");
            }
            m
        })
        .collect();
    o.insert("emails".into(), Value::Array(emails));
    o.insert("active".into(), json!(u.active));
    Value::Object(o)
}

pub fn group_json(g: &Group, links: &Links) -> Value {
    Value::Object(group_base(g, links, |m, mut member| {
        member.insert("display".into(), json!(m.display));
        member.insert("role".into(), json!(m.role.as_str()));
        Value::Object(member)
    }))
}
