//! Where an experiment's verdicts are measured: in a memory cgroup of its own, or host-wide.
//!
//! `/proc/meminfo` counts the whole machine: a tmpfs file another process writes during an
//! experiment moves `Shmem` and `Cached` as much as the experiment does. A memory cgroup
//! counts only the pages its own processes were charged for (the process that first touches a
//! page pays for it, and the charge stays with the cgroup after that process exits), so the
//! runner makes a fresh one below the cgroup it is in, moves itself into it (its children
//! follow), and judges on its `memory.stat`:
//!
//! | meminfo | cgroup v1 `memory.stat` | cgroup v2 `memory.stat` |
//! |---|---|---|
//! | `Shmem` | `shmem` | `shmem` |
//! | `Cached` | `cache` | `file` |
//! | `Active(file) + Inactive(file)` | `active_file + inactive_file` | the same |
//! | `Dirty` | `dirty` | `file_dirty` |
//! | swap used | `swap` (with swap accounting) | `memory.swap.current` |
//!
//! `Buffers` and `SReclaimable` have no per-cgroup figure the verdicts need, and `MemFree` and
//! `MemAvailable` are the machine's by nature: those stay host-wide. Where no cgroup can be
//! made (not root, a read-only `/sys/fs/cgroup`, a v2 parent with processes of its own), the
//! verdicts are judged on `/proc/meminfo` and the baseline says so.
//!
//! The cgroup is nested in the runner's own, so every limit on that one still applies; it is
//! removed (after the runner moves back) when the experiment ends, also on an error.

use super::sample::Sample;
use crate::error::{Error, ErrorKind, Result};
use shmkit_procfs::container as parse;
use shmkit_procfs::ProcRoot;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the verdicts of one experiment are measured.
#[derive(Debug)]
pub(crate) enum Meter {
    /// In a memory cgroup of the experiment's own.
    Cgroup(LabCgroup),
    /// In `/proc/meminfo`, because no cgroup could be made (the reason).
    Host(String),
}

impl Meter {
    /// A cgroup of its own if one can be made, else host-wide with the reason.
    pub(crate) fn start(proc: &ProcRoot) -> Meter {
        match LabCgroup::create(proc) {
            Ok(cgroup) => Meter::Cgroup(cgroup),
            Err(reason) => Meter::Host(reason),
        }
    }

    /// The sample verdicts are judged on: the cgroup's counters where there is one, over
    /// `host` (a `/proc/meminfo` sample taken at the same moment) for the rest.
    pub(crate) fn measure(&self, host: &Sample) -> Result<Sample> {
        match self {
            Meter::Host(_) => Ok(*host),
            Meter::Cgroup(cgroup) => cgroup.sample(host),
        }
    }

    /// The baseline's note: what the verdicts are measured on.
    pub(crate) fn note(&self) -> String {
        match self {
            Meter::Cgroup(c) => format!(
                "{MEASURED_IN_CGROUP} {} (memory.stat: {}): only this experiment's pages count; the figures above are the whole machine's /proc/meminfo",
                c.dir.display(),
                match c.version {
                    Version::V1 => "shmem for Shmem, cache for Cached, active_file + inactive_file for the file LRU",
                    Version::V2 => "shmem for Shmem, file for Cached, active_file + inactive_file for the file LRU",
                }
            ),
            Meter::Host(why) => format!(
                "{MEASURED_HOST_WIDE} ({why}): other activity on this machine can disturb them"
            ),
        }
    }

    /// Moves the runner back and removes the cgroup; what could not be done, as a cleanup
    /// error with the command that does it by hand.
    pub(crate) fn finish(&mut self) -> Option<String> {
        match self {
            Meter::Cgroup(c) => c.remove(),
            Meter::Host(_) => None,
        }
    }
}

/// How the baseline's note begins when verdicts are measured in the experiment's cgroup.
pub const MEASURED_IN_CGROUP: &str = "verdicts measured in the experiment's own memory cgroup";
/// How the baseline's note begins when verdicts are measured on `/proc/meminfo`.
pub const MEASURED_HOST_WIDE: &str = "verdicts measured host-wide on /proc/meminfo";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// A memory cgroup made for one experiment, with the runner in it.
#[derive(Debug)]
pub(crate) struct LabCgroup {
    /// Its directory (through the ProcRoot).
    dir: PathBuf,
    /// The directory the runner was in, to go back to.
    home: PathBuf,
    version: Version,
    removed: bool,
}

