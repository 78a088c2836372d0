//! One SQLite connection as the store uses it: statements prepared once and cached, values
//! bound from [`Arg`], rows decoded to [`Row`] by storage class, and a deadline per statement.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, ToSql};

use crate::db::{Arg, Row, Val};
use crate::{OpenOptions, Result, StoreError};

/// Where the database lives, as SQLite's open call wants it.
pub(super) struct Target {
    pub path: String,
    pub uri: bool,
}

/// A connection with a statement deadline: statements run on the caller's thread, so a
/// runaway one (an unindexed filter over millions of rows) is interrupted after
/// `statement_timeout` rather than holding a runtime worker indefinitely.
pub(super) struct Conn {
    pub conn: Connection,
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
    pub fn control(&self, sql: &str) -> rusqlite::Result<()> {
        self.deadline.store(u64::MAX, Ordering::Relaxed);
        self.conn.execute_batch(sql)
    }

    pub fn execute(&self, sql: &str, args: &[Arg]) -> Result<u64> {
        self.arm();
        let mut stmt = self.conn.prepare_cached(sql)?;
        bind_args(&mut stmt, args)?;
        Ok(stmt.raw_execute()? as u64)
    }

    /// SQLite types values, not columns: the storage class decides.
    pub fn fetch_all(&self, sql: &str, args: &[Arg]) -> Result<Vec<Row>> {
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

pub(super) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

pub(super) fn open_conn(t: &Target, opts: &OpenOptions, read_only: bool) -> rusqlite::Result<Conn> {
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
        // Every request of a shared commit runs in a SAVEPOINT, whose undo journal (and
        // FTS5's pending index data) would otherwise go to a temporary file. It only serves
        // ROLLBACK TO inside a live transaction; crash safety is the WAL's, unchanged.
        c.pragma_update(None, "temp_store", "MEMORY")?;
    }
    Ok(Conn::new(c, opts.statement_timeout))
}

fn bind_args(stmt: &mut rusqlite::Statement<'_>, args: &[Arg]) -> rusqlite::Result<()> {
    for (i, a) in args.iter().enumerate() {
        let v: &dyn ToSql = match a {
            Arg::Null(_) => &rusqlite::types::Null,
            Arg::Int(n) | Arg::Inline(n) => n,
            Arg::Text(s) => s,
            Arg::Bool(b) => b,
        };
        stmt.raw_bind_parameter(i + 1, v)?;
    }
    Ok(())
}
