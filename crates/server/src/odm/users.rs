//! ODM Users: `/api/v1/scim/Users`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use roster_core::patch::{apply_user_patch, parse_patch, Unknown, UserAttr, UserPatchProfile};
use roster_core::CoreError;
use roster_store::UserQuery;

use super::{filter, parse_id, Caller, OdmError, ROOT};
use crate::app::AppState;
use crate::scim::body::ScimJson;
use crate::scim::render::{list_json, respond, user_json, Flavor};
use crate::scim::request::{BaseUrl, QueryPairs};
use crate::scim::user_body::{get_ci, parse_user_body};

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

fn not_found(id: &uuid::Uuid) -> OdmError {
    CoreError::not_found(format!("There are no users with the id {id}")).into()
}

/// Create, or update the user with the same login (userName, case-insensitive). The body's
/// `active` applies, so an upsert with `active: true` reactivates a deactivated user.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    ScimJson(body): ScimJson,
) -> Result<Response, OdmError> {
    caller.0.org_admin()?;
    let parsed = parse_user_body(&body)?;
    for forbidden in ["password", "permissions", "roles", "entitlements"] {
        if get_ci(&parsed.raw, forbidden).is_some() {
            return Err(CoreError::invalid_value(format!(
                "{forbidden} cannot be set through this endpoint; a user with the \"Manage organization\" permission sets it in the application"
            ))
            .into());
        }
    }
    if parsed.user.emails.len() > 1 {
        return Err(CoreError::invalid_value("Only one email can be specified").into());
    }
    if parsed
        .user
        .emails
        .iter()
        .any(|e| e.kind.as_deref().is_some_and(|k| k != "work"))
    {
        return Err(CoreError::invalid_value("email type must be \"work\"").into());
    }
    let (user, _created) = state.store.upsert_user(&caller.ctx(), &parsed.user).await?;
    let links = base.links(ROOT);
    Ok(respond(
        StatusCode::CREATED,
        user_json(&user, Flavor::Odm, &links),
        Some(user.meta.etag()),
        Some(links.user(&user.id)),
    ))
}

/// Active users only.
pub async fn find(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    q: QueryPairs,
) -> Result<Response, OdmError> {
    caller.0.org_admin()?;
    let filter = q.get("filter").map(filter::users).transpose()?;
    let page = state
        .store
        .list_users(&UserQuery {
            sort: None,
            filter,
            only_active: true,
            page: q.page()?,
        })
        .await?;
    let links = base.links(ROOT);
    Ok(respond(
        StatusCode::OK,
        list_json(&page, |u| user_json(u, Flavor::Odm, &links)),
        None,
        None,
    ))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(raw): Path<String>,
) -> Result<Response, OdmError> {
    caller.0.org_admin()?;
    let id = parse_id(&raw, "user")?;
    let user = state
        .store
        .get_user(id)
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| not_found(&id))?;
    let links = base.links(ROOT);
    Ok(respond(
        StatusCode::OK,
        user_json(&user, Flavor::Odm, &links),
        Some(user.meta.etag()),
        None,
    ))
}

/// Works on deactivated users too (the document says so).
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(raw): Path<String>,
    ScimJson(body): ScimJson,
) -> Result<Response, OdmError> {
    caller.0.org_admin()?;
    let id = parse_id(&raw, "user")?;
    let ops = parse_patch(&body)?;
    let user = state
        .store
        .update_user(&caller.ctx(), id, None, &|u| {
            apply_user_patch(u, &ops, &PATCH_PROFILE)
        })
        .await?;
    let links = base.links(ROOT);
    Ok(respond(
        StatusCode::OK,
        user_json(&user, Flavor::Odm, &links),
        Some(user.meta.etag()),
        None,
    ))
}

/// ODM delete deactivates; a user already deactivated is not found.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, OdmError> {
    caller.0.org_admin()?;
    let id = parse_id(&raw, "user")?;
    state
        .store
        .update_user(&caller.ctx(), id, None, &|u| {
            if !u.active {
                return Err(CoreError::not_found(format!(
                    "There are no users with the id {id}"
                )));
            }
            u.active = false;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
