//! Namespaces: `unshare` and `setns`, the container restart without Docker, and the way into
//! a container's IPC and mount namespaces from the host.
//!
//! Two kernel rules shape this module:
//! - `setns(CLONE_NEWIPC)` moves only the calling thread, in any process, so a scan enters
//!   each IPC namespace on a helper thread of its own ([`on_thread_in_ipc`]) and the rest of
//!   the process stays where it was.
//! - `setns(CLONE_NEWNS)` fails with `EINVAL` in a multi-threaded process, so it is only done
//!   early in `main` ([`enter`]); a scan walks another mount namespace through
//!   `/proc/PID/root` instead.
//!
//! `/proc/sysvipc/shm` lists the segments of the IPC namespace of the thread that *opens* it
//! (the namespace is taken at open), not of the process that mounted `/proc`.
//!
//! # Safety
//!
//! Every call goes through rustix. Its `unshare` is `unsafe` because of `CLONE_FILES`, which
//! this module never passes.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

/// `unshare(CLONE_NEWIPC)`—Moves this process into a new, empty IPC namespace: no System V
/// segments, semaphores or queues. Needs `CAP_SYS_ADMIN`. Affects the calling thread only in a
/// multi-threaded process, so call it in a single-threaded child.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/unshare.2.html)
pub fn unshare_ipc() -> io::Result<()> {
    use rustix::thread::{unshare_unsafe, UnshareFlags};
    // SAFETY: rustix marks unshare unsafe for CLONE_FILES only (a thread would lose the
    // descriptors others hold); a new IPC namespace leaves the descriptor table alone.
    unsafe { unshare_unsafe(UnshareFlags::NEWIPC) }?;
    Ok(())
}

/// `setns(fd, CLONE_NEWIPC)`—Joins the IPC namespace that `fd` (an open
/// `/proc/PID/ns/ipc`) names.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/setns.2.html)
pub fn setns_ipc(fd: BorrowedFd<'_>) -> io::Result<()> {
    use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};
    move_into_link_name_space(fd, Some(LinkNameSpaceType::InterProcessCommunication))?;
    Ok(())
}

/// `setns(fd, CLONE_NEWNS)`—Joins the mount namespace that `fd` (an open `/proc/PID/ns/mnt`)
/// names; the root and working directory become that namespace's root. `EINVAL` in a
/// multi-threaded process.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/setns.2.html)
pub fn setns_mnt(fd: BorrowedFd<'_>) -> io::Result<()> {
    use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};
    move_into_link_name_space(fd, Some(LinkNameSpaceType::Mount))?;
    Ok(())
}

/// `unshare(CLONE_NEWNS)` then `mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL)`—Moves the
/// calling thread into a copy of its mount namespace whose mounts propagate nowhere, so a
/// tmpfs mounted on `/dev/shm` afterwards is seen by this thread and the processes it starts
/// only. Needs `CAP_SYS_ADMIN`.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/unshare.2.html)
/// - [Linux](https://man7.org/linux/man-pages/man7/mount_namespaces.7.html)
pub fn unshare_mount_private() -> io::Result<()> {
    use rustix::mount::MountPropagationFlags;
    use rustix::thread::{unshare_unsafe, UnshareFlags};
    // SAFETY: rustix marks unshare unsafe for CLONE_FILES only (a thread would lose the
    // descriptors others hold); a new mount namespace leaves the descriptor table alone.
    unsafe { unshare_unsafe(UnshareFlags::NEWNS) }?;
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )?;
    Ok(())
}

/// `mount("proc", target, "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL)`—Mounts a proc
/// filesystem of the caller's pid namespace on `target`.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man5/proc.5.html)
pub fn mount_proc(target: &Path) -> io::Result<()> {
    use rustix::mount::MountFlags;
    let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    rustix::mount::mount("proc", target, "proc", flags, None)?;
    Ok(())
}

/// Runs `f` on a new thread that first joins the IPC namespace `ns` names (an open
/// `/proc/PID/ns/ipc`), and returns what it returns. The thread ends with `f`, so no other
/// code ever runs in that namespace by mistake. Needs `CAP_SYS_ADMIN` over the namespace.
pub fn on_thread_in_ipc<T: Send>(ns: &File, f: impl FnOnce() -> T + Send) -> io::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            setns_ipc(ns.as_fd())?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the namespace thread panicked")))
    })
}

/// Runs `f(i, item)` for each of `items` on one helper thread that joins, in turn, the IPC
/// namespace each names: one thread for any number of namespaces. An item whose namespace
/// cannot be joined gets the error instead.
pub fn for_each_ipc_namespace<I: Sync, T: Send>(
    items: &[(I, File)],
    f: impl Fn(&I) -> T + Send + Sync,
) -> Vec<io::Result<T>> {
    std::thread::scope(|s| {
        s.spawn(|| {
            items
                .iter()
                .map(|(item, ns)| {
                    setns_ipc(ns.as_fd())?;
                    Ok(f(item))
                })
                .collect()
        })
        .join()
        .unwrap_or_else(|_| {
            items
                .iter()
                .map(|_| Err(io::Error::other("the namespace thread panicked")))
                .collect()
        })
    })
}

