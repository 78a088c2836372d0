//! Administrators' group pages (manage-groups): the list and creation (a slug makes the
//! group an organization), one group's members with search and paging (the store's paged
//! user list limited to the group: a 100,000-member group never loads whole), adding and
//! removing members, their admin/member roles, renaming and deletion.

use axum::http::StatusCode;
use axum::response::Response;
use roster_core::filter::CompareOp;
use roster_core::group::{GroupChange, MemberOp, NewMember, Role};
use roster_core::policy::GroupManager;
use roster_core::schema::{Cond, Field, Scalar};
use roster_core::user::fold;
use roster_core::{Group, NewGroup, PageRequest, UserName};
use roster_store::{GroupQuery, UserQuery};
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::users::pager;
use super::{page_number, param, see_other, when, Form, Me, PAGE_SIZE};
use crate::app::AppState;
use crate::http::extract::{PathParam, QueryPairs};
use crate::http::ApiError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show))
        .routes(routes!(rename))
        .routes(routes!(add_member))
        .routes(routes!(remove_member))
        .routes(routes!(delete_form, delete))
}

fn manager(me: &Me) -> Result<GroupManager, ApiError> {
    Ok(me.caller.principal().group_manager()?)
}

fn group_id(raw: &str) -> Result<Uuid, ApiError> {
    // Not an id: no group has it (a fixed id never matches).
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found(roster_core::Entity::Group(Uuid::nil())))
}

fn flash(m: Option<&str>) -> Option<&'static str> {
    Some(match m? {
        "created" => "The group was created.",
        "renamed" => "The group was renamed.",
        "added" => "The member was added (or their role changed).",
        "removed" => "The member was removed.",
        "deleted" => "The group was deleted.",
        _ => return None,
    })
}

#[utoipa::path(get, path = "/groups",
    params(("q" = Option<String>, Query, description = "Substring of the group's name"),
           ("page" = Option<i64>, Query, description = "1-based page of 50")),
    description = "The group list (manage-groups).",
    responses((status = 200, description = "The page", content_type = "text/html", body = String)))]
async fn list(me: Me, q: QueryPairs) -> Result<Response, ApiError> {
    let by = manager(&me)?;
    list_page(&me, &by, &q, StatusCode::OK, json!({})).await
}

async fn list_page(
    me: &Me,
    by: &GroupManager,
    q: &QueryPairs,
    status: StatusCode,
    extra: Value,
) -> Result<Response, ApiError> {
    let page = page_number(q);
    let query = GroupQuery {
        filter: param(q, "q").map(|s| {
            Cond::Cmp(
                Field::GroupDisplayName,
                CompareOp::Co,
                Scalar::Text(fold(s)),
            )
        }),
        page: PageRequest {
            start_index: (page - 1) * PAGE_SIZE + 1,
            count: PAGE_SIZE,
        },
        ..GroupQuery::default()
    };
    let found = me.caller.store().list_groups(&by.reader(), &query).await?;
    let groups: Vec<Value> = found
        .items
        .iter()
        .map(|g| {
            json!({
                "id": g.id.to_string(),
                "name": g.display_name,
                "slug": g.slug,
                "created": when(g.meta.created),
            })
        })
        .collect();
    let ctx = json!({
        "groups": groups,
        "q": param(q, "q"),
        "pager": pager(q, "/console/groups", page, found.total),
        "message": flash(q.get("m")),
    });
    let ctx = super::merge(ctx, extra);
    Ok(me.page_status(status, "groups", "groups.html", ctx))
}

#[utoipa::path(post, path = "/groups",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`display_name`, `slug` (optional: makes it an organization), `csrf`"),
    description = "Creates a group (manage-groups).",
    responses((status = 303, description = "Created: the group's page"),
              (status = 400, description = "The list again, with what was wrong", content_type = "text/html", body = String)))]
