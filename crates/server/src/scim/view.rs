//! How a `/scim/v2` answer is shaped, gathered once per request: absolute links from the
//! base URL, the projection (`attributes` / `excludedAttributes`) of the query string, and
//! the client's `If-None-Match`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use roster_core::Page;

use super::projection::Projection;
use super::render::Resource;
use super::ROOT;
use crate::app::AppState;
use crate::http::extract::{not_modified, not_modified_response, QueryPairs};
use crate::http::ApiError;
use crate::scim_resource::{list_json, respond, Links};

pub struct View {
    pub links: Links,
    pub projection: Projection,
    if_none_match: Option<HeaderValue>,
}

impl FromRequestParts<AppState> for View {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let q = QueryPairs::from_request_parts(parts, state).await?;
        Ok(Self {
            links: Links::new(&state.public_url, ROOT),
            projection: Projection::from_query(q.get("attributes"), q.get("excludedAttributes"))?,
            if_none_match: parts.headers.get(header::IF_NONE_MATCH).cloned(),
        })
    }
}

impl View {
    /// One resource with its ETag, shaped by the projection; 304 for a GET whose
    /// `If-None-Match` names this version; a `Location` when it was just created.
    pub fn one(&self, r: &impl Resource, status: StatusCode) -> Response {
        let etag = r.etag();
        if status == StatusCode::OK && not_modified(self.if_none_match.as_ref(), &etag) {
            return not_modified_response(&etag);
        }
        let mut body = r.json(&self.links);
        self.projection.apply(&mut body);
        let location = (status == StatusCode::CREATED).then(|| r.location(&self.links));
        respond(status, body, Some(etag), location)
    }

    /// A ListResponse; `p` is the query's or a SearchRequest's projection.
    pub fn list<R: Resource>(&self, page: &Page<R>, p: &Projection) -> Response {
        let body = list_json(page, |item| {
            let mut v = item.json(&self.links);
            p.apply(&mut v);
            v
        });
        respond(StatusCode::OK, body, None, None)
    }
}
