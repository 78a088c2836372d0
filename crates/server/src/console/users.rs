//! Administrators' user pages (manage-organization): the list (search, filters, sort,
//! paging through the store's paged lists), creation, and one user's page with every change
//! an administrator makes: profile and address, activation, deletion, permissions and
//! capabilities, mails, API tokens, TOTP reset.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use roster_core::filter::CompareOp;
use roster_core::policy::{TokenAdmin, UserAdmin};
use roster_core::schema::{Cond, Field, Scalar, Sort};
use roster_core::user::fold;
use roster_core::{capability, secret, NewUser, PageRequest, Permission, User, UserName};
use roster_store::{LinkPurpose, UserQuery};
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{page_number, param, see_other, unconfirmed, when, when_opt, Form, Me, PAGE_SIZE};
use crate::app::AppState;
use crate::http::extract::{PathParam, QueryPairs};
use crate::http::ApiError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(new_form, create))
        .routes(routes!(show))
        .routes(routes!(profile))
        .routes(routes!(activation))
        .routes(routes!(permissions))
        .routes(routes!(roles))
        .routes(routes!(capabilities))
        .routes(routes!(mail))
        .routes(routes!(issue_token))
        .routes(routes!(revoke_token))
        .routes(routes!(reset_totp))
        .routes(routes!(oauth_client))
        .routes(routes!(delete_form, delete))
}

fn admin(me: &Me) -> Result<UserAdmin, ApiError> {
    Ok(me.caller.principal().user_admin()?)
}

pub(super) fn user_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| {
        ApiError::not_found(roster_core::Entity::UserNamed(
            raw.chars().take(64).collect(),
        ))
    })
}

fn flash(m: Option<&str>) -> Option<&'static str> {
    Some(match m? {
        "created" => "The user was created.",
        "saved" => "The profile was saved.",
        "activated" => "The user is active: they can sign in.",
        "deactivated" => "The user is deactivated: their sessions ended and no credential of theirs works.",
        "permissions" => "The permissions were saved.",
        "roles" => "The roles were saved.",
        "capabilities" => "The capabilities were saved.",
        "mailed" => "The mail is on its way.",
        "revoked" => "The token was revoked.",
        "totp-reset" => "Two-factor sign-in was removed: the user signs in with their password alone until they enrol again.",
        "deleted" => "The user was deleted.",
        _ => return None,
    })
}

/// The list's filter: the search (userName, given and family name, email: substrings) and
/// the active flag.
fn list_filter(q: &QueryPairs) -> Option<Cond> {
    let mut filter: Option<Cond> = None;
    let and = |a: Option<Cond>, b: Cond| match a {
        Some(a) => Cond::And(Box::new(a), Box::new(b)),
        None => b,
    };
    if let Some(s) = param(q, "q") {
        let needle = || Scalar::Text(fold(s));
        let co = |f| Cond::Cmp(f, CompareOp::Co, needle());
        let email = Cond::Any(
            roster_core::schema::Collection::Emails,
            Some(Box::new(co(Field::EmailValue))),
        );
        let any = [co(Field::GivenName), co(Field::FamilyName), email]
            .into_iter()
            .fold(co(Field::UserName), |a, b| {
                Cond::Or(Box::new(a), Box::new(b))
            });
        filter = Some(and(filter, any));
    }
    match param(q, "active") {
        Some("true") => {
            filter = Some(and(
                filter,
                Cond::Cmp(Field::Active, CompareOp::Eq, Scalar::Bool(true)),
            ))
        }
        Some("false") => {
            filter = Some(and(
                filter,
                Cond::Cmp(Field::Active, CompareOp::Eq, Scalar::Bool(false)),
            ))
        }
        _ => {}
    }
    filter
}

/// The sort keys the list offers (`-` first: descending).
const SORTS: &[(&str, Field)] = &[
    ("user_name", Field::UserName),
    ("family_name", Field::FamilyName),
    ("created", Field::UserCreated),
    ("modified", Field::UserLastModified),
];

