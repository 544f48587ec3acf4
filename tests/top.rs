//! `shmkit top` in a real terminal: tmux runs it at 160x40 and at 80x24, and `capture-pane`
//! reads the screen. Each run is in its own IPC, mount and PID namespaces (a fresh tmpfs over
//! /dev/shm, a /proc of its own processes), so it sees exactly the objects it makes: the
//! seed's leak (an IPC_PRIVATE segment, touched, whose creator exited) and what the test adds
//! while `top` runs. Every tmux server has its own socket (`-L`) and is killed on drop, which
//! ends the namespaces and with them every object made inside.
//!
//! Waits are bounded by a watchdog and poll the screen; no assertion is about time: "within
//! two refreshes" counts the samples `top` numbers in its title.

mod common;
mod containers_support;
mod lifecycle_support;
use lifecycle_support::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long any one wait may take before the test fails with the screen it saw.
const WATCHDOG: Duration = Duration::from_secs(90);

/// A tmux server on a private socket, running `sh` in one window; killed on drop, and its
/// socket file removed (tmux leaves it behind).
struct Tmux {
    socket: String,
    path: Option<PathBuf>,
}

impl Tmux {
    fn start(test: &str, width: u16, height: u16) -> Tmux {
        let mut tmux = Tmux {
            socket: format!("shmkit-{test}-{:x}", unique(test)),
            path: None,
        };
        let status = Command::new("tmux")
            .args([
                "-u",
                "-L",
                &tmux.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
            ])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .args(["env", "PS1=$ ", "sh"])
            .status()
            .expect("tmux is installed (.ci/run installs it)");
        assert!(status.success(), "tmux new-session");
        let path = tmux
            .tmux(&["display-message", "-p", "#{socket_path}"])
            .stdout;
        tmux.path = Some(PathBuf::from(String::from_utf8_lossy(&path).trim()));
        tmux
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux")
    }

    /// Types `text` and presses Enter.
    fn line(&self, text: &str) {
        assert!(self.tmux(&["send-keys", "-l", text]).status.success());
        self.keys(&["Enter"]);
    }

    /// Presses keys (tmux names: `q`, `Enter`, `Down`, `C-c`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend(keys);
        assert!(self.tmux(&args).status.success(), "send-keys {keys:?}");
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p"]).stdout).into_owned()
    }

    /// Polls the screen until `ready` holds; fails with the last screen after the watchdog.
    #[track_caller]
    fn wait(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < WATCHDOG,
                "waited {WATCHDOG:?} for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
        if let Some(path) = self.path.take().filter(|p| p.is_absolute()) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Waits for a file a script writes.
#[track_caller]
fn wait_file(path: &Path) -> String {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if text.ends_with('\n') {
                return text.trim().to_string();
            }
        }
        assert!(
            start.elapsed() < WATCHDOG,
            "waited {WATCHDOG:?} for {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The screen line showing `needle`, and its index.
fn row<'a>(screen: &'a str, needle: &str) -> Option<(usize, &'a str)> {
    screen.lines().enumerate().find(|(_, l)| l.contains(needle))
}

/// The sample number in `top`'s title.
fn sample_number(screen: &str) -> u64 {
    let title = screen.lines().next().unwrap_or("");
    title
        .split("sample ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no sample number in the title: {title:?}"))
}

