//! The per-process pass: each process's mappings and descriptors that can name shared memory.
//!
//! Each process is read relative to its open `/proc/PID` (still under the [`ProcRoot`]):
//! `maps`, the `fd` links, `ns/ipc`, `comm`; a path walk from `/` per descriptor link costs
//! more than the read. On Linux 6.11+ `maps` is asked with `PROCMAP_QUERY`
//! ([`super::maps_query`]); older kernels and fixture trees read the text. A private mapping
//! of a shmem file keeps it alive as surely as a shared one, so it is a holder too.

use super::facts::{file_stat, started, Identity, Known, ProcInfo};
use super::maps_query::query_maps;
use super::model::*;
use crate::address::{escape_bytes, escaped};
use crate::sys;
use crate::{DeviceId, FileId};
use shmkit_procfs::{MapEntry, MapPath, ProcRoot};
use std::collections::HashMap;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// One process's contribution.
#[derive(Debug, Clone)]
pub(super) enum ProcResult {
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
        /// The IPC namespace of its System V attachments, when it is not ours: shmids are
        /// per namespace, so its `Seen::Sysv` entries name segments of that one.
        other_ipc: Option<u64>,
    },
}

impl ProcResult {
    /// The process it is about (`None`: it vanished).
    pub(super) fn pid(&self) -> Option<u32> {
        match self {
            ProcResult::Vanished => None,
            ProcResult::Unreadable { pid, .. } | ProcResult::Seen { pid, .. } => Some(*pid),
        }
    }
}

/// A relevant mapping.
#[derive(Debug, Clone)]
pub(super) enum Seen {
    Sysv {
        shmid: i32,
        len: u64,
        /// Mapped from a device other than the kernel's internal shmem mount: the internal
        /// hugetlbfs of `SHM_HUGETLB`.
        hugetlb: bool,
    },
    Shmem {
        id: Identity,
        kind: Kind,
        name: String,
        len: u64,
        size: u64,
        deleted: bool,
        stat_path: Option<std::path::PathBuf>,
        /// Where the mapping starts, which with the pid names it (`/proc/PID/map_files`).
        start: u64,
    },
}

/// A relevant open descriptor.
#[derive(Debug, Clone)]
pub(super) struct FdSeen {
    pub(super) id: Identity,
    pub(super) kind: Kind,
    pub(super) name: String,
    pub(super) size: u64,
    pub(super) allocated: Option<u64>,
    pub(super) deleted: bool,
    /// The descriptor: the thread whose table holds it (the process itself, or a thread with
    /// a table of its own, which `/proc/TID/fd` reaches as well) and its number there.
    pub(super) reach: (u32, u32),
}

