//! `shmkit rm --orphans`: a segment leaked like the seed's shm.c (created, touched, creator
//! exits without IPC_RMID) is listed by `--dry-run` — exactly it, not a segment that a live
//! process has attached — and freed without `--dry-run`, with the memory back in `shmkit mem`.
//!
//! Each test runs in its own IPC and mount namespaces (a fresh tmpfs over /dev/shm), so other
//! tests' segments and POSIX objects are neither seen nor touched. Not in a pid namespace of
//! its own: from a child pid namespace the processes outside are invisible, so the scan would
//! (rightly) call every file uncertain; the sidecar test does that on purpose.

mod common;

mod lifecycle_support;
use lifecycle_support::*;
use serde_json::Value;

/// Runs `script` in private IPC and mount namespaces with an empty /dev/shm; `$SHMKIT`,
/// `$LEAK` and `$OUT` (a directory for results) are set.
fn isolated(script: &str, leak: &std::path::Path, out: &std::path::Path) -> Run {
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["--ipc", "--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "set -e\nmount -t tmpfs -o size=256m shmkit-orphans /dev/shm\n{script}"
        ))
        .env("SHMKIT", bin())
        .env("LEAK", leak)
        .env("OUT", out);
    run(&mut cmd, None, b"")
}

fn read_json(dir: &std::path::Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}: {text}"))
}

/// The segment id a script wrote to `$OUT/NAME`.
fn read_id(dir: &std::path::Path, name: &str) -> i64 {
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{name}: {e}: {text:?}"))
}

/// Starts `shmkit hold --sysv-id $HELD` on a fifo, so the script can let it go by closing fd 3.
const HOLD: &str = r#"
mkfifo "$OUT/fifo"
"$SHMKIT" hold --sysv-id "$HELD" < "$OUT/fifo" > "$OUT/hold.out" &
exec 3> "$OUT/fifo"
while ! grep -q ready "$OUT/hold.out" 2>/dev/null; do sleep 0.05; done
"#;

#[test]
fn dry_run_lists_exactly_the_leak_and_rm_frees_it() {
    if !common::as_root("dry_run_lists_exactly_the_leak_and_rm_frees_it") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let leak = compile_c("leak", dir.path());
    let out = dir.path();
    let script = format!(
        r#"LEAKED=$("$LEAK" 67108864); echo "$LEAKED" > "$OUT/leaked"
HELD=$("$LEAK" 4096); echo "$HELD" > "$OUT/held"
{HOLD}
"$SHMKIT" rm --orphans --dry-run --json > "$OUT/dry.json"
cat /proc/sysvipc/shm > "$OUT/after_dry.txt"
"$SHMKIT" mem --json > "$OUT/mem_before.json"
"$SHMKIT" rm --orphans --json > "$OUT/rm.json"
"$SHMKIT" mem --json > "$OUT/mem_after.json"
"$SHMKIT" rm --orphans > "$OUT/again.txt"
cat /proc/sysvipc/shm > "$OUT/after_rm.txt"
exec 3>&-
wait
"#
    );
    let run = isolated(&script, &leak, out);
    assert_eq!(run.code, 0, "{run:?}");
    let leaked = read_id(out, "leaked");
    let held = read_id(out, "held");

    // The dry run lists the leak, and only it: the held segment's creator exited too, but a
    // live process has it attached.
    let dry = read_json(out, "dry.json");
    assert_eq!(dry["dry_run"], true);
    let listed: Vec<&Value> = dry["removed"].as_array().unwrap().iter().collect();
    assert_eq!(listed.len(), 1, "{dry}");
    assert_eq!(listed[0]["address"], format!("sysv:id={leaked}"));
    assert_eq!(listed[0]["size"], 67108864);
    assert_eq!(listed[0]["why"]["why"], "leaked", "{dry}");
    assert_eq!(
        listed[0]["why"]["reason"], "private-segment-creator-exited",
        "{dry}"
    );
    assert_eq!(listed[0]["forced"], false, "{dry}");
    assert!(
        listed[0]["freed"].as_u64().unwrap() >= 60 << 20,
        "its touched pages: {dry}"
    );
    let after_dry = std::fs::read_to_string(out.join("after_dry.txt")).unwrap();
    assert_eq!(
        after_dry.lines().count(),
        3,
        "the dry run removed nothing: {after_dry}"
    );

    // Without --dry-run it frees it, and only it.
    let rm = read_json(out, "rm.json");
    assert_eq!(rm["removed"].as_array().unwrap().len(), 1, "{rm}");
    assert_eq!(rm["removed"][0]["address"], format!("sysv:id={leaked}"));
    assert!(rm["failed"].as_array().unwrap().is_empty(), "{rm}");
    let after = std::fs::read_to_string(out.join("after_rm.txt")).unwrap();
    let ids: Vec<i64> = after
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, vec![held], "the held segment stays, the leak is gone");
    assert_eq!(
        std::fs::read_to_string(out.join("again.txt")).unwrap(),
        "no orphans found\n"
    );

    // shmkit mem shows the memory back: before, the leak is a pinned item and a leak with the
    // command that frees it; after, it is gone from both. (Global Shmem is not compared: other
    // processes on the host change it at any moment.)
    let leak_items = |mem: &Value| -> (Vec<u64>, Vec<u64>) {
        let pinned = mem["pinned"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| {
                i["kind"] == "sysv"
                    && i["name"]
                        .as_str()
                        .unwrap()
                        .ends_with(&format!(" id={leaked}"))
            });
        let leaks = mem["leaks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["address"] == format!("sysv:id={leaked}"));
        (
            pinned.map(|i| i["resident"].as_u64().unwrap()).collect(),
            leaks.map(|l| l["resident"].as_u64().unwrap()).collect(),
        )
    };
    let before = read_json(out, "mem_before.json");
    let (pinned, leaks) = leak_items(&before);
    assert!(
        pinned.len() == 1 && pinned[0] >= 60 << 20,
        "pinned before: {pinned:?}"
    );
    assert!(
        leaks.len() == 1 && leaks[0] >= 60 << 20,
        "leaks before: {leaks:?}"
    );
    let after = read_json(out, "mem_after.json");
    assert_eq!(
        leak_items(&after),
        (vec![], vec![]),
        "gone from shmkit mem after rm"
    );
}

