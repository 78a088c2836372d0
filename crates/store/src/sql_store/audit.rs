//! Reading the audit trail (rows are written by [`super::Write::commit`]).

use async_trait::async_trait;
use roster_core::policy::AuditReader;

use super::SqlStore;
use crate::audit::{AuditQuery, AuditRow};
use crate::db::{Arg, Backend};
use crate::sql::Sql;
use crate::{AuditStore, Result};

#[async_trait]
impl<B: Backend> AuditStore for SqlStore<B> {
    async fn audit_rows(&self, _: &AuditReader, q: &AuditQuery) -> Result<Vec<AuditRow>> {
        let mut sql = Sql::new();
        sql.push("SELECT seq, at, actor, action, target, request_id FROM audit_log WHERE 1 = 1");
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
        if let Some(s) = q.since {
            sql.push(" AND at >= ").bind(Arg::Int(s));
        }
        if let Some(u) = q.until {
            sql.push(" AND at < ").bind(Arg::Int(u));
        }
        if let Some(b) = q.before {
            sql.push(" AND seq < ").bind(Arg::Int(b));
        }
        sql.push(" ORDER BY seq DESC LIMIT ")
            .bind(Arg::Int(q.limit.unwrap_or(100).clamp(0, 1000)));
        let mut r = self.db.reader().await?;
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
                })
            })
            .collect()
    }
}
