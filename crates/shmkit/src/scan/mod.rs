//! The scan: one pass over `/proc`, `/sys` and the tmpfs mounts that finds every
//! shared-memory object on the host, who holds it, and what leaked.

pub mod model;

pub use model::*;
