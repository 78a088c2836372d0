//! `/scim/v2/Groups`. An identity provider manages every group: manage-groups is required.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_core::patch::{group_change, parse_patch, Unknown};
use roster_core::{filter::parse_filter, schema, CoreError, Permission, Principal};
use roster_store::GroupQuery;

use super::body::ScimJson;
use super::error::ScimError;
use super::group_body::parse_group_body;
use super::render::{group_json, list_json, respond};
use super::request::{if_match, BaseUrl, QueryPairs};
use super::{ctx, parse_id, Caller, ROOT};
use crate::app::AppState;

fn require_manager(p: &Principal) -> Result<(), ScimError> {
    if p.has(Permission::ManageGroups) {
        Ok(())
    } else {
        Err(CoreError::Forbidden("the manage-groups permission is required".into()).into())
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    require_manager(&caller.0)?;
    let new = parse_group_body(&body)?;
    let g = state.store.create_group(&ctx(&caller), &new).await?;
    let g = state
        .store
        .get_group(g.id, true)
        .await?
        .ok_or_else(|| ScimError::not_found("group vanished"))?;
    let links = base.links(ROOT);
    Ok(respond(
        StatusCode::CREATED,
        group_json(&g, &links),
        Some(g.meta.etag()),
        Some(links.group(&g.id)),
    ))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    q: QueryPairs,
) -> Result<Response, ScimError> {
    require_manager(&caller.0)?;
    let filter = q
        .get("filter")
        .map(|f| parse_filter(f).and_then(|f| schema::resolve(schema::Resource::Group, &f)))
        .transpose()?;
    let page = state
        .store
        .list_groups(&GroupQuery {
            filter,
            member: None,
            with_members: !q.excludes_members(),
            page: q.page()?,
        })
        .await?;
    let links = base.links(ROOT);
    Ok(respond(
        StatusCode::OK,
        list_json(&page, |g| group_json(g, &links)),
        None,
        None,
    ))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(raw): Path<String>,
    q: QueryPairs,
) -> Result<Response, ScimError> {
    require_manager(&caller.0)?;
    let id = parse_id(&raw, "group")?;
    let g = state
        .store
        .get_group(id, !q.excludes_members())
        .await?
        .ok_or_else(|| ScimError::not_found(format!("no group with id {id}")))?;
    let links = base.links(ROOT);
    Ok(respond(
        StatusCode::OK,
        group_json(&g, &links),
        Some(g.meta.etag()),
        None,
    ))
}

/// 200 with the group (members included unless excludedAttributes=members).
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    Path(raw): Path<String>,
    q: QueryPairs,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    require_manager(&caller.0)?;
    let id = parse_id(&raw, "group")?;
    let change = group_change(&parse_patch(&body)?, Unknown::Reject)?;
    let g = state
        .store
        .modify_group(&ctx(&caller), id, if_match(&headers)?, &change)
        .await?;
    let g = if q.excludes_members() {
        g
    } else {
        state.store.get_group(id, true).await?.unwrap_or(g)
    };
    let links = base.links(ROOT);
    Ok(respond(
        StatusCode::OK,
        group_json(&g, &links),
        Some(g.meta.etag()),
        None,
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<StatusCode, ScimError> {
    require_manager(&caller.0)?;
    let id = parse_id(&raw, "group")?;
    state
        .store
        .delete_group(&ctx(&caller), id, if_match(&headers)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
