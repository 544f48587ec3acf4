//! `memfd_create`: anonymous shmem reachable only through its file descriptors.
//!
//! A memfd lives while a descriptor or a mapping of it exists; it shows in `/proc/PID/maps`
//! and `/proc/PID/fd` as `/memfd:NAME (deleted)`.
//!
//! # Safety
//!
//! The name crosses into the kernel as a NUL-terminated string; the descriptor is owned at once.

use super::cstring;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// `memfd_create(name, MFD_CLOEXEC [| MFD_ALLOW_SEALING] [| MFD_HUGETLB])`—Creates an
/// anonymous shmem file.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/memfd_create.2.html)
pub fn memfd_create(name: &str, allow_sealing: bool, hugetlb: bool) -> io::Result<OwnedFd> {
    let c_name = cstring(name.as_bytes())?;
    let mut flags = libc::MFD_CLOEXEC;
    if allow_sealing {
        flags |= libc::MFD_ALLOW_SEALING;
    }
    if hugetlb {
        flags |= libc::MFD_HUGETLB;
    }
    // SAFETY: `c_name` is NUL-terminated and outlives the call.
    let fd = unsafe { libc::memfd_create(c_name.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: memfd_create returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
