//! The live scan (`LiveScan`, what `top`, `mem --watch` and `ls --watch` sample with) against
//! a full scan (`Scan::collect`) on the running kernel: real segments, POSIX objects and
//! memfds, attached and detached by this process (which the live scan walked before, so only
//! its signals can tell) and by `shmkit hold` children that start, exit and are killed. After
//! every change the next sample must judge our objects as a full scan taken right after it
//! does, or, where the module's documented bound allows it, still "in use" — never idle or
//! leaked while a holder lives.
//!
//! We are root. Keys and names carry our pid and a counter; every object is removed by a
//! guard's `Drop`, also when an assertion fails. Other tests run at the same time and make
//! the live scan walk everything more often than it would on a quiet host: assertions are
//! about what is shown, never about which samples were full, except where a live scan that
//! never walks everything on its own (`LiveScan::every(_, u32::MAX)`) is used to show that a
//! signal alone was enough.

use shmkit::scan::{LiveScan, Object, ProcRoot, Scan, ScanOptions, Stale, Usage};
mod common;

use common::kernel::{posix_object, sysv_with_unique_key, Holder, SysvGuard};
use shmkit::sys::{self, posix::OpenMode};
use std::os::fd::AsFd;

/// A keyed segment (so nobody attached means idle, not leaked) with a key of our own.
fn keyed_segment(size: u64) -> SysvGuard {
    sysv_with_unique_key(0x5400_0000, size).1
}

/// What a test compares of one object: how it is judged and who holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    usage: &'static str,
    holders: Vec<u32>,
    resident: Option<u64>,
}

fn judged(o: &Object) -> Seen {
    let mut holders: Vec<u32> = o.holders.iter().map(|h| h.pid).collect();
    holders.sort_unstable();
    Seen {
        usage: match o.status.usage {
            Usage::InUse => "in use",
            Usage::Idle { .. } => "idle",
            Usage::Leaked { .. } => "leaked",
            _ => "other",
        },
        holders,
        resident: o.resident,
    }
}

fn segment(scan: &Scan, shmid: i32) -> Seen {
    let o = scan
        .objects
        .iter()
        .find(|o| !o.location.foreign && o.sysv.as_ref().is_some_and(|s| s.shmid == shmid))
        .unwrap_or_else(|| panic!("segment id={shmid} not found"));
    judged(o)
}

fn posix(scan: &Scan, name: &str) -> Seen {
    let o = scan
        .objects
        .iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("{name} not found"));
    judged(o)
}

fn full() -> Scan {
    Scan::collect(&ProcRoot::live(), &ScanOptions::default()).expect("full scan")
}

/// A live scan that walks every process only when a signal says so (and at the first
/// sample): what it shows right is what its signals caught.
fn signals_only() -> LiveScan {
    LiveScan::every(ScanOptions::default(), u32::MAX)
}

fn sample(live: &mut LiveScan) -> Scan {
    live.sample(&ProcRoot::live()).expect("live sample")
}

#[test]
fn a_running_process_that_attaches_or_detaches_a_segment_is_seen_at_the_next_sample() {
    let seg = keyed_segment(1 << 20);
    let me = std::process::id();
    let mut live = signals_only();
    let first = sample(&mut live);
    assert_eq!(live.last().full, Some(Stale::First));
    assert_eq!(segment(&first, seg.shmid).usage, "idle");

    // This process was walked in the first sample; only nattch can tell it attached.
    let attached = sys::sysv::shmat(seg.shmid, false).expect("shmat");
    attached.fill(0, 1 << 20, 7).expect("touch");
    let now = sample(&mut live);
    let seen = segment(&now, seg.shmid);
    assert_eq!(seen.usage, "in use");
    assert!(seen.holders.contains(&me), "{seen:?}");
    assert_eq!(seen, segment(&full(), seg.shmid));

    drop(attached);
    let now = sample(&mut live);
    let seen = segment(&now, seg.shmid);
    assert_eq!(seen.usage, "idle", "{:?}", live.last());
    assert!(!seen.holders.contains(&me), "{seen:?}");
    assert_eq!(seen, segment(&full(), seg.shmid));
}

