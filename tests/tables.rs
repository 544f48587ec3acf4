//! Whole-output tests of the tables: each command's exact text, on the `scan-host` fixture
//! tree or a snapshot file kept in the repository, with the clock (`--now`), the time zone
//! and colour fixed, compared with a file under `tests/tables/`. Nothing is compared piece by
//! piece: a column that moves, a header renamed, a note that lands on stdout, all fail.
//!
//! The expected files are compared byte for byte (`.raw()`): snapbox's filters would read
//! `\` as a Windows path separator, and `--raw` escapes spaces as `\x20`. Only `mem.txt`,
//! which has no `\`, goes through them, for its `[..]` (the rest of a line).
//!
//! After an intended change of a table, rewrite the expected files and review the diff:
//! `SNAPSHOTS=overwrite cargo test --test tables` (it writes the actual output: put the
//! `[..]` of `mem.txt` back by hand).

mod common;

use snapbox::cmd::Command;

/// `FIXTURE_MTIME` plus 3 days and a bit (the same clock as `ls_cli`).
const NOW: &str = "1795880000";

/// shmkit with a fixed time zone (one that is not UTC, so that local time shows) and no
/// colour; off root in a user namespace where the fixture's owner is root (see
/// [`common::fixture_shmkit`]).
fn shmkit() -> Command {
    let bin = env!("CARGO_BIN_EXE_shmkit");
    let cmd = if common::is_root() {
        Command::new(bin)
    } else {
        Command::new("unshare").arg("--map-root-user").arg(bin)
    };
    cmd.env("TZ", "Asia/Shanghai")
        .env("NO_COLOR", "1")
        .env_remove("COLUMNS")
}

#[test]
fn ls_prints_the_fixture_tree_as_one_table() {
    let tree = common::fixture_copy("scan-host");
    shmkit()
        .args(["ls", "--now", NOW, "--root"])
        .arg(tree.path())
        .assert()
        .success()
        .stdout_eq(snapbox::file!["tables/ls.txt"].raw());
}

#[test]
fn ls_output_all_with_iso_times_in_local_time() {
    let tree = common::fixture_copy("scan-host");
    shmkit()
        .args([
            "ls",
            "--now",
            NOW,
            "--output-all",
            "--time-format",
            "iso",
            "--root",
        ])
        .arg(tree.path())
        .assert()
        .success()
        .stdout_eq(snapbox::file!["tables/ls-output-all-iso.txt"].raw());
}

#[test]
fn ls_chosen_columns_raw_bytes_no_headings() {
    let tree = common::fixture_copy("scan-host");
    shmkit()
        .args(["ls", "--now", NOW, "-o", "KIND,ADDRESS,SIZE,UID,STATUS"])
        .args(["-n", "--raw", "-b", "--root"])
        .arg(tree.path())
        .assert()
        .success()
        .stdout_eq(snapbox::file!["tables/ls-raw.txt"].raw());
}

/// `mem` has no clock of its own to fix and measures the fixture's mounts with `statvfs` of
/// the copy (this machine's disk): the idle ages and the mount sizes (and the sum they go
/// into) are `[..]` in the expected text, everything else is exact.
#[test]
fn mem_prints_the_fixture_trees_memory() {
    let tree = common::fixture_copy("scan-host");
    shmkit()
        .args(["mem", "--root"])
        .arg(tree.path())
        .assert()
        .success()
        .stdout_eq(snapbox::file!["tables/mem.txt"]);
}

#[test]
fn lab_list_names_every_experiment() {
    shmkit()
        .args(["lab", "list"])
        .assert()
        .success()
        .stdout_eq(snapbox::file!["tables/lab-list.txt"].raw());
}

#[test]
fn snapshot_ls_lists_a_saved_file_in_local_time() {
    for (format, expected) in [
        ("iso", snapbox::file!["tables/snapshot-ls-iso.txt"].raw()),
        ("full", snapbox::file!["tables/snapshot-ls-full.txt"].raw()),
    ] {
        shmkit()
            // A relative path, so that the first line, which names the file, is the same in
            // every checkout.
            .args([
                "snapshot",
                "ls",
                "snapshot-mixed.snap",
                "--time-format",
                format,
            ])
            .current_dir(common::fixture(""))
            .assert()
            .success()
            .stdout_eq(expected);
    }
}
