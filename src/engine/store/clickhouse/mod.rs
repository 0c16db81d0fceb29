//! The ClickHouse metadata store (Metaxy 0.1.11's `metaxy.ext.clickhouse.ClickHouseMetadataStore`, alias
//! `metaxy.ext.metadata_stores.clickhouse.ClickHouseMetadataStore`; `../shared/metaxy/BACKENDS.md`).
//!
//! Layout as Metaxy creates it: one `MergeTree ORDER BY tuple()` table per feature named `table_prefix + <key parts
//! joined by "__">` in the connection's database; every column `Nullable(...)` except the struct columns, which are
//! named `Tuple(audio Nullable(String), ...)` (or `Map(String, String)` when the user pre-created the table that way,
//! or `JSON`); timestamps `DateTime64(6, 'UTC')`; the system table `metaxy_system__feature_versions` all strings with
//! `recorded_at` / `deleted_at` `DateTime64(6)` without zone.
//!
//! Everything goes through ClickHouse's HTTP interface ([`conn`]): reads are one `SELECT <needed columns> ... FORMAT
//! ArrowStream` each, decoded by arrow-rs; the feature-version filter, the latest-row dedup and keyset pages run in
//! ClickHouse, and so do the increment counts of `metadata status` ([`counts`]) and the pages of the TUI's
//! New / Stale / Orphaned tabs ([`page`]). Writes are one `INSERT ... FORMAT ArrowStream` per feature ([`write`]); hard deletes are ClickHouse
//! lightweight `DELETE`s, as Metaxy's. Nothing is written unless [`MetadataStore::append`] /
//! [`MetadataStore::delete_rows`] is called.

pub mod conn;
pub mod counts;
pub mod page;
pub mod sql;
pub mod write;

use std::path::Path;

use polars::prelude::*;

use self::conn::{ChError, Conn, ConnSpec, UNKNOWN_TABLE};
use self::sql::{quote_ident, ChColumn, ReadAs};
use crate::engine::config::{HashAlgorithm, StoreConfig, StoreKind};
use crate::engine::error::{EngineError, Result};
use crate::engine::keys::FeatureKey;
use crate::engine::rt::block_on;
use crate::engine::store::api::{Columns, KeyRange, LatestScan, MetadataStore};

/// The class path Metaxy reports for this store (`resolved_from.type`: the defining module).
pub const CLASS_PATH: &str = "metaxy.ext.clickhouse.metadata_store.ClickHouseMetadataStore";

/// The columns Metaxy always reads as structs (`metaxy_provenance_by_field`, `metaxy_data_version_by_field`).
const STRUCT_COLUMNS: [&str; 2] = ["metaxy_provenance_by_field", "metaxy_data_version_by_field"];

/// The hash algorithms Metaxy's ClickHouse store computes in SQL (`_create_hash_functions`), in its order.
const HASHES: [HashAlgorithm; 4] = [
    HashAlgorithm::Md5,
    HashAlgorithm::Xxh3_64,
    HashAlgorithm::Xxhash32,
    HashAlgorithm::Xxhash64,
];

/// A ClickHouse metadata store: an HTTP client for the configured server and database.
pub struct ClickHouseStore {
    name: String,
    conn: Conn,
    table_prefix: String,
    hash_algorithm: HashAlgorithm,
    /// `auto_cast_struct_for_map` (default true): user struct columns are written into `Map` columns as maps.
    auto_cast: bool,
    /// The top-level `enable_map_datatype`: tables this program creates store `*_by_field` as `Map(String, String)`.
    map_datatype: bool,
}

