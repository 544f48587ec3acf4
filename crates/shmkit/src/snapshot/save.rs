//! Saving: find the selected objects, stream them into a temporary file beside the target,
//! fsync it, rename it over the target, fsync the directory.
//!
//! The rename is the only moment the target changes, and it is atomic: a crash (or `kill -9`)
//! at any earlier moment leaves the previous snapshot as it was, plus a stray temporary file
//! that the next save removes; after it, the new snapshot is complete and synced.

use super::format::{validate_posix_name, ObjectMeta};
use super::select::Selector;
use super::writer::{SnapshotWriter, WriteStats};
use crate::error::{Error, ErrorKind, Result};
use crate::procfs::{ProcRoot, SysvShm};
use crate::scan::Kind;
use crate::sys;
use std::fs::{File, OpenOptions};
use std::io::BufWriter;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where POSIX shared memory objects live (glibc's `shm_open` prefix).
pub const DEV_SHM: &str = "/dev/shm";

/// What to save and how.
#[derive(Debug, Clone, Default)]
pub struct SaveOptions {
    /// The objects to take; empty means everything (`all`).
    pub selectors: Vec<Selector>,
    /// Wait up to this long for every selected System V segment to have no attachments before
    /// copying, so the copy is consistent; fail with [`ErrorKind::Busy`] if they stay attached.
    pub wait_detached: Option<Duration>,
}

/// An object that was saved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SavedSummary {
    /// Its record.
    #[serde(flatten)]
    pub meta: ObjectMeta,
    /// Its checksum in the file.
    pub checksum: u64,
}

/// What a save did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SaveReport {
    /// The snapshot file.
    pub path: PathBuf,
    /// The objects saved, in file order.
    pub objects: Vec<SavedSummary>,
    /// Objects selected but gone before they could be copied (removed meanwhile).
    pub vanished: Vec<String>,
    /// Content bytes of all objects.
    pub content_bytes: u64,
    /// Content bytes stored (the rest were all-zero pages).
    pub stored_bytes: u64,
    /// Size of the snapshot file.
    pub file_bytes: u64,
}

impl SaveReport {
    /// Objects whose content may be torn: processes were attached while it was copied.
    pub fn torn(&self) -> impl Iterator<Item = &SavedSummary> {
        self.objects.iter().filter(|o| o.meta.maybe_torn())
    }
}

/// One object chosen for saving.
#[derive(Debug, Clone)]
enum Chosen {
    Sysv(SysvShm),
    Posix(String),
}

