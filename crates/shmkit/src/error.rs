//! The library's error: one line that names the object, the cause and the fix.
//!
//! Every failure a user can cause or meet is an [`Error`] whose `Display` reads
//! `OBJECT: CAUSE; FIX`, and whose [`ErrorKind`] decides the command's exit code
//! ([`ErrorKind::exit_code`]), so scripts can tell "not found" from "no permission".

use std::fmt;
use std::io;

/// The category of a failure; each has its own documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// Something went wrong that has no category of its own (exit 1).
    Other,
    /// The object does not exist (`ENOENT`, or a System V key with no segment) (exit 3).
    NotFound,
    /// The object exists already, or a restore would overwrite one (`EEXIST`) (exit 4).
    AlreadyExists,
    /// The caller may not do this (`EACCES`, `EPERM`, an object owned by someone else) (exit 5).
    PermissionDenied,
    /// The request is malformed: a bad address, size, mode, offset (exit 2, like a usage error).
    InvalidInput,
    /// A kernel limit or a full filesystem stands in the way (`shmmax`, `shmall`, `shmmni`,
    /// `ENOSPC`, `ENOMEM`) (exit 6).
    LimitExceeded,
    /// Data on disk or in memory fails its checks: a corrupt snapshot (exit 7).
    Corrupt,
    /// The object is in use and the command refuses to touch it without `--force` (exit 9).
    Busy,
    /// The object was removed while we worked on it (`EIDRM`) (exit 3).
    Removed,
    /// This host or kernel cannot do it: no namespace support, no swap, not root (exit 10).
    Unsupported,
}

impl ErrorKind {
    /// The process exit code a command uses for this kind of failure.
    ///
    /// | code | meaning |
    /// |---|---|
    /// | 0 | success |
    /// | 1 | other failure |
    /// | 2 | usage error or invalid input |
    /// | 3 | not found (or removed meanwhile) |
    /// | 4 | already exists / conflict |
    /// | 5 | permission denied |
    /// | 6 | kernel limit or no space |
    /// | 7 | corrupt data |
    /// | 8 | a check failed (a lab verdict, a doctor warning with `--strict`) |
    /// | 9 | busy: in use, refused without `--force` |
    /// | 10 | unsupported here |
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Other => 1,
            ErrorKind::InvalidInput => 2,
            ErrorKind::NotFound | ErrorKind::Removed => 3,
            ErrorKind::AlreadyExists => 4,
            ErrorKind::PermissionDenied => 5,
            ErrorKind::LimitExceeded => 6,
            ErrorKind::Corrupt => 7,
            ErrorKind::Busy => 9,
            ErrorKind::Unsupported => 10,
        }
    }

    /// The category for an `errno` when nothing more specific is known.
    pub fn from_errno(errno: i32) -> Self {
        match errno {
            libc::ENOENT => ErrorKind::NotFound,
            libc::EEXIST => ErrorKind::AlreadyExists,
            libc::EACCES | libc::EPERM => ErrorKind::PermissionDenied,
            libc::EINVAL | libc::ENAMETOOLONG => ErrorKind::InvalidInput,
            libc::ENOSPC | libc::ENOMEM | libc::EFBIG | libc::EMFILE | libc::ENFILE => {
                ErrorKind::LimitExceeded
            }
            libc::EIDRM => ErrorKind::Removed,
            libc::EBUSY => ErrorKind::Busy,
            libc::ENOSYS | libc::EOPNOTSUPP => ErrorKind::Unsupported,
            _ => ErrorKind::Other,
        }
    }
}

/// The exit code for "a check failed" (a lab verdict that did not hold).
pub const EXIT_CHECK_FAILED: u8 = 8;

/// A failure, told as `OBJECT: CAUSE; FIX` on one line.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    object: String,
    cause: String,
    fix: Option<String>,
    source: Option<io::Error>,
}

impl Error {
    /// A new error about `object` (as the user addressed it: `sysv:5678`, `posix:/x`, a path).
    pub fn new(kind: ErrorKind, object: impl Into<String>, cause: impl Into<String>) -> Self {
        Error {
            kind,
            object: object.into(),
            cause: cause.into(),
            fix: None,
            source: None,
        }
    }

    /// Adds what the user can do about it.
    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// Keeps the system error underneath.
    pub fn with_source(mut self, source: io::Error) -> Self {
        self.source = Some(source);
        self
    }

    /// An error from a system call whose errno has no more specific reading: the cause is the
    /// call and the OS message, the kind follows the errno.
    pub fn io(object: impl Into<String>, call: &str, source: io::Error) -> Self {
        let kind = source
            .raw_os_error()
            .map_or(ErrorKind::Other, ErrorKind::from_errno);
        let cause = format!("{call} failed: {}", os_message(&source));
        Error::new(kind, object, cause).with_source(source)
    }

    /// The category (it decides the exit code).
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The object the error is about.
    pub fn object(&self) -> &str {
        &self.object
    }

    /// Why it failed.
    pub fn cause(&self) -> &str {
        &self.cause
    }

    /// What to do about it, if anything.
    pub fn fix(&self) -> Option<&str> {
        self.fix.as_deref()
    }

    /// The errno underneath, if a system call failed.
    pub fn errno(&self) -> Option<i32> {
        self.source.as_ref().and_then(io::Error::raw_os_error)
    }
}

/// The OS message without Rust's " (os error N)" suffix, e.g. "No such file or directory".
pub fn os_message(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.object, self.cause)?;
        if let Some(fix) = &self.fix {
            write!(f, "; {fix}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line_with_object_cause_and_fix() {
        let err = Error::new(ErrorKind::NotFound, "sysv:5678", "no segment has key 5678")
            .with_fix("create it with `shmkit create sysv:5678 --size N`");
        let text = err.to_string();
        assert_eq!(
            text,
            "sysv:5678: no segment has key 5678; create it with `shmkit create sysv:5678 --size N`"
        );
        assert!(!text.contains('\n'));
        assert_eq!(err.kind().exit_code(), 3);
    }

    #[test]
    fn io_error_keeps_errno_and_strips_rust_suffix() {
        let err = Error::io(
            "posix:/x",
            "shm_open",
            io::Error::from_raw_os_error(libc::EACCES),
        );
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
        assert_eq!(err.errno(), Some(libc::EACCES));
        assert_eq!(
            err.to_string(),
            "posix:/x: shm_open failed: Permission denied"
        );
    }
}
