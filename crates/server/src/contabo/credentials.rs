//! A user's S3-compatible object-storage credentials: list, get, regenerate. The secret key
//! is shown in clear here (so it is sealed at rest, never hashed). Administrators reach
//! anyone's, a user their own.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use roster_core::policy::TokenAdmin;
use roster_store::{CredentialOrder, CredentialQuery, StorageCredential};
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::missing_as;
use super::{found, list_links, page_params};
use crate::app::AppState;
use crate::http::auth::Caller;
use crate::http::body::json_response;
use crate::http::error::Kind;
use crate::http::extract::QueryPairs;
use crate::http::ApiError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get, regenerate))
}

fn user_not_found(raw: &str) -> ApiError {
    ApiError::new(
        Kind::NotFound,
        format!("Entry User not found by userId {raw}"),
    )
}

fn credential_not_found(raw: &str) -> ApiError {
    ApiError::new(
        Kind::NotFound,
        format!("Entry Credential not found by credentialId {raw}"),
    )
}

/// The handle for the user's credentials: anyone's for an administrator, else one's own.
fn handle(caller: &Caller, raw_user: &str) -> Result<(TokenAdmin, Uuid), ApiError> {
    let id = Uuid::parse_str(raw_user).map_err(|_| user_not_found(raw_user))?;
    let p = caller.principal();
    let by = if p.user_id == id {
        p.self_service().token_admin()
    } else {
        p.user_admin()?.credential_admin()
    };
    Ok((by, id))
}

fn render(state: &AppState, c: &StorageCredential) -> Result<Value, ApiError> {
    let secret = crate::tokens::open_secret_key(state.tokens.server_key(), c)?;
    Ok(json!({
        "tenantId": state.tenant_id.as_ref(),
        "customerId": state.customer_id.as_ref(),
        "accessKey": c.access_key,
        "secretKey": secret,
        "objectStorageId": c.storage.id.to_string(),
        "displayName": c.storage.display_name,
        "region": c.storage.region,
        "credentialId": c.id,
    }))
}

fn order_key(raw: &str) -> Result<(CredentialOrder, bool), ApiError> {
    let (field, dir) = raw.split_once(':').unwrap_or((raw, "asc"));
    let desc = match dir.to_ascii_lowercase().as_str() {
        "asc" => false,
        "desc" => true,
        _ => {
            return Err(ApiError::invalid_value(format!(
                "orderBy {raw:?}: the direction must be asc or desc"
            )))
        }
    };
    let key = match field {
        "name" | "displayName" => CredentialOrder::DisplayName,
        "region" | "regionName" => CredentialOrder::Region,
        "objectStorageId" => CredentialOrder::ObjectStorageId,
        "credentialId" => CredentialOrder::CredentialId,
        other => {
            return Err(ApiError::invalid_value(format!(
                "orderBy: unknown field {other:?}; known: name, displayName, region, objectStorageId, credentialId"
            )))
        }
    };
    Ok((key, desc))
}

