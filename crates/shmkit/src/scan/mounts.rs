//! The tmpfs and ramfs mounts: which are reachable, their use, and a walk of their files
//! (the files of `/dev/shm` are the POSIX objects).
//!
//! One filesystem can be mounted at several places and one mount can hide another on the same
//! mount point: each filesystem is listed once, and a hidden one is remembered by its device so
//! that its files, still mapped by processes, are known as shmem.

use super::model::*;
use super::ScanOptions;
use crate::address::escape_bytes;
use crate::sys;
use crate::DeviceId;
use shmkit_procfs::ProcRoot;
use std::collections::BTreeMap;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A file found by walking a tmpfs mount.
#[derive(Debug, Clone)]
pub(super) struct WalkedFile {
    /// The mount namespace it was found in, when not ours.
    pub(super) ns: Option<u64>,
    pub(super) kind: Kind,
    /// The path as the host sees it (mount point + relative path), escaped for display
    /// ([`crate::address::escape_bytes`]).
    pub(super) path: String,
    /// The same path, its bytes as they are.
    pub(super) raw_path: std::path::PathBuf,
    /// For POSIX objects, the name `shm_open` takes (`/name`), escaped for display.
    pub(super) posix_name: Option<String>,
    /// The POSIX name as it is, when it is UTF-8 (a `posix:` address can carry it).
    pub(super) posix_utf8: Option<String>,
    pub(super) mount: String,
    pub(super) dev: DeviceId,
    /// What the walk saw of it.
    pub(super) file: Entry,
    /// The directory that holds it as reachable from here (through `/proc/PID/root` for
    /// another mount namespace), and its name in it.
    pub(super) place: (std::path::PathBuf, Vec<u8>),
}

/// One mount namespace's table: ours (`via` = `None`, paths under the root as they are), or
/// another's, reached through `/proc/PID/root` of one of its processes.
#[derive(Debug)]
pub(super) struct MountTable {
    /// The namespace inode.
    pub(super) ns: Option<u64>,
    /// The process whose root reaches it; `None` for ours.
    pub(super) via: Option<u32>,
    /// Its mounts.
    pub(super) infos: Vec<shmkit_procfs::MountInfo>,
}

impl MountTable {
    /// Where a mount point of this namespace is, below the root.
    fn dir(&self, root: &ProcRoot, mount_point: &Path) -> std::path::PathBuf {
        match self.via {
            None => root.path(mount_point),
            Some(pid) => {
                let mut under = std::ffi::OsString::from(format!("/proc/{pid}/root"));
                under.push(mount_point.as_os_str());
                root.path(under)
            }
        }
    }
}

