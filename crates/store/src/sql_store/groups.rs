//! The group aggregate: SQL for groups and memberships, and [`GroupStore`] over it.

use std::collections::HashMap;

use async_trait::async_trait;
use roster_core::group::{GroupChange, MemberOp};
use roster_core::policy::{GroupCreator, GroupEditor, GroupReader, GroupScope};
use roster_core::user::fold;
use roster_core::{
    CoreError, Entity, Group, Member, Meta, NewGroup, NewMember, Page, Role, UserGroup,
};
use uuid::Uuid;

use super::{check_version, group_batch, total, where_clause, SqlStore, Write};
use crate::args;
use crate::audit::Action;
use crate::db::{placeholders, Arg, Backend, Dialect, Exec, Row, PLAN_WITH_VALUES};
use crate::sql::{compile, order_by, Sql};
use crate::{GroupQuery, GroupStore, Result, StoreError, WriteCtx};

const COLUMNS: &str =
    "g.seq, g.id, g.display_name, g.external_id, g.slug, g.created_at, g.modified_at, g.version";
/// Ids per `IN (...)` list: well under SQLite's and PostgreSQL's parameter limits.
const CHUNK: usize = 500;

fn decode_id(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| StoreError::Db(sqlx::Error::Decode(e.into())))
}

fn from_row(r: &Row) -> Result<Group> {
    Ok(Group {
        seq: r.int("seq")?,
        id: decode_id(&r.text("id")?)?,
        display_name: r.text("display_name")?,
        external_id: r.opt_text("external_id")?,
        members: None,
        slug: r.opt_text("slug")?,
        meta: Meta {
            created: r.int("created_at")?,
            last_modified: r.int("modified_at")?,
            version: r.int("version")?,
        },
    })
}

fn id_args(ids: &[Uuid]) -> Vec<Arg> {
    ids.iter().map(|id| Arg::Text(id.to_string())).collect()
}

/// The seqs of the users among `ids`; ids that name no user are left out.
pub(super) async fn known_seqs(tx: &mut dyn Exec, ids: &[Uuid]) -> Result<HashMap<Uuid, i64>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT id, seq FROM users WHERE id IN ({})",
            placeholders(chunk.len())
        );
        for row in tx.fetch_all(&sql, &id_args(chunk)).await? {
            out.insert(decode_id(&row.text("id")?)?, row.int("seq")?);
        }
    }
    Ok(out)
}

/// Refuses a change that adds an id `seqs` does not know: the client's mistake.
pub(super) fn check_known(ids: &[Uuid], seqs: &HashMap<Uuid, i64>) -> Result<()> {
    match ids.iter().find(|id| !seqs.contains_key(id)) {
        Some(missing) => Err(StoreError::Rejected(CoreError::InvalidValue(format!(
            "member value {missing} is not the id of any user"
        )))),
        None => Ok(()),
    }
}

/// Maps user ids to internal seqs; an unknown id is the client's mistake.
async fn user_seqs(tx: &mut dyn Exec, ids: &[Uuid]) -> Result<HashMap<Uuid, i64>> {
    let out = known_seqs(tx, ids).await?;
    check_known(ids, &out)?;
    Ok(out)
}

/// The ids a change adds (its Add and Replace members).
pub(super) fn added_ids(change: &GroupChange) -> Vec<Uuid> {
    change
        .members
        .iter()
        .flat_map(|op| match op {
            MemberOp::Add(m) | MemberOp::Replace(m) => m.as_slice(),
            MemberOp::Remove(_) | MemberOp::RemoveAll => &[],
        })
        .map(|m| m.id)
        .collect()
}

/// Every id a change names (added, replacing or removed).
pub(super) fn named_ids(change: &GroupChange) -> Vec<Uuid> {
    let mut ids = added_ids(change);
    for op in &change.members {
        if let MemberOp::Remove(removed) = op {
            ids.extend_from_slice(removed);
        }
    }
    ids
}

