//! [`Scan::collect`]: the one pass that fills the model.
//!
//! Rules the pass keeps, each for a kernel fact:
//! - Shmids are per IPC namespace and maps show only key and shmid: a process is credited as a
//!   holder of our segments only if its `ns/ipc` is ours.
//! - A tmpfs can be hidden under another mount, or live in a container's mount namespace: a
//!   mapped file of one is still shmem (known by the device, or by `statfs` through
//!   `map_files`), shown without an address since no path reaches it from here.
//! - A private mapping of a shmem file keeps it alive as surely as a shared one.
//! - A creator's start time is `btime` + ticks, and `btime` moves with clock steps: it gets
//!   [`CLOCK_SLACK`] before its pid counts as reused.
//! - An unheld POSIX object is an orphan, but its reason says when a process whose maps we
//!   could not read may hold it (its mount table has the object's filesystem and its owner, or
//!   root, may open it): not seeing a holder is not knowing there is none.
//!
//! Each process is read relative to its open `/proc/PID` (still under the [`ProcRoot`]):
//! `maps`, the `fd` links, `ns/ipc`, `comm`; a path walk from `/` per descriptor link costs
//! more than the read. On Linux 6.11+ `maps` is asked with `PROCMAP_QUERY` for the shared
//! mappings and the private ones of shmem files only, instead of formatting every library
//! mapping as text (a fifth of the scan's CPU); older kernels and fixture trees read the text.

use super::model::*;
use crate::sys;
use shmkit_procfs::{MapEntry, MapPath, MemInfo, NameTable, ProcRoot, SysvShm};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// How much later than a segment's ctime its creator may seem to have started and still be
/// its creator, in seconds. A start time is boot time (`btime`) plus ticks, and `btime` moves
/// when the wall clock is stepped (NTP at boot), while ctime was taken before the step: a
/// small slack would call a live creator dead and its segment a leak. A pid reused within
/// this window is the rarer mistake, and the safe one (a leak missed, not a segment freed).
const CLOCK_SLACK: i64 = 120;

/// What to collect.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// How many of the largest files to list per tmpfs mount other than `/dev/shm` (every
    /// `/dev/shm` file is listed: those are the POSIX objects).
    pub top_files: usize,
    /// Read every process's maps and descriptors to find holders (the expensive part).
    pub holders: bool,
    /// Stop walking a mount after this many directory entries (a huge tmpfs stays cheap).
    pub walk_limit: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            top_files: 10,
            holders: true,
            walk_limit: 200_000,
        }
    }
}

