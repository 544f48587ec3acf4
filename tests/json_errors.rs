//! Under `--json`, an error is a JSON document too (`shmkit.error/1`) on stdout, with the
//! exit code the process ends with; without `--json`, stdout stays empty.

mod common;

use serde_json::Value;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

const SHMKIT: &str = env!("CARGO_BIN_EXE_shmkit");

fn shmkit(args: &[&str]) -> Output {
    Command::new(SHMKIT)
        .args(args)
        .output()
        .expect("run shmkit")
}

/// The error document on stdout, checked against the exit code.
fn error_document(args: &[&str]) -> Value {
    let out = shmkit(args);
    let code = out.status.code().expect("an exit code");
    assert_ne!(code, 0, "{args:?} succeeded");
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {:?}", out.stdout));
    assert_eq!(doc["schema"], "shmkit.error/1", "{doc}");
    assert_eq!(doc["error"]["exit_code"], code, "{doc}");
    assert!(doc["error"]["cause"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
    assert!(
        !String::from_utf8_lossy(&out.stderr).is_empty(),
        "stderr says it too"
    );
    doc
}

/// A key no segment of this IPC namespace has (checked), made from our pid and a counter so
/// that the tests of this binary, which run at once, never pick the same one.
fn unused_key() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let mut key = 0x5b00_0000
        | ((std::process::id() & 0xffff) << 8) ^ (NEXT.fetch_add(1, Ordering::Relaxed) << 4);
    loop {
        // Below 2^31, so that its canonical address is this decimal one.
        let addr = format!("sysv:{}", key & 0x7fff_ffff);
        if shmkit(&["stat", &addr]).status.code() == Some(3) {
            return addr;
        }
        key = key.wrapping_add(1 << 24).max(1);
    }
}

#[test]
fn a_missing_object_is_a_json_error_with_its_exit_code() {
    let addr = unused_key();
    let doc = error_document(&["stat", &addr, "--json"]);
    assert_eq!(doc["error"]["object"], addr.as_str());
    assert_eq!(doc["error"]["exit_code"], 3);
    assert!(doc["error"]["fix"].is_string(), "{doc}");
    let plain = shmkit(&["stat", &addr]);
    assert_eq!(plain.status.code(), Some(3));
    assert!(plain.stdout.is_empty(), "no JSON without --json");
}

#[test]
fn a_bad_address_on_the_command_line_is_a_json_error_too() {
    let doc = error_document(&["stat", "posix:no-slash", "--json"]);
    assert_eq!(doc["error"]["exit_code"], 2);
    assert!(
        doc["error"]["cause"]
            .as_str()
            .unwrap()
            .contains("starts with '/'"),
        "{doc}"
    );
}

#[test]
fn a_conflict_under_snapshot_restore_dry_run_is_told_in_its_json() {
    if !common::as_root("a_conflict_under_snapshot_restore_dry_run_is_told_in_its_json") {
        return;
    }
    struct Removed(String);
    impl Drop for Removed {
        fn drop(&mut self) {
            let _ = Command::new(SHMKIT)
                .args(["rm", &self.0])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
    let addr = unused_key();
    let created = shmkit(&["create", &addr, "--size", "4K", "--exclusive"]);
    assert!(created.status.success(), "{created:?}");
    let _segment = Removed(addr.clone());
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.snap");
    let snap = snap.to_str().unwrap();
    assert!(shmkit(&["snapshot", "save", snap, &addr]).status.success());
    // The segment is still there, so restoring it would overwrite it: the dry run's document
    // shows it as a conflict and says why, and the command exits 4 as the restore would.
    let out = shmkit(&["snapshot", "restore", snap, "--dry-run", "--json"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema"], "shmkit.snapshot-restore/2", "{doc}");
    assert_eq!(doc["objects"][0]["action"], "would-conflict", "{doc}");
    assert_eq!(doc["conflict"]["exit_code"], 4, "{doc}");
    assert_eq!(doc["conflict"]["object"], addr.as_str(), "{doc}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).is_empty(),
        "stderr says it too"
    );
}
