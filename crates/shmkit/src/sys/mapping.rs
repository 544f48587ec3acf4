//! [`Mapping`]: memory this process has mapped or attached, with bounds-checked access.
//!
//! Shared memory can change under us at any moment (another process writes it), so handing out
//! `&[u8]` or `&mut [u8]` over it would let safe code observe a "immutable" slice changing. All
//! access therefore copies through raw pointers: [`Mapping::read_at`] and [`Mapping::write_at`].
//!
//! # Safety
//!
//! A `Mapping` owns `[ptr, ptr+len)` from a successful `mmap` or `shmat` until it is dropped,
//! when it is unmapped or detached exactly once. Every access is checked against `len` first.
//!
//! `mmap`, `munmap`, `msync` and `madvise` go through `rustix::mm`, which still marks them
//! `unsafe`: they act on raw address ranges. `mincore` (which rustix lacks) and `shmdt`
//! (System V) call libc.

use rustix::mm::{Advice, MapFlags, MsyncFlags, ProtFlags};
use std::io;
use std::ptr::NonNull;

/// How a [`Mapping`] is given back to the kernel on drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Release {
    /// `munmap(ptr, len)`.
    Munmap,
    /// `shmdt(ptr)`.
    Shmdt,
}

/// An access that would reach past the end of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{len} bytes at offset {offset} reach past the end of the {size}-byte object")]
pub struct OutOfBounds {
    /// Where the access starts.
    pub offset: u64,
    /// How many bytes it covers.
    pub len: u64,
    /// The size of the mapping.
    pub size: u64,
}

/// Memory mapped (`mmap`) or attached (`shmat`) by this process; unmapped or detached on drop.
#[derive(Debug)]
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    writable: bool,
    release: Release,
}

// SAFETY: a Mapping is a range of the address space, valid from any thread; all access is by
// copies through raw pointers, so sharing it between threads is no different from sharing it
// between processes, which is what shared memory is for.
unsafe impl Send for Mapping {}
// SAFETY: see `Send`: `read_at`/`write_at` copy bytes and never create references into the range.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// # Safety
    /// `ptr..ptr+len` must be a range that this process mapped with `mmap` (for
    /// `Release::Munmap`) or attached with `shmat` (for `Release::Shmdt`), that nothing else
    /// will unmap, and that is writable when `writable` is true.
    pub(crate) unsafe fn from_raw(
        ptr: NonNull<u8>,
        len: usize,
        writable: bool,
        shmdt: bool,
    ) -> Self {
        Mapping {
            ptr,
            len,
            writable,
            release: if shmdt {
                Release::Shmdt
            } else {
                Release::Munmap
            },
        }
    }

    /// The mapped length in bytes.
    pub fn len(&self) -> u64 {
        self.len as u64
    }

    /// Whether the mapping is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the mapping was made writable.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// The address of the first byte (for diagnostics and for passing to other system calls).
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    fn check(&self, offset: u64, len: usize) -> Result<usize, OutOfBounds> {
        let err = OutOfBounds {
            offset,
            len: len as u64,
            size: self.len as u64,
        };
        let start = usize::try_from(offset).map_err(|_| err)?;
        match start.checked_add(len) {
            Some(end) if end <= self.len => Ok(start),
            _ => Err(err),
        }
    }

    /// Copies `buf.len()` bytes starting at `offset` into `buf`.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), OutOfBounds> {
        let start = self.check(offset, buf.len())?;
        // SAFETY: `check` proved `start + buf.len() <= self.len`, so the source range lies in
        // the mapping, which stays mapped while `self` lives; `buf` is a distinct local buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr.as_ptr().add(start), buf.as_mut_ptr(), buf.len())
        };
        Ok(())
    }

    /// Copies `data` into the mapping at `offset`.
    ///
    /// Fails with `InvalidInput` (carrying [`OutOfBounds`]) past the end, and with `EACCES` on
    /// a read-only mapping.
    pub fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let start = self.check(offset, data.len())?;
        if !self.writable {
            return Err(io::Error::from_raw_os_error(libc::EACCES));
        }
        // SAFETY: `check` proved the destination lies in the mapping, which is writable
        // (checked above) and mapped while `self` lives; `data` is a distinct buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(start), data.len())
        };
        Ok(())
    }

    /// Fills `[offset, offset+len)` with `byte`.
    pub fn fill(&self, offset: u64, len: u64, byte: u8) -> io::Result<()> {
        let len = usize::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let start = self.check(offset, len)?;
        if !self.writable {
            return Err(io::Error::from_raw_os_error(libc::EACCES));
        }
        // SAFETY: the range was bounds-checked and the mapping is writable and alive.
        unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(start), byte, len) };
        Ok(())
    }

    /// `msync(ptr, len, MS_SYNC)`—Writes a file-backed mapping's dirty pages to its file and
    /// waits. A no-op for shmem-backed memory (it has no backing file to write).
    ///
    /// # References
    /// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/msync.html)
    /// - [Linux](https://man7.org/linux/man-pages/man2/msync.2.html)
    pub fn flush(&self) -> io::Result<()> {
        if self.len == 0 || self.release == Release::Shmdt {
            return Ok(());
        }
        // SAFETY: ptr/len describe a live mapping owned by self; msync does not access memory
        // on our behalf beyond the kernel's page tables.
        unsafe { rustix::mm::msync(self.ptr.as_ptr().cast(), self.len, MsyncFlags::SYNC) }?;
        Ok(())
    }

    /// `madvise(MADV_POPULATE_WRITE)` or a read pass: faults every page in now ("prefault").
    pub fn prefault(&self) -> io::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        let advice = if self.writable {
            Advice::LinuxPopulateWrite
        } else {
            Advice::LinuxPopulateRead
        };
        // SAFETY: ptr/len describe a live mapping owned by self; madvise only changes the
        // kernel's page tables for that range.
        unsafe { rustix::mm::madvise(self.ptr.as_ptr().cast(), self.len, advice) }?;
        Ok(())
    }
}

