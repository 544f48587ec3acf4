//! Restoring: verify the whole file, check conflicts, permissions and every limit, then
//! recreate every object, all or nothing, also with `--replace`, when interrupted and after
//! `kill -9`.
//!
//! Order of work, and why:
//! 1. The whole file is read and checked (checksums, duplicates, sizes) before anything is
//!    created, by the same reader `verify` uses, so both refuse exactly the same files.
//! 2. An unfinished restore of this snapshot (a journal left beside it) is recognised: the
//!    objects it finished are kept, the ones it left incomplete are removed.
//! 3. Every key and name is checked in one pass over `/proc/sysvipc/shm` and one `lstat` per
//!    name (linear in the number of objects): a conflict without `--replace`, an object the
//!    caller may not replace, a size above `kernel.shmmax`, more segments than `shmmni`, more
//!    pages than `shmall`, more huge pages than are free, more data than `/dev/shm` has room
//!    for: each stops the restore here, having created nothing. `--dry-run` stops here too,
//!    so it predicts the real run.
//! 4. The file is streamed a second time (its checksums checked again) into new objects that
//!    nobody can use yet: System V segments under their key with mode 0000 (the marker of an
//!    incomplete segment) until filled; POSIX objects under hidden names
//!    (`.shmkit-restore.TAG.N`), sparse (only data runs are written); replacements for
//!    existing segments (`--replace`) as private segments. A journal records each step before
//!    it happens.
//! 5. The commit: POSIX objects are linked (or renamed over, the old one kept under a hidden
//!    name until the end) to their names; each replaced segment is swapped: the old one is
//!    removed (`IPC_RMID`, while this process stays attached to it so its content survives),
//!    the new one created under the key and filled from the private replacement.
//!
//! Any failure before the commit removes everything made. A failure during the commit undoes
//! it: renamed POSIX objects get their old object back, swapped segments are recreated from
//! the old content still attached. SIGINT, SIGTERM and SIGHUP are deferred: before the commit
//! they roll everything back, during the commit (short, no I/O on the snapshot) it finishes.
//!
//! What remains: a System V key cannot be held by two segments, so during the swap of one
//! replaced segment (microseconds to a copy of its size) the key has no segment or an
//! incomplete one (mode 0000); a `kill -9` right then loses the old content, and the next
//! restore creates the new one. Processes attached to a replaced segment keep the old memory.

use super::files;
use super::format::ObjectMeta;
use super::journal::{self, JournalHeader, JournalWriter, Leftover};
use super::reader::{read_all, verify, ContentSink, ReadError, Verified};
use super::save::{DEV_SHM, TEMP_PREFIX};
use crate::error::{Error, ErrorKind, Result};
use crate::procfs::{ProcRoot, SysvShm};
use crate::scan::Kind;
use crate::sys;
use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How to restore: `RestoreOptions::default()` (create, refuse what exists), changed by its
/// builder methods.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct RestoreOptions {
    /// Replace objects that already exist with the same key or name.
    pub replace: bool,
    /// Check everything, create nothing.
    pub dry_run: bool,
}

impl RestoreOptions {
    /// Replaces objects that already exist with the same key or name.
    pub fn replace(mut self, replace: bool) -> Self {
        self.replace = replace;
        self
    }

    /// Checks everything and creates nothing.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }
}

/// What happened (or would happen) to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Action {
    /// Created; nothing had its key or name.
    Created,
    /// Created in place of an existing object (`--replace`).
    Replaced,
    /// Already restored completely by an earlier restore of this snapshot that was killed;
    /// kept as it is.
    Completed,
    /// `--dry-run`: would be created.
    WouldCreate,
    /// `--dry-run`: would replace an existing object.
    WouldReplace,
    /// `--dry-run`: already restored by an earlier, unfinished restore; would be kept.
    WouldKeep,
    /// `--dry-run` without `--replace`: an object has its key or name, so the restore would
    /// create nothing ([`RestoreReport::conflict`] says so).
    WouldConflict,
}

/// One restored object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Restored {
    /// Its record from the snapshot.
    #[serde(flatten)]
    pub meta: ObjectMeta,
    /// What was done.
    pub action: Action,
    /// The new segment id (System V, not for `--dry-run`).
    pub new_shmid: Option<i32>,
    /// The owner it has now (the saved one, unless only root could set that; `--dry-run`:
    /// the one it would get).
    pub set_uid: u32,
    /// The group it has now.
    pub set_gid: u32,
}

/// What a restore did.
#[derive(Debug, serde::Serialize)]
#[non_exhaustive]
pub struct RestoreReport {
    /// The snapshot file.
    pub path: PathBuf,
    /// When it was taken (unix seconds).
    pub created: i64,
    /// Every object, in file order.
    pub objects: Vec<Restored>,
    /// What was found of an earlier restore that did not finish, and what was done with it.
    pub recovered: Vec<String>,
    /// A signal that arrived during the commit: the restore finished first. The caller may
    /// now act on it (the command exits 128 + signal).
    pub deferred_signal: Option<i32>,
    /// `--dry-run` without `--replace`: why the restore would create nothing (objects that
    /// exist, each [`Action::WouldConflict`]); a restore that is not a dry run returns it as
    /// its error instead.
    #[serde(skip)]
    pub conflict: Option<Error>,
}

/// Turns a reader failure into the command's error.
fn read_error(path: &Path, e: ReadError) -> Error {
    let shown = path.display().to_string();
    match e {
        ReadError::Corrupt(fe) => Error::new(
            ErrorKind::Corrupt,
            shown,
            format!("not a valid snapshot: {fe}"),
        )
        .with_fix("the file is damaged or truncated: use another copy, or take a new snapshot"),
        ReadError::Io(io) => Error::io(shown, "read", io).with_fix("check the disk and the file"),
        ReadError::Sink(err) => err,
    }
}

/// Reads the whole snapshot at `path` and checks it exactly as `restore` does before creating
/// anything (checksums, limits of the format, duplicate keys and names, size-0 segments).
pub fn verify_file(path: &Path) -> Result<Verified> {
    let shown = path.display().to_string();
    let (f, md) = files::open_regular_read(path, &shown)?;
    verify(BufReader::with_capacity(64 << 10, f), md.len()).map_err(|e| read_error(path, e))
}

fn posix_path(name: &[u8]) -> PathBuf {
    let mut p = std::ffi::OsString::from(DEV_SHM);
    p.push(std::ffi::OsStr::from_bytes(name));
    PathBuf::from(p)
}

