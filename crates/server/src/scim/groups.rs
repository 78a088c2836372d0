//! `/scim/v2/Groups`. An identity provider manages every group: manage-groups is required.

use axum::http::{HeaderMap, StatusCode};
use roster_core::patch::{group_change, parse_patch, Unknown};
use roster_core::policy::GroupReader;
use roster_core::schema::{Resource, GROUP_SCHEMA, ROSTER_GROUP_SCHEMA};
use roster_core::{Entity, Group, GroupChange, MemberOp, Page};
use roster_store::GroupQuery;

use super::list::ListRequest;
use super::view::View;
use super::{openapi, resource_id};
use roster_store::Store;

use crate::http::body::JsonBody;
use crate::http::extract::{if_match, PathParam, QueryPairs};
use crate::http::{Answer, ApiError, Caller};
use crate::scim_resource::group_body::parse_group_body;
use crate::scim_resource::user_body::check_schemas;
use crate::scim_resource::ScimJson;

/// Reloads a group after a write, with members only when the answer shows them.
async fn reload(
    store: &dyn Store,
    reader: &GroupReader,
    g: Group,
    view: &View,
) -> Result<Group, ApiError> {
    if !view.projection.includes("members") {
        return Ok(g);
    }
    Ok(store.get_group(reader, g.id, true).await?.unwrap_or(g))
}

#[utoipa::path(post, path = "/Groups", params(openapi::Projection), responses(openapi::Created),
    description = "Creates a group, members included. Needs manage-groups.",
    request_body(content = Value, content_type = "application/scim+json", description = "A Group"))]
pub async fn create(caller: Caller, view: View, JsonBody(body, _): ScimJson) -> Answer {
    let manager = caller.principal().group_manager()?;
    check_schemas(&body, &[GROUP_SCHEMA, ROSTER_GROUP_SCHEMA], "Group")?;
    let new = parse_group_body(&body)?;
    let g = caller
        .store()
        .create_group(&manager.creator(), &caller.ctx(), &new)
        .await?;
    let g = reload(caller.store(), &manager.reader(), g, &view).await?;
    Ok(view.one(&g, StatusCode::CREATED))
}

pub async fn list_groups(
    store: &dyn Store,
    reader: &GroupReader,
    req: &ListRequest,
) -> Result<Page<Group>, ApiError> {
    let q = GroupQuery {
        filter: req.cond(Resource::Group)?,
        sort: req.sort(Resource::Group)?,
        newest_first: super::NEWEST_FIRST,
        with_members: req.projection.includes("members"),
        page: req.page,
    };
    Ok(store.list_groups(reader, &q).await?)
}

#[utoipa::path(
    get,
    path = "/Groups",
    params(openapi::Listing, openapi::Projection),
    responses(openapi::List),
    description = "Lists groups (excludedAttributes=members skips loading members). Needs manage-groups."
)]
pub async fn list(caller: Caller, view: View, q: QueryPairs) -> Answer {
    let manager = caller.principal().group_manager()?;
    let req = ListRequest::from_query(&q)?;
    let page = list_groups(caller.store(), &manager.reader(), &req).await?;
    Ok(view.list(&page, &req.projection))
}

#[utoipa::path(post, path = "/Groups/.search", responses(openapi::List),
    description = "Lists groups from a SearchRequest body. Needs manage-groups.",
    request_body(content = Value, content_type = "application/scim+json", description = "A SearchRequest"))]
pub async fn search(caller: Caller, view: View, JsonBody(body, _): ScimJson) -> Answer {
    let manager = caller.principal().group_manager()?;
    let req = ListRequest::from_search(&body)?;
    let page = list_groups(caller.store(), &manager.reader(), &req).await?;
    Ok(view.list(&page, &req.projection))
}

#[utoipa::path(
    get,
    path = "/Groups/{id}",
    params(openapi::Id, openapi::Projection),
    responses(openapi::One),
    description = "One group; 304 when If-None-Match names its version. Needs manage-groups."
)]
pub async fn get(caller: Caller, view: View, PathParam(raw): PathParam) -> Answer {
    let manager = caller.principal().group_manager()?;
    let id = resource_id(&raw, "group")?;
    let members = view.projection.includes("members");
    let g = caller
        .store()
        .get_group(&manager.reader(), id, members)
        .await?
        .ok_or(ApiError::not_found(Entity::Group(id)))?;
    Ok(view.one(&g, StatusCode::OK))
}

/// Applies `change` to the group named by the path, then answers it.
async fn change_group(
    store: &dyn Store,
    caller: &Caller,
    view: &View,
    headers: &HeaderMap,
    raw: &str,
    change: impl FnOnce(uuid::Uuid) -> Result<GroupChange, ApiError>,
) -> Answer {
    let manager = caller.principal().group_manager()?;
    let id = resource_id(raw, "group")?;
    let change = change(id)?;
    let editor = manager.editor(id);
    let g = store
        .modify_group(&editor, &caller.ctx(), if_match(headers)?, &change)
        .await?;
    let g = reload(store, &manager.reader(), g, view).await?;
    Ok(view.one(&g, StatusCode::OK))
}

#[utoipa::path(put, path = "/Groups/{id}", params(openapi::Id, openapi::IfMatch, openapi::Projection), responses(openapi::One),
    description = "Full replace of displayName, externalId and the member list.",
    request_body(content = Value, content_type = "application/scim+json", description = "A Group"))]
pub async fn put(
    caller: Caller,
    view: View,
    headers: HeaderMap,
    PathParam(raw): PathParam,
    JsonBody(body, _): ScimJson,
) -> Answer {
    change_group(caller.store(), &caller, &view, &headers, &raw, |_| {
        check_schemas(&body, &[GROUP_SCHEMA, ROSTER_GROUP_SCHEMA], "Group")?;
        let new = parse_group_body(&body)?;
        Ok(GroupChange {
            display_name: Some(new.display_name),
            external_id: Some(new.external_id),
            members: vec![MemberOp::Replace(new.members)],
        })
    })
    .await
}

#[utoipa::path(patch, path = "/Groups/{id}", params(openapi::Id, openapi::IfMatch, openapi::Projection), responses(openapi::One),
    description = "RFC 7644 §3.5.2 PATCH (members add/remove/replace, attributes), atomic; 400 for a member id that names no user.",
    request_body(content = Value, content_type = "application/scim+json", description = "A PatchOp message"))]
pub async fn patch(
    caller: Caller,
    view: View,
    headers: HeaderMap,
    PathParam(raw): PathParam,
    JsonBody(body, _): ScimJson,
) -> Answer {
    change_group(caller.store(), &caller, &view, &headers, &raw, |id| {
        Ok(group_change(
            &parse_patch(&body)?,
            Unknown::Reject,
            &id.to_string(),
        )?)
    })
    .await
}

#[utoipa::path(
    delete,
    path = "/Groups/{id}",
    params(openapi::Id, openapi::IfMatch),
    responses(openapi::Removed),
    description = "Removes the group (not its members)."
)]
pub async fn delete(
    caller: Caller,
    headers: HeaderMap,
    PathParam(raw): PathParam,
) -> Answer<StatusCode> {
    let manager = caller.principal().group_manager()?;
    let id = resource_id(&raw, "group")?;
    caller
        .store()
        .delete_group(&manager.editor(id), &caller.ctx(), if_match(&headers)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
