//! The embedded default backend, on rusqlite. One writer connection behind an async mutex
//! (SQLite admits one writer at a time; writers queue there instead of spinning on
//! SQLITE_BUSY) and a small pool of read-only connections, all in WAL mode.
//!
//! Statements run on the calling task's thread: they are B-tree work of microseconds, and
//! handing each one to a connection thread and back (what an async SQLite driver does) cost
//! about half of the server's CPU under load. The one statement that can wait on another
//! process — `BEGIN IMMEDIATE` while the CLI or a second node writes — is run with
//! `block_in_place`, so it never stalls the other tasks of its worker.
//! Migrations still go through `sqlx::migrate`, which keeps the schema history table that
//! both backends share.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as SyncMutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, ToSql};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use tokio::sync::{OwnedMutexGuard, Semaphore, SemaphorePermit};

use crate::db::{Arg, Backend, Dialect, Exec, Row, Tx, Val};
use crate::{OpenOptions, Result, StoreError};

pub struct SqliteBackend {
    writer: Arc<tokio::sync::Mutex<Conn>>,
    readers: SyncMutex<Vec<Conn>>,
    read_slots: Semaphore,
    acquire_timeout: Duration,
}

/// Where the database lives, as SQLite's open call wants it.
struct Target {
    path: String,
    uri: bool,
}

impl SqliteBackend {
    pub async fn open(url: &str, opts: &OpenOptions) -> Result<Self> {
        let parsed = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad SQLite URL {url:?}: {e}")))?;
        let file: PathBuf = parsed.get_filename().to_owned();
        let target = if file.as_os_str() == ":memory:" || file.as_os_str().is_empty() {
            // Every connection must see the same in-memory database: name it and share it.
            Target {
                path: format!(
                    "file:roster-{}?mode=memory&cache=shared",
                    uuid::Uuid::new_v4().simple()
                ),
                uri: true,
            }
        } else {
            if let Some(dir) = file.parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Config(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
            }
            Target {
                path: file.to_string_lossy().into_owned(),
                uri: false,
            }
        };

        // The writer first: it creates the file and switches it to WAL, which needs a
        // moment of exclusive access that a second process starting at the same instant can
        // deny outside the busy handler — hence the retries.
        let mut tries = 0;
        let writer = loop {
            match open_conn(&target, opts, false) {
                Ok(c) => break c,
                Err(e) if tries < 10 && is_busy(&e) => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(50 * tries)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        migrate(&target, opts).await?;
        let n = opts.max_connections.max(1) as usize;
        let readers = (0..n)
            .map(|_| open_conn(&target, opts, true))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Self {
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
            readers: SyncMutex::new(readers),
            read_slots: Semaphore::new(n),
            acquire_timeout: opts.acquire_timeout,
        })
    }
}

/// A connection with a statement deadline: statements run on the caller's thread, so a
/// runaway one (an unindexed filter over millions of rows) is interrupted after
/// `statement_timeout` rather than holding a runtime worker indefinitely.
struct Conn {
    conn: Connection,
    deadline: Arc<AtomicU64>,
    timeout: Duration,
}

/// Microseconds since the first call: the clock the progress handlers compare against.
fn clock_us() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as u64
}

impl Conn {
    fn new(conn: Connection, timeout: Duration) -> Self {
        let deadline = Arc::new(AtomicU64::new(u64::MAX));
        let d = deadline.clone();
        // Checked every few thousand VM instructions: negligible next to the work itself.
        conn.progress_handler(4096, Some(move || clock_us() > d.load(Ordering::Relaxed)));
        Self {
            conn,
            deadline,
            timeout,
        }
    }

    /// Arms the deadline for the next statement.
    fn arm(&self) {
        let t = clock_us().saturating_add(self.timeout.as_micros() as u64);
        self.deadline.store(t, Ordering::Relaxed);
    }

    /// Transaction control is never interrupted: a COMMIT cut short would be a failure
    /// the client could not interpret.
    fn control(&self, sql: &str) -> rusqlite::Result<()> {
        self.deadline.store(u64::MAX, Ordering::Relaxed);
        self.conn.execute_batch(sql)
    }