/// What the restore does with one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Nothing has its key or name.
    Create,
    /// Replace the existing segment (key) or object (name).
    Replace,
    /// An unfinished restore of this snapshot completed it: keep it (its id, for segments).
    Keep(Option<i32>),
}

/// Where the restore's lock and journal live: beside the snapshot, or in /dev/shm when the
/// snapshot's directory cannot be written (a read-only volume).
fn state_paths(path: &Path, shown: &str) -> Result<(PathBuf, PathBuf)> {
    let (dir, name) = files::split(path, shown)?;
    let lock = files::beside(&dir, &name, files::LOCK_SUFFIX);
    let writable = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&lock);
    match writable {
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EROFS | libc::EACCES | libc::EPERM)
            ) =>
        {
            let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            let hash = xxhash_rust::xxh3::xxh3_64(canonical.as_os_str().as_bytes());
            let base = format!("{DEV_SHM}/{TEMP_PREFIX}state-{hash:016x}");
            Ok((
                PathBuf::from(format!("{base}{}", files::LOCK_SUFFIX)),
                PathBuf::from(format!("{base}{}", files::JOURNAL_SUFFIX)),
            ))
        }
        _ => Ok((lock, files::beside(&dir, &name, files::JOURNAL_SUFFIX))),
    }
}

/// The inode of this process's IPC namespace and the device of /dev/shm: where the objects a
/// journal describes live.
fn namespace_ids() -> (u64, u64) {
    let ipc = std::fs::metadata("/proc/self/ns/ipc").map_or(0, |m| m.ino());
    let shm = std::fs::metadata(DEV_SHM).map_or(0, |m| m.dev());
    (ipc, shm)
}

/// Whether a segment carries the marks of one this user's restore left incomplete: mode 0000,
/// created by this user, nobody attached.
fn incomplete_mark(st: &sys::sysv::SegmentStat, euid: u32) -> bool {
    st.mode & 0o777 == 0 && st.cuid == euid
}

/// Cleans up after an unfinished restore (its journal), keeping what it completed of this same
/// snapshot. Returns the objects to keep (by index) and notes for the report. With `act` off
/// (a dry run), only looks.
fn recover(
    leftover: &Leftover,
    verified: &Verified,
    segments: &[SysvShm],
    act: bool,
) -> (HashMap<usize, Option<i32>>, Vec<String>) {
    let mut keep = HashMap::new();
    let mut notes = Vec::new();
    let Some(h) = &leftover.header else {
        return (keep, notes);
    };
    let euid = sys::geteuid();
    let (ipc_ns, dev_shm) = namespace_ids();
    let same_snapshot =
        h.checksum == verified.footer.checksum && h.created == verified.header.created;
    let verb = if act { "removed" } else { "would remove" };
    if h.ipc_ns == ipc_ns {
        let mut removed = 0;
        let mut remove_if_incomplete = |id: i32| {
            if let Ok(st) = sys::sysv::stat(id) {
                let attached = segments.iter().any(|s| s.shmid == id && s.nattch > 0);
                if incomplete_mark(&st, euid) && !attached {
                    if act {
                        let _ = sys::sysv::remove(id);
                    }
                    removed += 1;
                }
            }
        };
        // A private replacement is never a finished object: the swap copies it and removes it.
        for id in leftover.private.values() {
            remove_if_incomplete(*id);
        }
        for (i, key) in &leftover.begun {
            let done = leftover.done.contains(i);
            match leftover.made.get(i) {
                Some(&id) if done => {
                    let meta = verified.objects.get(*i).map(|o| &o.meta);
                    let still = sys::sysv::stat(id).ok().zip(meta).is_some_and(|(st, m)| {
                        m.kind == Kind::Sysv && st.key == m.key && st.size == m.size
                    });
                    if still && same_snapshot {
                        keep.insert(*i, Some(id));
                    }
                }
                Some(&id) => remove_if_incomplete(id),
                None if *key != sys::sysv::IPC_PRIVATE => {
                    if let Ok(id) = sys::sysv::shmget(*key, 0, sys::sysv::GetFlags::default(), 0) {
                        remove_if_incomplete(id);
                    }
                }
                None => {
                    // A private segment whose id was not journaled yet: its creator pid tells.
                    for s in segments.iter().filter(|s| {
                        s.key == sys::sysv::IPC_PRIVATE && s.cpid == h.pid && s.nattch == 0
                    }) {
                        remove_if_incomplete(s.shmid);
                    }
                }
            }
        }
        if removed > 0 {
            notes.push(format!(
                "{verb} {removed} incomplete segment(s) of an earlier restore that did not finish"
            ));
        }
    }
    if h.dev_shm == dev_shm {
        let prefix = format!("{TEMP_PREFIX}{}.", h.tag);
        let mut removed = 0;
        if let Ok(rd) = std::fs::read_dir(DEV_SHM) {
            for e in rd.flatten() {
                let file = e.file_name();
                let Some(rest) = file.as_bytes().strip_prefix(prefix.as_bytes()) else {
                    continue;
                };
                // Killed between linking a finished object to its name and unlinking its
                // temporary name: both are one inode, and the object is complete.
                let index = std::str::from_utf8(rest)
                    .ok()
                    .and_then(|r| r.parse::<usize>().ok());
                if let (true, Some(i)) = (same_snapshot, index) {
                    if let Some(o) = verified
                        .objects
                        .get(i)
                        .filter(|o| o.meta.kind == Kind::Posix)
                    {
                        let linked = std::fs::symlink_metadata(posix_path(&o.meta.name))
                            .ok()
                            .zip(e.metadata().ok())
                            .is_some_and(|(a, b)| a.ino() == b.ino() && a.dev() == b.dev());
                        if linked {
                            keep.insert(i, None);
                        }
                    }
                }
                if act {
                    let _ = std::fs::remove_file(e.path());
                }
                removed += 1;
            }
        }
        if removed > 0 {
            notes.push(format!(
                "{verb} {removed} temporary object(s) of an earlier restore from /dev/shm"
            ));
        }
        if same_snapshot {
            for i in &leftover.done {
                let Some(o) = verified.objects.get(*i) else {
                    continue;
                };
                if o.meta.kind == Kind::Posix {
                    let ok = std::fs::symlink_metadata(posix_path(&o.meta.name))
                        .is_ok_and(|m| m.file_type().is_file() && m.len() == o.meta.size);
                    if ok {
                        keep.insert(*i, None);
                    }
                }
            }
        }
    }
    if !keep.is_empty() {
        notes.push(format!(
            "{} object(s) completed by an earlier restore of this snapshot are kept",
            keep.len()
        ));
    }
    (keep, notes)
}

