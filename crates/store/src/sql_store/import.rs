//! Loading an export ([`crate::transfer`]) into an empty database, in one transaction.

use roster_core::policy::Operator;
use std::collections::HashMap;

use serde_json::Value;

use super::{SqlStore, Write};
use crate::audit::Action;
use crate::db::{Arg, Backend, Exec};
use crate::transfer::{
    arg, col_type, insert_sql, ColType, Columns, Counts, ImportRow, APPEND_ONLY, ENGINE_ONLY,
    IMPORT_BATCH, TABLES,
};
use crate::{args, Result, StoreError, WriteCtx};

fn bad(msg: impl Into<String>) -> StoreError {
    StoreError::Config(msg.into())
}

/// Each table's primary-key columns (none: the whole row is its key).
async fn keys(ex: &mut dyn Exec, postgres: bool) -> Result<HashMap<String, Vec<String>>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    if postgres {
        for r in ex
            .fetch_all(
                "SELECT kcu.table_name, kcu.column_name FROM information_schema.table_constraints tc \
                 JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name \
                 AND kcu.table_schema = tc.table_schema \
                 WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema() \
                 ORDER BY kcu.table_name, kcu.ordinal_position",
                &[],
            )
            .await?
        {
            out.entry(r.text("table_name")?)
                .or_default()
                .push(r.text("column_name")?);
        }
    } else {
        for t in TABLES {
            for r in ex
                .fetch_all(
                    "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk",
                    &args![*t],
                )
                .await?
            {
                out.entry((*t).to_owned())
                    .or_default()
                    .push(r.text("name")?);
            }
        }
    }
    Ok(out)
}

/// A value as compared in a merge: integers and booleans as integers, text as text.
fn norm(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(i64::from(*b).to_string()),
        Value::String(s) => Some(format!("s:{s}")),
        other => Some(other.to_string()),
    }
}

fn norm_row(r: &crate::db::Row, name: &str, ty: ColType) -> Result<Option<String>> {
    Ok(match ty {
        ColType::Int | ColType::Bool => r.opt_int(name)?.map(|i| i.to_string()),
        ColType::Text => r.opt_text(name)?.map(|s| format!("s:{s}")),
    })
}

/// For a merge: whether the row is there already (identically); an error when a row with
/// its key is there with other values.
async fn already_there(
    ex: &mut dyn Exec,
    cols: &Columns,
    keys: &HashMap<String, Vec<String>>,
    postgres: bool,
    table: &str,
    row: &serde_json::Map<String, Value>,
) -> Result<bool> {
    let types = cols
        .get(table)
        .ok_or_else(|| bad(format!("table {table} does not exist here")))?;
    let all: Vec<String> = row.keys().cloned().collect();
    let log = APPEND_ONLY.iter().any(|(t, _)| *t == table);
    let key = keys
        .get(table)
        .filter(|k| !k.is_empty() && !log)
        .unwrap_or(&all);
    let same = if postgres {
        "IS NOT DISTINCT FROM"
    } else {
        "IS"
    };
    let mut sql = format!("SELECT * FROM {table} WHERE TRUE");
    let mut a = Vec::with_capacity(key.len());
    for k in key {
        let ty = *types
            .get(k)
            .ok_or_else(|| bad(format!("{table} has no column {k} here")))?;
        let v = row
            .get(k)
            .ok_or_else(|| bad(format!("a row of {table} has no {k}")))?;
        sql.push_str(&format!(" AND {k} {same} ?"));
        a.push(arg(v, ty, &format!("{table}.{k}"))?);
    }
    sql.push_str(" LIMIT 1");
    let Some(found) = ex.fetch_optional(&sql, &a).await? else {
        return Ok(false);
    };
    for (name, v) in row {
        let ty = *types
            .get(name)
            .ok_or_else(|| bad(format!("{table} has no column {name} here")))?;
        if norm_row(&found, name, ty)? != norm(v) {
            let k: Vec<String> = key
                .iter()
                .map(|k| format!("{k}={}", row[k.as_str()]))
                .collect();
            return Err(bad(format!(
                "merge: the row of {table} with {} is here with another {name}; nothing was imported",
                k.join(", ")
            )));
        }
    }
    Ok(true)
}

async fn columns(ex: &mut dyn Exec, postgres: bool) -> Result<Columns> {
    let mut out = Columns::new();
    if postgres {
        for r in ex
            .fetch_all(
                "SELECT table_name, column_name, data_type FROM information_schema.columns \
                 WHERE table_schema = current_schema()",
                &[],
            )
            .await?
        {
            out.entry(r.text("table_name")?)
                .or_default()
                .insert(r.text("column_name")?, col_type(&r.text("data_type")?));
        }
    } else {
        for t in TABLES {
            for r in ex
                .fetch_all("SELECT name, type FROM pragma_table_info(?)", &args![*t])
                .await?
            {
                out.entry((*t).to_owned())
                    .or_default()
                    .insert(r.text("name")?, col_type(&r.text("type")?));
            }
        }
    }
    Ok(out)
}

