//! Counts-only increments of a local Delta store computed by DuckDB over the tables' parquet files, in bounded
//! memory ([`crate::engine::store::duckql::counts::count_in_duckdb`], the query DuckDB stores run over their own
//! tables): DuckDB reads only the columns the increment needs, dedups, hashes with the engine's row hash, joins
//! and compares, spilling to disk beyond its memory limit, and four numbers come back. Pages of an increment
//! (the TUI's tabs) are computed the same way ([`crate::engine::store::duckql::page::page_in_duckdb`]): only a
//! window of rows comes back.
//!
//! Each feature's relation is the active data files of the table's current version, in the order of the Delta log
//! as the engine's own reader takes them ([`super::DeltaStore::decode_table`]), read with DuckDB's `read_parquet`
//! (`union_by_name`, so files written before a column was added read it as NULL, as delta-rs does). The storage
//! order that breaks ties of the latest-row pick is the file's position in that list, then the row's position in
//! the file: the engine's `keep_latest` keeps the same row.
//!
//! Used for large increments only (the engine's own decode is faster on small ones; [`DUCKDB_ROWS`], or
//! [`DENSE_ROWS`] for plans over dense integer ids, counted by [`count_dense`]); declined
//! (the general engine runs) for remote stores, partitioned tables, column mapping, deletion vectors, a data file
//! missing on disk, and an upstream without data files.

use std::collections::HashMap;

use crate::engine::error::Result;
use crate::engine::keys::FeatureKey;
use crate::engine::rt::block_on;
use crate::engine::store::common::sql_str;
use crate::engine::store::count_plan::{
    CountPlan, IncrementCounts, IncrementKind, IncrementPage, PageWindow,
};
use crate::engine::store::duckql::counts::{count_in_duckdb, RelationMeta, SqlRelation};
use crate::engine::store::duckql::dense::count_dense;
use crate::engine::store::duckql::page::{page_in_duckdb, pages_threshold};
use crate::engine::store::duckql::udf::RawDuckDb;

use super::DeltaStore;

/// Below this many stored rows in the plan's tables (all versions, from the Delta log's per-file record counts),
/// the general engine counts (faster there: the engine decodes Metaxy's single-row-group files in parallel by
/// column); at or above it, DuckDB does, in bounded memory. `METAXY_TUI_DELTA_DUCKDB_ROWS` overrides it (`0`:
/// always DuckDB).
pub const DUCKDB_ROWS: u64 = 5_000_000;

/// From this many stored rows (below [`DUCKDB_ROWS`]), a plan over dense integer ids is counted by
/// [`count_dense`] over the parquet files (DuckDB scans, the pick and comparison run in our code: faster than the
/// engine's decode there); smaller tables stay with the engine, whose start is cheaper.
pub const DENSE_ROWS: u64 = 200_000;

/// A feature's table as the counts query reads it.
enum Relation {
    /// No table: `None` to the query.
    Missing,
    /// The table's data files (or an empty table) and the rows they hold.
    Files(SqlRelation, u64),
    /// The table is not something DuckDB can read exactly as the engine does (the reason, for timings).
    Declined(String),
}

impl DeltaStore {
    /// [`crate::engine::store::MetadataStore::increment_counts`] for Delta: `plan` counted by DuckDB over the
    /// tables' parquet files, when the store is local, every table qualifies and the tables hold at least
    /// [`DUCKDB_ROWS`] rows; else `Ok(None)` (the general engine counts). Errors: the Delta log of a table cannot
    /// be read.
    pub(super) fn counts_in_duckdb(&self, plan: &CountPlan) -> Result<Option<IncrementCounts>> {
        let threshold = pages_threshold(None, "METAXY_TUI_DELTA_DUCKDB_ROWS", DUCKDB_ROWS);
        let Some((db, rels, rows)) =
            self.duckdb_relations(plan, DENSE_ROWS.min(threshold), "delta-duckdb-counts")?
        else {
            return Ok(None);
        };
        let relation = |k: &FeatureKey| Ok(rels.get(k).cloned());
        if rows >= threshold {
            count_in_duckdb(&db, plan, &relation)
        } else {
            count_dense(&db, plan, &relation)
        }
    }

    /// [`crate::engine::store::MetadataStore::increment_page`] for Delta: one page of `kind` computed by DuckDB
    /// over the tables' parquet files ([`page_in_duckdb`]), under the same conditions as
    /// [`DeltaStore::counts_in_duckdb`] (`window.min_rows` replacing [`DUCKDB_ROWS`] when given); else `Ok(None)`
    /// (the general engine). Errors: the Delta log of a table cannot be read.
    pub(super) fn page_in_duckdb(
        &self,
        plan: &CountPlan,
        kind: IncrementKind,
        window: PageWindow,
    ) -> Result<Option<IncrementPage>> {
        let threshold =
            pages_threshold(window.min_rows, "METAXY_TUI_DELTA_DUCKDB_ROWS", DUCKDB_ROWS);
        let Some((db, rels, _)) = self.duckdb_relations(plan, threshold, "delta-duckdb-page")?
        else {
            return Ok(None);
        };
        page_in_duckdb(
            &db,
            plan,
            &|k| Ok(rels.get(k).cloned()),
            kind,
            window.offset,
            window.limit,
        )
    }