/// The lock a live restore holds while its temporary objects exist: the file
/// `.shmkit-restore.TAG.lock` in /dev/shm, locked before it gets its name (`O_TMPFILE`, then
/// `linkat`), so whoever sees it unlocked knows its restorer is gone.
fn tag_lock(tag: &str) -> Option<File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE | libc::O_CLOEXEC)
        .open(DEV_SHM)
        .ok()?;
    if !sys::flock_exclusive(std::os::fd::AsFd::as_fd(&f), false).unwrap_or(false) {
        return None;
    }
    let name = PathBuf::from(format!("{DEV_SHM}/{TEMP_PREFIX}{tag}.lock"));
    sys::link_open_file(std::os::fd::AsFd::as_fd(&f), &name).ok()?;
    Some(f)
}

/// Unlinks the lock of a restore that finished, then releases it.
fn drop_tag_lock(lock: Option<File>, tag: &str) {
    if lock.is_some() {
        let _ = std::fs::remove_file(format!("{DEV_SHM}/{TEMP_PREFIX}{tag}.lock"));
    }
}

/// Removes the temporary objects of restores that are gone (killed, or of an older shmkit),
/// whatever snapshot they restored: a tag whose lock file is unlocked, or, without a lock
/// file, whose objects are all older than a minute.
fn remove_stale_temps(act: bool) -> usize {
    let Ok(rd) = std::fs::read_dir(DEV_SHM) else {
        return 0;
    };
    let mut by_tag: HashMap<Vec<u8>, Vec<PathBuf>> = HashMap::new();
    for e in rd.flatten() {
        let file = e.file_name();
        let Some(rest) = file.as_bytes().strip_prefix(TEMP_PREFIX.as_bytes()) else {
            continue;
        };
        // The lock and journal of restores from read-only directories are not temporary.
        if rest.starts_with(b"state-") {
            continue;
        }
        let tag = rest.split(|&b| b == b'.').next().unwrap_or(rest).to_vec();
        by_tag.entry(tag).or_default().push(e.path());
    }
    let mut removed = 0;
    for (tag, paths) in by_tag {
        let mut lock = PathBuf::from(format!("{DEV_SHM}/{TEMP_PREFIX}"));
        lock.as_mut_os_string()
            .push(std::ffi::OsStr::from_bytes(&tag));
        lock.as_mut_os_string().push(".lock");
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&lock)
            .ok()
            .filter(|f| f.metadata().is_ok_and(|m| m.file_type().is_file()));
        let live = match opened {
            Some(f) => !sys::flock_exclusive(std::os::fd::AsFd::as_fd(&f), false).unwrap_or(true),
            // No lock: an older shmkit's restore (`.shmkit-restore.PID.N`), which may still be
            // running; its objects are stale once none has changed for a minute.
            None => paths.iter().any(|p| {
                std::fs::symlink_metadata(p)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_none_or(|age| age < std::time::Duration::from_secs(60))
            }),
        };
        if live {
            continue;
        }
        for p in paths {
            if act {
                let _ = std::fs::remove_file(&p);
            }
            if p != lock {
                removed += 1;
            }
        }
    }
    removed
}

/// Limits and free space, read once.
struct Room {
    shmmax: Option<u64>,
    shmall_pages: Option<u64>,
    shmmni: Option<u64>,
    used_segments: u64,
    used_pages: u64,
    huge_free: Option<u64>,
    huge_page: u64,
    shm_free: Option<u64>,
    shm_inodes: Option<u64>,
}

fn room(root: &ProcRoot, segments: &[SysvShm]) -> Room {
    let page = sys::page_size();
    let limits = root.shm_limits().ok();
    let mem = root.meminfo().ok();
    let huge_free = mem.as_ref().and_then(|m| {
        let free = m.get("HugePages_Free")?;
        Some(free.saturating_sub(m.get("HugePages_Rsvd").unwrap_or(0)))
    });
    let huge_page = mem
        .as_ref()
        .and_then(|m| m.get("Hugepagesize"))
        .unwrap_or(2 << 20);
    let fs = sys::statvfs(Path::new(DEV_SHM)).ok();
    Room {
        shmmax: limits.as_ref().and_then(|l| l.shmmax),
        shmall_pages: limits.as_ref().and_then(|l| l.shmall),
        shmmni: limits.as_ref().and_then(|l| l.shmmni),
        used_segments: segments.len() as u64,
        used_pages: segments.iter().map(|s| s.size.div_ceil(page)).sum(),
        huge_free,
        huge_page,
        shm_free: fs.as_ref().map(|f| f.available),
        // A tmpfs without an inode limit reports 0 inodes of 0.
        shm_inodes: fs.as_ref().filter(|f| f.inodes > 0).map(|f| f.inodes_free),
    }
}

