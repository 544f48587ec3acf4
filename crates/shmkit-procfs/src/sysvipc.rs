//! `/proc/sysvipc/shm`: every System V shared memory segment of the reader's IPC namespace.
//!
//! Columns are found by their names in the header, so kernels without the `rss` and `swap`
//! columns (before Linux 2.6.38 or so) parse too. Kernel quirks handled here:
//! - `key` is a `key_t` printed with `%d`: keys at or above `0x80000000` print negative.
//! - `perms` is printed in **octal** (`%4o`) and holds more than the mode: `0o1000` is
//!   `SHM_DEST` (marked for destruction, still attached) and `0o2000` is `SHM_LOCKED`.
//! - `uid`/`gid` are full 32-bit ids (user namespaces print the overflow id 65534 for unmapped
//!   ones).
//! - `rss` and `swap` are in bytes.

use crate::error::ParseError;
use crate::util::{dec_i64, dec_u32, dec_u64, numbered_lines};

/// `SHM_DEST` in `perms`: `IPC_RMID` was called while processes were still attached.
pub const SHM_DEST: u32 = 0o1000;
/// `SHM_LOCKED` in `perms`: the segment was locked with `SHM_LOCK`.
pub const SHM_LOCKED: u32 = 0o2000;

/// One System V shared memory segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysvShm {
    /// IPC key (`IPC_PRIVATE` is 0).
    pub key: i32,
    /// Segment id (what `shmat`/`ipcrm -m` take).
    pub shmid: i32,
    /// Full permission word as the kernel keeps it, including [`SHM_DEST`] and [`SHM_LOCKED`].
    pub perms: u32,
    /// Size in bytes, fixed at creation.
    pub size: u64,
    /// Pid of the creator.
    pub cpid: u32,
    /// Pid of the last `shmat`/`shmdt`.
    pub lpid: u32,
    /// Number of current attaches.
    pub nattch: u64,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Creator uid.
    pub cuid: u32,
    /// Creator gid.
    pub cgid: u32,
    /// Last attach time, unix seconds; 0 = never.
    pub atime: i64,
    /// Last detach time, unix seconds; 0 = never.
    pub dtime: i64,
    /// Last change (creation or `IPC_SET`), unix seconds.
    pub ctime: i64,
    /// Resident bytes, if the kernel prints the column.
    pub rss: Option<u64>,
    /// Swapped-out bytes, if the kernel prints the column.
    pub swap: Option<u64>,
}

impl SysvShm {
    /// The permission bits `perms & 0o777`.
    pub fn mode(&self) -> u32 {
        self.perms & 0o777
    }

    /// `SHM_DEST`: removed with `IPC_RMID`, freed when the last process detaches.
    pub fn marked_for_destruction(&self) -> bool {
        self.perms & SHM_DEST != 0
    }

    /// `SHM_LOCKED`: locked in memory with `shmctl(SHM_LOCK)`.
    pub fn locked(&self) -> bool {
        self.perms & SHM_LOCKED != 0
    }
}

/// Column positions found in the header.
struct Columns {
    idx: [usize; 14],
    rss: Option<usize>,
    swap: Option<usize>,
}

const REQUIRED: [&str; 14] = [
    "key", "shmid", "perms", "size", "cpid", "lpid", "nattch", "uid", "gid", "cuid", "cgid",
    "atime", "dtime", "ctime",
];

fn columns(header: &str, line: usize) -> Result<Columns, ParseError> {
    let names: Vec<&str> = header.split_ascii_whitespace().collect();
    let pos = |n: &str| names.iter().position(|h| *h == n);
    let mut idx = [0usize; 14];
    for (slot, name) in idx.iter_mut().zip(REQUIRED) {
        *slot = pos(name)
            .ok_or_else(|| ParseError::new(line, format!("header has no {name:?} column")))?;
    }
    Ok(Columns {
        idx,
        rss: pos("rss"),
        swap: pos("swap"),
    })
}

/// A key printed by `%d` is in `i32` range; accept the unsigned spelling too, so a key written
/// as `2147483648` by another tool still means the same `key_t` bit pattern.
fn key(s: &str, line: usize) -> Result<i32, ParseError> {
    let v = dec_i64(s, line, "key")?;
    if let Ok(k) = i32::try_from(v) {
        return Ok(k);
    }
    u32::try_from(v)
        .map(|u| i32::from_ne_bytes(u.to_ne_bytes()))
        .map_err(|_| ParseError::new(line, format!("key out of 32-bit range: {s}")))
}

