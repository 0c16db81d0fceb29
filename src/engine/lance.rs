//! The LanceDB metadata store (Metaxy `LanceDBMetadataStore`, FORMAT.md §2.4), read with the `lancedb` crate.
//!
//! One Lance table per feature at `{uri}/{table_name}.lance` (`example__video.lance`,
//! `metaxy_system__feature_versions.lance`); strings are `large_string`; in Map mode a `*_by_field` column is a
//! `large_list<struct<key, value>>` (polars-map's extension type), which [`crate::engine::frame`] turns back into a
//! struct. `uri` is a local directory (resolved against the process CWD), an object-store URI (`s3://`, `gs://`,
//! `az://`) or LanceDB Cloud (`db://name`); `connect_kwargs` carries `storage_options`, `api_key`, `region` and
//! `host_override` as `lancedb.connect` takes them.

use std::path::Path;

use futures::TryStreamExt;
use lancedb::query::{ExecutableQuery, QueryBase};
use lancedb::Connection;
use polars::prelude::DataFrame;

use crate::engine::config::{HashAlgorithm, StoreConfig, StoreKind};
use crate::engine::delta::is_remote;
use crate::engine::error::{EngineError, Result};
use crate::engine::frame::record_batches_to_df;
use crate::engine::keys::FeatureKey;
use crate::engine::rt::block_on;
use crate::engine::store::{resolve_local_path, storage_options, MetadataStore, ResolvedFrom};

/// A LanceDB metadata store, read-only.
pub struct LanceStore {
    name: String,
    /// `uri` as configured (Metaxy displays it, credentials masked).
    uri: String,
    hash_algorithm: HashAlgorithm,
    /// `None` for a local directory that does not exist yet (an empty store; Metaxy would create it).
    conn: Option<Connection>,
}

/// Metaxy's `sanitize_uri`: masks `user:password@` in URIs; local paths are returned unchanged.
pub fn sanitize_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_string();
    };
    if matches!(scheme, "file" | "local") {
        return uri.to_string();
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((cred, host)) => {
            let masked = if cred.contains(':') { "***:***" } else { "***" };
            format!("{scheme}://{masked}@{host}{path}")
        }
        None => uri.to_string(),
    }
}

impl LanceStore {
    /// Connects to the store of `cfg` (`uri`, `connect_kwargs`).
    ///
    /// Errors: [`EngineError::StoreOpen`] when LanceDB cannot connect (bad URI, unreachable object store, bad
    /// credentials for `db://`).
    pub fn open(cfg: &StoreConfig, cwd: &Path) -> Result<Self> {
        let uri = cfg.location()?;
        let err = |m: String| EngineError::StoreOpen {
            store: cfg.name.clone(),
            location: sanitize_uri(&uri),
            message: m,
        };
        let kwargs = cfg.config.get("connect_kwargs").and_then(|v| v.as_object());
        let target = if is_remote(&uri) {
            uri.clone()
        } else {
            resolve_local_path(&uri, cwd).display().to_string()
        };
        let conn = if !is_remote(&uri) && !Path::new(&target).is_dir() {
            None
        } else {
            let mut b = lancedb::connect(&target);
            if let Some(kw) = kwargs {
                b = b.storage_options(storage_options(kw.get("storage_options")));
                let get = |k: &str| kw.get(k).and_then(|v| v.as_str());
                if let Some(v) = get("api_key") {
                    b = b.api_key(v);
                }
                if let Some(v) = get("region") {
                    b = b.region(v);
                }
                if let Some(v) = get("host_override") {
                    b = b.host_override(v);
                }
            }
            Some(block_on(b.execute()).map_err(|e| err(e.to_string()))?)
        };
        Ok(Self {
            name: cfg.name.clone(),
            uri,
            hash_algorithm: cfg.hash_algorithm,
            conn,
        })
    }

    fn err(&self, m: impl Into<String>) -> EngineError {
        EngineError::StoreOpen {
            store: self.name.clone(),
            location: sanitize_uri(&self.uri),
            message: m.into(),
        }
    }

    async fn table_names(&self) -> Result<Vec<String>> {
        match &self.conn {
            None => Ok(vec![]),
            Some(c) => c
                .table_names()
                .execute()
                .await
                .map_err(|e| self.err(e.to_string())),
        }
    }

    async fn read_table(
        &self,
        key: &FeatureKey,
        feature_version: Option<&str>,
    ) -> Result<DataFrame> {
        let table_name = key.table_name();
        let corrupt = |m: String| EngineError::CorruptTable {
            table: format!("{table_name}.lance"),
            message: m,
        };
        let conn = self
            .conn
            .as_ref()
            .ok_or_else(|| self.err("store directory does not exist"))?;
        let table = conn
            .open_table(&table_name)
            .execute()
            .await
            .map_err(|e| corrupt(e.to_string()))?;
        let schema = table.schema().await.map_err(|e| corrupt(e.to_string()))?;
        let mut query = table.query();
        if let Some(v) = feature_version {
            if schema.field_with_name("metaxy_feature_version").is_ok() {
                query = query.only_if(format!(
                    "metaxy_feature_version = '{}'",
                    v.replace('\'', "''")
                ));
            }
        }
        let stream = query.execute().await.map_err(|e| corrupt(e.to_string()))?;
        let batches: Vec<_> = stream
            .try_collect()
            .await
            .map_err(|e| corrupt(e.to_string()))?;
        let schema = batches.first().map(|b| b.schema()).unwrap_or(schema);
        record_batches_to_df(&schema, &batches)
    }
}

impl MetadataStore for LanceStore {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> StoreKind {
        StoreKind::LanceDb
    }
    fn display(&self) -> String {
        format!("LanceDBMetadataStore(path={})", sanitize_uri(&self.uri))
    }
    fn class_path(&self) -> &'static str {
        "metaxy.ext.lancedb.metadata_store.LanceDBMetadataStore"
    }
    fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash_algorithm
    }
    fn location(&self) -> String {
        sanitize_uri(&self.uri)
    }
    fn table_name(&self, key: &FeatureKey) -> String {
        key.table_name()
    }
    fn local(&self) -> &dyn MetadataStore {
        self
    }
    fn resolved_from(&self, _key: &FeatureKey) -> ResolvedFrom {
        ResolvedFrom {
            name: self.name.clone(),
            type_path: self.class_path().to_string(),
            display: self.display(),
            table_name: None,
            uri: None,
        }
    }
    fn has_feature(&self, key: &FeatureKey) -> Result<bool> {
        Ok(self.list_tables()?.contains(&key.table_name()))
    }
    fn list_tables(&self) -> Result<Vec<String>> {
        block_on(self.table_names())
    }
    fn scan(&self, key: &FeatureKey, feature_version: Option<&str>) -> Result<Option<DataFrame>> {
        if !self.has_feature(key)? {
            return Ok(None);
        }
        block_on(self.read_table(key, feature_version)).map(Some)
    }
}
