//! The embedded default backend. One writer connection (SQLite admits one writer at a
//! time anyway; a single connection means writers queue in the pool instead of spinning
//! on SQLITE_BUSY) and a small pool of read-only connections, all in WAL mode.

mod groups;
mod tokens;
mod users;

use std::str::FromStr;

use async_trait::async_trait;
use roster_core::group::GroupChange;
use roster_core::secret::NewToken;
use roster_core::{Group, NewGroup, NewUser, Page, Permission, Principal, Role, User, UserName};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use uuid::Uuid;

use crate::sql::{Arg, Sql};
use crate::{
    Bootstrap, GroupQuery, OpenOptions, Result, Store, StoreError, UserEdit, UserQuery, WriteCtx,
};

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

type Tx = Transaction<'static, Sqlite>;
type Query<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// Binds compiled filter arguments in order.
fn bind_all<'q>(mut q: Query<'q>, args: &'q [Arg]) -> Query<'q> {
    for a in args {
        q = match a {
            Arg::Text(s) => q.bind(s.as_str()),
            Arg::Int(i) => q.bind(*i),
        };
    }
    q
}

fn bind_scalar<'q>(
    mut q: sqlx::query::QueryScalar<'q, Sqlite, i64, sqlx::sqlite::SqliteArguments<'q>>,
    args: &'q [Arg],
) -> sqlx::query::QueryScalar<'q, Sqlite, i64, sqlx::sqlite::SqliteArguments<'q>> {
    for a in args {
        q = match a {
            Arg::Text(s) => q.bind(s.as_str()),
            Arg::Int(i) => q.bind(*i),
        };
    }
    q
}

