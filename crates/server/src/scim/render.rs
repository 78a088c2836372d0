//! SCIM JSON for users, groups and list responses. The ODM flavour differs on purpose:
//! only the core schema URN, only `work` emails, `displayName` always a string (its SDK
//! rejects anything else).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_core::schema::{ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use roster_core::{format_micros, Group, Meta, Page, User};
use serde_json::{json, Map, Value};

use super::error::SCIM_JSON;

pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Odm,
    Scim,
}

/// Absolute URL of a dialect's root, e.g. `http://127.0.0.1:8080/scim/v2`.
#[derive(Debug, Clone)]
pub struct Links {
    pub root: String,
}

impl Links {
    pub fn user(&self, id: &uuid::Uuid) -> String {
        format!("{}/Users/{id}", self.root)
    }
    pub fn group(&self, id: &uuid::Uuid) -> String {
        format!("{}/Groups/{id}", self.root)
    }
}

fn meta(m: &Meta, resource_type: &str, location: String) -> Value {
    json!({
        "resourceType": resource_type,
        "created": format_micros(m.created),
        "lastModified": format_micros(m.last_modified),
        "location": location,
        "version": m.etag(),
    })
}

fn put_opt(o: &mut Map<String, Value>, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        o.insert(key.to_owned(), Value::String(v.clone()));
    }
}

pub fn user_json(u: &User, flavor: Flavor, links: &Links) -> Value {
    let mut o = Map::new();
    o.insert("schemas".into(), json!([USER_SCHEMA]));
    o.insert("id".into(), json!(u.id.to_string()));
    put_opt(&mut o, "externalId", &u.external_id);
    o.insert("userName".into(), json!(u.user_name.as_str()));
    match flavor {
        Flavor::Odm => {
            // Required non-null by the ODM SDK: fall back to the login.
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
        }
        Flavor::Scim => {
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
        }
    }
    // ODM's SDK requires `active`; standard SCIM omits an unassigned flag.
    if flavor == Flavor::Odm || u.active_assigned {
        o.insert("active".into(), json!(u.active));
    }
    o.insert("meta".into(), meta(&u.meta, "User", links.user(&u.id)));
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
        let r = uuid::Uuid::parse_str(m)
            .map(|id| links.user(&id))
            .unwrap_or_default();
        o.insert("manager".into(), json!({"value": m, "$ref": r}));
    }
    Value::Object(o)
}

/// Members' `$ref` point into the same dialect's Users root. ODM members also carry
/// `display` and Roster's `role`; standard SCIM members only RFC 7643 §8.7.1's
/// `value`, `$ref` and `type`, which strict clients insist on.
pub fn group_json(g: &Group, flavor: Flavor, links: &Links) -> Value {
    let mut o = Map::new();
    o.insert("schemas".into(), json!([GROUP_SCHEMA]));
    o.insert("id".into(), json!(g.id.to_string()));
    put_opt(&mut o, "externalId", &g.external_id);
    o.insert("displayName".into(), json!(g.display_name));
    if let Some(members) = &g.members {
        let ms: Vec<Value> = members
            .iter()
            .map(|m| match flavor {
                Flavor::Odm => json!({
                    "value": m.user_id.to_string(),
                    "$ref": links.user(&m.user_id),
                    "display": m.display,
                    "type": "User",
                    "role": m.role.as_str(),
                }),
                Flavor::Scim => {
                    let mut v = json!({
                        "value": m.user_id.to_string(),
                        "$ref": links.user(&m.user_id),
                        "type": "User",
                    });
                    if let Some(d) = &m.given_display {
                        v["display"] = json!(d);
                    }
                    v
                }
            })
            .collect();
        o.insert("members".into(), Value::Array(ms));
    }
    o.insert("meta".into(), meta(&g.meta, "Group", links.group(&g.id)));
    Value::Object(o)
}

pub fn list_json<T>(page: &Page<T>, render: impl Fn(&T) -> Value) -> Value {
    let resources: Vec<Value> = page.items.iter().map(render).collect();
    let mut list = json!({
        "schemas": [LIST_URN],
        "totalResults": page.total,
        "startIndex": page.start_index,
        "itemsPerPage": resources.len(),
    });
    // Moved in, not through json!, which would deep-copy every resource.
    list["Resources"] = Value::Array(resources);
    list
}

/// A SCIM response with its content type, and ETag / Location when given.
pub fn respond(
    status: StatusCode,
    body: Value,
    etag: Option<String>,
    location: Option<String>,
) -> Response {
    // to_vec writes straight into a buffer (to_string goes through fmt::Write); serialising
    // a Value cannot fail (its map keys are strings).
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut res = (status, bytes).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    if let Some(v) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        h.insert(header::ETAG, v);
    }
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        h.insert(header::LOCATION, v);
    }
    res
}
