// `sqlx::migrate!` embeds the migration files at compile time but does not tell Cargo about
// them: without this, a new migration is not built in until some Rust file of the crate
// changes (a stale binary then reports the old schema version).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
