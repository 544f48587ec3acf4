//! What the segment code asks of `/proc` and the user database when it explains a failure:
//! System V limits and usage, a segment's owner when `IPC_STAT` is refused, user names.
//!
//! Every read goes through [`ProcRoot::live`], so the explanations match what `shmkit doctor`
//! and the scan report.

use shmkit_procfs::{ProcRoot, SysvShm};

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

/// Every segment of this IPC namespace, from `/proc/sysvipc/shm`: the kernel shows them whatever
/// their permissions (unlike `IPC_STAT`, which needs read permission). Empty if unreadable.
pub(crate) fn sysv_segments() -> Vec<SysvShm> {
    ProcRoot::live().sysvipc_shm().unwrap_or_default()
}

/// `uid 1000 (alice)` or `uid 1000`.
pub(crate) fn describe_uid(uid: u32) -> String {
    match crate::accounts::Accounts::live().user_name(uid) {
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
