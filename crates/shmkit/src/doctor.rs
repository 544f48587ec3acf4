//! The doctor: is this host or container fit for the shared memory a program needs, and what
//! survives a process exit, a container restart and a reboot here.
//!
//! [`examine`] is a pure function of what it reads through a [`ProcRoot`] (`/proc`, `/sys`,
//! `/etc`, `/.dockerenv`) plus the `statvfs` of `/dev/shm` and the page size, which the caller
//! passes in; so the same code runs on the live host and on captured fixture trees.
//!
//! Kernel facts it relies on:
//! - The initial namespaces have fixed inode numbers (`include/linux/proc_ns.h`):
//!   `PROC_IPC_INIT_INO = 0xEFFFFFFF`, UTS `…FE`, user `…FD`, pid `…FC`, cgroup `…FB`, time
//!   `…FA`. An IPC namespace with another inode is private: its System V objects die with it.
//! - `kernel.shmall` counts pages, `shmmax` bytes, `shmmni` segments; all per IPC namespace.
//! - cgroup v1 reports "unlimited" as `PAGE_COUNTER_MAX * PAGE_SIZE` (9223372036854771712 with
//!   4 KiB pages), v2 as `max`. Shared memory is charged to the cgroup that first touched it.

use crate::procfs::{CgroupLine, MountInfo, ProcRoot};
use crate::scan::Kind;
use crate::segment::Stat;
use crate::survival::{Lifetime, Survival};
use crate::sys::FsStat;
use serde::Serialize;

/// `PROC_IPC_INIT_INO`: the inode of the initial (host) IPC namespace.
pub const PROC_IPC_INIT_INO: u64 = 0xEFFF_FFFF;

/// The fixed inodes of the initial namespaces, by kind.
pub(crate) const INITIAL_NS_INODES: [(&str, u64); 6] = [
    ("ipc", 0xEFFF_FFFF),
    ("uts", 0xEFFF_FFFE),
    ("user", 0xEFFF_FFFD),
    ("pid", 0xEFFF_FFFC),
    ("cgroup", 0xEFFF_FFFB),
    ("time", 0xEFFF_FFFA),
];

/// Docker's default /dev/shm size.
pub(crate) const DOCKER_DEFAULT_SHM: u64 = 64 << 20;

/// cgroup v1's "no limit" is any value at or above this (it is `PAGE_COUNTER_MAX * page`,
/// which depends on the page size; all of them are far above 2^62).
const CGROUP_V1_UNLIMITED_FROM: u64 = 1 << 62;

/// Host or container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PlaceKind {
    /// The host itself (or a VM): the initial namespaces.
    Host,
    /// A container: a private pid namespace, a runtime's marker, or a runtime's cgroup.
    Container,
}

/// Where this runs, and why shmkit thinks so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Place {
    /// The verdict.
    pub kind: PlaceKind,
    /// The container runtime, when a marker names it (`docker`, `podman`, `kubernetes`, …).
    pub runtime: Option<String>,
    /// What was seen, one fact per line.
    pub evidence: Vec<String>,
}

/// One namespace of this process compared with pid 1's and with the initial one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct NsCompare {
    /// `ipc`, `pid`, `mnt`, `net`, `uts`, `user`, `cgroup`.
    pub kind: String,
    /// This process's namespace inode.
    pub inode: Option<u64>,
    /// Pid 1's, if readable.
    pub pid1_inode: Option<u64>,
    /// Whether it is the initial namespace (only for kinds with a fixed initial inode).
    pub initial: Option<bool>,
}

/// /dev/shm as mounted here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct DevShm {
    /// Filesystem type from mountinfo (`tmpfs`), `None` if /dev/shm is not a mount point.
    pub fs_type: Option<String>,
    /// The `size=` mount option in bytes, if present.
    pub size_option: Option<u64>,
    /// Size from statvfs.
    pub total: Option<u64>,
    /// Used bytes from statvfs.
    pub used: Option<u64>,
    /// Whether its size is Docker's 64 MiB default (or less).
    pub small: bool,
    /// Whether this mount namespace is not pid 1's (`unshare --mount`, a container); `None`
    /// if pid 1's could not be read.
    pub private_mount_ns: Option<bool>,
    /// Whether this `/dev/shm` is the same filesystem as pid 1's (the host's); `None` if
    /// unknown.
    pub hosts: Option<bool>,
    /// Its largest files, largest first (at most five).
    pub largest: Vec<ShmFile>,
    /// Bytes its sparse files can still grow into without a write (size beyond what is
    /// allocated): what touching their mapped pages would need.
    pub unbacked: u64,
}

/// How many of the largest `/dev/shm` files the doctor lists.
pub(crate) const LARGEST_FILES: usize = 5;

