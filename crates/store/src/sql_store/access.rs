//! [`AccessStore`]: a user with their permissions, capabilities and sign-in times.

use async_trait::async_trait;
use roster_core::policy::{CapabilityAdmin, UserReader};
use roster_core::{capability, Entity, Permission, PermissionSet};
use uuid::Uuid;

use super::{users, SqlStore};
use crate::args;
use crate::audit::Action;
use crate::db::{placeholders, Arg, Backend, Exec};
use crate::{Access, AccessStore, Authz, CapabilityEdit, Result, StoreError, WriteCtx};

/// A sign-in within this of the recorded one is the same sign-in (an SDK that fetches a
/// token per call must not make every call a write).
const SAME_SIGN_IN_MICROS: i64 = 60_000_000;

async fn load(ex: &mut dyn Exec, id: Uuid, lock: &str) -> Result<Option<Access>> {
    let Some(user) = users::load(ex, "u.id = ?", id.to_string().into(), lock).await? else {
        return Ok(None);
    };
    let permissions: PermissionSet = ex
        .fetch_all(
            "SELECT permission FROM user_permissions WHERE user_seq = ?",
            &args![user.seq],
        )
        .await?
        .iter()
        .filter_map(|r| r.text("permission").ok()?.parse::<Permission>().ok())
        .collect();
    let stored: Vec<String> = ex
        .fetch_all(
            "SELECT capability FROM user_capabilities WHERE user_seq = ?",
            &args![user.seq],
        )
        .await?
        .iter()
        .filter_map(|r| r.text("capability").ok())
        .collect();
    let times = ex
        .fetch_one(
            "SELECT last_login_at, current_login_at, password_changed_at FROM users WHERE seq = ?",
            &args![user.seq],
        )
        .await?;
    Ok(Some(Access {
        capabilities: capability::shown(&permissions, &stored),
        permissions,
        last_login_at: times.opt_int("last_login_at")?,
        current_login_at: times.opt_int("current_login_at")?,
        password_changed_at: times.opt_int("password_changed_at")?,
        user,
    }))
}

#[async_trait]
impl<B: Backend> AccessStore for SqlStore<B> {
    async fn access(&self, by: &UserReader, id: Uuid) -> Result<Option<Access>> {
        if !by.may_read(id) {
            return Ok(None);
        }
        let mut r = self.db.reader().await?;
        load(&mut *r, id, "").await
    }

    async fn set_capabilities(
        &self,
        by: &CapabilityAdmin,
        ctx: &WriteCtx,
        id: Uuid,
        edit: CapabilityEdit<'_>,
    ) -> Result<Access> {
        let lock = self.db.dialect().lock_for_update;
        let mut w = self.write(by.actor(), ctx).await?;
        let before = load(w.ex(), id, lock)
            .await?
            .ok_or(StoreError::NotFound(Entity::User(id)))?;
        let after = edit(&before.capabilities)?;
        let change = capability::change(&before.permissions, &after)?;
        let seq = before.user.seq;
        for p in &change.grant {
            users::grant(w.ex(), seq, *p).await?;
        }
        for p in &change.revoke {
            w.ex()
                .execute(
                    "DELETE FROM user_permissions WHERE user_seq = ? AND permission = ?",
                    &args![seq, p.as_str()],
                )
                .await?;
        }
        super::roles::sync_admin(w.ex(), "(?)", &args![seq]).await?;
        w.ex()
            .execute(
                "DELETE FROM user_capabilities WHERE user_seq = ?",
                &args![seq],
            )
            .await?;
        for c in &change.stored {
            w.ex()
                .execute(
                    "INSERT INTO user_capabilities (user_seq, capability) VALUES (?, ?)",
                    &args![seq, c.as_str()],
                )
                .await?;
        }
        let now_loaded = load(w.ex(), id, "")
            .await?
            .ok_or(StoreError::NotFound(Entity::User(id)))?;
        if now_loaded.capabilities == before.capabilities {
            // Nothing changed: nothing to commit, no audit row.
            return Ok(before);
        }
        w.ex()
            .execute(
                "UPDATE users SET version = version + 1, modified_at = ? WHERE seq = ?",
                &args![roster_core::now_micros(), seq],
            )
            .await?;
        let added: Vec<String> = now_loaded
            .capabilities
            .iter()
            .filter(|c| !before.capabilities.contains(c))
            .map(|c| format!("+{c}"))
            .collect();
        let removed: Vec<String> = before
            .capabilities
            .iter()
            .filter(|c| !now_loaded.capabilities.contains(c))
            .map(|c| format!("-{c}"))
            .collect();
        let target = format!("{id} {}", [added, removed].concat().join(" "));
        w.commit(Action::CapabilityChange, &target).await?;
        let mut r = self.db.reader().await?;
        load(&mut *r, id, "")
            .await?
            .ok_or(StoreError::NotFound(Entity::User(id)))
    }

    async fn authz_of(
        &self,
        by: &UserReader,
        seqs: &[i64],
    ) -> Result<std::collections::HashMap<i64, Authz>> {
        let mut out = std::collections::HashMap::with_capacity(seqs.len());
        // A page of a list: at most a few hundred seqs, well under the parameter limits.
        for chunk in seqs.chunks(500) {
            let mut r = self.db.reader().await?;
            let rows = r
                .fetch_all(
                    &format!(
                        "SELECT u.seq, u.id, u.last_login_at, p.permission FROM users u \
                         LEFT JOIN user_permissions p ON p.user_seq = u.seq WHERE u.seq IN ({})",
                        placeholders(chunk.len())
                    ),
                    &chunk.iter().map(|s| Arg::Int(*s)).collect::<Vec<_>>(),
                )
                .await?;
            for row in &rows {
                let id = Uuid::parse_str(&row.text("id")?)
                    .map_err(|e| StoreError::Db(sqlx::Error::Decode(e.into())))?;
                if !by.may_read(id) {
                    continue;
                }
                let a: &mut Authz = out.entry(row.int("seq")?).or_default();
                a.last_login_at = row.opt_int("last_login_at")?;
                if let Some(p) = row.opt_text("permission")?.and_then(|p| p.parse().ok()) {
                    a.permissions.insert(p);
                }
            }
        }
        Ok(out)
    }

    async fn record_sign_in(&self, user_seq: i64) -> Result<()> {
        let now = roster_core::now_micros();
        let mut tx = self.db.begin().await?;
        tx.execute(
            "UPDATE users SET last_login_at = current_login_at, current_login_at = ? \
             WHERE seq = ? AND (current_login_at IS NULL OR current_login_at < ?)",
            &args![now, user_seq, now - SAME_SIGN_IN_MICROS],
        )
        .await?;
        tx.commit().await
    }
}
