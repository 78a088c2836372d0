//! CVAT users: list, `self`, retrieve, partial update, delete.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_core::filter::CompareOp;
use roster_core::policy::UserReader;
use roster_core::schema::{Cond, Field, Scalar};
use roster_core::{capability, CoreError, Permission, PermissionSet, User, UserName};
use roster_store::{Authz, UserQuery};
use serde_json::{json, Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::render::{self, username_char, MAX_NAME};
use super::{answer, query, Body};
use crate::app::AppState;
use crate::http::auth::Caller;
use crate::http::body::JsonBody;
use crate::http::extract::{PathParam, QueryPairs};
use crate::http::{ApiError, Kind};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(me))
        .routes(routes!(retrieve, partial_update, destroy))
}

fn not_found() -> ApiError {
    ApiError::new(Kind::NotFound, "Not found.")
}

fn forbidden(what: &str) -> ApiError {
    ApiError::new(
        Kind::Forbidden,
        format!("You do not have permission to perform this action: {what}"),
    )
}

/// An administrator (manage-organization) sees and changes everyone in full.
fn is_admin(caller: &Caller) -> bool {
    caller.principal().has(Permission::ManageOrganization)
}

fn reader(caller: &Caller) -> UserReader {
    caller.principal().directory_reader()
}

/// Each user in the shape the caller may see: full for administrators and oneself.
async fn shown(caller: &Caller, state: &AppState, users: &[User]) -> Result<Vec<Value>, ApiError> {
    let me = caller.principal().user_seq;
    let admin = is_admin(caller);
    let in_full = |u: &User| admin || u.seq == me;
    let full: Vec<i64> = users.iter().filter(|u| in_full(u)).map(|u| u.seq).collect();
    let authz = if full.is_empty() {
        Default::default()
    } else {
        caller.store().authz_of(&reader(caller), &full).await?
    };
    let none = Authz::default();
    Ok(users
        .iter()
        .map(|u| {
            if in_full(u) {
                render::full(state, u, authz.get(&u.seq).unwrap_or(&none))
            } else {
                render::basic(state, u)
            }
        })
        .collect())
}

/// A link to another page of the same list.
fn page_link(state: &AppState, q: &QueryPairs, page: i64) -> String {
    let mut params: Vec<(String, String)> = vec![("page".into(), page.to_string())];
    params.extend(q.0.iter().filter(|(k, _)| k != "page").cloned());
    let qs: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("{}/api/users?{qs}", state.public_url)
}

#[utoipa::path(get, path = "/users",
    params(
        ("page" = Option<i64>, Query, description = "1-based page"),
        ("page_size" = Option<i64>, Query, description = "Users per page: default 10, at most 100 (larger sizes are cut to 100)"),
        ("username" = Option<String>, Query, description = "Exactly this username (any case)"),
        ("first_name" = Option<String>, Query, description = "Exactly this first name (any case)"),
        ("last_name" = Option<String>, Query, description = "Exactly this last name (any case)"),
        ("is_active" = Option<bool>, Query, description = "True or False"),
        ("search" = Option<String>, Query, description = "Part of the username, first or last name, any case"),
        ("sort" = Option<String>, Query, description = "Comma-separated fields, `-` for descending: username, first_name, last_name, id, is_active"),
        ("filter" = Option<String>, Query, description = "JSON-Logic over username, first_name, last_name, id, is_active: ==, !=, <, <=, >, >=, in, and, or, !, !!"),
        ("org" = Option<String>, Query, description = "An organization's slug: only its members (empty: no organization)"),
        ("org_id" = Option<i64>, Query, description = "An organization's id"),
        ("X-Organization" = Option<String>, Header, description = "An organization's slug"),
    ),
    description = "One page of users: the full shape to administrators (and for oneself), `url, id, username, first_name, last_name` to others. Any signed-in user.",
    responses((status = 200, description = "PaginatedMetaUserList", body = Value)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let (mut query, page, size) = query::users(&q)?;
    query.member_of = query::organization(&state, &headers, &q).await?;
    let found = caller.store().list_users(&reader(&caller), &query).await?;
    if found.items.is_empty() && page > 1 {
        return Err(ApiError::new(Kind::NotFound, "Invalid page."));
    }
    let results = shown(&caller, &state, &found.items).await?;
    let pages = (found.total + size - 1) / size;
    Ok(answer(
        StatusCode::OK,
        &json!({
            "count": found.total,
            "next": (page < pages).then(|| page_link(&state, &q, page + 1)),
            "previous": (page > 1).then(|| page_link(&state, &q, (page - 1).min(pages.max(1)))),
            "results": results,
        }),
    ))
}

