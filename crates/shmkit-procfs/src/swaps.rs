//! `/proc/swaps`: active swap areas. When this list is empty, shmem pages (SysV, POSIX shm,
//! tmpfs, shared anonymous, memfd) cannot leave RAM at all.
//!
//! The kernel escapes space, tab, newline and backslash in the file name as octal (`\040`),
//! so splitting on whitespace is safe; names are unescaped. Sizes are printed in kB.

use crate::error::ParseError;
use crate::util::{dec_i64, dec_u64, kb_to_bytes, numbered_lines, unescape_octal};

/// One swap area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapEntry {
    /// Device or file path (unescaped).
    pub filename: String,
    /// `partition` or `file`.
    pub kind: String,
    /// Size in bytes.
    pub size: u64,
    /// Used bytes.
    pub used: u64,
    /// Priority (negative when assigned by the kernel).
    pub priority: i32,
}

/// Parse the text of `/proc/swaps`. A header-only or empty text gives no areas.
pub fn parse(text: &str) -> Result<Vec<SwapEntry>, ParseError> {
    let mut out = Vec::new();
    for (line, l) in numbered_lines(text) {
        if line == 1 && l.starts_with("Filename") {
            continue;
        }
        let mut f = l.split_ascii_whitespace();
        let mut next = |what: &str| {
            f.next()
                .ok_or_else(|| ParseError::new(line, format!("truncated line: no {what}")))
        };
        let filename = unescape_octal(next("filename")?);
        let kind = next("type")?.to_owned();
        let size = kb_to_bytes(dec_u64(next("size")?, line, "size")?, line)?;
        let used = kb_to_bytes(dec_u64(next("used")?, line, "used")?, line)?;
        let priority = i32::try_from(dec_i64(next("priority")?, line, "priority")?)
            .map_err(|_| ParseError::new(line, "priority out of range"))?;
        out.push(SwapEntry {
            filename,
            kind,
            size,
            used,
            priority,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";

    #[test]
    fn entries_in_bytes_with_escaped_names() {
        let t = format!("{HEADER}/dev/dm-1                               partition\t8388604\t\t1024\t\t-2\n/swap\\040file\tfile\t\t1024\t\t0\t\t5\n");
        let v = parse(&t).unwrap();
        assert_eq!(
            v[0],
            SwapEntry {
                filename: "/dev/dm-1".into(),
                kind: "partition".into(),
                size: 8_388_604 * 1024,
                used: 1024 * 1024,
                priority: -2
            }
        );
        assert_eq!(v[1].filename, "/swap file");
        assert_eq!(v[1].priority, 5);
    }

    #[test]
    fn no_swap_is_header_only_or_empty() {
        assert_eq!(parse(HEADER).unwrap(), vec![]);
        assert_eq!(parse("").unwrap(), vec![]);
    }

    #[test]
    fn truncated_line_is_an_error() {
        let e = parse(&format!("{HEADER}/dev/sda2 partition 100")).unwrap_err();
        assert_eq!(e.line, 2);
    }
}
