//! Request body extraction for SCIM-shaped APIs: `application/json` and
//! `application/scim+json` are both accepted (the ODM SDK sends the former), anything else
//! is 415; malformed JSON is 400 invalidSyntax; an oversized body is 413. Always in the
//! SCIM error format, never axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde_json::Value;

use super::error::ScimError;

pub struct ScimJson(pub Value);

fn is_json_content_type(ct: &str) -> bool {
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || mime == "application/scim+json"
}

impl<S: Send + Sync> FromRequest<S> for ScimJson {
    type Rejection = ScimError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match ct.as_deref() {
            Some(ct) if is_json_content_type(ct) => {}
            None => {}
            Some(other) => {
                return Err(ScimError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    None,
                    format!("Content-Type {other:?} is not supported; send application/scim+json or application/json"),
                ))
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ScimError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    None,
                    "request body is larger than the server's limit (ROSTER_MAX_BODY_BYTES)",
                )
            } else {
                ScimError::bad_request(
                    "invalidSyntax",
                    format!("could not read the request body: {e}"),
                )
            }
        })?;
        if bytes.is_empty() {
            return Err(ScimError::bad_request(
                "invalidSyntax",
                "request body is empty; a JSON object is required",
            ));
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ScimError::bad_request(
                "invalidSyntax",
                format!("request body is not valid JSON: {e}"),
            )
        })?;
        if !value.is_object() {
            return Err(ScimError::bad_request(
                "invalidSyntax",
                "request body must be a JSON object",
            ));
        }
        Ok(ScimJson(value))
    }
}
