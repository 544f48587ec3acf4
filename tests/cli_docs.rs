//! The command line's own documentation: the manual pages shipped under `docs/man/` are the
//! ones `shmkit manpage --dir` makes now, they render with groff without a warning, and the
//! completion scripts are valid shell. Also `--time-format` in the time zone TZ names.

mod common;

use std::path::Path;
use std::process::Command;

const SHMKIT: &str = env!("CARGO_BIN_EXE_shmkit");

fn shipped() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/man")
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read man dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn shipped_manual_pages_are_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(SHMKIT)
        .args(["manpage", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made = names(dir.path());
    assert!(made.contains(&"shmkit.1".to_string()));
    assert!(made.contains(&"shmkit-ls.1".to_string()));
    assert_eq!(
        made,
        names(&shipped()),
        "regenerate with `cargo run -- manpage --dir docs/man`"
    );
    for name in &made {
        let now = std::fs::read_to_string(dir.path().join(name)).unwrap();
        let old = std::fs::read_to_string(shipped().join(name)).unwrap();
        assert!(
            now == old,
            "docs/man/{name} is stale; regenerate with `cargo run -- manpage --dir docs/man`"
        );
    }
    // `shmkit manpage` alone prints shmkit.1.
    let out = Command::new(SHMKIT).arg("manpage").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        std::fs::read_to_string(shipped().join("shmkit.1")).unwrap()
    );
}

#[test]
fn every_manual_page_renders_with_groff_without_a_warning() {
    if !common::needs_programs(
        "every_manual_page_renders_with_groff_without_a_warning",
        &[("groff", "groff")],
    ) {
        return;
    }
    for name in names(&shipped()) {
        let out = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww"])
            .arg(shipped().join(&name))
            .output()
            .expect("groff runs (apt-get install groff)");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && err.is_empty(), "{name}: {err}");
        let text = String::from_utf8_lossy(&out.stdout);
        let title = name.trim_end_matches(".1");
        assert!(text.contains(&format!("{title}(1)")), "{name}: {text}");
    }
    let ls = Command::new("groff")
        .args(["-man", "-Tutf8", "-P-cbou"])
        .arg(shipped().join("shmkit-ls.1"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&ls.stdout);
    assert!(text.contains("--noheadings"), "{text}");
    assert!(
        text.contains("NATTCH"),
        "the column list is in the page: {text}"
    );
}

#[test]
fn completion_scripts_are_valid_shell() {
    let script = |shell: &str| {
        let out = Command::new(SHMKIT)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let dir = tempfile::tempdir().unwrap();
    let bash = dir.path().join("shmkit.bash");
    std::fs::write(&bash, script("bash")).unwrap();
    let out = Command::new("bash").arg("-n").arg(&bash).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&bash).unwrap();
    assert!(text.contains("--time-format"), "ls's options are completed");
    assert!(text.contains("snapshot"));
    assert!(!text.contains("hold"), "hidden commands are not offered");
    // zsh and fish are checked where they are installed; a visible skip where they are not.
    for (shell, file) in [("zsh", "_shmkit"), ("fish", "shmkit.fish")] {
        let path = dir.path().join(file);
        std::fs::write(&path, script(shell)).unwrap();
        if !common::needs_programs(
            &format!("completion_scripts_are_valid_shell ({shell})"),
            &[(shell, shell)],
        ) {
            continue;
        }
        let out = Command::new(shell).arg("-n").arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn stat_time_format_iso_follows_tz() {
    if !common::as_root("stat_time_format_iso_follows_tz") {
        return;
    }
    let script = r#"$S create sysv:0x7a7a --size 4K >/dev/null || exit 1
        TZ=Asia/Shanghai $S stat sysv:0x7a7a --time-format iso | grep changed
        TZ=UTC $S stat sysv:0x7a7a --time-format iso | grep changed"#;
    let out = Command::new("unshare")
        .args(["--ipc", "sh", "-c", script])
        .env("S", SHMKIT)
        .output()
        .expect("unshare runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(lines[0].contains("+08:00 ("), "{text}");
    assert!(lines[1].contains("+00:00 ("), "{text}");
}