impl ClickHouseStore {
    /// Connects to the store of `cfg` and checks that the server answers and the database exists.
    ///
    /// Errors: [`EngineError::StoreOpen`] for a config without `connection_string` / `connection_params`, a server
    /// that cannot be reached or refuses the login, an unknown database, and hash algorithms Metaxy's ClickHouse
    /// store does not compute (`wyhash`, `sha256`, `farmhash`).
    pub fn open(cfg: &StoreConfig, _cwd: &Path) -> Result<Self> {
        let spec = ConnSpec::from_config(cfg)?;
        let err = |m: String| EngineError::StoreOpen {
            store: cfg.name.clone(),
            location: spec.location(),
            message: m,
        };
        if !HASHES.contains(&cfg.hash_algorithm) {
            let supported: Vec<&str> = HASHES.iter().map(|h| h.as_str()).collect();
            return Err(err(format!(
                "Hash algorithm '{}' not supported. Supported algorithms: {}",
                cfg.hash_algorithm.as_str(),
                supported.join(", ")
            )));
        }
        let conn = Conn::new(spec.clone()).map_err(|e| err(e.message))?;
        block_on(conn.request("SELECT 1", None, &[])).map_err(|e| err(e.message))?;
        let get_bool = |k: &str| cfg.config.get(k).and_then(|v| v.as_bool());
        Ok(Self {
            name: cfg.name.clone(),
            conn,
            table_prefix: cfg
                .config
                .get("table_prefix")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string(),
            hash_algorithm: cfg.hash_algorithm,
            auto_cast: get_bool("auto_cast_struct_for_map").unwrap_or(true),
            map_datatype: cfg.map_datatype,
        })
    }

    fn read_err(&self, table: &str, e: &ChError) -> EngineError {
        EngineError::CorruptTable {
            table: table.to_string(),
            message: format!(
                "ClickHouse ({}): {}",
                self.conn.spec().location(),
                e.message
            ),
        }
    }

    /// Runs a statement and returns the body (`table` names the table in errors).
    fn run(&self, table: &str, sql: &str) -> Result<bytes::Bytes> {
        block_on(self.conn.request(sql, None, &[])).map_err(|e| self.read_err(table, &e))
    }

    /// The rows of a `FORMAT JSONCompact` query (`data` of the answer).
    fn json_rows(&self, table: &str, sql: &str) -> Result<Vec<Vec<serde_json::Value>>> {
        let body = self.run(table, &format!("{sql} FORMAT JSONCompact"))?;
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| EngineError::CorruptTable {
                table: table.to_string(),
                message: format!("ClickHouse answered something that is not JSON: {e}"),
            })?;
        Ok(v.get("data")
            .and_then(|d| d.as_array())
            .map(|rows| rows.iter().filter_map(|r| r.as_array().cloned()).collect())
            .unwrap_or_default())
    }

    /// The columns of `table` (table order); `None` when the database has no such table.
    /// The table of `key` and its columns, for a write that needs the table to exist.
    ///
    /// Errors: [`EngineError::FeatureNotFound`] when the store has no table for `key` (Metaxy's
    /// `FeatureNotFoundError`); ClickHouse errors as read errors.
    fn feature_columns(&self, key: &FeatureKey) -> Result<(String, Vec<ChColumn>)> {
        let table = self.table_name(key);
        match self.columns(&table)? {
            Some(cols) => Ok((table, cols)),
            None => Err(EngineError::FeatureNotFound {
                feature: key.to_string(),
                store: self.name.clone(),
                table,
            }),
        }
    }

    fn columns(&self, table: &str) -> Result<Option<Vec<ChColumn>>> {
        let rows = self.json_rows(
            table,
            &format!(
                "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {} ORDER BY position",
                sql::ch_str(table)
            ),
        )?;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            rows.iter()
                .map(|r| ChColumn {
                    name: r.first().and_then(|v| v.as_str()).unwrap_or("").to_string(),
                    ty: r.get(1).and_then(|v| v.as_str()).unwrap_or("").to_string(),
                })
                .collect(),
        ))
    }

    /// `SELECT <columns> FROM <table><tail>` as a frame (table `table`, stored columns `cols`), with `extra`
    /// select expressions appended (their names in `extra_names`).
    fn select(
        &self,
        table: &str,
        cols: &[ChColumn],
        columns: &Columns,
        tail: &str,
        extra: &[&str],
    ) -> Result<DataFrame> {
        let proj = sql::projection(cols, columns);
        let qt = quote_ident(table);
        if proj.is_empty() && extra.is_empty() {
            // nothing selected: still the right number of rows
            let rows = self.json_rows(table, &format!("SELECT count() FROM {qt}{tail}"))?;
            let n = rows
                .first()
                .and_then(|r| r.first())
                .and_then(|v| {
                    v.as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                })
                .unwrap_or(0);
            return Ok(DataFrame::new(n as usize, vec![])?);
        }
        let exprs: Vec<String> = proj
            .iter()
            .map(|c| c.select_expr())
            .chain(extra.iter().map(|e| e.to_string()))
            .collect();
        let query = format!(
            "SELECT {} FROM {qt}{tail} FORMAT ArrowStream",
            exprs.join(", ")
        );
        let body = {
            let _t = crate::engine::timing::span(|| format!("clickhouse-select {table}"));
            self.run(table, &query)?
        };
        let df = decode_arrow_stream(&body).map_err(|m| EngineError::CorruptTable {
            table: table.to_string(),
            message: m,
        })?;
        self.fix_types(df, &proj)
    }

    /// Types Arrow cannot carry as Metaxy reads them: `DateTime64` without zone back to naive timestamps, JSON
    /// text of the `*_by_field` columns decoded to structs (Metaxy's read of `JSON` columns is a cast to string;
    /// user JSON columns stay strings).
    fn fix_types(&self, mut df: DataFrame, cols: &[&ChColumn]) -> Result<DataFrame> {
        for c in cols {
            let Ok(s) = df.column(&c.name) else { continue };
            match c.read_as() {
                ReadAs::NaiveTimestamp => {
                    if let DataType::Datetime(tu, Some(_)) = s.dtype() {
                        let tu = *tu;
                        let naive = s
                            .as_materialized_series()
                            .to_physical_repr()
                            .into_owned()
                            .into_datetime(tu, None);
                        df.with_column(naive.with_name(c.name.as_str().into()).into_column())?;
                    }
                }
                ReadAs::JsonText if STRUCT_COLUMNS.contains(&c.name.as_str()) => {
                    let s = s.as_materialized_series();
                    if let Some(decoded) = crate::engine::store::common::decode_json_objects(s) {
                        df.with_column(decoded.into_column())?;
                    }
                }
                _ => {}
            }
        }
        Ok(df)
    }

    /// The storage-order `ORDER BY` tail plus the feature-version predicate of a plain scan.
    fn scan_tail(cols: &[ChColumn], feature_version: Option<&str>) -> String {
        let preds: Vec<String> = sql::version_pred(cols, feature_version)
            .into_iter()
            .collect();
        format!(
            "{} ORDER BY {}",
            sql::where_clause(&preds),
            sql::storage_order("ASC").join(", ")
        )
    }
}

