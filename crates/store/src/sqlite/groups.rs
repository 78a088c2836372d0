use std::collections::HashMap;

use roster_core::group::{GroupChange, MemberOp};
use roster_core::user::fold;
use roster_core::{CoreError, Group, Member, Meta, NewGroup, Page, Role};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use super::{bind_all, bind_scalar, where_clause, Tx};
use crate::sql::{compile, Placeholder, Sql};
use crate::{GroupQuery, Result, StoreError};

const COLUMNS: &str =
    "g.seq, g.id, g.display_name, g.external_id, g.created_at, g.modified_at, g.version";
/// Ids per `IN (...)` list: well under SQLite's bound-parameter limit.
const CHUNK: usize = 500;

fn decode_id(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| StoreError::Db(sqlx::Error::Decode(e.into())))
}

fn from_row(r: &SqliteRow) -> Result<Group> {
    let id: String = r.try_get("id")?;
    Ok(Group {
        seq: r.try_get("seq")?,
        id: decode_id(&id)?,
        display_name: r.try_get("display_name")?,
        external_id: r.try_get("external_id")?,
        members: None,
        meta: Meta {
            created: r.try_get("created_at")?,
            last_modified: r.try_get("modified_at")?,
            version: r.try_get("version")?,
        },
    })
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Maps user ids to internal seqs; an unknown id is the client's mistake.
async fn user_seqs(tx: &mut Tx, ids: &[Uuid]) -> Result<HashMap<Uuid, i64>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT id, seq FROM users WHERE id IN ({})",
            placeholders(chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id.to_string());
        }
        for row in q.fetch_all(&mut **tx).await? {
            let id: String = row.try_get("id")?;
            out.insert(decode_id(&id)?, row.try_get::<i64, _>("seq")?);
        }
    }
    if let Some(missing) = ids.iter().find(|id| !out.contains_key(id)) {
        return Err(StoreError::Rejected(CoreError::InvalidValue(format!(
            "member value {missing} is not the id of any user"
        ))));
    }
    Ok(out)
}

