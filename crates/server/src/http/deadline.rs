//! The request time-out (`ROSTER_REQUEST_TIMEOUT_SECS`), which never answers "failed" for a
//! change that commits: it abandons a request only while none of its changes has begun to
//! commit (a [`CommitGate`] in the request's extensions, which the store's commits pass), and
//! once one has, it lets the request finish and answer the truth. A write that reaches its
//! commit after the time-out fired is rolled back instead.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roster_store::CommitGate;
use tokio::time::Instant;

use super::error::{ApiError, Kind};

/// When the request runs out of time (for work that can stop early, like /Bulk).
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub Instant);

pub async fn limit(State(timeout): State<Duration>, mut req: Request, next: Next) -> Response {
    let gate = CommitGate::default();
    let deadline = Instant::now() + timeout;
    req.extensions_mut().insert(gate.clone());
    req.extensions_mut().insert(Deadline(deadline));
    let run = next.run(req);
    tokio::pin!(run);
    tokio::select! {
        res = &mut run => res,
        () = tokio::time::sleep_until(deadline) => {
            if gate.time_out() {
                ApiError::new(
                    Kind::Unavailable,
                    "the request took longer than the server allows (ROSTER_REQUEST_TIMEOUT_SECS); nothing was changed",
                )
                .into_response()
            } else {
                // A change of this request is committing: its answer is the truth.
                run.await
            }
        }
    }
}