fn filter(q: &QueryPairs, name: &str) -> Result<Option<String>, ApiError> {
    match q.get(name) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > 255 => Err(ApiError::invalid_value(format!(
            "{name} is longer than 255 characters"
        ))),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

#[utoipa::path(get, path = "/users/{userId}/object-storages/credentials",
    params(("userId" = String, Path, description = "The user's id"),
           ("page" = Option<i64>, Query, description = "1-based page"),
           ("size" = Option<i64>, Query, description = "Per page (default 10, at most 1000)"),
           ("orderBy" = Option<Vec<String>>, Query, description = "`field:asc|desc`, repeatable: name, region, objectStorageId, credentialId"),
           ("objectStorageId" = Option<String>, Query, description = "Only this storage's"),
           ("regionName" = Option<String>, Query, description = "Only storages in this region"),
           ("displayName" = Option<String>, Query, description = "Only storages with this name")),
    description = "The user's credentials, one per object storage (made on first use). Administrators for anyone, a user their own.",
    responses((status = 200, description = "ListCredentialResponse", body = Value)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw_user): Path<String>,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let (by, user) = handle(&caller, &raw_user)?;
    let (page, size) = page_params(&q)?;
    let order = q
        .all("orderBy")
        .take(9)
        .map(order_key)
        .collect::<Result<Vec<_>, _>>()?;
    if order.len() > 8 {
        return Err(ApiError::invalid_value("at most 8 orderBy keys"));
    }
    let storage = match filter(&q, "objectStorageId")? {
        None => None,
        Some(s) => Some(Uuid::parse_str(&s).map_err(|_| {
            ApiError::invalid_value(format!("objectStorageId {s:?} is not a UUID"))
        })?),
    };
    let query = CredentialQuery {
        storage,
        region: filter(&q, "regionName")?,
        display_name: filter(&q, "displayName")?,
        order,
        page: roster_core::PageRequest {
            start_index: (page - 1).saturating_mul(size).saturating_add(1),
            count: size,
        },
    };
    let key = state.tokens.server_key();
    let make = || crate::tokens::new_key_pair(key);
    let got = caller
        .store()
        .credentials(&by, &caller.ctx(), user, &make, &query)
        .await
        .map_err(|e| missing_as(e, || user_not_found(&raw_user)))?;
    let data = got
        .items
        .iter()
        .map(|c| render(&state, c))
        .collect::<Result<Vec<_>, _>>()?;
    let pages = (got.total + size - 1) / size;
    let path = format!("/v1/users/{user}/object-storages/credentials");
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "_pagination": {"size": size, "totalElements": got.total, "totalPages": pages, "page": page},
            "data": data,
            "_links": list_links(&path, &q, page, size, pages),
        }),
    ))
}

/// The user, storage and credential a path names.
fn target(
    caller: &Caller,
    (raw_user, raw_storage, raw_id): &(String, String, String),
) -> Result<(TokenAdmin, Uuid, Uuid, i64), ApiError> {
    let (by, user) = handle(caller, raw_user)?;
    let id = raw_id.parse::<i64>().map_err(|_| {
        ApiError::invalid_value(format!("credentialId must be an integer, got {raw_id:?}"))
    })?;
    let storage = Uuid::parse_str(raw_storage).map_err(|_| credential_not_found(raw_id))?;
    Ok((by, user, storage, id))
}

#[utoipa::path(get, path = "/users/{userId}/object-storages/{objectStorageId}/credentials/{credentialId}",
    params(("userId" = String, Path, description = "The user's id"),
           ("objectStorageId" = String, Path, description = "The storage's id"),
           ("credentialId" = i64, Path, description = "The credential's id")),
    description = "One credential with its secret key.",
    responses((status = 200, description = "FindCredentialResponse", body = Value)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (by, user, storage, id) = target(&caller, &path)?;
    let c = caller
        .store()
        .credential(&by, user, storage, id)
        .await
        .map_err(|e| missing_as(e, || user_not_found(&path.0)))?
        .ok_or_else(|| credential_not_found(&path.2))?;
    Ok(found(
        StatusCode::OK,
        vec![render(&state, &c)?],
        &format!("/v1/users/{user}/object-storages/{storage}/credentials/{id}"),
    ))
}

#[utoipa::path(patch, path = "/users/{userId}/object-storages/{objectStorageId}/credentials/{credentialId}",
    params(("userId" = String, Path, description = "The user's id"),
           ("objectStorageId" = String, Path, description = "The storage's id"),
           ("credentialId" = i64, Path, description = "The credential's id")),
    description = "A new secret key (the access key stays); the old one is gone at once.",
    responses((status = 200, description = "FindCredentialResponse with the new secret key", body = Value)))]
pub async fn regenerate(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (by, user, storage, id) = target(&caller, &path)?;
    let key = state.tokens.server_key();
    let secret = |access: &str| crate::tokens::seal_secret_key(key, access);
    let c = caller
        .store()
        .regenerate_credential(&by, &caller.ctx(), user, storage, id, &secret)
        .await
        .map_err(|e| missing_as(e, || credential_not_found(&path.2)))?;
    Ok(found(
        StatusCode::OK,
        vec![render(&state, &c)?],
        &format!("/v1/users/{user}/object-storages/{storage}/credentials/{id}"),
    ))
}
