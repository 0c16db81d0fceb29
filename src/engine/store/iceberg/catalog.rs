//! The catalog of an Iceberg store ([`CatalogSpec`]): a SQL catalog in SQLite (Metaxy's default
//! `sqlite:///<warehouse>/catalog.db`, or `catalog_properties`: the connection through `iceberg-catalog-sql` over
//! sqlx, and the conditional commit that swaps a table's `metadata_location`) or a REST catalog ([`RestLocation`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use iceberg::CatalogBuilder;
use iceberg_catalog_sql::{SqlBindStyle, SqlCatalog, SqlCatalogBuilder};

use super::rest::RestLocation;

/// The catalog of a store: Metaxy's `catalog_properties` (pyiceberg's `load_catalog` keys), by default the SQL
/// catalog in `<warehouse>/catalog.db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogSpec {
    /// A SQL catalog in SQLite (`type = "sql"`, the default).
    Sql(CatalogLocation),
    /// A REST catalog (`type = "rest"`, or an `http(s)://` uri without a type).
    Rest(RestLocation),
}

impl CatalogSpec {
    /// The catalog of a store ([`CatalogLocation::from_config`], [`RestLocation::from_props`]).
    ///
    /// Errors (one line): a catalog type other than `sql` and `rest` (Glue, Hive, ...), a SQL catalog that is not
    /// SQLite, a REST property metaxy-tui does not support.
    pub fn from_config(
        warehouse: &Path,
        name: &str,
        props: Option<&serde_json::Map<String, serde_json::Value>>,
        cwd: &Path,
    ) -> Result<Self, String> {
        match props {
            Some(p) if catalog_type(p) == "rest" => {
                RestLocation::from_props(name, p).map(Self::Rest)
            }
            _ => CatalogLocation::from_config(warehouse, name, props, cwd).map(Self::Sql),
        }
    }

    /// Whether the catalog may hold tables without being created first: a SQL catalog's database file exists; a
    /// REST catalog always.
    pub fn exists(&self) -> bool {
        match self {
            Self::Sql(l) => l.exists(),
            Self::Rest(_) => true,
        }
    }

    /// Connects to the catalog ([`CatalogLocation::connect`]; a REST catalog is asked on first use).
    pub async fn connect(&self, create: bool) -> Result<Arc<dyn iceberg::Catalog>, String> {
        Ok(match self {
            Self::Sql(l) => Arc::new(l.connect(create).await?),
            Self::Rest(r) => Arc::new(r.connect().await?),
        })
    }
}

/// pyiceberg's catalog type of `props`: `type`, else `rest` for an `http(s)://` uri, else `sql`.
fn catalog_type(props: &serde_json::Map<String, serde_json::Value>) -> String {
    let uri = props
        .get("uri")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    match props.get("type").and_then(|v| v.as_str()) {
        Some(t) => t.to_string(),
        None if uri.starts_with("http://") || uri.starts_with("https://") => "rest".into(),
        None => "sql".into(),
    }
}

/// Where a store's SQL catalog is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogLocation {
    /// The SQLite database file (`<warehouse>/catalog.db` by default).
    pub db_path: PathBuf,
    /// The warehouse URI new tables are created under (`file:///<warehouse>`), as pyiceberg records it.
    pub warehouse_uri: String,
    /// The catalog name (`catalog_name` column of the catalog tables).
    pub name: String,
}

impl CatalogLocation {
    /// Metaxy's catalog of a store: `catalog_properties`, or by default `{type: sql, uri:
    /// sqlite:///<warehouse>/catalog.db, warehouse: file://<warehouse>}`.
    ///
    /// Errors (one line): a catalog type other than `sql` (Glue, Hive, ...; REST is [`CatalogSpec`]'s), a SQL
    /// catalog that is not SQLite.
    pub fn from_config(
        warehouse: &Path,
        name: &str,
        props: Option<&serde_json::Map<String, serde_json::Value>>,
        cwd: &Path,
    ) -> Result<Self, String> {
        let default_uri = format!("file://{}", warehouse.display());
        let Some(props) = props else {
            return Ok(Self {
                db_path: warehouse.join("catalog.db"),
                warehouse_uri: default_uri,
                name: name.to_string(),
            });
        };
        let get = |k: &str| props.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let uri = get("uri").unwrap_or_default();
        let kind = catalog_type(props);
        if kind != "sql" {
            return Err(format!(
                "Iceberg catalog type {kind:?} is not supported by metaxy-tui (only a SQL catalog in SQLite or a \
                 REST catalog)"
            ));
        }
        let db_path = sqlite_path(&uri, cwd)?;
        let warehouse_uri = match get("warehouse") {
            Some(w) if w.contains("://") && !w.starts_with("file://") => {
                return Err(format!(
                    "warehouse {w:?}: only local warehouses are supported by metaxy-tui's Iceberg store"
                ))
            }
            Some(w) if w.starts_with("file://") => w.trim_end_matches('/').to_string(),
            Some(w) => format!("file://{}", super::absolute(&cwd.join(w)).display()),
            None => default_uri,
        };
        Ok(Self {
            db_path,
            warehouse_uri,
            name: name.to_string(),
        })
    }