/// A file in `/dev/shm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct ShmFile {
    /// Its name below `/dev/shm`.
    pub name: String,
    /// Its size (what a mapping of it may touch).
    pub size: u64,
    /// Bytes allocated to it now.
    pub allocated: u64,
}

/// The container examined from the host by [`examine_process`], as its runtime describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct ContainerSubject {
    /// Runtime, id, name, pod.
    pub container: crate::scan::Container,
    /// The process examined (its oldest).
    pub pid: u32,
    /// What Docker says of its IPC mode, `--shm-size` and memory limit (Docker only).
    pub docker: Option<crate::scan::container::DockerIpc>,
}

impl ContainerSubject {
    /// Container `container`, examined through its process `pid`, with what Docker says of
    /// it (if it is Docker's and its socket answered).
    pub fn new(
        container: crate::scan::Container,
        pid: u32,
        docker: Option<crate::scan::container::DockerIpc>,
    ) -> Self {
        ContainerSubject {
            container,
            pid,
            docker,
        }
    }
}

/// System V limits and usage of this IPC namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct SysvLimits {
    /// `kernel.shmmax`, bytes (largest segment).
    #[serde(serialize_with = "crate::json::u64_as_string")]
    #[schemars(with = "Option<String>")]
    pub shmmax: Option<u64>,
    /// `kernel.shmall`, pages (all segments together).
    #[serde(serialize_with = "crate::json::u64_as_string")]
    #[schemars(with = "Option<String>")]
    pub shmall_pages: Option<u64>,
    /// `kernel.shmall` in bytes.
    #[serde(serialize_with = "crate::json::u64_as_string")]
    #[schemars(with = "Option<String>")]
    pub shmall_bytes: Option<u64>,
    /// `kernel.shmmni`, segments.
    pub shmmni: Option<u64>,
    /// `kernel.shm_rmid_forced`.
    pub shm_rmid_forced: Option<bool>,
    /// Segments now.
    pub segments: u64,
    /// Bytes of all segments.
    #[serde(rename = "size")]
    pub bytes: u64,
    /// Pages of all segments (what `shmall` limits).
    pub pages: u64,
    /// The page size used for the page counts.
    pub page_size: u64,
}

/// The memory cgroup of this process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct CgroupMemory {
    /// 1 or 2.
    pub version: u8,
    /// The cgroup path from /proc/self/cgroup.
    pub path: String,
    /// The directory read (below the root).
    pub dir: String,
    /// The limit in bytes; `None` = unlimited.
    pub limit: Option<u64>,
    /// Current usage in bytes.
    pub usage: Option<u64>,
    /// Shared memory charged to this cgroup (memory.stat `shmem`, v1 `total_shmem`).
    pub shmem: Option<u64>,
}

/// systemd-logind's RemoveIPC, where logind's configuration is visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct RemoveIpc {
    /// Whether logind removes a user's IPC objects when their last session ends.
    pub enabled: bool,
    /// Where the value comes from (a file, or systemd's built-in default).
    pub source: String,
    /// Whether systemd runs here (`/run/systemd/system` exists); without it nothing applies
    /// the setting.
    pub systemd_running: bool,
}

/// What survives what, here, for one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Verdict {
    /// The kind of object.
    pub kind: Kind,
    /// Survives the exit of every process that used it.
    pub process_exit: Survival,
    /// Survives a restart of this container (on a host: a restart of the program's service).
    pub container_restart: Survival,
    /// Survives a reboot.
    pub reboot: Survival,
}

/// A problem, as a code with the figures it is about. The renderers word it, and what to do
/// about it; JSON gives it as `{"code": "...", ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "code", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Warning {
    /// This IPC namespace is not the host's: its System V segments go with its last process
    /// (a container restart).
    PrivateIpc,
    /// In a container with its own `/dev/shm`: POSIX objects go with the container.
    PrivateDevShm,
    /// `/dev/shm` is small (Docker's default 64M): programs that need more get SIGBUS.
    SmallDevShm {
        /// Its size in bytes, if known.
        size: Option<u64>,
    },
    /// `/dev/shm` is [`crate::report::DEV_SHM_WARN_PERCENT`]% full or more.
    DevShmFull {
        /// Bytes in use.
        used: u64,
        /// Its size in bytes.
        total: u64,
    },
    /// Sparse files in `/dev/shm` can grow, by being touched through a mapping, beyond the
    /// space left: the process that touches those pages gets SIGBUS.
    SigbusSparseDevShm {
        /// Bytes the sparse files can still grow by without a write.
        unbacked: u64,
        /// Bytes left in `/dev/shm`.
        left: u64,
        /// The largest file there, if any.
        largest: Option<ShmFile>,
    },
    /// `/dev/shm` may hold more than the memory cgroup's limit: filling it gets the
    /// container OOM-killed first.
    DevShmAboveMemoryLimit {
        /// `/dev/shm`'s size in bytes.
        dev_shm: u64,
        /// The memory limit in bytes.
        limit: u64,
    },
    /// `kernel.shm_rmid_forced=1`: a segment goes once its creator exited and nobody is
    /// attached.
    ShmRmidForced,
    /// Segments in use are 90% or more of `kernel.shmmni`.
    ShmmniNear {
        /// Segments in use.
        segments: u64,
        /// `kernel.shmmni`.
        shmmni: u64,
    },
    /// Pages of segments in use are 90% or more of `kernel.shmall`.
    ShmallNear {
        /// Pages in use.
        pages: u64,
        /// `kernel.shmall`, in pages.
        shmall_pages: u64,
    },
    /// Shared memory counts against this cgroup's memory limit.
    CgroupLimit {
        /// Shmem charged to the cgroup, bytes.
        shmem: u64,
        /// The limit, bytes.
        limit: u64,
    },
    /// As [`Warning::CgroupLimit`], with shmem a quarter of the limit or more.
    CgroupShmemHigh {
        /// Shmem charged to the cgroup, bytes.
        shmem: u64,
        /// The limit, bytes.
        limit: u64,
    },
    /// systemd-logind's `RemoveIPC=yes`: a regular user's objects go at their last logout.
    RemoveIpc {
        /// The file that sets it.
        source: String,
    },
}

