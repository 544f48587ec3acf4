//! The whole scan, end to end, on fixture trees (`tests/fixtures/scan-*`): `Scan::collect`
//! reads their `proc/`, `etc/passwd` and tmpfs mount directories through `ProcRoot::new`, and
//! each test checks one kernel quirk the tree holds. The trees' mount directories sit on the
//! repository's disk, so `statvfs` figures of their mounts are that disk's: nothing here
//! asserts them.
//!
//! `scan-host`: System V segments (attached, leaked by uid 100000, a creator pid reused, marked
//! for destruction, locked); a `/dev/shm` with a mapped, an idle and a privately mapped object,
//! stacked on a hidden older `/dev/shm`; a tmpfs at `/mnt/my\040ram` and a ramfs; process 300
//! named `a) b\n(c)` mapping most of them, 302 sharing its anonymous memory, 303 in another IPC
//! namespace, 304 gone (empty directory), 305 a kernel thread, 306 the creator of segment
//! 0x5eed seeming to start 30 s after it (a clock step).
//! `scan-truncated`: files cut mid-line (sysvipc/shm, mountinfo, a maps, a stat), an empty stat.
//! `scan-no-dev-shm`: a mount table without /dev/shm.

mod common;

use common::{fixture_copy, FIXTURE_MTIME};
use shmkit::scan::{HoldVia, Kind, LeakReason, Object, ProcRoot, Remedy, Scan, ScanOptions, Usage};

fn scan(name: &str) -> (tempfile::TempDir, Scan) {
    let tree = fixture_copy(name);
    let scan = Scan::collect(&ProcRoot::new(tree.path()), &ScanOptions::default())
        .expect("scan of a fixture tree");
    (tree, scan)
}

fn find<'a>(scan: &'a Scan, kind: Kind, name: &str) -> &'a Object {
    scan.objects
        .iter()
        .find(|o| o.kind == kind && o.name == name)
        .unwrap_or_else(|| panic!("no {kind} {name:?} in {:#?}", summary(scan)))
}

fn sysv(scan: &Scan, shmid: i32) -> &Object {
    scan.objects
        .iter()
        .find(|o| o.sysv.as_ref().is_some_and(|s| s.shmid == shmid))
        .unwrap_or_else(|| panic!("no segment {shmid}"))
}

/// The typed remedy in the words of the command it stands for, as `ls` words it.
fn remedy(r: Option<&Remedy>) -> String {
    match r {
        None => "-".to_string(),
        Some(Remedy::RemoveSegment { shmid }) => format!("ipcrm -m {shmid}"),
        Some(Remedy::UnlinkFile { path }) => {
            use std::os::unix::ffi::OsStrExt;
            let path = shmkit::render::shell::quote_bytes(path.as_os_str().as_bytes());
            format!("rm {path}")
        }
        Some(Remedy::EndHolders { pids }) => format!("kill {pids:?}"),
        Some(other) => format!("{other:?}"),
    }
}

/// One line per object: what the fixture controls (not the disk's block counts).
fn summary(scan: &Scan) -> Vec<String> {
    scan.objects
        .iter()
        .map(|o| {
            let holders: Vec<String> = o
                .holders
                .iter()
                .map(|h| format!("{}:{:?}:{}", h.pid, h.via, h.mapped))
                .collect();
            let s = o.status;
            let flags: String = [
                (s.orphan, 'O'),
                (s.usage.is_idle(), 'I'),
                (s.marked_for_destruction, 'D'),
                (s.locked, 'L'),
                (s.deleted, 'X'),
            ]
            .iter()
            .map(|&(on, c)| if on { c } else { '-' })
            .collect();
            format!(
                "{} {:?} {} [{}] {} {} {}",
                o.kind,
                o.name,
                o.size,
                holders.join(" "),
                flags,
                o.address,
                remedy(o.remedy.as_ref()),
            )
        })
        .collect()
}

