//! Micro-benchmarks of the pure functions on every request's path: filter parsing,
//! schema resolution, filter → SQL, PATCH parsing and application, and SCIM JSON
//! rendering of a user. They live here (not in each crate) so no other crate needs
//! criterion. Run: `cargo bench -p roster-bench --bench hot`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use roster_core::filter::parse_filter;
use roster_core::patch::{apply_user_patch, parse_patch, UserPatchProfile};
use roster_core::schema::{resolve, Resource};
use roster_core::{Email, NewUser, User, UserName};
use roster_server::scim::render::user_json;
use roster_server::scim_resource::Links;
use roster_store::db::Dialect;
use roster_store::sql::{compile, Sql};
use serde_json::json;

/// What the workloads send: the common IdP lookup, and a compound filter with a value path.
const SIMPLE: &str = r#"userName eq "bench-a1b2c3-0012345""#;
const COMPOUND: &str = r#"(userName sw "bench" and active eq true) or emails[type eq "work" and value co "@example.com"] or not (displayName pr)"#;

/// SQLite's: the default backend, and the one whose SQL differs (email substrings).
const SQLITE: Dialect = Dialect::SQLITE;

const PROFILE: UserPatchProfile = UserPatchProfile::FULL;

fn user() -> User {
    let mut new = NewUser::new(UserName::parse("bench-a1b2c3-0012345").unwrap());
    new.external_id = Some("ext-12345".into());
    new.display_name = Some("Bench User 12345".into());
    new.given_name = Some("Bench".into());
    new.family_name = Some("User".into());
    new.emails = vec![Email {
        value: "bench-a1b2c3-0012345@example.com".into(),
        kind: Some("work".into()),
        primary: true,
        display: None,
    }];
    new.locale = Some("en-GB".into());
    let mut u = new.stored(
        12_345,
        uuid::Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0),
        1_767_225_600_000_000,
    );
    u.meta.version = 3;
    u
}

fn filters(c: &mut Criterion) {
    for (name, f) in [("simple", SIMPLE), ("compound", COMPOUND)] {
        c.bench_function(&format!("filter/parse/{name}"), |b| {
            b.iter(|| parse_filter(black_box(f)).unwrap())
        });
        let parsed = parse_filter(f).unwrap();
        c.bench_function(&format!("filter/resolve/{name}"), |b| {
            b.iter(|| resolve(Resource::User, black_box(&parsed)).unwrap())
        });
        let cond = resolve(Resource::User, &parsed).unwrap();
        c.bench_function(&format!("filter/compile_sql/{name}"), |b| {
            b.iter(|| {
                let mut sql = Sql::new();
                compile(black_box(&cond), &mut sql, SQLITE);
                sql
            })
        });
        c.bench_function(&format!("filter/parse+resolve+compile/{name}"), |b| {
            b.iter(|| {
                let cond = resolve(Resource::User, &parse_filter(black_box(f)).unwrap()).unwrap();
                let mut sql = Sql::new();
                compile(&cond, &mut sql, SQLITE);
                sql
            })
        });
    }
}

fn patch(c: &mut Criterion) {
    let replace = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}],
    });
    let mixed = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "value": {"displayName": "Renamed", "name": {"givenName": "B"}, "active": false}},
            {"op": "add", "path": "emails", "value": [{"value": "second@example.com", "type": "home"}]},
            {"op": "remove", "path": "emails[type eq \"home\"]"},
        ],
    });
    for (name, body) in [("replace_displayName", &replace), ("mixed", &mixed)] {
        c.bench_function(&format!("patch/parse/{name}"), |b| {
            b.iter(|| parse_patch(black_box(body)).unwrap())
        });
        let ops = parse_patch(body).unwrap();
        let base = user();
        c.bench_function(&format!("patch/apply_user/{name}"), |b| {
            b.iter(|| {
                let mut u = base.clone();
                apply_user_patch(&mut u, black_box(&ops), &PROFILE).unwrap();
                u
            })
        });
    }
}

fn render(c: &mut Criterion) {
    let u = user();
    let links = Links {
        root: "http://127.0.0.1:8080/scim/v2".into(),
    };
    c.bench_function("render/user_json", |b| {
        b.iter(|| user_json(black_box(&u), &links))
    });
    // What a GET answer costs in full: the JSON value and its serialisation.
    c.bench_function("render/user_json+to_string", |b| {
        b.iter(|| user_json(black_box(&u), &links).to_string())
    });
}

criterion_group!(hot, filters, patch, render);
criterion_main!(hot);
