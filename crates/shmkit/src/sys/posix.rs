//! POSIX shared memory: `shm_open`, `shm_unlink`.
//!
//! An object is a file in `/dev/shm` (tmpfs): it lives until unlinked, or until that tmpfs is
//! unmounted (a container's private /dev/shm dies with the container).
//!
//! On Linux glibc's `shm_open(NAME, flags, mode)` is `open("/dev/shm/NAME", flags | O_NOFOLLOW
//! | O_CLOEXEC, mode)` after dropping the leading slashes of NAME and refusing an empty name or
//! one with another slash (`EINVAL`), with `EISDIR` reported as `EINVAL`; `shm_unlink` is
//! `unlink("/dev/shm/NAME")` with `EPERM` reported as `EACCES`. Both are done here the same
//! way through rustix, so no `unsafe` is needed; rustix's own `shm::open` would not add
//! `O_NOFOLLOW` or allow `O_NONBLOCK`.

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// Where glibc keeps POSIX shared memory objects on Linux (`SHMDIR`).
const SHM_DIR: &str = "/dev/shm/";

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

/// The file behind a POSIX name, as glibc builds it: `/dev/shm/` and the name without its
/// leading slashes. `EINVAL` for a name that is empty then, holds another slash or a NUL;
/// `ENAMETOOLONG` beyond `NAME_MAX` bytes.
fn object_path(name: &str) -> io::Result<PathBuf> {
    let bare = name.trim_start_matches('/');
    if bare.is_empty() || bare.contains(['/', '\0']) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    if bare.len() > libc::NAME_MAX as usize {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    Ok(PathBuf::from(format!("{SHM_DIR}{bare}")))
}

/// `open("/dev/shm/NAME", flags | O_NOFOLLOW | O_CLOEXEC, mode)`, as glibc's `shm_open` does.
fn open_object(name: &str, flags: OFlags, mode: u32) -> io::Result<OwnedFd> {
    let path = object_path(name)?;
    let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::open(&path, flags, Mode::from_raw_mode(mode & 0o7777)) {
        Ok(fd) => Ok(fd),
        // A directory is one more name unfit for an object; POSIX has no EISDIR here.
        Err(Errno::ISDIR) => Err(io::Error::from_raw_os_error(libc::EINVAL)),
        Err(e) => Err(e.into()),
    }
}

/// `shm_open(name, flags | O_NOFOLLOW | O_CLOEXEC, mode)`—Opens a shared memory object.
///
/// `name` is the POSIX name with its one leading `/` (for example `/orders`); this opens
/// `/dev/shm/orders`, as glibc does. Callers validate names first (see `crate::address`).
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/shm_open.html)
/// - [Linux](https://man7.org/linux/man-pages/man3/shm_open.3.html)
pub fn shm_open(name: &str, how: OpenMode, mode: u32) -> io::Result<OwnedFd> {
    let flags = match how {
        OpenMode::ReadOnly => OFlags::RDONLY,
        OpenMode::ReadWrite => OFlags::RDWR,
        OpenMode::CreateExclusive => OFlags::RDWR | OFlags::CREATE | OFlags::EXCL,
        OpenMode::CreateOrOpen => OFlags::RDWR | OFlags::CREATE,
    };
    open_object(name, flags, mode)
}

/// `shm_unlink(name)`—Removes the name; the memory goes when the last holder unmaps or closes.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/shm_unlink.html)
pub fn shm_unlink(name: &str) -> io::Result<()> {
    let path = object_path(name)?;
    match rustix::fs::unlink(&path) {
        Ok(()) => Ok(()),
        // unlink says EPERM where POSIX's shm_unlink says EACCES (glibc translates it too).
        Err(Errno::PERM) => Err(io::Error::from_raw_os_error(libc::EACCES)),
        Err(e) => Err(e.into()),
    }
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
    let access = if writable {
        OFlags::RDWR
    } else {
        OFlags::RDONLY
    };
    open_object(name, access | OFlags::NONBLOCK, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A name no other test or process uses.
    fn unique_name() -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        format!(
            "/shmkit-sys-posix-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Unlinks the object on drop, also when an assertion fails.
    struct Unlink(String);
    impl Drop for Unlink {
        fn drop(&mut self) {
            let _ = shm_unlink(&self.0);
        }
    }

    #[test]
    fn names_are_refused_as_glibc_refuses_them() {
        for bad in ["", "/", "//", "/a/b", "/a\0b"] {
            let e = shm_open(bad, OpenMode::ReadOnly, 0).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{bad:?}");
            let e = shm_unlink(bad).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{bad:?}");
        }
        let long = format!("/{}", "x".repeat(256));
        let e = shm_open(&long, OpenMode::ReadOnly, 0).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENAMETOOLONG));
        // "/.." names /dev/shm's parent, a directory: EINVAL, as glibc maps EISDIR.
        let e = shm_open("/..", OpenMode::ReadWrite, 0).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn an_object_is_a_dev_shm_file_of_the_given_mode_and_refuses_a_symbolic_link() {
        if !std::path::Path::new(SHM_DIR).is_dir() {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"skipped sys::posix test: no /dev/shm on this machine\n",
            );
            return;
        }
        let name = unique_name();
        let fd = shm_open(&name, OpenMode::CreateExclusive, 0o600).unwrap();
        let _unlink = Unlink(name.clone());
        let st = super::super::dir::fstat(fd.as_fd()).unwrap();
        assert!(st.is_file());
        assert_eq!(st.mode & 0o7777, 0o600 & !umask());
        let on_disk = std::fs::metadata(format!("/dev/shm{name}")).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::ino(&on_disk), st.ino);
        let flags = rustix::io::fcntl_getfd(&fd).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
        let e = shm_open(&name, OpenMode::CreateExclusive, 0o600).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
        drop(shm_open_existing_nonblocking(&name, true).unwrap());

        // A symbolic link planted under a name is never followed.
        let link = unique_name();
        std::os::unix::fs::symlink(format!("/dev/shm{name}"), format!("/dev/shm{link}")).unwrap();
        let _unlink_link = Unlink(link.clone());
        for how in [OpenMode::ReadOnly, OpenMode::CreateOrOpen] {
            let e = shm_open(&link, how, 0o600).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{how:?}");
        }
        let e = shm_open_existing_nonblocking(&link, false).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));

        shm_unlink(&name).unwrap();
        let e = shm_unlink(&name).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        let e = shm_open(&name, OpenMode::ReadOnly, 0).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }

    /// This process's umask, from `/proc/self/status` (setting it to read it back would race
    /// with tests that create files on other threads).
    fn umask() -> u32 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
        u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
    }
}
