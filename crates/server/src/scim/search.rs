//! POST `/.search` at the service root (RFC 7644 §3.4.3): users then groups, paged as one
//! list. A filter that names attributes one resource type lacks matches none of that type.

use axum::http::StatusCode;
use roster_core::schema::Resource;
use roster_core::{Page, PageRequest};
use serde_json::json;

use super::list::ListRequest;
use super::render::{group_json, user_json};
use super::{groups, openapi, users, ROOT};
use crate::http::body::JsonBody;
use crate::http::extract::BaseUrl;
use crate::http::{Answer, Caller};
use crate::scim_resource::{respond, Links, ScimJson, LIST_URN};

#[utoipa::path(post, path = "/.search", responses(openapi::List),
    description = "Searches users, then groups (groups only with manage-groups), paged as one list (RFC 7644 §3.4.3). Needs manage-organization.",
    request_body(content = Value, content_type = "application/scim+json", description = "A SearchRequest"))]
pub async fn search_all(caller: Caller, base: BaseUrl, JsonBody(body, _): ScimJson) -> Answer {
    let admin = caller.principal().user_admin()?;
    let users_reader = admin.reader();
    // Groups join the results only for callers the policy lets see every group.
    let groups_reader = caller.principal().group_manager().ok().map(|m| m.reader());
    let req = ListRequest::from_search(&body)?;
    let links = Links::new(&base.0, ROOT);
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
        users::list_users(caller.store(), &users_reader, &count_only(&req))
            .await?
            .total
    } else {
        0
    };
    let groups_reader = groups_reader.filter(|_| applies(Resource::Group));
    let group_total = match &groups_reader {
        Some(r) => {
            groups::list_groups(caller.store(), r, &count_only(&req))
                .await?
                .total
        }
        None => 0,
    };
    let mut resources = Vec::new();
    let offset = page.offset();
    if offset < user_total && page.count > 0 {
        let r = ListRequest {
            page,
            ..count_only(&req)
        };
        let p: Page<_> = users::list_users(caller.store(), &users_reader, &r).await?;
        resources.extend(p.items.iter().map(|u| user_json(u, &links)));
    }
    let remaining = page.count - resources.len() as i64;
    let more = offset + (resources.len() as i64) < user_total + group_total;
    if let (Some(reader), true, true) = (&groups_reader, remaining > 0, more) {
        let start = (offset - user_total).max(0) + 1;
        let r = ListRequest {
            page: PageRequest {
                start_index: start,
                count: remaining,
            },
            ..count_only(&req)
        };
        let p = groups::list_groups(caller.store(), reader, &r).await?;
        resources.extend(p.items.iter().map(|g| group_json(g, &links)));
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
