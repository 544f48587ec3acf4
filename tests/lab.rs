//! `shmkit lab` and `shmkit reclaim` on this machine, for real, as root.
//!
//! Every test here moves the global meminfo counters (Shmem, Cached) or drops the caches, so
//! they all take [`LOCK`] and run one at a time. Other work on the machine goes on meanwhile
//! (other test binaries, builds, a loop writing and deleting a tmpfs file): the lab judges
//! its verdicts in each experiment's own memory cgroup, which that work cannot move, and the
//! reclaim test compares what it can tell apart from that work (page cache other than shmem,
//! and its own objects' resident pages). Where the lab cannot make a cgroup it measures
//! host-wide, and the tests that judge its verdicts skip rather than flake.

mod common;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

static LOCK: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

const SHMKIT: &str = env!("CARGO_BIN_EXE_shmkit");

fn shmkit(args: &[&str]) -> Output {
    Command::new(SHMKIT)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run shmkit")
}

fn meminfo(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k == field).then(|| v.split_whitespace().next()?.parse::<u64>().ok())?
        })
        .unwrap()
        * 1024
}

/// Ids of the System V segments in this IPC namespace.
fn segment_ids() -> Vec<i64> {
    segments().into_iter().map(|(id, _)| id).collect()
}

/// (id, size) of the System V segments in this IPC namespace.
fn segments() -> Vec<(i64, u64)> {
    let text = std::fs::read_to_string("/proc/sysvipc/shm").unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            let id = cols.nth(1)?.parse().ok()?;
            let size = cols.nth(1)?.parse().ok()?;
            Some((id, size))
        })
        .collect()
}

/// Segments of exactly `size` bytes that were not there `before`: what a lab run of that SIZE
/// would leave (other processes on a shared machine may create segments meanwhile, of other
/// sizes).
fn new_segments_of(before: &[i64], size: u64) -> Vec<i64> {
    segments()
        .into_iter()
        .filter(|(id, s)| *s == size && !before.contains(id))
        .map(|(id, _)| id)
        .collect()
}

/// Everything `shmkit lab` may leave behind: lab directories, tmpfs mounts, lab children.
fn lab_leftovers() -> Vec<String> {
    let mut found = Vec::new();
    for dir in ["/tmp", "/var/tmp"] {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with("shmkit-lab-") {
                found.push(format!("{dir}/{name}"));
            }
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    found.extend(
        mounts
            .lines()
            .filter(|l| l.contains("shmkit-lab"))
            .map(String::from),
    );
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains("lab child") {
                found.push(format!(
                    "process {}: {cmdline}",
                    entry.file_name().to_string_lossy()
                ));
            }
        }
    }
    found
}

/// A copy of the binary that user `nobody` can run (the build directory may sit under a
/// directory only root can enter, like /root); removed on drop.
struct NobodyShmkit(std::path::PathBuf);