/// Finds tmpfs and ramfs mounts, their usage, and their files: ours from
/// `/proc/self/mountinfo`, then those of the other mount namespaces in `others`. A
/// filesystem mounted in several namespaces (a bind mount, a shared `/dev/shm`) is one
/// filesystem, listed once: where it is `/dev/shm` first, ours before another's, the shortest
/// mount point last.
pub(super) fn scan_mounts(
    root: &ProcRoot,
    opts: &ScanOptions,
    others: Vec<MountTable>,
    coverage: &mut Coverage,
) -> (Vec<TmpfsMount>, Vec<WalkedFile>, Vec<HiddenMount>) {
    let ours = match root.mountinfo(None) {
        Ok(infos) => MountTable {
            ns: None,
            via: None,
            infos,
        },
        Err(e) => {
            coverage.notes.push(format!("mounts not read: {e}"));
            return (Vec::new(), Vec::new(), Vec::new());
        }
    };
    let tables: Vec<MountTable> = std::iter::once(ours).chain(others).collect();
    let is_shmem_fs = |m: &&shmkit_procfs::MountInfo| m.fs_type == "tmpfs" || m.fs_type == "ramfs";
    // The rank of a place to list a filesystem under: lower is better.
    let rank = |t: usize, mi: &shmkit_procfs::MountInfo| {
        (!is_dev_shm(mi), t != 0, mi.mount_point.as_os_str().len())
    };
    let mut by_dev: BTreeMap<DeviceId, (usize, &shmkit_procfs::MountInfo)> = BTreeMap::new();
    for (t, table) in tables.iter().enumerate() {
        // A mount stacked on the same mount point hides the one below (mountinfo lists the
        // lower first): only the last one at each point is reachable by path.
        let mut visible: BTreeMap<&Path, &shmkit_procfs::MountInfo> = BTreeMap::new();
        for mi in &table.infos {
            visible.insert(mi.mount_point.as_path(), mi);
        }
        for mi in visible.into_values().filter(is_shmem_fs) {
            let dev = DeviceId::new(mi.major, mi.minor);
            let better = by_dev
                .get(&dev)
                .is_none_or(|(ot, old)| rank(t, mi) < rank(*ot, old));
            if better {
                by_dev.insert(dev, (t, mi));
            }
        }
    }
    // What a mount stacked on the same point hides cannot be walked, but processes that
    // opened or mapped its files before keep them, and their pages stay shmem.
    let mut hidden: Vec<HiddenMount> = Vec::new();
    for (t, table) in tables.iter().enumerate() {
        for mi in table.infos.iter().filter(is_shmem_fs) {
            let dev = DeviceId::new(mi.major, mi.minor);
            if by_dev.contains_key(&dev) || hidden.iter().any(|h| h.dev == dev) {
                continue;
            }
            if t == 0 {
                coverage.notes.push(format!(
                    "{} at {} (device {}:{}) is hidden under another mount: its files are not listed, only those a process maps or holds open",
                    mi.fs_type, shown(&mi.mount_point), mi.major, mi.minor
                ));
            }
            hidden.push(HiddenMount {
                mount_point: shown(&mi.mount_point),
                dev,
                is_dev_shm: is_dev_shm(mi),
                ns: table.ns,
            });
        }
    }
    let mut mounts = Vec::new();
    let mut files = Vec::new();
    for (dev, (t, mi)) in by_dev {
        let table = &tables[t];
        let is_dev_shm = is_dev_shm(mi);
        let mount_point = shown(&mi.mount_point);
        let dir = table.dir(root, &mi.mount_point);
        let fs = sys::statvfs(&dir);
        let mut walked = Vec::new();
        let mut entries = 0usize;
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) => walk(
                &dir,
                &mount_point,
                meta.dev(),
                &mut walked,
                &mut entries,
                opts.walk_limit,
                coverage,
            ),
            Err(e) => coverage
                .notes
                .push(format!("{mount_point}: not walked: {e}")),
        }
        // The walk counts one entry past the limit when it stops early.
        if entries > opts.walk_limit {
            coverage.notes.push(format!(
                "{mount_point}: stopped after {} entries; its largest files may be missing",
                opts.walk_limit
            ));
        }
        let walked_bytes: u64 = walked.iter().map(|w: &Entry| w.allocated).sum();
        let (size_limit, used) = match (mi.fs_type.as_str(), fs) {
            ("tmpfs", Ok(st)) => (Some(st.total), st.total.saturating_sub(st.free)),
            // ramfs has no limit and statvfs reports zeros: what its files hold is its use.
            _ => (None, walked_bytes),
        };
        let kind = if is_dev_shm { Kind::Posix } else { Kind::Tmpfs };
        let file_count = walked.len() as u64;
        if !is_dev_shm {
            walked.sort_by(|a, b| b.allocated.cmp(&a.allocated).then(a.rel.cmp(&b.rel)));
            walked.truncate(opts.top_files);
        }
        for w in walked {
            let rel = escape_bytes(&w.rel);
            let path = join_mount(&mount_point, &rel);
            let mount_bytes = mi.mount_point.as_os_str().as_bytes();
            let slash: &[u8] = if mount_bytes.ends_with(b"/") {
                b""
            } else {
                b"/"
            };
            let raw_path = std::path::PathBuf::from(std::ffi::OsString::from_vec(
                [mount_bytes, slash, &w.rel].concat(),
            ));
            let (parent, name) = match w.rel.iter().rposition(|&b| b == b'/') {
                Some(i) => (&w.rel[..i], &w.rel[i + 1..]),
                None => (&[][..], &w.rel[..]),
            };
            let place = (dir.join(std::ffi::OsStr::from_bytes(parent)), name.to_vec());
            files.push(WalkedFile {
                place,
                ns: table.ns,
                kind,
                posix_name: is_dev_shm.then(|| format!("/{rel}")),
                posix_utf8: is_dev_shm
                    .then(|| std::str::from_utf8(&w.rel).ok().map(|n| format!("/{n}")))
                    .flatten(),
                path,
                raw_path,
                mount: mount_point.clone(),
                dev,
                file: w,
            });
        }
        mounts.push(TmpfsMount {
            mount_point,
            fs_type: mi.fs_type.clone(),
            dev,
            size_limit,
            used,
            files: file_count,
            is_dev_shm,
            location: Location {
                namespaces: Namespaces {
                    ipc: None,
                    mnt: table.ns,
                },
                foreign: table.via.is_some(),
                pid: table.via,
                container: None,
            },
        });
    }
    let our_dev_shm = |m: &TmpfsMount| m.is_dev_shm && !m.location.foreign;
    if !mounts.iter().any(our_dev_shm) && !hidden.iter().any(|h| h.is_dev_shm && h.ns.is_none()) {
        coverage.notes.push(
            "no tmpfs is mounted at /dev/shm: POSIX shared memory (shm_open) has nowhere to live here; mount one: mount -t tmpfs -o size=64m,mode=1777 tmpfs /dev/shm".to_string(),
        );
    }
    (mounts, files, hidden)
}

