//! Namespaces: `unshare(CLONE_NEWIPC)` and `setns`, the container restart without Docker.
//!
//! # Safety
//!
//! Both calls take plain integers or a borrowed descriptor.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `unshare(CLONE_NEWIPC)`—Moves this process into a new, empty IPC namespace: no System V
/// segments, semaphores or queues. Needs `CAP_SYS_ADMIN`. Affects the calling thread only in a
/// multi-threaded process, so call it in a single-threaded child.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/unshare.2.html)
pub fn unshare_ipc() -> io::Result<()> {
    // SAFETY: unshare takes a flag word, no pointers.
    super::cvt(unsafe { libc::unshare(libc::CLONE_NEWIPC) }).map(drop)
}

/// `setns(fd, CLONE_NEWIPC)`—Joins the IPC namespace that `fd` (an open
/// `/proc/PID/ns/ipc`) names.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/setns.2.html)
pub fn setns_ipc(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: setns takes a descriptor and a flag; a wrong fd is reported as EBADF/EINVAL.
    super::cvt(unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWIPC) }).map(drop)
}

/// `unshare(CLONE_NEWNS)` then `mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL)`—Moves the
/// calling thread into a copy of its mount namespace whose mounts propagate nowhere, so a
/// tmpfs mounted on `/dev/shm` afterwards is seen by this thread and the processes it starts
/// only. Needs `CAP_SYS_ADMIN`.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/unshare.2.html)
/// - [Linux](https://man7.org/linux/man-pages/man7/mount_namespaces.7.html)
pub fn unshare_mount_private() -> io::Result<()> {
    // SAFETY: unshare takes a flag word, no pointers.
    super::cvt(unsafe { libc::unshare(libc::CLONE_NEWNS) })?;
    let root = super::cstring(b"/")?;
    // SAFETY: `root` is NUL-terminated and outlives the call; null source, type and data are
    // what a propagation change takes.
    super::cvt(unsafe {
        libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    })
    .map(drop)
}
