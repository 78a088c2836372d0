//! Contabo users: create, list, get, update, delete, and the two mail calls
//! (`resend-email-verification`, `reset-password`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use roster_core::filter::CompareOp;
use roster_core::role::OrgRole;
use roster_core::schema::{Collection, Cond, Field, Scalar, Sort};
use roster_core::{CoreError, Email, NewUser, PageRequest, User, UserName};
use roster_store::{LinkPurpose, UserQuery};
use serde_json::{json, Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::missing_as;
use super::render::{self, LOCALES};
use super::{found, list_links, page_params, Body};
use crate::app::AppState;
use crate::http::auth::Caller;
use crate::http::body::{json_response, JsonBody};
use crate::http::error::Kind;
use crate::http::extract::{PathParam, QueryPairs};
use crate::http::ApiError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get, update, delete))
        .routes(routes!(resend_email_verification))
        .routes(routes!(reset_password))
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        Kind::NotFound,
        format!("Entry User not found by userId {id}"),
    )
}

fn user_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| not_found(raw))
}

fn text(body: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if (1..=255).contains(&s.chars().count()) => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(ApiError::invalid_value(format!(
            "{key} must have 1 to 255 characters"
        ))),
        Some(_) => Err(ApiError::invalid_value(format!("{key} must be a string"))),
    }
}

fn flag(body: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::invalid_value(format!(
            "{key} must be true or false"
        ))),
    }
}

fn email_of(body: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    let Some(e) = text(body, "email")? else {
        return Ok(None);
    };
    let e = e.trim().to_owned();
    let (local, domain) = e.split_once('@').unwrap_or(("", ""));
    if local.is_empty() || domain.is_empty() || e.contains(char::is_whitespace) {
        return Err(ApiError::invalid_value(format!(
            "email {e:?} is not an email address"
        )));
    }
    Ok(Some(e))
}

fn locale_of(body: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match text(body, "locale")? {
        None => Ok(None),
        Some(l) if LOCALES.contains(&l.as_str()) => Ok(Some(l)),
        Some(l) => Err(ApiError::invalid_value(format!(
            "locale {l:?} is not one of {}",
            LOCALES.join(", ")
        ))),
    }
}

/// `roles`: role ids (the store refuses an unknown one, changing nothing).
fn roles_of(body: &Map<String, Value>) -> Result<Option<Vec<i64>>, ApiError> {
    let bad = || ApiError::invalid_value("roles must be a list of role ids (integers)");
    match body.get("roles") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(ids)) => {
            if ids.len() > roster_core::role::MAX_ROLES_PER_USER {
                return Err(ApiError::from(CoreError::TooMany(format!(
                    "a user holds at most {} roles",
                    roster_core::role::MAX_ROLES_PER_USER
                ))));
            }
            ids.iter()
                .map(|v| v.as_i64().ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        }
        Some(_) => Err(bad()),
    }
}

/// Each user rendered with the roles they hold (loaded with the users: [`User::roles`]).
fn rendered(state: &AppState, users: &[User]) -> Vec<Value> {
    users
        .iter()
        .map(|u| {
            let roles: Vec<&OrgRole> = u.roles.iter().flatten().collect();
            render::user(state, u, &roles)
        })
        .collect()
}

/// What a create or update body may not carry.
fn no_password(body: &Map<String, Value>) -> Result<(), ApiError> {
    if body.contains_key("password") {
        return Err(ApiError::invalid_value(
            "a password cannot be set here: the user chooses one through the reset-password mail",
        ));
    }
    Ok(())
}

fn required<T>(v: Option<T>, key: &str) -> Result<T, ApiError> {
    v.ok_or_else(|| ApiError::invalid_value(format!("{key} is required")))
}

fn mailbox(email: &str) -> Vec<Email> {
    vec![Email {
        value: email.to_owned(),
        kind: None,
        primary: true,
        display: None,
    }]
}

