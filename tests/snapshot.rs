//! `shmkit snapshot`: round trips, conflicts, all-or-nothing restores, corruption and crash
//! safety, on real kernel objects.
//!
//! Isolation: each test first moves its own thread into a new IPC namespace
//! (`unshare(CLONE_NEWIPC)` is per thread, and libtest runs each test on its own thread), and
//! the shmkit processes it starts inherit that namespace. System V keys therefore never
//! collide. POSIX objects live in the shared /dev/shm, so their names carry the pid, a counter
//! and the test name, and a guard unlinks them.

mod common;

use shmkit::snapshot::{self, RestoreOptions};
use shmkit::sys::{self, posix, sysv};
use shmkit::ErrorKind;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const SHMKIT: &str = env!("CARGO_BIN_EXE_shmkit");

fn private_ipc_namespace() {
    sys::ns::unshare_ipc().expect("unshare(CLONE_NEWIPC): tests run as root");
}

fn shmkit(args: &[&str]) -> Output {
    Command::new(SHMKIT).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A content pattern with data pages and all-zero pages, so sparse storage is exercised.
fn pattern(size: usize, seed: u8) -> Vec<u8> {
    let mut v = vec![0u8; size];
    for (i, b) in v.iter_mut().enumerate() {
        let page = i / 4096;
        if page % 3 != 1 {
            *b = (i as u8).wrapping_mul(31).wrapping_add(seed) | 1;
        }
    }
    v
}

/// Creates segment `key` with `content`, mode and owner; returns its id.
fn make_segment(key: i32, content: &[u8], mode: u32, uid: u32, gid: u32) -> i32 {
    let flags = sysv::GetFlags {
        create: true,
        exclusive: true,
        ..Default::default()
    };
    let id = sysv::shmget(key, content.len() as u64, flags, 0o600).unwrap();
    let m = sysv::shmat(id, false).unwrap();
    m.write_at(0, content).unwrap();
    drop(m);
    sysv::set(id, uid, gid, mode).unwrap();
    id
}

fn segment_id(key: i32) -> Option<i32> {
    sysv::shmget(key, 0, sysv::GetFlags::default(), 0).ok()
}

fn segment_content(id: i32) -> Vec<u8> {
    let m = sysv::shmat(id, true).unwrap();
    let mut v = vec![0u8; m.len() as usize];
    m.read_at(0, &mut v).unwrap();
    v
}

/// Segments in this thread's IPC namespace.
fn segment_count() -> usize {
    std::fs::read_to_string("/proc/sysvipc/shm")
        .unwrap()
        .lines()
        .count()
        - 1
}

/// A POSIX object name unique to this process, call and test; unlinked on drop.
struct PosixName(String);

impl PosixName {
    fn new(test: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        PosixName(format!(
            "/shmkit-test-{}-{}-{test}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ))
    }
    fn path(&self) -> String {
        format!("/dev/shm{}", self.0)
    }
    fn exists(&self) -> bool {
        Path::new(&self.path()).exists()
    }
    fn create(&self, content: &[u8], mode: u32, uid: u32, gid: u32) {
        let f =
            File::from(posix::shm_open(&self.0, posix::OpenMode::CreateExclusive, 0o600).unwrap());
        f.set_len(content.len() as u64).unwrap();
        f.write_all_at(content, 0).unwrap();
        std::os::unix::fs::fchown(&f, Some(uid), Some(gid)).unwrap();
        f.set_permissions(std::fs::Permissions::from_mode(mode))
            .unwrap();
    }
    fn content(&self) -> Vec<u8> {
        std::fs::read(self.path()).unwrap()
    }
    /// Overwrites the start of the existing object (as a program using it would).
    fn create_or_write(&self, content: &[u8]) {
        let f = File::from(posix::shm_open(&self.0, posix::OpenMode::ReadWrite, 0).unwrap());
        f.set_len(content.len() as u64).unwrap();
        f.write_all_at(content, 0).unwrap();
    }
}

impl Drop for PosixName {
    fn drop(&mut self) {
        let _ = posix::shm_unlink(&self.0);
    }
}

#[test]
fn sysv_round_trip_keeps_key_mode_owner_size_and_content_and_stores_zero_pages_sparse() {
    if !common::needs_host_root(
        "sysv_round_trip_keeps_key_mode_owner_size_and_content_and_stores_zero_pages_sparse",
        common::OTHER_UIDS,
    ) {
        return;
    }
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.snap");
    let content = pattern(3 * 1024 * 1024 + 123, 7);
    let a = make_segment(5678, &content, 0o640, 1234, 4321);
    let b = make_segment(0x7fff_0001, &pattern(27, 1), 0o600, 0, 0);
    let out = shmkit(&[
        "snapshot",
        "save",
        file.to_str().unwrap(),
        "sysv:all",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["objects"].as_array().unwrap().len(), 2);
    // A third of the pages are zero and must not be stored.
    let stored = report["stored"].as_u64().unwrap();
    assert!(stored < content.len() as u64 * 3 / 4, "stored {stored}");
    // Snapshot files are private.
    assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);

    sysv::remove(a).unwrap();
    sysv::remove(b).unwrap();
    assert_eq!(segment_count(), 0);

    let out = shmkit(&["snapshot", "restore", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = segment_id(5678).expect("restored key 5678");
    let st = sysv::stat(id).unwrap();
    assert_eq!(
        (st.mode & 0o777, st.uid, st.gid, st.size),
        (0o640, 1234, 4321, content.len() as u64)
    );
    assert!(
        segment_content(id) == content,
        "content differs after restore"
    );
    let id2 = segment_id(0x7fff_0001).unwrap();
    assert_eq!(segment_content(id2), pattern(27, 1));
}

#[test]
fn posix_round_trip_keeps_name_mode_owner_and_content() {
    if !common::needs_host_root(
        "posix_round_trip_keeps_name_mode_owner_and_content",
        common::OTHER_UIDS,
    ) {
        return;
    }
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.snap");
    let name = PosixName::new("posix-round-trip");
    let content = pattern(1024 * 1024 + 5, 3);
    name.create(&content, 0o604, 4321, 99);
    let sel = format!("posix:{}", name.0);
    let out = shmkit(&["snapshot", "save", file.to_str().unwrap(), &sel]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    posix::shm_unlink(&name.0).unwrap();

    let out = shmkit(&["snapshot", "restore", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = std::fs::metadata(name.path()).unwrap();
    assert_eq!((md.mode() & 0o777, md.uid(), md.gid()), (0o604, 4321, 99));
    assert!(name.content() == content);
    // No temporary object of the restore is left in /dev/shm.
    let leftovers = std::fs::read_dir("/dev/shm")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!(".shmkit-restore.{}", std::process::id()))
        })
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn restore_where_one_key_exists_creates_nothing_without_replace_and_replaces_with_it() {
    if !common::as_root(
        "restore_where_one_key_exists_creates_nothing_without_replace_and_replaces_with_it",
    ) {
        return;
    }
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.snap");
    let posix_a = PosixName::new("conflict-a");
    posix_a.create(b"posix a", 0o600, 0, 0);
    let a = make_segment(1001, &pattern(8192, 1), 0o600, 0, 0);
    let b = make_segment(1002, &pattern(8192, 2), 0o600, 0, 0);
    let sel = format!("posix:{}", posix_a.0);
    let out = shmkit(&["snapshot", "save", file.to_str().unwrap(), "sysv:all", &sel]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Key 1002 gets other content, key 1001 and the POSIX object go away.
    sysv::remove(a).unwrap();
    sysv::shmat(b, false).unwrap().fill(0, 8192, 0xee).unwrap();
    posix::shm_unlink(&posix_a.0).unwrap();

    let out = shmkit(&["snapshot", "restore", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("sysv:1002: already exists, so the restore created nothing"));
    assert_eq!(
        segment_id(1001),
        None,
        "nothing may be created on a conflict"
    );
    assert!(!posix_a.exists(), "nothing may be created on a conflict");
    assert_eq!(
        segment_content(b),
        vec![0xee; 8192],
        "the existing segment is untouched"
    );

    // --dry-run says what would happen and changes nothing.
    let out = shmkit(&[
        "snapshot",
        "restore",
        file.to_str().unwrap(),
        "--replace",
        "--dry-run",
    ]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("would replace sysv:1002"));
    assert!(text(&out.stdout).contains("would create sysv:1001"));
    assert_eq!(segment_id(1001), None);

    let out = shmkit(&["snapshot", "restore", file.to_str().unwrap(), "--replace"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(segment_content(segment_id(1001).unwrap()), pattern(8192, 1));
    assert_eq!(segment_content(segment_id(1002).unwrap()), pattern(8192, 2));
    assert_eq!(posix_a.content(), b"posix a");
}

#[test]
fn restore_of_a_segment_above_shmmax_creates_nothing() {
    if !common::as_root("restore_of_a_segment_above_shmmax_creates_nothing") {
        return;
    }
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.snap");
    let posix_a = PosixName::new("half-way");
    posix_a.create(b"made first", 0o600, 0, 0);
    make_segment(2001, &pattern(4096, 1), 0o600, 0, 0);
    make_segment(2002, &pattern(1 << 20, 2), 0o600, 0, 0);
    let sel = format!("posix:{}", posix_a.0);
    let out = shmkit(&[
        "snapshot",
        "save",
        file.to_str().unwrap(),
        "sysv:2001",
        "sysv:2002",
        &sel,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for k in [2001, 2002] {
        sysv::remove(segment_id(k).unwrap()).unwrap();
    }
    posix::shm_unlink(&posix_a.0).unwrap();
    // In this private namespace only: segments above 64 KiB are refused. The limit is checked
    // before anything is created (it once failed after the first segment was made).
    std::fs::write("/proc/sys/kernel/shmmax", "65536").unwrap();

    let out = shmkit(&["snapshot", "restore", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("kernel.shmmax"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(segment_count(), 0, "the first segment was created");
    assert!(!posix_a.exists());
}

/// A snapshot of two segments and a POSIX object, with the objects removed again.
fn small_snapshot(dir: &Path, posix_name: &PosixName) -> Vec<u8> {
    let file = dir.join("small.snap");
    make_segment(3001, &pattern(20000, 1), 0o644, 0, 0);
    make_segment(3002, &pattern(100, 2), 0o600, 0, 0);
    posix_name.create(&pattern(5000, 3), 0o600, 0, 0);
    let sel = format!("posix:{}", posix_name.0);
    let out = shmkit(&["snapshot", "save", file.to_str().unwrap(), "sysv:all", &sel]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for k in [3001, 3002] {
        sysv::remove(segment_id(k).unwrap()).unwrap();
    }
    posix::shm_unlink(&posix_name.0).unwrap();
    std::fs::read(&file).unwrap()
}

#[test]
fn flipped_bytes_and_truncations_are_refused_as_corrupt_and_create_nothing() {
    if !common::as_root("flipped_bytes_and_truncations_are_refused_as_corrupt_and_create_nothing") {
        return;
    }
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    let name = PosixName::new("corrupt");
    let good = small_snapshot(dir.path(), &name);
    let path = dir.path().join("bad.snap");
    let opts = RestoreOptions::default();
    let check = |bytes: &[u8], what: &str| {
        std::fs::write(&path, bytes).unwrap();
        let err = snapshot::restore(&path, &opts).expect_err(what);
        assert_eq!(err.kind(), ErrorKind::Corrupt, "{what}: {err}");
        assert_eq!(err.kind().exit_code(), 7);
        assert!(err.to_string().contains("not a valid snapshot"), "{err}");
        assert_eq!(segment_count(), 0, "{what}: created a segment");
        assert!(!name.exists(), "{what}: created the POSIX object");
    };
    // Every byte of the file, each flipped in one bit, then each set to 0xff.
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x10;
        check(&bad, &format!("bit flipped at {i}"));
    }
    for i in (0..good.len()).step_by(7) {
        let mut bad = good.clone();
        if bad[i] == 0xff {
            continue;
        }
        bad[i] = 0xff;
        check(&bad, &format!("byte set to 0xff at {i}"));
    }
    // Every truncation, and one stray byte appended.
    for len in 0..good.len() {
        check(&good[..len], &format!("truncated to {len}"));
    }
    let mut longer = good.clone();
    longer.push(0);
    check(&longer, "one stray byte");

    // Through the command: exit 7 and a one-line error naming the file.
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    for action in ["restore", "verify", "ls"] {
        let out = shmkit(&["snapshot", action, path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(7), "{action}");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("shmkit: {}: not a valid snapshot", path.display())),
            "{err}"
        );
    }
    assert_eq!(segment_count(), 0);

    // And the intact file still restores everything.
    std::fs::write(&path, &good).unwrap();
    snapshot::restore(&path, &opts).unwrap();
    assert_eq!(segment_count(), 2);
    assert_eq!(name.content(), pattern(5000, 3));
}

#[test]
fn attached_segments_are_reported_as_possibly_torn_and_wait_detached_waits() {
    if !common::as_root("attached_segments_are_reported_as_possibly_torn_and_wait_detached_waits") {
        return;
    }
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.snap");
    let id = make_segment(4001, &pattern(4096, 1), 0o600, 0, 0);
    let attached = sysv::shmat(id, false).unwrap();
    let out = shmkit(&["snapshot", "save", file.to_str().unwrap(), "sysv:4001"]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains(
            "warning: sysv:4001 had 1 attachment while it was copied: the copy may be torn"
        ),
        "{}",
        text(&out.stdout)
    );
    let ls = shmkit(&["snapshot", "ls", file.to_str().unwrap()]);
    assert!(text(&ls.stdout).contains("attached=1 (may be torn)"));

    let before = std::fs::read(&file).unwrap();
    let out = shmkit(&[
        "snapshot",
        "save",
        file.to_str().unwrap(),
        "sysv:4001",
        "--wait-detached",
        "200ms",
    ]);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("still attached"));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "a refused save leaves the file alone"
    );

    // Detach while the saver waits: it then saves a consistent copy.
    let saver = Command::new(SHMKIT)
        .args([
            "snapshot",
            "save",
            file.to_str().unwrap(),
            "sysv:4001",
            "--wait-detached",
            "60s",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(attached);
    let out = saver.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(!text(&out.stdout).contains("torn"), "{}", text(&out.stdout));
}

/// A small xorshift generator: random kill moments without a dependency.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn killing_the_saver_at_random_moments_leaves_the_old_or_the_new_snapshot() {
    if !common::as_root("killing_the_saver_at_random_moments_leaves_the_old_or_the_new_snapshot") {
        return;
    }
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.snap");
    let file_s = file.to_str().unwrap();
    const SIZE: usize = 96 << 20;
    let id = make_segment(5001, &vec![0x11; SIZE], 0o600, 0, 0);
    let checksum_in_file = || -> u64 {
        let v = snapshot::verify_file(&file).expect("the file on disk always verifies");
        assert_eq!(v.objects.len(), 1);
        v.objects[0].checksum
    };
    assert!(shmkit(&["snapshot", "save", file_s, "sysv:5001"])
        .status
        .success());
    let old = checksum_in_file();
    sysv::shmat(id, false)
        .unwrap()
        .fill(0, SIZE as u64, 0x22)
        .unwrap();
    // How long a whole save takes here, to spread the kills over it.
    let t0 = Instant::now();
    let other = dir.path().join("reference.snap");
    assert!(
        shmkit(&["snapshot", "save", other.to_str().unwrap(), "sysv:5001"])
            .status
            .success()
    );
    let full = t0.elapsed().as_micros() as u64 + 1;
    let new = snapshot::verify_file(&other).unwrap().objects[0].checksum;
    assert_ne!(old, new);

    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id()));
    let (mut kept_previous, mut got_next) = (0, 0);
    for _ in 0..24 {
        // Each saver writes the state the file does not hold yet, so every kill can tell a
        // torn file from the previous one and from the next one.
        let previous = checksum_in_file();
        let (byte, next) = if previous == old {
            (0x22, new)
        } else {
            (0x11, old)
        };
        sysv::shmat(id, false)
            .unwrap()
            .fill(0, SIZE as u64, byte)
            .unwrap();
        let mut child = Command::new(SHMKIT)
            .args(["snapshot", "save", file_s, "sysv:5001"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.next() % (full * 3 / 2)));
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        let sum = checksum_in_file();
        assert!(
            sum == previous || sum == next,
            "the file is neither snapshot"
        );
        if sum == previous {
            kept_previous += 1;
        } else {
            got_next += 1;
        }
    }
    eprintln!(
        "after 24 kills: {kept_previous} kept the previous snapshot, {got_next} had the new one"
    );
    sysv::shmat(id, false)
        .unwrap()
        .fill(0, SIZE as u64, 0x22)
        .unwrap();
    // A complete save still works afterwards and clears the killed savers' temporary files.
    assert!(shmkit(&["snapshot", "save", file_s, "sysv:5001"])
        .status
        .success());
    assert_eq!(checksum_in_file(), new);
    let temps = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".shmkit-tmp."))
        .count();
    assert_eq!(temps, 0);
}

#[test]
fn bad_selectors_missing_objects_and_missing_files_fail_with_documented_codes() {
    if !common::as_root(
        "bad_selectors_missing_objects_and_missing_files_fail_with_documented_codes",
    ) {
        return;
    }
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.snap");
    let f = file.to_str().unwrap();
    let cases: [(&[&str], i32, &str); 5] = [
        (
            &["snapshot", "save", f, "sysv:nokey"],
            2,
            "sysv:nokey: 'nokey' is not a System V key (decimal or 0x hex, 32 bits); use sysv:KEY",
        ),
        (
            &["snapshot", "save", f, "sysv:5678"],
            3,
            "sysv:5678: no segment has this key in this IPC namespace",
        ),
        (
            &["snapshot", "save", f, "posix:/shmkit-test-absent-name"],
            3,
            "posix:/shmkit-test-absent-name: no such POSIX shared memory object",
        ),
        (
            &["snapshot", "restore", f],
            3,
            "open failed: No such file or directory; check the path",
        ),
        (
            &["snapshot", "save", "/nonexistent-dir/x.snap", "sysv:all"],
            3,
            "/nonexistent-dir/x.snap: its directory /nonexistent-dir does not exist; create the directory first",
        ),
    ];
    for (args, code, msg) in cases {
        let out = shmkit(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    assert!(!file.exists());
}

/// The `rss` column of /proc/sysvipc/shm for `key`.
fn segment_rss(key: i32) -> u64 {
    let text = std::fs::read_to_string("/proc/sysvipc/shm").unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    let col = header.iter().position(|h| *h == "rss").unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f[0].parse::<i32>().unwrap() == key)
        .map(|f| f[col].parse().unwrap())
        .unwrap()
}

#[test]
fn saving_a_sparse_segment_does_not_fault_in_its_holes() {
    if !common::as_root("saving_a_sparse_segment_does_not_fault_in_its_holes") {
        return;
    }
    // Kernel quirk: a read fault on a never-written shmem page allocates a page, so a naive
    // copy of a 64 MiB segment holding one page would make it take 64 MiB. With nothing in
    // swap, save asks mincore which pages exist and reads only those.
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sparse.snap");
    let flags = sysv::GetFlags {
        create: true,
        exclusive: true,
        ..Default::default()
    };
    let id = sysv::shmget(6001, 64 << 20, flags, 0o600).unwrap();
    sysv::shmat(id, false)
        .unwrap()
        .write_at(40 << 20, b"one page")
        .unwrap();
    assert_eq!(segment_rss(6001), 4096);
    let out = shmkit(&[
        "snapshot",
        "save",
        file.to_str().unwrap(),
        "sysv:6001",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["stored"], 4096);
    assert_eq!(segment_rss(6001), 4096, "the save faulted holes in");

    sysv::remove(id).unwrap();
    let out = shmkit(&["snapshot", "restore", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let m = sysv::shmat(segment_id(6001).unwrap(), false).unwrap();
    let mut buf = [0u8; 8];
    m.read_at(40 << 20, &mut buf).unwrap();
    assert_eq!(&buf, b"one page");
    // Restore writes only the stored page too (no prefault for a mostly empty segment).
    drop(m);
    assert_eq!(segment_rss(6001), 4096);
}

#[test]
fn ipc_private_segments_saved_by_id_come_back_as_new_private_segments() {
    if !common::as_root("ipc_private_segments_saved_by_id_come_back_as_new_private_segments") {
        return;
    }
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("private.snap");
    let flags = sysv::GetFlags {
        create: true,
        ..Default::default()
    };
    let mut ids = Vec::new();
    for seed in [1u8, 2] {
        let id = sysv::shmget(sysv::IPC_PRIVATE, 8192, flags, 0o600).unwrap();
        sysv::shmat(id, false)
            .unwrap()
            .write_at(0, &pattern(8192, seed))
            .unwrap();
        ids.push(id);
    }
    // `sysv:all` leaves keyless segments out; naming them by id takes them.
    let out = shmkit(&[
        "snapshot",
        "save",
        file.to_str().unwrap(),
        "sysv:all",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["objects"].as_array().unwrap().len(), 0);
    let sel: Vec<String> = ids.iter().map(|i| format!("sysv:id={i}")).collect();
    let mut args = vec!["snapshot", "save", file.to_str().unwrap()];
    args.extend(sel.iter().map(String::as_str));
    assert!(shmkit(&args).status.success());
    for id in &ids {
        sysv::remove(*id).unwrap();
    }
    let out = shmkit(&["snapshot", "restore", file.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let new: Vec<i32> = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["new_shmid"].as_i64().unwrap() as i32)
        .collect();
    assert_eq!(segment_count(), 2);
    assert_eq!(segment_content(new[0]), pattern(8192, 1));
    assert_eq!(segment_content(new[1]), pattern(8192, 2));
}

// ---------------------------------------------------------------------------------------------
// Restore: all or nothing, also when killed, interrupted or replacing (issue 8).

/// The keys and content of a multi-object snapshot used by the kill and signal tests.
const BIG_KEYS: [i32; 4] = [7001, 7002, 7003, 7004];
const BIG_SIZE: usize = 24 << 20;

/// Saves 4 segments of 24 MiB (dense, so the restore fills every page) and `posix` objects,
/// then removes them; returns the snapshot path.
fn big_snapshot(dir: &Path, posix: &[&PosixName]) -> std::path::PathBuf {
    let file = dir.join("big.snap");
    for (i, k) in BIG_KEYS.iter().enumerate() {
        make_segment(*k, &vec![0x40 + i as u8; BIG_SIZE], 0o640, 0, 0);
    }
    let mut args = vec![
        "snapshot".to_string(),
        "save".into(),
        file.to_str().unwrap().into(),
        "sysv:all".into(),
    ];
    for (i, p) in posix.iter().enumerate() {
        p.create(&pattern(8 << 20, i as u8), 0o644, 0, 0);
        args.push(format!("posix:{}", p.0));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = shmkit(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    remove_big(posix);
    file
}

fn remove_big(posix: &[&PosixName]) {
    for k in BIG_KEYS {
        if let Some(id) = segment_id(k) {
            sysv::remove(id).unwrap();
        }
    }
    for p in posix {
        let _ = posix::shm_unlink(&p.0);
    }
}

/// Segments or objects that carry their final mode must hold their whole content.
fn assert_nothing_final_is_incomplete(posix: &[&PosixName], when: &str) {
    for (i, k) in BIG_KEYS.iter().enumerate() {
        if let Some(id) = segment_id(*k) {
            let st = sysv::stat(id).unwrap();
            if st.mode & 0o777 != 0 {
                assert_eq!(st.mode & 0o777, 0o640, "{when}: sysv:{k}");
                assert!(
                    segment_content(id) == vec![0x40 + i as u8; BIG_SIZE],
                    "{when}: sysv:{k} has its final mode and incomplete content"
                );
            }
        }
    }
    for (i, p) in posix.iter().enumerate() {
        if p.exists() {
            assert!(
                p.content() == pattern(8 << 20, i as u8),
                "{when}: {} is visible and incomplete",
                p.0
            );
        }
    }
}

fn assert_big_restored(posix: &[&PosixName], when: &str) {
    for (i, k) in BIG_KEYS.iter().enumerate() {
        let id = segment_id(*k).unwrap_or_else(|| panic!("{when}: sysv:{k} missing"));
        let st = sysv::stat(id).unwrap();
        assert_eq!(st.mode & 0o777, 0o640, "{when}");
        assert!(
            segment_content(id) == vec![0x40 + i as u8; BIG_SIZE],
            "{when}: sysv:{k}"
        );
    }
    for (i, p) in posix.iter().enumerate() {
        assert!(p.content() == pattern(8 << 20, i as u8), "{when}: {}", p.0);
        let md = std::fs::metadata(p.path()).unwrap();
        assert_eq!(md.mode() & 0o777, 0o644, "{when}");
    }
}

/// The temporary objects of the restore whose journal is beside `file`, if any.
fn journal_tag(file: &Path) -> Option<String> {
    let journal = file.with_file_name(format!(
        ".{}.shmkit-journal",
        file.file_name().unwrap().to_str().unwrap()
    ));
    let text = std::fs::read_to_string(journal).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("tag ").map(str::to_owned))
}

fn temp_objects_of(tag: &str) -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!(".shmkit-restore.{tag}.")))
        .collect()
}

#[test]
fn killing_restore_at_random_moments_is_completed_by_the_next_restore() {
    if !common::as_root("killing_restore_at_random_moments_is_completed_by_the_next_restore") {
        return;
    }
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (PosixName::new("kill-a"), PosixName::new("kill-b"));
    let posix = [&pa, &pb];
    let file = big_snapshot(dir.path(), &posix);
    let file_s = file.to_str().unwrap();
    // How long a whole restore takes here, to spread the kills over it.
    let t0 = Instant::now();
    let out = shmkit(&["snapshot", "restore", file_s]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let full = t0.elapsed().as_micros() as u64 + 1;
    remove_big(&posix);
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d ^ u64::from(std::process::id()));
    let mut completed_after_kill = 0;
    for run in 0..12 {
        let mut child = Command::new(SHMKIT)
            .args(["snapshot", "restore", file_s])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.next() % full));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let when = format!("run {run}");
        assert_nothing_final_is_incomplete(&posix, &when);
        let tag = journal_tag(&file);
        // Killed after its last step (every object final, the journal removed) but before it
        // exited: it finished. Without a journal the objects are all there or none is: the
        // journal is written before the first object and removed after the last.
        let finished_before_exit = !status.success() && tag.is_none() && segment_count() > 0;
        if status.success() || finished_before_exit {
            // It finished before the kill.
            assert_big_restored(&posix, &when);
        } else {
            completed_after_kill += 1;
            // The next restore recognises the unfinished one and completes it: no conflict.
            let out = shmkit(&["snapshot", "restore", file_s]);
            assert!(out.status.success(), "{when}: {}", text(&out.stderr));
            assert_big_restored(&posix, &when);
        }
        if let Some(tag) = tag {
            assert_eq!(temp_objects_of(&tag), Vec::<String>::new(), "{when}");
        }
        assert!(journal_tag(&file).is_none(), "{when}: the journal stays");
        assert_eq!(segment_count(), BIG_KEYS.len(), "{when}: stray segments");
        remove_big(&posix);
    }
    eprintln!("{completed_after_kill} of 12 restores were killed and then completed");
}

#[test]
fn sigterm_during_restore_rolls_back_or_finishes_with_a_message() {
    if !common::as_root("sigterm_during_restore_rolls_back_or_finishes_with_a_message") {
        return;
    }
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (PosixName::new("term-a"), PosixName::new("term-b"));
    let posix = [&pa, &pb];
    let file = big_snapshot(dir.path(), &posix);
    let file_s = file.to_str().unwrap();
    let (mut rolled_back, mut finished) = (0, 0);
    for run in 0..6 {
        let child = Command::new(SHMKIT)
            .args(["snapshot", "restore", file_s])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until it has created something, then ask it to stop.
        let deadline = Instant::now() + Duration::from_secs(30);
        while segment_count() == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_millis(run * 3));
        sys::process::kill(child.id(), libc::SIGTERM).unwrap();
        let out = child.wait_with_output().unwrap();
        let err = text(&out.stderr);
        let when = format!("run {run}: {err}");
        if out.status.success() || out.status.code() == Some(128 + libc::SIGTERM) {
            // It was committing (or done): everything is there.
            finished += 1;
            assert_big_restored(&posix, &when);
        } else {
            rolled_back += 1;
            assert_eq!(out.status.code(), Some(1), "{when}");
            assert!(
                err.contains("interrupted by SIGTERM: everything it had created was removed"),
                "{when}"
            );
            assert_eq!(segment_count(), 0, "{when}");
            assert!(!pa.exists() && !pb.exists(), "{when}");
        }
        remove_big(&posix);
    }
    eprintln!("SIGTERM: {rolled_back} rolled back, {finished} finished");
    assert!(rolled_back > 0, "no SIGTERM arrived mid-restore");
}

#[test]
fn replace_under_a_low_shmmax_is_refused_first_and_leaves_the_live_objects_intact() {
    if !common::as_root(
        "replace_under_a_low_shmmax_is_refused_first_and_leaves_the_live_objects_intact",
    ) {
        return;
    }
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.snap");
    let p = PosixName::new("replace-live");
    p.create(&pattern(100_000, 1), 0o600, 0, 0);
    let small = make_segment(8001, &pattern(4096, 1), 0o600, 0, 0);
    let big = make_segment(8002, &pattern(1 << 20, 2), 0o600, 0, 0);
    let sel = format!("posix:{}", p.0);
    let out = shmkit(&["snapshot", "save", file.to_str().unwrap(), "sysv:all", &sel]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The live objects move on.
    sysv::shmat(small, false)
        .unwrap()
        .fill(0, 4096, 0x5a)
        .unwrap();
    sysv::shmat(big, false)
        .unwrap()
        .fill(0, 1 << 20, 0x5b)
        .unwrap();
    p.create_or_write(&[0x5c; 1000]);
    // In this private IPC namespace only.
    std::fs::write("/proc/sys/kernel/shmmax", "65536").unwrap();
    let out = shmkit(&["snapshot", "restore", file.to_str().unwrap(), "--replace"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(
        err.contains("sysv:8002: its 1048576 bytes are more than kernel.shmmax (65536), so the restore created nothing; raise the limit: sysctl -w kernel.shmmax=1048576"),
        "{err}"
    );
    assert_eq!(
        segment_id(8001),
        Some(small),
        "the live segment was replaced"
    );
    assert_eq!(segment_id(8002), Some(big));
    assert_eq!(segment_content(small), vec![0x5a; 4096]);
    assert_eq!(segment_content(big), vec![0x5b; 1 << 20]);
    assert_eq!(p.content(), vec![0x5c; 1000]);
    assert_eq!(segment_count(), 2);
    // The dry run says the same.
    let out = shmkit(&[
        "snapshot",
        "restore",
        file.to_str().unwrap(),
        "--replace",
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));

    // With room, --replace replaces: held attachments keep the old memory.
    std::fs::write("/proc/sys/kernel/shmmax", "1073741824").unwrap();
    let held = sysv::shmat(small, false).unwrap();
    let out = shmkit(&["snapshot", "restore", file.to_str().unwrap(), "--replace"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(segment_content(segment_id(8001).unwrap()), pattern(4096, 1));
    assert_eq!(
        segment_content(segment_id(8002).unwrap()),
        pattern(1 << 20, 2)
    );
    assert_eq!(p.content(), pattern(100_000, 1));
    let mut b = [0u8; 4];
    held.read_at(0, &mut b).unwrap();
    assert_eq!(b, [0x5a; 4]);
    drop(held);
    // No replacement (private segment) or backup is left behind.
    assert_eq!(segment_count(), 2);
}

#[test]
fn a_directory_at_a_posix_name_is_refused_before_anything_is_created() {
    if !common::as_root("a_directory_at_a_posix_name_is_refused_before_anything_is_created") {
        return;
    }
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("d.snap");
    let p = PosixName::new("dir-in-the-way");
    p.create(b"content", 0o600, 0, 0);
    make_segment(8101, &pattern(4096, 1), 0o600, 0, 0);
    let sel = format!("posix:{}", p.0);
    assert!(
        shmkit(&["snapshot", "save", file.to_str().unwrap(), "sysv:all", &sel])
            .status
            .success()
    );
    sysv::remove(segment_id(8101).unwrap()).unwrap();
    posix::shm_unlink(&p.0).unwrap();
    std::fs::create_dir(p.path()).unwrap();
    let out = shmkit(&["snapshot", "restore", file.to_str().unwrap(), "--replace"]);
    let err = text(&out.stderr);
    std::fs::remove_dir(p.path()).unwrap();
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("is taken by a directory in /dev/shm, which a restore never replaces; it created nothing; move it away"),
        "{err}"
    );
    assert_eq!(segment_count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Snapshots that stay readable (issue 8).

#[test]
fn two_savers_as_pid_1_in_two_pid_namespaces_serialise_on_one_file() {
    if !common::as_root("two_savers_as_pid_1_in_two_pid_namespaces_serialise_on_one_file") {
        return;
    }
    // Two containers running shmkit as pid 1 on one volume once shared the temporary name
    // (it held the pid) and tore the snapshot.
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shared.snap");
    let file_s = file.to_str().unwrap();
    make_segment(9001, &pattern(4 << 20, 1), 0o600, 0, 0);
    make_segment(9002, &pattern(2 << 20, 2), 0o600, 0, 0);
    for round in 0..50 {
        let spawn = || {
            Command::new("unshare")
                .args([
                    "--pid", "--fork", SHMKIT, "snapshot", "save", file_s, "sysv:all",
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        for child in [a, b] {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}: {}", text(&out.stderr));
        }
        let v = snapshot::verify_file(&file)
            .unwrap_or_else(|e| panic!("round {round}: the snapshot does not verify: {e}"));
        assert_eq!(v.objects.len(), 2, "round {round}");
    }
    let strays: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".shmkit-tmp."))
        .collect();
    assert!(strays.is_empty(), "{strays:?}");
}

/// Sets `vm.nr_hugepages` for a test and puts the old value back on drop.
struct HugePages(String);

impl HugePages {
    fn set(n: u32) -> Self {
        let old = std::fs::read_to_string("/proc/sys/vm/nr_hugepages").unwrap();
        std::fs::write("/proc/sys/vm/nr_hugepages", n.to_string()).unwrap();
        HugePages(old.trim().to_owned())
    }
    fn free() -> u64 {
        std::fs::read_to_string("/proc/meminfo")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("HugePages_Free:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for HugePages {
    fn drop(&mut self) {
        let _ = std::fs::write("/proc/sys/vm/nr_hugepages", &self.0);
    }
}

#[test]
fn a_huge_page_segment_round_trips_as_a_huge_page_segment_or_is_refused_clearly() {
    if !common::needs_host_root(
        "a_huge_page_segment_round_trips_as_a_huge_page_segment_or_is_refused_clearly",
        common::HUGE_PAGES,
    ) {
        return;
    }
    // mincore sees the saver's empty page tables for a SHM_HUGETLB segment: the old save
    // stored zeros and restored an ordinary segment.
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("huge.snap");
    let pages = HugePages::set(4);
    if HugePages::free() < 4 {
        eprintln!("skipped: the kernel could not reserve 4 huge pages");
        return;
    }
    let size = 2u64 << 20;
    let flags = sysv::GetFlags {
        create: true,
        exclusive: true,
        hugetlb: true,
        ..Default::default()
    };
    let id = sysv::shmget(9101, size, flags, 0o600).unwrap();
    let content = pattern(size as usize, 9);
    sysv::shmat(id, false)
        .unwrap()
        .write_at(0, &content)
        .unwrap();
    let out = shmkit(&[
        "snapshot",
        "save",
        file.to_str().unwrap(),
        "sysv:9101",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["objects"][0]["hugetlb"], true);
    assert!(v["stored"].as_u64().unwrap() > size / 2, "saved as zeros");
    sysv::remove(id).unwrap();
    let free_before = HugePages::free();
    let out = shmkit(&["snapshot", "restore", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("huge pages"),
        "{}",
        text(&out.stdout)
    );
    let id = segment_id(9101).unwrap();
    assert!(segment_content(id) == content);
    assert_eq!(
        HugePages::free(),
        free_before - 1,
        "not backed by a huge page"
    );
    sysv::remove(id).unwrap();

    // Without free huge pages: refused before anything is created, with the sysctl to raise.
    drop(pages);
    let _none = HugePages::set(0);
    let out = shmkit(&["snapshot", "restore", file.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(
        err.contains("need 1 free huge pages of 2048 KiB, 0 are free"),
        "{err}"
    );
    assert!(err.contains("sysctl -w vm.nr_hugepages"), "{err}");
    assert_eq!(segment_count(), 0);
}

#[test]
fn only_regular_files_are_read_or_replaced() {
    if !common::as_root("only_regular_files_are_read_or_replaced") {
        return;
    }
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    make_segment(9201, &pattern(4096, 1), 0o600, 0, 0);
    // A device: refused, and /dev/null stays a device.
    let out = shmkit(&["snapshot", "save", "/dev/null", "sysv:all"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("/dev/null: is a character device, not a snapshot file"),
        "{err}"
    );
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    // A FIFO: save refuses it and leaves it; verify, ls and restore do not wait for a writer.
    let fifo = dir.path().join("fifo.snap");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for args in [
        vec!["snapshot", "save", fifo.to_str().unwrap(), "sysv:all"],
        vec!["snapshot", "verify", fifo.to_str().unwrap()],
        vec!["snapshot", "ls", fifo.to_str().unwrap()],
        vec!["snapshot", "restore", fifo.to_str().unwrap()],
    ] {
        let mut child = Command::new(SHMKIT)
            .args(&args)
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // A watchdog, not a timing assertion: a hang is ended and reported as one.
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{args:?} hangs on a FIFO");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let out = child.wait_with_output().unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("is a FIFO, not a snapshot file"), "{err}");
    }
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    // A socket gets a message that says so (open(2) says "No such device or address").
    let sock_path = dir.path().join("sock.snap");
    let _sock = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    let out = shmkit(&["snapshot", "verify", sock_path.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is a socket, not a snapshot file"), "{err}");
    // A directory as the snapshot: a fix, not "rename failed: Is a directory".
    let out = shmkit(&["snapshot", "save", dir.path().to_str().unwrap(), "sysv:all"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is a directory, not a snapshot file; shmkit reads and replaces only regular files; name a regular file"), "{err}");
}

/// This thread, and the shmkit processes it starts, get a /dev/shm of their own (a tmpfs of
/// `size` bytes in a private mount namespace), so `posix:all` sees only this test's objects.
/// It goes away with the thread.
fn private_dev_shm(size: u64) {
    sys::ns::unshare_mount_private().expect("unshare(CLONE_NEWNS): tests run as root");
    sys::fs::mount_tmpfs(Path::new("/dev/shm"), size).unwrap();
    std::fs::set_permissions("/dev/shm", std::fs::Permissions::from_mode(0o1777)).unwrap();
}

fn raw_shm_path(name: &[u8]) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let mut p = b"/dev/shm/".to_vec();
    p.extend_from_slice(name);
    std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&p))
}

#[test]
fn names_are_bytes_semaphores_are_saved_and_nothing_is_skipped_silently() {
    if !common::as_root("names_are_bytes_semaphores_are_saved_and_nothing_is_skipped_silently") {
        return;
    }
    private_ipc_namespace();
    private_dev_shm(64 << 20);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("names.snap");
    let long = vec![b'L'; 255];
    let names: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b"caf\xe9".to_vec(), b"not UTF-8".to_vec()),
        // What sem_open("/x") makes, and what shm_open("/sem.x") makes: the same file.
        (b"sem.x".to_vec(), vec![1; 32]),
        (b"a".to_vec(), b"one".to_vec()),
        (long.clone(), b"255 bytes".to_vec()),
    ];
    for (n, c) in &names {
        std::fs::write(raw_shm_path(n), c).unwrap();
    }
    assert!(Command::new("mkfifo")
        .arg("/dev/shm/a-fifo")
        .status()
        .unwrap()
        .success());
    std::os::unix::fs::symlink("/etc/passwd", "/dev/shm/a-link").unwrap();
    let out = shmkit(&["snapshot", "save", file.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let saved: Vec<&str> = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    let long_s = format!("/{}", "L".repeat(255));
    let mut want = vec!["/a", "/caf\\xe9", "/sem.x", long_s.as_str()];
    want.sort();
    let mut got = saved.clone();
    got.sort();
    assert_eq!(got, want);
    let skipped = v["skipped"].as_array().unwrap();
    let reasons: Vec<String> = skipped
        .iter()
        .map(|s| {
            format!(
                "{}: {}",
                s["object"].as_str().unwrap(),
                s["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        reasons.contains(&"posix:/a-fifo: is a FIFO, not a shared memory object".to_owned()),
        "{reasons:?}"
    );
    assert!(
        reasons
            .contains(&"posix:/a-link: is a symbolic link, not a shared memory object".to_owned()),
        "{reasons:?}"
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("note: posix:/a-fifo was not saved: is a FIFO"),
        "{err}"
    );

    for (n, _) in &names {
        std::fs::remove_file(raw_shm_path(n)).unwrap();
    }
    let out = shmkit(&["snapshot", "restore", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("created posix:/caf\\xe9"),
        "{}",
        text(&out.stdout)
    );
    for (n, c) in &names {
        assert_eq!(&std::fs::read(raw_shm_path(n)).unwrap(), c, "{n:?}");
    }
    // One such name alone: addressed as its file, the way every shmkit command takes it.
    let one = dir.path().join("one.snap");
    let out = shmkit(&[
        "snapshot",
        "save",
        one.to_str().unwrap(),
        "file:/dev/shm/caf\\xe9",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["objects"][0]["name"], "/caf\\xe9");
    assert_eq!(v["objects"].as_array().unwrap().len(), 1);
}

#[test]
fn sparse_posix_objects_restore_sparse_and_dev_shm_space_is_checked_first() {
    if !common::as_root("sparse_posix_objects_restore_sparse_and_dev_shm_space_is_checked_first") {
        return;
    }
    private_ipc_namespace();
    private_dev_shm(64 << 20);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sparse.snap");
    // 1.5 GiB with 4 KiB written, in a 64 MiB /dev/shm: it fits because it is sparse.
    let f = File::create("/dev/shm/sparse").unwrap();
    f.set_len(3 << 29).unwrap();
    f.write_all_at(&[7; 4096], 1 << 30).unwrap();
    drop(f);
    std::fs::write("/dev/shm/dense", pattern(8 << 20, 4)).unwrap();
    let out = shmkit(&["snapshot", "save", file.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::remove_file("/dev/shm/sparse").unwrap();
    std::fs::remove_file("/dev/shm/dense").unwrap();
    let out = shmkit(&["snapshot", "restore", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = std::fs::metadata("/dev/shm/sparse").unwrap();
    assert_eq!(md.len(), 3 << 29);
    assert!(
        md.blocks() * 512 <= 8192,
        "restored with {} bytes allocated",
        md.blocks() * 512
    );
    let mut b = [0u8; 4096];
    File::open("/dev/shm/sparse")
        .unwrap()
        .read_exact_at(&mut b, 1 << 30)
        .unwrap();
    assert_eq!(b, [7; 4096]);
    assert_eq!(
        std::fs::read("/dev/shm/dense").unwrap(),
        pattern(8 << 20, 4)
    );
    std::fs::remove_file("/dev/shm/sparse").unwrap();
    std::fs::remove_file("/dev/shm/dense").unwrap();

    // A /dev/shm too small for the 8 MiB of data: refused before anything is created.
    sys::fs::mount_tmpfs(Path::new("/dev/shm"), 4 << 20).unwrap();
    let out = shmkit(&["snapshot", "restore", file.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(
        err.contains("/dev/shm: the snapshot's POSIX objects hold"),
        "{err}"
    );
    assert!(
        err.contains("bytes of data, /dev/shm has 4194304 free; the restore created nothing"),
        "{err}"
    );
    assert!(err.contains("enlarge it"), "{err}");
    assert_eq!(
        std::fs::read_dir("/dev/shm").unwrap().count(),
        0,
        "something was created"
    );
}

#[test]
fn a_snapshot_kept_in_dev_shm_never_saves_itself() {
    if !common::as_root("a_snapshot_kept_in_dev_shm_never_saves_itself") {
        return;
    }
    private_ipc_namespace();
    private_dev_shm(64 << 20);
    std::fs::write("/dev/shm/obj", pattern(100_000, 1)).unwrap();
    let mut sizes = Vec::new();
    for _ in 0..3 {
        let out = shmkit(&["snapshot", "save", "/dev/shm/state.snap", "--json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let names: Vec<&str> = v["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["/obj"]);
        sizes.push(std::fs::metadata("/dev/shm/state.snap").unwrap().len());
    }
    assert!(sizes.windows(2).all(|w| w[0] == w[1]), "{sizes:?}");
}

#[test]
fn a_fifo_swapped_into_dev_shm_cannot_hang_save() {
    if !common::as_root("a_fifo_swapped_into_dev_shm_cannot_hang_save") {
        return;
    }
    // An unprivileged user may rename files in the world-writable /dev/shm: swapping a FIFO
    // in under a listed name once blocked root's save in open().
    private_ipc_namespace();
    private_dev_shm(64 << 20);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("swap.snap");
    std::fs::write("/dev/shm/obj", b"regular").unwrap();
    assert!(Command::new("mkfifo")
        .arg("/dev/shm/fifo")
        .status()
        .unwrap()
        .success());
    // A thread started from this one shares its mount namespace, and so does its shell.
    let swapper = std::thread::spawn(|| {
        Command::new("sh")
            .args([
                "-c",
                "while [ ! -e /dev/shm/stop ]; do mv /dev/shm/obj /dev/shm/t; mv /dev/shm/fifo /dev/shm/obj; mv /dev/shm/t /dev/shm/fifo; done",
            ])
            .status()
    });
    let mut saves = 0;
    for _ in 0..20 {
        let mut child = Command::new(SHMKIT)
            .args(["snapshot", "save", file.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                std::fs::write("/dev/shm/stop", b"").unwrap();
                panic!("save hangs on a FIFO swapped into /dev/shm");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        snapshot::verify_file(&file).unwrap();
        saves += 1;
    }
    std::fs::write("/dev/shm/stop", b"").unwrap();
    assert!(swapper.join().unwrap().unwrap().success());
    assert_eq!(saves, 20);
}

// ---------------------------------------------------------------------------------------------
// Dry runs predict the real run; non-root saves and restores (issue 8).

/// Runs shmkit as `nobody` (uid and gid 65534, no groups).
fn shmkit_as_nobody(args: &[&str]) -> Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", SHMKIT])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn as_non_root_a_foreign_segment_is_skipped_by_name_and_a_dry_run_predicts_eperm() {
    if !common::needs_host_root(
        "as_non_root_a_foreign_segment_is_skipped_by_name_and_a_dry_run_predicts_eperm",
        common::OTHER_UIDS,
    ) {
        return;
    }
    private_ipc_namespace();
    private_dev_shm(16 << 20);
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let file = dir.path().join("user.snap");
    let file_s = file.to_str().unwrap();
    // Root's private segment, and one every user may read.
    make_segment(9401, &pattern(4096, 1), 0o600, 0, 0);
    make_segment(9402, &pattern(4096, 2), 0o644, 0, 0);
    let out = shmkit_as_nobody(&["snapshot", "save", file_s, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["objects"].as_array().unwrap().len(), 1);
    assert_eq!(v["objects"][0]["key"], 9402);
    assert_eq!(v["skipped"][0]["object"], "sysv:9401");
    assert!(
        text(&out.stderr).contains(
            "note: sysv:9401 was not saved: not readable by uid 65534 (owner uid 0, mode 0600)"
        ),
        "{}",
        text(&out.stderr)
    );
    // Named explicitly, it is an error.
    let other = dir.path().join("other.snap");
    let out = shmkit_as_nobody(&["snapshot", "save", other.to_str().unwrap(), "sysv:9401"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));

    // Root's segment 9402 is in the way: nobody may not remove it, and the dry run says so
    // instead of promising a replacement that would then fail with EPERM.
    for extra in [&["--dry-run"][..], &[]] {
        let mut args = vec!["snapshot", "restore", file_s, "--replace"];
        args.extend_from_slice(extra);
        let out = shmkit_as_nobody(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{extra:?}: {err}");
        assert!(
            err.contains("sysv:9402: exists, owned by uid 0 (created by uid 0), and only they or root may replace it"),
            "{err}"
        );
    }
    assert_eq!(segment_content(segment_id(9402).unwrap()), pattern(4096, 2));
}

#[test]
fn a_non_root_restore_reports_the_owner_it_set_and_warns_of_world_writable_objects() {
    if !common::needs_host_root(
        "a_non_root_restore_reports_the_owner_it_set_and_warns_of_world_writable_objects",
        common::OTHER_UIDS,
    ) {
        return;
    }
    private_ipc_namespace();
    private_dev_shm(16 << 20);
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let file = dir.path().join("owner.snap");
    let p = PosixName::new("owner");
    p.create(b"shared by all", 0o666, 0, 0);
    let sel = format!("posix:{}", p.0);
    assert!(shmkit(&["snapshot", "save", file.to_str().unwrap(), &sel])
        .status
        .success());
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    posix::shm_unlink(&p.0).unwrap();
    let out = shmkit_as_nobody(&["snapshot", "restore", file.to_str().unwrap(), "--json"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let md = std::fs::metadata(p.path()).unwrap();
    // What it reports is what the kernel holds.
    assert_eq!(md.uid(), 65534);
    assert_eq!(v["objects"][0]["set_uid"], 65534);
    assert_eq!(v["objects"][0]["uid"], 0);
    assert!(err.contains("owner is uid 65534, gid 65534 (saved: uid 0, gid 0); only root can give a file to another user"), "{err}");
    assert!(err.contains("warning: posix:"), "{err}");
    assert!(
        err.contains("mode 0666 lets every user on this host write it"),
        "{err}"
    );
    assert_eq!(md.mode() & 0o777, 0o666);
}

#[test]
fn a_dry_run_of_60000_records_is_linear_and_names_them_all() {
    if !common::as_root("a_dry_run_of_60000_records_is_linear_and_names_them_all") {
        return;
    }
    // Restore once compared every record with every earlier one: 153 s for 60,000.
    private_ipc_namespace();
    private_dev_shm(1 << 30);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.snap");
    let f = std::io::BufWriter::new(File::create(&file).unwrap());
    let mut w = snapshot::SnapshotWriter::new(f, 0).unwrap();
    struct One;
    impl snapshot::ContentSource for One {
        fn read_content(&mut self, _: u64, buf: &mut [u8]) -> std::io::Result<()> {
            buf.fill(1);
            Ok(())
        }
    }
    for i in 0..60_000u32 {
        let meta = snapshot::ObjectMeta {
            kind: shmkit::scan::Kind::Posix,
            key: 0,
            name: format!("/n{i}").into_bytes(),
            mode: 0o600,
            uid: 0,
            gid: 0,
            size: 1,
            locked: false,
            hugetlb: false,
            nattch: 0,
            shmid: -1,
        };
        w.add_object(&meta, &mut One).unwrap();
    }
    let mut out = w.finish().unwrap().output;
    std::io::Write::flush(&mut out).unwrap();
    drop(out);
    let t0 = Instant::now();
    let out = shmkit(&[
        "snapshot",
        "restore",
        file.to_str().unwrap(),
        "--dry-run",
        "--json",
    ]);
    eprintln!("dry run of 60,000 records: {:?}", t0.elapsed());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let objects = v["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 60_000);
    assert!(objects.iter().all(|o| o["action"] == "would-create"));
    assert_eq!(
        std::fs::read_dir("/dev/shm").unwrap().count(),
        0,
        "a dry run created something"
    );
}

#[test]
fn verify_ls_and_restore_refuse_the_same_duplicate_records() {
    if !common::as_root("verify_ls_and_restore_refuse_the_same_duplicate_records") {
        return;
    }
    private_ipc_namespace();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dup.snap");
    let meta = snapshot::ObjectMeta {
        kind: shmkit::scan::Kind::Sysv,
        key: 9501,
        name: Vec::new(),
        mode: 0o600,
        uid: 0,
        gid: 0,
        size: 4096,
        locked: false,
        hugetlb: false,
        nattch: 0,
        shmid: 1,
    };
    struct Zeros;
    impl snapshot::ContentSource for Zeros {
        fn read_content(&mut self, _: u64, buf: &mut [u8]) -> std::io::Result<()> {
            buf.fill(0);
            Ok(())
        }
    }
    let mut w = snapshot::SnapshotWriter::new(File::create(&file).unwrap(), 0).unwrap();
    w.add_object(&meta, &mut Zeros).unwrap();
    w.add_object(&meta, &mut Zeros).unwrap();
    w.finish().unwrap();
    for action in ["verify", "ls", "restore"] {
        let out = shmkit(&["snapshot", action, file.to_str().unwrap()]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(7), "{action}: {err}");
        assert!(err.contains("sysv:9501 appears twice"), "{action}: {err}");
    }
    assert_eq!(segment_count(), 0);
}

#[test]
fn a_snapshot_on_a_read_only_volume_restores_with_its_journal_in_dev_shm() {
    if !common::as_root("a_snapshot_on_a_read_only_volume_restores_with_its_journal_in_dev_shm") {
        return;
    }
    private_ipc_namespace();
    private_dev_shm(16 << 20);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ro.snap");
    make_segment(9601, &pattern(8192, 1), 0o600, 0, 0);
    assert!(
        shmkit(&["snapshot", "save", file.to_str().unwrap(), "sysv:all"])
            .status
            .success()
    );
    sysv::remove(segment_id(9601).unwrap()).unwrap();
    let d = dir.path().to_str().unwrap();
    for args in [vec!["--bind", d, d], vec!["-o", "remount,bind,ro", d]] {
        assert!(Command::new("mount")
            .args(&args)
            .status()
            .unwrap()
            .success());
    }
    let out = shmkit(&["snapshot", "restore", file.to_str().unwrap()]);
    let _ = Command::new("umount").arg(d).status();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(segment_content(segment_id(9601).unwrap()), pattern(8192, 1));
    // The journal went to /dev/shm and is gone; only the lock file stays there.
    let left: Vec<String> = std::fs::read_dir("/dev/shm")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].ends_with(".shmkit-lock"), "{left:?}");
}

#[test]
fn temporary_objects_of_a_killed_restore_are_removed_by_any_later_restore() {
    if !common::as_root("temporary_objects_of_a_killed_restore_are_removed_by_any_later_restore") {
        return;
    }
    private_ipc_namespace();
    private_dev_shm(256 << 20);
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (PosixName::new("stale-a"), PosixName::new("stale-b"));
    let file = big_snapshot(dir.path(), &[&pa, &pb]);
    let temps = || -> Vec<String> {
        std::fs::read_dir("/dev/shm")
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".shmkit-restore.") && !n.ends_with(".lock"))
            .collect()
    };
    // Kill a restore once it has made a temporary object.
    let mut left = Vec::new();
    for _ in 0..20 {
        let mut child = Command::new(SHMKIT)
            .args(["snapshot", "restore", file.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while temps().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        left = temps();
        if !left.is_empty() {
            break;
        }
        remove_big(&[&pa, &pb]);
    }
    assert!(
        !left.is_empty(),
        "never caught a restore with a temporary object"
    );
    // A restore of another snapshot removes them.
    let other = dir.path().join("other.snap");
    let c = PosixName::new("stale-c");
    c.create(b"other", 0o600, 0, 0);
    let sel = format!("posix:{}", c.0);
    assert!(shmkit(&["snapshot", "save", other.to_str().unwrap(), &sel])
        .status
        .success());
    posix::shm_unlink(&c.0).unwrap();
    let out = shmkit(&["snapshot", "restore", other.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("temporary object(s) of other restores that did not finish"),
        "{err}"
    );
    let all: Vec<String> = std::fs::read_dir("/dev/shm")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".shmkit-restore."))
        .collect();
    assert!(all.is_empty(), "{all:?}");
    assert_eq!(c.content(), b"other");
}
