//! Restoring: verify the whole file, check for conflicts, then recreate every object, all or
//! nothing.
//!
//! Order of work, and why:
//! 1. The whole file is read and every checksum checked before anything is created, so a
//!    damaged snapshot creates nothing.
//! 2. Every key and name is checked for an existing object: a conflict without `--replace`
//!    stops here, still having created nothing.
//! 3. The file is streamed a second time into new objects. System V segments are created
//!    `IPC_EXCL` with mode 0600 and get their saved owner and mode only once filled; POSIX
//!    objects are filled under a hidden temporary name and linked to their real name at the end.
//!    The second pass checks the checksums again (the file could change between passes).
//! 4. Any failure removes everything this restore created and reports the first error.
//!
//! With `--replace`, an existing System V segment is removed (`IPC_RMID`) just before its
//! replacement is created (a key cannot be renamed); processes still attached keep the old
//! memory. Existing POSIX objects are replaced by an atomic rename at the end.

use super::format::ObjectMeta;
use super::reader::{read_all, verify, ContentSink, ReadError, Verified};
use super::save::{DEV_SHM, TEMP_PREFIX};
use crate::error::{Error, ErrorKind, Result};
use crate::scan::Kind;
use crate::sys;
use std::fs::File;
use std::io::BufReader;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How to restore.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreOptions {
    /// Replace objects that already exist with the same key or name.
    pub replace: bool,
    /// Check everything, create nothing.
    pub dry_run: bool,
}

/// What happened (or would happen) to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Created; nothing had its key or name.
    Created,
    /// Created in place of an existing object (`--replace`).
    Replaced,
    /// `--dry-run`: would be created.
    WouldCreate,
    /// `--dry-run`: would replace an existing object.
    WouldReplace,
}

/// One restored object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Restored {
    /// Its record from the snapshot.
    #[serde(flatten)]
    pub meta: ObjectMeta,
    /// What was done.
    pub action: Action,
    /// The new segment id (System V, not for `--dry-run`).
    pub new_shmid: Option<i32>,
}

/// What a restore did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RestoreReport {
    /// The snapshot file.
    pub path: PathBuf,
    /// When it was taken (unix seconds).
    pub created: i64,
    /// Every object, in file order.
    pub objects: Vec<Restored>,
}

