//! The directory's persistence logic, written once over the [`Backend`] interface and so
//! shared by SQLite and PostgreSQL. Every write is one transaction together with its
//! audit row; reads run on pooled connections.

mod groups;
mod tokens;
mod users;

use async_trait::async_trait;
use roster_core::group::GroupChange;
use roster_core::secret::NewToken;
use roster_core::{Group, NewGroup, NewUser, Page, Permission, Principal, Role, User, UserName};
use uuid::Uuid;

use crate::args;
use crate::db::{Backend, Exec};
use crate::sql::Sql;
use crate::{Bootstrap, GroupQuery, Result, Store, StoreError, UserEdit, UserQuery, WriteCtx};

pub struct SqlStore<B> {
    db: B,
}

impl<B: Backend> SqlStore<B> {
    pub fn new(db: B) -> Self {
        Self { db }
    }
}

pub(crate) async fn audit(
    tx: &mut dyn Exec,
    ctx: &WriteCtx,
    action: &str,
    target: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO audit_log (at, actor, action, target, request_id) VALUES (?, ?, ?, ?, ?)",
        &args![
            roster_core::now_micros(),
            ctx.actor.clone(),
            action,
            target,
            ctx.request_id.clone()
        ],
    )
    .await?;
    Ok(())
}

/// `totalResults` read off the page itself when it can be: a page that is neither empty nor
/// full ends the result set, and so does an empty first page. Saves the COUNT — a second
/// scan — on the most common lists (an `eq` filter on a unique attribute, a last page).
pub(crate) fn total_from_page(page: &roster_core::PageRequest, got: usize) -> Option<i64> {
    let got = i64::try_from(got).ok()?;
    let offset = page.offset();
    (page.count > 0 && got < page.count && (got > 0 || offset == 0)).then_some(offset + got)
}

/// `totalResults` of a list whose page held `got` rows: from the page when it can tell,
/// else from `count_sql` (one row, column `n`).
pub(crate) async fn total(
    ex: &mut dyn Exec,
    page: &roster_core::PageRequest,
    got: usize,
    count_sql: &str,
    args: &[crate::db::Arg],
) -> Result<i64> {
    match total_from_page(page, got) {
        Some(t) => Ok(t),
        None => ex.fetch_one(count_sql, args).await?.int("n"),
    }
}

/// ` WHERE a AND b` from fixed conditions and an optional compiled filter.
pub(crate) fn where_clause(filter: Option<&Sql>, extra: &[&str]) -> String {
    let mut parts: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
    if let Some(f) = filter {
        parts.push(f.text.clone());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", parts.join(" AND "))
    }
}

/// Checks that a row exists at the expected version (If-Match) before a delete.
async fn check_version(
    tx: &mut dyn Exec,
    table: &str,
    id: Uuid,
    if_match: Option<i64>,
) -> Result<()> {
    let row = tx
        .fetch_optional(
            &format!("SELECT version FROM {table} WHERE id = ?"),
            &args![id.to_string()],
        )
        .await?;
    let what = if table == "users" { "user" } else { "group" };
    match row {
        None => Err(StoreError::NotFound(format!("no {what} with id {id}"))),
        Some(r) if if_match.is_some_and(|m| Some(m) != r.int("version").ok()) => {
            Err(StoreError::VersionMismatch)
        }
        Some(_) => Ok(()),
    }
}

#[async_trait]
impl<B: Backend> Store for SqlStore<B> {
    async fn ping(&self) -> Result<()> {
        self.db.ping().await
    }

    async fn close(&self) {
        self.db.close().await;
    }