fn list_sort(q: &QueryPairs) -> Option<Sort> {
    let raw = param(q, "sort")?;
    let (descending, key) = match raw.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, raw),
    };
    SORTS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, field)| Sort {
            field: *field,
            descending,
        })
}

fn summary(u: &User) -> Value {
    json!({
        "id": u.id.to_string(),
        "user_name": u.user_name.as_str(),
        "name": super::full_name(u),
        "email": u.primary_email(),
        "active": u.active,
        "created": when(u.meta.created),
    })
}

/// Links to the previous and next page, keeping the other parameters.
pub(super) fn pager(q: &QueryPairs, base: &str, page: i64, total: i64) -> Value {
    let last = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let link = |p: i64| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &q.0 {
            if k != "page" && k != "m" {
                s.append_pair(k, v);
            }
        }
        s.append_pair("page", &p.to_string());
        format!("{base}?{}", s.finish())
    };
    json!({
        "page": page,
        "last": last,
        "total": total,
        "prev": (page > 1).then(|| link(page - 1)),
        "next": (page < last).then(|| link(page + 1)),
    })
}

#[utoipa::path(get, path = "/users",
    params(("q" = Option<String>, Query, description = "Substring of the userName, a name or an email address"),
           ("active" = Option<String>, Query, description = "true or false"),
           ("permission" = Option<String>, Query, description = "manage-organization or manage-groups"),
           ("sort" = Option<String>, Query, description = "user_name, family_name, created, modified; a leading - for descending"),
           ("page" = Option<i64>, Query, description = "1-based page of 50")),
    description = "The user list (manage-organization).",
    responses((status = 200, description = "The page", content_type = "text/html", body = String)))]
async fn list(me: Me, q: QueryPairs) -> Result<Response, ApiError> {
    let admin = admin(&me)?;
    let page = page_number(&q);
    let query = UserQuery {
        filter: list_filter(&q),
        sort: list_sort(&q),
        with_permission: param(&q, "permission").and_then(|p| p.parse().ok()),
        page: PageRequest {
            start_index: (page - 1) * PAGE_SIZE + 1,
            count: PAGE_SIZE,
        },
        ..UserQuery::default()
    };
    let found = me
        .caller
        .store()
        .list_users(&admin.reader(), &query)
        .await?;
    let users: Vec<Value> = found.items.iter().map(summary).collect();
    Ok(me.page(
        "users",
        "users.html",
        json!({
            "users": users,
            "q": param(&q, "q"),
            "active": param(&q, "active"),
            "permission": param(&q, "permission"),
            "sort": param(&q, "sort"),
            "permissions": Permission::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            "pager": pager(&q, "/console/users", page, found.total),
            "message": flash(q.get("m")),
        }),
    ))
}

#[utoipa::path(get, path = "/users/new",
    description = "The form that creates a user (manage-organization).",
    responses((status = 200, description = "The form", content_type = "text/html", body = String)))]
async fn new_form(me: Me) -> Result<Response, ApiError> {
    admin(&me)?;
    Ok(me.page("users", "user-new.html", json!({"form": {"active": true}})))
}

/// Why a typed address is not one. The console asks for name@domain without spaces (a
/// typing mistake caught at the field); the APIs take what SCIM allows.
fn address_problem(v: &str) -> Option<String> {
    let ok = v.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@')
    }) && !v.chars().any(char::is_whitespace);
    (!ok).then(|| format!("{v:?} is not an email address (name@domain)."))
}

#[utoipa::path(post, path = "/users/new",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`user_name`, `given_name`, `family_name`, `email`, `password` (optional), `active`, `csrf`"),
    description = "Creates a user (manage-organization).",
    responses((status = 303, description = "Created: the user's page"),
              (status = 400, description = "The form again, with what was wrong", content_type = "text/html", body = String)))]