/// The one thing a scan cannot do without: `/proc/meminfo`.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the memory counters: {0}")]
pub struct ScanError(#[from] shmkit_procfs::Error);

impl From<ScanError> for crate::Error {
    /// A one-line error for the user: which file, why, and how to get it back.
    fn from(e: ScanError) -> Self {
        let kind = if e.0.is_not_found() {
            crate::ErrorKind::NotFound
        } else if e.0.is_permission_denied() {
            crate::ErrorKind::PermissionDenied
        } else {
            crate::ErrorKind::Corrupt
        };
        crate::Error::new(kind, "/proc/meminfo", e.0.to_string())
            .with_fix("the scan needs a mounted proc filesystem: mount -t proc proc /proc")
    }
}

/// Every shared-memory object on the host at one moment, and what could not be seen.
#[derive(Debug, Clone)]
pub struct Scan {
    /// The objects, System V first, then POSIX, tmpfs, shared anonymous, memfd, file.
    pub objects: Vec<Object>,
    /// The tmpfs and ramfs mounts.
    pub mounts: Vec<TmpfsMount>,
    /// `/proc/meminfo` read at the start of the scan.
    pub meminfo: MemInfo,
    /// Total swap in bytes (0: no swap, shmem is pinned in RAM).
    pub swap_total: u64,
    /// What was skipped.
    pub coverage: Coverage,
}

/// A process's facts that holders need, read once per process.
#[derive(Debug, Clone)]
struct ProcInfo {
    comm: String,
    uid: u32,
    /// Start time in seconds since the epoch (to tell a reused pid from the real creator).
    started: Option<i64>,
}

/// The identity that mappings and descriptors share: (device major, minor, inode).
type Identity = (u32, u32, u64);

/// What the per-process pass learnt about one shmem object found through mappings or fds.
#[derive(Debug, Default)]
struct Found {
    kind: Option<Kind>,
    name: String,
    size: u64,
    allocated: Option<u64>,
    deleted: bool,
    holders: BTreeMap<u32, (bool, bool, u64)>,
    stat_path: Option<std::path::PathBuf>,
}

impl Scan {
    /// Scans the host (or the fixture tree) under `root`.
    pub fn collect(root: &ProcRoot, opts: &ScanOptions) -> Result<Scan, ScanError> {
        let meminfo = root.meminfo()?;
        let mut coverage = Coverage::default();
        let users = root.users().unwrap_or_default();
        let swap_total = meminfo.get("SwapTotal").unwrap_or(0);
        let boot_time = boot_time(root);

        let segments = root.sysvipc_shm().unwrap_or_else(|e| {
            coverage
                .notes
                .push(format!("System V segments not read: {e}"));
            Vec::new()
        });

        let (mounts, mut files, hidden) = scan_mounts(root, opts, &mut coverage);
        // Every tmpfs and ramfs device of our mount table, also those hidden under another
        // mount: a file of one that a process maps is shmem however it is reached.
        let mut shmem_devs: HashMap<(u32, u32), (String, bool)> = hidden
            .iter()
            .map(|m| (m.dev, (m.mount_point.clone(), m.is_dev_shm)))
            .collect();
        for m in &mounts {
            shmem_devs.insert(m.dev, (m.mount_point.clone(), m.is_dev_shm));
        }
        // Descriptors name paths, not devices: a path under a tmpfs mount point is a
        // candidate, longest mount point first so /dev/shm wins over /dev.
        let mut mounts_by_prefix: Vec<(String, (u32, u32), bool)> = mounts
            .iter()
            .map(|m| (join_mount(&m.mount_point, ""), m.dev, m.is_dev_shm))
            .collect();
        mounts_by_prefix.sort_by_key(|(p, _, _)| std::cmp::Reverse(p.len()));
        let known = Known {
            shmem_devs,
            mounts_by_prefix,
            boot_time,
            // Shmids are per IPC namespace: only holders in ours attach our segments.
            our_ipc: root.ns_link(None, "ipc").ok().flatten().map(|ns| ns.inode),
            internal_shm_dev: is_live(root)
                .then(|| sys::memfd::memfd_create("shmkit-scan-probe", false, false))
                .and_then(|fd| sys::dir::fstat(fd.ok()?.as_fd()).ok())
                .map(|st| (dev_major(st.dev), dev_minor(st.dev))),
            // A fixture tree's maps are text files.
            procmap_query: std::sync::atomic::AtomicBool::new(is_live(root)),
        };
        let mut other_ipc_ns = 0u64;

        let mut procs: HashMap<u32, ProcInfo> = HashMap::new();
        let mut found: HashMap<Identity, Found> = HashMap::new();
        let mut sysv_holders: HashMap<i32, BTreeMap<u32, u64>> = HashMap::new();
        let pids = root.pids().unwrap_or_else(|e| {
            coverage.notes.push(format!("processes not listed: {e}"));
            Vec::new()
        });
        let alive: HashSet<u32> = pids.iter().copied().collect();
        let mut unseen = Unseen::default();
        if opts.holders {
            let results = scan_processes(root, &pids, &known);
            for r in results {
                coverage.processes += 1;
                match r {
                    ProcResult::Vanished => coverage.processes_vanished += 1,
                    ProcResult::Unreadable { pid, uid } => {
                        coverage.processes_unreadable += 1;
                        // Its mount table is readable when its memory is not: it can only
                        // have opened files of the mounts it has.
                        let devs = root
                            .mountinfo(Some(pid))
                            .ok()
                            .map(|ms| ms.iter().map(|m| (m.major, m.minor)).collect());
                        unseen.0.push(UnseenProc { uid, devs });
                    }
                    ProcResult::Seen {
                        pid,
                        info,
                        maps,
                        fds,
                        other_ipc,
                    } => {
                        other_ipc_ns += u64::from(other_ipc);
                        let interesting = !maps.is_empty() || !fds.is_empty();
                        for m in maps {
                            match m {
                                Seen::Sysv { shmid, len } => {
                                    *sysv_holders
                                        .entry(shmid)
                                        .or_default()
                                        .entry(pid)
                                        .or_default() += len;
                                }
                                Seen::Shmem {
                                    id,
                                    kind,
                                    name,
                                    len,
                                    size,
                                    deleted,
                                    stat_path,
                                } => {
                                    let f = found.entry(id).or_default();
                                    if f.kind.is_none() {
                                        f.kind = Some(kind);
                                        f.name = name;
                                        f.deleted = deleted;
                                    }
                                    f.size = f.size.max(size);
                                    if f.stat_path.is_none() {
                                        f.stat_path = stat_path;
                                    }
                                    let h = f.holders.entry(pid).or_default();
                                    h.0 = true;
                                    h.2 += len;
                                }
                            }
                        }
                        for fd in fds {
                            let f = found.entry(fd.id).or_default();
                            if f.kind.is_none() {
                                f.kind = Some(fd.kind);
                                f.name = fd.name;
                                f.deleted = fd.deleted;
                            }
                            f.size = f.size.max(fd.size);
                            f.allocated = f.allocated.or(fd.allocated);
                            f.holders.entry(pid).or_default().1 = true;
                        }
                        if interesting {
                            procs.insert(pid, info);
                        }
                    }
                }
            }
            if other_ipc_ns > 0 {
                coverage.notes.push(format!(
                    "{} System V segments of other IPC namespaces (containers); those segments are not listed here",
                    if other_ipc_ns == 1 {
                        "1 process attaches".to_string()
                    } else {
                        format!("{other_ipc_ns} processes attach")
                    }
                ));
            }
            if coverage.processes_unreadable > 0 {
                let n = coverage.processes_unreadable;
                let (count, how) = match (n, crate::sys::geteuid()) {
                    (1, 0) => (
                        "1 process".to_string(),
                        "even as root (another user namespace, or hidepid)",
                    ),
                    (_, 0) => (
                        format!("{n} processes"),
                        "even as root (another user namespace, or hidepid)",
                    ),
                    (1, _) => ("1 process".to_string(), "(run as root to see every holder)"),
                    _ => (
                        format!("{n} processes"),
                        "(run as root to see every holder)",
                    ),
                };
                coverage.notes.push(format!(
                    "{count} could not be read {how}; an object only they hold looks unheld"
                ));
            }
        }
        // Everything else we know of a creator is whether it is alive and when it started.
        let creator = |pid: u32, since: i64| -> ProcessRef {
            if !alive.contains(&pid) {
                return ProcessRef { pid, comm: None };
            }
            // Holders were read without their start time: read the creator's.
            let info = read_proc_info(root, pid, known.boot_time);
            match info {
                // A process that started after the segment was made only reuses the pid.
                Some(i)
                    if i.started
                        .is_none_or(|s| s <= since.saturating_add(CLOCK_SLACK)) =>
                {
                    ProcessRef {
                        pid,
                        comm: Some(i.comm),
                    }
                }
                _ => ProcessRef { pid, comm: None },
            }
        };

        let mut objects = Vec::new();
        for seg in &segments {
            let holders = sysv_holders
                .remove(&seg.shmid)
                .unwrap_or_default()
                .into_iter()
                .map(|(pid, mapped)| holder(&procs, pid, HoldVia::Map, mapped))
                .collect();
            objects.push(sysv_object(seg, holders, &users, &creator));
        }

        // Files found by walking mounts, with holders matched by identity.
        let unseen = opts.holders.then_some(&unseen);
        for file in files.drain(..) {
            let id = (file.dev.0, file.dev.1, file.file.inode);
            let held = found.remove(&id);
            objects.push(file_object(file, held, &procs, &users, unseen));
        }
        // What only mappings and descriptors revealed: shared anonymous memory, memfds,
        // deleted tmpfs files, shared mappings of regular files.
        let mut rest: Vec<(Identity, Found)> = found.into_iter().collect();
        rest.sort_by_key(|(id, _)| *id);
        for (id, f) in rest {
            let Some(kind) = f.kind else { continue };
            let mut obj = hidden_object(id, kind, f, &procs, &mut coverage);
            obj.user = users.name(obj.uid).map(str::to_string);
            if let Some((mount_point, _)) = known.shmem_devs.get(&(id.0, id.1)) {
                obj.mount = Some(mount_point.clone());
            }
            // A file of a mount that is hidden, or of another mount namespace, cannot be
            // reached by its path from here: no command can address it.
            if matches!(kind, Kind::Posix | Kind::Tmpfs)
                && !mounts.iter().any(|m| m.dev == (id.0, id.1))
            {
                obj.address = None;
            }
            objects.push(obj);
        }
        objects.sort_by(|a, b| {
            a.kind
                .cmp(&b.kind)
                .then(b.resident.unwrap_or(0).cmp(&a.resident.unwrap_or(0)))
                .then(a.name.cmp(&b.name))
        });
        Ok(Scan {
            objects,
            mounts,
            meminfo,
            swap_total,
            coverage,
        })
    }
}

/// A file found by walking a tmpfs mount.
#[derive(Debug, Clone)]
struct WalkedFile {
    kind: Kind,
    /// The path as the host sees it (mount point + relative path).
    path: String,
    /// For POSIX objects, the name `shm_open` takes (`/name`).
    posix_name: Option<String>,
    mount: String,
    dev: (u32, u32),
    /// What the walk saw of it.
    file: Entry,
}

/// Finds tmpfs and ramfs mounts, their usage, and their files.
fn scan_mounts(
    root: &ProcRoot,
    opts: &ScanOptions,
    coverage: &mut Coverage,
) -> (Vec<TmpfsMount>, Vec<WalkedFile>, Vec<HiddenMount>) {
    let infos = match root.mountinfo(None) {
        Ok(infos) => infos,
        Err(e) => {
            coverage.notes.push(format!("mounts not read: {e}"));
            return (Vec::new(), Vec::new(), Vec::new());
        }
    };
    // One filesystem can be mounted at several places (bind mounts): keep it once, under
    // /dev/shm if it is there, else under its shortest mount point.
    // A mount stacked on the same mount point hides the one below (mountinfo lists the
    // lower first): only the last one at each point is reachable by path.
    let mut visible: BTreeMap<&str, &shmkit_procfs::MountInfo> = BTreeMap::new();
    for mi in &infos {
        visible.insert(mi.mount_point.as_str(), mi);
    }
    let mut by_dev: BTreeMap<(u32, u32), &shmkit_procfs::MountInfo> = BTreeMap::new();
    for mi in visible
        .into_values()
        .filter(|m| m.fs_type == "tmpfs" || m.fs_type == "ramfs")
    {
        let dev = (mi.major, mi.minor);
        let better = match by_dev.get(&dev) {
            None => true,
            Some(old) => {
                old.mount_point != "/dev/shm"
                    && (mi.mount_point == "/dev/shm"
                        || mi.mount_point.len() < old.mount_point.len())
            }
        };
        if better {
            by_dev.insert(dev, mi);
        }
    }
    // What a mount stacked on the same point hides cannot be walked, but processes that
    // opened or mapped its files before keep them, and their pages stay shmem.
    let mut hidden: Vec<HiddenMount> = Vec::new();
    for mi in infos
        .iter()
        .filter(|m| m.fs_type == "tmpfs" || m.fs_type == "ramfs")
    {
        let dev = (mi.major, mi.minor);
        if by_dev.contains_key(&dev) || hidden.iter().any(|h| h.dev == dev) {
            continue;
        }
        coverage.notes.push(format!(
            "{} at {} (device {}:{}) is hidden under another mount: its files are not listed, only those a process maps or holds open",
            mi.fs_type, mi.mount_point, mi.major, mi.minor
        ));
        hidden.push(HiddenMount {
            mount_point: mi.mount_point.clone(),
            dev,
            is_dev_shm: mi.mount_point == "/dev/shm",
        });
    }
    let mut mounts = Vec::new();
    let mut files = Vec::new();
    for (dev, mi) in by_dev {
        let is_dev_shm = mi.mount_point == "/dev/shm";
        let dir = root.path(&mi.mount_point);
        let fs = sys::statvfs(&dir);
        let mut walked = Vec::new();
        let mut entries = 0usize;
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) => walk(
                &dir,
                &mi.mount_point,
                meta.dev(),
                &mut walked,
                &mut entries,
                opts.walk_limit,
                coverage,
            ),
            Err(e) => coverage
                .notes
                .push(format!("{}: not walked: {e}", mi.mount_point)),
        }
        // The walk counts one entry past the limit when it stops early.
        if entries > opts.walk_limit {
            coverage.notes.push(format!(
                "{}: stopped after {} entries; its largest files may be missing",
                mi.mount_point, opts.walk_limit
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
            let path = join_mount(&mi.mount_point, &w.rel);
            files.push(WalkedFile {
                kind,
                posix_name: is_dev_shm.then(|| format!("/{}", w.rel)),
                path,
                mount: mi.mount_point.clone(),
                dev,
                file: w,
            });
        }
        mounts.push(TmpfsMount {
            mount_point: mi.mount_point.clone(),
            fs_type: mi.fs_type.clone(),
            dev,
            size_limit,
            used,
            files: file_count,
            is_dev_shm,
        });
    }
    if !mounts.iter().any(|m| m.is_dev_shm) && !hidden.iter().any(|h| h.is_dev_shm) {
        coverage.notes.push(
            "no tmpfs is mounted at /dev/shm: POSIX shared memory (shm_open) has nowhere to live here; mount one: mount -t tmpfs -o size=64m,mode=1777 tmpfs /dev/shm".to_string(),
        );
    }
    (mounts, files, hidden)
}

/// A tmpfs or ramfs that another mount on the same mount point hides.
#[derive(Debug)]
struct HiddenMount {
    mount_point: String,
    dev: (u32, u32),
    is_dev_shm: bool,
}

/// What the per-process pass needs to know of the host, learnt before it.
#[derive(Debug)]
struct Known {
    /// Every tmpfs and ramfs device of our mount table → (mount point, is `/dev/shm`).
    shmem_devs: HashMap<(u32, u32), (String, bool)>,
    /// Visible tmpfs mount points with a trailing `/`, longest first: descriptors name paths.
    mounts_by_prefix: Vec<(String, (u32, u32), bool)>,
    /// Boot time (unix seconds), to turn process start ticks into dates.
    boot_time: Option<i64>,
    /// The inode of our IPC namespace, when known.
    our_ipc: Option<u64>,
    /// The device of the kernel's internal shmem mount (memfds, shared anonymous memory,
    /// System V), learnt from a memfd of our own; live scans only.
    internal_shm_dev: Option<(u32, u32)>,
    /// Whether `maps` answers `PROCMAP_QUERY` (Linux 6.11+); cleared at the first refusal.
    procmap_query: std::sync::atomic::AtomicBool,
}

fn join_mount(mount_point: &str, rel: &str) -> String {
    if mount_point.ends_with('/') {
        format!("{mount_point}{rel}")
    } else {
        format!("{mount_point}/{rel}")
    }
}

/// A regular file met in a walk.
#[derive(Debug, Clone)]
struct Entry {
    rel: String,
    inode: u64,
    size: u64,
    allocated: u64,
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: i64,
}

/// Walks `dir` without following symlinks or crossing into other filesystems.
fn walk(
    dir: &Path,
    mount_point: &str,
    dev: u64,
    out: &mut Vec<Entry>,
    entries: &mut usize,
    limit: usize,
    coverage: &mut Coverage,
) {
    let mut stack = vec![(dir.to_path_buf(), String::new())];
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
                    join_mount(mount_point, &rel),
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
            let name = entry.file_name().to_string_lossy().into_owned();
            let child_rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
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
                });
            }
        }
    }
}

