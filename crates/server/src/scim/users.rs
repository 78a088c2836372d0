//! `/scim/v2/Users` and `/scim/v2/Me`. Users need manage-organization; `/Me` only a
//! credential, and changes only the caller's own personal profile.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use roster_core::patch::{apply_user_patch, parse_patch, take_password, UserPatchProfile};
use roster_core::policy::{GroupReader, UserEditor, UserReader};
use roster_core::schema::{Resource, ENTERPRISE_SCHEMA, USER_SCHEMA};
use roster_core::{Entity, Page, User};
use roster_store::UserQuery;
use serde_json::Value;

use super::list::ListRequest;
use super::projection::Projection;
use super::view::View;
use super::{openapi, resource_id};
use roster_store::Store;

use crate::http::body::JsonBody;
use crate::http::extract::{if_match, PathParam, QueryPairs};
use crate::http::{Answer, ApiError, Caller};
use crate::scim_resource::user_body::{check_schemas, parse_user_body};
use crate::scim_resource::ScimJson;

/// `/Users/{id}` edits every attribute Roster keeps.
const PATCH_PROFILE: UserPatchProfile = UserPatchProfile::FULL;

/// What a user may change about themselves through `/Me`: the personal profile and the
/// password.
const ME_PROFILE: UserPatchProfile = UserPatchProfile::PERSONAL;

/// The schemas a User body may name.
const SCHEMAS: &[&str] = &[USER_SCHEMA, ENTERPRISE_SCHEMA];

/// Writes the edit of user `id`; the user comes back with its `groups` (RFC 7643 §4.1.2) as
/// far as the caller may see groups, read by the statement that locks the user, unless the
/// projection leaves them out.
async fn write_user(
    caller: &Caller,
    editor: &UserEditor,
    projection: &Projection,
    id: uuid::Uuid,
    version: Option<i64>,
    edit: roster_store::UserEdit<'_>,
) -> Result<User, ApiError> {
    let store = caller.store();
    let user = if projection.includes("groups") {
        let groups = caller.principal().group_reader();
        store
            .update_user_with_groups(editor, &groups, &caller.ctx(), id, version, edit)
            .await?
    } else {
        store
            .update_user(editor, &caller.ctx(), id, version, edit)
            .await?
    };
    Ok(user)
}

/// The password of a body, checked against the policy for the account it is for, hashed on
/// the password pool.
async fn password_hash(
    caller: &Caller,
    password: &str,
    user_name: &str,
    emails: &[roster_core::Email],
) -> Result<String, ApiError> {
    let passwords = caller.passwords();
    passwords.policy().check(password, user_name, emails)?;
    Ok(passwords.hash(password.to_owned()).await?)
}

#[utoipa::path(post, path = "/Users", params(openapi::Projection), responses(openapi::Created),
    description = "Creates a user (RFC 7644 §3.3). Needs manage-organization; 409 on a taken userName.",
    request_body(content = Value, content_type = "application/scim+json", description = "A User"))]
pub async fn create(caller: Caller, view: View, JsonBody(body, _): ScimJson) -> Answer {
    let admin = caller.principal().user_admin()?;
    check_schemas(&body, SCHEMAS, "User")?;
    let mut parsed = parse_user_body(&body)?;
    if let Some(pw) = parsed.password.take() {
        let u = &parsed.user;
        let hash = password_hash(&caller, &pw, u.user_name.as_str(), &u.emails).await?;
        parsed.user.password_hash = Some(hash);
    }
    let user = caller
        .store()
        .create_user(&admin, &caller.ctx(), &parsed.user)
        .await?;
    // Just created: in no group yet.
    let user = User {
        groups: Some(Vec::new()),
        ..user
    };
    Ok(view.one(&user, StatusCode::CREATED))
}

/// The users a list request finds; a filter on `groups` sees the groups `groups` sees.
pub async fn list_users(
    store: &dyn Store,
    reader: &UserReader,
    groups: &GroupReader,
    req: &ListRequest,
) -> Result<Page<User>, ApiError> {
    let q = UserQuery {
        filter: req.cond(Resource::User)?,
        sort: req.sort(Resource::User)?,
        then_sort: Vec::new(),
        newest_first: super::NEWEST_FIRST,
        only_active: false,
        page: req.page,
        groups: Some(groups.clone()),
        with_groups: req.projection.includes("groups"),
        with_roles: false,
        member_of: None,
        with_permission: None,
    };
    Ok(store.list_users(reader, &q).await?)
}

