//! The credential aggregate (API tokens today) and [`CredentialStore`] over it.

use async_trait::async_trait;
use roster_core::policy::TokenAdmin;
use roster_core::secret::NewToken;
use roster_core::{Permission, PermissionSet, Principal, Unique, UserName};
use uuid::Uuid;

use super::{users, SqlStore};
use crate::args;
use crate::audit::Action;
use crate::db::{Backend, Exec};
use crate::{CredentialStore, Result, StoreError, TokenGrant, TokenInfo, WriteCtx};

pub(super) async fn insert(
    tx: &mut dyn Exec,
    user_seq: i64,
    name: Option<&str>,
    t: &NewToken,
    expires_at: Option<i64>,
) -> Result<()> {
    if let Some(n) = name {
        // Names pick a token to revoke: one live token per name and user.
        let taken = tx
            .fetch_optional(
                "SELECT seq FROM api_tokens WHERE user_seq = ? AND name = ? AND revoked_at IS NULL",
                &args![user_seq, n],
            )
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(Unique::TokenName));
        }
    }
    tx.execute(
        "INSERT INTO api_tokens (user_seq, name, label, token_hash, created_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
        &args![
            user_seq,
            name,
            t.public_id.as_str(),
            t.hash.as_str(),
            roster_core::now_micros(),
            expires_at
        ],
    )
    .await?;
    Ok(())
}

/// Revokes a user's live tokens (those named `name`, or all); returns how many.
pub(super) async fn revoke(tx: &mut dyn Exec, user_seq: i64, name: Option<&str>) -> Result<u64> {
    let now = roster_core::now_micros();
    match name {
        None => {
            tx.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE user_seq = ? AND revoked_at IS NULL",
                &args![now, user_seq],
            )
            .await
        }
        Some(n) => {
            tx.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE user_seq = ? AND name = ? AND revoked_at IS NULL",
                &args![now, user_seq, n],
            )
            .await
        }
    }
}

/// How often a token's last use is written down at most (a write per request would be a
/// write per read).
const TOUCH_EVERY_MICROS: i64 = 60_000_000;

/// Looks the token up by its hash (an index probe: the hash of a 256-bit secret reveals
/// nothing worth timing), checking the owner is active and the token neither revoked nor
/// expired; with the generation of the authentication data read by the same statement (so
/// the principal is exactly that generation's), and the token's seq when its last use is due
/// to be written down.
async fn grant(ex: &mut dyn Exec, hash: &str) -> Result<Option<(TokenGrant, Option<i64>)>> {
    // One round trip: a row per permission (LEFT JOIN keeps users without any).
    let rows = ex
        .fetch_all(
            "SELECT u.seq, u.id, u.user_name, t.seq AS token_seq, t.token_hash, t.last_used_at, \
             t.expires_at, p.permission, (SELECT CAST(SUM(n) AS BIGINT) FROM auth_generation) AS generation \
             FROM api_tokens t \
             JOIN users u ON u.seq = t.user_seq \
             LEFT JOIN user_permissions p ON p.user_seq = u.seq \
             WHERE t.token_hash = ? AND t.revoked_at IS NULL \
             AND (t.expires_at IS NULL OR t.expires_at > ?) AND u.active = TRUE",
            &args![hash, roster_core::now_micros()],
        )
        .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    if !roster_core::secret::ct_eq(&row.text("token_hash")?, hash) {
        return Ok(None);
    }
    let stale = row
        .opt_int("last_used_at")?
        .is_none_or(|t| t < roster_core::now_micros() - TOUCH_EVERY_MICROS);
    let Some(principal) = principal_from_rows(&rows)? else {
        return Ok(None);
    };
    let grant = TokenGrant {
        principal,
        generation: row.int("generation")?,
        expires_at: row.opt_int("expires_at")?,
    };
    Ok(Some((
        grant,
        stale.then(|| row.int("token_seq")).transpose()?,
    )))
}