#[test]
fn older_than_and_user_narrow_the_collection() {
    if !common::as_root("older_than_and_user_narrow_the_collection") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let leak = compile_c("leak", dir.path());
    let out = dir.path();
    let script = r#"LEAKED=$("$LEAK" 4096); echo "$LEAKED" > "$OUT/leaked"
"$SHMKIT" rm --orphans --dry-run --older-than 1h --json > "$OUT/old.json"
"$SHMKIT" rm --orphans --dry-run --user nobody --json > "$OUT/nobody.json"
"$SHMKIT" rm --orphans --dry-run --user root --older-than 0s --json > "$OUT/root.json"
"$SHMKIT" stat "sysv:id=$LEAKED" --json > "$OUT/stat.json"
"$SHMKIT" create posix:/ancient --size 1 > /dev/null
touch -d @-9223372036854775808 /dev/shm/ancient
"$SHMKIT" create posix:/ancient-held --size 1 > /dev/null
touch -d @-9223372036854775808 /dev/shm/ancient-held
"$SHMKIT" create posix:/fresh --size 1 > /dev/null
exec 4< /dev/shm/ancient-held
"$SHMKIT" rm --orphans --dry-run --older-than 1d --json > "$OUT/ancient_orphans.json"
"$SHMKIT" rm --idle --dry-run --older-than 1d --json 4<&- > "$OUT/ancient.json"
"$SHMKIT" rm --idle --older-than 1d --json 4<&- > "$OUT/ancient_rm.json"
ls /dev/shm > "$OUT/left.txt"
exec 4<&-
"#;
    let run = isolated(script, &leak, out);
    assert_eq!(run.code, 0, "{run:?}");
    let leaked = read_id(out, "leaked");
    assert_eq!(
        read_json(out, "old.json")["removed"],
        Value::Array(vec![]),
        "a fresh leak is younger than 1h"
    );
    assert_eq!(
        read_json(out, "nobody.json")["removed"],
        Value::Array(vec![]),
        "root's leak is not nobody's"
    );
    // Any user may set a POSIX object's times to the oldest there is: it is idle for longer
    // than a day, and computing its age must not overflow. Idle is not leaked: --orphans
    // leaves it, --idle takes it, and the dry run predicted exactly that.
    assert_eq!(
        read_json(out, "ancient_orphans.json")["removed"],
        Value::Array(vec![])
    );
    let ancient = read_json(out, "ancient.json");
    assert_eq!(ancient["dry_run"], true);
    let removed = read_json(out, "ancient_rm.json");
    assert_eq!(
        removed["removed"], ancient["removed"],
        "{removed} {ancient}"
    );
    // The held one is never idle, however old; the fresh one is younger than a day.
    assert_eq!(
        std::fs::read_to_string(out.join("left.txt")).unwrap(),
        "ancient-held\nfresh\n"
    );
    assert_eq!(
        ancient["removed"][0]["address"], "posix:/ancient",
        "{ancient}"
    );
    assert_eq!(ancient["removed"].as_array().unwrap().len(), 1, "{ancient}");
    let root = read_json(out, "root.json");
    assert_eq!(
        root["removed"][0]["address"],
        format!("sysv:id={leaked}"),
        "{root}"
    );
}

