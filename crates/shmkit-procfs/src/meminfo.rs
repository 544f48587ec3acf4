//! `/proc/meminfo`: the kernel's memory counters, every line kept in order, in bytes.
//!
//! Lines with a `kB` unit are converted to bytes (× 1024). Lines without a unit
//! (`HugePages_Total`, `HugePages_Free`, …) are counts and are kept as printed.

use crate::error::ParseError;
use crate::util::{dec_u64, kb_to_bytes, numbered_lines, split_once_byte};

/// The parsed contents of `/proc/meminfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemInfo {
    /// Every line as `(name, value)`, in the kernel's order; values in bytes for `kB` lines,
    /// raw counts for lines without a unit.
    pub entries: Vec<(String, u64)>,
    /// `MemTotal`, bytes (required).
    pub mem_total: u64,
    /// `MemFree`, bytes (required).
    pub mem_free: u64,
}

macro_rules! accessors {
    ($($(#[$doc:meta])* $fn:ident => $name:literal;)*) => {
        $(
            $(#[$doc])*
            pub fn $fn(&self) -> Option<u64> {
                self.get($name)
            }
        )*
    };
}

impl MemInfo {
    /// The value of line `name` (exact, case-sensitive, without the colon), if present.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }

    accessors! {
        /// `MemAvailable`, bytes (Linux ≥ 3.14).
        mem_available => "MemAvailable";
        /// `Buffers`, bytes.
        buffers => "Buffers";
        /// `Cached`, bytes: page cache, which includes `Shmem`.
        cached => "Cached";
        /// `SwapCached`, bytes.
        swap_cached => "SwapCached";
        /// `Active(file)`, bytes.
        active_file => "Active(file)";
        /// `Inactive(file)`, bytes.
        inactive_file => "Inactive(file)";
        /// `Dirty`, bytes.
        dirty => "Dirty";
        /// `Writeback`, bytes.
        writeback => "Writeback";
        /// `Shmem`, bytes: tmpfs, SysV, POSIX shm, shared anonymous, memfd (what `free` calls shared).
        shmem => "Shmem";
        /// `ShmemHugePages`, bytes.
        shmem_huge_pages => "ShmemHugePages";
        /// `ShmemPmdMapped`, bytes.
        shmem_pmd_mapped => "ShmemPmdMapped";
        /// `SReclaimable`, bytes.
        s_reclaimable => "SReclaimable";
        /// `SUnreclaim`, bytes.
        s_unreclaim => "SUnreclaim";
        /// `SwapTotal`, bytes.
        swap_total => "SwapTotal";
        /// `SwapFree`, bytes.
        swap_free => "SwapFree";
        /// `Mapped`, bytes.
        mapped => "Mapped";
        /// `Unevictable`, bytes.
        unevictable => "Unevictable";
        /// `Mlocked`, bytes.
        mlocked => "Mlocked";
        /// `Hugetlb`, bytes (Linux ≥ 4.16).
        hugetlb => "Hugetlb";
    }
}

/// Parse the text of `/proc/meminfo`. `MemTotal` and `MemFree` are required.
pub fn parse(text: &str) -> Result<MemInfo, ParseError> {
    let mut entries = Vec::with_capacity(64);
    let mut last_line = 0usize;
    for (line, l) in numbered_lines(text) {
        last_line = line;
        let (name, rest) = split_once_byte(l, b':')
            .ok_or_else(|| ParseError::new(line, format!("no ':' in {l:?}")))?;
        let name = name.trim();
        if name.is_empty() {
            return Err(ParseError::new(line, "empty field name"));
        }
        let mut words = rest.split_ascii_whitespace();
        let num = words
            .next()
            .ok_or_else(|| ParseError::new(line, format!("{name}: no value")))?;
        let num = dec_u64(num, line, name)?;
        let value = match words.next() {
            None => num,
            Some("kB") => kb_to_bytes(num, line)?,
            Some(unit) => {
                return Err(ParseError::new(
                    line,
                    format!("{name}: unknown unit {unit:?}"),
                ))
            }
        };
        if words.next().is_some() {
            return Err(ParseError::new(line, format!("{name}: trailing text")));
        }
        entries.push((name.to_owned(), value));
    }
    let find = |n: &str| entries.iter().find(|(k, _)| k == n).map(|(_, v)| *v);
    let missing = |n: &str| ParseError::new(last_line.max(1), format!("no {n} line"));
    let mem_total = find("MemTotal").ok_or_else(|| missing("MemTotal"))?;
    let mem_free = find("MemFree").ok_or_else(|| missing("MemFree"))?;
    Ok(MemInfo {
        entries,
        mem_total,
        mem_free,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "MemTotal:       24684100 kB\nMemFree:        20000000 kB\n\
MemAvailable:   22000000 kB\nActive(file):     100 kB\nShmem:              8 kB\n\
HugePages_Total:       3\nHugepagesize:       2048 kB\n";

    #[test]
    fn kb_lines_become_bytes_and_counts_stay_counts() {
        let m = parse(SAMPLE).unwrap();
        assert_eq!(m.mem_total, 24_684_100 * 1024);
        assert_eq!(m.mem_free, 20_000_000 * 1024);
        assert_eq!(m.mem_available(), Some(22_000_000 * 1024));
        assert_eq!(m.active_file(), Some(100 * 1024));
        assert_eq!(m.shmem(), Some(8192));
        // HugePages_Total has no unit: it is a number of pages, not kB.
        assert_eq!(m.get("HugePages_Total"), Some(3));
        assert_eq!(m.get("Hugepagesize"), Some(2048 * 1024));
        assert_eq!(m.hugetlb(), None);
        assert_eq!(m.entries.len(), 7);
        assert_eq!(m.entries[3].0, "Active(file)");
    }

    #[test]
    fn empty_file_is_an_error() {
        let e = parse("").unwrap_err();
        assert!(e.msg.contains("MemTotal"), "{e}");
    }

    #[test]
    fn missing_memfree_is_an_error() {
        let e = parse("MemTotal: 1 kB\n").unwrap_err();
        assert!(e.msg.contains("MemFree"), "{e}");
    }

    #[test]
    fn truncated_line_is_an_error_with_its_line_number() {
        let e = parse("MemTotal:       24684100 kB\nMemFree:").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("MemTotal:       24684100 kB\nMemFr").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn overflowing_kb_is_an_error_not_a_wrap() {
        let e = parse("MemTotal: 18446744073709551615 kB\nMemFree: 1 kB\n").unwrap_err();
        assert_eq!(e.line, 1);
    }
}