impl LabCgroup {
    fn create(proc: &ProcRoot) -> std::result::Result<LabCgroup, String> {
        let lines = match proc.pid_cgroup(None) {
            Ok(Some(lines)) => lines,
            Ok(None) => return Err("/proc/self/cgroup is missing".to_string()),
            Err(e) => return Err(e.to_string()),
        };
        let Some(home) = parse::memory_cgroup_dirs(&lines).into_iter().next() else {
            return Err("no memory cgroup controller here".to_string());
        };
        let home = proc.path(&home);
        let version = if lines.iter().any(|l| l.has_controller("memory")) {
            Version::V1
        } else {
            Version::V2
        };
        if version == Version::V2 {
            enable_memory_below(&home)?;
        }
        let dir = home.join(format!("shmkit-lab-{}", std::process::id()));
        std::fs::create_dir(&dir)
            .map_err(|e| format!("mkdir {}: {}", dir.display(), crate::error::os_message(&e)))?;
        let mut cgroup = LabCgroup {
            dir,
            home,
            version,
            removed: false,
        };
        if let Err(e) = write_pid(&cgroup.dir) {
            let _ = cgroup.remove();
            return Err(format!(
                "moving into {}: {}",
                cgroup.dir.display(),
                crate::error::os_message(&e)
            ));
        }
        if let Err(e) = cgroup.read_stat() {
            let _ = cgroup.remove();
            return Err(e.to_string());
        }
        Ok(cgroup)
    }

    fn read_stat(&self) -> Result<String> {
        let path = self.dir.join("memory.stat");
        std::fs::read_to_string(&path).map_err(|e| Error::io(path.display().to_string(), "read", e))
    }

    fn sample(&self, host: &Sample) -> Result<Sample> {
        let text = self.read_stat()?;
        let path = self.dir.join("memory.stat");
        let field = |name: &str| -> Result<u64> {
            parse::memory_stat_field(&text, name)
                .map_err(|e| {
                    Error::new(ErrorKind::Other, path.display().to_string(), e.to_string())
                })?
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Unsupported,
                        path.display().to_string(),
                        format!("has no '{name}' line"),
                    )
                })
        };
        let (cached, dirty) = match self.version {
            Version::V1 => (field("cache")?, field("dirty")?),
            Version::V2 => (field("file")?, field("file_dirty")?),
        };
        let swap_used = match self.version {
            Version::V1 => parse::memory_stat_field(&text, "swap").ok().flatten(),
            Version::V2 => std::fs::read_to_string(self.dir.join("memory.swap.current"))
                .ok()
                .and_then(|t| t.trim().parse().ok()),
        };
        let mut sample = Sample {
            cached,
            shmem: field("shmem")?,
            dirty,
            file_lru: field("active_file")?.saturating_add(field("inactive_file")?),
            // Block-device pages are charged as file cache in a cgroup, on the file LRU: no
            // separate Buffers to add back.
            buffers: 0,
            ..*host
        };
        if let Some(used) = swap_used {
            sample.swap_free = sample.swap_total.saturating_sub(used);
        }
        Ok(sample)
    }

    /// Moves the runner back home and removes the directory. The kernel may take a moment
    /// to let go of a cgroup whose last child process just exited, so rmdir is retried for
    /// a second.
    fn remove(&mut self) -> Option<String> {
        if self.removed {
            return None;
        }
        // One attempt: a failure is reported once, not again by Drop.
        self.removed = true;
        let hint = format!(
            "echo {} > {}/cgroup.procs; rmdir {}",
            std::process::id(),
            self.home.display(),
            self.dir.display()
        );
        if let Err(e) = write_pid(&self.home) {
            return Some(format!(
                "could not leave {} ({}); do it by hand: {hint}",
                self.dir.display(),
                crate::error::os_message(&e)
            ));
        }
        let mut last = None;
        for _ in 0..100 {
            match std::fs::remove_dir(&self.dir) {
                Ok(()) => return None,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return None,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    last = Some(e);
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => {
                    last = Some(e);
                    break;
                }
            }
        }
        let why = last.map_or_else(String::new, |e| crate::error::os_message(&e));
        Some(format!(
            "could not remove {} ({why}); do it by hand: rmdir {}",
            self.dir.display(),
            self.dir.display()
        ))
    }
}

impl Drop for LabCgroup {
    fn drop(&mut self) {
        if let Some(line) = self.remove() {
            // Not eprintln!: a closed stderr must not turn a drop into an abort.
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr().lock(),
                format_args!("shmkit lab: {line}\n"),
            );
        }
    }
}

/// Moves this whole process (every thread) into the cgroup `dir`.
fn write_pid(dir: &Path) -> std::io::Result<()> {
    std::fs::write(
        dir.join("cgroup.procs"),
        format!("{}\n", std::process::id()),
    )
}

/// cgroup v2: a child gets the memory controller only if its parent lists it in
/// `cgroup.subtree_control`; enabling it fails (EBUSY) where the parent holds processes
/// itself, unless it is the root.
fn enable_memory_below(parent: &Path) -> std::result::Result<(), String> {
    let control = parent.join("cgroup.subtree_control");
    let enabled = std::fs::read_to_string(&control)
        .map_err(|e| format!("{}: {}", control.display(), crate::error::os_message(&e)))?;
    if enabled.split_whitespace().any(|c| c == "memory") {
        return Ok(());
    }
    std::fs::write(&control, "+memory").map_err(|e| {
        format!(
            "cannot enable the memory controller below {} ({})",
            parent.display(),
            crate::error::os_message(&e)
        )
    })
}
