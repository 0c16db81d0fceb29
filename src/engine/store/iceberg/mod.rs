//! The Apache Iceberg metadata store (Metaxy 0.1.11 `metaxy.ext.polars.handlers.iceberg.IcebergMetadataStore`,
//! BACKENDS.md "Iceberg"), through the `iceberg` crates.
//!
//! Layout (what Metaxy writes with pyiceberg 0.12): a SQL catalog in SQLite at `<warehouse>/catalog.db` (tables
//! `iceberg_tables`, `iceberg_namespace_properties`; catalog `catalog_name`, namespace `namespace`, both `metaxy` by
//! default), one Iceberg table per feature named like DuckDB's tables (`example__video`, the system table
//! `metaxy_system__feature_versions`) at `<warehouse>/<namespace>/<table_name>/` (format v2, unpartitioned).
//!
//! Reads follow the catalog's `metadata_location` (never the newest metadata file: Metaxy leaves orphan
//! `00000-*.metadata.json` files) to the current snapshot, order its live data files by data sequence number
//! (append order) and decode them with the crate's Arrow reader, with projection and the feature-version predicate
//! pushed down (files whose column bounds exclude the version are skipped, rows filtered in the reader).
//! The latest row per id of a table written in several appends is read in two phases ([`latest`]): the columns
//! the pick needs from every file, the other columns only from the files holding a winner.
//!
//! Writes ([`write`]): one snapshot per feature and operation, committed by swapping the catalog's
//! `metadata_location` conditionally on its old value (a concurrent writer fails the commit): appends add one
//! manifest; hard deletes are a copy-on-write overwrite (files holding deleted rows are replaced by rewritten files;
//! no delete files), as pyiceberg's `Table.delete` does.
//!
//! Catalogs: a SQL catalog in SQLite, or a REST catalog (`catalog_properties` `type = "rest"`, [`rest`]: reads,
//! table creation and drops through `iceberg-catalog-rest`, the store's commits posted as REST commit requests
//! that the server checks and applies). Warehouses (the data files a catalog points at) must be local (the crate's
//! file IO is local only); other catalogs (Glue, Hive, ...) are refused at open with one line.

mod catalog;
mod ids;
mod latest;
mod read;
mod rest;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::DataFrame;

use crate::engine::config::{HashAlgorithm, StoreConfig, StoreKind};
use crate::engine::error::{EngineError, Result};
use crate::engine::keys::FeatureKey;
use crate::engine::rt::block_on;
use crate::engine::store::api::{Columns, LatestScan, MetadataStore, ResolvedFrom};

pub use catalog::{CatalogLocation, CatalogSpec};
pub use rest::RestLocation;

/// Metaxy's class path of the store (`resolved_from.type`).
pub const CLASS_PATH: &str = "metaxy.ext.polars.handlers.iceberg.IcebergMetadataStore";

/// An Iceberg metadata store (read and write).
pub struct IcebergStore {
    name: String,
    /// The warehouse as Metaxy displays it: an absolute local path.
    warehouse: String,
    /// Iceberg namespace of the feature tables (`namespace`, default `metaxy`).
    namespace: String,
    /// Which catalog (SQL in SQLite or REST), where it is and how it is named.
    catalog: CatalogSpec,
    hash_algorithm: HashAlgorithm,
    /// The catalog connection, opened on first use (`None` until then; a store whose catalog file does not exist
    /// yet has no tables until a write creates it).
    conn: tokio::sync::Mutex<Option<Arc<dyn iceberg::Catalog>>>,
}

/// The `config` keys of an Iceberg store, with Metaxy's defaults.
struct IcebergConfig {
    warehouse: String,
    namespace: String,
    catalog_name: String,
    catalog_properties: Option<serde_json::Map<String, serde_json::Value>>,
}

impl IcebergConfig {
    fn from_store(cfg: &StoreConfig) -> Result<Self> {
        let s = |k: &str, d: &str| -> Result<String> {
            match cfg.config.get(k) {
                None | Some(serde_json::Value::Null) => Ok(d.to_string()),
                Some(serde_json::Value::String(v)) => Ok(v.clone()),
                Some(other) => Err(EngineError::StoreOpen {
                    store: cfg.name.clone(),
                    location: String::new(),
                    message: format!("config key {k} must be a string, got {other}"),
                }),
            }
        };
        Ok(Self {
            warehouse: cfg.location()?,
            namespace: s("namespace", "metaxy")?,
            catalog_name: s("catalog_name", "metaxy")?,
            catalog_properties: cfg
                .config
                .get("catalog_properties")
                .and_then(|v| v.as_object())
                .cloned(),
        })
    }
}

