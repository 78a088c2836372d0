//! The SCIM error response (RFC 7644 §3.12), shared by `/scim/v2` and the ODM profile.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_core::CoreError;
use serde_json::json;

pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SCIM_JSON: &str = "application/scim+json";

#[derive(Debug, Clone)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }
}

impl From<CoreError> for ScimError {
    fn from(e: CoreError) -> Self {
        let (status, scim_type) = match &e {
            CoreError::InvalidFilter(_) => (StatusCode::BAD_REQUEST, Some("invalidFilter")),
            CoreError::InvalidSyntax(_) => (StatusCode::BAD_REQUEST, Some("invalidSyntax")),
            CoreError::InvalidPath(_) => (StatusCode::BAD_REQUEST, Some("invalidPath")),
            CoreError::InvalidValue(_) => (StatusCode::BAD_REQUEST, Some("invalidValue")),
            CoreError::NoTarget(_) => (StatusCode::BAD_REQUEST, Some("noTarget")),
            CoreError::Mutability(_) => (StatusCode::BAD_REQUEST, Some("mutability")),
            CoreError::TooMany(_) => (StatusCode::BAD_REQUEST, Some("tooMany")),
            CoreError::Uniqueness(_) => (StatusCode::CONFLICT, Some("uniqueness")),
            CoreError::NotFound(_) => (StatusCode::NOT_FOUND, None),
            CoreError::Forbidden(_) => (StatusCode::FORBIDDEN, None),
            CoreError::Sensitive(_) => (StatusCode::FORBIDDEN, Some("sensitive")),
            CoreError::InvalidVers(_) => (StatusCode::BAD_REQUEST, Some("invalidVers")),
            CoreError::PreconditionFailed => (StatusCode::PRECONDITION_FAILED, None),
            CoreError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, None),
            CoreError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, None),
        };
        if status.is_server_error() {
            tracing::error!(error = %e, "request failed on the server side");
        }
        let detail = match &e {
            CoreError::Internal(_) => "internal error; the server log has the details".to_owned(),
            other => other.to_string(),
        };
        Self::new(status, scim_type, detail)
    }
}

impl From<roster_store::StoreError> for ScimError {
    fn from(e: roster_store::StoreError) -> Self {
        CoreError::from(e).into()
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_URN],
            "status": self.status.as_str(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        let mut res = (self.status, body.to_string()).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        res
    }
}
