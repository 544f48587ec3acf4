//! Renderers: turn the library's models into aligned tables and sizes for people.
//!
//! JSON output is serde over the same models; this module holds what every human-readable
//! command shares: sizes ([`size`]), tables ([`table`]) and shell words ([`shell`]).

pub mod shell;
pub mod size;
pub mod table;
pub mod time;

/// `1 object`, `2 objects`: a count with its noun in the right number.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
