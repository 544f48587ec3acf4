//! `/proc/PID/cgroup`: the cgroups a process belongs to, v1 and v2.
//!
//! Each line is `hierarchy-ID:controller-list:path`. cgroup v2 has exactly one line `0::/path`;
//! a v1 host lists one line per hierarchy (`4:memory:/docker/…`, `9:name=systemd:/`), and a
//! hybrid host has both. The path may contain `:`, so only the first two are separators. A
//! removed v2 cgroup whose processes linger shows the path with a ` (deleted)` suffix.

use crate::error::ParseError;
use crate::util::{dec_u32, numbered_lines, split_once_byte};

/// One line of `/proc/PID/cgroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupLine {
    /// Hierarchy id; 0 for the v2 unified hierarchy.
    pub hierarchy_id: u32,
    /// Controllers bound to the hierarchy (`memory`, `cpu`, `name=systemd`); empty for v2.
    pub controllers: Vec<String>,
    /// Path relative to the hierarchy root (as seen from the reader's cgroup namespace).
    pub path: String,
}

impl CgroupLine {
    /// True for the cgroup v2 (unified) line `0::/path`.
    pub fn is_v2(&self) -> bool {
        self.hierarchy_id == 0 && self.controllers.is_empty()
    }

    /// True if controller `name` is bound to this v1 hierarchy.
    pub fn has_controller(&self, name: &str) -> bool {
        self.controllers.iter().any(|c| c == name)
    }
}

/// Parse the text of `/proc/PID/cgroup`. An empty text gives no lines.
pub fn parse(text: &str) -> Result<Vec<CgroupLine>, ParseError> {
    let mut out = Vec::new();
    for (line, l) in numbered_lines(text) {
        let trunc = || ParseError::new(line, format!("truncated line: {l:?}"));
        let (id, rest) = split_once_byte(l, b':').ok_or_else(trunc)?;
        let (ctl, path) = split_once_byte(rest, b':').ok_or_else(trunc)?;
        out.push(CgroupLine {
            hierarchy_id: dec_u32(id, line, "hierarchy id")?,
            controllers: if ctl.is_empty() {
                Vec::new()
            } else {
                ctl.split(',').map(str::to_owned).collect()
            },
            path: path.to_owned(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_hybrid_lines_and_v2_line() {
        let v = parse("9:name=systemd:/\n2:cpu,cpuacct:/a:b\n4:memory:/process_api/64\n0::/\n")
            .unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v[0].controllers, vec!["name=systemd"]);
        assert_eq!(v[1].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(v[1].path, "/a:b");
        assert!(v[2].has_controller("memory"));
        assert_eq!(v[2].hierarchy_id, 4);
        assert!(v[3].is_v2());
        assert!(!v[2].is_v2());
    }

    #[test]
    fn empty_and_truncated() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("0:memory").unwrap_err().line, 1);
        assert!(parse("x::/").is_err());
    }
}
