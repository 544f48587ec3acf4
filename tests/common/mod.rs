//! Helpers shared by the tests: a private copy of a fixture tree, made ready to scan, and the
//! tiers of privilege a test may need, each a visible skip where it is missing (see [`skip`]):
//! root of its own namespaces ([`as_root`]: off root, the test runs again in a private user
//! namespace), root of the machine ([`needs_host_root`], saying why), Docker, programs.
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

/// Whether this process is root of the whole machine: uid 0 in the initial user namespace,
/// whose uid map is the identity over every uid. Root of a user namespace (see [`as_root`])
/// has a map of one line and only the powers that namespace gives.
pub fn is_host_root() -> bool {
    is_root()
        && std::fs::read_to_string("/proc/self/uid_map")
            .is_ok_and(|map| map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
}

/// Whether this test may run: true as root of the machine, else a visible skip (see
/// [`skip`]). For a test whose body works as root of a private user namespace, use
/// [`as_root`] instead; for one that needs the machine, say why with [`needs_host_root`].
pub fn needs_root(test: &str) -> bool {
    is_host_root()
        || skip(
            test,
            "needs root (real uids, mounts, namespaces, sysctls); run the tests as root to cover it",
        )
}

/// Whether this test may run: true as root of the machine, else a visible skip saying `why`
/// root of a private user namespace ([`as_root`]) is not enough.
pub fn needs_host_root(test: &str, why: &str) -> bool {
    is_host_root()
        || skip(
            test,
            &format!("needs root of the machine ({why}); run the tests as root to cover it"),
        )
}

/// Why a test needs root of the machine: it runs shmkit as, or gives objects to, uids other
/// than its own, and a user namespace maps only one (the test's own user, as root).
pub const OTHER_UIDS: &str =
    "it uses uids other than its own, which a user namespace of one uid cannot map";

/// Why a test needs root of the machine: huge pages (`vm.nr_hugepages`, and `CAP_IPC_LOCK`
/// for `SHM_HUGETLB`) belong to the machine, not to a user namespace.
pub const HUGE_PAGES: &str = "huge pages: vm.nr_hugepages and CAP_IPC_LOCK belong to the machine";

/// Why a test needs root of the machine: opening `/proc/PID/map_files/` needs
/// `CAP_SYS_ADMIN` (or `CAP_CHECKPOINT_RESTORE`) in the initial user namespace.
pub const MAP_FILES: &str =
    "it opens /proc/PID/map_files, which needs CAP_SYS_ADMIN of the machine";

/// Why a test needs root of the machine: the scan looks into other IPC and mount namespaces
/// only from the host's IPC namespace (from a private one, the host's would be "other" too).
pub const OTHER_NAMESPACES: &str =
    "a scan looks into other namespaces only from the host's IPC namespace";

/// Why a test needs root of the machine: it asks the Docker Engine, whose socket is root's,
/// and looks into containers' namespaces from the host.
pub const DOCKER: &str = "it asks the Docker Engine and looks into containers from the host";

/// Set in the environment of a test re-run by [`as_root`] inside its private namespaces.
const IN_USER_NAMESPACE: &str = "SHMKIT_TEST_IN_USER_NAMESPACE";

/// The size of the tmpfs a re-run test gets over `/dev/shm`: room for the largest object a
/// test makes, and a bound on what a runaway one can pin.
const PRIVATE_DEV_SHM_SIZE: &str = "size=1g";

/// Whether this test's body runs in this process, for `if !common::as_root(TEST) { return }`.
///
/// As root of the machine, and inside the re-run below, it does. Off root, `test` (its full
/// path in this binary, as `--exact` takes it) is run again from this test binary as root of
/// a private user namespace: `unshare --user --map-root-user --ipc --mount --fork`, with a
/// tmpfs of its own over `/dev/shm`. There the test's System V segments and POSIX objects are
/// its own, and it may mount tmpfs and set the IPC namespace's sysctls (`kernel.shm*`); it may
/// not read other users' processes, set the machine's sysctls, or use uids other than its own.
/// This test then passes if and only if that run ran this one test and it passed, and returns
/// false; the run's output is in the failure message, and a skip inside it is shown here.
/// Where user namespaces are refused, a visible skip.
///
/// No pid namespace: from a child one, the scan rightly calls nothing idle or leaked, since
/// processes outside it, unseen, may hold it. In the host's, the processes it cannot read
/// are other users', and it weighs what they may reach (their mounts, an object's mode) as
/// it does for any user.
pub fn as_root(test: &str) -> bool {
    if is_host_root() {
        return true;
    }
    if std::env::var_os(IN_USER_NAMESPACE).is_some() {
        assert!(
            is_root(),
            "{IN_USER_NAMESPACE} is set but this is not root of a user namespace"
        );
        return true;
    }
    if let Err(why) = user_namespaces_work() {
        return skip(
            test,
            &format!("needs root, or user namespaces for an ordinary user ({why})"),
        );
    }
    let exe = std::env::current_exe().expect("the path of this test binary");
    // tmux keeps its sockets in /tmp/tmux-UID and refuses a directory it does not own:
    // /tmp/tmux-0 is the machine root's, an unmapped uid in the user namespace.
    let tmux_dir = tempfile::Builder::new()
        .prefix("shmkit-test-tmux-")
        .tempdir()
        .expect("tempdir");
    let script = format!(
        r#"mount -t tmpfs -o mode=1777,{PRIVATE_DEV_SHM_SIZE} shmkit-test-dev-shm /dev/shm || exit 97
exec "$0" "$@""#
    );
    let out = std::process::Command::new("unshare")
        .args(UNSHARE_ARGS)
        .args(["sh", "-c", &script])
        .arg(&exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(IN_USER_NAMESPACE, "1")
        .env("TMUX_TMPDIR", tmux_dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stderr.lines().filter(|l| l.starts_with("skipped: ")) {
        let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("{line}\n").as_bytes());
    }
    assert!(
        out.status.success(),
        "{test}, run as root of a private user namespace, failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{test} is not a test of {} (pass its full path): {stdout}",
        exe.display()
    );
    false
}

/// What [`as_root`] puts a re-run test in.
const UNSHARE_ARGS: [&str; 7] = [
    "--user",
    "--map-root-user",
    "--ipc",
    "--mount",
    "--fork",
    // If unshare is killed, so is the test it runs.
    "--kill-child",
    "--propagation=private",
];

/// Whether this user may make the namespaces [`as_root`] needs; asked once.
fn user_namespaces_work() -> Result<(), String> {
    static ANSWER: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    ANSWER
        .get_or_init(|| {
            let out = std::process::Command::new("unshare")
                .args(UNSHARE_ARGS)
                .args(["mount", "-t", "tmpfs", "shmkit-test-dev-shm", "/dev/shm"])
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| format!("unshare: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "`unshare --user --map-root-user ...` failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        })
        .clone()
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
    if !needs_host_root(test, DOCKER) {
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