/// Inserts plain memberships (role member, no display) of the users `seqs`; one that exists
/// already is kept as it is.
pub(super) async fn insert_plain(tx: &mut dyn Exec, group_seq: i64, seqs: &[i64]) -> Result<()> {
    let now = roster_core::now_micros();
    for chunk in seqs.chunks(INSERT_CHUNK) {
        let rows = vec!["(?, ?, 'member', NULL, ?)"; chunk.len()].join(", ");
        let mut a = Vec::with_capacity(chunk.len() * 3);
        for &seq in chunk {
            a.extend([Arg::Int(group_seq), Arg::Int(seq), Arg::Int(now)]);
        }
        tx.execute(
            &format!(
                "INSERT INTO memberships (group_seq, user_seq, role, display, created_at) VALUES {rows} \
                 ON CONFLICT (group_seq, user_seq) DO NOTHING"
            ),
            &a,
        )
        .await?;
    }
    Ok(())
}

/// Deletes the memberships of the users `seqs`.
pub(super) async fn delete_seqs(tx: &mut dyn Exec, group_seq: i64, seqs: &[i64]) -> Result<()> {
    for chunk in seqs.chunks(CHUNK) {
        let mut a = vec![Arg::Int(group_seq)];
        a.extend(chunk.iter().map(|&s| Arg::Int(s)));
        tx.execute(
            &format!(
                "{PLAN_WITH_VALUES}DELETE FROM memberships WHERE group_seq = ? AND user_seq IN ({})",
                placeholders(chunk.len())
            ),
            &a,
        )
        .await?;
    }
    Ok(())
}

/// Rows per multi-row INSERT (5 parameters each; SQLite allows 32,766 parameters).
const INSERT_CHUNK: usize = 400;

/// Adds `members` to the group, their seqs in `seqs` (from [`user_seqs`]).
async fn add_members(
    tx: &mut dyn Exec,
    group_seq: i64,
    members: &[NewMember],
    seqs: &HashMap<Uuid, i64>,
) -> Result<()> {
    // Plain adds (the bulk of any large PATCH) go in multi-row inserts; adding an existing
    // member is not an error and keeps their role.
    let (plain, explicit): (Vec<&NewMember>, Vec<&NewMember>) = members
        .iter()
        .partition(|m| m.role.is_none() && m.display.is_none());
    let plain: Vec<i64> = plain
        .iter()
        .map(|m| seqs.get(&m.id).copied().unwrap_or_default())
        .collect();
    insert_plain(tx, group_seq, &plain).await?;
    let now = roster_core::now_micros();
    // A role or display given explicitly replaces the stored one.
    for m in explicit {
        let seq = seqs.get(&m.id).copied().unwrap_or_default();
        tx.execute(
            "INSERT INTO memberships (group_seq, user_seq, role, display, created_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (group_seq, user_seq) DO UPDATE SET \
             role = COALESCE(?, memberships.role), display = COALESCE(?, memberships.display)",
            &args![
                group_seq,
                seq,
                m.role.unwrap_or(Role::Member).as_str(),
                m.display.clone(),
                now,
                m.role.map(|r| r.as_str()),
                m.display.clone(),
            ],
        )
        .await?;
    }
    Ok(())
}

async fn remove_members(tx: &mut dyn Exec, group_seq: i64, ids: &[Uuid]) -> Result<()> {
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "{PLAN_WITH_VALUES}DELETE FROM memberships WHERE group_seq = ? AND user_seq IN (SELECT seq FROM users WHERE id IN ({}))",
            placeholders(chunk.len())
        );
        let mut a = vec![Arg::Int(group_seq)];
        a.extend(id_args(chunk));
        tx.execute(&sql, &a).await?;
    }
    Ok(())
}

