//! ODM's filter profile: the documented subset of RFC 7644 filters.

use roster_core::filter::{parse_filter, CompareOp, Filter};
use roster_core::schema::{resolve, Cond, Resource};
use roster_core::CoreError;

/// Attributes ODM lets a user filter on (case-insensitive).
const USER_ATTRS: &[&str] = &[
    "userName",
    "externalId",
    "displayName",
    "id",
    "active",
    "emails",
];
const EMAIL_SUBS: &[&str] = &["value", "type"];

fn rule(msg: String) -> CoreError {
    CoreError::InvalidFilter(msg)
}

/// Only `eq` and `and`, plus `emails[type eq "work" and value eq "..."]`.
pub fn users(raw: &str) -> Result<Cond, CoreError> {
    let f = parse_filter(raw)?;
    check(&f, USER_ATTRS, false)?;
    resolve(Resource::User, &f)
}

/// Groups: `displayName eq "..."` only.
pub fn groups(raw: &str) -> Result<Cond, CoreError> {
    let f = parse_filter(raw)?;
    match &f {
        Filter::Compare { attr, op: CompareOp::Eq, .. } if attr.is("displayName") => {}
        _ => {
            return Err(rule(format!(
                "unsupported group filter {raw:?}: groups can be filtered by displayName eq \"...\" only"
            )))
        }
    }
    resolve(Resource::Group, &f)
}

fn check(f: &Filter, attrs: &[&str], inside: bool) -> Result<(), CoreError> {
    match f {
        Filter::And(a, b) => {
            check(a, attrs, inside)?;
            check(b, attrs, inside)
        }
        Filter::Compare {
            attr,
            op: CompareOp::Eq,
            ..
        } => {
            let allowed = if inside { EMAIL_SUBS } else { attrs };
            let name_ok = allowed.iter().any(|a| attr.name.eq_ignore_ascii_case(a));
            let sub_ok = match &attr.sub {
                None => true,
                Some(s) => {
                    !inside
                        && attr.name.eq_ignore_ascii_case("emails")
                        && EMAIL_SUBS.iter().any(|e| s.eq_ignore_ascii_case(e))
                }
            };
            if name_ok && sub_ok {
                Ok(())
            } else {
                Err(rule(format!("filtering on {attr} is not supported")))
            }
        }
        Filter::ValuePath { attr, filter } if !inside && attr.is("emails") => {
            check(filter, attrs, true)
        }
        Filter::Compare { op, .. } => Err(rule(format!(
            "operator {:?} is not supported: only eq and and are",
            op.as_str()
        ))),
        Filter::Or(..) => Err(rule(
            "operator \"or\" is not supported: only eq and and are".into(),
        )),
        Filter::Not(..) => Err(rule(
            "operator \"not\" is not supported: only eq and and are".into(),
        )),
        Filter::Present(_) => Err(rule(
            "operator \"pr\" is not supported: only eq and and are".into(),
        )),
        Filter::ValuePath { attr, .. } => Err(rule(format!(
            "{attr}[...] is not supported; only emails[...] is"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_forms() {
        for ok in [
            r#"userName eq "bjensen""#,
            r#"USERNAME EQ "bjensen""#,
            r#"emails[type eq "work" and value eq "user@example.com"]"#,
            r#"emails[type eq "work" and value eq "user@example.com"] and userName eq "bjensen""#,
        ] {
            assert!(users(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            r#"userName co "b""#,
            r#"userName sw "b""#,
            r#"userName ne "b""#,
            r#"userName pr"#,
            r#"userName eq "a" or userName eq "b""#,
            r#"not (userName eq "a")"#,
            r#"name.familyName eq "x""#,
            r#"emails[type co "w"]"#,
        ] {
            assert!(
                matches!(users(bad), Err(CoreError::InvalidFilter(_))),
                "{bad}"
            );
        }
        assert!(groups(r#"displayName eq "x""#).is_ok());
        assert!(groups(r#"externalId eq "x""#).is_err());
        assert!(groups(r#"displayName co "x""#).is_err());
    }
}
