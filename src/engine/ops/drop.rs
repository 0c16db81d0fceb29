//! Dropping a feature's metadata (Metaxy's `MetadataStore.drop_feature_metadata`): the feature's whole table goes
//! (every feature version, every row, tombstones included), the system table (`metaxy-system/feature_versions`,
//! the pushed graph) stays. Split like the other mutations into a *plan* ([`plan_drop`]: reads only, the stored
//! rows per feature version for previews and `--dry-run`) and an *execute* step ([`execute_drop`]: one
//! transaction / commit per feature).
//!
//! Only the store's own tables are dropped ([`MetadataStore::local`]): a feature read from a fallback store is
//! skipped, never dropped there. On Delta, Metaxy commits a delete of every row and keeps the empty table
//! ([`MetadataStore::drop_keeps_empty_table`]), and so do we: the feature then still exists with no rows.

use crate::engine::error::{EngineError, Result};
use crate::engine::graph::FeatureGraph;
use crate::engine::keys::FeatureKey;
use crate::engine::ops::mutate::check_project;
use crate::engine::store::MetadataStore;

/// What a drop will do to one feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureDrop {
    /// The feature.
    pub feature: FeatureKey,
    /// Where its table is in the store, for people (table name, Delta URI or Iceberg identifier).
    pub table: String,
    /// Stored rows of the table per `metaxy_feature_version` (history and tombstones included), most rows first
    /// (the store's [`MetadataStore::rows_per_feature_version`]). Empty when the table holds no row or is missing.
    pub versions: Vec<(String, usize)>,
    /// The feature version the current graph computes for the feature (`None` when the graph does not know it).
    pub current_version: Option<String>,
    /// Why nothing will be dropped here (the store has no table for the feature; it may be read from a fallback
    /// store, which is never written). `versions` is then empty.
    pub skipped: Option<String>,
    /// Something to know before confirming (the key is not a feature of the current graph; Delta keeps an empty
    /// table).
    pub note: Option<String>,
}

impl FeatureDrop {
    /// Stored rows that will be dropped.
    pub fn rows(&self) -> usize {
        self.versions.iter().map(|(_, n)| n).sum()
    }
}

/// The previewed effect of dropping features' metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropPlan {
    /// The store whose tables are dropped (the primary store of a fallback chain).
    pub store: String,
    /// Whether the store keeps an empty table (Delta) rather than removing it.
    pub keeps_empty_table: bool,
    /// One entry per requested feature, in request order (duplicates removed).
    pub features: Vec<FeatureDrop>,
}

impl DropPlan {
    /// Stored rows that will be dropped, over every feature.
    pub fn total_rows(&self) -> usize {
        self.features.iter().map(FeatureDrop::rows).sum()
    }

    /// The features whose table will be dropped (not skipped).
    pub fn dropped(&self) -> impl Iterator<Item = &FeatureDrop> {
        self.features.iter().filter(|f| f.skipped.is_none())
    }
}

/// Refuses the system tables: Metaxy's `drop_feature_metadata` raises for keys under `metaxy-system`
/// (`NotImplementedError: ... does not support deletes for system tables`); we also refuse any key whose table
/// name is a system table's (`metaxy_system/...` maps onto the same DuckDB table).
fn check_not_system(key: &FeatureKey) -> Result<()> {
    let first = key.parts().first().map(String::as_str).unwrap_or_default();
    if first == "metaxy-system" || key.table_name().starts_with("metaxy_system") {
        return Err(EngineError::InvalidOperation(format!(
            "{key} is a Metaxy system table; drop never touches system tables (Metaxy refuses too)"
        )));
    }
    Ok(())
}