/// User number `raw` as the caller may see it, within organization `org` (a group seq).
async fn find(caller: &Caller, raw: &str, org: Option<i64>) -> Result<User, ApiError> {
    let seq: i64 = raw.parse().map_err(|_| not_found())?;
    let query = UserQuery {
        filter: Some(Cond::Cmp(Field::UserSeq, CompareOp::Eq, Scalar::Int(seq))),
        member_of: org,
        page: roster_core::PageRequest {
            start_index: 1,
            count: 1,
        },
        ..Default::default()
    };
    let found = caller.store().list_users(&reader(caller), &query).await?;
    found.items.into_iter().next().ok_or_else(not_found)
}

/// A store error in this dialect's words: a taken username is the `username` field's.
fn store_error(e: roster_store::StoreError) -> ApiError {
    match ApiError::from(e) {
        e if e.kind() == Kind::Conflict => {
            ApiError::invalid_value("A user with that username already exists.")
                .on_field("username")
        }
        e if e.status() == StatusCode::NOT_FOUND => not_found(),
        e => e,
    }
}

async fn one(state: &AppState, caller: &Caller, u: &User) -> Result<Response, ApiError> {
    let v = shown(caller, state, std::slice::from_ref(u)).await?;
    Ok(answer(
        StatusCode::OK,
        &v.into_iter().next().unwrap_or(Value::Null),
    ))
}

#[utoipa::path(get, path = "/users/self",
    description = "The signed-in user, in full.",
    responses((status = 200, description = "MetaUser", body = Value)))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let seq = caller.principal().user_seq.to_string();
    let u = find(&caller, &seq, None).await?;
    one(&state, &caller, &u).await
}

#[utoipa::path(get, path = "/users/{id}",
    params(("id" = i64, Path, description = "The user's id"),
        ("org" = Option<String>, Query, description = "An organization's slug: 404 unless a member"),
        ("org_id" = Option<i64>, Query, description = "An organization's id"),
        ("X-Organization" = Option<String>, Header, description = "An organization's slug")),
    description = "One user: in full to administrators and oneself, the basic shape to others.",
    responses((status = 200, description = "MetaUser", body = Value)))]
pub async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    q: QueryPairs,
    PathParam(raw): PathParam,
) -> Result<Response, ApiError> {
    let org = query::organization(&state, &headers, &q).await?;
    let u = find(&caller, &raw, org).await?;
    one(&state, &caller, &u).await
}

fn text(b: &Map<String, Value>, key: &'static str, max: usize) -> Result<Option<String>, ApiError> {
    match b.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(ApiError::invalid_value(format!(
            "Ensure this field has no more than {max} characters."
        ))
        .on_field(key)),
        Some(_) => Err(ApiError::invalid_value("Not a valid string.").on_field(key)),
    }
}

fn flag(b: &Map<String, Value>, key: &'static str) -> Result<Option<bool>, ApiError> {
    match b.get(key) {
        None => Ok(None),
        Some(Value::Bool(v)) => Ok(Some(*v)),
        Some(_) => Err(ApiError::invalid_value("Must be a valid boolean.").on_field(key)),
    }
}

