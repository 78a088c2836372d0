//! `/scim/v2/Groups`. An identity provider manages every group: manage-groups is required.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_core::patch::{group_change, parse_patch, Unknown};
use roster_core::policy::GroupReader;
use roster_core::schema::Resource;
use roster_core::{Entity, Group, GroupChange, MemberOp, Page};
use roster_store::GroupQuery;

use super::list::{resource, ListRequest};
use super::projection::Projection;
use super::render::group_json;
use super::{resource_id, ROOT};
use crate::app::AppState;
use crate::http::body::JsonBody;
use crate::http::extract::{if_match, BaseUrl, PathParam, QueryPairs};
use crate::http::{ApiError, Caller};
use crate::scim_resource::group_body::parse_group_body;
use crate::scim_resource::{list_json, respond, Links, ScimJson};

fn projection(q: &QueryPairs) -> Result<Projection, ApiError> {
    Projection::from_query(q.get("attributes"), q.get("excludedAttributes"))
}

fn links(base: &BaseUrl) -> Links {
    Links::new(&base.0, ROOT)
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
    resource(status, group_json(g, links), g.meta.etag(), loc, headers, p)
}

/// Reloads a group after a write, with members only when the response shows them.
async fn reload(
    state: &AppState,
    reader: &GroupReader,
    g: Group,
    p: &Projection,
) -> Result<Group, ApiError> {
    if !p.includes("members") {
        return Ok(g);
    }
    Ok(state
        .store
        .get_group(reader, g.id, true)
        .await?
        .unwrap_or(g))
}

#[utoipa::path(post, path = "/Groups", tag = "SCIM 2.0",
    description = "Creates a group, members included. Needs manage-groups.",
    request_body(content = Value, content_type = "application/scim+json", description = "A Group resource"),
    params(("attributes" = Option<String>, Query), ("excludedAttributes" = Option<String>, Query)),
    responses((status = 201, description = "The created Group", content_type = "application/scim+json", body = Value),
              (status = 400, description = "Invalid Group"), (status = 401, description = "No valid credential"),
              (status = 403, description = "manage-groups is required")),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    q: QueryPairs,
    JsonBody(body, _): ScimJson,
) -> Result<Response, ApiError> {
    let manager = caller.principal().group_manager()?;
    let p = projection(&q)?;
    let new = parse_group_body(&body)?;
    let g = state
        .store
        .create_group(&manager.creator(), &caller.ctx(), &new)
        .await?;
    let g = reload(&state, &manager.reader(), g, &p).await?;
    Ok(one(
        &g,
        StatusCode::CREATED,
        &links(&base),
        &headers,
        &p,
        true,
    ))
}

pub async fn list_groups(
    state: &AppState,
    reader: &GroupReader,
    req: &ListRequest,
) -> Result<Page<Group>, ApiError> {
    Ok(state
        .store
        .list_groups(
            reader,
            &GroupQuery {
                filter: req.cond(Resource::Group)?,
                sort: req.sort(Resource::Group)?,
                with_members: req.projection.includes("members"),
                page: req.page,
            },
        )
        .await?)
}

async fn answer_list(
    state: &AppState,
    reader: &GroupReader,
    base: &BaseUrl,
    req: ListRequest,
) -> Result<Response, ApiError> {
    let links = links(base);
    let page = list_groups(state, reader, &req).await?;
    let body = list_json(&page, |g| {
        let mut v = group_json(g, &links);
        req.projection.apply(&mut v);
        v
    });
    Ok(respond(StatusCode::OK, body, None, None))
}

#[utoipa::path(get, path = "/Groups", tag = "SCIM 2.0",
    description = "Lists groups: filter, sort, page, project (excludedAttributes=members skips loading members). Needs manage-groups.",
    params(("filter" = Option<String>, Query), ("startIndex" = Option<i64>, Query), ("count" = Option<i64>, Query),
           ("sortBy" = Option<String>, Query), ("sortOrder" = Option<String>, Query),
           ("attributes" = Option<String>, Query), ("excludedAttributes" = Option<String>, Query)),
    responses((status = 200, description = "A ListResponse of Groups", content_type = "application/scim+json", body = Value),
              (status = 400, description = "Invalid filter or paging"), (status = 403, description = "manage-groups is required")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let manager = caller.principal().group_manager()?;
    answer_list(
        &state,
        &manager.reader(),
        &base,
        ListRequest::from_query(&q)?,
    )
    .await
}

#[utoipa::path(post, path = "/Groups/.search", tag = "SCIM 2.0",
    description = "Lists groups from a SearchRequest body. Needs manage-groups.",
    request_body(content = Value, content_type = "application/scim+json", description = "A SearchRequest"),
    responses((status = 200, description = "A ListResponse of Groups", content_type = "application/scim+json", body = Value),
              (status = 400, description = "Invalid SearchRequest"), (status = 403, description = "manage-groups is required")),
    security(("bearer" = [])))]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    JsonBody(body, _): ScimJson,
) -> Result<Response, ApiError> {
    let manager = caller.principal().group_manager()?;
    answer_list(
        &state,
        &manager.reader(),
        &base,
        ListRequest::from_search(&body)?,
    )
    .await
}

