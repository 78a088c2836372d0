//! The single writer connection, with group commit.
//!
//! SQLite commits one transaction at a time and each commit is an fsync of the WAL. Requests
//! that arrive while another one is writing therefore share one transaction: each runs inside
//! its own SAVEPOINT (so a failing request undoes only its own work), and the last request of
//! the batch — the one that finds nobody queued behind it, or fills the batch — COMMITs for
//! all of them. A request is answered only after the COMMIT that contains its work has
//! returned: durability is that of one transaction per request (`synchronous=FULL`), the
//! fsync is shared.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

use super::conn::Conn;
use super::may_block;
use crate::db::{Arg, Exec, Row, Tx};
use crate::{Result, StoreError};

/// Most requests one COMMIT acknowledges: bounds the wait of the batch's first request.
const MAX_BATCH: usize = 32;

/// How long a parked request waits for the batch's COMMIT before doing it itself: only
/// needed when the request that was to follow left the queue (its client went away).
const GRACE: Duration = Duration::from_millis(20);

/// Brings the trigram indexes up to date with the rows the batch's requests changed (the
/// notes migration 0022's triggers leave), outside every request's SAVEPOINT: FTS5 writes a
/// segment per SAVEPOINT it takes part in, so this makes one per commit instead of one per
/// request. Runs in the transaction it indexes, right before its COMMIT.
const FTS_REPLAY: &str = "\
    INSERT INTO user_emails_fts (user_emails_fts, rowid, value_key) \
        SELECT cmd, rid, val FROM fts_pending WHERE tbl = 1 ORDER BY seq; \
    DELETE FROM users_names_fts WHERE rowid IN (SELECT rid FROM fts_pending WHERE tbl = 2); \
    INSERT INTO users_names_fts (rowid, user_name_key, given_key, family_key) \
        SELECT u.seq, u.user_name_key, lower(u.given_name), lower(u.family_name) FROM users u \
        WHERE u.seq IN (SELECT rid FROM fts_pending WHERE tbl = 2); \
    DELETE FROM fts_pending;";

/// The outcome of one COMMIT, for every request of the batch.
type Ack = oneshot::Sender<std::result::Result<(), String>>;

pub(super) struct State {
    conn: Conn,
    /// Requests whose work is in the open transaction, waiting for its COMMIT.
    parked: Vec<Ack>,
    /// Which batch is open (bumped by every COMMIT or ROLLBACK of the outer transaction).
    batch: u64,
}

impl State {
    /// Ends the open transaction with COMMIT and tells every parked request how it went.
    fn flush(&mut self) -> Result<()> {
        let outcome = if self.conn.conn.is_autocommit() {
            // SQLite rolled the whole transaction back on its own (I/O error, disk full, an
            // interrupted write): nothing of the batch is stored.
            Err(StoreError::Unavailable(
                "the write transaction was rolled back by the database".into(),
            ))
        } else {
            self.conn
                .control(FTS_REPLAY)
                .and_then(|()| self.conn.control("COMMIT"))
                .map_err(StoreError::from)
        };
        if outcome.is_err() && !self.conn.conn.is_autocommit() {
            if let Err(e) = self.conn.control("ROLLBACK") {
                tracing::warn!(error = %e, "rollback after a failed commit failed");
            }
        }
        self.batch += 1;
        // How many requests one COMMIT (one fsync) acknowledged.
        metrics::histogram!("roster_db_commit_batch_size").record(self.parked.len() as f64);
        let shared = outcome.as_ref().map(|_| ()).map_err(|e| e.to_string());
        for ack in self.parked.drain(..) {
            let _ = ack.send(shared.clone());
        }
        outcome
    }
}

#[derive(Clone)]
pub(super) struct Writer {
    state: Arc<Mutex<State>>,
    /// Requests waiting for the writer: while there are any, a finished request parks
    /// instead of committing.
    queued: Arc<AtomicUsize>,
}