/// One process's contribution.
#[derive(Debug)]
enum ProcResult {
    Vanished,
    Unreadable {
        pid: u32,
        /// Its owner, when even that could not be learnt: `None`.
        uid: Option<u32>,
    },
    Seen {
        pid: u32,
        info: ProcInfo,
        maps: Vec<Seen>,
        fds: Vec<FdSeen>,
        /// It attached System V segments of another IPC namespace (dropped from `maps`).
        other_ipc: bool,
    },
}

/// A relevant mapping.
#[derive(Debug)]
enum Seen {
    Sysv {
        shmid: i32,
        len: u64,
    },
    Shmem {
        id: Identity,
        kind: Kind,
        name: String,
        len: u64,
        size: u64,
        deleted: bool,
        stat_path: Option<std::path::PathBuf>,
    },
}

/// A relevant open descriptor.
#[derive(Debug)]
struct FdSeen {
    id: Identity,
    kind: Kind,
    name: String,
    size: u64,
    allocated: Option<u64>,
    deleted: bool,
}

/// Reads every process's maps and descriptors, on as many threads as there are cores (the
/// kernel formats maps on the reading thread, so this is where the time goes).
fn scan_processes(root: &ProcRoot, pids: &[u32], known: &Known) -> Vec<ProcResult> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    // Threads take small batches from a shared cursor rather than a fixed share: on a busy
    // machine a thread whose core is taken by another program then does less, instead of
    // making the whole scan wait for its half.
    const BATCH: usize = 16;
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let next = &next;
                s.spawn(move || {
                    let mut scratch = Scratch::default();
                    let mut out = Vec::new();
                    loop {
                        let from = next.fetch_add(BATCH, std::sync::atomic::Ordering::Relaxed);
                        let Some(part) = pids.get(from..pids.len().min(from + BATCH)) else {
                            break;
                        };
                        if part.is_empty() {
                            break;
                        }
                        out.extend(
                            part.iter()
                                .map(|&pid| scan_process(root, pid, known, &mut scratch)),
                        );
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// One scanning thread's reusable buffers: no per-process allocation for the raw files.
#[derive(Debug, Default)]
struct Scratch {
    /// The raw text of `maps` (then of `stat`).
    buf: Vec<u8>,
    /// A link's target.
    link: Vec<u8>,
    /// The parsed mappings.
    maps: Vec<MapEntry>,
    /// Per device outside our mount table: is its filesystem tmpfs or ramfs (a container's
    /// own mount)?
    on_shmem_fs: HashMap<(u32, u32), bool>,
}

/// How an I/O error on a process's files reads: it exited, or we may not look (then its
/// owner, from its open `/proc/PID`, tells whose objects it could hold).
fn gone_or_hidden(
    e: &std::io::Error,
    pid: u32,
    pid_dir: Option<std::os::fd::BorrowedFd<'_>>,
) -> ProcResult {
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => ProcResult::Unreadable {
            pid,
            uid: pid_dir
                .and_then(|d| sys::dir::fstat(d).ok())
                .map(|st| st.uid),
        },
        _ => ProcResult::Vanished,
    }
}

/// The processes the scan could not read: what they might hold unseen.
#[derive(Debug, Default)]
struct Unseen(Vec<UnseenProc>);

/// What is known of a process whose memory and descriptors could not be read.
#[derive(Debug)]
struct UnseenProc {
    /// Its owner (`None`: unknown).
    uid: Option<u32>,
    /// The devices of its mount table (`None`: unknown).
    devs: Option<HashSet<(u32, u32)>>,
}

impl Unseen {
    /// How many unread processes may have opened a file of this owner, mode and device:
    /// one that has the file's filesystem mounted and the right to open it (root, the
    /// owner, or anyone the mode lets in; group membership is not resolved, so any group
    /// bit counts as a way in).
    fn could_open_count(&self, owner: u32, mode: u32, dev: (u32, u32)) -> usize {
        self.0
            .iter()
            .filter(|p| {
                p.devs.as_ref().is_none_or(|devs| devs.contains(&dev))
                    && (p.uid.is_none_or(|uid| uid == 0 || uid == owner) || mode & 0o066 != 0)
            })
            .count()
    }
}

/// The fields of a `std` stat the scan uses (fixture trees are stat'ed through `std`).
fn file_stat(m: &std::fs::Metadata) -> sys::dir::FileStat {
    sys::dir::FileStat {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        allocated: m.blocks() * 512,
        mode: m.mode(),
        uid: m.uid(),
        gid: m.gid(),
        mtime: m.mtime(),
    }
}

/// Whether a `maps` line can name shared memory: shared (`s`), a memfd, or a private
/// mapping of a file on a tmpfs or ramfs of ours. `None` for a line too short to be one
/// (a read cut short).
fn maps_line_matters(line: &str, shmem_devs: &HashMap<(u32, u32), (String, bool)>) -> Option<bool> {
    let mut fields = line.splitn(6, ' ');
    let (_range, perms, _offset, dev) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    fields.next()?; // the inode
    if perms.as_bytes().get(3) == Some(&b's') || line.contains("/memfd:") {
        return Some(true);
    }
    let (major, minor) = dev.split_once(':')?;
    let dev = (
        u32::from_str_radix(major, 16).ok()?,
        u32::from_str_radix(minor, 16).ok()?,
    );
    Some(shmem_devs.contains_key(&dev))
}

/// Reads one process: `/proc/PID` is opened once and its files named relative to it (a path
/// walk from the root for each descriptor link costs more than reading it).
fn scan_process(root: &ProcRoot, pid: u32, known: &Known, scratch: &mut Scratch) -> ProcResult {
    let pid_dir = match sys::dir::open_dir(&root.path(format!("/proc/{pid}"))) {
        Ok(fd) => fd,
        Err(e) => return gone_or_hidden(&e, pid, None),
    };
    scratch.maps.clear();
    if known
        .procmap_query
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        match query_maps(pid_dir.as_fd(), known, &mut scratch.link, &mut scratch.maps) {
            Ok(true) => return scan_process_rest(root, pid, known, pid_dir.as_fd(), scratch),
            Ok(false) => return no_mappings(pid),
            // No memory at all (a kernel thread, a zombie, a process exiting now): like an
            // empty maps.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return no_mappings(pid),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOTTY) | Some(libc::EINVAL) | Some(libc::EOPNOTSUPP)
                ) =>
            {
                // An older kernel: read the text, for this process and every other.
                known
                    .procmap_query
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                scratch.maps.clear();
            }
            Err(e) => return gone_or_hidden(&e, pid, Some(pid_dir.as_fd())),
        }
    }
    if let Err(e) = sys::dir::read_at(pid_dir.as_fd(), c"maps", &mut scratch.buf) {
        return gone_or_hidden(&e, pid, Some(pid_dir.as_fd()));
    }
    let text = String::from_utf8_lossy(&scratch.buf);
    let mut lines = 0usize;
    for (i, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        lines += 1;
        // Most mappings are private libraries and heap: only shared ones, memfds and
        // private mappings of shmem files are parsed whole.
        let parsed = match maps_line_matters(line, &known.shmem_devs) {
            Some(false) => continue,
            Some(true) => shmkit_procfs::maps::parse_line(line, i + 1).ok(),
            None => None,
        };
        match parsed {
            Some(entry) => scratch.maps.push(entry),
            // Only a read cut short makes a maps file unparsable: treat it as gone.
            None => return ProcResult::Vanished,
        }
    }
    if lines == 0 {
        return no_mappings(pid);
    }
    scan_process_rest(root, pid, known, pid_dir.as_fd(), scratch)
}

