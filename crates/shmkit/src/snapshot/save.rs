//! Saving: find the selected objects, stream them into a temporary file beside the target,
//! fsync it, rename it over the target, fsync the directory.
//!
//! The rename is the only moment the target changes, and it is atomic: a crash (or `kill -9`)
//! at any earlier moment leaves the previous snapshot as it was, plus a stray temporary file
//! that the next save removes; after it, the new snapshot is complete and synced.

use super::files;
use super::format::{escape_name, validate_posix_name, ObjectMeta};
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

/// What to save and how: `SaveOptions::default()` (everything, at once), changed by its
/// builder methods.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SaveOptions {
    /// The objects to take; empty means everything (`all`).
    pub selectors: Vec<Selector>,
    /// Wait up to this long for every selected System V segment to have no attachments before
    /// copying, so the copy is consistent; fail with [`ErrorKind::Busy`] if they stay attached.
    pub wait_detached: Option<Duration>,
}

impl SaveOptions {
    /// Takes the objects these selectors choose (none: everything).
    pub fn selectors(mut self, selectors: Vec<Selector>) -> Self {
        self.selectors = selectors;
        self
    }

    /// Waits up to `wait` for the selected segments to have no attachments.
    pub fn wait_detached(mut self, wait: Option<Duration>) -> Self {
        self.wait_detached = wait;
        self
    }
}

/// An object that was saved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct SavedSummary {
    /// Its record.
    #[serde(flatten)]
    pub meta: ObjectMeta,
    /// Its checksum in the file.
    pub checksum: u64,
}

/// What a save did.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct SaveReport {
    /// The snapshot file.
    pub path: PathBuf,
    /// The objects saved, in file order.
    pub objects: Vec<SavedSummary>,
    /// Objects selected but gone before they could be copied (removed meanwhile).
    pub vanished: Vec<String>,
    /// Objects left out, each with the reason (never silently).
    pub skipped: Vec<Skipped>,
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

/// One object chosen for saving; `named` when a selector named it (a failure to read it then
/// fails the save), not when it came from `all` (it is then skipped, named in the report).
#[derive(Debug, Clone)]
enum Chosen {
    Sysv { seg: SysvShm, named: bool },
    Posix { name: Vec<u8>, named: bool },
}

/// An object a save left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Skipped {
    /// The object (`posix:/name` escaped, `sysv:KEY`).
    pub object: String,
    /// Why it was left out, and what would include it.
    pub reason: String,
}

/// Resolves selectors against this IPC namespace and `/dev/shm` (both read through `root`).
fn choose(
    root: &ProcRoot,
    selectors: &[Selector],
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<Chosen>> {
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
    let mut taken_ids = std::collections::HashSet::new();
    let mut push_sysv = |s: &SysvShm, named: bool, out: &mut Vec<Chosen>| {
        if taken_ids.insert(s.shmid) {
            out.push(Chosen::Sysv {
                seg: s.clone(),
                named,
            });
        }
    };
    let not_found = |what: String, why: &str| {
        Error::new(ErrorKind::NotFound, what, why.to_owned())
            .with_fix("list the segments of this IPC namespace with `ipcs -m` or `shmkit ls`")
    };
    let mut posix_names: Vec<(Vec<u8>, bool)> = Vec::new();
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
                push_sysv(s, true, &mut out);
            }
            Selector::SysvId(id) => {
                let s = live.iter().find(|s| s.shmid == *id).ok_or_else(|| {
                    not_found(
                        format!("sysv:id={id}"),
                        "no segment has this id in this IPC namespace",
                    )
                })?;
                push_sysv(s, true, &mut out);
            }
            Selector::SysvAll => {
                for s in live.iter().filter(|s| s.key != sys::sysv::IPC_PRIVATE) {
                    push_sysv(s, false, &mut out);
                }
            }
            Selector::SysvUser(uid) => {
                for s in live
                    .iter()
                    .filter(|s| s.key != sys::sysv::IPC_PRIVATE && s.uid == *uid)
                {
                    push_sysv(s, false, &mut out);
                }
            }
            Selector::PosixName(name) => {
                use std::os::unix::ffi::OsStrExt;
                let mut path = root.path(DEV_SHM).into_os_string();
                path.push(std::ffi::OsStr::from_bytes(name));
                let shown = escape_name(name);
                match std::fs::symlink_metadata(&path) {
                    Ok(m) if m.file_type().is_file() => posix_names.push((name.clone(), true)),
                    Ok(m) => {
                        return Err(Error::new(
                            ErrorKind::InvalidInput,
                            format!("posix:{shown}"),
                            format!(
                                "is {} in /dev/shm, not a shared memory object",
                                files::type_name(&m)
                            ),
                        )
                        .with_fix("name a POSIX shared memory object (a regular file)"))
                    }
                    Err(_) => {
                        return Err(Error::new(
                            ErrorKind::NotFound,
                            format!("posix:{shown}"),
                            "no such POSIX shared memory object",
                        )
                        .with_fix("list them with `ls /dev/shm` or `shmkit ls`"))
                    }
                }
            }
            Selector::PosixAll => {
                posix_names.extend(list_posix(root, skipped)?.into_iter().map(|n| (n, false)))
            }
        }
    }
    // A name both listed and named counts as named.
    posix_names.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    posix_names.dedup_by(|a, b| a.0 == b.0);
    out.extend(
        posix_names
            .into_iter()
            .map(|(name, named)| Chosen::Posix { name, named }),
    );
    Ok(out)
}

