//! The directory's persistence logic, written once over the [`Backend`] interface and so
//! shared by SQLite and PostgreSQL. Every write is one transaction together with its
//! audit row; reads run on pooled connections.

mod access;
mod audit;
mod group_batch;
mod groups;
mod import;
mod links;
mod oauth;
mod orgs;
mod outbox;
mod roles;
mod search;
mod sessions;
mod storage;
mod tokens;
mod totp;
mod users;

use std::sync::Arc;

use async_trait::async_trait;
use roster_core::policy::{Actor, Operator};
use roster_core::{Entity, Permission};
use uuid::Uuid;

use crate::args;
use crate::audit::Action;
use crate::db::{Arg, Backend, Exec, Tx};
use crate::sql::Sql;
use crate::{Bootstrap, Lifecycle, Result, StoreError, WriteCtx};

pub struct SqlStore<B> {
    db: Arc<B>,
    /// The groups whose changes this node is writing in batches (PostgreSQL).
    group_queues: Arc<group_batch::Queues>,
}

impl<B: Backend> SqlStore<B> {
    pub fn new(db: B) -> Self {
        Self {
            db: Arc::new(db),
            group_queues: Arc::default(),
        }
    }

    /// Opens the write transaction of one change by `actor` under `ctx`'s request.
    pub(crate) async fn write(&self, actor: &Actor, ctx: &WriteCtx) -> Result<Write<'_>> {
        Write::begin(&*self.db, actor.audit_name(), ctx.clone()).await
    }
}

/// One change in progress: its transaction, and who makes it under which request. The only
/// way to commit is [`Write::commit`], which writes the change's audit row in the same
/// transaction, so no change is stored without one. Dropped without committing, it rolls
/// back.
pub(crate) struct Write<'a> {
    tx: Box<dyn Tx + 'a>,
    actor: String,
    request_id: Option<String>,
    gate: Option<crate::CommitGate>,
    /// The attribute names the commit's audit row records.
    changes: Option<String>,
}

impl<'a> Write<'a> {
    /// Opens the write transaction of one change by the actor named `actor` (its audit name).
    pub(crate) async fn begin<B: Backend>(db: &'a B, actor: String, ctx: WriteCtx) -> Result<Self> {
        Ok(Write {
            tx: db.begin().await?,
            actor,
            request_id: ctx.request_id,
            gate: ctx.gate,
            changes: None,
        })
    }

    /// The transaction, for the statements of the change.
    pub(crate) fn ex(&mut self) -> &mut dyn Exec {
        &mut *self.tx
    }

    /// An audit row besides the one [`Write::commit`] writes (a change with several parts).
    pub(crate) async fn audit(&mut self, action: Action, target: &str) -> Result<()> {
        self.audit_row(action, target, None).await
    }

    async fn audit_row(
        &mut self,
        action: Action,
        target: &str,
        changes: Option<String>,
    ) -> Result<()> {
        let row = AuditRow {
            actor: &self.actor,
            action,
            target,
            request_id: self.request_id.as_deref(),
            changes: changes.as_deref(),
        };
        insert_audit_rows(&mut *self.tx, &[row]).await
    }

    /// Names the attributes the change changed, for its audit row.
    pub(crate) fn changed(&mut self, names: &[&str]) {
        self.changes = Some(names.join(","));
    }

    /// Writes the audit row of the change and commits both, unless the request has timed
    /// out already (then it rolls back: the client is told nothing changed, and nothing did).
    pub(crate) async fn commit(mut self, action: Action, target: &str) -> Result<()> {
        let changes = self.changes.take();
        self.audit_row(action, target, changes).await?;
        if let Some(g) = &self.gate {
            g.begin_commit()?;
        }
        self.tx.commit().await
    }
}

/// One row of `audit_log`, as a change writes it in its transaction.
pub(crate) struct AuditRow<'a> {
    pub actor: &'a str,
    pub action: Action,
    pub target: &'a str,
    pub request_id: Option<&'a str>,
    pub changes: Option<&'a str>,
}

