//! A [`Workspace`]: resolved config + opened store + loaded feature graph. The single entry point the TUI and the
//! CLI share, so both always compute the same thing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use polars::prelude::DataFrame;

use crate::engine::config::{MetaxyConfig, StoreConfig};
use crate::engine::error::{EngineError, Result};
use crate::engine::graph::snapshot::{resolve_reference, SnapshotError, SnapshotRef};
use crate::engine::graph::{snapshots, FeatureGraph, PushedFeature, Snapshot};
use crate::engine::keys::FeatureKey;
use crate::engine::query::read::{read_feature, ReadOptions};
use crate::engine::store::{open_store, open_store_chain, MetadataStore, ReadsKeptOpen};
use crate::engine::versioning::resolve::{resolve_update, Increment, ResolveOptions};
use crate::engine::versioning::status::{feature_status, FeatureStatus};

/// The demo store shipped in `assets/demo/` (a copy of the `duckdb/s02_mutated` fixture written by real Metaxy:
/// a mutated root with stale, new and orphaned samples downstream).
pub const DEMO_DUCKDB: &[u8] = include_bytes!("../../assets/demo/metadata.duckdb");

/// How to open a workspace.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// `--config-file` (otherwise `METAXY_CONFIG`, then discovery upwards from `cwd`).
    pub config_file: Option<PathBuf>,
    /// `--store` (otherwise the config's default store).
    pub store: Option<String>,
    /// A historical project version to load instead of the current graph.
    pub snapshot: Option<String>,
    /// Working directory for discovery and for relative store paths.
    pub cwd: PathBuf,
    /// Environment snapshot (`METAXY_*` overrides, `${VAR}` interpolation).
    pub env: BTreeMap<String, String>,
    /// Keep the store's reads open for as long as the workspace lives ([`MetadataStore::keep_reads_open`]: a
    /// DuckDB file is then opened once for the graph and every later read, not once per read). For one-shot
    /// commands that only read; never for the TUI, whose workspace lives while idle (the file would stay locked
    /// against other processes' writes).
    pub keep_reads_open: bool,
}

impl OpenOptions {
    /// Options for the current process: its CWD and environment.
    pub fn from_process() -> Self {
        Self {
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            env: crate::engine::config::process_env(),
            ..Default::default()
        }
    }
}

/// An opened store with its feature graph.
pub struct Workspace {
    /// The resolved Metaxy config.
    pub config: MetaxyConfig,
    /// The selected store's config.
    pub store_config: StoreConfig,
    /// The opened store (read-only).
    pub store: Arc<dyn MetadataStore>,
    /// System-table rows (every pushed version).
    pub pushed: Vec<PushedFeature>,
    /// The loaded feature graph (current, or the requested snapshot).
    pub graph: Arc<FeatureGraph>,
    /// Whether this is the embedded demo store.
    pub demo: bool,
    /// The snapshot requested, if any.
    pub snapshot: Option<String>,
    /// When the store has no pushed graph: the configured store the graph was read from instead.
    pub graph_source: Option<String>,
    /// The store's [`MetadataStore::change_marker`] taken just before the workspace read the store: a later,
    /// different marker means the store changed since (live refresh).
    pub marker: Option<String>,
    /// [`OpenOptions::keep_reads_open`]'s guard (empty without it), only held until the workspace drops.
    _kept_open: ReadsKeptOpen,
}

impl Workspace {
    /// Resolves the config (Metaxy discovery rules), opens the store and loads the graph.
    pub fn open(opts: &OpenOptions) -> Result<Self> {
        let config = MetaxyConfig::load(opts.config_file.as_deref(), &opts.cwd, &opts.env)?;
        Self::from_config(config, opts, false)
    }

    /// Whether a Metaxy config would be found for `opts` (explicit file, `METAXY_CONFIG`, or discovery).
    pub fn config_exists(opts: &OpenOptions) -> bool {
        if opts.config_file.is_some() || opts.env.contains_key("METAXY_CONFIG") {
            return true;
        }
        MetaxyConfig::load(None, &opts.cwd, &opts.env)
            .map(|c| c.source.is_some())
            .unwrap_or(true)
    }