async fn create(State(state): State<AppState>, me: Me, form: Form) -> Result<Response, ApiError> {
    let admin = admin(&me)?;
    let entered = json!({
        "user_name": form.text("user_name"),
        "given_name": form.text("given_name"),
        "family_name": form.text("family_name"),
        "email": form.text("email"),
        "active": form.get("active").is_some(),
    });
    let again = |field: &str, error: String| {
        me.page_status(
            StatusCode::BAD_REQUEST,
            "users",
            "user-new.html",
            json!({"form": entered, "errors": {field: error}}),
        )
    };
    let name = match UserName::parse(form.text("user_name").unwrap_or("")) {
        Ok(n) => n,
        Err(e) => return Ok(again("user_name", e.to_string())),
    };
    let mut new = NewUser::new(name.clone());
    new.given_name = form.text("given_name").map(str::to_owned);
    new.family_name = form.text("family_name").map(str::to_owned);
    new.active = form.get("active").is_some();
    new.active_assigned = true;
    if let Some(e) = form.text("email") {
        if let Some(problem) = address_problem(e) {
            return Ok(again("email", problem));
        }
        let email = roster_core::Email {
            value: e.to_owned(),
            kind: Some("work".into()),
            primary: true,
            display: None,
        };
        if let Err(err) = email.validate() {
            return Ok(again("email", err.to_string()));
        }
        new.emails = vec![email];
    }
    if let Some(p) = form.get("password").filter(|p| !p.is_empty()) {
        if let Err(e) = state
            .passwords
            .policy()
            .check(p, name.as_str(), &new.emails)
        {
            return Ok(again("password", e.to_string()));
        }
        new.password_hash = Some(state.passwords.hash(p.to_owned()).await?);
    }
    match me
        .caller
        .store()
        .create_user(&admin, &me.caller.ctx(), &new)
        .await
    {
        Ok(u) => Ok(see_other(&format!("/console/users/{}?m=created", u.id))),
        Err(e) => {
            let e = ApiError::from(e);
            if e.status().is_client_error() {
                Ok(again("user_name", e.detail().to_owned()))
            } else {
                Err(e)
            }
        }
    }
}

/// The user's page context (what [`show`] renders, and forms shown again with errors).
async fn user_page(
    state: &AppState,
    me: &Me,
    id: Uuid,
    extra: Value,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let admin = admin(me)?;
    let store = me.caller.store();
    let p = me.caller.principal();
    let reader = admin.reader();
    let Some(u) = store
        .get_user_with_groups(&reader, &p.group_reader(), id)
        .await?
    else {
        return Err(ApiError::not_found(roster_core::Entity::User(id)));
    };
    let access = store.access(&reader, id).await?;
    let tokens = store
        .list_tokens(&admin.credential_admin(), &u.user_name)
        .await?;
    let totp = store.totp(u.seq).await?;
    let held: Vec<i64> = store
        .get_user_with_roles(&reader, id)
        .await?
        .and_then(|w| w.roles)
        .unwrap_or_default()
        .iter()
        .map(|r| r.id)
        .collect();
    let roles = role_choices(me, &held).await?;
    let credentials = super::credentials::rows(state, me, &admin.credential_admin(), id).await?;
    let perms = access
        .as_ref()
        .map(|a| a.permissions.clone())
        .unwrap_or_default();
    let caps: Vec<String> = access
        .as_ref()
        .map(|a| a.capabilities.clone())
        .unwrap_or_default();
    let ctx = json!({
        "user": {
            "id": u.id.to_string(),
            "user_name": u.user_name.as_str(),
            "display_name": u.display_name,
            "given_name": u.given_name,
            "family_name": u.family_name,
            "email": u.primary_email(),
            "other_emails": other_emails(&u),
            "email_verified": u.email_verified(),
            "active": u.active,
            "created": when(u.meta.created),
            "modified": when(u.meta.last_modified),
            "last_login": access.as_ref().and_then(|a| when_opt(a.current_login_at)),
            "password_changed": access.as_ref().and_then(|a| when_opt(a.password_changed_at)),
            "is_self": u.id == p.user_id,
        },
        "groups": u.groups.iter().flatten().map(|g| json!({"id": g.id.to_string(), "name": g.display_name})).collect::<Vec<_>>(),
        "permissions": Permission::ALL.iter().map(|x| json!({"name": x.as_str(), "granted": perms.contains(x)})).collect::<Vec<_>>(),
        "capabilities": capability::NAMES.iter().map(|c| json!({"name": c, "granted": caps.iter().any(|h| h == c)})).collect::<Vec<_>>(),
        "may_capabilities": p.capability_admin().is_ok(),
        "roles": roles,
        "tokens": token_rows(&tokens),
        "credentials": credentials,
        "token_base": format!("/console/users/{id}"),
        "totp": totp_state(totp.as_ref()),
    });
    let ctx = super::merge(ctx, extra);
    Ok(me.page_status(status, "users", "user.html", ctx))
}

