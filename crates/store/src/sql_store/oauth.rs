//! The OAuth aggregate: personal clients, signing keys, refresh tokens, `server_meta`.

use async_trait::async_trait;
use roster_core::policy::{Operator, TokenAdmin};
use roster_core::{Principal, UserName};
use uuid::Uuid;

use super::{tokens::principal_from_rows, users, SqlStore};
use crate::args;
use crate::audit::Action;
use crate::db::{Backend, Exec, Row};
use crate::{
    client_record, mail_record, signing_key_record, storage_credential_record, GrantClient,
    NewRefresh, OAuthClient, OAuthStore, RefreshInfo, RefreshUse, Reseal, Result, SecretFor,
    SigningKeyRecord, StoreError, TokenGrant, WriteCtx, KEY_CHECK_RECORD,
};

/// How many sealed rows a re-encryption reads at a time (it never holds a whole table).
const RESEAL_BATCH: i64 = 500;

fn uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| StoreError::Db(sqlx::Error::Decode(e.into())))
}

const CLIENT_COLUMNS: &str = "c.client_id, c.secret_hash, c.secret_sealed, c.created_at, \
     c.rotated_at, u.id, u.user_name";

fn client_from_row(r: &Row) -> Result<OAuthClient> {
    Ok(OAuthClient {
        client_id: r.text("client_id")?,
        user_id: uuid(&r.text("id")?)?,
        user_name: r.text("user_name")?,
        secret_hash: r.text("secret_hash")?,
        secret_sealed: r.text("secret_sealed")?,
        created_at: r.int("created_at")?,
        rotated_at: r.int("rotated_at")?,
    })
}

async fn client_of(ex: &mut dyn Exec, user_seq: i64) -> Result<Option<OAuthClient>> {
    let row = ex
        .fetch_optional(
            &format!(
                "SELECT {CLIENT_COLUMNS} FROM oauth_clients c JOIN users u ON u.seq = c.user_seq \
                 WHERE c.user_seq = ?"
            ),
            &args![user_seq],
        )
        .await?;
    row.as_ref().map(client_from_row).transpose()
}

/// Creates the user's client unless it has one; returns it and whether it was created.
async fn ensure(
    ex: &mut dyn Exec,
    user_seq: i64,
    new_id: &str,
    secret: SecretFor<'_>,
) -> Result<(OAuthClient, bool)> {
    if let Some(c) = client_of(ex, user_seq).await? {
        return Ok((c, false));
    }
    let s = secret(new_id);
    let now = roster_core::now_micros();
    // Another node may create the user's client at the same moment: its client stands.
    let inserted = ex
        .execute(
            "INSERT INTO oauth_clients (user_seq, client_id, secret_hash, secret_sealed, \
             created_at, rotated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_seq) DO NOTHING",
            &args![user_seq, new_id, s.hash, s.sealed, now, now],
        )
        .await?;
    let c = client_of(ex, user_seq)
        .await?
        .ok_or_else(|| StoreError::Db(sqlx::Error::RowNotFound))?;
    Ok((c, inserted == 1))
}

/// Rows `seq, id, user_name, permission` of the user a condition names (one per permission),
/// as [`principal_from_rows`] reads them.
pub(super) const OWNER: &str = "SELECT u.seq, u.id, u.user_name, p.permission FROM users u \
     LEFT JOIN user_permissions p ON p.user_seq = u.seq";

/// [`OWNER`] with the generation of the authentication data, read by the same statement.
const OWNER_WITH_GENERATION: &str = "SELECT u.seq, u.id, u.user_name, p.permission, \
     (SELECT CAST(SUM(n) AS BIGINT) FROM auth_generation) AS generation FROM users u \
     LEFT JOIN user_permissions p ON p.user_seq = u.seq";

async fn live_refresh(ex: &mut dyn Exec, hash: &str) -> Result<Option<(Row, Principal)>> {
    let rows = ex
        .fetch_all(
            "SELECT r.token_hash, r.family, r.client_id, r.scope, r.created_at, r.expires_at, \
             r.spent_at, r.revoked_at, u.seq, u.id, u.user_name, u.active, p.permission \
             FROM refresh_tokens r JOIN users u ON u.seq = r.user_seq \
             LEFT JOIN user_permissions p ON p.user_seq = u.seq WHERE r.token_hash = ?",
            &args![hash],
        )
        .await?;
    let Some(first) = rows.first().cloned() else {
        return Ok(None);
    };
    if !roster_core::secret::ct_eq(&first.text("token_hash")?, hash) {
        return Ok(None);
    }
    let Some(owner) = principal_from_rows(&rows)? else {
        return Ok(None);
    };
    Ok(Some((first, owner)))
}

