//! The SQL pieces of the DuckDB store: the feature-table scan, the latest-row pick and literals.

use duckdb::Connection;
use polars::prelude::*;

use crate::engine::error::{EngineError, Result};
use crate::engine::frame::record_batches_to_df;
use crate::engine::store::api::Columns;
pub use crate::engine::store::common::{quote_ident, sql_literal, sql_str};
use crate::engine::store::duckdb::DuckDbStore;

/// The pieces of a DuckDB feature-table scan: projection and feature-version filter.
pub(crate) struct ScanSql {
    pub(crate) table_columns: Vec<(String, String)>,
    pub(crate) projection: String,
    pub(crate) where_sql: String,
    pub(crate) version: Option<String>,
}

impl ScanSql {
    pub(crate) fn new(
        conn: &Connection,
        table: &str,
        feature_version: Option<&str>,
        columns: &Columns,
    ) -> Result<Self> {
        let table_columns = DuckDbStore::table_columns(conn, table)?;
        let has_version_col = table_columns
            .iter()
            .any(|(c, _)| c == crate::engine::schema::FEATURE_VERSION);
        let projection = match columns.select(table_columns.iter().map(|(c, _)| c.as_str())) {
            None => "*".to_string(),
            Some(cs) if cs.is_empty() => "NULL AS __mx_none".to_string(),
            Some(cs) => cs
                .iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let version = feature_version
            .filter(|_| has_version_col)
            .map(str::to_string);
        let where_sql = if version.is_some() {
            " WHERE metaxy_feature_version = ?".to_string()
        } else {
            String::new()
        };
        Ok(ScanSql {
            table_columns,
            projection,
            where_sql,
            version,
        })
    }

    /// Runs `SELECT projection FROM table [WHERE version] {tail}` into a single-chunk frame.
    pub(crate) fn run(&self, conn: &Connection, table: &str, tail: &str) -> Result<DataFrame> {
        let sql = format!(
            "SELECT {} FROM {}{}{tail}",
            self.projection,
            quote_ident(table),
            self.where_sql
        );
        let t = crate::engine::timing::span(|| format!("duckdb-query {table}"));
        let mut stmt = conn.prepare(&sql).map_err(|e| EngineError::CorruptTable {
            table: table.to_string(),
            message: e.to_string(),
        })?;
        let arrow = match &self.version {
            Some(v) => stmt.query_arrow([v])?,
            None => stmt.query_arrow([])?,
        };
        let schema = arrow.get_schema();
        let batches: Vec<_> = arrow.collect();
        drop(t);
        let _t = crate::engine::timing::span(|| {
            format!("duckdb-to-polars {table} ({} batches)", batches.len())
        });
        let mut df = record_batches_to_df(&schema, &batches)?;
        // DuckDB hands out one batch per 2048-row vector: one chunk per column makes every later step faster
        df.rechunk_mut_par();
        Ok(if self.projection.starts_with("NULL") {
            df.drop("__mx_none")?
        } else {
            df
        })
    }
}

/// `rowid IN (...)`: the rowids of `source`'s latest row per id (`ids`: quoted id columns) among the rows
/// `where_sql` keeps (`""` or ` WHERE ...`); [`crate::engine::store::duckql::latest_order_sql`] with DuckDB's `rowid` as the storage order. Metaxy's `keep_latest`: the greatest of the timestamp columns `ts`
/// (coalesced in that order; soft-delete time first), null timestamps oldest, then the row stored last; picked by
/// a hash aggregate over the ids (no sort) on one HUGEINT key (timestamp in µs, null = -2^62, then rowid). DuckDB
/// alone, 2 threads, 1M samples in 2M rows: 233 ms, a `row_number()` window 398 ms. Shared by the latest-row scan
/// and the in-DuckDB counts ([`crate::engine::versioning::counts`]).
pub(crate) fn latest_rowid_sql(
    source: &str,
    where_sql: &str,
    ids: &[String],
    ts: &[&str],
) -> String {
    crate::engine::store::duckql::latest_order_sql(source, where_sql, ids, ts, "rowid")
}
