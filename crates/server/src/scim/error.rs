//! SCIM renders every error as RFC 7644 §3.12's error body, worded neutrally.

use axum::response::Response;

use crate::http::ApiError;
use crate::scim_resource::error::error_response;

pub fn render(e: &ApiError) -> Response {
    error_response(e, e.detail())
}
