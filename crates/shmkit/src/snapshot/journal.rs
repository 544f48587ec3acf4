//! The restore journal: what a restore is about to create and what it has finished, written
//! before each irreversible step, so that the next restore of the same snapshot recognises the
//! objects of one that was killed (`kill -9`, a crash) and completes the job.
//!
//! It lives beside the snapshot (`.<FILE>.shmkit-journal`), or in `/dev/shm` when the
//! snapshot's directory is read-only. The kernel objects it describes die with their IPC
//! namespace and their `/dev/shm`, so it records which ones it saw: a journal from another
//! namespace (a container restarted since) describes nothing that still exists and is ignored.
//! Nothing in it is trusted alone: every object it names is checked against what the kernel
//! reports (key, creator, the marker mode 0000, no attachment) before it is removed or kept.
//!
//! It is plain text, one record per line:
//!
//! ```text
//! shmkit-restore-journal 1
//! snapshot CHECKSUM CREATED     the footer checksum (hex) and creation time of the snapshot
//! ns IPC_NS_INODE DEV_SHM_DEV   where its objects live
//! pid PID                       the restorer (as this pid namespace numbers it)
//! tag TAG                       its temporary POSIX objects are /dev/shm/.shmkit-restore.TAG.*
//! begin INDEX KEY               about to create a System V segment (key 0: a private one)
//! made INDEX ID                 created the segment under its key (mode 0000 until filled)
//! private INDEX ID              created a private replacement for `--replace`
//! done INDEX                    the object is complete under its real key or name
//! ```
//!
//! No write is synced: the journal must outlive the restorer, not the machine (a reboot
//! destroys every object it could describe).

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The first line of every journal.
const MAGIC: &str = "shmkit-restore-journal 1";

/// A journal being written.
#[derive(Debug)]
pub(crate) struct JournalWriter {
    file: File,
    path: PathBuf,
}

impl JournalWriter {
    /// Creates (or truncates) the journal at `path` and writes its header.
    pub(crate) fn create(path: &Path, header: &JournalHeader) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(path)?;
        if !file.metadata()?.file_type().is_file() {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        let mut w = JournalWriter {
            file,
            path: path.to_path_buf(),
        };
        w.line(&format!(
            "{MAGIC}\nsnapshot {:016x} {}\nns {} {}\npid {}\ntag {}",
            header.checksum, header.created, header.ipc_ns, header.dev_shm, header.pid, header.tag
        ))?;
        Ok(w)
    }

    /// Appends one record (one `write`, so a kill never leaves half a line before it).
    pub(crate) fn line(&mut self, text: &str) -> std::io::Result<()> {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(b'\n');
        self.file.write_all(&bytes)
    }

