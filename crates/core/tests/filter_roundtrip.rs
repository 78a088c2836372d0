//! Property: printing a filter and parsing it back gives the same AST.

use proptest::prelude::*;
use roster_core::filter::{parse_filter, AttrPath, CompareOp, Filter, Value};

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_-]{0,8}"
}

fn attr() -> impl Strategy<Value = AttrPath> {
    (
        prop_oneof![
            Just(None),
            Just(Some(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_owned()
            ))
        ],
        name(),
        proptest::option::of(name()),
    )
        .prop_map(|(uri, name, sub)| AttrPath { uri, name, sub })
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<String>().prop_map(Value::String),
    ]
}

fn op() -> impl Strategy<Value = CompareOp> {
    proptest::sample::select(CompareOp::ALL.to_vec())
}

fn leaf() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (attr(), op(), value()).prop_map(|(attr, op, value)| Filter::Compare { attr, op, value }),
        attr().prop_map(Filter::Present),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    leaf().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.clone().prop_map(|a| Filter::Not(Box::new(a))),
            (name(), leaf()).prop_map(|(n, f)| Filter::ValuePath {
                attr: AttrPath::simple(&n),
                filter: Box::new(f)
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_then_parse_is_the_identity(f in filter()) {
        let printed = f.to_string();
        let parsed = parse_filter(&printed);
        prop_assert_eq!(parsed.as_ref().ok(), Some(&f), "printed: {}", printed);
    }

    #[test]
    fn the_parser_never_panics(s in "\\PC{0,64}") {
        let _ = parse_filter(&s);
    }
}