/// A kernel thread, or a process past the point of exit where it drops its memory (its
/// descriptors go next): nothing to hold, and no descriptors worth a listing.
fn no_mappings(pid: u32) -> ProcResult {
    ProcResult::Seen {
        pid,
        info: ProcInfo {
            comm: String::new(),
            uid: 0,
            started: None,
        },
        maps: Vec::new(),
        fds: Vec::new(),
        other_ipc: false,
    }
}

/// Whether `root` is the live host (not a fixture tree).
fn is_live(root: &ProcRoot) -> bool {
    root.root() == Path::new("/")
}

/// Fills `maps` with the mappings that can name shared memory, asked of the kernel one by one
/// (`PROCMAP_QUERY`) rather than read as text: every shared mapping with its name, and the
/// private mappings of files on our tmpfs and ramfs mounts or on the internal shmem mount
/// (memfds). `Ok(false)` if the process has no mappings at all.
fn query_maps(
    pid_dir: std::os::fd::BorrowedFd<'_>,
    known: &Known,
    name: &mut Vec<u8>,
    maps: &mut Vec<MapEntry>,
) -> std::io::Result<bool> {
    use sys::procmap::{query, Vma, FILE_BACKED, SHARED};
    let fd = sys::dir::open_at(pid_dir, c"maps")?;
    let entry = |v: &Vma, name: &[u8]| {
        let name = String::from_utf8_lossy(name);
        let path = if name.is_empty() {
            MapPath::None
        } else if name.starts_with('/') {
            match name.strip_suffix(" (deleted)") {
                Some(p) => MapPath::Path {
                    path: p.to_string(),
                    deleted: true,
                },
                None => MapPath::Path {
                    path: name.into_owned(),
                    deleted: false,
                },
            }
        } else {
            MapPath::Special(name.into_owned())
        };
        MapEntry {
            start: v.start,
            end: v.end,
            readable: v.readable,
            writable: v.writable,
            executable: v.executable,
            shared: v.shared,
            offset: v.offset,
            dev_major: v.dev_major,
            dev_minor: v.dev_minor,
            inode: v.inode,
            path,
        }
    };
    let mut addr = 0;
    while let Some(v) = query(fd.as_fd(), addr, SHARED, Some(name))? {
        maps.push(entry(&v, name));
        addr = v.end;
    }
    let mut any = !maps.is_empty();
    addr = 0;
    while let Some(v) = query(fd.as_fd(), addr, FILE_BACKED, None)? {
        any = true;
        let dev = (v.dev_major, v.dev_minor);
        if !v.shared
            && v.inode != 0
            && (known.shmem_devs.contains_key(&dev) || known.internal_shm_dev == Some(dev))
        {
            if let Some(named) = query(fd.as_fd(), v.start, FILE_BACKED, Some(name))? {
                maps.push(entry(&named, name));
            }
        }
        addr = v.end;
    }
    if !any {
        any = query(fd.as_fd(), 0, 0, None)?.is_some();
    }
    Ok(any)
}