/// The POSIX shared memory objects in `/dev/shm`, names as bytes. Named POSIX semaphores
/// (`sem.NAME`, what `sem_open("/NAME")` creates) are shared memory objects too and are
/// included: their count survives like any content. What is left out is named in `skipped`:
/// entries that are not regular files, and shmkit's own temporary and lock files.
fn list_posix(root: &ProcRoot, skipped: &mut Vec<Skipped>) -> Result<Vec<Vec<u8>>> {
    use std::os::unix::ffi::OsStrExt;
    let dir = root.path(DEV_SHM);
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir.display().to_string(), "readdir", e)),
    };
    let mut names = Vec::new();
    for entry in rd.flatten() {
        let file = entry.file_name();
        let mut name = b"/".to_vec();
        name.extend_from_slice(file.as_bytes());
        let object = format!("posix:{}", escape_name(&name));
        if is_shmkit_file(file.as_bytes()) {
            skipped.push(Skipped {
                object,
                reason: "a temporary or lock file of shmkit itself".into(),
            });
            continue;
        }
        let Ok(ft) = entry.file_type() else { continue };
        if !ft.is_file() {
            let what = entry
                .metadata()
                .map(|m| files::type_name(&m))
                .unwrap_or("not a regular file");
            skipped.push(Skipped {
                object,
                reason: format!("is {what}, not a shared memory object"),
            });
            continue;
        }
        match validate_posix_name(&name) {
            Ok(()) => names.push(name),
            Err(why) => skipped.push(Skipped {
                object,
                reason: why,
            }),
        }
    }
    Ok(names)
}

/// shmkit's own files that may sit in `/dev/shm`: restore's temporary objects, and a snapshot's
/// temporary and lock files when the snapshot itself is kept there.
fn is_shmkit_file(file: &[u8]) -> bool {
    let contains = |needle: &[u8]| file.windows(needle.len()).any(|w| w == needle);
    file.starts_with(TEMP_PREFIX.as_bytes())
        || (file.starts_with(b".")
            && (contains(files::TEMP_INFIX.as_bytes())
                || file.ends_with(files::LOCK_SUFFIX.as_bytes())
                || file.ends_with(files::JOURNAL_SUFFIX.as_bytes())))
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
                Chosen::Sysv { seg, .. } => segments.iter().find(|x| x.shmid == seg.shmid),
                Chosen::Posix { .. } => None,
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

/// Removes the temporary files of savers killed before their rename. Called with the lock
/// held: every live saver of this snapshot holds it while its temporary file exists, so any
/// temporary file seen now is a dead saver's, whatever pid namespace it ran in.
fn remove_stale_temps(dir: &Path, prefix: &[u8]) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in rd.flatten() {
        if entry.file_name().as_bytes().starts_with(prefix)
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The page size backing the mapping that starts at `addr` in this process (`KernelPageSize`
/// in `/proc/self/smaps`): 2 MiB or 1 GiB for a `SHM_HUGETLB` segment.
///
/// Neither `/proc/sysvipc/shm` nor `IPC_STAT` tells a huge-page segment apart, and `mincore`
/// on one reports the saver's empty page tables, so a save that trusted it stored zeros.
pub(crate) fn kernel_page_size(root: &ProcRoot, addr: u64) -> Option<u64> {
    let text = std::fs::read_to_string(root.path("/proc/self/smaps")).ok()?;
    let mut in_vma = false;
    for line in text.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(start), Ok(_)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) {
                in_vma = start == addr;
                continue;
            }
        }
        if in_vma {
            if let Some(rest) = line.strip_prefix("KernelPageSize:") {
                let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
                return Some(kb * 1024);
            }
        }
    }
    None
}