    /// An in-memory DuckDB, the relation of every table of `plan` that exists and the rows they hold, when the
    /// store is local, every table qualifies and the tables hold at least `threshold` rows; else `Ok(None)`, a
    /// declined table said in the timings under `label`.
    #[allow(clippy::type_complexity)]
    fn duckdb_relations(
        &self,
        plan: &CountPlan,
        threshold: u64,
        label: &str,
    ) -> Result<Option<(RawDuckDb, HashMap<FeatureKey, SqlRelation>, u64)>> {
        if crate::engine::store::common::is_remote(&self.root_uri) {
            return Ok(None);
        }
        let mut keys: Vec<&FeatureKey> = plan.deps.iter().map(|d| &d.feature).collect();
        keys.push(&plan.target);
        // DuckDB starts (about 12 ms) while each table's log is read on a thread of its own, unless it has been
        // starting since `keep_reads_open`; a table's thread waits for it only to read its files' footers
        let warm = std::sync::Mutex::new(self.warm_duckdb.lock().ok().and_then(|mut w| w.take()));
        let db: std::sync::OnceLock<Option<RawDuckDb>> = std::sync::OnceLock::new();
        let open = || {
            db.get_or_init(|| {
                let warm = warm.lock().ok().and_then(|mut w| w.take());
                match warm.map(|h| h.join()) {
                    Some(Ok(Some(db))) => Some(db),
                    _ => RawDuckDb::open_in_memory().ok(),
                }
            })
            .as_ref()
        };
        let found: Vec<Result<Relation>> = std::thread::scope(|sc| {
            sc.spawn(open);
            let handles: Vec<_> = keys
                .iter()
                .map(|&key| {
                    sc.spawn(move || {
                        let _t = crate::engine::timing::span(|| format!("delta-relation {key}"));
                        block_on(self.parquet_relation(&open, key))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let mut rels: HashMap<FeatureKey, SqlRelation> = HashMap::new();
        let mut rows = 0u64;
        for (key, relation) in keys.into_iter().zip(found) {
            match relation? {
                Relation::Missing => {}
                Relation::Files(rel, n) => {
                    rows += n;
                    rels.insert(key.clone(), rel);
                }
                Relation::Declined(why) => {
                    let _t =
                        crate::engine::timing::span(|| format!("{label} declined {key}: {why}"));
                    return Ok(None);
                }
            }
        }
        let Some(db) = db.into_inner().flatten() else {
            return Ok(None);
        };
        if rows < threshold {
            return Ok(None);
        }
        Ok(Some((db, rels, rows)))
    }

    /// `key`'s table as a DuckDB relation over its active data files (see the module docs), their columns read by
    /// the DuckDB `db` gives (declined when it gives none).
    async fn parquet_relation<'d>(
        &self,
        db: &(dyn Fn() -> Option<&'d RawDuckDb> + Sync),
        key: &FeatureKey,
    ) -> Result<Relation> {
        if !self.table_exists(key).await? {
            return Ok(Relation::Missing);
        }
        let table = self.open_table(key).await?;
        let state = table
            .snapshot()
            .map_err(|e| self.corrupt(key, e.to_string()))?;
        let meta = state.snapshot().metadata();
        if !meta.partition_columns().is_empty() {
            return Ok(Relation::Declined("partitioned table".into()));
        }
        if meta
            .configuration()
            .get("delta.columnMapping.mode")
            .is_some_and(|m| m != "none")
        {
            return Ok(Relation::Declined("column mapping".into()));
        }
        let Ok(dir) = self
            .table_url(key)
            .and_then(|u| u.to_file_path().map_err(|_| self.err("not a local table")))
        else {
            return Ok(Relation::Declined("not a local table".into()));
        };
        let mut files: Vec<String> = Vec::new();
        let mut rows = 0u64;
        for f in state.log_data() {
            if f.deletion_vector_descriptor().is_some() {
                return Ok(Relation::Declined("deletion vectors".into()));
            }
            let p = f.path();
            if p.contains("://") {
                return Ok(Relation::Declined("a data file outside the table".into()));
            }
            let full = dir.join(p.as_ref());
            if !full.is_file() {
                return Ok(Relation::Declined(format!("{} is missing", full.display())));
            }
            rows += f.num_records().unwrap_or(0) as u64;
            files.push(sql_str(&full.to_string_lossy()));
        }
        let name = self.feature_uri(key);
        if files.is_empty() {
            return Ok(Relation::Files(
                SqlRelation {
                    source: String::new(),
                    columns: vec![],
                    name,
                    order: String::new(),
                    empty: true,
                    meta: RelationMeta::None,
                },
                0,
            ));
        }
        let list = format!("[{}]", files.join(", "));
        let read = format!("read_parquet({list}, union_by_name = true)");
        let Some(db) = db() else {
            return Ok(Relation::Declined("DuckDB cannot start".into()));
        };
        // (name, type) of every column, as DuckDB reads the files: one text value, split here
        let described = db.query_first_row_text(&format!(
            "SELECT string_agg(column_name || chr(1) || column_type, chr(2)) FROM (DESCRIBE SELECT * FROM {read})"
        ));
        let Ok([Some(described)]) = described.as_deref() else {
            return Ok(Relation::Declined(
                "DuckDB cannot read the data files".into(),
            ));
        };
        let columns: Vec<(String, String)> = described
            .split('\u{2}')
            .filter_map(|c| c.split_once('\u{1}'))
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        Ok(Relation::Files(
            SqlRelation {
                source: format!(
                    "(SELECT *, (file_index::BIGINT << 40) + file_row_number AS __mx_order FROM {read})"
                ),
                columns,
                name,
                order: "__mx_order".into(),
                empty: false,
                meta: RelationMeta::Parquet(list),
            },
            rows,
        ))
    }
}
