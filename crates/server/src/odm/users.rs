//! ODM Users: `/api/v1/scim/Users`. Every operation needs manage-organization.

use axum::http::StatusCode;
use axum::response::Response;
use roster_core::patch::{apply_user_patch, parse_patch, Unknown, UserAttr, UserPatchProfile};
use roster_core::{CoreError, Entity};
use roster_store::UserQuery;

use super::render::user_json;
use super::{filter, parse_id, ROOT};
use crate::http::body::JsonBody;
use crate::http::extract::{BaseUrl, PathParam, QueryPairs};
use crate::http::{Answer, ApiError, Caller};
use crate::scim_resource::user_body::{get_ci, parse_user_body};
use crate::scim_resource::{list_json, page, respond, Links, ScimJson};

/// ODM: userName, externalId, displayName and active are editable; emails belong to the
/// ODM schema but are not editable (error); anything else is ignored.
const PATCH_PROFILE: UserPatchProfile = UserPatchProfile {
    editable: &[
        UserAttr::UserName,
        UserAttr::ExternalId,
        UserAttr::DisplayName,
        UserAttr::Active,
    ],
    read_only: &[UserAttr::Emails],
    unknown: Unknown::Ignore,
};

fn links(base: &BaseUrl) -> Links {
    Links::new(&base.0, ROOT)
}

fn one(user: &roster_core::User, status: StatusCode, links: &Links, location: bool) -> Response {
    respond(
        status,
        user_json(user, links),
        Some(user.meta.etag()),
        location.then(|| links.user(&user.id)),
    )
}

#[utoipa::path(post, path = "/Users",
    description = "Creates a user, or updates the user with the same login (userName, case-insensitive); the body's `active` applies, so `active: true` reactivates. 201 either way.",
    request_body(content = Value, content_type = "application/json", description = "A User (one work email; no password, permissions, roles or entitlements)"),
    responses((status = 201, description = "The User", content_type = "application/scim+json", body = Value)))]
pub async fn create(caller: Caller, base: BaseUrl, JsonBody(body, _): ScimJson) -> Answer {
    let admin = caller.principal().user_admin()?;
    let parsed = parse_user_body(&body)?;
    for forbidden in ["password", "permissions", "roles", "entitlements"] {
        if get_ci(&parsed.raw, forbidden).is_some() {
            return Err(ApiError::invalid_value(format!(
                "{forbidden} cannot be set through this endpoint; a user with the \"Manage organization\" permission sets it in the application"
            )));
        }
    }
    if parsed.user.emails.len() > 1 {
        return Err(ApiError::invalid_value("Only one email can be specified"));
    }
    if parsed
        .user
        .emails
        .iter()
        .any(|e| e.kind.as_deref().is_some_and(|k| k != "work"))
    {
        return Err(ApiError::invalid_value("email type must be \"work\""));
    }
    let (user, _created) = caller
        .store()
        .upsert_user(&admin, &caller.ctx(), &parsed.user)
        .await?;
    Ok(one(&user, StatusCode::CREATED, &links(&base), true))
}

#[utoipa::path(get, path = "/Users",
    description = "Active users only. Filters: `eq` and `and` on userName, externalId, displayName, id, active, emails.",
    params(("filter" = Option<String>, Query), ("startIndex" = Option<i64>, Query, description = "1-based"),
           ("count" = Option<i64>, Query, description = "default 100, at most 1000")),
    responses((status = 200, description = "A ListResponse of Users", content_type = "application/scim+json", body = Value)))]
pub async fn find(caller: Caller, base: BaseUrl, q: QueryPairs) -> Answer {
    let admin = caller.principal().user_admin()?;
    let filter = q.get("filter").map(filter::users).transpose()?;
    let found = caller
        .store()
        .list_users(
            &admin.reader(),
            &UserQuery {
                sort: None,
                then_sort: Vec::new(),
                // The seed's order: oldest first.
                newest_first: false,
                filter,
                only_active: true,
                page: page(&q, super::DEFAULT_COUNT)?,
                // ODM's filters cannot name groups, and its users do not show them.
                groups: None,
                with_groups: false,
                with_roles: false,
                member_of: None,
                with_permission: None,
            },
        )
        .await?;
    let links = links(&base);
    Ok(respond(
        StatusCode::OK,
        list_json(&found, |u| user_json(u, &links)),
        None,
        None,
    ))
}

#[utoipa::path(get, path = "/Users/{id}",
    description = "One active user.",
    params(("id" = String, Path, description = "The user's id (a UUID)")),
    responses((status = 200, description = "The User", content_type = "application/scim+json", body = Value)))]
pub async fn get(caller: Caller, base: BaseUrl, PathParam(raw): PathParam) -> Answer {
    let admin = caller.principal().user_admin()?;
    let id = parse_id(&raw, "user")?;
    let user = caller
        .store()
        .get_user(&admin.reader(), id)
        .await?
        .filter(|u| u.active)
        .ok_or(ApiError::not_found(Entity::User(id)))?;
    Ok(one(&user, StatusCode::OK, &links(&base), false))
}

#[utoipa::path(patch, path = "/Users/{id}",
    description = "Changes userName, externalId, displayName, active (also of deactivated users); other attributes of the ODM schema are read-only, unknown ones ignored. Answers 200 with the User.",
    params(("id" = String, Path, description = "The user's id (a UUID)")),
    request_body(content = Value, content_type = "application/json", description = "A PatchOp message"),
    responses((status = 200, description = "The User", content_type = "application/scim+json", body = Value)))]
pub async fn patch(
    caller: Caller,
    base: BaseUrl,
    PathParam(raw): PathParam,
    JsonBody(body, _): ScimJson,
) -> Answer {
    let admin = caller.principal().user_admin()?;
    let id = parse_id(&raw, "user")?;
    let ops = parse_patch(&body)?;
    let user = caller
        .store()
        .update_user(&admin.editor(), &caller.ctx(), id, None, &|u| {
            apply_user_patch(u, &ops, &PATCH_PROFILE)
        })
        .await?;
    Ok(one(&user, StatusCode::OK, &links(&base), false))
}

#[utoipa::path(delete, path = "/Users/{id}",
    description = "Deactivates the user (ODM's delete); a user already deactivated is not found.",
    params(("id" = String, Path, description = "The user's id (a UUID)")),
    responses((status = 204, description = "Deactivated")))]
pub async fn delete(caller: Caller, PathParam(raw): PathParam) -> Answer<StatusCode> {
    let admin = caller.principal().user_admin()?;
    let id = parse_id(&raw, "user")?;
    caller
        .store()
        .update_user(&admin.editor(), &caller.ctx(), id, None, &|u| {
            if !u.active {
                return Err(CoreError::NotFound(Entity::User(id)));
            }
            u.active = false;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
