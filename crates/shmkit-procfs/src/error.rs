//! Error types: [`ParseError`] from the pure parsers, [`Error`] from [`crate::ProcRoot`], which
//! adds the path of the file that was read.

use std::path::PathBuf;

/// Linux `EPERM`: the numeric value is part of the kernel ABI on every architecture.
const EPERM: i32 = 1;
/// Linux `ESRCH`: returned by some `/proc/PID` files when the process exits during the read.
const ESRCH: i32 = 3;
/// Linux `EACCES`.
const EACCES: i32 = 13;

/// A parser rejected its input: the 1-based line where it happened and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {msg}")]
pub struct ParseError {
    /// 1-based line number in the parsed text (1 for single-line files).
    pub line: usize,
    /// What was wrong with the line.
    pub msg: String,
}

impl ParseError {
    /// A parse error at `line` (1-based) with message `msg`.
    pub fn new(line: usize, msg: impl Into<String>) -> Self {
        ParseError {
            line,
            msg: msg.into(),
        }
    }
}

/// An error reading or parsing a file below a [`crate::ProcRoot`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened, read or listed.
    #[error("{path}: {source}", path = path.display())]
    Io {
        /// The path as seen on the filesystem (below the root).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but its contents did not parse.
    #[error("{path}: line {line}: {msg}", path = path.display())]
    Parse {
        /// The path as seen on the filesystem (below the root).
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        msg: String,
    },
}

impl Error {
    /// Wrap an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Wrap a [`ParseError`] with the path of the file that was parsed.
    pub fn parse(path: impl Into<PathBuf>, err: ParseError) -> Self {
        Error::Parse {
            path: path.into(),
            line: err.line,
            msg: err.msg,
        }
    }

    /// True if the error is EACCES or EPERM: the file exists but this process may not read it
    /// (for example another user's `/proc/PID/fd` or `maps` without `CAP_SYS_PTRACE`).
    pub fn is_permission_denied(&self) -> bool {
        match self {
            Error::Io { source, .. } => is_permission_denied(source),
            Error::Parse { .. } => false,
        }
    }

    /// True if the error is ENOENT or ESRCH: the file, or the process it belonged to, is gone.
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Io { source, .. } => is_vanished(source),
            Error::Parse { .. } => false,
        }
    }
}

/// ENOENT, or ESRCH (a `/proc/PID` file whose process exited while we read it).
pub(crate) fn is_vanished(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::NotFound || err.raw_os_error() == Some(ESRCH)
}

/// EACCES or EPERM.
pub(crate) fn is_permission_denied(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::PermissionDenied
        || matches!(err.raw_os_error(), Some(EACCES) | Some(EPERM))
}

/// Result of the I/O layer.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn esrch_counts_as_not_found() {
        let e = Error::io("/proc/1/maps", io::Error::from_raw_os_error(ESRCH));
        assert!(e.is_not_found());
        assert!(!e.is_permission_denied());
    }

    #[test]
    fn eperm_and_eacces_are_permission_denied() {
        for code in [EPERM, EACCES] {
            let e = Error::io("/proc/1/fd", io::Error::from_raw_os_error(code));
            assert!(e.is_permission_denied(), "errno {code}");
            assert!(!e.is_not_found());
        }
    }

    #[test]
    fn display_names_path_and_line() {
        let e = Error::parse("/proc/meminfo", ParseError::new(3, "bad number"));
        assert_eq!(e.to_string(), "/proc/meminfo: line 3: bad number");
        assert!(!e.is_not_found());
    }
}
