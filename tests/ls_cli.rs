//! `shmkit ls` as a user runs it, on the `scan-host` fixture tree (`--root`, hidden): the
//! whole output compared, the filters, `--json`, and bad input.

mod common;

use std::process::Output;

/// `FIXTURE_MTIME` plus 3 days and a bit: every walked file is "3d" old; the segments'
/// ctime (1795629348) a few hours less.
const NOW: &str = "1795880000";

fn ls(tree: &std::path::Path, args: &[&str]) -> Output {
    common::fixture_shmkit()
        .arg("ls")
        .arg("--root")
        .arg(tree)
        .args(["--now", NOW])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run shmkit ls")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

/// Every object of the tree, as a new user sees it (no colour: not a terminal).
const EXPECTED_TABLE: &str = r#"KIND         ID/NAME                      SIZE    RSS  SWAP  OWNER  MODE  HOLDERS                  CREATOR            AGE  STATUS
sysv         0x00000000 id=7              2.0M   2.0M    0B  bigid  0600  -                        999 (exited)        2d  orphan
sysv         0x0000162e id=5              1.0M   1.0M    0B  root   0600  300/a) b?(c)             300/a) b?(c)        2d  -
sysv         0xdeadbeef id=11             8.0K   8.0K    0B  root   0600  300/a) b?(c)             300/a) b?(c)        2d  removed
sysv         0x0000abcd id=12             4.0K   4.0K    0B  root   0600  -                        300/a) b?(c)        2d  idle 2d,locked
sysv         0x00001234 id=9              4.0K     0B    0B  root   0640  -                        301 (exited)        2d  idle 2d
sysv         0x00005eed id=13            64.0K     0B    0B  root   0600  -                        306/clock stepped   2d  idle 2d
posix        /orders                      8.0K   8.0K     -  root   0644  300/a) b?(c)             -                   3d  -
posix        /idle                        4.0K   4.0K     -  root   0644  -                        -                   3d  idle 3d
posix        /reader                      4.0K   4.0K     -  root   0644  302/reader               -                   3d  -
posix        /dev/shm/old                 4.0K      -     -  root   0000  302/reader               -                    -  -
tmpfs        /mnt/my ram/big file        12.0K  12.0K     -  root   0644  300/a) b?(c)             -                   3d  -
tmpfs        /mnt/my ram/small            4.0K   4.0K     -  root   0644  -                        -                   3d  idle 3d
tmpfs        /mnt/my ram/sub/nested       4.0K   4.0K     -  root   0644  -                        -                   3d  idle 3d
tmpfs        /mnt/rf/blob                 4.0K   4.0K     -  root   0644  -                        -                   3d  idle 3d
tmpfs        /mnt/my ram/gone (deleted)   4.0K      -     -  root   0000  300/a) b?(c)             -                    -  deleted
shared-anon  shared-anon:1234             1.0M   4.0K     -  root   0644  300/a) b?(c) 302/reader  -                   3d  -
memfd        memfd:my buf (deleted)       2.0M   8.0K     -  root   0644  300/a) b?(c)             -                   3d  -

leaks, and the command that frees each:
  ipcrm -m 7  # sysv 0x00000000 id=7: an IPC_PRIVATE segment with no attachment (nattch 0) whose creator, pid 999, has exited: nobody knows its id
"#;

/// Only the leaks, sizes in bytes.
const EXPECTED_ORPHANS: &str = r#"KIND  ID/NAME             SIZE      RSS  SWAP  OWNER  MODE  HOLDERS  CREATOR       AGE  STATUS
sysv  0x00000000 id=7  2097152  2097152     0  bigid  0600  -        999 (exited)   2d  orphan

leaks, and the command that frees each:
  ipcrm -m 7  # sysv 0x00000000 id=7: an IPC_PRIVATE segment with no attachment (nattch 0) whose creator, pid 999, has exited: nobody knows its id
"#;

/// What the scan could not see: on stderr, so `shmkit ls | wc -l` counts only objects.
const EXPECTED_NOTES: &str = "skipped: 1 process and 2 objects that vanished during the scan
note: tmpfs at /dev/shm (device 0:23) is hidden under another mount: its files are not listed, only those a process maps or holds open
note: 1 process attaches System V segments of other IPC namespaces (containers); those segments are not listed here
";

#[test]
fn ls_prints_the_whole_table_of_the_fixture_tree() {
    let tree = common::fixture_copy("scan-host");
    let out = ls(tree.path(), &[]);
    assert_eq!(stdout(&out), EXPECTED_TABLE);
    assert_eq!(String::from_utf8_lossy(&out.stderr), EXPECTED_NOTES);
}