/// Everything a test runs inside its namespaces.
struct Scene {
    dir: tempfile::TempDir,
    leak: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let dir = tempfile::tempdir().unwrap();
        let leak = compile_c("leak", dir.path());
        Scene { dir, leak }
    }

    fn out(&self) -> &Path {
        self.dir.path()
    }

    /// The command line that runs `script` in private IPC, mount and PID namespaces with an
    /// empty /dev/shm, `$SHMKIT`, `$LEAK` and `$OUT` set, then prints its exit code.
    fn command(&self, script: &str) -> String {
        let file = self.out().join("inner.sh");
        std::fs::write(
            &file,
            format!("set -e\nmount -t tmpfs -o size=256m shmkit-top /dev/shm\n{script}"),
        )
        .unwrap();
        format!(
            "stty -g > '{out}/stty.before'; SHMKIT='{bin}' LEAK='{leak}' OUT='{out}' \
             unshare --ipc --mount --propagation private --pid --fork --mount-proc \
             sh '{file}'; echo \"top\"\"-exit=$?\"; stty -g > '{out}/stty.after'",
            out = self.out().display(),
            bin = bin(),
            leak = self.leak.display(),
            file = file.display(),
        )
    }

    /// Asserts the terminal settings after the run are those from before it.
    #[track_caller]
    fn assert_terminal_restored(&self) {
        let before = wait_file(&self.out().join("stty.before"));
        let after = wait_file(&self.out().join("stty.after"));
        assert_eq!(before, after, "stty settings changed by the run");
    }
}

/// A 32 MiB leak, then a 24 MiB POSIX object made when the test creates `$OUT/go`
/// (`$OUT/made` once it is written), then `top` on System V and POSIX objects only.
const LEAK_THEN_GROW: &str = r#"
"$LEAK" 33554432 > "$OUT/leaked"
( while [ ! -e "$OUT/go" ]; do sleep 0.05; done
  head -c 25165824 /dev/zero > /dev/shm/shmkit-top-grow
  echo made > "$OUT/made" ) &
"$SHMKIT" top --interval 1 --kind sysv --kind posix
"#;

fn leak_new_object_sort_and_quit(test: &str, width: u16, height: u16) {
    let scene = Scene::new();
    let tmux = Tmux::start(test, width, height);
    tmux.line(&scene.command(LEAK_THEN_GROW));
    let leaked = format!("sysv:id={}", wait_file(&scene.out().join("leaked")));

    // The seed's leak, with its size, marked as one; free's line and the buff/cache bars.
    // (A capture can catch a frame half drawn: wait for the whole of it.)
    tmux.wait("the leaked segment with its size and status", |s| {
        row(s, &leaked).is_some_and(|(_, l)| l.contains("32.0M") && l.ends_with("leak"))
            && s.contains("buff/cache")
            && s.contains("shared memory")
    });

    // A 24 MiB object made while top runs shows within two refreshes.
    std::fs::write(scene.out().join("go"), "").unwrap();
    wait_file(&scene.out().join("made"));
    let made_at = sample_number(&tmux.screen());
    let grow = "posix:/shmkit-top-grow";
    let screen = tmux.wait("the new 24 MiB object", |s| {
        row(s, grow).is_some_and(|(_, l)| l.contains("24.0M"))
    });
    let shown_at = sample_number(&screen);
    assert!(
        shown_at <= made_at + 2,
        "made during sample {made_at}, shown at sample {shown_at}:\n{screen}"
    );

    // By resident the 32 MiB leak comes first; by name, posix:/ before sysv:.
    let (leak_row, _) = row(&screen, &leaked).unwrap();
    let (grow_row, _) = row(&screen, grow).unwrap();
    assert!(leak_row < grow_row, "sorted by resident:\n{screen}");
    tmux.keys(&["n"]);
    let screen = tmux.wait("rows sorted by name", |s| {
        s.contains("sort name") && row(s, grow).is_some() && row(s, &leaked).is_some()
    });
    assert!(
        row(&screen, grow).unwrap().0 < row(&screen, &leaked).unwrap().0,
        "sorted by name:\n{screen}"
    );

    // A text filter keeps the rows that match; Esc clears it. `?` lists the keys.
    tmux.keys(&["/"]);
    tmux.line("grow");
    tmux.wait("only the matching row", |s| {
        s.contains("1 of 2 objects") && row(s, grow).is_some() && row(s, &leaked).is_none()
    });
    tmux.keys(&["Escape"]);
    tmux.wait("the filter cleared", |s| {
        s.contains("2 of 2 objects") && row(s, grow).is_some() && row(s, &leaked).is_some()
    });
    tmux.keys(&["?"]);
    tmux.wait("the list of keys", |s| {
        s.contains("sort by growth per second")
    });
    tmux.keys(&["Escape"]);
    tmux.wait("the list closed", |s| {
        !s.contains("sort by growth per second")
    });

    // q exits 0, the terminal is as it was, and the shell answers.
    tmux.keys(&["q"]);
    tmux.wait("top's exit code", |s| s.contains("top-exit="));
    let screen = tmux.screen();
    assert!(screen.contains("top-exit=0"), "{screen}");
    assert!(
        !screen.contains("sample "),
        "the main screen is back:\n{screen}"
    );
    scene.assert_terminal_restored();
    tmux.line("echo shell-$((6 * 7))");
    tmux.wait("the shell to answer", |s| s.contains("shell-42"));
}