#[utoipa::path(get, path = "/Groups/{id}", tag = "SCIM 2.0",
    description = "One group; 304 when If-None-Match names its version. Needs manage-groups.",
    params(("id" = String, Path, description = "The group's id"),
           ("attributes" = Option<String>, Query), ("excludedAttributes" = Option<String>, Query)),
    responses((status = 200, description = "The Group", content_type = "application/scim+json", body = Value),
              (status = 304, description = "Not modified"), (status = 403, description = "manage-groups is required"),
              (status = 404, description = "No such group")),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    q: QueryPairs,
    PathParam(raw): PathParam,
) -> Result<Response, ApiError> {
    let manager = caller.principal().group_manager()?;
    let p = projection(&q)?;
    let id = resource_id(&raw, "group")?;
    let g = state
        .store
        .get_group(&manager.reader(), id, p.includes("members"))
        .await?
        .ok_or(ApiError::not_found(Entity::Group(id)))?;
    Ok(one(&g, StatusCode::OK, &links(&base), &headers, &p, false))
}

#[utoipa::path(put, path = "/Groups/{id}", tag = "SCIM 2.0",
    description = "Full replace of displayName, externalId and the member list. If-Match is honoured.",
    params(("id" = String, Path, description = "The group's id"), ("If-Match" = Option<String>, Header)),
    request_body(content = Value, content_type = "application/scim+json", description = "A Group resource"),
    responses((status = 200, description = "The Group", content_type = "application/scim+json", body = Value),
              (status = 400, description = "Invalid Group"), (status = 404, description = "No such group"),
              (status = 412, description = "Version mismatch")),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    q: QueryPairs,
    PathParam(raw): PathParam,
    JsonBody(body, _): ScimJson,
) -> Result<Response, ApiError> {
    let manager = caller.principal().group_manager()?;
    let p = projection(&q)?;
    let id = resource_id(&raw, "group")?;
    let new = parse_group_body(&body)?;
    let change = GroupChange {
        display_name: Some(new.display_name),
        external_id: Some(new.external_id),
        members: vec![MemberOp::Replace(new.members)],
    };
    let g = state
        .store
        .modify_group(
            &manager.editor(id),
            &caller.ctx(),
            if_match(&headers)?,
            &change,
        )
        .await?;
    let g = reload(&state, &manager.reader(), g, &p).await?;
    Ok(one(&g, StatusCode::OK, &links(&base), &headers, &p, false))
}

#[utoipa::path(patch, path = "/Groups/{id}", tag = "SCIM 2.0",
    description = "RFC 7644 §3.5.2 PATCH (members add/remove/replace, attributes), atomic; answers 200 with the group (members unless excluded).",
    params(("id" = String, Path, description = "The group's id"), ("If-Match" = Option<String>, Header),
           ("attributes" = Option<String>, Query), ("excludedAttributes" = Option<String>, Query)),
    request_body(content = Value, content_type = "application/scim+json", description = "A PatchOp message"),
    responses((status = 200, description = "The Group", content_type = "application/scim+json", body = Value),
              (status = 400, description = "Invalid PATCH, or a member id that names no user"),
              (status = 404, description = "No such group"), (status = 412, description = "Version mismatch")),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    q: QueryPairs,
    PathParam(raw): PathParam,
    JsonBody(body, _): ScimJson,
) -> Result<Response, ApiError> {
    let manager = caller.principal().group_manager()?;
    let p = projection(&q)?;
    let id = resource_id(&raw, "group")?;
    let change = group_change(&parse_patch(&body)?, Unknown::Reject, &id.to_string())?;
    let g = state
        .store
        .modify_group(
            &manager.editor(id),
            &caller.ctx(),
            if_match(&headers)?,
            &change,
        )
        .await?;
    let g = reload(&state, &manager.reader(), g, &p).await?;
    Ok(one(&g, StatusCode::OK, &links(&base), &headers, &p, false))
}

#[utoipa::path(delete, path = "/Groups/{id}", tag = "SCIM 2.0",
    description = "Removes the group (not its members). If-Match is honoured.",
    params(("id" = String, Path, description = "The group's id"), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Removed"), (status = 404, description = "No such group"),
              (status = 412, description = "Version mismatch")),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathParam(raw): PathParam,
) -> Result<StatusCode, ApiError> {
    let manager = caller.principal().group_manager()?;
    let id = resource_id(&raw, "group")?;
    state
        .store
        .delete_group(&manager.editor(id), &caller.ctx(), if_match(&headers)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