impl Warning {
    /// Its stable code (`private-ipc`, `small-dev-shm`, …), as JSON gives it.
    pub fn code(&self) -> &'static str {
        match self {
            Warning::PrivateIpc => "private-ipc",
            Warning::PrivateDevShm => "private-dev-shm",
            Warning::SmallDevShm { .. } => "small-dev-shm",
            Warning::DevShmFull { .. } => "dev-shm-full",
            Warning::SigbusSparseDevShm { .. } => "sigbus-sparse-dev-shm",
            Warning::DevShmAboveMemoryLimit { .. } => "dev-shm-above-memory-limit",
            Warning::ShmRmidForced => "shm-rmid-forced",
            Warning::ShmmniNear { .. } => "shmmni-near",
            Warning::ShmallNear { .. } => "shmall-near",
            Warning::CgroupLimit { .. } => "cgroup-limit",
            Warning::CgroupShmemHigh { .. } => "cgroup-shmem-high",
            Warning::RemoveIpc { .. } => "remove-ipc",
        }
    }
}

/// Everything the doctor found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Report {
    /// Host or container.
    pub place: Place,
    /// Whether this IPC namespace is the host's (initial) one; `None` if unreadable.
    pub ipc_initial: Option<bool>,
    /// This process's namespaces against pid 1's and the initial ones.
    pub namespaces: Vec<NsCompare>,
    /// /dev/shm.
    pub dev_shm: DevShm,
    /// System V limits and usage.
    pub sysv: SysvLimits,
    /// The memory cgroup, if one was found.
    pub cgroup: Option<CgroupMemory>,
    /// systemd-logind's RemoveIPC, if logind's configuration is visible.
    pub remove_ipc: Option<RemoveIpc>,
    /// What survives what, per kind.
    pub verdicts: Vec<Verdict>,
    /// Problems and their fixes.
    pub warnings: Vec<Warning>,
    /// The container examined from the host (`doctor --container`); `None` for this process.
    pub container: Option<ContainerSubject>,
}

/// Cgroup path fragments that name a container runtime.
const RUNTIME_CGROUPS: [(&str, &str); 7] = [
    ("/docker/", "docker"),
    ("docker-", "docker"),
    ("/kubepods", "kubernetes"),
    ("/libpod", "podman"),
    ("/lxc/", "lxc"),
    ("/lxc.payload", "lxc"),
    ("containerd", "containerd"),
];

fn cgroup_runtime(lines: &[CgroupLine]) -> Option<(&'static str, String)> {
    lines.iter().find_map(|l| {
        RUNTIME_CGROUPS
            .iter()
            .find(|(frag, _)| l.path.contains(frag))
            .map(|(_, rt)| (*rt, l.path.clone()))
    })
}

/// Examines the system seen through `root`. `dev_shm` is the statvfs of /dev/shm (`None` if
/// it could not be taken), `page_size` the page size for shmall arithmetic.
pub fn examine(root: &ProcRoot, dev_shm: Option<FsStat>, page_size: u64) -> Report {
    let sysv = sysv_limits(root, page_size.max(1));
    examine_as(root, None, dev_shm, sysv)
}

/// Examines process `pid` (a container's) from the host: its namespaces against the host's,
/// the markers in its root filesystem, its `/dev/shm`, cgroup and logind configuration.
/// `dev_shm` is the statvfs of its `/dev/shm` (`/proc/PID/root/dev/shm`), and `sysv` the
/// System V limits and usage read inside its IPC namespace (the `kernel.shm*` sysctls and
/// `/proc/sysvipc/shm` answer for the reader's namespace).
pub fn examine_process(
    root: &ProcRoot,
    pid: u32,
    dev_shm: Option<FsStat>,
    sysv: SysvLimits,
) -> Report {
    examine_as(root, Some(pid), dev_shm, sysv)
}

