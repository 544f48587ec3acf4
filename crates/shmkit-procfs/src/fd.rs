//! `/proc/PID/fd/N` link targets: what each file descriptor refers to.
//!
//! The target is the kernel's `d_path` of the open file: an absolute path (with ` (deleted)`
//! if unlinked, which a memfd always is: `/memfd:NAME (deleted)`), or a pseudo name such as
//! `anon_inode:[eventfd]`, `socket:[1234]`, `pipe:[5678]`.

use crate::error::ParseError;

const DELETED: &str = " (deleted)";

/// One open file descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdLink {
    /// The descriptor number.
    pub fd: u32,
    /// The link target as the kernel printed it (lossy UTF-8).
    pub target: String,
}

impl FdLink {
    /// For a file, its path without the ` (deleted)` suffix; `None` for pseudo files.
    pub fn target_path(&self) -> Option<&str> {
        if !self.target.starts_with('/') {
            return None;
        }
        Some(self.target.strip_suffix(DELETED).unwrap_or(&self.target))
    }

    /// True if the target is a file that was unlinked (` (deleted)`).
    pub fn deleted(&self) -> bool {
        self.target.starts_with('/') && self.target.ends_with(DELETED)
    }

    /// For `anon_inode:[eventfd]` / `anon_inode:inotify`, the part after `anon_inode:`.
    pub fn anon_inode(&self) -> Option<&str> {
        self.target.strip_prefix("anon_inode:")
    }

    /// For a memfd (`/memfd:NAME (deleted)`), NAME. Only the kernel's one ` (deleted)` is
    /// removed.
    pub fn memfd_name(&self) -> Option<&str> {
        self.target_path()?.strip_prefix("/memfd:")
    }
}

/// Build an [`FdLink`] from a directory entry name (`"3"`) and its link target.
pub fn parse(fd_name: &str, target: &str) -> Result<FdLink, ParseError> {
    let fd = fd_name
        .parse::<u32>()
        .map_err(|_| ParseError::new(1, format!("not a descriptor number: {fd_name:?}")))?;
    Ok(FdLink {
        fd,
        target: target.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(t: &str) -> FdLink {
        parse("3", t).unwrap()
    }

    #[test]
    fn memfd_and_deleted_files() {
        let m = l("/memfd:buf with space (deleted)");
        assert_eq!(m.memfd_name(), Some("buf with space"));
        assert!(m.deleted());
        let p = l("/dev/shm/x");
        assert_eq!(
            (p.target_path(), p.deleted(), p.memfd_name()),
            (Some("/dev/shm/x"), false, None)
        );
        let d = l("/dev/shm/x (deleted)");
        assert_eq!((d.target_path(), d.deleted()), (Some("/dev/shm/x"), true));
    }

    #[test]
    fn pseudo_targets() {
        assert_eq!(l("anon_inode:[eventfd]").anon_inode(), Some("[eventfd]"));
        let s = l("socket:[1234]");
        assert_eq!(
            (s.target_path(), s.anon_inode(), s.deleted()),
            (None, None, false)
        );
    }

    #[test]
    fn bad_fd_names_are_errors() {
        assert!(parse("", "/x").is_err());
        assert!(parse("-1", "/x").is_err());
        assert!(parse("3a", "/x").is_err());
    }
}