/// Opens a snapshot and returns it with its length.
fn open(path: &Path) -> Result<(File, u64)> {
    let shown = path.display().to_string();
    let f = File::open(path).map_err(|e| {
        let err = Error::io(&shown, "open", e);
        let fix = match err.kind() {
            ErrorKind::NotFound => "check the path, or take one with `shmkit snapshot save FILE`",
            _ => "check the file's permissions",
        };
        err.with_fix(fix)
    })?;
    let md = f.metadata().map_err(|e| Error::io(&shown, "fstat", e))?;
    if !md.file_type().is_file() {
        return Err(
            Error::new(ErrorKind::InvalidInput, shown, "is not a regular file")
                .with_fix("name a snapshot file"),
        );
    }
    Ok((f, md.len()))
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

/// Reads the whole snapshot at `path` and checks every checksum.
pub fn verify_file(path: &Path) -> Result<Verified> {
    let (f, len) = open(path)?;
    verify(BufReader::with_capacity(64 << 10, f), len).map_err(|e| read_error(path, e))
}

/// An existing object in the way of one in the snapshot.
fn exists(meta: &ObjectMeta) -> bool {
    match meta.kind {
        // An IPC_PRIVATE segment (saved by id) has no key to collide with: it comes back as a
        // new private segment.
        Kind::Sysv if meta.key == sys::sysv::IPC_PRIVATE => false,
        Kind::Sysv => match sys::sysv::shmget(meta.key, 0, sys::sysv::GetFlags::default(), 0) {
            Ok(_) => true,
            // Someone else's segment holds the key: it is in the way all the same.
            Err(e) => e.raw_os_error() == Some(libc::EACCES),
        },
        _ => std::fs::symlink_metadata(posix_path(&meta.name)).is_ok(),
    }
}

fn posix_path(name: &str) -> PathBuf {
    PathBuf::from(format!("{DEV_SHM}{name}"))
}

/// Restores every object in the snapshot at `path`, all or nothing.
pub fn restore(path: &Path, opts: &RestoreOptions) -> Result<RestoreReport> {
    // Both passes read this one open file: a save that renames a new snapshot over the path
    // meanwhile cannot make the second pass read another file than the first verified.
    let (mut f, len) = open(path)?;
    let verified =
        verify(BufReader::with_capacity(64 << 10, &f), len).map_err(|e| read_error(path, e))?;
    let shown = path.display().to_string();
    // Two records for one key or name would make the second fail half-way: refuse up front.
    for (i, a) in verified.objects.iter().enumerate() {
        let private = a.meta.kind == Kind::Sysv && a.meta.key == sys::sysv::IPC_PRIVATE;
        if !private
            && verified.objects[..i]
                .iter()
                .any(|b| b.meta.address() == a.meta.address())
        {
            return Err(Error::new(
                ErrorKind::Corrupt,
                &shown,
                format!("holds {} twice", a.meta.address()),
            )
            .with_fix("take a new snapshot; this file was not written by `shmkit snapshot save`"));
        }
    }
    let conflicts: Vec<bool> = verified.objects.iter().map(|o| exists(&o.meta)).collect();
    let first_conflict = verified
        .objects
        .iter()
        .zip(&conflicts)
        .filter(|(_, &c)| c)
        .map(|(o, _)| o.meta.address())
        .collect::<Vec<_>>();
    if !first_conflict.is_empty() && !opts.replace {
        let more = match first_conflict.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!("{}{more}", first_conflict[0]),
            "already exists, so the restore created nothing",
        )
        .with_fix("remove it (`ipcrm`, `shmkit rm`) or restore with --replace"));
    }
    let mut objects: Vec<Restored> = verified
        .objects
        .iter()
        .zip(&conflicts)
        .map(|(o, &c)| Restored {
            meta: o.meta.clone(),
            action: match (opts.dry_run, c) {
                (true, false) => Action::WouldCreate,
                (true, true) => Action::WouldReplace,
                (false, false) => Action::Created,
                (false, true) => Action::Replaced,
            },
            new_shmid: None,
        })
        .collect();
    if opts.dry_run {
        return Ok(RestoreReport {
            path: path.to_path_buf(),
            created: verified.header.created,
            objects,
        });
    }
    std::io::Seek::rewind(&mut f).map_err(|e| Error::io(&shown, "lseek", e))?;
    let mut sink = RestoreSink {
        replace: opts.replace,
        made: Vec::new(),
        current: None,
        current_addr: String::new(),
        temp_counter: 0,
        stored: verified.objects.iter().map(|o| o.stored_bytes).collect(),
    };
    let result = read_all(BufReader::with_capacity(64 << 10, f), len, &mut sink)
        .map_err(|e| read_error(path, e))
        .and_then(|_| sink.commit());
    if let Err(e) = result {
        sink.rollback();
        return Err(e);
    }
    for (r, made) in objects.iter_mut().zip(sink.made.iter()) {
        if let Made::Sysv(id) = made {
            r.new_shmid = Some(*id);
        }
    }
    Ok(RestoreReport {
        path: path.to_path_buf(),
        created: verified.header.created,
        objects,
    })
}