    fn execute(&self, sql: &str, args: &[Arg]) -> Result<u64> {
        self.arm();
        let mut stmt = self.conn.prepare_cached(sql)?;
        bind_args(&mut stmt, args)?;
        Ok(stmt.raw_execute()? as u64)
    }

    /// SQLite types values, not columns: the storage class decides.
    fn fetch_all(&self, sql: &str, args: &[Arg]) -> Result<Vec<Row>> {
        self.arm();
        let mut stmt = self.conn.prepare_cached(sql)?;
        bind_args(&mut stmt, args)?;
        let cols: Arc<[String]> = stmt
            .column_names()
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let n = cols.len();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut vals = Vec::with_capacity(n);
            for i in 0..n {
                vals.push(match r.get_ref(i)? {
                    ValueRef::Null => Val::Null,
                    ValueRef::Integer(v) => Val::Int(v),
                    ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                    other @ (ValueRef::Real(_) | ValueRef::Blob(_)) => {
                        return Err(StoreError::Sqlite(rusqlite::Error::InvalidColumnType(
                            i,
                            cols[i].clone(),
                            other.data_type(),
                        )))
                    }
                });
            }
            out.push(Row {
                cols: cols.clone(),
                vals,
            });
        }
        Ok(out)
    }
}

/// Upper bound of the readers' memory map (the file is mapped up to this size).
const MMAP_BYTES: i64 = 1 << 30;

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn open_conn(t: &Target, opts: &OpenOptions, read_only: bool) -> rusqlite::Result<Conn> {
    let mut flags = OpenFlags::SQLITE_OPEN_NO_MUTEX;
    flags |= if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
    };
    if t.uri {
        flags |= OpenFlags::SQLITE_OPEN_URI;
    }
    let c = Connection::open_with_flags(&t.path, flags)?;
    c.busy_timeout(opts.busy_timeout)?;
    // LIKE is case-sensitive, as on PostgreSQL: case-insensitive attributes are folded on
    // both sides instead.
    c.pragma_update(None, "case_sensitive_like", true)?;
    c.set_prepared_statement_cache_capacity(64);
    if read_only && !t.uri {
        // Readers map the file: a page read is a memory access instead of a pread(2) into a
        // private per-connection cache. The mapped pages are the OS page cache, shared by
        // every connection and reclaimable.
        c.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    }
    if !read_only {
        if !t.uri {
            c.pragma_update(None, "journal_mode", "WAL")?;
        }
        // FULL: a commit is on disk before it is acknowledged, even across power loss.
        c.pragma_update(None, "synchronous", "FULL")?;
        c.pragma_update(None, "foreign_keys", true)?;
    }
    Ok(Conn::new(c, opts.statement_timeout))
}

/// Applies the migrations through sqlx (its history table is the schema version both
/// backends check). SQLite has no advisory lock: when two processes migrate a new file at
/// once, the loser fails on "table exists", and its retry finds the migration applied.
async fn migrate(t: &Target, opts: &OpenOptions) -> Result<()> {
    let url = if t.uri {
        format!("sqlite:{}", t.path)
    } else {
        format!("sqlite://{}", t.path)
    };
    let options = SqliteConnectOptions::from_str(&url)
        .map_err(|e| StoreError::Config(format!("bad SQLite path {:?}: {e}", t.path)))?
        .journal_mode(if t.uri {
            SqliteJournalMode::Memory
        } else {
            SqliteJournalMode::Wal
        })
        .foreign_keys(true)
        .busy_timeout(opts.busy_timeout);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    let mut attempt = 0;
    let outcome = loop {
        match sqlx::migrate!("./migrations/sqlite").run(&pool).await {
            Ok(()) => break Ok(()),
            Err(e)
                if attempt < 5 && !matches!(e, sqlx::migrate::MigrateError::VersionMissing(_)) =>
            {
                attempt += 1;
                tracing::info!(error = %e, attempt, "migration raced another process; retrying");
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            }
            Err(e) => break Err(e.into()),
        }
    };
    pool.close().await;
    outcome
}