/// The System V limits and usage of the IPC namespace `root`'s `/proc` answers for.
pub fn sysv_limits_here(root: &ProcRoot, page_size: u64) -> SysvLimits {
    sysv_limits(root, page_size.max(1))
}

/// Where the examined process's root filesystem is, below `root`.
fn fs_prefix(who: Option<u32>) -> String {
    who.map_or_else(String::new, |pid| format!("/proc/{pid}/root"))
}

fn examine_as(
    root: &ProcRoot,
    who: Option<u32>,
    dev_shm: Option<FsStat>,
    sysv: SysvLimits,
) -> Report {
    let namespaces = namespaces(root, who);
    let ns = |k: &str| namespaces.iter().find(|n| n.kind == k);
    let ipc_initial = ns("ipc").and_then(|n| n.initial);
    let place = place(root, who, &namespaces);
    let mounts = root.mountinfo(who).unwrap_or_default();
    let mut dev_shm = dev_shm_info(&mounts, dev_shm);
    dev_shm.private_mount_ns = ns("mnt").and_then(|n| Some(n.inode? != n.pid1_inode?));
    dev_shm.hosts = match dev_shm.private_mount_ns {
        Some(false) => Some(true),
        _ => {
            let here = mounts
                .iter()
                .rev()
                .find(|m| m.mount_point == std::path::Path::new("/dev/shm"));
            let host = root.mountinfo(Some(1)).ok();
            let host = host.as_ref().and_then(|ms| {
                ms.iter()
                    .rev()
                    .find(|m| m.mount_point == std::path::Path::new("/dev/shm"))
            });
            match (here, host) {
                (Some(a), Some(b)) => Some((a.major, a.minor) == (b.major, b.minor)),
                (None, Some(_)) => Some(false),
                (_, None) => None,
            }
        }
    };
    shm_files(root, &fs_prefix(who), &mut dev_shm);
    let cgroup = cgroup_memory(root, who);
    let remove_ipc = remove_ipc(root, &fs_prefix(who));
    let verdicts = verdicts(&place, ipc_initial, &dev_shm, &sysv);
    let warnings = warnings(
        &place,
        ipc_initial,
        &dev_shm,
        &sysv,
        cgroup.as_ref(),
        remove_ipc.as_ref(),
    );
    Report {
        place,
        ipc_initial,
        namespaces,
        dev_shm,
        sysv,
        cgroup,
        remove_ipc,
        verdicts,
        warnings,
        container: None,
    }
}

/// Lists `/dev/shm` (one level: POSIX names have no `/`): its largest files and how much its
/// sparse files can still grow into.
fn shm_files(root: &ProcRoot, prefix: &str, dev_shm: &mut DevShm) {
    use std::os::unix::fs::MetadataExt;
    let Ok(rd) = std::fs::read_dir(root.path(format!("{prefix}/dev/shm"))) else {
        return;
    };
    let mut files: Vec<ShmFile> = rd
        .flatten()
        .filter_map(|e| {
            let m = e.metadata().ok().filter(|m| m.is_file())?;
            Some(ShmFile {
                name: e.file_name().to_string_lossy().into_owned(),
                size: m.size(),
                allocated: m.blocks() * 512,
            })
        })
        .collect();
    dev_shm.unbacked = files
        .iter()
        .map(|f| f.size.saturating_sub(f.allocated))
        .sum();
    files.sort_by(|a, b| b.size.cmp(&a.size).then(a.name.cmp(&b.name)));
    files.truncate(LARGEST_FILES);
    dev_shm.largest = files;
}

fn namespaces(root: &ProcRoot, who: Option<u32>) -> Vec<NsCompare> {
    ["ipc", "pid", "mnt", "net", "uts", "user", "cgroup"]
        .iter()
        .map(|kind| {
            let inode = root.ns_link(who, kind).ok().flatten().map(|n| n.inode);
            // Pid 1's links need ptrace access: unreadable in some sandboxes even to root.
            // kthreadd (pid 2 of the initial pid namespace) lives in the initial namespaces
            // too, and its links can be read.
            let pid1_inode = root
                .ns_link(Some(1), kind)
                .ok()
                .flatten()
                .or_else(|| {
                    let kthreadd = root.pid_stat(2).ok().flatten()?;
                    (kthreadd.comm == "kthreadd" && kthreadd.ppid == 0)
                        .then(|| root.ns_link(Some(2), kind).ok().flatten())
                        .flatten()
                })
                .map(|n| n.inode);
            let initial = INITIAL_NS_INODES
                .iter()
                .find(|(k, _)| k == kind)
                .and_then(|(_, init)| inode.map(|i| i == *init));
            NsCompare {
                kind: (*kind).to_owned(),
                inode,
                pid1_inode,
                initial,
            }
        })
        .collect()
}