impl Mapping {
    /// `madvise(MADV_POPULATE_WRITE | MADV_POPULATE_READ)` like [`Mapping::prefault`], for the
    /// pages that hold `[offset, offset+len)` only, so several threads can populate one large
    /// mapping side by side.
    ///
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man2/madvise.2.html)
    pub fn prefault_range(&self, offset: u64, len: u64) -> io::Result<()> {
        let page = super::page_size();
        let start = offset - offset % page;
        let end = offset.saturating_add(len).min(self.len as u64);
        if start >= end {
            return Ok(());
        }
        let start_us = self.check(start, 0)?;
        let span =
            usize::try_from(end - start).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let advice = if self.writable {
            Advice::LinuxPopulateWrite
        } else {
            Advice::LinuxPopulateRead
        };
        // SAFETY: `start` is page-aligned within the mapping (the mapping itself starts on a
        // page boundary) and `start + span <= len`, so the range lies in the live mapping that
        // `self` owns; madvise only changes the kernel's page tables for it.
        unsafe { rustix::mm::madvise(self.ptr.as_ptr().add(start_us).cast(), span, advice) }?;
        Ok(())
    }
}

impl Mapping {
    /// `mincore(addr, len, vec)`—Which pages of `[offset, offset+len)` are in memory: one
    /// byte per page into `out` (cleared first), bit 0 set for a resident page.
    ///
    /// For shared memory a page that is not resident is either a hole (never written: it
    /// reads as zeros) or swapped out; where the object has nothing in swap, it is a hole, and
    /// a reader can skip it instead of faulting in a fresh zero page.
    ///
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man2/mincore.2.html)
    pub fn residency(&self, offset: u64, len: u64, out: &mut Vec<u8>) -> io::Result<()> {
        out.clear();
        let page = super::page_size();
        if offset % page != 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let len_us =
            usize::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let start = self.check(offset, len_us)?;
        if len_us == 0 {
            return Ok(());
        }
        let pages = usize::try_from(len.div_ceil(page))
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        out.resize(pages, 0);
        // SAFETY: `start` is page-aligned (checked) inside the live mapping and
        // `start + len <= self.len` (checked), so the range is mapped; `out` has exactly one
        // writable byte per page of that range, as mincore requires.
        super::cvt(unsafe {
            libc::mincore(
                self.ptr.as_ptr().add(start).cast(),
                len_us,
                out.as_mut_ptr().cast(),
            )
        })
        .map(drop)
    }

    /// `madvise(ptr, len, MADV_PAGEOUT)`—Asks the kernel to reclaim these pages now, as memory
    /// pressure would: clean file pages are dropped, shmem and anonymous pages go to swap (where
    /// swap is on; without swap they stay). Pages that other processes also map are left alone.
    ///
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man2/madvise.2.html)
    pub fn pageout(&self) -> io::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        // SAFETY: ptr/len describe a live mapping owned by self; MADV_PAGEOUT only moves pages
        // out of memory, their contents stay reachable through the same addresses.
        unsafe { rustix::mm::madvise(self.ptr.as_ptr().cast(), self.len, Advice::LinuxPageOut) }?;
        Ok(())
    }

    /// `mincore(ptr, len, vec)`—How many bytes of this mapping are resident in memory now
    /// (whole pages; for a file mapping, whether the file's pages are in the page cache).
    ///
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man2/mincore.2.html)
    pub fn resident_bytes(&self) -> io::Result<u64> {
        if self.len == 0 {
            return Ok(0);
        }
        let page = super::page_size();
        let pages = (self.len as u64).div_ceil(page);
        let pages =
            usize::try_from(pages).map_err(|_| io::Error::from_raw_os_error(libc::ENOMEM))?;
        let mut vec = vec![0u8; pages];
        // SAFETY: ptr/len describe a live, page-aligned mapping owned by self; `vec` holds one
        // byte per page of that range, as mincore requires, and outlives the call.
        super::cvt(unsafe { libc::mincore(self.ptr.as_ptr().cast(), self.len, vec.as_mut_ptr()) })?;
        let resident = vec.iter().filter(|b| **b & 1 == 1).count() as u64;
        Ok(resident * page)
    }
}