/// Reads every process's maps and descriptors, on as many threads as there are cores (the
/// kernel formats maps on the reading thread, so this is where the time goes).
pub(super) fn scan_processes(root: &ProcRoot, pids: &[u32], known: &Known) -> Vec<ProcResult> {
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
pub(super) struct Scratch {
    /// The raw text of `maps` (then of `stat`).
    pub(super) buf: Vec<u8>,
    /// A link's target.
    pub(super) link: Vec<u8>,
    /// The parsed mappings.
    pub(super) maps: Vec<MapEntry>,
    /// Per device outside our mount table: is its filesystem tmpfs or ramfs (a container's
    /// own mount)?
    pub(super) on_shmem_fs: HashMap<DeviceId, bool>,
}

/// How an I/O error on a process's files reads: it exited, or we may not look (then its
/// owner, from its open `/proc/PID`, tells whose objects it could hold).
pub(super) fn gone_or_hidden(
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

/// Whether a `maps` line can name shared memory: shared (`s`), a memfd, or a private
/// mapping of a file on a tmpfs or ramfs of ours. `None` for a line too short to be one
/// (a read cut short).
pub(super) fn maps_line_matters(
    line: &str,
    shmem_devs: &HashMap<DeviceId, (String, bool)>,
) -> Option<bool> {
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
    let dev = DeviceId::new(
        u32::from_str_radix(major, 16).ok()?,
        u32::from_str_radix(minor, 16).ok()?,
    );
    Some(shmem_devs.contains_key(&dev))
}

/// Reads one process: `/proc/PID` is opened once and its files named relative to it (a path
/// walk from the root for each descriptor link costs more than reading it).
///
/// Threads: all share one memory map, but a thread-group leader that called `pthread_exit`
/// becomes a zombie whose `maps` reads empty while its other threads run on, and a thread
/// that called `unshare(CLONE_FILES)` has a descriptor table of its own. Both are found
/// through `/proc/PID/task/TID`, only for processes with more than one thread (the link count
/// of `task` says how many, without a listing) and, for descriptors, only for threads whose
/// table `kcmp` says differs.
pub(super) fn scan_process(
    root: &ProcRoot,
    pid: u32,
    known: &Known,
    scratch: &mut Scratch,
) -> ProcResult {
    let pid_dir = match sys::dir::open_dir(&root.path(format!("/proc/{pid}"))) {
        Ok(fd) => fd,
        Err(e) => return gone_or_hidden(&e, pid, None),
    };
    let threaded = known.read_threads
        && is_live(root)
        && sys::dir::nlink_at(pid_dir.as_fd(), c"task").is_ok_and(|n| n.saturating_sub(2) > 1);
    let mut any = match read_maps(pid_dir.as_fd(), pid, known, scratch) {
        Ok(any) => any,
        Err(result) => return result,
    };
    let mut view = View::Process;
    let mut tables = Vec::new();
    if threaded {
        let tids = task_ids(pid_dir.as_fd());
        if !any {
            // The leader exited (or this is a process exiting now): its threads' map, if any.
            for &tid in tids.iter().filter(|&&t| t != pid) {
                let Ok(task_dir) = sys::dir::open_at(pid_dir.as_fd(), &task_path(tid, "")) else {
                    continue;
                };
                if let Ok(true) = read_maps(task_dir.as_fd(), pid, known, scratch) {
                    any = true;
                    view = View::Task(tid);
                    break;
                }
            }
        }
        tables = own_fd_tables(pid, &tids);
    }
    if !any && tables.is_empty() {
        return no_mappings(pid);
    }
    scan_process_rest(root, pid, known, pid_dir.as_fd(), view, &tables, scratch)
}

/// Which directory's mappings were read: the process's, or one thread's (the leader exited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum View {
    /// `/proc/PID`.
    Process,
    /// `/proc/PID/task/TID`.
    Task(u32),
}

/// `task/TID/NAME` (`task/TID` for an empty name), relative to `/proc/PID`.
fn task_path(tid: u32, name: &str) -> std::ffi::CString {
    let path = if name.is_empty() {
        format!("task/{tid}")
    } else {
        format!("task/{tid}/{name}")
    };
    // Digits and a fixed name: no NUL can be inside.
    std::ffi::CString::new(path).unwrap_or_default()
}

/// The thread ids of a process (empty if it vanished).
fn task_ids(pid_dir: std::os::fd::BorrowedFd<'_>) -> Vec<u32> {
    let mut tids = Vec::new();
    let _ = sys::dir::for_each_entry_at(pid_dir, c"task", true, |name, _| {
        if let Some(tid) = name.to_str().ok().and_then(|n| n.parse().ok()) {
            tids.push(tid);
        }
    });
    tids
}

/// The threads whose descriptor table is not the process's (nor another one already
/// chosen): one per distinct table. A thread `kcmp` cannot compare is read to be safe.
fn own_fd_tables(pid: u32, tids: &[u32]) -> Vec<u32> {
    let mut tables: Vec<u32> = Vec::new();
    for &tid in tids.iter().filter(|&&t| t != pid) {
        if sys::process::same_files(pid, tid).unwrap_or(false) {
            continue;
        }
        if tables
            .iter()
            .any(|&t| sys::process::same_files(t, tid).unwrap_or(false))
        {
            continue;
        }
        tables.push(tid);
    }
    tables
}

/// Fills `scratch.maps` with the mappings of `dir` (`/proc/PID` or one of its tasks) that
/// can name shared memory. `Ok(false)`: no mappings at all; `Err`: what the process's result
/// is (it vanished, or may not be read).
fn read_maps(
    dir: std::os::fd::BorrowedFd<'_>,
    pid: u32,
    known: &Known,
    scratch: &mut Scratch,
) -> Result<bool, ProcResult> {
    scratch.maps.clear();
    if known
        .procmap_query
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        match query_maps(dir, known, &mut scratch.link, &mut scratch.maps) {
            Ok(any) => return Ok(any),
            // No memory at all (a kernel thread, a zombie, a process exiting now): like an
            // empty maps.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(false),
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
            Err(e) => return Err(gone_or_hidden(&e, pid, Some(dir))),
        }
    }
    if let Err(e) = sys::dir::read_at(dir, c"maps", &mut scratch.buf) {
        return Err(gone_or_hidden(&e, pid, Some(dir)));
    }
    // A line that is not UTF-8 (a path's bytes) is escaped as the walk's paths are; the
    // others are kept as they are, as PROCMAP_QUERY's names are not on kernels without it.
    let text = match std::str::from_utf8(&scratch.buf) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => std::borrow::Cow::Owned(
            scratch
                .buf
                .split(|&b| b == b'\n')
                .map(|line| match std::str::from_utf8(line) {
                    Ok(line) => std::borrow::Cow::Borrowed(line),
                    Err(_) => std::borrow::Cow::Owned(escape_bytes(line)),
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    };
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
            None => return Err(ProcResult::Vanished),
        }
    }
    Ok(lines > 0)
}

