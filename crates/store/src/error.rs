use roster_core::{CoreError, Entity, Unique};
use thiserror::Error;

/// Typed failures; no user-facing sentences (each dialect words not-found and conflicts its
/// own way). Driver errors keep their cause as `source` so the one place that logs server
/// errors can print the whole chain.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(Entity),
    #[error("{0}")]
    Conflict(Unique),
    #[error("version mismatch")]
    VersionMismatch,
    /// The domain refused the change (e.g. a PATCH produced an invalid user).
    #[error(transparent)]
    Rejected(#[from] CoreError),
    #[error("{0}")]
    Config(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error")]
    Db(#[source] sqlx::Error),
    #[error("database error")]
    Sqlite(#[source] rusqlite::Error),
    #[error("{}", migrate_message(.0))]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

const TOO_SLOW: &str =
    "the query ran longer than the statement timeout (ROSTER_DB_STATEMENT_TIMEOUT_MS)";

/// A statement ran past ROSTER_DB_STATEMENT_TIMEOUT_MS (counted for the metrics).
fn statement_timeout() -> StoreError {
    metrics::counter!("roster_db_statement_timeouts_total").increment(1);
    StoreError::Unavailable(TOO_SLOW.into())
}

/// A unique index refused a write: the message names the index or column.
fn uniqueness(msg: &str) -> StoreError {
    if msg.contains("user_name_key") {
        StoreError::Conflict(Unique::UserName)
    } else {
        StoreError::Conflict(Unique::Other(msg.to_owned()))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => uniqueness(db.message()),
            // query_canceled: statement_timeout fired.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("57014") => {
                statement_timeout()
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Db(e),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi;
        match &e {
            rusqlite::Error::SqliteFailure(f, msg)
                if f.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                uniqueness(msg.as_deref().unwrap_or("unique constraint"))
            }
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseBusy
                        | rusqlite::ErrorCode::DatabaseLocked
                        | rusqlite::ErrorCode::CannotOpen
                        | rusqlite::ErrorCode::SystemIoFailure
                        | rusqlite::ErrorCode::DiskFull
                ) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::OperationInterrupted =>
            {
                statement_timeout()
            }
            _ => StoreError::Sqlite(e),
        }
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => CoreError::NotFound(m),
            StoreError::Conflict(m) => CoreError::Uniqueness(m),
            StoreError::VersionMismatch => CoreError::PreconditionFailed,
            StoreError::Rejected(c) => c,
            StoreError::Unavailable(m) => CoreError::Unavailable(m),
            other => CoreError::Internal(crate::error_chain(&other)),
        }
    }
}

fn migrate_message(e: &sqlx::migrate::MigrateError) -> String {
    match e {
        sqlx::migrate::MigrateError::VersionMissing(v) => format!(
            "the database schema is newer than this roster binary (it has migration {v}, which this \
             binary does not know); run a roster release at least as new as the one that migrated it"
        ),
        other => format!("migration failed: {other}"),
    }
}
