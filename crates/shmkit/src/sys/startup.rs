//! What a command-line process needs before its `main` runs, for a program that starts
//! without std's runtime (`#![no_main]`, as the `shmkit` binary does to start faster).
//!
//! std's runtime does three things before `main`: it makes sure descriptors 0, 1 and 2 are
//! open, ignores SIGPIPE, and finds the main thread's stack guard (glibc reads all of
//! `/proc/self/maps` for it) to print "has overflowed its stack". The first two matter and
//! are here. Without the third, a stack overflow still stops the process at the guard page,
//! with SIGSEGV instead of that message.
//!
//! # Safety
//!
//! `poll` gets a pointer to a local array and its length; `signal` gets `SIG_IGN`, no
//! handler of ours.

use std::io;

/// Opens `/dev/null` on each of descriptors 0, 1 and 2 that is closed.
///
/// A process started with, say, stdout closed would otherwise get descriptor 1 for the first
/// file it opens, and its output would go into that file. `poll` with no events reports a
/// closed descriptor as `POLLNVAL` in one call; `open` returns the lowest free descriptor, so
/// opening `/dev/null` fills the gaps in order.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/poll.html)
/// - [Linux](https://man7.org/linux/man-pages/man2/poll.2.html)
pub fn open_standard_streams() -> io::Result<()> {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    loop {
        // SAFETY: `fds` is a live local array of three `pollfd`s and its length is passed;
        // a zero timeout makes poll return at once.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
        if r >= 0 {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    for pollfd in fds {
        if pollfd.revents & libc::POLLNVAL != 0 {
            let null = rustix::fs::open(
                "/dev/null",
                rustix::fs::OFlags::RDWR,
                rustix::fs::Mode::empty(),
            )?;
            // The descriptor stays open for the life of the process, in the slot it filled.
            std::mem::forget(null);
        }
    }
    Ok(())
}

/// `signal(SIGPIPE, SIG_IGN)`—A write to a closed pipe fails with `EPIPE` instead of killing
/// the process, so the caller can end quietly (`shmkit ls | head -1`). Children started with
/// `std::process::Command` get the default action back.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/signal.html)
/// - [Linux](https://man7.org/linux/man-pages/man2/signal.2.html)
pub fn ignore_sigpipe() -> io::Result<()> {
    // SAFETY: SIG_IGN installs no handler of ours; nothing is read or written through a
    // pointer.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    if previous == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
