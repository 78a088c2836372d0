//! The HTTP ceiling Roster's reads are measured against: a bare axum server, in its own
//! process like a spawned `roster`, that answers `GET /scim/v2/Users/{id}` and
//! `filter=userName eq "…"` with the same SCIM JSON from a map in memory (a bearer check,
//! a hash lookup, a derived `Serialize`). No storage, no policy, no middleware: what any
//! Rust service answering these requests on this machine cannot beat.
//!
//! `roster-bench --baseline --users N --workloads get,filter` starts it (this binary again,
//! with `--serve-baseline`) and runs the workloads against it exactly as against Roster.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;

use crate::seed::{user_name, Manifest};

/// The token the baseline takes (it guards nothing; it makes the check cost what it costs).
pub const TOKEN: &str = "baseline-token";

/// User `i` of a baseline of `tag`: the id is a function of the index, so the load
/// generator and the server agree without seeding.
pub fn user_id(tag: &str, i: usize) -> String {
    let h = tag
        .bytes()
        .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
    format!("{:08x}-0000-4000-8000-{:012x}", h as u32, i)
}

/// The manifest the workloads read, for `users` baseline users of `tag`.
pub fn manifest(tag: &str, users: usize) -> Manifest {
    Manifest {
        tag: tag.to_owned(),
        users: (0..users).map(|i| user_id(tag, i)).collect(),
        spares: Vec::new(),
        groups: Vec::new(),
        sized: Vec::new(),
        token: Some(TOKEN.to_owned()),
    }
}

#[derive(Serialize)]
struct Name<'a> {
    #[serde(rename = "givenName")]
    given_name: &'a str,
    #[serde(rename = "familyName")]
    family_name: &'a str,
}

#[derive(Serialize)]
struct Email<'a> {
    value: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    primary: bool,
}

#[derive(Serialize)]
struct Meta<'a> {
    #[serde(rename = "resourceType")]
    resource_type: &'a str,
    created: &'a str,
    #[serde(rename = "lastModified")]
    last_modified: &'a str,
    location: String,
    version: &'a str,
}

/// The fields of Roster's answer for a seeded user.
#[derive(Serialize)]
struct ScimUser<'a> {
    schemas: [&'a str; 1],
    id: &'a str,
    #[serde(rename = "userName")]
    user_name: &'a str,
    name: Name<'a>,
    #[serde(rename = "displayName")]
    display_name: &'a str,
    active: bool,
    emails: [Email<'a>; 1],
    meta: Meta<'a>,
}

#[derive(Serialize)]
struct ListResponse<'a> {
    schemas: [&'a str; 1],
    #[serde(rename = "totalResults")]
    total_results: usize,
    #[serde(rename = "startIndex")]
    start_index: usize,
    #[serde(rename = "itemsPerPage")]
    items_per_page: usize,
    #[serde(rename = "Resources")]
    resources: Vec<ScimUser<'a>>,
}

struct Stored {
    id: String,
    user_name: String,
    display: String,
    email: String,
}

struct Data {
    by_id: HashMap<String, Stored>,
    /// userName → id.
    by_name: HashMap<String, String>,
}

fn render(u: &Stored) -> ScimUser<'_> {
    ScimUser {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
        id: &u.id,
        user_name: &u.user_name,
        name: Name {
            given_name: "Bench",
            family_name: &u.display,
        },
        display_name: &u.display,
        active: true,
        emails: [Email {
            value: &u.email,
            kind: "work",
            primary: true,
        }],
        meta: Meta {
            resource_type: "User",
            created: "2026-12-03T12:00:00.000000Z",
            last_modified: "2026-12-03T12:00:00.000000Z",
            location: format!("http://127.0.0.1/scim/v2/Users/{}", u.id),
            version: "W/\"1\"",
        },
    }
}

fn authorized(h: &HeaderMap) -> bool {
    h.get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t.as_bytes() == TOKEN.as_bytes())
}

fn json(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/scim+json")],
        body,
    )
        .into_response()
}

async fn get_user(
    State(data): State<Arc<Data>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match data.by_id.get(&id) {
        Some(u) => json(
            StatusCode::OK,
            serde_json::to_vec(&render(u)).unwrap_or_default(),
        ),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn list_users(
    State(data): State<Arc<Data>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    // Only what the `filter` workload sends: userName eq "…".
    let name = q
        .get("filter")
        .and_then(|f| f.strip_prefix("userName eq \""))
        .and_then(|f| f.strip_suffix('"'));
    let found: Vec<ScimUser<'_>> = name
        .and_then(|n| data.by_name.get(n))
        .and_then(|id| data.by_id.get(id))
        .map(render)
        .into_iter()
        .collect();
    let body = ListResponse {
        schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        total_results: found.len(),
        start_index: 1,
        items_per_page: found.len(),
        resources: found,
    };
    json(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

/// Serves the baseline of `users` users of `tag` on `addr` until killed, on as many worker
/// threads as a `roster serve` would have.
pub fn serve(addr: std::net::SocketAddr, tag: &str, users: usize) -> anyhow::Result<()> {
    let mut by_id = HashMap::with_capacity(users);
    let mut by_name = HashMap::with_capacity(users);
    for i in 0..users {
        let id = user_id(tag, i);
        let name = user_name(tag, i);
        by_name.insert(name.clone(), id.clone());
        by_id.insert(
            id.clone(),
            Stored {
                id,
                email: format!("{name}@example.com"),
                display: format!("Bench User {i}"),
                user_name: name,
            },
        );
    }
    let data = Arc::new(Data { by_id, by_name });
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/scim/v2/Users", get(list_users))
        .route("/scim/v2/Users/{id}", get(get_user))
        .with_state(data);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            axum::serve(listener, app).await?;
            Ok(())
        })
}
