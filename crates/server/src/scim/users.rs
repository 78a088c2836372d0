//! `/scim/v2/Users` and `/scim/v2/Me`. Users need manage-organization; `/Me` only a
//! credential, and changes only the caller's own personal profile.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use roster_core::patch::{
    apply_user_patch, parse_patch, take_password, Unknown, UserAttr, UserPatchProfile,
};
use roster_core::policy::{UserEditor, UserReader};
use roster_core::schema::Resource;
use roster_core::{secret, CoreError, Entity, Page, User};
use roster_store::UserQuery;
use serde_json::Value;

use super::list::{resource, ListRequest};
use super::projection::Projection;
use super::render::user_json;
use super::{resource_id, ROOT};
use crate::app::AppState;
use crate::http::body::JsonBody;
use crate::http::extract::{if_match, BaseUrl, PathParam, QueryPairs};
use crate::http::{ApiError, Caller};
use crate::scim_resource::user_body::parse_user_body;
use crate::scim_resource::{list_json, respond, Links, ScimJson};

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
async fn hash(pw: String) -> Result<String, ApiError> {
    Ok(
        tokio::task::spawn_blocking(move || secret::hash_password(&pw))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))??,
    )
}

async fn hash_opt(pw: Option<Option<String>>) -> Result<Option<Option<String>>, ApiError> {
    Ok(match pw {
        Some(Some(p)) => Some(Some(hash(p).await?)),
        other => other,
    })
}

fn links(base: &BaseUrl) -> Links {
    Links::new(&base.0, ROOT)
}

fn projection(q: &QueryPairs) -> Result<Projection, ApiError> {
    Projection::from_query(q.get("attributes"), q.get("excludedAttributes"))
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
        user_json(user, links),
        user.meta.etag(),
        loc,
        headers,
        p,
    )
}

#[utoipa::path(post, path = "/Users", tag = "SCIM 2.0",
    description = "Creates a user (RFC 7644 §3.3). Needs manage-organization.",
    request_body(content = Value, content_type = "application/scim+json", description = "A User resource"),
    params(("attributes" = Option<String>, Query), ("excludedAttributes" = Option<String>, Query)),
    responses((status = 201, description = "The created User", content_type = "application/scim+json", body = Value),
              (status = 400, description = "Invalid User"), (status = 401, description = "No valid credential"),
              (status = 403, description = "manage-organization is required"), (status = 409, description = "userName taken")),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    q: QueryPairs,
    headers: HeaderMap,
    JsonBody(body, _): ScimJson,
) -> Result<Response, ApiError> {
    let admin = caller.principal().user_admin()?;
    let p = projection(&q)?;
    let mut parsed = parse_user_body(&body)?;
    if let Some(pw) = parsed.password.take() {
        parsed.user.password_hash = Some(hash(pw).await?);
    }
    let user = state
        .store
        .create_user(&admin, &caller.ctx(), &parsed.user)
        .await?;
    Ok(one(
        &user,
        StatusCode::CREATED,
        &links(&base),
        &headers,
        &p,
        true,
    ))
}

pub async fn list_users(
    state: &AppState,
    reader: &UserReader,
    req: &ListRequest,
) -> Result<Page<User>, ApiError> {
    Ok(state
        .store
        .list_users(
            reader,
            &UserQuery {
                filter: req.cond(Resource::User)?,
                sort: req.sort(Resource::User)?,
                only_active: false,
                page: req.page,
            },
        )
        .await?)
}

async fn answer_list(
    state: &AppState,
    reader: &UserReader,
    base: &BaseUrl,
    req: ListRequest,
) -> Result<Response, ApiError> {
    let links = links(base);
    let page = list_users(state, reader, &req).await?;
    let body = list_json(&page, |u| {
        let mut v = user_json(u, &links);
        req.projection.apply(&mut v);
        v
    });
    Ok(respond(StatusCode::OK, body, None, None))
}

