//! A deliberately small driver interface between the store logic and the SQL backends:
//! execute a statement or fetch rows, with `?` placeholders and [`Arg`] values. The
//! directory logic in [`crate::sql_store`] is written once against it; each backend
//! (SQLite, PostgreSQL) implements it in a few lines, converting placeholders and values.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{Result, StoreError};

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A NULL of a column type: PostgreSQL needs the type even for a NULL.
    Null(Ty),
    Int(i64),
    /// An integer PostgreSQL gets written into the statement (a `LIMIT`): its cached
    /// generic plan then knows the row count, where `LIMIT $n` made it cost every row's
    /// subqueries and re-plan each execution (0.1–0.2 ms a list). SQLite binds it.
    Inline(i64),
    Text(String),
    Bool(bool),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_owned())
    }
}
/// The column type of a NULL [`Arg`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Int,
    Text,
    Bool,
}

macro_rules! nullable {
    ($($t:ty => $ty:ident),*) => {$(
        impl From<Option<$t>> for Arg {
            fn from(v: Option<$t>) -> Self {
                v.map(Into::into).unwrap_or(Arg::Null(Ty::$ty))
            }
        }
    )*};
}
nullable!(i64 => Int, bool => Bool, String => Text, &str => Text);

/// Builds an argument list: `args![a, b, c]`.
#[macro_export]
macro_rules! args {
    ($($a:expr),* $(,)?) => { [$($crate::db::Arg::from($a)),*] };
}

/// A decoded column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Int(i64),
    /// An integer PostgreSQL gets written into the statement (a `LIMIT`): its cached
    /// generic plan then knows the row count, where `LIMIT $n` made it cost every row's
    /// subqueries and re-plan each execution (0.1–0.2 ms a list). SQLite binds it.
    Inline(i64),
    Text(String),
    Bool(bool),
}

/// One result row with its column names.
#[derive(Debug, Clone)]
pub struct Row {
    pub cols: Arc<[String]>,
    pub vals: Vec<Val>,
}

fn decode_err(msg: String) -> StoreError {
    StoreError::Db(sqlx::Error::Decode(msg.into()))
}

impl Row {
    /// Whether the row has a column of this name.
    pub fn has(&self, name: &str) -> bool {
        self.cols.iter().any(|c| c == name)
    }

    fn get(&self, name: &str) -> Result<&Val> {
        self.cols
            .iter()
            .position(|c| c == name)
            .and_then(|i| self.vals.get(i))
            .ok_or_else(|| decode_err(format!("no column {name}")))
    }

    pub fn int(&self, name: &str) -> Result<i64> {
        match self.get(name)? {
            Val::Int(i) => Ok(*i),
            Val::Bool(b) => Ok(i64::from(*b)),
            other => Err(decode_err(format!(
                "column {name}: expected an integer, got {other:?}"
            ))),
        }
    }

    pub fn opt_int(&self, name: &str) -> Result<Option<i64>> {
        match self.get(name)? {
            Val::Null => Ok(None),
            _ => self.int(name).map(Some),
        }
    }

    pub fn bool(&self, name: &str) -> Result<bool> {
        match self.get(name)? {
            Val::Bool(b) => Ok(*b),
            Val::Int(i) => Ok(*i != 0),
            other => Err(decode_err(format!(
                "column {name}: expected a boolean, got {other:?}"
            ))),
        }
    }

    pub fn opt_text(&self, name: &str) -> Result<Option<String>> {
        match self.get(name)? {
            Val::Null => Ok(None),
            Val::Text(s) => Ok(Some(s.clone())),
            other => Err(decode_err(format!(
                "column {name}: expected text, got {other:?}"
            ))),
        }
    }

    pub fn text(&self, name: &str) -> Result<String> {
        self.opt_text(name)?
            .ok_or_else(|| decode_err(format!("column {name} is NULL")))
    }
}

/// Decodes a driver's rows; `value` maps one column of one row to a [`Val`] (the part
/// that differs between engines).
pub fn decode_rows<R: sqlx::Row>(
    rows: &[R],
    value: impl Fn(&R, usize) -> Result<Val>,
) -> Result<Vec<Row>> {
    use sqlx::Column;
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let cols: Arc<[String]> = first
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    rows.iter()
        .map(|r| {
            let vals = (0..cols.len())
                .map(|i| value(r, i))
                .collect::<Result<Vec<_>>>()?;
            Ok(Row {
                cols: cols.clone(),
                vals,
            })
        })
        .collect()
}