#[test]
fn output_noheadings_raw_prints_exactly_the_columns_asked_for() {
    let tree = common::fixture_copy("scan-host");
    let out = stdout(&ls(
        tree.path(),
        &[
            "-o",
            "KIND,SIZE",
            "-n",
            "--raw",
            "--kind",
            "tmpfs",
            "--bytes",
        ],
    ));
    assert_eq!(
        out,
        "tmpfs 12288\ntmpfs 4096\ntmpfs 4096\ntmpfs 4096\ntmpfs 4096\n"
    );
    // Raw cells never hold a space: names are escaped as util-linux does.
    let out = stdout(&ls(
        tree.path(),
        &["-o", "ID/NAME", "--raw", "--kind", "tmpfs"],
    ));
    assert_eq!(
        out.lines().take(2).collect::<Vec<_>>(),
        ["ID/NAME", "/mnt/my\\x20ram/big\\x20file"]
    );
    // +COL adds to the default columns; --output-all shows the optional ones too.
    let out = stdout(&ls(tree.path(), &["-o", "+UID", "--kind", "memfd"]));
    assert!(
        out.lines().next().unwrap().ends_with("STATUS  UID"),
        "{out}"
    );
    let out = stdout(&ls(tree.path(), &["--output-all", "--kind", "memfd"]));
    assert!(
        out.lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .ends_with(&[
                "STATUS",
                "ADDRESS",
                "UID",
                "GID",
                "NATTCH",
                "CREATED",
                "CONTAINER"
            ]),
        "{out}"
    );
}

#[test]
fn created_is_local_time_in_the_format_asked_for() {
    let tree = common::fixture_copy("scan-host");
    let run = |tz: &str, format: &str| {
        let out = common::fixture_shmkit()
            .args(["ls", "--root"])
            .arg(tree.path())
            .args(["--now", NOW, "-o", "CREATED", "-n", "--kind", "memfd"])
            .args(["--time-format", format])
            .env("TZ", tz)
            .output()
            .unwrap();
        stdout(&out)
    };
    // FIXTURE_MTIME 1795620000 is 2026-11-25 15:20:00 UTC; NOW is three days later.
    assert_eq!(run("UTC", "iso"), "2026-11-25T15:20:00+00:00\n");
    assert_eq!(run("Asia/Shanghai", "iso"), "2026-11-25T23:20:00+08:00\n");
    assert_eq!(run("Asia/Shanghai", "full"), "Wed Nov 25 23:20:00 2026\n");
    assert_eq!(run("UTC", "short"), "Nov25\n");
}

