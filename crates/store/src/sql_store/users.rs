//! The user aggregate: SQL for users, their email index and permissions, and
//! [`UserStore`] over it.

use async_trait::async_trait;
use roster_core::filter::CompareOp;
use roster_core::policy::{GroupReader, GroupScope, UserAdmin, UserEditor, UserReader};
use roster_core::schema::{Cond, Field, Scalar};
use roster_core::user::fold;
use roster_core::{
    Email, Enterprise, Entity, Meta, NewUser, Page, Permission, User, UserGroup, UserName,
};
use uuid::Uuid;

use super::{check_version, total, where_clause, SqlStore};
use crate::args;
use crate::audit::Action;
use crate::db::{Arg, Backend, Dialect, Exec, Row};
use crate::sql::{compile_seeing, order_by_keys, Sql, PROFILE_COLUMNS};
use crate::{Result, StoreError, UserEdit, UserQuery, UserStore, WriteCtx};

const COLUMNS: &str = "u.seq, u.id, u.user_name, u.external_id, u.display_name, \
    u.given_name, u.family_name, u.emails, u.active, u.locale, u.created_at, u.modified_at, u.version, \
    u.employee_number, u.cost_center, u.organization, u.division, u.department, u.manager_id, \
    u.nick_name, u.title, u.user_type, u.profile_url, u.preferred_language, u.timezone, \
    u.name_formatted, u.middle_name, u.honorific_prefix, u.honorific_suffix, u.multi, u.active_assigned, u.verified_email, u.totp, u.owner";

fn decode<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Db(sqlx::Error::Decode(Box::new(e)))
}

fn from_row(r: &Row) -> Result<User> {
    Ok(User {
        seq: r.int("seq")?,
        id: Uuid::parse_str(&r.text("id")?).map_err(decode)?,
        user_name: UserName::parse(&r.text("user_name")?)?,
        external_id: r.opt_text("external_id")?,
        display_name: r.opt_text("display_name")?,
        given_name: r.opt_text("given_name")?,
        family_name: r.opt_text("family_name")?,
        emails: serde_json::from_str::<Vec<Email>>(&r.text("emails")?).map_err(decode)?,
        active: r.bool("active")?,
        active_assigned: r.bool("active_assigned")?,
        locale: r.opt_text("locale")?,
        profile: {
            let mut p: [Option<String>; 10] = Default::default();
            for (slot, col) in p.iter_mut().zip(PROFILE_COLUMNS) {
                *slot = r.opt_text(col)?;
            }
            p
        },
        multi: serde_json::from_str(&r.text("multi")?).map_err(decode)?,
        enterprise: Enterprise {
            employee_number: r.opt_text("employee_number")?,
            cost_center: r.opt_text("cost_center")?,
            organization: r.opt_text("organization")?,
            division: r.opt_text("division")?,
            department: r.opt_text("department")?,
            manager: r.opt_text("manager_id")?,
        },
        meta: Meta {
            created: r.int("created_at")?,
            last_modified: r.int("modified_at")?,
            version: r.int("version")?,
        },
        set_password_hash: None,
        set_roles: None,
        set_permissions: None,
        groups: groups_from_row(r)?,
        roles: roles_from_row(r)?,
        verified_email: r.opt_text("verified_email")?,
        totp: r.bool("totp")?,
        owner: r.bool("owner")?,
    })
}

/// A column holding the user's groups as `[[id, displayName], ...]`: those `scope` sees,
/// in membership order (the subquery walks memberships_user). The viewer's seq is written
/// into the SQL: it is a number from the database, and leaving it out of the arguments
/// keeps every statement's placeholders where they were.
pub(super) fn groups_column(dialect: Dialect, scope: GroupScope) -> String {
    let j = dialect.json_rows;
    let visible = match scope {
        GroupScope::All => String::new(),
        GroupScope::MemberOf(viewer) => format!(
            " AND EXISTS (SELECT 1 FROM memberships vm WHERE vm.group_seq = g.seq AND vm.user_seq = {viewer})"
        ),
    };
    format!(
        ", {}g.id, g.display_name{} FROM memberships m JOIN groups g ON g.seq = m.group_seq \
         WHERE m.user_seq = u.seq{visible}{} AS groups_json",
        j.open,
        j.row.replace("{order}", "m.group_seq"),
        j.close
    )
}

