//! [`SessionStore`]: sign-in sessions and the password checks they rest on.

use async_trait::async_trait;
use roster_core::user::fold;
use roster_core::Principal;

use super::oauth::OWNER as PRINCIPAL;
use super::tokens::principal_from_rows;
use super::SqlStore;
use crate::args;
use crate::db::Backend;
use crate::{
    Login, NewSession, Result, SessionAuth, SessionInfo, SessionKey, SessionKind, SessionStore,
};

/// The column a key names a session by, and the kind of session it may name.
fn by(key: SessionKey<'_>) -> (&'static str, &str, SessionKind) {
    match key {
        SessionKey::Cookie(h) => ("s.id_hash", h, SessionKind::Api),
        SessionKey::Key(h) => ("s.key_hash", h, SessionKind::Api),
        SessionKey::Console(h) => ("s.id_hash", h, SessionKind::Console),
    }
}

/// A console session's `last_seen_at` is written at most this often (not on every page).
const TOUCH_EVERY: i64 = 60_000_000;

#[async_trait]
impl<B: Backend> SessionStore for SqlStore<B> {
    async fn login(&self, login: &str) -> Result<Option<Login>> {
        let key = fold(login);
        let mut r = self.db.reader().await?;
        // Both index probes in one statement; the userName match wins over an email match.
        let rows = r
            .fetch_all(
                "SELECT u.seq, u.password_hash, COALESCE(u.password_changed_at, 0) AS stamp, \
                 CASE WHEN u.user_name_key = ? THEN 0 ELSE 1 END AS rank FROM users u \
                 WHERE u.active = TRUE AND (u.user_name_key = ? OR u.seq IN \
                 (SELECT e.user_seq FROM user_emails e WHERE e.value_key = ?)) \
                 ORDER BY rank LIMIT 2",
                &args![key.as_str(), key.as_str(), key.as_str()],
            )
            .await?;
        let chosen = match rows.as_slice() {
            [one] => one,
            [first, second] if first.int("rank")? < second.int("rank")? => first,
            _ => return Ok(None),
        };
        Ok(Some(Login {
            user_seq: chosen.int("seq")?,
            password_hash: chosen.opt_text("password_hash")?,
            password_stamp: chosen.int("stamp")?,
        }))
    }

    async fn create_session(&self, s: &NewSession<'_>) -> Result<()> {
        let now = roster_core::now_micros();
        let mut tx = self.db.begin().await?;
        // Expired sessions go as new ones come (the index on expires_at makes it a range).
        tx.execute("DELETE FROM sessions WHERE expires_at <= ?", &args![now])
            .await?;
        tx.execute(
            "INSERT INTO sessions (id_hash, key_hash, csrf_hash, user_seq, password_stamp, \
             created_at, expires_at, kind, idle_micros, last_seen_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &args![
                s.id_hash,
                s.key_hash,
                s.csrf_hash,
                s.user_seq,
                s.password_stamp,
                now,
                s.expires_at,
                s.kind.as_str(),
                s.idle_micros,
                now
            ],
        )
        .await?;
        tx.commit().await
    }

    async fn session(&self, key: SessionKey<'_>) -> Result<Option<SessionAuth>> {
        let (col, hash, kind) = by(key);
        let now = roster_core::now_micros();
        let rows = {
            let mut r = self.db.reader().await?;
            r.fetch_all(
                &format!(
                    "SELECT u.seq, u.id, u.user_name, p.permission, s.csrf_hash, \
                     s.seq AS session_seq, s.last_seen_at FROM sessions s \
                     JOIN users u ON u.seq = s.user_seq \
                     LEFT JOIN user_permissions p ON p.user_seq = u.seq \
                     WHERE {col} = ? AND s.kind = ? AND s.expires_at > ? \
                     AND (s.idle_micros = 0 OR s.last_seen_at + s.idle_micros > ?) \
                     AND u.active = TRUE \
                     AND COALESCE(u.password_changed_at, 0) = s.password_stamp"
                ),
                &args![hash, kind.as_str(), now, now],
            )
            .await?
        };
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let csrf_hash = first.text("csrf_hash")?;
        let seq = first.int("session_seq")?;
        if kind == SessionKind::Console && first.int("last_seen_at")? < now - TOUCH_EVERY {
            // The idle clock restarts; a lost race with another node's touch is harmless.
            let mut tx = self.db.begin().await?;
            tx.execute(
                "UPDATE sessions SET last_seen_at = ? WHERE seq = ?",
                &args![now, seq],
            )
            .await?;
            tx.commit().await?;
        }
        Ok(principal_from_rows(&rows)?.map(|principal| SessionAuth {
            principal,
            csrf_hash,
            seq,
        }))
    }

    async fn end_session(&self, key: SessionKey<'_>) -> Result<bool> {
        let (col, hash, kind) = by(key);
        let col = col.trim_start_matches("s.");
        let mut tx = self.db.begin().await?;
        let n = tx
            .execute(
                &format!("DELETE FROM sessions WHERE {col} = ? AND kind = ?"),
                &args![hash, kind.as_str()],
            )
            .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn principal_with_password(
        &self,
        user_seq: i64,
        password_stamp: i64,
    ) -> Result<Option<Principal>> {
        let mut r = self.db.reader().await?;
        let rows = r
            .fetch_all(
                &format!(
                    "{PRINCIPAL} WHERE u.seq = ? AND u.active = TRUE \
                     AND COALESCE(u.password_changed_at, 0) = ? \
                     AND NOT EXISTS (SELECT 1 FROM user_totp t WHERE t.user_seq = u.seq \
                     AND t.enrolled_at IS NOT NULL)"
                ),
                &args![user_seq, password_stamp],
            )
            .await?;
        principal_from_rows(&rows)
    }

    async fn sessions_of(&self, user_seq: i64) -> Result<Vec<SessionInfo>> {
        let now = roster_core::now_micros();
        let mut r = self.db.reader().await?;
        let rows = r
            .fetch_all(
                "SELECT seq, kind, created_at, last_seen_at, expires_at FROM sessions \
                 WHERE user_seq = ? AND expires_at > ? \
                 AND (idle_micros = 0 OR last_seen_at + idle_micros > ?) \
                 ORDER BY seq DESC LIMIT 100",
                &args![user_seq, now, now],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SessionInfo {
                    seq: r.int("seq")?,
                    kind: r.text("kind")?,
                    created_at: r.int("created_at")?,
                    last_seen_at: r.int("last_seen_at")?,
                    expires_at: r.int("expires_at")?,
                })
            })
            .collect()
    }

    async fn end_sessions_of(&self, user_seq: i64, seq: Option<i64>) -> Result<u64> {
        let mut tx = self.db.begin().await?;
        let n = match seq {
            Some(s) => {
                tx.execute(
                    "DELETE FROM sessions WHERE user_seq = ? AND seq = ?",
                    &args![user_seq, s],
                )
                .await?
            }
            None => {
                tx.execute("DELETE FROM sessions WHERE user_seq = ?", &args![user_seq])
                    .await?
            }
        };
        tx.commit().await?;
        Ok(n)
    }
}
