//! Reading the audit trail (rows are written by [`super::Write::commit`]).

use async_trait::async_trait;
use roster_core::policy::{AuditReader, Operator};

use super::SqlStore;
use crate::args;
use crate::audit::{Action, AuditQuery, AuditRow};
use crate::db::{Arg, Backend};
use crate::sql::Sql;
use crate::{AuditStore, Result};

/// How far out of order a row's stamp may be and still be found by a time window.
const EDGE_MICROS: i64 = 1_000_000;

#[async_trait]
impl<B: Backend> AuditStore for SqlStore<B> {
    async fn audit_rows(&self, _: &AuditReader, q: &AuditQuery) -> Result<Vec<AuditRow>> {
        let mut sql = Sql::new();
        sql.push(
            "SELECT seq, at, actor, action, target, request_id, changes FROM audit_log WHERE 1 = 1",
        );
        if let Some(r) = &q.request_id {
            sql.push(" AND request_id = ").bind(Arg::Text(r.clone()));
        }
        if let Some(a) = &q.actor {
            sql.push(" AND actor = ").bind(Arg::Text(a.clone()));
        }
        if let Some(a) = q.action {
            sql.push(" AND action = ")
                .bind(Arg::Text(a.as_str().to_owned()));
        }
        if let Some(t) = &q.target {
            // The id itself, or the id and a space and more: a range, so the index serves it.
            sql.push(" AND (target = ")
                .bind(Arg::Text(t.clone()))
                .push(" OR (target > ")
                .bind(Arg::Text(format!("{t} ")))
                .push(" AND target < ")
                .bind(Arg::Text(format!("{t}!")))
                .push("))");
        }
        let mut r = self.db.reader().await?;
        // A time window becomes a range of seq (rows are stamped in nearly the order they
        // are numbered), found at its two edges through the (at, seq) index, so the newest
        // first walk stays on the primary key instead of sorting every row of the window
        // (1.2 s for a million rows). The edges are looked up a second wider, so a row
        // stamped out of order by less than that (concurrent writers) is still found; the
        // exact window is then checked on each row (`+at`: not through the at index).
        if let Some(s) = q.since {
            let lo = r
                .fetch_optional(
                    "SELECT seq FROM audit_log WHERE at >= ? ORDER BY at, seq LIMIT 1",
                    &args![s.saturating_sub(EDGE_MICROS)],
                )
                .await?;
            let Some(lo) = lo else {
                return Ok(Vec::new());
            };
            sql.push(" AND seq >= ").bind(Arg::Int(lo.int("seq")?));
            sql.push(" AND +at >= ").bind(Arg::Int(s));
        }
        if let Some(u) = q.until {
            let hi = r
                .fetch_optional(
                    "SELECT seq FROM audit_log WHERE at < ? ORDER BY at DESC, seq DESC LIMIT 1",
                    &args![u.saturating_add(EDGE_MICROS)],
                )
                .await?;
            let Some(hi) = hi else {
                return Ok(Vec::new());
            };
            sql.push(" AND seq <= ").bind(Arg::Int(hi.int("seq")?));
            sql.push(" AND +at < ").bind(Arg::Int(u));
        }
        if let Some(b) = q.before {
            sql.push(" AND seq < ").bind(Arg::Int(b));
        }
        sql.push(" ORDER BY seq DESC LIMIT ")
            .bind(Arg::Int(q.limit.unwrap_or(100).clamp(0, 1000)));
        r.fetch_all(&sql.text, &sql.args)
            .await?
            .iter()
            .map(|row| {
                Ok(AuditRow {
                    seq: row.int("seq")?,
                    at: row.int("at")?,
                    actor: row.opt_text("actor")?,
                    action: row.text("action")?,
                    target: row.opt_text("target")?,
                    request_id: row.opt_text("request_id")?,
                    changes: row
                        .opt_text("changes")?
                        .map(|c| {
                            c.split(',')
                                .filter(|n| !n.is_empty())
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn prune_audit(&self, by: &Operator, before: i64, batch: i64) -> Result<u64> {
        let batch = batch.clamp(1, 10_000);
        let mut total = 0u64;
        loop {
            let mut tx = self.db.begin().await?;
            let n = tx
                .execute(
                    "DELETE FROM audit_log WHERE seq IN \
                     (SELECT seq FROM audit_log WHERE at < ? ORDER BY seq LIMIT ?)",
                    &args![before, batch],
                )
                .await?;
            tx.commit().await?;
            total += n;
            if n < u64::try_from(batch).unwrap_or(u64::MAX) {
                break;
            }
            // Between batches, let other writers in.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        if total > 0 {
            let w = self.write(by.actor(), &crate::WriteCtx::default()).await?;
            w.commit(
                Action::AuditPrune,
                &format!("{total} rows before {}", roster_core::format_micros(before)),
            )
            .await?;
        }
        Ok(total)
    }
}