/// Runs statements on one connection or transaction.
#[async_trait]
pub trait Exec: Send {
    async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64>;
    async fn fetch_all(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Row>>;

    async fn fetch_optional(&mut self, sql: &str, args: &[Arg]) -> Result<Option<Row>> {
        Ok(self.fetch_all(sql, args).await?.into_iter().next())
    }

    async fn fetch_one(&mut self, sql: &str, args: &[Arg]) -> Result<Row> {
        self.fetch_optional(sql, args)
            .await?
            .ok_or_else(|| decode_err("query returned no row".into()))
    }
}

/// A write transaction: dropped without `commit`, it rolls back.
#[async_trait]
pub trait Tx: Exec {
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// What differs between SQL engines beyond placeholders.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// PostgreSQL (else SQLite), where nothing more specific says what differs.
    pub postgres: bool,
    /// Appended to the SELECT that loads a row to be rewritten in a transaction.
    pub lock_for_update: &'static str,
    /// How `co`/`ew` on email values, userName and the given and family names reach the
    /// engine's trigram indexes.
    pub email_substring: EmailSubstring,
    /// `user_seq_buckets` exists (SQLite migration 0008, PostgreSQL 0021): exact row counts
    /// of `users` per block of 1,024 seq values, kept by triggers in the writing
    /// transaction. Deep pages find their first row by summing the counts, and the
    /// unfiltered total is their sum. On PostgreSQL a view over per-connection shard rows,
    /// so concurrent inserts do not queue on one counter row.
    pub seq_buckets: bool,
    /// A node writes the changes of one group that arrive together in one transaction
    /// (`sql_store::group_batch`): PostgreSQL holds the group's row lock through each
    /// change's COMMIT. SQLite's writer shares one COMMIT among all writes already.
    pub batch_group_changes: bool,
    /// A subquery whose rows become one JSON array of arrays, in the order of its index:
    /// `{open}a, b{row} FROM memberships m ... WHERE ...{close}`, `{order}` in `row` replaced
    /// by that index's column (PostgreSQL sorts by it; SQLite walks the index in order).
    pub json_rows: JsonRows,
}

/// The pieces of a subquery that returns its rows as one JSON array of arrays (`[]` when
/// there are none), in each engine's functions.
#[derive(Debug, Clone, Copy)]
pub struct JsonRows {
    pub open: &'static str,
    pub row: &'static str,
    pub close: &'static str,
}

impl Dialect {
    pub const SQLITE: Dialect = Dialect {
        postgres: false,
        // No row locks in SQLite; the single writer connection serialises writers.
        lock_for_update: "",
        email_substring: EmailSubstring::Fts5Glob,
        seq_buckets: true,
        batch_group_changes: false,
        json_rows: JsonRows {
            open: "(SELECT json_group_array(json_array(",
            // No ORDER BY: it would sort in a temporary b-tree on every row; the subquery
            // walks memberships_user (user_seq, group_seq), so rows come in group order.
            row: "))",
            close: ")",
        },
    };
    pub const POSTGRES: Dialect = Dialect {
        postgres: true,
        lock_for_update: " FOR UPDATE",
        email_substring: EmailSubstring::Like,
        seq_buckets: true,
        batch_group_changes: true,
        json_rows: JsonRows {
            open: "(SELECT COALESCE(json_agg(json_build_array(",
            row: ") ORDER BY {order}), '[]')::text",
            close: ")",
        },
    };
}

/// The SQL for a substring filter on `user_emails.value_key` and the users' names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailSubstring {
    /// `LIKE` on the column, which PostgreSQL's pg_trgm GIN index serves as it is.
    Like,
    /// A rowid lookup in the FTS5 trigram tables `user_emails_fts` (SQLite migration 0007)
    /// and `users_names_fts` (0017)
    /// with a GLOB pattern: SQLite never answers a LIKE on the content table from it.
    /// Prefixes (`sw`) stay LIKE, a range of the B-tree index on the column.
    Fts5Glob,
}

/// A database the store logic can run on.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    fn dialect(&self) -> Dialect;
    /// A pooled connection for reads.
    async fn reader(&self) -> Result<Box<dyn Exec + '_>>;
    /// A write transaction.
    async fn begin(&self) -> Result<Box<dyn Tx + '_>>;
    async fn ping(&self) -> Result<()>;
    async fn close(&self);
    /// The read pool: connections and idle ones.
    fn pool_stats(&self) -> crate::PoolStats;
}

/// `?` → `$1, $2, ...` for PostgreSQL. Roster's SQL never has `?` inside a literal.
pub fn numbered_placeholders(sql: &str) -> String {
    use std::fmt::Write;
    // Whole runs of text at a time, and no allocation per placeholder: this runs for every
    // statement PostgreSQL gets.
    let mut out = String::with_capacity(sql.len() + 16);
    for (n, run) in sql.split('?').enumerate() {
        if n > 0 {
            let _ = write!(out, "${n}");
        }
        out.push_str(run);
    }
    out
}

/// Starts a statement PostgreSQL must plan with its values each time instead of keeping one
/// generic plan: one about a group's memberships and a list of users. The generic plan
/// assumes an average group (~11 rows at 100,000 groups) and so reads the group's index range
/// and filters the users, which for a 100,000-member group read 100,000 entries per statement
/// (20 ms); planned with the group's own statistics it looks up each user (0.2 ms). A comment,
/// so SQLite ignores it.
pub const PLAN_WITH_VALUES: &str = "/* planned with its values */ ";

/// `?, ?, ?` for an IN list.
pub fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}
