//! Per-feature metadata status (Metaxy `get_feature_metadata_status`, CLI `metadata status`).

use serde_json::{json, Map, Value};

use crate::engine::error::Result;
use crate::engine::graph::FeatureGraph;
use crate::engine::keys::FeatureKey;
use crate::engine::query::read::{read_feature, ReadOptions};
use crate::engine::store::MetadataStore;
use crate::engine::versioning::resolve::{resolve_update, Increment, ResolveOptions};

/// Status category, in Metaxy's words (`missing`, `needs_update`, `up_to_date`, `root_feature`, `error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCategory {
    /// The store has no table for the feature.
    Missing,
    /// New, stale or orphaned samples exist.
    NeedsUpdate,
    /// Nothing to do.
    UpToDate,
    /// Root feature: its increment needs samples.
    RootFeature,
    /// Computing the status failed (message in `error_message`).
    Error,
}

impl StatusCategory {
    /// Metaxy's JSON string.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::NeedsUpdate => "needs_update",
            Self::UpToDate => "up_to_date",
            Self::RootFeature => "root_feature",
            Self::Error => "error",
        }
    }
    /// Metaxy's status icon (`○ ⚠ ✓ ✗ !`).
    pub fn icon(&self) -> &'static str {
        match self {
            Self::Missing => "✗",
            Self::NeedsUpdate => "⚠",
            Self::UpToDate => "✓",
            Self::RootFeature => "○",
            Self::Error => "!",
        }
    }
}

/// Status of one feature (Metaxy `FullFeatureMetadataRepresentation`).
#[derive(Debug, Clone)]
pub struct FeatureStatus {
    /// Feature key.
    pub feature_key: FeatureKey,
    /// Category.
    pub status: StatusCategory,
    /// Whether anything is new, stale or orphaned.
    pub needs_update: bool,
    /// Whether the store has a table for the feature.
    pub metadata_exists: bool,
    /// Rows of the default read (current version, latest per id, live), after filters.
    pub store_rows: usize,
    /// New samples (`None` for root features and errors).
    pub missing: Option<usize>,
    /// Stale samples.
    pub stale: Option<usize>,
    /// Orphaned samples.
    pub orphaned: Option<usize>,
    /// Current feature version.
    pub target_version: String,
    /// Root feature.
    pub is_root_feature: bool,
    /// `store_metadata` JSON (`name`, `display`, `resolved_from`).
    pub store_metadata: Option<Value>,
    /// Error text for `Error`.
    pub error_message: Option<String>,
    /// The increment, when one was computed.
    pub increment: Option<Increment>,
}

impl FeatureStatus {
    /// An `error` status carrying `message` (what Metaxy's CLI reports for a feature whose status failed).
    pub fn error(key: &FeatureKey, message: String) -> Self {
        FeatureStatus {
            feature_key: key.clone(),
            status: StatusCategory::Error,
            needs_update: false,
            metadata_exists: false,
            store_rows: 0,
            missing: None,
            stale: None,
            orphaned: None,
            target_version: String::new(),
            is_root_feature: false,
            store_metadata: None,
            error_message: Some(message),
            increment: None,
        }
    }

    /// JSON exactly as Metaxy's `metadata status --format json` prints one feature (None values dropped).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("feature_key".into(), json!(self.feature_key.to_string()));
        m.insert("status".into(), json!(self.status.as_str()));
        m.insert("needs_update".into(), json!(self.needs_update));
        m.insert("metadata_exists".into(), json!(self.metadata_exists));
        m.insert("store_rows".into(), json!(self.store_rows));
        for (k, v) in [
            ("missing", self.missing),
            ("stale", self.stale),
            ("orphaned", self.orphaned),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        m.insert("target_version".into(), json!(self.target_version));
        m.insert("is_root_feature".into(), json!(self.is_root_feature));
        if let Some(sm) = &self.store_metadata {
            m.insert("store_metadata".into(), sm.clone());
        }
        if let Some(e) = &self.error_message {
            m.insert("error_message".into(), json!(e));
        }
        Value::Object(m)
    }
}

/// Metaxy's `get_store_metadata(key)`: `{name, display, resolved_from?}`.
pub fn store_metadata(store: &dyn MetadataStore, key: &FeatureKey) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(store.name()));
    m.insert("display".into(), json!(store.display()));
    if store.has_feature(key).unwrap_or(false) {
        m.insert(
            "resolved_from".into(),
            serde_json::to_value(store.resolved_from(key)).unwrap_or(Value::Null),
        );
    }
    Value::Object(m)
}

/// Computes the status of `key`. Failures are reported as an `Error` status (as Metaxy's CLI does), never as `Err`.
pub fn feature_status(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    opts: &ResolveOptions,
) -> FeatureStatus {
    feature_status_inner(store, graph, key, opts, opts.narrow_target)
        .unwrap_or_else(|e| FeatureStatus::error(key, e.to_string()))
}

