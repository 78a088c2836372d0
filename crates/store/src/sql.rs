//! Compiles a typed filter ([`Cond`]) into a parameterised SQL boolean expression.
//! Values never enter the SQL text: each becomes a placeholder and an [`Arg`].
//! The SQL is kept to what SQLite and PostgreSQL share (EXISTS, LIKE ... ESCAPE); LIKE is
//! case-sensitive on both (SQLite runs with case_sensitive_like), case-insensitive
//! attributes being folded on both sides.

use roster_core::filter::CompareOp;
use roster_core::schema::{Collection, Cond, Field, FieldType, Scalar};

use crate::db::Arg;

/// A SQL fragment being built with its arguments (`?` placeholders).
#[derive(Debug, Clone, Default)]
pub struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    pub fn bind(&mut self, a: Arg) -> &mut Self {
        self.args.push(a);
        self.text.push('?');
        self
    }
}

/// Columns of `roster_core::user::PROFILE_ATTRS`, in the same order.
pub const PROFILE_COLUMNS: [&str; 10] = [
    "nick_name",
    "title",
    "user_type",
    "profile_url",
    "preferred_language",
    "timezone",
    "name_formatted",
    "middle_name",
    "honorific_prefix",
    "honorific_suffix",
];

/// Filter expressions for those columns: case-insensitive except profileUrl.
const PROFILE_EXPRS: [&str; 10] = [
    "lower(u.nick_name)",
    "lower(u.title)",
    "lower(u.user_type)",
    "u.profile_url",
    "lower(u.preferred_language)",
    "lower(u.timezone)",
    "lower(u.name_formatted)",
    "lower(u.middle_name)",
    "lower(u.honorific_prefix)",
    "lower(u.honorific_suffix)",
];

/// Column expression for a field; `u` = users, `e` = user_emails, `g` = groups,
/// `mu` = the member's users row.
pub(crate) fn column(f: Field) -> &'static str {
    match f {
        Field::UserId => "u.id",
        Field::UserName => "u.user_name_key",
        Field::UserExternalId => "u.external_id",
        // No folded column for these: lower() matches Roster's fold for ASCII text.
        Field::UserDisplayName => "lower(u.display_name)",
        Field::GivenName => "lower(u.given_name)",
        Field::FamilyName => "lower(u.family_name)",
        Field::Locale => "lower(u.locale)",
        Field::Active => "u.active",
        Field::UserCreated => "u.created_at",
        Field::UserLastModified => "u.modified_at",
        Field::EmployeeNumber => "u.employee_number",
        Field::CostCenter => "lower(u.cost_center)",
        Field::Organization => "lower(u.organization)",
        Field::Division => "lower(u.division)",
        Field::Department => "lower(u.department)",
        Field::ManagerValue => "u.manager_id",
        Field::Profile(i) => PROFILE_EXPRS.get(i).copied().unwrap_or("NULL"),
        Field::EmailValue => "e.value_key",
        Field::EmailType => "e.type_key",
        Field::EmailPrimary => "e.is_primary",
        Field::GroupId => "g.id",
        Field::GroupDisplayName => "g.display_name_key",
        Field::GroupExternalId => "g.external_id",
        Field::GroupCreated => "g.created_at",
        Field::GroupLastModified => "g.modified_at",
        Field::MemberValue => "mu.id",
    }
}

