//! POST `/.search` over users and groups at once: one page of a single order over both
//! tables (a `UNION ALL` of their keys, then the page's rows by key), never a merge of two
//! whole lists in memory.

use std::collections::HashMap;

use async_trait::async_trait;
use roster_core::policy::GroupScope;
use roster_core::schema::{Cond, Field, Scalar};
use roster_core::{Page, PageRequest};

use super::{groups, users, SqlStore};
use crate::db::{placeholders, Arg, Backend, Dialect, Exec};
use crate::sql::{column, compile, compile_seeing, Sql};
use crate::{Found, GroupQuery, Result, SearchQuery, SearchStore, UserQuery};

const USER: i64 = 0;
const GROUP: i64 = 1;

/// The `SELECT` of one type's keys: kind, seq, creation time and (when sorted) the sort key.
fn branch(kind: i64, table: &str, alias: &str, key: Option<Field>, conds: Vec<Sql>) -> Sql {
    let mut s = Sql::new();
    let k = key.map_or(String::new(), |f| format!(", {} AS k", column(f)));
    s.push(&format!(
        "SELECT {kind} AS kind, {alias}.seq AS seq, {alias}.created_at AS at{k} FROM {table} {alias}"
    ));
    for (i, c) in conds.into_iter().enumerate() {
        s.push(if i == 0 { " WHERE " } else { " AND " });
        s.push(&c.text);
        s.args.extend(c.args);
    }
    s
}

fn user_branch(dialect: Dialect, only: Option<uuid::Uuid>, q: &UserQuery) -> Sql {
    let mut conds = Vec::new();
    if let Some(own) = only {
        let mut c = Sql::new();
        compile(
            &Cond::Cmp(
                Field::UserId,
                roster_core::filter::CompareOp::Eq,
                Scalar::Text(own.to_string()),
            ),
            &mut c,
            dialect,
        );
        conds.push(c);
    }
    if let Some(f) = &q.filter {
        let mut c = Sql::new();
        let seen = q
            .groups
            .as_ref()
            .map(roster_core::policy::GroupReader::scope);
        compile_seeing(f, &mut c, dialect, seen);
        conds.push(c);
    }
    branch(USER, "users", "u", q.sort.map(|s| s.field), conds)
}

fn group_branch(dialect: Dialect, scope: GroupScope, q: &GroupQuery) -> Sql {
    let mut conds = Vec::new();
    let mut c = Sql::new();
    groups::scope_condition(scope, &mut c);
    if !c.text.is_empty() {
        conds.push(c);
    }
    if let Some(f) = &q.filter {
        let mut c = Sql::new();
        compile(f, &mut c, dialect);
        conds.push(c);
    }
    branch(GROUP, "groups", "g", q.sort.map(|s| s.field), conds)
}

async fn search(ex: &mut dyn Exec, dialect: Dialect, q: &SearchQuery<'_>) -> Result<Page<Found>> {
    // Totals per type, as each list counts them.
    let count_only = PageRequest {
        start_index: 1,
        count: 0,
    };
    let mut total = 0;
    if let Some((reader, uq)) = q.users {
        let uq = UserQuery {
            page: count_only,
            ..uq.clone()
        };
        total += users::list_for(ex, dialect, reader, &uq).await?.total;
    }
    if let Some((reader, gq)) = q.groups {
        let gq = GroupQuery {
            page: count_only,
            with_members: false,
            ..gq.clone()
        };
        total += groups::list(ex, dialect, reader.scope(), &gq).await?.total;
    }
    let mut items = Vec::new();
    if q.page.count > 0 && q.page.offset() < total {
        let mut branches = Vec::new();
        if let Some((reader, uq)) = q.users {
            branches.push(user_branch(dialect, reader.only(), uq));
        }
        if let Some((reader, gq)) = q.groups {
            branches.push(group_branch(dialect, reader.scope(), gq));
        }
        let sort = q
            .users
            .and_then(|(_, u)| u.sort)
            .or_else(|| q.groups.and_then(|(_, g)| g.sort));
        let order = match sort {
            Some(s) if s.descending => " ORDER BY (k IS NULL), k DESC, kind, seq",
            Some(_) => " ORDER BY (k IS NULL), k, kind, seq",
            None if q.newest_first => " ORDER BY at DESC, kind, seq DESC",
            None => " ORDER BY at, kind, seq",
        };
        let mut sql = Sql::new();
        sql.push("SELECT kind, seq FROM (");
        for (i, b) in branches.into_iter().enumerate() {
            if i > 0 {
                sql.push(" UNION ALL ");
            }
            sql.push(&b.text);
            sql.args.extend(b.args);
        }
        sql.push(&format!(") x{order} LIMIT "))
            .bind(Arg::Int(q.page.count))
            .push(" OFFSET ")
            .bind(Arg::Int(q.page.offset()));
        let keys: Vec<(i64, i64)> = ex
            .fetch_all(&sql.text, &sql.args)
            .await?
            .iter()
            .map(|r| Ok((r.int("kind")?, r.int("seq")?)))
            .collect::<Result<_>>()?;
        let seqs = |kind: i64| -> Vec<i64> {
            keys.iter()
                .filter(|(k, _)| *k == kind)
                .map(|&(_, s)| s)
                .collect()
        };
        let mut users: HashMap<i64, roster_core::User> = HashMap::new();
        let user_seqs = seqs(USER);
        if !user_seqs.is_empty() {
            let groups = q.users.and_then(|(_, u)| {
                u.with_groups
                    .then(|| {
                        u.groups
                            .as_ref()
                            .map(roster_core::policy::GroupReader::scope)
                    })
                    .flatten()
            });
            for u in users::load_by_seqs(ex, dialect, &user_seqs, groups).await? {
                users.insert(u.seq, u);
            }
        }
        let mut groups: HashMap<i64, roster_core::Group> = HashMap::new();
        let group_seqs = seqs(GROUP);
        if !group_seqs.is_empty() {
            let with_members = q.groups.is_some_and(|(_, g)| g.with_members);
            for g in groups::load_by_seqs(ex, &group_seqs, with_members).await? {
                groups.insert(g.seq, g);
            }
        }
        // In the page's order; a row deleted between the two reads is left out.
        for (kind, seq) in keys {
            let found = if kind == USER {
                users.remove(&seq).map(Found::User)
            } else {
                groups.remove(&seq).map(Found::Group)
            };
            items.extend(found);
        }
    }
    Ok(Page {
        items,
        total,
        start_index: q.page.start_index,
    })
}

/// The rows of `select` (`SELECT ... FROM table alias`) whose `alias.seq` is one of
/// `seqs`, decoded by `decode`, in no particular order: one query per 500 seqs.
pub(super) async fn by_seqs<T>(
    ex: &mut dyn Exec,
    select: &str,
    alias: &str,
    seqs: &[i64],
    decode: fn(&crate::db::Row) -> Result<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(seqs.len());
    for chunk in seqs.chunks(500) {
        let sql = format!(
            "{select} WHERE {alias}.seq IN ({})",
            placeholders(chunk.len())
        );
        let args: Vec<Arg> = chunk.iter().map(|&s| Arg::Int(s)).collect();
        for row in ex.fetch_all(&sql, &args).await? {
            out.push(decode(&row)?);
        }
    }
    Ok(out)
}

#[async_trait]
impl<B: Backend> SearchStore for SqlStore<B> {
    async fn search(&self, q: &SearchQuery<'_>) -> Result<Page<Found>> {
        let mut r = self.db.reader().await?;
        search(&mut *r, self.db.dialect(), q).await
    }
}
