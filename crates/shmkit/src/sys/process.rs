//! Processes: `kill`, to pass a signal on to a child (`shmkit run` forwards SIGTERM/SIGINT);
//! `kcmp`, to tell whether two threads share one descriptor table (the scan reads a thread's
//! descriptors only when they differ from its process's).
//!
//! # Safety
//!
//! `kill` and `kcmp` (with `KCMP_FILES`) take integers and no pointers.

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

/// `kcmp(pid1, pid2, KCMP_FILES, 0, 0)`—Whether two tasks share one file descriptor table.
///
/// `Ok(true)` when they share it, `Ok(false)` when they do not (a thread that called
/// `unshare(CLONE_FILES)`, or a thread-group leader that exited and released its table).
/// Needs the right to ptrace-read both (root has it); `ENOSYS` on kernels without
/// `CONFIG_KCMP`.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/kcmp.2.html)
pub fn same_files(pid1: u32, pid2: u32) -> io::Result<bool> {
    const KCMP_FILES: libc::c_long = 2;
    let p1 = libc::pid_t::try_from(pid1).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let p2 = libc::pid_t::try_from(pid2).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: kcmp with KCMP_FILES takes two pids, a type and two unused integers; no
    // pointers, so no memory is read or written on our side.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            libc::c_long::from(p1),
            libc::c_long::from(p2),
            KCMP_FILES,
            0 as libc::c_long,
            0 as libc::c_long,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r == 0)
}
