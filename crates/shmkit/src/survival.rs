//! What an object survives: a process exit, a container restart, a reboot. Every answer is
//! yes, no or "it depends", with the reason as a code ([`Because`]); the library never words
//! it, so a program can match on the reason and the CLI words it for people.
//!
//! [`crate::scan::Kind::lifetime`] gives the answers for a kind anywhere (PRODUCT.md's table:
//! a System V segment survives a container restart only if its IPC namespace does), and
//! [`crate::doctor`] the answers here, where the namespaces and mounts are known.

use serde::Serialize;

/// Yes, no, or it depends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Answer {
    /// It survives.
    Yes,
    /// It does not.
    No,
    /// Only under a condition that [`Because`] names.
    Depends,
}

/// Why an object survives, or does not, or only under a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Because {
    /// It stays until removed (`IPC_RMID`, `shm_unlink`, `unlink`), with nobody attached.
    UntilRemoved,
    /// `kernel.shm_rmid_forced=1` destroys a segment once its creator exited and nobody is
    /// attached.
    ShmRmidForced,
    /// Freed when its last holder closes and unmaps it (a memfd, shared anonymous memory).
    FreedWithLastHolder,
    /// It is a file on a filesystem.
    IsAFile,
    /// A System V segment lives as long as its IPC namespace.
    IpcNamespaceLifetime,
    /// This IPC namespace is private: it ends with its last process.
    PrivateIpcNamespace,
    /// This container shares the host's IPC namespace.
    SharesHostIpcNamespace,
    /// The host's IPC namespace outlives any service restart.
    HostIpcNamespace,
    /// This process's IPC namespace could not be read.
    IpcNamespaceUnreadable,
    /// A POSIX object lives as long as the `/dev/shm` it is in.
    DevShmLifetime,
    /// This container's `/dev/shm` is a tmpfs of its own, which ends with it.
    ContainerDevShm,
    /// Only if this container's `/dev/shm` is the host's (`--ipc=host` shares it).
    DevShmMaybeHosts,
    /// This private mount namespace still has the host's `/dev/shm`, which outlives it.
    PrivateMountNsHostDevShm,
    /// This private mount namespace has a `/dev/shm` of its own, which ends with it.
    PrivateMountNsOwnDevShm,
    /// This mount namespace is private and its `/dev/shm` could not be compared with the
    /// host's.
    PrivateMountNsDevShmUnknown,
    /// pid 1's mount namespace could not be read to tell whether `/dev/shm` is the host's.
    MountNamespaceUnreadable,
    /// The host's `/dev/shm` outlives any service restart.
    HostDevShm,
    /// A tmpfs file lives as long as its mount.
    MountLifetime,
    /// A tmpfs mounted in this container ends with it.
    ContainerTmpfs,
    /// This mount namespace is private: a tmpfs mounted in it ends with it, one mounted on the
    /// host outlives it.
    PrivateMountNsTmpfs,
    /// A tmpfs of the host outlives any service restart.
    HostTmpfs,
    /// Freed with the processes that hold it.
    FreedWithProcesses,
    /// A file lives as long as its filesystem does.
    FileSystemLifetime,
    /// The file is in a container's writable layer: it survives a restart, not its removal.
    WritableLayer,
    /// The file is on a tmpfs: memory, which lives as long as that mount.
    FileOnTmpfs,
    /// The file is on a disk filesystem, which outlives containers.
    FileOnDisk,
    /// The file's filesystem could not be determined.
    FileSystemUnknown,
    /// Shared memory is RAM (and swap): a reboot clears it.
    MemoryOnly,
    /// A file on disk keeps what was written back (`msync`).
    WrittenBack,
}

/// One answer with its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Survival {
    /// Yes, no or depends.
    pub answer: Answer,
    /// Why.
    pub because: Because,
}

impl Survival {
    /// It survives, because of `because`.
    pub fn yes(because: Because) -> Survival {
        Survival {
            answer: Answer::Yes,
            because,
        }
    }

    /// It does not survive, because of `because`.
    pub fn no(because: Because) -> Survival {
        Survival {
            answer: Answer::No,
            because,
        }
    }

    /// It depends on what `because` names.
    pub fn depends(because: Because) -> Survival {
        Survival {
            answer: Answer::Depends,
            because,
        }
    }
}

/// What an object survives: one answer per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Lifetime {
    /// The exit of every process that used it.
    pub process_exit: Survival,
    /// A restart of the container it is in (on a host: of the program's service).
    pub container_restart: Survival,
    /// A reboot of the host.
    pub reboot: Survival,
}

impl Lifetime {
    /// The three answers.
    pub fn new(process_exit: Survival, container_restart: Survival, reboot: Survival) -> Self {
        Lifetime {
            process_exit,
            container_restart,
            reboot,
        }
    }
}
