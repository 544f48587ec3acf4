//! `/proc/PID/mountinfo`: the mounts seen from a process's mount namespace.
//!
//! Format (proc(5)): `id parent major:minor root mount_point options [optional…] - fstype
//! source super_options`. The kernel escapes space, tab, newline and backslash in paths as
//! `\040`, `\011`, `\012`, `\134`; they are unescaped here, so paths are the real names.
//! Every other byte of a path is the kernel's as it is, valid UTF-8 or not: the root and the
//! mount point are bytes (`PathBuf`), so a mount at `/mnt/caf\xe9` can be opened and walked.

use crate::error::ParseError;
use crate::util::{dec_u32, split_once_byte, unescape_octal_bytes};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// One mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// Unique mount id (may be reused after unmount).
    pub mount_id: u32,
    /// Id of the parent mount (itself for the namespace root).
    pub parent_id: u32,
    /// Device major number of `st_dev` for files on this filesystem.
    pub major: u32,
    /// Device minor number.
    pub minor: u32,
    /// The directory of the filesystem that is the root of this mount (unescaped bytes).
    pub root: PathBuf,
    /// Mount point relative to the process's root (unescaped bytes).
    pub mount_point: PathBuf,
    /// Per-mount options (`rw,nosuid,relatime`).
    pub mount_options: String,
    /// Optional fields such as `shared:1`, `master:2`, `propagate_from:3`, `unbindable`.
    pub optional: Vec<String>,
    /// Filesystem type (`tmpfs`, `ext4`, `cgroup2`, `fuse.sshfs`).
    pub fs_type: String,
    /// Filesystem-specific source (unescaped; bytes that are not UTF-8 become U+FFFD), `none`
    /// or similar when there is none.
    pub source: String,
    /// Per-superblock options (`rw,size=65536k,mode=1777`).
    pub super_options: String,
}

impl MountInfo {
    /// The value of superblock option `name` (`size` → `"65536k"`); `Some("")` for a flag
    /// option present without `=`.
    pub fn super_option(&self, name: &str) -> Option<&str> {
        option(&self.super_options, name)
    }

    /// The value of per-mount option `name`, like [`MountInfo::super_option`].
    pub fn mount_option(&self, name: &str) -> Option<&str> {
        option(&self.mount_options, name)
    }
}

fn option<'a>(opts: &'a str, name: &str) -> Option<&'a str> {
    opts.split(',')
        .find_map(|o| match split_once_byte(o, b'=') {
            Some((k, v)) if k == name => Some(v),
            None if o == name => Some(""),
            _ => None,
        })
}

/// Parse one mountinfo line (without its newline).
pub fn parse_line(l: impl AsRef<[u8]>, line: usize) -> Result<MountInfo, ParseError> {
    let l = l.as_ref();
    let shown = || String::from_utf8_lossy(l).into_owned();
    let trunc =
        |what: &str| ParseError::new(line, format!("truncated line: no {what} in {:?}", shown()));
    // Fields other than paths are the kernel's own ASCII (numbers, options, type names).
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let path = |b: &[u8]| PathBuf::from(std::ffi::OsString::from_vec(unescape_octal_bytes(b)));
    let mut f = l.split(|&b| b == b' ');
    let mut field = |what: &str| f.next().ok_or_else(|| trunc(what));
    let mount_id = dec_u32(&text(field("mount id")?), line, "mount id")?;
    let parent_id = dec_u32(&text(field("parent id")?), line, "parent id")?;
    let dev = text(field("major:minor")?);
    let (maj, min) = split_once_byte(&dev, b':')
        .ok_or_else(|| ParseError::new(line, format!("bad major:minor {dev:?}")))?;
    let major = dec_u32(maj, line, "major")?;
    let minor = dec_u32(min, line, "minor")?;
    let root = path(field("root")?);
    let mount_point = path(field("mount point")?);
    let mount_options = text(field("mount options")?);
    let mut optional = Vec::new();
    loop {
        match field("'-' separator")? {
            b"-" => break,
            o => optional.push(text(o)),
        }
    }
    let fs_type = text(field("filesystem type")?);
    let source = text(&unescape_octal_bytes(field("source")?));
    let super_options = text(field("super options")?);
    if f.next().is_some() {
        return Err(ParseError::new(
            line,
            format!("extra fields in {:?}", shown()),
        ));
    }
    Ok(MountInfo {
        mount_id,
        parent_id,
        major,
        minor,
        root,
        mount_point,
        mount_options,
        optional,
        fs_type,
        source,
        super_options,
    })
}

