//! [`StorageStore`]: object storages and the users' credentials for them.

use async_trait::async_trait;
use roster_core::policy::{Operator, TokenAdmin, UserAdmin};
use roster_core::{CoreError, Entity, Page};
use uuid::Uuid;

use super::{total, users, SqlStore};
use crate::args;
use crate::audit::Action;
use crate::db::{Arg, Backend, Exec, Row};
use crate::{
    CredentialOrder, CredentialQuery, KeyPairFor, ObjectStorage, Result, SecretKeyFor,
    StorageCredential, StorageStore, StoreError, WriteCtx,
};

const CREDENTIAL_COLUMNS: &str =
    "c.id, c.access_key, c.secret_sealed, s.id AS storage_id, s.display_name, s.region";

fn storage_of(r: &Row, id_col: &str) -> Result<ObjectStorage> {
    Ok(ObjectStorage {
        id: Uuid::parse_str(&r.text(id_col)?)
            .map_err(|e| StoreError::Db(sqlx::Error::Decode(Box::new(e))))?,
        display_name: r.text("display_name")?,
        region: r.text("region")?,
    })
}

fn credential_of(r: &Row) -> Result<StorageCredential> {
    Ok(StorageCredential {
        id: r.int("id")?,
        storage: storage_of(r, "storage_id")?,
        access_key: r.text("access_key")?,
        secret_sealed: r.text("secret_sealed")?,
    })
}

fn bounded(what: &str, v: &str) -> Result<()> {
    let n = v.trim().chars().count();
    if n == 0 || n > 255 {
        return Err(
            CoreError::invalid_value(format!("{what} must have 1 to 255 characters")).into(),
        );
    }
    Ok(())
}

/// Adds a storage inside the caller's transaction.
async fn insert(ex: &mut dyn Exec, display_name: &str, region: &str) -> Result<ObjectStorage> {
    let added = ObjectStorage {
        id: Uuid::new_v4(),
        display_name: display_name.trim().to_owned(),
        region: region.trim().to_owned(),
    };
    ex.execute(
        "INSERT INTO object_storages (id, display_name, region, created_at) VALUES (?, ?, ?, ?)",
        &args![
            added.id.to_string(),
            added.display_name.as_str(),
            added.region.as_str(),
            roster_core::now_micros()
        ],
    )
    .await?;
    Ok(added)
}

/// The seq of user `id` if `by` may manage their credentials.
async fn owner_seq(ex: &mut dyn Exec, by: &TokenAdmin, id: Uuid) -> Result<i64> {
    if !by.may_manage(id) {
        return Err(StoreError::NotFound(Entity::User(id)));
    }
    let u = users::load(ex, "u.id = ?", id.to_string().into(), "")
        .await?
        .ok_or(StoreError::NotFound(Entity::User(id)))?;
    Ok(u.seq)
}

fn order_sql(order: &[(CredentialOrder, bool)]) -> String {
    let mut keys: Vec<String> = order
        .iter()
        .map(|(k, desc)| {
            let col = match k {
                CredentialOrder::CredentialId => "c.id",
                CredentialOrder::DisplayName => "s.display_name",
                CredentialOrder::Region => "s.region",
                CredentialOrder::ObjectStorageId => "s.id",
            };
            format!("{col} {}", if *desc { "DESC" } else { "ASC" })
        })
        .collect();
    keys.push("c.id".into());
    format!(" ORDER BY {}", keys.join(", "))
}

#[async_trait]
impl<B: Backend> StorageStore for SqlStore<B> {
    async fn add_storage(
        &self,
        by: &UserAdmin,
        ctx: &WriteCtx,
        display_name: &str,
        region: &str,
    ) -> Result<ObjectStorage> {
        bounded("the storage's name", display_name)?;
        bounded("the storage's region", region)?;
        let mut w = self.write(by.actor(), ctx).await?;
        let added = insert(w.ex(), display_name, region).await?;
        w.commit(Action::StorageAdd, &added.id.to_string()).await?;
        Ok(added)
    }

    async fn ensure_storage(
        &self,
        by: &Operator,
        display_name: &str,
        region: &str,
    ) -> Result<bool> {
        let any = "SELECT seq FROM object_storages LIMIT 1";
        if self
            .db
            .reader()
            .await?
            .fetch_optional(any, &[])
            .await?
            .is_some()
        {
            return Ok(false);
        }
        let mut w = self.write(by.actor(), &WriteCtx::default()).await?;
        // Another node may have added it meanwhile: the check repeats under the write lock
        // (PostgreSQL: the first writer's row is seen once it commits; two racing first
        // starts may each add one, which an operator can remove).
        if w.ex().fetch_optional(any, &[]).await?.is_some() {
            return Ok(false);
        }
        bounded("ROSTER_OBJECT_STORAGE_NAME", display_name)?;
        bounded("ROSTER_OBJECT_STORAGE_REGION", region)?;
        let added = insert(w.ex(), display_name, region).await?;
        w.commit(Action::StorageAdd, &added.id.to_string()).await?;
        Ok(true)
    }

    async fn list_storages(&self) -> Result<Vec<ObjectStorage>> {
        let mut r = self.db.reader().await?;
        r.fetch_all(
            "SELECT id, display_name, region FROM object_storages ORDER BY seq",
            &[],
        )
        .await?
        .iter()
        .map(|row| storage_of(row, "id"))
        .collect()
    }

    async fn remove_storage(&self, by: &UserAdmin, ctx: &WriteCtx, id: Uuid) -> Result<()> {
        let mut w = self.write(by.actor(), ctx).await?;
        let n = w
            .ex()
            .execute(
                "DELETE FROM object_storages WHERE id = ?",
                &args![id.to_string()],
            )
            .await?;
        if n != 1 {
            return Err(CoreError::invalid_value(format!("no object storage {id}")).into());
        }
        w.commit(Action::StorageRemove, &id.to_string()).await
    }