    /// Opens the embedded demo store, written once to a directory shared by every caller
    /// (`<temp>/metaxy-tui-demo-<size>`; a fixed path, so drawn paths are the same in every test run). Writes
    /// made there are seen by every later [`Workspace::open_demo`]: the TUI's `demo` opens
    /// [`Workspace::open_demo_private`] instead.
    pub fn open_demo(snapshot: Option<String>) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("metaxy-tui-demo-{}", DEMO_DUCKDB.len()));
        Self::open_demo_in(dir, snapshot)
    }

    /// Opens a private copy of the embedded demo store for this process (`<temp>/metaxy-tui-demo-<size>-<pid>`),
    /// so writes made in one `demo` run never show up in another. Copies left by processes that are gone are
    /// removed first (where `/proc` tells which processes live).
    pub fn open_demo_private(snapshot: Option<String>) -> Result<Self> {
        let base = std::env::temp_dir();
        let prefix = format!("metaxy-tui-demo-{}-", DEMO_DUCKDB.len());
        if std::path::Path::new("/proc/self").exists() {
            if let Ok(entries) = std::fs::read_dir(&base) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().to_string();
                    if let Some(pid) = name.strip_prefix(&prefix) {
                        if !std::path::Path::new("/proc").join(pid).exists() {
                            let _ = std::fs::remove_dir_all(e.path());
                        }
                    }
                }
            }
        }
        let dir = base.join(format!("{prefix}{}", std::process::id()));
        Self::open_demo_in(dir, snapshot)
    }

    fn open_demo_in(dir: PathBuf, snapshot: Option<String>) -> Result<Self> {
        let db = dir.join("metadata.duckdb");
        if std::fs::metadata(&db)
            .map(|m| m.len() as usize != DEMO_DUCKDB.len())
            .unwrap_or(true)
        {
            std::fs::create_dir_all(&dir)?;
            static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tmp = dir.join(format!(
                "metadata.duckdb.{}.{seq}.partial",
                std::process::id()
            ));
            std::fs::write(&tmp, DEMO_DUCKDB)?;
            std::fs::rename(&tmp, &db)?;
        }
        let toml = format!(
            "project = \"example_overview\"\nstore = \"demo\"\n[stores.demo]\ntype = \"metaxy.ext.duckdb.DuckDBMetadataStore\"\n[stores.demo.config]\ndatabase = {:?}\n",
            db.display().to_string()
        );
        let config = MetaxyConfig::from_toml_str(&toml, &dir, &BTreeMap::new())?;
        let opts = OpenOptions {
            cwd: dir,
            snapshot,
            ..Default::default()
        };
        Self::from_config(config, &opts, true)
    }

    fn from_config(config: MetaxyConfig, opts: &OpenOptions, demo: bool) -> Result<Self> {
        let store_config = config.store_config(opts.store.as_deref())?.clone();
        let store: Arc<dyn MetadataStore> =
            Arc::from(open_store_chain(&config, &store_config.name, &opts.cwd)?);
        let kept_open = if opts.keep_reads_open {
            store.keep_reads_open()
        } else {
            ReadsKeptOpen::default()
        };
        let marker = store.change_marker();
        let mut pushed = store.system_rows()?;
        let mut graph_source = None;
        if pushed.is_empty() {
            // A store without a pushed graph (e.g. the target of `metaxy metadata copy`, which does not copy the
            // system table): Metaxy takes the graph from code; we take it from another configured store that has
            // one, the default store first.
            let mut others: Vec<&StoreConfig> = config
                .stores
                .iter()
                .filter(|s| s.name != store_config.name)
                .collect();
            others.sort_by_key(|s| s.name != config.store);
            for other in others {
                if let Ok(st) = open_store(other, &opts.cwd) {
                    if let Ok(rows) = st.system_rows() {
                        if !rows.is_empty() {
                            pushed = rows;
                            graph_source = Some(other.name.clone());
                            break;
                        }
                    }
                }
            }
        }
        // `--snapshot` takes what graph-diff takes: `current`, `latest`, a project version or a unique prefix
        let snapshot: Option<String> = match opts.snapshot.as_deref() {
            None => None,
            Some(r) => match resolve_reference(r, &snapshots(&pushed, config.project.as_deref())) {
                Ok(SnapshotRef::Current) => None,
                Ok(SnapshotRef::Version(v)) => Some(v),
                Err(SnapshotError::Engine(e)) => return Err(e),
                Err(SnapshotError::Unknown { reference, .. }) => {
                    return Err(EngineError::UnknownSnapshot(reference))
                }
                Err(e) => return Err(EngineError::BadSnapshot(e.to_string())),
            },
        };
        let graph = FeatureGraph::from_rows(
            &pushed,
            config.project.as_deref(),
            snapshot.as_deref(),
            config.hash_truncation_length,
            store.name(),
        )?;
        Ok(Self {
            config,
            store_config,
            store,
            pushed,
            graph: Arc::new(graph),
            demo,
            snapshot,
            graph_source,
            marker,
            _kept_open: kept_open,
        })
    }

    /// Parses and checks a feature key against the graph.
    pub fn feature(&self, key: &str) -> Result<FeatureKey> {
        let k = FeatureKey::parse(key)?;
        self.graph.require(&k)?;
        Ok(k)
    }

    /// Default read (plus options) of a feature; `Ok(None)` when the store has no table for it.
    pub fn read(&self, key: &FeatureKey, opts: &ReadOptions) -> Result<Option<DataFrame>> {
        read_feature(self.store.as_ref(), &self.graph, key, opts)
    }

    /// `resolve_update` of a feature.
    pub fn increment(&self, key: &FeatureKey, opts: &ResolveOptions) -> Result<Increment> {
        resolve_update(self.store.as_ref(), &self.graph, key, opts)
    }

    /// Metadata status of a feature (errors become an `error` status).
    pub fn status(&self, key: &FeatureKey, opts: &ResolveOptions) -> FeatureStatus {
        feature_status(self.store.as_ref(), &self.graph, key, opts)
    }

    /// Metadata status of a feature, counted by the store where it can
    /// ([`crate::engine::versioning::status::feature_status_counts_first`]): the increment is only resolved (with
    /// `opts`) and returned where the store declines to count it.
    pub fn status_counts_first(&self, key: &FeatureKey, opts: &ResolveOptions) -> FeatureStatus {
        crate::engine::versioning::status::feature_status_counts_first(
            self.store.as_ref(),
            &self.graph,
            key,
            opts,
        )
    }

    /// Pushed project versions, newest first.
    pub fn history(&self) -> Vec<Snapshot> {
        snapshots(&self.pushed, Some(&self.graph.project))
    }

    /// The graph a snapshot reference denotes (`current`, `latest`, a project version or a unique prefix of one;
    /// see [`resolve_reference`]). `current` is the newest pushed project version, also when this workspace was
    /// opened on a historical snapshot. Reuses [`Self::graph`] when it is the requested version.
    pub fn graph_at(
        &self,
        reference: &str,
    ) -> std::result::Result<Arc<FeatureGraph>, SnapshotError> {
        let version = match resolve_reference(reference, &self.history())? {
            SnapshotRef::Current if self.snapshot.is_none() => return Ok(self.graph.clone()),
            SnapshotRef::Current => None,
            SnapshotRef::Version(v) if v == self.graph.project_version => {
                return Ok(self.graph.clone())
            }
            SnapshotRef::Version(v) => Some(v),
        };
        let graph = FeatureGraph::from_rows(
            &self.pushed,
            Some(&self.graph.project),
            version.as_deref(),
            self.config.hash_truncation_length,
            self.store.name(),
        )?;
        Ok(Arc::new(graph))
    }

    /// Short description of the store for status bars: `name (DuckDB: path)`.
    pub fn describe_store(&self) -> String {
        format!(
            "{} ({}: {})",
            self.store.name(),
            self.store_config.kind.display_name(),
            self.store.location()
        )
    }
}