    /// Whether the catalog database exists.
    pub fn exists(&self) -> bool {
        self.db_path.is_file()
    }

    /// Connects to the catalog; with `create`, the database file and its directory are created when missing
    /// (pyiceberg creates the catalog tables on connect, as the crate does).
    pub async fn connect(&self, create: bool) -> Result<SqlCatalog, String> {
        if create {
            if let Some(dir) = self.db_path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
        }
        let uri = format!(
            "sqlite://{}{}",
            self.db_path.display(),
            if create { "?mode=rwc" } else { "" }
        );
        SqlCatalogBuilder::default()
            .uri(uri)
            .warehouse_location(self.warehouse_uri.clone())
            .sql_bind_style(SqlBindStyle::QMark)
            .with_storage_factory(Arc::new(iceberg::io::LocalFsStorageFactory))
            .load(self.name.clone(), HashMap::new())
            .await
            .map_err(|e| super::one_line(&e.to_string()))
    }

    /// Points table `namespace.table` at `new` if it still points at `old` (one SQL `UPDATE ... WHERE
    /// metadata_location = old`, atomic in SQLite), recording `old` as the previous location, as pyiceberg's and the
    /// crate's SQL catalogs commit. Returns `false` when another writer moved the pointer first.
    pub async fn swap_metadata_location(
        &self,
        namespace: &str,
        table: &str,
        old: &str,
        new: &str,
    ) -> Result<bool, String> {
        use sqlx::ConnectOptions;
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&self.db_path)
            .busy_timeout(std::time::Duration::from_secs(30));
        let mut conn = opts.connect().await.map_err(|e| e.to_string())?;
        let done = sqlx::query(
            "UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? \
             WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND metadata_location = ?",
        )
        .bind(new)
        .bind(old)
        .bind(&self.name)
        .bind(namespace)
        .bind(table)
        .bind(old)
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
        Ok(done.rows_affected() == 1)
    }
}

/// The database file of a SQLAlchemy SQLite URL (`sqlite:///relative.db`, `sqlite:////absolute.db`,
/// `sqlite+pysqlite:///...`), relative paths against `cwd`.
fn sqlite_path(uri: &str, cwd: &Path) -> Result<PathBuf, String> {
    let rest = uri
        .split_once("://")
        .filter(|(scheme, _)| *scheme == "sqlite" || scheme.starts_with("sqlite+"))
        .map(|(_, r)| r)
        .ok_or_else(|| {
            format!(
                "SQL catalog uri {uri:?} is not supported by metaxy-tui (only SQLite: sqlite:///path)"
            )
        })?;
    let path = rest
        .strip_prefix('/')
        .filter(|p| !p.is_empty())
        .ok_or_else(|| format!("SQL catalog uri {uri:?}: an in-memory catalog cannot be opened"))?;
    let path = path.split('?').next().unwrap_or(path);
    let p = Path::new(path);
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_configured_catalogs() {
        let wh = Path::new("/w/store");
        let c = CatalogLocation::from_config(wh, "metaxy", None, Path::new("/cwd")).unwrap();
        assert_eq!(c.db_path, PathBuf::from("/w/store/catalog.db"));
        assert_eq!(c.warehouse_uri, "file:///w/store");
        let props =
            serde_json::json!({"type": "sql", "uri": "sqlite:///cat.db", "warehouse": "file:///x"});
        let c =
            CatalogLocation::from_config(wh, "n", props.as_object(), Path::new("/cwd")).unwrap();
        assert_eq!(c.db_path, PathBuf::from("/cwd/cat.db"));
        assert_eq!(c.warehouse_uri, "file:///x");
        assert_eq!(c.name, "n");
        let abs = serde_json::json!({"uri": "sqlite:////abs/c.db"});
        let c = CatalogLocation::from_config(wh, "n", abs.as_object(), Path::new("/cwd")).unwrap();
        assert_eq!(c.db_path, PathBuf::from("/abs/c.db"));
        let glue = serde_json::json!({"type": "glue"});
        let e =
            CatalogLocation::from_config(wh, "n", glue.as_object(), Path::new("/")).unwrap_err();
        assert!(e.contains("\"glue\" is not supported"), "{e}");
        let rest = serde_json::json!({"uri": "http://localhost:8181", "warehouse": "w"});
        let c = CatalogSpec::from_config(wh, "n", rest.as_object(), Path::new("/")).unwrap();
        assert!(
            matches!(c, CatalogSpec::Rest(ref r) if r.uri == "http://localhost:8181"),
            "{c:?}"
        );
        assert!(c.exists());
        let pg = serde_json::json!({"uri": "postgresql://u@h/db"});
        assert!(CatalogLocation::from_config(wh, "n", pg.as_object(), Path::new("/")).is_err());
    }
}
