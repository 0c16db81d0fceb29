//! Reads: Metaxy's read semantics over any store ([`read`]), keyset pages of a read ([`page`]) and frame cells
//! as JSON ([`json`]), and the reads the TUI and the CLI share ([`view`]: first page, page fetch, view rows and
//! their count, file-write plan, filtered increments with stale causes).

pub mod json;
pub mod page;
pub mod read;
pub mod view;
