//! POSIX shared memory: `shm_open`, `shm_unlink`.
//!
//! An object is a file in `/dev/shm` (tmpfs): it lives until unlinked, or until that tmpfs is
//! unmounted (a container's private /dev/shm dies with the container).
//!
//! # Safety
//!
//! Only NUL-terminated names cross into libc; returned descriptors are owned at once.

use super::cstring;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// How [`shm_open`] opens an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// `O_RDONLY`: open an existing object for reading.
    ReadOnly,
    /// `O_RDWR`: open an existing object for reading and writing.
    ReadWrite,
    /// `O_RDWR|O_CREAT|O_EXCL`: create a new object; fail with `EEXIST` if the name is taken.
    CreateExclusive,
    /// `O_RDWR|O_CREAT`: open the object, creating it if missing.
    CreateOrOpen,
}

/// `shm_open(name, flags | O_NOFOLLOW | O_CLOEXEC, mode)`—Opens a shared memory object.
///
/// `name` is the POSIX name with its one leading `/` (for example `/orders`); glibc opens
/// `/dev/shm/orders`. Callers validate names first (see `crate::address`).
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/shm_open.html)
/// - [Linux](https://man7.org/linux/man-pages/man3/shm_open.3.html)
pub fn shm_open(name: &str, how: OpenMode, mode: u32) -> io::Result<OwnedFd> {
    let c_name = cstring(name.as_bytes())?;
    let flags = match how {
        OpenMode::ReadOnly => libc::O_RDONLY,
        OpenMode::ReadWrite => libc::O_RDWR,
        OpenMode::CreateExclusive => libc::O_RDWR | libc::O_CREAT | libc::O_EXCL,
        OpenMode::CreateOrOpen => libc::O_RDWR | libc::O_CREAT,
    } | libc::O_NOFOLLOW
        | libc::O_CLOEXEC;
    // SAFETY: `c_name` is NUL-terminated and outlives the call.
    let fd = unsafe { libc::shm_open(c_name.as_ptr(), flags, (mode & 0o7777) as libc::mode_t) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: shm_open returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `shm_unlink(name)`—Removes the name; the memory goes when the last holder unmaps or closes.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/shm_unlink.html)
pub fn shm_unlink(name: &str) -> io::Result<()> {
    let c_name = cstring(name.as_bytes())?;
    // SAFETY: `c_name` is NUL-terminated and outlives the call.
    super::cvt(unsafe { libc::shm_unlink(c_name.as_ptr()) }).map(drop)
}

/// `shm_open(name, O_RDONLY or O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, 0)`—Opens an
/// existing object without ever waiting.
///
/// `O_NONBLOCK` changes nothing for a shm object (a regular file); it matters when the name is
/// something else: anyone may create files in the world-writable /dev/shm, and a FIFO planted
/// under a name would block a plain open until a writer came. Callers check the file type.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/shm_open.html)
/// - [Linux](https://man7.org/linux/man-pages/man3/shm_open.3.html)
pub fn shm_open_existing_nonblocking(name: &str, writable: bool) -> io::Result<OwnedFd> {
    let c_name = cstring(name.as_bytes())?;
    let access = if writable {
        libc::O_RDWR
    } else {
        libc::O_RDONLY
    };
    let flags = access | libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: `c_name` is NUL-terminated and outlives the call.
    let fd = unsafe { libc::shm_open(c_name.as_ptr(), flags, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: shm_open returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