/// The addresses beside the primary one.
fn other_emails(u: &User) -> Vec<&str> {
    let primary = u.primary_email();
    u.emails
        .iter()
        .map(|e| e.value.as_str())
        .filter(|v| Some(*v) != primary)
        .collect()
}

/// The roles a user may be given: the first page of roles, and those the user holds beyond
/// it (so saving the form never drops a role it did not show).
async fn role_choices(me: &Me, held: &[i64]) -> Result<Vec<Value>, ApiError> {
    let store = me.caller.store();
    let mut roles = store
        .list_roles(&PageRequest {
            start_index: 1,
            count: roster_core::role::MAX_ROLES_PER_USER as i64,
        })
        .await?
        .items;
    for id in held {
        if !roles.iter().any(|r| r.id == *id) {
            if let Some(r) = store.get_role(*id).await? {
                roles.push(r);
            }
        }
    }
    Ok(roles
        .iter()
        .map(|r| json!({"id": r.id, "name": r.role.name, "admin": r.role.admin, "held": held.contains(&r.id)}))
        .collect())
}

pub(super) fn token_rows(tokens: &[roster_store::TokenInfo]) -> Vec<Value> {
    tokens
        .iter()
        .filter(|t| t.revoked_at.is_none())
        .map(|t| {
            json!({
                "name": t.name,
                "public_id": t.public_id,
                "created": when(t.created_at),
                "last_used": when_opt(t.last_used_at),
                "expires": when_opt(t.expires_at),
            })
        })
        .collect()
}

pub(super) fn totp_state(t: Option<&roster_store::TotpRecord>) -> Value {
    match t {
        Some(t) if t.enrolled_at.is_some() => json!({
            "enrolled": true,
            "since": when_opt(t.enrolled_at),
            "recovery_left": t.recovery_left,
        }),
        _ => json!({"enrolled": false}),
    }
}

#[utoipa::path(get, path = "/users/{id}",
    params(("id" = String, Path, description = "The user's id")),
    description = "One user: profile, groups, permissions, capabilities, tokens, TOTP (manage-organization).",
    responses((status = 200, description = "The page", content_type = "text/html", body = String)))]
async fn show(
    State(state): State<AppState>,
    me: Me,
    PathParam(raw): PathParam,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let id = user_id(&raw)?;
    user_page(
        &state,
        &me,
        id,
        json!({"message": flash(q.get("m"))}),
        StatusCode::OK,
    )
    .await
}

#[utoipa::path(post, path = "/users/{id}/profile",
    params(("id" = String, Path, description = "The user's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`user_name`, `display_name`, `given_name`, `family_name`, `email`, `csrf`"),
    description = "Saves the profile (manage-organization).",
    responses((status = 303, description = "Saved"), (status = 400, description = "The page again, with what was wrong", content_type = "text/html", body = String)))]
