//! `PROCMAP_QUERY` (Linux 6.11+): ask `/proc/PID/maps` for one mapping at a time, filtered by
//! the kernel, instead of reading the text of every mapping.
//!
//! A process has dozens of private mappings (libraries, heap, stacks) and a few shared ones;
//! the text of `maps` costs the kernel a path and a formatted line for each. The query returns
//! only the mappings asked for, and their names only when asked.
//!
//! # Safety
//!
//! The query struct is a zeroed local with its `size` set, as the kernel's ABI requires; the
//! name buffer is a `Vec`'s allocation with its true capacity, and its length is set to what
//! the kernel reports it wrote.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `struct procmap_query` of `<linux/fs.h>`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct ProcmapQuery {
    size: u64,
    query_flags: u64,
    query_addr: u64,
    vma_start: u64,
    vma_end: u64,
    vma_flags: u64,
    vma_page_size: u64,
    vma_offset: u64,
    inode: u64,
    dev_major: u32,
    dev_minor: u32,
    vma_name_size: u32,
    build_id_size: u32,
    vma_name_addr: u64,
    build_id_addr: u64,
}

/// `_IOWR('f', 17, struct procmap_query)`.
const PROCMAP_QUERY: libc::c_ulong = (3 << 30)
    | ((std::mem::size_of::<ProcmapQuery>() as libc::c_ulong) << 16)
    | ((b'f' as libc::c_ulong) << 8)
    | 17;

/// Query flag: only mappings with the shared flag (also the `vma_flags` bit for it).
pub const SHARED: u64 = 0x08;
/// Query flag: only mappings of a file (including kernel-internal shmem files).
pub const FILE_BACKED: u64 = 0x20;
/// Query flag: the mapping covering the address, or else the next one.
const COVERING_OR_NEXT: u64 = 0x10;
/// `vma_flags` bits.
const READABLE: u64 = 0x01;
const WRITABLE: u64 = 0x02;
const EXECUTABLE: u64 = 0x04;

/// One mapping as the query reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vma {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Readable.
    pub readable: bool,
    /// Writable.
    pub writable: bool,
    /// Executable.
    pub executable: bool,
    /// Shared rather than private.
    pub shared: bool,
    /// Offset in the file.
    pub offset: u64,
    /// Device major of the file.
    pub dev_major: u32,
    /// Device minor of the file.
    pub dev_minor: u32,
    /// Inode of the file (the shmid for System V).
    pub inode: u64,
}

/// `ioctl(maps_fd, PROCMAP_QUERY, &q)`—The first mapping at or after `addr` that has every
/// property in `flags` ([`SHARED`], [`FILE_BACKED`]); `Ok(None)` past the last. With `name`,
/// also its name as `maps` prints it (cleared first; a path, with ` (deleted)` if unlinked).
/// Kernels before 6.11 answer `ENOTTY` (or `EINVAL`): read the text instead.
///
/// # References
/// - [Linux](https://docs.kernel.org/filesystems/proc.html) (`PROCMAP_QUERY`)
/// - [`include/uapi/linux/fs.h`](https://github.com/torvalds/linux/blob/master/include/uapi/linux/fs.h)
pub fn query(
    maps: BorrowedFd<'_>,
    addr: u64,
    flags: u64,
    mut name: Option<&mut Vec<u8>>,
) -> io::Result<Option<Vma>> {
    loop {
        let mut q = ProcmapQuery {
            size: std::mem::size_of::<ProcmapQuery>() as u64,
            query_flags: flags | COVERING_OR_NEXT,
            query_addr: addr,
            ..ProcmapQuery::default()
        };
        if let Some(buf) = name.as_deref_mut() {
            buf.clear();
            if buf.capacity() < 256 {
                buf.reserve(256);
            }
            q.vma_name_addr = buf.as_mut_ptr() as u64;
            q.vma_name_size = u32::try_from(buf.capacity()).unwrap_or(u32::MAX);
        }
        // SAFETY: `q` is a properly sized, initialised procmap_query that lives across the
        // call; its name pointer, if any, is a writable allocation of `vma_name_size` bytes.
        let ret = unsafe { libc::ioctl(maps.as_raw_fd(), PROCMAP_QUERY, &mut q) };
        if ret < 0 {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::ENOENT) => Ok(None),
                // The name did not fit: grow and ask again.
                Some(libc::ENAMETOOLONG)
                    if name.as_ref().is_some_and(|b| b.capacity() < 1 << 16) =>
                {
                    if let Some(buf) = name.as_deref_mut() {
                        let cap = buf.capacity();
                        buf.reserve(cap * 4);
                    }
                    continue;
                }
                _ => Err(err),
            };
        }
        if let Some(buf) = name.as_deref_mut() {
            // The size the kernel reports counts the terminating NUL; 0 means no name.
            let len = (q.vma_name_size as usize)
                .saturating_sub(1)
                .min(buf.capacity());
            // SAFETY: the kernel wrote `vma_name_size` bytes (name and NUL) into the buffer,
            // no more than its capacity.
            unsafe { buf.set_len(len) };
        }
        return Ok(Some(Vma {
            start: q.vma_start,
            end: q.vma_end,
            readable: q.vma_flags & READABLE != 0,
            writable: q.vma_flags & WRITABLE != 0,
            executable: q.vma_flags & EXECUTABLE != 0,
            shared: q.vma_flags & SHARED != 0,
            offset: q.vma_offset,
            dev_major: q.dev_major,
            dev_minor: q.dev_minor,
            inode: q.inode,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn the_query_finds_our_shared_mapping_with_the_name_maps_prints() {
        let m = crate::sys::mapping::map_shared_anonymous(3 * 4096).unwrap();
        let maps = std::fs::File::open("/proc/self/maps").unwrap();
        let mut name = Vec::new();
        let mut found = None;
        let mut addr = 0;
        loop {
            match query(maps.as_fd(), addr, SHARED, Some(&mut name)) {
                Ok(Some(v)) => {
                    if v.start == m.as_ptr() as u64 {
                        found = Some((v, String::from_utf8_lossy(&name).into_owned()));
                    }
                    addr = v.end;
                }
                Ok(None) => break,
                // A kernel without PROCMAP_QUERY: nothing to test here.
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTTY) | Some(libc::EINVAL)) => {
                    return
                }
                Err(e) => panic!("{e}"),
            }
        }
        let (v, name) = found.expect("our mapping");
        assert_eq!(v.end - v.start, 3 * 4096);
        assert!(v.shared && v.readable && v.writable && !v.executable);
        let text = std::fs::read_to_string("/proc/self/maps").unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{:x}-", v.start)))
            .expect("maps line");
        assert!(line.ends_with(&name), "{line:?} vs {name:?}");
        assert_eq!(name, "/dev/zero (deleted)");
        assert!(line.contains(&format!(" {} ", v.inode)));
    }
}
