//! [`ProcRoot`]: the only place this crate does I/O.
//!
//! Every path is resolved below a root directory: `/` on a live host, or a captured fixture
//! tree (holding `proc/`, `sys/`, `etc/`, `dev/shm/`) in tests, so the same parsing code runs
//! against both. Per-process readers return `Ok(None)` when the process is gone (ENOENT, or
//! ESRCH from a process that exits mid-read); permission errors stay errors, recognisable with
//! [`Error::is_permission_denied`].

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::cgroup::{self, CgroupLine};
use crate::cmdline;
use crate::error::{is_vanished, Error, ParseError, Result};
use crate::fd::{self, FdLink};
use crate::maps::{self, MapEntry};
use crate::meminfo::{self, MemInfo};
use crate::mountinfo::{self, MountInfo};
use crate::ns::{self, NsId};
use crate::passwd::{self, NameTable};
use crate::pid_stat::{self, PidStat};
use crate::pid_status::{self, PidStatus};
use crate::swaps::{self, SwapEntry};
use crate::sysctl::{self, ShmLimits};
use crate::sysvipc::{self, SysvShm};

/// A filesystem root under which `/proc`, `/sys`, `/etc` and `/dev/shm` are read.
#[derive(Debug, Clone)]
pub struct ProcRoot {
    root: PathBuf,
}

impl Default for ProcRoot {
    fn default() -> Self {
        Self::live()
    }
}

/// `"self"` or the decimal pid, for `/proc/{}/…`.
fn pid_dir(pid: Option<u32>) -> String {
    pid.map_or_else(|| "self".to_owned(), |p| p.to_string())
}

