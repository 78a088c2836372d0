//! ODM Groups: `/api/v1/scim/Groups`. Anyone may create a group (and becomes its admin);
//! members see it, its admins and manage-groups holders change it.

use axum::http::StatusCode;
use roster_core::patch::{group_change, parse_patch, Unknown};
use roster_core::policy::{GroupAccess, GroupReader};
use roster_core::{Entity, NewMember, Role};
use roster_store::GroupQuery;
use uuid::Uuid;

use super::render::group_json;
use super::{filter, parse_id, ROOT};
use roster_store::Store;

use crate::http::body::JsonBody;
use crate::http::extract::{BaseUrl, PathParam, QueryPairs};
use crate::http::{Answer, ApiError, Caller};
use crate::scim_resource::group_body::parse_group_body;
use crate::scim_resource::{list_json, page, respond, Links, ScimJson};

/// True when `excludedAttributes` names `members` (comma-separated list).
fn excludes_members(q: &QueryPairs) -> bool {
    q.get("excludedAttributes").is_some_and(|v| {
        v.split(',').any(|a| {
            let a = a.trim();
            a.eq_ignore_ascii_case("members")
                || a.eq_ignore_ascii_case("urn:ietf:params:scim:schemas:core:2.0:Group:members")
        })
    })
}

/// The caller's standing in one group; 404 when the group does not exist.
async fn access(caller: &Caller, id: Uuid) -> Result<GroupAccess, ApiError> {
    let p = caller.principal();
    let role = caller.store().member_role(id, p.user_seq).await?;
    Ok(p.group_access(id, role))
}

async fn load(
    store: &dyn Store,
    reader: &GroupReader,
    id: Uuid,
    with_members: bool,
) -> Result<roster_core::Group, ApiError> {
    // A group outside the reader's scope reads exactly like one that does not exist.
    store
        .get_group(reader, id, with_members)
        .await?
        .ok_or(ApiError::not_found(Entity::Group(id)))
}

#[utoipa::path(post, path = "/Groups",
    description = "Creates a group; `members` must be empty (add them with PATCH); the caller becomes its admin.",
    request_body(content = Value, content_type = "application/json", description = "A Group without members"),
    responses((status = 201, description = "The Group", content_type = "application/scim+json", body = Value)))]
pub async fn create(caller: Caller, base: BaseUrl, JsonBody(body, _): ScimJson) -> Answer {
    let p = caller.principal();
    let mut new = parse_group_body(&body)?;
    if !new.members.is_empty() {
        return Err(ApiError::invalid_value(
            "members must be empty when a group is created; add members with PATCH",
        ));
    }
    new.members = vec![NewMember::new(p.user_id, Some(Role::Admin))];
    let g = caller
        .store()
        .create_group(&p.group_creator(), &caller.ctx(), &new)
        .await?;
    let g = load(caller.store(), &p.group_reader(), g.id, true).await?;
    let links = Links::new(&base.0, ROOT);
    Ok(respond(
        StatusCode::CREATED,
        group_json(&g, &links),
        Some(g.meta.etag()),
        Some(links.group(&g.id)),
    ))
}

#[utoipa::path(get, path = "/Groups",
    description = "The groups the caller is a member of (all with Manage groups). Filter: `displayName eq \"...\"`.",
    params(("filter" = Option<String>, Query), ("startIndex" = Option<i64>, Query), ("count" = Option<i64>, Query),
           ("excludedAttributes" = Option<String>, Query, description = "`members` leaves them out")),
    responses((status = 200, description = "A ListResponse of Groups", content_type = "application/scim+json", body = Value)))]
pub async fn find(caller: Caller, base: BaseUrl, q: QueryPairs) -> Answer {
    let filter = q.get("filter").map(filter::groups).transpose()?;
    let found = caller
        .store()
        .list_groups(
            &caller.principal().group_reader(),
            &GroupQuery {
                sort: None,
                // The seed's order: oldest first.
                newest_first: false,
                filter,
                with_members: !excludes_members(&q),
                page: page(&q, super::DEFAULT_COUNT)?,
            },
        )
        .await?;
    let links = Links::new(&base.0, ROOT);
    Ok(respond(
        StatusCode::OK,
        list_json(&found, |g| group_json(g, &links)),
        None,
        None,
    ))
}

#[utoipa::path(get, path = "/Groups/{id}",
    description = "One group the caller may see; 404 also when the caller is not a member.",
    params(("id" = String, Path, description = "The group's id (a UUID)"),
           ("excludedAttributes" = Option<String>, Query, description = "`members` leaves them out")),
    responses((status = 200, description = "The Group", content_type = "application/scim+json", body = Value)))]
pub async fn get(
    caller: Caller,
    base: BaseUrl,
    PathParam(raw): PathParam,
    q: QueryPairs,
) -> Answer {
    let id = parse_id(&raw, "group")?;
    let g = load(
        caller.store(),
        &caller.principal().group_reader(),
        id,
        !excludes_members(&q),
    )
    .await?;
    let links = Links::new(&base.0, ROOT);
    Ok(respond(
        StatusCode::OK,
        group_json(&g, &links),
        Some(g.meta.etag()),
        None,
    ))
}

#[utoipa::path(patch, path = "/Groups/{id}",
    description = "Members (with roles) and attributes; the group's admins or Manage groups. Answers 204.",
    params(("id" = String, Path, description = "The group's id (a UUID)")),
    request_body(content = Value, content_type = "application/json", description = "A PatchOp message"),
    responses((status = 204, description = "Changed")))]
pub async fn patch(
    caller: Caller,
    PathParam(raw): PathParam,
    JsonBody(body, _): ScimJson,
) -> Answer<StatusCode> {
    let id = parse_id(&raw, "group")?;
    let editor = access(&caller, id).await?.editor()?;
    let change = group_change(&parse_patch(&body)?, Unknown::Ignore, &id.to_string())?;
    caller
        .store()
        .modify_group(&editor, &caller.ctx(), None, &change)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/Groups/{id}",
    description = "Deletes the group (its members are not deactivated); the group's admins or Manage groups.",
    params(("id" = String, Path, description = "The group's id (a UUID)")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(caller: Caller, PathParam(raw): PathParam) -> Answer<StatusCode> {
    let id = parse_id(&raw, "group")?;
    let editor = access(&caller, id).await?.editor()?;
    caller
        .store()
        .delete_group(&editor, &caller.ctx(), None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
