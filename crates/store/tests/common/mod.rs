//! What the store tests share: which engine they run on and a fresh database on it.
#![allow(dead_code)]

/// True when `ROSTER_TEST_DATABASE_URL` names PostgreSQL (SQLite otherwise).
pub fn on_postgres() -> bool {
    std::env::var("ROSTER_TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres"))
}

/// A fresh SQLite file, or a fresh schema of the PostgreSQL test database.
pub async fn database_url(dir: &std::path::Path, name: &str) -> String {
    if !on_postgres() {
        return format!("sqlite://{}", dir.join(format!("{name}.db")).display());
    }
    let base = std::env::var("ROSTER_TEST_DATABASE_URL").unwrap_or_default();
    let schema = format!("{name}_{}", uuid::Uuid::new_v4().simple());
    let ok = tokio::process::Command::new("psql")
        .args([
            base.as_str(),
            "-q",
            "-c",
            &format!("CREATE SCHEMA {schema}"),
        ])
        .status()
        .await
        .is_ok_and(|s| s.success());
    assert!(ok, "psql could not create the test schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// A fresh store on the test engine, with its URL (for tests that reopen it or look under it).
pub async fn fresh_store(
    dir: &std::path::Path,
    name: &str,
) -> (String, std::sync::Arc<dyn roster_store::Store>) {
    let url = database_url(dir, name).await;
    let store = roster_store::open(&url, &roster_store::OpenOptions::default())
        .await
        .unwrap();
    (url, store)
}

/// The capability every store test acts with: the operator's (the tests own the database).
pub fn admin() -> roster_core::policy::UserAdmin {
    roster_core::policy::Operator::local("test").user_admin()
}

/// userNames of one page of the users `filter` selects, in list order, and totalResults.
pub async fn user_names(
    store: &dyn roster_store::Store,
    filter: Option<roster_core::schema::Cond>,
    start_index: i64,
    count: i64,
) -> (Vec<String>, i64) {
    user_names_in(store, filter, start_index, count, false).await
}

/// As [`user_names`], newest first when `newest_first`.
pub async fn user_names_in(
    store: &dyn roster_store::Store,
    filter: Option<roster_core::schema::Cond>,
    start_index: i64,
    count: i64,
    newest_first: bool,
) -> (Vec<String>, i64) {
    let page = store
        .list_users(
            &admin().reader(),
            &roster_store::UserQuery {
                filter,
                newest_first,
                page: roster_core::PageRequest { start_index, count },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let names = page
        .items
        .iter()
        .map(|u| u.user_name.as_str().to_owned())
        .collect();
    (names, page.total)
}
