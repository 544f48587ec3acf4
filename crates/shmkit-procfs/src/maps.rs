//! `/proc/PID/maps`: a process's memory mappings, one line each.
//!
//! Line format: `start-end perms offset major:minor inode` then, if the mapping has a name,
//! spaces padding to a fixed column and the name. The name runs to the end of the line and may
//! contain spaces; it is never split. Kernel quirks handled here:
//! - An unlinked file's name ends in ` (deleted)`; that suffix is stripped once and recorded.
//! - A shared anonymous mapping (`MAP_SHARED|MAP_ANONYMOUS`) shows as `/dev/zero (deleted)`
//!   with the `s` flag; a SysV segment as `/SYSV%08x (deleted)` (the key in hex) whose inode
//!   column is the shmid; a memfd as `/memfd:NAME (deleted)`.
//! - Names in brackets are kernel-made: `[heap]`, `[stack]`, `[vdso]`, `[anon:NAME]`
//!   (prctl `PR_SET_VMA_ANON_NAME`), `[anon_shmem:NAME]`.

use crate::error::ParseError;
use crate::util::{dec_u64, hex_u64, split_once_byte};

const DELETED: &str = " (deleted)";

/// What a mapping maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapPath {
    /// Private anonymous memory: no name.
    None,
    /// A file (or a kernel-internal shmem file such as `/SYSV…`, `/memfd:…`, `/dev/zero`).
    Path {
        /// The path without the kernel's ` (deleted)` suffix.
        path: String,
        /// The kernel printed ` (deleted)`: the file was unlinked.
        deleted: bool,
    },
    /// A kernel-made name that is not a path: `[heap]`, `[stack]`, `[vdso]`, `[anon:x]`, …
    Special(String),
}

/// One mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntry {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// `r`.
    pub readable: bool,
    /// `w`.
    pub writable: bool,
    /// `x`.
    pub executable: bool,
    /// `s` (shared) rather than `p` (private, copy-on-write).
    pub shared: bool,
    /// Offset in the file (for SysV and memfd mappings: offset in the object).
    pub offset: u64,
    /// Device major number (hex in the file).
    pub dev_major: u32,
    /// Device minor number (hex in the file).
    pub dev_minor: u32,
    /// Inode number; for `/SYSV…` mappings this is the shmid.
    pub inode: u64,
    /// What is mapped.
    pub path: MapPath,
}

