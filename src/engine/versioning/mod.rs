//! Versioning: Metaxy's `resolve_update` (new, stale and orphaned samples, [`resolve`]), why a sample is stale
//! ([`cause`]), per-feature statuses ([`status`]), counts-only increments ([`counts`]) and user samples
//! ([`samples`]).

pub mod cause;
pub mod counts;
pub mod resolve;
pub mod samples;
pub mod status;