#[utoipa::path(get, path = "/Users", tag = "SCIM 2.0",
    description = "Lists users (RFC 7644 §3.4.2): filter, sort, page, project. Needs manage-organization.",
    params(("filter" = Option<String>, Query, description = "RFC 7644 §3.4.2.2 filter"),
           ("startIndex" = Option<i64>, Query, description = "1-based"),
           ("count" = Option<i64>, Query, description = "page size, at most 1000"),
           ("sortBy" = Option<String>, Query), ("sortOrder" = Option<String>, Query),
           ("attributes" = Option<String>, Query), ("excludedAttributes" = Option<String>, Query)),
    responses((status = 200, description = "A ListResponse of Users", content_type = "application/scim+json", body = Value),
              (status = 400, description = "Invalid filter or paging"), (status = 401, description = "No valid credential"),
              (status = 403, description = "manage-organization is required")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let admin = caller.principal().user_admin()?;
    answer_list(&state, &admin.reader(), &base, ListRequest::from_query(&q)?).await
}

#[utoipa::path(post, path = "/Users/.search", tag = "SCIM 2.0",
    description = "Lists users from a SearchRequest body (RFC 7644 §3.4.3). Needs manage-organization.",
    request_body(content = Value, content_type = "application/scim+json", description = "A SearchRequest"),
    responses((status = 200, description = "A ListResponse of Users", content_type = "application/scim+json", body = Value),
              (status = 400, description = "Invalid SearchRequest"), (status = 401, description = "No valid credential"),
              (status = 403, description = "manage-organization is required")),
    security(("bearer" = [])))]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    JsonBody(body, _): ScimJson,
) -> Result<Response, ApiError> {
    let admin = caller.principal().user_admin()?;
    answer_list(
        &state,
        &admin.reader(),
        &base,
        ListRequest::from_search(&body)?,
    )
    .await
}

async fn load(state: &AppState, reader: &UserReader, id: uuid::Uuid) -> Result<User, ApiError> {
    state
        .store
        .get_user(reader, id)
        .await?
        .ok_or(ApiError::not_found(Entity::User(id)))
}

#[utoipa::path(get, path = "/Users/{id}", tag = "SCIM 2.0",
    description = "One user; 304 when If-None-Match names its version. Needs manage-organization.",
    params(("id" = String, Path, description = "The user's id"),
           ("attributes" = Option<String>, Query), ("excludedAttributes" = Option<String>, Query)),
    responses((status = 200, description = "The User", content_type = "application/scim+json", body = Value),
              (status = 304, description = "Not modified"), (status = 401, description = "No valid credential"),
              (status = 403, description = "manage-organization is required"), (status = 404, description = "No such user")),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    q: QueryPairs,
    PathParam(raw): PathParam,
) -> Result<Response, ApiError> {
    let admin = caller.principal().user_admin()?;
    let p = projection(&q)?;
    let id = resource_id(&raw, "user")?;
    let user = load(&state, &admin.reader(), id).await?;
    Ok(one(
        &user,
        StatusCode::OK,
        &links(&base),
        &headers,
        &p,
        false,
    ))
}

#[utoipa::path(put, path = "/Users/{id}", tag = "SCIM 2.0",
    description = "Full replace: every writable attribute takes the body's value (absent ones are cleared); id and meta are ignored. If-Match is honoured.",
    params(("id" = String, Path, description = "The user's id"), ("If-Match" = Option<String>, Header)),
    request_body(content = Value, content_type = "application/scim+json", description = "A User resource"),
    responses((status = 200, description = "The User", content_type = "application/scim+json", body = Value),
              (status = 400, description = "Invalid User"), (status = 404, description = "No such user"),
              (status = 409, description = "userName taken"), (status = 412, description = "Version mismatch")),
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
    let admin = caller.principal().user_admin()?;
    let p = projection(&q)?;
    let id = resource_id(&raw, "user")?;
    let parsed = parse_user_body(&body)?;
    let pw = hash_opt(parsed.password.map(Some)).await?;
    let user = state
        .store
        .update_user(
            &admin.editor(),
            &caller.ctx(),
            id,
            if_match(&headers)?,
            &|u| {
                parsed.user.apply_to(u);
                if let Some(h) = &pw {
                    u.set_password_hash = Some(h.clone());
                }
                u.validate()
            },
        )
        .await?;
    Ok(one(
        &user,
        StatusCode::OK,
        &links(&base),
        &headers,
        &p,
        false,
    ))
}