fn place(root: &ProcRoot, who: Option<u32>, namespaces: &[NsCompare]) -> Place {
    let mut evidence = Vec::new();
    let mut runtime: Option<String> = None;
    let mut container = false;
    let prefix = fs_prefix(who);
    if root.path(format!("{prefix}/.dockerenv")).exists() {
        evidence.push("/.dockerenv exists (Docker's marker)".to_owned());
        runtime.get_or_insert_with(|| "docker".to_owned());
    }
    if root.path(format!("{prefix}/run/.containerenv")).exists() {
        evidence.push("/run/.containerenv exists (Podman's marker)".to_owned());
        runtime.get_or_insert_with(|| "podman".to_owned());
        container = true;
    }
    // systemd's container interface: the runtime sets `container=NAME` for pid 1.
    let mut buf = Vec::new();
    let init = who.unwrap_or(1);
    if let Ok(true) = root.read_into(format!("/proc/{init}/environ"), &mut buf) {
        if let Some(v) = buf
            .split(|&b| b == 0)
            .filter_map(|kv| kv.strip_prefix(b"container="))
            .next()
        {
            let v = String::from_utf8_lossy(v).into_owned();
            evidence.push(format!("pid 1 has container={v} in its environment"));
            runtime = Some(v);
            container = true;
        }
    }
    let whom: Vec<(String, Option<u32>)> = match who {
        None => vec![("this process".into(), None), ("pid 1".into(), Some(1))],
        Some(pid) => vec![(format!("process {pid}"), Some(pid))],
    };
    for (whom, pid) in whom {
        if let Ok(Some(lines)) = root.pid_cgroup(pid) {
            if let Some((rt, path)) = cgroup_runtime(&lines) {
                evidence.push(format!("{whom} is in cgroup {path} ({rt})"));
                runtime.get_or_insert_with(|| rt.to_owned());
                container = true;
            }
        }
    }
    let ns = |k: &str| namespaces.iter().find(|n| n.kind == k);
    match ns("pid").and_then(|n| n.initial) {
        Some(false) => {
            evidence.push("the pid namespace is not the initial one".to_owned());
            container = true;
        }
        Some(true) => evidence.push("the pid namespace is the initial one".to_owned()),
        None => {}
    }
    let private: Vec<&str> = namespaces
        .iter()
        .filter(|n| matches!((n.inode, n.pid1_inode), (Some(a), Some(b)) if a != b))
        .map(|n| n.kind.as_str())
        .collect();
    if !private.is_empty() {
        let noun = if private.len() == 1 {
            "namespace"
        } else {
            "namespaces"
        };
        evidence.push(format!(
            "this process has its own {} {noun}, apart from pid 1's",
            private.join(", ")
        ));
    }
    if !container && runtime.is_some() {
        evidence.push(
            "but the pid namespace is the host's: a VM or a host \
             image, not an isolated container"
                .to_owned(),
        );
        runtime = None;
    }
    Place {
        kind: if container {
            PlaceKind::Container
        } else {
            PlaceKind::Host
        },
        runtime,
        evidence,
    }
}

/// Parses a tmpfs size option (`65536k`, `64m`, `1g`, bytes); percentages give `None`.
fn size_option(text: &str) -> Option<u64> {
    let (num, mult) = match text.as_bytes().last()? {
        b'k' | b'K' => (&text[..text.len() - 1], 1u64 << 10),
        b'm' | b'M' => (&text[..text.len() - 1], 1 << 20),
        b'g' | b'G' => (&text[..text.len() - 1], 1 << 30),
        b't' | b'T' => (&text[..text.len() - 1], 1 << 40),
        _ => (text, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

fn dev_shm_info(mounts: &[MountInfo], fs: Option<FsStat>) -> DevShm {
    // The last mount on /dev/shm is the one on top (mounts can stack).
    let m = mounts
        .iter()
        .rev()
        .find(|m| m.mount_point == std::path::Path::new("/dev/shm"));
    let size_option = m.and_then(|m| m.super_option("size")).and_then(size_option);
    let total = fs.map(|f| f.total).or(size_option);
    DevShm {
        fs_type: m.map(|m| m.fs_type.clone()),
        size_option,
        total,
        used: fs.map(|f| f.total.saturating_sub(f.free)),
        small: total.is_some_and(|t| t <= DOCKER_DEFAULT_SHM),
        private_mount_ns: None,
        hosts: None,
        largest: Vec::new(),
        unbacked: 0,
    }
}

fn sysv_limits(root: &ProcRoot, page_size: u64) -> SysvLimits {
    let limits = root.shm_limits().unwrap_or_default();
    let segs = root.sysvipc_shm().unwrap_or_default();
    SysvLimits {
        shmmax: limits.shmmax,
        shmall_pages: limits.shmall,
        shmall_bytes: limits.shmall_bytes(page_size),
        shmmni: limits.shmmni,
        shm_rmid_forced: limits.shm_rmid_forced,
        segments: segs.len() as u64,
        bytes: segs.iter().map(|s| s.size).sum(),
        pages: segs.iter().map(|s| s.size.div_ceil(page_size)).sum(),
        page_size,
    }
}

fn read_u64(root: &ProcRoot, path: &str) -> Option<u64> {
    root.read_to_string(path)
        .ok()
        .flatten()?
        .trim()
        .parse()
        .ok()
}

fn stat_field(text: &str, names: &[&str]) -> Option<u64> {
    names.iter().find_map(|name| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == *name).then(|| v.trim().parse().ok()).flatten()
        })
    })
}

