//! JSON request bodies: the content types a dialect accepts, 415 for any other, 413 over the
//! server's body limit, 400 for an empty body, malformed JSON or a body that is not an
//! object. Always an [`ApiError`], never the framework's plain-text rejections.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde_json::Value;

use super::error::{ApiError, Kind};

/// A JSON answer with `Content-Type: application/json` exactly (SailPoint's SDK, for one,
/// refuses any other), for dialects whose bodies are plain JSON.
pub fn json_response(status: StatusCode, body: &Value) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    res
}

/// Which media types a family of endpoints takes for JSON bodies.
pub trait MediaTypes: Send + Sync + 'static {
    /// Lower-case `type/subtype`s; a request without `Content-Type` is read as JSON too.
    const ACCEPTED: &'static [&'static str];
    /// An empty body reads as `{}` (CVAT's SDK sends a PATCH without a body so).
    const EMPTY_IS_EMPTY_OBJECT: bool = false;
}

/// A JSON object body (see the module docs).
pub struct JsonBody<M>(pub Value, pub PhantomData<M>);

fn mime(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

impl<S: Send + Sync, M: MediaTypes> FromRequest<S> for JsonBody<M> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("");
            if !M::ACCEPTED.contains(&mime(ct).as_str()) {
                return Err(ApiError::new(
                    Kind::UnsupportedMediaType,
                    format!(
                        "Content-Type {ct:?} is not supported; send {}",
                        M::ACCEPTED.join(" or ")
                    ),
                ));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    Kind::PayloadTooLarge,
                    "request body is larger than the server's limit (ROSTER_MAX_BODY_BYTES)",
                )
            } else {
                ApiError::invalid_syntax(format!("could not read the request body: {e}"))
            }
        })?;
        if bytes.is_empty() && M::EMPTY_IS_EMPTY_OBJECT {
            return Ok(JsonBody(Value::Object(serde_json::Map::new()), PhantomData));
        }
        if bytes.is_empty() {
            return Err(ApiError::invalid_syntax(
                "request body is empty; a JSON object is required",
            ));
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::invalid_syntax(format!("request body is not valid JSON: {e}"))
        })?;
        if !value.is_object() {
            return Err(ApiError::invalid_syntax(
                "request body must be a JSON object",
            ));
        }
        Ok(JsonBody(value, PhantomData))
    }
}
