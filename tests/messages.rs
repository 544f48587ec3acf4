//! What messages promise: they suggest only commands `shmkit --help` lists, they do not tell
//! root to run as root, counts agree in number, and `--check` makes `ls`, `mem` and
//! `rm --orphans --dry-run` exit 8 when there is a leak (for cron).

mod common;

use std::path::Path;
use std::process::Command;

const SHMKIT: &str = env!("CARGO_BIN_EXE_shmkit");

/// The subcommands `shmkit --help` lists.
fn listed_commands() -> Vec<String> {
    let out = Command::new(SHMKIT).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn messages_suggest_only_commands_that_help_lists() {
    let listed = listed_commands();
    assert!(listed.contains(&"ls".to_string()), "{listed:?}");
    assert!(!listed.contains(&"hold".to_string()), "hold is hidden");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("crates/shmkit/src"), &mut files);
    let mut bad = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            // Comments and docs may speak of hidden commands; strings shown to users may not.
            if code.starts_with("//") || code.starts_with("#[") {
                continue;
            }
            for (i, _) in line.match_indices("`shmkit ") {
                let word: String = line[i + 8..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                    .collect();
                if !word.is_empty() && !listed.contains(&word) {
                    bad.push(format!("{}:{}: `shmkit {word}`", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "suggestions of unlisted commands:\n{}",
        bad.join("\n")
    );
}

#[test]
fn a_memfd_address_is_refused_with_a_listed_command_as_the_fix() {
    for cmd in ["stat", "read", "chmod"] {
        let mut args = vec![cmd, "memfd:buf"];
        if cmd == "chmod" {
            args.push("600");
        }
        let out = Command::new(SHMKIT).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!err.contains("shmkit hold"), "{err}");
        assert!(err.contains("`shmkit ls --kind memfd`"), "{err}");
    }
}

#[test]
fn counts_agree_in_number() {
    if !common::as_root("counts_agree_in_number") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = r#"$S create sysv:0x6b6b --size 4K >/dev/null || exit 1
        $S snapshot save $T/one.snap sysv:all 2>&1
        $S snapshot verify $T/one.snap 2>&1
        $S snapshot ls $T/one.snap 2>&1 | head -1
        $S doctor 2>&1 | grep 'System V:'
        ipcmk -M 4096 >/dev/null
        $S snapshot save $T/two.snap sysv:all 2>&1"#;
    let out = Command::new("unshare")
        .args(["--ipc", "sh", "-c", script])
        .env("S", SHMKIT)
        .env("T", dir.path())
        .output()
        .expect("unshare runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("(s)"), "{text}");
    assert!(text.contains("saved 1 object to"), "{text}");
    assert!(text.contains(": ok: 1 object,"), "{text}");
    assert!(text.contains(", 1 object, checksum"), "{text}");
    assert!(text.contains("System V: 1 segment,"), "{text}");
    assert!(text.contains("saved 2 objects to"), "{text}");
}

#[test]
fn check_exits_8_on_a_leak_for_mem_ls_and_rm_orphans_dry_run() {
    if !common::as_root("check_exits_8_on_a_leak_for_mem_ls_and_rm_orphans_dry_run") {
        return;
    }
    // A fixture host with leaks: mem and ls say so with exit 8 under --check, 0 without.
    let tree = common::fixture_copy("scan-host");
    for (args, code) in [
        (vec!["mem"], 0),
        (vec!["mem", "--check"], 8),
        (vec!["ls", "--check"], 8),
        (vec!["ls", "--check", "--kind", "memfd"], 0),
        (vec!["ls", "--check", "--json"], 8),
        (vec!["mem", "--check", "--json"], 8),
    ] {
        let out = Command::new(SHMKIT)
            .args(&args)
            .arg("--root")
            .arg(tree.path())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A live, private host: no leak, then one (a private segment whose creator exited).
    let script = r#"mount -t tmpfs shmkit-test /dev/shm || exit 99
        $S rm --orphans --dry-run --check >/dev/null; echo "clean rc=$?"
        $S create sysv:private --size 4K >/dev/null
        $S rm --orphans --dry-run --check >/dev/null; echo "leak rc=$?"
        $S rm --orphans --dry-run >/dev/null; echo "no check rc=$?"
        echo "still there: $($S ls --orphans -n -o KIND | grep -c sysv)""#;
    let out = Command::new("unshare")
        .args([
            "--ipc",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
        ])
        .env("S", SHMKIT)
        .output()
        .expect("unshare runs");
    let text = String::from_utf8_lossy(&out.stdout);
    for line in ["clean rc=0", "leak rc=8", "no check rc=0", "still there: 1"] {
        assert!(
            text.contains(line),
            "{line}:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every duration flag reads one grammar, and a bad value is refused on one line that names
/// the flag, the text and an example, with the usage exit code.
#[test]
fn every_duration_flag_names_itself_the_bad_text_and_an_example() {
    for (flag, args) in [
        (
            "--older-than",
            &["rm", "--orphans", "--dry-run", "--older-than", "soon"][..],
        ),
        ("--interval", &["top", "--once", "--interval", "soon"]),
        ("--watch", &["ls", "--watch=soon"]),
        ("--watch", &["mem", "--watch=soon"]),
        ("--min-interval", &["exporter", "--min-interval", "soon"]),
        (
            "--wait-detached",
            &[
                "snapshot",
                "save",
                "/nonexistent/x",
                "--wait-detached",
                "soon",
            ],
        ),
        (
            "--every",
            &[
                "run",
                "--persist",
                "/nonexistent/x",
                "--every",
                "soon",
                "--",
                "true",
            ],
        ),
    ] {
        let out = Command::new(SHMKIT).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        for needed in [flag, "'soon'", "30s"] {
            assert!(first.contains(needed), "{args:?}: {first}");
        }
    }
    // What the docs show is still read: bare seconds, fractions and units.
    for args in [
        &["rm", "--orphans", "--dry-run", "--older-than", "7d"][..],
        &["rm", "--orphans", "--dry-run", "--older-than", "1h 30m"],
    ] {
        let out = Command::new(SHMKIT).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