/// The user's groups from a `groups_json` column, when the statement selected one.
fn groups_from_row(r: &Row) -> Result<Option<Vec<UserGroup>>> {
    if !r.has("groups_json") {
        return Ok(None);
    }
    let user_seq = r.int("seq")?;
    let pairs: Vec<(String, String)> =
        serde_json::from_str(&r.text("groups_json")?).map_err(decode)?;
    pairs
        .into_iter()
        .map(|(id, display_name)| {
            Ok(UserGroup {
                user_seq,
                id: Uuid::parse_str(&id).map_err(decode)?,
                display_name,
            })
        })
        .collect::<Result<_>>()
        .map(Some)
}

/// The user's roles as one JSON column (`roles_json`), oldest first.
pub(super) fn roles_column(dialect: Dialect) -> String {
    let j = dialect.json_rows;
    format!(
        ", {}r.id, r.name, r.admin, r.access_all_resources, r.kind, r.permissions{} \
         FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_seq = u.seq{} AS roles_json",
        j.open,
        j.row.replace("{order}", "r.id"),
        j.close
    )
}

/// The user's roles from a `roles_json` column, when the statement selected one. Booleans
/// arrive as JSON booleans (PostgreSQL) or 0/1 (SQLite); permissions as their stored text.
fn roles_from_row(r: &Row) -> Result<Option<Vec<roster_core::role::OrgRole>>> {
    use roster_core::role::{NewRole, OrgRole, RoleKind};
    use serde_json::Value;
    if !r.has("roles_json") {
        return Ok(None);
    }
    let rows: Vec<(i64, String, Value, Value, String, String)> =
        serde_json::from_str(&r.text("roles_json")?).map_err(decode)?;
    let truth = |v: &Value| v.as_bool().unwrap_or_else(|| v.as_i64() == Some(1));
    rows.into_iter()
        .map(|(id, name, admin, all, kind, permissions)| {
            Ok(OrgRole {
                id,
                role: NewRole {
                    name,
                    admin: truth(&admin),
                    access_all_resources: truth(&all),
                    kind: RoleKind::parse(&kind).unwrap_or(RoleKind::Custom),
                    permissions: serde_json::from_str(&permissions).map_err(decode)?,
                },
            })
        })
        .collect::<Result<_>>()
        .map(Some)
}

fn multi_json(m: &std::collections::BTreeMap<String, Vec<serde_json::Value>>) -> Result<String> {
    serde_json::to_string(m).map_err(|e| StoreError::Db(sqlx::Error::Encode(e.into())))
}

fn emails_json(emails: &[Email]) -> Result<String> {
    serde_json::to_string(emails).map_err(|e| StoreError::Db(sqlx::Error::Encode(e.into())))
}

/// Keeps the filter index of emails in step with the user's JSON: its rows are replaced
/// (`replace`), or written for a user that has none yet. One INSERT for all of them: a
/// user holds at most `MAX_VALUES` (100) emails.
async fn write_email_index(
    tx: &mut dyn Exec,
    seq: i64,
    emails: &[Email],
    replace: bool,
) -> Result<()> {
    if replace {
        tx.execute("DELETE FROM user_emails WHERE user_seq = ?", &args![seq])
            .await?;
    }
    if emails.is_empty() {
        return Ok(());
    }
    let mut args = Vec::with_capacity(emails.len() * 4);
    for e in emails {
        args.extend(args![
            seq,
            fold(&e.value),
            e.kind.as_deref().map(fold),
            e.primary
        ]);
    }
    let rows = vec!["(?, ?, ?, ?)"; emails.len()].join(", ");
    tx.execute(
        &format!(
            "INSERT INTO user_emails (user_seq, value_key, type_key, is_primary) VALUES {rows}"
        ),
        &args,
    )
    .await?;
    Ok(())
}

