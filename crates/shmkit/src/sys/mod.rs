//! The system-call layer: the only place in shmkit with `unsafe`.
//!
//! # Safety
//!
//! Each function wraps one system call (or one tight group of them) and turns its result into
//! `io::Result`. Every `unsafe` block carries a `// SAFETY:` comment that states why the
//! pointers and lengths handed to the kernel are valid. Nothing outside this module may use
//! `unsafe`: the crate root denies it, and only this module allows it.
//!
//! Calls rustix has go through it: open, `openat`, `readlinkat`, `fstatat`, directory
//! reading (`getdents64`), inotify, statfs, mount, setns, unshare, memfd, fallocate, flock,
//! kill, waitpid, prctl, and `mmap`/`munmap`/`msync`/`madvise`; POSIX `shm_open` and
//! `shm_unlink` are the `open` and `unlink` under `/dev/shm` that glibc makes of them. Where
//! rustix still marks a call `unsafe` (it acts on raw address ranges, or `unshare` could take
//! `CLONE_FILES`) the block stays, with its `// SAFETY:` comment. `libc` is used directly, in
//! one style (one documented function per call, with `# References`), only for what rustix
//! lacks: System V shared memory (`shmget`, `shmat`, `shmctl`, `shmdt`), `PROCMAP_QUERY`, NSS
//! lookups, `mincore`, `kcmp`, `sync_file_range`, `sigaction` (rustix has only the raw kernel
//! call, which does not install glibc's signal trampoline) and `malloc_trim`; and, before
//! `main`, `poll` on descriptors 0-2 that may be closed (rustix's needs them borrowed) and
//! `signal(SIGPIPE, SIG_IGN)` ([`startup`]).
#![allow(unsafe_code)]
// Field widths of libc structs differ between architectures; casts that are no-ops on x86_64
// are needed elsewhere.
#![allow(clippy::unnecessary_cast)]

pub(crate) mod dir;
pub mod fs;
pub(crate) mod inotify;
pub mod malloc;
pub mod mapping;
pub mod memfd;
pub mod ns;
pub(crate) mod nss;
pub mod posix;
pub mod process;
pub(crate) mod procmap;
pub mod signal;
pub mod startup;
pub mod sysv;

pub use mapping::{Mapping, OutOfBounds};

use std::io;

/// Turns a C return value of `-1` into the thread's `errno`.
pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The size of a page on this machine, in bytes.
pub fn page_size() -> u64 {
    rustix::param::page_size() as u64
}

/// `statvfs(path)`—The size and free space of the filesystem that holds `path`.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/statvfs.html)
/// - [Linux](https://man7.org/linux/man-pages/man3/statvfs.3.html)
pub fn statvfs(path: &std::path::Path) -> io::Result<FsStat> {
    let st = rustix::fs::statvfs(path)?;
    let frsize = st.f_frsize;
    Ok(FsStat {
        total: st.f_blocks * frsize,
        free: st.f_bfree * frsize,
        available: st.f_bavail * frsize,
        inodes: st.f_files,
        inodes_free: st.f_ffree,
    })
}

/// What `statvfs` says of a filesystem, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsStat {
    /// Size of the filesystem (for tmpfs: its `size=` limit).
    pub total: u64,
    /// Free bytes.
    pub free: u64,
    /// Free bytes an unprivileged user may use.
    pub available: u64,
    /// Inode count limit.
    pub inodes: u64,
    /// Free inodes.
    pub inodes_free: u64,
}

/// A C string from bytes, refusing interior NULs with `EINVAL`.
pub(crate) fn cstring(bytes: &[u8]) -> io::Result<std::ffi::CString> {
    std::ffi::CString::new(bytes).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `fallocate(fd, 0, offset, len)`—Allocates the pages of `[offset, offset+len)` now.
///
/// On tmpfs this makes a full filesystem fail here with `ENOSPC` instead of killing a
/// process that touches an unbacked page later with `SIGBUS`.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fallocate.2.html)
pub fn fallocate(fd: std::os::fd::BorrowedFd<'_>, offset: u64, len: u64) -> io::Result<()> {
    // The kernel takes signed offsets: beyond i64 is EFBIG, as glibc's off_t would make it.
    if i64::try_from(offset).is_err() || i64::try_from(len).is_err() {
        return Err(io::Error::from_raw_os_error(libc::EFBIG));
    }
    rustix::fs::fallocate(fd, rustix::fs::FallocateFlags::empty(), offset, len)?;
    Ok(())
}

/// `getuid()`—The real user id of this process.
pub fn getuid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// `geteuid()`—The effective user id of this process.
pub fn geteuid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// `getegid()`—The effective group id of this process.
pub fn getegid() -> u32 {
    rustix::process::getegid().as_raw()
}

/// `sync_file_range(fd, offset, len, SYNC_FILE_RANGE_WRITE)`—Starts write-back of the dirty
/// pages in `[offset, offset+len)` without waiting for it.
///
/// A long sequential write that calls this behind itself keeps the disk busy while the writer
/// still produces data, so the final `fsync` has little left to do. It gives no durability by
/// itself (no metadata, no cache flush): `fsync` is still needed.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/sync_file_range.2.html)
pub fn start_writeback(fd: std::os::fd::BorrowedFd<'_>, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let offset =
        libc::off64_t::try_from(offset).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let len =
        libc::off64_t::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: sync_file_range takes a descriptor and integers, no pointers; a bad fd is EBADF.
    cvt(unsafe { libc::sync_file_range(fd.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) })
        .map(drop)
}

/// `flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB))`—Takes an exclusive advisory lock on an open
/// file; `Ok(false)` if `wait` is off and another open file description holds it.
///
/// The lock belongs to the open file description, so it works across processes and pid
/// namespaces that see the same file, and the kernel drops it when the last descriptor closes
/// (also when its holder is killed).
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/flock.2.html)
pub fn flock_exclusive(fd: std::os::fd::BorrowedFd<'_>, wait: bool) -> io::Result<bool> {
    use rustix::fs::FlockOperation;
    let op = if wait {
        FlockOperation::LockExclusive
    } else {
        FlockOperation::NonBlockingLockExclusive
    };
    loop {
        match rustix::fs::flock(fd, op) {
            Ok(()) => return Ok(true),
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(false),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// `linkat(AT_FDCWD, "/proc/self/fd/FD", AT_FDCWD, to, AT_SYMLINK_FOLLOW)`—Gives a name to an
/// open file, such as one made with `O_TMPFILE`; fails with `EEXIST` if `to` exists.
///
/// A file can so be prepared (written, locked) before anyone can see it. The `/proc` path
/// form needs no privilege, unlike `AT_EMPTY_PATH`.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/linkat.2.html)
/// - [Linux](https://man7.org/linux/man-pages/man2/open.2.html) (`O_TMPFILE`)
pub fn link_open_file(fd: std::os::fd::BorrowedFd<'_>, to: &std::path::Path) -> io::Result<()> {
    use rustix::fs::{AtFlags, CWD};
    use std::os::fd::AsRawFd;
    let from = format!("/proc/self/fd/{}", fd.as_raw_fd());
    rustix::fs::linkat(CWD, from.as_str(), CWD, to, AtFlags::SYMLINK_FOLLOW)?;
    Ok(())
}
