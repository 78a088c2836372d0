//! SCIM resources as JSON (RFC 7643), shared by the two dialects that speak SCIM: standard
//! SCIM 2.0 (`scim/`) and Genestack ODM's SCIM profile (`odm/`). Parsing User and Group
//! bodies into the model, the pieces every SCIM response is built from (`meta`, the list
//! envelope, links), and the SCIM error body. What differs between the two (which
//! attributes a response shows, how errors are worded) is each dialect's own.

pub mod error;
pub mod group_body;
pub mod user_body;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_core::{format_micros, Meta, Page, PageRequest};
use serde_json::{json, Map, Value};

use crate::http::body::{JsonBody, MediaTypes};
use crate::http::extract::QueryPairs;
use crate::http::ApiError;

pub const SCIM_JSON: &str = "application/scim+json";
pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// SCIM bodies: `application/scim+json`, and `application/json` that the ODM SDK sends.
pub struct ScimMedia;

impl MediaTypes for ScimMedia {
    const ACCEPTED: &'static [&'static str] = &["application/scim+json", "application/json"];
}

/// A SCIM request body (a JSON object).
pub type ScimJson = JsonBody<ScimMedia>;

/// Absolute URL of a dialect's root, e.g. `http://127.0.0.1:8080/scim/v2`.
#[derive(Debug, Clone)]
pub struct Links {
    pub root: String,
}

impl Links {
    pub fn new(base: &str, root: &str) -> Self {
        Self {
            root: format!("{base}{root}"),
        }
    }
    pub fn user(&self, id: &uuid::Uuid) -> String {
        format!("{}/Users/{id}", self.root)
    }
    pub fn group(&self, id: &uuid::Uuid) -> String {
        format!("{}/Groups/{id}", self.root)
    }
}

/// The `meta` attribute (RFC 7643 §3.1).
pub fn meta_json(m: &Meta, resource_type: &str, location: String) -> Value {
    json!({
        "resourceType": resource_type,
        "created": format_micros(m.created),
        "lastModified": format_micros(m.last_modified),
        "location": location,
        "version": m.etag(),
    })
}

/// What every rendering of a User starts from: its schema, ids and `meta`.
pub fn user_base(u: &roster_core::User, links: &Links) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("schemas".into(), json!([roster_core::schema::USER_SCHEMA]));
    o.insert("id".into(), json!(u.id.to_string()));
    put_opt(&mut o, "externalId", &u.external_id);
    o.insert("userName".into(), json!(u.user_name.as_str()));
    o.insert("meta".into(), meta_json(&u.meta, "User", links.user(&u.id)));
    o
}

/// What every rendering of a Group starts from: its schema, ids, name and `meta`; its
/// members each as `member(m, base)`, where `base` holds the member's `value`, `$ref` and
/// `type`.
pub fn group_base(
    g: &roster_core::Group,
    links: &Links,
    member: impl Fn(&roster_core::Member, Map<String, Value>) -> Value,
) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("schemas".into(), json!([roster_core::schema::GROUP_SCHEMA]));
    o.insert("id".into(), json!(g.id.to_string()));
    put_opt(&mut o, "externalId", &g.external_id);
    o.insert("displayName".into(), json!(g.display_name));
    if let Some(slug) = &g.slug {
        o.insert(
            "schemas".into(),
            json!([
                roster_core::schema::GROUP_SCHEMA,
                roster_core::schema::ROSTER_GROUP_SCHEMA
            ]),
        );
        o.insert(
            roster_core::schema::ROSTER_GROUP_SCHEMA.into(),
            json!({ "slug": slug }),
        );
    }
    if let Some(members) = &g.members {
        let ms = members.iter().map(|m| {
            let mut base = Map::new();
            base.insert("value".into(), json!(m.user_id.to_string()));
            base.insert("$ref".into(), json!(links.user(&m.user_id)));
            base.insert("type".into(), json!("User"));
            member(m, base)
        });
        o.insert("members".into(), Value::Array(ms.collect()));
    }
    o.insert(
        "meta".into(),
        meta_json(&g.meta, "Group", links.group(&g.id)),
    );
    o
}

/// Sets `key` when the value is present.
pub fn put_opt(o: &mut Map<String, Value>, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        o.insert(key.to_owned(), Value::String(v.clone()));
    }
}

/// A ListResponse (RFC 7644 §3.4.2) around already rendered resources.
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

/// `startIndex` and `count` (RFC 7644 §3.4.2.4); `default` when the query names no count.
pub fn page(q: &QueryPairs, default: i64) -> Result<PageRequest, ApiError> {
    Ok(PageRequest::parse(
        q.get("startIndex"),
        q.get("count"),
        default,
    )?)
}

/// The object of a SCIM message (a SearchRequest, a BulkRequest ...) whose `schemas` must
/// name `urn`; `what` names it in the error.
pub fn message<'a>(
    body: &'a Value,
    urn: &str,
    what: &str,
) -> Result<&'a Map<String, Value>, ApiError> {
    let o = body
        .as_object()
        .ok_or_else(|| ApiError::invalid_syntax(format!("a {what} must be an object")))?;
    let named = o
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(urn)));
    if !named {
        return Err(ApiError::invalid_syntax(format!(
            "schemas must contain \"{urn}\""
        )));
    }
    Ok(o)
}

/// Parses a resource id; `None` when it is not a UUID (each dialect says what that means).
pub fn parse_id(raw: &str) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(raw).ok()
}