/// Decodes a whole `FORMAT ArrowStream` answer into a frame.
///
/// Errors: the message of arrow-rs' reader (not an Arrow stream, e.g. an exception ClickHouse appended mid-stream).
pub fn decode_arrow_stream(body: &[u8]) -> std::result::Result<DataFrame, String> {
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(body), None)
        .map_err(|e| format!("not an Arrow stream: {e}{}", exception_tail(body)))?;
    let schema = reader.schema();
    let mut batches = vec![];
    for b in reader {
        batches.push(b.map_err(|e| format!("broken Arrow stream: {e}{}", exception_tail(body)))?);
    }
    crate::engine::frame::record_batches_to_df(&schema, &batches).map_err(|e| e.to_string())
}

/// `: <ClickHouse exception>` when the body ends with one (a query that failed after the answer began).
fn exception_tail(body: &[u8]) -> String {
    let tail = &body[body.len().saturating_sub(2000)..];
    let text = String::from_utf8_lossy(tail);
    match text.rfind("Code: ") {
        Some(i) => format!(": {}", text[i..].lines().next().unwrap_or("").trim()),
        None => String::new(),
    }
}

impl MetadataStore for ClickHouseStore {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> StoreKind {
        StoreKind::ClickHouse
    }
    fn display(&self) -> String {
        self.conn.spec().display()
    }
    fn class_path(&self) -> &'static str {
        CLASS_PATH
    }
    fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash_algorithm
    }
    fn location(&self) -> String {
        self.conn.spec().location()
    }
    fn table_name(&self, key: &FeatureKey) -> String {
        format!("{}{}", self.table_prefix, key.table_name())
    }
    fn local(&self) -> &dyn MetadataStore {
        self
    }
    fn has_feature(&self, key: &FeatureKey) -> Result<bool> {
        Ok(self.columns(&self.table_name(key))?.is_some())
    }
    /// What a write moves in the store database, folded into one line by ClickHouse in one `system` query (no
    /// table read): per table its active rows and highest block number (every insert allocates a new block; a
    /// background merge changes neither, so merges cause no refresh), the number of mutations (a lightweight
    /// `DELETE` or an `ALTER TABLE ... DELETE` adds one), and the tables with their UUIDs and metadata times (a new, empty,
    /// dropped or re-created table). `None` when the query fails (the server is down: the next poll tries again).
    fn change_marker(&self) -> Option<String> {
        let rows = self
            .json_rows(
                "system.parts",
                "SELECT (SELECT toString(groupArray((table, r, b))) FROM (SELECT table, sum(rows) AS r, \
                 max(max_block_number) AS b FROM system.parts WHERE database = currentDatabase() AND active \
                 GROUP BY table ORDER BY table)), \
                 (SELECT toString(count()) FROM system.mutations WHERE database = currentDatabase()), \
                 (SELECT toString(groupArray((name, uuid, metadata_modification_time))) FROM (SELECT name, uuid, \
                 metadata_modification_time FROM system.tables WHERE database = currentDatabase() \
                 AND NOT is_temporary ORDER BY name))",
            )
            .ok()?;
        let row = rows.first()?;
        let part = |i: usize| row.get(i).and_then(|v| v.as_str()).map(str::to_string);
        Some(format!("{}|{}|{}", part(0)?, part(1)?, part(2)?))
    }
    fn list_tables(&self) -> Result<Vec<String>> {
        let rows = self.json_rows(
            "system.tables",
            "SELECT name FROM system.tables WHERE database = currentDatabase() AND NOT is_temporary ORDER BY name",
        )?;
        Ok(rows
            .iter()
            .filter_map(|r| r.first().and_then(|v| v.as_str()).map(str::to_string))
            .collect())
    }

    fn scan(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
    ) -> Result<Option<DataFrame>> {
        let table = self.table_name(key);
        let Some(cols) = self.columns(&table)? else {
            return Ok(None);
        };
        let tail = Self::scan_tail(&cols, feature_version);
        self.select(&table, &cols, columns, &tail, &[]).map(Some)
    }

    /// The ids pushed into the `WHERE` ([`sql::id_condition`]: strings and integers compared in ClickHouse), then
    /// the filter re-applied in the engine ([`crate::engine::store::filter::IdFilter::apply`]) so the rows equal the
    /// default's exactly; storage order kept.
    fn scan_ids(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        ids: &crate::engine::store::filter::IdFilter,
    ) -> Result<Option<DataFrame>> {
        let table = self.table_name(key);
        let Some(cols) = self.columns(&table)? else {
            return Ok(None);
        };
        let mut columns = columns.clone();
        for c in &ids.columns {
            columns = columns.with(c);
        }
        let mut preds: Vec<String> = sql::version_pred(&cols, feature_version)
            .into_iter()
            .collect();
        preds.push(format!("({})", sql::id_condition(&cols, ids)));
        let tail = format!(
            "{} ORDER BY {}",
            sql::where_clause(&preds),
            sql::storage_order("ASC").join(", ")
        );
        let df = self.select(&table, &cols, &columns, &tail, &[])?;
        if ids.columns.iter().any(|c| df.get_column_index(c).is_none()) {
            return Ok(Some(df.clear()));
        }
        ids.apply(df).map(Some)
    }

    fn scan_latest(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        id_columns: &[String],
    ) -> Result<LatestScan> {
        use crate::engine::schema as cols;
        let table = self.table_name(key);
        let Some(tcols) = self.columns(&table)? else {
            return Ok(LatestScan::Missing);
        };
        let ts: Vec<&str> = [cols::DELETED_AT, cols::UPDATED_AT]
            .into_iter()
            .filter(|c| sql::has(&tcols, c))
            .collect();
        if id_columns.is_empty() || !id_columns.iter().all(|c| sql::has(&tcols, c)) || ts.is_empty()
        {
            return Ok(LatestScan::Unsupported);
        }
        let ids: Vec<String> = id_columns.iter().map(|c| quote_ident(c)).collect();
        let preds: Vec<String> = sql::version_pred(&tcols, feature_version)
            .into_iter()
            .collect();
        let tail = format!(
            "{}{}",
            sql::where_clause(&preds),
            sql::latest_tail(&ids, &ts)
        );
        self.select(&table, &tcols, columns, &tail, &[])
            .map(LatestScan::Rows)
    }

    fn scan_ordered(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        range: &KeyRange<'_>,
    ) -> Result<LatestScan> {
        let table = self.table_name(key);
        let Some(tcols) = self.columns(&table)? else {
            return Ok(LatestScan::Missing);
        };
        let ids = range.id_columns;
        if ids.is_empty() || !ids.iter().all(|c| sql::has(&tcols, c)) {
            return Ok(LatestScan::Unsupported);
        }
        let id_exprs: Vec<String> = ids.iter().map(|c| quote_ident(c)).collect();
        let mut preds: Vec<String> = sql::version_pred(&tcols, feature_version)
            .into_iter()
            .collect();
        if let Some(b) = range.bound {
            let mut lits = vec![];
            for c in ids {
                let Some(l) = b
                    .column(c)
                    .ok()
                    .and_then(|s| s.get(0).ok())
                    .and_then(|v| sql::literal(&v))
                else {
                    return Ok(LatestScan::Unsupported);
                };
                lits.push(l);
            }
            preds.push(sql::keyset_bound(&id_exprs, &lits, range.descending));
        }
        let dir = if range.descending { "DESC" } else { "ASC" };
        let order: Vec<String> = id_exprs
            .iter()
            .map(|c| format!("{c} {dir}"))
            .chain(sql::storage_order(dir))
            .collect();
        let tail = format!(
            "{} ORDER BY {} LIMIT {}",
            sql::where_clause(&preds),
            order.join(", "),
            range.limit
        );
        self.select(&table, &tcols, columns, &tail, &[])
            .map(LatestScan::Rows)
    }

    fn rows_per_feature_version(&self, key: &FeatureKey) -> Result<Option<Vec<(String, usize)>>> {
        let table = self.table_name(key);
        let Some(cols) = self.columns(&table)? else {
            return Ok(None);
        };
        let v = crate::engine::schema::FEATURE_VERSION;
        if !sql::has(&cols, v) {
            return Ok(Some(vec![]));
        }
        let rows = self.json_rows(
            &table,
            &format!(
                "SELECT toString({c}) AS v, count() AS n FROM {t} WHERE {c} IS NOT NULL GROUP BY v ORDER BY n DESC, v",
                c = quote_ident(v),
                t = quote_ident(&table)
            ),
        )?;
        Ok(Some(
            rows.iter()
                .filter_map(|r| {
                    let v = r.first()?.as_str()?.to_string();
                    let n = r.get(1)?;
                    let n = n.as_u64().or_else(|| n.as_str()?.parse().ok())?;
                    Some((v, n as usize))
                })
                .collect(),
        ))
    }

    /// The counts run in ClickHouse ([`Self::counts_in_clickhouse`]); only four numbers come back.
    fn counts_stay_in_store(&self) -> bool {
        true
    }
    fn increment_counts(
        &self,
        plan: &crate::engine::store::count_plan::CountPlan,
    ) -> Result<Option<crate::engine::store::count_plan::IncrementCounts>> {
        self.counts_in_clickhouse(plan)
    }

    fn increment_page(
        &self,
        plan: &crate::engine::store::count_plan::CountPlan,
        kind: crate::engine::store::count_plan::IncrementKind,
        window: crate::engine::store::count_plan::PageWindow,
    ) -> Result<Option<crate::engine::store::count_plan::IncrementPage>> {
        // the whole increment stays in the server at any size: no threshold
        self.page_in_clickhouse(plan, kind, window.offset, window.limit)
    }

    fn append(&self, key: &FeatureKey, df: &DataFrame) -> Result<()> {
        let table = self.table_name(key);
        self.append_rows(key, &table, df)
    }

    fn delete_rows(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        filters: &[String],
    ) -> Result<usize> {
        let (table, cols) = self.feature_columns(key)?;
        self.delete(&table, &cols, feature_version, filters)
    }

    /// Metaxy's `ClickHouseMetadataStore` drop (the Ibis `_drop_feature`): `DROP TABLE` of the feature's table when
    /// it exists; `false` and nothing done when it does not.
    fn drop_feature(&self, key: &FeatureKey) -> Result<bool> {
        let table = self.table_name(key);
        if self.columns(&table)?.is_none() {
            return Ok(false);
        }
        crate::engine::fault::point("clickhouse.before_commit");
        block_on(
            self.conn
                .request(&format!("DROP TABLE {}", quote_ident(&table)), None, &[]),
        )
        .map_err(|e| self.write_err(&table, e.message))?;
        Ok(true)
    }
}

/// Whether a ClickHouse error says the table does not exist.
pub fn is_unknown_table(e: &ChError) -> bool {
    e.code == UNKNOWN_TABLE
}