impl MapEntry {
    /// Length in bytes (`end - start`, 0 if the line was inverted).
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// True for an empty range (never printed by the kernel).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The path of a file mapping, without ` (deleted)`.
    pub fn file_path(&self) -> Option<&str> {
        match &self.path {
            MapPath::Path { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The SysV key of a `/SYSV%08x` mapping (the [`MapEntry::inode`] is then the shmid).
    pub fn sysv_key(&self) -> Option<i32> {
        let hex = self.file_path()?.strip_prefix("/SYSV")?;
        if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(hex, 16)
            .ok()
            .map(|k| i32::from_ne_bytes(k.to_ne_bytes()))
    }

    /// The shmid of a SysV mapping (its inode column), if this is one and it fits `i32`.
    pub fn sysv_shmid(&self) -> Option<i32> {
        self.sysv_key()?;
        i32::try_from(self.inode).ok()
    }

    /// A shared anonymous mapping: `MAP_SHARED|MAP_ANONYMOUS`, shown as `/dev/zero (deleted)`
    /// with the shared flag, or as `[anon_shmem:NAME]` when named (Linux ≥ 6.2).
    pub fn is_shared_anon(&self) -> bool {
        match &self.path {
            MapPath::Path { path, deleted } => self.shared && *deleted && path == "/dev/zero",
            MapPath::Special(s) => s.starts_with("[anon_shmem:"),
            MapPath::None => false,
        }
    }

    /// The name given to `memfd_create` for a `/memfd:NAME (deleted)` mapping. Only the
    /// kernel's one ` (deleted)` is removed, so a NAME that itself ends in ` (deleted)` is kept.
    pub fn memfd_name(&self) -> Option<&str> {
        self.file_path()?.strip_prefix("/memfd:")
    }
}

fn classify(name: &str) -> MapPath {
    if name.is_empty() {
        MapPath::None
    } else if name.starts_with('/') {
        match name.strip_suffix(DELETED) {
            Some(p) => MapPath::Path {
                path: p.to_owned(),
                deleted: true,
            },
            None => MapPath::Path {
                path: name.to_owned(),
                deleted: false,
            },
        }
    } else {
        MapPath::Special(name.to_owned())
    }
}

fn field<'a>(rest: &mut &'a str, line: usize, what: &str) -> Result<&'a str, ParseError> {
    let s = rest.trim_start_matches(' ');
    match split_once_byte(s, b' ') {
        Some((f, r)) => {
            *rest = r;
            Ok(f)
        }
        None if !s.is_empty() => {
            *rest = "";
            Ok(s)
        }
        None => Err(ParseError::new(line, format!("truncated line: no {what}"))),
    }
}

fn flag(b: Option<&u8>, yes: u8, line: usize) -> Result<bool, ParseError> {
    match b {
        Some(&c) if c == yes => Ok(true),
        Some(b'-') => Ok(false),
        _ => Err(ParseError::new(line, "bad permission flags")),
    }
}

/// Parse one line of `maps` (without its newline).
pub fn parse_line(l: &str, line: usize) -> Result<MapEntry, ParseError> {
    let mut rest = l;
    let range = field(&mut rest, line, "address range")?;
    let (s, e) = split_once_byte(range, b'-')
        .ok_or_else(|| ParseError::new(line, format!("bad address range {range:?}")))?;
    let start = hex_u64(s, line, "start")?;
    let end = hex_u64(e, line, "end")?;
    let perms = field(&mut rest, line, "permissions")?.as_bytes();
    if perms.len() != 4 {
        return Err(ParseError::new(line, "bad permission flags"));
    }
    let readable = flag(perms.first(), b'r', line)?;
    let writable = flag(perms.get(1), b'w', line)?;
    let executable = flag(perms.get(2), b'x', line)?;
    let shared = match perms.get(3) {
        Some(b's') => true,
        Some(b'p') => false,
        _ => return Err(ParseError::new(line, "bad sharing flag")),
    };
    let offset = hex_u64(field(&mut rest, line, "offset")?, line, "offset")?;
    let dev = field(&mut rest, line, "device")?;
    let (ma, mi) = split_once_byte(dev, b':')
        .ok_or_else(|| ParseError::new(line, format!("bad device {dev:?}")))?;
    let dev_major = u32::try_from(hex_u64(ma, line, "major")?)
        .map_err(|_| ParseError::new(line, "major out of range"))?;
    let dev_minor = u32::try_from(hex_u64(mi, line, "minor")?)
        .map_err(|_| ParseError::new(line, "minor out of range"))?;
    let inode = dec_u64(field(&mut rest, line, "inode")?, line, "inode")?;
    // The name starts after the padding and runs to the end of the line, spaces included.
    let name = rest.trim_start_matches(' ');
    let name = name.strip_suffix('\r').unwrap_or(name);
    Ok(MapEntry {
        start,
        end,
        readable,
        writable,
        executable,
        shared,
        offset,
        dev_major,
        dev_minor,
        inode,
        path: classify(name),
    })
}

/// Parse the text of `/proc/PID/maps`, appending to `out` (which is not cleared), so a caller
/// scanning many processes can reuse one vector.
pub fn parse_into(text: &str, out: &mut Vec<MapEntry>) -> Result<(), ParseError> {
    for (i, l) in text.split('\n').enumerate() {
        if l.is_empty() {
            continue;
        }
        out.push(parse_line(l, i.saturating_add(1))?);
    }
    Ok(())
}

/// Parse the text of `/proc/PID/maps`. An empty text (kernel thread, zombie) gives no entries.
pub fn parse(text: &str) -> Result<Vec<MapEntry>, ParseError> {
    let mut out = Vec::new();
    parse_into(text, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(l: &str) -> MapEntry {
        parse_line(l, 1).unwrap()
    }

    #[test]
    fn ordinary_file_mapping() {
        let m = one(
            "55bf077fa000-55bf077ff000 r-xp 00002000 fe:00 247030                     /usr/bin/cat",
        );
        assert_eq!(
            (m.start, m.end, m.len()),
            (0x55bf_077f_a000, 0x55bf_077f_f000, 0x5000)
        );
        assert!(m.readable && !m.writable && m.executable && !m.shared);
        assert_eq!(
            (m.offset, m.dev_major, m.dev_minor, m.inode),
            (0x2000, 0xfe, 0, 247_030)
        );
        assert_eq!(
            m.path,
            MapPath::Path {
                path: "/usr/bin/cat".into(),
                deleted: false
            }
        );
    }

    #[test]
    fn anonymous_mapping_with_trailing_space_has_no_path() {
        let m = one("7f0125556000-7f0125578000 rw-p 00000000 00:00 0 ");
        assert_eq!(m.path, MapPath::None);
        let m = one("7f0125556000-7f0125578000 rw-p 00000000 00:00 0");
        assert_eq!(m.path, MapPath::None);
    }

    #[test]
    fn path_with_spaces_and_deleted_suffix_is_one_path() {
        let m = one("7f00-7f10 rw-s 00000000 00:05 12                         /tmp/my  file name.dat (deleted)");
        assert_eq!(
            m.path,
            MapPath::Path {
                path: "/tmp/my  file name.dat".into(),
                deleted: true
            }
        );
    }

    #[test]
    fn sysv_mapping_gives_key_and_shmid_from_inode() {
        let m = one("7f8a2c000000-7f8a2c001000 rw-s 00000000 00:01 294918                     /SYSV0000162e (deleted)");
        assert_eq!(m.sysv_key(), Some(0x162e));
        assert_eq!(m.sysv_shmid(), Some(294_918));
        assert!(!m.is_shared_anon());
        // A key >= 0x80000000 is negative as key_t.
        let m = one("1000-2000 rw-s 00000000 00:01 5 /SYSVdeadbeef (deleted)");
        assert_eq!(m.sysv_key(), Some(0xdead_beef_u32 as i32));
        assert_eq!(one("1000-2000 rw-s 0 00:01 5 /SYSV162e").sysv_key(), None);
    }

    #[test]
    fn memfd_name_with_spaces_and_its_own_deleted_suffix() {
        let m = one("7f00-7f10 rw-s 00000000 00:01 2050                       /memfd:my buf (deleted) (deleted)");
        assert_eq!(m.memfd_name(), Some("my buf (deleted)"));
        let m = one("7f00-7f10 rw-s 00000000 00:01 2050 /memfd:ring buffer (deleted)");
        assert_eq!(m.memfd_name(), Some("ring buffer"));
    }

    #[test]
    fn shared_anonymous_shows_as_deleted_dev_zero() {
        let m = one("7f00-7f10 rw-s 00000000 00:01 1041                       /dev/zero (deleted)");
        assert!(m.is_shared_anon());
        // A private mapping of /dev/zero is ordinary anonymous memory, not shmem.
        let m = one("7f00-7f10 rw-p 00000000 00:01 1041                       /dev/zero (deleted)");
        assert!(!m.is_shared_anon());
        let m = one("7f00-7f10 rw-s 00000000 00:01 1041 [anon_shmem:ring]");
        assert!(m.is_shared_anon());
    }

    #[test]
    fn bracket_names_are_special_even_with_spaces() {
        assert_eq!(
            one("7f00-7f10 rw-p 00000000 00:00 0                          [anon:x y]").path,
            MapPath::Special("[anon:x y]".into())
        );
        assert_eq!(
            one("7ffc-7ffd rw-p 00000000 00:00 0 [stack]").path,
            MapPath::Special("[stack]".into())
        );
    }

    #[test]
    fn empty_file_gives_no_entries() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("\n").unwrap(), vec![]);
    }

    #[test]
    fn truncated_lines_are_errors_with_line_numbers() {
        let good = "1000-2000 r--p 00000000 fe:00 1 /bin/x\n";
        for bad in [
            "1000-2000 r--p 00000000 fe:00",
            "1000-2000 r--p 00000000",
            "1000-2000 r--p",
            "1000-2000",
            "1000-",
            "1000-2000 r-- 00000000 fe:00 1",
            "1000-2000 rwxq 00000000 fe:00 1",
            "1000-2000 r--p 00000000 fe00 1",
        ] {
            let e = parse(&format!("{good}{bad}\n")).unwrap_err();
            assert_eq!(e.line, 2, "{bad}");
        }
    }

    #[test]
    fn parse_into_appends() {
        let mut v = parse("1000-2000 r--p 00000000 fe:00 1 /a\n").unwrap();
        parse_into("3000-4000 r--p 00000000 fe:00 1 /b\n", &mut v).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].file_path(), Some("/b"));
    }
}