async fn add_members(tx: &mut Tx, group_seq: i64, members: &[(Uuid, Option<Role>)]) -> Result<()> {
    let ids: Vec<Uuid> = members.iter().map(|(id, _)| *id).collect();
    let seqs = user_seqs(tx, &ids).await?;
    let now = roster_core::now_micros();
    for (id, role) in members {
        let seq = seqs.get(id).copied().unwrap_or_default();
        // Adding an existing member is not an error; a role given explicitly wins.
        let sql = match role {
            Some(_) => "INSERT INTO memberships (group_seq, user_seq, role, created_at) VALUES (?, ?, ?, ?) \
                        ON CONFLICT (group_seq, user_seq) DO UPDATE SET role = excluded.role",
            None => "INSERT INTO memberships (group_seq, user_seq, role, created_at) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (group_seq, user_seq) DO NOTHING",
        };
        sqlx::query(sql)
            .bind(group_seq)
            .bind(seq)
            .bind(role.unwrap_or(Role::Member).as_str())
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn remove_members(tx: &mut Tx, group_seq: i64, ids: &[Uuid]) -> Result<()> {
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM memberships WHERE group_seq = ? AND user_seq IN (SELECT seq FROM users WHERE id IN ({}))",
            placeholders(chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(group_seq);
        for id in chunk {
            q = q.bind(id.to_string());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

pub(super) async fn insert(tx: &mut Tx, new: &NewGroup) -> Result<Group> {
    new.validate()?;
    let id = Uuid::new_v4();
    let now = roster_core::now_micros();
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO groups (id, display_name, display_name_key, external_id, created_at, modified_at, version) \
         VALUES (?, ?, ?, ?, ?, ?, 1) RETURNING seq",
    )
    .bind(id.to_string())
    .bind(&new.display_name)
    .bind(fold(&new.display_name))
    .bind(new.external_id.as_deref())
    .bind(now)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let members: Vec<(Uuid, Option<Role>)> =
        new.members.iter().map(|(id, r)| (*id, Some(*r))).collect();
    add_members(tx, seq, &members).await?;
    Ok(Group {
        seq,
        id,
        display_name: new.display_name.clone(),
        external_id: new.external_id.clone(),
        members: None,
        meta: Meta {
            created: now,
            last_modified: now,
            version: 1,
        },
    })
}

/// Loads the members of several groups in one query, ordered for stable output.
async fn load_members(pool: &SqlitePool, groups: &mut [Group]) -> Result<()> {
    let mut by_seq: HashMap<i64, Vec<Member>> = HashMap::new();
    for chunk in groups.chunks(CHUNK) {
        let sql = format!(
            "SELECT m.group_seq, u.id, u.display_name, u.user_name, m.role FROM memberships m \
             JOIN users u ON u.seq = m.user_seq WHERE m.group_seq IN ({}) ORDER BY m.group_seq, m.user_seq",
            placeholders(chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for g in chunk {
            q = q.bind(g.seq);
        }
        for row in q.fetch_all(pool).await? {
            let id: String = row.try_get("id")?;
            let display: Option<String> = row.try_get("display_name")?;
            let user_name: String = row.try_get("user_name")?;
            let role: String = row.try_get("role")?;
            by_seq
                .entry(row.try_get("group_seq")?)
                .or_default()
                .push(Member {
                    user_id: decode_id(&id)?,
                    display: Some(display.unwrap_or(user_name)),
                    role: role.parse::<Role>()?,
                });
        }
    }
    for g in groups.iter_mut() {
        g.members = Some(by_seq.remove(&g.seq).unwrap_or_default());
    }
    Ok(())
}

pub(super) async fn get(pool: &SqlitePool, id: Uuid, with_members: bool) -> Result<Option<Group>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM groups g WHERE g.id = ?"))
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut groups = [from_row(&row)?];
    if with_members {
        load_members(pool, &mut groups).await?;
    }
    let [g] = groups;
    Ok(Some(g))
}

pub(super) async fn member_role(
    pool: &SqlitePool,
    group: Uuid,
    user_seq: i64,
) -> Result<Option<Role>> {
    let row = sqlx::query(
        "SELECT m.role FROM groups g LEFT JOIN memberships m ON m.group_seq = g.seq AND m.user_seq = ? WHERE g.id = ?",
    )
    .bind(user_seq)
    .bind(group.to_string())
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound(format!("no group with id {group}")));
    };
    let role: Option<String> = row.try_get("role")?;
    Ok(role.map(|r| r.parse::<Role>()).transpose()?)
}

pub(super) async fn list(pool: &SqlitePool, q: &GroupQuery) -> Result<Page<Group>> {
    let mut filter = Sql::new(Placeholder::Question);
    let mut parts = Vec::new();
    if let Some(member) = q.member {
        filter.push(
            "EXISTS (SELECT 1 FROM memberships vm WHERE vm.group_seq = g.seq AND vm.user_seq = ",
        );
        filter.bind(crate::sql::Arg::Int(member));
        filter.push(")");
        parts.push(());
    }
    if let Some(c) = &q.filter {
        if !parts.is_empty() {
            filter.push(" AND ");
        }
        compile(c, &mut filter);
        parts.push(());
    }
    let filter = (!parts.is_empty()).then_some(filter);
    let wc = where_clause(filter.as_ref(), &[]);
    let args = filter.as_ref().map(|f| f.args.as_slice()).unwrap_or(&[]);
    let total: i64 = bind_scalar(
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM groups g{wc}")),
        args,
    )
    .fetch_one(pool)
    .await?;
    let mut items = Vec::new();
    if q.page.count > 0 && q.page.offset() < total {
        let sql = format!("SELECT {COLUMNS} FROM groups g{wc} ORDER BY g.seq LIMIT ? OFFSET ?");
        let rows = bind_all(sqlx::query(&sql), args)
            .bind(q.page.count)
            .bind(q.page.offset())
            .fetch_all(pool)
            .await?;
        items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        if q.with_members {
            load_members(pool, &mut items).await?;
        }
    }
    Ok(Page {
        items,
        total,
        start_index: q.page.start_index,
    })
}

pub(super) async fn modify(
    tx: &mut Tx,
    id: Uuid,
    if_match: Option<i64>,
    change: &GroupChange,
) -> Result<Group> {
    change.validate()?;
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM groups g WHERE g.id = ?"))
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no group with id {id}")))?;
    let mut g = from_row(&row)?;
    if if_match.is_some_and(|v| v != g.meta.version) {
        return Err(StoreError::VersionMismatch);
    }
    for op in &change.members {
        match op {
            MemberOp::Add(m) => add_members(tx, g.seq, m).await?,
            MemberOp::Remove(ids) => remove_members(tx, g.seq, ids).await?,
            MemberOp::RemoveAll | MemberOp::Replace(_) => {
                sqlx::query("DELETE FROM memberships WHERE group_seq = ?")
                    .bind(g.seq)
                    .execute(&mut **tx)
                    .await?;
                if let MemberOp::Replace(m) = op {
                    let m: Vec<(Uuid, Option<Role>)> =
                        m.iter().map(|(id, r)| (*id, Some(*r))).collect();
                    add_members(tx, g.seq, &m).await?;
                }
            }
        }
    }
    if let Some(n) = &change.display_name {
        g.display_name = n.clone();
    }
    if let Some(e) = &change.external_id {
        g.external_id = e.clone();
    }
    let now = roster_core::now_micros().max(g.meta.last_modified);
    let done = sqlx::query(
        "UPDATE groups SET display_name = ?, display_name_key = ?, external_id = ?, modified_at = ?, \
         version = version + 1 WHERE seq = ? AND version = ?",
    )
    .bind(&g.display_name)
    .bind(fold(&g.display_name))
    .bind(g.external_id.as_deref())
    .bind(now)
    .bind(g.seq)
    .bind(g.meta.version)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::VersionMismatch);
    }
    g.meta.version += 1;
    g.meta.last_modified = now;
    Ok(g)
}
