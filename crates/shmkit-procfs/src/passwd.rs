//! `/etc/passwd` and `/etc/group`: id ↔ name tables for display.
//!
//! Both formats keep the numeric id in the third `:`-separated field. Malformed lines, comments
//! and NIS `+`/`-` entries are skipped, not fatal: a broken line in `/etc/passwd` must not stop
//! a listing. When an id or a name appears twice, the first entry wins, as with `getpwuid`.

use std::collections::HashMap;

use crate::error::ParseError;

/// Names by id and ids by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameTable {
    by_id: HashMap<u32, String>,
    by_name: HashMap<String, u32>,
}

impl NameTable {
    /// The name of `id`.
    pub fn name(&self, id: u32) -> Option<&str> {
        self.by_id.get(&id).map(String::as_str)
    }

    /// The id of `name`.
    pub fn id(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// Number of distinct ids.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True if no entries were read.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// Parse `/etc/passwd` or `/etc/group` text. Never fails; the `Result` keeps the shape of the
/// other parsers.
pub fn parse(text: &str) -> Result<NameTable, ParseError> {
    let mut t = NameTable::default();
    for l in text.lines() {
        if l.starts_with('#') || l.starts_with('+') || l.starts_with('-') {
            continue;
        }
        let mut f = l.split(':');
        let (Some(name), Some(_pw), Some(id)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let (name, Ok(id)) = (name.trim(), id.trim().parse::<u32>()) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        t.by_id.entry(id).or_insert_with(|| name.to_owned());
        t.by_name.entry(name.to_owned()).or_insert(id);
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_and_group_lines_with_malformed_ones_skipped() {
        let t = parse(
            "root:x:0:0:root:/root:/bin/bash\n# comment\nbroken line\nnoid:x::1::/:\n\
+nis::::::\nbig:x:100000:100000::/home/big:/bin/sh\ndup:x:0:0::/:\nneg:x:-5:0::/:\n",
        )
        .unwrap();
        assert_eq!(t.name(0), Some("root"));
        assert_eq!(t.id("dup"), Some(0));
        assert_eq!(t.name(100_000), Some("big"));
        assert_eq!(t.id("big"), Some(100_000));
        assert_eq!(t.id("noid"), None);
        assert_eq!(t.id("neg"), None);
        assert_eq!(t.len(), 2);
        let g = parse("shm:x:4242:alice,bob\n").unwrap();
        assert_eq!(g.name(4242), Some("shm"));
    }

    #[test]
    fn empty_and_truncated_give_empty_tables() {
        assert!(parse("").unwrap().is_empty());
        assert!(parse("root:x").unwrap().is_empty());
    }
}
