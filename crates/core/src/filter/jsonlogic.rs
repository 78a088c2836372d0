//! JSON-Logic filters (CVAT's `filter=` parameter) resolved into the same [`Cond`] that SCIM
//! filters become, so the store compiles both to the same SQL and the in-memory evaluator
//! checks both.
//!
//! The operators are CVAT's (`cvat/apps/engine/filters.py`): `and`, `or` (lists of rules),
//! `!` (one rule), `!!` and a bare `{"var": name}` (a variable is present), `==`, `!=`, `<`, `<=`, `>`, `>=` between a
//! `{"var": name}` and a literal, the three-argument `<` / `<=` ("between"), and `in`: a
//! variable in a list of literals, or a string literal inside a variable (a substring).
//! Which names exist is the caller's table; the value's JSON type must be the field's.

use serde_json::Value;

use super::CompareOp;
use crate::schema::{Cond, Field, FieldType, Scalar};
use crate::user::fold;
use crate::CoreError;

/// Bounds on one filter: its text, its nesting, its rules and the values of one `in`.
pub const MAX_LEN: usize = 4096;
const MAX_DEPTH: usize = 16;
const MAX_NODES: usize = 256;
const MAX_IN_VALUES: usize = 100;

fn bad(msg: impl Into<String>) -> CoreError {
    CoreError::InvalidFilter(msg.into())
}

/// Parses `text` as JSON-Logic over the fields `field` names.
pub fn parse(text: &str, field: &dyn Fn(&str) -> Option<Field>) -> Result<Cond, CoreError> {
    if text.len() > MAX_LEN {
        return Err(bad(format!("the filter is longer than {MAX_LEN} bytes")));
    }
    let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let mut nodes = 0;
    Resolver {
        field,
        nodes: &mut nodes,
    }
    .rule(&v, 0)
}

struct Resolver<'a> {
    field: &'a dyn Fn(&str) -> Option<Field>,
    nodes: &'a mut usize,
}

impl Resolver<'_> {
    fn rule(&mut self, v: &Value, depth: usize) -> Result<Cond, CoreError> {
        *self.nodes += 1;
        if depth > MAX_DEPTH || *self.nodes > MAX_NODES {
            return Err(bad(format!(
                "the filter nests deeper than {MAX_DEPTH} or has more than {MAX_NODES} rules"
            )));
        }
        let Some((op, args)) = v
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.iter().next())
        else {
            return Err(bad("a rule is an object with exactly one operator"));
        };
        match op.as_str() {
            "and" | "or" => {
                let Some((head, rest)) = args.as_array().and_then(|a| a.split_first()) else {
                    return Err(bad(format!("{op} takes a non-empty list of rules")));
                };
                let mut out = self.rule(head, depth + 1)?;
                for r in rest {
                    let c = self.rule(r, depth + 1)?;
                    out = if op == "and" {
                        Cond::And(Box::new(out), Box::new(c))
                    } else {
                        Cond::Or(Box::new(out), Box::new(c))
                    };
                }
                Ok(out)
            }
            "!" => {
                let inner = one_arg(args);
                Ok(Cond::Not(Box::new(self.rule(inner, depth + 1)?)))
            }
            "!!" => {
                let f = self.var(one_arg(args))?;
                Ok(Cond::Present(f))
            }
            // A bare variable is true when it has a value (the SDK's `field__isset`).
            "var" => Ok(Cond::Present(self.var(v)?)),
            "==" | "!=" | "<" | "<=" | ">" | ">=" => {
                let list = args
                    .as_array()
                    .ok_or_else(|| bad(format!("{op} takes a list of arguments")))?;
                let cmp = match op.as_str() {
                    "==" => CompareOp::Eq,
                    "!=" => CompareOp::Ne,
                    "<" => CompareOp::Lt,
                    "<=" => CompareOp::Le,
                    ">" => CompareOp::Gt,
                    _ => CompareOp::Ge,
                };
                match list.as_slice() {
                    [a, b] => {
                        let f = self.var(a)?;
                        Ok(Cond::Cmp(f, cmp, literal(f, b)?))
                    }
                    // a < x < b, a <= x <= b
                    [lo, x, hi] if matches!(cmp, CompareOp::Lt | CompareOp::Le) => {
                        let f = self.var(x)?;
                        let (low, high) = if cmp == CompareOp::Lt {
                            (CompareOp::Gt, CompareOp::Lt)
                        } else {
                            (CompareOp::Ge, CompareOp::Le)
                        };
                        Ok(Cond::And(
                            Box::new(Cond::Cmp(f, low, literal(f, lo)?)),
                            Box::new(Cond::Cmp(f, high, literal(f, hi)?)),
                        ))
                    }
                    _ => Err(bad(format!("{op} takes a variable and a value"))),
                }
            }
            "in" => match args.as_array().map(Vec::as_slice) {
                Some([Value::String(s), _]) if s.contains('\0') => {
                    Err(bad("a value must not contain NUL"))
                }
                Some([Value::String(s), hay]) => {
                    let f = self.var(hay)?;
                    if !matches!(f.ty(), FieldType::Text | FieldType::TextCi) {
                        return Err(bad("in with a string looks for it inside a text variable"));
                    }
                    Ok(Cond::Cmp(f, CompareOp::Co, text(f, s)))
                }
                Some([var, Value::Array(values)]) => {
                    let f = self.var(var)?;
                    if values.len() > MAX_IN_VALUES {
                        return Err(bad(format!("in takes at most {MAX_IN_VALUES} values")));
                    }
                    let mut out: Option<Cond> = None;
                    for v in values {
                        let c = Cond::Cmp(f, CompareOp::Eq, literal(f, v)?);
                        out = Some(match out {
                            None => c,
                            Some(prev) => Cond::Or(Box::new(prev), Box::new(c)),
                        });
                    }
                    // An empty list holds nothing.
                    Ok(out.unwrap_or_else(|| nothing(f)))
                }
                _ => Err(bad(
                    "in takes a variable and a list of values, or a string and a variable",
                )),
            },
            other => Err(bad(format!(
                "{:?} is not a supported operation; use and, or, !, !!, ==, !=, <, <=, >, >=, in",
                other.chars().take(32).collect::<String>()
            ))),
        }
    }

    fn var(&self, v: &Value) -> Result<Field, CoreError> {
        let name = v
            .as_object()
            .and_then(|o| o.get("var"))
            .and_then(Value::as_str)
            .ok_or_else(|| bad("expected a variable, {\"var\": \"<field>\"}"))?;
        (self.field)(name).ok_or_else(|| {
            bad(format!(
                "{:?} is not a field this filter knows",
                name.chars().take(64).collect::<String>()
            ))
        })
    }
}

