//! User and group names come through NSS on a live root: an account that exists only in an
//! NSS module (as LDAP, SSSD and systemd DynamicUser accounts do) is named by `ls`, `stat` and
//! `rm --user`, and accepted by `chown`; an account of /etc/passwd still is.
//!
//! The module is `tests/c/nss_only.c`, built here; each test runs shmkit in a private mount
//! namespace where an nsswitch.conf that names it is bind-mounted over /etc/nsswitch.conf, and
//! a private IPC namespace, so the host and parallel tests see neither.

mod common;

use serde_json::Value;
use std::path::Path;
use std::process::Command;

const SHMKIT: &str = env!("CARGO_BIN_EXE_shmkit");

/// Builds the module as `DIR/libnss_shmkitonly.so.2` and an nsswitch.conf that asks it after
/// the files.
fn nss_only_module(dir: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/nss_only.c");
    let status = Command::new("cc")
        .args(["-Wall", "-Werror", "-O1", "-shared", "-fPIC", "-o"])
        .arg(dir.join("libnss_shmkitonly.so.2"))
        .arg(&src)
        .status()
        .expect("cc is installed (.ci/run installs gcc)");
    assert!(status.success(), "cc {}", src.display());
    std::fs::write(
        dir.join("nsswitch.conf"),
        "passwd: files shmkitonly\ngroup: files shmkitonly\n",
    )
    .unwrap();
}

/// Runs `script` under sh with $SHMKIT and $OUT set, in private IPC and mount namespaces in
/// which NSS knows the module's account.
fn with_nss_only_account(dir: &Path, script: &str) {
    let setup = format!(
        "mount --bind {conf} /etc/nsswitch.conf && {script}",
        conf = dir.join("nsswitch.conf").display()
    );
    let out = Command::new("unshare")
        .args(["--ipc", "--mount", "--propagation", "private", "sh", "-euc"])
        .arg(setup)
        .env("SHMKIT", SHMKIT)
        .env("OUT", dir)
        .env("LD_LIBRARY_PATH", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}: {text}"))
}

#[test]
fn an_account_only_nss_knows_is_named_by_stat_ls_and_rm_and_taken_by_chown() {
    if !common::needs_host_root(
        "an_account_only_nss_knows_is_named_by_stat_ls_and_rm_and_taken_by_chown",
        common::OTHER_UIDS,
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    nss_only_module(dir.path());
    // The private IPC namespace ends with the script: the segments go with it.
    with_nss_only_account(
        dir.path(),
        r#"
"$SHMKIT" create sysv:1234 --size 4096 >/dev/null
"$SHMKIT" chown sysv:1234 nss-only-user:nss-only-group >/dev/null
"$SHMKIT" create sysv:1235 --size 4096 >/dev/null
"$SHMKIT" chown sysv:1235 nobody >/dev/null
"$SHMKIT" stat sysv:1234 --json > "$OUT/stat.json"
"$SHMKIT" stat sysv:1235 --json > "$OUT/stat_files.json"
"$SHMKIT" ls --kind sysv --json > "$OUT/ls.json"
"$SHMKIT" rm --idle --dry-run --user nss-only-user --json > "$OUT/rm.json"
"#,
    );
    let stat = json(dir.path(), "stat.json");
    assert_eq!(stat["uid"], 4_242_424, "{stat}");
    assert_eq!(stat["user"], "nss-only-user", "{stat}");
    assert_eq!(stat["group"], "nss-only-group", "{stat}");
    let stat = json(dir.path(), "stat_files.json");
    assert_eq!(stat["user"], "nobody", "an /etc/passwd account: {stat}");

    let ls = json(dir.path(), "ls.json");
    let users: Vec<(&Value, &Value)> = ls["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (&o["uid"], &o["user"]))
        .collect();
    assert!(
        users.contains(&(&Value::from(4_242_424), &Value::from("nss-only-user"))),
        "{users:?}"
    );
    assert!(
        users.contains(&(&Value::from(65_534), &Value::from("nobody"))),
        "{users:?}"
    );

    let rm = json(dir.path(), "rm.json");
    let removed = rm["removed"].as_array().unwrap();
    assert_eq!(removed.len(), 1, "only the NSS account's segment: {rm}");
    assert_eq!(removed[0]["address"], "sysv:id=0", "{rm}");
}

#[test]
fn outside_the_namespace_that_names_it_the_account_is_a_number() {
    // The control: without the module, the same uid has no name, so the test above cannot
    // pass by reading a name from anywhere else.
    assert_eq!(
        shmkit::accounts::Accounts::live().user_name(4_242_424),
        None
    );
    let out = Command::new(SHMKIT)
        .args(["rm", "--idle", "--dry-run", "--user", "nss-only-user"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