/// Checks that everything the plan creates fits, before anything is created.
fn check_room(room: &Room, verified: &Verified, plan: &[Plan]) -> Result<()> {
    let page = sys::page_size();
    let (mut segs, mut pages, mut huge, mut posix_bytes, mut posix_count) = (0u64, 0u64, 0, 0, 0);
    let mut largest_replaced = 0u64;
    for (o, p) in verified.objects.iter().zip(plan) {
        if matches!(p, Plan::Keep(_)) {
            continue;
        }
        let m = &o.meta;
        match m.kind {
            Kind::Sysv => {
                if let Some(max) = room.shmmax {
                    if m.size > max {
                        return Err(Error::new(
                            ErrorKind::LimitExceeded,
                            m.address(),
                            format!(
                                "its {} bytes are more than kernel.shmmax ({max}), so the restore created nothing",
                                m.size
                            ),
                        )
                        .with_fix(format!("raise the limit: sysctl -w kernel.shmmax={}", m.size)));
                    }
                }
                segs += 1;
                pages += m.size.div_ceil(page);
                if m.hugetlb {
                    huge += m.size.div_ceil(room.huge_page);
                }
                if *p == Plan::Replace {
                    // The private replacement exists beside the old segment until the swap.
                    largest_replaced = largest_replaced.max(m.size.div_ceil(page));
                }
            }
            _ => {
                posix_count += 1;
                // Only data is written: zero runs stay holes.
                posix_bytes += o.stored_bytes.div_ceil(page) * page;
            }
        }
    }
    // During one swap its new keyed segment joins the old one and the private replacement.
    let swap_extra = u64::from(largest_replaced > 0);
    if let Some(mni) = room.shmmni {
        let need = room.used_segments + segs + swap_extra;
        if need > mni {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                "kernel.shmmni",
                format!(
                    "the restore needs {need} segments in this IPC namespace ({} exist), more than the limit of {mni}; it created nothing",
                    room.used_segments
                ),
            )
            .with_fix(format!("raise the limit: sysctl -w kernel.shmmni={need}")));
        }
    }
    if let Some(all) = room.shmall_pages {
        let need = room.used_pages + pages + largest_replaced;
        if need > all {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                "kernel.shmall",
                format!(
                    "the restore needs {need} pages of System V memory ({} in use), more than the limit of {all}; it created nothing",
                    room.used_pages
                ),
            )
            .with_fix(format!("raise the limit (in pages): sysctl -w kernel.shmall={need}")));
        }
    }
    if huge > 0 {
        let free = room.huge_free.unwrap_or(0);
        if huge > free {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                "vm.nr_hugepages",
                format!(
                    "the snapshot's huge-page segments need {huge} free huge pages of {} KiB, {free} are free; the restore created nothing",
                    room.huge_page / 1024
                ),
            )
            .with_fix("reserve more: sysctl -w vm.nr_hugepages=N (the current count plus the missing pages)"));
        }
    }
    if let Some(free) = room.shm_free {
        if posix_bytes > free {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                DEV_SHM,
                format!(
                    "the snapshot's POSIX objects hold {posix_bytes} bytes of data, /dev/shm has {free} free; the restore created nothing"
                ),
            )
            .with_fix("free space in /dev/shm or enlarge it (mount -o remount,size=..., docker --shm-size)"));
        }
    }
    if let Some(inodes) = room.shm_inodes {
        if posix_count > inodes {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                DEV_SHM,
                format!("the restore needs {posix_count} files, /dev/shm has {inodes} free inodes; it created nothing"),
            )
            .with_fix("remove files from /dev/shm or remount it with more inodes (nr_inodes=)"));
        }
    }
    Ok(())
}

