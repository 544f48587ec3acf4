//! inotify: told when a file in a watched directory is opened, so a live scan knows that an
//! object it last saw unheld may have a holder now without walking every process again.
//!
//! # Safety
//!
//! `inotify_init1` takes integers; `inotify_add_watch` takes a
//! NUL-terminated path that lives across the call; `read` fills a local byte buffer whose
//! length is passed with it, and the events are decoded from the bytes the kernel reported
//! written, each header copied out with an unaligned read after checking it fits.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// `IN_OPEN`: a file (or the directory itself) was opened.
pub const IN_OPEN: u32 = libc::IN_OPEN;
/// `IN_CLOSE_WRITE | IN_CLOSE_NOWRITE`: an open file was released (its last descriptor
/// closed and its last mapping gone: a mapping keeps the open file alive).
pub const IN_CLOSE: u32 = libc::IN_CLOSE_WRITE | libc::IN_CLOSE_NOWRITE;
/// `IN_MOVED_TO`: a file was renamed into the directory.
pub const IN_MOVED_TO: u32 = libc::IN_MOVED_TO;
/// `IN_Q_OVERFLOW`: events were lost because the queue was full.
pub const IN_Q_OVERFLOW: u32 = libc::IN_Q_OVERFLOW;
/// `IN_IGNORED`: the watch was removed (its directory was deleted or unmounted).
pub const IN_IGNORED: u32 = libc::IN_IGNORED;
/// `IN_ISDIR`: the subject of the event is a directory.
pub const IN_ISDIR: u32 = libc::IN_ISDIR;

/// One event: the watch it came from, its mask, and the name of the file in the watched
/// directory (empty when the event is about the directory itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The watch descriptor `add_watch` returned.
    pub wd: i32,
    /// What happened (`IN_*` bits).
    pub mask: u32,
    /// The file's name in the directory, as bytes.
    pub name: Vec<u8>,
}

/// An inotify instance (non-blocking, close-on-exec); closed on drop.
#[derive(Debug)]
pub struct Inotify {
    fd: OwnedFd,
}

impl Inotify {
    /// `inotify_init1(IN_NONBLOCK | IN_CLOEXEC)`—A new instance.
    ///
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man2/inotify_init1.2.html)
    pub fn new() -> io::Result<Inotify> {
        // SAFETY: inotify_init1 takes flags only and returns a new descriptor or -1.
        let fd = super::cvt(unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) })?;
        // SAFETY: `fd` was just returned by the kernel and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Inotify { fd })
    }

    /// `inotify_add_watch(fd, path, mask)`—Watches `path` (a directory: events name the file
    /// inside it). Watching the same inode again returns the same descriptor.
    ///
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man2/inotify_add_watch.2.html)
    pub fn add_watch(&self, path: &Path, mask: u32) -> io::Result<i32> {
        let c_path = super::cstring(path.as_os_str().as_encoded_bytes())?;
        // SAFETY: `c_path` is NUL-terminated and outlives the call; the descriptor is ours.
        super::cvt(unsafe {
            libc::inotify_add_watch(
                self.fd.as_raw_fd(),
                c_path.as_ptr(),
                mask | libc::IN_ONLYDIR,
            )
        })
    }

    /// Reads every event queued now, without waiting.
    ///
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man7/inotify.7.html)
    pub fn drain(&self) -> io::Result<Vec<Event>> {
        const HEADER: usize = std::mem::size_of::<libc::inotify_event>();
        let mut events = Vec::new();
        // Room for many events at once; the kernel never splits one across reads.
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: `buf` is a writable allocation of `buf.len()` bytes that outlives the
            // call; the kernel writes at most that many.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast::<libc::c_void>(),
                    buf.len(),
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.raw_os_error() {
                    Some(libc::EAGAIN) => Ok(events),
                    Some(libc::EINTR) => continue,
                    _ => Err(e),
                };
            }
            let n = usize::try_from(n).unwrap_or(0);
            if n == 0 {
                return Ok(events);
            }
            let mut at = 0;
            while at + HEADER <= n {
                // SAFETY: `at + HEADER <= n <= buf.len()`, so the header's bytes are inside
                // what the kernel wrote; read_unaligned makes no alignment demand.
                let ev = unsafe {
                    std::ptr::read_unaligned(buf.as_ptr().add(at).cast::<libc::inotify_event>())
                };
                let len = ev.len as usize;
                let end = (at + HEADER).saturating_add(len).min(n);
                let raw = &buf[at + HEADER..end];
                // The name is padded with NULs to an aligned length.
                let name = raw.split(|&b| b == 0).next().unwrap_or_default().to_vec();
                events.push(Event {
                    wd: ev.wd,
                    mask: ev.mask,
                    name,
                });
                at = end;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_in_a_watched_directory_names_the_file() {
        let dir = std::env::temp_dir().join(format!("shmkit-inotify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        struct Cleanup(std::path::PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let _cleanup = Cleanup(dir.clone());
        std::fs::write(dir.join("watched"), b"x").unwrap();
        let ino = Inotify::new().unwrap();
        let wd = ino.add_watch(&dir, IN_OPEN).unwrap();
        assert!(ino.drain().unwrap().is_empty());
        drop(std::fs::File::open(dir.join("watched")).unwrap());
        let events = ino.drain().unwrap();
        assert!(
            events
                .iter()
                .any(|e| e.wd == wd && e.mask & IN_OPEN != 0 && e.name == b"watched"),
            "{events:?}"
        );
        assert!(
            ino.add_watch(&dir.join("watched"), IN_OPEN).is_err(),
            "not a directory"
        );
    }
}
