//! Renderers: turn the library's models into aligned tables and sizes for people.
//!
//! JSON output is serde over the same models; this module holds what every human-readable
//! command shares: sizes ([`size`]) and tables ([`table`]).

pub mod size;
pub mod table;
pub mod time;
