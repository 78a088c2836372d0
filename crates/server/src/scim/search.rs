//! POST `/.search` at the service root (RFC 7644 §3.4.3): users then groups, paged as one
//! list. A filter that names attributes one resource type lacks matches none of that type.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use roster_core::schema::Resource;
use roster_core::{Page, PageRequest, Permission};
use serde_json::json;

use super::body::ScimJson;
use super::error::ScimError;
use super::list::ListRequest;
use super::render::{group_json, respond, user_json, Flavor, LIST_URN};
use super::request::BaseUrl;
use super::{groups, users, Caller, ROOT};
use crate::app::AppState;

pub async fn search_all(
    State(state): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    caller.0.org_admin()?;
    let req = ListRequest::from_search(&body)?;
    let links = base.links(ROOT);
    let page = req.page;
    // Totals first (count 0), then fetch only the slice of each type the page covers.
    let count_only = |r: &ListRequest| ListRequest {
        filter: r.filter.clone(),
        sort_by: r.sort_by.clone(),
        sort_order: r.sort_order.clone(),
        page: PageRequest {
            start_index: 1,
            count: 0,
        },
        projection: r.projection.clone(),
    };
    let applies = |res: Resource| req.cond(res).is_ok() && req.sort(res).is_ok();
    if !applies(Resource::User) && !applies(Resource::Group) {
        req.cond(Resource::User)?;
        req.sort(Resource::User)?;
    }
    let user_total = if applies(Resource::User) {
        users::list_users(&state, &count_only(&req)).await?.total
    } else {
        0
    };
    let with_groups = applies(Resource::Group) && caller.0.has(Permission::ManageGroups);
    let group_total = if with_groups {
        groups::list_groups(&state, &count_only(&req)).await?.total
    } else {
        0
    };
    let mut resources = Vec::new();
    let offset = page.offset();
    if offset < user_total && page.count > 0 {
        let r = ListRequest {
            page,
            ..count_only(&req)
        };
        let p: Page<_> = users::list_users(&state, &r).await?;
        resources.extend(p.items.iter().map(|u| user_json(u, Flavor::Scim, &links)));
    }
    let remaining = page.count - resources.len() as i64;
    if with_groups && remaining > 0 && offset + (resources.len() as i64) < user_total + group_total
    {
        let start = (offset - user_total).max(0) + 1;
        let r = ListRequest {
            page: PageRequest {
                start_index: start,
                count: remaining,
            },
            ..count_only(&req)
        };
        let p = groups::list_groups(&state, &r).await?;
        resources.extend(p.items.iter().map(|g| group_json(g, Flavor::Scim, &links)));
    }
    for v in &mut resources {
        req.projection.apply(v);
    }
    Ok(respond(
        StatusCode::OK,
        json!({"schemas": [LIST_URN], "totalResults": user_total + group_total, "startIndex": page.start_index,
               "itemsPerPage": resources.len(), "Resources": resources}),
        None,
        None,
    ))
}
