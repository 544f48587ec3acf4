//! Live tests of the scan: real objects of every kind, made here, found by `Scan::collect` on
//! the running kernel with the kind, size, resident bytes, holders and status the kernel
//! reports. We are root. Every object is removed by a guard's `Drop`, also when an assertion
//! fails, and every key and name is derived from our pid and a counter, so these tests run in
//! parallel with each other and with other test binaries.

mod common;

use common::kernel::{posix_object, sysv_with_unique_key, SysvGuard};

use shmkit::scan::{HoldVia, Kind, LeakReason, Object, ProcRoot, Remedy, Scan, ScanOptions, Usage};
use shmkit::sys::{self, sysv::GetFlags};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PAGE: u64 = 4096;
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Taken by the tests that make a mount namespace and by the test that hides a tmpfs under
/// another mount: a namespace made in between copies the lower mount without the upper one,
/// and through it the hidden file is reachable by its path again.
static MOUNT_NAMESPACES: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn mount_namespaces() -> std::sync::MutexGuard<'static, ()> {
    MOUNT_NAMESPACES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A name no other test (here or in another process) uses: our pid and a counter.
fn unique(tag: &str) -> String {
    format!(
        "shmkit-live-{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A small tmpfs of our own, unmounted (lazily, in case a holder is still alive) on drop.
struct TmpfsGuard {
    path: PathBuf,
    /// The directory we made for it (none when mounted over someone else's).
    _dir: Option<tempfile::TempDir>,
}

impl TmpfsGuard {
    fn mount() -> TmpfsGuard {
        let dir = tempfile::Builder::new()
            .prefix("shmkit-live-tmpfs-")
            .tempdir()
            .expect("tempdir");
        let mut guard = TmpfsGuard::mount_over(dir.path());
        guard._dir = Some(dir);
        guard
    }

    /// Mounts a tmpfs on `path`, hiding whatever was mounted there.
    fn mount_over(path: &Path) -> TmpfsGuard {
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16m", "shmkit-test"])
            .arg(path)
            .status()
            .expect("run mount");
        assert!(st.success(), "mount -t tmpfs failed");
        TmpfsGuard {
            path: path.to_path_buf(),
            _dir: None,
        }
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TmpfsGuard {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// A `shmkit hold` child: maps what it is told, prints `ready PID`, and exits when its stdin
/// closes. Drop closes stdin and reaps it (killing it if it does not go).
struct HoldChild {
    child: Child,
    pid: u32,
}

impl HoldChild {
    /// Starts `shmkit hold ARGS`.
    fn start(args: &[String]) -> HoldChild {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_shmkit"));
        cmd.arg("hold").args(args);
        HoldChild::spawn(cmd)
    }

    /// Starts a command that ends by exec'ing `shmkit hold` (so the pid stays the same).
    fn spawn(mut cmd: Command) -> HoldChild {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn shmkit hold");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        let read = BufReader::new(stdout).read_line(&mut line);
        let mut guard = HoldChild { child, pid: 0 };
        read.expect("read ready line");
        let pid = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{cmd:?} did not get ready: {line:?}"));
        assert_eq!(pid, guard.child.id());
        guard.pid = pid;
        guard
    }
}

impl Drop for HoldChild {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

fn scan_live() -> Scan {
    Scan::collect(&ProcRoot::live(), &ScanOptions::default()).expect("scan")
}

/// Our IPC namespace's segment `shmid` (other namespaces, listed too, reuse ids).
fn sysv_by_id(scan: &Scan, shmid: i32) -> &Object {
    scan.objects
        .iter()
        .find(|o| !o.location.foreign && o.sysv.as_ref().is_some_and(|s| s.shmid == shmid))
        .unwrap_or_else(|| panic!("segment id={shmid} not found"))
}

fn by_name<'a>(scan: &'a Scan, kind: Kind, name: &str) -> &'a Object {
    scan.objects
        .iter()
        .find(|o| o.kind == kind && o.name == name)
        .unwrap_or_else(|| {
            let seen: Vec<_> = scan
                .objects
                .iter()
                .map(|o| format!("{} {}", o.kind, o.name))
                .collect();
            panic!("{kind} {name} not found among {seen:?}")
        })
}

fn held_by(scan: &Scan, kind: Kind, pid: u32) -> Vec<&Object> {
    scan.objects
        .iter()
        .filter(|o| o.kind == kind && o.holders.iter().any(|h| h.pid == pid))
        .collect()
}

fn within_a_page(what: &str, got: u64, want: u64) {
    assert!(
        got.abs_diff(want) < PAGE,
        "{what}: {got} is not within a page of {want}"
    );
}

/// Asserts the object is held by exactly `pid` (the `shmkit hold` child), as given.
fn assert_held_only_by(o: &Object, pid: u32, via: HoldVia, mapped: u64) {
    let pids: Vec<u32> = o.holders.iter().map(|h| h.pid).collect();
    assert_eq!(pids, vec![pid], "holders of {} {}", o.kind, o.name);
    let h = &o.holders[0];
    assert_eq!(h.comm, "shmkit", "{}", o.name);
    assert_eq!(h.uid, sys::getuid(), "{}", o.name);
    assert_eq!(h.via, via, "{}", o.name);
    within_a_page(&format!("{} mapped", o.name), h.mapped, mapped);
}

#[test]
fn every_kind_is_found_with_size_resident_and_holder() {
    if !common::needs_host_root(
        "every_kind_is_found_with_size_resident_and_holder",
        common::MAP_FILES,
    ) {
        return;
    }
    let sysv_size = 2 * 1024 * 1024 + 5;
    let (key, seg) = sysv_with_unique_key(0x5300_0000, sysv_size);
    let posix_size = 1024 * 1024 + 123;
    let posix = posix_object("live-posix", posix_size);
    let tmpfs = TmpfsGuard::mount();
    let file = tmpfs.path().join("data file");
    let file_size = 3 * 1024 * 1024 + 7;
    std::fs::write(&file, vec![1u8; file_size as usize]).expect("write tmpfs file");
    let memfd_name = unique("memfd");
    let child = HoldChild::start(&[
        "--sysv-id".into(),
        seg.shmid.to_string(),
        "--posix".into(),
        posix.name.clone(),
        "--file".into(),
        file.display().to_string(),
        "--anon".into(),
        "3M".into(),
        "--memfd".into(),
        format!("{memfd_name}=2M"),
        "--fill".into(),
        "90".into(),
    ]);

    let scan = scan_live();

    let o = sysv_by_id(&scan, seg.shmid);
    assert_eq!(o.kind, Kind::Sysv);
    assert_eq!(o.name, format!("0x{:08x}", key as u32));
    assert_eq!(o.address.to_string(), format!("sysv:id={}", seg.shmid));
    assert_eq!(o.size, sysv_size);
    within_a_page("sysv resident", o.resident.expect("sysv rss"), sysv_size);
    assert_eq!((o.mode, o.uid), (0o600, sys::getuid()));
    assert_held_only_by(o, child.pid, HoldVia::Map, sysv_size);
    // Attached from the kernel's shmem mount, not its hugetlbfs: ordinary Shmem.
    assert!(!o.status.hugetlb, "{o:?}");
    let details = o.sysv.as_ref().expect("sysv details");
    assert_eq!((details.key, details.nattch), (key, 1));
    assert_eq!(details.creator.pid, std::process::id());
    assert!(
        details.creator.comm.is_some(),
        "we created it and are alive"
    );
    assert!(!o.status.orphan && o.orphan_reason.is_none());
    assert_eq!(o.remedy, Some(Remedy::RemoveSegment { shmid: seg.shmid }));

    let o = by_name(&scan, Kind::Posix, &posix.name);
    assert_eq!(o.address.to_string(), format!("posix:{}", posix.name));
    assert_eq!(o.size, posix_size);
    within_a_page(
        "posix resident",
        o.resident.expect("posix resident"),
        posix_size,
    );
    assert_eq!(o.mode, 0o600);
    assert_eq!(o.mount.as_deref(), Some("/dev/shm"));
    assert_held_only_by(o, child.pid, HoldVia::MapAndFd, posix_size);
    assert!(!o.status.orphan);

    let o = by_name(&scan, Kind::Tmpfs, &file.display().to_string());
    assert_eq!(o.size, file_size);
    within_a_page(
        "tmpfs resident",
        o.resident.expect("tmpfs resident"),
        file_size,
    );
    assert_eq!(
        o.mount.as_deref(),
        Some(&*tmpfs.path().display().to_string())
    );
    assert_held_only_by(o, child.pid, HoldVia::MapAndFd, file_size);
    let mount = scan
        .mounts
        .iter()
        .find(|m| Path::new(&m.mount_point) == tmpfs.path())
        .expect("our tmpfs mount");
    assert_eq!((mount.fs_type.as_str(), mount.files), ("tmpfs", 1));
    assert_eq!(mount.size_limit, Some(16 * 1024 * 1024));
    within_a_page("tmpfs used", mount.used, file_size);

    let anon = held_by(&scan, Kind::SharedAnon, child.pid);
    assert_eq!(anon.len(), 1, "{anon:?}");
    let o = anon[0];
    assert_eq!(o.size, 3 * 1024 * 1024);
    assert_eq!(o.resident, Some(3 * 1024 * 1024));
    assert_held_only_by(o, child.pid, HoldVia::Map, 3 * 1024 * 1024);
    assert!(!o.status.orphan);
    assert_reached_through(o, child.pid);
    let anon_id = (o.dev, o.inode);

    let o = by_name(&scan, Kind::Memfd, &format!("memfd:{memfd_name}"));
    assert_eq!(o.size, 2 * 1024 * 1024);
    assert_eq!(o.resident, Some(2 * 1024 * 1024));
    assert_held_only_by(o, child.pid, HoldVia::MapAndFd, 2 * 1024 * 1024);
    assert!(!o.status.orphan);
    drop(child);

    // Once the holder is gone the memfd and the anonymous memory are freed, and the
    // segment, the POSIX object and the file stay, unheld.
    let after = scan_live();
    assert!(!after
        .objects
        .iter()
        .any(|o| o.kind == Kind::SharedAnon && (o.dev, o.inode) == anon_id));
    assert!(!after
        .objects
        .iter()
        .any(|o| o.kind == Kind::Memfd && o.name == format!("memfd:{memfd_name}")));
    assert!(sysv_by_id(&after, seg.shmid).holders.is_empty());
    let o = by_name(&after, Kind::Posix, &posix.name);
    assert!(o.holders.is_empty());
    // An unheld /dev/shm object waits for its next user: idle, never a leak.
    assert!(o.status.usage.is_idle() && !o.status.orphan, "{o:?}");
    if after.coverage.processes_unreadable > 0 {
        // A process even root cannot read (a sandbox's pid 1) might hold it: uncertain.
        assert!(o.status.uncertain.is_some(), "{o:?}");
    }
    assert_eq!(
        o.remedy,
        Some(Remedy::UnlinkFile {
            path: format!("/dev/shm/{}", &posix.name[1..]).into()
        })
    );
}

/// Runs `shmkit create sysv:private`, which creates an IPC_PRIVATE segment and exits: its
/// creator is gone, and only the id it printed reaches the segment.
fn private_segment_of_an_exited_creator(size: u64) -> SysvGuard {
    let out = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(["create", "sysv:private", "--size", &size.to_string()])
        .output()
        .expect("run shmkit create");
    assert!(out.status.success(), "shmkit create: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let shmid = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("shmkit create printed {text:?}"));
    SysvGuard { shmid }
}

/// Runs `ipcmk -M SIZE -p 0600`, which creates a segment under a random key and exits: its
/// creator is gone.
fn ipcmk(size: u64) -> SysvGuard {
    let out = Command::new("ipcmk")
        .args(["-M", &size.to_string(), "-p", "0600"])
        .output()
        .expect("run ipcmk (util-linux)");
    assert!(out.status.success(), "ipcmk: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let shmid = text
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("ipcmk printed {text:?}"));
    SysvGuard { shmid }
}

#[test]
fn an_unattached_private_segment_whose_creator_exited_is_an_orphan() {
    let leaked = private_segment_of_an_exited_creator(64 * 1024);
    let keyed = ipcmk(64 * 1024);
    let attached = ipcmk(64 * 1024);
    let (_, ours) = sysv_with_unique_key(0x5300_0000, 64 * 1024);
    let child = HoldChild::start(&["--sysv-id".into(), attached.shmid.to_string()]);

    let scan = scan_live();

    let o = sysv_by_id(&scan, leaked.shmid);
    let d = o.sysv.as_ref().expect("details");
    assert_eq!(d.nattch, 0);
    assert!(d.creator.comm.is_none(), "shmkit create exited: {d:?}");
    assert!(!Path::new(&format!("/proc/{}", d.creator.pid)).exists());
    assert!(o.status.orphan, "{o:?}");
    assert_eq!(
        o.status.usage,
        Usage::Leaked {
            reason: LeakReason::PrivateSegmentCreatorExited {
                creator: d.creator.pid
            }
        }
    );
    assert_eq!(
        o.remedy,
        Some(Remedy::RemoveSegment {
            shmid: leaked.shmid
        })
    );

    // A keyed segment whose creator exited: anyone with the key may attach it again (the
    // seed's article 2 reader comes after its writer). Idle since its creation, not a leak.
    let o = sysv_by_id(&scan, keyed.shmid);
    assert!(!o.status.orphan, "{o:?}");
    let ctime = o.sysv.as_ref().expect("details").ctime;
    assert_eq!(o.status.usage, Usage::Idle { since: Some(ctime) });

    // Same creator story, but a process has it attached: in use, not a leak.
    let o = sysv_by_id(&scan, attached.shmid);
    assert_eq!(o.sysv.as_ref().map(|d| d.nattch), Some(1));
    assert!(!o.status.orphan && o.orphan_reason.is_none(), "{o:?}");
    assert_eq!(
        o.holders.iter().map(|h| h.pid).collect::<Vec<_>>(),
        vec![child.pid]
    );

    // Unattached, but its creator (this test) is alive and may attach it again.
    let o = sysv_by_id(&scan, ours.shmid);
    assert!(!o.status.orphan, "{o:?}");
}

#[test]
fn a_deleted_tmpfs_file_still_mapped_is_flagged_with_its_holder_and_in_use() {
    if !common::as_root("a_deleted_tmpfs_file_still_mapped_is_flagged_with_its_holder_and_in_use") {
        return;
    }
    let tmpfs = TmpfsGuard::mount();
    let file = tmpfs.path().join(unique("gone"));
    std::fs::write(&file, vec![7u8; 256 * 1024]).expect("write");
    let child = HoldChild::start(&["--file".into(), file.display().to_string()]);
    std::fs::remove_file(&file).expect("unlink");

    let scan = scan_live();

    let name = format!("{} (deleted)", file.display());
    let o = by_name(&scan, Kind::Tmpfs, &name);
    // It frees itself when its holder lets go: in use, not a leak.
    assert!(o.status.deleted && !o.status.orphan, "{o:?}");
    assert_eq!(o.status.usage, Usage::InUse);
    assert_eq!(o.size, 256 * 1024);
    assert_eq!(o.resident, Some(256 * 1024));
    assert_held_only_by(o, child.pid, HoldVia::MapAndFd, 256 * 1024);
    assert_eq!(
        o.remedy,
        Some(Remedy::EndHolders {
            pids: vec![child.pid]
        })
    );
    let mount = scan
        .mounts
        .iter()
        .find(|m| Path::new(&m.mount_point) == tmpfs.path())
        .expect("our tmpfs mount");
    assert_eq!(mount.files, 0, "the walk cannot see an unlinked file");
    within_a_page("used by the unlinked file", mount.used, 256 * 1024);
}

#[test]
fn objects_and_processes_vanishing_mid_scan_never_fail_it() {
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut rounds = 0u32;
            let tmp = tempfile::tempdir().expect("tempdir");
            while !stop.load(Ordering::Relaxed) {
                let flags = GetFlags {
                    create: true,
                    ..GetFlags::default()
                };
                let id = sys::sysv::shmget(sys::sysv::IPC_PRIVATE, 64 * 1024, flags, 0o600)
                    .expect("shmget");
                let guard = SysvGuard { shmid: id };
                let posix = posix_object("live-posix", 8192);
                let path: PathBuf = tmp.path().join("f");
                std::fs::write(&path, b"x").expect("write");
                let mut child = Command::new(env!("CARGO_BIN_EXE_shmkit"))
                    .args(["hold", "--exit", "--anon", "64K", "--sysv-id"])
                    .arg(id.to_string())
                    .arg("--posix")
                    .arg(&posix.name)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("spawn");
                drop(guard);
                drop(posix);
                let _ = child.wait();
                rounds += 1;
            }
            rounds
        })
    };
    let mut scans = 0;
    let started = Instant::now();
    while scans < 40 || started.elapsed() < Duration::from_secs(2) {
        let result = Scan::collect(&ProcRoot::live(), &ScanOptions::default());
        assert!(result.is_ok(), "scan {scans} failed: {:?}", result.err());
        scans += 1;
        if scans >= 400 {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = churn.join().expect("churn thread");
    assert!(rounds > 0, "the churn thread made no objects");
    std::io::stderr()
        .write_all(format!("{scans} scans during {rounds} rounds of churn\n").as_bytes())
        .ok();
}

/// Kernel quirk: shmids are per IPC namespace, and maps show only the shmid (in the inode
/// column) and the key: a process in a container that attaches its own segment 7 must not be
/// counted as a holder of the host's segment 7, but of its namespace's segment 7, which the
/// scan lists too. `shm_next_id` in the container's fresh namespace gives its segment the
/// same id as ours.
#[test]
fn a_holder_in_another_ipc_namespace_does_not_hold_our_segment_of_the_same_id() {
    if !common::needs_host_root(
        "a_holder_in_another_ipc_namespace_does_not_hold_our_segment_of_the_same_id",
        common::OTHER_NAMESPACES,
    ) {
        return;
    }
    let (_, ours) = sysv_with_unique_key(0x5300_0000, 64 * 1024);
    let script = format!(
        "echo {id} > /proc/sys/kernel/shm_next_id && ipcmk -M 65536 >/dev/null && exec \"$0\" hold --sysv-id {id}",
        id = ours.shmid
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--ipc", "sh", "-c", &script, env!("CARGO_BIN_EXE_shmkit")]);
    let child = HoldChild::spawn(cmd);

    let scan = scan_live();

    let o = sysv_by_id(&scan, ours.shmid);
    assert_eq!(o.sysv.as_ref().map(|d| d.nattch), Some(0));
    assert!(
        o.holders.is_empty(),
        "pid {} attaches a segment of another namespace: {:?}",
        child.pid,
        o.holders
    );
    let theirs_ns = std::fs::read_link(format!("/proc/{}/ns/ipc", child.pid))
        .ok()
        .and_then(|l| shmkit_procfs::ns::parse(&l.to_string_lossy()).ok())
        .map(|n| n.inode);
    let theirs = scan
        .objects
        .iter()
        .find(|o| {
            o.kind == Kind::Sysv
                && o.location.namespaces.ipc == theirs_ns
                && o.sysv.as_ref().map(|d| d.shmid) == Some(ours.shmid)
        })
        .unwrap_or_else(|| panic!("the other namespace's segment {} is not listed", ours.shmid));
    assert!(theirs.location.foreign);
    assert_eq!(
        theirs.holders.iter().map(|h| h.pid).collect::<Vec<_>>(),
        vec![child.pid]
    );
}

/// A tmpfs mounted over another hides the lower one's files from a walk, but a process can
/// still map them: they stay shmem (kind tmpfs), not ordinary page cache.
#[test]
fn a_file_of_a_tmpfs_hidden_under_another_mount_is_still_tmpfs() {
    if !common::as_root("a_file_of_a_tmpfs_hidden_under_another_mount_is_still_tmpfs") {
        return;
    }
    let _mounts = mount_namespaces();
    let lower = TmpfsGuard::mount();
    let file = lower.path().join("under");
    std::fs::write(&file, vec![3u8; 512 * 1024]).expect("write");
    let child = HoldChild::start(&["--file".into(), file.display().to_string()]);
    let _upper = TmpfsGuard::mount_over(lower.path());

    let scan = scan_live();

    let held: Vec<&Object> = scan
        .objects
        .iter()
        .filter(|o| o.holders.iter().any(|h| h.pid == child.pid))
        .collect();
    assert_eq!(held.len(), 1, "{held:?}");
    let o = held[0];
    assert_eq!(
        (o.kind, o.name.as_str()),
        (Kind::Tmpfs, &*file.display().to_string())
    );
    assert_eq!(o.resident, Some(512 * 1024));
    // Its path now names the upper mount's file: only its holder reaches it.
    assert_reached_through(o, child.pid);
    assert!(
        scan.coverage.notes.iter().any(|n| n.contains("hidden")),
        "{:?}",
        scan.coverage.notes
    );
}

/// A container's tmpfs lives in another mount namespace: the scan lists it through
/// `/proc/PID/root` of a process there, and a file of it that the process maps is shmem
/// (kind tmpfs), with its holder, located in that namespace.
#[test]
fn a_file_of_a_tmpfs_in_another_mount_namespace_is_still_tmpfs() {
    if !common::needs_host_root(
        "a_file_of_a_tmpfs_in_another_mount_namespace_is_still_tmpfs",
        common::OTHER_NAMESPACES,
    ) {
        return;
    }
    let _mounts = mount_namespaces();
    let dir = tempfile::Builder::new()
        .prefix("shmkit-live-mntns-")
        .tempdir()
        .expect("tempdir");
    let script = format!(
        "mount -t tmpfs -o size=4m shmkit-ns {d} && head -c 786432 /dev/zero > {d}/f && exec \"$0\" hold --file {d}/f",
        d = dir.path().display()
    );
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
        env!("CARGO_BIN_EXE_shmkit"),
    ]);
    let child = HoldChild::spawn(cmd);

    let scan = scan_live();

    let held: Vec<&Object> = scan
        .objects
        .iter()
        .filter(|o| o.holders.iter().any(|h| h.pid == child.pid))
        .collect();
    assert_eq!(held.len(), 1, "{held:?}");
    let o = held[0];
    assert_eq!(o.kind, Kind::Tmpfs, "{o:?}");
    assert_eq!(
        o.address.to_string(),
        format!("file:{}/f", dir.path().display())
    );
    assert!(o.location.foreign, "{o:?}");
    let theirs_mnt = std::fs::read_link(format!("/proc/{}/ns/mnt", child.pid))
        .ok()
        .and_then(|l| shmkit_procfs::ns::parse(&l.to_string_lossy()).ok())
        .map(|n| n.inode);
    assert_eq!(o.location.namespaces.mnt, theirs_mnt);
    assert_eq!(o.resident, Some(786_432));
    assert_eq!(o.size, 786_432);
}

/// Without root, other users' processes cannot be read: the scan says so, and an object that
/// only they hold is shown unheld, its orphan reason saying that unread processes may hold it
/// (so that `rm --orphans` keeps it).
#[test]
fn without_root_what_unreadable_processes_may_hold_says_so() {
    if !common::needs_host_root(
        "without_root_what_unreadable_processes_may_hold_says_so",
        common::OTHER_UIDS,
    ) {
        return;
    }
    let posix = posix_object("live-posix", 64 * 1024);
    let (_, seg) = sysv_with_unique_key(0x5300_0000, 64 * 1024);
    let child = HoldChild::start(&[
        "--posix".into(),
        posix.name.clone(),
        "--sysv-id".into(),
        seg.shmid.to_string(),
    ]);
    // A copy of the binary that the unprivileged user can reach wherever the repo lives.
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = dir.path().join("shmkit");
    std::fs::copy(env!("CARGO_BIN_EXE_shmkit"), &exe).expect("copy binary");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // A child that another test thread forks while the copy is open for writing inherits that
    // descriptor until it execs: the kernel then refuses to execute the copy (ETXTBSY) for a
    // moment.
    let mut attempts = 0;
    let out = loop {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe)
            .args(["ls", "--json"])
            .output()
            .expect("run setpriv (util-linux)");
        attempts += 1;
        if attempts < 50 && String::from_utf8_lossy(&out.stderr).contains("Text file busy") {
            std::thread::sleep(std::time::Duration::from_millis(20));
            continue;
        }
        break out;
    };
    assert!(out.status.success(), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(
        doc["coverage"]["processes_unreadable"].as_u64() > Some(0),
        "{}",
        doc["coverage"]
    );
    let notes = doc["coverage"]["notes"].to_string();
    assert!(notes.contains("could not be read"), "{notes}");
    let objects = doc["objects"].as_array().expect("objects");
    let o = objects
        .iter()
        .find(|o| o["name"] == posix.name.as_str())
        .expect("the POSIX object is listed: /dev/shm is world-readable");
    assert_eq!(
        o["holders"],
        serde_json::json!([]),
        "root's child is unreadable"
    );
    // Idle as far as this user can see, but uncertain: not seeing a holder is not knowing
    // there is none.
    assert_eq!(o["status"]["usage"]["state"], "idle", "{o}");
    assert_eq!(
        o["status"]["uncertain"]["why"], "unreadable-processes",
        "{o}"
    );
    assert!(o["status"]["uncertain"]["count"].as_u64() > Some(0), "{o}");
    // The kernel's own count still tells the segment is in use.
    let s = objects
        .iter()
        .find(|o| o["sysv"]["shmid"] == seg.shmid)
        .expect("segment listed");
    assert_eq!(s["sysv"]["nattch"], 1);
    assert_eq!(s["status"]["orphan"], false);
    drop(child);
}

/// A C program that maps a file and a memfd MAP_PRIVATE, closes both descriptors, prints
/// `ready PID` and waits for end of input: after the close only the private mappings hold them.
const PRIVATE_MAPPER: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) { perror("open"); return 1; }
    void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    close(fd);
    int m = memfd_create(argv[2], 0);
    if (m < 0 || ftruncate(m, 8192) < 0) { perror("memfd"); return 1; }
    char *q = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, m, 0);
    if (q == MAP_FAILED) { perror("mmap memfd"); return 1; }
    close(m);
    printf("ready %d\n", getpid());
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {}
    return 0;
}
"#;

