//! Export and import of a whole directory, for backups across engines and for moving from
//! the embedded SQLite database to PostgreSQL.
//!
//! The format is JSON lines. The first line is the header
//! `{"format": "roster-export", "version": 1, "schema": <last migration>, "engine": ...}`;
//! every other line is one row, `{"t": "<table>", "r": {"<column>": value, ...}}`, with
//! integers, text, booleans (SQLite exports them as 0/1) and nulls, tables in [`TABLES`]
//! order (parents before children). Rows are exactly what the database holds: password and
//! token hashes, sealed secrets (they open only with the same server key), audit rows. Search
//! indexes (SQLite's FTS5 tables and row-count buckets, PostgreSQL's indexes) are not
//! exported: the target builds its own as the rows arrive.
//!
//! Export reads one snapshot (one read transaction) and streams: memory does not grow with
//! the directory. Import needs a database at the same schema version with none of the
//! tables holding a row, loads every row in one transaction (in multi-row batches) with its
//! audit row, and moves PostgreSQL's id sequences past the loaded ids. A merge import takes
//! a database that holds rows already: a row whose key is there must be there identically
//! (it is skipped), any difference fails the whole import, so a merge never overwrites or
//! drops a row (re-running an import, or loading a later export of the same directory
//! whose old rows did not change).

use std::collections::HashMap;
use std::io::{BufRead, Write};

use serde_json::{json, Map, Value};

use crate::db::{Arg, Ty};
use crate::{Result, StoreError};

/// The format's version: a change to the line shapes bumps it.
pub const FORMAT_VERSION: i64 = 1;

/// Every table of the directory, parents before children.
pub const TABLES: &[&str] = &[
    "users",
    "user_emails",
    "user_permissions",
    "user_capabilities",
    "api_tokens",
    "groups",
    "memberships",
    "roles",
    "user_roles",
    "object_storages",
    "storage_credentials",
    "oauth_clients",
    "refresh_tokens",
    "signing_keys",
    "server_meta",
    "one_time_tokens",
    "mail_outbox",
    "sessions",
    "user_totp",
    "totp_recovery",
    "audit_log",
];

/// Columns one engine has and the other does not, which an import into the other leaves out:
/// SQLite numbers email rows for its FTS5 index (migration 0007); PostgreSQL has no use for it.
pub(crate) const ENGINE_ONLY: &[(&str, &str)] = &[("user_emails", "seq")];

/// Tables that are logs: in a merge a row is the same row when everything but its number is
/// the same, and a new one is appended with a number of the target's (the numbers of two
/// databases' logs collide; the order of the trail is what they mean).
pub(crate) const APPEND_ONLY: &[(&str, &str)] = &[("audit_log", "seq")];

/// Rows per INSERT statement in an import.
const BATCH: usize = 200;

/// How many rows an export wrote, or an import loaded, per table; and for a merge, how
/// many were there already (identical).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(pub Vec<(String, u64)>, pub u64);

impl Counts {
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }

    pub(crate) fn add(&mut self, table: &str) {
        match self.0.last_mut() {
            Some((t, n)) if t == table => *n += 1,
            _ => self.0.push((table.to_owned(), 1)),
        }
    }
}

fn bad(msg: impl Into<String>) -> StoreError {
    StoreError::Config(msg.into())
}

fn header(schema: i64, engine: &str) -> Value {
    json!({"format": "roster-export", "version": FORMAT_VERSION, "schema": schema, "engine": engine})
}

fn line(out: &mut dyn Write, v: &Value) -> Result<()> {
    serde_json::to_writer(&mut *out, v)
        .map_err(|e| bad(format!("cannot write the export: {e}")))?;
    out.write_all(b"\n")
        .map_err(|e| bad(format!("cannot write the export: {e}")))
}

/// Streams the directory at `url` to `out`.
pub async fn export(url: &str, out: &mut (dyn Write + Send)) -> Result<Counts> {
    if url.starts_with("sqlite:") {
        let url = url.to_owned();
        // rusqlite is synchronous; the CLI has nothing else to do meanwhile.
        tokio::task::block_in_place(|| export_sqlite(&url, out))
    } else {
        export_postgres(url, out).await
    }
}

fn export_sqlite(url: &str, out: &mut (dyn Write + Send)) -> Result<Counts> {
    use sqlx::sqlite::SqliteConnectOptions;
    use std::str::FromStr;
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|e| bad(format!("bad SQLite URL {url:?}: {e}")))?;
    let c = rusqlite::Connection::open_with_flags(
        opts.get_filename(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.busy_timeout(std::time::Duration::from_secs(30))?;
    // One snapshot for every table.
    c.execute_batch("BEGIN")?;
    let schema: i64 = c.query_row("SELECT MAX(version) FROM _sqlx_migrations", [], |r| {
        r.get(0)
    })?;
    line(out, &header(schema, "sqlite"))?;
    let mut counts = Counts::default();
    for t in TABLES {
        let mut st = c.prepare(&format!("SELECT * FROM {t}"))?;
        let names: Vec<String> = st.column_names().iter().map(|n| (*n).to_owned()).collect();
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let mut obj = Map::with_capacity(names.len());
            for (i, n) in names.iter().enumerate() {
                use rusqlite::types::ValueRef;
                let v = match r.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => json!(n),
                    ValueRef::Real(f) => json!(f),
                    ValueRef::Text(s) => Value::String(String::from_utf8_lossy(s).into_owned()),
                    ValueRef::Blob(_) => {
                        return Err(bad(format!(
                            "{t}.{n} holds a blob, which no Roster table has"
                        )))
                    }
                };
                obj.insert(n.clone(), v);
            }
            line(out, &json!({"t": t, "r": obj}))?;
            counts.add(t);
        }
    }
    c.execute_batch("COMMIT")?;
    out.flush()
        .map_err(|e| bad(format!("cannot write the export: {e}")))?;
    Ok(counts)
}

