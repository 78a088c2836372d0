//! [`TotpStore`]: TOTP enrolments and recovery codes.

use async_trait::async_trait;
use roster_core::policy::TokenAdmin;
use roster_core::Entity;
use uuid::Uuid;

use super::SqlStore;
use crate::args;
use crate::audit::Action;
use crate::db::{Backend, Exec};
use crate::{Result, StoreError, TotpRecord, TotpStore, WriteCtx};

/// The user's seq, if `by` may manage their credentials (others read as absent).
async fn managed(ex: &mut dyn Exec, by: &TokenAdmin, user: Uuid) -> Result<i64> {
    let row = ex
        .fetch_optional(
            "SELECT seq FROM users WHERE id = ?",
            &args![user.to_string()],
        )
        .await?;
    match row {
        Some(r) if by.may_manage(user) => r.int("seq"),
        _ => Err(StoreError::NotFound(Entity::User(user))),
    }
}

#[async_trait]
impl<B: Backend> TotpStore for SqlStore<B> {
    async fn totp(&self, user_seq: i64) -> Result<Option<TotpRecord>> {
        let mut r = self.db.reader().await?;
        let row = r
            .fetch_optional(
                "SELECT t.secret_sealed, t.enrolled_at, t.last_step, \
                 (SELECT COUNT(*) FROM totp_recovery c WHERE c.user_seq = t.user_seq \
                  AND c.used_at IS NULL) AS recovery_left \
                 FROM user_totp t WHERE t.user_seq = ?",
                &args![user_seq],
            )
            .await?;
        row.map(|r| {
            Ok(TotpRecord {
                secret_sealed: r.text("secret_sealed")?,
                enrolled_at: r.opt_int("enrolled_at")?,
                last_step: r.int("last_step")?,
                recovery_left: r.int("recovery_left")?,
            })
        })
        .transpose()
    }

    async fn begin_totp(&self, by: &TokenAdmin, user: Uuid, secret_sealed: &str) -> Result<()> {
        // Nothing is in force until the first code confirms it: no audit row yet.
        let mut tx = self.db.begin().await?;
        let seq = managed(&mut *tx, by, user).await?;
        let now = roster_core::now_micros();
        // An enrolled TOTP is never replaced here: a new enrolment waits in a pending row
        // only when there is none (reset first, or confirm with a code of the new secret).
        let n = tx
            .execute(
                "UPDATE user_totp SET secret_sealed = ?, created_at = ? \
                 WHERE user_seq = ? AND enrolled_at IS NULL",
                &args![secret_sealed, now, seq],
            )
            .await?;
        if n == 0 {
            let exists = tx
                .fetch_optional(
                    "SELECT 1 AS one FROM user_totp WHERE user_seq = ?",
                    &args![seq],
                )
                .await?
                .is_some();
            if exists {
                return Err(StoreError::Conflict(roster_core::Unique::Other(
                    "a TOTP is already enrolled; reset it before enrolling a new one".into(),
                )));
            }
            tx.execute(
                "INSERT INTO user_totp (user_seq, secret_sealed, created_at) VALUES (?, ?, ?)",
                &args![seq, secret_sealed, now],
            )
            .await?;
        }
        tx.commit().await
    }

    async fn confirm_totp(
        &self,
        by: &TokenAdmin,
        ctx: &WriteCtx,
        user: Uuid,
        pending_sealed: &str,
        step: i64,
        recovery_hashes: &[String],
    ) -> Result<bool> {
        let mut w = self.write(by.actor(), ctx).await?;
        let seq = managed(w.ex(), by, user).await?;
        // Only the secret the code was checked against (a second enrolment started in
        // another tab replaced it: that one needs its own code).
        let n = w
            .ex()
            .execute(
                "UPDATE user_totp SET enrolled_at = ?, last_step = ? \
                 WHERE user_seq = ? AND enrolled_at IS NULL AND secret_sealed = ?",
                &args![roster_core::now_micros(), step, seq, pending_sealed],
            )
            .await?;
        if n == 0 {
            return Ok(false);
        }
        w.ex()
            .execute("DELETE FROM totp_recovery WHERE user_seq = ?", &args![seq])
            .await?;
        for h in recovery_hashes {
            w.ex()
                .execute(
                    "INSERT INTO totp_recovery (user_seq, code_hash) VALUES (?, ?)",
                    &args![seq, h.as_str()],
                )
                .await?;
        }
        w.commit(Action::TotpEnrol, &user.to_string()).await?;
        Ok(true)
    }

    async fn reset_totp(&self, by: &TokenAdmin, ctx: &WriteCtx, user: Uuid) -> Result<bool> {
        let mut w = self.write(by.actor(), ctx).await?;
        let seq = managed(w.ex(), by, user).await?;
        w.ex()
            .execute("DELETE FROM totp_recovery WHERE user_seq = ?", &args![seq])
            .await?;
        let n = w
            .ex()
            .execute("DELETE FROM user_totp WHERE user_seq = ?", &args![seq])
            .await?;
        if n == 0 {
            return Ok(false);
        }
        w.commit(Action::TotpReset, &user.to_string()).await?;
        Ok(true)
    }

    async fn use_totp_step(&self, user_seq: i64, step: i64) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        let n = tx
            .execute(
                "UPDATE user_totp SET last_step = ? WHERE user_seq = ? \
                 AND enrolled_at IS NOT NULL AND last_step < ?",
                &args![step, user_seq, step],
            )
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn use_recovery_code(&self, user_seq: i64, code_hash: &str) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        let n = tx
            .execute(
                "UPDATE totp_recovery SET used_at = ? WHERE user_seq = ? AND code_hash = ? \
                 AND used_at IS NULL",
                &args![roster_core::now_micros(), user_seq, code_hash],
            )
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }
}
