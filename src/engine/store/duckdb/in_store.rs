//! The DuckDB store's increments computed in DuckDB over its own tables: the counts
//! ([`crate::engine::store::duckql::counts`]) and the pages ([`crate::engine::store::duckql::page`]), on the read-only instance of a read's lease (where the row hash is registered for the
//! query), with each table's `rowid` as the storage order.

use duckdb::Connection;

use super::DuckDbStore;
use crate::engine::error::Result;
use crate::engine::keys::FeatureKey;
use crate::engine::store::api::MetadataStore;
use crate::engine::store::count_plan::{
    CountPlan, IncrementCounts, IncrementKind, IncrementPage, PageWindow,
};
use crate::engine::store::duckql::counts::{count_in_duckdb, SqlRelation};
use crate::engine::store::duckql::page::{page_in_duckdb, pages_threshold, PAGES_ROWS};
use crate::engine::store::duckql::udf::RawDuckDb;

impl DuckDbStore {
    /// Runs `query` with the read's instance, connection and the relation of each feature's table (`None`: no
    /// table). `Ok(None)` for in-memory databases and files not created yet.
    fn with_relations<T>(
        &self,
        query: impl FnOnce(
            &RawDuckDb,
            &Connection,
            &dyn Fn(&FeatureKey) -> Result<Option<SqlRelation>>,
        ) -> Result<Option<T>>,
    ) -> Result<Option<T>> {
        let Some(reader) = self.reader()? else {
            return Ok(None);
        };
        let Some(db) = reader.raw() else {
            return Ok(None);
        };
        let conn = reader.conn();
        let columns = Self::all_table_columns(conn)?;
        let relation = |key: &FeatureKey| -> Result<Option<SqlRelation>> {
            let table = self.table_name(key);
            Ok(columns
                .get(&table)
                .map(|cols| SqlRelation::table(&table, cols.clone())))
        };
        query(db, conn, &relation)
    }

    /// [`MetadataStore::increment_counts`] for DuckDB: the counts query of [`crate::engine::versioning::counts`]
    /// over the feature tables themselves. `Ok(None)` for in-memory databases and files not created yet.
    pub(super) fn counts_in_duckdb(&self, plan: &CountPlan) -> Result<Option<IncrementCounts>> {
        self.with_relations(|db, _, relation| count_in_duckdb(db, plan, relation))
    }

    /// [`MetadataStore::increment_page`] for DuckDB: [`page_in_duckdb`] over the feature tables, when they hold at
    /// least `window.min_rows` rows (default [`PAGES_ROWS`], `METAXY_TUI_DUCKDB_PAGES_ROWS`; DuckDB's estimate
    /// of each table's row count); else, and for in-memory databases and files not created yet, `Ok(None)`.
    pub(super) fn page_in_duckdb(
        &self,
        plan: &CountPlan,
        kind: IncrementKind,
        window: PageWindow,
    ) -> Result<Option<IncrementPage>> {
        let threshold =
            pages_threshold(window.min_rows, "METAXY_TUI_DUCKDB_PAGES_ROWS", PAGES_ROWS);
        self.with_relations(|db, conn, relation| {
            if threshold > 0 {
                let mut names: Vec<String> = plan
                    .deps
                    .iter()
                    .map(|d| super::sql::sql_str(&self.table_name(&d.feature)))
                    .collect();
                names.push(super::sql::sql_str(&self.table_name(&plan.target)));
                let rows: i64 = conn.query_row(
                    &format!(
                        "SELECT coalesce(sum(estimated_size), 0)::BIGINT FROM duckdb_tables() \
                         WHERE database_name = current_database() AND schema_name = current_schema() \
                         AND table_name IN ({})",
                        names.join(", ")
                    ),
                    [],
                    |r| r.get(0),
                )?;
                if (rows.max(0) as u64) < threshold {
                    return Ok(None);
                }
            }
            page_in_duckdb(db, plan, relation, kind, window.offset, window.limit)
        })
    }
}
