//! Standard SCIM 2.0 at `/scim/v2` (RFC 7643/7644). Differences from the ODM profile on
//! purpose: full filter grammar, inactive users listed with `active: false`, DELETE removes,
//! group create takes members, group PATCH answers 200 with the group, ETags / If-Match
//! honoured, users need manage-organization and groups manage-groups.

mod bulk;
mod discovery;
mod error;
mod groups;
mod list;
mod openapi;
mod projection;
pub mod render;
mod search;
mod users;
mod view;

use axum::http::HeaderMap;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::http::auth::{bearer, header_values, single, Credential};
use crate::http::dialect::{Dialect, ErrorContext};
use crate::http::ApiError;
use crate::scim_resource::parse_id;

pub const ROOT: &str = "/scim/v2";

/// A list without `count` returns as many resources as `/ServiceProviderConfig` advertises
/// in `filter.maxResults`, so a client that lists without paging sees what it created.
const DEFAULT_COUNT: i64 = roster_core::paging::MAX_PAGE_SIZE;

/// A list without `sortBy` shows the newest resources first (RFC 7644 §3.4.2.3 leaves the
/// order to the provider): a client that lists without paging finds what it just created
/// however large the directory, and a crawl by `startIndex` during concurrent creation sees
/// a resource twice at worst, never misses one.
const NEWEST_FIRST: bool = true;

/// The SCIM 2.0 dialect: `Authorization: Bearer <token>`, SCIM error bodies.
pub struct Scim;

impl Dialect for Scim {
    const NAME: &'static str = "scim";
    const PREFIX: &'static str = ROOT;
    const CHALLENGE: &'static str = "Bearer realm=\"roster\"";
    const SECURITY: &'static [&'static str] = &["bearer"];
    const TAG: &'static str = "SCIM 2.0";
    const ERROR_BODY: &'static str =
        "An error: RFC 7644 §3.12's body (`schemas`, `status` as a string, `scimType`, `detail`)";

    fn credentials(headers: &HeaderMap) -> Result<Option<Credential<'_>>, ApiError> {
        let values = header_values(headers, &axum::http::header::AUTHORIZATION)?;
        let tokens = values.into_iter().map(|v| {
            bearer(v).map(Credential::Token).ok_or_else(|| {
                ApiError::unauthenticated("only `Authorization: Bearer <token>` is accepted here")
            })
        });
        single(tokens.collect::<Result<Vec<_>, _>>()?)
    }

    fn render(e: &ApiError, _: &ErrorContext<'_>) -> Response {
        error::render(e)
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    resource_routes().routes(routes!(bulk::bulk))
}

/// The resource endpoints; also what each /Bulk operation is dispatched to.
fn resource_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::search))
        .routes(routes!(users::get, users::put, users::patch, users::delete))
        .routes(routes!(users::me, users::patch_me))
        .routes(routes!(groups::list, groups::create))
        .routes(routes!(groups::search))
        .routes(routes!(
            groups::get,
            groups::put,
            groups::patch,
            groups::delete
        ))
        .routes(routes!(search::search_all))
        .routes(routes!(discovery::service_provider_config))
        .routes(routes!(discovery::list_schemas))
        .routes(routes!(discovery::get_schema))
        .routes(routes!(discovery::list_resource_types))
        .routes(routes!(discovery::get_resource_type))
}

/// In `/scim/v2` an id that is not a UUID names no resource: 404.
fn resource_id(raw: &str, what: &str) -> Result<uuid::Uuid, ApiError> {
    parse_id(raw).ok_or_else(|| {
        ApiError::new(
            crate::http::Kind::NotFound,
            format!("no {what} with id {raw:?}"),
        )
    })
}
