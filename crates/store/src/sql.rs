//! Compiles a typed filter ([`Cond`]) into a parameterised SQL boolean expression.
//! Values never enter the SQL text: each becomes a placeholder and an [`Arg`].
//! The SQL is kept to what SQLite and PostgreSQL share (EXISTS, LIKE ... ESCAPE); LIKE is
//! case-sensitive on both (SQLite runs with case_sensitive_like), case-insensitive
//! attributes being folded on both sides. Substring filters on email values are the one
//! place the engines differ ([`Dialect::email_substring`], also for userName and the
//! given and family names): each has its own trigram index.

use roster_core::filter::CompareOp;
use roster_core::policy::GroupScope;
use roster_core::schema::{Collection, Cond, Field, FieldType, Scalar};

use crate::db::{Arg, Dialect, EmailSubstring};

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
/// `mu` = the member's users row, `ug` = a group of the user.
pub(crate) fn column(f: Field) -> &'static str {
    match f {
        Field::UserId => "u.id",
        Field::UserName => "u.user_name_key",
        Field::UserExternalId => "u.external_id",
        Field::UserSeq => "u.seq",
        // No folded column for these: lower() matches Roster's fold for ASCII text.
        Field::UserDisplayName => "lower(u.display_name)",
        Field::GivenName => "lower(u.given_name)",
        Field::FamilyName => "lower(u.family_name)",
        Field::Locale => "lower(u.locale)",
        Field::Active => "u.active",
        Field::Owner => "u.owner",
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
        Field::UserGroupValue => "ug.id",
        Field::UserGroupDisplay => "ug.display_name_key",
        // Every membership is direct: there are no nested groups.
        Field::UserGroupType => "'direct'",
    }
}

/// `ORDER BY` for a sort: rows without a value last in either direction (RFC 7644
/// §3.4.2.3 leaves it open; SQLite and PostgreSQL disagree by default), then creation order
/// so pages are stable. Without a sort: creation order, or newest first.
pub fn order_by(sort: Option<&roster_core::schema::Sort>, seq: &str, newest_first: bool) -> String {
    order_by_keys(sort.into_iter(), seq, newest_first)
}