fn info(row: &Row, owner: Principal) -> Result<RefreshInfo> {
    Ok(RefreshInfo {
        owner,
        client_id: row.text("client_id")?,
        scope: row.text("scope")?,
        family: row.text("family")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
    })
}

/// Whether a stored refresh token may still be used (not spent, revoked or expired, and
/// its owner active).
fn usable(row: &Row) -> Result<bool> {
    Ok(row.opt_int("spent_at")?.is_none()
        && row.opt_int("revoked_at")?.is_none()
        && row.int("expires_at")? > roster_core::now_micros()
        && row.bool("active")?)
}

async fn revoke_family(ex: &mut dyn Exec, family: &str) -> Result<u64> {
    ex.execute(
        "UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL",
        &args![roster_core::now_micros(), family],
    )
    .await
}

#[async_trait]
impl<B: Backend> OAuthStore for SqlStore<B> {
    async fn meta(&self, name: &str) -> Result<Option<String>> {
        let mut r = self.db.reader().await?;
        r.fetch_optional("SELECT value FROM server_meta WHERE name = ?", &args![name])
            .await?
            .map(|row| row.text("value"))
            .transpose()
    }

    async fn init_meta(&self, _: &Operator, name: &str, value: &str) -> Result<String> {
        let mut tx = self.db.begin().await?;
        tx.execute(
            "INSERT INTO server_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            &args![name, value],
        )
        .await?;
        let now = tx
            .fetch_one("SELECT value FROM server_meta WHERE name = ?", &args![name])
            .await?
            .text("value")?;
        tx.commit().await?;
        Ok(now)
    }

    async fn ensure_client(
        &self,
        by: &TokenAdmin,
        ctx: &WriteCtx,
        user: &UserName,
        new_id: &str,
        secret: SecretFor<'_>,
    ) -> Result<OAuthClient> {
        // Read first: showing an existing client is no change and needs no write lock.
        {
            let mut r = self.db.reader().await?;
            let u = users::require_credentials_of(&mut *r, user, by).await?;
            if let Some(c) = client_of(&mut *r, u.seq).await? {
                return Ok(c);
            }
        }
        let mut w = self.write(by.actor(), ctx).await?;
        let u = users::require_credentials_of(w.ex(), user, by).await?;
        let (c, created) = ensure(w.ex(), u.seq, new_id, secret).await?;
        if created {
            w.commit(Action::ClientCreate, &format!("{} {}", u.id, c.client_id))
                .await?;
        }
        Ok(c)
    }

    async fn rotate_client_secret(
        &self,
        by: &TokenAdmin,
        ctx: &WriteCtx,
        user: &UserName,
        new_id: &str,
        secret: SecretFor<'_>,
    ) -> Result<OAuthClient> {
        let mut w = self.write(by.actor(), ctx).await?;
        let u = users::require_credentials_of(w.ex(), user, by).await?;
        let (c, created) = ensure(w.ex(), u.seq, new_id, secret).await?;
        if created {
            w.commit(Action::ClientCreate, &format!("{} {}", u.id, c.client_id))
                .await?;
            return Ok(c);
        }
        let s = secret(&c.client_id);
        w.ex()
            .execute(
                "UPDATE oauth_clients SET secret_hash = ?, secret_sealed = ?, rotated_at = ? \
                 WHERE user_seq = ?",
                &args![s.hash, s.sealed, roster_core::now_micros(), u.seq],
            )
            .await?;
        // A leaked secret is why one rotates: what it obtained ends with it.
        w.ex()
            .execute(
                "UPDATE refresh_tokens SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL",
                &args![roster_core::now_micros(), c.client_id.as_str()],
            )
            .await?;
        let c = client_of(w.ex(), u.seq)
            .await?
            .ok_or_else(|| StoreError::Db(sqlx::Error::RowNotFound))?;
        w.commit(Action::ClientRotate, &format!("{} {}", u.id, c.client_id))
            .await?;
        Ok(c)
    }

    async fn grant_client(&self, client_id: &str) -> Result<Option<GrantClient>> {
        let mut r = self.db.reader().await?;
        let rows = r
            .fetch_all(
                &format!(
                    "SELECT {CLIENT_COLUMNS}, u.seq, u.current_login_at, p.permission FROM oauth_clients c \
                     JOIN users u ON u.seq = c.user_seq \
                     LEFT JOIN user_permissions p ON p.user_seq = u.seq \
                     WHERE c.client_id = ? AND u.active = TRUE"
                ),
                &args![client_id],
            )
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let client = client_from_row(first)?;
        let current_login_at = first.opt_int("current_login_at")?;
        Ok(principal_from_rows(&rows)?.map(|owner| GrantClient {
            client,
            owner,
            current_login_at,
        }))
    }

