//! Every command's output when stdout fails: a closed pipe (`shmkit ls | head -0`) ends it
//! quietly with exit 0, a full device (`> /dev/full`) is one line on stderr and exit 1, and an
//! action already done (an object removed, created, changed) is done and said to be done. No
//! command may panic (exit 101).
//!
//! Each test runs a shell script in a private IPC and mount namespace with its own tmpfs on
//! /dev/shm, so keys and names never collide with other tests and `rm --orphans` can only see
//! what the script made. The script's stdin is a socket whose peer is already closed: a command
//! run with `>&0 </dev/null` writes into a closed pipe at its first write, every time (a real
//! `| head -0` races with the reader's exit).

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

const SHMKIT: &str = env!("CARGO_BIN_EXE_shmkit");

/// Runs `script` as root in fresh IPC and mount namespaces with a private /dev/shm; `$S` is
/// shmkit, `$T` a private temporary directory. Returns the script's stdout and stderr.
fn in_private_namespaces(script: &str) -> (String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (closed, peer) = UnixStream::pair().expect("socketpair");
    drop(peer);
    let full =
        format!("set -u\nmount -t tmpfs -o size=16m shmkit-test /dev/shm || exit 99\n{script}");
    let out = Command::new("unshare")
        .args([
            "--ipc",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &full,
        ])
        .env("S", SHMKIT)
        .env("T", dir.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::from(OwnedFd::from(closed)))
        .output()
        .expect("unshare runs (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "script failed ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        !stderr.contains("panicked"),
        "a command panicked:\n{stderr}"
    );
    (stdout, stderr)
}

/// The `NAME rc=N` lines the scripts print, as (name, code) pairs.
fn codes(stdout: &str) -> Vec<(String, i32)> {
    stdout
        .lines()
        .filter_map(|l| {
            let (name, rc) = l.rsplit_once(" rc=")?;
            Some((name.to_string(), rc.parse().ok()?))
        })
        .collect()
}

/// The commands under test, each after the setup it needs; `$OUT` is where stdout goes.
const COMMANDS: &str = r#"
run() { name=$1; shift; eval "$* $OUT"; echo "$name rc=$?"; }
$S create sysv:5678 --size 4K >/dev/null 2>&1
$S create posix:/shmkit-out --size 4K >/dev/null 2>&1
$S snapshot save $T/s.snap sysv:all posix:all >/dev/null 2>&1
run create          $S create sysv:5679 --size 4K
run create-json     $S create sysv:5680 --size 4K --json
run stat            $S stat sysv:5678
run stat-json       $S stat posix:/shmkit-out --json
run chmod           $S chmod sysv:5678 640
run chown           $S chown posix:/shmkit-out :0
run resize          $S resize posix:/shmkit-out 8K
run read            $S read sysv:5678 --format hex
run ls              $S ls
run ls-json         $S ls --json
run mem             $S mem
run doctor          $S doctor
run reclaim         $S reclaim
run snapshot-verify $S snapshot verify $T/s.snap
run snapshot-ls     $S snapshot ls $T/s.snap
run lab-list        $S lab list
run lab-run-all     $S lab run all --size 16M
run help            $S --help
run completions     $S completions bash
run manpage         $S manpage
run rm              $S rm sysv:5679
run rm-posix        $S rm posix:/shmkit-out
$S create sysv:private --size 4K >/dev/null 2>&1
run rm-orphans      $S rm --orphans
$S stat sysv:5679 >/dev/null 2>&1; echo "sysv:5679 gone: $?"
$S stat posix:/shmkit-out >/dev/null 2>&1; echo "posix:/shmkit-out gone: $?"
echo "orphans left: $($S ls --orphans 2>/dev/null | grep -c '^sysv')"
"#;

#[test]
fn a_closed_pipe_ends_every_command_quietly_with_exit_0() {
    if !common::as_root("a_closed_pipe_ends_every_command_quietly_with_exit_0") {
        return;
    }
    let script = format!("OUT='>&0 </dev/null'\n{COMMANDS}");
    let (stdout, stderr) = in_private_namespaces(&script);
    let codes = codes(&stdout);
    assert_eq!(
        codes.len(),
        23,
        "not every command ran:\n{stdout}\n{stderr}"
    );
    for (name, rc) in &codes {
        assert_eq!(*rc, 0, "{name} exited {rc} on a closed pipe:\n{stderr}");
    }
    assert!(
        !stderr.contains("Broken pipe") && !stderr.contains("broken pipe"),
        "a closed pipe is no error:\n{stderr}"
    );
    // The removals happened although nobody read their report.
    assert_removed(&stdout);
}

#[test]
fn a_full_stdout_is_one_line_and_exit_1_saying_what_was_done() {
    if !common::as_root("a_full_stdout_is_one_line_and_exit_1_saying_what_was_done") {
        return;
    }
    let script = format!("OUT='>/dev/full'\n{COMMANDS}");
    let (stdout, stderr) = in_private_namespaces(&script);
    let codes = codes(&stdout);
    assert_eq!(
        codes.len(),
        23,
        "not every command ran:\n{stdout}\n{stderr}"
    );
    for (name, rc) in &codes {
        assert_eq!(*rc, 1, "{name} exited {rc} on a full stdout:\n{stderr}");
    }
    let failures: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("writing to stdout"))
        .collect();
    assert_eq!(failures.len(), codes.len(), "one line each:\n{stderr}");
    for line in &failures {
        assert!(
            line.starts_with("shmkit: writing to stdout: no space left on device"),
            "{line}"
        );
        assert!(!line.contains("os error"), "{line}");
    }
    for done in [
        "created sysv:5679",
        "removed sysv:5679",
        "removed posix:/shmkit-out",
        "sysv:5678 is now mode 0640",
    ] {
        assert!(
            failures.iter().any(|l| l.contains(done)),
            "no line says '{done}':\n{stderr}"
        );
    }
    assert_removed(&stdout);
}

/// What `rm` and `rm --orphans` removed is gone (`stat` exits 3: not found).
fn assert_removed(stdout: &str) {
    for line in [
        "sysv:5679 gone: 3",
        "posix:/shmkit-out gone: 3",
        "orphans left: 0",
    ] {
        assert!(stdout.contains(line), "expected '{line}':\n{stdout}");
    }
}
