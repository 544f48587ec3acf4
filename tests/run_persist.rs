//! `shmkit run --persist` as the init of a container: SIGHUP saves and is passed on, the
//! command dies with shmkit, periodic saves go on after a SIGTERM the command ignores, exec
//! failures exit 126/127 like a shell, zombies are reaped as pid 1, and a second run on the
//! same file refuses.
//!
//! Every run is in its own IPC namespace (`unshare --ipc`, which execs shmkit in place, so
//! the child we spawn is shmkit itself) with its snapshot in its own temporary directory.
//! Waits poll with a generous watchdog; no test asserts how long anything takes.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const SHMKIT: &str = env!("CARGO_BIN_EXE_shmkit");
const WATCHDOG: Duration = Duration::from_secs(30);

/// A running `unshare --ipc shmkit run ...`, killed on drop, with its stderr lines arriving on
/// a channel.
struct Run {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Run {
    fn start(snap: &Path, extra: &[&str], script: &str, dir: &Path) -> Run {
        let mut child = Command::new("unshare")
            .arg("--ipc")
            .arg(SHMKIT)
            .args(["run", "--persist"])
            .arg(snap)
            .args(extra)
            // Only this namespace's segments: the host's /dev/shm is shared with other tests.
            .args(["sysv:all", "--", "sh", "-c", script])
            .env("T", dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("unshare runs (util-linux)");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Run {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid")
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args(["-s", sig, &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(st.success(), "kill -s {sig}");
    }

    /// Waits for a stderr line containing `text` (after those already consumed).
    fn wait_line(&mut self, text: &str) -> String {
        let deadline = Instant::now() + WATCHDOG;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with '{text}'; stderr so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + WATCHDOG;
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(line);
                }
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("shmkit run did not exit; stderr:\n{}", self.seen.join("\n"));
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `path` exists and holds a line, and returns it.
fn wait_file(path: &Path) -> String {
    let deadline = Instant::now() + WATCHDOG;
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(path) {
            if text.ends_with('\n') {
                return text.trim().to_string();
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} never appeared", path.display());
}

/// Whether a process is gone (or a zombie nobody has reaped yet: it runs nothing).
fn is_dead(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Kills a process left behind by a failing test.
struct KillOnDrop(String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-9", &self.0]).status();
    }
}

#[test]
fn sighup_saves_at_once_then_reaches_the_command() {
    if !common::as_root("sighup_saves_at_once_then_reaches_the_command") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("shm.snap");
    let script = r#"trap 'echo hup > $T/hup; exit 0' HUP
        ipcmk -M 4096 >/dev/null
        echo up > $T/up
        while :; do sleep 0.05; done"#;
    let mut run = Run::start(&snap, &["--every", "0"], script, dir.path());
    wait_file(&dir.path().join("up"));
    run.signal("HUP");
    let saved = run.wait_line("saved 1 object to");
    assert!(saved.contains("on SIGHUP"), "{saved}");
    assert_eq!(wait_file(&dir.path().join("hup")), "hup");
    assert_eq!(run.wait_exit(), Some(0), "{}", run.seen.join("\n"));
    // Before the signal, shmkit ended on SIGHUP without a save, leaving its command running.
    assert!(snap.exists());
}

#[test]
fn killing_shmkit_kills_the_command_too() {
    if !common::as_root("killing_shmkit_kills_the_command_too") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("shm.snap");
    let script = "echo $$ > $T/child.pid; exec sleep 1000";
    let mut run = Run::start(&snap, &["--every", "0"], script, dir.path());
    let child = wait_file(&dir.path().join("child.pid"));
    let _guard = KillOnDrop(child.clone());
    assert!(!is_dead(&child));
    run.signal("KILL");
    assert_eq!(run.wait_exit(), None);
    let deadline = Instant::now() + WATCHDOG;
    while !is_dead(&child) {
        assert!(
            Instant::now() < deadline,
            "pid {child} outlived the shmkit that ran it"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn periodic_saves_go_on_after_a_sigterm_the_command_ignores() {
    if !common::as_root("periodic_saves_go_on_after_a_sigterm_the_command_ignores") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("shm.snap");
    let script = r#"trap '' TERM
        ipcmk -M 4096 >/dev/null
        echo up > $T/up
        while [ ! -e $T/stop ]; do sleep 0.05; done"#;
    let mut run = Run::start(&snap, &["--every", "1s"], script, dir.path());
    wait_file(&dir.path().join("up"));
    run.wait_line("(periodic;");
    run.signal("TERM");
    // Two more periodic saves after the SIGTERM the command ignored.
    run.wait_line("(periodic;");
    run.wait_line("(periodic;");
    std::fs::write(dir.path().join("stop"), "").unwrap();
    assert_eq!(run.wait_exit(), Some(0), "{}", run.seen.join("\n"));
    assert!(
        run.seen.iter().any(|l| l.contains("saved 1 object to")),
        "{}",
        run.seen.join("\n")
    );
}

#[test]
fn exec_failures_exit_126_or_127_like_a_shell() {
    if !common::as_root("exec_failures_exit_126_or_127_like_a_shell") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("shm.snap");
    let not_executable = dir.path().join("data.txt");
    std::fs::write(&not_executable, "not a program\n").unwrap();
    // A file without a #! line that the kernel refuses (ENOEXEC) is run by /bin/sh, as
    // execvp and shells do; a directory cannot be executed at all.
    let a_directory = dir.path().join("subdir");
    std::fs::create_dir(&a_directory).unwrap();
    for (cmd, code, what) in [
        ("shmkit-no-such-command", 127, "not found"),
        (not_executable.to_str().unwrap(), 126, "cannot be executed"),
        (a_directory.to_str().unwrap(), 126, "cannot be executed"),
    ] {
        let out = Command::new("unshare")
            .arg("--ipc")
            .arg(SHMKIT)
            .args(["run", "--persist"])
            .arg(&snap)
            .args(["sysv:all", "--", cmd])
            .output()
            .expect("unshare runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{cmd}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| l.contains(what)).collect();
        assert_eq!(lines.len(), 1, "{cmd}: one line saying '{what}': {err}");
        assert!(
            lines[0].starts_with(&format!("shmkit run: {cmd}: {what} (")),
            "{err}"
        );
    }
}

#[test]
fn as_pid_1_it_reaps_orphaned_grandchildren() {
    if !common::as_root("as_pid_1_it_reaps_orphaned_grandchildren") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("shm.snap");
    // The subshell exits at once; its `sleep` is re-parented to pid 1 (shmkit) and, once it
    // ends, stays a zombie unless pid 1 reaps it.
    let script = r#"( sleep 0.1 & ) ; sleep 1
        n=0
        for s in /proc/[0-9]*/stat; do
          case "$(cut -d' ' -f3 "$s" 2>/dev/null)" in Z) n=$((n+1));; esac
        done
        echo "zombies: $n""#;
    let out = Command::new("unshare")
        .args(["--ipc", "--pid", "--fork", "--mount-proc"])
        .arg(SHMKIT)
        .args(["run", "--persist"])
        .arg(&snap)
        .args(["--every", "0", "sysv:all", "--", "sh", "-c", script])
        .output()
        .expect("unshare runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "zombies: 0");
}

#[test]
fn a_second_run_on_the_same_file_refuses_while_the_first_runs() {
    if !common::as_root("a_second_run_on_the_same_file_refuses_while_the_first_runs") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("shm.snap");
    let script =
        "ipcmk -M 4096 >/dev/null; echo up > $T/up; while [ ! -e $T/stop ]; do sleep 0.05; done";
    let mut first = Run::start(&snap, &["--every", "0"], script, dir.path());
    wait_file(&dir.path().join("up"));
    let out = Command::new("unshare")
        .arg("--ipc")
        .arg(SHMKIT)
        .args(["run", "--persist"])
        .arg(&snap)
        .args([
            "sysv:all",
            "--",
            "sh",
            "-c",
            "ipcmk -M 8192; echo ran > $T/second",
        ])
        .env("T", dir.path())
        .output()
        .expect("unshare runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(9), "{err}");
    assert!(
        err.contains("another `shmkit run --persist` uses this snapshot"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        !dir.path().join("second").exists(),
        "the second command ran"
    );
    std::fs::write(dir.path().join("stop"), "").unwrap();
    assert_eq!(first.wait_exit(), Some(0), "{}", first.seen.join("\n"));
    // The first one's segment is what the file holds.
    let ls = Command::new(SHMKIT)
        .args(["snapshot", "ls"])
        .arg(&snap)
        .output()
        .unwrap();
    let ls = String::from_utf8_lossy(&ls.stdout);
    assert!(ls.contains("1 object,"), "{ls}");
    assert!(ls.contains("4.0K"), "{ls}");
}