/// Moves this whole process into the IPC and mount namespaces of process `pid`, the way
/// `nsenter -t PID -i -m` does, and makes `/proc` usable there: a container's `/proc`
/// belongs to its pid namespace, where this process has no pid (so `/proc/self` would not
/// exist), so a private copy of the mount namespace gets a `/proc` of our own pid namespace
/// on top. Nothing the container sees changes. Call it while the process has one thread.
///
/// `host_proc` is the `/proc` directory to open the namespace files from (normally `/proc`).
pub fn enter(host_proc: &Path, pid: u32) -> io::Result<()> {
    let ipc = File::open(host_proc.join(format!("{pid}/ns/ipc")))?;
    let mnt = File::open(host_proc.join(format!("{pid}/ns/mnt")))?;
    setns_ipc(ipc.as_fd())?;
    setns_mnt(mnt.as_fd())?;
    unshare_mount_private()?;
    mount_proc(Path::new("/proc"))
}

/// The namespace inode `/proc/PID/ns/KIND` (or `self`) names, by `stat`.
pub fn ns_inode(link: &Path) -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(link).map(|m| m.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `unshare(CLONE_NEWIPC)` on a helper thread gives that thread an empty IPC namespace of
    /// its own; the process's stays as it was.
    #[test]
    fn unshare_ipc_on_a_thread_moves_that_thread_only() {
        if super::super::geteuid() != 0 {
            assert!(
                std::env::var_os("SHMKIT_TEST_REQUIRE_ROOT").is_none(),
                "unshare(CLONE_NEWIPC) needs root, and SHMKIT_TEST_REQUIRE_ROOT forbids skipping"
            );
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"skipped sys::ns unshare test: unshare(CLONE_NEWIPC) needs root\n",
            );
            return;
        }
        let ours = ns_inode(Path::new("/proc/self/ns/ipc")).unwrap();
        let (theirs, segments) = std::thread::spawn(|| {
            unshare_ipc().unwrap();
            let theirs = ns_inode(Path::new("/proc/thread-self/ns/ipc")).unwrap();
            let table = std::fs::read_to_string("/proc/sysvipc/shm").unwrap();
            (theirs, table.lines().skip(1).count())
        })
        .join()
        .unwrap();
        assert_ne!(theirs, ours);
        assert_eq!(segments, 0, "a new IPC namespace holds no segments");
        assert_eq!(ns_inode(Path::new("/proc/self/ns/ipc")).unwrap(), ours);
    }

    /// A helper thread joins another IPC namespace and sees its segments, while the rest of
    /// the process stays in its own: IPC setns is per thread.
    #[test]
    fn a_helper_thread_reads_another_ipc_namespaces_segments() {
        if super::super::geteuid() != 0 {
            // CI runs as root and must skip nothing.
            assert!(
                std::env::var_os("SHMKIT_TEST_REQUIRE_ROOT").is_none(),
                "entering a namespace needs root, and SHMKIT_TEST_REQUIRE_ROOT forbids skipping"
            );
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"skipped sys::ns helper-thread test: entering a namespace needs root\n",
            );
            return;
        }
        // A child in a new IPC namespace holding one segment keyed 0x5a11; it waits on stdin.
        let mut child = std::process::Command::new("unshare")
            .args([
                "--ipc",
                "sh",
                "-c",
                "ipcmk -M 8192 -p 0600 >/dev/null && echo ok && read x",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("unshare");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line, "ok\n");
        // The shell's pid is the unshare'd process (unshare execs it).
        let ns = File::open(format!("/proc/{}/ns/ipc", child.id())).unwrap();
        let theirs = on_thread_in_ipc(&ns, || std::fs::read_to_string("/proc/sysvipc/shm"))
            .unwrap()
            .unwrap();
        let ours = std::fs::read_to_string("/proc/sysvipc/shm").unwrap();
        drop(child.stdin.take());
        child.wait().unwrap();
        let sizes = |t: &str| -> Vec<String> {
            t.lines()
                .skip(1)
                .filter_map(|l| l.split_whitespace().nth(3).map(str::to_string))
                .collect()
        };
        assert_eq!(sizes(&theirs), vec!["8192".to_string()], "{theirs}");
        assert_ne!(theirs, ours);
        // The same through the one-thread-for-all helper.
        let again =
            for_each_ipc_namespace(&[((), File::open("/proc/self/ns/ipc").unwrap())], |_| {
                std::fs::read_to_string("/proc/sysvipc/shm").unwrap()
            });
        assert!(again[0].is_ok());
    }
}