fn cgroup_memory(root: &ProcRoot, who: Option<u32>) -> Option<CgroupMemory> {
    let lines = root.pid_cgroup(who).ok().flatten()?;
    // v1 (or hybrid with memory on v1) first: the memory controller is where it is bound.
    if let Some(l) = lines.iter().find(|l| l.has_controller("memory")) {
        let path = l.path.trim_end_matches(" (deleted)").to_owned();
        // Without a cgroup namespace the path is the host's, but a container mounts its own
        // cgroup at the mount's root: try the full path, then the root.
        let candidates = [
            format!("/sys/fs/cgroup/memory{}", path.trim_end_matches('/')),
            "/sys/fs/cgroup/memory".to_owned(),
        ];
        let dir = candidates
            .into_iter()
            .find(|d| root.path(format!("{d}/memory.limit_in_bytes")).exists())?;
        let stat = root
            .read_to_string(format!("{dir}/memory.stat"))
            .ok()
            .flatten()
            .unwrap_or_default();
        return Some(CgroupMemory {
            version: 1,
            limit: read_u64(root, &format!("{dir}/memory.limit_in_bytes"))
                .filter(|&l| l < CGROUP_V1_UNLIMITED_FROM),
            usage: read_u64(root, &format!("{dir}/memory.usage_in_bytes")),
            // `total_shmem` includes child cgroups (hierarchical); `shmem` is this one alone.
            shmem: stat_field(&stat, &["total_shmem", "shmem"]),
            path,
            dir,
        });
    }
    let l = lines.iter().find(|l| l.is_v2())?;
    let path = l.path.trim_end_matches(" (deleted)").to_owned();
    let rel = path.trim_end_matches('/');
    let candidates = [
        format!("/sys/fs/cgroup{rel}"),
        format!("/sys/fs/cgroup/unified{rel}"),
        "/sys/fs/cgroup".to_owned(),
    ];
    let dir = candidates.into_iter().find(|d| {
        root.path(format!("{d}/memory.max")).exists()
            || root.path(format!("{d}/memory.current")).exists()
    })?;
    let max = root
        .read_to_string(format!("{dir}/memory.max"))
        .ok()
        .flatten()
        .unwrap_or_default();
    let stat = root
        .read_to_string(format!("{dir}/memory.stat"))
        .ok()
        .flatten()
        .unwrap_or_default();
    Some(CgroupMemory {
        version: 2,
        limit: max.trim().parse().ok(),
        usage: read_u64(root, &format!("{dir}/memory.current")),
        shmem: stat_field(&stat, &["shmem"]),
        path,
        dir,
    })
}

/// The `RemoveIPC=` value of one logind.conf-style file, if it sets one in `[Login]`.
fn remove_ipc_in(text: &str) -> Option<bool> {
    let mut in_login = false;
    let mut value = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_login = line == "[Login]";
            continue;
        }
        if !in_login || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if k.trim() == "RemoveIPC" {
                value = match v.trim().to_ascii_lowercase().as_str() {
                    "yes" | "true" | "on" | "1" => Some(true),
                    "no" | "false" | "off" | "0" => Some(false),
                    _ => value,
                };
            }
        }
    }
    value
}

fn remove_ipc(root: &ProcRoot, prefix: &str) -> Option<RemoveIpc> {
    let main = format!("{prefix}/etc/systemd/logind.conf");
    let dropin_dir = format!("{prefix}/etc/systemd/logind.conf.d");
    let main_text = root.read_to_string(&main).ok().flatten();
    let mut dropins: Vec<String> = std::fs::read_dir(root.path(&dropin_dir))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .filter(|n| n.ends_with(".conf"))
                .collect()
        })
        .unwrap_or_default();
    if main_text.is_none() && dropins.is_empty() {
        return None;
    }
    // systemd reads the main file, then drop-ins in lexical order; the last value wins.
    dropins.sort();
    let systemd_running = root.path(format!("{prefix}/run/systemd/system")).is_dir();
    let mut result = RemoveIpc {
        enabled: true,
        source: "systemd's built-in default".to_owned(),
        systemd_running,
    };
    if let Some(v) = main_text.as_deref().and_then(remove_ipc_in) {
        result.enabled = v;
        result.source = main.to_owned();
    }
    for d in dropins {
        let p = format!("{dropin_dir}/{d}");
        if let Some(v) = root
            .read_to_string(&p)
            .ok()
            .flatten()
            .as_deref()
            .and_then(remove_ipc_in)
        {
            result.enabled = v;
            result.source = p;
        }
    }
    Some(result)
}

