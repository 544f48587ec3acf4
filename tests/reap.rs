//! Leaked, idle, in use, on real kernel objects: what `mem`, `ls` and `rm` make of article 2's
//! segment after its writer exits, of objects held only by a thread that is not the leader, of
//! a sidecar in a child pid namespace, and of huge-page segments.
//!
//! Each test runs in its own IPC and mount namespaces with a fresh tmpfs over /dev/shm, so
//! nothing of the host or of other tests is seen or touched; the host's processes stay
//! visible (a child pid namespace is what the sidecar test is about).

mod common;

mod lifecycle_support;
use lifecycle_support::*;
use serde_json::Value;
use std::path::Path;

/// Runs `script` in private IPC and mount namespaces with an empty /dev/shm, in `out` (also
/// `$OUT`), with `$SHMKIT` set and each of `programs` compiled from tests/c and named by its
/// upper-cased name (`$LEAK`, `$WRITER`, ...).
fn isolated(script: &str, programs: &[&str], out: &Path) -> Run {
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["--ipc", "--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "set -e\nmount -t tmpfs -o size=64m shmkit-reap /dev/shm\ncd \"$OUT\"\n{script}"
        ))
        .env("SHMKIT", bin())
        .env("OUT", out);
    for name in programs {
        cmd.env(name.to_uppercase(), compile_c(name, out));
    }
    run(&mut cmd, None, b"")
}

fn read_json(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}: {text}"))
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Starts `$@` on a fifo (so the script lets it go by closing fd 3) and waits for its "ready";
/// its pid is in `$HOLDER`.
const START_HOLDER: &str = r#"
start_holder() {
  rm -f fifo; mkfifo fifo
  "$@" < fifo > hold.out &
  HOLDER=$!
  exec 3> fifo
  while ! grep -q ready hold.out 2>/dev/null; do sleep 0.05; done
}
"#;

