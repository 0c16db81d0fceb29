//! Operations that change a store: the write pipeline ([`write`]: system columns, provenance) and the mutations
//! built on it ([`mutate`]: write, delete, rebase, copy), and the validation every write passes first ([`validate`]).

pub mod mutate;
pub mod validate;
pub mod write;