/// Restores every object in the snapshot at `path`, all or nothing.
pub fn restore(path: &Path, opts: &RestoreOptions) -> Result<RestoreReport> {
    let shown = path.display().to_string();
    let root = ProcRoot::live();
    // Both passes read this one open file: a save that renames a new snapshot over the path
    // meanwhile cannot make the second pass read another file than the first verified.
    let (mut f, md) = files::open_regular_read(path, &shown)?;
    let len = md.len();
    let signals = sys::signal::DeferSignals::install()
        .map_err(|e| Error::io(&shown, "sigaction", e).with_fix("report this as a bug"))?;
    let verified =
        verify(BufReader::with_capacity(64 << 10, &f), len).map_err(|e| read_error(path, e))?;
    if let Some(sig) = signals.pending() {
        return Err(interrupted(sig));
    }
    let (lock_path, journal_path) = state_paths(path, &shown)?;
    // One restore (or save) of a snapshot at a time: a journal belongs to one restorer.
    let _lock = if opts.dry_run {
        None
    } else {
        Some(files::SnapshotLock::at(&lock_path, &shown)?)
    };
    let segments = root.sysvipc_shm().map_err(|e| {
        Error::new(ErrorKind::Other, "/proc/sysvipc/shm", e.to_string())
            .with_fix("run shmkit where /proc is mounted")
    })?;
    let (keep, mut recovered) = match journal::read(&journal_path) {
        Some(leftover) => recover(&leftover, &verified, &segments, !opts.dry_run),
        None => (HashMap::new(), Vec::new()),
    };
    let stale = remove_stale_temps(!opts.dry_run);
    if stale > 0 {
        recovered.push(format!(
            "{} {stale} temporary object(s) of other restores that did not finish from /dev/shm",
            if opts.dry_run {
                "would remove"
            } else {
                "removed"
            }
        ));
    }
    // Read again if the recovery removed segments.
    let segments = if recovered.is_empty() || opts.dry_run {
        segments
    } else {
        root.sysvipc_shm().unwrap_or(segments)
    };
    let by_key: HashMap<i32, &SysvShm> = segments
        .iter()
        .filter(|s| s.key != sys::sysv::IPC_PRIVATE && !s.marked_for_destruction())
        .map(|s| (s.key, s))
        .collect();
    let euid = sys::geteuid();
    let mut plan = Vec::with_capacity(verified.objects.len());
    let mut conflicts = Vec::new();
    for (i, o) in verified.objects.iter().enumerate() {
        if let Some(id) = keep.get(&i) {
            plan.push(Plan::Keep(*id));
            continue;
        }
        let m = &o.meta;
        let exists = match m.kind {
            Kind::Sysv if m.key == sys::sysv::IPC_PRIVATE => false,
            Kind::Sysv => match by_key.get(&m.key) {
                Some(s) => {
                    if opts.replace && euid != 0 && euid != s.uid && euid != s.cuid {
                        return Err(Error::new(
                            ErrorKind::PermissionDenied,
                            m.address(),
                            format!(
                                "exists, owned by uid {} (created by uid {}), and only they or root may replace it; the restore created nothing",
                                s.uid, s.cuid
                            ),
                        )
                        .with_fix("restore as root, or leave this object out of the snapshot"));
                    }
                    true
                }
                None => false,
            },
            _ => match std::fs::symlink_metadata(posix_path(&m.name)) {
                Ok(md) if !md.file_type().is_file() => {
                    return Err(Error::new(
                        ErrorKind::AlreadyExists,
                        m.address(),
                        format!(
                            "is taken by {} in /dev/shm, which a restore never replaces; it created nothing",
                            files::type_name(&md)
                        ),
                    )
                    .with_fix("move it away from /dev/shm, then restore again"));
                }
                Ok(md) => {
                    // /dev/shm is sticky: only the file's owner, the directory's or root may
                    // rename over it.
                    let dir_owner = std::fs::metadata(DEV_SHM).map_or(0, |d| d.uid());
                    if opts.replace && euid != 0 && euid != md.uid() && euid != dir_owner {
                        return Err(Error::new(
                            ErrorKind::PermissionDenied,
                            m.address(),
                            format!(
                                "exists, owned by uid {}, and /dev/shm lets only its owner or root replace it; the restore created nothing",
                                md.uid()
                            ),
                        )
                        .with_fix("restore as root, or leave this object out of the snapshot"));
                    }
                    true
                }
                Err(_) => false,
            },
        };
        if exists {
            conflicts.push(i);
        }
        plan.push(if exists { Plan::Replace } else { Plan::Create });
    }
    let mut conflict = None;
    if !conflicts.is_empty() && !opts.replace {
        let more = match conflicts.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        let error = Error::new(
            ErrorKind::AlreadyExists,
            format!("{}{more}", verified.objects[conflicts[0]].meta.address()),
            "already exists, so the restore created nothing",
        )
        .with_fix("remove it (`ipcrm`, `shmkit rm`) or restore with --replace");
        if !opts.dry_run {
            return Err(error);
        }
        // A dry run shows every object, each conflict among them, and says why.
        conflict = Some(error);
    }
    check_room(&room(&root, &segments), &verified, &plan)?;
    let egid = sys::getegid();
    let mut objects: Vec<Restored> = verified
        .objects
        .iter()
        .zip(&plan)
        .map(|(o, p)| {
            // What a non-root restore can set: a segment may be given away (IPC_SET by its
            // creator), a file may not (chown needs CAP_CHOWN).
            let (set_uid, set_gid) = if euid == 0 || o.meta.kind == Kind::Sysv {
                (o.meta.uid, o.meta.gid)
            } else {
                (euid, egid)
            };
            Restored {
                meta: o.meta.clone(),
                action: match (opts.dry_run, p) {
                    (true, Plan::Replace) if conflict.is_some() => Action::WouldConflict,
                    (true, Plan::Create) => Action::WouldCreate,
                    (true, Plan::Replace) => Action::WouldReplace,
                    (true, Plan::Keep(_)) => Action::WouldKeep,
                    (false, Plan::Create) => Action::Created,
                    (false, Plan::Replace) => Action::Replaced,
                    (false, Plan::Keep(_)) => Action::Completed,
                },
                new_shmid: match p {
                    Plan::Keep(id) => *id,
                    _ => None,
                },
                set_uid,
                set_gid,
            }
        })
        .collect();
    if opts.dry_run {
        return Ok(RestoreReport {
            path: path.to_path_buf(),
            created: verified.header.created,
            objects,
            recovered,
            deferred_signal: None,
            conflict,
        });
    }
    let (ipc_ns, dev_shm) = namespace_ids();
    let tag = format!("{:016x}", files::random_u64());
    // Held until the restore ends: its temporary objects are not stale while it runs.
    let tag_lock = tag_lock(&tag);
    let header = JournalHeader {
        checksum: verified.footer.checksum,
        created: verified.header.created,
        ipc_ns,
        dev_shm,
        pid: std::process::id(),
        tag: tag.clone(),
    };
    let journal = JournalWriter::create(&journal_path, &header).map_err(|e| {
        Error::io(
            journal_path.display().to_string(),
            "create restore journal",
            e,
        )
        .with_fix("restore from a directory you may write, or free space there")
    })?;
    std::io::Seek::rewind(&mut f).map_err(|e| Error::io(&shown, "lseek", e))?;
    let mut sink = RestoreSink {
        plan,
        index: 0,
        made: Vec::new(),
        current: None,
        current_addr: String::new(),
        tag,
        stored: verified.objects.iter().map(|o| o.stored_bytes).collect(),
        journal,
        signals: &signals,
        undo: Vec::new(),
        backups: Vec::new(),
    };
    let filled = read_all(BufReader::with_capacity(64 << 10, f), len, &mut sink)
        .map_err(|e| read_error(path, e));
    let result = filled.and_then(|_| sink.commit(&verified));
    if let Err(e) = result {
        sink.rollback();
        let RestoreSink { journal, .. } = sink;
        journal.remove();
        drop_tag_lock(tag_lock, &header.tag);
        return Err(e);
    }
    for m in &sink.made {
        if let Made::Sysv { index, id } = m {
            objects[*index].new_shmid = Some(*id);
        }
    }
    for (r, o) in objects.iter_mut().zip(&verified.objects) {
        if let Some(id) = r.new_shmid.filter(|_| o.meta.kind == Kind::Sysv) {
            if let Ok(st) = sys::sysv::stat(id) {
                (r.set_uid, r.set_gid) = (st.uid, st.gid);
            }
        } else if o.meta.kind == Kind::Posix {
            if let Ok(md) = std::fs::symlink_metadata(posix_path(&o.meta.name)) {
                (r.set_uid, r.set_gid) = (md.uid(), md.gid());
            }
        }
    }
    let deferred_signal = signals.pending();
    sink.finish_commit();
    let RestoreSink { journal, .. } = sink;
    journal.remove();
    drop_tag_lock(tag_lock, &header.tag);
    Ok(RestoreReport {
        path: path.to_path_buf(),
        created: verified.header.created,
        objects,
        recovered,
        deferred_signal,
        conflict: None,
    })
}

/// Something this restore created, to be removed if it fails.
#[derive(Debug)]
enum Made {
    /// A System V segment under its key, by id.
    Sysv { index: usize, id: i32 },
    /// A private segment holding the content of a replaced one until the swap.
    Private { index: usize, id: i32 },
    /// A POSIX object under its temporary name.
    Posix { index: usize, temp: PathBuf },
}

/// A commit step, to be undone if a later one fails.
#[derive(Debug)]
enum Undo {
    /// A POSIX object linked to a free name: unlink it.
    Linked(PathBuf),
    /// A POSIX object renamed over an existing one, kept at `backup`: rename it back.
    Renamed { name: PathBuf, backup: PathBuf },
    /// A segment swapped in under `key`: remove it and recreate the old one from `old`.
    Swapped {
        key: i32,
        new_id: i32,
        old: sys::Mapping,
        old_stat: sys::sysv::SegmentStat,
        hugetlb: bool,
    },
}

/// The object being filled.
#[derive(Debug)]
enum Target {
    /// A segment's attachment, and the threads populating its pages ahead of the copy.
    Sysv(Arc<sys::Mapping>, Vec<std::thread::JoinHandle<()>>),
    Posix(File),
}

/// Segments at least this large are populated by helper threads while the copy runs.
const PARALLEL_POPULATE_FROM: u64 = 64 << 20;
/// The unit helper threads populate at a time.
const POPULATE_STEP: u64 = 8 << 20;

