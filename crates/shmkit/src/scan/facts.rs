//! What every pass of the scan shares, so the passes need not import each other: the facts
//! about processes, identities and the host learnt before the per-process pass, and what the
//! scan could not see.

use crate::sys;
use crate::DeviceId;
use shmkit_procfs::ProcRoot;
use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;

/// A process's facts that holders need, read once per process.
#[derive(Debug, Clone)]
pub(super) struct ProcInfo {
    pub(super) comm: String,
    pub(super) uid: u32,
    /// Start time in seconds since the epoch (to tell a reused pid from the real creator).
    pub(super) started: Option<i64>,
}

/// The identity that mappings and descriptors share: (device major, minor, inode).
pub(super) type Identity = crate::FileId;

/// What the per-process pass needs to know of the host, learnt before it.
#[derive(Debug)]
pub(super) struct Known {
    /// Every tmpfs and ramfs device of our mount table → (mount point, is `/dev/shm`).
    pub(super) shmem_devs: HashMap<DeviceId, (String, bool)>,
    /// Visible tmpfs mount points with a trailing `/`, longest first: descriptors name paths.
    pub(super) mounts_by_prefix: Vec<(String, DeviceId, bool)>,
    /// Boot time (unix seconds), to turn process start ticks into dates.
    pub(super) boot_time: Option<i64>,
    /// The inode of our IPC namespace, when known.
    pub(super) our_ipc: Option<u64>,
    /// The device of the kernel's internal shmem mount (memfds, shared anonymous memory,
    /// System V), learnt from a memfd of our own; live scans only.
    pub(super) internal_shm_dev: Option<DeviceId>,
    /// Whether `maps` answers `PROCMAP_QUERY` (Linux 6.11+); cleared at the first refusal.
    pub(super) procmap_query: std::sync::atomic::AtomicBool,
    /// Whether to look into the threads of multi-threaded processes (their maps when the
    /// leader's is empty, their descriptor tables where they differ).
    pub(super) read_threads: bool,
}

/// The fields of a `std` stat the scan uses (fixture trees are stat'ed through `std`).
pub(super) fn file_stat(m: &std::fs::Metadata) -> sys::dir::FileStat {
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

/// When a process started (unix seconds), from boot time and its start in clock ticks.
pub(super) fn started(boot_time: Option<i64>, starttime: u64) -> Option<i64> {
    // USER_HZ is 100 on every Linux architecture that matters to /proc's ABI.
    boot_time.map(|b| b + (starttime / 100) as i64)
}

/// `btime` from `/proc/stat`: boot time in seconds since the epoch.
pub(super) fn boot_time(root: &ProcRoot) -> Option<i64> {
    let text = root.read_to_string("/proc/stat").ok()??;
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The processes the scan could not read: what they might hold unseen.
#[derive(Debug, Default)]
pub(super) struct Unseen(pub(super) Vec<UnseenProc>);

/// What is known of a process whose memory and descriptors could not be read.
#[derive(Debug)]
pub(super) struct UnseenProc {
    /// Its owner (`None`: unknown).
    pub(super) uid: Option<u32>,
    /// The devices of its mount table (`None`: unknown).
    pub(super) devs: Option<HashSet<DeviceId>>,
}

/// The inode of the initial pid namespace (`PROC_PID_INIT_INO`), the same on every boot.
const INIT_PID_NS_INODE: u64 = 0xEFFF_FFFC;

/// Whether this process runs in a child pid namespace: then processes of the parent
/// namespaces, which may share our IPC namespace and our `/dev/shm` (a sidecar), are
/// invisible to the scan. Live scans only: a fixture tree has no "self".
///
/// Kernel quirk: `NSpid:` lists the levels from the pid namespace of the *proc mount*
/// down, so under `unshare --pid --mount-proc` it shows one level like the host's. The pid
/// namespace's inode tells in every case: only the initial one is `PROC_PID_INIT_INO`.
pub(super) fn in_child_pid_namespace(root: &ProcRoot) -> bool {
    if root.root() != std::path::Path::new("/") {
        return false;
    }
    let nested = root
        .read_to_string("/proc/self/status")
        .ok()
        .flatten()
        .is_some_and(|text| nspid_levels(&text) > 1);
    let not_initial = root
        .ns_link(None, "pid")
        .ok()
        .flatten()
        .is_some_and(|ns| ns.inode != INIT_PID_NS_INODE);
    nested || not_initial
}

/// How many pid namespace levels the `NSpid:` line of a status file lists (1 without one:
/// kernels before 4.1 had no nesting to show).
pub(super) fn nspid_levels(status: &str) -> usize {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map_or(1, |v| v.split_whitespace().count())
}