/// What `stat`'s object survives here, as `here` judged this place (a System V segment, a
/// POSIX object, memory held by processes), and for a file from the filesystem that holds it
/// (found through `root`'s mount table).
pub fn survival(here: &Report, root: &ProcRoot, stat: &Stat) -> Lifetime {
    use crate::survival::Because as B;
    let in_container = here.place.kind == PlaceKind::Container;
    let verdict = here.verdicts.iter().find(|v| v.kind == stat.kind);
    let process_exit = verdict.map_or(stat.kind.lifetime().process_exit, |v| v.process_exit);
    let file_path = match (stat.kind, &stat.file) {
        (Kind::File, Some(file)) => file.path.as_deref(),
        _ => None,
    };
    let (container_restart, reboot) = match file_path {
        // A file outlives what its filesystem outlives.
        Some(path) => match fs_type(root, path).as_deref() {
            Some("tmpfs" | "ramfs") if in_container => {
                (Survival::no(B::FileOnTmpfs), Survival::no(B::FileOnTmpfs))
            }
            Some("tmpfs" | "ramfs") => {
                (Survival::yes(B::FileOnTmpfs), Survival::no(B::FileOnTmpfs))
            }
            Some("overlay") => (
                Survival::depends(B::WritableLayer),
                Survival::yes(B::WrittenBack),
            ),
            Some(_) => (Survival::yes(B::FileOnDisk), Survival::yes(B::WrittenBack)),
            None => (
                Survival::yes(B::FileSystemUnknown),
                Survival::yes(B::WrittenBack),
            ),
        },
        None => (
            verdict.map_or(Survival::no(B::FreedWithProcesses), |v| v.container_restart),
            stat.kind.lifetime().reboot,
        ),
    };
    Lifetime::new(process_exit, container_restart, reboot)
}

/// The filesystem type that holds `path` (the longest mount point that is a prefix of it).
fn fs_type(root: &ProcRoot, path: &std::path::Path) -> Option<String> {
    let canonical = std::fs::canonicalize(path).ok()?;
    let mounts = root.mountinfo(None).ok()?;
    mounts
        .iter()
        .filter(|m| canonical.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.as_os_str().len())
        .map(|m| m.fs_type.clone())
}

fn verdicts(
    place: &Place,
    ipc_initial: Option<bool>,
    dev_shm: &DevShm,
    sysv: &SysvLimits,
) -> Vec<Verdict> {
    use crate::survival::Because as B;
    let in_container = place.kind == PlaceKind::Container;
    let (yes, no, depends) = (Survival::yes, Survival::no, Survival::depends);
    Kind::ALL
        .into_iter()
        .map(|kind| {
            let (process_exit, container_restart, reboot) = match kind {
                Kind::Sysv => (
                    if sysv.shm_rmid_forced == Some(true) {
                        no(B::ShmRmidForced)
                    } else {
                        yes(B::UntilRemoved)
                    },
                    match (in_container, ipc_initial) {
                        (_, Some(false)) => no(B::PrivateIpcNamespace),
                        (true, Some(true)) => yes(B::SharesHostIpcNamespace),
                        (false, Some(true)) => yes(B::HostIpcNamespace),
                        (_, None) => depends(B::IpcNamespaceUnreadable),
                    },
                    no(B::MemoryOnly),
                ),
                Kind::Posix => (
                    yes(B::UntilRemoved),
                    if in_container && ipc_initial != Some(true) {
                        no(B::ContainerDevShm)
                    } else if in_container {
                        depends(B::DevShmMaybeHosts)
                    } else if dev_shm.private_mount_ns == Some(true) {
                        // `unshare --mount`: /dev/shm is the host's only if it is the same
                        // filesystem; a tmpfs mounted here ends with the namespace.
                        match dev_shm.hosts {
                            Some(true) => yes(B::PrivateMountNsHostDevShm),
                            Some(false) => no(B::PrivateMountNsOwnDevShm),
                            None => depends(B::PrivateMountNsDevShmUnknown),
                        }
                    } else if dev_shm.private_mount_ns.is_none() && dev_shm.hosts.is_none() {
                        depends(B::MountNamespaceUnreadable)
                    } else {
                        yes(B::HostDevShm)
                    },
                    no(B::MemoryOnly),
                ),
                Kind::Tmpfs => (
                    yes(B::UntilRemoved),
                    if in_container {
                        no(B::ContainerTmpfs)
                    } else if dev_shm.private_mount_ns == Some(true) {
                        depends(B::PrivateMountNsTmpfs)
                    } else {
                        yes(B::HostTmpfs)
                    },
                    no(B::MemoryOnly),
                ),
                Kind::SharedAnon | Kind::Memfd => (
                    no(B::FreedWithLastHolder),
                    no(B::FreedWithProcesses),
                    no(B::MemoryOnly),
                ),
                Kind::File => (
                    yes(B::IsAFile),
                    if in_container {
                        depends(B::WritableLayer)
                    } else {
                        yes(B::IsAFile)
                    },
                    yes(B::WrittenBack),
                ),
            };
            Verdict {
                kind,
                process_exit,
                container_restart,
                reboot,
            }
        })
        .collect()
}

