//! What a scan finds: shared-memory objects of every kind, their holders and status.
//!
//! These types are the contract between the scan (which fills them from `/proc`, `/sys` and
//! `/dev/shm`), the memory report, the life-cycle commands and the renderers.

use crate::address::Address;
use crate::survival::Lifetime;
use serde::Serialize;

pub use super::container::Container;

/// Where an object lives: its namespaces and, when a runtime made them, its container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Location {
    /// The inodes of its namespaces (`/proc/PID/ns/{ipc,mnt}`).
    pub namespaces: Namespaces,
    /// The container it lives in; `None` (JSON `null`) on the host or in a namespace no
    /// runtime made (then `namespaces` tells which).
    pub container: Option<Container>,
    /// Not the scan's own namespaces (a container, or an `unshare`d namespace).
    pub foreign: bool,
    /// A process in its namespaces, to reach them with `--target PID`.
    pub pid: Option<u32>,
}

/// Namespace inodes; `None` where a kind does not apply or could not be read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Namespaces {
    /// The IPC namespace (System V objects; for other kinds, their first holder's).
    pub ipc: Option<u64>,
    /// The mount namespace (files of a tmpfs; for other kinds, their first holder's).
    pub mnt: Option<u64>,
}

impl Location {
    /// What a table shows: the container's name or short id, `pid:N` for a namespace no
    /// runtime made, `-` for the scan's own namespaces.
    pub fn label(&self) -> String {
        match (&self.container, self.foreign, self.pid) {
            (Some(c), _, _) => c.label().to_string(),
            (None, true, Some(pid)) => format!("pid:{pid}"),
            _ => "-".to_string(),
        }
    }
}

/// The kinds of shared memory, named the same way in commands, JSON and the library.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Kind {
    /// A System V segment (`shmget`), living in an IPC namespace until `IPC_RMID`.
    Sysv,
    /// A POSIX shared memory object (`shm_open`), a file in `/dev/shm`.
    Posix,
    /// A file in a tmpfs (or ramfs) mount other than `/dev/shm`.
    Tmpfs,
    /// A `MAP_SHARED|MAP_ANONYMOUS` mapping, freed at its last unmap.
    SharedAnon,
    /// A `memfd_create` file, freed at its last close and unmap.
    Memfd,
    /// A `MAP_SHARED` mapping of a regular file: ordinary, reclaimable page cache.
    File,
}

impl Kind {
    /// Every kind, in the order tables list them.
    pub const ALL: [Kind; 6] = [
        Kind::Sysv,
        Kind::Posix,
        Kind::Tmpfs,
        Kind::SharedAnon,
        Kind::Memfd,
        Kind::File,
    ];

