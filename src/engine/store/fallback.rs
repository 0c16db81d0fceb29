//! [`FallbackStore`]: a primary store with read-only fallback stores (Metaxy `fallback_stores`).

use polars::prelude::*;

use crate::engine::config::{HashAlgorithm, StoreKind};
use crate::engine::error::{EngineError, Result};
use crate::engine::graph::PushedFeature;
use crate::engine::keys::FeatureKey;
use crate::engine::store::api::{
    Columns, KeyRange, LatestScan, MetadataStore, ReadsKeptOpen, ResolvedFrom,
};

/// A store with read-only fallback stores (Metaxy `fallback_stores`): a feature missing in the primary store is
/// read entirely from the first fallback (depth first) that has it, never mixed. Everything else (name, display,
/// system table, hash algorithm) is the primary's.
pub struct FallbackStore {
    primary: Box<dyn MetadataStore>,
    fallbacks: Vec<Box<dyn MetadataStore>>,
}

impl FallbackStore {
    /// Chains `primary` with its `fallbacks` (searched depth first, in config order).
    pub fn new(primary: Box<dyn MetadataStore>, fallbacks: Vec<Box<dyn MetadataStore>>) -> Self {
        FallbackStore { primary, fallbacks }
    }

    /// Metaxy's `find_store_for_feature`: the primary if it has `key`, else the first fallback that does (depth
    /// first, in config order).
    ///
    /// Errors: [`EngineError::Fallback`] when the answer would come from a fallback store whose hash algorithm
    /// differs from the primary's (Metaxy raises the same `ValueError` on that read).
    fn find(&self, key: &FeatureKey) -> Result<Option<&dyn MetadataStore>> {
        if self.primary.has_feature(key)? {
            return Ok(Some(self.primary.as_ref()));
        }
        for fb in &self.fallbacks {
            if fb.has_feature(key)? {
                if fb.hash_algorithm() != self.primary.hash_algorithm() {
                    return Err(EngineError::Fallback(format!(
                        "Fallback store '{}' uses hash_algorithm='{}' but parent store uses '{}'. All stores in a fallback chain must use the same hash algorithm.",
                        fb.name(),
                        fb.hash_algorithm().as_str(),
                        self.primary.hash_algorithm().as_str()
                    )));
                }
                return Ok(Some(fb.as_ref()));
            }
        }
        Ok(None)
    }

    /// Names of the fallback stores, in order.
    pub fn fallback_names(&self) -> Vec<String> {
        self.fallbacks
            .iter()
            .map(|f| f.name().to_string())
            .collect()
    }
}

impl MetadataStore for FallbackStore {
    fn name(&self) -> &str {
        self.primary.name()
    }
    fn kind(&self) -> StoreKind {
        self.primary.kind()
    }
    fn display(&self) -> String {
        self.primary.display()
    }
    fn class_path(&self) -> &'static str {
        self.primary.class_path()
    }
    fn hash_algorithm(&self) -> HashAlgorithm {
        self.primary.hash_algorithm()
    }
    fn location(&self) -> String {
        self.primary.location()
    }
    fn table_name(&self, key: &FeatureKey) -> String {
        match self.find(key) {
            Ok(Some(s)) => s.table_name(key),
            _ => self.primary.table_name(key),
        }
    }
    fn has_feature(&self, key: &FeatureKey) -> Result<bool> {
        Ok(self.find(key)?.is_some())
    }
    fn list_tables(&self) -> Result<Vec<String>> {
        self.primary.list_tables()
    }
    fn scan(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
    ) -> Result<Option<DataFrame>> {
        match self.find(key)? {
            Some(s) => s.scan(key, feature_version, columns),
            None => Ok(None),
        }
    }
    fn scan_ids(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        ids: &crate::engine::store::filter::IdFilter,
    ) -> Result<Option<DataFrame>> {
        match self.find(key)? {
            Some(s) => s.scan_ids(key, feature_version, columns, ids),
            None => Ok(None),
        }
    }
    fn scan_latest(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        id_columns: &[String],
    ) -> Result<LatestScan> {
        match self.find(key)? {
            Some(s) => s.scan_latest(key, feature_version, columns, id_columns),
            None => Ok(LatestScan::Missing),
        }
    }
    fn scan_ordered(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        columns: &Columns,
        range: &KeyRange<'_>,
    ) -> Result<LatestScan> {
        match self.find(key)? {
            Some(s) => s.scan_ordered(key, feature_version, columns, range),
            None => Ok(LatestScan::Missing),
        }
    }
    fn local(&self) -> &dyn MetadataStore {
        self.primary.local()
    }
    fn resolved_from(&self, key: &FeatureKey) -> ResolvedFrom {
        match self.find(key) {
            Ok(Some(s)) => s.resolved_from(key),
            _ => self.primary.resolved_from(key),
        }
    }
    fn source_of(&self, key: &FeatureKey) -> Result<Option<String>> {
        match self.find(key)? {
            Some(s) => s.source_of(key),
            None => Ok(None),
        }
    }
    fn append(&self, key: &FeatureKey, df: &DataFrame) -> Result<()> {
        self.primary.append(key, df)
    }
    fn rows_per_feature_version(&self, key: &FeatureKey) -> Result<Option<Vec<(String, usize)>>> {
        self.primary.rows_per_feature_version(key)
    }
    fn delete_rows(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
        filters: &[String],
    ) -> Result<usize> {
        self.primary.delete_rows(key, feature_version, filters)
    }
    fn drop_feature(&self, key: &FeatureKey) -> Result<bool> {
        self.primary.drop_feature(key)
    }
    fn drop_keeps_empty_table(&self) -> bool {
        self.primary.drop_keeps_empty_table()
    }
    fn system_rows(&self) -> Result<Vec<PushedFeature>> {
        self.primary.system_rows()
    }
    /// The primary's and every fallback's.
    fn keep_reads_open(&self) -> ReadsKeptOpen {
        self.fallbacks
            .iter()
            .fold(self.primary.keep_reads_open(), |k, f| {
                k.and(f.keep_reads_open())
            })
    }

    /// The primary's marker and every fallback's (`None` when none of them can tell).
    fn change_marker(&self) -> Option<String> {
        let parts: Vec<Option<String>> = std::iter::once(self.primary.change_marker())
            .chain(self.fallbacks.iter().map(|f| f.change_marker()))
            .collect();
        parts.iter().any(Option::is_some).then(|| {
            parts
                .iter()
                .map(|p| p.as_deref().unwrap_or("?"))
                .collect::<Vec<_>>()
                .join("||")
        })
    }
}