pub(super) async fn insert(tx: &mut dyn Exec, new: &NewGroup) -> Result<Group> {
    new.validate()?;
    let id = Uuid::new_v4();
    let now = roster_core::now_micros();
    let seq = tx
        .fetch_one(
            "INSERT INTO groups (id, display_name, display_name_key, external_id, created_at, modified_at, version) \
             VALUES (?, ?, ?, ?, ?, ?, 1) RETURNING seq",
            &args![id.to_string(), new.display_name.as_str(), fold(&new.display_name), new.external_id.clone(), now, now],
        )
        .await?
        .int("seq")?;
    let ids: Vec<Uuid> = new.members.iter().map(|m| m.id).collect();
    let seqs = user_seqs(tx, &ids).await?;
    add_members(tx, seq, &new.members, &seqs).await?;
    Ok(Group {
        seq,
        id,
        display_name: new.display_name.clone(),
        external_id: new.external_id.clone(),
        members: None,
        slug: None,
        meta: Meta {
            created: now,
            last_modified: now,
            version: 1,
        },
    })
}

/// Loads the members of several groups in one query per chunk, ordered for stable output.
async fn load_members(ex: &mut dyn Exec, groups: &mut [Group]) -> Result<()> {
    let mut by_seq: HashMap<i64, Vec<Member>> = HashMap::new();
    for chunk in groups.chunks(CHUNK) {
        let sql = format!(
            "SELECT m.group_seq, u.id, u.display_name, u.user_name, m.role, m.display AS given FROM memberships m \
             JOIN users u ON u.seq = m.user_seq WHERE m.group_seq IN ({}) ORDER BY m.group_seq, m.user_seq",
            placeholders(chunk.len())
        );
        let a: Vec<Arg> = chunk.iter().map(|g| Arg::Int(g.seq)).collect();
        for row in ex.fetch_all(&sql, &a).await? {
            let display = row
                .opt_text("display_name")?
                .map_or_else(|| row.text("user_name"), Ok)?;
            by_seq
                .entry(row.int("group_seq")?)
                .or_default()
                .push(Member {
                    user_id: decode_id(&row.text("id")?)?,
                    display: Some(display),
                    given_display: row.opt_text("given")?,
                    role: row.text("role")?.parse::<Role>()?,
                });
        }
    }
    for g in groups.iter_mut() {
        g.members = Some(by_seq.remove(&g.seq).unwrap_or_default());
    }
    Ok(())
}

/// Groups by seq, in no particular order.
pub(super) async fn load_by_seqs(
    ex: &mut dyn Exec,
    seqs: &[i64],
    with_members: bool,
) -> Result<Vec<Group>> {
    let select = format!("SELECT {COLUMNS} FROM groups g");
    let mut out = super::search::by_seqs(ex, &select, "g", seqs, from_row).await?;
    if with_members {
        load_members(ex, &mut out).await?;
    }
    Ok(out)
}

/// The visible groups of several users, one query per chunk.
pub(super) async fn groups_of(
    ex: &mut dyn Exec,
    scope: GroupScope,
    users: &[i64],
) -> Result<Vec<UserGroup>> {
    let mut out = Vec::new();
    for chunk in users.chunks(CHUNK) {
        let mut sql = Sql::new();
        sql.push(&format!(
            "SELECT m.user_seq, g.id, g.display_name FROM memberships m \
             JOIN groups g ON g.seq = m.group_seq WHERE m.user_seq IN ({})",
            placeholders(chunk.len())
        ));
        sql.args.extend(chunk.iter().map(|&s| Arg::Int(s)));
        if scope != GroupScope::All {
            sql.push(" AND ");
            scope_condition(scope, &mut sql);
        }
        sql.push(" ORDER BY m.user_seq, m.group_seq");
        for row in ex.fetch_all(&sql.text, &sql.args).await? {
            out.push(UserGroup {
                user_seq: row.int("user_seq")?,
                id: decode_id(&row.text("id")?)?,
                display_name: row.text("display_name")?,
            });
        }
    }
    Ok(out)
}

/// `EXISTS (...)` restricting groups to a reader's scope, with its argument.
pub(super) fn scope_condition(scope: GroupScope, out: &mut Sql) {
    if let GroupScope::MemberOf(member) = scope {
        out.push(
            "EXISTS (SELECT 1 FROM memberships vm WHERE vm.group_seq = g.seq AND vm.user_seq = ",
        );
        out.bind(Arg::Int(member)).push(")");
    }
}