    /// The restore finished or rolled back: nothing to complete any more.
    pub(crate) fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Who wrote a journal, and for which snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JournalHeader {
    /// The snapshot's footer checksum.
    pub(crate) checksum: u64,
    /// The snapshot's creation time.
    pub(crate) created: i64,
    /// The inode of the restorer's IPC namespace.
    pub(crate) ipc_ns: u64,
    /// The device of `/dev/shm`.
    pub(crate) dev_shm: u64,
    /// The restorer's pid.
    pub(crate) pid: u32,
    /// The tag of its temporary POSIX objects.
    pub(crate) tag: String,
}

/// A journal left by a restore that did not finish, as read back.
#[derive(Debug, Clone, Default)]
pub(crate) struct Leftover {
    /// Its header, if it had a complete one.
    pub(crate) header: Option<JournalHeader>,
    /// `begin` records: object index to key.
    pub(crate) begun: HashMap<usize, i32>,
    /// `made` records: object index to the segment created under its key.
    pub(crate) made: HashMap<usize, i32>,
    /// `private` records: object index to its private replacement segment.
    pub(crate) private: HashMap<usize, i32>,
    /// `done` records.
    pub(crate) done: std::collections::HashSet<usize>,
}

/// Reads the journal at `path`; `None` if there is none. Damaged lines are skipped (a
/// journal is only a hint that objects must be checked).
pub(crate) fn read(path: &Path) -> Option<Leftover> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let md = f.metadata().ok()?;
    // Ours only: a journal is written 0600 by the restorer's user.
    if !md.file_type().is_file()
        || std::os::unix::fs::MetadataExt::uid(&md) != crate::sys::geteuid()
    {
        return None;
    }
    let mut text = String::new();
    // A journal has a few lines per object; anything far larger is not one of ours.
    Read::by_ref(&mut f)
        .take(64 << 20)
        .read_to_string(&mut text)
        .ok()?;
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Some(Leftover::default());
    }
    let mut out = Leftover::default();
    let (mut checksum, mut created, mut ns, mut pid, mut tag) = (None, None, None, None, None);
    for line in lines {
        let f: Vec<&str> = line.split(' ').collect();
        let num = |i: usize| f.get(i).and_then(|s| s.parse::<i64>().ok());
        let idx = || num(1).and_then(|n| usize::try_from(n).ok());
        match f[0] {
            "snapshot" if f.len() == 3 => {
                checksum = u64::from_str_radix(f[1], 16).ok();
                created = num(2);
            }
            "ns" if f.len() == 3 => {
                ns = f[1].parse::<u64>().ok().zip(f[2].parse::<u64>().ok());
            }
            "pid" if f.len() == 2 => pid = f[1].parse::<u32>().ok(),
            "tag" if f.len() == 2 && is_tag(f[1]) => tag = Some(f[1].to_owned()),
            "begin" if f.len() == 3 => {
                if let (Some(i), Some(k)) = (idx(), num(2).and_then(|k| i32::try_from(k).ok())) {
                    out.begun.insert(i, k);
                }
            }
            "made" | "private" if f.len() == 3 => {
                if let (Some(i), Some(id)) = (idx(), num(2).and_then(|k| i32::try_from(k).ok())) {
                    let map = if f[0] == "made" {
                        &mut out.made
                    } else {
                        &mut out.private
                    };
                    map.insert(i, id);
                }
            }
            "done" if f.len() == 2 => {
                if let Some(i) = idx() {
                    out.done.insert(i);
                }
            }
            _ => {}
        }
    }
    if let (Some(checksum), Some(created), Some((ipc_ns, dev_shm)), Some(pid), Some(tag)) =
        (checksum, created, ns, pid, tag)
    {
        out.header = Some(JournalHeader {
            checksum,
            created,
            ipc_ns,
            dev_shm,
            pid,
            tag,
        });
    }
    Some(out)
}

/// A tag is 16 lowercase hex digits: nothing a path could be built from otherwise.
pub(crate) fn is_tag(s: &str) -> bool {
    s.len() == 16
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_reads_back_what_was_written_and_skips_damaged_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let header = JournalHeader {
            checksum: 0xabc,
            created: 17,
            ipc_ns: 4026531839,
            dev_shm: 22,
            pid: 1,
            tag: "00112233445566ff".into(),
        };
        let mut w = JournalWriter::create(&path, &header).unwrap();
        w.line("begin 0 5678").unwrap();
        w.line("made 0 42").unwrap();
        w.line("done 0").unwrap();
        w.line("private 3 43").unwrap();
        w.line("made x 1").unwrap();
        w.line("done").unwrap();
        w.line("tag ../../etc").unwrap();
        // A kill in the middle of a write leaves at most a partial last line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"begin 4 99")
            .unwrap();
        let got = read(&path).unwrap();
        assert_eq!(got.header, Some(header));
        assert_eq!(got.begun.get(&0), Some(&5678));
        assert_eq!(got.made.get(&0), Some(&42));
        assert_eq!(got.private.get(&3), Some(&43));
        assert!(got.done.contains(&0));
        assert_eq!(got.done.len(), 1);
        // The torn last line is complete enough to parse: harmless, every object is checked.
        assert_eq!(got.begun.get(&4), Some(&99));
        w.remove();
        assert!(read(&path).is_none());
    }
}