#[utoipa::path(post, path = "/users",
    request_body(content = Value, description = "CreateUserRequest: email, enabled, totp, locale (required); firstName, lastName, roles"),
    description = "Creates a user whose login is the email; queues the verification mail. No password can be set (400). Needs manage-organization.",
    responses((status = 201, description = "CreateUserResponse", body = Value)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body, _): Body,
) -> Result<Response, ApiError> {
    let admin = caller.principal().user_admin()?;
    let b = body.as_object().cloned().unwrap_or_default();
    no_password(&b)?;
    let email = required(email_of(&b)?, "email")?;
    let enabled = required(flag(&b, "enabled")?, "enabled")?;
    let totp = required(flag(&b, "totp")?, "totp")?;
    let locale = required(locale_of(&b)?, "locale")?;
    let roles = roles_of(&b)?.unwrap_or_default();
    let mut new = NewUser::new(UserName::parse(&email)?);
    new.given_name = text(&b, "firstName")?;
    new.family_name = text(&b, "lastName")?;
    new.emails = mailbox(&email);
    new.active = enabled;
    new.active_assigned = true;
    new.locale = Some(locale);
    new.totp = totp;
    new.roles = roles;
    let user = caller
        .store()
        .create_user(&admin, &caller.ctx(), &new)
        .await?;
    // The new user proves the address (and then chooses a password through a reset mail).
    let mailer = admin.account_mailer();
    if let Err(e) = state
        .mail
        .send_link(
            &state,
            &mailer,
            &caller.ctx(),
            user.id,
            LinkPurpose::EmailVerification,
            None,
        )
        .await
    {
        tracing::warn!(user = %user.id, error = %e.detail(), "the verification mail of a new user was not queued");
    }
    let id = user.id.to_string();
    Ok(found(
        StatusCode::CREATED,
        vec![
            json!({"tenantId": state.tenant_id.as_ref(), "customerId": state.customer_id.as_ref(), "userId": id}),
        ],
        &format!("/v1/users/{id}"),
    ))
}

/// `orderBy=field:asc|desc`, repeated: the fields a user list sorts by.
fn sort_key(raw: &str) -> Result<Sort, ApiError> {
    let (field, dir) = raw.split_once(':').unwrap_or((raw, "asc"));
    let descending = match dir.to_ascii_lowercase().as_str() {
        "asc" => false,
        "desc" => true,
        _ => {
            return Err(ApiError::invalid_value(format!(
                "orderBy {raw:?}: the direction must be asc or desc"
            )))
        }
    };
    let field = match field {
        "firstName" | "name" => Field::GivenName,
        "lastName" => Field::FamilyName,
        "email" => Field::UserName,
        "enabled" => Field::Active,
        "locale" => Field::Locale,
        "owner" => Field::Owner,
        "userId" => Field::UserId,
        other => {
            return Err(ApiError::invalid_value(format!(
                "orderBy: unknown field {other:?}; known: firstName, lastName, email, enabled, locale, owner, userId"
            )))
        }
    };
    Ok(Sort { field, descending })
}

fn query_flag(q: &QueryPairs, name: &str) -> Result<Option<bool>, ApiError> {
    match q.get(name) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(ApiError::invalid_value(format!(
            "{name} must be true or false, got {v:?}"
        ))),
    }
}

fn and(a: Option<Cond>, b: Cond) -> Option<Cond> {
    Some(match a {
        Some(a) => Cond::And(Box::new(a), Box::new(b)),
        None => b,
    })
}