async fn profile(
    State(state): State<AppState>,
    me: Me,
    PathParam(raw): PathParam,
    form: Form,
) -> Result<Response, ApiError> {
    let id = user_id(&raw)?;
    let admin = admin(&me)?;
    let again = |field: &str, error: &str| {
        let errors = json!({"errors": {field: error}});
        user_page(&state, &me, id, errors, StatusCode::BAD_REQUEST)
    };
    let name = match UserName::parse(form.text("user_name").unwrap_or("")) {
        Ok(n) => n,
        Err(e) => return again("user_name", &e.to_string()).await,
    };
    let display = form.text("display_name").map(str::to_owned);
    let given = form.text("given_name").map(str::to_owned);
    let family = form.text("family_name").map(str::to_owned);
    let email = form.text("email").map(str::to_owned);
    let others: Vec<String> = form
        .get("other_emails")
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let typed = email.iter().map(|e| ("email", e));
    let mut typed = typed.chain(others.iter().map(|e| ("other_emails", e)));
    if let Some((field, error)) = typed.find_map(|(f, v)| address_problem(v).map(|m| (f, m))) {
        return again(field, &error).await;
    }
    let edit = move |u: &mut User| {
        u.user_name = name.clone();
        u.display_name = display.clone();
        u.given_name = given.clone();
        u.family_name = family.clone();
        u.set_primary_email(email.as_deref().unwrap_or(""));
        u.set_other_emails(&others.iter().map(String::as_str).collect::<Vec<_>>());
        u.emails.iter().try_for_each(roster_core::Email::validate)
    };
    let saved = me
        .caller
        .store()
        .update_user(&admin.editor(), &me.caller.ctx(), id, None, &edit)
        .await;
    match saved.map_err(ApiError::from) {
        Ok(_) => Ok(see_other(&format!("/console/users/{id}?m=saved"))),
        Err(e) if e.status() == StatusCode::CONFLICT => again("user_name", e.detail()).await,
        Err(e) if e.status().is_client_error() && e.status() != StatusCode::NOT_FOUND => {
            again("profile", e.detail()).await
        }
        Err(e) => Err(e),
    }
}

#[utoipa::path(post, path = "/users/{id}/active",
    params(("id" = String, Path, description = "The user's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`active` (true or false), `csrf`"),
    description = "Activates or deactivates the user (deactivation ends their sessions; manage-organization).",
    responses((status = 303, description = "Done")))]
async fn activation(me: Me, PathParam(raw): PathParam, form: Form) -> Result<Response, ApiError> {
    let id = user_id(&raw)?;
    let admin = admin(&me)?;
    let active = match form.get("active") {
        Some("true") => true,
        Some("false") => false,
        _ => return Err(ApiError::invalid_value("active must be true or false")),
    };
    let edit = move |u: &mut User| {
        u.active = active;
        u.active_assigned = true;
        Ok(())
    };
    me.caller
        .store()
        .update_user(&admin.editor(), &me.caller.ctx(), id, None, &edit)
        .await?;
    let m = if active { "activated" } else { "deactivated" };
    Ok(see_other(&format!("/console/users/{id}?m={m}")))
}

#[utoipa::path(post, path = "/users/{id}/permissions",
    params(("id" = String, Path, description = "The user's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`permission` once per permission to hold (the others are revoked), `csrf`"),
    description = "Sets the user's permissions in one change (manage-organization).",
    responses((status = 303, description = "Saved")))]
async fn permissions(me: Me, PathParam(raw): PathParam, form: Form) -> Result<Response, ApiError> {
    let id = user_id(&raw)?;
    let admin = admin(&me)?;
    let mut wanted = Vec::new();
    for name in form.all("permission") {
        wanted.push(
            name.parse::<Permission>()
                .map_err(ApiError::invalid_value)?,
        );
    }
    let set: Vec<(Permission, bool)> = Permission::ALL
        .iter()
        .map(|p| (*p, wanted.contains(p)))
        .collect();
    let edit = move |u: &mut User| {
        u.set_permissions = Some(set.clone());
        Ok(())
    };
    me.caller
        .store()
        .update_user(&admin.editor(), &me.caller.ctx(), id, None, &edit)
        .await?;
    Ok(see_other(&format!("/console/users/{id}?m=permissions")))
}

