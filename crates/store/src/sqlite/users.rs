use roster_core::user::fold;
use roster_core::{Email, Meta, NewUser, Page, Permission, User, UserName};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite};
use uuid::Uuid;

use super::{bind_all, bind_scalar, where_clause, Tx};
use crate::sql::{compile, Placeholder, Sql};
use crate::{Result, StoreError, UserQuery};

pub(super) const COLUMNS: &str = "u.seq, u.id, u.user_name, u.external_id, u.display_name, \
    u.given_name, u.family_name, u.emails, u.active, u.locale, u.created_at, u.modified_at, u.version";

pub(super) fn from_row(r: &SqliteRow) -> Result<User> {
    let id: String = r.try_get("id")?;
    let name: String = r.try_get("user_name")?;
    let emails: String = r.try_get("emails")?;
    Ok(User {
        seq: r.try_get("seq")?,
        id: Uuid::parse_str(&id).map_err(|e| StoreError::Db(sqlx::Error::Decode(e.into())))?,
        user_name: UserName::parse(&name)?,
        external_id: r.try_get("external_id")?,
        display_name: r.try_get("display_name")?,
        given_name: r.try_get("given_name")?,
        family_name: r.try_get("family_name")?,
        emails: serde_json::from_str::<Vec<Email>>(&emails)
            .map_err(|e| StoreError::Db(sqlx::Error::Decode(e.into())))?,
        active: r.try_get("active")?,
        locale: r.try_get("locale")?,
        meta: Meta {
            created: r.try_get("created_at")?,
            last_modified: r.try_get("modified_at")?,
            version: r.try_get("version")?,
        },
    })
}

fn emails_json(emails: &[Email]) -> Result<String> {
    serde_json::to_string(emails).map_err(|e| StoreError::Db(sqlx::Error::Encode(e.into())))
}

async fn write_email_index(tx: &mut Tx, seq: i64, emails: &[Email]) -> Result<()> {
    sqlx::query("DELETE FROM user_emails WHERE user_seq = ?")
        .bind(seq)
        .execute(&mut **tx)
        .await?;
    for e in emails {
        sqlx::query("INSERT INTO user_emails (user_seq, value_key, type_key, is_primary) VALUES (?, ?, ?, ?)")
            .bind(seq)
            .bind(fold(&e.value))
            .bind(e.kind.as_deref().map(fold))
            .bind(e.primary)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

pub(super) async fn insert(tx: &mut Tx, new: &NewUser) -> Result<User> {
    new.validate()?;
    let id = Uuid::new_v4();
    let now = roster_core::now_micros();
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO users (id, user_name, user_name_key, external_id, display_name, given_name, \
         family_name, emails, active, locale, password_hash, created_at, modified_at, version) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING seq",
    )
    .bind(id.to_string())
    .bind(new.user_name.as_str())
    .bind(new.user_name.key())
    .bind(new.external_id.as_deref())
    .bind(new.display_name.as_deref())
    .bind(new.given_name.as_deref())
    .bind(new.family_name.as_deref())
    .bind(emails_json(&new.emails)?)
    .bind(new.active)
    .bind(new.locale.as_deref())
    .bind(new.password_hash.as_deref())
    .bind(now)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    write_email_index(tx, seq, &new.emails).await?;
    Ok(User {
        seq,
        id,
        user_name: new.user_name.clone(),
        external_id: new.external_id.clone(),
        display_name: new.display_name.clone(),
        given_name: new.given_name.clone(),
        family_name: new.family_name.clone(),
        emails: new.emails.clone(),
        active: new.active,
        locale: new.locale.clone(),
        meta: Meta {
            created: now,
            last_modified: now,
            version: 1,
        },
    })
}

/// Writes back an edited user, bumping its version; the `version` guard makes a
/// concurrent writer that slipped in lose with a version mismatch instead of a lost update.
pub(super) async fn write(tx: &mut Tx, user: &mut User) -> Result<()> {
    let now = roster_core::now_micros().max(user.meta.last_modified);
    let done = sqlx::query(
        "UPDATE users SET user_name = ?, user_name_key = ?, external_id = ?, display_name = ?, \
         given_name = ?, family_name = ?, emails = ?, active = ?, locale = ?, modified_at = ?, \
         version = version + 1 WHERE seq = ? AND version = ?",
    )
    .bind(user.user_name.as_str())
    .bind(user.user_name.key())
    .bind(user.external_id.as_deref())
    .bind(user.display_name.as_deref())
    .bind(user.given_name.as_deref())
    .bind(user.family_name.as_deref())
    .bind(emails_json(&user.emails)?)
    .bind(user.active)
    .bind(user.locale.as_deref())
    .bind(now)
    .bind(user.seq)
    .bind(user.meta.version)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::VersionMismatch);
    }
    write_email_index(tx, user.seq, &user.emails).await?;
    user.meta.version += 1;
    user.meta.last_modified = now;
    Ok(())
}

pub(super) async fn grant(tx: &mut Tx, seq: i64, p: Permission) -> Result<()> {
    sqlx::query(
        "INSERT INTO user_permissions (user_seq, permission) VALUES (?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(seq)
    .bind(p.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn load_by_id<'e, E>(ex: E, id: Uuid) -> Result<Option<User>>
where
    E: sqlx::Executor<'e, Database = Sqlite>,
{
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users u WHERE u.id = ?"))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub(super) async fn load_by_key<'e, E>(ex: E, key: &str) -> Result<Option<User>>
where
    E: sqlx::Executor<'e, Database = Sqlite>,
{
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM users u WHERE u.user_name_key = ?"
    ))
    .bind(key)
    .fetch_optional(ex)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub(super) async fn list(pool: &sqlx::SqlitePool, q: &UserQuery) -> Result<Page<User>> {
    let filter = q.filter.as_ref().map(|c| {
        let mut s = Sql::new(Placeholder::Question);
        compile(c, &mut s);
        s
    });
    let extra: &[&str] = if q.only_active {
        &["u.active = 1"]
    } else {
        &[]
    };
    let wc = where_clause(filter.as_ref(), extra);
    let args = filter.as_ref().map(|f| f.args.as_slice()).unwrap_or(&[]);
    let count_sql = format!("SELECT COUNT(*) FROM users u{wc}");
    let total: i64 = bind_scalar(sqlx::query_scalar(&count_sql), args)
        .fetch_one(pool)
        .await?;
    let mut items = Vec::new();
    if q.page.count > 0 && q.page.offset() < total {
        let sql = format!("SELECT {COLUMNS} FROM users u{wc} ORDER BY u.seq LIMIT ? OFFSET ?");
        let rows = bind_all(sqlx::query(&sql), args)
            .bind(q.page.count)
            .bind(q.page.offset())
            .fetch_all(pool)
            .await?;
        items = rows.iter().map(from_row).collect::<Result<_>>()?;
    }
    Ok(Page {
        items,
        total,
        start_index: q.page.start_index,
    })
}
