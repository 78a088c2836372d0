//! `/scim/v2/Users` and `/scim/v2/Me`. Users need manage-organization; `/Me` only a token.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_core::patch::{
    apply_user_patch, parse_patch, take_password, Unknown, UserAttr, UserPatchProfile,
};
use roster_core::schema::Resource;
use roster_core::{secret, CoreError, Page, User};
use roster_store::UserQuery;
use serde_json::Value;

use super::body::ScimJson;
use super::error::ScimError;
use super::list::{resource, ListRequest};
use super::projection::Projection;
use super::render::{list_json, respond, user_json, Flavor, Links};
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
        UserAttr::EmployeeNumber,
        UserAttr::CostCenter,
        UserAttr::Organization,
        UserAttr::Division,
        UserAttr::Department,
        UserAttr::Manager,
        UserAttr::Profile,
        UserAttr::Multi,
    ],
    read_only: &[],
    unknown: Unknown::Reject,
};

/// What a user may change about themselves through `/Me`: not their login, not `active`.
const ME_PROFILE: UserPatchProfile = UserPatchProfile {
    editable: &[
        UserAttr::DisplayName,
        UserAttr::GivenName,
        UserAttr::FamilyName,
        UserAttr::Locale,
        UserAttr::Emails,
        UserAttr::Profile,
        UserAttr::Multi,
    ],
    read_only: &[UserAttr::UserName, UserAttr::Active, UserAttr::ExternalId],
    unknown: Unknown::Reject,
};

/// argon2id off the async runtime: it is deliberately slow.
async fn hash(pw: String) -> Result<String, ScimError> {
    Ok(
        tokio::task::spawn_blocking(move || secret::hash_password(&pw))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))??,
    )
}

async fn hash_opt(pw: Option<Option<String>>) -> Result<Option<Option<String>>, ScimError> {
    Ok(match pw {
        Some(Some(p)) => Some(Some(hash(p).await?)),
        other => other,
    })
}

fn one(
    user: &User,
    status: StatusCode,
    links: &Links,
    headers: &HeaderMap,
    p: &Projection,
    location: bool,
) -> Response {
    let loc = location.then(|| links.user(&user.id));
    resource(
        status,
        user_json(user, Flavor::Scim, links),
        user.meta.etag(),
        loc,
        headers,
        p,
    )
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    q: QueryPairs,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    caller.0.org_admin()?;
    let p = Projection::from_query(q.get("attributes"), q.get("excludedAttributes"))?;
    let mut parsed = parse_user_body(&body)?;
    if let Some(pw) = parsed.password.take() {
        parsed.user.password_hash = Some(hash(pw).await?);
    }
    let user = state.store.create_user(&ctx(&caller), &parsed.user).await?;
    Ok(one(
        &user,
        StatusCode::CREATED,
        &base.links(ROOT),
        &headers,
        &p,
        true,
    ))
}

pub async fn list_users(state: &AppState, req: &ListRequest) -> Result<Page<User>, ScimError> {
    Ok(state
        .store
        .list_users(&UserQuery {
            filter: req.cond(Resource::User)?,
            sort: req.sort(Resource::User)?,
            only_active: false,
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
    let page = list_users(state, &req).await?;
    let body = list_json(&page, |u| {
        let mut v = user_json(u, Flavor::Scim, &links);
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
    caller.0.org_admin()?;
    answer_list(&state, &base, ListRequest::from_query(&q)?).await
}

/// POST /Users/.search
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    caller.0.org_admin()?;
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
    caller.0.org_admin()?;
    let p = Projection::from_query(q.get("attributes"), q.get("excludedAttributes"))?;
    let id = parse_id(&raw, "user")?;
    let user = state
        .store
        .get_user(id)
        .await?
        .ok_or_else(|| ScimError::not_found(format!("no user with id {id}")))?;
    Ok(one(
        &user,
        StatusCode::OK,
        &base.links(ROOT),
        &headers,
        &p,
        false,
    ))
}

/// Full replace: every writable attribute takes the body's value (absent ones are cleared);
/// `id` and `meta` in the body are read-only and ignored.
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    q: QueryPairs,
    Path(raw): Path<String>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    caller.0.org_admin()?;
    let p = Projection::from_query(q.get("attributes"), q.get("excludedAttributes"))?;
    let id = parse_id(&raw, "user")?;
    let parsed = parse_user_body(&body)?;
    let pw = hash_opt(parsed.password.map(Some)).await?;
    let user = state
        .store
        .update_user(&ctx(&caller), id, if_match(&headers)?, &|u| {
            parsed.user.apply_to(u);
            if let Some(h) = &pw {
                u.set_password_hash = Some(h.clone());
            }
            u.validate()
        })
        .await?;
    Ok(one(
        &user,
        StatusCode::OK,
        &base.links(ROOT),
        &headers,
        &p,
        false,
    ))
}

async fn patch_user(
    state: &AppState,
    caller: &Caller,
    id: uuid::Uuid,
    headers: &HeaderMap,
    body: &Value,
    profile: &UserPatchProfile,
) -> Result<User, ScimError> {
    let mut ops = parse_patch(body)?;
    let pw = hash_opt(take_password(&mut ops)?).await?;
    Ok(state
        .store
        .update_user(&ctx(caller), id, if_match(headers)?, &|u| {
            apply_user_patch(u, &ops, profile)?;
            if let Some(h) = &pw {
                u.set_password_hash = Some(h.clone());
            }
            Ok(())
        })
        .await?)
}

pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    q: QueryPairs,
    Path(raw): Path<String>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    caller.0.org_admin()?;
    let p = Projection::from_query(q.get("attributes"), q.get("excludedAttributes"))?;
    let id = parse_id(&raw, "user")?;
    let user = patch_user(&state, &caller, id, &headers, &body, &PATCH_PROFILE).await?;
    Ok(one(
        &user,
        StatusCode::OK,
        &base.links(ROOT),
        &headers,
        &p,
        false,
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

/// GET /Me: the caller's own resource (RFC 7644 §3.11).
pub async fn me(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    q: QueryPairs,
) -> Result<Response, ScimError> {
    let p = Projection::from_query(q.get("attributes"), q.get("excludedAttributes"))?;
    let user = state
        .store
        .get_user(caller.0.user_id)
        .await?
        .ok_or_else(|| ScimError::not_found("the authenticated user no longer exists"))?;
    let mut res = one(
        &user,
        StatusCode::OK,
        &base.links(ROOT),
        &headers,
        &p,
        false,
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&base.links(ROOT).user(&user.id)) {
        res.headers_mut()
            .insert(axum::http::header::CONTENT_LOCATION, v);
    }
    Ok(res)
}

/// PATCH /Me: profile attributes and the password; not userName, active or externalId.
pub async fn patch_me(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    q: QueryPairs,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let p = Projection::from_query(q.get("attributes"), q.get("excludedAttributes"))?;
    let user = patch_user(
        &state,
        &caller,
        caller.0.user_id,
        &headers,
        &body,
        &ME_PROFILE,
    )
    .await?;
    Ok(one(
        &user,
        StatusCode::OK,
        &base.links(ROOT),
        &headers,
        &p,
        false,
    ))
}
