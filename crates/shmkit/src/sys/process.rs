//! Processes: `kill` to pass a signal on to a child, a spawn whose child dies with its parent,
//! `waitpid(-1)` to reap every child (an init's job), `flock` for a lock that dies with its
//! holder, and `kcmp` to tell whether two threads share one descriptor table (the scan reads a
//! thread's descriptors only when they differ from its process's).
//!
//! # Safety
//!
//! `kill`, `waitpid`, `flock`, `prctl` and `getppid` go through rustix. `kcmp`, which rustix
//! lacks, takes integers and no pointers. The `pre_exec` hook (`unsafe` in std) runs in the
//! forked child before `exec`, where only async-signal-safe calls are allowed: it makes
//! exactly two raw system calls (`prctl`, `getppid`) and allocates nothing.

use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};

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
    let einval = || io::Error::from_raw_os_error(libc::EINVAL);
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(einval)?;
    let signal = rustix::process::Signal::from_named_raw(signal).ok_or_else(einval)?;
    rustix::process::kill_process(pid, signal)?;
    Ok(())
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

/// Spawns `command` so that the child gets `signal` when this process dies (even by SIGKILL):
/// `prctl(PR_SET_PDEATHSIG, signal)` in the child between `fork` and `exec`.
///
/// The parent may die after `fork` and before the `prctl`; the child then has already been
/// re-parented and would never get the signal, so it checks `getppid()` against the pid this
/// process had before the fork and does not exec if they differ (the spawn fails with
/// `ESRCH`, and nobody is left to see it).
///
/// The death signal fires when the *thread* that forked ends, not only the process: call this
/// from a thread that lives as long as the child should (the main thread).
/// The kernel clears it when the child execs a set-user-ID or set-group-ID binary or one with
/// file capabilities, and the child's own children do not inherit it.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/PR_SET_PDEATHSIG.2const.html)
pub fn spawn_dying_with_parent(command: &mut Command, signal: i32) -> io::Result<Child> {
    let parent = rustix::process::getpid();
    let signal = rustix::process::Signal::from_named_raw(signal)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: the hook runs in the child after fork; it makes only the prctl and getppid
    // system calls (rustix issues them directly, without libc's locks), touches no lock and
    // allocates nothing (io::Error from a raw errno holds no heap memory).
    unsafe {
        command.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(signal))?;
            if rustix::process::getppid() != Some(parent) {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    command.spawn()
}

/// `waitpid(-1, &status, WNOHANG)`—Reaps one child that has ended, whichever it is:
/// `Ok(Some((pid, status)))`, or `Ok(None)` when no child has ended yet or there are none.
///
/// As pid 1 of a pid namespace every orphan of the namespace becomes our child, and each one
/// that is not reaped stays a zombie: call this until it returns `None` at every SIGCHLD.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/waitpid.html)
/// - [Linux](https://man7.org/linux/man-pages/man2/waitpid.2.html)
pub fn reap_any() -> io::Result<Option<(u32, ExitStatus)>> {
    use rustix::io::Errno;
    use rustix::process::{waitpid, WaitOptions};
    loop {
        match waitpid(None, WaitOptions::NOHANG) {
            Ok(None) | Err(Errno::CHILD) => return Ok(None),
            Ok(Some((pid, status))) => {
                let pid = u32::try_from(pid.as_raw_nonzero().get()).unwrap_or(0);
                return Ok(Some((pid, ExitStatus::from_raw(status.as_raw()))));
            }
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// `flock(fd, LOCK_EX | LOCK_NB)`—Takes an exclusive advisory lock on an open file without
/// waiting: `Ok(false)` if another open file description holds it.
///
/// The lock belongs to the open file description: it holds across processes and pid
/// namespaces that see the same file, and the kernel drops it when the last descriptor
/// closes, also when its holder is killed.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/flock.2.html)
pub fn try_lock_exclusive(fd: BorrowedFd<'_>) -> io::Result<bool> {
    super::flock_exclusive(fd, false)
}
