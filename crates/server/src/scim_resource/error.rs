//! The SCIM error response (RFC 7644 §3.12).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::http::{ApiError, Kind};

pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The `scimType` of an error kind, where RFC 7644 defines one.
pub fn scim_type(kind: Kind) -> Option<&'static str> {
    Some(match kind {
        Kind::InvalidFilter => "invalidFilter",
        Kind::InvalidSyntax => "invalidSyntax",
        Kind::InvalidPath => "invalidPath",
        Kind::InvalidValue => "invalidValue",
        Kind::NoTarget => "noTarget",
        Kind::Mutability => "mutability",
        Kind::TooMany => "tooMany",
        Kind::InvalidVers => "invalidVers",
        Kind::Sensitive => "sensitive",
        Kind::Conflict => "uniqueness",
        _ => return None,
    })
}

/// The error body as a JSON value (also what a /Bulk operation's `response` holds).
pub fn error_json(status: StatusCode, scim_type: Option<&str>, detail: &str) -> serde_json::Value {
    let mut body = json!({
        "schemas": [ERROR_URN],
        "status": status.as_str(),
        "detail": detail,
    });
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    body
}

/// `e` as a SCIM error response, with `detail` as its text.
pub fn error_response(e: &ApiError, detail: &str) -> Response {
    let body = error_json(e.status(), scim_type(e.kind()), detail);
    let mut res = (e.status(), body.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(super::SCIM_JSON),
    );
    res
}