    async fn credentials(
        &self,
        by: &TokenAdmin,
        ctx: &WriteCtx,
        user: Uuid,
        make: KeyPairFor<'_>,
        q: &CredentialQuery,
    ) -> Result<Page<StorageCredential>> {
        let lacking = "SELECT s.seq FROM object_storages s WHERE NOT EXISTS \
                       (SELECT 1 FROM storage_credentials c WHERE c.storage_seq = s.seq AND c.user_seq = ?)";
        let seq = {
            let mut r = self.db.reader().await?;
            let seq = owner_seq(&mut *r, by, user).await?;
            let missing = r.fetch_optional(lacking, &args![seq]).await?.is_some();
            if !missing {
                Some(seq)
            } else {
                None
            }
        };
        let seq = match seq {
            Some(seq) => seq,
            None => {
                let mut w = self.write(by.actor(), ctx).await?;
                let seq = owner_seq(w.ex(), by, user).await?;
                let now = roster_core::now_micros();
                let storages: Vec<i64> = w
                    .ex()
                    .fetch_all(lacking, &args![seq])
                    .await?
                    .iter()
                    .filter_map(|r| r.int("seq").ok())
                    .collect();
                for s in &storages {
                    let (access, sealed) = make();
                    w.ex()
                        .execute(
                            "INSERT INTO storage_credentials (user_seq, storage_seq, access_key, \
                             secret_sealed, created_at, rotated_at) VALUES (?, ?, ?, ?, ?, ?) \
                             ON CONFLICT (user_seq, storage_seq) DO NOTHING",
                            &args![seq, *s, access, sealed, now, now],
                        )
                        .await?;
                }
                w.commit(
                    Action::CredentialCreate,
                    &format!("{user} {} storages", storages.len()),
                )
                .await?;
                seq
            }
        };
        let mut conds = vec!["c.user_seq = ?".to_owned()];
        let mut args: Vec<Arg> = vec![Arg::from(seq)];
        if let Some(s) = q.storage {
            conds.push("s.id = ?".into());
            args.push(Arg::from(s.to_string()));
        }
        if let Some(r) = &q.region {
            conds.push("s.region = ?".into());
            args.push(Arg::from(r.as_str()));
        }
        if let Some(d) = &q.display_name {
            conds.push("s.display_name = ?".into());
            args.push(Arg::from(d.as_str()));
        }
        let from = format!(
            " FROM storage_credentials c JOIN object_storages s ON s.seq = c.storage_seq WHERE {}",
            conds.join(" AND ")
        );
        let mut page_args = args.clone();
        page_args.push(Arg::from(q.page.count));
        page_args.push(Arg::from(q.page.offset()));
        let mut r = self.db.reader().await?;
        let rows = r
            .fetch_all(
                &format!(
                    "SELECT {CREDENTIAL_COLUMNS}{from}{} LIMIT ? OFFSET ?",
                    order_sql(&q.order)
                ),
                &page_args,
            )
            .await?;
        let items = rows.iter().map(credential_of).collect::<Result<Vec<_>>>()?;
        let total = total(
            &mut *r,
            &q.page,
            items.len(),
            &format!("SELECT COUNT(*) AS n{from}"),
            &args,
        )
        .await?;
        Ok(Page {
            items,
            total,
            start_index: q.page.start_index,
        })
    }

    async fn credential(
        &self,
        by: &TokenAdmin,
        user: Uuid,
        storage: Uuid,
        id: i64,
    ) -> Result<Option<StorageCredential>> {
        let mut r = self.db.reader().await?;
        let seq = owner_seq(&mut *r, by, user).await?;
        r.fetch_optional(
            &format!(
                "SELECT {CREDENTIAL_COLUMNS} FROM storage_credentials c \
                 JOIN object_storages s ON s.seq = c.storage_seq \
                 WHERE c.user_seq = ? AND s.id = ? AND c.id = ?"
            ),
            &args![seq, storage.to_string(), id],
        )
        .await?
        .as_ref()
        .map(credential_of)
        .transpose()
    }

    async fn regenerate_credential(
        &self,
        by: &TokenAdmin,
        ctx: &WriteCtx,
        user: Uuid,
        storage: Uuid,
        id: i64,
        secret: SecretKeyFor<'_>,
    ) -> Result<StorageCredential> {
        let gone = || StoreError::Rejected(CoreError::NotFound(Entity::User(user)));
        let mut w = self.write(by.actor(), ctx).await?;
        let seq = owner_seq(w.ex(), by, user).await?;
        let found = w
            .ex()
            .fetch_optional(
                &format!(
                    "SELECT {CREDENTIAL_COLUMNS} FROM storage_credentials c \
                     JOIN object_storages s ON s.seq = c.storage_seq \
                     WHERE c.user_seq = ? AND s.id = ? AND c.id = ?"
                ),
                &args![seq, storage.to_string(), id],
            )
            .await?
            .as_ref()
            .map(credential_of)
            .transpose()?
            .ok_or_else(gone)?;
        let sealed = secret(&found.access_key);
        w.ex()
            .execute(
                "UPDATE storage_credentials SET secret_sealed = ?, rotated_at = ? WHERE id = ?",
                &args![sealed.as_str(), roster_core::now_micros(), id],
            )
            .await?;
        w.commit(Action::CredentialRegenerate, &format!("{user} {id}"))
            .await?;
        Ok(StorageCredential {
            secret_sealed: sealed,
            ..found
        })
    }
}
