//! ODM's shapes, which its SDK's strict models insist on: only the core schema URN, only
//! `work` emails, `displayName` and `active` always present, members with their `display`
//! and Roster's `role`.

use roster_core::schema::{GROUP_SCHEMA, USER_SCHEMA};
use roster_core::{Group, User};
use serde_json::{json, Map, Value};

use crate::scim_resource::{meta_json, put_opt, Links};

pub fn user_json(u: &User, links: &Links) -> Value {
    let mut o = Map::new();
    o.insert("schemas".into(), json!([USER_SCHEMA]));
    o.insert("id".into(), json!(u.id.to_string()));
    put_opt(&mut o, "externalId", &u.external_id);
    o.insert("userName".into(), json!(u.user_name.as_str()));
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
    o.insert("meta".into(), meta_json(&u.meta, "User", links.user(&u.id)));
    Value::Object(o)
}

pub fn group_json(g: &Group, links: &Links) -> Value {
    let mut o = Map::new();
    o.insert("schemas".into(), json!([GROUP_SCHEMA]));
    o.insert("id".into(), json!(g.id.to_string()));
    put_opt(&mut o, "externalId", &g.external_id);
    o.insert("displayName".into(), json!(g.display_name));
    if let Some(members) = &g.members {
        let ms: Vec<Value> = members
            .iter()
            .map(|m| {
                json!({
                    "value": m.user_id.to_string(),
                    "$ref": links.user(&m.user_id),
                    "display": m.display,
                    "type": "User",
                    "role": m.role.as_str(),
                })
            })
            .collect();
        o.insert("members".into(), Value::Array(ms));
    }
    o.insert(
        "meta".into(),
        meta_json(&g.meta, "Group", links.group(&g.id)),
    );
    Value::Object(o)
}
