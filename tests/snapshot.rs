//! `shmkit snapshot`: round trips, conflicts, all-or-nothing restores, corruption and crash
//! safety, on real kernel objects.
//!
//! Isolation: each test first moves its own thread into a new IPC namespace
//! (`unshare(CLONE_NEWIPC)` is per thread, and libtest runs each test on its own thread), and
//! the shmkit processes it starts inherit that namespace. System V keys therefore never
//! collide. POSIX objects live in the shared /dev/shm, so their names carry the pid, a counter
//! and the test name, and a guard unlinks them.

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
}

impl Drop for PosixName {
    fn drop(&mut self) {
        let _ = posix::shm_unlink(&self.0);
    }
}

#[test]
fn sysv_round_trip_keeps_key_mode_owner_size_and_content_and_stores_zero_pages_sparse() {
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
    let stored = report["stored_bytes"].as_u64().unwrap();
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
fn restore_that_fails_half_way_removes_what_it_made() {
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
    // In this private namespace only: segments above 64 KiB are refused, so the second one
    // fails after the first was made.
    std::fs::write("/proc/sys/kernel/shmmax", "65536").unwrap();

    let out = shmkit(&["snapshot", "restore", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("kernel.shmmax"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        segment_count(),
        0,
        "the first segment must be removed again"
    );
    assert!(!posix_a.exists());
}

/// A snapshot of two segments and a POSIX object, with the objects removed again.
fn small_snapshot(dir: &Path, posix_name: &PosixName) -> Vec<u8> {
    let file = dir.join("small.snap");
    make_segment(3001, &pattern(20000, 1), 0o644, 7, 8);
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
            "create temporary file failed",
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
    assert_eq!(report["stored_bytes"], 4096);
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