/// Something this restore created, to be removed if it fails.
#[derive(Debug)]
enum Made {
    /// A System V segment, by id.
    Sysv(i32),
    /// A POSIX object under its temporary name; `committed` once linked to its real name.
    Posix {
        temp: String,
        name: String,
        committed: bool,
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
struct RestoreSink {
    replace: bool,
    made: Vec<Made>,
    current: Option<Target>,
    current_addr: String,
    temp_counter: u32,
    /// Bytes stored as data per object (from the verify pass), to decide on prefaulting.
    stored: Vec<u64>,
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
        Some(libc::ENOSPC) | Some(libc::ENOMEM) => err.with_fix(
            "not enough memory or /dev/shm space: free some, or enlarge /dev/shm (docker --shm-size)",
        ),
        Some(libc::EPERM) | Some(libc::EACCES) => {
            err.with_fix("restore as root to recreate objects owned by other users")
        }
        _ => err.with_fix("see `shmkit doctor` for this host's limits"),
    }
}

impl RestoreSink {
    fn begin_sysv(&mut self, meta: &ObjectMeta) -> Result<()> {
        let addr = meta.address();
        if self.replace && meta.key != sys::sysv::IPC_PRIVATE {
            if let Ok(old) = sys::sysv::shmget(meta.key, 0, sys::sysv::GetFlags::default(), 0) {
                sys::sysv::remove(old).map_err(|e| {
                    Error::io(&addr, "shmctl(IPC_RMID)", e)
                        .with_fix("remove the existing segment as its owner or as root")
                })?;
            }
        }
        let flags = sys::sysv::GetFlags {
            create: true,
            exclusive: true,
            ..Default::default()
        };
        // 0600 until filled: nobody else attaches a half-written segment.
        let id = sys::sysv::shmget(meta.key, meta.size, flags, 0o600).map_err(|e| {
            if e.raw_os_error() == Some(libc::EEXIST) {
                Error::new(
                    ErrorKind::AlreadyExists,
                    &addr,
                    "was created by someone else during the restore",
                )
                .with_fix("stop whatever creates it, then restore again")
            } else {
                create_error(&addr, "shmget", e, meta.size)
            }
        })?;
        self.made.push(Made::Sysv(id));
        let mapping = Arc::new(
            sys::sysv::shmat(id, false).map_err(|e| create_error(&addr, "shmat", e, meta.size))?,
        );
        // Populating pages in bulk is much faster than one fault per page while copying; but
        // a mostly-empty segment would then take memory its original never used.
        let stored = self.stored.get(self.made.len() - 1).copied().unwrap_or(0);
        let mut workers = Vec::new();
        if stored >= meta.size / 2 {
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
        self.temp_counter += 1;
        let temp = format!("/{TEMP_PREFIX}{}.{}", std::process::id(), self.temp_counter);
        let fd = sys::posix::shm_open(&temp, sys::posix::OpenMode::CreateExclusive, 0o600)
            .map_err(|e| create_error(&addr, "shm_open", e, meta.size))?;
        self.made.push(Made::Posix {
            temp,
            name: meta.name.clone(),
            committed: false,
        });
        let f = File::from(fd);
        f.set_len(meta.size)
            .map_err(|e| create_error(&addr, "ftruncate", e, meta.size))?;
        // Allocate now, so a full /dev/shm fails here and not with SIGBUS in the program later.
        if meta.size > 0 {
            sys::fallocate(std::os::fd::AsFd::as_fd(&f), 0, meta.size)
                .map_err(|e| create_error(&addr, "fallocate", e, meta.size))?;
        }
        self.current = Some(Target::Posix(f));
        Ok(())
    }

    /// Links every POSIX object to its real name.
    fn commit(&mut self) -> Result<()> {
        for m in &mut self.made {
            let Made::Posix {
                temp,
                name,
                committed,
            } = m
            else {
                continue;
            };
            let from = posix_path(temp);
            let to = posix_path(name);
            let addr = format!("posix:{name}");
            if self.replace {
                std::fs::rename(&from, &to).map_err(|e| Error::io(&addr, "rename", e))?;
            } else {
                // link() never replaces: a name taken since the conflict check fails here.
                std::fs::hard_link(&from, &to).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::AlreadyExists {
                        Error::new(
                            ErrorKind::AlreadyExists,
                            &addr,
                            "was created by someone else during the restore",
                        )
                        .with_fix("stop whatever creates it, then restore again")
                    } else {
                        Error::io(&addr, "link", e)
                    }
                })?;
                *committed = true;
                let _ = std::fs::remove_file(&from);
            }
            *committed = true;
        }
        Ok(())
    }

    /// Removes everything this restore made.
    fn rollback(&mut self) {
        if let Some(t) = self.current.take() {
            drop(finish(t));
        }
        for m in self.made.drain(..).rev() {
            match m {
                Made::Sysv(id) => {
                    let _ = sys::sysv::remove(id);
                }
                Made::Posix {
                    temp,
                    name,
                    committed,
                } => {
                    let _ = sys::posix::shm_unlink(&temp);
                    if committed {
                        let _ = sys::posix::shm_unlink(&name);
                    }
                }
            }
        }
    }
}

impl ContentSink for RestoreSink {
    fn begin(&mut self, meta: &ObjectMeta) -> Result<()> {
        self.current_addr = meta.address();
        match meta.kind {
            Kind::Sysv => self.begin_sysv(meta),
            _ => self.begin_posix(meta),
        }
    }

    fn data(&mut self, offset: u64, bytes: &[u8]) -> Result<()> {
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
        // New segments and truncated files read as zeros already.
        Ok(())
    }

    fn end(&mut self, meta: &ObjectMeta) -> Result<()> {
        let addr = meta.address();
        let target = self.current.take().and_then(finish);
        match (target, self.made.last()) {
            (Some(Target::Sysv(m, _)), Some(Made::Sysv(id))) => {
                drop(m);
                sys::sysv::set(*id, meta.uid, meta.gid, meta.mode)
                    .map_err(|e| create_error(&addr, "shmctl(IPC_SET)", e, meta.size))?;
                if meta.locked {
                    sys::sysv::lock(*id, true)
                        .map_err(|e| create_error(&addr, "shmctl(SHM_LOCK)", e, meta.size))?;
                }
            }
            (Some(Target::Posix(f)), _) => {
                std::os::unix::fs::fchown(&f, Some(meta.uid), Some(meta.gid))
                    .map_err(|e| create_error(&addr, "fchown", e, meta.size))?;
                f.set_permissions(std::fs::Permissions::from_mode(meta.mode))
                    .map_err(|e| create_error(&addr, "fchmod", e, meta.size))?;
            }
            _ => {}
        }
        Ok(())
    }
}
