//! [`RoleStore`]: roles and who holds them. A role with `admin` gives its holders
//! [`capability::ROLE_ADMIN_GRANTS`]; such grants are marked `via_role` so that losing the last
//! admin role takes back only what a role gave ([`sync_admin`]).

use async_trait::async_trait;
use roster_core::capability::ROLE_ADMIN_GRANTS;
use roster_core::policy::UserAdmin;
use roster_core::role::{NewRole, OrgRole, RoleKind, RolePermission, MAX_ROLES_PER_USER};
use roster_core::{CoreError, Page, PageRequest};

use super::{total, SqlStore};
use crate::args;
use crate::audit::Action;
use crate::db::{Arg, Backend, Exec, Row};
use crate::{Result, RoleStore, StoreError, WriteCtx};

const COLUMNS: &str = "id, name, admin, access_all_resources, kind, permissions";

fn from_row(r: &Row) -> Result<OrgRole> {
    let permissions: Vec<RolePermission> = serde_json::from_str(&r.text("permissions")?)
        .map_err(|e| StoreError::Db(sqlx::Error::Decode(Box::new(e))))?;
    Ok(OrgRole {
        id: r.int("id")?,
        role: NewRole {
            name: r.text("name")?,
            admin: r.bool("admin")?,
            access_all_resources: r.bool("access_all_resources")?,
            kind: RoleKind::parse(&r.text("kind")?).unwrap_or(RoleKind::Custom),
            permissions,
        },
    })
}

fn permissions_json(role: &NewRole) -> Result<String> {
    serde_json::to_string(&role.permissions)
        .map_err(|e| StoreError::Rejected(CoreError::Internal(e.to_string())))
}

/// Gives or takes back the admin roles' grant for the users `users` selects (an SQL list or
/// subquery in parentheses, with `args` for its placeholders).
pub(super) async fn sync_admin(ex: &mut dyn Exec, users: &str, args: &[Arg]) -> Result<()> {
    let p = ROLE_ADMIN_GRANTS.as_str();
    let holds = "SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                 WHERE r.admin = TRUE AND ur.user_seq = user_permissions.user_seq";
    ex.execute(
        &format!(
            "DELETE FROM user_permissions WHERE permission = '{p}' AND via_role = TRUE \
             AND user_seq IN {users} AND NOT EXISTS ({holds})"
        ),
        args,
    )
    .await?;
    ex.execute(
        &format!(
            "INSERT INTO user_permissions (user_seq, permission, via_role) \
             SELECT DISTINCT ur.user_seq, '{p}', TRUE FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
             WHERE r.admin = TRUE AND ur.user_seq IN {users} ON CONFLICT DO NOTHING"
        ),
        args,
    )
    .await?;
    Ok(())
}

/// Makes `ids` the roles user `seq` holds; an unknown id refuses the whole change.
pub(super) async fn hold(ex: &mut dyn Exec, seq: i64, ids: &[i64]) -> Result<()> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > MAX_ROLES_PER_USER {
        return Err(
            CoreError::TooMany(format!("a user holds at most {MAX_ROLES_PER_USER} roles")).into(),
        );
    }
    if !ids.is_empty() {
        let list = crate::db::placeholders(ids.len());
        let args: Vec<Arg> = ids.iter().map(|i| Arg::from(*i)).collect();
        let found: Vec<i64> = ex
            .fetch_all(&format!("SELECT id FROM roles WHERE id IN ({list})"), &args)
            .await?
            .iter()
            .filter_map(|r| r.int("id").ok())
            .collect();
        if let Some(missing) = ids.iter().find(|i| !found.contains(i)) {
            return Err(CoreError::invalid_value(format!("unknown role id {missing}")).into());
        }
    }
    ex.execute("DELETE FROM user_roles WHERE user_seq = ?", &args![seq])
        .await?;
    for id in &ids {
        ex.execute(
            "INSERT INTO user_roles (user_seq, role_id) VALUES (?, ?)",
            &args![seq, *id],
        )
        .await?;
    }
    sync_admin(ex, "(?)", &args![seq]).await
}

