//! POST `/.search` at the service root (RFC 7644 §3.4.3): users and groups paged as one
//! list, newest first unless sorted (then by the sort across both types). A filter or a
//! sort that names attributes one resource type lacks matches none of that type.

use axum::http::StatusCode;
use roster_core::schema::Resource;
use roster_store::{Found, GroupQuery, SearchQuery, UserQuery};
use serde_json::json;

use super::list::ListRequest;
use super::render::{group_json, user_json};
use super::{openapi, NEWEST_FIRST, ROOT};
use crate::http::body::JsonBody;
use crate::http::extract::BaseUrl;
use crate::http::{Answer, Caller};
use crate::scim_resource::{respond, Links, ScimJson, LIST_URN};

#[utoipa::path(post, path = "/.search", responses(openapi::List),
    description = "Searches users and groups (groups only with manage-groups) as one list, newest first unless sorted (RFC 7644 §3.4.3). Needs manage-organization.",
    request_body(content = Value, content_type = "application/scim+json", description = "A SearchRequest"))]
pub async fn search_all(caller: Caller, base: BaseUrl, JsonBody(body, _): ScimJson) -> Answer {
    let admin = caller.principal().user_admin()?;
    let users_reader = admin.reader();
    let seen_groups = caller.principal().group_reader();
    // Groups join the results only for callers the policy lets see every group.
    let groups_reader = caller.principal().group_manager().ok().map(|m| m.reader());
    let req = ListRequest::from_search(&body)?;
    let applies = |res: Resource| req.cond(res).is_ok() && req.sort(res).is_ok();
    if !applies(Resource::User) && !applies(Resource::Group) {
        // Neither type understands the request: the users' error says why.
        req.cond(Resource::User)?;
        req.sort(Resource::User)?;
    }
    let user_query = applies(Resource::User)
        .then(|| -> Result<_, crate::http::ApiError> {
            Ok(UserQuery {
                filter: req.cond(Resource::User)?,
                sort: req.sort(Resource::User)?,
                then_sort: Vec::new(),
                newest_first: NEWEST_FIRST,
                only_active: false,
                page: req.page,
                groups: Some(seen_groups.clone()),
                with_groups: req.projection.includes("groups"),
                with_roles: false,
                member_of: None,
                with_permission: None,
            })
        })
        .transpose()?;
    let group_query = groups_reader
        .as_ref()
        .filter(|_| applies(Resource::Group))
        .map(|_| -> Result<_, crate::http::ApiError> {
            Ok(GroupQuery {
                filter: req.cond(Resource::Group)?,
                sort: req.sort(Resource::Group)?,
                newest_first: NEWEST_FIRST,
                with_members: req.projection.includes("members"),
                page: req.page,
            })
        })
        .transpose()?;
    let page = caller
        .store()
        .search(&SearchQuery {
            users: user_query.as_ref().map(|q| (&users_reader, q)),
            groups: groups_reader.as_ref().zip(group_query.as_ref()),
            newest_first: NEWEST_FIRST,
            page: req.page,
        })
        .await?;
    let (mut found_users, mut groups) = (Vec::new(), Vec::new());
    let mut order = Vec::with_capacity(page.items.len());
    for f in page.items {
        match f {
            Found::User(u) => {
                order.push(true);
                found_users.push(u);
            }
            Found::Group(g) => {
                order.push(false);
                groups.push(g);
            }
        }
    }
    let links = Links::new(&base.0, ROOT);
    let mut users = found_users.into_iter();
    let mut groups = groups.into_iter();
    let resources: Vec<_> = order
        .into_iter()
        .filter_map(|is_user| {
            let mut v = if is_user {
                user_json(&users.next()?, &links)
            } else {
                group_json(&groups.next()?, &links)
            };
            req.projection.apply(&mut v);
            Some(v)
        })
        .collect();
    Ok(respond(
        StatusCode::OK,
        json!({"schemas": [LIST_URN], "totalResults": page.total, "startIndex": page.start_index,
               "itemsPerPage": resources.len(), "Resources": resources}),
        None,
        None,
    ))
}