#[utoipa::path(get, path = "/users",
    params(
        ("page" = Option<i64>, Query, description = "1-based page (default 1)"),
        ("size" = Option<i64>, Query, description = "Users per page (default 10, at most 1000)"),
        ("orderBy" = Option<Vec<String>>, Query, description = "`field:asc|desc`, repeatable: firstName, lastName, email, enabled, locale, owner, userId"),
        ("email" = Option<String>, Query, description = "Part of the email, any case"),
        ("enabled" = Option<bool>, Query, description = "Only enabled (or disabled) users"),
        ("owner" = Option<bool>, Query, description = "Only the owner (or the others)"),
    ),
    description = "One page of users. Needs manage-organization.",
    responses((status = 200, description = "ListUserResponse", body = Value)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let admin = caller.principal().user_admin()?;
    let (page, size) = page_params(&q)?;
    let order: Vec<&str> = q.all("orderBy").collect();
    if order.len() > 8 {
        return Err(ApiError::invalid_value("at most 8 orderBy keys"));
    }
    let mut sorts = order
        .iter()
        .map(|o| sort_key(o))
        .collect::<Result<Vec<_>, _>>()?;
    let mut filter = None;
    if let Some(e) = q.get("email").filter(|e| !e.is_empty()) {
        if e.chars().count() > 255 {
            return Err(ApiError::invalid_value(
                "email is longer than 255 characters",
            ));
        }
        let inner = Cond::Cmp(
            Field::EmailValue,
            CompareOp::Co,
            Scalar::Text(roster_core::user::fold(e)),
        );
        filter = and(filter, Cond::Any(Collection::Emails, Some(Box::new(inner))));
    }
    if let Some(b) = query_flag(&q, "enabled")? {
        filter = and(
            filter,
            Cond::Cmp(Field::Active, CompareOp::Eq, Scalar::Bool(b)),
        );
    }
    if let Some(b) = query_flag(&q, "owner")? {
        filter = and(
            filter,
            Cond::Cmp(Field::Owner, CompareOp::Eq, Scalar::Bool(b)),
        );
    }
    let first = (!sorts.is_empty()).then(|| sorts.remove(0));
    let query = UserQuery {
        filter,
        sort: first,
        then_sort: sorts,
        with_roles: true,
        page: PageRequest {
            start_index: (page - 1).saturating_mul(size).saturating_add(1),
            count: size,
        },
        ..Default::default()
    };
    let found = caller.store().list_users(&admin.reader(), &query).await?;
    let data = rendered(&state, &found.items);
    let total = found.total;
    let pages = (total + size - 1) / size;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "_pagination": {"size": size, "totalElements": total, "totalPages": pages, "page": page},
            "data": data,
            "_links": list_links("/v1/users", &q, page, size, pages),
        }),
    ))
}

/// The user, if the caller may see them: administrators all, others themselves.
async fn visible(caller: &Caller, raw: &str) -> Result<User, ApiError> {
    let id = user_id(raw)?;
    let p = caller.principal();
    let reader = if p.user_id == id {
        p.self_service().reader()
    } else {
        p.user_admin()?.reader()
    };
    caller
        .store()
        .get_user_with_roles(&reader, id)
        .await?
        .ok_or_else(|| not_found(raw))
}

#[utoipa::path(get, path = "/users/{userId}",
    params(("userId" = String, Path, description = "The user's id (the SCIM id)")),
    description = "One user. Administrators see anyone, a user themselves.",
    responses((status = 200, description = "FindUserResponse", body = Value)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(raw): PathParam,
) -> Result<Response, ApiError> {
    let user = visible(&caller, &raw).await?;
    Ok(found(
        StatusCode::OK,
        rendered(&state, std::slice::from_ref(&user)),
        &format!("/v1/users/{}", user.id),
    ))
}

