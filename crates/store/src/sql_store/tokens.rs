//! The credential aggregate (API tokens today) and [`CredentialStore`] over it.

use async_trait::async_trait;
use roster_core::policy::TokenAdmin;
use roster_core::secret::NewToken;
use roster_core::{Permission, PermissionSet, Principal, UserName};
use uuid::Uuid;

use super::{users, SqlStore};
use crate::args;
use crate::audit::Action;
use crate::db::{Backend, Exec};
use crate::{CredentialStore, Result, StoreError, WriteCtx};

pub(super) async fn insert(
    tx: &mut dyn Exec,
    user_seq: i64,
    name: Option<&str>,
    t: &NewToken,
) -> Result<()> {
    tx.execute(
        "INSERT INTO api_tokens (user_seq, name, label, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        &args![user_seq, name, t.label.as_str(), t.hash.as_str(), roster_core::now_micros()],
    )
    .await?;
    Ok(())
}

/// Looks the token up by its hash (an index probe: the hash of a 256-bit secret reveals
/// nothing worth timing), checking the owner is active and the token neither revoked nor
/// expired. No cache: a deactivation or revocation is seen by the very next request, on
/// every node.
async fn principal(ex: &mut dyn Exec, hash: &str) -> Result<Option<Principal>> {
    // One round trip: a row per permission (LEFT JOIN keeps users without any).
    let rows = ex
        .fetch_all(
            "SELECT u.seq, u.id, u.user_name, t.token_hash, p.permission FROM api_tokens t \
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
    ) -> Result<()> {
        let mut w = self.write(by.actor(), ctx).await?;
        let u = users::require_by_name(w.ex(), user).await?;
        insert(w.ex(), u.seq, name, token).await?;
        w.commit(Action::TokenIssue, &format!("{} {}", u.id, token.label))
            .await
    }

    async fn revoke_tokens(&self, by: &TokenAdmin, ctx: &WriteCtx, user: &UserName) -> Result<u64> {
        let mut w = self.write(by.actor(), ctx).await?;
        let u = users::require_by_name(w.ex(), user).await?;
        let n = w
            .ex()
            .execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE user_seq = ? AND revoked_at IS NULL",
                &args![roster_core::now_micros(), u.seq],
            )
            .await?;
        w.commit(Action::TokenRevoke, &u.id.to_string()).await?;
        Ok(n)
    }

    async fn principal_for_token(&self, token_hash: &str) -> Result<Option<Principal>> {
        let mut r = self.db.reader().await?;
        principal(&mut *r, token_hash).await
    }
}