#[utoipa::path(post, path = "/users/{id}/roles",
    params(("id" = String, Path, description = "The user's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`role` (a role's id) once per role to hold (the others are taken away), `csrf`"),
    description = "Sets the roles the user holds (manage-organization).",
    responses((status = 303, description = "Saved")))]
async fn roles(me: Me, PathParam(raw): PathParam, form: Form) -> Result<Response, ApiError> {
    let id = user_id(&raw)?;
    let admin = admin(&me)?;
    let mut wanted: Vec<i64> = Vec::new();
    for r in form.all("role") {
        let r = r
            .parse::<i64>()
            .map_err(|_| ApiError::invalid_value("a role is named by its id"))?;
        if !wanted.contains(&r) {
            wanted.push(r);
        }
    }
    // The store refuses more than MAX_ROLES_PER_USER and unknown roles, changing nothing.
    let edit = move |u: &mut User| {
        u.set_roles = Some(wanted.clone());
        Ok(())
    };
    me.caller
        .store()
        .update_user(&admin.editor(), &me.caller.ctx(), id, None, &edit)
        .await?;
    Ok(see_other(&format!("/console/users/{id}?m=roles")))
}

#[utoipa::path(post, path = "/users/{id}/capabilities",
    params(("id" = String, Path, description = "The user's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`capability` once per capability to hold, `csrf`"),
    description = "Sets the user's capabilities (SailPoint's; ORG_ADMIN needs both permissions of the caller).",
    responses((status = 303, description = "Saved")))]
async fn capabilities(me: Me, PathParam(raw): PathParam, form: Form) -> Result<Response, ApiError> {
    let id = user_id(&raw)?;
    let by = me.caller.principal().capability_admin()?;
    let mut wanted: Vec<String> = Vec::new();
    for name in form.all("capability") {
        wanted.push(capability::parse(name)?.to_owned());
    }
    let edit = move |_: &[String]| Ok(wanted.clone());
    me.caller
        .store()
        .set_capabilities(&by, &me.caller.ctx(), id, &edit)
        .await?;
    Ok(see_other(&format!("/console/users/{id}?m=capabilities")))
}

#[utoipa::path(post, path = "/users/{id}/mail",
    params(("id" = String, Path, description = "The user's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`kind`: password-reset or email-verification; `csrf`"),
    description = "Mails the user a password-reset or a verification link (manage-organization).",
    responses((status = 303, description = "Queued")))]
async fn mail(
    State(state): State<AppState>,
    me: Me,
    PathParam(raw): PathParam,
    form: Form,
) -> Result<Response, ApiError> {
    let id = user_id(&raw)?;
    let by = admin(&me)?.account_mailer();
    let purpose = match form.get("kind") {
        Some("password-reset") => LinkPurpose::PasswordReset,
        Some("email-verification") => LinkPurpose::EmailVerification,
        _ => {
            return Err(ApiError::invalid_value(
                "kind must be password-reset or email-verification",
            ))
        }
    };
    state
        .mail
        .send_link(&state, &by, &me.caller.ctx(), id, purpose, None)
        .await?;
    Ok(see_other(&format!("/console/users/{id}?m=mailed")))
}

/// Issues an API token of `user` (named, optionally expiring in `days`) and shows it once.
pub(super) async fn issue(
    me: &Me,
    by: &TokenAdmin,
    user: &UserName,
    form: &Form,
    back: &str,
) -> Result<Response, ApiError> {
    let name = form.text("name");
    if let Some(n) = name {
        if n.chars().count() > 100 {
            return Err(ApiError::invalid_value(
                "a token's name has at most 100 characters",
            ));
        }
    }
    let days = match form.text("expires_days") {
        None => None,
        Some(d) => Some(
            d.parse::<i64>()
                .ok()
                .filter(|d| (1..=3650).contains(d))
                .ok_or_else(|| {
                    ApiError::invalid_value("expires in: 1 to 3650 days, or blank for never")
                })?,
        ),
    };
    let token = secret::generate_token();
    let expires = days.map(|d| roster_core::now_micros().saturating_add(d * 86_400_000_000));
    me.caller
        .store()
        .create_token(by, &me.caller.ctx(), user, name, &token, expires)
        .await?;
    Ok(me.page(
        "",
        "secret.html",
        json!({
            "title": "New API token",
            "intro": format!("The token of {} is shown once: copy it now. Use it as Authorization: Bearer <token> with any API.", user.as_str()),
            "secret": token.secret,
            "back": back,
            "back_label": "Done",
        }),
    ))
}

