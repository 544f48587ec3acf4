//! Article 2 of the seed, end to end without Docker: a System V segment made by a C writer in
//! one IPC namespace is gone when that namespace ends (the container restart), and comes back
//! for a C reader in a fresh namespace because `shmkit run --persist` saved and restored it.
//!
//! Every shmkit run here is in its own new IPC namespace (`unshare --ipc`), so key 5678 never
//! collides with other tests or with the host.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SHMKIT: &str = env!("CARGO_BIN_EXE_shmkit");

/// Compiles `tests/c/NAME.c` into `dir` with `cc`.
fn compile(dir: &Path, name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/c/{name}.c"));
    let out = dir.join(name);
    let st = Command::new("cc")
        .args(["-O1", "-Wall", "-Werror", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("cc runs (apt-get install gcc libc6-dev)");
    assert!(st.success(), "compiling {}", src.display());
    out
}

/// `unshare --ipc shmkit ARGS...`: a fresh IPC namespace that ends with the command.
fn in_new_ipc_ns(args: &[&str]) -> Output {
    Command::new("unshare")
        .arg("--ipc")
        .arg(SHMKIT)
        .args(args)
        .output()
        .expect("unshare runs (util-linux)")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn sysv_segment_survives_the_end_of_its_ipc_namespace_through_run_persist() {
    if !common::as_root("sysv_segment_survives_the_end_of_its_ipc_namespace_through_run_persist") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let writer = compile(dir.path(), "persist_writer");
    let reader = compile(dir.path(), "persist_reader");
    let snap = dir.path().join("shm.snap");
    let snap_s = snap.to_str().unwrap();
    let (writer_s, reader_s) = (writer.to_str().unwrap(), reader.to_str().unwrap());

    // "Container" 1: no snapshot yet; the writer makes segment 5678 and exits; shmkit saves it
    // when the writer exits; then the namespace (and the segment in it) is gone.
    let out = in_new_ipc_ns(&[
        "run",
        "--persist",
        snap_s,
        "--every",
        "0",
        "sysv:all",
        "--",
        writer_s,
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("wrote a..z to key 5678"),
        "{}",
        text(&out.stdout)
    );
    assert!(snap.exists());

    // The restart without shmkit: a fresh namespace has no segment 5678, the reader fails as
    // the article's reader did after `docker stop` + `docker start`.
    let bare = Command::new("unshare")
        .args(["--ipc", reader_s])
        .output()
        .unwrap();
    assert!(
        !bare.status.success(),
        "a fresh namespace must not have the segment"
    );
    assert!(
        text(&bare.stderr).contains("shmget"),
        "{}",
        text(&bare.stderr)
    );

    // "Container" 2: shmkit restores the segment before the reader starts.
    let out = in_new_ipc_ns(&[
        "run",
        "--persist",
        snap_s,
        "--every",
        "0",
        "sysv:all",
        "--",
        reader_s,
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stdout),
        "a b c d e f g h i j k l m n o p q r s t u v w x y z\n"
    );
    assert!(
        text(&out.stderr).contains("restored 1 object"),
        "{}",
        text(&out.stderr)
    );

    // And the snapshot says what it holds: key 5678, 27 bytes, mode 0666, nobody attached at
    // the final save (the writer had exited).
    let ls = Command::new(SHMKIT)
        .args(["snapshot", "ls", snap_s, "--json"])
        .output()
        .unwrap();
    assert!(ls.status.success());
    let v: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    let obj = &v["objects"][0];
    assert_eq!(obj["key"], 5678);
    assert_eq!(obj["size"], 27);
    assert_eq!(obj["mode"], 0o666);
    assert_eq!(obj["nattch"], 0);
}

#[test]
fn sigterm_is_forwarded_then_saved_and_the_exit_status_is_the_commands() {
    if !common::as_root("sigterm_is_forwarded_then_saved_and_the_exit_status_is_the_commands") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let writer = compile(dir.path(), "persist_writer");
    let reader = compile(dir.path(), "persist_reader");
    let snap = dir.path().join("shm.snap");
    let snap_s = snap.to_str().unwrap();
    // The command writes the segment, then runs until a signal ends it. `exec sleep` so the
    // forwarded SIGTERM reaches the sleeping process itself.
    let script = format!("{} >/dev/null && exec sleep 60", writer.display());
    let child = Command::new("unshare")
        .arg("--ipc")
        .arg(SHMKIT)
        .args([
            "run",
            "--persist",
            snap_s,
            "--every",
            "100ms",
            "sysv:all",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (with a watchdog, no timing assertion) for a periodic save to appear.
    let start = Instant::now();
    while !snap.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no periodic save appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // unshare execs shmkit in place, so the child's pid is shmkit's.
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    // sh's `exec sleep` was killed by the forwarded SIGTERM: 128 + 15.
    assert_eq!(out.status.code(), Some(143), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("saved 1 object"), "{err}");

    let out = in_new_ipc_ns(&[
        "run",
        "--persist",
        snap_s,
        "--every",
        "0",
        "sysv:all",
        "--",
        reader.to_str().unwrap(),
    ]);
    assert_eq!(
        text(&out.stdout),
        "a b c d e f g h i j k l m n o p q r s t u v w x y z\n",
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_missing_command_fails_before_anything_runs() {
    if !common::as_root("a_missing_command_fails_before_anything_runs") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("shm.snap");
    let out = in_new_ipc_ns(&[
        "run",
        "--persist",
        snap.to_str().unwrap(),
        "--",
        "/nonexistent/shmkit-test-command",
    ]);
    // Like a shell: 127 for a command that does not exist, with one line saying so.
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("shmkit run: /nonexistent/shmkit-test-command: not found (No such file or directory); check its path"),
        "{err}"
    );
    assert!(!snap.exists());
}