async fn patch_user(
    state: &AppState,
    caller: &Caller,
    editor: &UserEditor,
    id: uuid::Uuid,
    headers: &HeaderMap,
    body: &Value,
    profile: &UserPatchProfile,
) -> Result<User, ApiError> {
    let mut ops = parse_patch(body)?;
    let pw = hash_opt(take_password(&mut ops)?).await?;
    Ok(state
        .store
        .update_user(editor, &caller.ctx(), id, if_match(headers)?, &|u| {
            apply_user_patch(u, &ops, profile)?;
            if let Some(h) = &pw {
                u.set_password_hash = Some(h.clone());
            }
            Ok(())
        })
        .await?)
}

#[utoipa::path(patch, path = "/Users/{id}", tag = "SCIM 2.0",
    description = "RFC 7644 §3.5.2 PATCH, atomic; answers the User. If-Match is honoured.",
    params(("id" = String, Path, description = "The user's id"), ("If-Match" = Option<String>, Header),
           ("attributes" = Option<String>, Query), ("excludedAttributes" = Option<String>, Query)),
    request_body(content = Value, content_type = "application/scim+json", description = "A PatchOp message"),
    responses((status = 200, description = "The User", content_type = "application/scim+json", body = Value),
              (status = 400, description = "Invalid PATCH"), (status = 404, description = "No such user"),
              (status = 409, description = "userName taken"), (status = 412, description = "Version mismatch")),
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
    let admin = caller.principal().user_admin()?;
    let p = projection(&q)?;
    let id = resource_id(&raw, "user")?;
    let user = patch_user(
        &state,
        &caller,
        &admin.editor(),
        id,
        &headers,
        &body,
        &PATCH_PROFILE,
    )
    .await?;
    Ok(one(
        &user,
        StatusCode::OK,
        &links(&base),
        &headers,
        &p,
        false,
    ))
}

#[utoipa::path(delete, path = "/Users/{id}", tag = "SCIM 2.0",
    description = "Removes the user (and their tokens and memberships). If-Match is honoured.",
    params(("id" = String, Path, description = "The user's id"), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Removed"), (status = 404, description = "No such user"),
              (status = 412, description = "Version mismatch")),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathParam(raw): PathParam,
) -> Result<StatusCode, ApiError> {
    let admin = caller.principal().user_admin()?;
    let id = resource_id(&raw, "user")?;
    state
        .store
        .delete_user(&admin, &caller.ctx(), id, if_match(&headers)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/Me", tag = "SCIM 2.0",
    description = "The caller's own User (RFC 7644 §3.11).",
    params(("attributes" = Option<String>, Query), ("excludedAttributes" = Option<String>, Query)),
    responses((status = 200, description = "The caller's User", content_type = "application/scim+json", body = Value),
              (status = 401, description = "No valid credential")),
    security(("bearer" = [])))]
pub async fn me(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let own = caller.principal().self_service();
    let p = projection(&q)?;
    let user = load(&state, &own.reader(), own.id()).await?;
    let links = links(&base);
    let mut res = one(&user, StatusCode::OK, &links, &headers, &p, false);
    if let Ok(v) = HeaderValue::from_str(&links.user(&user.id)) {
        res.headers_mut().insert(header::CONTENT_LOCATION, v);
    }
    Ok(res)
}

#[utoipa::path(patch, path = "/Me", tag = "SCIM 2.0",
    description = "Changes the caller's own personal profile and password; not userName, active or externalId.",
    params(("attributes" = Option<String>, Query), ("excludedAttributes" = Option<String>, Query)),
    request_body(content = Value, content_type = "application/scim+json", description = "A PatchOp message"),
    responses((status = 200, description = "The caller's User", content_type = "application/scim+json", body = Value),
              (status = 400, description = "Invalid PATCH, or an attribute outside the personal profile"),
              (status = 401, description = "No valid credential")),
    security(("bearer" = [])))]
pub async fn patch_me(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    q: QueryPairs,
    JsonBody(body, _): ScimJson,
) -> Result<Response, ApiError> {
    let own = caller.principal().self_service();
    let p = projection(&q)?;
    let user = patch_user(
        &state,
        &caller,
        &own.editor(),
        own.id(),
        &headers,
        &body,
        &ME_PROFILE,
    )
    .await?;
    Ok(one(
        &user,
        StatusCode::OK,
        &links(&base),
        &headers,
        &p,
        false,
    ))
}
