//! A statement that runs past the statement timeout is cancelled with `Unavailable` (the
//! server answers 503), and the connection it ran on stays usable.

use std::time::{Duration, Instant};

use roster_store::db::Backend;
use roster_store::{OpenOptions, StoreError};

mod common;
use common::{database_url, on_postgres};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_statement_is_cancelled_and_the_pool_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(dir.path(), "timeout").await;
    let opts = OpenOptions {
        max_connections: 1,
        statement_timeout: Duration::from_millis(200),
        ..OpenOptions::default()
    };
    let slow = if on_postgres() {
        "SELECT pg_sleep(10) IS NULL AS n"
    } else {
        // About a minute of work: a billion rows counted one by one.
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1000000000) \
         SELECT count(*) AS n FROM c"
    };
    let db: Box<dyn Backend> = if on_postgres() {
        Box::new(
            roster_store::postgres::PgBackend::open(&url, &opts)
                .await
                .unwrap(),
        )
    } else {
        Box::new(
            roster_store::sqlite::SqliteBackend::open(&url, &opts)
                .await
                .unwrap(),
        )
    };

    let started = Instant::now();
    let err = db
        .reader()
        .await
        .unwrap()
        .fetch_all(slow, &[])
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, StoreError::Unavailable(ref m) if m.contains("statement timeout")),
        "{err:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "cancelled only after {took:?}"
    );

    // The one pooled connection answers the next statement, and writes still commit.
    let row = db
        .reader()
        .await
        .unwrap()
        .fetch_one("SELECT 41 + 1 AS n", &[])
        .await
        .unwrap();
    assert_eq!(row.int("n").unwrap(), 42);
    let mut tx = db.begin().await.unwrap();
    tx.execute(
        "INSERT INTO audit_log (at, action) VALUES (?, ?)",
        &roster_store::args![1_i64, "timeout-test"],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let n = db
        .reader()
        .await
        .unwrap()
        .fetch_one(
            "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'timeout-test'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n.int("n").unwrap(), 1);
}