/// A reader that maps a POSIX object (and a memfd) MAP_PRIVATE and closes the descriptor
/// still keeps it: it is a holder, and the object is not a leak.
#[test]
fn a_private_mapping_after_close_is_a_holder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("private_mapper.c");
    std::fs::write(&src, PRIVATE_MAPPER).expect("write C");
    let exe = dir.path().join("private_mapper");
    let cc = Command::new("cc")
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("run cc (gcc)");
    assert!(cc.success(), "cc failed");
    let posix = posix_object("live-posix", 4096);
    let memfd_name = unique("private-memfd");
    let mut cmd = Command::new(&exe);
    cmd.arg(format!("/dev/shm{}", posix.name)).arg(&memfd_name);
    let child = HoldChild::spawn(cmd);

    let scan = scan_live();

    let o = by_name(&scan, Kind::Posix, &posix.name);
    assert_eq!(
        o.holders.iter().map(|h| (h.pid, h.via)).collect::<Vec<_>>(),
        vec![(child.pid, HoldVia::Map)]
    );
    assert!(!o.status.orphan);
    let m = by_name(&scan, Kind::Memfd, &format!("memfd:{memfd_name}"));
    assert_eq!(
        m.holders.iter().map(|h| h.pid).collect::<Vec<_>>(),
        vec![child.pid]
    );
}

/// `o` is addressed through `pid`'s descriptor or mapping, and that address opens the very
/// object the scan found (same device and inode), with the kind the scan gave it.
fn assert_reached_through(o: &Object, pid: u32) {
    let shmkit::address::Address::Held(held) = &o.address else {
        panic!("{o:?} is not addressed through a holder");
    };
    assert_eq!((held.kind, held.pid), (o.kind, pid), "{o:?}");
    let text = o.address.to_string();
    assert_eq!(text.parse::<shmkit::address::Address>().unwrap(), o.address);
    let seg = shmkit::segment::open(&o.address, &shmkit::segment::OpenOptions::metadata())
        .unwrap_or_else(|e| panic!("{text}: {e}"));
    let stat = seg.stat().unwrap();
    let file = stat.file.expect("fstat fields");
    assert_eq!(
        (Some(file.dev), Some(file.inode)),
        (o.dev, o.inode),
        "{text}"
    );
    assert_eq!(stat.kind, o.kind);
}
