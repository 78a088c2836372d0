//! `/scim/v2/Users`. Requires manage-organization.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_core::patch::{apply_user_patch, parse_patch, Unknown, UserAttr, UserPatchProfile};
use roster_core::{filter::parse_filter, schema, secret, CoreError};
use roster_store::UserQuery;

use super::body::ScimJson;
use super::error::ScimError;
use super::render::{list_json, respond, user_json, Flavor};
use super::request::{if_match, BaseUrl, QueryPairs};
use super::user_body::parse_user_body;
use super::{ctx, parse_id, Caller, ROOT};
use crate::app::AppState;

const PATCH_PROFILE: UserPatchProfile = UserPatchProfile {
    editable: &[
        UserAttr::UserName,
        UserAttr::ExternalId,
        UserAttr::DisplayName,
        UserAttr::GivenName,
        UserAttr::FamilyName,
        UserAttr::Active,
        UserAttr::Locale,
        UserAttr::Emails,
    ],
    read_only: &[],
    unknown: Unknown::Reject,
};

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    caller.0.org_admin()?;
    let mut parsed = parse_user_body(&body)?;
    if let Some(pw) = parsed.password.take() {
        let hash = tokio::task::spawn_blocking(move || secret::hash_password(&pw))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))??;
        parsed.user.password_hash = Some(hash);
    }
    let user = state.store.create_user(&ctx(&caller), &parsed.user).await?;
    let links = base.links(ROOT);
    Ok(respond(
        StatusCode::CREATED,
        user_json(&user, Flavor::Scim, &links),
        Some(user.meta.etag()),
        Some(links.user(&user.id)),
    ))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    q: QueryPairs,
) -> Result<Response, ScimError> {
    caller.0.org_admin()?;
    let filter = q
        .get("filter")
        .map(|f| parse_filter(f).and_then(|f| schema::resolve(schema::Resource::User, &f)))
        .transpose()?;
    let page = state
        .store
        .list_users(&UserQuery {
            filter,
            only_active: false,
            page: q.page()?,
        })
        .await?;
    let links = base.links(ROOT);
    Ok(respond(
        StatusCode::OK,
        list_json(&page, |u| user_json(u, Flavor::Scim, &links)),
        None,
        None,
    ))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(raw): Path<String>,
) -> Result<Response, ScimError> {
    caller.0.org_admin()?;
    let id = parse_id(&raw, "user")?;
    let user = state
        .store
        .get_user(id)
        .await?
        .ok_or_else(|| ScimError::not_found(format!("no user with id {id}")))?;
    let links = base.links(ROOT);
    Ok(respond(
        StatusCode::OK,
        user_json(&user, Flavor::Scim, &links),
        Some(user.meta.etag()),
        None,
    ))
}

pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    Path(raw): Path<String>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    caller.0.org_admin()?;
    let id = parse_id(&raw, "user")?;
    let ops = parse_patch(&body)?;
    let user = state
        .store
        .update_user(&ctx(&caller), id, if_match(&headers)?, &|u| {
            apply_user_patch(u, &ops, &PATCH_PROFILE)
        })
        .await?;
    let links = base.links(ROOT);
    Ok(respond(
        StatusCode::OK,
        user_json(&user, Flavor::Scim, &links),
        Some(user.meta.etag()),
        None,
    ))
}

/// Removes the user (and their tokens and memberships).
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Result<StatusCode, ScimError> {
    caller.0.org_admin()?;
    let id = parse_id(&raw, "user")?;
    state
        .store
        .delete_user(&ctx(&caller), id, if_match(&headers)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