/// Inserts `rows` (all of `table`, with the columns `names`) in one statement.
async fn flush(
    ex: &mut dyn Exec,
    cols: &Columns,
    table: &str,
    names: &[String],
    rows: &mut Vec<serde_json::Map<String, Value>>,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let types = cols
        .get(table)
        .ok_or_else(|| bad(format!("table {table} does not exist here")))?;
    let mut a: Vec<Arg> = Vec::with_capacity(rows.len() * names.len());
    for row in rows.iter() {
        for n in names {
            let ty: ColType = *types
                .get(n)
                .ok_or_else(|| bad(format!("{table} has no column {n} here")))?;
            a.push(arg(&row[n.as_str()], ty, &format!("{table}.{n}"))?);
        }
    }
    ex.execute(&insert_sql(table, names, rows.len()), &a)
        .await?;
    rows.clear();
    Ok(())
}

impl<B: Backend> SqlStore<B> {
    pub(super) async fn import_rows(
        &self,
        by: &Operator,
        rows: &mut (dyn Iterator<Item = Result<ImportRow>> + Send),
        merge: bool,
    ) -> Result<Counts> {
        let postgres = self.db.dialect().postgres;
        let mut w: Write<'_> = self.write(by.actor(), &WriteCtx::default()).await?;
        let cols = columns(w.ex(), postgres).await?;
        let merge_keys = if merge {
            keys(w.ex(), postgres).await?
        } else {
            HashMap::new()
        };
        for t in TABLES.iter().filter(|_| !merge) {
            if w.ex()
                .fetch_optional(&format!("SELECT 1 AS x FROM {t} LIMIT 1"), &[])
                .await?
                .is_some()
            {
                return Err(bad(format!(
                    "{t} is not empty: an import needs an empty database (a fresh SQLite file or PostgreSQL schema that no server has started on)"
                )));
            }
        }
        let mut counts = Counts::default();
        let mut table = String::new();
        let mut names: Vec<String> = Vec::new();
        let mut pending = Vec::new();
        let mut order = TABLES.iter();
        for row in rows {
            let ImportRow {
                table: t,
                mut columns,
            } = row?;
            for (et, ec) in ENGINE_ONLY {
                if *et == t && !cols.get(&t).is_some_and(|c| c.contains_key(*ec)) {
                    columns.remove(*ec);
                }
            }
            let row_keys: Vec<String> = columns.keys().cloned().collect();
            if t != table || row_keys != names || pending.len() >= IMPORT_BATCH {
                flush(w.ex(), &cols, &table, &names, &mut pending).await?;
                if t != table {
                    // Tables arrive in TABLES order, parents first.
                    if !order.any(|x| *x == t) {
                        return Err(bad(format!(
                            "rows of {t:?} arrive out of order or name no Roster table"
                        )));
                    }
                    table = t;
                }
                names = row_keys;
            }
            if merge {
                // The rows queued so far may be what this one's lookup must see.
                flush(w.ex(), &cols, &table, &names, &mut pending).await?;
                if let Some((_, number)) = APPEND_ONLY.iter().find(|(t, _)| *t == table) {
                    // A log row is known by its content; a new one gets the target's number.
                    columns.remove(*number);
                    names.retain(|n| n != number);
                }
                if already_there(w.ex(), &cols, &merge_keys, postgres, &table, &columns).await? {
                    counts.1 += 1;
                    continue;
                }
            }
            pending.push(columns);
            counts.add(&table);
        }
        flush(w.ex(), &cols, &table, &names, &mut pending).await?;
        if postgres {
            // Identity columns continue after the loaded ids.
            let ids = w
                .ex()
                .fetch_all(
                    "SELECT table_name, column_name FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND is_identity = 'YES'",
                    &[],
                )
                .await?;
            for r in ids {
                let (t, c) = (r.text("table_name")?, r.text("column_name")?);
                if TABLES.contains(&t.as_str()) {
                    w.ex()
                        .fetch_all(
                            &format!(
                                "SELECT setval(pg_get_serial_sequence('{t}', '{c}'), MAX({c})) AS v \
                                 FROM {t} HAVING MAX({c}) IS NOT NULL"
                            ),
                            &[],
                        )
                        .await?;
                }
            }
        }
        w.commit(
            Action::Import,
            &format!(
                "{} rows{}",
                counts.total(),
                if merge { " (merge)" } else { "" }
            ),
        )
        .await?;
        Ok(counts)
    }
}
