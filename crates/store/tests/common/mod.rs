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