/// ` ORDER BY` the keys in order (nulls last for each), then `seq`; creation order (or the
/// newest first) without keys.
pub fn order_by_keys<'a>(
    keys: impl Iterator<Item = &'a roster_core::schema::Sort>,
    seq: &str,
    newest_first: bool,
) -> String {
    let parts: Vec<String> = keys
        .map(|s| {
            let col = column(s.field);
            let dir = if s.descending { "DESC" } else { "ASC" };
            format!("({col} IS NULL), {col} {dir}")
        })
        .collect();
    match (parts.is_empty(), newest_first) {
        (true, true) => format!(" ORDER BY {seq} DESC"),
        (true, false) => format!(" ORDER BY {seq}"),
        (false, _) => format!(" ORDER BY {}, {seq}", parts.join(", ")),
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

/// GLOB has no escape character: a metacharacter is matched literally as a one-character
/// class (`[*]`, `[?]`, `[[]`); `]` outside a class is literal already.
fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[') {
            out.push('[');
            out.push(c);
            out.push(']');
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether FTS5 can look `needle` up by trigrams: it needs 3 characters in a row between
/// GLOB metacharacters. Without, it scans its table, slower than a LIKE over the column.
fn has_trigram(needle: &str) -> bool {
    needle
        .split(['*', '?', '['])
        .any(|run| run.chars().nth(2).is_some())
}

fn arg(s: &Scalar) -> Arg {
    match s {
        Scalar::Bool(b) => Arg::Bool(*b),
        Scalar::Text(t) => Arg::Text(t.clone()),
        Scalar::Time(t) | Scalar::Int(t) => Arg::Int(*t),
    }
}

/// Appends the SQL for `c`, in `dialect`, to `sql`; a user's `groups` match nothing.
pub fn compile(c: &Cond, sql: &mut Sql, dialect: Dialect) {
    compile_seeing(c, sql, dialect, None);
}

/// As [`compile`], where a user's `groups` are the groups within `groups` (none when
/// `None`): a filter cannot find members of a group its caller may not see.
pub fn compile_seeing(c: &Cond, sql: &mut Sql, dialect: Dialect, groups: Option<GroupScope>) {
    let compile =
        |c: &Cond, sql: &mut Sql, dialect: Dialect| compile_seeing(c, sql, dialect, groups);
    match c {
        Cond::And(a, b) => {
            sql.push("(");
            compile(a, sql, dialect);
            sql.push(" AND ");
            compile(b, sql, dialect);
            sql.push(")");
        }
        Cond::Or(a, b) => {
            sql.push("(");
            compile(a, sql, dialect);
            sql.push(" OR ");
            compile(b, sql, dialect);
            sql.push(")");
        }
        Cond::Not(a) => {
            // NOT over a comparison with NULL is NULL in SQL; COALESCE keeps "not" total.
            sql.push("NOT COALESCE(");
            compile(a, sql, dialect);
            sql.push(", FALSE)");
        }
        Cond::Present(f) => {
            let col = column(*f);
            match f.ty() {
                FieldType::Text | FieldType::TextCi => {
                    sql.push(&format!("({col} IS NOT NULL AND {col} <> '')"));
                }
                FieldType::Bool | FieldType::DateTime | FieldType::Int => {
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
                    // `sw` stays LIKE everywhere: with case_sensitive_like SQLite answers a
                    // prefix LIKE from the B-tree index on value_key, faster than trigrams.
                    let fts = match f {
                        Field::EmailValue => Some(("e.seq", "user_emails_fts", "value_key")),
                        Field::UserName => Some(("u.seq", "users_names_fts", "user_name_key")),
                        Field::GivenName => Some(("u.seq", "users_names_fts", "given_key")),
                        Field::FamilyName => Some(("u.seq", "users_names_fts", "family_key")),
                        _ => None,
                    };
                    if let Some((key, table, fts_col)) = fts.filter(|_| {
                        *op != CompareOp::Sw
                            && dialect.email_substring == EmailSubstring::Fts5Glob
                            && has_trigram(t)
                    }) {
                        // GLOB, not LIKE: FTS5 answers LIKE only from case-insensitive
                        // trigrams, and this match is case-sensitive as LIKE is elsewhere
                        // (the indexed values are folded as the column expressions are).
                        let e = escape_glob(t);
                        let pattern = if *op == CompareOp::Co {
                            format!("*{e}*")
                        } else {
                            format!("*{e}")
                        };
                        sql.push(&format!(
                            "{key} IN (SELECT f.rowid FROM {table} f WHERE f.{fts_col} GLOB "
                        ))
                        .bind(Arg::Text(pattern))
                        .push(")");
                        return;
                    }
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
                Collection::Groups => {
                    let Some(scope) = groups else {
                        sql.push("FALSE");
                        return;
                    };
                    sql.push("u.seq IN (SELECT um.user_seq FROM memberships um JOIN groups ug ON ug.seq = um.group_seq");
                    if let GroupScope::MemberOf(viewer) = scope {
                        sql.push(" WHERE EXISTS (SELECT 1 FROM memberships vm WHERE vm.group_seq = ug.seq AND vm.user_seq = ")
                            .bind(Arg::Int(viewer))
                            .push(")");
                        if let Some(inner) = inner {
                            sql.push(" AND ");
                            compile(inner, sql, dialect);
                        }
                        sql.push(")");
                        return;
                    }
                }
            }
            if let Some(inner) = inner {
                sql.push(" WHERE ");
                compile(inner, sql, dialect);
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

    const SQLITE: Dialect = Dialect::SQLITE;
    const POSTGRES: Dialect = Dialect::POSTGRES;

    fn sql(f: &str, dialect: Dialect) -> Sql {
        let c = resolve(Resource::User, &parse_filter(f).unwrap()).unwrap();
        let mut s = Sql::new();
        compile(&c, &mut s, dialect);
        s
    }

    #[test]
    fn values_are_parameters_never_text() {
        let s = sql(
            r#"userName eq "x' OR 1=1 --" or emails[type eq "work" and value co "50%_"]"#,
            POSTGRES,
        );
        assert!(!s.text.contains("1=1"));
        assert_eq!(
            s.text,
            "(u.user_name_key = ? OR u.seq IN (SELECT e.user_seq FROM user_emails e WHERE (e.type_key = ? AND e.value_key LIKE ? ESCAPE '\\')))"
        );
        assert_eq!(s.args[2], Arg::Text("%50\\%\\_%".into()));
    }

    #[test]
    fn booleans_and_times_bind_as_integers() {
        let s = sql(
            r#"active eq false and meta.lastModified gt "2026-01-01T00:00:00Z""#,
            SQLITE,
        );
        assert_eq!(
            s.args,
            vec![Arg::Bool(false), Arg::Int(1_767_225_600_000_000)]
        );
    }

    #[test]
    fn glob_metacharacters_become_one_character_classes() {
        assert_eq!(escape_glob("a*b?c[d]e"), "a[*]b[?]c[[]d]e");
        assert_eq!(escape_glob("50%_\\ß"), "50%_\\ß");
        assert_eq!(escape_glob("[[*"), "[[][[][*]");
        assert_eq!(escape_glob(""), "");
    }

    #[test]
    fn trigrams_are_runs_of_three_between_glob_metacharacters() {
        assert!(has_trigram("abc"));
        assert!(has_trigram("-0012345@"));
        assert!(has_trigram("zoë"));
        assert!(has_trigram("a*b[c]de"));
        assert!(has_trigram("%_@"));
        assert!(!has_trigram("ab"));
        assert!(!has_trigram("ß"));
        assert!(!has_trigram("ab*cd?ef"));
        assert!(!has_trigram("a[b"));
        assert!(!has_trigram(""));
    }

    #[test]
    fn email_substrings_on_sqlite_look_up_the_trigram_table() {
        let s = sql(r#"emails.value co "-00*1?[x]%_@""#, SQLITE);
        assert_eq!(
            s.text,
            "u.seq IN (SELECT e.user_seq FROM user_emails e WHERE e.seq IN (SELECT f.rowid FROM user_emails_fts f WHERE f.value_key GLOB ?))"
        );
        assert_eq!(s.args, vec![Arg::Text("*-00[*]1[?][[]x]%_@*".into())]);
        // The pattern is folded like the column before it is escaped.
        let ew = sql(r#"emails[value ew "Zoë*@X.example"]"#, SQLITE);
        assert_eq!(ew.args, vec![Arg::Text("*zoë[*]@x.example".into())]);
        // A prefix is a range of the B-tree index on value_key.
        let sw = sql(r#"emails[value sw "Zoë*"]"#, SQLITE);
        assert_eq!(sw.text, sql(r#"emails[value sw "Zoë*"]"#, POSTGRES).text);
        assert_eq!(sw.args, vec![Arg::Text("zoë*%".into())]);
        // Too short for a trigram: LIKE over the column, as on PostgreSQL.
        let short = sql(r#"emails.value co "a*b""#, SQLITE);
        assert_eq!(short.text, sql(r#"emails.value co "a*b""#, POSTGRES).text);
        assert_eq!(short.args, vec![Arg::Text("%a*b%".into())]);
    }

    #[test]
    fn other_substrings_stay_like_on_sqlite() {
        let s = sql(
            r#"userName co "a*" and emails[type sw "w"] and not (emails.value co "xyz")"#,
            SQLITE,
        );
        assert_eq!(
            s.text,
            "((u.user_name_key LIKE ? ESCAPE '\\' AND u.seq IN (SELECT e.user_seq FROM user_emails e WHERE e.type_key LIKE ? ESCAPE '\\')) AND NOT COALESCE(u.seq IN (SELECT e.user_seq FROM user_emails e WHERE e.seq IN (SELECT f.rowid FROM user_emails_fts f WHERE f.value_key GLOB ?)), FALSE))"
        );
        assert_eq!(
            s.args,
            vec![
                Arg::Text("%a*%".into()),
                Arg::Text("w%".into()),
                Arg::Text("*xyz*".into())
            ]
        );
    }

    /// The escaped pattern matches the value literally under SQLite's own GLOB, the
    /// check FTS5 leaves to SQLite after its trigram lookup.
    #[tokio::test]
    async fn escaped_glob_patterns_match_literally_in_sqlite() {
        use sqlx::Connection;
        let mut db = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        for v in [
            "*", "?", "[", "]", "[*]", "a[b]c", "x?y*z", "[^a]", "[]", "%_\\", "ß",
        ] {
            let hay = format!("pre{v}post");
            for (pattern, want) in [
                (format!("*{}*", escape_glob(v)), true),
                (format!("pre{}*", escape_glob(v)), true),
                (format!("*{}post", escape_glob(v)), true),
                (format!("*{}x*", escape_glob(v)), false),
            ] {
                let (got,): (bool,) = sqlx::query_as("SELECT ? GLOB ?")
                    .bind(&hay)
                    .bind(&pattern)
                    .fetch_one(&mut db)
                    .await
                    .unwrap();
                assert_eq!(got, want, "{hay:?} GLOB {pattern:?}");
            }
            // ...and does not match a value where the metacharacter would be a wildcard.
            if v == "*" || v == "?" {
                let (got,): (bool,) = sqlx::query_as("SELECT ? GLOB ?")
                    .bind("prezpost")
                    .bind(format!("pre{}post", escape_glob(v)))
                    .fetch_one(&mut db)
                    .await
                    .unwrap();
                assert!(!got, "{v:?} matched as a wildcard");
            }
        }
    }
}