fn warnings(
    place: &Place,
    ipc_initial: Option<bool>,
    dev_shm: &DevShm,
    sysv: &SysvLimits,
    cgroup: Option<&CgroupMemory>,
    remove_ipc: Option<&RemoveIpc>,
) -> Vec<Warning> {
    let mut w = Vec::new();
    let in_container = place.kind == PlaceKind::Container;
    if ipc_initial == Some(false) {
        w.push(Warning::PrivateIpc);
    }
    if in_container && ipc_initial != Some(true) {
        w.push(Warning::PrivateDevShm);
    }
    if dev_shm.small {
        w.push(Warning::SmallDevShm {
            size: dev_shm.total,
        });
    }
    if let (Some(total), Some(used)) = (dev_shm.total, dev_shm.used) {
        let percent = crate::report::DEV_SHM_WARN_PERCENT;
        if total > 0 && used.saturating_mul(100) >= total.saturating_mul(percent) {
            w.push(Warning::DevShmFull { used, total });
        }
    }
    // A sparse file's missing pages are allocated when touched: through a mapping, a full
    // tmpfs answers with SIGBUS, not an error code.
    let left = dev_shm
        .total
        .zip(dev_shm.used)
        .map(|(t, u)| t.saturating_sub(u));
    if let Some(left) = left.filter(|&left| dev_shm.unbacked > left) {
        w.push(Warning::SigbusSparseDevShm {
            unbacked: dev_shm.unbacked,
            left,
            largest: dev_shm.largest.first().cloned(),
        });
    }
    if let (Some(total), Some(limit)) = (dev_shm.total, cgroup.and_then(|c| c.limit)) {
        if total > limit {
            w.push(Warning::DevShmAboveMemoryLimit {
                dev_shm: total,
                limit,
            });
        }
    }
    if sysv.shm_rmid_forced == Some(true) {
        w.push(Warning::ShmRmidForced);
    }
    if let (Some(mni), true) = (sysv.shmmni, sysv.segments > 0) {
        if sysv.segments.saturating_mul(10) >= mni.saturating_mul(9) {
            w.push(Warning::ShmmniNear {
                segments: sysv.segments,
                shmmni: mni,
            });
        }
    }
    if let (Some(all), true) = (sysv.shmall_pages, sysv.pages > 0) {
        if sysv.pages.saturating_mul(10) >= all.saturating_mul(9) {
            w.push(Warning::ShmallNear {
                pages: sysv.pages,
                shmall_pages: all,
            });
        }
    }
    if let Some(cg) = cgroup {
        if let (Some(limit), Some(shmem)) = (cg.limit, cg.shmem) {
            w.push(if shmem.saturating_mul(4) >= limit {
                Warning::CgroupShmemHigh { shmem, limit }
            } else {
                Warning::CgroupLimit { shmem, limit }
            });
        }
    }
    if let Some(r) = remove_ipc {
        if r.enabled && r.systemd_running {
            w.push(Warning::RemoveIpc {
                source: r.source.clone(),
            });
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_size_options() {
        assert_eq!(size_option("65536k"), Some(64 << 20));
        assert_eq!(size_option("64m"), Some(64 << 20));
        assert_eq!(size_option("1G"), Some(1 << 30));
        assert_eq!(size_option("4096"), Some(4096));
        assert_eq!(size_option("50%"), None);
        assert_eq!(size_option(""), None);
    }

    #[test]
    fn remove_ipc_only_counts_the_login_section_and_the_last_value() {
        assert_eq!(remove_ipc_in("[Login]\n#RemoveIPC=no\n"), None);
        assert_eq!(remove_ipc_in("[Login]\nRemoveIPC=no\n"), Some(false));
        assert_eq!(remove_ipc_in("[Other]\nRemoveIPC=no\n"), None);
        assert_eq!(
            remove_ipc_in("[Login]\nRemoveIPC=no\nRemoveIPC = yes\n"),
            Some(true)
        );
    }
}
