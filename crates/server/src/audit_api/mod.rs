//! Roster's own audit API at `/api/v1/audit`: the audit trail for administrators, filtered
//! by actor, target, action and time, keyset-paged newest first. Errors are RFC 9457
//! problem JSON.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_core::format_micros;
use roster_store::{Action, AuditQuery};
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::http::auth::{bearer_only, Caller, Credential};
use crate::http::body::json_response;
use crate::http::dialect::{problem_json, Dialect, ErrorContext};
use crate::http::extract::QueryPairs;
use crate::http::ApiError;

/// Most rows per page, and the default.
const MAX_COUNT: i64 = 1000;
const DEFAULT_COUNT: i64 = 100;

pub struct Audit;

impl Dialect for Audit {
    const NAME: &'static str = "audit";
    const PREFIX: &'static str = "/api/v1/audit";
    const CHALLENGE: &'static str = "Bearer";
    const SECURITY: &'static [&'static str] = &["bearer"];
    const ERROR_BODY: &'static str =
        "RFC 9457 problem details (`type`, `title`, `status`, `detail`)";
    const TAG: &'static str = "Roster audit";

    fn credentials(headers: &HeaderMap) -> Result<Option<Credential<'_>>, ApiError> {
        bearer_only(headers)
    }

    fn render(e: &ApiError, _: &ErrorContext<'_>) -> Response {
        problem_json(e)
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// A time as RFC 3339 (`2026-12-02T05:00:00Z`) or microseconds since the epoch.
fn time(name: &str, v: &str) -> Result<i64, ApiError> {
    if let Ok(n) = v.parse::<i64>() {
        return Ok(n);
    }
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.timestamp_micros())
        .map_err(|_| {
            ApiError::invalid_value(format!(
                "{name} must be an RFC 3339 time or microseconds since the epoch"
            ))
        })
}

fn text(q: &QueryPairs, name: &str) -> Result<Option<String>, ApiError> {
    match q.get(name) {
        None | Some("") => Ok(None),
        Some(v) if v.len() > 512 => Err(ApiError::invalid_value(format!("{name} is too long"))),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

#[utoipa::path(get, path = "", 
    params(
        ("actor" = Option<String>, Query, description = "Who made the change: a user id or an operator command (`cli:token-issue`)"),
        ("target" = Option<String>, Query, description = "What it was made to: a user or group id (rows whose target starts with it)"),
        ("action" = Option<String>, Query, description = "e.g. `user.create`, `permission.grant`, `oauth-client.rotate`"),
        ("requestId" = Option<String>, Query, description = "The request's id"),
        ("since" = Option<String>, Query, description = "At or after this time (RFC 3339 or epoch microseconds)"),
        ("until" = Option<String>, Query, description = "Before this time"),
        ("before" = Option<i64>, Query, description = "The `next` cursor of the previous page"),
        ("count" = Option<i64>, Query, description = "Rows per page, at most 1000 (default 100)"),
    ),
    description = "The audit trail, newest first, keyset-paged: follow `next` until it is null. Needs manage-organization.",
    responses((status = 200, description = "`{\"items\": [...], \"next\": cursor or null}`", body = Value)))]
pub async fn list(caller: Caller, q: QueryPairs) -> Result<Response, ApiError> {
    let reader = caller.principal().user_admin()?.audit_reader();
    let action = match text(&q, "action")? {
        None => None,
        Some(a) => Some(Action::parse(&a).ok_or_else(|| {
            let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
            ApiError::invalid_value(format!("unknown action; known: {}", known.join(", ")))
        })?),
    };
    let int = |name: &str| -> Result<Option<i64>, ApiError> {
        q.get(name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ApiError::invalid_value(format!("{name} must be an integer")))
            })
            .transpose()
    };
    let count = int("count")?.unwrap_or(DEFAULT_COUNT);
    if !(1..=MAX_COUNT).contains(&count) {
        return Err(ApiError::invalid_value(format!(
            "count must be between 1 and {MAX_COUNT}"
        )));
    }
    let query = AuditQuery {
        request_id: text(&q, "requestId")?,
        actor: text(&q, "actor")?,
        action,
        target: text(&q, "target")?,
        since: text(&q, "since")?.map(|v| time("since", &v)).transpose()?,
        until: text(&q, "until")?.map(|v| time("until", &v)).transpose()?,
        before: int("before")?,
        limit: Some(count + 1),
    };
    let mut rows = caller.store().audit_rows(&reader, &query).await?;
    let more = rows.len() as i64 > count;
    rows.truncate(usize::try_from(count).unwrap_or(0));
    let next = more.then(|| rows.last().map(|r| r.seq)).flatten();
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"seq": r.seq, "at": format_micros(r.at), "actor": r.actor, "action": r.action,
                   "target": r.target, "requestId": r.request_id, "changes": r.changes})
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"items": items, "next": next}),
    ))
}
