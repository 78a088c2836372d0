//! Extractors every dialect uses. Their rejections are [`ApiError`]s, rendered in the
//! dialect's format like every other error.

use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};

use super::error::{ApiError, Kind};
use crate::app::AppState;

/// The query string as ordered pairs. Parameter names are case-sensitive (ODM documents
/// that `FILTER` is ignored), so lookups are exact; repeated names are all kept.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let pairs = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|e| ApiError::invalid_syntax(format!("the query string is malformed: {e}")))?;
        // No stored text holds a NUL (writes refuse it) and PostgreSQL cannot take one.
        if pairs
            .0
            .iter()
            .any(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(ApiError::invalid_value(
                "the query string contains a NUL character (%00)",
            ));
        }
        Ok(Self(pairs.0))
    }
}

impl QueryPairs {
    /// Every value of a repeated parameter, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The base URL of this server: the configured public URL (or, on a loopback listener, its
/// own address), never the request's `Host` header, which anyone can set.
pub struct BaseUrl(pub Arc<str>);

impl FromRequestParts<AppState> for BaseUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(_: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(state.public_url.clone()))
    }
}

/// The one path parameter of a route (`/Users/{id}`), percent-decoded; a segment that does
/// not decode to UTF-8 is a 400 in the dialect's format, not the framework's plain text.
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::invalid_syntax(format!("the URL path is malformed: {e}")))?;
        let raw = params
            .iter()
            .next()
            .map(|(_, v)| v)
            .ok_or_else(|| ApiError::invalid_syntax("the URL path names no resource"))?;
        Ok(Self(raw.to_owned()))
    }
}

/// The version in an `If-Match: W/"n"` header; `*` matches any version.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("").trim();
    if s == "*" {
        return Ok(None);
    }
    let inner = s.trim_start_matches("W/").trim_matches('"');
    inner.parse::<i64>().map(Some).map_err(|_| {
        ApiError::new(
            Kind::PreconditionFailed,
            format!("If-Match {s:?} does not match any version of this resource"),
        )
    })
}

/// Whether the client's `If-None-Match` already names `etag` (a GET may answer 304).
pub fn not_modified(if_none_match: Option<&header::HeaderValue>, etag: &str) -> bool {
    if_none_match
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// 304 with the ETag.
pub fn not_modified_response(etag: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut res = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(v) = header::HeaderValue::from_str(etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// The write context of a request that carries its authority in itself (a one-time link's
/// token) rather than in a credential: its id for the audit row, its time-out's gate.
pub struct RequestCtx(pub roster_store::WriteCtx);

impl<S: Send + Sync> FromRequestParts<S> for RequestCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(roster_store::WriteCtx {
            request_id: super::request_id::of(&parts.headers).map(str::to_owned),
            gate: parts.extensions.get::<roster_store::CommitGate>().cloned(),
        }))
    }
}

/// Whether `url` is on the public URL's origin (scheme, host and port).
pub fn same_origin(public_url: &str, url: &str) -> bool {
    let origin = |u: &str| -> String {
        let (scheme, rest) = u.split_once("://").unwrap_or(("", u));
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            host.to_ascii_lowercase()
        )
    };
    !url.is_empty() && origin(public_url) == origin(url)
}