#[test]
fn scan_host_finds_every_object_once_with_its_holders_and_status() {
    let (_tree, scan) = scan("scan-host");
    let want = [
        r#"sysv "0x00000000" 2097152 [] O---- sysv:id=7 ipcrm -m 7"#,
        r#"sysv "0x0000162e" 1048576 [300:Map:1048576] ----- sysv:id=5 ipcrm -m 5"#,
        r#"sysv "0xdeadbeef" 8192 [300:Map:8192] --D-- sysv:id=11 -"#,
        r#"sysv "0x0000abcd" 4096 [] -I-L- sysv:id=12 ipcrm -m 12"#,
        r#"sysv "0x00001234" 4096 [] -I--- sysv:id=9 ipcrm -m 9"#,
        r#"sysv "0x00005eed" 65536 [] -I--- sysv:id=13 ipcrm -m 13"#,
        r#"posix "/orders" 8192 [300:MapAndFd:8192] ----- posix:/orders rm /dev/shm/orders"#,
        r#"posix "/dev/shm/old" 4096 [302:Map:4096] ----- posix:302@0x7f0000100000 -"#,
        r#"posix "/idle" 4096 [] -I--- posix:/idle rm /dev/shm/idle"#,
        r#"posix "/reader" 4096 [302:Map:4096] ----- posix:/reader rm /dev/shm/reader"#,
        r#"tmpfs "/mnt/my ram/big file" 12288 [300:Map:12288] ----- file:/mnt/my ram/big file rm '/mnt/my ram/big file'"#,
        r#"tmpfs "/mnt/my ram/small" 4096 [] -I--- file:/mnt/my ram/small rm '/mnt/my ram/small'"#,
        r#"tmpfs "/mnt/my ram/sub/nested" 4096 [] -I--- file:/mnt/my ram/sub/nested rm '/mnt/my ram/sub/nested'"#,
        r#"tmpfs "/mnt/rf/blob" 4096 [] -I--- file:/mnt/rf/blob rm /mnt/rf/blob"#,
        r#"tmpfs "/mnt/my ram/gone (deleted)" 4096 [300:Map:4096] ----X tmpfs:300@0x7f0000400000 kill [300]"#,
        r#"shared-anon "shared-anon:1234" 1048576 [300:Map:1048576 302:Map:1048576] ----- shared-anon:300@0x7f0000500000 -"#,
        r#"memfd "memfd:my buf (deleted)" 2097152 [300:Map:2097152] ----- memfd:300@0x7f0000600000 -"#,
    ];
    let mut got = summary(&scan);
    // Equal resident bytes order by name; the disk decides walked files' block counts.
    got.sort();
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(
        (scan.coverage.processes, scan.coverage.processes_vanished),
        (7, 1),
        "304 is an empty directory: gone, skipped and counted"
    );
}

/// Kernel quirk: `comm` may hold spaces, `)` and a newline (`PR_SET_NAME`); `stat` is split
/// at its last `)` and the name is kept whole.
#[test]
fn command_name_with_spaces_paren_and_newline_is_kept_whole() {
    let (_tree, scan) = scan("scan-host");
    let o = sysv(&scan, 5);
    assert_eq!(o.holders[0].comm, "a) b\n(c)");
    let creator = &o.sysv.as_ref().expect("details").creator;
    assert_eq!(
        (creator.pid, creator.comm.as_deref()),
        (300, Some("a) b\n(c)"))
    );
}

