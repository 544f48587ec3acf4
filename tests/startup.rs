//! What `shmkit` needs from its start-up, which it does itself (`#![no_main]`): descriptors 0,
//! 1 and 2 open before it opens anything, SIGPIPE ignored so that a closed pipe is an error it
//! handles, and no `libgcc_s.so.1` to load (its unwinder is linked in, see `build.rs`).

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

const SHMKIT: &str = env!("CARGO_BIN_EXE_shmkit");

#[test]
fn a_file_created_with_stdout_and_stderr_closed_holds_none_of_the_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("made");
    // With 1 and 2 closed, the file would be opened as descriptor 1, and the "created"
    // line written into it.
    let out = Command::new("sh")
        .args(["-c", r#"exec "$S" create "file:$F" --size 4096 >&- 2>&-"#])
        .env("S", SHMKIT)
        .env("F", &path)
        .output()
        .expect("sh runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let bytes = std::fs::read(&path).expect("the file was made");
    assert_eq!(bytes.len(), 4096);
    assert!(
        bytes.iter().all(|&b| b == 0),
        "output went into the file: {:?}",
        String::from_utf8_lossy(&bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(64)])
    );
}

#[test]
fn a_closed_pipe_on_stdout_ends_the_command_with_exit_0_not_sigpipe() {
    // A socket whose peer is gone: the first write fails with EPIPE and raises SIGPIPE, which
    // would kill the process if it were not ignored.
    let (closed, peer) = UnixStream::pair().expect("socketpair");
    drop(peer);
    let status = Command::new(SHMKIT)
        .args(["completions", "bash"])
        .stdout(Stdio::from(OwnedFd::from(closed)))
        .stderr(Stdio::piped())
        .output()
        .expect("shmkit runs");
    assert_eq!(
        status.status.signal(),
        None,
        "killed by a signal: {status:?}"
    );
    assert_eq!(status.status.code(), Some(0), "{status:?}");
    assert!(status.stderr.is_empty(), "{status:?}");
}

#[test]
fn the_binary_does_not_load_libgcc_s() {
    let out = Command::new("ldd")
        .arg(SHMKIT)
        .output()
        .expect("ldd runs (libc-bin)");
    let libraries = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(libraries.contains("libc.so.6"), "{libraries}");
    assert!(
        !libraries.contains("libgcc_s"),
        "build.rs did not link the static unwinder:\n{libraries}"
    );
}

#[test]
fn with_stdout_closed_and_no_dev_null_it_stops_before_creating_anything() {
    if !common::as_root("with_stdout_closed_and_no_dev_null_it_stops_before_creating_anything") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("made");
    // In a private mount namespace, a read-only file over /dev/null: opening it read-write
    // fails (EROFS), so the closed stdout cannot be filled.
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            r#"touch "$D/null" && mount --bind "$D/null" /dev/null && mount -o remount,bind,ro /dev/null || exit 99
exec "$S" create "file:$F" --size 4096 >&-"#,
        ])
        .env("S", SHMKIT)
        .env("D", dir.path())
        .env("F", &path)
        .output()
        .expect("unshare runs (util-linux)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr.contains("/dev/null cannot be opened") && stderr.lines().count() == 1,
        "{stderr}"
    );
    assert!(!path.exists(), "the file was created");
}
