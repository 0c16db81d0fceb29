//! The views a query names, defined on the in-memory DuckDB connection of [`super::run_sql`]: on a DuckDB store
//! as SQL over the store's tables (attached read-only, queried in place), on every other store as tables filled
//! from the engine's own reads (the columns the query mentions only, the query's pushable equality predicates
//! pushed into the backend's scan: [`super::pushdown`]), and for increments from `resolve_update`.

use std::collections::HashMap;

use duckdb::Connection;
use polars::prelude::DataFrame;

use crate::engine::error::{EngineError, Result};
use crate::engine::frame::df_to_record_batch;
use crate::engine::keys::FeatureKey;
use crate::engine::query::read::{read_feature, ReadOptions};
use crate::engine::schema as cols;
use crate::engine::sql::parse::ViewKind;
use crate::engine::sql::pushdown::{describe, exact_for, id_filter, Lit, Pred};
use crate::engine::store::common::{quote_ident, sql_str};
use crate::engine::store::filter::IdFilter;
use crate::engine::store::{Columns, MetadataStore};
use crate::engine::versioning::lookup::scoped::{ScanMemo, ScopedStore};
use crate::engine::versioning::resolve::ResolveOptions;
use crate::engine::workspace::Workspace;

/// The catalog name the DuckDB store file is attached under (read-only).
pub const STORE_CATALOG: &str = "store";

/// Defines view `kind."key"` on `conn`. `columns` is the projection for scans of non-DuckDB stores;
/// `attached` says whether the store's DuckDB file is attached as [`STORE_CATALOG`]; `preds` are the query's
/// pushable predicates on this view ([`super::pushdown::predicates`]). Returns the filter pushed into the
/// backend's scan ([`super::pushdown::describe`]), if any: the read view takes predicates on the feature's id columns only
/// (every row of a sample shares them, so Metaxy's latest-row pick is unchanged), `raw.` any, increments and
/// DuckDB stores none (DuckDB's own optimizer pushes filters into the attached tables).
///
/// Errors: [`EngineError::Sql`] when the store has no table for the feature; read, increment and DuckDB errors.
/// A failing or inexact pushed scan is never an error: the view is then read without the filter.
pub(crate) fn define(
    conn: &Connection,
    ws: &Workspace,
    key: &FeatureKey,
    kind: ViewKind,
    columns: &Columns,
    attached: bool,
    preds: &[Pred],
) -> Result<Option<String>> {
    let name = format!("{}.{}", kind.schema(), quote_ident(&key.to_string()));
    if kind == ViewKind::Increment {
        define_increment(conn, ws, key, &name)?;
        return Ok(None);
    }
    if !ws.store.has_feature(key)? {
        return Err(EngineError::Sql(format!(
            "feature {key} has no table in store {:?}",
            ws.store.name()
        )));
    }
    if attached {
        let table = format!(
            "{STORE_CATALOG}.main.{}",
            quote_ident(&ws.store.table_name(key))
        );
        let body = match kind {
            ViewKind::Raw => format!("SELECT * FROM {table}"),
            _ => read_view_sql(conn, ws, key, &table)?,
        };
        conn.execute_batch(&format!("CREATE VIEW {name} AS {body}"))?;
        return Ok(None);
    }
    let preds = view_predicates(ws, key, kind, preds)?;
    let pushed = id_filter(&preds, MAX_PUSHED_ROWS).and_then(|f| {
        let df = read_view(ws, key, kind, columns, Some(&f)).ok().flatten()?;
        exact(&df, &f, &preds).then(|| (df, describe(&f, &preds)))
    });
    let (df, pushed) = match pushed {
        Some((df, f)) => (Some(df), Some(f)),
        None => (read_view(ws, key, kind, columns, None)?, None),
    };
    let df = df.ok_or_else(|| {
        EngineError::Sql(format!(
            "feature {key} has no table in store {:?}",
            ws.store.name()
        ))
    })?;
    load_frame(conn, kind.schema(), &key.to_string(), &df)?;
    Ok(pushed)
}

/// The most value tuples a pushed filter holds (the cross product of several columns' values is capped).
const MAX_PUSHED_ROWS: usize = 4096;

/// The predicates that may go below view `kind` of `key`: all for `raw.`, those on an id column (matched
/// case-insensitively, renamed to the spec's spelling) for the read view.
fn view_predicates(
    ws: &Workspace,
    key: &FeatureKey,
    kind: ViewKind,
    preds: &[Pred],
) -> Result<Vec<Pred>> {
    Ok(match kind {
        ViewKind::Raw => preds.to_vec(),
        ViewKind::Read => {
            let ids = &ws.graph.require(key)?.spec.id_columns;
            preds
                .iter()
                .filter_map(|p| {
                    let id = ids.iter().find(|c| c.eq_ignore_ascii_case(&p.column))?;
                    Some(Pred {
                        column: id.clone(),
                        values: p.values.clone(),
                    })
                })
                .collect()
        }
        ViewKind::Increment => vec![],
    })
}

