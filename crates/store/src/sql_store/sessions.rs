//! [`SessionStore`]: sign-in sessions and the password checks they rest on.

use async_trait::async_trait;
use roster_core::user::fold;
use roster_core::Principal;

use super::oauth::OWNER as PRINCIPAL;
use super::tokens::principal_from_rows;
use super::SqlStore;
use crate::args;
use crate::db::Backend;
use crate::{Login, NewSession, Result, SessionAuth, SessionKey, SessionStore};

fn by(key: SessionKey<'_>) -> (&'static str, &str) {
    match key {
        SessionKey::Cookie(h) => ("s.id_hash", h),
        SessionKey::Key(h) => ("s.key_hash", h),
    }
}

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
             created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            &args![
                s.id_hash,
                s.key_hash,
                s.csrf_hash,
                s.user_seq,
                s.password_stamp,
                now,
                s.expires_at
            ],
        )
        .await?;
        tx.commit().await
    }

    async fn session(&self, key: SessionKey<'_>) -> Result<Option<SessionAuth>> {
        let (col, hash) = by(key);
        let mut r = self.db.reader().await?;
        let rows = r
            .fetch_all(
                &format!(
                    "SELECT u.seq, u.id, u.user_name, p.permission, s.csrf_hash FROM sessions s \
                     JOIN users u ON u.seq = s.user_seq \
                     LEFT JOIN user_permissions p ON p.user_seq = u.seq \
                     WHERE {col} = ? AND s.expires_at > ? AND u.active = TRUE \
                     AND COALESCE(u.password_changed_at, 0) = s.password_stamp"
                ),
                &args![hash, roster_core::now_micros()],
            )
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let csrf_hash = first.text("csrf_hash")?;
        Ok(principal_from_rows(&rows)?.map(|principal| SessionAuth {
            principal,
            csrf_hash,
        }))
    }

    async fn end_session(&self, key: SessionKey<'_>) -> Result<bool> {
        let (col, hash) = by(key);
        let col = col.trim_start_matches("s.");
        let mut tx = self.db.begin().await?;
        let n = tx
            .execute(
                &format!("DELETE FROM sessions WHERE {col} = ?"),
                &args![hash],
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
                     AND COALESCE(u.password_changed_at, 0) = ?"
                ),
                &args![user_seq, password_stamp],
            )
            .await?;
        principal_from_rows(&rows)
    }
}