async fn get(
    ex: &mut dyn Exec,
    scope: GroupScope,
    id: Uuid,
    with_members: bool,
) -> Result<Option<Group>> {
    let mut cond = Sql::new();
    cond.push("g.id = ").bind(Arg::Text(id.to_string()));
    if scope != GroupScope::All {
        cond.push(" AND ");
        scope_condition(scope, &mut cond);
    }
    let row = ex
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM groups g WHERE {}", cond.text),
            &cond.args,
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut groups = [from_row(&row)?];
    if with_members {
        load_members(ex, &mut groups).await?;
    }
    let [g] = groups;
    Ok(Some(g))
}

async fn member_role(ex: &mut dyn Exec, group: Uuid, user_seq: i64) -> Result<Option<Role>> {
    let row = ex
        .fetch_optional(
            "SELECT m.role FROM groups g LEFT JOIN memberships m ON m.group_seq = g.seq AND m.user_seq = ? WHERE g.id = ?",
            &args![user_seq, group.to_string()],
        )
        .await?
        .ok_or(StoreError::NotFound(Entity::Group(group)))?;
    Ok(row
        .opt_text("role")?
        .map(|r| r.parse::<Role>())
        .transpose()?)
}

pub(super) async fn list(
    ex: &mut dyn Exec,
    dialect: Dialect,
    scope: GroupScope,
    q: &GroupQuery,
) -> Result<Page<Group>> {
    let mut filter = Sql::new();
    scope_condition(scope, &mut filter);
    if let Some(c) = &q.filter {
        if !filter.text.is_empty() {
            filter.push(" AND ");
        }
        compile(c, &mut filter, dialect);
    }
    let filter = (!filter.text.is_empty()).then_some(filter);
    let wc = where_clause(filter.as_ref(), &[]);
    let args = filter.map(|f| f.args).unwrap_or_default();
    let mut items = Vec::new();
    if q.page.count > 0 {
        let mut a = args.clone();
        a.extend(super::page_window(&q.page));
        let rows = ex
            .fetch_all(
                &format!(
                    "SELECT {COLUMNS} FROM groups g{wc}{} LIMIT ? OFFSET ?",
                    order_by(q.sort.as_ref(), "g.seq", q.newest_first)
                ),
                &a,
            )
            .await?;
        items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        if q.with_members {
            load_members(ex, &mut items).await?;
        }
    }
    let count = format!("SELECT COUNT(*) AS n FROM groups g{wc}");
    let total = total(ex, &q.page, items.len(), &count, &args).await?;
    Ok(Page {
        items,
        total,
        start_index: q.page.start_index,
    })
}