/// Saves the selected objects to `path`, atomically.
///
/// Writers of one snapshot serialise on a lock file beside it (`.<FILE>.shmkit-lock`); the
/// temporary file has a random name, so savers in different pid namespaces never share one.
/// `path` must be a regular file or not exist: a device, FIFO, socket, directory or symbolic
/// link is refused and left alone.
pub fn save(root: &ProcRoot, path: &Path, opts: &SaveOptions) -> Result<SaveReport> {
    use std::os::unix::ffi::OsStrExt;
    let shown = path.display().to_string();
    files::check_target(path, &shown)?;
    let (dir, file_name) = files::split(path, &shown)?;
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
    let lock = files::SnapshotLock::take(&dir, &file_name, &shown)?;
    let prefix = files::beside(&dir, &file_name, files::TEMP_INFIX);
    let prefix_bytes = prefix
        .file_name()
        .map(|n| n.as_bytes().to_vec())
        .unwrap_or_default();
    remove_stale_temps(&dir, &prefix_bytes);
    let mut tmp_name = prefix.into_os_string();
    tmp_name.push(format!("{:016x}", files::random_u64()));
    let tmp_path = PathBuf::from(tmp_name);
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
    // The snapshot's own files, wherever they are: kept in /dev/shm, the snapshot must not
    // save itself (it would double at every save).
    let mut own: Vec<(u64, u64)> = Vec::new();
    for p in [path.to_path_buf(), tmp_path.clone()] {
        if let Ok(md) = std::fs::symlink_metadata(&p) {
            own.push((md.dev(), md.ino()));
        }
    }
    let mut skipped = Vec::new();
    let mut chosen = choose(root, &opts.selectors, &mut skipped)?;
    if let Some(t) = opts.wait_detached {
        wait_detached(root, &chosen, t)?;
        // Read the segments again: their attachment counts (and the records) are what the
        // snapshot must state, and they changed while we waited.
        skipped.clear();
        chosen = choose(root, &opts.selectors, &mut skipped)?;
    }
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
    let euid = sys::geteuid();
    for c in &chosen {
        match c {
            Chosen::Sysv { seg: s, named } => {
                let mut meta = ObjectMeta {
                    kind: Kind::Sysv,
                    key: s.key,
                    name: Vec::new(),
                    mode: s.mode(),
                    uid: s.uid,
                    gid: s.gid,
                    size: s.size,
                    locked: s.locked(),
                    hugetlb: false,
                    nattch: s.nattch,
                    shmid: s.shmid,
                };
                let mapping = match sys::sysv::shmat(s.shmid, true) {
                    Ok(m) => m,
                    Err(e) if matches!(e.raw_os_error(), Some(libc::EIDRM | libc::EINVAL)) => {
                        vanished.push(meta.address());
                        continue;
                    }
                    Err(e) if !named && e.raw_os_error() == Some(libc::EACCES) => {
                        skipped.push(Skipped {
                            object: meta.address(),
                            reason: format!(
                                "not readable by uid {euid} (owner uid {}, mode {:04o}); run as its owner or as root to include it",
                                s.uid,
                                s.mode()
                            ),
                        });
                        continue;
                    }
                    Err(e) => {
                        return Err(Error::io(meta.address(), "shmat", e)
                            .with_fix("run as the segment's owner or as root"))
                    }
                };
                let page = kernel_page_size(root, mapping.as_ptr() as u64);
                meta.hugetlb = page.is_some_and(|p| p > sys::page_size());
                let sum = if meta.hugetlb {
                    // Read every page for real: mincore cannot see a huge-page segment's pages.
                    let mut source = mapping;
                    writer.add_object(&meta, &mut source)
                } else {
                    // Nothing in swap: a page that is not resident is a hole, read as zeros
                    // without touching it (reading would give the segment a page it never had).
                    let mut source = SkipHoles {
                        mapping: &mapping,
                        holes_known: s.swap == Some(0),
                        residency: Vec::new(),
                    };
                    writer.add_object(&meta, &mut source)
                }
                .map_err(|e| io_err("write", e))?;
                objects.push(SavedSummary {
                    meta,
                    checksum: sum,
                });
            }
            Chosen::Posix { name, named } => {
                let addr = format!("posix:{}", escape_name(name));
                let mut p = root.path(DEV_SHM).into_os_string();
                p.push(std::ffi::OsStr::from_bytes(name));
                // O_NONBLOCK: a FIFO swapped in under the name cannot block the open; the type
                // is checked on the descriptor, so a swap after the listing changes nothing.
                let opened = OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .open(PathBuf::from(p));
                let mut f = match opened {
                    Ok(f) => f,
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                        vanished.push(addr);
                        continue;
                    }
                    Err(e) if files::open_failure(&e).is_some() => {
                        let what = files::open_failure(&e).unwrap_or("not a regular file");
                        if *named {
                            return Err(Error::new(
                                ErrorKind::InvalidInput,
                                addr,
                                format!("is {what}, not a shared memory object"),
                            )
                            .with_fix("name a POSIX shared memory object (a regular file)"));
                        }
                        skipped.push(Skipped {
                            object: addr,
                            reason: format!("is {what}, not a shared memory object"),
                        });
                        continue;
                    }
                    Err(e) if !named && e.raw_os_error() == Some(libc::EACCES) => {
                        skipped.push(Skipped {
                            object: addr,
                            reason: format!(
                                "not readable by uid {euid}; run as its owner or as root to include it"
                            ),
                        });
                        continue;
                    }
                    Err(e) => {
                        return Err(Error::io(addr, "open", e)
                            .with_fix("run as the object's owner or as root"))
                    }
                };
                let md = f.metadata().map_err(|e| Error::io(&addr, "fstat", e))?;
                if !md.file_type().is_file() {
                    let why = format!("is {}, not a shared memory object", files::type_name(&md));
                    if *named {
                        return Err(Error::new(ErrorKind::InvalidInput, addr, why)
                            .with_fix("name a POSIX shared memory object (a regular file)"));
                    }
                    skipped.push(Skipped {
                        object: addr,
                        reason: why,
                    });
                    continue;
                }
                if own.contains(&(md.dev(), md.ino())) {
                    skipped.push(Skipped {
                        object: addr,
                        reason: "is this snapshot file itself".into(),
                    });
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
                    hugetlb: false,
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
    let finished = writer.finish().map_err(|e| io_err("write", e))?;
    let (out, stats): (_, WriteStats) = (finished.output, finished.stats);
    let file = out
        .into_inner()
        .map_err(|e| io_err("write", e.into_error()))?
        .file;
    file.sync_all().map_err(|e| io_err("fsync", e))?;
    drop(file);
    // Checked again just before the rename: a FIFO or device put there meanwhile stays.
    files::check_target(path, &shown)?;
    std::fs::rename(&tmp_path, path).map_err(|e| io_err("rename", e))?;
    tmp.armed = false;
    // The rename is durable only once the directory entry is on disk.
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("fsync directory", e))?;
    drop(lock);
    Ok(SaveReport {
        path: path.to_path_buf(),
        objects,
        vanished,
        skipped,
        content_bytes: stats.content_bytes,
        stored_bytes: stats.stored_bytes,
        file_bytes: stats.file_bytes,
    })
}
