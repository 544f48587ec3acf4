//! Reading files relative to an open directory (`openat`, `readlinkat`, `fstatat`, `getdents64`).
//!
//! The scan reads a handful of files of every process: resolving `/proc/PID/fd/N` from the
//! root for each of them walks `/proc`, the pid and `fd` again every time, and that walk costs
//! more than the read. Opening `/proc/PID` once and naming its files relative to it leaves one
//! path component per call.
//!
//! Every call goes through rustix (raw system calls, no `errno`): no `unsafe` here.

use std::ffi::CStr;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, Mode, OFlags, RawDir};
use rustix::io::Errno;

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

    fn from_raw(st: &rustix::fs::Stat) -> FileStat {
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
    Ok(rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// `openat(dir, name, O_RDONLY|O_CLOEXEC)`—Opens a file relative to a directory.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/openat.2.html)
pub fn open_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// `openat(dir, name, O_RDONLY|O_CLOEXEC)`, `read` until end of file, `close`—Reads a whole
/// file into `buf` (cleared first) without asking its size first: `/proc` files say 0.
///
/// # References
/// - [Linux openat](https://man7.org/linux/man-pages/man2/openat.2.html)
/// - [Linux read](https://man7.org/linux/man-pages/man2/read.2.html)
pub fn read_at(dir: BorrowedFd<'_>, name: &CStr, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    let file = open_at(dir, name)?;
    loop {
        // `spare_capacity` reads into what the Vec has allocated and never grows it, and a
        // read into no room returns 0, which would pass for the end of the file.
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(buf.capacity().max(16 * 1024));
        }
        match rustix::io::read(&file, rustix::buffer::spare_capacity(buf)) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
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
        let room = buf.capacity();
        let n = rustix::fs::readlinkat_raw(dir, name, rustix::buffer::spare_capacity(buf))?;
        if n < room {
            return Ok(());
        }
        // The target may have been cut to the buffer: grow and ask again.
        buf.clear();
        buf.reserve(room * 2);
    }
}

/// `fstatat(dir, name, &st, 0)`—Stats what `name` names, following a symbolic link (through
/// `/proc/PID/fd/N` this is the open file itself, even unlinked).
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fstatat.2.html)
pub fn stat_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<FileStat> {
    Ok(FileStat::from_raw(&rustix::fs::statat(
        dir,
        name,
        AtFlags::empty(),
    )?))
}

/// `fstatat(dir, name, &st, 0)`, the link count only: for `/proc/PID/task` that is two plus
/// the number of threads, which tells a multi-threaded process without listing its tasks.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fstatat.2.html)
pub fn nlink_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<u64> {
    let st = rustix::fs::statat(dir, name, AtFlags::empty())?;
    // st_nlink is u64 on x86_64 and u32 on other architectures.
    Ok(st.st_nlink as u64)
}

/// `fstat(fd, &st)`—Stats an open file or directory.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fstat.2.html)
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<FileStat> {
    Ok(FileStat::from_raw(&rustix::fs::fstat(fd)?))
}

/// The longest record `getdents64` can produce: its 19-byte header, a 255-byte name, a NUL,
/// padded to 8 bytes.
const MAX_DIRENT: usize = 280;

/// The size of the `linux_dirent64` record the kernel writes for a name of `name_len` bytes:
/// the 19-byte header (`u64` inode, `i64` offset, `u16` length, `u8` type), the name and its
/// NUL, rounded up to 8 bytes (`filldir64` in `fs/readdir.c`, the same for every filesystem).
fn dirent_len(name_len: usize) -> usize {
    (19 + name_len + 1).next_multiple_of(8)
}

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
    let sub = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut buf = [MaybeUninit::<u8>::uninit(); 16 * 1024];
    // RawDir starts its records at the first 8-byte-aligned byte of the buffer.
    let room = buf.len() - buf.as_ptr().align_offset(8).min(buf.len());
    let mut entries = RawDir::new(sub.as_fd(), &mut buf);
    // RawDir does not tell how many bytes a getdents64 call returned; the records of the
    // current batch add up to it.
    let mut batch = 0;
    loop {
        if entries.is_buffer_empty() {
            batch = 0;
        }
        let entry = match entries.next() {
            None => return Ok(()),
            Some(Err(Errno::INTR)) => continue,
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(entry)) => entry,
        };
        let entry_name = entry.file_name();
        let bytes = entry_name.to_bytes();
        batch += dirent_len(bytes.len());
        if bytes != b"." && bytes != b".." {
            each(entry_name, sub.as_fd());
        }
        if last_batch_is_short && entries.is_buffer_empty() && batch + MAX_DIRENT <= room {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

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
        // A target longer than the first buffer comes back whole, not cut.
        let long = "d/".repeat(1500) + "end";
        std::os::unix::fs::symlink(&long, dir.path().join("long")).unwrap();
        readlink_at(fd.as_fd(), c"long", &mut buf).unwrap();
        assert_eq!(buf, long.as_bytes());
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