async fn load(ex: &mut dyn Exec, id: i64) -> Result<Option<OrgRole>> {
    ex.fetch_optional(
        &format!("SELECT {COLUMNS} FROM roles WHERE id = ?"),
        &args![id],
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

fn missing(id: i64) -> StoreError {
    StoreError::Rejected(CoreError::NotFound(roster_core::Entity::Role(id)))
}

#[async_trait]
impl<B: Backend> RoleStore for SqlStore<B> {
    async fn create_role(&self, by: &UserAdmin, ctx: &WriteCtx, new: &NewRole) -> Result<OrgRole> {
        new.validate()?;
        let now = roster_core::now_micros();
        let mut w = self.write(by.actor(), ctx).await?;
        let id = w
            .ex()
            .fetch_one(
                "INSERT INTO roles (name, admin, access_all_resources, kind, permissions, created_at, modified_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                &args![
                    new.name.trim(),
                    new.admin,
                    new.access_all_resources,
                    new.kind.as_str(),
                    permissions_json(new)?,
                    now,
                    now
                ],
            )
            .await?
            .int("id")?;
        w.commit(Action::RoleCreate, &format!("role {id}")).await?;
        Ok(OrgRole {
            id,
            role: NewRole {
                name: new.name.trim().to_owned(),
                ..new.clone()
            },
        })
    }

    async fn get_role(&self, id: i64) -> Result<Option<OrgRole>> {
        let mut r = self.db.reader().await?;
        load(&mut *r, id).await
    }

    async fn list_roles(&self, page: &PageRequest) -> Result<Page<OrgRole>> {
        let mut r = self.db.reader().await?;
        let rows = r
            .fetch_all(
                &format!("SELECT {COLUMNS} FROM roles ORDER BY id LIMIT ? OFFSET ?"),
                &args![page.count, page.offset()],
            )
            .await?;
        let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        let total = total(
            &mut *r,
            page,
            items.len(),
            "SELECT COUNT(*) AS n FROM roles",
            &[],
        )
        .await?;
        Ok(Page {
            items,
            total,
            start_index: page.start_index,
        })
    }

    async fn update_role(
        &self,
        by: &UserAdmin,
        ctx: &WriteCtx,
        id: i64,
        new: &NewRole,
    ) -> Result<OrgRole> {
        new.validate()?;
        let mut w = self.write(by.actor(), ctx).await?;
        let n = w
            .ex()
            .execute(
                "UPDATE roles SET name = ?, admin = ?, access_all_resources = ?, kind = ?, \
                 permissions = ?, modified_at = ? WHERE id = ?",
                &args![
                    new.name.trim(),
                    new.admin,
                    new.access_all_resources,
                    new.kind.as_str(),
                    permissions_json(new)?,
                    roster_core::now_micros(),
                    id
                ],
            )
            .await?;
        if n != 1 {
            return Err(missing(id));
        }
        sync_admin(
            w.ex(),
            "(SELECT user_seq FROM user_roles WHERE role_id = ?)",
            &args![id],
        )
        .await?;
        w.commit(Action::RoleUpdate, &format!("role {id}")).await?;
        Ok(OrgRole {
            id,
            role: NewRole {
                name: new.name.trim().to_owned(),
                ..new.clone()
            },
        })
    }

    async fn delete_role(&self, by: &UserAdmin, ctx: &WriteCtx, id: i64) -> Result<()> {
        let mut w = self.write(by.actor(), ctx).await?;
        let holders: Vec<i64> = w
            .ex()
            .fetch_all(
                "SELECT user_seq FROM user_roles WHERE role_id = ?",
                &args![id],
            )
            .await?
            .iter()
            .filter_map(|r| r.int("user_seq").ok())
            .collect();
        let n = w
            .ex()
            .execute("DELETE FROM roles WHERE id = ?", &args![id])
            .await?;
        if n != 1 {
            return Err(missing(id));
        }
        for chunk in holders.chunks(500) {
            let list = format!("({})", crate::db::placeholders(chunk.len()));
            let args: Vec<Arg> = chunk.iter().map(|s| Arg::from(*s)).collect();
            sync_admin(w.ex(), &list, &args).await?;
        }
        w.commit(Action::RoleDelete, &format!("role {id}")).await
    }
}