async fn create(me: Me, q: QueryPairs, form: Form) -> Result<Response, ApiError> {
    let by = manager(&me)?;
    let name = form.text("display_name").unwrap_or("");
    let slug = form.text("slug");
    let ctx = me.caller.ctx();
    let store = me.caller.store();
    let created = match slug {
        Some(s) => store.create_org(&by, &ctx, s, name).await.map(|o| o.id),
        None => {
            let new = NewGroup {
                display_name: name.to_owned(),
                external_id: None,
                members: Vec::new(),
            };
            store
                .create_group(&by.creator(), &ctx, &new)
                .await
                .map(|g| g.id)
        }
    };
    match created {
        Ok(id) => Ok(see_other(&format!("/console/groups/{id}?m=created"))),
        Err(e) => {
            let e = ApiError::from(e);
            if !e.status().is_client_error() {
                return Err(e);
            }
            let field = if e.detail().contains("slug") {
                "slug"
            } else {
                "display_name"
            };
            list_page(
                &me,
                &by,
                &q,
                StatusCode::BAD_REQUEST,
                json!({"form": {"display_name": name, "slug": slug}, "errors": {field: e.detail()}}),
            )
            .await
        }
    }
}

async fn load(me: &Me, by: &GroupManager, id: Uuid) -> Result<Group, ApiError> {
    me.caller
        .store()
        .get_group(&by.reader(), id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(roster_core::Entity::Group(id)))
}

async fn group_page(
    me: &Me,
    id: Uuid,
    q: &QueryPairs,
    status: StatusCode,
    extra: Value,
) -> Result<Response, ApiError> {
    let by = manager(me)?;
    let g = load(me, &by, id).await?;
    let page = page_number(q);
    let store = me.caller.store();
    let filter = param(q, "q").map(|s| {
        let needle = || Scalar::Text(fold(s));
        Cond::Or(
            Box::new(Cond::Cmp(Field::UserName, CompareOp::Co, needle())),
            Box::new(Cond::Or(
                Box::new(Cond::Cmp(Field::GivenName, CompareOp::Co, needle())),
                Box::new(Cond::Cmp(Field::FamilyName, CompareOp::Co, needle())),
            )),
        )
    });
    let admin_reader = me.caller.principal().directory_reader();
    let members = store
        .list_users(
            &admin_reader,
            &UserQuery {
                filter,
                member_of: Some(g.seq),
                page: PageRequest {
                    start_index: (page - 1) * PAGE_SIZE + 1,
                    count: PAGE_SIZE,
                },
                ..UserQuery::default()
            },
        )
        .await?;
    // The shown members' roles in one query (50 at most), never the whole list.
    let seqs: Vec<i64> = members.items.iter().map(|u| u.seq).collect();
    let roles = store.member_roles(g.seq, &seqs).await?;
    let rows: Vec<Value> = members
        .items
        .iter()
        .map(|u| {
            let role = roles
                .iter()
                .find(|(s, _)| *s == u.seq)
                .map_or(Role::Member, |(_, r)| *r);
            json!({
                "id": u.id.to_string(),
                "user_name": u.user_name.as_str(),
                "name": super::full_name(u),
                "role": role.as_str(),
            })
        })
        .collect();
    let ctx = json!({
        "group": {
            "id": g.id.to_string(),
            "name": g.display_name,
            "slug": g.slug,
            "created": when(g.meta.created),
            "modified": when(g.meta.last_modified),
        },
        "members": rows,
        "q": param(q, "q"),
        "pager": pager(q, &format!("/console/groups/{id}"), page, members.total),
        "message": flash(q.get("m")),
    });
    let ctx = super::merge(ctx, extra);
    Ok(me.page_status(status, "groups", "group.html", ctx))
}

#[utoipa::path(get, path = "/groups/{id}",
    params(("id" = String, Path, description = "The group's id"),
           ("q" = Option<String>, Query, description = "Substring of a member's userName or name"),
           ("page" = Option<i64>, Query, description = "1-based page of 50 members")),
    description = "One group and a page of its members (manage-groups).",
    responses((status = 200, description = "The page", content_type = "text/html", body = String)))]
async fn show(me: Me, PathParam(raw): PathParam, q: QueryPairs) -> Result<Response, ApiError> {
    let id = group_id(&raw)?;
    group_page(&me, id, &q, StatusCode::OK, json!({})).await
}

/// Applies `change` to the group; a client mistake shows the group page again with it.
async fn change(
    me: &Me,
    id: Uuid,
    change: GroupChange,
    field: &str,
    done: &str,
) -> Result<Response, ApiError> {
    let by = manager(me)?;
    match me
        .caller
        .store()
        .modify_group(&by.editor(id), &me.caller.ctx(), None, &change)
        .await
    {
        Ok(_) => Ok(see_other(&format!("/console/groups/{id}?m={done}"))),
        Err(e) => {
            let e = ApiError::from(e);
            if e.status().is_client_error() && e.status() != StatusCode::NOT_FOUND {
                let q = QueryPairs(Vec::new());
                group_page(
                    me,
                    id,
                    &q,
                    StatusCode::BAD_REQUEST,
                    json!({"errors": {field: e.detail()}}),
                )
                .await
            } else {
                Err(e)
            }
        }
    }
}