#[utoipa::path(patch, path = "/users/{userId}",
    params(("userId" = String, Path, description = "The user's id")),
    request_body(content = Value, description = "UpdateUserRequest: any of firstName, lastName, email, enabled, totp, locale, roles"),
    description = "Changes the given fields only; `enabled: false` refuses every credential of the user at once. Needs manage-organization.",
    responses((status = 200, description = "UpdateUserResponse", body = Value)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(raw): PathParam,
    JsonBody(body, _): Body,
) -> Result<Response, ApiError> {
    let admin = caller.principal().user_admin()?;
    let id = user_id(&raw)?;
    let b = body.as_object().cloned().unwrap_or_default();
    no_password(&b)?;
    let first = text(&b, "firstName")?;
    let last = text(&b, "lastName")?;
    let email = email_of(&b)?;
    let enabled = flag(&b, "enabled")?;
    let totp = flag(&b, "totp")?;
    let locale = locale_of(&b)?;
    let roles = roles_of(&b)?;
    let login = email.as_deref().map(UserName::parse).transpose()?;
    let edit = move |u: &mut User| -> Result<(), CoreError> {
        if let Some(f) = &first {
            u.given_name = Some(f.clone());
        }
        if let Some(l) = &last {
            u.family_name = Some(l.clone());
        }
        if let (Some(e), Some(name)) = (&email, &login) {
            u.user_name = name.clone();
            u.emails = mailbox(e);
        }
        if let Some(a) = enabled {
            u.active = a;
            u.active_assigned = true;
        }
        if let Some(t) = totp {
            u.totp = t;
        }
        if let Some(l) = &locale {
            u.locale = Some(l.clone());
        }
        u.set_roles.clone_from(&roles);
        Ok(())
    };
    let user = caller
        .store()
        .update_user(&admin.editor(), &caller.ctx(), id, None, &edit)
        .await
        .map_err(|e| missing_as(e, || not_found(&raw)))?;
    // Shown as a read shows it, with the roles it holds now.
    let user = caller
        .store()
        .get_user_with_roles(&admin.reader(), id)
        .await?
        .unwrap_or(user);
    Ok(found(
        StatusCode::OK,
        rendered(&state, std::slice::from_ref(&user)),
        &format!("/v1/users/{id}"),
    ))
}

#[utoipa::path(delete, path = "/users/{userId}",
    params(("userId" = String, Path, description = "The user's id")),
    description = "Deletes the user for good: 404 on every dialect afterwards; their tokens, client and credentials go with them. Needs manage-organization.",
    responses((status = 204, description = "Deleted")))]
pub async fn delete(caller: Caller, PathParam(raw): PathParam) -> Result<StatusCode, ApiError> {
    let admin = caller.principal().user_admin()?;
    let id = user_id(&raw)?;
    caller
        .store()
        .delete_user(&admin, &caller.ctx(), id, None)
        .await
        .map_err(|e| missing_as(e, || not_found(&raw)))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn mail(
    state: &AppState,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
    purpose: LinkPurpose,
) -> Result<StatusCode, ApiError> {
    let id = user_id(raw)?;
    let p = caller.principal();
    let by = if p.user_id == id {
        p.self_service().account_mailer()
    } else {
        p.user_admin()?.account_mailer()
    };
    state
        .mail
        .send_link(state, &by, &caller.ctx(), id, purpose, q.get("redirectUrl"))
        .await
        .map_err(|e| {
            if e.status() == StatusCode::NOT_FOUND {
                not_found(raw)
            } else {
                e
            }
        })?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/users/{userId}/resend-email-verification",
    params(("userId" = String, Path, description = "The user's id"),
           ("redirectUrl" = Option<String>, Query, description = "Where the link sends the user once used (its origin must be in ROSTER_REDIRECT_ALLOWLIST)")),
    description = "Queues the verification mail again (at most one a minute: 429). Administrators for anyone, a user for themselves.",
    responses((status = 204, description = "Queued")))]
pub async fn resend_email_verification(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(raw): PathParam,
    q: QueryPairs,
) -> Result<StatusCode, ApiError> {
    mail(&state, &caller, &raw, &q, LinkPurpose::EmailVerification).await
}

#[utoipa::path(post, path = "/users/{userId}/reset-password",
    params(("userId" = String, Path, description = "The user's id"),
           ("redirectUrl" = Option<String>, Query, description = "As for resend-email-verification")),
    description = "Queues the password-reset mail (at most one a minute: 429); earlier reset links stop working.",
    responses((status = 204, description = "Queued")))]
pub async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(raw): PathParam,
    q: QueryPairs,
) -> Result<StatusCode, ApiError> {
    mail(&state, &caller, &raw, &q, LinkPurpose::PasswordReset).await
}
