//! `--container NAME|ID` and `--target PID`: run a command inside another process's IPC and
//! mount namespaces, as `nsenter -t PID -i -m` would, from the host.
//!
//! The namespaces are entered at the start of `main`, while the process has one thread
//! (`setns` into a mount namespace refuses a multi-threaded caller). A container's `/proc`
//! belongs to its pid namespace, where shmkit has no pid; [`shmkit::sys::ns::enter`] puts a
//! `/proc` of ours on top in a private copy of the mount namespace, so the container sees no
//! change. Paths on the command line (a snapshot file) are then the container's paths.

use shmkit::scan::container;
use shmkit::scan::ProcRoot;
use shmkit::{Error, ErrorKind};
use std::path::Path;

/// Where a command acts: here, or inside a container or another process's namespaces.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Inside {
    /// Act inside this container (name, id, or id prefix of 4+ digits): its IPC namespace
    /// (System V) and mount namespace (/dev/shm, files). Needs root.
    #[arg(long, value_name = "NAME|ID", conflicts_with = "target")]
    pub container: Option<String>,
    /// Act inside the IPC and mount namespaces of process PID, like `nsenter -t PID -i -m`.
    /// Needs root.
    #[arg(long, value_name = "PID")]
    pub target: Option<u32>,
}

impl Inside {
    /// Whether a container or a process was named.
    pub fn is_set(&self) -> bool {
        self.container.is_some() || self.target.is_some()
    }

    /// Enters the namespaces named, if any. Call it before any thread starts.
    pub fn enter(&self) -> Result<(), Error> {
        let root = ProcRoot::live();
        let (pid, what) = match (&self.container, self.target) {
            (Some(query), _) => {
                let (c, pid) =
                    container::find(&root, query, Some(Path::new(container::DOCKER_SOCKET)))?;
                (pid, format!("container {}", c.label()))
            }
            (None, Some(pid)) => (pid, format!("process {pid}")),
            (None, None) => return Ok(()),
        };
        shmkit::sys::ns::enter(Path::new("/proc"), pid).map_err(|e| {
            let kind = match e.raw_os_error() {
                Some(libc::ENOENT) | Some(libc::ESRCH) => ErrorKind::NotFound,
                Some(libc::EPERM) | Some(libc::EACCES) => ErrorKind::PermissionDenied,
                _ => ErrorKind::from_errno(e.raw_os_error().unwrap_or(0)),
            };
            let fix = match kind {
                ErrorKind::NotFound => "the process has exited; name a running one",
                ErrorKind::PermissionDenied => {
                    "entering another namespace needs root: run it with sudo"
                }
                _ => "run as root on the host, with /proc mounted",
            };
            Error::new(
                kind,
                what,
                format!(
                    "cannot enter its namespaces: {}",
                    shmkit::error::os_message(&e)
                ),
            )
            .with_fix(fix)
        })
    }
}
