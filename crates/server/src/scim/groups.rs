//! `/scim/v2/Groups`. An identity provider manages every group: manage-groups is required.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_core::patch::{group_change, parse_patch, Unknown};
use roster_core::schema::Resource;
use roster_core::{CoreError, Group, GroupChange, MemberOp, Page, Permission, Principal};
use roster_store::GroupQuery;

use super::body::ScimJson;
use super::error::ScimError;
use super::group_body::parse_group_body;
use super::list::{resource, ListRequest};
use super::projection::Projection;
use super::render::{group_json, list_json, respond, Flavor, Links};
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

fn projection(q: &QueryPairs) -> Result<Projection, ScimError> {
    Projection::from_query(q.get("attributes"), q.get("excludedAttributes"))
}

fn one(
    g: &Group,
    status: StatusCode,
    links: &Links,
    headers: &HeaderMap,
    p: &Projection,
    location: bool,
) -> Response {
    let loc = location.then(|| links.group(&g.id));
    resource(
        status,
        group_json(g, Flavor::Scim, links),
        g.meta.etag(),
        loc,
        headers,
        p,
    )
}

/// Reloads a group after a write, with members only when the response shows them.
async fn reload(state: &AppState, g: Group, p: &Projection) -> Result<Group, ScimError> {
    if !p.includes("members") {
        return Ok(g);
    }
    Ok(state.store.get_group(g.id, true).await?.unwrap_or(g))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    q: QueryPairs,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    require_manager(&caller.0)?;
    let p = projection(&q)?;
    let new = parse_group_body(&body)?;
    let g = state.store.create_group(&ctx(&caller), &new).await?;
    let g = reload(&state, g, &p).await?;
    Ok(one(
        &g,
        StatusCode::CREATED,
        &base.links(ROOT),
        &headers,
        &p,
        true,
    ))
}

pub async fn list_groups(state: &AppState, req: &ListRequest) -> Result<Page<Group>, ScimError> {
    Ok(state
        .store
        .list_groups(&GroupQuery {
            filter: req.cond(Resource::Group)?,
            sort: req.sort(Resource::Group)?,
            member: None,
            with_members: req.projection.includes("members"),
            page: req.page,
        })
        .await?)
}

async fn answer_list(
    state: &AppState,
    base: &BaseUrl,
    req: ListRequest,
) -> Result<Response, ScimError> {
    let links = base.links(ROOT);
    let page = list_groups(state, &req).await?;
    let body = list_json(&page, |g| {
        let mut v = group_json(g, Flavor::Scim, &links);
        req.projection.apply(&mut v);
        v
    });
    Ok(respond(StatusCode::OK, body, None, None))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    q: QueryPairs,
) -> Result<Response, ScimError> {
    require_manager(&caller.0)?;
    answer_list(&state, &base, ListRequest::from_query(&q)?).await
}

/// POST /Groups/.search
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    require_manager(&caller.0)?;
    answer_list(&state, &base, ListRequest::from_search(&body)?).await
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    q: QueryPairs,
    Path(raw): Path<String>,
) -> Result<Response, ScimError> {
    require_manager(&caller.0)?;
    let p = projection(&q)?;
    let id = parse_id(&raw, "group")?;
    let g = state
        .store
        .get_group(id, p.includes("members"))
        .await?
        .ok_or_else(|| ScimError::not_found(format!("no group with id {id}")))?;
    Ok(one(
        &g,
        StatusCode::OK,
        &base.links(ROOT),
        &headers,
        &p,
        false,
    ))
}

/// Full replace of displayName, externalId and the member list.
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    q: QueryPairs,
    Path(raw): Path<String>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    require_manager(&caller.0)?;
    let p = projection(&q)?;
    let id = parse_id(&raw, "group")?;
    let new = parse_group_body(&body)?;
    let change = GroupChange {
        display_name: Some(new.display_name),
        external_id: Some(new.external_id),
        members: vec![MemberOp::Replace(new.members)],
    };
    let g = state
        .store
        .modify_group(&ctx(&caller), id, if_match(&headers)?, &change)
        .await?;
    let g = reload(&state, g, &p).await?;
    Ok(one(
        &g,
        StatusCode::OK,
        &base.links(ROOT),
        &headers,
        &p,
        false,
    ))
}

/// 200 with the group (members included unless the projection leaves them out).
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    q: QueryPairs,
    Path(raw): Path<String>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    require_manager(&caller.0)?;
    let p = projection(&q)?;
    let id = parse_id(&raw, "group")?;
    let change = group_change(&parse_patch(&body)?, Unknown::Reject, &id.to_string())?;
    let g = state
        .store
        .modify_group(&ctx(&caller), id, if_match(&headers)?, &change)
        .await?;
    let g = reload(&state, g, &p).await?;
    Ok(one(
        &g,
        StatusCode::OK,
        &base.links(ROOT),
        &headers,
        &p,
        false,
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