fn username_of(b: &Map<String, Value>) -> Result<Option<UserName>, ApiError> {
    let Some(name) = text(b, "username", MAX_NAME)? else {
        return Ok(None);
    };
    if name.is_empty() || !name.chars().all(username_char) {
        return Err(ApiError::invalid_value(
            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
        )
        .on_field("username"));
    }
    UserName::parse(&name)
        .map(Some)
        .map_err(|e| ApiError::from(e).on_field("username"))
}

fn email_of(b: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    let Some(e) = text(b, "email", 254)? else {
        return Ok(None);
    };
    let e = e.trim().to_owned();
    let (local, domain) = e.split_once('@').unwrap_or(("", ""));
    if !e.is_empty() && (local.is_empty() || domain.is_empty() || e.contains(char::is_whitespace)) {
        return Err(ApiError::invalid_value("Enter a valid email address.").on_field("email"));
    }
    Ok(Some(e))
}

/// The permissions `groups`, `is_superuser` and `is_staff` ask for, from `now`; each that
/// is given must read back as given (a body that contradicts itself is refused).
fn wanted_permissions(
    b: &Map<String, Value>,
    now: &PermissionSet,
) -> Result<Option<PermissionSet>, ApiError> {
    let groups = match b.get("groups") {
        None => None,
        Some(Value::Array(names)) if names.len() <= 8 => {
            let mut best: Option<(usize, &'static str)> = None;
            for n in names {
                let n = n.as_str().ok_or_else(|| {
                    ApiError::invalid_value("Not a valid string.").on_field("groups")
                })?;
                let rank = capability::CVAT_GROUPS
                    .iter()
                    .position(|(g, _)| *g == n)
                    .ok_or_else(|| {
                        ApiError::invalid_value(format!(
                            "{:?} is not a group Roster keeps; use admin, business or user",
                            n.chars().take(32).collect::<String>()
                        ))
                        .on_field("groups")
                    })?;
                if best.is_none_or(|(r, _)| rank < r) {
                    best = Some((rank, capability::CVAT_GROUPS[rank].0));
                }
            }
            Some(best.map_or("user", |(_, g)| g))
        }
        Some(_) => {
            return Err(
                ApiError::invalid_value("Expected a list of at most 8 group names.")
                    .on_field("groups"),
            )
        }
    };
    let superuser = flag(b, "is_superuser")?;
    let staff = flag(b, "is_staff")?;
    if groups.is_none() && superuser.is_none() && staff.is_none() {
        return Ok(None);
    }
    let mut want = now.clone();
    let set = |want: &mut PermissionSet, p: Permission, on: bool| {
        if on {
            want.insert(p);
        } else {
            want.remove(&p);
        }
    };
    if let Some(g) = groups {
        let perms = capability::cvat_group_permissions(g).unwrap_or(&[]);
        for p in Permission::ALL {
            set(&mut want, p, perms.contains(&p));
        }
    }
    if let Some(s) = superuser {
        if s || capability::is_org_admin(&want) {
            for p in capability::ORG_ADMIN_PERMISSIONS {
                set(&mut want, p, s);
            }
        }
    }
    if let Some(s) = staff {
        set(&mut want, Permission::ManageOrganization, s);
    }
    let consistent = groups.is_none_or(|g| capability::cvat_group(&want) == g)
        && superuser.is_none_or(|s| capability::is_org_admin(&want) == s)
        && staff.is_none_or(|s| want.contains(&Permission::ManageOrganization) == s);
    if !consistent {
        return Err(ApiError::invalid_value(
            "groups, is_superuser and is_staff contradict each other (admin is is_superuser, which is also is_staff)",
        )
        .on_field("non_field_errors"));
    }
    Ok(Some(want))
}

const KNOWN: [&str; 13] = [
    "username",
    "first_name",
    "last_name",
    "email",
    "groups",
    "is_staff",
    "is_superuser",
    "is_active",
    "cvat_usage_reason",
    "primary_role",
    "planned_activities",
    "data_types",
    "discovery_source",
];

#[utoipa::path(patch, path = "/users/{id}",
    params(("id" = i64, Path, description = "The user's id")),
    request_body(content = Value, description = "PatchedUserRequest: any of username, first_name, last_name, email, groups (admin, business, user), is_staff, is_superuser, is_active; an empty body is {}"),
    description = "Changes the given fields in one transaction. Administrators change anyone; a user changes only their own first_name, last_name and email.",
    responses((status = 200, description = "MetaUser, as it is now", body = Value)))]