/// A kernel thread, or a process past the point of exit where it drops its memory (its
/// descriptors go next): nothing to hold, and no descriptors worth a listing.
pub(super) fn no_mappings(pid: u32) -> ProcResult {
    ProcResult::Seen {
        pid,
        info: ProcInfo {
            comm: String::new(),
            uid: 0,
            started: None,
        },
        maps: Vec::new(),
        fds: Vec::new(),
        other_ipc: None,
    }
}

/// Whether `root` is the live host (not a fixture tree).
pub(super) fn is_live(root: &ProcRoot) -> bool {
    root.root() == Path::new("/")
}

/// The rest of [`scan_process`] once its mappings are known.
pub(super) fn scan_process_rest(
    root: &ProcRoot,
    pid: u32,
    known: &Known,
    pid_dir: std::os::fd::BorrowedFd<'_>,
    view: View,
    tables: &[u32],
    scratch: &mut Scratch,
) -> ProcResult {
    let view_dir = match view {
        View::Process => None,
        View::Task(tid) => match sys::dir::open_at(pid_dir, &task_path(tid, "")) {
            Ok(fd) => Some(fd),
            Err(e) => return gone_or_hidden(&e, pid, Some(pid_dir)),
        },
    };
    let view_dir = view_dir.as_ref().map_or(pid_dir, |d| d.as_fd());
    let view_path = match view {
        View::Process => format!("/proc/{pid}"),
        View::Task(tid) => format!("/proc/{pid}/task/{tid}"),
    };
    let Scratch {
        buf,
        link,
        maps,
        on_shmem_fs,
    } = scratch;
    let mut seen = Vec::new();
    for e in maps.iter() {
        let id = FileId::new(DeviceId::new(e.dev_major, e.dev_minor), e.inode);
        let dev = DeviceId::new(e.dev_major, e.dev_minor);
        let map_file =
            || Some(root.path(format!("{view_path}/map_files/{:x}-{:x}", e.start, e.end)));
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
                hugetlb: known.internal_shm_dev.is_some_and(|shm| shm != dev),
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
                start: e.start,
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
                start: e.start,
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
                start: e.start,
            });
        }
    }
    let mut fds = Vec::new();
    let live = root.root() == Path::new("/");
    let mut fd_dirs = vec![(pid, std::ffi::CString::from(c"fd"))];
    fd_dirs.extend(tables.iter().map(|&tid| (tid, task_path(tid, "fd"))));
    for (table_owner, fd_dir_name) in &fd_dirs {
        // /proc/PID/fd fills each batch until it is full, so a short batch was the last.
        let listed =
            sys::dir::for_each_entry_at(pid_dir.as_fd(), fd_dir_name, live, |name, fd_dir| {
                let Some(fd) = name.to_str().ok().and_then(|n| n.parse::<u32>().ok()) else {
                    return;
                };
                // Closed between the listing and now, or not a link (a fixture's .keep): skip.
                if sys::dir::readlink_at(fd_dir, name, link).is_err() {
                    return;
                }
                // Escaped as the walk's paths and the mount points are (`\xNN`), so a target
                // that is not UTF-8 still matches its mount and its file.
                let Ok(link) = shmkit_procfs::fd::parse(&fd.to_string(), &escaped(link)) else {
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
                    let target = std::ffi::OsString::from_vec(crate::address::unescape(target));
                    std::fs::metadata(root.path(target)).map(|m| file_stat(&m))
                };
                let Ok(meta) = stat else {
                    return;
                };
                // A fixture's files all sit on the repository's disk: there, as for the
                // walk, the mount table's device is their identity.
                let dev = match mount_dev {
                    Some(dev) if !live => dev,
                    _ => DeviceId::from_dev(meta.dev),
                };
                if !meta.is_file() {
                    return;
                }
                let name = match link.memfd_name() {
                    Some(n) => format!("memfd:{n}"),
                    None => target.to_string(),
                };
                fds.push(FdSeen {
                    id: FileId::new(dev, meta.ino),
                    kind,
                    name,
                    size: meta.size,
                    allocated: Some(meta.allocated),
                    deleted: link.deleted() && kind != Kind::Memfd,
                    reach: (*table_owner, fd),
                });
            });
        match listed {
            Ok(()) => {}
            // A thread that exited since its table was compared.
            Err(e)
                if fd_dir_name.as_c_str() != c"fd" && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return gone_or_hidden(&e, pid, Some(pid_dir.as_fd())),
        }
    }
    // The same file held in two tables is one holder.
    fds.sort_by_key(|f: &FdSeen| f.id);
    fds.dedup_by_key(|f| f.id);
    // Shmids are per IPC namespace: a segment attached in a container is not ours.
    let mut other_ipc = None;
    if let Some(ours) = known.our_ipc {
        if seen.iter().any(|s| matches!(s, Seen::Sysv { .. })) {
            if let Err(e) = sys::dir::readlink_at(view_dir, c"ns/ipc", link) {
                return gone_or_hidden(&e, pid, Some(pid_dir.as_fd()));
            }
            match shmkit_procfs::ns::parse(&String::from_utf8_lossy(link)) {
                Ok(ns) if ns.inode != ours => other_ipc = Some(ns.inode),
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

pub(super) fn anon_name(e: &MapEntry) -> String {
    match &e.path {
        MapPath::Special(s) => s.clone(),
        _ => format!("shared-anon:{}", e.inode),
    }
}

/// Command, owner and start time of a process; `None` if it is gone.
pub(super) fn read_proc_info(
    root: &ProcRoot,
    pid: u32,
    boot_time: Option<i64>,
) -> Option<ProcInfo> {
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
            read_threads: true,
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
                read_threads: true,
            };
            match scan_process(&root, std::process::id(), &known, &mut Scratch::default()) {
                ProcResult::Seen { maps, .. } => {
                    let mut v: Vec<String> = maps
                        .iter()
                        .map(|m| match m {
                            Seen::Sysv { shmid, len, .. } => format!("sysv {shmid} {len}"),
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
    fn only_maps_lines_that_can_name_shared_memory_matter() {
        let devs: HashMap<DeviceId, (String, bool)> =
            [(DeviceId::new(0, 42), ("/dev/shm".to_string(), true))].into();
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