fn bind_args(stmt: &mut rusqlite::Statement<'_>, args: &[Arg]) -> rusqlite::Result<()> {
    for (i, a) in args.iter().enumerate() {
        let v: &dyn ToSql = match a {
            Arg::Null => &rusqlite::types::Null,
            Arg::Int(n) => n,
            Arg::Text(s) => s,
            Arg::Bool(b) => b,
        };
        stmt.raw_bind_parameter(i + 1, v)?;
    }
    Ok(())
}

/// Runs `f`, letting the runtime move this worker's other tasks elsewhere if it may block
/// (on a multi-threaded runtime; a current-thread runtime has nowhere to move them).
fn may_block<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// A pooled read-only connection, returned to the pool on drop.
struct ReadConn<'a> {
    conn: Option<Conn>,
    backend: &'a SqliteBackend,
    _slot: SemaphorePermit<'a>,
}

impl Drop for ReadConn<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            if let Ok(mut pool) = self.backend.readers.lock() {
                pool.push(c);
            }
        }
    }
}

impl ReadConn<'_> {
    fn conn(&self) -> Result<&Conn> {
        self.conn
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("read connection lost".into()))
    }
}

#[async_trait]
impl Exec for ReadConn<'_> {
    async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64> {
        self.conn()?.execute(sql, args)
    }

    async fn fetch_all(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Row>> {
        self.conn()?.fetch_all(sql, args)
    }
}

/// The write transaction: holds the writer until commit, rolls back if dropped first.
struct WriteTx {
    conn: OwnedMutexGuard<Conn>,
    open: bool,
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if self.open {
            if let Err(e) = self.conn.control("ROLLBACK") {
                tracing::warn!(error = %e, "rollback failed");
            }
        }
    }
}

#[async_trait]
impl Exec for WriteTx {
    async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64> {
        self.conn.execute(sql, args)
    }

    async fn fetch_all(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Row>> {
        self.conn.fetch_all(sql, args)
    }
}

#[async_trait]
impl Tx for WriteTx {
    async fn commit(mut self: Box<Self>) -> Result<()> {
        self.conn.control("COMMIT")?;
        self.open = false;
        Ok(())
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    fn dialect(&self) -> Dialect {
        // No row locks in SQLite; the single writer connection serialises writers.
        Dialect {
            lock_for_update: "",
        }
    }

    async fn reader(&self) -> Result<Box<dyn Exec + '_>> {
        let slot = tokio::time::timeout(self.acquire_timeout, self.read_slots.acquire())
            .await
            .map_err(|_| StoreError::Unavailable("no read connection free in time".into()))?
            .map_err(|_| StoreError::Unavailable("closed".into()))?;
        let conn = self
            .readers
            .lock()
            .map_err(|_| StoreError::Unavailable("read pool poisoned".into()))?
            .pop();
        Ok(Box::new(ReadConn {
            conn,
            backend: self,
            _slot: slot,
        }))
    }

    async fn begin(&self) -> Result<Box<dyn Tx + '_>> {
        let conn = self.writer.clone().lock_owned().await;
        if !conn.conn.is_autocommit() {
            // A transaction left open (cannot normally happen: WriteTx rolls back on drop).
            conn.control("ROLLBACK")?;
        }
        // IMMEDIATE takes the write lock up front, so a read-then-write transaction never
        // fails half-way with SQLITE_BUSY when another process (the CLI) writes too.
        may_block(|| conn.control("BEGIN IMMEDIATE"))?;
        Ok(Box::new(WriteTx { conn, open: true }))
    }

    async fn ping(&self) -> Result<()> {
        let mut r = self.reader().await?;
        r.fetch_all("SELECT 1", &[]).await?;
        Ok(())
    }

    async fn close(&self) {
        self.read_slots.close();
        if let Ok(mut pool) = self.readers.lock() {
            pool.clear();
        }
    }
}
