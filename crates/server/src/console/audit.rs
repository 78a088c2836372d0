//! The audit trail (manage-organization): every change with who, what, when and the request
//! id, newest first, filtered by actor, target, action and time, a page of 50 at a time
//! (older pages continue below the last row shown: a seq cursor, never an offset).

use axum::response::Response;
use roster_core::filter::CompareOp;
use roster_core::schema::{Cond, Field, Scalar};
use roster_core::PageRequest;
use roster_store::{Action, AuditQuery, UserQuery};
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{param, when, Me, PAGE_SIZE};
use crate::app::AppState;
use crate::http::extract::QueryPairs;
use crate::http::ApiError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(trail))
}

/// A day (`YYYY-MM-DD`, UTC) or a moment (RFC 3339) as microseconds; `end` moves a day to
/// its end.
fn time(raw: &str, end: bool) -> Result<i64, ApiError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(t.timestamp_micros());
    }
    let day = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        ApiError::invalid_value(format!(
            "{raw:?} is not a date (YYYY-MM-DD) or a time (RFC 3339)"
        ))
    })?;
    let day = if end {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    Ok(day
        .and_hms_opt(0, 0, 0)
        .map_or(0, |d| d.and_utc().timestamp_micros()))
}

#[utoipa::path(get, path = "/audit",
    params(("actor" = Option<String>, Query, description = "A user's id or userName, or an operator's name (cli:…)"),
           ("target" = Option<String>, Query, description = "A user's or group's id"),
           ("action" = Option<String>, Query, description = "An action, e.g. user.create"),
           ("since" = Option<String>, Query, description = "From this day (YYYY-MM-DD) or time"),
           ("until" = Option<String>, Query, description = "To this day (inclusive) or time"),
           ("request_id" = Option<String>, Query, description = "One request's rows"),
           ("before" = Option<i64>, Query, description = "Rows older than this one (the next page)")),
    description = "The audit trail (manage-organization).",
    responses((status = 200, description = "The page", content_type = "text/html", body = String)))]
async fn trail(me: Me, q: QueryPairs) -> Result<Response, ApiError> {
    let admin = me.caller.principal().user_admin()?;
    let store = me.caller.store();
    let actor = match param(&q, "actor") {
        None => None,
        Some(a) if Uuid::parse_str(a).is_ok() || a.contains(':') || a == "bootstrap" => {
            Some(a.to_owned())
        }
        Some(a) => {
            // A userName: the trail names users by id.
            let found = match roster_core::UserName::parse(a) {
                Ok(n) => store.find_user_by_name(&admin.reader(), &n).await?,
                Err(_) => None,
            };
            Some(found.map_or_else(|| a.to_owned(), |u| u.id.to_string()))
        }
    };
    let action = match param(&q, "action") {
        None => None,
        Some(a) => Some(Action::parse(a).ok_or_else(|| {
            ApiError::invalid_value(format!("{a:?} is not an action of the audit trail"))
        })?),
    };
    let query = AuditQuery {
        request_id: param(&q, "request_id").map(str::to_owned),
        actor,
        action,
        target: param(&q, "target").map(str::to_owned),
        since: param(&q, "since").map(|s| time(s, false)).transpose()?,
        until: param(&q, "until").map(|s| time(s, true)).transpose()?,
        before: param(&q, "before").and_then(|b| b.parse().ok()),
        limit: Some(PAGE_SIZE),
    };
    let rows = store.audit_rows(&admin.audit_reader(), &query).await?;
    let older = (rows.len() as i64 == PAGE_SIZE).then(|| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &q.0 {
            if k != "before" {
                s.append_pair(k, v);
            }
        }
        if let Some(last) = rows.last() {
            s.append_pair("before", &last.seq.to_string());
        }
        format!("/console/audit?{}", s.finish())
    });
    let user_of = |id: Option<&str>| {
        id.and_then(|i| i.split(' ').next())
            .and_then(|i| Uuid::parse_str(i).ok())
    };
    let ids: Vec<Uuid> = rows
        .iter()
        .flat_map(|r| [user_of(r.actor.as_deref()), user_of(r.target.as_deref())])
        .flatten()
        .collect();
    let names = user_names(&me, &admin, ids).await?;
    let named = |id: Option<Uuid>| {
        id.and_then(|i| names.iter().find(|(u, _)| *u == i))
            .map(|(u, n)| json!({"id": u.to_string(), "name": n}))
    };
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            // A target may name more than the user ("<id> manage-groups").
            let rest = r
                .target
                .as_deref()
                .and_then(|t| t.split_once(' '))
                .map(|x| x.1);
            json!({
                "at": when(r.at),
                "actor": r.actor,
                "actor_user": named(user_of(r.actor.as_deref())),
                "action": r.action,
                "target": r.target,
                "target_user": named(user_of(r.target.as_deref())),
                "target_rest": rest,
                "request_id": r.request_id,
                "changes": r.changes.join(", "),
            })
        })
        .collect();
    Ok(me.page(
        "audit",
        "audit.html",
        json!({
            "rows": rows,
            "actions": Action::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            "filters": {
                "actor": param(&q, "actor"),
                "target": param(&q, "target"),
                "action": param(&q, "action"),
                "since": param(&q, "since"),
                "until": param(&q, "until"),
                "request_id": param(&q, "request_id"),
            },
            "older": older,
        }),
    ))
}

/// The userNames of the users among `ids` that still exist, in one indexed list query (at
/// most two per row shown).
async fn user_names(
    me: &Me,
    admin: &roster_core::policy::UserAdmin,
    mut ids: Vec<Uuid>,
) -> Result<Vec<(Uuid, String)>, ApiError> {
    ids.sort_unstable();
    ids.dedup();
    // A balanced OR of id equalities: depth log2(100), not 100.
    fn any_of(ids: &[Uuid]) -> Option<Cond> {
        match ids {
            [] => None,
            [one] => Some(Cond::Cmp(
                Field::UserId,
                CompareOp::Eq,
                Scalar::Text(one.to_string()),
            )),
            _ => {
                let (a, b) = ids.split_at(ids.len() / 2);
                Some(Cond::Or(Box::new(any_of(a)?), Box::new(any_of(b)?)))
            }
        }
    }
    let Some(filter) = any_of(&ids) else {
        return Ok(Vec::new());
    };
    let found = me
        .caller
        .store()
        .list_users(
            &admin.reader(),
            &UserQuery {
                filter: Some(filter),
                page: PageRequest {
                    start_index: 1,
                    count: ids.len() as i64,
                },
                ..UserQuery::default()
            },
        )
        .await?;
    Ok(found
        .items
        .into_iter()
        .map(|u| (u.id, u.user_name.as_str().to_owned()))
        .collect())
}