impl SqliteStore {
    pub async fn open(url: &str, opts: &OpenOptions) -> Result<Self> {
        let base = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad SQLite URL {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before it is acknowledged, even across power loss.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(opts.busy_timeout)
            // LIKE is case-sensitive: case-insensitive attributes are folded on both sides.
            .pragma("case_sensitive_like", "ON");
        if let Some(dir) = base.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Config(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(base.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .connect_with(base.read_only(true))
            .await?;
        Ok(Self { writer, reader })
    }

    async fn begin(&self) -> Result<Tx> {
        // IMMEDIATE takes the write lock up front, so a read-then-write transaction can
        // never fail half-way with SQLITE_BUSY when another process (the CLI) writes too.
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

pub(crate) async fn audit(tx: &mut Tx, ctx: &WriteCtx, action: &str, target: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, target, request_id) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(roster_core::now_micros())
    .bind(ctx.actor.as_deref())
    .bind(action)
    .bind(target)
    .bind(ctx.request_id.as_deref())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn where_clause(filter: Option<&Sql>, extra: &[&str]) -> String {
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

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    async fn bootstrap(&self, ctx: &WriteCtx, b: &Bootstrap) -> Result<bool> {
        let mut tx = self.begin().await?;
        let any: Option<i64> = sqlx::query_scalar("SELECT seq FROM users LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        if any.is_some() {
            return Ok(false);
        }
        let user = users::insert(&mut tx, &b.admin).await?;
        for p in Permission::ALL {
            users::grant(&mut tx, user.seq, p).await?;
        }
        tokens::insert(&mut tx, user.seq, Some("bootstrap"), &b.token).await?;
        audit(&mut tx, ctx, "bootstrap", &user.id.to_string()).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn create_user(&self, ctx: &WriteCtx, new: &NewUser) -> Result<User> {
        let mut tx = self.begin().await?;
        let user = users::insert(&mut tx, new).await?;
        audit(&mut tx, ctx, "user.create", &user.id.to_string()).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn upsert_user(&self, ctx: &WriteCtx, new: &NewUser) -> Result<(User, bool)> {
        let mut tx = self.begin().await?;
        let existing = users::load_by_key(&mut *tx, &new.user_name.key()).await?;
        let (user, created) = match existing {
            Some(mut user) => {
                new.apply_to(&mut user);
                user.validate()?;
                users::write(&mut tx, &mut user).await?;
                audit(&mut tx, ctx, "user.update", &user.id.to_string()).await?;
                (user, false)
            }
            None => {
                let user = users::insert(&mut tx, new).await?;
                audit(&mut tx, ctx, "user.create", &user.id.to_string()).await?;
                (user, true)
            }
        };
        tx.commit().await?;
        Ok((user, created))
    }

    async fn get_user(&self, id: Uuid) -> Result<Option<User>> {
        users::load_by_id(&self.reader, id).await
    }

    async fn find_user_by_name(&self, name: &UserName) -> Result<Option<User>> {
        users::load_by_key(&self.reader, &name.key()).await
    }

    async fn list_users(&self, q: &UserQuery) -> Result<Page<User>> {
        users::list(&self.reader, q).await
    }

    async fn update_user(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        if_match: Option<i64>,
        edit: UserEdit<'_>,
    ) -> Result<User> {
        let mut tx = self.begin().await?;
        let mut user = users::load_by_id(&mut *tx, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no user with id {id}")))?;
        if if_match.is_some_and(|v| v != user.meta.version) {
            return Err(StoreError::VersionMismatch);
        }
        edit(&mut user)?;
        users::write(&mut tx, &mut user).await?;
        audit(&mut tx, ctx, "user.update", &id.to_string()).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn delete_user(&self, ctx: &WriteCtx, id: Uuid, if_match: Option<i64>) -> Result<()> {
        let mut tx = self.begin().await?;
        let version: Option<i64> = sqlx::query_scalar("SELECT version FROM users WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        match version {
            None => return Err(StoreError::NotFound(format!("no user with id {id}"))),
            Some(v) if if_match.is_some_and(|m| m != v) => return Err(StoreError::VersionMismatch),
            Some(_) => {}
        }
        sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, ctx, "user.delete", &id.to_string()).await?;
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
        let mut tx = self.begin().await?;
        let u = users::load_by_key(&mut *tx, &user.key())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no user named {:?}", user.as_str())))?;
        if granted {
            users::grant(&mut tx, u.seq, permission).await?;
        } else {
            sqlx::query("DELETE FROM user_permissions WHERE user_seq = ? AND permission = ?")
                .bind(u.seq)
                .bind(permission.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let action = if granted {
            "permission.grant"
        } else {
            "permission.revoke"
        };
        audit(&mut tx, ctx, action, &format!("{} {permission}", u.id)).await?;
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
        let mut tx = self.begin().await?;
        let u = users::load_by_key(&mut *tx, &user.key())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no user named {:?}", user.as_str())))?;
        tokens::insert(&mut tx, u.seq, name, token).await?;
        audit(
            &mut tx,
            ctx,
            "token.issue",
            &format!("{} {}", u.id, token.label),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn principal_for_token(&self, token_hash: &str) -> Result<Option<Principal>> {
        tokens::principal(&self.reader, token_hash).await
    }

    async fn create_group(&self, ctx: &WriteCtx, new: &NewGroup) -> Result<Group> {
        let mut tx = self.begin().await?;
        let g = groups::insert(&mut tx, new).await?;
        audit(&mut tx, ctx, "group.create", &g.id.to_string()).await?;
        tx.commit().await?;
        Ok(g)
    }

    async fn get_group(&self, id: Uuid, with_members: bool) -> Result<Option<Group>> {
        groups::get(&self.reader, id, with_members).await
    }

    async fn member_role(&self, group: Uuid, user_seq: i64) -> Result<Option<Role>> {
        groups::member_role(&self.reader, group, user_seq).await
    }

    async fn list_groups(&self, q: &GroupQuery) -> Result<Page<Group>> {
        groups::list(&self.reader, q).await
    }

    async fn modify_group(
        &self,
        ctx: &WriteCtx,
        id: Uuid,
        if_match: Option<i64>,
        change: &GroupChange,
    ) -> Result<Group> {
        let mut tx = self.begin().await?;
        let g = groups::modify(&mut tx, id, if_match, change).await?;
        audit(&mut tx, ctx, "group.update", &id.to_string()).await?;
        tx.commit().await?;
        Ok(g)
    }

    async fn delete_group(&self, ctx: &WriteCtx, id: Uuid, if_match: Option<i64>) -> Result<()> {
        let mut tx = self.begin().await?;
        let version: Option<i64> = sqlx::query_scalar("SELECT version FROM groups WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        match version {
            None => return Err(StoreError::NotFound(format!("no group with id {id}"))),
            Some(v) if if_match.is_some_and(|m| m != v) => return Err(StoreError::VersionMismatch),
            Some(_) => {}
        }
        sqlx::query("DELETE FROM groups WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, ctx, "group.delete", &id.to_string()).await?;
        tx.commit().await?;
        Ok(())
    }
}
