//! The DuckDB metadata store (Metaxy `DuckDBMetadataStore`, FORMAT.md §2.2): [`DuckDbStore`]. Its SQL pieces are in
//! [`sql`], the counts-only increment query and the pages of an increment over the store's own tables in
//! `in_store` (computed by [`crate::engine::store::duckql`], which Delta stores share), and how a
//! file is opened per operation (never held open while idle, so other processes can write it) in [`lease`].

mod in_store;
pub mod lease;
pub mod sql;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use duckdb::Connection;
use polars::prelude::*;

use crate::engine::config::{HashAlgorithm, StoreConfig, StoreKind};
use crate::engine::error::{EngineError, Result};
use crate::engine::frame::record_batches_to_df;
use crate::engine::keys::FeatureKey;
use crate::engine::store::api::{Columns, KeyRange, LatestScan, MetadataStore, ReadsKeptOpen};
use crate::engine::store::common::{file_marker, resolve_local_path};
use crate::engine::store::duckdb::lease::{KeptOpen, ReadLease, WriteGate};
use crate::engine::store::duckdb::sql::{
    latest_rowid_sql, quote_ident, sql_literal, sql_str, ScanSql,
};
use crate::engine::store::duckql::udf::RawDuckDb;

/// A DuckDB metadata store (Metaxy `DuckDBMetadataStore`, FORMAT.md §2.2): one table per feature named
pub struct DuckDbStore {
    name: String,
    database: String,
    /// The database file; `None` for `:memory:`.
    path: Option<PathBuf>,
    table_prefix: String,
    hash_algorithm: HashAlgorithm,
    /// Map mode: new tables store `*_by_field` columns as `MAP(VARCHAR, VARCHAR)`.
    map_datatype: bool,
    /// The database of a `:memory:` store (it lives as long as the store). File stores hold no connection: every
    /// operation opens the file and closes it again ([`lease`]), so that an idle store never blocks a writer.
    memory: Option<Mutex<Connection>>,
}

/// The connection of one read operation.
enum Reader {
    /// A file: a lease on the shared read-only instance.
    File(ReadLease),
    /// A connection of its own to the in-memory database.
    Memory(Connection),
}

impl Reader {
    fn conn(&self) -> &Connection {
        match self {
            Reader::File(l) => l.conn(),
            Reader::Memory(c) => c,
        }
    }

    /// The instance through the C API (files only).
    fn raw(&self) -> Option<&RawDuckDb> {
        match self {
            Reader::File(l) => Some(l.raw()),
            Reader::Memory(_) => None,
        }
    }
}

impl DuckDbStore {
    /// Opens the `database` of `cfg` read-only. The file is opened once to check it and closed again: no
    /// connection stays open (see [`lease`]).
    ///
    /// Errors: [`EngineError::StoreOpen`] when the file does not exist or is not a DuckDB database, and when the
    /// hash algorithm is one Metaxy's DuckDB store refuses (`wyhash`, `sha256`, `farmhash`:
    /// `HashAlgorithmNotSupportedError` in Metaxy); [`EngineError::Busy`] when another process kept it locked for
    /// writing during the whole retry window.
    pub fn open(cfg: &StoreConfig, cwd: &Path) -> Result<Self> {
        Self::open_impl(cfg, cwd, false)
    }

    /// Like [`DuckDbStore::open`], but a missing database file is not an error: the store reads as empty and the
    /// first write creates the file.
    pub fn open_for_write(cfg: &StoreConfig, cwd: &Path) -> Result<Self> {
        Self::open_impl(cfg, cwd, true)
    }