#[utoipa::path(post, path = "/groups/{id}/rename",
    params(("id" = String, Path, description = "The group's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`display_name`, `csrf`"),
    description = "Renames the group (manage-groups).",
    responses((status = 303, description = "Renamed")))]
async fn rename(me: Me, PathParam(raw): PathParam, form: Form) -> Result<Response, ApiError> {
    let id = group_id(&raw)?;
    let c = GroupChange {
        display_name: Some(form.text("display_name").unwrap_or("").to_owned()),
        ..GroupChange::default()
    };
    change(&me, id, c, "display_name", "renamed").await
}

#[utoipa::path(post, path = "/groups/{id}/members",
    params(("id" = String, Path, description = "The group's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`user_name` (or email), `role` (member or admin), `csrf`"),
    description = "Adds a member, or changes a member's role (manage-groups).",
    responses((status = 303, description = "Added")))]
async fn add_member(me: Me, PathParam(raw): PathParam, form: Form) -> Result<Response, ApiError> {
    let id = group_id(&raw)?;
    let role: Role = form.text("role").unwrap_or("member").parse()?;
    let who = form.text("user_name").unwrap_or("");
    let reader = me.caller.principal().directory_reader();
    let user = match UserName::parse(who) {
        Ok(n) => me.caller.store().find_user_by_name(&reader, &n).await?,
        Err(_) => None,
    };
    let Some(user) = user else {
        let q = QueryPairs(Vec::new());
        return group_page(
            &me,
            id,
            &q,
            StatusCode::BAD_REQUEST,
            json!({"errors": {"user_name": format!("There is no user named {who:?}.")}}),
        )
        .await;
    };
    let c = GroupChange {
        members: vec![MemberOp::Add(vec![NewMember::new(user.id, Some(role))])],
        ..GroupChange::default()
    };
    change(&me, id, c, "user_name", "added").await
}

#[utoipa::path(post, path = "/groups/{id}/members/remove",
    params(("id" = String, Path, description = "The group's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`user_id`, `csrf`"),
    description = "Removes a member (manage-groups).",
    responses((status = 303, description = "Removed")))]
async fn remove_member(
    me: Me,
    PathParam(raw): PathParam,
    form: Form,
) -> Result<Response, ApiError> {
    let id = group_id(&raw)?;
    let user = form
        .text("user_id")
        .and_then(|u| Uuid::parse_str(u).ok())
        .ok_or_else(|| ApiError::invalid_value("which member: user_id is missing or not an id"))?;
    let c = GroupChange {
        members: vec![MemberOp::Remove(vec![user])],
        ..GroupChange::default()
    };
    change(&me, id, c, "members", "removed").await
}

#[utoipa::path(get, path = "/groups/{id}/delete",
    params(("id" = String, Path, description = "The group's id")),
    description = "Asks to confirm the deletion (manage-groups).",
    responses((status = 200, description = "The confirmation", content_type = "text/html", body = String)))]
async fn delete_form(me: Me, PathParam(raw): PathParam) -> Result<Response, ApiError> {
    let id = group_id(&raw)?;
    let by = manager(&me)?;
    let g = load(&me, &by, id).await?;
    Ok(me.page(
        "groups",
        "confirm.html",
        json!({
            "title": format!("Delete the group {}?", g.display_name),
            "text": "The group and its memberships are deleted for good; its members stay in the directory.",
            "action": format!("/console/groups/{id}/delete"),
            "button": "Delete the group",
            "back": format!("/console/groups/{id}"),
        }),
    ))
}

#[utoipa::path(post, path = "/groups/{id}/delete",
    params(("id" = String, Path, description = "The group's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`"),
    description = "Deletes the group (manage-groups).",
    responses((status = 303, description = "Deleted: the list")))]
async fn delete(me: Me, PathParam(raw): PathParam, _form: Form) -> Result<Response, ApiError> {
    let id = group_id(&raw)?;
    let by = manager(&me)?;
    me.caller
        .store()
        .delete_group(&by.editor(id), &me.caller.ctx(), None)
        .await?;
    Ok(see_other("/console/groups?m=deleted"))
}
