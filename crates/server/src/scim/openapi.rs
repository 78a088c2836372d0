//! Parameter sets the `/scim/v2` handlers' OpenAPI annotations share. (The dialect's
//! security requirement and its error response are added to every operation when the
//! dialect is mounted.)

#![expect(dead_code, reason = "these types exist for their OpenAPI derive only")]

use utoipa::IntoParams;

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Projection {
    /// Attributes to return, comma-separated (`id` and `schemas` always are).
    attributes: Option<String>,
    /// Attributes to leave out, comma-separated.
    #[param(rename = "excludedAttributes")]
    excluded_attributes: Option<String>,
}

/// Filtering, sorting and paging a list (RFC 7644 §3.4.2).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Listing {
    /// An RFC 7644 §3.4.2.2 filter.
    filter: Option<String>,
    /// 1-based index of the first result.
    #[param(rename = "startIndex")]
    start_index: Option<i64>,
    /// Page size: 1000 when not given (filter.maxResults), at most 1000.
    count: Option<i64>,
    /// A single-valued attribute.
    #[param(rename = "sortBy")]
    sort_by: Option<String>,
    /// `ascending` or `descending`.
    #[param(rename = "sortOrder")]
    sort_order: Option<String>,
}

/// A resource's id.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct Id {
    /// The resource's id (a UUID).
    id: String,
}

/// Optimistic concurrency (RFC 7644 §3.14).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatch {
    /// The version the change is based on (`W/"n"`); `412` when it is not current.
    #[param(rename = "If-Match")]
    if_match: Option<String>,
}

/// One resource, or 304 for a GET whose If-None-Match names its version.
#[derive(utoipa::IntoResponses)]
pub enum One {
    #[response(
        status = 200,
        description = "The resource",
        content_type = "application/scim+json"
    )]
    Ok(serde_json::Value),
    #[response(
        status = 304,
        description = "Not modified: If-None-Match names the current version"
    )]
    NotModified,
}

/// A resource just created, with its `Location`.
#[derive(utoipa::IntoResponses)]
pub enum Created {
    #[response(
        status = 201,
        description = "The created resource",
        content_type = "application/scim+json"
    )]
    Created(serde_json::Value),
}

/// A ListResponse (RFC 7644 §3.4.2).
#[derive(utoipa::IntoResponses)]
pub enum List {
    #[response(
        status = 200,
        description = "A ListResponse",
        content_type = "application/scim+json"
    )]
    Ok(serde_json::Value),
}

/// Removed.
#[derive(utoipa::IntoResponses)]
pub enum Removed {
    #[response(status = 204, description = "Removed")]
    NoContent,
}
