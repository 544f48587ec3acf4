//! Processes: `kill`, to pass a signal on to a child (`shmkit run` forwards SIGTERM/SIGINT).
//!
//! # Safety
//!
//! `kill` takes two integers and no pointers.

use std::io;

/// `kill(pid, signal)`—Sends `signal` to process `pid`.
///
/// `pid` must be a single process (greater than 0): process groups and "every process" (0, -1)
/// are refused with `EINVAL` rather than passed to the kernel, so a stray 0 cannot signal our
/// own group.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/kill.html)
/// - [Linux](https://man7.org/linux/man-pages/man2/kill.2.html)
pub fn kill(pid: u32, signal: i32) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: kill takes plain integers; a bad pid or signal is reported as ESRCH/EINVAL.
    super::cvt(unsafe { libc::kill(pid, signal) }).map(drop)
}
