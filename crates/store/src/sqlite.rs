//! The embedded default backend. One writer connection (SQLite admits one writer at a time;
//! with a single connection writers queue in the pool instead of spinning on SQLITE_BUSY)
//! and a small pool of read-only connections, all in WAL mode.

use std::ops::DerefMut;
use std::str::FromStr;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row as _, Sqlite, SqliteConnection, SqlitePool, Transaction, TypeInfo, ValueRef};

use crate::db::{decode_rows, Arg, Backend, Dialect, Exec, Row, Tx, Val};
use crate::{OpenOptions, Result, StoreError};

pub struct SqliteBackend {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteBackend {
    pub async fn open(url: &str, opts: &OpenOptions) -> Result<Self> {
        let base = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad SQLite URL {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before it is acknowledged, even across power loss.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(opts.busy_timeout)
            // LIKE is case-sensitive, as on PostgreSQL: case-insensitive attributes are
            // folded on both sides instead.
            .pragma("case_sensitive_like", "ON");
        if let Some(dir) = base.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Config(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        // Switching a new file to WAL needs a moment of exclusive access, which a second
        // process starting at the same instant can deny with SQLITE_BUSY outside the busy
        // handler: retry the first connection a few times.
        let mut tries = 0;
        let writer = loop {
            match SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(base.clone())
                .await
            {
                Ok(p) => break p,
                Err(e) if tries < 10 && e.to_string().contains("locked") => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50 * tries)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        // SQLite has no advisory lock: when two processes migrate a new file at once, the
        // loser fails on "table exists". Its retry then finds the migration applied.
        let mut attempt = 0;
        loop {
            match sqlx::migrate!("./migrations/sqlite").run(&writer).await {
                Ok(()) => break,
                Err(e)
                    if attempt < 5
                        && !matches!(e, sqlx::migrate::MigrateError::VersionMissing(_)) =>
                {
                    attempt += 1;
                    tracing::info!(error = %e, attempt, "migration raced another process; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let reader = SqlitePoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .connect_with(base.read_only(true))
            .await?;
        Ok(Self { writer, reader })
    }
}

fn bind<'q>(
    mut q: sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>,
    args: &'q [Arg],
) -> sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>> {
    for a in args {
        q = match a {
            Arg::Null => q.bind(None::<String>),
            Arg::Int(i) => q.bind(*i),
            Arg::Text(s) => q.bind(s.as_str()),
            Arg::Bool(b) => q.bind(*b),
        };
    }
    q
}

/// SQLite types values, not columns: the storage class decides.
fn value(r: &SqliteRow, i: usize) -> Result<Val> {
    let raw = r.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Val::Null);
    }
    Ok(match raw.type_info().name() {
        "INTEGER" | "BOOLEAN" | "INT" | "BIGINT" => Val::Int(r.try_get(i)?),
        _ => Val::Text(r.try_get(i)?),
    })
}

fn decode(rows: Vec<SqliteRow>) -> Result<Vec<Row>> {
    decode_rows(&rows, value)
}

struct Conn<C>(C);

#[async_trait]
impl<C> Exec for Conn<C>
where
    C: DerefMut<Target = SqliteConnection> + Send,
{
    async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64> {
        Ok(bind(sqlx::query(sql), args)
            .execute(&mut *self.0)
            .await?
            .rows_affected())
    }

    async fn fetch_all(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Row>> {
        decode(bind(sqlx::query(sql), args).fetch_all(&mut *self.0).await?)
    }
}

#[async_trait]
impl Tx for Conn<Transaction<'static, Sqlite>> {
    async fn commit(self: Box<Self>) -> Result<()> {
        Ok(self.0.commit().await?)
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
        let c: PoolConnection<Sqlite> = self.reader.acquire().await?;
        Ok(Box::new(Conn(c)))
    }

    async fn begin(&self) -> Result<Box<dyn Tx + '_>> {
        // IMMEDIATE takes the write lock up front, so a read-then-write transaction never
        // fails half-way with SQLITE_BUSY when another process (the CLI) writes too.
        Ok(Box::new(Conn(
            self.writer.begin_with("BEGIN IMMEDIATE").await?,
        )))
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}