#[utoipa::path(
    get,
    path = "/Users",
    params(openapi::Listing, openapi::Projection),
    responses(openapi::List),
    description = "Lists users: filter, sort, page, project. Needs manage-organization."
)]
pub async fn list(caller: Caller, view: View, q: QueryPairs) -> Answer {
    let admin = caller.principal().user_admin()?;
    let req = ListRequest::from_query(&q)?;
    let groups = caller.principal().group_reader();
    let page = list_users(caller.store(), &admin.reader(), &groups, &req).await?;
    Ok(view.list(&page, &req.projection))
}

#[utoipa::path(post, path = "/Users/.search", responses(openapi::List),
    description = "Lists users from a SearchRequest body (RFC 7644 §3.4.3). Needs manage-organization.",
    request_body(content = Value, content_type = "application/scim+json", description = "A SearchRequest"))]
pub async fn search(caller: Caller, view: View, JsonBody(body, _): ScimJson) -> Answer {
    let admin = caller.principal().user_admin()?;
    let req = ListRequest::from_search(&body)?;
    let groups = caller.principal().group_reader();
    let page = list_users(caller.store(), &admin.reader(), &groups, &req).await?;
    Ok(view.list(&page, &req.projection))
}

/// A user as a read shows it: with its groups (in the same statement) unless the
/// projection leaves them out.
async fn load_shown(
    caller: &Caller,
    reader: &UserReader,
    p: &Projection,
    id: uuid::Uuid,
) -> Result<User, ApiError> {
    let store = caller.store();
    let found = if p.includes("groups") {
        let groups = caller.principal().group_reader();
        store.get_user_with_groups(reader, &groups, id).await?
    } else {
        store.get_user(reader, id).await?
    };
    found.ok_or(ApiError::not_found(Entity::User(id)))
}

#[utoipa::path(
    get,
    path = "/Users/{id}",
    params(openapi::Id, openapi::Projection),
    responses(openapi::One),
    description = "One user; 304 when If-None-Match names its version. Needs manage-organization."
)]
pub async fn get(caller: Caller, view: View, PathParam(raw): PathParam) -> Answer {
    let admin = caller.principal().user_admin()?;
    let id = resource_id(&raw, "user")?;
    let user = load_shown(&caller, &admin.reader(), &view.projection, id).await?;
    Ok(view.one(&user, StatusCode::OK))
}

#[utoipa::path(put, path = "/Users/{id}", params(openapi::Id, openapi::IfMatch, openapi::Projection), responses(openapi::One),
    description = "Full replace: every writable attribute takes the body's value (absent ones are cleared); id and meta are ignored.",
    request_body(content = Value, content_type = "application/scim+json", description = "A User"))]
pub async fn put(
    caller: Caller,
    view: View,
    headers: HeaderMap,
    PathParam(raw): PathParam,
    JsonBody(body, _): ScimJson,
) -> Answer {
    let admin = caller.principal().user_admin()?;
    let id = resource_id(&raw, "user")?;
    check_schemas(&body, SCHEMAS, "User")?;
    let parsed = parse_user_body(&body)?;
    let pw = match &parsed.password {
        Some(p) => {
            let u = &parsed.user;
            Some(password_hash(&caller, p, u.user_name.as_str(), &u.emails).await?)
        }
        None => None,
    };
    let replace = |u: &mut User| {
        parsed.user.apply_to(u);
        if let Some(h) = &pw {
            u.set_password_hash = Some(Some(h.clone()));
        }
        u.validate()
    };
    let version = if_match(&headers)?;
    let user = write_user(
        &caller,
        &admin.editor(),
        &view.projection,
        id,
        version,
        &replace,
    )
    .await?;
    Ok(view.one(&user, StatusCode::OK))
}

