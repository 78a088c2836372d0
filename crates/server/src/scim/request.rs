//! Small request parsers shared by the SCIM-shaped dialects.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use roster_core::PageRequest;
use uuid::Uuid;

use super::error::ScimError;
use super::render::Links;
use crate::app::AppState;

/// The query string as ordered pairs. Parameter names are case-sensitive (ODM documents
/// that `FILTER` is ignored), so lookups are exact.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let pairs = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|e| {
                ScimError::bad_request(
                    "invalidSyntax",
                    format!("query string {q:?} is malformed: {e}"),
                )
            })?;
        Ok(Self(pairs.0))
    }
}

impl QueryPairs {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn page(&self) -> Result<PageRequest, ScimError> {
        Ok(PageRequest::parse(
            self.get("startIndex"),
            self.get("count"),
        )?)
    }

    /// True when `excludedAttributes` names `members` (comma-separated list).
    pub fn excludes_members(&self) -> bool {
        self.get("excludedAttributes").is_some_and(|v| {
            v.split(',').any(|a| {
                let a = a.trim();
                a.eq_ignore_ascii_case("members")
                    || a.eq_ignore_ascii_case("urn:ietf:params:scim:schemas:core:2.0:Group:members")
            })
        })
    }
}

/// The base URL of this server as the client sees it.
pub struct BaseUrl(pub String);

impl FromRequestParts<AppState> for BaseUrl {
    type Rejection = ScimError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(u) = &state.public_url {
            return Ok(Self(u.trim_end_matches('/').to_owned()));
        }
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            })
            .unwrap_or("localhost");
        Ok(Self(format!("http://{host}")))
    }
}

impl BaseUrl {
    pub fn links(&self, root: &str) -> Links {
        Links {
            root: format!("{}{root}", self.0),
        }
    }
}

/// Parses a resource id from the path. `None` when it is not a UUID: the caller decides
/// whether that is a 400 (ODM: "the supplied ID is invalid") or a 404.
pub fn parse_id(raw: &str) -> Option<Uuid> {
    Uuid::parse_str(raw).ok()
}

/// The version in an `If-Match: W/"n"` header; `*` matches any version.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ScimError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("").trim();
    if s == "*" {
        return Ok(None);
    }
    let inner = s.trim_start_matches("W/").trim_matches('"');
    inner.parse::<i64>().map(Some).map_err(|_| {
        ScimError::new(
            axum::http::StatusCode::PRECONDITION_FAILED,
            None,
            format!("If-Match {s:?} does not match any version of this resource"),
        )
    })
}