impl From<OutOfBounds> for io::Error {
    fn from(e: OutOfBounds) -> Self {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        match self.release {
            // SAFETY: the range came from mmap (constructor's contract) and is unmapped once,
            // here; nothing can use it after drop.
            Release::Munmap if self.len > 0 => unsafe {
                let _ = rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len);
            },
            Release::Munmap => {}
            // SAFETY: the address came from shmat (constructor's contract) and is detached
            // once, here.
            Release::Shmdt => unsafe {
                libc::shmdt(self.ptr.as_ptr().cast());
            },
        }
    }
}

/// `mmap(NULL, len, prot, MAP_SHARED, fd, 0)`—Maps `len` bytes of a file or shmem object.
///
/// `len == 0` yields an empty mapping without calling the kernel (mmap refuses zero lengths).
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/mmap.html)
/// - [Linux](https://man7.org/linux/man-pages/man2/mmap.2.html)
pub fn map_shared_fd(
    fd: std::os::fd::BorrowedFd<'_>,
    len: u64,
    writable: bool,
) -> io::Result<Mapping> {
    let len = usize::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::ENOMEM))?;
    if len == 0 {
        return Ok(empty(writable));
    }
    let prot = if writable {
        ProtFlags::READ | ProtFlags::WRITE
    } else {
        ProtFlags::READ
    };
    // SAFETY: a NULL hint lets the kernel choose a fresh range, so no existing memory of ours
    // is replaced; the fd is borrowed for the call only (the mapping keeps its own reference).
    let ptr =
        unsafe { rustix::mm::mmap(std::ptr::null_mut(), len, prot, MapFlags::SHARED, fd, 0) }?;
    own_mmap(ptr, len, writable)
}

