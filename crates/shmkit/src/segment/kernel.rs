//! What the segment code asks of `/proc` and the user database when it explains a failure:
//! System V limits and usage, a segment's owner when `IPC_STAT` is refused, user names.
//!
//! Every read goes through [`ProcRoot::live`], so the explanations match what `shmkit doctor`
//! and the scan report.

use shmkit_procfs::ProcRoot;

/// The System V limits of this IPC namespace (`/proc/sys/kernel/shm*`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    /// Largest segment in bytes (`kernel.shmmax`).
    pub shmmax: Option<u64>,
    /// Total pages of all segments (`kernel.shmall`).
    pub shmall: Option<u64>,
    /// Number of segments (`kernel.shmmni`).
    pub shmmni: Option<u64>,
}

pub(crate) fn limits() -> Limits {
    match ProcRoot::live().shm_limits() {
        Ok(l) => Limits {
            shmmax: l.shmmax,
            shmall: l.shmall,
            shmmni: l.shmmni,
        },
        Err(_) => Limits::default(),
    }
}

/// One line of `/proc/sysvipc/shm`: what the kernel shows of every segment in this IPC
/// namespace, whatever its permissions (unlike `IPC_STAT`, which needs read permission).
#[derive(Debug, Clone)]
pub(crate) struct SysvLine {
    pub key: i32,
    pub shmid: i32,
    pub mode: u32,
    pub size: u64,
    pub cpid: u32,
    pub lpid: u32,
    pub nattch: u64,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    pub atime: i64,
    pub dtime: i64,
    pub ctime: i64,
}

pub(crate) fn sysv_segments() -> Vec<SysvLine> {
    ProcRoot::live()
        .sysvipc_shm()
        .map(|list| {
            list.into_iter()
                .map(|s| SysvLine {
                    key: s.key,
                    shmid: s.shmid,
                    mode: s.perms,
                    size: s.size,
                    cpid: s.cpid,
                    lpid: s.lpid,
                    nattch: s.nattch,
                    uid: s.uid,
                    gid: s.gid,
                    cuid: s.cuid,
                    cgid: s.cgid,
                    atime: s.atime,
                    dtime: s.dtime,
                    ctime: s.ctime,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `uid 1000 (alice)` or `uid 1000`.
pub(crate) fn describe_uid(uid: u32) -> String {
    let users = ProcRoot::live().users().unwrap_or_default();
    match users.name(uid) {
        Some(name) => format!("uid {uid} ({name})"),
        None => format!("uid {uid}"),
    }
}

/// Huge pages reserved (`HugePages_Total`) and free (`HugePages_Free`), from /proc/meminfo.
pub(crate) fn huge_pages() -> (u64, u64) {
    match ProcRoot::live().meminfo() {
        Ok(m) => (
            m.get("HugePages_Total").unwrap_or(0),
            m.get("HugePages_Free").unwrap_or(0),
        ),
        Err(_) => (0, 0),
    }
}
