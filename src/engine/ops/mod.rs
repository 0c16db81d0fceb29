//! Operations that change a store: the write pipeline ([`write`]: system columns, provenance) and the mutations
//! built on it ([`mutate`]: write, delete, rebase, copy; [`drop`]: drop a feature's whole table), and the
//! validation every write passes first ([`validate`]).

pub mod drop;
pub mod mutate;
pub mod validate;
pub mod write;