/// Kernel quirk: mountinfo escapes a space in a mount point as `\040`; the mount is walked
/// under its real name and its files' paths keep the space.
#[test]
fn mountinfo_octal_escape_names_the_mount_and_its_files() {
    let (_tree, scan) = scan("scan-host");
    let m = scan
        .mounts
        .iter()
        .find(|m| m.mount_point == "/mnt/my ram")
        .expect("mount with a space");
    assert_eq!(
        (m.fs_type.as_str(), m.dev, m.files),
        ("tmpfs", shmkit::DeviceId::new(0, 40), 3)
    );
    let o = find(&scan, Kind::Tmpfs, "/mnt/my ram/sub/nested");
    assert_eq!(o.mount.as_deref(), Some("/mnt/my ram"));
    assert_eq!(o.created, Some(FIXTURE_MTIME));
    let ramfs = scan
        .mounts
        .iter()
        .find(|m| m.mount_point == "/mnt/rf")
        .expect("ramfs");
    assert_eq!(ramfs.size_limit, None, "ramfs has no size limit");
    assert_eq!(ramfs.files, 1);
}

/// Kernel quirk: maps paths run to the end of the line with their spaces, and an unlinked
/// file ends in ` (deleted)` once; a memfd whose own name ends in ` (deleted)` keeps it.
#[test]
fn maps_paths_with_spaces_and_deleted_suffix() {
    let (_tree, scan) = scan("scan-host");
    let big = find(&scan, Kind::Tmpfs, "/mnt/my ram/big file");
    assert_eq!(big.holders[0].mapped, 12288);
    let gone = find(&scan, Kind::Tmpfs, "/mnt/my ram/gone (deleted)");
    // Unlinked but held: it frees itself when its holder lets go, so it is in use, not a
    // leak.
    assert!(gone.status.deleted && !gone.status.orphan);
    assert_eq!(gone.status.usage, Usage::InUse);
    assert_eq!(gone.mount.as_deref(), Some("/mnt/my ram"));
    assert_eq!(gone.holders[0].pid, 300);
    let memfd = find(&scan, Kind::Memfd, "memfd:my buf (deleted)");
    assert!(
        !memfd.status.deleted,
        "a memfd is always unlinked: not a leak"
    );
}

/// Kernel quirk: /proc/sysvipc/shm prints uid, gid, cuid and cgid as full 32-bit numbers.
#[test]
fn uid_above_65535_owns_the_leaked_segment() {
    let (_tree, scan) = scan("scan-host");
    let o = sysv(&scan, 7);
    assert_eq!(
        (o.uid, o.gid, o.user.as_deref()),
        (100_000, 100_000, Some("bigid"))
    );
    let d = o.sysv.as_ref().expect("details");
    assert_eq!((d.cuid, d.cgid, d.nattch), (100_000, 100_000, 0));
    // IPC_PRIVATE, nattch 0, creator gone: nobody knows its id any more.
    let leaked = Usage::Leaked {
        reason: LeakReason::PrivateSegmentCreatorExited { creator: 999 },
    };
    assert_eq!(o.status.usage, leaked);
    assert!(o.status.orphan && o.status.uncertain.is_none());
}

/// A creator pid that is alive but belongs to a process that started after the segment was
/// made is a reused pid: the real creator is gone.
#[test]
fn a_reused_creator_pid_does_not_keep_a_segment_alive() {
    let (_tree, scan) = scan("scan-host");
    let o = sysv(&scan, 9);
    assert_eq!(o.sysv.as_ref().map(|d| d.creator.comm.clone()), Some(None));
    // Its key (0x1234) lets anyone attach it again: idle since its creation (never
    // detached), not a leak, although its creator is gone.
    assert_eq!(
        o.status.usage,
        Usage::Idle {
            since: Some(1795629348)
        }
    );
    assert!(!o.status.orphan);
    // Same story, creator alive and older than the segment: not a leak.
    assert!(!sysv(&scan, 12).status.orphan);
}

/// Kernel quirk: shmids are per IPC namespace and maps show only key and shmid: 303, in
/// another namespace, maps "its" segment 5, which is not ours.
#[test]
fn a_process_in_another_ipc_namespace_is_not_a_holder_of_our_segment() {
    let (_tree, scan) = scan("scan-host");
    let pids: Vec<u32> = sysv(&scan, 5).holders.iter().map(|h| h.pid).collect();
    assert_eq!(pids, vec![300]);
    assert!(scan
        .coverage
        .notes
        .iter()
        .any(|n| n.starts_with("1 process attaches System V segments of other IPC namespaces")));
}