impl NobodyShmkit {
    fn new() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir =
            std::path::PathBuf::from(format!("/tmp/shmkit-test-nobody-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.join("shmkit");
        std::fs::copy(SHMKIT, &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        NobodyShmkit(dir)
    }

    /// `setpriv` (util-linux) drops to nobody and runs the copy with `args`.
    fn run(&self, args: &[&str]) -> Output {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(self.0.join("shmkit"))
            .args(args)
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .expect("setpriv")
    }
}

impl Drop for NobodyShmkit {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs shmkit as an ordinary user: as `nobody` (through a copy it can run) when the tests
/// run as root, else as the user the tests run as.
fn as_ordinary_user(args: &[&str]) -> Output {
    if common::is_root() {
        NobodyShmkit::new().run(args)
    } else {
        shmkit(args)
    }
}

/// Runs one experiment at 64 MiB with --json and checks that everything it made is gone.
/// `None` (a visible skip) when the test cannot judge it here: not root, or no memory cgroup
/// could be made, so the verdicts were measured host-wide, where other work moves them.
fn run_experiment(test: &str, name: &str) -> Option<(Value, Output)> {
    if !common::needs_root(test) {
        return None;
    }
    let segments_before = segment_ids();
    let out = shmkit(&["lab", "run", name, "--size", "64M", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{name}: no JSON ({e}); stderr: {stderr}"));
    let leftovers = lab_leftovers();
    assert!(leftovers.is_empty(), "{name} left {leftovers:?}");
    let new_segments = new_segments_of(&segments_before, 64 << 20);
    assert!(
        new_segments.is_empty(),
        "{name} left segments {new_segments:?}"
    );
    if let Some(baseline) = report["steps"].as_array().and_then(|s| s.first()) {
        let note = baseline["notes"][0].as_str().unwrap_or_default();
        if !note.starts_with(shmkit::lab::MEASURED_IN_CGROUP) {
            assert!(note.starts_with(shmkit::lab::MEASURED_HOST_WIDE), "{note}");
            common::skip(
                test,
                &format!("the lab could not make a memory cgroup: {note}"),
            );
            return None;
        }
    }
    Some((report, out))
}

/// Asserts that every verdict held, and that there were verdicts at all.
fn assert_all_held(name: &str, report: &Value, out: &Output) {
    let verdicts: Vec<&Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["verdicts"].as_array().unwrap())
        .collect();
    let failed: Vec<&&Value> = verdicts.iter().filter(|v| v["held"] != true).collect();
    assert!(failed.is_empty(), "{name}: verdicts failed: {failed:#?}");
    assert!(
        verdicts.len() >= 4,
        "{name}: only {} verdicts",
        verdicts.len()
    );
    assert_eq!(report["status"], "held", "{name}: {report:#}");
    assert_eq!(out.status.code(), Some(0), "{name}");
    assert_eq!(report["size"], 64 << 20);
    assert_eq!(report["tolerance"], 8 << 20);
}

fn verdict<'a>(report: &'a Value, claim_prefix: &str) -> Vec<&'a Value> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["verdicts"].as_array().unwrap())
        .filter(|v| v["claim"].as_str().unwrap().starts_with(claim_prefix))
        .collect()
}

#[test]
fn tmpfs_file_is_shmem_until_deleted() {
    let _lock = serial();
    let Some((report, out)) = run_experiment("tmpfs_file_is_shmem_until_deleted", "tmpfs") else {
        return;
    };
    assert_all_held("tmpfs", &report, &out);
    // The write step: Shmem rose by about 64 MiB; the delete step gave it back.
    let steps = report["steps"].as_array().unwrap();
    assert!(steps.len() >= 5);
    let shmem = verdict(&report, "Shmem since the step before");
    assert!(shmem
        .iter()
        .any(|v| v["observed_bytes"].as_i64().unwrap() > 56 << 20));
    assert!(shmem
        .iter()
        .any(|v| v["observed_bytes"].as_i64().unwrap() < -(56 << 20)));
}

#[test]
fn sysv_segment_outlives_creator_and_ipc_set_cannot_resize_it() {
    let _lock = serial();
    let Some((report, out)) = run_experiment(
        "sysv_segment_outlives_creator_and_ipc_set_cannot_resize_it",
        "sysv",
    ) else {
        return;
    };
    assert_all_held("sysv", &report, &out);
    let resized = verdict(&report, "size after IPC_SET");
    assert_eq!(resized.len(), 1);
    assert_eq!(resized[0]["observed"], "64.0M");
    assert_eq!(verdict(&report, "nattch")[0]["observed"], "0");
    assert_eq!(
        verdict(&report, "the segment reads")[0]["observed"],
        "Hello!"
    );
}

#[test]
fn shared_anonymous_memory_is_pinned_while_mapped() {
    let _lock = serial();
    let Some((report, out)) = run_experiment(
        "shared_anonymous_memory_is_pinned_while_mapped",
        "shared-anon",
    ) else {
        return;
    };
    assert_all_held("shared-anon", &report, &out);
}

#[test]
fn file_mapping_is_reclaimable_page_cache_not_shmem() {
    let _lock = serial();
    let Some((report, out)) = run_experiment(
        "file_mapping_is_reclaimable_page_cache_not_shmem",
        "file-mapped",
    ) else {
        return;
    };
    assert_all_held("file-mapped", &report, &out);
    let resident = verdict(&report, "file pages in the page cache");
    assert_eq!(resident.len(), 2);
    assert_eq!(
        resident[0]["observed"], "64.0M",
        "still cached while mapped"
    );
    assert_eq!(resident[1]["observed"], "0B", "dropped once unmapped");
}

#[test]
fn ipc_namespace_end_takes_segments_but_not_files() {
    let _lock = serial();
    let Some((report, out)) = run_experiment(
        "ipc_namespace_end_takes_segments_but_not_files",
        "ipc-namespace",
    ) else {
        return;
    };
    assert_all_held("ipc-namespace", &report, &out);
    // The last claim about sysv:5678 is the fresh namespace's: the key is gone.
    let about_key = verdict(&report, "sysv:5678");
    assert_eq!(about_key.len(), 2);
    assert_eq!(about_key[0]["observed"], "abcdefghijklmnopqrstuvwxyz");
    assert_eq!(about_key[1]["claim"], "sysv:5678");
    assert_eq!(about_key[1]["observed"], "missing (ENOENT)");
    assert_eq!(
        verdict(&report, "the file reads")[0]["observed"],
        "abcdefghijklmnopqrstuvwxyz"
    );
}

#[test]
fn swap_experiment_runs_where_swap_is_on_and_skips_clearly_where_it_is_off() {
    let _lock = serial();
    let Some((report, out)) = run_experiment(
        "swap_experiment_runs_where_swap_is_on_and_skips_clearly_where_it_is_off",
        "swap",
    ) else {
        return;
    };
    if meminfo("SwapTotal") == 0 {
        assert_eq!(report["status"], "skipped");
        assert!(report["reason"]
            .as_str()
            .unwrap()
            .starts_with("swap is off here"));
        assert_eq!(
            out.status.code(),
            Some(10),
            "a single skipped experiment exits 10"
        );
    } else {
        assert_all_held("swap", &report, &out);
    }
}

#[test]
fn run_all_prints_every_experiment_and_a_summary() {
    if !common::needs_root("run_all_prints_every_experiment_and_a_summary") {
        return;
    }
    let _lock = serial();
    let out = shmkit(&["lab", "run", "all", "--size", "64M"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "tmpfs",
        "sysv",
        "shared-anon",
        "file-mapped",
        "ipc-namespace",
        "swap",
    ] {
        assert!(
            text.contains(&format!("\n{name} — ")) || text.starts_with(&format!("{name} — ")),
            "{name} missing"
        );
    }
    assert!(text.contains("EXPERIMENT"), "{text}");
    assert!(!text.contains('✘'), "{text}");
    assert!(lab_leftovers().is_empty());
}

#[test]
fn keep_leaves_the_orphan_segment_and_says_how_to_remove_it() {
    if !common::needs_root("keep_leaves_the_orphan_segment_and_says_how_to_remove_it") {
        return;
    }
    let _lock = serial();
    struct Segment(i64);
    impl Drop for Segment {
        fn drop(&mut self) {
            let _ = Command::new("ipcrm")
                .args(["-m", &self.0.to_string()])
                .status();
        }
    }
    let out = shmkit(&["lab", "run", "sysv", "--size", "16M", "--keep", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kept = report["kept"].as_array().unwrap();
    assert_eq!(kept.len(), 1, "{report:#}");
    let hint = kept[0].as_str().unwrap();
    let id: i64 = hint.strip_prefix("ipcrm -m ").unwrap().parse().unwrap();
    let guard = Segment(id);
    assert!(
        segment_ids().contains(&id),
        "kept segment {id} is not there"
    );
    // The removal step did not run: no step says IPC_RMID.
    assert!(!report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["action"].as_str().unwrap().starts_with("shmctl(")));
    // The printed command works.
    let status = Command::new("sh").args(["-c", hint]).status().unwrap();
    assert!(status.success());
    assert!(!segment_ids().contains(&id));
    drop(guard);
}

#[test]
fn sigint_mid_experiment_removes_everything() {
    if !common::needs_root("sigint_mid_experiment_removes_everything") {
        return;
    }
    let _lock = serial();
    let segments_before = segment_ids();
    for name in ["tmpfs", "sysv", "shared-anon", "file-mapped"] {
        let mut child = Command::new(SHMKIT)
            .args(["lab", "run", name, "--size", "512M"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait for the first step after the baseline, then interrupt the runner only (a
        // terminal's Ctrl-C would also hit the children; this is the harder case).
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            if line.unwrap().starts_with("[1]") {
                break;
            }
        }
        let kill = Command::new("kill")
            .args(["-s", "INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        for _ in lines.by_ref() {}
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(130), "{name}: {stderr}");
        assert!(stderr.contains("interrupted"), "{name}: {stderr}");
        let leftovers = lab_leftovers();
        assert!(leftovers.is_empty(), "{name} left {leftovers:?}");
        let new = new_segments_of(&segments_before, 512 << 20);
        assert!(new.is_empty(), "{name} left segments {new:?}");
    }
}

#[test]
fn bad_input_gets_one_line_and_a_documented_exit_code() {
    let _lock = serial();
    let out = shmkit(&["lab", "run", "nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("lab experiment 'nosuch': no experiment has this name; use one of: tmpfs"),
        "{err}"
    );

    // ipc-namespace needs no root, so its SIZE is checked as root and off root alike.
    let out = shmkit(&["lab", "run", "ipc-namespace", "--size", "1M"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--size 1.0M: is too small"), "{err}");

    let out = shmkit(&["lab", "run", "ipc-namespace", "--size", "100T"]);
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("more than half of MemAvailable"));
    assert!(lab_leftovers().is_empty());
}

#[test]
fn an_experiment_that_needs_root_says_so_and_exits_10() {
    let _lock = serial();
    let out = as_ordinary_user(&["lab", "run", "tmpfs", "--size", "64M"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(10), "{err}");
    assert!(err.contains("lab tmpfs: needs root: it mounts a tmpfs and writes /proc/sys/vm/drop_caches; run it as root"), "{err}");
}

#[test]
fn list_names_every_experiment() {
    let _lock = serial();
    let out = shmkit(&["lab", "list", "--json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["schema"], "shmkit.lab-list/1");
    let names: Vec<&str> = list["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "tmpfs",
            "sysv",
            "shared-anon",
            "file-mapped",
            "ipc-namespace",
            "swap"
        ]
    );
}

/// Removes a file on drop.
struct RemoveFile(std::path::PathBuf);
impl Drop for RemoveFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Removes a System V segment on drop.
struct RemoveSegment(i64);
impl Drop for RemoveSegment {
    fn drop(&mut self) {
        let _ = Command::new("ipcrm")
            .args(["-m", &self.0.to_string()])
            .status();
    }
}

/// A `shmkit hold` child: killed and reaped on drop.
struct Holder(std::process::Child);
impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn write_file(path: &std::path::Path, size: usize, byte: u8) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![byte; 1 << 20];
    for _ in 0..size >> 20 {
        f.write_all(&chunk).unwrap();
    }
    f.sync_all().unwrap();
}

#[test]
fn reclaim_measure_3_matches_the_prediction_on_a_known_load() {
    if !common::needs_root("reclaim_measure_3_matches_the_prediction_on_a_known_load") {
        return;
    }
    let _lock = serial();
    const M: u64 = 1 << 20;
    let pid = std::process::id();

    // 1. A tmpfs file: 64 MiB in /dev/shm.
    let tmpfs_file = RemoveFile(format!("/dev/shm/shmkit-test-reclaim-{pid}").into());
    write_file(&tmpfs_file.0, 64 << 20, 1);

    // 2. An idle System V segment: created by ipcmk, filled by a process that exits.
    let out = Command::new("ipcmk")
        .args(["-M", "64M", "-p", "0600"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let id: i64 = text.trim().rsplit(' ').next().unwrap().parse().unwrap();
    let _segment = RemoveSegment(id);
    let fill = shmkit(&[
        "hold",
        "--sysv-id",
        &id.to_string(),
        "--fill",
        "2",
        "--exit",
    ]);
    assert!(
        fill.status.success(),
        "{}",
        String::from_utf8_lossy(&fill.stderr)
    );

    // 3. A process holding 64 MiB of shared anonymous memory.
    let mut child = Command::new(SHMKIT)
        .args(["hold", "--anon", "64M", "--fill", "3"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _holder = Holder(child);
    let mut ready = String::new();
    BufReader::new(stdout).read_line(&mut ready).unwrap();
    assert!(ready.starts_with("ready "), "{ready}");

    // 4. Plain file cache: 256 MiB written to disk and read back.
    let disk_file = RemoveFile(format!("/var/tmp/shmkit-test-reclaim-{pid}").into());
    write_file(&disk_file.0, 256 << 20, 4);
    let read = std::fs::read(&disk_file.0).unwrap();
    assert_eq!(read.len(), 256 << 20);
    drop(read);

    let shmem_load = 192 * M;
    assert!(meminfo("Shmem") >= shmem_load, "the load is not pinned");
    // Other work may write and delete tmpfs files while the caches drop: that moves Shmem,
    // and with it Cached and the total, by its size. drop_caches never frees shmem, so what
    // it freed is the fall of everything else: the fall minus Shmem's fall, which such work
    // cannot disturb. (The prediction leaves Shmem out too.) Builds next door still add file
    // cache during the drop; a measurement they spoil is taken again, at most three times in
    // all: a wrong prediction misses every time.
    let mut attempts = Vec::new();
    for attempt in 0..3 {
        if attempt > 0 {
            // The drop took the file: read it into the page cache again.
            assert_eq!(std::fs::read(&disk_file.0).unwrap().len(), 256 << 20);
        }
        let out = shmkit(&["reclaim", "--measure", "3", "--yes", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let m: Value = serde_json::from_slice(&out.stdout).unwrap();
        let fields = m["fields"].as_array().unwrap();
        let field = |name: &str| fields.iter().find(|f| f["field"] == name).unwrap();
        let shmem_before = m["shmem_before"].as_u64().unwrap();
        let shmem_after = m["shmem_after"].as_u64().unwrap();
        assert!(shmem_before >= shmem_load);
        let shmem_fall = shmem_before as f64 - shmem_after as f64;
        let total = field("total");
        let predicted = total["predicted"].as_u64().unwrap() as f64;
        let actual = total["actual"].as_i64().unwrap() as f64 - shmem_fall;
        let cached = field("Cached");
        let (cp, ca) = (
            cached["predicted"].as_u64().unwrap() as f64,
            cached["actual"].as_i64().unwrap() as f64 - shmem_fall,
        );
        let line = format!(
            "total: predicted {predicted}, freed {actual} besides shmem; Cached: predicted {cp}, freed {ca} besides shmem (Shmem fell by {shmem_fall}, drop took {} s)",
            m["drop_seconds"]
        );
        eprintln!("reclaim --measure 3, attempt {attempt}: {line}");
        attempts.push(line);
        // The 256 MiB file was dropped, whatever else happened.
        assert!(ca >= (256 - 8) as f64 * M as f64, "Cached freed only {ca}");
        // Predicted and actual freed within 10% of each other, in total and for Cached.
        if (actual - predicted).abs() <= 0.10 * predicted.max(actual)
            && (ca - cp).abs() <= 0.10 * cp.max(ca)
        {
            break;
        }
        assert!(
            attempt < 2,
            "the prediction missed by more than 10% three times:\n{}",
            attempts.join("\n")
        );
    }
    // ... and the pinned memory was not: each of the three objects still has all its pages
    // (per-object figures, which other work cannot move).
    let segment_rss = segment_rss(id).expect("the segment is still there");
    assert_eq!(segment_rss, 64 << 20, "the segment's rss after drop_caches");
    let file_resident = fincore_bytes(&tmpfs_file.0);
    assert_eq!(
        file_resident,
        64 << 20,
        "the tmpfs file's resident bytes after drop_caches"
    );
    let anon_resident = rss_shmem(_holder.0.id());
    assert!(
        anon_resident >= 64 << 20,
        "the holder's RssShmem after drop_caches: {anon_resident}"
    );
}

/// The `rss` of System V segment `id` in `/proc/sysvipc/shm`, in bytes.
fn segment_rss(id: i64) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/sysvipc/shm").unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split_whitespace().collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (shmid, rss) = (at("shmid"), at("rss"));
    lines.find_map(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        (cols[shmid].parse::<i64>().ok()? == id).then(|| cols[rss].parse().ok())?
    })
}

/// How many bytes of `path` are in the page cache, by `fincore` (util-linux).
fn fincore_bytes(path: &std::path::Path) -> u64 {
    let out = Command::new("fincore")
        .args(["--bytes", "--noheadings", "--output", "RES"])
        .arg(path)
        .output()
        .expect("fincore (util-linux) is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// `RssShmem` of process `pid` (its resident shared memory), in bytes.
fn rss_shmem(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssShmem:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .expect("RssShmem in /proc/PID/status")
        * 1024
}

#[test]
fn reclaim_predicts_without_root_and_refuses_to_drop_without_a_terminal_or_yes() {
    let _lock = serial();
    let out = shmkit(&["reclaim", "--json"]);
    assert!(out.status.success());
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    let levels = p["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 3);
    // Level 3 frees what levels 1 and 2 free.
    let total = |l: &Value| l["total"].as_u64().unwrap();
    assert_eq!(total(&levels[2]), total(&levels[0]) + total(&levels[1]));
    assert!(p["cost"].as_str().unwrap().contains("read from disk again"));

    let out = shmkit(&["reclaim", "--measure", "3"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stdin is not a terminal; add --yes"), "{err}");
    let out = shmkit(&["reclaim", "--measure", "4", "--yes"]);
    assert_eq!(out.status.code(), Some(2));

    let out = as_ordinary_user(&["reclaim", "--measure", "1", "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(10),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = as_ordinary_user(&["reclaim"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ipc_namespace_says_why_when_unshare_is_not_permitted() {
    let _lock = serial();
    // As an ordinary user, unshare(CLONE_NEWIPC) fails with EPERM (no CAP_SYS_ADMIN).
    let out = as_ordinary_user(&["lab", "run", "ipc-namespace", "--size", "16M", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(10),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "unsupported");
    let reason = report["reason"].as_str().unwrap();
    assert!(
        reason.contains("Operation not permitted") && reason.contains("CAP_SYS_ADMIN"),
        "{reason}"
    );
    assert!(lab_leftovers().is_empty(), "{:?}", lab_leftovers());
}
