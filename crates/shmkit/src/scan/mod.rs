//! The scan: one pass over `/proc`, `/sys` and the tmpfs mounts that finds every
//! shared-memory object on the host, who holds it, and what leaked.
//!
//! Sources, all read through one [`ProcRoot`] so tests can run on captured fixture trees:
//! - `/proc/sysvipc/shm`: System V segments with their resident and swapped bytes;
//! - `/proc/self/mountinfo` + `statvfs` + a walk of each tmpfs/ramfs mount: tmpfs files, and
//!   POSIX objects (the files of `/dev/shm`);
//! - `/proc/PID/maps` of every process: holders of all of these, plus the objects that only
//!   mappings reveal (shared anonymous memory as `/dev/zero (deleted)`, memfds as
//!   `/memfd:NAME (deleted)`, deleted tmpfs files, shared mappings of regular files);
//! - `/proc/PID/fd`: holders that keep an object open without mapping it.
//!
//! Processes and objects vanish during a scan: they are skipped and counted in
//! [`Coverage`], never an error. Only `/proc/meminfo` is required.

mod classify;
mod collect;
pub mod container;
mod facts;
mod maps_query;
mod merge;
pub mod model;
mod mounts;
pub mod namespaces;
mod process;

pub use collect::{holders_now, HoldersNow, Scan, ScanError};
pub use model::*;

pub use shmkit_procfs::ProcRoot;

/// What to collect: `ScanOptions::default()`, changed by its builder methods
/// (`ScanOptions::default().top_files(5)`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ScanOptions {
    /// How many of the largest files to list per tmpfs mount other than `/dev/shm` (every
    /// `/dev/shm` file is listed: those are the POSIX objects).
    pub top_files: usize,
    /// Read every process's maps and descriptors to find holders (the expensive part).
    pub holders: bool,
    /// Stop walking a mount after this many directory entries (a huge tmpfs stays cheap).
    pub walk_limit: usize,
    /// Look into every IPC and mount namespace of the host (containers), not only ours; only
    /// when the scan runs in the host's IPC namespace.
    pub all_namespaces: bool,
    /// Docker's Engine API socket, asked for container names (`None`: ids only).
    pub docker_socket: Option<std::path::PathBuf>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            top_files: 10,
            holders: true,
            walk_limit: 200_000,
            all_namespaces: true,
            docker_socket: Some(container::DOCKER_SOCKET.into()),
        }
    }
}

impl ScanOptions {
    /// Lists this many of the largest files of each tmpfs mount other than `/dev/shm`.
    pub fn top_files(mut self, n: usize) -> Self {
        self.top_files = n;
        self
    }

    /// Reads every process's maps and descriptors for holders, or not.
    pub fn holders(mut self, holders: bool) -> Self {
        self.holders = holders;
        self
    }

    /// Stops walking a mount after this many directory entries.
    pub fn walk_limit(mut self, entries: usize) -> Self {
        self.walk_limit = entries;
        self
    }

    /// Looks into every IPC and mount namespace of the host, or only ours.
    pub fn all_namespaces(mut self, all: bool) -> Self {
        self.all_namespaces = all;
        self
    }

    /// Asks Docker's Engine API at this socket for container names (`None`: ids only).
    pub fn docker_socket(mut self, socket: Option<std::path::PathBuf>) -> Self {
        self.docker_socket = socket;
        self
    }
}