/// A private mapping of a POSIX object keeps it alive as surely as a shared one.
#[test]
fn a_private_mapping_of_a_posix_object_is_a_holder() {
    let (_tree, scan) = scan("scan-host");
    let o = find(&scan, Kind::Posix, "/reader");
    assert_eq!(o.holders.len(), 1);
    assert_eq!(
        (o.holders[0].pid, o.holders[0].comm.as_str()),
        (302, "reader")
    );
    assert_eq!(o.status.usage, Usage::InUse);
    // Nobody holds /idle: idle, never a leak (a POSIX object waits for its next reader).
    let idle = find(&scan, Kind::Posix, "/idle");
    assert!(
        idle.status.usage.is_idle() && !idle.status.orphan,
        "{idle:?}"
    );
}

/// Shared anonymous memory inherited over fork is one object (device + inode), however many
/// processes map it.
#[test]
fn shared_anonymous_memory_is_counted_once_for_all_its_holders() {
    let (_tree, scan) = scan("scan-host");
    let anon: Vec<&Object> = scan
        .objects
        .iter()
        .filter(|o| o.kind == Kind::SharedAnon)
        .collect();
    assert_eq!(anon.len(), 1);
    assert_eq!(anon[0].inode, Some(1234));
    assert_eq!(anon[0].holders.len(), 2);
}

/// A tmpfs stacked on /dev/shm hides the older one: its file that 302 still maps stays a
/// POSIX object, addressed through that holder (its path now names the upper mount's file); the scan
/// says what it could not walk.
#[test]
fn a_file_of_a_hidden_dev_shm_stays_posix_and_is_reached_through_its_holder() {
    let (_tree, scan) = scan("scan-host");
    let o = find(&scan, Kind::Posix, "/dev/shm/old");
    assert_eq!(o.dev, Some(shmkit::DeviceId::new(0, 23)));
    assert_eq!(o.address.to_string(), "posix:302@0x7f0000100000", "{o:?}");
    assert_eq!(o.mount.as_deref(), Some("/dev/shm"));
    assert!(scan
        .coverage
        .notes
        .iter()
        .any(|n| n.starts_with("tmpfs at /dev/shm (device 0:23) is hidden")));
}

/// A descriptor held open is a holder too: 300 both maps /orders and keeps it open.
#[test]
fn an_open_descriptor_and_a_mapping_make_one_holder() {
    let (_tree, scan) = scan("scan-host");
    let o = find(&scan, Kind::Posix, "/orders");
    assert_eq!(o.holders.len(), 1);
    assert_eq!(o.holders[0].via, HoldVia::MapAndFd);
    assert_eq!(
        scan.objects.iter().filter(|x| x.inode == o.inode).count(),
        1,
        "the descriptor's stat must give the same identity as the walk"
    );
}

/// Files cut mid-line, an empty stat: skipped and noted, never a failed scan.
#[test]
fn truncated_and_empty_files_are_skipped_and_noted() {
    let (_tree, scan) = scan("scan-truncated");
    let notes = scan.coverage.notes.join("\n");
    assert!(notes.contains("System V segments not read"), "{notes}");
    assert!(notes.contains("mounts not read"), "{notes}");
    assert!(scan.mounts.is_empty());
    // 11277's maps is cut mid-line and 501's stat is empty: both skipped as gone.
    assert_eq!(
        (scan.coverage.processes, scan.coverage.processes_vanished),
        (3, 2)
    );
    let kinds: Vec<(Kind, Option<u64>)> = scan.objects.iter().map(|o| (o.kind, o.inode)).collect();
    assert_eq!(kinds, vec![(Kind::SharedAnon, Some(4321))]);
    assert_eq!(scan.objects[0].holders[0].comm, "survivor");
}