    fn open_impl(cfg: &StoreConfig, cwd: &Path, allow_missing: bool) -> Result<Self> {
        let database = cfg.location()?;
        let err = |m: String| EngineError::StoreOpen {
            store: cfg.name.clone(),
            location: database.clone(),
            message: m,
        };
        if matches!(
            cfg.hash_algorithm,
            HashAlgorithm::Wyhash | HashAlgorithm::Sha256 | HashAlgorithm::Farmhash
        ) {
            return Err(err(format!(
                "hash_algorithm {:?} is not supported by Metaxy's DuckDB store (supported: md5, xxhash32, xxhash64, xxh3_64)",
                cfg.hash_algorithm.as_str()
            )));
        }
        let (path, memory) = if database == ":memory:" {
            (None, Some(Mutex::new(Connection::open_in_memory()?)))
        } else {
            if database.starts_with("md:") || database.contains("://") {
                return Err(err(
                    "remote DuckDB databases (md:, s3://) are not supported yet".into(),
                ));
            }
            let path = resolve_local_path(&database, cwd);
            if path.is_dir() {
                return Err(err(format!(
                    "database {} is a directory, not a DuckDB database file",
                    path.display()
                )));
            }
            if path.exists() && !path.is_file() {
                return Err(err(format!(
                    "database {} is not a regular file (a DuckDB database file is needed)",
                    path.display()
                )));
            }
            if !path.is_file() {
                if !allow_missing {
                    return Err(err(format!(
                        "database file {} does not exist",
                        path.display()
                    )));
                }
                (Some(path), None)
            } else {
                // checks that the file is a DuckDB database; closed again right away
                match ReadLease::acquire(&cfg.name, &path) {
                    Ok(_) => {}
                    Err(EngineError::StoreOpen { message, .. }) => return Err(err(message)),
                    Err(e) => return Err(e),
                }
                (Some(path), None)
            }
        };
        let table_prefix = cfg
            .config
            .get("table_prefix")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        Ok(Self {
            name: cfg.name.clone(),
            database,
            path,
            table_prefix,
            hash_algorithm: cfg.hash_algorithm,
            map_datatype: cfg.map_datatype,
            memory,
        })
    }

    /// The connection of one read operation (its own connection, so that reads from several threads run at the
    /// same time): a [`ReadLease`] on the file, or a connection to the in-memory database. `None` while the file
    /// does not exist (a write destination). Dropping it closes the file when no other read uses it.
    ///
    /// Errors: [`EngineError::Busy`] when another process keeps the file locked for writing.
    fn reader(&self) -> Result<Option<Reader>> {
        if let Some(m) = &self.memory {
            let c = m.lock().unwrap_or_else(|p| p.into_inner()).try_clone()?;
            let _ = c.execute_batch("SET produce_arrow_string_view = true");
            return Ok(Some(Reader::Memory(c)));
        }
        match &self.path {
            Some(p) if p.is_file() => Ok(Some(Reader::File(ReadLease::acquire(&self.name, p)?))),
            _ => Ok(None),
        }
    }

