//! Helpers shared by the fixture tests: a private copy of a fixture tree, made ready to scan.
//!
//! Fixture trees (`tests/fixtures/scan-*`) hold `proc/`, `etc/` and the directories of their
//! tmpfs mounts (`dev/shm/`, `mnt/…`). Two things in them cannot be fixed in the repository,
//! so the copy fills them in:
//! - a `maps` line names a file of the tree's own mounts by `{ino:REL}` (REL relative to the
//!   tree): the scan matches mappings to walked files by inode, and a checkout gives files
//!   whatever inodes its filesystem picks;
//! - every file's mtime and atime are set to [`FIXTURE_MTIME`], so ages are stable;
//! - every file's mode is set to [`FIXTURE_MODE`]: git keeps no modes but the executable bit,
//!   and a checkout gives files whatever its umask makes (0664 under umask 002).

#![allow(dead_code)]

pub mod kernel;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

/// The mtime every file of a fixture copy gets.
pub const FIXTURE_MTIME: i64 = 1_795_620_000;

/// The mode every file of a fixture copy gets.
pub const FIXTURE_MODE: u32 = 0o644;

/// The fixture tree `tests/fixtures/NAME`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A scannable copy of the fixture tree `NAME` in a temporary directory.
pub fn fixture_copy(name: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("shmkit-{name}-"))
        .tempdir()
        .expect("tempdir");
    copy_tree(&fixture(name), dir.path());
    fill_inodes(dir.path(), dir.path());
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read fixture dir") {
        let entry = entry.expect("entry");
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&src).expect("lstat");
        if meta.is_symlink() {
            let target = std::fs::read_link(&src).expect("readlink");
            std::os::unix::fs::symlink(target, &dst).expect("symlink");
        } else if meta.is_dir() {
            std::fs::create_dir(&dst).expect("mkdir");
            copy_tree(&src, &dst);
        } else if entry.file_name() != ".keep" {
            std::fs::copy(&src, &dst).expect("copy");
            std::fs::set_permissions(
                &dst,
                std::os::unix::fs::PermissionsExt::from_mode(FIXTURE_MODE),
            )
            .expect("chmod");
            std::fs::File::options()
                .write(true)
                .open(&dst)
                .and_then(|f| {
                    // Access time too: an idle file's age is from its last access or change.
                    let t = UNIX_EPOCH + Duration::from_secs(FIXTURE_MTIME as u64);
                    f.set_times(std::fs::FileTimes::new().set_accessed(t).set_modified(t))
                })
                .expect("set mtime");
        }
    }
}

/// Replaces `{ino:REL}` in every `maps` file with the inode of `root/REL`.
fn fill_inodes(root: &Path, dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        let meta = std::fs::symlink_metadata(&path).expect("lstat");
        if meta.is_dir() {
            fill_inodes(root, &path);
        } else if meta.is_file() && path.file_name().is_some_and(|n| n == "maps") {
            let mut text = std::fs::read_to_string(&path).expect("read maps");
            while let Some(start) = text.find("{ino:") {
                let end = start + text[start..].find('}').expect("closing brace");
                let rel = &text[start + 5..end];
                let ino = std::fs::metadata(root.join(rel))
                    .unwrap_or_else(|e| panic!("{rel}: {e}"))
                    .ino();
                text.replace_range(start..=end, &ino.to_string());
            }
            std::fs::write(&path, text).expect("write maps");
        }
    }
}

/// Says on stderr that `test` was skipped and why, and returns false, for `if !... { return }`.
/// With `SHMKIT_TEST_REQUIRE_ROOT=1` (CI: root, every tool installed, a Docker Engine
/// running) nothing may be skipped, so it fails instead.
pub fn skip(test: &str, why: &str) -> bool {
    assert!(
        std::env::var_os("SHMKIT_TEST_REQUIRE_ROOT").is_none(),
        "{test} cannot run here ({why}), and SHMKIT_TEST_REQUIRE_ROOT forbids skipping it"
    );
    // Written to the descriptor, not through eprintln!, which the test harness captures and
    // shows only for failures: a skip must be seen.
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("skipped: {test}: {why}\n").as_bytes(),
    );
    false
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
        })
        .and_then(|uid| uid.parse::<u32>().ok())
        == Some(0)
}

/// `shmkit`, to be run on a fixture tree. A fixture's files belong to root, and a copy's to
/// whoever made it: off root, shmkit runs in a user namespace where that user is root
/// (`unshare --map-root-user`), so it sees the owner the fixture describes.
pub fn fixture_shmkit() -> std::process::Command {
    let shmkit = env!("CARGO_BIN_EXE_shmkit");
    if is_root() {
        std::process::Command::new(shmkit)
    } else {
        let mut cmd = std::process::Command::new("unshare");
        cmd.arg("--map-root-user").arg(shmkit);
        cmd
    }
}

/// Whether this test may run: true as root, else a visible skip (see [`skip`]).
pub fn needs_root(test: &str) -> bool {
    is_root()
        || skip(
            test,
            "needs root (real uids, mounts, namespaces, sysctls); run the tests as root to cover it",
        )
}

/// Whether `program` is on PATH.
pub fn has_program(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Whether this test may run: true when every program is installed, else a visible skip
/// naming the missing ones and the Debian package (`.ci/run` installs them all).
pub fn needs_programs(test: &str, programs: &[(&str, &str)]) -> bool {
    let missing: Vec<String> = programs
        .iter()
        .filter(|(p, _)| !has_program(p))
        .map(|(p, pkg)| format!("{p} (apt-get install {pkg})"))
        .collect();
    missing.is_empty() || skip(test, &format!("needs {}", missing.join(", ")))
}

/// Whether this test may run: true as root with a Docker Engine answering, else a visible
/// skip.
pub fn needs_docker(test: &str) -> bool {
    if !needs_root(test) {
        return false;
    }
    let answers = std::process::Command::new("docker")
        .arg("info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    answers
        || skip(
            test,
            "needs a running Docker Engine (`docker info` failed; .ci/run starts one)",
        )
}