/// Bytes as text without copying when they are valid UTF-8 (the common case).
fn text(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

impl ProcRoot {
    /// The live host: root `/`.
    pub fn live() -> Self {
        Self::new("/")
    }

    /// A root directory, such as a fixture tree holding `proc/…`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ProcRoot { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Map an absolute path such as `/proc/meminfo` to the file below the root.
    pub fn path(&self, abs: impl AsRef<Path>) -> PathBuf {
        let abs = abs.as_ref();
        self.root.join(abs.strip_prefix("/").unwrap_or(abs))
    }

    /// Read the whole file (to EOF, however many reads that takes) into `buf`, which is cleared
    /// first. `Ok(false)` if the file or its process is gone.
    pub fn read_into(&self, abs: impl AsRef<Path>, buf: &mut Vec<u8>) -> Result<bool> {
        let path = self.path(abs);
        buf.clear();
        let res = File::open(&path).and_then(|mut f| f.read_to_end(buf));
        match res {
            Ok(_) => Ok(true),
            Err(e) if is_vanished(&e) => {
                buf.clear();
                Ok(false)
            }
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Read a text file (lossy UTF-8); `None` if it does not exist.
    pub fn read_to_string(&self, abs: impl AsRef<Path>) -> Result<Option<String>> {
        let mut buf = Vec::new();
        if !self.read_into(abs, &mut buf)? {
            return Ok(None);
        }
        Ok(Some(match String::from_utf8(buf) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }))
    }

    /// Read and parse a file that must exist.
    fn required<T>(
        &self,
        abs: &str,
        parse: fn(&str) -> std::result::Result<T, ParseError>,
    ) -> Result<T> {
        match self.read_to_string(abs)? {
            Some(t) => parse(&t).map_err(|e| Error::parse(self.path(abs), e)),
            None => Err(Error::io(
                self.path(abs),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )),
        }
    }

    /// Read and parse a file that may be absent (`None`).
    fn optional<T>(
        &self,
        abs: &str,
        parse: fn(&str) -> std::result::Result<T, ParseError>,
    ) -> Result<Option<T>> {
        match self.read_to_string(abs)? {
            Some(t) => parse(&t)
                .map(Some)
                .map_err(|e| Error::parse(self.path(abs), e)),
            None => Ok(None),
        }
    }

    /// `/proc/meminfo`.
    pub fn meminfo(&self) -> Result<MemInfo> {
        self.required("/proc/meminfo", meminfo::parse)
    }

    /// `/proc/sysvipc/shm`: the System V segments of this IPC namespace. A missing file (kernel
    /// without `CONFIG_SYSVIPC`) gives no segments.
    pub fn sysvipc_shm(&self) -> Result<Vec<SysvShm>> {
        Ok(self
            .optional("/proc/sysvipc/shm", sysvipc::parse)?
            .unwrap_or_default())
    }

    /// `/proc/PID/mountinfo`, or `/proc/self/mountinfo` for `None`, read as bytes: a path in
    /// it may be any bytes.
    pub fn mountinfo(&self, pid: Option<u32>) -> Result<Vec<MountInfo>> {
        let abs = format!("/proc/{}/mountinfo", pid_dir(pid));
        let mut buf = Vec::new();
        if !self.read_into(&abs, &mut buf)? {
            return Err(Error::io(
                self.path(&abs),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        mountinfo::parse(&buf).map_err(|e| Error::parse(self.path(&abs), e))
    }

    /// The numeric entries of `/proc` (process ids), sorted.
    pub fn pids(&self) -> Result<Vec<u32>> {
        let dir = self.path("/proc");
        let rd = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut pids = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            if let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            {
                pids.push(pid);
            }
        }
        pids.sort_unstable();
        Ok(pids)
    }

    fn per_pid<T>(
        &self,
        pid: Option<u32>,
        file: &str,
        parse: fn(&str) -> std::result::Result<T, ParseError>,
    ) -> Result<Option<T>> {
        self.optional(&format!("/proc/{}/{file}", pid_dir(pid)), parse)
    }

    /// `/proc/PID/stat`; `None` if the process is gone.
    pub fn pid_stat(&self, pid: u32) -> Result<Option<PidStat>> {
        self.per_pid(Some(pid), "stat", pid_stat::parse)
    }

    /// `/proc/PID/status`; `None` if the process is gone.
    pub fn pid_status(&self, pid: u32) -> Result<Option<PidStatus>> {
        self.per_pid(Some(pid), "status", pid_status::parse)
    }

    /// `/proc/PID/maps`; `None` if the process is gone. Allocates; to scan many processes use
    /// [`ProcRoot::pid_maps_into`].
    pub fn pid_maps(&self, pid: u32) -> Result<Option<Vec<MapEntry>>> {
        let mut buf = Vec::new();
        let mut out = Vec::new();
        Ok(self.pid_maps_into(pid, &mut buf, &mut out)?.then_some(out))
    }

    /// `/proc/PID/maps` into reusable buffers: `buf` holds the raw file and `out` receives the
    /// entries (both are cleared first). `Ok(false)` if the process is gone. The only
    /// per-entry allocation is the path string.
    pub fn pid_maps_into(
        &self,
        pid: u32,
        buf: &mut Vec<u8>,
        out: &mut Vec<MapEntry>,
    ) -> Result<bool> {
        out.clear();
        let abs = format!("/proc/{pid}/maps");
        if !self.read_into(&abs, buf)? {
            return Ok(false);
        }
        maps::parse_into(&text(buf), out).map_err(|e| Error::parse(self.path(&abs), e))?;
        Ok(true)
    }

    /// `/proc/PID/cmdline` split at NULs (lossy UTF-8); `None` if the process is gone.
    pub fn pid_cmdline(&self, pid: u32) -> Result<Option<Vec<String>>> {
        let mut buf = Vec::new();
        if !self.read_into(format!("/proc/{pid}/cmdline"), &mut buf)? {
            return Ok(None);
        }
        Ok(Some(cmdline::parse(&buf)))
    }

    /// The open descriptors of a process (readdir `/proc/PID/fd`, readlink each), sorted by
    /// number. `None` if the process is gone; a descriptor closed between the readdir and its
    /// readlink is skipped. Reading another user's descriptors needs privilege: check
    /// [`Error::is_permission_denied`].
    pub fn pid_fds(&self, pid: u32) -> Result<Option<Vec<FdLink>>> {
        let dir = self.path(format!("/proc/{pid}/fd"));
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if is_vanished(&e) => return Ok(None),
            Err(e) => return Err(Error::io(dir, e)),
        };
        let mut out = Vec::new();
        for entry in rd {
            let entry = match entry {
                Ok(en) => en,
                Err(e) if is_vanished(&e) => return Ok(None),
                Err(e) => return Err(Error::io(dir, e)),
            };
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let link = entry.path();
            let target = match std::fs::read_link(&link) {
                Ok(t) => t,
                Err(e) if is_vanished(&e) => continue,
                Err(e) => return Err(Error::io(link, e)),
            };
            let target = target.to_string_lossy();
            match fd::parse(name, &target) {
                Ok(l) => out.push(l),
                // Not a descriptor entry (a stray file in a fixture): not ours to judge.
                Err(_) => continue,
            }
        }
        out.sort_unstable_by_key(|l| l.fd);
        Ok(Some(out))
    }

    /// `/proc/PID/cgroup` (`None` = self); `None` if the process is gone.
    pub fn pid_cgroup(&self, pid: Option<u32>) -> Result<Option<Vec<CgroupLine>>> {
        self.per_pid(pid, "cgroup", cgroup::parse)
    }

    /// The namespace link `/proc/PID/ns/<ns>` (`None` = self), e.g. `ns = "ipc"`; `None` if
    /// the process (or, on old kernels, that namespace kind) is gone.
    pub fn ns_link(&self, pid: Option<u32>, ns: &str) -> Result<Option<NsId>> {
        let link = self.path(format!("/proc/{}/ns/{ns}", pid_dir(pid)));
        match std::fs::read_link(&link) {
            Ok(t) => ns::parse(&t.to_string_lossy())
                .map(Some)
                .map_err(|e| Error::parse(link, e)),
            Err(e) if is_vanished(&e) => Ok(None),
            Err(e) => Err(Error::io(link, e)),
        }
    }

    /// `/proc/swaps` (missing file: no swap areas).
    pub fn swaps(&self) -> Result<Vec<SwapEntry>> {
        Ok(self
            .optional("/proc/swaps", swaps::parse)?
            .unwrap_or_default())
    }

    /// `/proc/sys/kernel/{shmmax,shmall,shmmni,shm_rmid_forced,shm_next_id}`; a missing file
    /// leaves its field `None`.
    pub fn shm_limits(&self) -> Result<ShmLimits> {
        Ok(ShmLimits {
            shmmax: self.optional("/proc/sys/kernel/shmmax", sysctl::parse_u64)?,
            shmall: self.optional("/proc/sys/kernel/shmall", sysctl::parse_u64)?,
            shmmni: self.optional("/proc/sys/kernel/shmmni", sysctl::parse_u64)?,
            shm_rmid_forced: self
                .optional("/proc/sys/kernel/shm_rmid_forced", sysctl::parse_bool)?,
            shm_next_id: self.optional("/proc/sys/kernel/shm_next_id", sysctl::parse_i64)?,
        })
    }

    /// `/etc/passwd` as a uid ↔ name table; missing file: empty table.
    pub fn users(&self) -> Result<NameTable> {
        Ok(self
            .optional("/etc/passwd", passwd::parse)?
            .unwrap_or_default())
    }

    /// `/etc/group` as a gid ↔ name table; missing file: empty table.
    pub fn groups(&self) -> Result<NameTable> {
        Ok(self
            .optional("/etc/group", passwd::parse)?
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_strips_the_leading_slash_once() {
        let r = ProcRoot::new("/fx");
        assert_eq!(r.path("/proc/meminfo"), PathBuf::from("/fx/proc/meminfo"));
        assert_eq!(r.path("proc/meminfo"), PathBuf::from("/fx/proc/meminfo"));
        assert_eq!(
            ProcRoot::live().path("/proc/1/maps"),
            PathBuf::from("/proc/1/maps")
        );
    }

    #[test]
    fn missing_required_file_is_not_found_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let r = ProcRoot::new(dir.path());
        let e = r.meminfo().unwrap_err();
        assert!(e.is_not_found());
        assert!(e.to_string().contains("proc/meminfo"), "{e}");
        assert_eq!(r.sysvipc_shm().unwrap(), vec![]);
        assert_eq!(r.pid_stat(1).unwrap(), None);
        assert_eq!(r.pid_fds(1).unwrap(), None);
        assert_eq!(r.ns_link(None, "ipc").unwrap(), None);
        assert_eq!(r.shm_limits().unwrap(), ShmLimits::default());
        assert!(r.users().unwrap().is_empty());
    }

    #[test]
    fn a_directory_where_a_file_should_be_is_an_io_error_not_none() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc/meminfo")).unwrap();
        let e = ProcRoot::new(dir.path()).meminfo().unwrap_err();
        assert!(!e.is_not_found() && !e.is_permission_denied(), "{e}");
    }
}
