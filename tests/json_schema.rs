//! The JSON Schemas shipped under `docs/schema/` are the ones the types generate (up to date),
//! and what every command prints under `--json` validates against its schema.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

const SHMKIT: &str = env!("CARGO_BIN_EXE_shmkit");

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema")
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn shipped_schemas_are_up_to_date() {
    let fresh = tempfile::tempdir().unwrap();
    let status = Command::new(SHMKIT)
        .args(["schema", "--dir"])
        .arg(fresh.path())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        names(fresh.path()),
        names(&shipped()),
        "regenerate with `cargo run -- schema --dir docs/schema`"
    );
    for name in names(fresh.path()) {
        assert_eq!(
            std::fs::read_to_string(fresh.path().join(&name)).unwrap(),
            std::fs::read_to_string(shipped().join(&name)).unwrap(),
            "docs/schema/{name} is stale; regenerate with `cargo run -- schema --dir docs/schema`"
        );
    }
}

/// Runs `shmkit ARGS` and checks its stdout against `docs/schema/SCHEMA.schema.json`.
fn validates(schema: &str, args: &[&str]) -> Value {
    let out = Command::new(SHMKIT).args(args).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let text = std::fs::read_to_string(shipped().join(format!("{schema}.schema.json"))).unwrap();
    let validator = jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{args:?} against {schema}: {errors:#?}");
    doc
}

/// A POSIX object removed at drop, also when the test fails.
struct Posix(String);

impl Drop for Posix {
    fn drop(&mut self) {
        let _ = Command::new(SHMKIT)
            .args(["rm", &self.0])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn every_commands_json_validates_against_its_shipped_schema() {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let addr = format!(
        "posix:/shmkit-schema-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let created = validates(
        "create",
        &["create", &addr, "--size", "4K", "--exclusive", "--json"],
    );
    let _object = Posix(addr.clone());
    assert_eq!(created["created"], true);
    validates("write", &["write", &addr, "hello", "--json"]);
    let read = validates("read", &["read", &addr, "--len", "5", "--json"]);
    assert_eq!(read["text"], "hello");
    validates("stat", &["stat", &addr, "--json"]);
    validates("ls", &["ls", "--json"]);
    validates("mem", &["mem", "--json"]);
    validates("rm", &["rm", &addr, "--dry-run", "--json"]);
    let error = validates("error", &["stat", "posix:/shmkit-schema-none", "--json"]);
    assert_eq!(error["error"]["exit_code"], 3);

    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.snap");
    let snap = snap.to_str().unwrap();
    let saved = Command::new(SHMKIT)
        .args(["snapshot", "save", snap, &addr])
        .output()
        .unwrap();
    assert!(saved.status.success(), "{saved:?}");
    validates("snapshot-ls", &["snapshot", "ls", snap, "--json"]);
    validates("snapshot-ls", &["snapshot", "verify", snap, "--json"]);
}