#[test]
fn at_160x40_top_shows_the_leak_a_new_object_sorts_and_quits() {
    if !common::as_root("at_160x40_top_shows_the_leak_a_new_object_sorts_and_quits") {
        return;
    }
    if !common::needs_programs(
        "at_160x40_top_shows_the_leak_a_new_object_sorts_and_quits",
        &[("tmux", "tmux")],
    ) {
        return;
    }
    leak_new_object_sort_and_quit("top-160", 160, 40);
}

#[test]
fn at_80x24_top_shows_the_leak_a_new_object_sorts_and_quits() {
    if !common::as_root("at_80x24_top_shows_the_leak_a_new_object_sorts_and_quits") {
        return;
    }
    if !common::needs_programs(
        "at_80x24_top_shows_the_leak_a_new_object_sorts_and_quits",
        &[("tmux", "tmux")],
    ) {
        return;
    }
    leak_new_object_sort_and_quit("top-80", 80, 24);
}

/// The table row of `address` (not the message line that may name it too).
fn table_row<'a>(screen: &'a str, kind: &str, address: &str) -> Option<(usize, &'a str)> {
    screen
        .lines()
        .enumerate()
        .find(|(_, l)| l.starts_with(kind) && l.split_whitespace().nth(1) == Some(address))
}

#[test]
fn d_removes_a_leak_after_naming_it_and_refuses_an_object_in_use() {
    if !common::as_root("d_removes_a_leak_after_naming_it_and_refuses_an_object_in_use") {
        return;
    }
    if !common::needs_programs(
        "d_removes_a_leak_after_naming_it_and_refuses_an_object_in_use",
        &[("tmux", "tmux")],
    ) {
        return;
    }
    let scene = Scene::new();
    let tmux = Tmux::start("top-remove", 120, 30);
    // A 32 MiB leak, and a 16 MiB segment whose creator exited but that `shmkit hold` keeps
    // attached until the namespace ends. After top, the segments left are listed.
    tmux.line(&scene.command(
        r#"
"$LEAK" 33554432 > "$OUT/leaked"
HELD=$("$LEAK" 16777216); echo "$HELD" > "$OUT/held"
mkfifo "$OUT/fifo"
"$SHMKIT" hold --sysv-id "$HELD" < "$OUT/fifo" > "$OUT/hold.out" &
exec 3> "$OUT/fifo"
while ! grep -q ready "$OUT/hold.out" 2>/dev/null; do sleep 0.05; done
"$SHMKIT" top --interval 1 --kind sysv
ipcs -m | awk '$2 ~ /^[0-9]+$/ {print $2}' > "$OUT/ids.after"
"#,
    ));
    let leaked = format!("sysv:id={}", wait_file(&scene.out().join("leaked")));
    let held = format!("sysv:id={}", wait_file(&scene.out().join("held")));
    tmux.wait("the leak and the held segment", |s| {
        table_row(s, "sysv", &leaked).is_some_and(|(_, l)| l.ends_with("leak"))
            && table_row(s, "sysv", &held).is_some_and(|(_, l)| l.ends_with("in use"))
    });

    // The held segment (second by resident) is refused before any question.
    tmux.keys(&["Down", "d"]);
    tmux.wait("the refusal", |s| {
        s.contains(&format!("{held}: it is in use"))
            && s.contains("top never removes an object in use")
    });

    // Enter shows what `shmkit stat` says of the leak; any key closes it.
    tmux.keys(&["Up", "Enter"]);
    tmux.wait("the leak's stat", |s| {
        s.contains(&format!(" stat {leaked} "))
            && s.lines().any(|l| l.contains("nattch  0"))
            && s.contains("orphan  ")
    });
    tmux.keys(&["Escape"]);
    tmux.wait("the stat closed", |s| {
        !s.contains(&format!(" stat {leaked} "))
    });

    // The leak: a confirmation that names it, then the removal.
    tmux.keys(&["d"]);
    tmux.wait("the confirmation", |s| {
        s.contains(&format!("Remove {leaked} (sysv, 32.0M resident, leak)?"))
    });
    tmux.keys(&["y"]);
    tmux.wait("the removal and the row gone", |s| {
        s.contains(&format!("removed {leaked}")) && table_row(s, "sysv", &leaked).is_none()
    });
    tmux.keys(&["q"]);
    tmux.wait("top's exit code", |s| s.contains("top-exit=0"));
    let ids = wait_file(&scene.out().join("ids.after"));
    let ids: Vec<String> = ids.lines().map(|id| format!("sysv:id={id}")).collect();
    assert_eq!(ids, [held], "only the held segment is left");
    scene.assert_terminal_restored();
}

