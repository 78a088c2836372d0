//! Administrators' role pages (manage-organization): the roles users hold (Contabo's), their
//! creation, editing and deletion. A role with `admin` makes its holders administrators for
//! as long as they hold it; users are given roles on their own page.

use axum::http::StatusCode;
use axum::response::Response;
use roster_core::role::{NewRole, OrgRole, RoleKind, RolePermission};
use roster_core::PageRequest;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::users::pager;
use super::{page_number, see_other, Form, Me, PAGE_SIZE};
use crate::app::AppState;
use crate::http::extract::{PathParam, QueryPairs};
use crate::http::ApiError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update))
        .routes(routes!(delete_form, delete))
}

fn role_id(raw: &str) -> Result<i64, ApiError> {
    // Not an id: no role has it.
    raw.parse::<i64>()
        .map_err(|_| ApiError::not_found(roster_core::Entity::Role(0)))
}

fn flash(m: Option<&str>) -> Option<&'static str> {
    Some(match m? {
        "created" => "The role was created.",
        "saved" => "The role was saved: its holders have what it gives now.",
        "deleted" => "The role was deleted: its holders lost it.",
        _ => return None,
    })
}

/// A role as its form shows it.
fn view(r: &OrgRole) -> Value {
    json!({
        "id": r.id,
        "name": r.role.name,
        "admin": r.role.admin,
        "access_all": r.role.access_all_resources,
        "kind": r.role.kind.as_str(),
        "permission_count": r.role.permissions.len(),
        "permissions": permissions_text(&r.role.permissions),
    })
}

/// The permissions as the form's text: a JSON list, one permission per line.
fn permissions_text(p: &[RolePermission]) -> String {
    if p.is_empty() {
        return String::new();
    }
    let lines: Vec<String> = p
        .iter()
        .map(|x| serde_json::to_string(x).unwrap_or_default())
        .collect();
    format!("[\n  {}\n]", lines.join(",\n  "))
}

/// The role a form describes, or the field that is wrong and why.
fn parse(form: &Form, kind: RoleKind) -> Result<NewRole, (&'static str, String)> {
    let permissions: Vec<RolePermission> = match form.text("permissions") {
        None => Vec::new(),
        Some(t) => serde_json::from_str(t).map_err(|e| {
            (
                "permissions",
                format!("a JSON list like [{{\"apiName\": \"/v1/compute/instances\", \"actions\": [\"READ\"]}}] (actions: CREATE, READ, UPDATE, DELETE): {e}"),
            )
        })?,
    };
    let role = NewRole {
        name: form.text("name").unwrap_or("").to_owned(),
        admin: form.get("admin").is_some(),
        access_all_resources: form.get("access_all").is_some(),
        kind,
        permissions,
    };
    role.validate().map_err(|e| {
        let field = if role.name.trim().is_empty() || role.name.chars().count() > 255 {
            "name"
        } else {
            "permissions"
        };
        (field, e.to_string())
    })?;
    Ok(role)
}

/// What a form's fields were, to show them again with an error.
fn entered(form: &Form) -> Value {
    json!({
        "name": form.get("name"),
        "admin": form.get("admin").is_some(),
        "access_all": form.get("access_all").is_some(),
        "permissions": form.get("permissions"),
    })
}

#[utoipa::path(get, path = "/roles",
    params(("page" = Option<i64>, Query, description = "1-based page of 50")),
    description = "The roles users hold, oldest first, and the form that creates one (manage-organization).",
    responses((status = 200, description = "The page", content_type = "text/html", body = String)))]
async fn list(me: Me, q: QueryPairs) -> Result<Response, ApiError> {
    list_page(
        &me,
        &q,
        StatusCode::OK,
        json!({"message": flash(q.get("m"))}),
    )
    .await
}

async fn list_page(
    me: &Me,
    q: &QueryPairs,
    status: StatusCode,
    extra: Value,
) -> Result<Response, ApiError> {
    me.caller.principal().user_admin()?;
    let page = page_number(q);
    let found = me
        .caller
        .store()
        .list_roles(&PageRequest {
            start_index: (page - 1) * PAGE_SIZE + 1,
            count: PAGE_SIZE,
        })
        .await?;
    let ctx = super::merge(
        json!({
            "roles": found.items.iter().map(view).collect::<Vec<_>>(),
            "pager": pager(q, "/console/roles", page, found.total),
        }),
        extra,
    );
    Ok(me.page_status(status, "roles", "roles.html", ctx))
}

#[utoipa::path(post, path = "/roles",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`name`, `admin`, `access_all`, `permissions` (a JSON list), `csrf`"),
    description = "Creates a role (manage-organization).",
    responses((status = 303, description = "Created: the role's page"),
              (status = 400, description = "The list again, with what was wrong", content_type = "text/html", body = String)))]
