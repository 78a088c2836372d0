//! [`OrgStore`]: organizations, groups with a unique slug.

use async_trait::async_trait;
use roster_core::group::validate_slug;
use roster_core::policy::GroupManager;
use roster_core::{CoreError, NewGroup, Unique};
use uuid::Uuid;

use super::SqlStore;
use crate::args;
use crate::audit::Action;
use crate::db::{Arg, Backend, Row};
use crate::{Org, OrgKey, OrgStore, Result, StoreError, WriteCtx};

const SELECT: &str = "SELECT g.seq, g.id, g.slug, g.display_name FROM groups g";

fn from_row(r: &Row) -> Result<Org> {
    Ok(Org {
        seq: r.int("seq")?,
        id: Uuid::parse_str(&r.text("id")?)
            .map_err(|e| StoreError::Db(sqlx::Error::Decode(e.into())))?,
        slug: r.text("slug")?,
        display_name: r.text("display_name")?,
    })
}

#[async_trait]
impl<B: Backend> OrgStore for SqlStore<B> {
    async fn create_org(
        &self,
        by: &GroupManager,
        ctx: &WriteCtx,
        slug: &str,
        display_name: &str,
    ) -> Result<Org> {
        validate_slug(slug)?;
        let mut w = self.write(by.actor(), ctx).await?;
        let taken = w
            .ex()
            .fetch_optional("SELECT 1 AS x FROM groups WHERE slug = ?", &args![slug])
            .await?;
        if taken.is_some() {
            return Err(StoreError::Rejected(CoreError::Uniqueness(Unique::Other(
                format!("an organization with slug {slug:?} exists"),
            ))));
        }
        let g = super::groups::insert(
            w.ex(),
            &NewGroup {
                display_name: display_name.to_owned(),
                external_id: None,
                members: Vec::new(),
            },
        )
        .await?;
        w.ex()
            .execute(
                "UPDATE groups SET slug = ? WHERE seq = ?",
                &args![slug, g.seq],
            )
            .await?;
        w.commit(Action::GroupCreate, &format!("{} {slug}", g.id))
            .await?;
        Ok(Org {
            seq: g.seq,
            id: g.id,
            slug: slug.to_owned(),
            display_name: g.display_name,
        })
    }

    async fn org(&self, key: OrgKey<'_>) -> Result<Option<Org>> {
        let (cond, arg) = match key {
            OrgKey::Slug(s) => ("g.slug = ?", Arg::Text(s.to_owned())),
            OrgKey::Seq(n) => ("g.seq = ? AND g.slug IS NOT NULL", Arg::Int(n)),
        };
        let mut r = self.db.reader().await?;
        r.fetch_optional(&format!("{SELECT} WHERE {cond}"), &[arg])
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    async fn list_orgs(&self) -> Result<Vec<Org>> {
        let mut r = self.db.reader().await?;
        r.fetch_all(
            &format!("{SELECT} WHERE g.slug IS NOT NULL ORDER BY g.seq"),
            &[],
        )
        .await?
        .iter()
        .map(from_row)
        .collect()
    }

    async fn delete_org(&self, by: &GroupManager, ctx: &WriteCtx, slug: &str) -> Result<bool> {
        let mut w = self.write(by.actor(), ctx).await?;
        let Some(row) = w
            .ex()
            .fetch_optional(&format!("{SELECT} WHERE g.slug = ?"), &args![slug])
            .await?
        else {
            return Ok(false);
        };
        let org = from_row(&row)?;
        w.ex()
            .execute("DELETE FROM groups WHERE seq = ?", &args![org.seq])
            .await?;
        w.commit(Action::GroupDelete, &format!("{} {slug}", org.id))
            .await?;
        Ok(true)
    }
}