#[test]
fn a_running_process_that_maps_an_idle_posix_object_is_seen_at_the_next_sample() {
    let object = posix_object("live-scan-opened", 1 << 20);
    let me = std::process::id();
    let mut live = signals_only();
    // The first sample judges it idle and starts watching its directory; the next confirms
    // it with the directory watched throughout.
    for _ in 0..2 {
        let s = sample(&mut live);
        assert_eq!(posix(&s, &object.name).usage, "idle");
    }

    // This process was walked already: the open of an idle file is the signal.
    let fd = sys::posix::shm_open(&object.name, OpenMode::ReadWrite, 0).expect("shm_open");
    let mapping = sys::mapping::map_shared_fd(fd.as_fd(), 1 << 20, true).expect("mmap");
    drop(fd);
    mapping.fill(0, 1 << 20, 1).expect("touch");
    let now = sample(&mut live);
    let seen = posix(&now, &object.name);
    assert_eq!(seen.usage, "in use", "{:?}", live.last());
    assert!(seen.holders.contains(&me), "{seen:?}");
    assert_eq!(seen, posix(&full(), &object.name));

    // Unmapped by a process that runs on: no signal. Shown in use (never idle early) until
    // the next full walk, which the caller may ask for.
    drop(mapping);
    let now = sample(&mut live);
    assert_ne!(posix(&now, &object.name).usage, "leaked");
    live.walk_all_next();
    let now = sample(&mut live);
    assert_eq!(live.last().full, Some(Stale::Asked));
    assert_eq!(posix(&now, &object.name), posix(&full(), &object.name));
    assert_eq!(posix(&now, &object.name).usage, "idle");
}

#[test]
fn an_unmapped_object_reads_idle_within_the_documented_bound() {
    let object = posix_object("live-scan-bound", 1 << 16);
    let every = 3;
    let mut live = LiveScan::every(ScanOptions::default(), every);
    let fd = sys::posix::shm_open(&object.name, OpenMode::ReadWrite, 0).expect("shm_open");
    let mapping = sys::mapping::map_shared_fd(fd.as_fd(), 1 << 16, true).expect("mmap");
    drop(fd);
    assert_eq!(posix(&sample(&mut live), &object.name).usage, "in use");
    drop(mapping);
    let mut idle_after = None;
    for n in 1..=every {
        if posix(&sample(&mut live), &object.name).usage == "idle" {
            idle_after = Some(n);
            break;
        }
    }
    assert!(
        idle_after.is_some(),
        "still in use {every} samples after the last holder let go"
    );
}

#[test]
fn holders_that_start_exit_or_are_killed_agree_with_a_full_scan() {
    let seg = keyed_segment(1 << 20);
    let object = posix_object("live-scan-holders", 1 << 20);
    let mut live = signals_only();
    sample(&mut live);

    let shmid = seg.shmid.to_string();
    let a = Holder::start(&["--sysv-id", &shmid, "--posix", &object.name, "--fill", "3"]);
    let b = Holder::start(&["--posix", &object.name, "--memfd", "live-scan=65536"]);
    let now = sample(&mut live);
    let (sysv_seen, posix_seen) = (segment(&now, seg.shmid), posix(&now, &object.name));
    assert_eq!(sysv_seen.holders, vec![a.pid()]);
    let mut both = vec![a.pid(), b.pid()];
    both.sort_unstable();
    assert_eq!(posix_seen.holders, both);
    let reference = full();
    assert_eq!(sysv_seen, segment(&reference, seg.shmid));
    assert_eq!(posix_seen, posix(&reference, &object.name));
    let memfd = |scan: &Scan, pid: u32| {
        scan.objects
            .iter()
            .find(|o| o.name == "memfd:live-scan" && o.holders.iter().any(|h| h.pid == pid))
            .map(judged)
    };
    assert_eq!(memfd(&now, b.pid()), memfd(&reference, b.pid()));
    assert!(memfd(&now, b.pid()).is_some());

    // Killed: its pid is gone from the listing, so what it held is dropped at once.
    let gone = a.pid();
    a.kill();
    let now = sample(&mut live);
    let seen = segment(&now, seg.shmid);
    assert_eq!(seen.usage, "idle", "{seen:?}");
    assert_eq!(posix(&now, &object.name).holders, vec![b.pid()]);
    assert_eq!(segment(&full(), seg.shmid), seen);

    // Exits on its own (stdin closed): same.
    let last = b.pid();
    drop(b);
    let now = sample(&mut live);
    let seen = posix(&now, &object.name);
    assert_eq!(seen.usage, "idle", "{seen:?}");
    assert!(
        memfd(&now, last).is_none(),
        "the memfd died with its holder"
    );
    assert_eq!(posix(&full(), &object.name), seen);
    assert!(!seen.holders.contains(&gone));
}