/// What revoking the token `name` asks first.
pub(super) fn revoke_question(name: &str) -> (String, String, &'static str) {
    (
        format!("Revoke the token {name}?"),
        "Every client using it is refused from the next request on. A revoked token cannot be used again.".to_owned(),
        "Revoke the token",
    )
}

/// The user's page a form about `id` came from, and its userName.
async fn target(me: &Me, admin: &UserAdmin, id: Uuid) -> Result<User, ApiError> {
    me.caller
        .store()
        .get_user(&admin.reader(), id)
        .await?
        .ok_or_else(|| ApiError::not_found(roster_core::Entity::User(id)))
}

#[utoipa::path(post, path = "/users/{id}/tokens",
    params(("id" = String, Path, description = "The user's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`name`, `expires_days` (optional), `csrf`"),
    description = "Issues an API token for the user, shown once (manage-organization).",
    responses((status = 200, description = "The token, shown once", content_type = "text/html", body = String)))]
async fn issue_token(me: Me, PathParam(raw): PathParam, form: Form) -> Result<Response, ApiError> {
    let id = user_id(&raw)?;
    let admin = admin(&me)?;
    let u = target(&me, &admin, id).await?;
    issue(
        &me,
        &admin.credential_admin(),
        &u.user_name,
        &form,
        &format!("/console/users/{id}"),
    )
    .await
}

#[utoipa::path(post, path = "/users/{id}/tokens/revoke",
    params(("id" = String, Path, description = "The user's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`name` of the token, `csrf`"),
    description = "Revokes the user's token of that name (manage-organization).",
    responses((status = 303, description = "Revoked")))]
async fn revoke_token(me: Me, PathParam(raw): PathParam, form: Form) -> Result<Response, ApiError> {
    let id = user_id(&raw)?;
    let admin = admin(&me)?;
    let u = target(&me, &admin, id).await?;
    let name = form
        .text("name")
        .ok_or_else(|| ApiError::invalid_value("which token: its name is missing"))?;
    let back = format!("/console/users/{id}");
    if let Some(page) = unconfirmed(
        &me,
        &form,
        &format!("{back}/tokens/revoke"),
        revoke_question(name),
        &back,
    ) {
        return Ok(page);
    }
    me.caller
        .store()
        .revoke_tokens(
            &admin.credential_admin(),
            &me.caller.ctx(),
            &u.user_name,
            Some(name),
        )
        .await?;
    Ok(see_other(&format!("/console/users/{id}?m=revoked")))
}

#[utoipa::path(post, path = "/users/{id}/totp-reset",
    params(("id" = String, Path, description = "The user's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`"),
    description = "Removes the user's TOTP and recovery codes (a lost phone; manage-organization).",
    responses((status = 303, description = "Removed")))]
async fn reset_totp(me: Me, PathParam(raw): PathParam, form: Form) -> Result<Response, ApiError> {
    let id = user_id(&raw)?;
    let admin = admin(&me)?;
    let u = target(&me, &admin, id).await?;
    let back = format!("/console/users/{id}");
    let ask = (
        format!("Remove the TOTP of {}?", u.user_name.as_str()),
        "Their authenticator app and recovery codes stop working; they sign in with their password alone until they enrol again.".to_owned(),
        "Remove their TOTP",
    );
    if let Some(page) = unconfirmed(&me, &form, &format!("{back}/totp-reset"), ask, &back) {
        return Ok(page);
    }
    me.caller
        .store()
        .reset_totp(&admin.credential_admin(), &me.caller.ctx(), id)
        .await?;
    Ok(see_other(&format!("/console/users/{id}?m=totp-reset")))
}

