//! Reading files relative to an open directory (`openat`, `readlinkat`, `fstatat`, `readdir`).
//!
//! The scan reads a handful of files of every process: resolving `/proc/PID/fd/N` from the
//! root for each of them walks `/proc`, the pid and `fd` again every time, and that walk costs
//! more than the read. Opening `/proc/PID` once and naming its files relative to it leaves one
//! path component per call.
//!
//! # Safety
//!
//! Names are NUL-terminated C strings that outlive each call; buffers handed to the kernel are
//! the spare capacity of a `Vec` with its true length; `DIR` streams are owned by a guard that
//! closes them exactly once.

use super::{cstring, cvt};
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

/// What `fstat` tells of a file: the fields the scan uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// The device holding it (`st_dev`, as glibc's `makedev` packs it).
    pub dev: u64,
    /// Its inode number.
    pub ino: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Bytes allocated to it (`st_blocks * 512`).
    pub allocated: u64,
    /// File type and permission bits (`st_mode`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Last modification (unix seconds).
    pub mtime: i64,
}

impl FileStat {
    /// Whether it is a regular file.
    pub fn is_file(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }

    fn from_raw(st: &libc::stat) -> FileStat {
        FileStat {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            size: u64::try_from(st.st_size).unwrap_or(0),
            allocated: u64::try_from(st.st_blocks).unwrap_or(0).saturating_mul(512),
            mode: st.st_mode as u32,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            mtime: st.st_mtime as i64,
        }
    }
}

/// `open(path, O_RDONLY|O_DIRECTORY|O_CLOEXEC)`—Opens a directory for the `*_at` calls here.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/open.2.html)
pub fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let c_path = cstring(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: `c_path` is NUL-terminated and outlives the call; open takes no other pointer.
    let fd = cvt(unsafe {
        libc::open(
            c_path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: open returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `openat(dir, name, O_RDONLY|O_CLOEXEC)`—Opens a file relative to a directory.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/openat.2.html)
pub fn open_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `name` is NUL-terminated and outlives the call; `dir` is an open descriptor.
    let fd = cvt(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: openat returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `openat(dir, name, O_RDONLY|O_CLOEXEC)`, `read` until end of file, `close`—Reads a whole
/// file into `buf` (cleared first) without asking its size first: `/proc` files say 0.
///
/// # References
/// - [Linux openat](https://man7.org/linux/man-pages/man2/openat.2.html)
/// - [Linux read](https://man7.org/linux/man-pages/man2/read.2.html)
pub fn read_at(dir: BorrowedFd<'_>, name: &CStr, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    // SAFETY: `name` is NUL-terminated and outlives the call; `dir` is an open descriptor.
    let fd = cvt(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: openat returned a new descriptor that nothing else owns; it closes on drop.
    let file = unsafe { OwnedFd::from_raw_fd(fd) };
    loop {
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(buf.capacity().max(16 * 1024));
        }
        let spare = buf.spare_capacity_mut();
        // SAFETY: the kernel writes at most `spare.len()` bytes into the spare capacity, which
        // belongs to `buf` and is not aliased during the call.
        let n = unsafe {
            libc::read(
                file.as_raw_fd(),
                spare.as_mut_ptr().cast::<libc::c_void>(),
                spare.len(),
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            return Ok(());
        }
        let n = n as usize;
        // SAFETY: read initialised the first `n` bytes of the spare capacity.
        unsafe { buf.set_len(buf.len() + n) };
    }
}

/// `readlinkat(dir, name)`—The target of a symbolic link (a `/proc/PID/fd/N` or
/// `/proc/PID/ns/ipc`) into `buf` (cleared first), however long.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/readlinkat.2.html)
pub fn readlink_at(dir: BorrowedFd<'_>, name: &CStr, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    if buf.capacity() < 256 {
        buf.reserve(256);
    }
    loop {
        let cap = buf.capacity();
        // SAFETY: the kernel writes at most `cap` bytes into `buf`'s allocation, which is not
        // aliased during the call; `name` is NUL-terminated and outlives it.
        let n = unsafe {
            libc::readlinkat(
                dir.as_raw_fd(),
                name.as_ptr(),
                buf.as_mut_ptr().cast::<libc::c_char>(),
                cap,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        if n < cap {
            // SAFETY: readlinkat initialised the first `n` bytes.
            unsafe { buf.set_len(n) };
            return Ok(());
        }
        // The target may have been cut to the buffer: grow and ask again.
        buf.reserve(cap * 2);
    }
}

/// `fstatat(dir, name, &st, 0)`—Stats what `name` names, following a symbolic link (through
/// `/proc/PID/fd/N` this is the open file itself, even unlinked).
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fstatat.2.html)
pub fn stat_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<FileStat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `name` is NUL-terminated and outlives the call; `st` is a writable `stat` the
    // kernel fills on success.
    cvt(unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), st.as_mut_ptr(), 0) })?;
    // SAFETY: fstatat returned 0, so it initialised the whole struct.
    Ok(FileStat::from_raw(&unsafe { st.assume_init() }))
}

/// `fstatat(dir, name, &st, 0)`, the link count only: for `/proc/PID/task` that is two plus
/// the number of threads, which tells a multi-threaded process without listing its tasks.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fstatat.2.html)
pub fn nlink_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<u64> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `name` is NUL-terminated and outlives the call; `st` is a writable `stat` the
    // kernel fills on success.
    cvt(unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), st.as_mut_ptr(), 0) })?;
    // SAFETY: fstatat returned 0, so it initialised the whole struct.
    let st = unsafe { st.assume_init() };
    // nlink_t is u64 on x86_64 and u32 on other architectures.
    #[allow(clippy::useless_conversion)]
    Ok(u64::from(st.st_nlink))
}

