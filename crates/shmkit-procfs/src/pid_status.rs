//! `/proc/PID/status`: the human-readable process status; we keep the name, the ids and the
//! resident-memory split.
//!
//! Kernel quirk: unlike `stat`, `Name:` is escaped — a newline in the name prints as `\n` and a
//! backslash as `\\`. Those two escapes are undone here. Kernel threads have no `Vm*`/`Rss*`
//! lines.

use crate::error::ParseError;
use crate::util::{dec_u32, dec_u64, kb_to_bytes, numbered_lines, split_once_byte};

/// The fields of `/proc/PID/status` that shmkit uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidStatus {
    /// `Name:`, unescaped.
    pub name: String,
    /// `Uid:` real, effective, saved set, filesystem.
    pub uid: [u32; 4],
    /// `Gid:` real, effective, saved set, filesystem.
    pub gid: [u32; 4],
    /// `VmRSS`, bytes: `rss_anon + rss_file + rss_shmem`.
    pub vm_rss: Option<u64>,
    /// `RssAnon`, bytes.
    pub rss_anon: Option<u64>,
    /// `RssFile`, bytes: resident file-backed pages.
    pub rss_file: Option<u64>,
    /// `RssShmem`, bytes: resident shmem pages mapped by this process (SysV, POSIX shm,
    /// shared anonymous, memfd, tmpfs files).
    pub rss_shmem: Option<u64>,
}

fn unescape_name(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn ids(v: &str, line: usize, what: &str) -> Result<[u32; 4], ParseError> {
    let mut out = [0u32; 4];
    let mut f = v.split_ascii_whitespace();
    for slot in &mut out {
        let s = f
            .next()
            .ok_or_else(|| ParseError::new(line, format!("{what}: fewer than 4 ids")))?;
        *slot = dec_u32(s, line, what)?;
    }
    Ok(out)
}

fn kb(v: &str, line: usize, what: &str) -> Result<u64, ParseError> {
    let mut f = v.split_ascii_whitespace();
    let n = dec_u64(
        f.next()
            .ok_or_else(|| ParseError::new(line, format!("{what}: no value")))?,
        line,
        what,
    )?;
    match f.next() {
        Some("kB") => kb_to_bytes(n, line),
        _ => Err(ParseError::new(line, format!("{what}: expected kB"))),
    }
}

/// Parse the text of `/proc/PID/status`. `Name`, `Uid` and `Gid` are required.
pub fn parse(text: &str) -> Result<PidStatus, ParseError> {
    let (mut name, mut uid, mut gid) = (None, None, None);
    let (mut vm_rss, mut rss_anon, mut rss_file, mut rss_shmem) = (None, None, None, None);
    let mut last = 1usize;
    for (line, l) in numbered_lines(text) {
        last = line;
        let Some((k, v)) = split_once_byte(l, b':') else {
            return Err(ParseError::new(line, format!("no ':' in {l:?}")));
        };
        match k {
            // The value follows a tab; a name may itself begin with spaces.
            "Name" => name = Some(unescape_name(v.strip_prefix('\t').unwrap_or(v))),
            "Uid" => uid = Some(ids(v, line, k)?),
            "Gid" => gid = Some(ids(v, line, k)?),
            "VmRSS" => vm_rss = Some(kb(v, line, k)?),
            "RssAnon" => rss_anon = Some(kb(v, line, k)?),
            "RssFile" => rss_file = Some(kb(v, line, k)?),
            "RssShmem" => rss_shmem = Some(kb(v, line, k)?),
            _ => {}
        }
    }
    let missing = |what: &str| ParseError::new(last, format!("no {what} line"));
    Ok(PidStatus {
        name: name.ok_or_else(|| missing("Name"))?,
        uid: uid.ok_or_else(|| missing("Uid"))?,
        gid: gid.ok_or_else(|| missing("Gid"))?,
        vm_rss,
        rss_anon,
        rss_file,
        rss_shmem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Name:\tcat\nUmask:\t0022\nState:\tR (running)\nUid:\t1000\t100000\t1000\t4294967294\nGid:\t0\t0\t0\t0\nVmRSS:\t    1748 kB\nRssAnon:\t     116 kB\nRssFile:\t    1632 kB\nRssShmem:\t       8 kB\n";

    #[test]
    fn ids_and_rss_lines() {
        let s = parse(SAMPLE).unwrap();
        assert_eq!(s.name, "cat");
        assert_eq!(s.uid, [1000, 100_000, 1000, 4_294_967_294]);
        assert_eq!(s.gid, [0; 4]);
        assert_eq!(s.vm_rss, Some(1748 * 1024));
        assert_eq!(s.rss_anon, Some(116 * 1024));
        assert_eq!(s.rss_file, Some(1632 * 1024));
        assert_eq!(s.rss_shmem, Some(8 * 1024));
    }

    #[test]
    fn kernel_thread_has_no_rss_lines() {
        let s = parse("Name:\tkworker/0:1\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n").unwrap();
        assert_eq!(s.name, "kworker/0:1");
        assert_eq!((s.vm_rss, s.rss_shmem), (None, None));
    }

    #[test]
    fn escaped_newline_and_backslash_in_name_are_undone() {
        let s = parse("Name:\ta) b\\n(c)\\\\\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n").unwrap();
        assert_eq!(s.name, "a) b\n(c)\\");
    }

    #[test]
    fn empty_and_truncated_are_errors() {
        assert!(parse("").is_err());
        assert!(parse("Name:\tcat\nUid:\t0\t0\nGid:\t0\t0\t0\t0\n").is_err());
        assert!(parse("Name:\tcat\nUid:\t0\t0\t0\t0\n").is_err());
        assert!(parse("Name:\tcat\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nVmRSS:\t12").is_err());
        assert!(parse("Name").is_err());
    }
}