#[test]
fn a_new_file_that_a_running_process_holds_is_never_shown_idle() {
    let me = std::process::id();
    let mut live = signals_only();
    // Two samples: the second is the first with /dev/shm watched throughout.
    sample(&mut live);
    sample(&mut live);
    sample(&mut live);
    // Made and closed by this process (walked long before): every open of it released, as
    // the directory's events show, so it is idle at once.
    let closed = posix_object("live-scan-closed", 1 << 16);
    // Made and still held by this process: no walk reused for it names a holder, and its
    // open is not released, so it reads in use until a full walk names the holder.
    let held = posix_object("live-scan-held", 1 << 16);
    let fd = sys::posix::shm_open(&held.name, OpenMode::ReadWrite, 0).expect("shm_open");
    let now = sample(&mut live);
    assert_eq!(posix(&now, &closed.name).usage, "idle", "{:?}", live.last());
    assert_eq!(posix(&now, &held.name).usage, "in use", "{:?}", live.last());
    live.walk_all_next();
    let now = sample(&mut live);
    let seen = posix(&now, &held.name);
    assert_eq!(seen.usage, "in use");
    assert!(seen.holders.contains(&me), "{seen:?}");
    assert_eq!(seen, posix(&full(), &held.name));
    drop(fd);
}

/// A live scan bounded in time only (as the exporter's is): a holder that unmaps without
/// exiting is forgotten at the first sample taken once the period has passed, however few
/// samples were taken since, and the sample says how old its oldest reused walk is.
#[test]
fn an_unmapped_object_reads_idle_at_the_first_sample_after_the_period_in_time() {
    let object = posix_object("live-scan-timed", 1 << 16);
    let period = std::time::Duration::from_millis(500);
    let mut live = LiveScan::every(ScanOptions::default(), u32::MAX).full_after(period);
    let fd = sys::posix::shm_open(&object.name, OpenMode::ReadWrite, 0).expect("shm_open");
    let mapping = sys::mapping::map_shared_fd(fd.as_fd(), 1 << 16, true).expect("mmap");
    drop(fd);
    assert_eq!(posix(&sample(&mut live), &object.name).usage, "in use");
    assert_eq!(live.last().since_full_time, std::time::Duration::ZERO);
    drop(mapping);
    std::thread::sleep(period);
    let now = sample(&mut live);
    assert!(live.last().full.is_some(), "{:?}", live.last());
    assert_eq!(live.last().since_full_time, std::time::Duration::ZERO);
    assert_eq!(posix(&now, &object.name).usage, "idle", "{:?}", live.last());
    let now = sample(&mut live);
    if live.last().full.is_none() {
        assert!(live.last().since_full_time > std::time::Duration::ZERO);
    }
    assert_eq!(posix(&now, &object.name), posix(&full(), &object.name));
}
