//! Reads: Metaxy's read semantics over any store ([`read`]), keyset pages of a read ([`page`]) and frame cells
//! as JSON ([`json`]).

pub mod json;
pub mod page;
pub mod read;