#[test]
fn a_resize_storm_then_ctrl_c_leaves_a_working_screen_and_terminal() {
    if !common::as_root("a_resize_storm_then_ctrl_c_leaves_a_working_screen_and_terminal") {
        return;
    }
    if !common::needs_programs(
        "a_resize_storm_then_ctrl_c_leaves_a_working_screen_and_terminal",
        &[("tmux", "tmux")],
    ) {
        return;
    }
    let scene = Scene::new();
    let tmux = Tmux::start("top-resize", 100, 30);
    tmux.line(&scene.command(
        r#"
"$LEAK" 8388608 > "$OUT/leaked"
"$SHMKIT" top --interval 1 --kind sysv
"#,
    ));
    let leaked = format!("sysv:id={}", wait_file(&scene.out().join("leaked")));
    tmux.wait("the leak", |s| table_row(s, "sysv", &leaked).is_some());
    for i in 0..60u16 {
        let (w, h) = (60 + (i * 37) % 140, 12 + (i * 11) % 50);
        tmux.tmux(&["resize-window", "-x", &w.to_string(), "-y", &h.to_string()]);
    }
    tmux.tmux(&["resize-window", "-x", "90", "-y", "25"]);
    let screen = tmux.wait("a whole frame at the last size", |s| {
        table_row(s, "sysv", &leaked).is_some_and(|(_, l)| l.contains("8.0M"))
            && s.lines().count() == 25
            && s.lines().last().is_some_and(|l| l.starts_with("q quit"))
    });
    assert!(
        screen.lines().all(|l| l.chars().count() <= 90),
        "drawn for 90 columns:\n{screen}"
    );
    // Ctrl-C reaches a raw terminal as a key: the same orderly exit as q.
    tmux.keys(&["C-c"]);
    tmux.wait("top's exit code", |s| s.contains("top-exit=0"));
    scene.assert_terminal_restored();
}