/// Loads the group a change is about to rewrite. On PostgreSQL the row stays locked until
/// the transaction ends, which serialises the changes of one group; SQLite has a single
/// writer already.
pub(super) async fn lock(tx: &mut dyn Exec, dialect: Dialect, id: Uuid) -> Result<Option<Group>> {
    let row = tx
        .fetch_optional(
            &format!(
                "SELECT {COLUMNS} FROM groups g WHERE g.id = ?{}",
                dialect.lock_for_update
            ),
            &args![id.to_string()],
        )
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The users a change adds, by id: an id that names no user refuses the change here, before
/// [`apply`] writes anything.
pub(super) async fn resolve(tx: &mut dyn Exec, change: &GroupChange) -> Result<HashMap<Uuid, i64>> {
    user_seqs(tx, &added_ids(change)).await
}

/// Writes `change`'s memberships for the locked group `g` (with `seqs` from [`resolve`]) and
/// applies the rest of it to `g`, one version on; [`save`] writes the group row.
pub(super) async fn apply(
    tx: &mut dyn Exec,
    g: &mut Group,
    change: &GroupChange,
    seqs: &HashMap<Uuid, i64>,
) -> Result<()> {
    for op in &change.members {
        match op {
            MemberOp::Add(m) => add_members(tx, g.seq, m, seqs).await?,
            MemberOp::Remove(ids) => remove_members(tx, g.seq, ids).await?,
            MemberOp::RemoveAll | MemberOp::Replace(_) => {
                tx.execute("DELETE FROM memberships WHERE group_seq = ?", &args![g.seq])
                    .await?;
                if let MemberOp::Replace(m) = op {
                    add_members(tx, g.seq, m, seqs).await?;
                }
            }
        }
    }
    touch(g, change);
    Ok(())
}

/// Applies `change`'s attributes to `g`, one version on (its members are written apart).
pub(super) fn touch(g: &mut Group, change: &GroupChange) {
    if let Some(n) = &change.display_name {
        g.display_name = n.clone();
    }
    if let Some(e) = &change.external_id {
        g.external_id = e.clone();
    }
    g.meta.last_modified = roster_core::now_micros().max(g.meta.last_modified);
    g.meta.version += 1;
}

/// A change that only adds members plainly (no role, no display) and removes members, as
/// (user id, member afterwards) in order; None for any other change. The last of such steps
/// for a user decides their membership, whatever came before it.
pub(super) fn plain_steps(change: &GroupChange) -> Option<Vec<(Uuid, bool)>> {
    let mut steps = Vec::new();
    for op in &change.members {
        match op {
            MemberOp::Add(m) if m.iter().all(|m| m.role.is_none() && m.display.is_none()) => {
                steps.extend(m.iter().map(|m| (m.id, true)));
            }
            MemberOp::Remove(ids) => steps.extend(ids.iter().map(|&id| (id, false))),
            _ => return None,
        }
    }
    Some(steps)
}

/// Writes the group row of `g`, which was at `from_version` when it was locked.
pub(super) async fn save(tx: &mut dyn Exec, g: &Group, from_version: i64) -> Result<()> {
    let done = tx
        .execute(
            "UPDATE groups SET display_name = ?, display_name_key = ?, external_id = ?, modified_at = ?, \
             version = ? WHERE seq = ? AND version = ?",
            &args![
                g.display_name.as_str(),
                fold(&g.display_name),
                g.external_id.clone(),
                g.meta.last_modified,
                g.meta.version,
                g.seq,
                from_version
            ],
        )
        .await?;
    if done != 1 {
        return Err(StoreError::VersionMismatch);
    }
    Ok(())
}

/// One change of a group in the open transaction `tx`.
pub(super) async fn modify(
    tx: &mut dyn Exec,
    dialect: Dialect,
    id: Uuid,
    if_match: Option<i64>,
    change: &GroupChange,
) -> Result<Group> {
    let mut g = lock(tx, dialect, id)
        .await?
        .ok_or(StoreError::NotFound(Entity::Group(id)))?;
    if if_match.is_some_and(|v| v != g.meta.version) {
        return Err(StoreError::VersionMismatch);
    }
    let from_version = g.meta.version;
    let seqs = resolve(tx, change).await?;
    apply(tx, &mut g, change, &seqs).await?;
    save(tx, &g, from_version).await?;
    Ok(g)
}

/// One change of a group in a transaction of its own, committed with its audit row.
pub(super) async fn modify_alone(
    mut w: Write<'_>,
    dialect: Dialect,
    id: Uuid,
    if_match: Option<i64>,
    change: &GroupChange,
) -> Result<Group> {
    let g = modify(w.ex(), dialect, id, if_match, change).await?;
    w.changed(&changed_names(change));
    w.commit(Action::GroupUpdate, &id.to_string()).await?;
    Ok(g)
}

/// Whether a change joins its group's batch (see [`group_batch`]): small ones only.
fn batchable(change: &GroupChange) -> bool {
    named_ids(change).len() <= group_batch::MAX_BATCHED_MEMBERS
}

/// The attributes a change changes, as its audit row names them.
pub(super) fn changed_names(change: &GroupChange) -> Vec<&'static str> {
    [
        (change.display_name.is_some(), "displayName"),
        (change.external_id.is_some(), "externalId"),
        (!change.members.is_empty(), "members"),
    ]
    .into_iter()
    .filter_map(|(changed, name)| changed.then_some(name))
    .collect()
}

