//! `memfd_create`: anonymous shmem reachable only through its file descriptors.
//!
//! A memfd lives while a descriptor or a mapping of it exists; it shows in `/proc/PID/maps`
//! and `/proc/PID/fd` as `/memfd:NAME (deleted)`.
//!
//! Through rustix: no `unsafe` here.

use std::io;
use std::os::fd::OwnedFd;

/// `memfd_create(name, MFD_CLOEXEC [| MFD_ALLOW_SEALING] [| MFD_HUGETLB])`—Creates an
/// anonymous shmem file.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/memfd_create.2.html)
pub fn memfd_create(name: &str, allow_sealing: bool, hugetlb: bool) -> io::Result<OwnedFd> {
    use rustix::fs::MemfdFlags;
    let mut flags = MemfdFlags::CLOEXEC;
    if allow_sealing {
        flags |= MemfdFlags::ALLOW_SEALING;
    }
    if hugetlb {
        flags |= MemfdFlags::HUGETLB;
    }
    Ok(rustix::fs::memfd_create(name, flags)?)
}