pub async fn partial_update(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(raw): PathParam,
    JsonBody(body, _): Body,
) -> Result<Response, ApiError> {
    let b = body.as_object().cloned().unwrap_or_default();
    if let Some(k) = b.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::invalid_value(format!(
            "unknown field {:?}",
            k.chars().take(64).collect::<String>()
        ))
        .on_field("non_field_errors"));
    }
    let target = find(&caller, &raw, None).await?;
    let p = caller.principal();
    let admin = is_admin(&caller);
    let own = target.seq == p.user_seq;
    if !admin && !own {
        return Err(forbidden("only administrators change other users"));
    }
    if !admin {
        if let Some(k) = [
            "username",
            "groups",
            "is_staff",
            "is_superuser",
            "is_active",
        ]
        .iter()
        .find(|k| b.contains_key(**k))
        {
            return Err(forbidden(&format!("{k} is an administrator's to change")));
        }
    }
    let first = text(&b, "first_name", MAX_NAME)?;
    let last = text(&b, "last_name", MAX_NAME)?;
    let email = email_of(&b)?;
    let name = username_of(&b)?;
    let active = flag(&b, "is_active")?;
    let now = caller
        .store()
        .authz_of(&reader(&caller), &[target.seq])
        .await?
        .remove(&target.seq)
        .unwrap_or_default();
    let perms = wanted_permissions(&b, &now.permissions)?;
    let changes: Option<Vec<(Permission, bool)>> = perms.map(|want| {
        Permission::ALL
            .into_iter()
            .filter(|p| want.contains(p) != now.permissions.contains(p))
            .map(|p| (p, want.contains(&p)))
            .collect()
    });
    let edit = move |u: &mut User| -> Result<(), CoreError> {
        if let Some(f) = &first {
            u.given_name = (!f.is_empty()).then(|| f.clone());
        }
        if let Some(l) = &last {
            u.family_name = (!l.is_empty()).then(|| l.clone());
        }
        if let Some(e) = &email {
            u.set_primary_email(e);
        }
        if let Some(n) = &name {
            u.user_name = n.clone();
        }
        if let Some(a) = active {
            u.active = a;
            u.active_assigned = true;
        }
        u.set_permissions.clone_from(&changes);
        Ok(())
    };
    let editor = if admin {
        p.user_admin()?.editor()
    } else {
        p.self_service().contact_editor()
    };
    caller
        .store()
        .update_user(&editor, &caller.ctx(), target.id, None, &edit)
        .await
        .map_err(store_error)?;
    let u = find(&caller, &raw, None).await?;
    one(&state, &caller, &u).await
}

/// CVAT keeps one address: it becomes the primary one (the others stay, not primary);
#[utoipa::path(delete, path = "/users/{id}",
    params(("id" = i64, Path, description = "The user's id")),
    description = "Deletes the user for good (their sessions, tokens and memberships with them). Administrators only.",
    responses((status = 204, description = "Deleted")))]
pub async fn destroy(caller: Caller, PathParam(raw): PathParam) -> Result<Response, ApiError> {
    let target = find(&caller, &raw, None).await?;
    let Ok(admin) = caller.principal().user_admin() else {
        return Err(forbidden("only administrators delete users"));
    };
    caller
        .store()
        .delete_user(&admin, &caller.ctx(), target.id, None)
        .await
        .map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