#[test]
fn a_posix_object_nobody_holds_is_idle_and_only_rm_idle_takes_it_never_a_held_one() {
    if !common::as_root(
        "a_posix_object_nobody_holds_is_idle_and_only_rm_idle_takes_it_never_a_held_one",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let leak = compile_c("leak", dir.path());
    let out = dir.path();
    let script = r#""$SHMKIT" create posix:/left-behind --size 1M > /dev/null
"$SHMKIT" create posix:/in-use --size 1M > /dev/null
"$SHMKIT" create posix:/fd-only --size 1M > /dev/null
mkfifo "$OUT/fifo"
"$SHMKIT" hold --posix /in-use < "$OUT/fifo" > "$OUT/hold.out" &
exec 3> "$OUT/fifo"
while ! grep -q ready "$OUT/hold.out" 2>/dev/null; do sleep 0.05; done
# This shell, and only it (rm does not inherit the descriptor), holds /fd-only open without
# mapping it: a holder all the same.
exec 4< /dev/shm/fd-only
"$SHMKIT" rm --orphans --json 4<&- > "$OUT/orphans.json"
ls /dev/shm > "$OUT/left_orphans.txt"
"$SHMKIT" rm --idle --json 4<&- > "$OUT/rm.json"
ls /dev/shm > "$OUT/left.txt"
exec 3>&- 4<&-
wait
"#;
    let run = isolated(script, &leak, out);
    assert_eq!(run.code, 0, "{run:?}");
    let orphans = read_json(out, "orphans.json");
    assert_eq!(orphans["removed"], Value::Array(vec![]), "{orphans}");
    assert_eq!(
        std::fs::read_to_string(out.join("left_orphans.txt")).unwrap(),
        "fd-only\nin-use\nleft-behind\n"
    );
    let rm = read_json(out, "rm.json");
    assert_eq!(rm["removed"].as_array().unwrap().len(), 1, "{rm}");
    assert_eq!(rm["removed"][0]["address"], "posix:/left-behind");
    assert_eq!(rm["removed"][0]["freed"], 1 << 20);
    assert_eq!(
        std::fs::read_to_string(out.join("left.txt")).unwrap(),
        "fd-only\nin-use\n"
    );
}

#[test]
fn a_segment_attached_from_another_ipc_namespace_is_never_collected() {
    if !common::as_root("a_segment_attached_from_another_ipc_namespace_is_never_collected") {
        return;
    }
    // A process that attached the segment and then moved to another IPC namespace holds it: the
    // kernel counts it in nattch, though no mapping in this namespace's scan matches it.
    let dir = tempfile::tempdir().unwrap();
    let leak = compile_c("leak", dir.path());
    let elsewhere = compile_c("attach_elsewhere", dir.path());
    let out = dir.path();
    let script = format!(
        r#"LEAKED=$("$LEAK" 4096); echo "$LEAKED" > "$OUT/leaked"
mkfifo "$OUT/fifo"
"{elsewhere}" "$LEAKED" < "$OUT/fifo" > "$OUT/hold.out" &
exec 3> "$OUT/fifo"
while ! grep -q ready "$OUT/hold.out" 2>/dev/null; do sleep 0.05; done
"$SHMKIT" rm --orphans --json > "$OUT/rm.json"
"$SHMKIT" rm "sysv:id=$LEAKED" 2> "$OUT/rm_by_id.err" || echo "rc=$?" > "$OUT/rm_by_id.rc"
"$SHMKIT" stat "sysv:id=$LEAKED" > "$OUT/stat.txt"
cat /proc/sysvipc/shm > "$OUT/after.txt"
exec 3>&-
wait
"#,
        elsewhere = elsewhere.display()
    );
    let run = isolated(&script, &leak, out);
    assert_eq!(run.code, 0, "{run:?}");
    let leaked = read_id(out, "leaked");
    let rm = read_json(out, "rm.json");
    assert_eq!(rm["removed"], Value::Array(vec![]), "{rm}");
    assert_eq!(
        std::fs::read_to_string(out.join("rm_by_id.err")).unwrap(),
        format!(
            "shmkit: sysv:id={leaked}: it is in use by 1 attachment in processes this scan \
             cannot see; removing it would strand their data; stop them first, or pass --force \
             (the memory comes back at their last detach/unmap)\n"
        )
    );
    assert_eq!(
        std::fs::read_to_string(out.join("rm_by_id.rc")).unwrap(),
        "rc=9\n"
    );
    let after = std::fs::read_to_string(out.join("after.txt")).unwrap();
    assert_eq!(
        after.lines().count(),
        2,
        "the segment is still there: {after}"
    );
    let stat = std::fs::read_to_string(out.join("stat.txt")).unwrap();
    assert!(
        stat.contains(
            "\n          holders  none seen; 1 more attachment in processes this scan cannot \
             see (another IPC namespace, or unreadable)\n"
        ),
        "{stat}"
    );
}

#[test]
fn a_hostile_object_name_cannot_forge_lines_or_drive_the_terminal() {
    if !common::as_root("a_hostile_object_name_cannot_forge_lines_or_drive_the_terminal") {
        return;
    }
    // Any user may name a file in /dev/shm with escape sequences and newlines; `rm --idle`
    // prints the names it removes to root's terminal.
    let dir = tempfile::tempdir().unwrap();
    let leak = compile_c("leak", dir.path());
    let out = dir.path();
    let script = r#"printf x > "/dev/shm/$(printf 'evil\033[31mRED\nremoved sysv:id=1 (sysv, 1G): fake')"
"$SHMKIT" rm --idle --dry-run > "$OUT/dry.txt"
"#;
    let run = isolated(script, &leak, out);
    assert_eq!(run.code, 0, "{run:?}");
    let dry = std::fs::read_to_string(out.join("dry.txt")).unwrap();
    let lines: Vec<&str> = dry.lines().collect();
    assert_eq!(lines.len(), 2, "{dry:?}");
    // The name is escaped in its address, which `rm` takes back to that very file.
    assert!(
        lines[0].starts_with(
            r"would remove posix:/evil\x1b[31mRED\x0aremoved sysv:id=1 (sysv, 1G): fake (posix, 1B): "
        ),
        "{dry:?}"
    );
    assert_eq!(lines[1], "4.0K of memory would come back");
}

#[test]
fn a_posix_object_is_not_collected_when_processes_that_may_hold_it_cannot_be_read() {
    if !common::needs_host_root(
        "a_posix_object_is_not_collected_when_processes_that_may_hold_it_cannot_be_read",
        common::OTHER_UIDS,
    ) {
        return;
    }
    // nobody cannot read root's processes: its object, held open by root's shell, looks
    // unheld to nobody's scan. Not seeing a holder is not knowing there is none.
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let leak = compile_c("leak", dir.path());
    let shmkit_copy = dir.path().join("shmkit");
    std::fs::copy(bin(), &shmkit_copy).unwrap();
    let out = dir.path();
    let script = format!(
        r#""$SHMKIT" create posix:/mine --size 4K > /dev/null
"$SHMKIT" chown posix:/mine 65534:65534 > /dev/null
exec 4< /dev/shm/mine
setpriv --reuid=65534 --regid=65534 --clear-groups "{copy}" rm --idle --json 4<&- > "$OUT/rm.json" || echo "rc=$?" > "$OUT/rm.rc"
ls /dev/shm > "$OUT/left.txt"
exec 4<&-
"#,
        copy = shmkit_copy.display()
    );
    let run = isolated(&script, &leak, out);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        std::fs::read_to_string(out.join("left.txt")).unwrap(),
        "mine\n"
    );
    let rm = read_json(out, "rm.json");
    assert_eq!(rm["removed"], Value::Array(vec![]), "{rm}");
    assert_eq!(rm["failed"][0]["address"], "posix:/mine", "{rm}");
    assert_eq!(rm["failed"][0]["exit_code"], 9, "{rm}");
    let error = rm["failed"][0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("posix:/mine: no process this scan could read holds it, but ")
            && error.ends_with(
                " could not be read and may; run as root to see every holder, or pass --force"
            ),
        "{error}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("rm.rc")).unwrap(),
        "rc=9\n"
    );
}