    async fn bootstrap(&self, ctx: &WriteCtx, b: &Bootstrap) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        if tx
            .fetch_optional("SELECT seq FROM users LIMIT 1", &[])
            .await?
            .is_some()
        {
            return Ok(false);
        }
        let user = users::insert(&mut *tx, &b.admin).await?;
        for p in Permission::ALL {
            users::grant(&mut *tx, user.seq, p).await?;
        }
        tokens::insert(&mut *tx, user.seq, Some("bootstrap"), &b.token).await?;
        audit(&mut *tx, ctx, "bootstrap", &user.id.to_string()).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn create_user(&self, ctx: &WriteCtx, new: &NewUser) -> Result<User> {
        let mut tx = self.db.begin().await?;
        let user = users::insert(&mut *tx, new).await?;
        audit(&mut *tx, ctx, "user.create", &user.id.to_string()).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn upsert_user(&self, ctx: &WriteCtx, new: &NewUser) -> Result<(User, bool)> {
        let mut tx = self.db.begin().await?;
        let lock = self.db.dialect().lock_for_update;
        let existing = users::load(
            &mut *tx,
            "u.user_name_key = ?",
            new.user_name.key().into(),
            lock,
        )
        .await?;
        let (user, created) = match existing {
            Some(mut user) => {
                let loaded_emails = user.emails.clone();
                new.apply_to(&mut user);
                user.validate()?;
                users::write(&mut *tx, &mut user, &loaded_emails).await?;
                audit(&mut *tx, ctx, "user.update", &user.id.to_string()).await?;
                (user, false)
            }
            None => {
                let user = users::insert(&mut *tx, new).await?;
                audit(&mut *tx, ctx, "user.create", &user.id.to_string()).await?;
                (user, true)
            }
        };
        tx.commit().await?;
        Ok((user, created))
    }

    async fn get_user(&self, id: Uuid) -> Result<Option<User>> {
        let mut r = self.db.reader().await?;
        users::load(&mut *r, "u.id = ?", id.to_string().into(), "").await
    }

    async fn find_user_by_name(&self, name: &UserName) -> Result<Option<User>> {
        let mut r = self.db.reader().await?;
        users::load(&mut *r, "u.user_name_key = ?", name.key().into(), "").await
    }

    async fn list_users(&self, q: &UserQuery) -> Result<Page<User>> {
        let mut r = self.db.reader().await?;
        users::list(&mut *r, self.db.dialect(), q).await
    }

    async fn update_user(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        if_match: Option<i64>,
        edit: UserEdit<'_>,
    ) -> Result<User> {
        let mut tx = self.db.begin().await?;
        let lock = self.db.dialect().lock_for_update;
        let mut user = users::load(&mut *tx, "u.id = ?", id.to_string().into(), lock)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no user with id {id}")))?;
        if if_match.is_some_and(|v| v != user.meta.version) {
            return Err(StoreError::VersionMismatch);
        }
        let loaded_emails = user.emails.clone();
        edit(&mut user)?;
        users::write(&mut *tx, &mut user, &loaded_emails).await?;
        audit(&mut *tx, ctx, "user.update", &id.to_string()).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn delete_user(&self, ctx: &WriteCtx, id: Uuid, if_match: Option<i64>) -> Result<()> {
        let mut tx = self.db.begin().await?;
        check_version(&mut *tx, "users", id, if_match).await?;
        tx.execute("DELETE FROM users WHERE id = ?", &args![id.to_string()])
            .await?;
        audit(&mut *tx, ctx, "user.delete", &id.to_string()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_permission(
        &self,
        ctx: &WriteCtx,
        user: &UserName,
        permission: Permission,
        granted: bool,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let u = users::require_by_name(&mut *tx, user).await?;
        if granted {
            users::grant(&mut *tx, u.seq, permission).await?;
        } else {
            tx.execute(
                "DELETE FROM user_permissions WHERE user_seq = ? AND permission = ?",
                &args![u.seq, permission.as_str()],
            )
            .await?;
        }
        let action = if granted {
            "permission.grant"
        } else {
            "permission.revoke"
        };
        audit(&mut *tx, ctx, action, &format!("{} {permission}", u.id)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_token(
        &self,
        ctx: &WriteCtx,
        user: &UserName,
        name: Option<&str>,
        token: &NewToken,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let u = users::require_by_name(&mut *tx, user).await?;
        tokens::insert(&mut *tx, u.seq, name, token).await?;
        audit(
            &mut *tx,
            ctx,
            "token.issue",
            &format!("{} {}", u.id, token.label),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn revoke_tokens(&self, ctx: &WriteCtx, user: &UserName) -> Result<u64> {
        let mut tx = self.db.begin().await?;
        let u = users::require_by_name(&mut *tx, user).await?;
        let n = tx
            .execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE user_seq = ? AND revoked_at IS NULL",
                &args![roster_core::now_micros(), u.seq],
            )
            .await?;
        audit(&mut *tx, ctx, "token.revoke", &u.id.to_string()).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn principal_for_token(&self, token_hash: &str) -> Result<Option<Principal>> {
        let mut r = self.db.reader().await?;
        tokens::principal(&mut *r, token_hash).await
    }

    async fn create_group(&self, ctx: &WriteCtx, new: &NewGroup) -> Result<Group> {
        let mut tx = self.db.begin().await?;
        let g = groups::insert(&mut *tx, new).await?;
        audit(&mut *tx, ctx, "group.create", &g.id.to_string()).await?;
        tx.commit().await?;
        Ok(g)
    }

    async fn get_group(&self, id: Uuid, with_members: bool) -> Result<Option<Group>> {
        let mut r = self.db.reader().await?;
        groups::get(&mut *r, id, with_members).await
    }

    async fn member_role(&self, group: Uuid, user_seq: i64) -> Result<Option<Role>> {
        let mut r = self.db.reader().await?;
        groups::member_role(&mut *r, group, user_seq).await
    }

    async fn list_groups(&self, q: &GroupQuery) -> Result<Page<Group>> {
        let mut r = self.db.reader().await?;
        groups::list(&mut *r, self.db.dialect(), q).await
    }

    async fn modify_group(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        if_match: Option<i64>,
        change: &GroupChange,
    ) -> Result<Group> {
        let mut tx = self.db.begin().await?;
        let g = groups::modify(&mut *tx, self.db.dialect(), id, if_match, change).await?;
        audit(&mut *tx, ctx, "group.update", &id.to_string()).await?;
        tx.commit().await?;
        Ok(g)
    }

    async fn delete_group(&self, ctx: &WriteCtx, id: Uuid, if_match: Option<i64>) -> Result<()> {
        let mut tx = self.db.begin().await?;
        check_version(&mut *tx, "groups", id, if_match).await?;
        tx.execute("DELETE FROM groups WHERE id = ?", &args![id.to_string()])
            .await?;
        audit(&mut *tx, ctx, "group.delete", &id.to_string()).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::total_from_page;
    use roster_core::PageRequest;

    fn page(start_index: i64, count: i64) -> PageRequest {
        PageRequest { start_index, count }
    }

    #[test]
    fn total_comes_from_a_partial_page_only() {
        assert_eq!(total_from_page(&page(1, 100), 1), Some(1));
        assert_eq!(total_from_page(&page(1, 100), 0), Some(0));
        assert_eq!(total_from_page(&page(201, 100), 7), Some(207));
        // Full page: more may follow. Empty page past the start: the end is somewhere before.
        assert_eq!(total_from_page(&page(1, 100), 100), None);
        assert_eq!(total_from_page(&page(201, 100), 0), None);
        // count=0 asks for the total only.
        assert_eq!(total_from_page(&page(1, 0), 0), None);
    }
}