/// A tmpfs or ramfs that another mount on the same mount point hides.
#[derive(Debug)]
pub(super) struct HiddenMount {
    pub(super) mount_point: String,
    pub(super) dev: DeviceId,
    pub(super) is_dev_shm: bool,
    /// Its mount namespace, when not ours.
    pub(super) ns: Option<u64>,
}

/// A mount point as the model shows it: [`escape_bytes`]'s text, which reads back to the same
/// bytes (`/mnt/caf\xe9`).
pub(super) fn shown(mount_point: &Path) -> String {
    escape_bytes(mount_point.as_os_str().as_bytes())
}

/// Whether `mi` is mounted at `/dev/shm`.
pub(super) fn is_dev_shm(mi: &shmkit_procfs::MountInfo) -> bool {
    mi.mount_point == Path::new("/dev/shm")
}

/// `rel` (shown text) under `mount_point` (shown text).
pub(super) fn join_mount(mount_point: &str, rel: &str) -> String {
    if mount_point.ends_with('/') {
        format!("{mount_point}{rel}")
    } else {
        format!("{mount_point}/{rel}")
    }
}

/// A regular file met in a walk.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// Its path under the mount point, as bytes: names are not always UTF-8.
    pub(super) rel: Vec<u8>,
    pub(super) inode: u64,
    pub(super) size: u64,
    pub(super) allocated: u64,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) mode: u32,
    pub(super) mtime: i64,
    /// Last access (unix seconds): with `mtime`, when it was last used.
    pub(super) atime: i64,
}

/// Walks `dir` without following symlinks or crossing into other filesystems.
pub(super) fn walk(
    dir: &Path,
    mount_point: &str,
    dev: u64,
    out: &mut Vec<Entry>,
    entries: &mut usize,
    limit: usize,
    coverage: &mut Coverage,
) {
    let mut stack = vec![(dir.to_path_buf(), Vec::<u8>::new())];
    while let Some((path, rel)) = stack.pop() {
        let rd = match std::fs::read_dir(&path) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                coverage.objects_vanished += 1;
                continue;
            }
            Err(e) => {
                coverage.notes.push(format!(
                    "{}: not read: {}",
                    join_mount(mount_point, &escape_bytes(&rel)),
                    crate::error::os_message(&e)
                ));
                continue;
            }
        };
        for entry in rd.flatten() {
            *entries += 1;
            if *entries > limit {
                return;
            }
            let name = entry.file_name();
            let child_rel = if rel.is_empty() {
                name.as_bytes().to_vec()
            } else {
                [rel.as_slice(), b"/", name.as_bytes()].concat()
            };
            let Ok(meta) = entry.path().symlink_metadata() else {
                coverage.objects_vanished += 1;
                continue;
            };
            if meta.dev() != dev {
                continue;
            }
            if meta.is_dir() {
                stack.push((entry.path(), child_rel));
            } else if meta.is_file() {
                out.push(Entry {
                    rel: child_rel,
                    inode: meta.ino(),
                    size: meta.size(),
                    allocated: meta.blocks() * 512,
                    uid: meta.uid(),
                    gid: meta.gid(),
                    mode: meta.mode() & 0o7777,
                    mtime: meta.mtime(),
                    atime: meta.atime(),
                });
            }
        }
    }
}