#[test]
fn a_narrow_terminal_gets_lines_that_fit() {
    let tree = common::fixture_copy("scan-host");
    let out = common::fixture_shmkit()
        .args(["ls", "--root"])
        .arg(tree.path())
        .args(["--now", NOW, "--kind", "tmpfs"])
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let text = stdout(&out);
    for line in text.lines().take_while(|l| !l.is_empty()) {
        assert!(
            line.chars().count() <= 80,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    assert!(text.contains('…'), "{text}");
}

#[test]
fn check_exits_8_when_a_listed_object_is_a_leak() {
    let tree = common::fixture_copy("scan-host");
    let out = ls(tree.path(), &["--check"]);
    assert_eq!(out.status.code(), Some(8));
    assert_eq!(String::from_utf8_lossy(&out.stdout), EXPECTED_TABLE);
    let out = ls(tree.path(), &["--check", "--kind", "memfd"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn ls_orphans_bytes_prints_only_the_leaks_and_their_free_commands() {
    let tree = common::fixture_copy("scan-host");
    assert_eq!(
        stdout(&ls(tree.path(), &["--orphans", "--bytes"])),
        EXPECTED_ORPHANS
    );
}

/// The first column of each table row (header and footer excluded).
fn rows(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| {
            l.split("  ")
                .find(|c| !c.is_empty())
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .collect()
}

#[test]
fn ls_filters_by_kind_and_user_and_sorts() {
    let tree = common::fixture_copy("scan-host");
    let out = stdout(&ls(
        tree.path(),
        &["--kind", "memfd", "--kind", "shared-anon"],
    ));
    assert_eq!(rows(&out), vec!["shared-anon", "memfd"]);
    let out = stdout(&ls(tree.path(), &["--user", "bigid"]));
    assert_eq!(
        out.lines()
            .nth(1)
            .map(|l| l.starts_with("sysv  0x00000000 id=7")),
        Some(true),
        "{out}"
    );
    assert_eq!(rows(&out).len(), 1, "{out}");
    assert_eq!(stdout(&ls(tree.path(), &["--user", "100000"])), out);
    let out = stdout(&ls(tree.path(), &["--sort", "size", "--kind", "tmpfs"]));
    let first = out.lines().nth(1).unwrap_or_default().to_string();
    assert!(first.contains("/mnt/my ram/big file"), "{out}");
    let out = stdout(&ls(tree.path(), &["--kind", "file"]));
    assert!(out.starts_with("no shared-memory objects match\n"), "{out}");
}

#[test]
fn ls_json_parses_and_carries_every_object() {
    let tree = common::fixture_copy("scan-host");
    let out = stdout(&ls(tree.path(), &["--json"]));
    let doc: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(doc["schema"], "shmkit.ls/5");
    let objects = doc["objects"].as_array().expect("objects");
    assert_eq!(objects.len(), 17);
    let kinds: std::collections::BTreeSet<&str> =
        objects.iter().filter_map(|o| o["kind"].as_str()).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        vec!["memfd", "posix", "shared-anon", "sysv", "tmpfs"]
    );
    let leak = objects
        .iter()
        .find(|o| o["sysv"]["shmid"] == 7)
        .expect("segment 7");
    assert_eq!(leak["uid"], 100_000);
    assert_eq!(leak["user"], "bigid");
    assert_eq!(leak["status"]["orphan"], true);
    assert_eq!(
        leak["remedy"],
        serde_json::json!({"action": "remove-segment", "shmid": 7})
    );
    assert_eq!(leak["sysv"]["creator"]["comm"], serde_json::Value::Null);
    let held = objects
        .iter()
        .find(|o| o["name"] == "/orders")
        .expect("/orders");
    assert_eq!(held["holders"][0]["comm"], "a) b\n(c)");
    assert_eq!(held["holders"][0]["via"], "map-and-fd");
    assert_eq!(doc["coverage"]["processes_vanished"], 1);

    let out = stdout(&ls(tree.path(), &["--json", "--orphans", "--kind", "sysv"]));
    let doc: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    let ids: Vec<i64> = doc["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter_map(|o| o["sysv"]["shmid"].as_i64())
        .collect();
    // Segment 9 has a key and is idle (its creator exited, but anyone with the key may
    // attach it): only the IPC_PRIVATE segment 7 is a leak.
    assert_eq!(ids, vec![7]);
    let out = stdout(&ls(tree.path(), &["--json", "--idle", "--kind", "sysv"]));
    let doc: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    let idle: Vec<(i64, &str)> = doc["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            (
                o["sysv"]["shmid"].as_i64().unwrap_or(-1),
                o["status"]["usage"]["state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(idle, vec![(12, "idle"), (9, "idle"), (13, "idle")]);
}

fn failure(out: &Output) -> (Option<i32>, String) {
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_input_is_one_line_with_a_documented_exit_code() {
    let tree = common::fixture_copy("scan-host");
    let (code, err) = failure(&ls(tree.path(), &["--kind", "bogus"]));
    assert_eq!(code, Some(2));
    assert!(
        err.contains(
            "unknown kind 'bogus'; use one of sysv, posix, tmpfs, shared-anon, memfd, file"
        ),
        "{err}"
    );

    let (code, err) = failure(&ls(tree.path(), &["--user", "nosuchuser"]));
    assert_eq!(code, Some(3));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("shmkit: user nosuchuser: no such user"),
        "{err}"
    );

    let empty = tempfile::tempdir().expect("tempdir");
    let (code, err) = failure(&ls(empty.path(), &[]));
    assert_eq!(code, Some(3));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("proc/meminfo") && err.contains("mount -t proc proc /proc"),
        "{err}"
    );
}

#[test]
fn color_always_paints_leaks_even_into_a_pipe_and_never_does_not() {
    let tree = common::fixture_copy("scan-host");
    let always = stdout(&ls(tree.path(), &["--orphans", "--color", "always"]));
    assert!(always.contains("\x1b[31msysv"), "{always}");
    // The option is global: before the subcommand it works the same.
    let out = common::fixture_shmkit()
        .args(["--color", "always", "ls", "--orphans", "--root"])
        .arg(tree.path())
        .args(["--now", NOW])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), always);
    let never = stdout(&ls(
        tree.path(),
        &["--orphans", "--bytes", "--color", "never"],
    ));
    assert_eq!(never, EXPECTED_ORPHANS);
}