#[test]
fn a_panic_or_a_signal_leaves_the_terminal_as_it_was() {
    if !common::as_root("a_panic_or_a_signal_leaves_the_terminal_as_it_was") {
        return;
    }
    if !common::needs_programs(
        "a_panic_or_a_signal_leaves_the_terminal_as_it_was",
        &[("tmux", "tmux")],
    ) {
        return;
    }
    // A panic in the collector thread: the hook restores the terminal, then exits 101.
    let scene = Scene::new();
    let tmux = Tmux::start("top-panic", 100, 30);
    tmux.line(&scene.command(r#""$SHMKIT" top --interval 0.2 --panic-after 3"#));
    let screen = tmux.wait("top's exit code", |s| s.contains("top-exit="));
    assert!(screen.contains("top-exit=101"), "{screen}");
    assert!(
        screen.contains("panicking after 3 samples"),
        "the panic message is readable on the main screen:\n{screen}"
    );
    scene.assert_terminal_restored();

    // SIGTERM: an orderly exit with 128 + 15.
    let scene = Scene::new();
    let tmux = Tmux::start("top-term", 100, 30);
    tmux.line(&scene.command(
        r#"
"$SHMKIT" top --interval 1 < /dev/tty &
TOP=$!
while [ ! -e "$OUT/term" ]; do sleep 0.05; done
kill -TERM "$TOP"
wait "$TOP"
"#,
    ));
    tmux.wait("top's first sample", |s| s.contains("sample 1"));
    std::fs::write(scene.out().join("term"), "").unwrap();
    let screen = tmux.wait("top's exit code", |s| s.contains("top-exit="));
    assert!(screen.contains("top-exit=143"), "{screen}");
    scene.assert_terminal_restored();
}

/// Runs `script` (with `$SHMKIT`, `$LEAK`, `$OUT`) in private IPC, mount and PID namespaces
/// with an empty /dev/shm, without a terminal.
fn isolated(scene: &Scene, script: &str) -> Run {
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--ipc",
        "--mount",
        "--propagation",
        "private",
        "--pid",
        "--fork",
        "--mount-proc",
        "sh",
        "-c",
    ])
    .arg(format!(
        "set -e\nmount -t tmpfs -o size=256m shmkit-top /dev/shm\n{script}"
    ))
    .env("SHMKIT", bin())
    .env("LEAK", &scene.leak)
    .env("OUT", scene.out());
    run(&mut cmd, None, b"")
}

/// Makes a POSIX object of SIZE whole: written aside, then renamed into place (the same
/// tmpfs, so the same inode), so no sample sees it half written.
const MAKE: &str = r#"make() { head -c "$2" /dev/zero > "/dev/shm/.$1"; mv "/dev/shm/.$1" "/dev/shm/$1"; }
wait_for() { while ! grep -q "$2" "$1" 2>/dev/null; do sleep 0.05; done; }
"#;