/// `mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, -1, 0)`—Shared anonymous
/// memory: shmem that lives while any process (this one, or a child after fork) maps it.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/mmap.2.html)
pub fn map_shared_anonymous(len: u64) -> io::Result<Mapping> {
    let len = usize::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::ENOMEM))?;
    if len == 0 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: anonymous mapping with a NULL hint: a fresh range, no fd involved.
    let ptr = unsafe {
        rustix::mm::mmap_anonymous(
            std::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED,
        )
    }?;
    own_mmap(ptr, len, true)
}

fn own_mmap(ptr: *mut std::ffi::c_void, len: usize, writable: bool) -> io::Result<Mapping> {
    let ptr =
        NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
    // SAFETY: ptr/len come from a successful mmap just above and are owned by the new Mapping.
    Ok(unsafe { Mapping::from_raw(ptr, len, writable, false) })
}

/// A mapping of nothing: it owns no memory, so it needs no `mmap` behind it (every access is
/// bounds-checked against length 0, and `Drop` unmaps nothing of length 0).
fn empty(writable: bool) -> Mapping {
    Mapping {
        ptr: NonNull::dangling(),
        len: 0,
        writable,
        release: Release::Munmap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn two_mappings_of_one_memfd_share_their_bytes_and_bounds_hold() {
        let page = super::super::page_size();
        let fd = super::super::memfd::memfd_create("shmkit-mapping-test", false, false).unwrap();
        rustix::fs::ftruncate(&fd, 4 * page).unwrap();
        let writer = map_shared_fd(fd.as_fd(), 4 * page, true).unwrap();
        let reader = map_shared_fd(fd.as_fd(), 4 * page, false).unwrap();
        assert_eq!(reader.resident_bytes().unwrap(), 0, "nothing written yet");
        writer.write_at(page + 3, b"shared").unwrap();
        let mut got = [0u8; 6];
        reader.read_at(page + 3, &mut got).unwrap();
        assert_eq!(&got, b"shared");
        assert_eq!(reader.resident_bytes().unwrap(), page, "one page touched");
        let mut pages = Vec::new();
        reader.residency(0, 4 * page, &mut pages).unwrap();
        assert_eq!(
            pages.iter().map(|p| p & 1).collect::<Vec<_>>(),
            [0, 1, 0, 0]
        );
        writer.prefault_range(2 * page, 1).unwrap();
        assert_eq!(reader.resident_bytes().unwrap(), 2 * page);
        writer.prefault().unwrap();
        assert_eq!(reader.resident_bytes().unwrap(), 4 * page);
        writer.fill(0, 2, b'z').unwrap();
        reader.read_at(0, &mut got[..2]).unwrap();
        assert_eq!(&got[..2], b"zz");
        writer.flush().unwrap();
        writer.pageout().unwrap();

        let past = reader.read_at(4 * page - 2, &mut got).unwrap_err();
        assert_eq!(
            (past.offset, past.len, past.size),
            (4 * page - 2, 6, 4 * page)
        );
        assert!(reader.read_at(u64::MAX, &mut got).is_err());
        let e = writer.write_at(4 * page, b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = reader.write_at(0, b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EACCES), "read-only mapping");
        let e = reader.fill(0, 1, 0).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EACCES));
    }

    #[test]
    fn empty_and_anonymous_mappings() {
        let fd = super::super::memfd::memfd_create("shmkit-mapping-empty", false, false).unwrap();
        let empty = map_shared_fd(fd.as_fd(), 0, true).unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.resident_bytes().unwrap(), 0);
        empty.prefault().unwrap();
        empty.flush().unwrap();
        assert!(empty.write_at(0, b"x").is_err());
        empty.write_at(0, b"").unwrap();

        let e = map_shared_anonymous(0).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        let anon = map_shared_anonymous(8192).unwrap();
        assert!(anon.is_writable());
        anon.write_at(8000, b"end").unwrap();
        let mut got = [0u8; 3];
        anon.read_at(8000, &mut got).unwrap();
        assert_eq!(&got, b"end");
        // What cannot be mapped (a directory) is an error from the kernel, not a bad pointer.
        let dir = std::fs::File::open("/").unwrap();
        let e = map_shared_fd(dir.as_fd(), 4096, false).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
    }
}