    /// Table names of the database `conn` is connected to.
    fn tables(conn: &Connection) -> Result<Vec<String>> {
        let mut stmt = conn.prepare(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = current_schema() ORDER BY table_name",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
    }

    /// A reader, the table name and the scan's SQL pieces for `key`; `None` when the table does not exist.
    fn open_scan(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
    ) -> Result<Option<(Reader, String, ScanSql)>> {
        let Some(reader) = self.reader()? else {
            return Ok(None);
        };
        let table = self.table_name(key);
        if !Self::tables(reader.conn())?.contains(&table) {
            return Ok(None);
        }
        let q = ScanSql::new(reader.conn(), &table, feature_version, columns)?;
        Ok(Some((reader, table, q)))
    }

    fn write_err(&self, table: &str, m: impl std::fmt::Display) -> EngineError {
        EngineError::Write {
            store: self.name.clone(),
            table: table.to_string(),
            message: m.to_string(),
        }
    }

    /// Runs `f` inside one read-write transaction (committed when `f` succeeds, rolled back otherwise) on a
    /// read-write instance of the file opened for this write alone and closed right after it ([`WriteGate`]: no
    /// read of this process has the file open meanwhile; a lock held by another process is retried for
    /// [`lease::RETRY_TOTAL`]). Creates the database file when it does not exist.
    ///
    /// Errors: [`EngineError::Busy`] when another process keeps the file locked; [`EngineError::Write`] when it
    /// cannot be opened otherwise; `f`'s errors.
    fn with_write_transaction<T>(
        &self,
        table: &str,
        f: impl FnOnce(&Connection) -> Result<T>,
    ) -> Result<T> {
        let Some(path) = self.path.clone() else {
            let Some(m) = &self.memory else {
                return Err(self.write_err(table, "in-memory database is closed"));
            };
            return Self::transaction(&m.lock().unwrap_or_else(|p| p.into_inner()), f);
        };
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() && !parent.is_dir() {
                std::fs::create_dir_all(parent)?;
            }
        }
        let gate = WriteGate::acquire(&path);
        let rw = gate.open(&self.name).map_err(|e| match e {
            e @ EngineError::Busy { .. } => e,
            e => self.write_err(
                table,
                format!("cannot open {} for writing: {e}", path.display()),
            ),
        })?;
        let result = Self::transaction(&rw, f);
        drop(rw);
        drop(gate);
        result
    }