impl IcebergStore {
    /// Opens the store of `cfg` (`warehouse`, `namespace`, `catalog_name`, `catalog_properties`). Nothing is read
    /// or created yet.
    ///
    /// Errors: [`EngineError::StoreOpen`] for an object-store warehouse, a catalog type other than a SQL catalog in
    /// SQLite or a REST catalog (Glue, Hive, PostgreSQL, ...), a bad key (an unsupported REST property).
    pub fn open(cfg: &StoreConfig, cwd: &Path) -> Result<Self> {
        let c = IcebergConfig::from_store(cfg)?;
        let err = |m: String| EngineError::StoreOpen {
            store: cfg.name.clone(),
            location: c.warehouse.clone(),
            message: m,
        };
        let warehouse = local_warehouse(&c.warehouse, cwd).map_err(err)?;
        let catalog = CatalogSpec::from_config(
            &warehouse,
            &c.catalog_name,
            c.catalog_properties.as_ref(),
            cwd,
        )
        .map_err(err)?;
        Ok(Self {
            name: cfg.name.clone(),
            warehouse: warehouse.display().to_string(),
            namespace: c.namespace,
            catalog,
            hash_algorithm: cfg.hash_algorithm,
            conn: tokio::sync::Mutex::new(None),
        })
    }

    /// Metaxy's `_get_store_metadata_impl`: `<namespace>.<table_name>`.
    pub fn identifier(&self, key: &FeatureKey) -> String {
        format!("{}.{}", self.namespace, key.table_name())
    }

    fn table_ident(&self, key: &FeatureKey) -> iceberg::TableIdent {
        iceberg::TableIdent::new(
            iceberg::NamespaceIdent::new(self.namespace.clone()),
            key.table_name(),
        )
    }

    /// The catalog, connected on first use; `None` when its database does not exist and `create` is false.
    async fn catalog(&self, create: bool) -> Result<Option<Arc<dyn iceberg::Catalog>>> {
        let mut guard = self.conn.lock().await;
        if guard.is_none() {
            if !create && !self.catalog.exists() {
                return Ok(None);
            }
            let c = self
                .catalog
                .connect(create)
                .await
                .map_err(|m| self.open_err(m))?;
            *guard = Some(c);
        }
        Ok(guard.clone())
    }

    fn open_err(&self, m: impl Into<String>) -> EngineError {
        EngineError::StoreOpen {
            store: self.name.clone(),
            location: self.warehouse.clone(),
            message: m.into(),
        }
    }

    fn corrupt(&self, key: &FeatureKey, m: impl std::fmt::Display) -> EngineError {
        EngineError::CorruptTable {
            table: self.identifier(key),
            message: one_line(&m.to_string()),
        }
    }

    fn write_err(&self, key: &FeatureKey, m: impl std::fmt::Display) -> EngineError {
        EngineError::Write {
            store: self.name.clone(),
            table: self.identifier(key),
            message: one_line(&m.to_string()),
        }
    }

    /// The table of `key`, `None` when it does not exist (or the catalog does not).
    async fn load(&self, key: &FeatureKey) -> Result<Option<iceberg::table::Table>> {
        let Some(cat) = self.catalog(false).await? else {
            return Ok(None);
        };
        let ident = self.table_ident(key);
        if !cat
            .table_exists(&ident)
            .await
            .map_err(|e| self.open_err(e.to_string()))?
        {
            return Ok(None);
        }
        cat.load_table(&ident)
            .await
            .map(Some)
            .map_err(|e| self.corrupt(key, e))
    }

    /// [`MetadataStore::drop_feature`]: the catalog's `drop_table` (Metaxy `catalog.drop_table(identifier)`): the
    /// table's catalog row is deleted; its data and metadata files stay on disk (pyiceberg's SQL catalog does not
    /// purge them either). `false` when the catalog has no such table.
    async fn drop_async(&self, key: &FeatureKey) -> Result<bool> {
        let Some(cat) = self.catalog(false).await? else {
            return Ok(false);
        };
        let ident = self.table_ident(key);
        if !cat
            .table_exists(&ident)
            .await
            .map_err(|e| self.open_err(e.to_string()))?
        {
            return Ok(false);
        }
        crate::engine::fault::point("iceberg.before_commit");
        cat.drop_table(&ident)
            .await
            .map_err(|e| self.write_err(key, e))?;
        Ok(true)
    }

    async fn table_names(&self) -> Result<Vec<String>> {
        let Some(cat) = self.catalog(false).await? else {
            return Ok(vec![]);
        };
        let ns = iceberg::NamespaceIdent::new(self.namespace.clone());
        if !cat
            .namespace_exists(&ns)
            .await
            .map_err(|e| self.open_err(e.to_string()))?
        {
            return Ok(vec![]);
        }
        let mut names: Vec<String> = cat
            .list_tables(&ns)
            .await
            .map_err(|e| self.open_err(e.to_string()))?
            .into_iter()
            .map(|t| t.name().to_string())
            .collect();
        names.sort();
        Ok(names)
    }
}