/// `ORDER BY` for a sort: rows without a value last in either direction (RFC 7644
/// §3.4.2.3 leaves it open; SQLite and PostgreSQL disagree by default), then creation order
/// so pages are stable.
pub fn order_by(sort: Option<&roster_core::schema::Sort>, seq: &str) -> String {
    match sort {
        None => format!(" ORDER BY {seq}"),
        Some(s) => {
            let col = column(s.field);
            let dir = if s.descending { "DESC" } else { "ASC" };
            format!(" ORDER BY ({col} IS NULL), {col} {dir}, {seq}")
        }
    }
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn arg(s: &Scalar) -> Arg {
    match s {
        Scalar::Bool(b) => Arg::Bool(*b),
        Scalar::Text(t) => Arg::Text(t.clone()),
        Scalar::Time(t) => Arg::Int(*t),
    }
}

/// Appends the SQL for `c` to `sql`.
pub fn compile(c: &Cond, sql: &mut Sql) {
    match c {
        Cond::And(a, b) => {
            sql.push("(");
            compile(a, sql);
            sql.push(" AND ");
            compile(b, sql);
            sql.push(")");
        }
        Cond::Or(a, b) => {
            sql.push("(");
            compile(a, sql);
            sql.push(" OR ");
            compile(b, sql);
            sql.push(")");
        }
        Cond::Not(a) => {
            // NOT over a comparison with NULL is NULL in SQL; COALESCE keeps "not" total.
            sql.push("NOT COALESCE(");
            compile(a, sql);
            sql.push(", FALSE)");
        }
        Cond::Present(f) => {
            let col = column(*f);
            match f.ty() {
                FieldType::Text | FieldType::TextCi => {
                    sql.push(&format!("({col} IS NOT NULL AND {col} <> '')"));
                }
                FieldType::Bool | FieldType::DateTime => {
                    sql.push(&format!("{col} IS NOT NULL"));
                }
            }
        }
        Cond::Cmp(f, op, v) => {
            let col = column(*f);
            match op {
                CompareOp::Eq => {
                    sql.push(&format!("{col} = ")).bind(arg(v));
                }
                CompareOp::Ne => {
                    sql.push(&format!("({col} IS NULL OR {col} <> "))
                        .bind(arg(v))
                        .push(")");
                }
                CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
                    let sym = match op {
                        CompareOp::Gt => ">",
                        CompareOp::Ge => ">=",
                        CompareOp::Lt => "<",
                        _ => "<=",
                    };
                    sql.push(&format!("{col} {sym} ")).bind(arg(v));
                }
                CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
                    let Scalar::Text(t) = v else {
                        // The schema resolver only lets text reach co/sw/ew.
                        sql.push("FALSE");
                        return;
                    };
                    let e = escape_like(t);
                    let pattern = match op {
                        CompareOp::Co => format!("%{e}%"),
                        CompareOp::Sw => format!("{e}%"),
                        _ => format!("%{e}"),
                    };
                    sql.push(&format!("{col} LIKE "))
                        .bind(Arg::Text(pattern))
                        .push(" ESCAPE '\\'");
                }
            }
        }
        Cond::Any(coll, inner) => {
            // `key IN (one scan of the child table)` rather than a correlated EXISTS: the
            // planner then scans the child once (or uses its index) instead of probing it
            // once per parent row.
            match coll {
                Collection::Emails => {
                    sql.push("u.seq IN (SELECT e.user_seq FROM user_emails e");
                }
                Collection::Members => {
                    sql.push("g.seq IN (SELECT m.group_seq FROM memberships m JOIN users mu ON mu.seq = m.user_seq");
                }
            }
            if let Some(inner) = inner {
                sql.push(" WHERE ");
                compile(inner, sql);
            }
            sql.push(")");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_core::filter::parse_filter;
    use roster_core::schema::{resolve, Resource};

    fn sql(f: &str) -> Sql {
        let c = resolve(Resource::User, &parse_filter(f).unwrap()).unwrap();
        let mut s = Sql::new();
        compile(&c, &mut s);
        s
    }

    #[test]
    fn values_are_parameters_never_text() {
        let s = sql(r#"userName eq "x' OR 1=1 --" or emails[type eq "work" and value co "50%_"]"#);
        assert!(!s.text.contains("1=1"));
        assert_eq!(
            s.text,
            "(u.user_name_key = ? OR u.seq IN (SELECT e.user_seq FROM user_emails e WHERE (e.type_key = ? AND e.value_key LIKE ? ESCAPE '\\')))"
        );
        assert_eq!(s.args[2], Arg::Text("%50\\%\\_%".into()));
    }

    #[test]
    fn booleans_and_times_bind_as_integers() {
        let s = sql(r#"active eq false and meta.lastModified gt "2026-01-01T00:00:00Z""#);
        assert_eq!(
            s.args,
            vec![Arg::Bool(false), Arg::Int(1_767_225_600_000_000)]
        );
    }
}
