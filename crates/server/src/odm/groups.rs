//! ODM Groups: `/api/v1/scim/Groups`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use roster_core::patch::{group_change, parse_patch, Unknown};
use roster_core::{CoreError, NewMember, Permission, Role};
use roster_store::GroupQuery;
use uuid::Uuid;

use super::{filter, parse_id, Caller, OdmError, ROOT};
use crate::app::AppState;
use crate::scim::body::ScimJson;
use crate::scim::group_body::parse_group_body;
use crate::scim::render::{group_json, list_json, respond, Flavor};
use crate::scim::request::{BaseUrl, QueryPairs};

fn not_found(id: &Uuid) -> OdmError {
    CoreError::not_found(format!("There are no groups with the id {id}")).into()
}

/// The caller's access to one group; 404 when the group does not exist.
async fn access(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<roster_core::policy::GroupAccess, OdmError> {
    let role = state.store.member_role(id, caller.0.user_seq).await?;
    Ok(caller.0.group_access(role))
}

/// Needs no permission; `members` must be empty; the caller becomes the group's admin.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    ScimJson(body): ScimJson,
) -> Result<Response, OdmError> {
    let mut new = parse_group_body(&body)?;
    if !new.members.is_empty() {
        return Err(CoreError::invalid_value(
            "members must be empty when a group is created; add members with PATCH",
        )
        .into());
    }
    new.members = vec![NewMember::new(caller.0.user_id, Some(Role::Admin))];
    let g = state.store.create_group(&caller.ctx(), &new).await?;
    let g = state
        .store
        .get_group(g.id, true)
        .await?
        .ok_or_else(|| not_found(&g.id))?;
    let links = base.links(ROOT);
    Ok(respond(
        StatusCode::CREATED,
        group_json(&g, Flavor::Odm, &links),
        Some(g.meta.etag()),
        Some(links.group(&g.id)),
    ))
}

/// Groups the caller is a member of, or all with manage-groups.
pub async fn find(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    q: QueryPairs,
) -> Result<Response, OdmError> {
    let filter = q.get("filter").map(filter::groups).transpose()?;
    let member = (!caller.0.has(Permission::ManageGroups)).then_some(caller.0.user_seq);
    let page = state
        .store
        .list_groups(&GroupQuery {
            sort: None,
            filter,
            member,
            with_members: !q.excludes_members(),
            page: q.page()?,
        })
        .await?;
    let links = base.links(ROOT);
    Ok(respond(
        StatusCode::OK,
        list_json(&page, |g| group_json(g, Flavor::Odm, &links)),
        None,
        None,
    ))
}

/// 404 also when the caller may not see the group.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(raw): Path<String>,
    q: QueryPairs,
) -> Result<Response, OdmError> {
    let id = parse_id(&raw, "group")?;
    if !access(&state, &caller, id).await?.can_view() {
        return Err(not_found(&id));
    }
    let g = state
        .store
        .get_group(id, !q.excludes_members())
        .await?
        .ok_or_else(|| not_found(&id))?;
    let links = base.links(ROOT);
    Ok(respond(
        StatusCode::OK,
        group_json(&g, Flavor::Odm, &links),
        Some(g.meta.etag()),
        None,
    ))
}

/// Group admins or manage-groups; 204 on success.
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    ScimJson(body): ScimJson,
) -> Result<StatusCode, OdmError> {
    let id = parse_id(&raw, "group")?;
    access(&state, &caller, id).await?.editor()?;
    let change = group_change(&parse_patch(&body)?, Unknown::Ignore, &id.to_string())?;
    state
        .store
        .modify_group(&caller.ctx(), id, None, &change)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Group admins or manage-groups; members are not deactivated.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, OdmError> {
    let id = parse_id(&raw, "group")?;
    access(&state, &caller, id).await?.editor()?;
    state.store.delete_group(&caller.ctx(), id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