/// Starts threads that fault in a new segment's pages, in order, a step at a time.
///
/// Allocating and zeroing fresh shmem pages is most of a restore's cost; the copy that follows
/// the helpers then finds its pages present. If the copy overtakes them it faults the pages
/// itself, so the result never depends on the helpers.
fn populate_in_background(mapping: &Arc<sys::Mapping>) -> Vec<std::thread::JoinHandle<()>> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let next = Arc::new(AtomicU64::new(0));
    (0..workers)
        .filter_map(|_| {
            let (m, next) = (Arc::clone(mapping), Arc::clone(&next));
            std::thread::Builder::new()
                .name("shmkit-populate".into())
                .spawn(move || loop {
                    let at = next.fetch_add(POPULATE_STEP, Ordering::Relaxed);
                    if at >= m.len() || m.prefault_range(at, POPULATE_STEP).is_err() {
                        break;
                    }
                })
                .ok()
        })
        .collect()
}

/// Waits for a target's helper threads.
fn finish(target: Target) -> Option<Target> {
    match target {
        Target::Sysv(m, workers) => {
            for w in workers {
                let _ = w.join();
            }
            Some(Target::Sysv(m, Vec::new()))
        }
        t => Some(t),
    }
}

#[derive(Debug)]
struct RestoreSink<'a> {
    plan: Vec<Plan>,
    /// The index of the object being read.
    index: usize,
    made: Vec<Made>,
    current: Option<Target>,
    current_addr: String,
    /// Names this restore's temporary POSIX objects: `.shmkit-restore.TAG.N`.
    tag: String,
    /// Bytes stored as data per object (from the verify pass), to decide on prefaulting.
    stored: Vec<u64>,
    journal: JournalWriter,
    signals: &'a sys::signal::DeferSignals,
    undo: Vec<Undo>,
    /// Old POSIX objects kept under hidden names until the commit is complete.
    backups: Vec<PathBuf>,
}

/// The error for a failed create, with the limit to raise where there is one.
fn create_error(addr: &str, call: &str, e: std::io::Error, size: u64) -> Error {
    let errno = e.raw_os_error();
    let err = Error::io(addr, call, e);
    match errno {
        Some(libc::EINVAL) if call == "shmget" => Error::new(
            ErrorKind::LimitExceeded,
            addr,
            format!("shmget refused a {size}-byte segment (larger than kernel.shmmax?)"),
        )
        .with_fix(format!("raise the limit: sysctl -w kernel.shmmax={size}")),
        Some(libc::ENOSPC) if call == "shmget" => err.with_fix(
            "the namespace is out of segments or pages: raise kernel.shmmni or kernel.shmall (in pages)",
        ),
        Some(libc::ENOMEM) if call == "shmget(SHM_HUGETLB)" => err.with_fix(
            "not enough free huge pages: reserve more with sysctl -w vm.nr_hugepages=N",
        ),
        Some(libc::EPERM) if call == "shmget(SHM_HUGETLB)" => err.with_fix(
            "huge-page segments need root (CAP_IPC_LOCK) or a group listed in vm.hugetlb_shm_group",
        ),
        Some(libc::ENOSPC) | Some(libc::ENOMEM) => err.with_fix(
            "not enough memory or /dev/shm space: free some, or enlarge /dev/shm (docker --shm-size)",
        ),
        Some(libc::EPERM) | Some(libc::EACCES) => {
            err.with_fix("restore as root to recreate objects owned by other users")
        }
        _ => err.with_fix("see `shmkit doctor` for this host's limits"),
    }
}

/// The error of a restore stopped by a signal, after the rollback.
fn interrupted(sig: i32) -> Error {
    Error::new(
        ErrorKind::Other,
        "snapshot restore",
        format!(
            "interrupted by {}: everything it had created was removed, nothing was restored",
            sys::signal::signal_name(sig)
        ),
    )
    .with_fix("run the restore again")
}

/// Copies a segment into another of at least its size, skipping all-zero pages (the new
/// segment reads as zeros already, and writing them would allocate pages).
fn copy_segment(from: &sys::Mapping, to: &sys::Mapping) -> std::io::Result<()> {
    let mut buf = vec![0u8; super::format::CHUNK];
    let len = from.len().min(to.len());
    let mut at = 0u64;
    while at < len {
        let n = usize::try_from((len - at).min(buf.len() as u64)).unwrap_or(buf.len());
        from.read_at(at, &mut buf[..n])?;
        let mut i = 0;
        while i < n {
            let end = (i + super::format::SPARSE_BLOCK).min(n);
            if !super::writer::is_zero(&buf[i..end]) {
                to.write_at(at + i as u64, &buf[i..end])?;
            }
            i = end;
        }
        at += n as u64;
    }
    Ok(())
}

/// Creates a segment under `key` (mode 0000 until filled) with `old`'s content and gives it
/// `st`'s owner and mode: the way back for a swapped segment.
fn recreate(key: i32, old: &sys::Mapping, st: &sys::sysv::SegmentStat, hugetlb: bool) -> bool {
    let flags = sys::sysv::GetFlags {
        create: true,
        exclusive: true,
        hugetlb,
        ..Default::default()
    };
    let Ok(id) = sys::sysv::shmget(key, st.size, flags, 0) else {
        return false;
    };
    let ok = sys::sysv::shmat(id, false)
        .and_then(|m| copy_segment(old, &m))
        .and_then(|_| sys::sysv::set(id, st.uid, st.gid, st.mode & 0o777));
    if ok.is_err() {
        let _ = sys::sysv::remove(id);
    }
    ok.is_ok()
}