/// /proc/meminfo is the one file a scan cannot do without: a missing or truncated one is an
/// error that names it, not a panic.
#[test]
fn a_missing_or_truncated_meminfo_is_an_error_naming_it() {
    let empty = tempfile::tempdir().expect("tempdir");
    let e = Scan::collect(&ProcRoot::new(empty.path()), &ScanOptions::default())
        .expect_err("no meminfo");
    assert!(e.to_string().contains("proc/meminfo"), "{e}");
    let cut = common::fixture("../../crates/shmkit-procfs/tests/fixtures/truncated-files");
    // Its last line, `Inac`, is cut before the colon.
    let e = Scan::collect(&ProcRoot::new(&cut), &ScanOptions::default())
        .expect_err("truncated meminfo");
    assert!(e.to_string().contains("proc/meminfo"), "{e}");
}

/// A tree with nothing but meminfo: no objects, no mounts, and no failure.
#[test]
fn a_tree_with_only_meminfo_scans_to_nothing() {
    let cut = common::fixture("../../crates/shmkit-procfs/tests/fixtures/kernel-without-sysvipc");
    let scan = Scan::collect(&ProcRoot::new(&cut), &ScanOptions::default()).expect("scan");
    assert!(scan.objects.is_empty() && scan.mounts.is_empty());
    assert_eq!(scan.swap_total, 0);
}

/// Kernel quirk: /proc/stat's btime moves when the wall clock is stepped (NTP at boot), so a
/// creator's start, computed from it, can look later than the segment it made. Process 306
/// seems to start 30 s after segment 13 (0x5eed): a clock step, not a reused pid; the
/// segment is not a leak.
#[test]
fn a_creator_that_seems_to_start_seconds_after_its_segment_is_still_its_creator() {
    let (_tree, scan) = scan("scan-host");
    let o = sysv(&scan, 13);
    let creator = &o.sysv.as_ref().expect("details").creator;
    assert_eq!(
        (creator.pid, creator.comm.as_deref()),
        (306, Some("clock stepped"))
    );
    assert!(!o.status.orphan, "{o:?}");
}

/// A walk stopped at its limit says so; a mount with exactly as many entries as the limit
/// was walked whole and says nothing.
#[test]
fn the_walk_limit_is_noted_only_for_mounts_it_cut() {
    let tree = fixture_copy("scan-host");
    let opts = ScanOptions::default().walk_limit(3);
    let scan = Scan::collect(&ProcRoot::new(tree.path()), &opts).expect("scan");
    let notes = scan.coverage.notes.join("\n");
    assert!(
        notes.contains("/mnt/my ram: stopped after 3 entries"),
        "{notes}"
    );
    assert!(
        !notes.contains("/dev/shm: stopped"),
        "/dev/shm has exactly 3: {notes}"
    );
    let dev_shm = scan.mounts.iter().find(|m| m.is_dev_shm).expect("/dev/shm");
    assert_eq!(dev_shm.files, 3);
}

/// A host (or container) with no tmpfs at /dev/shm: shm_open has nowhere to create objects.
/// The scan says so and how to fix it, and still succeeds.
#[test]
fn a_missing_dev_shm_is_noted_with_its_fix() {
    let (_tree, bare) = scan("scan-no-dev-shm");
    assert!(bare.mounts.is_empty());
    assert!(
        bare.coverage
            .notes
            .iter()
            .any(|n| n.starts_with("no tmpfs is mounted at /dev/shm")
                && n.contains("mount -t tmpfs")),
        "{:?}",
        bare.coverage.notes
    );
    let (_tree, host) = scan("scan-host");
    assert!(!host
        .coverage
        .notes
        .iter()
        .any(|n| n.contains("no tmpfs is mounted")));
}