/// The rows of view `kind` of `key` from the engine's reads (`ids` pushed into the backend's scan when given):
/// every stored row for `raw.`, Metaxy's default read otherwise. `Ok(None)` when the store has no table.
fn read_view(
    ws: &Workspace,
    key: &FeatureKey,
    kind: ViewKind,
    columns: &Columns,
    ids: Option<&IdFilter>,
) -> Result<Option<DataFrame>> {
    let scopes: HashMap<FeatureKey, IdFilter> =
        ids.map(|f| (key.clone(), f.clone())).into_iter().collect();
    let memo = ScanMemo::default();
    let scoped = ScopedStore::new(ws.store.as_ref(), &scopes, &memo);
    // unscoped reads go to the store itself, keeping its own latest-row scan (PostgreSQL, ClickHouse)
    let store: &dyn MetadataStore = match ids {
        Some(_) => &scoped,
        None => ws.store.as_ref(),
    };
    match kind {
        ViewKind::Raw => store.scan(key, None, columns),
        _ => read_feature(
            store,
            &ws.graph,
            key,
            &ReadOptions {
                columns: columns.clone(),
                unsorted: true,
                ..Default::default()
            },
        ),
    }
}

/// Whether the scan of `df` filtered by `f` kept exactly the rows the query's predicates keep: every filter
/// column came back under that name with a type whose text comparison equals DuckDB's
/// ([`super::pushdown::exact_for`]).
fn exact(df: &DataFrame, f: &IdFilter, preds: &[Pred]) -> bool {
    f.columns.iter().all(|c| {
        let lits: Vec<&Lit> = preds
            .iter()
            .filter(|p| p.column == *c)
            .flat_map(|p| &p.values)
            .collect();
        df.column(c).is_ok_and(|col| exact_for(col.dtype(), &lits))
    })
}

/// Metaxy's default read of `table` (an attached DuckDB table) as SQL: rows of the current feature version, the
/// latest per id (the greatest `coalesce(metaxy_deleted_at, metaxy_updated_at)`, null oldest, then the row stored
/// last: [`crate::engine::query::read::keep_latest`]), soft-deleted ones dropped; ordered by the id columns.
fn read_view_sql(
    conn: &Connection,
    ws: &Workspace,
    key: &FeatureKey,
    table: &str,
) -> Result<String> {
    let def = ws.graph.require(key)?;
    let present: Vec<String> = {
        let mut stmt = conn.prepare(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main' AND table_name = ? \
             ORDER BY column_index",
        )?;
        let rows = stmt.query_map([STORE_CATALOG, &ws.store.table_name(key)], |r| r.get(0))?;
        rows.collect::<std::result::Result<_, _>>()?
    };
    let has = |c: &str| present.iter().any(|p| p == c);
    let ids: Vec<String> = def.spec.id_columns.iter().map(|c| quote_ident(c)).collect();
    if let Some(missing) = def.spec.id_columns.iter().find(|c| !has(c)) {
        return Err(EngineError::CorruptTable {
            table: ws.store.table_name(key),
            message: format!("missing id column {missing}"),
        });
    }
    let version_where = match ws.graph.feature_version(key) {
        Some(v) if has(cols::FEATURE_VERSION) => {
            format!(
                " WHERE {} = {}",
                quote_ident(cols::FEATURE_VERSION),
                sql_str(v)
            )
        }
        _ => String::new(),
    };
    let ts: Vec<String> = [cols::DELETED_AT, cols::UPDATED_AT]
        .into_iter()
        .filter(|c| has(c))
        .map(quote_ident)
        .collect();
    let order_key = if ts.is_empty() {
        "rowid::HUGEINT".to_string()
    } else {
        format!(
            "(coalesce(epoch_us(coalesce({}))::HUGEINT, -4611686018427387904) * 18446744073709551616 + rowid)",
            ts.join(", ")
        )
    };
    let live = if has(cols::DELETED_AT) {
        format!(" WHERE __t.{} IS NULL", quote_ident(cols::DELETED_AT))
    } else {
        String::new()
    };
    // the id columns come from the grouped side, so a query's predicate on them is pushed below the GROUP BY
    // into the scan (a one-sample query reads one sample's rows, not the whole table); the latest rows are
    // then fetched by rowid, every column in table order
    let select: Vec<String> = present
        .iter()
        .map(|c| {
            if def.spec.id_columns.contains(c) {
                format!("__p.{}", quote_ident(c))
            } else {
                format!("__t.{}", quote_ident(c))
            }
        })
        .collect();
    let p_ids: Vec<String> = ids.iter().map(|c| format!("__p.{c}")).collect();
    Ok(format!(
        "SELECT {select} FROM {table} __t JOIN (SELECT {ids}, arg_max(rowid, {order_key}) AS __rid FROM {table}{version_where} \
         GROUP BY {ids}) __p ON __t.rowid = __p.__rid{live} ORDER BY {p_ids}",
        select = select.join(", "),
        ids = ids.join(", "),
        p_ids = p_ids.join(", "),
    ))
}