/// Resolves selectors against this IPC namespace and `/dev/shm` (both read through `root`).
fn choose(root: &ProcRoot, selectors: &[Selector]) -> Result<Vec<Chosen>> {
    let all;
    let selectors = if selectors.is_empty() {
        all = [Selector::SysvAll, Selector::PosixAll];
        &all[..]
    } else {
        selectors
    };
    let segments = root.sysvipc_shm().map_err(|e| {
        Error::new(ErrorKind::Other, "/proc/sysvipc/shm", e.to_string())
            .with_fix("run shmkit where /proc is mounted")
    })?;
    // Segments removed with IPC_RMID but still attached: their key is gone, they are dying.
    let live: Vec<&SysvShm> = segments
        .iter()
        .filter(|s| !s.marked_for_destruction())
        .collect();
    let mut out: Vec<Chosen> = Vec::new();
    let push_sysv = |s: &SysvShm, out: &mut Vec<Chosen>| {
        let dup = out
            .iter()
            .any(|c| matches!(c, Chosen::Sysv(x) if x.shmid == s.shmid));
        if !dup {
            out.push(Chosen::Sysv(s.clone()));
        }
    };
    let not_found = |what: String, why: &str| {
        Error::new(ErrorKind::NotFound, what, why.to_owned())
            .with_fix("list the segments of this IPC namespace with `ipcs -m` or `shmkit ls`")
    };
    let mut posix_names: Vec<String> = Vec::new();
    for sel in selectors {
        match sel {
            Selector::SysvKey(key) => {
                let s = live
                    .iter()
                    .find(|s| s.key == *key && *key != sys::sysv::IPC_PRIVATE)
                    .ok_or_else(|| {
                        not_found(
                            format!("sysv:{key}"),
                            "no segment has this key in this IPC namespace",
                        )
                    })?;
                push_sysv(s, &mut out);
            }
            Selector::SysvId(id) => {
                let s = live.iter().find(|s| s.shmid == *id).ok_or_else(|| {
                    not_found(
                        format!("sysv:id={id}"),
                        "no segment has this id in this IPC namespace",
                    )
                })?;
                push_sysv(s, &mut out);
            }
            Selector::SysvAll => {
                for s in live.iter().filter(|s| s.key != sys::sysv::IPC_PRIVATE) {
                    push_sysv(s, &mut out);
                }
            }
            Selector::SysvUser(uid) => {
                for s in live
                    .iter()
                    .filter(|s| s.key != sys::sysv::IPC_PRIVATE && s.uid == *uid)
                {
                    push_sysv(s, &mut out);
                }
            }
            Selector::PosixName(name) => {
                let path = root.path(format!("{DEV_SHM}{name}"));
                match std::fs::symlink_metadata(&path) {
                    Ok(m) if m.file_type().is_file() => posix_names.push(name.clone()),
                    Ok(_) => {
                        return Err(Error::new(
                            ErrorKind::InvalidInput,
                            format!("posix:{name}"),
                            "is not a regular file in /dev/shm",
                        )
                        .with_fix("name a POSIX shared memory object"))
                    }
                    Err(_) => {
                        return Err(Error::new(
                            ErrorKind::NotFound,
                            format!("posix:{name}"),
                            "no such POSIX shared memory object",
                        )
                        .with_fix("list them with `ls /dev/shm` or `shmkit ls`"))
                    }
                }
            }
            Selector::PosixAll => posix_names.extend(list_posix(root)?),
        }
    }
    posix_names.sort();
    posix_names.dedup();
    out.extend(posix_names.into_iter().map(Chosen::Posix));
    Ok(out)
}

/// The POSIX shared memory objects in `/dev/shm`: regular files, not semaphores (`sem.*`),
/// not shmkit's own temporary restore objects.
fn list_posix(root: &ProcRoot) -> Result<Vec<String>> {
    let dir = root.path(DEV_SHM);
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir.display().to_string(), "readdir", e)),
    };
    let mut names = Vec::new();
    for entry in rd.flatten() {
        let Ok(ft) = entry.file_type() else { continue };
        let Some(file) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !ft.is_file() || file.starts_with("sem.") || file.starts_with(TEMP_PREFIX) {
            continue;
        }
        let name = format!("/{file}");
        if validate_posix_name(&name).is_ok() {
            names.push(name);
        }
    }
    Ok(names)
}

/// The prefix of restore's temporary POSIX objects (hidden, skipped by `posix:all`).
pub(crate) const TEMP_PREFIX: &str = ".shmkit-restore.";

