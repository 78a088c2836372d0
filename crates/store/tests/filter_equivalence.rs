//! Property: a filter compiled to SQL selects exactly the users that the same filter
//! evaluated in memory selects, on a random directory.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use roster_core::filter::jsonlogic;
use roster_core::filter::{AttrPath, CompareOp, Filter, Value};
use roster_core::schema::{resolve, Cond, Field, Resource};
use roster_core::{Email, NewUser, PageRequest, User, UserName};
use roster_store::{OpenOptions, Store, UserQuery, WriteCtx};
use serde_json::json;

mod common;
use common::{database_url, on_postgres};

/// With LIKE's and GLOB's metacharacters: a pattern escaped wrongly acts as a wildcard.
const TEXTS: &[&str] = &[
    "a", "ab", "Ab", "b", "ba", "B", "", "ß", "Zoë", "a%b", "a_b", "a*b", "a?b", "[a]", "*",
];
/// Pieces of email values long enough (3+ characters) for a trigram index lookup.
const EMAIL_PARTS: &[&str] = &[
    "@x.example",
    "b0@x",
    "a*b1@",
    "A?B0@X",
    "[a]2@",
    "zoë1@",
    "a%b0@",
    "a_b2@x",
    "]2@",
    "x.ex",
];
const TYPES: &[&str] = &["work", "home", "Work"];
/// Pieces of userNames and given names long enough for a trigram lookup.
const NAME_PARTS: &[&str] = &[
    "user1", "ser", "User7", "a*buser", "given", "bgiven3", "%given", "ven1",
];

struct Fixture {
    rt: tokio::runtime::Runtime,
    store: Arc<dyn Store>,
    users: Vec<User>,
    _dir: tempfile::TempDir,
}

/// 80 users with attribute values drawn from small sets, so filters often match.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = rt.block_on(database_url(dir.path(), "eq"));
        let store = rt
            .block_on(roster_store::open(&url, &OpenOptions::default()))
            .unwrap();
        let pick = |i: usize, k: usize| TEXTS[(i * 7 + k * 3) % TEXTS.len()];
        for i in 0..80 {
            let mut u = NewUser::new(
                UserName::parse(&format!("{}user{i}", pick(i, 1).replace(['%', '_'], ""))).unwrap(),
            );
            let opt = |k: usize| Some(pick(i, k).to_owned()).filter(|_| !(i + k).is_multiple_of(4));
            u.display_name = opt(2).filter(|s| s.is_ascii());
            u.family_name = opt(3).filter(|s| s.is_ascii());
            // Long enough for the trigram lookups of givenName co/ew (SQLite migration 0017).
            u.given_name = opt(6)
                .filter(|s| s.is_ascii())
                .map(|s| format!("{s}given{}", i % 5));
            u.external_id = opt(4);
            u.enterprise.department = opt(5).filter(|s| s.is_ascii());
            u.active = !i.is_multiple_of(3);
            u.emails = (0..(i % 3))
                .map(|j| Email {
                    value: format!("{}{j}@x.example", pick(i, j + 6)),
                    kind: Some(TYPES[(i + j) % TYPES.len()].to_owned()).filter(|_| j != 1),
                    primary: j == 0,
                    display: None,
                })
                .collect();
            rt.block_on(store.create_user(&common::admin(), &WriteCtx::default(), &u))
                .unwrap();
        }
        let users = rt
            .block_on(store.list_users(
                &common::admin().reader(),
                &UserQuery {
                    page: PageRequest {
                        start_index: 1,
                        count: 1000,
                    },
                    ..Default::default()
                },
            ))
            .unwrap()
            .items;
        Fixture {
            rt,
            store,
            users,
            _dir: dir,
        }
    })
}

/// Ordering comparisons (gt/ge/lt/le) on text follow the database collation on PostgreSQL,
/// byte order on SQLite and in memory; on PostgreSQL the property covers the rest.
fn ops() -> impl Strategy<Value = CompareOp> {
    let all = CompareOp::ALL.to_vec();
    let ops = if on_postgres() {
        all.into_iter()
            .filter(|o| {
                !matches!(
                    o,
                    CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
                )
            })
            .collect()
    } else {
        all
    };
    proptest::sample::select(ops)
}

fn text_attrs() -> Vec<AttrPath> {
    vec![
        AttrPath::simple("userName"),
        AttrPath::simple("displayName"),
        AttrPath::simple("externalId"),
        AttrPath {
            uri: None,
            name: "name".into(),
            sub: Some("familyName".into()),
        },
        AttrPath {
            uri: None,
            name: "name".into(),
            sub: Some("givenName".into()),
        },
        AttrPath {
            uri: None,
            name: "emails".into(),
            sub: Some("value".into()),
        },
        AttrPath {
            uri: None,
            name: "emails".into(),
            sub: Some("type".into()),
        },
        AttrPath {
            uri: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
            name: "department".into(),
            sub: None,
        },
    ]
}

fn text_attr() -> impl Strategy<Value = AttrPath> {
    proptest::sample::select(text_attrs())
}

fn text_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        proptest::sample::select(TEXTS.to_vec()).prop_map(|s| Value::String(s.to_owned())),
        proptest::sample::select(NAME_PARTS.to_vec()).prop_map(|s| Value::String(s.to_owned())),
        proptest::sample::select(EMAIL_PARTS.to_vec()).prop_map(|s| Value::String(s.to_owned())),
        Just(Value::String("work".into())),
        Just(Value::Null),
    ]
}