impl RestoreSink<'_> {
    fn check_signals(&self) -> Result<()> {
        match self.signals.pending() {
            Some(sig) => Err(interrupted(sig)),
            None => Ok(()),
        }
    }

    fn journal(&mut self, line: &str) -> Result<()> {
        self.journal.line(line).map_err(|e| {
            Error::io("restore journal", "write", e)
                .with_fix("free space where the snapshot is, then restore again")
        })
    }

    fn begin_sysv(&mut self, meta: &ObjectMeta) -> Result<()> {
        let addr = meta.address();
        let index = self.index;
        let replacing = self.plan[index] == Plan::Replace;
        // A replacement is filled as a private segment: the key still holds the live one.
        let key = if replacing {
            sys::sysv::IPC_PRIVATE
        } else {
            meta.key
        };
        let flags = sys::sysv::GetFlags {
            create: true,
            exclusive: key != sys::sysv::IPC_PRIVATE,
            hugetlb: meta.hugetlb,
            ..Default::default()
        };
        self.journal(&format!("begin {index} {key}"))?;
        // Mode 0000 until filled: nobody else attaches a half-written segment, and the next
        // restore knows an incomplete one by it.
        let call = if meta.hugetlb {
            "shmget(SHM_HUGETLB)"
        } else {
            "shmget"
        };
        let id = sys::sysv::shmget(key, meta.size, flags, 0).map_err(|e| {
            if e.raw_os_error() == Some(libc::EEXIST) {
                Error::new(
                    ErrorKind::AlreadyExists,
                    &addr,
                    "was created by someone else during the restore",
                )
                .with_fix("stop whatever creates it, then restore again")
            } else {
                create_error(&addr, call, e, meta.size)
            }
        })?;
        if replacing {
            self.made.push(Made::Private { index, id });
            self.journal(&format!("private {index} {id}"))?;
        } else {
            self.made.push(Made::Sysv { index, id });
            self.journal(&format!("made {index} {id}"))?;
        }
        let mapping = Arc::new(
            sys::sysv::shmat(id, false).map_err(|e| create_error(&addr, "shmat", e, meta.size))?,
        );
        // Populating pages in bulk is much faster than one fault per page while copying; but
        // a mostly-empty segment would then take memory its original never used.
        let stored = self.stored.get(index).copied().unwrap_or(0);
        let mut workers = Vec::new();
        if stored >= meta.size / 2 && !meta.hugetlb {
            if meta.size >= PARALLEL_POPULATE_FROM {
                workers = populate_in_background(&mapping);
            } else {
                let _ = mapping.prefault();
            }
        }
        self.current = Some(Target::Sysv(mapping, workers));
        Ok(())
    }

    fn begin_posix(&mut self, meta: &ObjectMeta) -> Result<()> {
        let addr = meta.address();
        let temp = PathBuf::from(format!(
            "{DEV_SHM}/{TEMP_PREFIX}{}.{}",
            self.tag, self.index
        ));
        // Mode 0000 while filled; hidden under the temporary name until the commit.
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o000)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&temp)
            .map_err(|e| create_error(&addr, "create", e, meta.size))?;
        self.made.push(Made::Posix {
            index: self.index,
            temp,
        });
        // Sparse: only data runs are written; the rest stays a hole, as in the original.
        f.set_len(meta.size)
            .map_err(|e| create_error(&addr, "ftruncate", e, meta.size))?;
        self.current = Some(Target::Posix(f));
        Ok(())
    }

    /// Puts every object under its key or name. Signals wait until it is done.
    fn commit(&mut self, verified: &Verified) -> Result<()> {
        self.check_signals()?;
        self.journal("commit")?;
        let made = std::mem::take(&mut self.made);
        let result = self.commit_steps(&made, verified);
        self.made = made;
        result
    }

    fn commit_steps(&mut self, made: &[Made], verified: &Verified) -> Result<()> {
        for m in made {
            let Made::Posix { index, temp } = m else {
                continue;
            };
            let meta = &verified.objects[*index].meta;
            let addr = meta.address();
            let to = posix_path(&meta.name);
            let fix_for = |e: &std::io::Error| {
                match e.raw_os_error() {
                Some(libc::EISDIR) | Some(libc::ENOTEMPTY) => {
                    "a directory took its name during the restore: move it away from /dev/shm, then restore again"
                }
                Some(libc::EPERM) | Some(libc::EACCES) => {
                    "restore as root or as the owner of the existing object"
                }
                _ => "check /dev/shm, then restore again",
            }
            };
            if self.plan[*index] == Plan::Replace {
                // Keep the old object reachable until every step succeeded.
                let backup =
                    PathBuf::from(format!("{DEV_SHM}/{TEMP_PREFIX}{}.old.{index}", self.tag));
                let had_old = std::fs::hard_link(&to, &backup).is_ok();
                if let Err(e) = std::fs::rename(temp, &to) {
                    if had_old {
                        let _ = std::fs::remove_file(&backup);
                    }
                    let fix = fix_for(&e);
                    return Err(Error::io(&addr, "rename", e).with_fix(fix));
                }
                if had_old {
                    self.backups.push(backup.clone());
                    self.undo.push(Undo::Renamed { name: to, backup });
                } else {
                    self.undo.push(Undo::Linked(to));
                }
            } else {
                // link() never replaces: a name taken since the conflict check fails here.
                std::fs::hard_link(temp, &to).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::AlreadyExists {
                        Error::new(
                            ErrorKind::AlreadyExists,
                            &addr,
                            "was created by someone else during the restore",
                        )
                        .with_fix("stop whatever creates it, then restore again")
                    } else {
                        let fix = fix_for(&e);
                        Error::io(&addr, "link", e).with_fix(fix)
                    }
                })?;
                self.undo.push(Undo::Linked(to));
                let _ = std::fs::remove_file(temp);
            }
            self.journal(&format!("done {index}"))?;
        }
        for m in made {
            let Made::Private { index, id: private } = m else {
                continue;
            };
            let meta = &verified.objects[*index].meta;
            self.swap(*index, meta, *private)?;
        }
        Ok(())
    }

    /// Puts the content of the private segment `private` under `meta.key` in place of the
    /// segment there now.
    fn swap(&mut self, index: usize, meta: &ObjectMeta, private: i32) -> Result<()> {
        let addr = meta.address();
        let source = sys::sysv::shmat(private, true)
            .map_err(|e| create_error(&addr, "shmat", e, meta.size))?;
        let mut old = None;
        if let Ok(old_id) = sys::sysv::shmget(meta.key, 0, sys::sysv::GetFlags::default(), 0) {
            // Staying attached keeps the old content alive after IPC_RMID: the way back.
            let mapping = sys::sysv::shmat(old_id, true)
                .map_err(|e| create_error(&addr, "shmat", e, meta.size))?;
            let st =
                sys::sysv::stat(old_id).map_err(|e| Error::io(&addr, "shmctl(IPC_STAT)", e))?;
            let old_huge =
                super::save::kernel_page_size(&ProcRoot::live(), mapping.as_ptr() as u64)
                    .is_some_and(|p| p > sys::page_size());
            sys::sysv::remove(old_id).map_err(|e| {
                Error::io(&addr, "shmctl(IPC_RMID)", e)
                    .with_fix("remove the existing segment as its owner or as root")
            })?;
            old = Some((mapping, st, old_huge));
        }
        type Old = Option<(sys::Mapping, sys::sysv::SegmentStat, bool)>;
        let give_back = |old: Old, e: Error| -> Error {
            match old {
                Some((m, st, huge)) if !recreate(meta.key, &m, &st, huge) => Error::new(
                    e.kind(),
                    &addr,
                    format!(
                        "{}; and the old segment could not be recreated: its content is lost",
                        e.cause()
                    ),
                )
                .with_fix("restore again once the cause is fixed"),
                _ => e,
            }
        };
        let flags = sys::sysv::GetFlags {
            create: true,
            exclusive: true,
            hugetlb: meta.hugetlb,
            ..Default::default()
        };
        let new_id = match sys::sysv::shmget(meta.key, meta.size, flags, 0) {
            Ok(id) => id,
            Err(e) => {
                let err = if e.raw_os_error() == Some(libc::EEXIST) {
                    Error::new(
                        ErrorKind::AlreadyExists,
                        &addr,
                        "was created by someone else during the restore",
                    )
                    .with_fix("stop whatever creates it, then restore again")
                } else {
                    create_error(&addr, "shmget", e, meta.size)
                };
                return Err(give_back(old, err));
            }
        };
        let _ = self.journal(&format!("made {index} {new_id}"));
        let filled = sys::sysv::shmat(new_id, false)
            .and_then(|m| copy_segment(&source, &m))
            .map_err(|e| create_error(&addr, "copy", e, meta.size))
            .and_then(|_| self.finish_segment(new_id, meta));
        if let Err(e) = filled {
            let _ = sys::sysv::remove(new_id);
            return Err(give_back(old, e));
        }
        let _ = self.journal(&format!("done {index}"));
        if let Some((old, old_stat, hugetlb)) = old {
            self.undo.push(Undo::Swapped {
                key: meta.key,
                new_id,
                old,
                old_stat,
                hugetlb,
            });
        }
        // The made list still holds the private segment; it goes at the end (or in rollback).
        if let Some(slot) = self.made_slot(index) {
            self.made[slot] = Made::Sysv { index, id: new_id };
        } else {
            self.made.push(Made::Sysv { index, id: new_id });
        }
        let _ = sys::sysv::remove(private);
        Ok(())
    }

    fn made_slot(&self, index: usize) -> Option<usize> {
        self.made
            .iter()
            .position(|m| matches!(m, Made::Private { index: i, .. } if *i == index))
    }

    /// A filled segment gets its lock, owner and mode: it is complete.
    fn finish_segment(&self, id: i32, meta: &ObjectMeta) -> Result<()> {
        let addr = meta.address();
        if meta.locked {
            sys::sysv::lock(id, true)
                .map_err(|e| create_error(&addr, "shmctl(SHM_LOCK)", e, meta.size))?;
        }
        sys::sysv::set(id, meta.uid, meta.gid, meta.mode)
            .map_err(|e| create_error(&addr, "shmctl(IPC_SET)", e, meta.size))
    }

    /// After a complete commit: drop the old POSIX objects kept for undo.
    fn finish_commit(&mut self) {
        for b in self.backups.drain(..) {
            let _ = std::fs::remove_file(b);
        }
        self.undo.clear();
    }

    /// Undoes the commit steps done, then removes everything this restore made.
    fn rollback(&mut self) {
        if let Some(t) = self.current.take() {
            drop(finish(t));
        }
        for u in self.undo.drain(..).rev() {
            match u {
                Undo::Linked(name) => {
                    let _ = std::fs::remove_file(name);
                }
                Undo::Renamed { name, backup } => {
                    let _ = std::fs::rename(backup, name);
                }
                Undo::Swapped {
                    key,
                    new_id,
                    old,
                    old_stat,
                    hugetlb,
                } => {
                    let _ = sys::sysv::remove(new_id);
                    recreate(key, &old, &old_stat, hugetlb);
                }
            }
        }
        for m in self.made.drain(..).rev() {
            match m {
                Made::Sysv { id, .. } | Made::Private { id, .. } => {
                    let _ = sys::sysv::remove(id);
                }
                Made::Posix { temp, .. } => {
                    let _ = std::fs::remove_file(temp);
                }
            }
        }
        for b in self.backups.drain(..) {
            let _ = std::fs::remove_file(b);
        }
    }
}

