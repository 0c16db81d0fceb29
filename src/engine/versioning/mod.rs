//! Versioning: Metaxy's `resolve_update` (new, stale and orphaned samples, [`resolve`]), why a sample is stale
//! ([`cause`]), per-feature statuses ([`status`]), per-sample lookups across the graph ([`lookup`]), counts-only increments ([`counts`]), increment pages computed by the store ([`pages`]) and user samples
//! ([`samples`]).

pub mod cause;
pub mod counts;
pub mod lookup;
pub mod pages;
pub mod resolve;
pub mod samples;
pub mod status;
