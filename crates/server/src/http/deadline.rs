//! The request time-out (`ROSTER_REQUEST_TIMEOUT_SECS`), which never answers "failed" for a
//! change that commits: it abandons a request only while none of its changes has begun to
//! commit (a [`CommitGate`] in the request's extensions, which the store's commits pass), and
//! once one has, it lets the request finish and answer the truth. A write that reaches its
//! commit after the time-out fired is rolled back instead.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use roster_store::CommitGate;
use tokio::time::Instant;
use tower::Service;

use super::error::{ApiError, Kind};

/// When the request runs out of time (for work that can stop early, like /Bulk).
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub Instant);

/// Runs the request on `inner` within `timeout` (see the module docs).
pub async fn within<S>(timeout: Duration, mut req: Request, mut inner: S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let gate = CommitGate::default();
    let deadline = Instant::now() + timeout;
    req.extensions_mut().insert(gate.clone());
    req.extensions_mut().insert(Deadline(deadline));
    let run = inner.call(req);
    tokio::pin!(run);
    let answer = |r: Result<Response, Infallible>| match r {
        Ok(res) => res,
        Err(never) => match never {},
    };
    tokio::select! {
        res = &mut run => answer(res),
        () = tokio::time::sleep_until(deadline) => {
            if gate.time_out() {
                ApiError::new(
                    Kind::Unavailable,
                    "the request took longer than the server allows (ROSTER_REQUEST_TIMEOUT_SECS); nothing was changed",
                )
                .into_response()
            } else {
                // A change of this request is committing: its answer is the truth.
                answer(run.await)
            }
        }
    }
}
