//! The files around a snapshot: opening only regular files (never waiting on a FIFO, never
//! following a symbolic link), the lock that serialises writers of one snapshot, and unique
//! temporary names.
//!
//! Why so careful: `/dev/shm` is world-writable, and a snapshot may live on a volume shared by
//! containers. A FIFO opened without `O_NONBLOCK` blocks until a writer comes; a device or FIFO
//! path renamed over would be replaced by a regular file; two savers with the same pid number
//! (each pid 1 in its own pid namespace) would share a pid-based temporary name.

use crate::error::{Error, ErrorKind, Result};
use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What a file that is not a regular file is, for messages.
pub(crate) fn type_name(md: &Metadata) -> &'static str {
    let ft = md.file_type();
    if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// Why opening a name failed, in words: the cases that mean "this is not a regular file".
pub(crate) fn open_failure(e: &std::io::Error) -> Option<&'static str> {
    match e.raw_os_error() {
        Some(libc::ELOOP) => Some("a symbolic link"),
        // open(2) of a socket fails with ENXIO ("No such device or address").
        Some(libc::ENXIO) => Some("a socket"),
        Some(libc::EISDIR) => Some("a directory"),
        _ => None,
    }
}

/// Opens `path` for reading if it is a regular file: `O_NONBLOCK` (a FIFO cannot block the
/// open), `O_NOFOLLOW` (a planted link is refused), type checked on the open descriptor.
pub(crate) fn open_regular_read(path: &Path, shown: &str) -> Result<(File, Metadata)> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            if let Some(what) = open_failure(&e) {
                return not_regular(shown, what);
            }
            let err = Error::io(shown, "open", e);
            let fix = match err.kind() {
                ErrorKind::NotFound => {
                    "check the path, or take one with `shmkit snapshot save FILE`"
                }
                _ => "check the file's permissions",
            };
            err.with_fix(fix)
        })?;
    let md = f.metadata().map_err(|e| Error::io(shown, "fstat", e))?;
    if !md.file_type().is_file() {
        return Err(not_regular(shown, type_name(&md)));
    }
    Ok((f, md))
}

/// The error for a path that names something other than a regular file.
pub(crate) fn not_regular(shown: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        shown,
        format!("is {what}, not a snapshot file; shmkit reads and replaces only regular files"),
    )
    .with_fix("name a regular file (or a new path) for the snapshot")
}

/// Checks that the snapshot path is a regular file or does not exist yet (a save then creates
/// it). A device, FIFO, socket, directory or symbolic link is refused and left as it is.
pub(crate) fn check_target(path: &Path, shown: &str) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_file() => Ok(()),
        Ok(md) => Err(not_regular(shown, type_name(&md))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(shown, "lstat", e).with_fix("check the path and its directory")),
    }
}

/// The directory and file name of a snapshot path.
pub(crate) fn split(path: &Path, shown: &str) -> Result<(PathBuf, std::ffi::OsString)> {
    let name = path.file_name().ok_or_else(|| {
        Error::new(ErrorKind::InvalidInput, shown, "is not a file name")
            .with_fix("name the snapshot file, e.g. /data/shm.snap")
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name.to_owned()))
}

/// A name beside the snapshot: `.<FILE><suffix>`.
pub(crate) fn beside(dir: &Path, file: &std::ffi::OsStr, suffix: &str) -> PathBuf {
    let mut n = std::ffi::OsString::from(".");
    n.push(file);
    n.push(suffix);
    dir.join(n)
}

/// The infix of save's temporary files: `.<FILE>.shmkit-tmp.<random>`.
pub(crate) const TEMP_INFIX: &str = ".shmkit-tmp.";
/// The suffix of the lock file beside a snapshot: `.<FILE>.shmkit-lock`.
pub(crate) const LOCK_SUFFIX: &str = ".shmkit-lock";
/// The suffix of the restore journal beside a snapshot: `.<FILE>.shmkit-journal`.
pub(crate) const JOURNAL_SUFFIX: &str = ".shmkit-journal";

/// The lock beside a snapshot, held while saving or restoring it; released on drop (and by the
/// kernel if the holder is killed).
#[derive(Debug)]
pub(crate) struct SnapshotLock {
    _file: File,
}

impl SnapshotLock {
    /// Takes the lock of the snapshot at `dir/file`, waiting for the holder if there is one.
    pub(crate) fn take(dir: &Path, file: &std::ffi::OsStr, shown: &str) -> Result<Self> {
        Self::at(&beside(dir, file, LOCK_SUFFIX), shown)
    }

    /// Takes the lock file at `path` (created 0600 if missing), waiting for its holder.
    pub(crate) fn at(path: &Path, shown: &str) -> Result<Self> {
        let path = path.to_path_buf();
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| {
                let lock = path.display().to_string();
                if let Some(what) = open_failure(&e) {
                    return Error::new(
                        ErrorKind::InvalidInput,
                        lock,
                        format!("is {what}, not the lock file of {shown}"),
                    )
                    .with_fix("remove it; shmkit creates the lock file itself");
                }
                if e.kind() == std::io::ErrorKind::NotFound {
                    let dir = path.parent().unwrap_or(Path::new("."));
                    return Error::new(
                        ErrorKind::NotFound,
                        shown,
                        format!("its directory {} does not exist", dir.display()),
                    )
                    .with_fix("create the directory first, or name a file in an existing one");
                }
                let err = Error::io(lock, "create lock file", e);
                let fix = if err.kind() == ErrorKind::PermissionDenied {
                    "use a snapshot directory you may write"
                } else {
                    "check the snapshot's directory"
                };
                err.with_fix(fix)
            })?;
        let md = f
            .metadata()
            .map_err(|e| Error::io(path.display().to_string(), "fstat", e))?;
        if !md.file_type().is_file() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                path.display().to_string(),
                format!("is {}, not the lock file of {shown}", type_name(&md)),
            )
            .with_fix("remove it; shmkit creates the lock file itself"));
        }
        let fd = std::os::fd::AsFd::as_fd(&f);
        let lock_err = |e| {
            Error::io(path.display().to_string(), "flock", e)
                .with_fix("use a filesystem with working flock (not an old NFS mount)")
        };
        crate::sys::flock_exclusive(fd, true).map_err(lock_err)?;
        Ok(SnapshotLock { _file: f })
    }
}

/// A random 64-bit value, different in every process and every call: the hasher keys std
/// draws from the kernel's random source, mixed with the time and a counter.
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish()
}