/// The rest of [`scan_process`] once its mappings are known.
fn scan_process_rest(
    root: &ProcRoot,
    pid: u32,
    known: &Known,
    pid_dir: std::os::fd::BorrowedFd<'_>,
    scratch: &mut Scratch,
) -> ProcResult {
    let Scratch {
        buf,
        link,
        maps,
        on_shmem_fs,
    } = scratch;
    let mut seen = Vec::new();
    for e in maps.iter() {
        let id = (e.dev_major, e.dev_minor, e.inode);
        let dev = (e.dev_major, e.dev_minor);
        let map_file =
            || Some(root.path(format!("/proc/{pid}/map_files/{:x}-{:x}", e.start, e.end)));
        if !e.shared {
            // A private mapping of a shmem file (a reader's MAP_PRIVATE of a POSIX object, a
            // memfd) keeps the file and its pages alive just the same: it is a holder. Other
            // private mappings (libraries, private anonymous memory) are not shared memory.
            let shmem = e.memfd_name().is_some()
                || (e.inode != 0
                    && matches!(e.path, MapPath::Path { .. })
                    && known.shmem_devs.contains_key(&dev));
            if !shmem {
                continue;
            }
        }
        if let Some(shmid) = e.sysv_shmid() {
            seen.push(Seen::Sysv {
                shmid,
                len: e.len(),
            });
        } else if e.is_shared_anon() {
            seen.push(Seen::Shmem {
                id,
                kind: Kind::SharedAnon,
                name: anon_name(e),
                len: e.len(),
                size: e.offset + e.len(),
                deleted: false,
                stat_path: map_file(),
            });
        } else if let Some(name) = e.memfd_name() {
            seen.push(Seen::Shmem {
                id,
                kind: Kind::Memfd,
                name: format!("memfd:{name}"),
                len: e.len(),
                size: e.offset + e.len(),
                deleted: false,
                stat_path: map_file(),
            });
        } else if let MapPath::Path { path, deleted } = &e.path {
            if e.inode == 0 {
                continue;
            }
            let dev_shm = match known.shmem_devs.get(&dev) {
                Some((_, dev_shm)) => Some(*dev_shm),
                // Not a filesystem of our mount table: maybe a container's tmpfs. Its
                // filesystem type, through the mapped file itself, tells.
                None => {
                    let shmem = match on_shmem_fs.get(&dev) {
                        Some(&shmem) => shmem,
                        None => match map_file().map(|p| sys::fs::filesystem_magic(&p)) {
                            Some(Ok(magic)) => {
                                let shmem =
                                    magic == sys::fs::TMPFS_MAGIC || magic == sys::fs::RAMFS_MAGIC;
                                on_shmem_fs.insert(dev, shmem);
                                shmem
                            }
                            _ => false,
                        },
                    };
                    shmem.then_some(false)
                }
            };
            let kind = match dev_shm {
                None => Kind::File,
                Some(true) => Kind::Posix,
                Some(false) if path.starts_with("/dev/shm/") => Kind::Posix,
                Some(false) => Kind::Tmpfs,
            };
            seen.push(Seen::Shmem {
                id,
                kind,
                name: path.clone(),
                len: e.len(),
                size: e.offset + e.len(),
                deleted: *deleted,
                // Used only for what no walk finds: deleted files, files of hidden or
                // foreign mounts, regular files.
                stat_path: map_file(),
            });
        }
    }
    let mut fds = Vec::new();
    let live = root.root() == Path::new("/");
    // /proc/PID/fd fills each batch until it is full, so a short batch was the last.
    let listed = sys::dir::for_each_entry_at(pid_dir.as_fd(), c"fd", live, |name, fd_dir| {
        let Some(fd) = name.to_str().ok().and_then(|n| n.parse::<u32>().ok()) else {
            return;
        };
        // Closed between the listing and now, or not a link (a fixture's .keep): skip.
        if sys::dir::readlink_at(fd_dir, name, link).is_err() {
            return;
        }
        let Ok(link) = shmkit_procfs::fd::parse(&fd.to_string(), &String::from_utf8_lossy(link))
        else {
            return;
        };
        let Some(target) = link.target_path() else {
            return;
        };
        let mount = known
            .mounts_by_prefix
            .iter()
            .find(|(prefix, _, _)| target.starts_with(prefix.as_str()));
        let mount_dev = mount.map(|(_, dev, _)| *dev);
        let kind = match mount {
            _ if link.memfd_name().is_some() => Kind::Memfd,
            Some((_, _, true)) => Kind::Posix,
            Some((_, _, false)) => Kind::Tmpfs,
            None => return,
        };
        // Only a stat through the link tells the identity (and a memfd's size). In a
        // fixture tree the links are plain symlinks whose absolute targets would lead
        // out of the tree to the host's files: resolve the target inside the root.
        let stat = if live {
            sys::dir::stat_at(fd_dir, name)
        } else {
            std::fs::metadata(root.path(target)).map(|m| file_stat(&m))
        };
        let Ok(meta) = stat else {
            return;
        };
        // A fixture's files all sit on the repository's disk: there, as for the
        // walk, the mount table's device is their identity.
        let dev = match mount_dev {
            Some(dev) if !live => dev,
            _ => (dev_major(meta.dev), dev_minor(meta.dev)),
        };
        if !meta.is_file() {
            return;
        }
        let name = match link.memfd_name() {
            Some(n) => format!("memfd:{n}"),
            None => target.to_string(),
        };
        fds.push(FdSeen {
            id: (dev.0, dev.1, meta.ino),
            kind,
            name,
            size: meta.size,
            allocated: Some(meta.allocated),
            deleted: link.deleted() && kind != Kind::Memfd,
        });
    });
    if let Err(e) = listed {
        return gone_or_hidden(&e, pid, Some(pid_dir.as_fd()));
    }
    // Shmids are per IPC namespace: a segment attached in a container is not ours.
    let mut other_ipc = false;
    if let Some(ours) = known.our_ipc {
        if seen.iter().any(|s| matches!(s, Seen::Sysv { .. })) {
            if let Err(e) = sys::dir::readlink_at(pid_dir.as_fd(), c"ns/ipc", link) {
                return gone_or_hidden(&e, pid, Some(pid_dir.as_fd()));
            }
            match shmkit_procfs::ns::parse(&String::from_utf8_lossy(link)) {
                Ok(ns) if ns.inode != ours => {
                    seen.retain(|s| !matches!(s, Seen::Sysv { .. }));
                    other_ipc = true;
                }
                _ => {}
            }
        }
    }
    let info = if seen.is_empty() && fds.is_empty() {
        ProcInfo {
            comm: String::new(),
            uid: 0,
            started: None,
        }
    } else {
        // comm is all a holder needs, and far cheaper for the kernel to print than stat;
        // a fixture tree may hold only stat.
        let comm = match sys::dir::read_at(pid_dir.as_fd(), c"comm", buf) {
            Ok(()) => {
                let text = String::from_utf8_lossy(buf);
                text.strip_suffix('\n').unwrap_or(&text).to_string()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Err(e) = sys::dir::read_at(pid_dir.as_fd(), c"stat", buf) {
                    return gone_or_hidden(&e, pid, Some(pid_dir.as_fd()));
                }
                match shmkit_procfs::pid_stat::parse(&String::from_utf8_lossy(buf)) {
                    Ok(stat) => stat.comm,
                    Err(_) => return ProcResult::Vanished,
                }
            }
            Err(e) => return gone_or_hidden(&e, pid, Some(pid_dir.as_fd())),
        };
        // The owner of /proc/PID is the process's (effective) user.
        let uid = sys::dir::fstat(pid_dir.as_fd()).map_or(0, |st| st.uid);
        ProcInfo {
            comm,
            uid,
            // Only a creator's start time matters; the creator check reads it.
            started: None,
        }
    };
    ProcResult::Seen {
        pid,
        info,
        maps: seen,
        fds,
        other_ipc,
    }
}