fn leaf() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (text_attr(), ops(), text_value())
            .prop_filter("null only with eq/ne", |(_, op, v)| *v != Value::Null
                || matches!(op, CompareOp::Eq | CompareOp::Ne))
            .prop_map(|(attr, op, value)| Filter::Compare { attr, op, value }),
        text_attr().prop_map(Filter::Present),
        (
            any::<bool>(),
            proptest::sample::select(vec![CompareOp::Eq, CompareOp::Ne])
        )
            .prop_map(|(b, op)| Filter::Compare {
                attr: AttrPath::simple("active"),
                op,
                value: Value::Bool(b)
            }),
        (
            proptest::sample::select(vec!["value", "type"]),
            ops(),
            text_value()
        )
            .prop_filter("null only with eq/ne", |(_, op, v)| *v != Value::Null
                || matches!(op, CompareOp::Eq | CompareOp::Ne))
            .prop_map(|(sub, op, value)| Filter::ValuePath {
                attr: AttrPath::simple("emails"),
                filter: Box::new(Filter::Compare {
                    attr: AttrPath::simple(sub),
                    op,
                    value
                }),
            }),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    leaf().prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Filter::Not(Box::new(a))),
        ]
    })
}

/// The ids `f` selects in SQL and in memory, and the SQL total.
fn select(f: &Filter) -> (BTreeSet<String>, BTreeSet<String>, usize) {
    select_cond(resolve(Resource::User, f).unwrap())
}

fn select_cond(cond: Cond) -> (BTreeSet<String>, BTreeSet<String>, usize) {
    let fx = fixture();
    let want: BTreeSet<String> = fx
        .users
        .iter()
        .filter(|u| cond.matches_user(u))
        .map(|u| u.id.to_string())
        .collect();
    let page = fx
        .rt
        .block_on(fx.store.list_users(
            &common::admin().reader(),
            &UserQuery {
                filter: Some(cond),
                page: PageRequest {
                    start_index: 1,
                    count: 1000,
                },
                ..Default::default()
            },
        ))
        .unwrap();
    let got: BTreeSet<String> = page.items.iter().map(|u| u.id.to_string()).collect();
    (got, want, page.total as usize)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn sql_and_memory_agree(f in filter()) {
        let (got, want, total) = select(&f);
        prop_assert_eq!(total, got.len());
        prop_assert_eq!(got, want, "filter: {}", f);
    }
}

/// Every substring operator with every value on every text attribute: random filters meet
/// a pattern with a LIKE or GLOB metacharacter and the values it could wrongly match too
/// seldom.
#[test]
fn substring_filters_agree() {
    for attr in text_attrs() {
        for op in [CompareOp::Co, CompareOp::Sw, CompareOp::Ew] {
            for v in TEXTS.iter().chain(EMAIL_PARTS) {
                let f = Filter::Compare {
                    attr: attr.clone(),
                    op,
                    value: Value::String((*v).to_owned()),
                };
                let (got, want, total) = select(&f);
                assert_eq!(total, got.len());
                assert_eq!(got, want, "filter: {f}");
            }
        }
    }
}

/// CVAT's JSON-Logic field names (the CVAT dialect's table).
fn cvat_field(name: &str) -> Option<Field> {
    Some(match name {
        "username" => Field::UserName,
        "first_name" => Field::GivenName,
        "last_name" => Field::FamilyName,
        "id" => Field::UserSeq,
        "is_active" => Field::Active,
        _ => return None,
    })
}

/// A JSON-Logic comparison: text fields with text (no ordering on PostgreSQL, whose
/// collation orders text unlike bytes), ids with integers, is_active with booleans, `in`
/// both ways, `!!`.
fn logic_leaf() -> impl Strategy<Value = serde_json::Value> {
    let text_ops: Vec<&str> = if on_postgres() {
        vec!["==", "!="]
    } else {
        vec!["==", "!=", "<", "<=", ">", ">="]
    };
    let text = || {
        prop_oneof![
            proptest::sample::select(TEXTS.to_vec()),
            proptest::sample::select(NAME_PARTS.to_vec()),
        ]
        .prop_map(str::to_owned)
    };
    let text_field = || proptest::sample::select(vec!["username", "first_name", "last_name"]);
    prop_oneof![
        (text_field(), proptest::sample::select(text_ops), text())
            .prop_map(|(f, op, v)| json!({ op: [{"var": f}, v] })),
        (
            proptest::sample::select(vec!["==", "!=", "<", "<=", ">", ">="]),
            0i64..90
        )
            .prop_map(|(op, n)| json!({ op: [{"var": "id"}, n] })),
        (0i64..90, 0i64..90).prop_map(|(a, b)| json!({"<=": [a, {"var": "id"}, b]})),
        any::<bool>().prop_map(|b| json!({"==": [{"var": "is_active"}, b]})),
        proptest::collection::vec(0i64..90, 0..4)
            .prop_map(|ids| json!({"in": [{"var": "id"}, ids]})),
        (text_field(), proptest::collection::vec(text(), 1..3))
            .prop_map(|(f, vs)| json!({"in": [{"var": f}, vs]})),
        (text(), text_field()).prop_map(|(v, f)| json!({"in": [v, {"var": f}]})),
        text_field().prop_map(|f| json!({"!!": [{"var": f}]})),
    ]
}

fn logic() -> impl Strategy<Value = serde_json::Value> {
    logic_leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({"and": v})),
            proptest::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({"or": v})),
            inner.prop_map(|a| json!({"!": a})),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// CVAT's `filter=`: JSON-Logic resolved into the same condition SCIM filters become
    /// selects in SQL what the in-memory evaluator selects.
    #[test]
    fn jsonlogic_sql_and_memory_agree(rule in logic()) {
        let cond = jsonlogic::parse(&rule.to_string(), &cvat_field).unwrap();
        let (got, want, total) = select_cond(cond);
        prop_assert_eq!(total, got.len());
        prop_assert_eq!(got, want, "rule: {}", rule);
    }
}