/// Like [`feature_status`], but always tries the counts-only paths first
/// ([`crate::engine::versioning::counts::absent_target_counts`], then
/// [`crate::engine::versioning::counts::increment_counts`]: counted by the store, no row frames) whatever
/// `opts.narrow_target` says; only where the store declines is the increment resolved, with `opts` as given, and
/// returned in [`FeatureStatus::increment`] (so a caller that shows rows can pass `narrow_target: false` and reuse
/// it). The counts are those of [`feature_status`] (equal by construction). Failures are an `Error` status.
pub fn feature_status_counts_first(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    opts: &ResolveOptions,
) -> FeatureStatus {
    feature_status_inner(store, graph, key, opts, true)
        .unwrap_or_else(|e| FeatureStatus::error(key, e.to_string()))
}

/// Metaxy's `Materialized` count: rows of the default read (fallback stores allowed) after the global and target
/// filters; `None` when no store of the chain has the table.
fn materialized(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    opts: &ResolveOptions,
) -> Result<Option<usize>> {
    let mut filters = opts.global_filters.clone();
    filters.extend(opts.target_filters.iter().cloned());
    let read = read_feature(
        store,
        graph,
        key,
        &ReadOptions {
            filters,
            unsorted: true,
            // a count: only the columns the read semantics and the filters need
            columns: crate::engine::store::Columns::Only(vec![]),
            ..Default::default()
        },
    )?;
    Ok(read.map(|d| d.height()))
}

fn feature_status_inner(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    key: &FeatureKey,
    opts: &ResolveOptions,
    try_counts: bool,
) -> Result<FeatureStatus> {
    let def = graph.require(key)?;
    let is_root = def.spec.is_root();
    let target_version = graph.feature_version(key).unwrap_or_default().to_string();
    let store_metadata = Some(store_metadata(store, key));
    if is_root {
        let read = materialized(store, graph, key, opts)?;
        let metadata_exists = read.is_some();
        return Ok(FeatureStatus {
            feature_key: key.clone(),
            status: if metadata_exists {
                StatusCategory::RootFeature
            } else {
                StatusCategory::Missing
            },
            needs_update: false,
            metadata_exists,
            store_rows: read.unwrap_or(0),
            missing: None,
            stale: None,
            orphaned: None,
            target_version,
            is_root_feature: true,
            store_metadata,
            error_message: None,
            increment: None,
        });
    }
    // counts only: the store may count the increment itself
    let fast = if try_counts {
        use crate::engine::versioning::counts::{absent_target_counts, increment_counts};
        if store.local().counts_stay_in_store() {
            // a server that computes the increment itself: nothing but the counts leaves it
            match increment_counts(store, graph, key, opts)? {
                Some(c) => Some(c),
                None => absent_target_counts(store, graph, key, opts)?,
            }
        } else {
            match absent_target_counts(store, graph, key, opts)? {
                Some(c) => Some(c),
                None => increment_counts(store, graph, key, opts)?,
            }
        }
    } else {
        None
    };
    // one read of the target: the increment's comparison read also gives the Materialized count
    let (inc, target_exists, current_rows, (n, s, o)) = match fast {
        Some(c) => (
            None,
            c.target_exists,
            c.current_rows,
            (c.new, c.stale, c.orphaned),
        ),
        None => {
            let inc = resolve_update(store, graph, key, opts)?;
            let counts = (inc.new.height(), inc.stale.height(), inc.orphaned.height());
            let (e, r) = (inc.target_exists, inc.current_rows);
            (Some(inc), e, r, counts)
        }
    };
    let (mut metadata_exists, mut store_rows) = (target_exists, current_rows);
    if !metadata_exists && store.has_feature(key)? {
        // Metaxy counts `Materialized` with allow_fallback=True but compares against the primary store only
        let read = materialized(store, graph, key, opts)?;
        metadata_exists = read.is_some();
        store_rows = read.unwrap_or(0);
    }
    let needs_update = n > 0 || s > 0 || o > 0;
    Ok(FeatureStatus {
        feature_key: key.clone(),
        status: if !metadata_exists {
            StatusCategory::Missing
        } else if needs_update {
            StatusCategory::NeedsUpdate
        } else {
            StatusCategory::UpToDate
        },
        needs_update,
        metadata_exists,
        store_rows,
        missing: Some(n),
        stale: Some(s),
        orphaned: Some(o),
        target_version,
        is_root_feature: false,
        store_metadata,
        error_message: None,
        increment: inc,
    })
}

/// The whole `metadata status --format json` document for `statuses` (in order).
pub fn status_document(statuses: &[FeatureStatus], snapshot: Option<&str>) -> Value {
    let mut features = Map::new();
    let mut errors = Vec::new();
    for s in statuses {
        features.insert(s.feature_key.to_string(), s.to_json());
        if let Some(e) = &s.error_message {
            errors.push(json!({"feature": s.feature_key.to_string(), "error": e}));
        }
    }
    let mut m = Map::new();
    m.insert(
        "project_version".into(),
        snapshot.map(|s| json!(s)).unwrap_or(Value::Null),
    );
    m.insert("features".into(), Value::Object(features));
    m.insert(
        "needs_update".into(),
        json!(statuses.iter().any(|s| s.needs_update)),
    );
    if !errors.is_empty() {
        m.insert("warnings".into(), json!({"errors": errors}));
    }
    Value::Object(m)
}
