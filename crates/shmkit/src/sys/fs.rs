//! Filesystems for the lab: mount a private tmpfs, unmount it, tell a tmpfs from a disk
//! filesystem, and flush dirty pages before dropping caches.
//!
//! # Safety
//!
//! Only NUL-terminated paths and option strings cross into the kernel; `statfs` buffers are
//! zero-initialised locals that the kernel fills.

use std::io;
use std::path::Path;

/// `TMPFS_MAGIC` from `<linux/magic.h>`: the `f_type` that `statfs` reports for tmpfs (and
/// for `/dev/shm`, which is a tmpfs).
pub const TMPFS_MAGIC: i64 = 0x0102_1994;
/// `RAMFS_MAGIC` from `<linux/magic.h>`: ramfs, whose pages are never reclaimed.
pub const RAMFS_MAGIC: i64 = 0x8584_58f6;

/// `mount("shmkit-lab", target, "tmpfs", MS_NOSUID|MS_NODEV|MS_NOEXEC, "size=N,mode=0700")`—
/// Mounts a new tmpfs of at most `size` bytes on the directory `target`. Needs
/// `CAP_SYS_ADMIN`.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/mount.2.html)
/// - [tmpfs](https://man7.org/linux/man-pages/man5/tmpfs.5.html)
pub fn mount_tmpfs(target: &Path, size: u64) -> io::Result<()> {
    use rustix::mount::MountFlags;
    let options = super::cstring(format!("size={size},mode=0700").as_bytes())?;
    let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    rustix::mount::mount("shmkit-lab", target, "tmpfs", flags, options.as_c_str())?;
    Ok(())
}

/// `umount2(target, 0)`—Unmounts the filesystem mounted on `target`; fails with `EBUSY` while
/// a file on it is open or mapped.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/umount2.2.html)
pub fn unmount(target: &Path) -> io::Result<()> {
    rustix::mount::unmount(target, rustix::mount::UnmountFlags::empty())?;
    Ok(())
}

/// `statfs(path).f_type`—The magic number of the filesystem that holds `path`
/// ([`TMPFS_MAGIC`], [`RAMFS_MAGIC`], `EXT4_SUPER_MAGIC`, ...).
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/statfs.2.html)
pub fn filesystem_magic(path: &Path) -> io::Result<i64> {
    Ok(rustix::fs::statfs(path)?.f_type as i64)
}

/// `sync()`—Schedules every dirty page and inode of every filesystem for write-back and, on
/// Linux, waits for it: afterwards `Dirty` in `/proc/meminfo` is near zero, so
/// `drop_caches` can free the page cache that was dirty.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/sync.html)
/// - [Linux](https://man7.org/linux/man-pages/man2/sync.2.html)
pub fn sync() {
    rustix::fs::sync()
}