impl ContentSink for RestoreSink<'_> {
    fn begin(&mut self, meta: &ObjectMeta) -> Result<()> {
        self.check_signals()?;
        self.current_addr = meta.address();
        if matches!(self.plan.get(self.index), Some(Plan::Keep(_)) | None) {
            return Ok(());
        }
        match meta.kind {
            Kind::Sysv => self.begin_sysv(meta),
            _ => self.begin_posix(meta),
        }
    }

    fn data(&mut self, offset: u64, bytes: &[u8]) -> Result<()> {
        self.check_signals()?;
        match &self.current {
            Some(Target::Sysv(m, workers)) => {
                // If the copy overtook the helpers, fault this piece in one call rather than
                // one page at a time (a no-op walk where they were first).
                if !workers.is_empty() {
                    let _ = m.prefault_range(offset, bytes.len() as u64);
                }
                m.write_at(offset, bytes)
                    .map_err(|e| Error::io(&self.current_addr, "write", e))
            }
            Some(Target::Posix(f)) => f
                .write_all_at(bytes, offset)
                .map_err(|e| create_error(&self.current_addr, "write", e, 0)),
            None => Ok(()),
        }
    }

    fn zeros(&mut self, _offset: u64, _len: u64) -> Result<()> {
        // New segments and truncated files read as zeros already (holes, not pages).
        Ok(())
    }

    fn end(&mut self, meta: &ObjectMeta) -> Result<()> {
        let addr = meta.address();
        let index = self.index;
        self.index += 1;
        let target = self.current.take().and_then(finish);
        match target {
            Some(Target::Sysv(m, _)) => {
                drop(m);
                // A private replacement stays mode 0000 until its swap.
                if let Some(Made::Sysv { id, .. }) = self.made.last() {
                    let id = *id;
                    self.finish_segment(id, meta)?;
                    self.journal(&format!("done {index}"))?;
                }
            }
            Some(Target::Posix(f)) => {
                // Only root may give a file away; anyone else keeps it (reported as set).
                if std::os::unix::fs::fchown(&f, Some(meta.uid), Some(meta.gid)).is_err() {
                    let _ = std::os::unix::fs::fchown(&f, None, Some(meta.gid));
                }
                f.set_permissions(std::fs::Permissions::from_mode(meta.mode))
                    .map_err(|e| create_error(&addr, "fchmod", e, meta.size))?;
            }
            None => {}
        }
        Ok(())
    }
}
