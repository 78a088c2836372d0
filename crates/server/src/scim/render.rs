//! SCIM 2.0 JSON for users and groups: every attribute Roster keeps, the enterprise
//! extension where present, members as RFC 7643 §8.7.1 has them.

use roster_core::schema::{ENTERPRISE_SCHEMA, USER_SCHEMA};
use roster_core::{Group, User, UserGroup};
use serde_json::{json, Map, Value};

use crate::scim_resource::{group_base, put_opt, user_base, Links};

/// `groups` (RFC 7643 §4.1.2): read-only, every membership direct.
fn groups_json(groups: &[UserGroup], links: &Links) -> Value {
    Value::Array(
        groups
            .iter()
            .map(|g| {
                json!({"value": g.id.to_string(), "$ref": links.group(&g.id),
                       "display": g.display_name, "type": "direct"})
            })
            .collect(),
    )
}

pub fn user_json(u: &User, links: &Links) -> Value {
    let mut o = user_base(u, links);
    put_opt(&mut o, "displayName", &u.display_name);
    if u.given_name.is_some() || u.family_name.is_some() {
        let mut name = Map::new();
        put_opt(&mut name, "givenName", &u.given_name);
        put_opt(&mut name, "familyName", &u.family_name);
        o.insert("name".into(), Value::Object(name));
    }
    put_opt(&mut o, "locale", &u.locale);
    o.insert(
        "emails".into(),
        serde_json::to_value(&u.emails).unwrap_or(json!([])),
    );
    for (path, v) in roster_core::user::PROFILE_ATTRS.iter().zip(&u.profile) {
        let Some(v) = v else { continue };
        match path.split_once('.') {
            Some((parent, child)) => {
                let n = o.entry(parent).or_insert_with(|| json!({}));
                n[child] = json!(v);
            }
            None => {
                o.insert((*path).into(), json!(v));
            }
        }
    }
    for (name, items) in &u.multi {
        o.insert(name.clone(), Value::Array(items.clone()));
    }
    if !u.enterprise.is_empty() {
        o.insert("schemas".into(), json!([USER_SCHEMA, ENTERPRISE_SCHEMA]));
        o.insert(
            ENTERPRISE_SCHEMA.into(),
            enterprise_json(&u.enterprise, links),
        );
    }
    // An unassigned flag is omitted (RFC 7644 §3.5.2.2).
    if u.active_assigned {
        o.insert("active".into(), json!(u.active));
    }
    if let Some(groups) = u.groups.as_deref().filter(|g| !g.is_empty()) {
        o.insert("groups".into(), groups_json(groups, links));
    }
    Value::Object(o)
}

fn enterprise_json(e: &roster_core::Enterprise, links: &Links) -> Value {
    let mut o = Map::new();
    put_opt(&mut o, "employeeNumber", &e.employee_number);
    put_opt(&mut o, "costCenter", &e.cost_center);
    put_opt(&mut o, "organization", &e.organization);
    put_opt(&mut o, "division", &e.division);
    put_opt(&mut o, "department", &e.department);
    if let Some(m) = &e.manager {
        let mut manager = json!({"value": m});
        // Stored ids are UUIDs (PATCH checks them); a `$ref` only when it names one.
        if let Ok(id) = uuid::Uuid::parse_str(m) {
            manager["$ref"] = json!(links.user(&id));
        }
        o.insert("manager".into(), manager);
    }
    Value::Object(o)
}

/// Members carry only RFC 7643 §8.7.1's `value`, `$ref` and `type` (plus the `display` the
/// client gave), which strict clients insist on.
pub fn group_json(g: &Group, links: &Links) -> Value {
    Value::Object(group_base(g, links, |m, mut member| {
        if let Some(d) = &m.given_display {
            member.insert("display".into(), json!(d));
        }
        Value::Object(member)
    }))
}

/// What a `/scim/v2` answer needs of a resource.
pub trait Resource {
    fn json(&self, links: &Links) -> Value;
    fn etag(&self) -> String;
    fn location(&self, links: &Links) -> String;
}

impl Resource for User {
    fn json(&self, links: &Links) -> Value {
        user_json(self, links)
    }
    fn etag(&self) -> String {
        self.meta.etag()
    }
    fn location(&self, links: &Links) -> String {
        links.user(&self.id)
    }
}

impl Resource for Group {
    fn json(&self, links: &Links) -> Value {
        group_json(self, links)
    }
    fn etag(&self) -> String {
        self.meta.etag()
    }
    fn location(&self, links: &Links) -> String {
        links.group(&self.id)
    }
}
