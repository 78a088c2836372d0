//! Administrators' object-storage pages (manage-organization): the S3-compatible storages of
//! the deployment, adding one (every user gets a key pair for it on first use) and removing
//! one (with every key pair for it). Users' key pairs are on their own pages.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{see_other, Form, Me};
use crate::app::AppState;
use crate::http::extract::{PathParam, QueryPairs};
use crate::http::ApiError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(remove_form, remove))
}

fn flash(m: Option<&str>) -> Option<&'static str> {
    Some(match m? {
        "added" => {
            "The storage was added: every user gets a key pair for it when they next list theirs."
        }
        "removed" => "The storage was removed with every key pair for it.",
        _ => return None,
    })
}

fn storage_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::invalid_value("not an object storage's id"))
}

async fn list_page(me: &Me, status: StatusCode, extra: Value) -> Result<Response, ApiError> {
    me.caller.principal().user_admin()?;
    // A deployment has a handful: the store lists them whole.
    let storages: Vec<Value> = me
        .caller
        .store()
        .list_storages()
        .await?
        .iter()
        .map(|s| json!({"id": s.id.to_string(), "name": s.display_name, "region": s.region}))
        .collect();
    let ctx = super::merge(json!({"storages": storages}), extra);
    Ok(me.page_status(status, "storages", "storages.html", ctx))
}

#[utoipa::path(get, path = "/storages",
    description = "The object storages and the form that adds one (manage-organization).",
    responses((status = 200, description = "The page", content_type = "text/html", body = String)))]
async fn list(me: Me, q: QueryPairs) -> Result<Response, ApiError> {
    list_page(&me, StatusCode::OK, json!({"message": flash(q.get("m"))})).await
}

#[utoipa::path(post, path = "/storages",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`name`, `region`, `csrf`"),
    description = "Adds an object storage (manage-organization).",
    responses((status = 303, description = "Added"),
              (status = 400, description = "The list again, with what was wrong", content_type = "text/html", body = String)))]
async fn add(me: Me, form: Form) -> Result<Response, ApiError> {
    let admin = me.caller.principal().user_admin()?;
    let (name, region) = (form.text("name"), form.text("region"));
    let missing = match (name, region) {
        (None, _) => Some(("name", "A storage needs a name.")),
        (_, None) => Some(("region", "A storage needs a region (e.g. EU, US-central).")),
        _ => None,
    };
    let entered = json!({"name": name, "region": region});
    if let Some((field, error)) = missing {
        let extra = json!({"form": entered, "errors": {field: error}});
        return list_page(&me, StatusCode::BAD_REQUEST, extra).await;
    }
    let added = me
        .caller
        .store()
        .add_storage(
            &admin,
            &me.caller.ctx(),
            name.unwrap_or(""),
            region.unwrap_or(""),
        )
        .await;
    match added {
        Ok(_) => Ok(see_other("/console/storages?m=added")),
        Err(e) => {
            let e = ApiError::from(e);
            if !e.status().is_client_error() {
                return Err(e);
            }
            let extra = json!({"form": entered, "errors": {"name": e.detail()}});
            list_page(&me, StatusCode::BAD_REQUEST, extra).await
        }
    }
}

#[utoipa::path(get, path = "/storages/{id}/remove",
    params(("id" = String, Path, description = "The storage's id")),
    description = "Asks to confirm the removal (manage-organization).",
    responses((status = 200, description = "The confirmation", content_type = "text/html", body = String)))]
async fn remove_form(me: Me, PathParam(raw): PathParam) -> Result<Response, ApiError> {
    let id = storage_id(&raw)?;
    me.caller.principal().user_admin()?;
    let s = me
        .caller
        .store()
        .list_storages()
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| ApiError::invalid_value("no such object storage"))?;
    Ok(me.page(
        "storages",
        "confirm.html",
        json!({
            "title": format!("Remove the storage {} ({})?", s.display_name, s.region),
            "text": "Every user's key pair for it is deleted: clients using those keys stop working.",
            "action": format!("/console/storages/{id}/remove"),
            "button": "Remove the storage",
            "back": "/console/storages",
        }),
    ))
}

#[utoipa::path(post, path = "/storages/{id}/remove",
    params(("id" = String, Path, description = "The storage's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`"),
    description = "Removes the storage and every key pair for it (manage-organization).",
    responses((status = 303, description = "Removed: the list")))]
async fn remove(me: Me, PathParam(raw): PathParam, _form: Form) -> Result<Response, ApiError> {
    let id = storage_id(&raw)?;
    let admin = me.caller.principal().user_admin()?;
    me.caller
        .store()
        .remove_storage(&admin, &me.caller.ctx(), id)
        .await?;
    Ok(see_other("/console/storages?m=removed"))
}
