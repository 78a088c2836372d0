use roster_core::CoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("version mismatch")]
    VersionMismatch,
    /// The domain refused the change (e.g. a PATCH produced an invalid user).
    #[error(transparent)]
    Rejected(#[from] CoreError),
    #[error("{0}")]
    Config(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Db(sqlx::Error),
    #[error("{}", migrate_message(.0))]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                let msg = db.message();
                if msg.contains("user_name_key") {
                    StoreError::Conflict("userName is already taken by another user".into())
                } else {
                    StoreError::Conflict(format!("uniqueness violated: {msg}"))
                }
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Db(e),
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
            other => CoreError::Internal(other.to_string()),
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
