//! Genestack ODM's SCIM profile at `/api/v1/scim`, as its `odm-api` SDK and seed
//! documents describe it. Rules that differ from `/scim/v2` on purpose:
//! - user delete deactivates; inactive users vanish from find/get but can be patched;
//! - user create upserts by userName; password/permissions cannot be set; one email;
//! - filters: only `eq` and `and` (and `emails[...]` value paths) — see [`filter`];
//! - group create rejects members and makes the caller a group admin; group PATCH is 204;
//! - group visibility follows membership unless the caller has manage-groups;
//! - 401 and 500 use ODM's `{"error":{"message":...}}` body.

mod filter;
mod groups;
mod users;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use roster_core::{CoreError, Principal};
use serde_json::json;

use crate::app::AppState;
use crate::scim::error::ScimError;

pub const ROOT: &str = "/api/v1/scim";

/// The seed document's 401 text, which tells the caller how to authenticate.
const UNAUTHENTICATED: &str = "User is not authenticated. Please supply a valid Access Token in the `Authorization` HTTP header (e.g. Authorization: bearer [token]) or Genestack API token in the `Genestack-API-Token` header.";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/Users", get(users::find).post(users::create))
        .route(
            "/Users/{id}",
            get(users::get).patch(users::patch).delete(users::delete),
        )
        .route("/Groups", get(groups::find).post(groups::create))
        .route(
            "/Groups/{id}",
            get(groups::get).patch(groups::patch).delete(groups::delete),
        )
}

/// ODM's error rendering: SCIM errors, except 401 and 5xx which use `BaseErrorResponse`.
pub struct OdmError(ScimError);

impl From<ScimError> for OdmError {
    fn from(e: ScimError) -> Self {
        Self(e)
    }
}

impl From<CoreError> for OdmError {
    fn from(e: CoreError) -> Self {
        Self(e.into())
    }
}

impl From<roster_store::StoreError> for OdmError {
    fn from(e: roster_store::StoreError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for OdmError {
    fn into_response(self) -> Response {
        let e = self.0;
        if e.status == StatusCode::UNAUTHORIZED || e.status.is_server_error() {
            let mut res = (
                e.status,
                json!({"error": {"message": e.detail}}).to_string(),
            )
                .into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if e.status == StatusCode::UNAUTHORIZED {
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            res
        } else {
            e.into_response()
        }
    }
}

/// The authenticated caller of an ODM route, with the request id for the audit log.
pub struct Caller(pub Principal, pub Option<String>);

impl Caller {
    pub fn ctx(&self) -> roster_store::WriteCtx {
        crate::auth::write_ctx(&self.0, self.1.as_ref())
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = OdmError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let tokens = crate::auth::odm_tokens(&parts.headers);
        match crate::auth::authenticate(state, &tokens).await? {
            Some(p) => Ok(Caller(p, crate::auth::request_id(&parts.headers))),
            None => Err(OdmError(ScimError::new(
                StatusCode::UNAUTHORIZED,
                None,
                UNAUTHENTICATED,
            ))),
        }
    }
}

/// ODM: a malformed id is a 400 ("The supplied ID is invalid").
fn parse_id(raw: &str, what: &str) -> Result<uuid::Uuid, OdmError> {
    crate::scim::request::parse_id(raw).ok_or_else(|| {
        OdmError(ScimError::bad_request(
            "invalidValue",
            format!("The supplied {what} ID {raw:?} is invalid: ids are UUIDs"),
        ))
    })
}
