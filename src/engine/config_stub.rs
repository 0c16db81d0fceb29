//! temporary stub
use std::collections::BTreeMap;
#[derive(Debug, thiserror::Error)]
pub enum ConfigError { #[error("x")] X }
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind { DuckDb, Delta, LanceDb }
impl StoreKind { pub fn display_name(&self) -> &'static str { "x" } }
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm { Xxhash32, Xxhash64, Xxh3_64, Wyhash, Sha256, Md5, Farmhash }
impl HashAlgorithm { pub fn as_str(&self) -> &'static str { "x" } }
#[derive(Debug, Clone)]
pub struct StoreConfig { pub name: String, pub type_path: String, pub kind: StoreKind, pub config: serde_json::Map<String, serde_json::Value>, pub hash_algorithm: HashAlgorithm, pub fallback_stores: Vec<String> }
impl StoreConfig { pub fn location(&self) -> Result<String, ConfigError> { Ok(self.config.get("database").and_then(|v| v.as_str()).unwrap_or("").to_string()) } }
pub fn process_env() -> BTreeMap<String,String> { BTreeMap::new() }
