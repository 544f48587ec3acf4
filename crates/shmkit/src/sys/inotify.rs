//! inotify: told when a file in a watched directory is opened, so a live scan knows that an
//! object it last saw unheld may have a holder now without walking every process again.
//!
//! Through rustix (`rustix::fs::inotify`, whose reader decodes the event records): no `unsafe`
//! here.

use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
use rustix::io::Errno;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
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
        let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)?;
        Ok(Inotify { fd })
    }

    /// `inotify_add_watch(fd, path, mask)`—Watches `path` (a directory: events name the file
    /// inside it). Watching the same inode again returns the same descriptor.
    ///
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man2/inotify_add_watch.2.html)
    pub fn add_watch(&self, path: &Path, mask: u32) -> io::Result<i32> {
        let flags = WatchFlags::from_bits_retain(mask) | WatchFlags::ONLYDIR;
        Ok(inotify::add_watch(&self.fd, path, flags)?)
    }

    /// Reads every event queued now, without waiting.
    ///
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man7/inotify.7.html)
    pub fn drain(&self) -> io::Result<Vec<Event>> {
        let mut events = Vec::new();
        // Room for many events at once; the kernel never splits one across reads.
        let mut buf = vec![MaybeUninit::<u8>::uninit(); 64 * 1024];
        let mut reader = inotify::Reader::new(&self.fd, &mut buf);
        loop {
            match reader.next() {
                Ok(event) => events.push(Event {
                    wd: event.wd(),
                    mask: event.events().bits(),
                    // The kernel pads the name with NULs to an aligned length; the reader
                    // gives it up to the first.
                    name: event
                        .file_name()
                        .map(|n| n.to_bytes().to_vec())
                        .unwrap_or_default(),
                }),
                Err(Errno::AGAIN) => return Ok(events),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
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
        // Names of every length come back whole, without the NULs that pad them to 16 bytes,
        // and in the order of the opens.
        let names = [
            "a",
            "fifteen-bytes-x",
            "sixteen-bytes-xy",
            "seventeen-bytes-x",
        ];
        for n in names {
            std::fs::write(dir.join(n), b"x").unwrap();
        }
        ino.drain().unwrap();
        for n in names {
            drop(std::fs::File::open(dir.join(n)).unwrap());
        }
        let opened: Vec<Vec<u8>> = ino
            .drain()
            .unwrap()
            .into_iter()
            .filter(|e| e.wd == wd && e.mask & IN_OPEN != 0)
            .map(|e| e.name)
            .collect();
        let expected: Vec<Vec<u8>> = names.iter().map(|n| n.as_bytes().to_vec()).collect();
        assert_eq!(opened, expected);
    }
}