    fn transaction<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        conn.execute_batch("BEGIN TRANSACTION")?;
        match f(conn) {
            Ok(v) => {
                crate::engine::fault::point("duckdb.before_commit");
                conn.execute_batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// [`DuckDbStore::table_columns`] of every table (and view) of the current schema, asked in one query: table
    /// name -> `(column name, DuckDB type)` in column order.
    fn all_table_columns(
        conn: &Connection,
    ) -> Result<std::collections::HashMap<String, Vec<(String, String)>>> {
        let mut stmt = conn.prepare(&format!(
            "SELECT table_name, {COLUMNS_OF_SCHEMA} ORDER BY table_name, ordinal_position"
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out: std::collections::HashMap<String, Vec<(String, String)>> =
            std::collections::HashMap::new();
        for row in rows {
            let (table, column, ty) = row?;
            out.entry(table).or_default().push((column, ty));
        }
        Ok(out)
    }

    /// `(name, DuckDB type)` of every column of `table` (empty when the table does not exist).
    fn table_columns(conn: &Connection, table: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS_OF_SCHEMA} AND table_name = ? ORDER BY ordinal_position"
        ))?;
        let rows = stmt.query_map([table], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
    }
}

/// The catalog query both [`DuckDbStore::table_columns`] and [`DuckDbStore::all_table_columns`] run: every column
/// (name, DuckDB type) of the current database and schema; the caller adds the table filter and the order.
const COLUMNS_OF_SCHEMA: &str = "column_name, data_type FROM information_schema.columns \
     WHERE table_catalog = current_database() AND table_schema = current_schema()";

/// The staging Parquet file of one append: `.<database file>.metaxy-tui-append-<pid>-<n>.parquet` beside the
/// database file (the system temp dir for `:memory:`). Leftovers of killed processes (their pid is gone) beside the
/// same database are removed first (only where `/proc` tells which processes live).
fn append_file(database: Option<&Path>) -> PathBuf {
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let pid = std::process::id();
    let Some(db) = database else {
        return std::env::temp_dir().join(format!("metaxy-tui-append-{pid}-{seq}.parquet"));
    };
    let dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let stem = format!(
        ".{}.metaxy-tui-append-",
        db.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    );
    let _ = std::fs::create_dir_all(&dir);
    if Path::new("/proc/self").exists() {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                let Some(rest) = name.strip_prefix(&stem) else {
                    continue;
                };
                let owner = rest.split('-').next().unwrap_or("");
                if !owner.is_empty() && !Path::new("/proc").join(owner).exists() {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
    dir.join(format!("{stem}{pid}-{seq}.parquet"))
}

impl MetadataStore for DuckDbStore {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> StoreKind {
        StoreKind::DuckDb
    }
    fn display(&self) -> String {
        "DuckDBMetadataStore(backend=duckdb)".into()
    }
    fn class_path(&self) -> &'static str {
        "metaxy.ext.duckdb.metadata_store.DuckDBMetadataStore"
    }
    fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash_algorithm
    }
    fn location(&self) -> String {
        self.database.clone()
    }
    fn duckdb_file(&self) -> Option<PathBuf> {
        self.path.clone().filter(|p| p.is_file())
    }
    fn table_name(&self, key: &FeatureKey) -> String {
        format!("{}{}", self.table_prefix, key.table_name())
    }
    fn local(&self) -> &dyn MetadataStore {
        self
    }
    fn has_feature(&self, key: &FeatureKey) -> Result<bool> {
        let t = self.table_name(key);
        Ok(self.list_tables()?.contains(&t))
    }
    fn list_tables(&self) -> Result<Vec<String>> {
        match self.reader()? {
            Some(r) => Self::tables(r.conn()),
            None => Ok(vec![]),
        }
    }
    /// The file's read-only instance lingers between reads while the guard lives ([`KeptOpen`]); nothing for
    /// `:memory:`.
    fn keep_reads_open(&self) -> ReadsKeptOpen {
        match &self.path {
            Some(p) => ReadsKeptOpen::holding(KeptOpen::new(p)),
            None => ReadsKeptOpen::default(),
        }
    }
    /// The database file's and its write-ahead log's size and modification time (no DuckDB open, no lock).
    fn change_marker(&self) -> Option<String> {
        let path = self.path.as_ref()?;
        let mut wal = path.clone().into_os_string();
        wal.push(".wal");
        Some(format!(
            "{}|{}",
            file_marker(path),
            file_marker(Path::new(&wal))
        ))
    }
    fn scan(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
    ) -> Result<Option<DataFrame>> {
        let Some((reader, table, q)) = self.open_scan(key, feature_version, columns)? else {
            return Ok(None);
        };
        q.run(reader.conn(), &table, "").map(Some)
    }

    fn scan_ids(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        ids: &crate::engine::store::filter::IdFilter,
    ) -> Result<Option<DataFrame>> {
        use crate::engine::store::filter::IdKind;
        let mut columns = columns.clone();
        for c in &ids.columns {
            columns = columns.with(c);
        }
        let Some((conn, table, q)) = self.open_scan(key, feature_version, &columns)? else {
            return Ok(None);
        };
        let kind = |c: &str| -> Option<IdKind> {
            let (_, ty) = q.table_columns.iter().find(|(n, _)| n == c)?;
            let ty = ty.to_uppercase();
            Some(if ty == "VARCHAR" || ty.starts_with("VARCHAR(") {
                IdKind::Text
            } else if ty.contains("INT") {
                IdKind::Integer
            } else {
                IdKind::Other
            })
        };
        if ids.columns.iter().any(|c| kind(c).is_none()) {
            return Ok(Some(q.run(conn.conn(), &table, " LIMIT 0")?));
        }
        let cond = ids.sql(|c| kind(c).unwrap_or(IdKind::Other));
        let glue = if q.where_sql.is_empty() {
            " WHERE "
        } else {
            " AND "
        };
        q.run(conn.conn(), &table, &format!("{glue}{cond}"))
            .map(Some)
    }

    /// DuckDB counts every increment in its own bounded memory (spilling), the absent target included: the
    /// upstream ids never cross into this process.
    fn counts_stay_in_store(&self) -> bool {
        true
    }

    fn increment_counts(
        &self,
        plan: &crate::engine::store::count_plan::CountPlan,
    ) -> Result<Option<crate::engine::store::count_plan::IncrementCounts>> {
        self.counts_in_duckdb(plan)
    }

    fn increment_page(
        &self,
        plan: &crate::engine::store::count_plan::CountPlan,
        kind: crate::engine::store::count_plan::IncrementKind,
        window: crate::engine::store::count_plan::PageWindow,
    ) -> Result<Option<crate::engine::store::count_plan::IncrementPage>> {
        self.page_in_duckdb(plan, kind, window)
    }

    fn scan_latest(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        id_columns: &[String],
    ) -> Result<LatestScan> {
        use crate::engine::schema as cols;
        let Some((reader, table, q)) = self.open_scan(key, feature_version, columns)? else {
            return Ok(LatestScan::Missing);
        };
        let conn = reader.conn();
        let has = |c: &str| q.table_columns.iter().any(|(n, _)| n == c);
        let ts: Vec<&str> = [cols::DELETED_AT, cols::UPDATED_AT]
            .into_iter()
            .filter(|c| has(c))
            .collect();
        if id_columns.is_empty() || !id_columns.iter().all(|c| has(c)) || ts.is_empty() {
            return Ok(LatestScan::Unsupported);
        }
        let ids: Vec<String> = id_columns.iter().map(|c| quote_ident(c)).collect();
        let distinct = if ids.len() == 1 {
            ids[0].clone()
        } else {
            format!("({})", ids.join(", "))
        };
        // one row per id already (the usual case): a plain scan, checked in the engine (O(n) when stored in id
        // order). DuckDB's HyperLogLog estimate sends tables with many duplicates straight to the dedup query.
        let approx_sql = format!(
            "SELECT approx_count_distinct({distinct}) >= 0.9 * count(*) FROM {}{}",
            quote_ident(&table),
            q.where_sql
        );
        let likely_unique: Option<bool> = {
            let t = crate::engine::timing::span(|| format!("duckdb-approx-distinct {table}"));
            let r = conn
                .prepare(&approx_sql)
                .and_then(|mut st| match &q.version {
                    Some(v) => st.query_row([v], |r| r.get::<_, Option<bool>>(0)),
                    None => st.query_row([], |r| r.get::<_, Option<bool>>(0)),
                });
            drop(t);
            r.ok().map(|v| v.unwrap_or(true))
        };
        match likely_unique {
            None => return Ok(LatestScan::Unsupported),
            Some(false) => {}
            Some(true) => {
                let df = q.run(conn, &table, "")?;
                let _t = crate::engine::timing::span(|| format!("unique-check {table}"));
                if crate::engine::store::filter::ids_unique(&df, id_columns)? {
                    return Ok(LatestScan::Rows(df));
                }
            }
        }
        let version_sql = match &q.version {
            Some(v) => format!(" WHERE metaxy_feature_version = {}", sql_str(v)),
            None => String::new(),
        };
        let latest = format!(
            "{} {}",
            if q.where_sql.is_empty() {
                " WHERE"
            } else {
                " AND"
            },
            latest_rowid_sql(&quote_ident(&table), &version_sql, &ids, &ts)
        );
        match q.run(conn, &table, &latest) {
            Ok(df) => Ok(LatestScan::Rows(df)),
            // a table DuckDB cannot order this way (odd timestamp types): dedup in the engine
            Err(EngineError::CorruptTable { .. }) => Ok(LatestScan::Unsupported),
            Err(e) => Err(e),
        }
    }

    fn scan_ordered(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        range: &KeyRange<'_>,
    ) -> Result<LatestScan> {
        let Some((reader, table, q)) = self.open_scan(key, feature_version, columns)? else {
            return Ok(LatestScan::Missing);
        };
        let conn = reader.conn();
        let ids = range.id_columns;
        if ids.is_empty()
            || !ids
                .iter()
                .all(|c| q.table_columns.iter().any(|(n, _)| n == c))
        {
            return Ok(LatestScan::Unsupported);
        }
        let (dir, op) = if range.descending {
            ("DESC", "<")
        } else {
            ("ASC", ">")
        };
        let mut tail = String::new();
        if let Some(b) = range.bound {
            let mut lits = vec![];
            for c in ids {
                let Some(l) = b
                    .column(c)
                    .ok()
                    .and_then(|s| s.get(0).ok())
                    .and_then(|v| sql_literal(&v))
                else {
                    return Ok(LatestScan::Unsupported);
                };
                lits.push(l);
            }
            // lexicographic (a, b) > (x, y): a > x OR (a = x AND b > y)
            let mut cond = String::new();
            for (c, l) in ids.iter().zip(&lits).rev() {
                let c = quote_ident(c);
                cond = if cond.is_empty() {
                    format!("{c} {op} {l}")
                } else {
                    format!("({c} {op} {l} OR ({c} = {l} AND {cond}))")
                };
            }
            tail.push_str(if q.where_sql.is_empty() {
                " WHERE "
            } else {
                " AND "
            });
            tail.push_str(&cond);
        }
        let order: Vec<String> = ids
            .iter()
            .map(|c| format!("{} {dir}", quote_ident(c)))
            .chain([format!("rowid {dir}")])
            .collect();
        tail.push_str(&format!(
            " ORDER BY {} LIMIT {}",
            order.join(", "),
            range.limit
        ));
        q.run(conn, &table, &tail).map(LatestScan::Rows)
    }

    fn rows_per_feature_version(&self, key: &FeatureKey) -> Result<Option<Vec<(String, usize)>>> {
        let table = self.table_name(key);
        let Some(reader) = self.reader()? else {
            return Ok(None);
        };
        let conn = reader.conn();
        if !Self::tables(conn)?.contains(&table) {
            return Ok(None);
        }
        let has_version = Self::table_columns(conn, &table)?
            .iter()
            .any(|(c, _)| c == crate::engine::schema::FEATURE_VERSION);
        if !has_version {
            return Ok(Some(vec![]));
        }
        let mut stmt = conn.prepare(&format!(
            "SELECT CAST(metaxy_feature_version AS VARCHAR), count(*) FROM {} WHERE metaxy_feature_version IS NOT NULL GROUP BY 1 ORDER BY 2 DESC",
            quote_ident(&table)
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize))
        })?;
        Ok(Some(rows.collect::<std::result::Result<Vec<_>, _>>()?))
    }

