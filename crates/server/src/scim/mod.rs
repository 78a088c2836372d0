//! Standard SCIM 2.0 at `/scim/v2` (RFC 7643/7644), plus the machinery the ODM profile
//! shares (errors, body parsing, rendering). Differences from ODM on purpose: full filter
//! grammar, inactive users listed with `active: false`, DELETE removes, group create takes
//! members, group PATCH answers 200 with the group, ETags / If-Match honoured.

pub mod body;
mod bulk;
mod discovery;
pub mod error;
pub mod group_body;
mod groups;
mod list;
pub mod projection;
pub mod render;
pub mod request;
mod search;
pub mod user_body;
mod users;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use roster_core::Principal;

use crate::app::AppState;
use error::ScimError;

pub const ROOT: &str = "/scim/v2";

pub fn routes() -> Router<AppState> {
    resource_routes().route("/Bulk", post(bulk::bulk))
}

/// The resource endpoints; also what each /Bulk operation is dispatched to.
pub fn resource_routes() -> Router<AppState> {
    Router::new()
        .route("/Users", get(users::list).post(users::create))
        .route("/Users/.search", post(users::search))
        .route(
            "/Users/{id}",
            get(users::get)
                .put(users::put)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/Me", get(users::me).patch(users::patch_me))
        .route("/Groups", get(groups::list).post(groups::create))
        .route("/Groups/.search", post(groups::search))
        .route(
            "/Groups/{id}",
            get(groups::get)
                .put(groups::put)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        .route("/.search", post(search::search_all))
        .route(
            "/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/Schemas", get(discovery::list_schemas))
        .route("/Schemas/{id}", get(discovery::get_schema))
        .route("/ResourceTypes", get(discovery::list_resource_types))
        .route("/ResourceTypes/{name}", get(discovery::get_resource_type))
}

/// The caller of a `/scim/v2` route (`Authorization: Bearer <token>`).
pub struct Caller(pub Principal, pub Option<String>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ScimError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = crate::auth::bearer(&parts.headers);
        let found = match token {
            Some(t) => crate::auth::authenticate(state, &[t]).await?,
            None => None,
        };
        let rid = crate::auth::request_id(&parts.headers);
        found.map(|p| Caller(p, rid)).ok_or_else(|| {
            ScimError::new(
                StatusCode::UNAUTHORIZED,
                None,
                "authentication required: send Authorization: Bearer <API token>",
            )
        })
    }
}

fn ctx(c: &Caller) -> roster_store::WriteCtx {
    crate::auth::write_ctx(&c.0, c.1.as_ref())
}

/// In `/scim/v2` an id that is not a UUID names no resource: 404.
fn parse_id(raw: &str, what: &str) -> Result<uuid::Uuid, ScimError> {
    request::parse_id(raw).ok_or_else(|| ScimError::not_found(format!("no {what} with id {raw:?}")))
}