    async fn password_for_login(&self, user_seq: i64, login: &str) -> Result<Option<String>> {
        let key = roster_core::user::fold(login);
        let mut r = self.db.reader().await?;
        r.fetch_optional(
            "SELECT u.password_hash FROM users u WHERE u.seq = ? AND (u.user_name_key = ? \
             OR EXISTS (SELECT 1 FROM user_emails e WHERE e.user_seq = u.seq AND e.value_key = ?))",
            &args![user_seq, key.as_str(), key.as_str()],
        )
        .await?
        .map(|row| row.opt_text("password_hash"))
        .transpose()
        .map(Option::flatten)
    }

    async fn principal_for_client(
        &self,
        user_id: Uuid,
        client_id: &str,
        issued_at: i64,
    ) -> Result<Option<TokenGrant>> {
        let mut r = self.db.reader().await?;
        let rows = r
            .fetch_all(
                &format!(
                    "{OWNER_WITH_GENERATION} JOIN oauth_clients c ON c.user_seq = u.seq \
                     WHERE c.client_id = ? AND u.id = ? AND u.active = TRUE \
                     AND (u.tokens_after IS NULL OR u.tokens_after <= ?)"
                ),
                &args![
                    client_id,
                    user_id.to_string(),
                    issued_at.saturating_mul(1_000_000)
                ],
            )
            .await?;
        let Some(principal) = principal_from_rows(&rows)? else {
            return Ok(None);
        };
        Ok(Some(TokenGrant {
            principal,
            generation: rows[0].int("generation")?,
            expires_at: None,
        }))
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        let mut r = self.db.reader().await?;
        let rows = r
            .fetch_all(
                "SELECT kid, public_key, private_sealed, created_at, retired_at FROM signing_keys \
                 ORDER BY created_at DESC, kid DESC",
                &[],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(SigningKeyRecord {
                    kid: row.text("kid")?,
                    public_key: row.text("public_key")?,
                    private_sealed: row.text("private_sealed")?,
                    created_at: row.int("created_at")?,
                    retired_at: row.opt_int("retired_at")?,
                })
            })
            .collect()
    }

    async fn add_signing_key(
        &self,
        by: &Operator,
        ctx: &WriteCtx,
        key: &SigningKeyRecord,
        forget_before: i64,
    ) -> Result<()> {
        let mut w = self.write(by.actor(), ctx).await?;
        w.ex()
            .execute(
                "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?",
                &args![forget_before],
            )
            .await?;
        w.ex()
            .execute(
                "UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL",
                &args![key.created_at],
            )
            .await?;
        w.ex()
            .execute(
                "INSERT INTO signing_keys (kid, public_key, private_sealed, created_at) \
                 VALUES (?, ?, ?, ?)",
                &args![
                    key.kid.as_str(),
                    key.public_key.as_str(),
                    key.private_sealed.as_str(),
                    key.created_at
                ],
            )
            .await?;
        w.commit(Action::SigningKeyAdd, &key.kid).await
    }

    async fn issue_refresh(&self, owner: i64, new: &NewRefresh<'_>) -> Result<()> {
        let mut tx = self.db.begin().await?;
        tx.execute(
            "INSERT INTO refresh_tokens (token_hash, family, user_seq, client_id, scope, \
             created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            &args![
                new.hash,
                new.family,
                owner,
                new.client_id,
                new.scope,
                roster_core::now_micros(),
                new.expires_at
            ],
        )
        .await?;
        tx.commit().await
    }

    async fn use_refresh(
        &self,
        hash: &str,
        client_id: &str,
        next_hash: &str,
        next_expires_at: i64,
    ) -> Result<RefreshUse> {
        let mut tx = self.db.begin().await?;
        let Some((row, owner)) = live_refresh(&mut *tx, hash).await? else {
            return Ok(RefreshUse::Invalid);
        };
        if row.text("client_id")? != client_id {
            return Ok(RefreshUse::Invalid);
        }
        let family = row.text("family")?;
        if row.opt_int("spent_at")?.is_some() && row.opt_int("revoked_at")?.is_none() {
            // A spent token again: someone holds a copy. End the whole family, on the
            // owner's account in the audit trail.
            drop(tx);
            let actor = roster_core::policy::Actor::User(owner.user_id);
            let mut w = self.write(&actor, &WriteCtx::default()).await?;
            revoke_family(w.ex(), &family).await?;
            w.commit(Action::RefreshReuse, &format!("{} {family}", owner.user_id))
                .await?;
            return Ok(RefreshUse::Reused);
        }
        if !usable(&row)? {
            return Ok(RefreshUse::Invalid);
        }
        let now = roster_core::now_micros();
        // Spent only if nobody spent it meanwhile (the writer is serialised on SQLite; on
        // PostgreSQL the row count tells).
        let spent = tx
            .execute(
                "UPDATE refresh_tokens SET spent_at = ? WHERE token_hash = ? AND spent_at IS NULL",
                &args![now, hash],
            )
            .await?;
        if spent != 1 {
            return Ok(RefreshUse::Invalid);
        }
        let info = info(&row, owner)?;
        tx.execute(
            "INSERT INTO refresh_tokens (token_hash, family, user_seq, client_id, scope, \
             created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            &args![
                next_hash,
                family.as_str(),
                info.owner.user_seq,
                client_id,
                info.scope.as_str(),
                now,
                next_expires_at
            ],
        )
        .await?;
        // Bookkeeping of a sign-in, not a change of the directory: no audit row.
        tx.commit().await?;
        Ok(RefreshUse::Rotated(info))
    }

    async fn revoke_refresh(&self, hash: &str, client_id: &str) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        let Some((row, _)) = live_refresh(&mut *tx, hash).await? else {
            return Ok(false);
        };
        if row.text("client_id")? != client_id {
            return Ok(false);
        }
        let n = revoke_family(&mut *tx, &row.text("family")?).await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn refresh_info(&self, hash: &str) -> Result<Option<RefreshInfo>> {
        let mut r = self.db.reader().await?;
        match live_refresh(&mut *r, hash).await? {
            Some((row, owner)) if usable(&row)? => Ok(Some(info(&row, owner)?)),
            _ => Ok(None),
        }
    }

    async fn reseal(&self, by: &Operator, ctx: &WriteCtx, reseal: Reseal<'_>) -> Result<u64> {
        let mut w = self.write(by.actor(), ctx).await?;
        let fail = |m: String| StoreError::Config(format!("cannot re-encrypt: {m}"));
        let mut n = 0u64;
        // (table, key column, sealed column, how a row's record is named)
        let tables: [(&str, &str, &str, fn(&str) -> String); 4] = [
            ("oauth_clients", "client_id", "secret_sealed", client_record),
            ("signing_keys", "kid", "private_sealed", signing_key_record),
            // Sent mails keep no body (empty), so nothing to re-encrypt there.
            ("mail_outbox", "message_id", "body_sealed", mail_record),
            (
                "storage_credentials",
                "access_key",
                "secret_sealed",
                storage_credential_record,
            ),
        ];
        for (table, key, col, record) in tables {
            let mut after = String::new();
            loop {
                let rows = w
                    .ex()
                    .fetch_all(
                        &format!(
                            "SELECT {key} AS k, {col} AS v FROM {table} WHERE {key} > ? \
                             AND {col} <> '' ORDER BY {key} LIMIT {RESEAL_BATCH}"
                        ),
                        &args![after.as_str()],
                    )
                    .await?;
                for row in &rows {
                    let k = row.text("k")?;
                    let v = reseal(&record(&k), &row.text("v")?).map_err(fail)?;
                    w.ex()
                        .execute(
                            &format!("UPDATE {table} SET {col} = ? WHERE {key} = ?"),
                            &args![v, k.as_str()],
                        )
                        .await?;
                    n += 1;
                    after = k;
                }
                if (rows.len() as i64) < RESEAL_BATCH {
                    break;
                }
            }
        }
        // TOTP secrets are named by their user's number.
        let mut after = 0i64;
        loop {
            let rows = w
                .ex()
                .fetch_all(
                    &format!(
                        "SELECT user_seq, secret_sealed FROM user_totp WHERE user_seq > ? \
                         ORDER BY user_seq LIMIT {RESEAL_BATCH}"
                    ),
                    &args![after],
                )
                .await?;
            for row in &rows {
                let k = row.int("user_seq")?;
                let v =
                    reseal(&crate::totp_record(k), &row.text("secret_sealed")?).map_err(fail)?;
                w.ex()
                    .execute(
                        "UPDATE user_totp SET secret_sealed = ? WHERE user_seq = ?",
                        &args![v, k],
                    )
                    .await?;
                n += 1;
                after = k;
            }
            if (rows.len() as i64) < RESEAL_BATCH {
                break;
            }
        }
        if let Some(row) = w
            .ex()
            .fetch_optional(
                "SELECT value FROM server_meta WHERE name = 'key_check'",
                &[],
            )
            .await?
        {
            let v = reseal(KEY_CHECK_RECORD, &row.text("value")?).map_err(fail)?;
            w.ex()
                .execute(
                    "UPDATE server_meta SET value = ? WHERE name = 'key_check'",
                    &args![v],
                )
                .await?;
        }
        w.commit(Action::SecretsRekey, &format!("{n} values"))
            .await?;
        Ok(n)
    }
}