/// The absolute local path of a warehouse (Metaxy: `file://` / `local://` stripped, `~` expanded, resolved against
/// the process CWD); an object-store URI is refused (the crate's file IO is local only).
fn local_warehouse(location: &str, cwd: &Path) -> std::result::Result<PathBuf, String> {
    if let Some((scheme, _)) = location.split_once("://") {
        if !matches!(scheme, "file" | "local") {
            return Err(format!(
                "{scheme}:// warehouses are not supported by metaxy-tui's Iceberg store (local warehouses only)"
            ));
        }
    }
    let stripped = location
        .strip_prefix("file://")
        .or_else(|| location.strip_prefix("local://"))
        .unwrap_or(location);
    let expanded = match (stripped.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(stripped),
    };
    let p = if expanded.is_absolute() {
        expanded
    } else {
        cwd.join(expanded)
    };
    Ok(absolute(&p))
}

/// `path` absolute and lexically normal, symlinks resolved when it exists (Python's `Path.resolve()`).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The first line of a backend message (the crate's errors carry context and backtraces on later lines).
fn one_line(m: &str) -> String {
    let m = crate::engine::store::common::without_backtrace(m);
    m.lines().next().unwrap_or_default().trim().to_string()
}

impl MetadataStore for IcebergStore {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> StoreKind {
        StoreKind::Iceberg
    }
    fn display(&self) -> String {
        format!("IcebergMetadataStore(warehouse={})", self.warehouse)
    }
    fn class_path(&self) -> &'static str {
        CLASS_PATH
    }
    fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash_algorithm
    }
    fn location(&self) -> String {
        self.warehouse.clone()
    }
    /// The SQLite catalog file and its journals (every commit moves a table's `metadata_location` there); `None`
    /// for a REST catalog (asking the server is not cheap).
    fn change_marker(&self) -> Option<String> {
        use crate::engine::store::common::file_marker;
        let CatalogSpec::Sql(sql) = &self.catalog else {
            return None;
        };
        let db = &sql.db_path;
        let side = |suffix: &str| {
            let mut p = db.clone().into_os_string();
            p.push(suffix);
            file_marker(Path::new(&p))
        };
        Some(format!(
            "{}|{}|{}",
            file_marker(db),
            side("-wal"),
            side("-journal")
        ))
    }
    fn table_name(&self, key: &FeatureKey) -> String {
        key.table_name()
    }
    fn local(&self) -> &dyn MetadataStore {
        self
    }
    fn resolved_from(&self, key: &FeatureKey) -> ResolvedFrom {
        ResolvedFrom {
            name: self.name.clone(),
            type_path: self.class_path().to_string(),
            display: self.display(),
            table_name: None,
            uri: None,
            identifier: Some(self.identifier(key)),
        }
    }
    fn has_feature(&self, key: &FeatureKey) -> Result<bool> {
        Ok(self.list_tables()?.contains(&key.table_name()))
    }
    fn list_tables(&self) -> Result<Vec<String>> {
        block_on(self.table_names())
    }
    fn scan(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
    ) -> Result<Option<DataFrame>> {
        block_on(async {
            let Some(table) = self.load(key).await? else {
                return Ok(None);
            };
            self.read_table(key, &table, feature_version, columns)
                .await
                .map(Some)
        })
    }
    /// The latest row per id read in two phases when the table was written in several generations: the pick
    /// columns of every file, then the other columns only of the files holding a winner ([`latest`]).
    fn scan_latest(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        id_columns: &[String],
    ) -> Result<LatestScan> {
        block_on(async {
            let Some(table) = self.load(key).await? else {
                return Ok(LatestScan::Missing);
            };
            self.read_latest(key, &table, feature_version, columns, id_columns)
                .await
                .map(|(scan, _)| scan)
        })
    }
    /// The ids pushed into the scan as an Iceberg predicate: files pruned by the crate's planning, row groups and
    /// rows by its reader ([`IcebergStore::scan_ids_async`]).
    fn scan_ids(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        ids: &crate::engine::store::filter::IdFilter,
    ) -> Result<Option<DataFrame>> {
        block_on(async {
            let Some(table) = self.load(key).await? else {
                return Ok(None);
            };
            self.scan_ids_async(key, &table, feature_version, columns, ids)
                .await
                .map(|(df, _)| Some(df))
        })
    }
    fn append(&self, key: &FeatureKey, df: &DataFrame) -> Result<()> {
        block_on(self.append_async(key, df))
    }
    fn delete_rows(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        filters: &[String],
    ) -> Result<usize> {
        block_on(self.delete_async(key, feature_version, filters))
    }
    fn drop_feature(&self, key: &FeatureKey) -> Result<bool> {
        block_on(self.drop_async(key))
    }
}