    /// The name used on the command line and in JSON (`sysv`, `posix`, `tmpfs`,
    /// `shared-anon`, `memfd`, `file`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sysv => "sysv",
            Kind::Posix => "posix",
            Kind::Tmpfs => "tmpfs",
            Kind::SharedAnon => "shared-anon",
            Kind::Memfd => "memfd",
            Kind::File => "file",
        }
    }

    /// Parses [`Kind::as_str`]'s names.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether its pages are shmem (counted in meminfo `Shmem`, never freed by drop_caches).
    /// Only [`Kind::File`] is ordinary page cache.
    pub fn is_shmem(self) -> bool {
        self != Kind::File
    }

    /// What objects of this kind survive anywhere (PRODUCT.md's table); "depends" names what
    /// it depends on. [`crate::doctor::survival`] answers for this host.
    pub fn lifetime(self) -> Lifetime {
        use crate::survival::{Because as B, Survival as S};
        match self {
            Kind::Sysv => Lifetime::new(
                S::yes(B::UntilRemoved),
                S::depends(B::IpcNamespaceLifetime),
                S::no(B::MemoryOnly),
            ),
            Kind::Posix => Lifetime::new(
                S::yes(B::UntilRemoved),
                S::depends(B::DevShmLifetime),
                S::no(B::MemoryOnly),
            ),
            Kind::Tmpfs => Lifetime::new(
                S::yes(B::UntilRemoved),
                S::depends(B::MountLifetime),
                S::no(B::MemoryOnly),
            ),
            Kind::SharedAnon | Kind::Memfd => Lifetime::new(
                S::no(B::FreedWithLastHolder),
                S::no(B::FreedWithProcesses),
                S::no(B::MemoryOnly),
            ),
            Kind::File => Lifetime::new(
                S::yes(B::IsAFile),
                S::depends(B::FileSystemLifetime),
                S::yes(B::WrittenBack),
            ),
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a process holds an object.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HoldVia {
    /// It maps (or, for System V, attaches) the object.
    Map,
    /// It holds an open file descriptor to it.
    Fd,
    /// Both.
    MapAndFd,
}

/// A process that maps or holds an object open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Holder {
    /// Its pid.
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`).
    pub comm: String,
    /// Its real user id.
    pub uid: u32,
    /// How it holds the object.
    pub via: HoldVia,
    /// Bytes of the object this process has mapped (0 for fd-only holders).
    pub mapped: u64,
}

impl Holder {
    /// A holder: `pid` and its command, its real uid, how it holds the object and how many
    /// bytes of it it maps.
    pub fn new(pid: u32, comm: impl Into<String>, uid: u32, via: HoldVia, mapped: u64) -> Holder {
        Holder {
            pid,
            comm: comm.into(),
            uid,
            via,
            mapped,
        }
    }
}

/// A process named by a kernel field (a System V creator or last user), alive or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct ProcessRef {
    /// The pid the kernel recorded.
    pub pid: u32,
    /// Its command if the process is still alive, `None` if it exited.
    pub comm: Option<String>,
}

impl ProcessRef {
    /// The process the kernel recorded as `pid`, with its command if it is still alive.
    pub fn new(pid: u32, comm: Option<String>) -> ProcessRef {
        ProcessRef { pid, comm }
    }
}

/// Whether anyone uses an object, as far as the scan can tell (PRODUCT.md, "Leaked, idle, in
/// use"). How sure the scan is of it is [`Status::uncertain`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "state", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Usage {
    /// A process maps it, holds it open or (System V) is attached, in any thread and any pid
    /// namespace; also an object that only its holders reveal (a memfd, shared anonymous
    /// memory, a deleted file still held: it frees itself when they let go).
    #[default]
    InUse,
    /// A named object nobody holds: how System V and POSIX shared memory persist by design
    /// (a writer exits, its reader comes later). Removed only when asked (`rm --idle`).
    Idle {
        /// Since when nobody has used it (unix seconds): System V the last detach, else its
        /// creation; a file its last access or modification. `None` if the kernel keeps none.
        #[serde(rename = "since_unix")]
        since: Option<i64>,
    },
    /// Nobody can reach or use it any more: a leak, which `rm --orphans` collects.
    Leaked {
        /// Why nobody can.
        reason: LeakReason,
    },
}

impl Usage {
    /// Whether it is [`Usage::Leaked`].
    pub fn is_leaked(&self) -> bool {
        matches!(self, Usage::Leaked { .. })
    }

    /// Whether it is [`Usage::Idle`].
    pub fn is_idle(&self) -> bool {
        matches!(self, Usage::Idle { .. })
    }
}

/// Why an object is a leak. The renderers word it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "reason", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LeakReason {
    /// An `IPC_PRIVATE` segment with no attachment whose creator has exited: its id was known
    /// only to the creator (and what it told), and nothing will ever remove it.
    PrivateSegmentCreatorExited {
        /// The creator's pid, as the kernel recorded it.
        creator: u32,
    },
    /// An `IPC_PRIVATE` segment with no attachment whose creator the kernel reports as pid 0:
    /// it ran (or runs) in a pid namespace this scan cannot see. Always uncertain.
    PrivateSegmentCreatorUnknown,
}

/// Why the scan cannot be sure that nobody holds an object it found unheld. Such an object
/// is shown with `?`, and removing it needs `--force`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "why", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Blindness {
    /// Processes the scan could not read may hold it (their mount table has its filesystem
    /// and they may open it).
    UnreadableProcesses {
        /// How many.
        count: u64,
    },
    /// The scan runs in a child pid namespace (`NSpid` has more than one level): processes
    /// of the parent namespaces share the IPC namespace or the filesystem and are invisible.
    ChildPidNamespace,
    /// The kernel reports the creator's pid as 0: it lives in a pid namespace this one
    /// cannot see, so whether it still runs is unknown (never "exited").
    CreatorUnknown,
    /// The scan did not look for holders at all ([`crate::scan::ScanOptions::holders`]).
    HoldersNotScanned,
}

/// The status of an object: whether it is used, and its kernel flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Status {
    /// In use, idle or leaked.
    pub usage: Usage,
    /// Set when processes the scan could not see may hold what it found unheld.
    pub uncertain: Option<Blindness>,
    /// Shorthand for JSON readers: `usage` is leaked (see [`Status::usage`]).
    pub orphan: bool,
    /// Shorthand for JSON readers: leaked, but [`Status::uncertain`].
    pub orphan_uncertain: bool,
    /// System V: `IPC_RMID` was called; freed at the last detach (`SHM_DEST`).
    pub marked_for_destruction: bool,
    /// System V: locked in memory (`SHM_LOCK`).
    pub locked: bool,
    /// Backed by huge pages (`SHM_HUGETLB`, hugetlbfs): counted in `HugePages_*`, not `Shmem`.
    pub hugetlb: bool,
    /// A tmpfs or POSIX file that was unlinked but is still mapped or open.
    pub deleted: bool,
}

impl Status {
    /// A status with this judgement; the shorthand fields follow from it.
    pub fn judged(usage: Usage, uncertain: Option<Blindness>) -> Status {
        Status {
            usage,
            uncertain,
            orphan: usage.is_leaked(),
            orphan_uncertain: usage.is_leaked() && uncertain.is_some(),
            ..Status::default()
        }
    }

    /// Whether it is idle, or a leak, for certain: what `rm` may remove without `--force`.
    pub fn is_certain(&self) -> bool {
        self.uncertain.is_none()
    }
}

/// What frees an object's memory. The renderers word it as the command that does it; JSON
/// gives it as `{"action": "...", ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "action", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Remedy {
    /// Remove the System V segment (`ipcrm -m SHMID`): freed at once with nobody attached,
    /// else at its last detach.
    RemoveSegment {
        /// Its id.
        shmid: i32,
    },
    /// Unlink the file (`rm PATH`): freed once nobody maps or holds it open.
    UnlinkFile {
        /// Its path, as the kernel's bytes; JSON escapes it as addresses are.
        #[serde(serialize_with = "crate::json::path_escaped_always")]
        #[schemars(with = "String")]
        path: std::path::PathBuf,
    },
    /// End the processes that hold it (`kill PIDS`): an unlinked file, memory no name
    /// reaches, frees itself when they let go.
    EndHolders {
        /// Their pids, lowest first.
        pids: Vec<u32>,
    },
    /// Remove it from inside the container whose namespace holds it
    /// (`shmkit rm --container NAME ADDRESS`).
    RemoveInContainer {
        /// The container's name or short id.
        container: String,
        /// The object's address inside it.
        address: Address,
    },
    /// Remove it from inside the namespace of a process no runtime made
    /// (`shmkit rm --target PID ADDRESS`).
    RemoveInNamespace {
        /// A process in that namespace.
        pid: u32,
        /// The object's address inside it.
        address: Address,
    },
}

/// System V details of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct SysvDetails {
    /// The key (`0` is `IPC_PRIVATE`).
    pub key: i32,
    /// The segment id.
    pub shmid: i32,
    /// Attachments the kernel counts (`nattch`), in every process, also unreadable ones.
    pub nattch: u64,
    /// The creator.
    pub creator: ProcessRef,
    /// The last process to attach or detach.
    pub last: ProcessRef,
    /// Creator uid and gid.
    pub cuid: u32,
    /// Creator gid.
    pub cgid: u32,
    /// Last attach (unix seconds; 0 = never, null in JSON).
    #[serde(rename = "atime_unix", serialize_with = "crate::json::unix_or_never")]
    #[schemars(with = "Option<i64>")]
    pub atime: i64,
    /// Last detach (unix seconds; 0 = never, null in JSON).
    #[serde(rename = "dtime_unix", serialize_with = "crate::json::unix_or_never")]
    #[schemars(with = "Option<i64>")]
    pub dtime: i64,
    /// Creation or last `IPC_SET` (unix seconds).
    #[serde(rename = "ctime_unix")]
    pub ctime: i64,
}

impl SysvDetails {
    /// The details of segment `shmid` with `key`, created by `creator` who was also its last
    /// user; no attachment, creator ids 0, never attached or detached, changed at time 0.
    /// The scan fills every field from the kernel; callers set the rest by field.
    pub fn new(key: i32, shmid: i32, creator: ProcessRef) -> SysvDetails {
        SysvDetails {
            key,
            shmid,
            nattch: 0,
            last: creator.clone(),
            creator,
            cuid: 0,
            cgid: 0,
            atime: 0,
            dtime: 0,
            ctime: 0,
        }
    }
}

/// One shared-memory object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Object {
    /// Its kind.
    pub kind: Kind,
    /// How shmkit commands address it: `sysv:id=294918`, `posix:/name`, `file:/mnt/t/x`, and
    /// for what only its holders reach (a memfd, shared anonymous memory, a deleted file) a
    /// holder's descriptor or mapping: `memfd:4242/5`, `shared-anon:4242@0x7f3a0000`.
    /// Serialized as that text.
    pub address: Address,
    /// What a person calls it: a key (`0x0000162e`), a name (`/orders`), a path, a memfd name.
    pub name: String,
    /// Device (major, minor): with the inode, the identity that maps and fds share.
    pub dev: Option<crate::DeviceId>,
    /// Inode number (for System V the kernel sets it to the shmid).
    pub inode: Option<u64>,
    /// Size in bytes.
    pub size: u64,
    /// Bytes in memory, if known.
    pub resident: Option<u64>,
    /// Bytes in swap, if known.
    pub swapped: Option<u64>,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Owner user name, if the passwd database knows it.
    pub user: Option<String>,
    /// Permission bits (`0o600`).
    pub mode: u32,
    /// Processes that map or hold it.
    pub holders: Vec<Holder>,
    /// Creation time, or the closest the kernel keeps (System V ctime, a file's mtime)
    /// (unix seconds).
    #[serde(rename = "created_unix")]
    pub created: Option<i64>,
    /// The tmpfs mount point that holds it (tmpfs and POSIX objects), as address text: bytes
    /// that are not UTF-8 as `\xNN` ([`crate::address::unescape`] gives the bytes back).
    pub mount: Option<String>,
    /// Status flags.
    pub status: Status,
    /// Why it is a leak, when it is one (the same as in [`Usage::Leaked`]).
    pub orphan_reason: Option<LeakReason>,
    /// What frees it (remove the segment, unlink the file, end its holders), when something
    /// can. The command line renderers word it into (`ipcrm -m 294918`, `rm /dev/shm/x`).
    pub remedy: Option<Remedy>,
    /// System V details.
    pub sysv: Option<SysvDetails>,
    /// Where it lives: host or container, and its namespaces.
    #[serde(flatten)]
    pub location: Location,
}

impl Object {
    /// An object of `kind` at `address` called `name`, with nothing else known: size 0, owned
    /// by root with mode 0, no holders, in use, on the host. The scan fills every field from
    /// the kernel; callers set the rest by field.
    ///
    /// ```
    /// use shmkit::scan::{HoldVia, Holder, Kind, Object};
    ///
    /// let mut o = Object::new(Kind::Posix, "posix:/orders".parse()?, "/orders");
    /// o.size = 4096;
    /// o.holders.push(Holder::new(42, "db", 1000, HoldVia::Map, 4096));
    /// assert_eq!(o.address.to_string(), "posix:/orders");
    /// assert!(!o.status.usage.is_leaked());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(kind: Kind, address: Address, name: impl Into<String>) -> Object {
        Object {
            kind,
            address,
            name: name.into(),
            dev: None,
            inode: None,
            size: 0,
            resident: None,
            swapped: None,
            uid: 0,
            gid: 0,
            user: None,
            mode: 0,
            holders: Vec::new(),
            created: None,
            mount: None,
            status: Status::default(),
            orphan_reason: None,
            remedy: None,
            sysv: None,
            location: Location::default(),
        }
    }
}