/// Counts a request as queued for the writer until it gets it (or gives up waiting).
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Writer {
    pub fn new(conn: Conn) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                conn,
                parked: Vec::new(),
                batch: 0,
            })),
            queued: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub async fn begin(&self) -> Result<WriteTx> {
        let mut state = {
            self.queued.fetch_add(1, Ordering::SeqCst);
            let _queued = Queued(&self.queued);
            self.state.clone().lock_owned().await
        };
        if state.conn.conn.is_autocommit() {
            // IMMEDIATE takes the write lock up front, so a read-then-write transaction
            // never fails half-way with SQLITE_BUSY when another process writes too.
            may_block(|| state.conn.control("BEGIN IMMEDIATE"))?;
        }
        if let Err(e) = state.conn.control("SAVEPOINT request") {
            finish_alone(&mut state, &self.queued);
            return Err(e.into());
        }
        Ok(WriteTx {
            state: Some(state),
            writer: self.clone(),
        })
    }
}

/// After a request's work was undone: commit what the batch holds unless someone queued
/// will, so parked requests are never left waiting.
fn finish_alone(state: &mut State, queued: &AtomicUsize) {
    if queued.load(Ordering::SeqCst) == 0 || state.parked.len() >= MAX_BATCH {
        if let Err(e) = state.flush() {
            tracing::warn!(error = %e, "commit of a batch failed");
        }
    }
}

/// One request's part of the open transaction; dropped without `commit`, it is undone.
pub(super) struct WriteTx {
    state: Option<OwnedMutexGuard<State>>,
    writer: Writer,
}

impl WriteTx {
    fn conn(&self) -> Result<&Conn> {
        self.state
            .as_ref()
            .map(|s| &s.conn)
            .ok_or_else(|| StoreError::Unavailable("write transaction already ended".into()))
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let Some(mut state) = self.state.take() else {
            return;
        };
        if !state.conn.conn.is_autocommit() {
            if let Err(e) = state.conn.control("ROLLBACK TO request; RELEASE request") {
                tracing::warn!(error = %e, "rollback to savepoint failed");
            }
        }
        finish_alone(&mut state, &self.writer.queued);
    }
}

#[async_trait]
impl Exec for WriteTx {
    async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64> {
        self.conn()?.execute(sql, args)
    }

    async fn fetch_all(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Row>> {
        self.conn()?.fetch_all(sql, args)
    }
}

#[async_trait]
impl Tx for WriteTx {
    async fn commit(mut self: Box<Self>) -> Result<()> {
        let Some(mut state) = self.state.take() else {
            return Err(StoreError::Unavailable(
                "write transaction already ended".into(),
            ));
        };
        if state.conn.conn.is_autocommit() {
            // The database rolled the transaction back under us: this request's work is
            // gone with the rest of the batch, which flush() reports to the parked ones.
            let _ = state.flush();
            return Err(StoreError::Unavailable(
                "the write transaction was rolled back by the database".into(),
            ));
        }
        if let Err(e) = state.conn.control("RELEASE request") {
            self.state = Some(state);
            return Err(e.into()); // Drop undoes this request's part.
        }
        let writer = self.writer.clone();
        if writer.queued.load(Ordering::SeqCst) == 0 || state.parked.len() + 1 >= MAX_BATCH {
            return state.flush();
        }
        // Someone is queued: let them add their work to this transaction; the last of the
        // batch commits for all.
        let (ack, mut done) = oneshot::channel();
        state.parked.push(ack);
        let mut parked = Parked {
            writer,
            batch: state.batch,
            answered: false,
        };
        drop(state);
        loop {
            match tokio::time::timeout(GRACE, &mut done).await {
                Ok(outcome) => {
                    parked.answered = true;
                    return outcome
                        .unwrap_or_else(|_| Err("the write transaction ended unanswered".into()))
                        .map_err(StoreError::Unavailable);
                }
                // Nobody committed in time (the request queued behind us went away).
                Err(_) => parked.writer.flush_if_open(parked.batch).await,
            }
        }
    }
}

impl Writer {
    /// Commits batch `batch` if it is still the open one.
    async fn flush_if_open(&self, batch: u64) {
        let mut state = self.state.lock().await;
        if state.batch == batch {
            if let Err(e) = state.flush() {
                tracing::warn!(error = %e, "commit of a batch failed");
            }
        }
    }
}

/// A request waiting for its batch's COMMIT. If it is dropped unanswered (its client went
/// away), the batch must still end: otherwise the open transaction would keep SQLite's
/// write lock from other processes until this node's next write.
struct Parked {
    writer: Writer,
    batch: u64,
    answered: bool,
}

impl Drop for Parked {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (writer, batch) = (self.writer.clone(), self.batch);
            rt.spawn(async move {
                tokio::time::sleep(GRACE).await;
                writer.flush_if_open(batch).await;
            });
        }
    }
}