#[utoipa::path(get, path = "/users/{id}/delete",
    params(("id" = String, Path, description = "The user's id")),
    description = "Asks to confirm the deletion (manage-organization).",
    responses((status = 200, description = "The confirmation", content_type = "text/html", body = String)))]
async fn delete_form(me: Me, PathParam(raw): PathParam) -> Result<Response, ApiError> {
    let id = user_id(&raw)?;
    let admin = admin(&me)?;
    let u = target(&me, &admin, id).await?;
    Ok(me.page(
        "users",
        "confirm.html",
        json!({
            "title": format!("Delete {}?", u.user_name.as_str()),
            "text": "The user, their memberships, tokens, OAuth client, sessions and credentials are deleted for good. The audit trail keeps what they did.",
            "action": format!("/console/users/{id}/delete"),
            "button": "Delete the user",
            "back": format!("/console/users/{id}"),
        }),
    ))
}

#[utoipa::path(post, path = "/users/{id}/delete",
    params(("id" = String, Path, description = "The user's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`"),
    description = "Deletes the user for good (manage-organization).",
    responses((status = 303, description = "Deleted: the list")))]
async fn delete(me: Me, PathParam(raw): PathParam, _form: Form) -> Result<Response, ApiError> {
    let id = user_id(&raw)?;
    let admin = admin(&me)?;
    me.caller
        .store()
        .delete_user(&admin, &me.caller.ctx(), id, None)
        .await?;
    Ok(see_other("/console/users?m=deleted"))
}

/// Shows a user's OAuth client (creating it on first use), or gives it a new secret.
pub(super) async fn client_page(
    state: &AppState,
    me: &Me,
    by: &TokenAdmin,
    user: &UserName,
    form: &Form,
    back: &str,
) -> Result<Response, ApiError> {
    let rotate = match form.get("action") {
        Some("show") => false,
        Some("rotate") => {
            let ask = (
                format!("A new client secret for {}?", user.as_str()),
                "The current secret stops working at once, and the client's refresh tokens end."
                    .to_owned(),
                "Rotate the secret",
            );
            if let Some(page) = unconfirmed(me, form, &format!("{back}/oauth-client"), ask, back) {
                return Ok(page);
            }
            true
        }
        _ => return Err(ApiError::invalid_value("action must be show or rotate")),
    };
    let (id, secret) = crate::tokens::client_of(state, by, &me.caller.ctx(), user, rotate).await?;
    let intro = if rotate {
        format!("{} has a new client secret: the old one stopped working, and the client's refresh tokens ended. Client id: {id}", user.as_str())
    } else {
        format!("The OAuth client of {} (client credentials and password grants at /oauth/token). Client id: {id}", user.as_str())
    };
    Ok(me.page(
        "",
        "secret.html",
        json!({"title": "OAuth client", "intro": intro, "secret": secret, "back": back, "back_label": "Done"}),
    ))
}

#[utoipa::path(post, path = "/users/{id}/oauth-client",
    params(("id" = String, Path, description = "The user's id")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`action`: show or rotate; `csrf`"),
    description = "Shows the user's OAuth client and secret, or rotates the secret (manage-organization).",
    responses((status = 200, description = "The client id and secret", content_type = "text/html", body = String)))]
async fn oauth_client(
    State(state): State<AppState>,
    me: Me,
    PathParam(raw): PathParam,
    form: Form,
) -> Result<Response, ApiError> {
    let id = user_id(&raw)?;
    let admin = admin(&me)?;
    let u = target(&me, &admin, id).await?;
    client_page(
        &state,
        &me,
        &admin.credential_admin(),
        &u.user_name,
        &form,
        &format!("/console/users/{id}"),
    )
    .await
}
