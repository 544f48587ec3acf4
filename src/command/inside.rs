//! `--container NAME|ID` and `--target PID`: run a command inside another process's IPC and
//! mount namespaces, as `nsenter -t PID -i -m` would, from the host.
//!
//! The namespaces are entered at the start of `main`, while the process has one thread
//! (`setns` into a mount namespace refuses a multi-threaded caller). A container's `/proc`
//! belongs to its pid namespace, where shmkit has no pid; [`shmkit::sys::ns::enter`] puts a
//! `/proc` of ours on top in a private copy of the mount namespace, so the container sees no
//! change. Paths on the command line (a snapshot file, `write --from`) stay the host's: a
//! descriptor of the host's root, opened before entering, reaches them as
//! `/proc/self/fd/N/PATH`.

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

    /// Enters the namespaces named, if any, and returns how to reach the host's files from
    /// inside. Call it before any thread starts.
    pub fn enter(&self) -> Result<Option<HostPaths>, Error> {
        let root = ProcRoot::live();
        let (pid, what) = match (&self.container, self.target) {
            (Some(query), _) => {
                let (c, pid) =
                    container::find(&root, query, Some(Path::new(container::DOCKER_SOCKET)))?;
                (pid, format!("container {}", c.label()))
            }
            (None, Some(pid)) => (pid, format!("process {pid}")),
            (None, None) => return Ok(None),
        };
        let host = HostPaths::open()?;
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
        })?;
        Ok(Some(host))
    }
}

/// The host's root and working directory, kept open across the entering.
#[derive(Debug)]
pub struct HostPaths {
    root: std::fs::File,
    cwd: std::path::PathBuf,
}

impl HostPaths {
    fn open() -> Result<HostPaths, Error> {
        let root = std::fs::File::open("/").map_err(|e| {
            Error::new(ErrorKind::Other, "/", shmkit::error::os_message(&e))
                .with_fix("shmkit needs to open the host's root directory")
        })?;
        let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
        Ok(HostPaths { root, cwd })
    }

    /// The host's `path` (relative to the host's working directory), reachable from inside.
    pub fn reach(&self, path: &Path) -> std::path::PathBuf {
        use std::os::fd::AsRawFd;
        let abs = self.cwd.join(path);
        let rel = abs.strip_prefix("/").unwrap_or(&abs);
        Path::new(&format!("/proc/self/fd/{}", self.root.as_raw_fd())).join(rel)
    }
}