/// `fstat(fd, &st)`—Stats an open file or directory.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fstat.2.html)
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<FileStat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `st` is a writable `stat` the kernel fills on success; fd is open.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat returned 0, so it initialised the whole struct.
    Ok(FileStat::from_raw(&unsafe { st.assume_init() }))
}

/// The longest record `getdents64` can produce: its 19-byte header, a 255-byte name, a NUL,
/// padded to 8 bytes.
const MAX_DIRENT: usize = 280;

/// `openat(dir, name, O_DIRECTORY)`, `getdents64` until the end—Calls `each` with the name of
/// every entry but `.` and `..`, and the directory's descriptor, for `*_at` calls on the
/// entry.
///
/// A directory of `/proc` fills the buffer until it holds no more: a batch that leaves room
/// for one more record was the last, and the call that would only say "end" is skipped
/// (`last_batch_is_short`: set it only for such directories).
///
/// # References
/// - [Linux getdents64](https://man7.org/linux/man-pages/man2/getdents64.2.html)
pub fn for_each_entry_at(
    dir: BorrowedFd<'_>,
    name: &CStr,
    last_batch_is_short: bool,
    mut each: impl FnMut(&CStr, BorrowedFd<'_>),
) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and outlives the call; `dir` is an open descriptor.
    let fd = cvt(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: openat returned a new descriptor that nothing else owns; it closes on drop.
    let sub = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut buf = [0u8; 16 * 1024];
    loop {
        // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, a local array not
        // aliased during the call.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                sub.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        if n == 0 {
            return Ok(());
        }
        let mut records = buf.get(..n).unwrap_or_default();
        // linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, then the NUL-ended name.
        while let Some(reclen) = records.get(16..18) {
            let reclen = usize::from(u16::from_ne_bytes([reclen[0], reclen[1]]));
            let Some(record) = records.get(..reclen).filter(|_| reclen > 19) else {
                return Err(io::Error::from_raw_os_error(libc::EIO));
            };
            if let Ok(entry) = CStr::from_bytes_until_nul(&record[19..]) {
                let bytes = entry.to_bytes();
                if bytes != b"." && bytes != b".." {
                    each(entry, sub.as_fd());
                }
            }
            records = &records[reclen..];
        }
        if last_batch_is_short && n + MAX_DIRENT <= buf.len() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_at_reads_a_proc_file_whole_and_stat_at_follows_links() {
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("f"), &big).unwrap();
        std::os::unix::fs::symlink("f", dir.path().join("l")).unwrap();
        let fd = open_dir(dir.path()).unwrap();
        let mut buf = Vec::new();
        read_at(fd.as_fd(), c"f", &mut buf).unwrap();
        assert_eq!(buf, big);
        readlink_at(fd.as_fd(), c"l", &mut buf).unwrap();
        assert_eq!(buf, b"f");
        let st = stat_at(fd.as_fd(), c"l").unwrap();
        assert!(st.is_file());
        assert_eq!(st.size, 100_000);
        assert!(!fstat(fd.as_fd()).unwrap().is_file());
        // /proc/self/maps reports size 0 but has content.
        let proc_self = open_dir(Path::new("/proc/self")).unwrap();
        read_at(proc_self.as_fd(), c"maps", &mut buf).unwrap();
        assert!(buf.len() > 100 && buf.ends_with(b"\n"));
        readlink_at(proc_self.as_fd(), c"ns/ipc", &mut buf).unwrap();
        assert!(buf.starts_with(b"ipc:["));
    }

    #[test]
    fn for_each_entry_at_lists_names_without_dots_and_errors_stay_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        for n in ["a", "b c", "d\nx"] {
            std::fs::write(dir.path().join("d").join(n), n).unwrap();
        }
        let fd = open_dir(dir.path()).unwrap();
        let mut names = Vec::new();
        let mut buf = Vec::new();
        for_each_entry_at(fd.as_fd(), c"d", false, |name, d| {
            read_at(d, name, &mut buf).unwrap();
            assert_eq!(buf, name.to_bytes());
            names.push(name.to_string_lossy().into_owned());
        })
        .unwrap();
        names.sort();
        assert_eq!(names, vec!["a", "b c", "d\nx"]);
        let e = for_each_entry_at(fd.as_fd(), c"missing", false, |_, _| {}).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let e = read_at(fd.as_fd(), c"missing", &mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn a_proc_fd_listing_of_several_batches_misses_nothing() {
        // Enough descriptors that /proc/self/fd needs more than one 16 KiB batch (an entry
        // of a 3- or 4-digit name takes 24 bytes: 682 per batch), and few enough for the
        // soft limit of 1024 descriptors an ordinary user gets.
        let files: Vec<std::fs::File> = (0..900)
            .map(|_| std::fs::File::open("/dev/null").unwrap())
            .collect();
        let proc_self = open_dir(Path::new("/proc/self")).unwrap();
        let mut ours = Vec::new();
        for_each_entry_at(proc_self.as_fd(), c"fd", true, |name, _| {
            ours.push(name.to_string_lossy().parse::<i32>().unwrap());
        })
        .unwrap();
        for f in &files {
            assert!(ours.contains(&f.as_raw_fd()), "fd {} missed", f.as_raw_fd());
        }
        assert!(ours.len() >= files.len());
    }
}