impl Object {
    /// Its device and inode, when it is file-like and both are known: what its holders'
    /// mappings and descriptors name.
    pub fn file_id(&self) -> Option<crate::FileId> {
        Some(crate::FileId::new(self.dev?, self.inode?))
    }
}

/// A tmpfs or ramfs mount and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct TmpfsMount {
    /// Where it is mounted, as address text (bytes that are not UTF-8 as `\xNN`).
    pub mount_point: String,
    /// `tmpfs` or `ramfs`.
    pub fs_type: String,
    /// Device (major, minor).
    pub dev: crate::DeviceId,
    /// Its `size=` limit in bytes (`None` for ramfs: unlimited).
    pub size_limit: Option<u64>,
    /// Bytes allocated in it (files, including deleted files still held).
    pub used: u64,
    /// Files found in it.
    pub files: u64,
    /// Whether it is `/dev/shm`, where POSIX objects live.
    pub is_dev_shm: bool,
    /// The mount namespace (and container) it is mounted in; for a filesystem mounted in
    /// several, the one that names it best (a `/dev/shm` first, ours first).
    #[serde(flatten)]
    pub location: Location,
}

/// A container the scan found processes of, and the namespaces they are in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct ContainerInfo {
    /// Runtime, id, name, pod.
    pub container: Container,
    /// Its processes (host pids), lowest first.
    pub pids: Vec<u32>,
    /// Its IPC and mount namespaces (those of its first process).
    pub namespaces: Namespaces,
    /// The container that owns its IPC namespace when it joined another's
    /// (`--ipc=container:X`, a pod's sandbox); `host` when it uses the host's.
    pub ipc_owner: Option<String>,
    /// The other containers in its IPC namespace.
    pub ipc_shared_with: Vec<String>,
    /// Its memory cgroup: shmem charged to it and its limit.
    pub cgroup: Option<super::container::CgroupShmem>,
    /// The device of the tmpfs at `/dev/shm` in its mount namespace.
    pub dev_shm: Option<crate::DeviceId>,
}

/// What the scan could not see, so the report can say how much stays unattributed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Coverage {
    /// Processes examined.
    pub processes: u64,
    /// Processes that exited during the scan (skipped).
    pub processes_vanished: u64,
    /// Processes whose maps or fds could not be read (not root).
    pub processes_unreadable: u64,
    /// Objects that vanished during the scan (a segment removed, a file deleted).
    pub objects_vanished: u64,
    /// Other things not seen, in words.
    pub notes: Vec<String>,
}