async fn create(me: Me, q: QueryPairs, form: Form) -> Result<Response, ApiError> {
    let admin = me.caller.principal().user_admin()?;
    let again = |field: &str, error: String| {
        list_page(
            &me,
            &q,
            StatusCode::BAD_REQUEST,
            json!({"form": entered(&form), "errors": {field: error}}),
        )
    };
    let new = match parse(&form, RoleKind::Custom) {
        Ok(r) => r,
        Err((field, error)) => return again(field, error).await,
    };
    let role = me
        .caller
        .store()
        .create_role(&admin, &me.caller.ctx(), &new)
        .await?;
    Ok(see_other(&format!("/console/roles/{}?m=created", role.id)))
}

async fn role_of(me: &Me, id: i64) -> Result<OrgRole, ApiError> {
    me.caller
        .store()
        .get_role(id)
        .await?
        .ok_or_else(|| ApiError::not_found(roster_core::Entity::Role(id)))
}

async fn role_page(
    me: &Me,
    id: i64,
    status: StatusCode,
    extra: Value,
) -> Result<Response, ApiError> {
    me.caller.principal().user_admin()?;
    let role = role_of(me, id).await?;
    let ctx = super::merge(json!({"role": view(&role), "form": view(&role)}), extra);
    Ok(me.page_status(status, "roles", "role.html", ctx))
}

#[utoipa::path(get, path = "/roles/{id}",
    params(("id" = i64, Path, description = "The role's id")),
    description = "One role and the form that changes it (manage-organization).",
    responses((status = 200, description = "The page", content_type = "text/html", body = String)))]
async fn show(me: Me, PathParam(raw): PathParam, q: QueryPairs) -> Result<Response, ApiError> {
    let id = role_id(&raw)?;
    role_page(
        &me,
        id,
        StatusCode::OK,
        json!({"message": flash(q.get("m"))}),
    )
    .await
}

#[utoipa::path(post, path = "/roles/{id}",
    params(("id" = i64, Path, description = "The role's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`name`, `admin`, `access_all`, `permissions` (a JSON list), `csrf`"),
    description = "Replaces the role; its holders gain or lose what `admin` gives at once (manage-organization).",
    responses((status = 303, description = "Saved"),
              (status = 400, description = "The page again, with what was wrong", content_type = "text/html", body = String)))]
async fn update(me: Me, PathParam(raw): PathParam, form: Form) -> Result<Response, ApiError> {
    let id = role_id(&raw)?;
    let admin = me.caller.principal().user_admin()?;
    let store = me.caller.store();
    let current = role_of(&me, id).await?;
    let new = match parse(&form, current.role.kind) {
        Ok(r) => r,
        Err((field, error)) => {
            let extra = json!({"form": entered(&form), "errors": {field: error}});
            return role_page(&me, id, StatusCode::BAD_REQUEST, extra).await;
        }
    };
    store
        .update_role(&admin, &me.caller.ctx(), id, &new)
        .await?;
    Ok(see_other(&format!("/console/roles/{id}?m=saved")))
}

#[utoipa::path(get, path = "/roles/{id}/delete",
    params(("id" = i64, Path, description = "The role's id")),
    description = "Asks to confirm the deletion (manage-organization).",
    responses((status = 200, description = "The confirmation", content_type = "text/html", body = String)))]
async fn delete_form(me: Me, PathParam(raw): PathParam) -> Result<Response, ApiError> {
    let id = role_id(&raw)?;
    me.caller.principal().user_admin()?;
    let role = role_of(&me, id).await?;
    Ok(me.page(
        "roles",
        "confirm.html",
        json!({
            "title": format!("Delete the role {}?", role.role.name),
            "text": "Everyone who holds it loses it, and what it gave them, at once.",
            "action": format!("/console/roles/{id}/delete"),
            "button": "Delete the role",
            "back": format!("/console/roles/{id}"),
        }),
    ))
}

#[utoipa::path(post, path = "/roles/{id}/delete",
    params(("id" = i64, Path, description = "The role's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`"),
    description = "Deletes the role (manage-organization).",
    responses((status = 303, description = "Deleted: the list")))]
async fn delete(me: Me, PathParam(raw): PathParam, _form: Form) -> Result<Response, ApiError> {
    let id = role_id(&raw)?;
    let admin = me.caller.principal().user_admin()?;
    me.caller
        .store()
        .delete_role(&admin, &me.caller.ctx(), id)
        .await?;
    Ok(see_other("/console/roles?m=deleted"))
}
