//! Loading an export ([`crate::transfer`]) into an empty database, in one transaction.

use roster_core::policy::Operator;
use serde_json::Value;

use super::{SqlStore, Write};
use crate::audit::Action;
use crate::db::{Arg, Backend, Exec};
use crate::transfer::{
    arg, col_type, insert_sql, ColType, Columns, Counts, ImportRow, ENGINE_ONLY, IMPORT_BATCH,
    TABLES,
};
use crate::{args, Result, StoreError, WriteCtx};

fn bad(msg: impl Into<String>) -> StoreError {
    StoreError::Config(msg.into())
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
    ) -> Result<Counts> {
        let postgres = self.db.dialect().postgres;
        let mut w: Write<'_> = self.write(by.actor(), &WriteCtx::default()).await?;
        let cols = columns(w.ex(), postgres).await?;
        for t in TABLES {
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
            let keys: Vec<String> = columns.keys().cloned().collect();
            if t != table || keys != names || pending.len() >= IMPORT_BATCH {
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
                names = keys;
            }
            pending.push(columns);
            counts.bump(&table);
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
        w.commit(Action::Import, &format!("{} rows", counts.total()))
            .await?;
        Ok(counts)
    }
}