/// `{"!": rule}` and `{"!": [rule]}` both mean the one rule.
fn one_arg(args: &Value) -> &Value {
    match args.as_array().map(Vec::as_slice) {
        Some([one]) => one,
        _ => args,
    }
}

/// A condition no user satisfies (`in` an empty list).
fn nothing(f: Field) -> Cond {
    Cond::And(
        Box::new(Cond::Present(f)),
        Box::new(Cond::Not(Box::new(Cond::Present(f)))),
    )
}

fn text(f: Field, s: &str) -> Scalar {
    Scalar::Text(if f.ty() == FieldType::TextCi {
        fold(s)
    } else {
        s.to_owned()
    })
}

fn literal(f: Field, v: &Value) -> Result<Scalar, CoreError> {
    match (f.ty(), v) {
        (_, Value::String(s)) if s.contains('\0') => Err(bad("a value must not contain NUL")),
        (FieldType::Text | FieldType::TextCi, Value::String(s)) => Ok(text(f, s)),
        (FieldType::Bool, Value::Bool(b)) => Ok(Scalar::Bool(*b)),
        (FieldType::Int, Value::Number(n)) => n
            .as_i64()
            .map(Scalar::Int)
            .ok_or_else(|| bad(format!("{n} is not an integer"))),
        (FieldType::Text | FieldType::TextCi, _) => Err(bad("this field compares with a string")),
        (FieldType::Bool, _) => Err(bad("this field compares with true or false")),
        (FieldType::Int, _) => Err(bad("this field compares with an integer")),
        (FieldType::DateTime, _) => Err(bad("date-time fields are not filterable here")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(name: &str) -> Option<Field> {
        Some(match name {
            "username" => Field::UserName,
            "id" => Field::UserSeq,
            "is_active" => Field::Active,
            _ => return None,
        })
    }

    #[test]
    fn comparisons_lists_and_substrings() {
        let c = parse(
            r#"{"and":[{"==":[{"var":"username"},"Ada"]},{"in":[{"var":"id"},[1,2]]},{"in":["ov",{"var":"username"}]}]}"#,
            &fields,
        )
        .unwrap();
        let want = Cond::And(
            Box::new(Cond::And(
                Box::new(Cond::Cmp(
                    Field::UserName,
                    CompareOp::Eq,
                    Scalar::Text("ada".into()),
                )),
                Box::new(Cond::Or(
                    Box::new(Cond::Cmp(Field::UserSeq, CompareOp::Eq, Scalar::Int(1))),
                    Box::new(Cond::Cmp(Field::UserSeq, CompareOp::Eq, Scalar::Int(2))),
                )),
            )),
            Box::new(Cond::Cmp(
                Field::UserName,
                CompareOp::Co,
                Scalar::Text("ov".into()),
            )),
        );
        assert_eq!(c, want);
        assert_eq!(
            parse(r#"{"<=":[1,{"var":"id"},5]}"#, &fields).unwrap(),
            Cond::And(
                Box::new(Cond::Cmp(Field::UserSeq, CompareOp::Ge, Scalar::Int(1))),
                Box::new(Cond::Cmp(Field::UserSeq, CompareOp::Le, Scalar::Int(5))),
            )
        );
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        for bad in [
            "not json",
            "[]",
            r#"{"xor":[]}"#,
            r#"{"==":[{"var":"password"},"x"]}"#,
            r#"{"==":[{"var":"id"},"1"]}"#,
            r#"{"==":[{"var":"is_active"},1]}"#,
            r#"{"and":[]}"#,
            r#"{"==":[{"var":"id"}]}"#,
            r#"{"in":["x",{"var":"id"}]}"#,
            r#"{"==":[{"var":"id"},1],"!=":[{"var":"id"},2]}"#,
        ] {
            assert!(
                matches!(parse(bad, &fields), Err(CoreError::InvalidFilter(_))),
                "{bad}"
            );
        }
        let deep = format!(
            "{}{}{}",
            r#"{"!":"#.repeat(40),
            r#"{"==":[{"var":"id"},1]}"#,
            "}".repeat(40)
        );
        assert!(parse(&deep, &fields).is_err());
    }
}