pub(super) async fn insert(tx: &mut dyn Exec, new: &NewUser) -> Result<User> {
    new.validate()?;
    let id = Uuid::new_v4();
    let now = roster_core::now_micros();
    let row = tx
        .fetch_one(
            "INSERT INTO users (id, user_name, user_name_key, external_id, display_name, given_name, \
             family_name, emails, active, locale, password_hash, created_at, modified_at, version, \
             employee_number, cost_center, organization, division, department, manager_id, \
             nick_name, title, user_type, profile_url, preferred_language, timezone, \
             name_formatted, middle_name, honorific_prefix, honorific_suffix, multi, active_assigned, totp) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             RETURNING seq",
            &args![
                id.to_string(),
                new.user_name.as_str(),
                new.user_name.key(),
                new.external_id.clone(),
                new.display_name.clone(),
                new.given_name.clone(),
                new.family_name.clone(),
                emails_json(&new.emails)?,
                new.active,
                new.locale.clone(),
                new.password_hash.clone(),
                now,
                now,
                new.enterprise.employee_number.clone(),
                new.enterprise.cost_center.clone(),
                new.enterprise.organization.clone(),
                new.enterprise.division.clone(),
                new.enterprise.department.clone(),
                new.enterprise.manager.clone(),
                new.profile[0].clone(),
                new.profile[1].clone(),
                new.profile[2].clone(),
                new.profile[3].clone(),
                new.profile[4].clone(),
                new.profile[5].clone(),
                new.profile[6].clone(),
                new.profile[7].clone(),
                new.profile[8].clone(),
                new.profile[9].clone(),
                multi_json(&new.multi)?,
                new.active_assigned,
                new.totp,
            ],
        )
        .await?;
    let seq = row.int("seq")?;
    write_email_index(tx, seq, &new.emails, false).await?;
    if !new.roles.is_empty() {
        super::roles::hold(tx, seq, &new.roles).await?;
    }
    Ok(new.stored(seq, id, now))
}

/// Writes back an edited user, bumping its version; the `version` guard turns a
/// concurrent writer that slipped in into a version mismatch instead of a lost update.
/// `loaded_emails` are the emails as loaded: when the edit left them alone, their index
/// rows stay (rewriting them would churn the trigram index on every update).
/// Deactivating a user (`was_active` and no longer) revokes their API tokens for good:
/// reactivation never brings them back.
pub(super) async fn write(
    tx: &mut dyn Exec,
    user: &mut User,
    loaded_emails: &[Email],
    was_active: bool,
) -> Result<Vec<(Permission, bool)>> {
    let now = roster_core::now_micros().max(user.meta.last_modified);
    let done = tx
        .execute(
            "UPDATE users SET user_name = ?, user_name_key = ?, external_id = ?, display_name = ?, \
             given_name = ?, family_name = ?, emails = ?, active = ?, locale = ?, modified_at = ?, \
             employee_number = ?, cost_center = ?, organization = ?, division = ?, department = ?, \
             manager_id = ?, nick_name = ?, title = ?, user_type = ?, profile_url = ?, \
             preferred_language = ?, timezone = ?, name_formatted = ?, middle_name = ?, \
             honorific_prefix = ?, honorific_suffix = ?, multi = ?, active_assigned = ?, totp = ?, \
             version = version + 1 WHERE seq = ? AND version = ?",
            &args![
                user.user_name.as_str(),
                user.user_name.key(),
                user.external_id.clone(),
                user.display_name.clone(),
                user.given_name.clone(),
                user.family_name.clone(),
                emails_json(&user.emails)?,
                user.active,
                user.locale.clone(),
                now,
                user.enterprise.employee_number.clone(),
                user.enterprise.cost_center.clone(),
                user.enterprise.organization.clone(),
                user.enterprise.division.clone(),
                user.enterprise.department.clone(),
                user.enterprise.manager.clone(),
                user.profile[0].clone(),
                user.profile[1].clone(),
                user.profile[2].clone(),
                user.profile[3].clone(),
                user.profile[4].clone(),
                user.profile[5].clone(),
                user.profile[6].clone(),
                user.profile[7].clone(),
                user.profile[8].clone(),
                user.profile[9].clone(),
                multi_json(&user.multi)?,
                user.active_assigned,
                user.totp,
                user.seq,
                user.meta.version,
            ],
        )
        .await?;
    if done != 1 {
        return Err(StoreError::VersionMismatch);
    }
    if user.emails != loaded_emails {
        write_email_index(tx, user.seq, &user.emails, true).await?;
    }
    if was_active && !user.active {
        super::tokens::revoke(tx, user.seq, None).await?;
        tx.execute("DELETE FROM sessions WHERE user_seq = ?", &args![user.seq])
            .await?;
        // OAuth too, for good: refresh tokens end, and access tokens issued before now stay
        // void after a reactivation.
        tx.execute(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE user_seq = ? AND revoked_at IS NULL",
            &args![now, user.seq],
        )
        .await?;
        tx.execute(
            "UPDATE users SET tokens_after = ? WHERE seq = ?",
            &args![now, user.seq],
        )
        .await?;
    }
    if let Some(ids) = user.set_roles.take() {
        super::roles::hold(tx, user.seq, &ids).await?;
    }
    let mut permission_changes = Vec::new();
    if let Some(changes) = user.set_permissions.take() {
        let direct: Vec<String> = tx
            .fetch_all(
                "SELECT permission FROM user_permissions WHERE user_seq = ? AND via_role = FALSE",
                &args![user.seq],
            )
            .await?
            .iter()
            .map(|r| r.text("permission"))
            .collect::<Result<_>>()?;
        for (p, granted) in changes {
            if direct.iter().any(|d| d == p.as_str()) != granted {
                permission_changes.push((p, granted));
            }
            if granted {
                grant(tx, user.seq, p).await?;
            } else {
                tx.execute(
                    "DELETE FROM user_permissions WHERE user_seq = ? AND permission = ?",
                    &args![user.seq, p.as_str()],
                )
                .await?;
            }
        }
        // An admin role the user still holds keeps giving what it gives.
        super::roles::sync_admin(tx, "(?)", &args![user.seq]).await?;
    }
    if let Some(hash) = user.set_password_hash.take() {
        tx.execute(
            "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE seq = ?",
            &args![hash, now, user.seq],
        )
        .await?;
    }
    user.meta.version += 1;
    user.meta.last_modified = now;
    Ok(permission_changes)
}

