//! The neutral HTTP layer every dialect builds on: the one error type and its status table
//! ([`error`]), the authentication seam ([`auth`]), request ids, the shared extractors and
//! JSON bodies, and what mounting a dialect means ([`dialect`]). Dialect modules import
//! this layer, `roster_core` and `roster_store`, never one another
//! (`scripts/check-layering.sh` fails the test run when one does).

pub mod auth;
pub mod body;
pub mod connection;
pub mod deadline;
pub mod dialect;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod principals;
pub mod request_id;
pub mod tls;

pub use auth::Caller;
pub use error::{ApiError, Kind};

/// What a handler answers: a response, or an error the dialect renders.
pub type Answer<T = axum::response::Response> = Result<T, ApiError>;