async fn export_postgres(url: &str, out: &mut (dyn Write + Send)) -> Result<Counts> {
    use futures_util::TryStreamExt;
    use sqlx::{Column, Connection, Row, TypeInfo, ValueRef};
    let mut c = sqlx::postgres::PgConnection::connect(url).await?;
    let mut tx = c.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let schema: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&mut *tx)
        .await?;
    line(out, &header(schema, "postgres"))?;
    let mut counts = Counts::default();
    for t in TABLES {
        let sql = format!("SELECT * FROM {t}");
        let mut rows = sqlx::query(&sql).fetch(&mut *tx);
        while let Some(r) = rows.try_next().await? {
            let mut obj = Map::with_capacity(r.columns().len());
            for (i, col) in r.columns().iter().enumerate() {
                let raw = r.try_get_raw(i)?;
                let v = if raw.is_null() {
                    Value::Null
                } else {
                    match raw.type_info().name() {
                        "INT8" => json!(r.try_get::<i64, _>(i)?),
                        "INT4" => json!(r.try_get::<i32, _>(i)?),
                        "BOOL" => json!(r.try_get::<bool, _>(i)?),
                        _ => Value::String(r.try_get::<String, _>(i)?),
                    }
                };
                obj.insert(col.name().to_owned(), v);
            }
            line(out, &json!({"t": t, "r": obj}))?;
            counts.add(t);
        }
    }
    tx.commit().await?;
    out.flush()
        .map_err(|e| bad(format!("cannot write the export: {e}")))?;
    Ok(counts)
}

/// One row of an export, parsed.
pub struct ImportRow {
    pub table: String,
    pub columns: Map<String, Value>,
}

/// The rows of an export read from `input`, after checking its header against `schema`
/// (the target's last migration).
pub fn read_export(
    input: impl BufRead + Send + 'static,
    schema: i64,
) -> Result<impl Iterator<Item = Result<ImportRow>> + Send> {
    let mut lines = input.lines();
    let first = lines
        .next()
        .ok_or_else(|| bad("the export is empty"))?
        .map_err(|e| bad(format!("cannot read the export: {e}")))?;
    let h: Value =
        serde_json::from_str(&first).map_err(|_| bad("the first line is not an export header"))?;
    if h["format"] != "roster-export" {
        return Err(bad("not a Roster export (no roster-export header)"));
    }
    if h["version"] != FORMAT_VERSION {
        return Err(bad(format!(
            "export format version {} is not {FORMAT_VERSION}, the one this roster reads",
            h["version"]
        )));
    }
    if h["schema"] != schema {
        return Err(bad(format!(
            "the export is of schema {} and this database of schema {schema}: run both with the same roster version",
            h["schema"]
        )));
    }
    Ok(lines.enumerate().filter_map(|(i, l)| {
        let l = match l {
            Ok(l) if l.trim().is_empty() => return None,
            Ok(l) => l,
            Err(e) => return Some(Err(bad(format!("cannot read the export: {e}")))),
        };
        Some(
            serde_json::from_str::<Value>(&l)
                .ok()
                .and_then(|v| {
                    let table = v.get("t")?.as_str()?.to_owned();
                    let columns = v.get("r")?.as_object()?.clone();
                    Some(ImportRow { table, columns })
                })
                .ok_or_else(|| bad(format!("line {} is not an export row", i + 2))),
        )
    }))
}

/// A column's type in the target, for binding JSON values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColType {
    Int,
    Text,
    Bool,
}

/// `v` as an argument for a column of type `ty`.
pub(crate) fn arg(v: &Value, ty: ColType, at: &str) -> Result<Arg> {
    Ok(match (v, ty) {
        (Value::Null, ColType::Int) => Arg::Null(Ty::Int),
        (Value::Null, ColType::Text) => Arg::Null(Ty::Text),
        (Value::Null, ColType::Bool) => Arg::Null(Ty::Bool),
        (Value::Bool(b), ColType::Bool) => Arg::Bool(*b),
        (Value::Bool(b), ColType::Int) => Arg::Int(i64::from(*b)),
        (Value::Number(n), ColType::Bool) => Arg::Bool(n.as_i64() != Some(0)),
        (Value::Number(n), ColType::Int) => Arg::Int(
            n.as_i64()
                .ok_or_else(|| bad(format!("{at}: {n} is not an integer")))?,
        ),
        (Value::String(s), ColType::Text) => Arg::Text(s.clone()),
        _ => return Err(bad(format!("{at}: {v} does not fit the column"))),
    })
}

/// The columns of every table as the target has them.
pub(crate) type Columns = HashMap<String, HashMap<String, ColType>>;

pub(crate) fn col_type(declared: &str) -> ColType {
    let d = declared.to_ascii_lowercase();
    if d.contains("int") {
        ColType::Int
    } else if d.contains("bool") {
        ColType::Bool
    } else {
        ColType::Text
    }
}

/// A multi-row INSERT for `rows` of one table (every row with the same columns, in order).
pub(crate) fn insert_sql(table: &str, columns: &[String], rows: usize) -> String {
    let one = format!("({})", vec!["?"; columns.len()].join(", "));
    format!(
        "INSERT INTO {table} ({}) VALUES {}",
        columns.join(", "),
        vec![one; rows].join(", ")
    )
}

pub(crate) const IMPORT_BATCH: usize = BATCH;