/// Article 2: the writer makes a keyed segment and exits; its reader comes later. Between the
/// two the segment is idle, not leaked: `rm --orphans` leaves it, and the reader reads.
#[test]
fn article2s_segment_survives_rm_orphans_and_its_reader_still_reads() {
    if !common::as_root("article2s_segment_survives_rm_orphans_and_its_reader_still_reads") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let script = r#"
"$WRITER" sysv 0x162e
"$SHMKIT" rm --orphans --json > orphans.json
"$SHMKIT" ls --json > ls.json
NO_COLOR=1 "$SHMKIT" ls > ls.txt
"$SHMKIT" mem --json > mem.json
NO_COLOR=1 "$SHMKIT" mem > mem.txt
"$READER" sysv 0x162e > read.txt
"#;
    let run = isolated(script, &["writer", "reader"], out);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        read_json(out, "orphans.json")["removed"],
        Value::Array(vec![])
    );
    assert_eq!(read(out, "read.txt"), "abcdefghijklmnopqrstuvwxyz\n");
    let ls = read_json(out, "ls.json");
    let seg = &ls["objects"][0];
    assert_eq!(seg["name"], "0x0000162e", "{ls}");
    assert_eq!(seg["status"]["usage"]["state"], "idle", "{seg}");
    assert_eq!(seg["status"]["orphan"], false, "{seg}");
    let row = read(out, "ls.txt")
        .lines()
        .find(|l| l.contains("0x0000162e"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(row.ends_with("idle 0s") || row.contains(" idle "), "{row}");
    assert!(!row.contains("orphan"), "{row}");
    let mem = read_json(out, "mem.json");
    assert_eq!(mem["leaks"], Value::Array(vec![]), "{mem}");
    let item = mem["pinned"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"].as_str().unwrap_or("").starts_with("0x0000162e"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(item["usage"]["state"], "idle", "{mem}");
    let text = read(out, "mem.txt");
    let line = text
        .lines()
        .find(|l| l.contains("0x0000162e"))
        .unwrap_or_default();
    assert!(line.contains("idle") && !line.contains("LEAK"), "{text}");
    assert!(text.contains("no leaks found"), "{text}");
}

/// The seed's shm.c: IPC_PRIVATE, touched, creator exits without IPC_RMID. Nobody can learn
/// its id any more: a leak, which `rm --orphans` frees; `rm --idle` would not take it.
#[test]
fn a_private_segment_whose_creator_exited_is_a_leak_that_rm_orphans_frees() {
    if !common::as_root("a_private_segment_whose_creator_exited_is_a_leak_that_rm_orphans_frees") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let script = r#"
ID=$("$LEAK" 1048576); echo "$ID" > id
"$SHMKIT" rm --idle --json > idle.json
"$SHMKIT" ls --json > ls.json
"$SHMKIT" rm --orphans --json > orphans.json
cat /proc/sysvipc/shm > after.txt
"#;
    let run = isolated(script, &["leak"], out);
    assert_eq!(run.code, 0, "{run:?}");
    let id = read(out, "id").trim().to_string();
    assert_eq!(read_json(out, "idle.json")["removed"], Value::Array(vec![]));
    let ls = read_json(out, "ls.json");
    assert_eq!(
        ls["objects"][0]["status"]["usage"]["state"], "leaked",
        "{ls}"
    );
    let orphans = read_json(out, "orphans.json");
    assert_eq!(orphans["removed"][0]["address"], format!("sysv:id={id}"));
    assert!(
        orphans["removed"][0]["freed"].as_u64().unwrap() >= 1 << 20,
        "{orphans}"
    );
    assert_eq!(
        read(out, "after.txt").lines().count(),
        1,
        "the leak is gone"
    );
}

/// Kernel quirk: after the thread-group leader calls `pthread_exit`, `/proc/PID/maps` reads
/// empty (the zombie leader has no memory of its own) while another thread maps the object.
#[test]
fn an_object_mapped_by_a_thread_after_its_leader_exited_is_held() {
    if !common::needs_host_root(
        "an_object_mapped_by_a_thread_after_its_leader_exited_is_held",
        "a zombie thread-group leader's /proc/PID/fd belongs to root of the machine",
    ) {
        return;
    }
    thread_held(
        "exit-leader",
        "while [ -s /proc/$HOLDER/maps ]; do sleep 0.05; done",
    );
}

/// A thread that called `unshare(CLONE_FILES)` holds its descriptor in a table of its own,
/// which `/proc/PID/fd` does not show.
#[test]
fn an_object_open_in_a_threads_own_descriptor_table_is_held() {
    if !common::as_root("an_object_open_in_a_threads_own_descriptor_table_is_held") {
        return;
    }
    thread_held(
        "unshare-files",
        "! ls -l /proc/$HOLDER/fd | grep -q /dev/shm/held",
    );
}

fn thread_held(mode: &str, check: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let script = format!(
        r#"{START_HOLDER}
"$SHMKIT" create posix:/held --size 4K > /dev/null
start_holder "$THREAD_HOLDER" {mode} /held
echo "$HOLDER" > holder
{check}
"$SHMKIT" ls --json --kind posix > ls.json
"$SHMKIT" rm --idle --json > idle.json
"$SHMKIT" rm posix:/held 2> rm.err || echo "rc=$?" > rm.rc
ls /dev/shm > left.txt
exec 3>&-
wait
"#
    );
    let run = isolated(&script, &["thread_holder"], out);
    assert_eq!(run.code, 0, "{run:?}");
    let holder: u64 = read(out, "holder").trim().parse().unwrap();
    let ls = read_json(out, "ls.json");
    let o = ls["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["address"] == "posix:/held")
        .cloned()
        .unwrap_or_default();
    assert_eq!(o["name"], "/held", "{ls}");
    assert_eq!(o["status"]["usage"]["state"], "in-use", "{o}");
    assert_eq!(o["holders"][0]["pid"], holder, "{o}");
    assert_eq!(read_json(out, "idle.json")["removed"], Value::Array(vec![]));
    assert_eq!(read(out, "rm.rc"), "rc=9\n");
    assert!(
        read(out, "rm.err").contains(&format!("in use by {holder} ")),
        "{}",
        read(out, "rm.err")
    );
    assert_eq!(read(out, "left.txt"), "held\n");
}

/// A sidecar: shmkit in a child pid namespace that shares the IPC namespace and /dev/shm with
/// an application it cannot see (`docker run --ipc=container:app`, a Kubernetes pod). The
/// application's objects look unheld from there, and its live creator reads as pid 0: nothing
/// may go without --force, and pid 0 is "unknown", never "exited".
#[test]
fn a_sidecar_in_a_child_pid_namespace_removes_nothing_without_force() {
    if !common::as_root("a_sidecar_in_a_child_pid_namespace_removes_nothing_without_force") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let script = format!(
        r#"{START_HOLDER}
"$SHMKIT" create posix:/orders --size 4K > /dev/null
"$SHMKIT" create posix:/idle --size 4K > /dev/null
start_holder "$SHMKIT" hold --posix /orders
exec 4<> fifo2 2>/dev/null || true
rm -f fifo2; mkfifo fifo2
"$LEAK" 4096 wait < fifo2 > creator.out &
exec 4> fifo2
while [ ! -s creator.out ]; do sleep 0.05; done
SIDE="unshare --pid --fork --mount-proc"
$SIDE "$SHMKIT" rm --orphans --json > orphans.json || echo "rc=$?" > orphans.rc
$SIDE "$SHMKIT" rm --idle --json > idle.json || echo "rc=$?" > idle.rc
$SIDE "$SHMKIT" ls --json > ls.json
NO_COLOR=1 $SIDE "$SHMKIT" ls > ls.txt
ls /dev/shm > left.txt
wc -l < /proc/sysvipc/shm > segments.txt
exec 3>&- 4>&-
wait
"#
    );
    let run = isolated(&script, &["leak"], out);
    assert_eq!(run.code, 0, "{run:?}");
    let id = read(out, "creator.out").trim().to_string();
    assert_eq!(read(out, "left.txt"), "idle\norders\n", "nothing removed");
    assert_eq!(read(out, "segments.txt").trim(), "2", "the segment stays");
    for (file, addresses) in [
        ("orphans", vec![format!("sysv:id={id}")]),
        (
            "idle",
            vec!["posix:/idle".to_string(), "posix:/orders".to_string()],
        ),
    ] {
        let doc = read_json(out, &format!("{file}.json"));
        assert_eq!(doc["removed"], Value::Array(vec![]), "{doc}");
        let mut failed: Vec<String> = doc["failed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["address"].as_str().unwrap().to_string())
            .collect();
        failed.sort();
        assert_eq!(failed, addresses, "{doc}");
        assert_eq!(doc["failed"][0]["exit_code"], 9, "{doc}");
        assert_eq!(read(out, &format!("{file}.rc")), "rc=9\n");
    }
    let ls = read_json(out, "ls.json");
    let seg = ls["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "sysv")
        .cloned()
        .unwrap_or_default();
    assert_eq!(seg["sysv"]["creator"]["pid"], 0, "{seg}");
    assert_eq!(
        seg["status"]["uncertain"]["why"], "creator-unknown",
        "{seg}"
    );
    let row = read(out, "ls.txt")
        .lines()
        .find(|l| l.starts_with("sysv"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(row.contains("unknown") && !row.contains("exited"), "{row}");
    assert!(row.contains("orphan?"), "{row}");
}

/// Huge pages are not Shmem (meminfo counts them in HugePages_* and Hugetlb): a leaked
/// SHM_HUGETLB segment is listed on the huge pages line, flagged hugetlb by ls, and counted
/// neither in the Shmem itemisation nor at the 512-fold size the kernel's rss reports.
#[test]
fn a_hugetlb_segment_is_not_counted_as_shmem() {
    if !common::needs_host_root(
        "a_hugetlb_segment_is_not_counted_as_shmem",
        common::HUGE_PAGES,
    ) {
        return;
    }
    let huge = 2 << 20;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    // vm.nr_hugepages is host-wide: the tests that change it hold one lock (of any test
    // binary), and the shell that raised it puts it back on every way out.
    let script = format!(
        r#"
exec 9> /tmp/shmkit-test-nr_hugepages.lock
flock 9
BEFORE=$(cat /proc/sys/vm/nr_hugepages)
trap 'echo "$BEFORE" > /proc/sys/vm/nr_hugepages' EXIT
echo $((BEFORE + 2)) > /proc/sys/vm/nr_hugepages
ID=$("$LEAK" {huge} huge); echo "$ID" > id
"$SHMKIT" mem --json > mem.json
NO_COLOR=1 "$SHMKIT" mem > mem.txt
NO_COLOR=1 "$SHMKIT" ls > ls.txt
"$SHMKIT" rm --orphans --json > rm.json
"#
    );
    let run = isolated(&script, &["leak"], out);
    assert_eq!(run.code, 0, "{run:?}");
    let id = read(out, "id").trim().to_string();
    let mem = read_json(out, "mem.json");
    let named = |i: &Value| {
        i["name"]
            .as_str()
            .unwrap_or("")
            .ends_with(&format!(" id={id}"))
    };
    assert!(
        !mem["pinned"]["items"].as_array().unwrap().iter().any(named),
        "not in the Shmem itemisation: {mem}"
    );
    let segs = mem["huge_pages"]["segments"].as_array().unwrap();
    assert_eq!(segs.len(), 1, "{mem}");
    assert_eq!(
        segs[0]["resident"], huge,
        "its real size, not the kernel's 512-fold rss"
    );
    assert_eq!(mem["leaks"][0]["hugetlb"], true, "{mem}");
    assert_eq!(mem["leaks"][0]["resident"], huge, "{mem}");
    let text = read(out, "mem.txt");
    assert!(text.contains("huge pages"), "{text}");
    let row = read(out, "ls.txt")
        .lines()
        .find(|l| l.contains(&format!("id={id} ")))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(row.ends_with("orphan,hugetlb"), "{row}");
    assert_eq!(
        read_json(out, "rm.json")["removed"][0]["address"],
        format!("sysv:id={id}")
    );
}

/// Names are bytes: a POSIX name that is not UTF-8 is listed escaped (never U+FFFD), with an
/// address that `stat` and `rm` take back to exactly that file, not to a neighbour whose name
/// looks alike (`a\xffb` written with a real backslash); `rm --idle` collects such names too,
/// and a `sem.`-prefixed name is listed like any other.
#[test]
fn a_name_that_is_not_utf8_is_listed_escaped_and_removed_exactly() {
    if !common::as_root("a_name_that_is_not_utf8_is_listed_escaped_and_removed_exactly") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let script = r#"
printf 1 > "/dev/shm/$(printf 'a\377b')"
printf 22 > "/dev/shm/$(printf 'a\376b')"
printf 333 > '/dev/shm/a\xffb'
printf 4444 > /dev/shm/sem.x
"$SHMKIT" ls --json --kind posix > ls.json
"$SHMKIT" stat 'file:/dev/shm/a\xffb' --json > stat.json
"$SHMKIT" rm 'file:/dev/shm/a\xffb' --json > rm.json
ls /dev/shm | od -c > left_after_rm.txt
"$SHMKIT" rm --idle --json > idle.json
ls /dev/shm > left.txt
"#;
    let run = isolated(script, &[], out);
    assert_eq!(run.code, 0, "{run:?}");
    let ls = read_json(out, "ls.json");
    let mut names: Vec<(String, String)> = ls["objects"]
        .as_array()
        .unwrap()
        .iter()
        // The host's /dev/shm, hidden under this namespace's, still shows the objects that
        // processes map, addressed through those holders. Ours are held by nobody.
        .filter(|o| o["mount"] == "/dev/shm" && o["holders"].as_array().is_some_and(Vec::is_empty))
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_string(),
                o["address"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            (r"/a\\xffb".to_string(), r"posix:/a\\xffb".to_string()),
            (r"/a\xfeb".to_string(), r"file:/dev/shm/a\xfeb".to_string()),
            (r"/a\xffb".to_string(), r"file:/dev/shm/a\xffb".to_string()),
            ("/sem.x".to_string(), "posix:/sem.x".to_string()),
        ],
        "{ls}"
    );
    assert!(!ls.to_string().contains('\u{fffd}'), "{ls}");
    // The printed address reaches that file (1 byte) and removes it, and only it.
    assert_eq!(read_json(out, "stat.json")["size"], 1);
    assert_eq!(read_json(out, "rm.json")["removed"][0]["size"], 1);
    let left = read(out, "left_after_rm.txt");
    assert!(left.contains("376") && !left.contains("377"), "{left}");
    // The rest are idle, and --idle takes them, whatever their names.
    let idle = read_json(out, "idle.json");
    assert_eq!(idle["removed"].as_array().unwrap().len(), 3, "{idle}");
    assert_eq!(read(out, "left.txt"), "");
}
