//! Evaluates a resolved filter against a user in memory, with the same semantics as the SQL
//! the store compiles (a missing value fails every comparison except `ne`). The store's
//! property tests hold the two against each other; dialects may also use it to check a
//! single resource without a query.

use crate::filter::CompareOp;
use crate::schema::{Collection, Cond, Field, Scalar};
use crate::user::{fold, Email, User};

#[derive(Debug, Clone, PartialEq)]
enum V {
    Text(String),
    Bool(bool),
    Time(i64),
    Int(i64),
}

fn text(s: &Option<String>) -> Option<V> {
    s.as_ref().map(|s| V::Text(s.clone()))
}

/// Lower-cased like SQL `lower()` on the columns that have no folded copy.
#[expect(clippy::ref_option, reason = "called on fields of type Option<String>")]
fn lower(s: &Option<String>) -> Option<V> {
    s.as_ref().map(|s| V::Text(fold(s)))
}

fn user_value(u: &User, f: Field) -> Option<V> {
    let e = &u.enterprise;
    match f {
        Field::UserId => Some(V::Text(u.id.to_string())),
        Field::UserName => Some(V::Text(u.user_name.key())),
        Field::UserSeq => Some(V::Int(u.seq)),
        Field::UserExternalId => text(&u.external_id),
        Field::UserDisplayName => lower(&u.display_name),
        Field::GivenName => lower(&u.given_name),
        Field::FamilyName => lower(&u.family_name),
        Field::Locale => lower(&u.locale),
        Field::Active => Some(V::Bool(u.active)),
        Field::Owner => Some(V::Bool(u.owner)),
        Field::UserCreated => Some(V::Time(u.meta.created)),
        Field::UserLastModified => Some(V::Time(u.meta.last_modified)),
        Field::EmployeeNumber => text(&e.employee_number),
        Field::CostCenter => lower(&e.cost_center),
        Field::Organization => lower(&e.organization),
        Field::Division => lower(&e.division),
        Field::Department => lower(&e.department),
        Field::ManagerValue => text(&e.manager),
        Field::Profile(3) => text(&u.profile[3]),
        Field::Profile(i) => u.profile.get(i).and_then(lower),
        _ => None,
    }
}

fn email_value(e: &Email, f: Field) -> Option<V> {
    match f {
        Field::EmailValue => Some(V::Text(fold(&e.value))),
        Field::EmailType => e.kind.as_deref().map(|k| V::Text(fold(k))),
        Field::EmailPrimary => Some(V::Bool(e.primary)),
        _ => None,
    }
}

fn scalar(s: &Scalar) -> V {
    match s {
        Scalar::Bool(b) => V::Bool(*b),
        Scalar::Text(t) => V::Text(t.clone()),
        Scalar::Time(t) => V::Time(*t),
        Scalar::Int(i) => V::Int(*i),
    }
}

fn compare(have: Option<V>, op: CompareOp, want: &Scalar) -> bool {
    let want = scalar(want);
    let Some(have) = have else {
        return op == CompareOp::Ne;
    };
    let ord = match (&have, &want) {
        (V::Text(a), V::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
        (V::Bool(a), V::Bool(b)) => a.cmp(b),
        (V::Time(a), V::Time(b)) | (V::Int(a), V::Int(b)) => a.cmp(b),
        _ => return false,
    };
    match (op, &have, &want) {
        (CompareOp::Eq, ..) => ord.is_eq(),
        (CompareOp::Ne, ..) => !ord.is_eq(),
        (CompareOp::Gt, ..) => ord.is_gt(),
        (CompareOp::Ge, ..) => ord.is_ge(),
        (CompareOp::Lt, ..) => ord.is_lt(),
        (CompareOp::Le, ..) => ord.is_le(),
        (CompareOp::Co, V::Text(a), V::Text(b)) => a.contains(b.as_str()),
        (CompareOp::Sw, V::Text(a), V::Text(b)) => a.starts_with(b.as_str()),
        (CompareOp::Ew, V::Text(a), V::Text(b)) => a.ends_with(b.as_str()),
        _ => false,
    }
}

fn present(v: Option<V>) -> bool {
    match v {
        Some(V::Text(t)) => !t.is_empty(),
        Some(_) => true,
        None => false,
    }
}

fn eval_with(c: &Cond, get: &dyn Fn(Field) -> Option<V>, user: Option<&User>) -> bool {
    match c {
        Cond::And(a, b) => eval_with(a, get, user) && eval_with(b, get, user),
        Cond::Or(a, b) => eval_with(a, get, user) || eval_with(b, get, user),
        Cond::Not(a) => !eval_with(a, get, user),
        Cond::Present(f) => present(get(*f)),
        Cond::Cmp(f, op, s) => compare(get(*f), *op, s),
        Cond::Any(Collection::Emails, inner) => user.is_some_and(|u| {
            u.emails.iter().any(|e| match inner {
                None => true,
                Some(i) => eval_with(i, &|f| email_value(e, f), None),
            })
        }),
        // Neither is part of a loaded user: memberships are the store's to query.
        Cond::Any(Collection::Members | Collection::Groups, _) => false,
    }
}

impl Cond {
    /// Whether `user` satisfies this (user) filter.
    pub fn matches_user(&self, user: &User) -> bool {
        eval_with(self, &|f| user_value(user, f), Some(user))
    }
}