/// Applies a PatchOp message under `profile`; the password is hashed before the write. The
/// user comes back with its groups when `projection` shows them.
async fn patch_user(
    caller: &Caller,
    editor: &UserEditor,
    id: uuid::Uuid,
    headers: &HeaderMap,
    body: &Value,
    profile: &UserPatchProfile,
    projection: &Projection,
) -> Result<User, ApiError> {
    let mut ops = parse_patch(body)?;
    let password = match take_password(&mut ops)? {
        None => None,
        Some(None) => {
            return Err(ApiError::invalid_value(
                "password cannot be removed; set a new one instead",
            ))
        }
        Some(Some(pw)) => {
            // Length before the slow hash; login and email once the edit is applied.
            caller.passwords().policy().check_length(&pw)?;
            Some((caller.passwords().hash(pw.clone()).await?, pw))
        }
    };
    let policy = *caller.passwords().policy();
    let edit = |u: &mut User| {
        apply_user_patch(u, &ops, profile)?;
        if let Some((hash, pw)) = &password {
            policy.check(pw, u.user_name.as_str(), &u.emails)?;
            u.set_password_hash = Some(Some(hash.clone()));
        }
        Ok(())
    };
    write_user(caller, editor, projection, id, if_match(headers)?, &edit).await
}

#[utoipa::path(patch, path = "/Users/{id}", params(openapi::Id, openapi::IfMatch, openapi::Projection), responses(openapi::One),
    description = "RFC 7644 §3.5.2 PATCH, atomic; answers the User.",
    request_body(content = Value, content_type = "application/scim+json", description = "A PatchOp message"))]
pub async fn patch(
    caller: Caller,
    view: View,
    headers: HeaderMap,
    PathParam(raw): PathParam,
    JsonBody(body, _): ScimJson,
) -> Answer {
    let admin = caller.principal().user_admin()?;
    let id = resource_id(&raw, "user")?;
    let editor = admin.editor();
    let user = patch_user(
        &caller,
        &editor,
        id,
        &headers,
        &body,
        &PATCH_PROFILE,
        &view.projection,
    )
    .await?;
    Ok(view.one(&user, StatusCode::OK))
}

#[utoipa::path(
    delete,
    path = "/Users/{id}",
    params(openapi::Id, openapi::IfMatch),
    responses(openapi::Removed),
    description = "Removes the user (and their tokens and memberships)."
)]
pub async fn delete(
    caller: Caller,
    headers: HeaderMap,
    PathParam(raw): PathParam,
) -> Answer<StatusCode> {
    let admin = caller.principal().user_admin()?;
    let id = resource_id(&raw, "user")?;
    caller
        .store()
        .delete_user(&admin, &caller.ctx(), id, if_match(&headers)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's own resource, with `Content-Location` naming it (RFC 7644 §3.11).
fn own(view: &View, user: &User) -> Response {
    let mut res = view.one(user, StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(&view.links.user(&user.id)) {
        res.headers_mut().insert(header::CONTENT_LOCATION, v);
    }
    res
}

#[utoipa::path(
    get,
    path = "/Me",
    params(openapi::Projection),
    responses(openapi::One),
    description = "The caller's own User (RFC 7644 §3.11)."
)]
pub async fn me(caller: Caller, view: View) -> Answer {
    let me = caller.principal().self_service();
    let user = load_shown(&caller, &me.reader(), &view.projection, me.id()).await?;
    Ok(own(&view, &user))
}

#[utoipa::path(patch, path = "/Me", params(openapi::Projection), responses(openapi::One),
    description = "Changes the caller's own personal profile and password; not userName, active or externalId.",
    request_body(content = Value, content_type = "application/scim+json", description = "A PatchOp message"))]
pub async fn patch_me(
    caller: Caller,
    view: View,
    headers: HeaderMap,
    JsonBody(body, _): ScimJson,
) -> Answer {
    let me = caller.principal().self_service();
    let editor = me.editor();
    let user = patch_user(
        &caller,
        &editor,
        me.id(),
        &headers,
        &body,
        &ME_PROFILE,
        &view.projection,
    )
    .await?;
    Ok(own(&view, &user))
}