fn anon_name(e: &MapEntry) -> String {
    match &e.path {
        MapPath::Special(s) => s.clone(),
        _ => format!("shared-anon:{}", e.inode),
    }
}

/// `major(dev)` as glibc computes it.
fn dev_major(dev: u64) -> u32 {
    (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff)) as u32
}

/// `minor(dev)` as glibc computes it.
fn dev_minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff)) as u32
}

/// Command, owner and start time of a process; `None` if it is gone.
fn read_proc_info(root: &ProcRoot, pid: u32, boot_time: Option<i64>) -> Option<ProcInfo> {
    let stat = root.pid_stat(pid).ok()??;
    let uid = std::fs::metadata(root.path(format!("/proc/{pid}")))
        .map(|m| m.uid())
        .unwrap_or(0);
    Some(ProcInfo {
        comm: stat.comm,
        uid,
        started: started(boot_time, stat.starttime),
    })
}

/// When a process started (unix seconds), from boot time and its start in clock ticks.
fn started(boot_time: Option<i64>, starttime: u64) -> Option<i64> {
    // USER_HZ is 100 on every Linux architecture that matters to /proc's ABI.
    boot_time.map(|b| b + (starttime / 100) as i64)
}

/// `btime` from `/proc/stat`: boot time in seconds since the epoch.
fn boot_time(root: &ProcRoot) -> Option<i64> {
    let text = root.read_to_string("/proc/stat").ok()??;
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn holder(procs: &HashMap<u32, ProcInfo>, pid: u32, via: HoldVia, mapped: u64) -> Holder {
    let (comm, uid) = procs
        .get(&pid)
        .map_or((String::new(), 0), |p| (p.comm.clone(), p.uid));
    Holder {
        pid,
        comm,
        uid,
        via,
        mapped,
    }
}

fn holders_of(procs: &HashMap<u32, ProcInfo>, f: &Found) -> Vec<Holder> {
    f.holders
        .iter()
        .map(|(&pid, &(map, fd, mapped))| {
            let via = match (map, fd) {
                (true, true) => HoldVia::MapAndFd,
                (false, true) => HoldVia::Fd,
                _ => HoldVia::Map,
            };
            holder(procs, pid, via, mapped)
        })
        .collect()
}

fn sysv_object(
    seg: &SysvShm,
    holders: Vec<Holder>,
    users: &NameTable,
    creator: &dyn Fn(u32, i64) -> ProcessRef,
) -> Object {
    let made_by = creator(seg.cpid, seg.ctime);
    let last = creator(seg.lpid, i64::MAX);
    let marked = seg.marked_for_destruction();
    let orphan = seg.nattch == 0 && made_by.comm.is_none() && !marked;
    Object {
        kind: Kind::Sysv,
        address: Some(format!("sysv:id={}", seg.shmid)),
        name: format!("0x{:08x}", seg.key as u32),
        dev: None,
        inode: Some(seg.shmid as u64),
        size: seg.size,
        resident: seg.rss,
        swapped: seg.swap,
        uid: seg.uid,
        gid: seg.gid,
        user: users.name(seg.uid).map(str::to_string),
        mode: seg.mode(),
        holders,
        created: Some(seg.ctime),
        mount: None,
        status: Status {
            orphan,
            marked_for_destruction: marked,
            locked: seg.locked(),
            hugetlb: false,
            deleted: false,
            // nattch counts every attachment, readable or not.
            orphan_uncertain: false,
        },
        orphan_reason: orphan.then(|| {
            format!(
                "no process is attached (nattch 0) and its creator, pid {}, has exited",
                seg.cpid
            )
        }),
        free_command: (!marked).then(|| format!("ipcrm -m {}", seg.shmid)),
        sysv: Some(SysvDetails {
            key: seg.key,
            shmid: seg.shmid,
            nattch: seg.nattch,
            creator: made_by,
            last,
            cuid: seg.cuid,
            cgid: seg.cgid,
            atime: seg.atime,
            dtime: seg.dtime,
            ctime: seg.ctime,
        }),
    }
}

fn file_object(
    file: WalkedFile,
    held: Option<Found>,
    procs: &HashMap<u32, ProcInfo>,
    users: &NameTable,
    unseen: Option<&Unseen>,
) -> Object {
    let holders = held
        .as_ref()
        .map(|f| holders_of(procs, f))
        .unwrap_or_default();
    // Without a holder scan nothing can be called unheld.
    let orphan = file.kind == Kind::Posix && holders.is_empty() && unseen.is_some();
    // A process we could not read may hold what no readable one does: the reason says so
    // when one could have (its mount table has the file's filesystem and it may open it), so
    // that nobody frees it on our word alone (`rm --orphans` refuses without --force).
    let maybe_held = unseen.and_then(|u| {
        let n = u.could_open_count(file.file.uid, file.file.mode, file.dev);
        (n > 0).then_some(n)
    });
    let address = match &file.posix_name {
        Some(name) => format!("posix:{name}"),
        None => format!("file:{}", file.path),
    };
    Object {
        kind: file.kind,
        address: Some(address),
        name: file.posix_name.clone().unwrap_or_else(|| file.path.clone()),
        dev: Some(file.dev),
        inode: Some(file.file.inode),
        size: file.file.size,
        resident: Some(file.file.allocated),
        swapped: None,
        uid: file.file.uid,
        gid: file.file.gid,
        user: users.name(file.file.uid).map(str::to_string),
        mode: file.file.mode & 0o777,
        holders,
        created: Some(file.file.mtime),
        mount: Some(file.mount),
        status: Status {
            orphan,
            orphan_uncertain: orphan && maybe_held.is_some(),
            ..Status::default()
        },
        orphan_reason: orphan.then(|| match maybe_held {
            Some(n) => format!(
                "no process this scan could read maps it or holds it open, but {n} that could not be read may"
            ),
            None => "no process maps it or holds it open".to_string(),
        }),
        free_command: Some(format!("rm {}", shell_quote(&file.path))),
        sysv: None,
    }
}

fn hidden_object(
    id: Identity,
    kind: Kind,
    f: Found,
    procs: &HashMap<u32, ProcInfo>,
    coverage: &mut Coverage,
) -> Object {
    let meta = f.stat_path.as_ref().and_then(|p| std::fs::metadata(p).ok());
    if f.stat_path.is_some() && meta.is_none() && f.allocated.is_none() {
        coverage.objects_vanished += u64::from(kind != Kind::File);
    }
    let holders = holders_of(procs, &f);
    let size = meta.as_ref().map_or(f.size, |m| m.size().max(f.size));
    // A regular file's pages are page cache, not shmem: its residency is not a blocks count.
    let resident = if kind == Kind::File {
        None
    } else {
        meta.as_ref().map(|m| m.blocks() * 512).or(f.allocated)
    };
    let (uid, gid, mode) = meta
        .as_ref()
        .map_or((0, 0, 0), |m| (m.uid(), m.gid(), m.mode() & 0o777));
    let deleted = f.deleted && matches!(kind, Kind::Posix | Kind::Tmpfs);
    let pids: Vec<String> = holders.iter().map(|h| h.pid.to_string()).collect();
    let name = if deleted {
        format!("{} (deleted)", f.name)
    } else {
        f.name.clone()
    };
    Object {
        kind,
        address: match kind {
            Kind::File => Some(format!("file:{}", f.name)),
            Kind::Posix | Kind::Tmpfs if !deleted => Some(format!("file:{}", f.name)),
            _ => None,
        },
        name,
        dev: Some((id.0, id.1)),
        inode: Some(id.2),
        size,
        resident,
        swapped: None,
        uid,
        gid,
        user: None,
        mode,
        holders,
        created: meta.as_ref().map(|m| m.mtime()),
        mount: None,
        status: Status {
            orphan: deleted,
            deleted,
            ..Status::default()
        },
        orphan_reason: deleted.then(|| {
            format!(
                "unlinked but still held by pid {}: its memory returns only when they unmap or close it",
                pids.join(", ")
            )
        }),
        free_command: (deleted && !pids.is_empty()).then(|| format!("kill {}", pids.join(" "))),
        sysv: None,
    }
}

/// Quotes a path for a shell command line when it needs quoting. A name with control
/// characters (a newline in a /dev/shm name is legal) is written `$'...'` with escapes, so
/// the command stays on one line and means exactly that file when pasted.
pub(crate) fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:,@%=".contains(&b))
    {
        text.to_string()
    } else if text.chars().any(char::is_control) {
        let mut out = String::from("$'");
        for c in text.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => {
                    let mut utf8 = [0u8; 4];
                    for b in c.encode_utf8(&mut utf8).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('\'');
        out
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kernel quirk: PROCMAP_QUERY on a kernel thread's maps fails with ESRCH (it has no
    /// memory), as for a process that is gone; it is a process with no mappings, not a
    /// vanished one.
    #[test]
    fn a_kernel_thread_is_seen_with_no_mappings_not_counted_vanished() {
        let root = ProcRoot::live();
        // kthreadd (pid 2) or one of its children, whose maps reads empty.
        let kthread = root.pids().unwrap().into_iter().find(|&pid| {
            root.pid_stat(pid)
                .ok()
                .flatten()
                .is_some_and(|st| (pid == 2 && st.ppid == 0) || st.ppid == 2)
                && root
                    .read_to_string(format!("/proc/{pid}/maps"))
                    .ok()
                    .flatten()
                    .is_some_and(|t| t.is_empty())
        });
        let Some(pid) = kthread else {
            return; // a pid namespace without kernel threads: nothing to test
        };
        let known = Known {
            shmem_devs: HashMap::new(),
            mounts_by_prefix: Vec::new(),
            boot_time: None,
            our_ipc: None,
            internal_shm_dev: None,
            procmap_query: std::sync::atomic::AtomicBool::new(true),
        };
        let result = scan_process(&root, pid, &known, &mut Scratch::default());
        assert!(
            matches!(&result, ProcResult::Seen { maps, fds, .. } if maps.is_empty() && fds.is_empty()),
            "pid {pid}: {result:?}"
        );
    }

    /// The two ways of reading maps (PROCMAP_QUERY, and the text older kernels give) find
    /// the same shared memory in the same process.
    #[test]
    fn query_and_text_find_the_same_mappings() {
        // Other tests of this binary map memory concurrently: only ours is compared, known
        // by its memfd name and its unusual size.
        let _anon = crate::sys::mapping::map_shared_anonymous(7 * 4096).unwrap();
        let memfd = crate::sys::memfd::memfd_create("scan-equivalence", false, false).unwrap();
        let file = std::fs::File::from(memfd);
        file.set_len(4096).unwrap();
        let _shared = crate::sys::mapping::map_shared_fd(file.as_fd(), 4096, true).unwrap();
        let root = ProcRoot::live();
        let seen = |query: bool| {
            let known = Known {
                shmem_devs: HashMap::new(),
                mounts_by_prefix: Vec::new(),
                boot_time: None,
                our_ipc: None,
                internal_shm_dev: None,
                procmap_query: std::sync::atomic::AtomicBool::new(query),
            };
            match scan_process(&root, std::process::id(), &known, &mut Scratch::default()) {
                ProcResult::Seen { maps, .. } => {
                    let mut v: Vec<String> = maps
                        .iter()
                        .map(|m| match m {
                            Seen::Sysv { shmid, len } => format!("sysv {shmid} {len}"),
                            Seen::Shmem {
                                id,
                                kind,
                                name,
                                len,
                                ..
                            } => format!("{kind} {id:?} {name} {len}"),
                        })
                        .filter(|m| m.contains("scan-equivalence") || m.ends_with(" 28672"))
                        .collect();
                    v.sort();
                    v
                }
                other => panic!("{other:?}"),
            }
        };
        let by_query = seen(true);
        assert!(
            by_query
                .iter()
                .any(|m| m.contains("memfd:scan-equivalence")),
            "{by_query:?}"
        );
        assert!(
            by_query.iter().any(|m| m.starts_with("shared-anon")),
            "{by_query:?}"
        );
        assert_eq!(by_query, seen(false));
    }

    #[test]
    fn shell_quote_keeps_a_hostile_name_on_one_line_and_exact() {
        assert_eq!(shell_quote("/dev/shm/orders"), "/dev/shm/orders");
        assert_eq!(shell_quote("/mnt/my ram/x"), "'/mnt/my ram/x'");
        assert_eq!(shell_quote("/dev/shm/it's"), r"'/dev/shm/it'\''s'");
        let q = shell_quote("/dev/shm/a\nrm -rf ~\t'\\\u{1b}");
        assert_eq!(q, r"$'/dev/shm/a\nrm -rf ~\t\'\\\x1b'");
        assert!(!q.chars().any(char::is_control));
        // bash reads it back as the very same name.
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("printf %s {q}"))
            .output()
            .expect("bash");
        assert_eq!(out.stdout, "/dev/shm/a\nrm -rf ~\t'\\\u{1b}".as_bytes());
    }

    #[test]
    fn only_maps_lines_that_can_name_shared_memory_matter() {
        let devs: HashMap<(u32, u32), (String, bool)> =
            [((0, 42), ("/dev/shm".to_string(), true))].into();
        let matters = |l: &str| maps_line_matters(l, &devs);
        // A library, the heap, an anonymous region: skipped unparsed.
        assert_eq!(
            matters("7f46bee9a000-7f46beec0000 r--p 00000000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6"),
            Some(false)
        );
        assert_eq!(
            matters(
                "5645d98b0000-5645d98d1000 rw-p 00000000 00:00 0                          [heap]"
            ),
            Some(false)
        );
        assert_eq!(
            matters("7f46bee97000-7f46bee9a000 rw-p 00000000 00:00 0 "),
            Some(false)
        );
        // Shared, a memfd mapped privately, a private mapping of a /dev/shm file: parsed.
        assert_eq!(
            matters("7f0000000000-7f0000100000 rw-s 00000000 00:01 5                          /SYSV0000162e (deleted)"),
            Some(true)
        );
        assert_eq!(
            matters("7f0000600000-7f0000800000 r--p 00000000 00:01 2345                       /memfd:x (deleted)"),
            Some(true)
        );
        assert_eq!(
            matters("7f0000000000-7f0000001000 r--p 00000000 00:2a 17                         /dev/shm/reader"),
            Some(true)
        );
        // Cut mid-line: not a mapping at all.
        assert_eq!(matters("5645ac677000-5645ac678000 r-xp "), None);
        assert_eq!(
            matters("5645ac677000-5645ac678000 r-xp 00001000 zz:00 1"),
            None
        );
    }
}
