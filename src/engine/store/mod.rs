//! Metadata stores: the registry. [`backend`] maps a [`StoreKind`] to its constructor; this is the only engine
//! module that imports a backend module (`duckdb`, `delta`, `lance`), so adding a backend is a new folder here plus
//! one line in [`backend`]. The contract backends implement is [`api::MetadataStore`]; the helpers they share are in
//! [`common`], [`filter`] and [`late`] (two-phase latest-row reads); [`FallbackStore`] chains stores.

pub mod api;
pub mod clickhouse;
pub mod common;
pub mod count_plan;
pub mod delta;
pub mod duckdb;
pub mod duckql;
pub mod fallback;
pub mod filter;
pub mod iceberg;
pub mod lance;
pub mod late;
pub mod latest;
pub mod postgres;

use std::path::Path;

use crate::engine::config::{MetaxyConfig, StoreConfig, StoreKind};
use crate::engine::error::{EngineError, Result};

pub use api::{Columns, KeyRange, LatestScan, MetadataStore, ReadsKeptOpen, ResolvedFrom};
pub use duckdb::lease::lock_waits;
pub use fallback::FallbackStore;

/// A backend's constructor: opens the store of a config (`cwd` resolves relative locations); `for_write` opens it as
/// the destination of a write (a DuckDB file that does not exist yet is created on the first write).
pub type Constructor =
    fn(cfg: &StoreConfig, cwd: &Path, for_write: bool) -> Result<Box<dyn MetadataStore>>;

/// The registry: the constructor of `kind`'s backend. Adding a backend = one line here.
pub fn backend(kind: StoreKind) -> Constructor {
    match kind {
        StoreKind::DuckDb => |cfg, cwd, for_write| {
            Ok(Box::new(if for_write {
                duckdb::DuckDbStore::open_for_write(cfg, cwd)?
            } else {
                duckdb::DuckDbStore::open(cfg, cwd)?
            }))
        },
        StoreKind::Delta => |cfg, cwd, _| Ok(Box::new(delta::DeltaStore::open(cfg, cwd)?)),
        StoreKind::LanceDb => |cfg, cwd, _| Ok(Box::new(lance::LanceStore::open(cfg, cwd)?)),
        StoreKind::Iceberg => |cfg, cwd, _| Ok(Box::new(iceberg::IcebergStore::open(cfg, cwd)?)),
        StoreKind::Postgres => |cfg, cwd, _| Ok(Box::new(postgres::PostgresStore::open(cfg, cwd)?)),
        StoreKind::ClickHouse => {
            |cfg, cwd, _| Ok(Box::new(clickhouse::ClickHouseStore::open(cfg, cwd)?))
        }
    }
}

/// Opens a configured store read-only and counts its feature tables (the system table excluded): whether the
/// store is reachable, for the TUI's stores screen. Errors as [`open_store`] and [`MetadataStore::list_tables`].
pub fn probe_store(cfg: &StoreConfig, cwd: &Path) -> Result<usize> {
    let store = open_store(cfg, cwd)?;
    Ok(store
        .list_tables()?
        .iter()
        .filter(|t| !t.starts_with("metaxy_system") && !t.starts_with("metaxy-system"))
        .count())
}

/// Opens the store described by `cfg` alone, without its fallback stores (read-only). `cwd` resolves relative
/// locations.
pub fn open_store(cfg: &StoreConfig, cwd: &Path) -> Result<Box<dyn MetadataStore>> {
    backend(cfg.kind)(cfg, cwd, false)
}

/// Opens the store described by `cfg` alone as the destination of a write (a copy into a new store): like
/// [`open_store`], but a DuckDB database file that does not exist yet is created on the first write instead of
/// failing the open (Metaxy's `open("w")` creates it). Reads of such a store see no tables.
pub fn open_store_for_write(cfg: &StoreConfig, cwd: &Path) -> Result<Box<dyn MetadataStore>> {
    backend(cfg.kind)(cfg, cwd, true)
}

/// Opens store `name` of `config` with its fallback chain (`fallback_stores`, to any depth, read-only).
///
/// Errors: [`EngineError::Config`] for an unknown store name; [`EngineError::Fallback`] for a cycle; any open error
/// of a store in the chain. A fallback store whose hash algorithm differs from its parent's is reported when a read
/// first needs it, as Metaxy does (features the primary store has stay readable).
pub fn open_store_chain(
    config: &MetaxyConfig,
    name: &str,
    cwd: &Path,
) -> Result<Box<dyn MetadataStore>> {
    open_chain(config, name, cwd, &mut vec![])
}

fn open_chain(
    config: &MetaxyConfig,
    name: &str,
    cwd: &Path,
    path: &mut Vec<String>,
) -> Result<Box<dyn MetadataStore>> {
    let cfg = config.store_config(Some(name))?;
    if path.iter().any(|p| p == name) {
        path.push(name.to_string());
        return Err(EngineError::Fallback(format!(
            "fallback stores form a cycle: {}",
            path.join(" -> ")
        )));
    }
    let primary = open_store(cfg, cwd)?;
    if cfg.fallback_stores.is_empty() {
        return Ok(primary);
    }
    path.push(name.to_string());
    let mut fallbacks = Vec::with_capacity(cfg.fallback_stores.len());
    for fb in &cfg.fallback_stores {
        fallbacks.push(open_chain(config, fb, cwd, path)?);
    }
    path.pop();
    Ok(Box::new(FallbackStore::new(primary, fallbacks)))
}
