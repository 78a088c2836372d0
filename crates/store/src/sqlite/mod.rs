//! The embedded default backend, on rusqlite. One writer connection behind an async mutex
//! (SQLite admits one writer at a time; writers queue there instead of spinning on
//! SQLITE_BUSY, and share commits: see [`writer`]) and a small pool of read-only
//! connections, all in WAL mode.
//!
//! Statements run on the calling task's thread: they are B-tree work of microseconds, and
//! handing each one to a connection thread and back (what an async SQLite driver does) cost
//! about half of the server's CPU under load. The one statement that can wait on another
//! process — `BEGIN IMMEDIATE` while the CLI or a second node writes — is run with
//! `block_in_place`, so it never stalls the other tasks of its worker.
//! Migrations still go through `sqlx::migrate`, which keeps the schema history table that
//! both backends share.

mod conn;
mod writer;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Mutex as SyncMutex;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::db::{Arg, Backend, Dialect, Exec, Row, Tx};
use crate::{OpenOptions, Result, StoreError};
use conn::{is_busy, open_conn, Conn, Target};
use writer::Writer;

pub struct SqliteBackend {
    writer: Writer,
    readers: SyncMutex<Vec<Conn>>,
    read_slots: Semaphore,
    /// How many read connections there are.
    read_count: u32,
    acquire_timeout: Duration,
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
            private_files(&file)?;
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
            writer: Writer::new(writer),
            readers: SyncMutex::new(readers),
            read_slots: Semaphore::new(n),
            read_count: u32::try_from(n).unwrap_or(u32::MAX),
            acquire_timeout: opts.acquire_timeout,
        })
    }
}

/// Copies the SQLite database at `url` to a new file `dest` (created 0600; an existing file
/// is refused) with SQLite's online backup API, while servers go on writing: all pages are
/// copied in one step under one read transaction, so the copy is the database as of one
/// commit (WAL mode lets writers continue meanwhile). Returns the pages copied.
pub fn backup(url: &str, dest: &std::path::Path) -> Result<i32> {
    let parsed = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("bad SQLite URL {url:?}: {e}")))?;
    let file: PathBuf = parsed.get_filename().to_owned();
    if file.as_os_str() == ":memory:" || file.as_os_str().is_empty() || !file.exists() {
        return Err(StoreError::Config(format!(
            "no SQLite database file at {}",
            file.display()
        )));
    }
    {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dest)
            .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dest.display())))?;
    }
    copy(&file, dest).inspect_err(|_| {
        // No half-made file left behind under the name of a backup.
        let _ = std::fs::remove_file(dest);
    })
}

fn copy(file: &std::path::Path, dest: &std::path::Path) -> Result<i32> {
    let src = rusqlite::Connection::open_with_flags(
        file,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(Duration::from_secs(30))?;
    let mut dst = rusqlite::Connection::open(dest)?;
    let copied = {
        let b = rusqlite::backup::Backup::new(&src, &mut dst)?;
        // -1: every page in one step, under one read transaction of the source.
        let mut waits = 0;
        loop {
            match b.step(-1)? {
                rusqlite::backup::StepResult::Done => break,
                rusqlite::backup::StepResult::More => {}
                // Busy/locked: a writer of another process holds what the step needs.
                _ if waits < 1500 => {
                    waits += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    return Err(StoreError::Unavailable(
                        "the database stayed locked for 30 s; no backup was made".into(),
                    ))
                }
            }
        }
        b.progress().pagecount
    };
    // The copy keeps the source's WAL mode; check it before calling it a backup.
    let ok: String = dst.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if ok != "ok" {
        return Err(StoreError::Config(format!(
            "the copy failed its integrity check: {ok}"
        )));
    }
    Ok(copied)
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

/// Runs `f`, letting the runtime move this worker's other tasks elsewhere if it may block
/// (on a multi-threaded runtime; a current-thread runtime has nowhere to move them).
pub(super) fn may_block<T>(f: impl FnOnce() -> T) -> T {
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

#[async_trait]
impl Backend for SqliteBackend {
    fn dialect(&self) -> Dialect {
        Dialect::SQLITE
    }

    fn pool_stats(&self) -> crate::PoolStats {
        crate::PoolStats {
            size: self.read_count,
            idle: u32::try_from(self.read_slots.available_permits()).unwrap_or(u32::MAX),
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
        Ok(Box::new(self.writer.begin().await?))
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

/// The database holds every password and token hash: its directory is created 0700 and the
/// file 0600 (SQLite gives its `-wal` and `-shm` the database file's mode), so no other
/// local account can read them. Existing ones that are wider are left as they are, with a
/// warning that says how to fix them.
fn private_files(file: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        warn_if_open(dir);
    }
    if !file.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(file)
            .map(drop)
            .or_else(|e| match e.kind() {
                // Another process created it in between: fine, it is checked below.
                std::io::ErrorKind::AlreadyExists => Ok(()),
                _ => Err(e),
            })
            .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", file.display())))?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut p = file.as_os_str().to_owned();
        p.push(suffix);
        warn_if_open(std::path::Path::new(&p));
    }
    Ok(())
}

/// Warns when other local accounts may read `path`.
fn warn_if_open(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        let want = if meta.is_dir() { "700" } else { "600" };
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            "other local accounts can read Roster's database here (it holds every password and token hash); chmod {want} it"
        );
    }
}