/// Waits until every chosen System V segment has no attachments, or fails after `timeout`.
fn wait_detached(root: &ProcRoot, chosen: &[Chosen], timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let segments = root.sysvipc_shm().unwrap_or_default();
        let busy: Vec<&SysvShm> = chosen
            .iter()
            .filter_map(|c| match c {
                Chosen::Sysv(s) => segments.iter().find(|x| x.shmid == s.shmid),
                Chosen::Posix(_) => None,
            })
            .filter(|s| s.nattch > 0)
            .collect();
        let Some(first) = busy.first() else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            return Err(Error::new(
                ErrorKind::Busy,
                format!("sysv:{}", first.key),
                format!(
                    "still attached by {} after {} ms ({} busy)",
                    crate::render::count(first.nattch, "process", "processes"),
                    timeout.as_millis(),
                    crate::render::count(busy.len() as u64, "segment", "segments")
                ),
            )
            .with_fix("stop the writers first, give --wait-detached more time, or save without it (the copy may be torn)"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A file writer that starts write-back of every [`WRITEBACK_STEP`] bytes behind itself, so
/// the disk works while the segments are still being copied (and the final fsync is short).
#[derive(Debug)]
struct Writeback {
    file: File,
    written: u64,
    flushed: u64,
}

/// How much is written between two write-back starts.
const WRITEBACK_STEP: u64 = 32 << 20;

impl std::io::Write for Writeback {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = std::io::Write::write(&mut self.file, buf)?;
        self.written += n as u64;
        if self.written - self.flushed >= WRITEBACK_STEP {
            // Only a hint for speed: a failure here shows up again in fsync.
            let _ = sys::start_writeback(
                std::os::fd::AsFd::as_fd(&self.file),
                self.flushed,
                self.written - self.flushed,
            );
            self.flushed = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::Write::flush(&mut self.file)
    }
}

/// A segment's attachment read so that holes (pages never written, when nothing of the segment
/// is in swap) become zeros without being faulted in.
struct SkipHoles<'a> {
    mapping: &'a sys::Mapping,
    holes_known: bool,
    residency: Vec<u8>,
}

impl super::writer::ContentSource for SkipHoles<'_> {
    fn read_content(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let page = sys::page_size() as usize;
        if !self.holes_known
            || self
                .mapping
                .residency(offset, buf.len() as u64, &mut self.residency)
                .is_err()
        {
            // Mapping the pages in one call is cheaper than a fault per page during the copy.
            let _ = self.mapping.prefault_range(offset, buf.len() as u64);
            return self.mapping.read_at(offset, buf).map_err(Into::into);
        }
        let mut i = 0;
        while i < self.residency.len() {
            let resident = self.residency[i] & 1 != 0;
            let mut j = i + 1;
            while j < self.residency.len() && (self.residency[j] & 1 != 0) == resident {
                j += 1;
            }
            let (a, b) = (i * page, (j * page).min(buf.len()));
            if resident {
                let _ = self
                    .mapping
                    .prefault_range(offset + a as u64, (b - a) as u64);
                self.mapping.read_at(offset + a as u64, &mut buf[a..b])?;
            } else {
                buf[a..b].fill(0);
            }
            i = j;
        }
        Ok(())
    }
}

/// A temporary file removed on drop unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Removes temporary files that savers killed before their rename left behind (their pid no
/// longer runs).
fn remove_stale_temps(root: &ProcRoot, dir: &Path, prefix: &str) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in rd.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let Ok(pid) = rest.parse::<u32>() else {
            continue;
        };
        let alive = root.path(format!("/proc/{pid}")).exists();
        if !alive {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Saves the selected objects to `path`, atomically.
pub fn save(root: &ProcRoot, path: &Path, opts: &SaveOptions) -> Result<SaveReport> {
    let shown = path.display().to_string();
    let mut chosen = choose(root, &opts.selectors)?;
    if let Some(t) = opts.wait_detached {
        wait_detached(root, &chosen, t)?;
        // Read the segments again: their attachment counts (and the records) are what the
        // snapshot must state, and they changed while we waited.
        chosen = choose(root, &opts.selectors)?;
    }
    let file_name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        Error::new(ErrorKind::InvalidInput, &shown, "is not a file name")
            .with_fix("name the snapshot file, e.g. /data/shm.snap")
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!(".{file_name}.shmkit-tmp.");
    remove_stale_temps(root, &dir, &prefix);
    let tmp_path = dir.join(format!("{prefix}{}", std::process::id()));
    let io_err = |call: &str, e: std::io::Error| {
        let err = Error::io(&shown, call, e);
        let fix = if err.kind() == ErrorKind::LimitExceeded {
            "free space on that filesystem or save to a larger volume"
        } else if err.kind() == ErrorKind::PermissionDenied {
            "save to a directory you may write"
        } else {
            "check the directory and the disk"
        };
        err.with_fix(fix)
    };
    // Our own pid's leftover (a pid reused after a crash) would make O_EXCL fail: it is ours.
    let _ = std::fs::remove_file(&tmp_path);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp_path)
        .map_err(|e| io_err("create temporary file", e))?;
    let mut tmp = TempFile {
        path: tmp_path.clone(),
        armed: true,
    };
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let out = BufWriter::with_capacity(
        256 << 10,
        Writeback {
            file,
            written: 0,
            flushed: 0,
        },
    );
    let mut writer = SnapshotWriter::new(out, created).map_err(|e| io_err("write", e))?;
    let mut objects = Vec::new();
    let mut vanished = Vec::new();
    for c in &chosen {
        match c {
            Chosen::Sysv(s) => {
                let meta = ObjectMeta {
                    kind: Kind::Sysv,
                    key: s.key,
                    name: String::new(),
                    mode: s.mode(),
                    uid: s.uid,
                    gid: s.gid,
                    size: s.size,
                    locked: s.locked(),
                    nattch: s.nattch,
                    shmid: s.shmid,
                };
                let mapping = match sys::sysv::shmat(s.shmid, true) {
                    Ok(m) => m,
                    Err(e) if matches!(e.raw_os_error(), Some(libc::EIDRM | libc::EINVAL)) => {
                        vanished.push(meta.address());
                        continue;
                    }
                    Err(e) => {
                        return Err(Error::io(meta.address(), "shmat", e)
                            .with_fix("run as the segment's owner or as root"))
                    }
                };
                // Nothing in swap: a page that is not resident is a hole, read as zeros without
                // touching it (reading would give the segment a page it never had).
                let mut source = SkipHoles {
                    mapping: &mapping,
                    holes_known: s.swap == Some(0),
                    residency: Vec::new(),
                };
                let sum = writer
                    .add_object(&meta, &mut source)
                    .map_err(|e| io_err("write", e))?;
                objects.push(SavedSummary {
                    meta,
                    checksum: sum,
                });
            }
            Chosen::Posix(name) => {
                let addr = format!("posix:{name}");
                let fd = match sys::posix::shm_open(name, sys::posix::OpenMode::ReadOnly, 0) {
                    Ok(fd) => fd,
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                        vanished.push(addr);
                        continue;
                    }
                    Err(e) => {
                        return Err(Error::io(addr, "shm_open", e)
                            .with_fix("run as the object's owner or as root"))
                    }
                };
                let mut f = File::from(fd);
                let md = f.metadata().map_err(|e| Error::io(&addr, "fstat", e))?;
                if !md.file_type().is_file() {
                    vanished.push(addr);
                    continue;
                }
                let meta = ObjectMeta {
                    kind: Kind::Posix,
                    key: 0,
                    name: name.clone(),
                    mode: md.mode() & 0o777,
                    uid: md.uid(),
                    gid: md.gid(),
                    size: md.len(),
                    locked: false,
                    nattch: 0,
                    shmid: -1,
                };
                let sum = writer
                    .add_object(&meta, &mut f)
                    .map_err(|e| io_err("write", e))?;
                objects.push(SavedSummary {
                    meta,
                    checksum: sum,
                });
            }
        }
    }
    let (out, stats): (_, WriteStats) = writer.finish().map_err(|e| io_err("write", e))?;
    let file = out
        .into_inner()
        .map_err(|e| io_err("write", e.into_error()))?
        .file;
    file.sync_all().map_err(|e| io_err("fsync", e))?;
    drop(file);
    std::fs::rename(&tmp_path, path).map_err(|e| io_err("rename", e))?;
    tmp.armed = false;
    // The rename is durable only once the directory entry is on disk.
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("fsync directory", e))?;
    Ok(SaveReport {
        path: path.to_path_buf(),
        objects,
        vanished,
        content_bytes: stats.content_bytes,
        stored_bytes: stats.stored_bytes,
        file_bytes: stats.file_bytes,
    })
}