/// The principal of rows `seq, id, user_name, permission` (one per permission, as a LEFT
/// JOIN on `user_permissions` gives them); `None` for no rows.
pub(super) fn principal_from_rows(rows: &[crate::db::Row]) -> Result<Option<Principal>> {
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let permissions: PermissionSet = rows
        .iter()
        .filter_map(|r| r.opt_text("permission").ok()??.parse::<Permission>().ok())
        .collect();
    Ok(Some(Principal {
        user_seq: row.int("seq")?,
        user_id: Uuid::parse_str(&row.text("id")?)
            .map_err(|e| StoreError::Db(sqlx::Error::Decode(e.into())))?,
        user_name: row.text("user_name")?,
        permissions,
    }))
}

#[async_trait]
impl<B: Backend> CredentialStore for SqlStore<B> {
    async fn create_token(
        &self,
        by: &TokenAdmin,
        ctx: &WriteCtx,
        user: &UserName,
        name: Option<&str>,
        token: &NewToken,
        expires_at: Option<i64>,
    ) -> Result<()> {
        let mut w = self.write(by.actor(), ctx).await?;
        let u = users::require_credentials_of(w.ex(), user, by).await?;
        insert(w.ex(), u.seq, name, token, expires_at).await?;
        w.commit(Action::TokenIssue, &format!("{} {}", u.id, token.public_id))
            .await
    }

    async fn revoke_tokens(
        &self,
        by: &TokenAdmin,
        ctx: &WriteCtx,
        user: &UserName,
        name: Option<&str>,
    ) -> Result<u64> {
        let mut w = self.write(by.actor(), ctx).await?;
        let u = users::require_credentials_of(w.ex(), user, by).await?;
        let n = revoke(w.ex(), u.seq, name).await?;
        let target = match name {
            Some(n) => format!("{} {n}", u.id),
            None => u.id.to_string(),
        };
        w.commit(Action::TokenRevoke, &target).await?;
        Ok(n)
    }

    async fn list_tokens(&self, by: &TokenAdmin, user: &UserName) -> Result<Vec<TokenInfo>> {
        let mut r = self.db.reader().await?;
        let u = users::require_credentials_of(&mut *r, user, by).await?;
        let rows = r
            .fetch_all(
                "SELECT name, label, created_at, last_used_at, expires_at, revoked_at \
                 FROM api_tokens WHERE user_seq = ? ORDER BY seq",
                &args![u.seq],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(TokenInfo {
                    name: row.opt_text("name")?,
                    public_id: row.text("label")?,
                    created_at: row.int("created_at")?,
                    last_used_at: row.opt_int("last_used_at")?,
                    expires_at: row.opt_int("expires_at")?,
                    revoked_at: row.opt_int("revoked_at")?,
                })
            })
            .collect()
    }

    async fn principal_for_token(&self, token_hash: &str) -> Result<Option<TokenGrant>> {
        let found = {
            let mut r = self.db.reader().await?;
            grant(&mut *r, token_hash).await?
        };
        let Some((p, stale)) = found else {
            return Ok(None);
        };
        if let Some(seq) = stale {
            // Bookkeeping, not a change of the directory: no audit row. A failure here must
            // not refuse a valid credential.
            let touched = async {
                let mut tx = self.db.begin().await?;
                tx.execute(
                    "UPDATE api_tokens SET last_used_at = ? WHERE seq = ?",
                    &args![roster_core::now_micros(), seq],
                )
                .await?;
                tx.commit().await
            };
            if let Err(e) = touched.await {
                tracing::debug!(error = %e, "could not record a token's last use");
            }
        }
        Ok(Some(p))
    }

    async fn auth_generation(&self) -> Result<i64> {
        let mut r = self.db.reader().await?;
        let row = r
            .fetch_one(
                "SELECT CAST(SUM(n) AS BIGINT) AS generation FROM auth_generation",
                &[],
            )
            .await?;
        row.int("generation")
    }
}
