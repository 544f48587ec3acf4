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
    validates_exit(schema, args, None)
}

/// The documents a run of the test validated, to check that none was left out.
static VALIDATED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// As [`validates`], for a command that ends with `exit` (any when `None`).
fn validates_exit(schema: &str, args: &[&str], exit: Option<i32>) -> Value {
    let out = Command::new(SHMKIT).args(args).output().unwrap();
    if let Some(code) = exit {
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    check(schema, &doc, args);
    doc
}

fn check(schema: &str, doc: &Value, args: &[&str]) {
    let text = std::fs::read_to_string(shipped().join(format!("{schema}.schema.json"))).unwrap();
    let validator = jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{args:?} against {schema}: {errors:#?}");
    if schema != "error" {
        let name = doc["schema"].as_str().unwrap_or_default();
        assert!(
            name.starts_with(&format!("shmkit.{schema}/")),
            "{args:?}: document {name} checked against {schema}"
        );
    }
    VALIDATED.lock().unwrap().push(schema.to_string());
}

/// Every point in time is `*_unix` (an integer or null), every duration `*_seconds`; no key
/// says `bytes` or `_ms`, and no integer is beyond 2^53 (those are strings).
fn check_vocabulary(doc: &Value, at: &str) {
    match doc {
        Value::Object(map) => {
            for (key, value) in map {
                let here = format!("{at}.{key}");
                assert!(
                    !key.ends_with("_ms")
                        && key != "bytes"
                        && !["atime", "dtime", "ctime", "mtime", "since"].contains(&key.as_str()),
                    "{here}: times are *_unix, durations *_seconds, sizes size/resident/swapped"
                );
                if key.ends_with("_unix") {
                    assert!(value.is_i64() || value.is_null(), "{here}: {value}");
                }
                if key.ends_with("_seconds") {
                    assert!(value.is_number() || value.is_null(), "{here}: {value}");
                }
                check_vocabulary(value, &here);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_vocabulary(item, &format!("{at}[{i}]"));
            }
        }
        Value::Number(n) => {
            let exact = n.as_u64().is_none_or(|v| v <= 1 << 53)
                && n.as_i64().is_none_or(|v| v.unsigned_abs() <= 1 << 53);
            assert!(exact, "{at}: {n} is beyond 2^53; write it as a string");
        }
        _ => {}
    }
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
    let unique = format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let addr = format!("posix:/shmkit-schema-{unique}");
    let created = validates(
        "create",
        &["create", &addr, "--size", "4K", "--exclusive", "--json"],
    );
    let _object = Posix(addr.clone());
    assert_eq!(created["created"], true);
    validates("write", &["write", &addr, "hello", "--json"]);
    let read = validates("read", &["read", &addr, "--len", "5", "--json"]);
    assert_eq!(read["text"], "hello");
    let stat = validates("stat", &["stat", &addr, "--json"]);
    assert_eq!(stat["address"], addr.as_str());
    assert_eq!(stat["survives"]["reboot"]["answer"], "no");
    assert_eq!(stat["survives"]["reboot"]["because"], "memory-only");
    validates("chmod", &["chmod", &addr, "640", "--json"]);
    // To the test's own user and group: any owner may do that, root or not.
    let me = |flag: &str| {
        let out = Command::new("id")
            .arg(flag)
            .output()
            .expect("id (coreutils)");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let owner = format!("{}:{}", me("-u"), me("-g"));
    validates("chown", &["chown", &addr, &owner, "--json"]);
    validates("resize", &["resize", &addr, "8K", "--json"]);
    validates("ls", &["ls", "--json"]);
    validates("mem", &["mem", "--json"]);
    validates("rm", &["rm", &addr, "--dry-run", "--json"]);
    let error = validates("error", &["stat", "posix:/shmkit-schema-none", "--json"]);
    assert_eq!(error["error"]["exit_code"], 3);
    let doctor = validates("doctor", &["doctor", "--json"]);
    assert!(["yes", "no", "depends"].contains(
        &doctor["verdicts"][0]["container_restart"]["answer"]
            .as_str()
            .unwrap()
    ));
    validates("reclaim", &["reclaim", "--json"]);
    validates("lab-list", &["lab", "list", "--json"]);
    // The one experiment that needs neither root nor drop_caches; `lab run all` would run
    // every experiment at 64 MiB or more, so one real experiment is checked in its document.
    let experiment = validates(
        "lab",
        &["lab", "run", "ipc-namespace", "--size", "16M", "--json"],
    );
    let all = serde_json::json!({"schema": "shmkit.lab-all/2", "experiments": [experiment]});
    check(
        "lab-all",
        &all,
        &["lab", "run", "all", "--json (one experiment)"],
    );
    // What `reclaim --measure 1` prints, from this machine's prediction and meminfo, without
    // dropping the host's caches (before = after); the real drop with SHMKIT_TEST_DROP_CACHES=1.
    let root = shmkit::procfs::ProcRoot::live();
    let prediction = shmkit::reclaim::predict(&shmkit::reclaim::inputs(&root).unwrap());
    let sample = shmkit::lab::runner::read_sample(&root).unwrap();
    let measured = shmkit::reclaim::compare(&prediction.levels[0], &sample, &sample, 0.25);
    let measured = serde_json::to_value(&measured).unwrap();
    check(
        "reclaim-measure",
        &measured,
        &["reclaim", "--measure", "1 (not dropped)"],
    );
    check_vocabulary(&measured, "reclaim-measure");
    if std::env::var_os("SHMKIT_TEST_DROP_CACHES").is_some() {
        validates(
            "reclaim-measure",
            &["reclaim", "--measure", "1", "--yes", "--json"],
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.snap");
    let snap = snap.to_str().unwrap();
    let saved = validates(
        "snapshot-save",
        &["snapshot", "save", snap, &addr, "--json"],
    );
    assert_eq!(saved["objects"][0]["shmid"], Value::Null, "{saved}");
    assert!(saved["objects"][0]["checksum"].is_string(), "{saved}");
    validates("snapshot-ls", &["snapshot", "ls", snap, "--json"]);
    validates("snapshot-verify", &["snapshot", "verify", snap, "--json"]);
    // The object exists: a dry run shows the conflict in its document and exits 4.
    let conflict = validates_exit(
        "snapshot-restore",
        &["snapshot", "restore", snap, "--dry-run", "--json"],
        Some(4),
    );
    assert_eq!(
        conflict["objects"][0]["action"], "would-conflict",
        "{conflict}"
    );
    assert_eq!(conflict["conflict"]["exit_code"], 4, "{conflict}");
    let replace = validates_exit(
        "snapshot-restore",
        &["snapshot", "restore", snap, "--replace", "--json"],
        Some(0),
    );
    assert_eq!(replace["objects"][0]["action"], "replaced", "{replace}");
    assert_eq!(replace["conflict"], Value::Null, "{replace}");

    let mut missing: Vec<String> = names(&shipped())
        .into_iter()
        .map(|f| f.trim_end_matches(".schema.json").to_string())
        .filter(|n| !VALIDATED.lock().unwrap().contains(n))
        .collect();
    missing.sort();
    assert!(
        missing.is_empty(),
        "no real output checked against {missing:?}"
    );
}

#[test]
fn every_document_speaks_one_vocabulary_of_times_sizes_and_integers() {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let key =
        0x5c00_0000 + (std::process::id() & 0xffff) * 16 + NEXT.fetch_add(1, Ordering::Relaxed);
    let addr = format!("sysv:{key}");
    let out = Command::new(SHMKIT)
        .args(["create", &addr, "--size", "4K", "--exclusive"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let _segment = Posix(addr.clone());
    let stat = validates("stat", &["stat", &addr, "--json"]);
    for doc in [
        stat,
        validates("ls", &["ls", "--json"]),
        validates("mem", &["mem", "--json"]),
        validates("doctor", &["doctor", "--json"]),
        validates("reclaim", &["reclaim", "--json"]),
    ] {
        let name = doc["schema"].as_str().unwrap_or_default().to_string();
        check_vocabulary(&doc, &name);
    }
}