#[test]
fn once_and_batch_print_plain_tables_with_growth_between_samples() {
    if !common::as_root("once_and_batch_print_plain_tables_with_growth_between_samples") {
        return;
    }
    if !common::needs_programs(
        "once_and_batch_print_plain_tables_with_growth_between_samples",
        &[("tmux", "tmux")],
    ) {
        return;
    }
    let scene = Scene::new();
    let script = format!(
        r#"{MAKE}
"$LEAK" 33554432 > "$OUT/leaked"
"$SHMKIT" top --once --kind sysv --kind posix
make grow 8388608
"$SHMKIT" top -b 2 --interval 1 --kind posix > "$OUT/batch" &
wait_for "$OUT/batch" '^posix'
head -c 16777216 /dev/zero >> /dev/shm/grow
wait $!
"#
    );
    let out = isolated(&scene, &script);
    let once = out.ok();
    let leaked = format!("sysv:id={}", wait_file(&scene.out().join("leaked")));
    let lines: Vec<&str> = once.lines().collect();
    assert!(lines[0].starts_with("shmkit top - ") && lines[0].ends_with(", sample 1, every 2s"));
    assert!(
        lines[1].contains("total") && lines[2].starts_with("Mem:"),
        "{once}"
    );
    assert!(lines[4].starts_with("buff/cache "), "{once}");
    let header = lines[6].split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(
        header,
        "KIND ADDRESS SIZE RSS GROWTH/S SINCE START AGE HOLDERS STATUS"
    );
    let cells: Vec<&str> = lines[7].split_whitespace().collect();
    assert_eq!(
        cells[..6],
        ["sysv", leaked.as_str(), "32.0M", "32.0M", "-", "0"]
    );
    assert_eq!(cells[7..], ["-", "leak"], "{once}");
    assert_eq!(lines.len(), 8, "one object in its own namespace: {once}");

    let batch = std::fs::read_to_string(scene.out().join("batch")).unwrap();
    let rows: Vec<Vec<&str>> = batch
        .lines()
        .filter(|l| l.starts_with("posix"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{batch}");
    assert_eq!(
        rows[0][..6],
        ["posix", "posix:/grow", "8.0M", "8.0M", "-", "0"]
    );
    assert_eq!(rows[1][..3], ["posix", "posix:/grow", "24.0M"], "{batch}");
    assert!(rows[1][4].starts_with('+'), "grew per second: {batch}");
    assert_eq!(rows[1][5], "+16.0M", "since the first sample: {batch}");
    assert!(batch.contains("sample 2, every 1s"), "{batch}");
}

#[test]
fn ls_and_mem_watch_repeat_with_what_changed() {
    if !common::as_root("ls_and_mem_watch_repeat_with_what_changed") {
        return;
    }
    if !common::needs_programs(
        "ls_and_mem_watch_repeat_with_what_changed",
        &[("tmux", "tmux")],
    ) {
        return;
    }
    let scene = Scene::new();
    let script = format!(
        r#"{MAKE}
make old 4194304
"$SHMKIT" ls --watch=0.5 --kind posix > "$OUT/ls" &
LS=$!
"$SHMKIT" mem --watch=0.5 > "$OUT/mem" &
MEM=$!
wait_for "$OUT/ls" '^changes in'
wait_for "$OUT/mem" '^changes in'
make new 25165824
rm /dev/shm/old
wait_for "$OUT/ls" 'posix:/old.*gone'
wait_for "$OUT/mem" 'posix:/old.*gone'
kill $LS $MEM
"#
    );
    isolated(&scene, &script).ok();
    for name in ["ls", "mem"] {
        let text = std::fs::read_to_string(scene.out().join(name)).unwrap();
        let first = text.lines().next().unwrap_or("");
        assert!(
            first.starts_with("-- 20") && first.ends_with(" (every 0.5s) --"),
            "{name}: {text}"
        );
        let change = |object: &str| -> Vec<String> {
            text.lines()
                .filter(|l| l.split_whitespace().nth(1) == Some(object))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect()
        };
        assert_eq!(
            change("posix:/new"),
            ["+24.0M posix:/new new"],
            "{name}: {text}"
        );
        assert_eq!(
            change("posix:/old"),
            ["-4.0M posix:/old gone"],
            "{name}: {text}"
        );
        // free's "shared" moves with the 24 MiB the scene made, but other work on the machine
        // (a tmpfs file written and deleted in a loop) can outweigh it either way: the
        // watch must report the change, in whichever direction it went.
        assert!(
            text.lines().any(|l| l.starts_with("changes in ")
                && (l.contains("shared +") || l.contains("shared -"))),
            "free's numbers change too: {name}: {text}"
        );
    }
}

#[test]
fn kind_filter_grouping_and_pause_keys() {
    if !common::as_root("kind_filter_grouping_and_pause_keys") {
        return;
    }
    if !common::needs_programs("kind_filter_grouping_and_pause_keys", &[("tmux", "tmux")]) {
        return;
    }
    let scene = Scene::new();
    let tmux = Tmux::start("top-keys", 120, 30);
    tmux.line(&scene.command(&format!(
        r#"{MAKE}
"$LEAK" 8388608 > "$OUT/leaked"
( wait_for "$OUT/go" go; make shmkit-top-late 4194304; echo made > "$OUT/made" ) &
"$SHMKIT" top --interval 0.5
"#
    )));
    let leaked = format!("sysv:id={}", wait_file(&scene.out().join("leaked")));
    tmux.wait("the leak", |s| table_row(s, "sysv", &leaked).is_some());

    // k: all kinds, then one kind at a time.
    tmux.keys(&["k"]);
    tmux.wait("System V only", |s| {
        s.contains("[kind sysv]")
            && s.lines()
                .skip(6)
                .all(|l| l.is_empty() || l.starts_with("sysv") || l.starts_with("q quit"))
    });
    tmux.keys(&["k"]);
    tmux.wait("POSIX only: none yet", |s| {
        s.contains("[kind posix]") && s.contains("no shared-memory objects match")
    });
    // (A key right after Escape would reach top as Alt+key: wait for Escape's effect.)
    tmux.keys(&["Escape"]);
    tmux.wait("the filter cleared", |s| !s.contains("[kind"));

    // G: one heading per container; here, everything is the host's.
    tmux.keys(&["G"]);
    tmux.wait("the host's group heading", |s| {
        s.contains("[grouped]")
            && s.lines()
                .any(|l| l.starts_with("[host] ") && l.contains(" objects, "))
    });
    tmux.keys(&["G"]);

    // p: no new sample while paused, even when an object appears; p again resumes.
    tmux.keys(&["p"]);
    let paused = tmux.wait("paused", |s| s.contains("PAUSED"));
    let at = sample_number(&paused);
    std::fs::write(scene.out().join("go"), "go\n").unwrap();
    wait_file(&scene.out().join("made"));
    // Four intervals: a sampling pause that did not hold would show a new sample by now.
    std::thread::sleep(Duration::from_secs(2));
    let screen = tmux.screen();
    assert_eq!(
        sample_number(&screen),
        at,
        "a sample while paused:\n{screen}"
    );
    assert!(
        row(&screen, "posix:/shmkit-top-late").is_none(),
        "paused, yet the new object shows:\n{screen}"
    );
    tmux.keys(&["p"]);
    tmux.wait("the new object after resuming", |s| {
        !s.contains("PAUSED") && row(s, "posix:/shmkit-top-late").is_some()
    });
    tmux.keys(&["q"]);
    tmux.wait("top's exit code", |s| s.contains("top-exit=0"));
    scene.assert_terminal_restored();
}

/// A process in an IPC namespace of its own, holding it alive; killed on drop, which frees
/// the namespace and its segments.
struct Namespace(std::process::Child);

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_object_of_another_namespace_shows_its_place_and_is_removed_only_there() {
    if !common::needs_host_root(
        "an_object_of_another_namespace_shows_its_place_and_is_removed_only_there",
        common::OTHER_NAMESPACES,
    ) {
        return;
    }
    if !common::needs_programs(
        "an_object_of_another_namespace_shows_its_place_and_is_removed_only_there",
        &[("tmux", "tmux")],
    ) {
        return;
    }
    let scene = Scene::new();
    // The seed's leak, made in a new IPC namespace that `sleep` keeps alive (same pid:
    // unshare and sh exec into it).
    let ns = Namespace(
        Command::new("unshare")
            .args(["--ipc", "sh", "-c"])
            .arg(format!(
                "'{}' 4194304 > '{}/inner'; exec sleep 600",
                scene.leak.display(),
                scene.out().display()
            ))
            .spawn()
            .expect("unshare"),
    );
    wait_file(&scene.out().join("inner"));
    let place = format!("pid:{}", ns.0.id());
    let tmux = Tmux::start("top-foreign", 120, 30);
    tmux.line(&format!(
        "'{}' top --interval 0.5 --kind sysv; echo \"top\"\"-exit=$?\"",
        bin()
    ));
    tmux.wait("top's first sample", |s| s.contains("sample 1"));
    // The host has other segments: keep the one in our namespace.
    tmux.keys(&["/"]);
    tmux.line(&place);
    let ours = |s: &str| {
        s.lines().any(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.len() > 4 && cells[..5] == ["sysv", "sysv:id=0", &place, "4.0M", "4.0M"]
        })
    };
    tmux.wait("the segment with its namespace", |s| {
        ours(s) && s.contains("1 of ")
    });

    // d: not removed from here, where sysv:id=0 may be another segment; the way is named.
    tmux.keys(&["d"]);
    tmux.wait("the refusal naming rm --target", |s| {
        s.contains(&format!(
            "sysv:id=0: it lives in {place}, not here; remove it there with `shmkit rm --target {} sysv:id=0`",
            ns.0.id()
        ))
    });
    // Enter: stat, asked inside that namespace.
    tmux.keys(&["Enter"]);
    tmux.wait("its stat, from inside", |s| {
        s.contains(" stat sysv:id=0 ") && s.contains("4.0M (4194304 bytes)")
    });
    tmux.keys(&["Escape"]);
    tmux.wait("the stat closed", |s| !s.contains(" stat sysv:id=0 "));
    // G: its group is its namespace.
    tmux.keys(&["G"]);
    tmux.wait("its group", |s| {
        s.lines()
            .any(|l| l.starts_with(&format!("[{place}] 1 objects, 4.0M resident")))
    });
    tmux.keys(&["q"]);
    tmux.wait("top's exit code", |s| s.contains("top-exit=0"));
    assert!(
        ours(
            &std::process::Command::new(bin())
                .args(["top", "--once", "--kind", "sysv"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        ),
        "still there: top removed nothing"
    );
}

/// A real container (its own IPC namespace and /dev/shm) with a segment its process holds
/// and an idle /dev/shm file: `top -b` on the host shows both, in every sample (the first,
/// which walks every process, and the next, which reuse those walks), with the container's
/// name in the CONTAINER column and the status a full scan gives.
#[test]
fn top_on_the_host_shows_a_containers_segment_and_file_with_its_name() {
    let test = "top_on_the_host_shows_a_containers_segment_and_file_with_its_name";
    if !common::needs_docker(test) {
        return;
    }
    let image = containers_support::Image::build();
    let ct = containers_support::Container::run(&image, &["--ipc", "private"]);
    ct.hold("sysv 0x70c1 5242880");
    ct.sh("head -c 3145728 /dev/zero > /dev/shm/top-in-container");
    let out = shmkit(&[
        "top",
        "-b",
        "3",
        "--interval",
        "0.5",
        "--kind",
        "sysv",
        "--kind",
        "posix",
    ]);
    let text = out.ok();
    let samples: Vec<&str> = text.split("shmkit top - ").skip(1).collect();
    assert_eq!(samples.len(), 3, "{text}");
    for sample in samples {
        let header = sample
            .lines()
            .find(|l| l.starts_with("KIND"))
            .unwrap_or_else(|| panic!("no table: {sample}"));
        assert!(header.contains("CONTAINER"), "{header}");
        // The container's row of this kind (its segment is addressed by id: keys are per
        // IPC namespace).
        let cells = |kind: &str| -> Vec<String> {
            let line = sample
                .lines()
                .find(|l| l.starts_with(kind) && l.contains(&ct.name))
                .unwrap_or_else(|| panic!("no {kind} row of {} in:\n{sample}", ct.name));
            line.split_whitespace().map(str::to_string).collect()
        };
        let seg = cells("sysv ");
        assert_eq!(seg[2..5], [ct.name.as_str(), "5.0M", "5.0M"], "{sample}");
        assert_eq!(seg[seg.len() - 2..], ["in", "use"], "{sample}");
        assert!(
            seg.iter().any(|c| c.ends_with("/hold")),
            "held by hold: {sample}"
        );
        let file = cells("posix ");
        assert_eq!(
            file[1..5],
            ["posix:/top-in-container", ct.name.as_str(), "3.0M", "3.0M"],
            "{sample}"
        );
        assert_eq!(file.last().map(String::as_str), Some("idle"), "{sample}");
    }
}
