//! Reads: Metaxy's read semantics over any store ([`read`]) and keyset pages of a read ([`page`]).

pub mod page;
pub mod read;
