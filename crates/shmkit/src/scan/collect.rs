//! [`Scan::collect`]: the one pass that fills the model.

use super::model::*;
use crate::sys;
use shmkit_procfs::{MapEntry, MapPath, MemInfo, NameTable, ProcRoot, SysvShm};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

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

        let (mounts, mut files) = scan_mounts(root, opts, &mut coverage);
        let tmpfs_devs: HashMap<(u32, u32), usize> =
            mounts.iter().enumerate().map(|(i, m)| (m.dev, i)).collect();
        // Descriptors name paths, not devices: a path under a tmpfs mount point is a
        // candidate, longest mount point first so /dev/shm wins over /dev.
        let mut mounts_by_prefix: Vec<(String, (u32, u32), bool)> = mounts
            .iter()
            .map(|m| (join_mount(&m.mount_point, ""), m.dev, m.is_dev_shm))
            .collect();
        mounts_by_prefix.sort_by_key(|(p, _, _)| std::cmp::Reverse(p.len()));

        let mut procs: HashMap<u32, ProcInfo> = HashMap::new();
        let mut found: HashMap<Identity, Found> = HashMap::new();
        let mut sysv_holders: HashMap<i32, BTreeMap<u32, u64>> = HashMap::new();
        let pids = root.pids().unwrap_or_else(|e| {
            coverage.notes.push(format!("processes not listed: {e}"));
            Vec::new()
        });
        let alive: HashSet<u32> = pids.iter().copied().collect();
        if opts.holders {
            let results = scan_processes(root, &pids, &tmpfs_devs, &mounts_by_prefix, boot_time);
            for r in results {
                coverage.processes += 1;
                match r {
                    ProcResult::Vanished => coverage.processes_vanished += 1,
                    ProcResult::Unreadable => coverage.processes_unreadable += 1,
                    ProcResult::Seen {
                        pid,
                        info,
                        maps,
                        fds,
                    } => {
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
            if coverage.processes_unreadable > 0 {
                coverage.notes.push(format!(
                    "{} processes could not be read (run as root to see every holder); an object only they hold looks unheld",
                    coverage.processes_unreadable
                ));
            }
        }
        // Everything else we know of a creator is whether it is alive and when it started.
        let creator = |pid: u32, since: i64| -> ProcessRef {
            if !alive.contains(&pid) {
                return ProcessRef { pid, comm: None };
            }
            let info = procs
                .get(&pid)
                .cloned()
                .or_else(|| read_proc_info(root, pid, boot_time));
            match info {
                // A process that started after the segment was made only reuses the pid.
                Some(i) if i.started.is_none_or(|s| s <= since.saturating_add(1)) => ProcessRef {
                    pid,
                    comm: Some(i.comm),
                },
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
        let unreadable = opts.holders.then_some(coverage.processes_unreadable);
        for file in files.drain(..) {
            let id = (file.dev.0, file.dev.1, file.inode);
            let held = found.remove(&id);
            objects.push(file_object(file, held, &procs, &users, unreadable));
        }
        // What only mappings and descriptors revealed: shared anonymous memory, memfds,
        // deleted tmpfs files, shared mappings of regular files.
        let mut rest: Vec<(Identity, Found)> = found.into_iter().collect();
        rest.sort_by_key(|(id, _)| *id);
        for (id, f) in rest {
            let Some(kind) = f.kind else { continue };
            let mut obj = hidden_object(id, kind, f, &procs, &mut coverage);
            obj.user = users.name(obj.uid).map(str::to_string);
            if let Some(&i) = tmpfs_devs.get(&(id.0, id.1)) {
                obj.mount = Some(mounts[i].mount_point.clone());
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
    inode: u64,
    size: u64,
    allocated: u64,
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: i64,
}

/// Finds tmpfs and ramfs mounts, their usage, and their files.
fn scan_mounts(
    root: &ProcRoot,
    opts: &ScanOptions,
    coverage: &mut Coverage,
) -> (Vec<TmpfsMount>, Vec<WalkedFile>) {
    let infos = match root.mountinfo(None) {
        Ok(infos) => infos,
        Err(e) => {
            coverage.notes.push(format!("mounts not read: {e}"));
            return (Vec::new(), Vec::new());
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
        if entries >= opts.walk_limit {
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
                inode: w.inode,
                size: w.size,
                allocated: w.allocated,
                uid: w.uid,
                gid: w.gid,
                mode: w.mode,
                mtime: w.mtime,
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
    (mounts, files)
}

fn join_mount(mount_point: &str, rel: &str) -> String {
    if mount_point.ends_with('/') {
        format!("{mount_point}{rel}")
    } else {
        format!("{mount_point}/{rel}")
    }
}

/// A regular file met in a walk.
#[derive(Debug)]
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
    Unreadable,
    Seen {
        pid: u32,
        info: ProcInfo,
        maps: Vec<Seen>,
        fds: Vec<FdSeen>,
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
fn scan_processes(
    root: &ProcRoot,
    pids: &[u32],
    tmpfs_devs: &HashMap<(u32, u32), usize>,
    mounts_by_prefix: &[(String, (u32, u32), bool)],
    boot_time: Option<i64>,
) -> Vec<ProcResult> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = pids.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = pids
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut buf = Vec::with_capacity(64 * 1024);
                    let mut maps = Vec::new();
                    part.iter()
                        .map(|&pid| {
                            scan_process(
                                root,
                                pid,
                                tmpfs_devs,
                                mounts_by_prefix,
                                boot_time,
                                &mut buf,
                                &mut maps,
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn scan_process(
    root: &ProcRoot,
    pid: u32,
    tmpfs_devs: &HashMap<(u32, u32), usize>,
    mounts_by_prefix: &[(String, (u32, u32), bool)],
    boot_time: Option<i64>,
    buf: &mut Vec<u8>,
    maps: &mut Vec<MapEntry>,
) -> ProcResult {
    match root.pid_maps_into(pid, buf, maps) {
        Ok(true) => {}
        Ok(false) => return ProcResult::Vanished,
        Err(e) if e.is_permission_denied() => return ProcResult::Unreadable,
        Err(_) => return ProcResult::Vanished,
    }
    let mut seen = Vec::new();
    for e in maps.iter().filter(|e| e.shared) {
        let id = (e.dev_major, e.dev_minor, e.inode);
        let map_file =
            || Some(root.path(format!("/proc/{pid}/map_files/{:x}-{:x}", e.start, e.end)));
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
            let on_tmpfs = tmpfs_devs.contains_key(&(e.dev_major, e.dev_minor));
            let kind = if !on_tmpfs {
                Kind::File
            } else if path.starts_with("/dev/shm/") {
                Kind::Posix
            } else {
                Kind::Tmpfs
            };
            if e.inode == 0 {
                continue;
            }
            seen.push(Seen::Shmem {
                id,
                kind,
                name: path.clone(),
                len: e.len(),
                size: e.offset + e.len(),
                deleted: *deleted,
                stat_path: (*deleted || kind == Kind::File).then(map_file).flatten(),
            });
        }
    }
    let mut fds = Vec::new();
    match root.pid_fds(pid) {
        Ok(Some(links)) => {
            for link in links {
                let Some(target) = link.target_path() else {
                    continue;
                };
                let kind = if link.memfd_name().is_some() {
                    Kind::Memfd
                } else if let Some((_, _, dev_shm)) = mounts_by_prefix
                    .iter()
                    .find(|(prefix, _, _)| target.starts_with(prefix.as_str()))
                {
                    if *dev_shm {
                        Kind::Posix
                    } else {
                        Kind::Tmpfs
                    }
                } else {
                    continue;
                };
                // Only a stat through the link tells the identity (and a memfd's size).
                let Ok(meta) = std::fs::metadata(root.path(format!("/proc/{pid}/fd/{}", link.fd)))
                else {
                    continue;
                };
                if !meta.is_file() {
                    continue;
                }
                let name = match link.memfd_name() {
                    Some(n) => format!("memfd:{n}"),
                    None => target.to_string(),
                };
                fds.push(FdSeen {
                    id: (dev_major(meta.dev()), dev_minor(meta.dev()), meta.ino()),
                    kind,
                    name,
                    size: meta.size(),
                    allocated: Some(meta.blocks() * 512),
                    deleted: link.deleted() && kind != Kind::Memfd,
                });
            }
        }
        Ok(None) => return ProcResult::Vanished,
        Err(e) if e.is_permission_denied() => return ProcResult::Unreadable,
        Err(_) => {}
    }
    let info = if seen.is_empty() && fds.is_empty() {
        ProcInfo {
            comm: String::new(),
            uid: 0,
            started: None,
        }
    } else {
        match read_proc_info(root, pid, boot_time) {
            Some(info) => info,
            None => return ProcResult::Vanished,
        }
    };
    ProcResult::Seen {
        pid,
        info,
        maps: seen,
        fds,
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
    // USER_HZ is 100 on every Linux architecture that matters to /proc's ABI.
    let started = boot_time.map(|b| b + (stat.starttime / 100) as i64);
    Some(ProcInfo {
        comm: stat.comm,
        uid,
        started,
    })
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
    unreadable: Option<u64>,
) -> Object {
    let holders = held
        .as_ref()
        .map(|f| holders_of(procs, f))
        .unwrap_or_default();
    // Without a holder scan nothing can be called unheld.
    let orphan = file.kind == Kind::Posix && unreadable.is_some() && holders.is_empty();
    let address = match &file.posix_name {
        Some(name) => format!("posix:{name}"),
        None => format!("file:{}", file.path),
    };
    Object {
        kind: file.kind,
        address: Some(address),
        name: file.posix_name.clone().unwrap_or_else(|| file.path.clone()),
        dev: Some(file.dev),
        inode: Some(file.inode),
        size: file.size,
        resident: Some(file.allocated),
        swapped: None,
        uid: file.uid,
        gid: file.gid,
        user: users.name(file.uid).map(str::to_string),
        mode: file.mode & 0o777,
        holders,
        created: Some(file.mtime),
        mount: Some(file.mount),
        status: Status {
            orphan,
            ..Status::default()
        },
        orphan_reason: orphan.then(|| match unreadable {
            Some(n) if n > 0 => {
                format!("no process maps it or holds it open ({n} processes could not be read)")
            }
            _ => "no process maps it or holds it open".to_string(),
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

/// Quotes a path for a shell command line when it needs quoting.
pub(crate) fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:,@%=".contains(&b))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
