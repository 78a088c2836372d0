//! [`OutboxStore`]: mails waiting to be delivered, claimed by senders with a lease.

use async_trait::async_trait;
use roster_core::policy::Operator;

use super::SqlStore;
use crate::args;
use crate::audit::Action;
use crate::db::{Backend, Exec, Row};
use crate::{MailOutcome, MailRow, NewMail, OutboxStore, Result, WriteCtx};

const COLUMNS: &str = "id, message_id, kind, recipient, subject, body_sealed, status, attempts, \
    next_attempt_at, last_error, created_at, sent_at";

/// Longest error text kept per mail (an SMTP answer can be long).
const MAX_ERROR_LEN: usize = 500;

fn from_row(r: &Row) -> Result<MailRow> {
    Ok(MailRow {
        id: r.int("id")?,
        message_id: r.text("message_id")?,
        kind: r.text("kind")?,
        recipient: r.text("recipient")?,
        subject: r.text("subject")?,
        body_sealed: r.text("body_sealed")?,
        status: r.text("status")?,
        attempts: r.int("attempts")?,
        next_attempt_at: r.int("next_attempt_at")?,
        last_error: r.opt_text("last_error")?,
        created_at: r.int("created_at")?,
        sent_at: r.opt_int("sent_at")?,
    })
}

/// Queues a mail, due now, inside the caller's transaction; returns its id.
pub(super) async fn insert(
    ex: &mut dyn Exec,
    kind: &str,
    user_seq: Option<i64>,
    mail: &NewMail,
    now: i64,
) -> Result<i64> {
    ex.fetch_one(
        "INSERT INTO mail_outbox (message_id, kind, user_seq, recipient, subject, body_sealed, \
         status, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?) RETURNING id",
        &args![
            mail.message_id.as_str(),
            kind,
            user_seq,
            mail.recipient.as_str(),
            mail.subject.as_str(),
            mail.body_sealed.as_str(),
            now,
            now
        ],
    )
    .await?
    .int("id")
}

fn clip(error: &str) -> String {
    let mut end = error.len().min(MAX_ERROR_LEN);
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    error.get(..end).unwrap_or_default().to_owned()
}

#[async_trait]
impl<B: Backend> OutboxStore for SqlStore<B> {
    async fn claim_mail(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<MailRow>> {
        // PostgreSQL: SKIP LOCKED lets concurrent claims pass each other's rows instead of
        // waiting for them; the lease condition keeps a row claimed once its claim commits.
        // SQLite has one writer, which serialises claims anyway.
        let skip = if self.db.dialect().lock_for_update.is_empty() {
            ""
        } else {
            " FOR UPDATE SKIP LOCKED"
        };
        let mut tx = self.db.begin().await?;
        let rows = tx
            .fetch_all(
                &format!(
                    "UPDATE mail_outbox SET lease_owner = ?, lease_until = ?, attempts = attempts + 1 \
                     WHERE id IN (SELECT id FROM mail_outbox WHERE status = 'queued' \
                     AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?) \
                     ORDER BY next_attempt_at LIMIT ?{skip}) RETURNING {COLUMNS}"
                ),
                &args![owner, lease_until, now, now, limit],
            )
            .await?;
        tx.commit().await?;
        rows.iter().map(from_row).collect()
    }

    async fn finish_mail(&self, id: i64, owner: &str, outcome: MailOutcome<'_>) -> Result<bool> {
        let now = roster_core::now_micros();
        let (sql, args) = match outcome {
            MailOutcome::Sent => (
                "UPDATE mail_outbox SET status = 'sent', sent_at = ?, body_sealed = '', \
                 lease_owner = NULL, lease_until = NULL, last_error = NULL \
                 WHERE id = ? AND lease_owner = ? AND status = 'queued'",
                args![now, id, owner].to_vec(),
            ),
            MailOutcome::Retry { at, error } => (
                "UPDATE mail_outbox SET next_attempt_at = ?, last_error = ?, \
                 lease_owner = NULL, lease_until = NULL \
                 WHERE id = ? AND lease_owner = ? AND status = 'queued'",
                args![at, clip(error), id, owner].to_vec(),
            ),
            MailOutcome::Failed { error } => (
                "UPDATE mail_outbox SET status = 'failed', last_error = ?, \
                 lease_owner = NULL, lease_until = NULL \
                 WHERE id = ? AND lease_owner = ? AND status = 'queued'",
                args![clip(error), id, owner].to_vec(),
            ),
        };
        let mut tx = self.db.begin().await?;
        let n = tx.execute(sql, &args).await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn next_mail_due(&self) -> Result<Option<i64>> {
        let mut r = self.db.reader().await?;
        r.fetch_one(
            "SELECT MIN(next_attempt_at) AS due FROM mail_outbox WHERE status = 'queued'",
            &[],
        )
        .await?
        .opt_int("due")
    }

    async fn list_mail(
        &self,
        _by: &Operator,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<MailRow>> {
        let mut r = self.db.reader().await?;
        let rows = match status {
            Some(s) => {
                r.fetch_all(
                    &format!(
                        "SELECT {COLUMNS} FROM mail_outbox WHERE status = ? ORDER BY id DESC LIMIT ?"
                    ),
                    &args![s, limit],
                )
                .await?
            }
            None => {
                r.fetch_all(
                    &format!("SELECT {COLUMNS} FROM mail_outbox ORDER BY id DESC LIMIT ?"),
                    &args![limit],
                )
                .await?
            }
        };
        rows.iter().map(from_row).collect()
    }

    async fn retry_mail(&self, by: &Operator, ctx: &WriteCtx, id: i64) -> Result<bool> {
        let mut w = self.write(by.actor(), ctx).await?;
        let n = w
            .ex()
            .execute(
                "UPDATE mail_outbox SET status = 'queued', next_attempt_at = ?, \
                 lease_owner = NULL, lease_until = NULL \
                 WHERE id = ? AND status <> 'sent'",
                &args![roster_core::now_micros(), id],
            )
            .await?;
        if n != 1 {
            return Ok(false);
        }
        w.commit(Action::MailRetry, &format!("mail {id}")).await?;
        Ok(true)
    }
}
