//! Genestack ODM's SCIM profile at `/api/v1/scim`, as its `odm-api` SDK and seed
//! documents describe it. Rules that differ from `/scim/v2` on purpose:
//! - user delete deactivates; inactive users vanish from find/get but can be patched;
//! - user create upserts by userName; password/permissions cannot be set; one email;
//! - filters: only `eq` and `and` (and `emails[...]` value paths) — see [`filter`];
//! - group create rejects members and makes the caller a group admin; group PATCH is 204;
//! - group visibility follows membership unless the caller has manage-groups;
//! - responses carry only the core schema URNs (its SDK rejects any other) — see [`render`];
//! - 401 and 500 use ODM's `{"error":{"message":...}}` body; 403 and 404 speak ODM's words.

mod filter;
mod groups;
mod render;
mod users;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_core::policy::Denied;
use roster_core::{Entity, Permission};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::http::auth::{bearer, header_values, single, Credential};
use crate::http::dialect::{Dialect, ErrorContext};
use crate::http::{ApiError, Kind};
use crate::scim_resource::error::error_response;

pub const ROOT: &str = "/api/v1/scim";

/// The seed documents a page of 100 when `count` is not given.
const DEFAULT_COUNT: i64 = roster_core::paging::DEFAULT_PAGE_SIZE;

/// The seed document's 401 text, which tells the caller how to authenticate.
const UNAUTHENTICATED: &str = "User is not authenticated. Please supply a valid Access Token in the `Authorization` HTTP header (e.g. Authorization: bearer [token]) or Genestack API token in the `Genestack-API-Token` header.";

const API_TOKEN_HEADER: HeaderName = HeaderName::from_static("genestack-api-token");

/// The ODM dialect: two API-key schemes, SCIM error bodies with ODM's own exceptions.
pub struct Odm;

impl Dialect for Odm {
    const NAME: &'static str = "odm";
    const PREFIX: &'static str = ROOT;
    const CHALLENGE: &'static str = "Bearer";
    const SECURITY: &'static [&'static str] = &["genestack_api_token", "bearer"];
    const TAG: &'static str = "Genestack ODM";
    const ERROR_BODY: &'static str = "An error: 401 and 5xx as ODM's BaseErrorResponse (`{\"error\": {\"message\": ...}}`), others as RFC 7644 §3.12's SCIM error";

    /// `Genestack-API-Token: <t>`, and `Authorization` with a `Bearer ` prefix or with the raw
    /// token (the SDK sends no prefix unless configured to).
    fn credentials(headers: &HeaderMap) -> Result<Option<Credential<'_>>, ApiError> {
        let api_keys = header_values(headers, &API_TOKEN_HEADER)?;
        let authorization = header_values(headers, &header::AUTHORIZATION)?;
        let tokens = api_keys
            .into_iter()
            .chain(authorization.into_iter().map(|v| bearer(v).unwrap_or(v)))
            .filter(|t| !t.is_empty())
            .map(Credential::Token);
        single(tokens)
    }

    fn render(e: &ApiError, _: &ErrorContext<'_>) -> Response {
        if e.kind() == Kind::Unauthenticated || e.status().is_server_error() {
            // ODM's BaseErrorResponse.
            let message = if e.kind() == Kind::Unauthenticated {
                UNAUTHENTICATED
            } else {
                e.detail()
            };
            let mut res = (
                e.status(),
                json!({"error": {"message": message}}).to_string(),
            )
                .into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return res;
        }
        error_response(e, &wording(e))
    }
}

/// ODM's labels for Roster's permissions.
fn label(p: Permission) -> &'static str {
    match p {
        Permission::ManageOrganization => "Manage organization",
        Permission::ManageGroups => "Manage groups",
    }
}

/// The detail in ODM's words where ODM has its own; Roster's neutral text otherwise.
fn wording(e: &ApiError) -> String {
    match (e.status(), e.denied(), e.missing()) {
        (StatusCode::FORBIDDEN, Some(Denied::Permission(p)), _) => format!(
            "Operation is not permitted. The \"{}\" permission is required.",
            label(p)
        ),
        (StatusCode::FORBIDDEN, Some(Denied::GroupAdmin), _) => format!(
            "Operation is not permitted. The \"Group admin\" role in the group or the \"{}\" permission is required.",
            label(Permission::ManageGroups)
        ),
        (StatusCode::NOT_FOUND, _, Some(Entity::User(id))) => {
            format!("There are no users with the id {id}")
        }
        (StatusCode::NOT_FOUND, _, Some(Entity::Group(id))) => {
            format!("There are no groups with the id {id}")
        }
        _ => e.detail().to_owned(),
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(users::find, users::create))
        .routes(routes!(users::get, users::patch, users::delete))
        .routes(routes!(groups::find, groups::create))
        .routes(routes!(groups::get, groups::patch, groups::delete))
}

/// ODM: a malformed id is a 400 ("The supplied ID is invalid").
fn parse_id(raw: &str, what: &str) -> Result<uuid::Uuid, ApiError> {
    crate::scim_resource::parse_id(raw).ok_or_else(|| {
        ApiError::invalid_value(format!(
            "The supplied {what} ID {raw:?} is invalid: ids are UUIDs"
        ))
    })
}
