//! The substring index on email values follows every write: after a user's emails are
//! replaced, emptied or the user deleted, `emails.value co` finds the new values only, also
//! when writes share a transaction and some of them are undone. (On SQLite the index is an
//! FTS5 table kept in step by triggers, and writers share commits, one SAVEPOINT each.)

use std::sync::Arc;

use roster_core::filter::parse_filter;
use roster_core::schema::{resolve, Resource};
use roster_core::{Email, NewUser, UserName};
use roster_store::{Store, StoreError, WriteCtx};

mod common;
use common::{fresh_store, on_postgres, user_names};

fn email(value: &str) -> Email {
    Email {
        value: value.into(),
        kind: Some("work".into()),
        primary: false,
        display: None,
    }
}

/// userNames of the users `filter` selects.
async fn names(store: &dyn Store, filter: &str) -> Vec<String> {
    let cond = resolve(Resource::User, &parse_filter(filter).unwrap()).unwrap();
    let (names, total) = user_names(store, Some(cond), 1, 100).await;
    assert_eq!(total as usize, names.len(), "{filter}");
    names
}

async fn create(store: &dyn Store, name: &str, emails: &[&str]) -> uuid::Uuid {
    let mut u = NewUser::new(UserName::parse(name).unwrap());
    u.emails = emails.iter().map(|e| email(e)).collect();
    store
        .create_user(&common::admin(), &WriteCtx::default(), &u)
        .await
        .unwrap()
        .id
}

async fn set_emails(store: &dyn Store, id: uuid::Uuid, emails: &[&str]) {
    let emails: Vec<Email> = emails.iter().map(|e| email(e)).collect();
    store
        .update_user(
            &common::admin().editor(),
            &WriteCtx::default(),
            id,
            None,
            &move |u| {
                u.emails = emails.clone();
                Ok(())
            },
        )
        .await
        .unwrap();
}

/// FTS5 compares its index with the content table (SQLite only; PostgreSQL's index is
/// maintained by the engine itself).
async fn check_sqlite_index(url: &str) {
    if on_postgres() {
        return;
    }
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
    sqlx::query(
        "INSERT INTO user_emails_fts (user_emails_fts, rank) VALUES ('integrity-check', 1)",
    )
    .execute(&mut db)
    .await
    .unwrap();
    let (fts, table): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM user_emails_fts WHERE value_key GLOB '*@*'), (SELECT COUNT(*) FROM user_emails)",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(fts, table);
    db.close().await.unwrap();
}

#[tokio::test]
async fn substring_filters_follow_email_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (url, store) = fresh_store(dir.path(), "emails").await;
    let store = &*store;

    let ann = create(
        store,
        "ann",
        &["Old-Ann-123@Example.com", "keep-ann@example.com"],
    )
    .await;
    create(store, "bob", &["bob-456@example.com"]).await;
    assert_eq!(
        names(store, r#"emails.value co "old-ann-123@""#).await,
        ["ann"]
    );
    assert_eq!(names(store, r#"emails.value sw "OLD-ANN""#).await, ["ann"]);
    assert_eq!(
        names(store, r#"emails.value ew "-456@example.com""#).await,
        ["bob"]
    );

    // An edit that leaves the emails alone leaves them found.
    store
        .update_user(
            &common::admin().editor(),
            &WriteCtx::default(),
            ann,
            None,
            &|u| {
                u.display_name = Some("Ann".into());
                Ok(())
            },
        )
        .await
        .unwrap();
    assert_eq!(
        names(store, r#"emails.value co "keep-ann@""#).await,
        ["ann"]
    );

    // Replaced: the new value matches, the old ones do not.
    set_emails(store, ann, &["new-ann-789@example.com"]).await;
    assert_eq!(
        names(store, r#"emails.value co "new-ann-789""#).await,
        ["ann"]
    );
    assert!(names(store, r#"emails.value co "old-ann""#)
        .await
        .is_empty());
    assert!(names(store, r#"emails.value co "keep-ann""#)
        .await
        .is_empty());
    check_sqlite_index(&url).await;

    // Emptied.
    set_emails(store, ann, &[]).await;
    assert!(names(store, r#"emails.value co "ann-789""#)
        .await
        .is_empty());
    assert_eq!(
        names(store, r#"emails.value co "@example.com""#).await,
        ["bob"]
    );
    check_sqlite_index(&url).await;

    // Deleted with its user (ON DELETE CASCADE). SQLite hands freed row ids out again, so
    // a stale index entry would match the newcomer's row.
    let bob = store
        .find_user_by_name(&common::admin().reader(), &UserName::parse("bob").unwrap())
        .await
        .unwrap()
        .unwrap();
    store
        .delete_user(&common::admin(), &WriteCtx::default(), bob.id, None)
        .await
        .unwrap();
    create(
        store,
        "cat",
        &["cat-000@example.com", "cat-001@example.com"],
    )
    .await;
    assert!(names(store, r#"emails.value co "bob-456""#)
        .await
        .is_empty());
    assert!(names(store, r#"emails.value co "old-ann""#)
        .await
        .is_empty());
    assert_eq!(names(store, r#"emails.value co "cat-00""#).await, ["cat"]);
    check_sqlite_index(&url).await;

    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_writes_in_a_shared_commit_leave_no_index_entries() {
    let dir = tempfile::tempdir().unwrap();
    let (url, store) = fresh_store(dir.path(), "emails").await;
    let mut taken = Vec::new();
    for i in 0..10 {
        taken.push(
            create(
                &*store,
                &format!("taken-{i}"),
                &[&format!("taken-{i}-old@example.com")],
            )
            .await,
        );
    }

    // At once: new users (kept), creates that collide with a taken name (refused, rolled
    // back to their savepoint after others' index writes), and email changes of taken users.
    let tasks: Vec<_> = (0..90)
        .map(|i| {
            let store = Arc::clone(&store);
            let taken = taken[i % 10];
            tokio::spawn(async move {
                match i % 3 {
                    0 => {
                        create(
                            &*store,
                            &format!("new-{i:02}"),
                            &[&format!("new-{i:02}-box@example.com")],
                        )
                        .await;
                    }
                    1 => {
                        let mut u =
                            NewUser::new(UserName::parse(&format!("TAKEN-{}", i % 10)).unwrap());
                        u.emails = vec![email(&format!("ghost-{i:02}@example.com"))];
                        let r = store
                            .create_user(&common::admin(), &WriteCtx::default(), &u)
                            .await;
                        assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
                    }
                    _ => {
                        set_emails(
                            &*store,
                            taken,
                            &[&format!("taken-{}-new@example.com", i % 10)],
                        )
                        .await
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }

    assert!(names(&*store, r#"emails.value co "ghost-""#)
        .await
        .is_empty());
    assert!(names(&*store, r#"emails.value co "-old@example""#)
        .await
        .is_empty());
    assert_eq!(
        names(&*store, r#"emails.value co "-new@example""#)
            .await
            .len(),
        10
    );
    for i in (0..90).step_by(3) {
        let name = format!("new-{i:02}");
        assert_eq!(
            names(&*store, &format!(r#"emails.value co "{name}-box""#)).await,
            [name]
        );
    }
    check_sqlite_index(&url).await;
    store.close().await;
}