/// `increment."key"`: `resolve_update` with default options, as one table of `kind` (`new` / `stale` /
/// `orphaned`) plus the union of the three frames' columns (by name; a column a frame lacks is null).
fn define_increment(conn: &Connection, ws: &Workspace, key: &FeatureKey, name: &str) -> Result<()> {
    let inc = ws.increment(key, &ResolveOptions::default())?;
    let mut parts = vec![];
    for (kind, df) in [
        ("new", &inc.new),
        ("stale", &inc.stale),
        ("orphaned", &inc.orphaned),
    ] {
        if df.width() == 0 {
            continue;
        }
        let tmp = format!("__mx_{kind}");
        load_frame(conn, "main", &tmp, df)?;
        parts.push(format!(
            "SELECT '{kind}' AS kind, * FROM main.{}",
            quote_ident(&tmp)
        ));
    }
    let body = if parts.is_empty() {
        "SELECT NULL::VARCHAR AS kind WHERE false".to_string()
    } else {
        parts.join(" UNION ALL BY NAME ")
    };
    conn.execute_batch(&format!("CREATE TABLE {name} AS {body}"))?;
    for kind in ["new", "stale", "orphaned"] {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS main.\"__mx_{kind}\""))?;
    }
    Ok(())
}

/// Creates table `schema."name"` with `df`'s columns and appends its rows (Arrow record batches through DuckDB's
/// appender).
pub(crate) fn load_frame(
    conn: &Connection,
    schema: &str,
    name: &str,
    df: &DataFrame,
) -> Result<()> {
    let batch = df_to_record_batch(df)?;
    let columns = batch
        .schema()
        .fields()
        .iter()
        .map(|f| {
            Ok(format!(
                "{} {}",
                quote_ident(f.name()),
                duckdb_type(f.data_type())?
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let columns = if columns.is_empty() {
        "__mx_none BOOLEAN".to_string()
    } else {
        columns.join(", ")
    };
    conn.execute_batch(&format!(
        "CREATE TABLE {}.{} ({columns})",
        quote_ident(schema),
        quote_ident(name)
    ))?;
    if batch.num_columns() > 0 && batch.num_rows() > 0 {
        let mut app = conn.appender_to_db(name, schema)?;
        app.append_record_batch(batch)?;
        app.flush()?;
    }
    Ok(())
}

/// The DuckDB column type an Arrow type is appended as.
///
/// Errors: [`EngineError::Sql`] for Arrow types the appender does not take.
fn duckdb_type(t: &arrow::datatypes::DataType) -> Result<String> {
    use arrow::datatypes::{DataType as A, TimeUnit};
    Ok(match t {
        A::Null => "VARCHAR".into(),
        A::Boolean => "BOOLEAN".into(),
        A::Int8 => "TINYINT".into(),
        A::Int16 => "SMALLINT".into(),
        A::Int32 => "INTEGER".into(),
        A::Int64 => "BIGINT".into(),
        A::UInt8 => "UTINYINT".into(),
        A::UInt16 => "USMALLINT".into(),
        A::UInt32 => "UINTEGER".into(),
        A::UInt64 => "UBIGINT".into(),
        A::Float16 | A::Float32 => "FLOAT".into(),
        A::Float64 => "DOUBLE".into(),
        A::Utf8 | A::LargeUtf8 | A::Utf8View => "VARCHAR".into(),
        A::Binary | A::LargeBinary | A::BinaryView | A::FixedSizeBinary(_) => "BLOB".into(),
        A::Date32 | A::Date64 => "DATE".into(),
        A::Time32(_) | A::Time64(_) => "TIME".into(),
        A::Duration(_) | A::Interval(_) => "INTERVAL".into(),
        A::Timestamp(_, Some(_)) => "TIMESTAMPTZ".into(),
        A::Timestamp(TimeUnit::Second, None) => "TIMESTAMP_S".into(),
        A::Timestamp(TimeUnit::Millisecond, None) => "TIMESTAMP_MS".into(),
        A::Timestamp(TimeUnit::Microsecond, None) => "TIMESTAMP".into(),
        A::Timestamp(TimeUnit::Nanosecond, None) => "TIMESTAMP_NS".into(),
        A::Decimal32(p, s) | A::Decimal64(p, s) | A::Decimal128(p, s) => {
            format!("DECIMAL({p}, {s})")
        }
        A::List(f) | A::LargeList(f) => format!("{}[]", duckdb_type(f.data_type())?),
        A::FixedSizeList(f, n) => format!("{}[{n}]", duckdb_type(f.data_type())?),
        A::Struct(fields) => format!(
            "STRUCT({})",
            fields
                .iter()
                .map(|f| Ok(format!(
                    "{} {}",
                    quote_ident(f.name()),
                    duckdb_type(f.data_type())?
                )))
                .collect::<Result<Vec<_>>>()?
                .join(", ")
        ),
        A::Map(entries, _) => match entries.data_type() {
            A::Struct(kv) if kv.len() == 2 => format!(
                "MAP({}, {})",
                duckdb_type(kv[0].data_type())?,
                duckdb_type(kv[1].data_type())?
            ),
            other => return Err(EngineError::Sql(format!("unsupported map entries {other}"))),
        },
        other => return Err(EngineError::Sql(format!("unsupported column type {other}"))),
    })
}