    fn append(&self, key: &FeatureKey, df: &DataFrame) -> Result<()> {
        let table = self.table_name(key);
        // DuckDB reads the rows from a Parquet file written by polars (struct, timestamptz and string types map
        // one to one); the file lives only for the duration of the call, beside the database file (a killed
        // write leaves it inside the store, where the next write removes it, never in the system temp dir).
        let tmp = append_file(self.path.as_deref());
        struct Cleanup(PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        let _cleanup = Cleanup(tmp.clone());
        {
            let file = std::fs::File::create(&tmp)?;
            let mut frame = df.clone();
            ParquetWriter::new(file)
                .finish(&mut frame)
                .map_err(|e| self.write_err(&table, e))?;
        }
        let source = format!("read_parquet({})", sql_str(&tmp.display().to_string()));
        // `MAP {'audio': "c"."audio", ...}`: a struct column as the MAP Metaxy's Map mode stores
        let map_expr = |name: &str, members: &[Field]| {
            let q = quote_ident(name);
            let entries: Vec<String> = members
                .iter()
                .map(|m| {
                    format!(
                        "{}: {q}.{}",
                        sql_str(m.name().as_str()),
                        quote_ident(m.name().as_str())
                    )
                })
                .collect();
            format!(
                "CASE WHEN {q} IS NULL THEN NULL ELSE MAP {{{}}} END AS {q}",
                entries.join(", ")
            )
        };
        self.with_write_transaction(&table, |conn| {
            let existing = Self::table_columns(conn, &table)?;
            if existing.is_empty() {
                let select: Vec<String> = df
                    .columns()
                    .iter()
                    .map(|c| match c.dtype() {
                        DataType::Struct(m)
                            if self.map_datatype && crate::engine::frame::is_by_field(c.name()) =>
                        {
                            map_expr(c.name().as_str(), m)
                        }
                        _ => quote_ident(c.name().as_str()),
                    })
                    .collect();
                conn.execute_batch(&format!(
                    "CREATE TABLE {} AS SELECT {} FROM {source}",
                    quote_ident(&table),
                    select.join(", ")
                ))
                .map_err(|e| self.write_err(&table, e))?;
                return Ok(());
            }
            let mut select = Vec::with_capacity(df.width());
            let mut unknown = vec![];
            for c in df.columns() {
                let name = c.name().as_str();
                let Some((_, ty)) = existing.iter().find(|(n, _)| n == name) else {
                    unknown.push(name.to_string());
                    continue;
                };
                let q = quote_ident(name);
                match (ty.starts_with("MAP("), c.dtype()) {
                    // Map mode (`enable_map_datatype`): the table stores a MAP, the engine a struct
                    (true, DataType::Struct(members)) => select.push(map_expr(name, members)),
                    _ => select.push(q),
                }
            }
            if !unknown.is_empty() {
                return Err(EngineError::Schema {
                    feature: key.to_string(),
                    message: format!(
                        "table {table} has no column(s) {} (DuckDB tables are not migrated automatically)",
                        unknown.join(", ")
                    ),
                });
            }
            conn.execute_batch(&format!(
                "INSERT INTO {} BY NAME SELECT {} FROM {source}",
                quote_ident(&table),
                select.join(", ")
            ))
            .map_err(|e| EngineError::Schema {
                feature: key.to_string(),
                message: format!("DuckDB refused the rows for {table}: {e}"),
            })?;
            Ok(())
        })
    }

    fn delete_rows(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        filters: &[String],
    ) -> Result<usize> {
        let table = self.table_name(key);
        if !self.has_feature(key)? {
            return Err(EngineError::FeatureNotFound {
                feature: key.to_string(),
                store: self.name.clone(),
                table,
            });
        }
        self.with_write_transaction(&table, |conn| {
            let mut sql = format!("SELECT rowid AS __mx_rowid, * FROM {}", quote_ident(&table));
            if let Some(v) = feature_version {
                sql.push_str(&format!(" WHERE metaxy_feature_version = {}", sql_str(v)));
            }
            let mut stmt = conn.prepare(&sql)?;
            let arrow = stmt.query_arrow([])?;
            let schema = arrow.get_schema();
            let batches: Vec<_> = arrow.collect();
            let df = record_batches_to_df(&schema, &batches)?;
            let matched = crate::engine::store::filter::apply_filters(df, filters)?;
            if matched.height() == 0 {
                return Ok(0);
            }
            let ids: Vec<String> = matched
                .column("__mx_rowid")?
                .cast(&DataType::Int64)?
                .i64()?
                .into_no_null_iter()
                .map(|v| v.to_string())
                .collect();
            let n = conn
                .execute(
                    &format!(
                        "DELETE FROM {} WHERE rowid IN (SELECT unnest(CAST(? AS BIGINT[])))",
                        quote_ident(&table)
                    ),
                    [format!("[{}]", ids.join(","))],
                )
                .map_err(|e| self.write_err(&table, e))?;
            Ok(n)
        })
    }

    /// `DROP TABLE` in one transaction (Metaxy's Ibis `_drop_feature`), when the table exists.
    fn drop_feature(&self, key: &FeatureKey) -> Result<bool> {
        let table = self.table_name(key);
        if !self.has_feature(key)? {
            return Ok(false);
        }
        self.with_write_transaction(&table, |conn| {
            if Self::table_columns(conn, &table)?.is_empty() {
                return Ok(false);
            }
            conn.execute_batch(&format!("DROP TABLE {}", quote_ident(&table)))
                .map_err(|e| self.write_err(&table, e))?;
            Ok(true)
        })
    }
}
