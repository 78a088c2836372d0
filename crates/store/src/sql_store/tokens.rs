use roster_core::secret::NewToken;
use roster_core::{Permission, PermissionSet, Principal};
use uuid::Uuid;

use crate::args;
use crate::db::Exec;
use crate::{Result, StoreError};

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
pub(super) async fn principal(ex: &mut dyn Exec, hash: &str) -> Result<Option<Principal>> {
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