pub(super) async fn grant(tx: &mut dyn Exec, seq: i64, p: Permission) -> Result<()> {
    tx.execute(
        // Granted directly: no longer only through a role (see migration 0015).
        "INSERT INTO user_permissions (user_seq, permission, via_role) VALUES (?, ?, FALSE) \
         ON CONFLICT (user_seq, permission) DO UPDATE SET via_role = FALSE",
        &args![seq, p.as_str()],
    )
    .await?;
    Ok(())
}

/// Loads one user by a single-column condition; `lock` is the dialect's row-lock suffix
/// when the user is about to be rewritten.
pub(super) async fn load(
    ex: &mut dyn Exec,
    cond: &str,
    arg: Arg,
    lock: &str,
) -> Result<Option<User>> {
    load_with(ex, cond, arg, "", lock).await
}

/// As [`load`], with the extra columns `cols` (a `groups_column`, say).
async fn load_with(
    ex: &mut dyn Exec,
    cond: &str,
    arg: Arg,
    cols: &str,
    lock: &str,
) -> Result<Option<User>> {
    let row = ex
        .fetch_optional(
            &format!("SELECT {COLUMNS}{cols} FROM users u WHERE {cond}{lock}"),
            &[arg],
        )
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub(super) async fn require_by_name(ex: &mut dyn Exec, name: &UserName) -> Result<User> {
    load(ex, "u.user_name_key = ?", name.key().into(), "")
        .await?
        .ok_or_else(|| StoreError::NotFound(Entity::UserNamed(name.as_str().to_owned())))
}

/// The user named `name` if `by` may manage their credentials (others read as absent).
pub(super) async fn require_credentials_of(
    ex: &mut dyn Exec,
    name: &UserName,
    by: &roster_core::policy::TokenAdmin,
) -> Result<User> {
    let u = require_by_name(ex, name).await?;
    if !by.may_manage(u.id) {
        return Err(StoreError::NotFound(Entity::UserNamed(
            name.as_str().to_owned(),
        )));
    }
    Ok(u)
}

pub(super) async fn list(ex: &mut dyn Exec, dialect: Dialect, q: &UserQuery) -> Result<Page<User>> {
    let filter = q.filter.as_ref().map(|c| {
        let mut s = Sql::new();
        compile_seeing(
            c,
            &mut s,
            dialect,
            q.groups.as_ref().map(GroupReader::scope),
        );
        s
    });
    let mut extra: Vec<String> = Vec::new();
    if q.only_active {
        extra.push("u.active = TRUE".to_owned());
    }
    // A group's members are walked from the group's end of the memberships key, in user
    // order: the first page of a 100,000-member group reads 50 entries, not the whole set.
    let (from, key) = match q.member_of {
        // A seq from the database, written into the SQL so the filter's placeholders stay
        // where the seek queries below expect them.
        Some(g) => {
            extra.push(format!("mo.group_seq = {g}"));
            (
                "memberships mo JOIN users u ON u.seq = mo.user_seq",
                "mo.user_seq",
            )
        }
        None => ("users u", "u.seq"),
    };
    if let Some(p) = q.with_permission {
        // A name from Roster's own table of permissions, not from the request.
        extra.push(format!(
            "u.seq IN (SELECT up.user_seq FROM user_permissions up WHERE up.permission = '{}')",
            p.as_str()
        ));
    }
    // Counting a group's members alone needs no user row (a membership's user exists).
    let members_only = q.member_of.is_some() && filter.is_none() && extra.len() == 1;
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let wc = where_clause(filter.as_ref(), &extra);
    let args = filter.map(|f| f.args).unwrap_or_default();
    let buckets = dialect.seq_buckets && wc.is_empty();
    // PostgreSQL runs a per-row subquery as a subplan per row (100 of them for a page: 0.6 of
    // the page statement's 1.5 ms); one statement over the page's users after it costs 0.1 ms.
    // SQLite's in-process subqueries cost less than a statement.
    let groups_after = match (&q.groups, q.with_groups) {
        (Some(g), true) if dialect.postgres => Some(g.scope()),
        _ => None,
    };
    let mut cols = match (&q.groups, q.with_groups) {
        (Some(g), true) if groups_after.is_none() => {
            format!("{COLUMNS}{}", groups_column(dialect, g.scope()))
        }
        (None, true) => format!("{COLUMNS}, '[]' AS groups_json"),
        // Without groups, or with them read after the page (`groups_after`).
        _ => COLUMNS.to_owned(),
    };
    if q.with_roles {
        cols.push_str(&roles_column(dialect));
    }
    let mut items = Vec::new();
    // The total as the page's own statement read it (unfiltered lists, a non-empty page).
    let mut listed_total = None;
    if q.page.count > 0 {
        // Oldest first walks seqs up from the page's first; newest first walks them down.
        let (dir, cmp, bucket_start) = if q.newest_first {
            ("DESC", "<=", "s.seq < ((SELECT bucket FROM b) + 1) << 10")
        } else {
            ("", ">=", "s.seq >= (SELECT bucket FROM b) << 10")
        };
        let rows = if buckets && q.sort.is_none() && q.page.offset() > 0 {
            // The first row of the page: the block whose running count (in the list's
            // direction) reaches startIndex, then the rest of the offset within that block
            // (at most 1,024 entries). Past the end no block qualifies and the page is empty.
            ex.fetch_all(
                &format!(
                    "WITH r AS (SELECT bucket, n, \
                     CAST(SUM(n) OVER (ORDER BY bucket {dir}) AS BIGINT) AS upto \
                     FROM user_seq_buckets), \
                     b AS (SELECT bucket, ? - 1 - (upto - n) AS skip FROM r WHERE upto >= ? \
                     ORDER BY bucket {dir} LIMIT 1) \
                     SELECT {cols}, (SELECT CAST(COALESCE(MAX(upto), 0) AS BIGINT) FROM r) \
                     AS list_total FROM users u WHERE u.seq {cmp} \
                     (SELECT s.seq FROM users s WHERE {bucket_start} \
                     ORDER BY s.seq {dir} LIMIT 1 OFFSET COALESCE((SELECT skip FROM b), 0)) \
                     ORDER BY u.seq {dir} LIMIT ?"
                ),
                &args![q.page.start_index, q.page.start_index, q.page.count],
            )
            .await?
        } else if q.sort.is_none() && q.page.offset() > 0 {
            // Seek instead of OFFSET over whole rows: find the first seq of the page by
            // walking a narrow index, then read just the page.
            // Placeholders in text order: the outer filter, the inner filter, OFFSET, LIMIT.
            let mut a = args.clone();
            a.extend(args.iter().cloned());
            a.push(Arg::Int(q.page.offset()));
            a.push(Arg::Inline(q.page.count));
            let and = if wc.is_empty() { " WHERE" } else { " AND" };
            ex.fetch_all(
                &format!(
                    "SELECT {cols} FROM {from}{wc}{and} {key} {cmp} \
                     (SELECT {key} FROM {from}{wc} ORDER BY {key} {dir} LIMIT 1 OFFSET ?) \
                     ORDER BY {key} {dir} LIMIT ?"
                ),
                &a,
            )
            .await?
        } else {
            let mut a = args.clone();
            a.extend(super::page_window(&q.page));
            // The whole list's total from the same statement, when it is the sum of the
            // per-block counts: one statement per page instead of two.
            let total_col = if buckets { TOTAL_OF_BUCKETS } else { "" };
            ex.fetch_all(
                &format!(
                    "SELECT {cols}{total_col} FROM {from}{wc}{} LIMIT ? OFFSET ?",
                    order_by_keys(q.sort.iter().chain(&q.then_sort), key, q.newest_first)
                ),
                &a,
            )
            .await?
        };
        items = rows.iter().map(from_row).collect::<Result<_>>()?;
        if let Some(scope) = groups_after {
            add_groups(ex, scope, &mut items).await?;
        }
        if buckets {
            listed_total = rows.first().map(|r| r.int("list_total")).transpose()?;
        }
    }
    let total = match listed_total {
        Some(t) => t,
        None => {
            let count = if buckets {
                "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n FROM user_seq_buckets".to_owned()
            } else {
                let from = if members_only { "memberships mo" } else { from };
                format!("SELECT COUNT(*) AS n FROM {from}{wc}")
            };
            total(ex, &q.page, items.len(), &count, &args).await?
        }
    };
    Ok(Page {
        items,
        total,
        start_index: q.page.start_index,
    })
}

/// Sets each of `users`' groups (those `scope` sees) from one statement over all of them.
async fn add_groups(ex: &mut dyn Exec, scope: GroupScope, users: &mut [User]) -> Result<()> {
    let seqs: Vec<i64> = users.iter().map(|u| u.seq).collect();
    // The page is in its own order, the groups come by user (then group, as the subquery
    // orders them).
    let mut by_user: std::collections::HashMap<i64, Vec<UserGroup>> =
        std::collections::HashMap::new();
    for g in super::groups::groups_of(ex, scope, &seqs).await? {
        by_user.entry(g.user_seq).or_default().push(g);
    }
    for u in users {
        u.groups = Some(by_user.remove(&u.seq).unwrap_or_default());
    }
    Ok(())
}

/// The unfiltered list's total as a column of the page's own statement: the sum of the
/// per-block counts (what the count statement reads otherwise).
const TOTAL_OF_BUCKETS: &str =
    ", (SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM user_seq_buckets) AS list_total";

/// The users `q` finds that `by` may see.
pub(super) async fn list_for(
    ex: &mut dyn Exec,
    dialect: Dialect,
    by: &UserReader,
    q: &UserQuery,
) -> Result<Page<User>> {
    match by.only() {
        None => list(ex, dialect, q).await,
        Some(own) => {
            // The reader's one user, within whatever the caller asked for.
            let mine = Cond::Cmp(Field::UserId, CompareOp::Eq, Scalar::Text(own.to_string()));
            let filter = match &q.filter {
                Some(f) => Cond::And(Box::new(mine), Box::new(f.clone())),
                None => mine,
            };
            let q = UserQuery {
                filter: Some(filter),
                ..q.clone()
            };
            list(ex, dialect, &q).await
        }
    }
}

/// Users by seq, in no particular order; with their groups (those `groups` sees) when
/// given.
pub(super) async fn load_by_seqs(
    ex: &mut dyn Exec,
    dialect: Dialect,
    seqs: &[i64],
    groups: Option<GroupScope>,
) -> Result<Vec<User>> {
    let cols = groups.map_or(String::new(), |g| groups_column(dialect, g));
    let select = format!("SELECT {COLUMNS}{cols} FROM users u");
    super::search::by_seqs(ex, &select, "u", seqs, from_row).await
}

impl<B: Backend> SqlStore<B> {
    /// Loads (with the extra columns `cols`), edits and writes back one user.
    async fn update(
        &self,
        by: &UserEditor,
        ctx: &WriteCtx,
        id: Uuid,
        if_match: Option<i64>,
        edit: UserEdit<'_>,
        cols: &str,
    ) -> Result<User> {
        if !by.may_edit(id) {
            return Err(StoreError::NotFound(Entity::User(id)));
        }
        let mut w = self.write(by.actor(), ctx).await?;
        let lock = self.db.dialect().lock_for_update;
        let mut user = load_with(w.ex(), "u.id = ?", id.to_string().into(), cols, lock)
            .await?
            .ok_or(StoreError::NotFound(Entity::User(id)))?;
        if if_match.is_some_and(|v| v != user.meta.version) {
            return Err(StoreError::VersionMismatch);
        }
        let before = user.clone();
        edit(&mut user)?;
        by.check(&before, &user)?;
        w.changed(&user.changed_since(&before));
        let password_changed = user.set_password_hash.is_some();
        let granted = write(w.ex(), &mut user, &before.emails, before.active).await?;
        if password_changed {
            w.audit(Action::PasswordChange, &id.to_string()).await?;
        }
        // Each permission that changed has its own row, as a grant through the CLI does:
        // the trail filtered by permission.grant shows them whichever dialect made them.
        for (p, on) in granted {
            let action = if on {
                Action::PermissionGrant
            } else {
                Action::PermissionRevoke
            };
            w.audit(action, &format!("{id} {p}")).await?;
        }
        w.commit(Action::UserUpdate, &id.to_string()).await?;
        Ok(user)
    }

    /// User `id` with these extra columns (`groups_json`, `roles_json`) in one statement.
    async fn get_with(&self, id: Uuid, cols: &str) -> Result<Option<User>> {
        let mut r = self.db.reader().await?;
        load_with(&mut *r, "u.id = ?", id.to_string().into(), cols, "").await
    }
}

/// The groups a user being deleted leaves change with it: their versions move on, so an
/// ETag or If-Match from before no longer matches a member list without the user. Their rows
/// are locked in seq order before the user's, as every group change locks its group before
/// it touches a user (no lock cycle).
async fn leave_groups(tx: &mut dyn Exec, dialect: Dialect, id: Uuid) -> Result<()> {
    const GROUPS: &str =
        "SELECT m.group_seq FROM memberships m JOIN users u ON u.seq = m.user_seq WHERE u.id = ?";
    if dialect.postgres {
        tx.execute(
            &format!(
                "SELECT COUNT(*) AS n FROM (SELECT g.seq FROM groups g WHERE g.seq IN ({GROUPS}) ORDER BY g.seq{}) locked",
                dialect.lock_for_update
            ),
            &args![id.to_string()],
        )
        .await?;
    }
    let now = roster_core::now_micros();
    tx.execute(
        &format!(
            "UPDATE groups SET version = version + 1, \
             modified_at = CASE WHEN modified_at > ? THEN modified_at ELSE ? END WHERE seq IN ({GROUPS})"
        ),
        &args![now, now, id.to_string()],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl<B: Backend> UserStore for SqlStore<B> {
    async fn create_user(&self, by: &UserAdmin, ctx: &WriteCtx, new: &NewUser) -> Result<User> {
        let mut w = self.write(by.actor(), ctx).await?;
        let user = insert(w.ex(), new).await?;
        w.commit(Action::UserCreate, &user.id.to_string()).await?;
        Ok(user)
    }

    async fn upsert_user(
        &self,
        by: &UserAdmin,
        ctx: &WriteCtx,
        new: &NewUser,
    ) -> Result<(User, bool)> {
        let mut w = self.write(by.actor(), ctx).await?;
        let lock = self.db.dialect().lock_for_update;
        let existing = load(
            w.ex(),
            "u.user_name_key = ?",
            new.user_name.key().into(),
            lock,
        )
        .await?;
        let (user, created) = match existing {
            Some(mut user) => {
                let (loaded_emails, was_active) = (user.emails.clone(), user.active);
                new.apply_to(&mut user);
                user.validate()?;
                write(w.ex(), &mut user, &loaded_emails, was_active).await?;
                (user, false)
            }
            None => (insert(w.ex(), new).await?, true),
        };
        let action = if created {
            Action::UserCreate
        } else {
            Action::UserUpdate
        };
        w.commit(action, &user.id.to_string()).await?;
        Ok((user, created))
    }

    async fn get_user(&self, by: &UserReader, id: Uuid) -> Result<Option<User>> {
        if !by.may_read(id) {
            return Ok(None);
        }
        let mut r = self.db.reader().await?;
        load(&mut *r, "u.id = ?", id.to_string().into(), "").await
    }

    async fn get_user_with_groups(
        &self,
        by: &UserReader,
        groups: &GroupReader,
        id: Uuid,
    ) -> Result<Option<User>> {
        if !by.may_read(id) {
            return Ok(None);
        }
        let cols = groups_column(self.db.dialect(), groups.scope());
        self.get_with(id, &cols).await
    }

    async fn get_user_with_roles(&self, by: &UserReader, id: Uuid) -> Result<Option<User>> {
        if !by.may_read(id) {
            return Ok(None);
        }
        let cols = roles_column(self.db.dialect());
        self.get_with(id, &cols).await
    }

    async fn find_user_by_name(&self, by: &UserReader, name: &UserName) -> Result<Option<User>> {
        let mut r = self.db.reader().await?;
        let found = load(&mut *r, "u.user_name_key = ?", name.key().into(), "").await?;
        Ok(found.filter(|u| by.may_read(u.id)))
    }

    async fn list_users(&self, by: &UserReader, q: &UserQuery) -> Result<Page<User>> {
        let mut r = self.db.reader().await?;
        list_for(&mut *r, self.db.dialect(), by, q).await
    }

    async fn update_user(
        &self,
        by: &UserEditor,
        ctx: &WriteCtx,
        id: Uuid,
        if_match: Option<i64>,
        edit: UserEdit<'_>,
    ) -> Result<User> {
        self.update(by, ctx, id, if_match, edit, "").await
    }

    async fn update_user_with_groups(
        &self,
        by: &UserEditor,
        groups: &GroupReader,
        ctx: &WriteCtx,
        id: Uuid,
        if_match: Option<i64>,
        edit: UserEdit<'_>,
    ) -> Result<User> {
        let cols = groups_column(self.db.dialect(), groups.scope());
        self.update(by, ctx, id, if_match, edit, &cols).await
    }

    async fn delete_user(
        &self,
        by: &UserAdmin,
        ctx: &WriteCtx,
        id: Uuid,
        if_match: Option<i64>,
    ) -> Result<()> {
        let mut w = self.write(by.actor(), ctx).await?;
        leave_groups(w.ex(), self.db.dialect(), id).await?;
        check_version(w.ex(), "users", Entity::User(id), id, if_match).await?;
        w.ex()
            .execute("DELETE FROM users WHERE id = ?", &args![id.to_string()])
            .await?;
        w.commit(Action::UserDelete, &id.to_string()).await
    }

    async fn set_permission(
        &self,
        by: &UserAdmin,
        ctx: &WriteCtx,
        user: &UserName,
        permission: Permission,
        granted: bool,
    ) -> Result<()> {
        let mut w = self.write(by.actor(), ctx).await?;
        let u = require_by_name(w.ex(), user).await?;
        if granted {
            grant(w.ex(), u.seq, permission).await?;
        } else {
            w.ex()
                .execute(
                    "DELETE FROM user_permissions WHERE user_seq = ? AND permission = ?",
                    &args![u.seq, permission.as_str()],
                )
                .await?;
            // An admin role the user still holds keeps giving what it gives.
            super::roles::sync_admin(w.ex(), "(?)", &args![u.seq]).await?;
        }
        let action = if granted {
            Action::PermissionGrant
        } else {
            Action::PermissionRevoke
        };
        w.commit(action, &format!("{} {permission}", u.id)).await
    }
}