/// Writes the audit rows in one statement.
pub(crate) async fn insert_audit_rows(tx: &mut dyn Exec, rows: &[AuditRow<'_>]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let at = roster_core::now_micros();
    let mut a = Vec::with_capacity(rows.len() * 6);
    for r in rows {
        a.extend(args![
            at,
            r.actor,
            r.action.as_str(),
            r.target,
            r.request_id,
            r.changes
        ]);
    }
    let values = vec!["(?, ?, ?, ?, ?, ?)"; rows.len()].join(", ");
    tx.execute(
        &format!(
            "INSERT INTO audit_log (at, actor, action, target, request_id, changes) VALUES {values}"
        ),
        &a,
    )
    .await?;
    Ok(())
}

/// The arguments of `LIMIT ? OFFSET ?` for a page: the count written into PostgreSQL's
/// statement, and the offset too when it is 0 (the first page, by far the most asked for),
/// so the statement keeps one generic plan; a deeper offset stays a parameter (one
/// statement per offset would churn the statement cache).
pub(crate) fn page_window(page: &roster_core::PageRequest) -> [Arg; 2] {
    let offset = page.offset();
    [
        Arg::Inline(page.count),
        if offset == 0 {
            Arg::Inline(0)
        } else {
            Arg::Int(offset)
        },
    ]
}

/// `totalResults` read off the page itself when it can be: a page that is neither empty nor
/// full ends the result set, and so does an empty first page. Saves the COUNT — a second
/// scan — on the most common lists (an `eq` filter on a unique attribute, a last page).
pub(crate) fn total_from_page(page: &roster_core::PageRequest, got: usize) -> Option<i64> {
    let got = i64::try_from(got).ok()?;
    let offset = page.offset();
    (page.count > 0 && got < page.count && (got > 0 || offset == 0)).then_some(offset + got)
}

/// `totalResults` of a list whose page held `got` rows: from the page when it can tell,
/// else from `count_sql` (one row, column `n`).
pub(crate) async fn total(
    ex: &mut dyn Exec,
    page: &roster_core::PageRequest,
    got: usize,
    count_sql: &str,
    args: &[crate::db::Arg],
) -> Result<i64> {
    match total_from_page(page, got) {
        Some(t) => Ok(t),
        None => ex.fetch_one(count_sql, args).await?.int("n"),
    }
}

/// ` WHERE a AND b` from fixed conditions and an optional compiled filter.
pub(crate) fn where_clause(filter: Option<&Sql>, extra: &[&str]) -> String {
    let mut parts: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
    if let Some(f) = filter {
        parts.push(f.text.clone());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", parts.join(" AND "))
    }
}

/// Checks that a row exists at the expected version (If-Match) before a delete.
async fn check_version(
    tx: &mut dyn Exec,
    table: &str,
    missing: Entity,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<()> {
    let row = tx
        .fetch_optional(
            &format!("SELECT version FROM {table} WHERE id = ?"),
            &args![id.to_string()],
        )
        .await?;
    match row {
        None => Err(StoreError::NotFound(missing)),
        Some(r) if if_match.is_some_and(|m| Some(m) != r.int("version").ok()) => {
            Err(StoreError::VersionMismatch)
        }
        Some(_) => Ok(()),
    }
}

#[async_trait]
impl<B: Backend> Lifecycle for SqlStore<B> {
    async fn ping(&self) -> Result<()> {
        self.db.ping().await
    }

    fn pool_stats(&self) -> crate::PoolStats {
        self.db.pool_stats()
    }

    async fn schema_version(&self) -> Result<i64> {
        let mut r = self.db.reader().await?;
        r.fetch_one("SELECT MAX(version) AS v FROM _sqlx_migrations", &[])
            .await?
            .int("v")
    }

    async fn import(
        &self,
        by: &Operator,
        rows: &mut (dyn Iterator<Item = Result<crate::transfer::ImportRow>> + Send),
        merge: bool,
    ) -> Result<crate::transfer::Counts> {
        self.import_rows(by, rows, merge).await
    }

    async fn mail_queued(&self) -> Result<i64> {
        let mut r = self.db.reader().await?;
        r.fetch_one(
            "SELECT COUNT(*) AS n FROM mail_outbox WHERE status = 'queued'",
            &[],
        )
        .await?
        .int("n")
    }

    async fn close(&self) {
        self.db.close().await;
    }

    async fn bootstrap(&self, by: &Operator, ctx: &WriteCtx, b: &Bootstrap) -> Result<bool> {
        let mut w = self.write(by.actor(), ctx).await?;
        if w.ex()
            .fetch_optional("SELECT seq FROM users LIMIT 1", &[])
            .await?
            .is_some()
        {
            return Ok(false);
        }
        let user = users::insert(w.ex(), &b.admin).await?;
        // The first admin owns the organization (Contabo's `owner`).
        w.ex()
            .execute(
                "UPDATE users SET owner = TRUE WHERE seq = ?",
                &args![user.seq],
            )
            .await?;
        for p in Permission::ALL {
            users::grant(w.ex(), user.seq, p).await?;
        }
        tokens::insert(w.ex(), user.seq, Some("bootstrap"), &b.token, None).await?;
        w.commit(Action::Bootstrap, &user.id.to_string()).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::total_from_page;
    use roster_core::PageRequest;

    fn page(start_index: i64, count: i64) -> PageRequest {
        PageRequest { start_index, count }
    }

    #[test]
    fn total_comes_from_a_partial_page_only() {
        assert_eq!(total_from_page(&page(1, 100), 1), Some(1));
        assert_eq!(total_from_page(&page(1, 100), 0), Some(0));
        assert_eq!(total_from_page(&page(201, 100), 7), Some(207));
        // Full page: more may follow. Empty page past the start: the end is somewhere before.
        assert_eq!(total_from_page(&page(1, 100), 100), None);
        assert_eq!(total_from_page(&page(201, 100), 0), None);
        // count=0 asks for the total only.
        assert_eq!(total_from_page(&page(1, 0), 0), None);
    }
}
