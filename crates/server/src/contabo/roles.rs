//! Contabo roles at `/v1/roles`: list, create, get, update, delete, in the same envelopes
//! and with the same permission as users (manage-organization). A role with `admin: true`
//! gives its holders manage-organization for as long as they hold it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use roster_core::role::{NewRole, RoleKind, RolePermission};
use roster_core::PageRequest;
use serde_json::{json, Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::missing_as;
use super::{found, list_links, page_params, render, Body};
use crate::app::AppState;
use crate::http::auth::Caller;
use crate::http::body::{json_response, JsonBody};
use crate::http::error::Kind;
use crate::http::extract::{PathParam, QueryPairs};
use crate::http::ApiError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
}

fn role_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| not_found(raw))
}

fn not_found(raw: &str) -> ApiError {
    ApiError::new(
        Kind::NotFound,
        format!("Entry Role not found by roleId {raw}"),
    )
}

/// A role from a create or update body: `name` (required), `admin`, `accessAllResources`,
/// `permissions`.
fn parse(body: &Map<String, Value>) -> Result<NewRole, ApiError> {
    let name = match body.get("name") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(ApiError::invalid_value("name must be a string")),
        None => return Err(ApiError::invalid_value("name is required")),
    };
    let flag = |k: &str| match body.get(k) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::invalid_value(format!(
            "{k} must be true or false"
        ))),
    };
    let permissions: Vec<RolePermission> = match body.get("permissions") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            ApiError::invalid_value(format!(
                "permissions must be [{{\"apiName\", \"actions\": [CREATE|READ|UPDATE|DELETE], \"resources\": [{{\"tagId\", \"tagName\"}}]}}]: {e}"
            ))
        })?,
    };
    let role = NewRole {
        name,
        admin: flag("admin")?,
        access_all_resources: flag("accessAllResources")?,
        kind: RoleKind::Custom,
        permissions,
    };
    role.validate()?;
    Ok(role)
}

#[utoipa::path(get, path = "/roles",
    params(("page" = Option<i64>, Query, description = "1-based page"),
           ("size" = Option<i64>, Query, description = "Roles per page (default 10, at most 1000)")),
    description = "One page of roles, oldest first. Needs manage-organization.",
    responses((status = 200, description = "ListRoleResponse", body = Value)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    caller.principal().user_admin()?;
    let (page, size) = page_params(&q)?;
    let found = caller
        .store()
        .list_roles(&PageRequest {
            start_index: (page - 1).saturating_mul(size).saturating_add(1),
            count: size,
        })
        .await?;
    let data: Vec<Value> = found
        .items
        .iter()
        .map(|r| render::role(&state, r))
        .collect();
    let total = found.total;
    let pages = (total + size - 1) / size;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "_pagination": {"size": size, "totalElements": total, "totalPages": pages, "page": page},
            "data": data,
            "_links": list_links("/v1/roles", &q, page, size, pages),
        }),
    ))
}

#[utoipa::path(post, path = "/roles",
    request_body(content = Value, description = "`name` (required), `admin`, `accessAllResources`, `permissions`"),
    description = "Creates a custom role. Needs manage-organization.",
    responses((status = 201, description = "The role", body = Value)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body, _): Body,
) -> Result<Response, ApiError> {
    let admin = caller.principal().user_admin()?;
    let new = parse(body.as_object().unwrap_or(&Map::new()))?;
    let role = caller
        .store()
        .create_role(&admin, &caller.ctx(), &new)
        .await?;
    Ok(found(
        StatusCode::CREATED,
        vec![render::role(&state, &role)],
        &format!("/v1/roles/{}", role.id),
    ))
}

#[utoipa::path(get, path = "/roles/{roleId}",
    params(("roleId" = i64, Path, description = "The role's id")),
    description = "One role. Needs manage-organization.",
    responses((status = 200, description = "FindRoleResponse", body = Value)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(raw): PathParam,
) -> Result<Response, ApiError> {
    caller.principal().user_admin()?;
    let id = role_id(&raw)?;
    let role = caller
        .store()
        .get_role(id)
        .await?
        .ok_or_else(|| not_found(&raw))?;
    Ok(found(
        StatusCode::OK,
        vec![render::role(&state, &role)],
        &format!("/v1/roles/{id}"),
    ))
}

#[utoipa::path(put, path = "/roles/{roleId}",
    params(("roleId" = i64, Path, description = "The role's id")),
    request_body(content = Value, description = "The whole role, as for create"),
    description = "Replaces the role; its holders gain or lose manage-organization with `admin` at once. Needs manage-organization.",
    responses((status = 200, description = "The role", body = Value)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(raw): PathParam,
    JsonBody(body, _): Body,
) -> Result<Response, ApiError> {
    let admin = caller.principal().user_admin()?;
    let id = role_id(&raw)?;
    let new = parse(body.as_object().unwrap_or(&Map::new()))?;
    let role = caller
        .store()
        .update_role(&admin, &caller.ctx(), id, &new)
        .await
        .map_err(|e| missing_as(e, || not_found(&raw)))?;
    Ok(found(
        StatusCode::OK,
        vec![render::role(&state, &role)],
        &format!("/v1/roles/{id}"),
    ))
}

#[utoipa::path(delete, path = "/roles/{roleId}",
    params(("roleId" = i64, Path, description = "The role's id")),
    description = "Deletes the role; its holders lose it. Needs manage-organization.",
    responses((status = 204, description = "Deleted")))]
pub async fn delete(caller: Caller, PathParam(raw): PathParam) -> Result<StatusCode, ApiError> {
    let admin = caller.principal().user_admin()?;
    let id = role_id(&raw)?;
    caller
        .store()
        .delete_role(&admin, &caller.ctx(), id)
        .await
        .map_err(|e| missing_as(e, || not_found(&raw)))?;
    Ok(StatusCode::NO_CONTENT)
}
