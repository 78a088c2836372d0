use roster_core::secret::NewToken;
use roster_core::{Permission, PermissionSet, Principal};
use sqlx::Row;
use uuid::Uuid;

use super::Tx;
use crate::{Result, StoreError};

pub(super) async fn insert(
    tx: &mut Tx,
    user_seq: i64,
    name: Option<&str>,
    t: &NewToken,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens (user_seq, name, label, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(user_seq)
    .bind(name)
    .bind(&t.label)
    .bind(&t.hash)
    .bind(roster_core::now_micros())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Looks the token up by its hash (an index probe: the hash of a 256-bit secret reveals
/// nothing to time), checking the owner is active and the token neither revoked nor expired.
pub(super) async fn principal(pool: &sqlx::SqlitePool, hash: &str) -> Result<Option<Principal>> {
    let row = sqlx::query(
        "SELECT u.seq, u.id, u.user_name, t.token_hash FROM api_tokens t \
         JOIN users u ON u.seq = t.user_seq \
         WHERE t.token_hash = ? AND t.revoked_at IS NULL \
         AND (t.expires_at IS NULL OR t.expires_at > ?) AND u.active = 1",
    )
    .bind(hash)
    .bind(roster_core::now_micros())
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let stored: String = row.try_get("token_hash")?;
    if !roster_core::secret::ct_eq(&stored, hash) {
        return Ok(None);
    }
    let seq: i64 = row.try_get("seq")?;
    let id: String = row.try_get("id")?;
    let perms: Vec<String> =
        sqlx::query_scalar("SELECT permission FROM user_permissions WHERE user_seq = ?")
            .bind(seq)
            .fetch_all(pool)
            .await?;
    let permissions: PermissionSet = perms
        .iter()
        .filter_map(|p| p.parse::<Permission>().ok())
        .collect();
    Ok(Some(Principal {
        user_seq: seq,
        user_id: Uuid::parse_str(&id).map_err(|e| StoreError::Db(sqlx::Error::Decode(e.into())))?,
        user_name: row.try_get("user_name")?,
        permissions,
    }))
}