/// Parse the text of `/proc/sysvipc/shm`. An empty text (no header) gives no segments.
pub fn parse(text: &str) -> Result<Vec<SysvShm>, ParseError> {
    let mut lines = numbered_lines(text);
    let Some((hline, header)) = lines.next() else {
        return Ok(Vec::new());
    };
    let cols = columns(header, hline)?;
    let mut out = Vec::new();
    let mut f: Vec<&str> = Vec::with_capacity(16);
    for (line, l) in lines {
        f.clear();
        f.extend(l.split_ascii_whitespace());
        let get = |i: usize, what: &str| {
            f.get(i).copied().ok_or_else(|| {
                ParseError::new(line, format!("truncated line: no {what} column in {l:?}"))
            })
        };
        let c = |k: usize| cols.idx.get(k).copied().unwrap_or(usize::MAX);
        let perms_s = get(c(2), "perms")?;
        let perms = u32::from_str_radix(perms_s, 8)
            .map_err(|_| ParseError::new(line, format!("perms: not octal: {perms_s:?}")))?;
        let opt = |i: Option<usize>, what: &str| -> Result<Option<u64>, ParseError> {
            match i {
                None => Ok(None),
                Some(i) => dec_u64(get(i, what)?, line, what).map(Some),
            }
        };
        out.push(SysvShm {
            key: key(get(c(0), "key")?, line)?,
            shmid: i32::try_from(dec_i64(get(c(1), "shmid")?, line, "shmid")?)
                .map_err(|_| ParseError::new(line, "shmid out of range"))?,
            perms,
            size: dec_u64(get(c(3), "size")?, line, "size")?,
            cpid: dec_u32(get(c(4), "cpid")?, line, "cpid")?,
            lpid: dec_u32(get(c(5), "lpid")?, line, "lpid")?,
            nattch: dec_u64(get(c(6), "nattch")?, line, "nattch")?,
            uid: dec_u32(get(c(7), "uid")?, line, "uid")?,
            gid: dec_u32(get(c(8), "gid")?, line, "gid")?,
            cuid: dec_u32(get(c(9), "cuid")?, line, "cuid")?,
            cgid: dec_u32(get(c(10), "cgid")?, line, "cgid")?,
            atime: dec_i64(get(c(11), "atime")?, line, "atime")?,
            dtime: dec_i64(get(c(12), "dtime")?, line, "dtime")?,
            ctime: dec_i64(get(c(13), "ctime")?, line, "ctime")?,
            rss: opt(cols.rss, "rss")?,
            swap: opt(cols.swap, "swap")?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n";

    #[test]
    fn uid_above_65535_keeps_all_32_bits() {
        let text = format!("{HEADER}      5678          3   666                    27  4242  4242      0 100000 100000 100000 100000 1700000000          0 1700000000                  4096                     0\n");
        let v = parse(&text).unwrap();
        assert_eq!(v.len(), 1);
        let s = &v[0];
        assert_eq!((s.key, s.shmid, s.size), (5678, 3, 27));
        assert_eq!(
            (s.uid, s.gid, s.cuid, s.cgid),
            (100_000, 100_000, 100_000, 100_000)
        );
        assert_eq!(s.mode(), 0o666);
        assert_eq!((s.atime, s.dtime), (1_700_000_000, 0));
        assert_eq!((s.rss, s.swap), (Some(4096), Some(0)));
    }

    #[test]
    fn key_at_or_above_0x80000000_prints_negative() {
        // 0xdeadbeef as key_t is printed by %d as -559038737.
        let text = format!("{HEADER} -559038737         7  1600                 4096     1     1      0     0     0     0     0          0          0 1700000000 0 0\n");
        let s = &parse(&text).unwrap()[0];
        assert_eq!(s.key, 0xdead_beef_u32 as i32);
        assert_eq!(s.key as u32, 0xdead_beef);
        // perms is octal: 1600 = SHM_DEST | 0600.
        assert_eq!(s.perms, 0o1600);
        assert!(s.marked_for_destruction());
        assert!(!s.locked());
        assert_eq!(s.mode(), 0o600);
    }

    #[test]
    fn unsigned_key_spelling_maps_to_the_same_bits() {
        assert_eq!(key("3735928559", 1).unwrap(), 0xdead_beef_u32 as i32);
        assert!(key("4294967296", 1).is_err());
    }

    #[test]
    fn locked_bit_is_octal_2000() {
        let text = format!("{HEADER} 0 9 2644 4096 1 1 1 0 0 0 0 0 0 1 0 0\n");
        let s = &parse(&text).unwrap()[0];
        assert!(s.locked());
        assert!(!s.marked_for_destruction());
        assert_eq!(s.mode(), 0o644);
    }

    #[test]
    fn old_kernel_without_rss_and_swap_columns() {
        let text = "       key      shmid perms       size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime\n         0      32768   600     393216  2291  2321      2  1000  1000  1000  1000 1300000000 1300000001 1299999999\n";
        let s = &parse(text).unwrap()[0];
        assert_eq!(
            (s.shmid, s.size, s.nattch, s.ctime),
            (32768, 393_216, 2, 1_299_999_999)
        );
        assert_eq!((s.rss, s.swap), (None, None));
    }

    #[test]
    fn empty_file_and_header_only_give_no_segments() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse(HEADER).unwrap(), vec![]);
    }

    #[test]
    fn truncated_line_is_an_error() {
        let text = format!("{HEADER}      5678          3   666   27  4242\n");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.msg.contains("truncated"), "{e}");
    }

    #[test]
    fn header_without_key_column_is_an_error() {
        assert!(parse("shmid perms\n1 2\n").is_err());
    }

    #[test]
    fn non_octal_perms_is_an_error() {
        let text = format!("{HEADER} 0 9 689 4096 1 1 1 0 0 0 0 0 0 1 0 0\n");
        assert!(parse(&text).is_err());
    }
}