/// Parse `/proc/PID/mountinfo` as the kernel wrote it (bytes). An empty text gives no mounts.
pub fn parse(text: impl AsRef<[u8]>) -> Result<Vec<MountInfo>, ParseError> {
    text.as_ref()
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i.saturating_add(1), l))
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
        .map(|(line, l)| parse_line(l, line))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    #[test]
    fn a_mount_point_that_is_not_utf8_keeps_its_bytes() {
        let v = parse(b"1 0 0:1 / /mnt/caf\xe9\\040x\xff rw - tmpfs t\xfe rw\n").unwrap();
        assert_eq!(
            v[0].mount_point.as_os_str().as_bytes(),
            b"/mnt/caf\xe9 x\xff"
        );
        assert_eq!(v[0].source, "t\u{fffd}");
    }

    #[test]
    fn octal_escapes_in_mount_point_root_and_source_are_undone() {
        let m = parse_line(
            r"97 27 0:45 /sub\134dir /mnt/my\040dir rw,relatime shared:5 master:1 - tmpfs my\011src rw,size=1024k,mode=755",
            1,
        )
        .unwrap();
        assert_eq!(m.mount_point, Path::new("/mnt/my dir"));
        assert_eq!(m.root, Path::new("/sub\\dir"));
        assert_eq!(m.source, "my\tsrc");
        assert_eq!(m.optional, vec!["shared:5", "master:1"]);
        assert_eq!((m.mount_id, m.parent_id, m.major, m.minor), (97, 27, 0, 45));
        assert_eq!(m.fs_type, "tmpfs");
        assert_eq!(m.super_option("size"), Some("1024k"));
        assert_eq!(m.super_option("mode"), Some("755"));
        assert_eq!(m.super_option("rw"), Some(""));
        assert_eq!(m.super_option("siz"), None);
        assert_eq!(m.mount_option("relatime"), Some(""));
    }

    #[test]
    fn newline_in_mount_point_is_escaped_so_lines_stay_lines() {
        let v = parse("1 0 0:1 / /a\\012b rw - tmpfs none rw\n2 1 0:2 / /c rw - proc proc rw\n")
            .unwrap();
        assert_eq!(v[0].mount_point, Path::new("/a\nb"));
        assert_eq!(v[1].fs_type, "proc");
        assert!(v[1].optional.is_empty());
    }

    #[test]
    fn empty_source_field_is_kept_empty() {
        let m = parse_line("5 1 0:3 / /x rw - fuse  rw", 1).unwrap();
        assert_eq!(m.source, "");
        assert_eq!(m.super_options, "rw");
    }

    #[test]
    fn empty_file_gives_no_mounts() {
        assert_eq!(parse("").unwrap(), vec![]);
    }

    #[test]
    fn truncated_lines_are_errors() {
        for l in [
            "22 27 0:21 / /proc rw,relatime - proc proc",
            "22 27 0:21 / /proc rw,relatime",
            "22 27 0:21",
            "22",
            "22 27 021 / /proc rw - proc proc rw",
        ] {
            let e = parse(format!("1 0 0:1 / / rw - ext4 /dev/sda rw\n{l}\n")).unwrap_err();
            assert_eq!(e.line, 2, "{l}");
        }
    }
}
