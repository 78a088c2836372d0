//! Property: a filter compiled to SQL selects exactly the users that the same filter
//! evaluated in memory selects, on a random directory.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use roster_core::filter::{AttrPath, CompareOp, Filter, Value};
use roster_core::schema::{resolve, Resource};
use roster_core::{Email, NewUser, PageRequest, User, UserName};
use roster_store::{OpenOptions, Store, UserQuery, WriteCtx};

mod common;
use common::{database_url, on_postgres};

const TEXTS: &[&str] = &[
    "a", "ab", "Ab", "b", "ba", "B", "", "ß", "Zoë", "a%b", "a_b",
];
const TYPES: &[&str] = &["work", "home", "Work"];

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
            rt.block_on(store.create_user(&WriteCtx::default(), &u))
                .unwrap();
        }
        let users = rt
            .block_on(store.list_users(&UserQuery {
                page: PageRequest {
                    start_index: 1,
                    count: 1000,
                },
                ..Default::default()
            }))
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

fn text_attr() -> impl Strategy<Value = AttrPath> {
    proptest::sample::select(vec![
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
    ])
}

fn text_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        proptest::sample::select(TEXTS.to_vec()).prop_map(|s| Value::String(s.to_owned())),
        Just(Value::String("@x.example".into())),
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn sql_and_memory_agree(f in filter()) {
        let fx = fixture();
        let cond = resolve(Resource::User, &f).unwrap();
        let want: BTreeSet<String> = fx.users.iter().filter(|u| cond.matches_user(u)).map(|u| u.id.to_string()).collect();
        let page = fx
            .rt
            .block_on(fx.store.list_users(&UserQuery { filter: Some(cond), page: PageRequest { start_index: 1, count: 1000 }, ..Default::default() }))
            .unwrap();
        let got: BTreeSet<String> = page.items.iter().map(|u| u.id.to_string()).collect();
        prop_assert_eq!(page.total as usize, got.len());
        prop_assert_eq!(got, want, "filter: {}", f);
    }
}