#[async_trait]
impl<B: Backend> GroupStore for SqlStore<B> {
    async fn create_group(
        &self,
        by: &GroupCreator,
        ctx: &WriteCtx,
        new: &NewGroup,
    ) -> Result<Group> {
        let mut w = self.write(by.actor(), ctx).await?;
        let g = insert(w.ex(), new).await?;
        w.commit(Action::GroupCreate, &g.id.to_string()).await?;
        Ok(g)
    }

    async fn get_group(
        &self,
        by: &GroupReader,
        id: Uuid,
        with_members: bool,
    ) -> Result<Option<Group>> {
        let mut r = self.db.reader().await?;
        get(&mut *r, by.scope(), id, with_members).await
    }

    async fn member_role(&self, group: Uuid, user_seq: i64) -> Result<Option<Role>> {
        let mut r = self.db.reader().await?;
        member_role(&mut *r, group, user_seq).await
    }

    async fn member_roles(&self, group_seq: i64, users: &[i64]) -> Result<Vec<(i64, Role)>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        if users.len() > 1000 {
            return Err(CoreError::TooMany("at most 1,000 users per role lookup".into()).into());
        }
        let mut a: Vec<Arg> = vec![Arg::Int(group_seq)];
        a.extend(users.iter().map(|s| Arg::Int(*s)));
        let mut r = self.db.reader().await?;
        r.fetch_all(
            &format!(
                "{PLAN_WITH_VALUES}SELECT user_seq, role FROM memberships WHERE group_seq = ? AND user_seq IN ({})",
                crate::db::placeholders(users.len())
            ),
            &a,
        )
        .await?
        .iter()
        .map(|row| Ok((row.int("user_seq")?, row.text("role")?.parse::<Role>()?)))
        .collect()
    }

    async fn list_groups(&self, by: &GroupReader, q: &GroupQuery) -> Result<Page<Group>> {
        let mut r = self.db.reader().await?;
        list(&mut *r, self.db.dialect(), by.scope(), q).await
    }

    async fn groups_of(&self, by: &GroupReader, users: &[i64]) -> Result<Vec<UserGroup>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut r = self.db.reader().await?;
        groups_of(&mut *r, by.scope(), users).await
    }

    async fn modify_group(
        &self,
        by: &GroupEditor,
        ctx: &WriteCtx,
        if_match: Option<i64>,
        change: &GroupChange,
    ) -> Result<Group> {
        let id = by.group();
        change.validate()?;
        if self.db.dialect().batch_group_changes && batchable(change) {
            let (reply, outcome) = tokio::sync::oneshot::channel();
            let pending = group_batch::Pending {
                actor: by.actor().audit_name(),
                request_id: ctx.request_id.clone(),
                gate: ctx.gate.clone(),
                if_match,
                change: change.clone(),
                reply,
            };
            group_batch::submit(&self.db, &self.group_queues, id, pending);
            // Unanswered only if the batch's task died (a panic) before the change's COMMIT:
            // then it is written alone.
            if let Ok(outcome) = outcome.await {
                return outcome;
            }
        }
        let w = self.write(by.actor(), ctx).await?;
        modify_alone(w, self.db.dialect(), id, if_match, change).await
    }

    async fn delete_group(
        &self,
        by: &GroupEditor,
        ctx: &WriteCtx,
        if_match: Option<i64>,
    ) -> Result<()> {
        let id = by.group();
        let mut w = self.write(by.actor(), ctx).await?;
        check_version(w.ex(), "groups", Entity::Group(id), id, if_match).await?;
        w.ex()
            .execute("DELETE FROM groups WHERE id = ?", &args![id.to_string()])
            .await?;
        w.commit(Action::GroupDelete, &id.to_string()).await
    }
}
