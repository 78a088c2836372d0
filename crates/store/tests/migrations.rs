//! Both engines' migrations keep one numbering: an export records the last migration and an
//! import into the other engine compares it (PostgreSQL's 0021 without SQLite's no-op 0021
//! made every PostgreSQL export unimportable into SQLite).

fn versions(engine: &str) -> Vec<String> {
    let dir = format!("{}/migrations/{engine}", env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|f| {
            let name = f.unwrap().file_name().to_string_lossy().into_owned();
            name.split('_').next().unwrap_or_default().to_owned()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn both_engines_have_the_same_migration_versions() {
    let sqlite = versions("sqlite");
    assert!(sqlite.len() >= 21, "{sqlite:?}");
    assert_eq!(sqlite, versions("postgres"));
}