/// Plans dropping the metadata of `keys` from `store`'s own tables: for each feature its table and stored rows
/// per feature version, read now. Metaxy's `drop_feature_metadata` takes any key; we refuse system keys and keys
/// only another project pushed (as every write does, [`check_project`]); a key no project pushed (the table of a
/// feature since removed from the code) is allowed with a note.
///
/// Errors: [`EngineError::InvalidOperation`] for a system key or an empty request, [`EngineError::ForeignProject`],
/// and any read error of the store.
pub fn plan_drop(
    store: &dyn MetadataStore,
    graph: &FeatureGraph,
    keys: &[FeatureKey],
) -> Result<DropPlan> {
    if keys.is_empty() {
        return Err(EngineError::InvalidOperation(
            "no feature to drop: pass feature keys".into(),
        ));
    }
    let local = store.local();
    let mut features: Vec<FeatureDrop> = Vec::with_capacity(keys.len());
    for key in keys {
        check_not_system(key)?;
        let mut note = match check_project(graph, key) {
            Ok(_) => None,
            Err(EngineError::UnknownFeature(..)) => Some(format!(
                "{key} is not a feature of the current graph (its table is dropped all the same)"
            )),
            Err(e) => return Err(e),
        };
        if features.iter().any(|f| &f.feature == key) {
            continue;
        }
        let rf = local.resolved_from(key);
        let table = rf
            .table_name
            .or(rf.uri)
            .or(rf.identifier)
            .unwrap_or_else(|| local.table_name(key));
        let (versions, skipped) = match local.rows_per_feature_version(key)? {
            Some(v) => (v, None),
            None => {
                let mut why = format!("no table {table} in store {:?}", local.name());
                if let Some(src) = store
                    .source_of(key)
                    .ok()
                    .flatten()
                    .filter(|s| s != local.name())
                {
                    why.push_str(&format!(
                        "; it is read from fallback store {src:?}, which is never written"
                    ));
                }
                (vec![], Some(why))
            }
        };
        if skipped.is_none() && local.drop_keeps_empty_table() {
            let delta = "the Delta table stays, empty (Metaxy's drop commits a delete of every row): the feature still exists with 0 rows and hides fallback stores".to_string();
            note = Some(match note {
                Some(n) => format!("{n}; {delta}"),
                None => delta,
            });
        }
        features.push(FeatureDrop {
            feature: key.clone(),
            table,
            versions,
            current_version: graph.feature_version(key).map(str::to_string),
            skipped,
            note,
        });
    }
    Ok(DropPlan {
        store: local.name().to_string(),
        keeps_empty_table: local.drop_keeps_empty_table(),
        features,
    })
}

/// Performs a planned drop, feature by feature (each one transaction / commit), on the store's own tables.
/// Returns `(feature, rows dropped)` per feature in plan order (0 for skipped features and for tables that were
/// gone meanwhile); stops at the first error, features before it staying dropped.
///
/// Errors: [`EngineError::InvalidOperation`] for a system key (re-checked here), [`EngineError::Write`].
pub fn execute_drop(
    store: &dyn MetadataStore,
    plan: &DropPlan,
) -> Result<Vec<(FeatureKey, usize)>> {
    let local = store.local();
    let mut done = Vec::with_capacity(plan.features.len());
    for f in &plan.features {
        check_not_system(&f.feature)?;
        if f.skipped.is_some() {
            done.push((f.feature.clone(), 0));
            continue;
        }
        if !done.is_empty() {
            crate::engine::fault::point("write.between_features");
        }
        let dropped = local.drop_feature(&f.feature)?;
        done.push((f.feature.clone(), if dropped { f.rows() } else { 0 }));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_keys_are_refused() {
        for k in [
            "metaxy-system/feature_versions",
            "metaxy_system/feature_versions",
            "metaxy-system/events",
        ] {
            let e = check_not_system(&FeatureKey::from_str_unchecked(k)).unwrap_err();
            assert!(e.to_string().contains("system table"), "{k}: {e}");
        }
        assert!(check_not_system(&FeatureKey::from_str_unchecked("example/crop")).is_ok());
    }
}
