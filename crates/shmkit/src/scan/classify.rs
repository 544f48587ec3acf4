//! The judgements: whether each object is in use, idle or leaked, and how sure the scan is,
//! from what the other passes found. The rules are pure functions of their inputs, each with
//! its own unit test; the object builders only assemble what they decide.
//!
//! The rules (PRODUCT.md, "Leaked, idle, in use"):
//! - held (mapped, open, or System V `nattch > 0`, which counts attachments in every pid
//!   namespace and every process, readable or not) → in use;
//! - a named object nobody holds (a keyed segment, a POSIX object, a tmpfs file) → idle: that
//!   is how shared memory persists by design, never a leak;
//! - an `IPC_PRIVATE` segment with no attachment whose creator exited → leaked: only the
//!   creator knew its id. A creator the kernel reports as pid 0 lives in a pid namespace we
//!   cannot see: the leak is then uncertain, never called "exited";
//! - a segment marked for destruction, or a deleted file still held, frees itself at its
//!   last detach or close: in use, not a leak;
//! - a file nobody the scan saw holds is only uncertainly idle when the scan is blind to some
//!   of the processes that might (unreadable ones that could open it, or every process of
//!   the parent pid namespaces when this runs in a child one).

use super::facts::{Identity, ProcInfo, Unseen};
use super::merge::{holders_of, Found};
use super::model::*;
use super::mounts::WalkedFile;
use crate::accounts::Accounts;
use crate::address::{Address, HeldAddress, SysvAddress};
use crate::DeviceId;
use shmkit_procfs::SysvShm;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;

/// How much later than a segment's ctime its creator may seem to have started and still be
/// its creator, in seconds. A start time is boot time (`btime`) plus ticks, and `btime` moves
/// when the wall clock is stepped (NTP at boot), while ctime was taken before the step: a
/// small slack would call a live creator dead and its segment a leak. A pid reused within
/// this window is the rarer mistake, and the safe one (a leak missed, not a segment freed).
pub(super) const CLOCK_SLACK: i64 = 120;

/// What the scan could not see, for judging files nobody seen holds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sight<'a> {
    /// The processes it could not read; `None` when holders were not looked for at all.
    pub(super) unseen: Option<&'a Unseen>,
    /// It runs in a child pid namespace: processes outside it are invisible.
    pub(super) child_pid_ns: bool,
}

/// How many unread processes may have opened a file of this owner, mode and device: one
/// that has the file's filesystem mounted and the right to open it (root, the owner, or
/// anyone the mode lets in; group membership is not resolved, so any group bit counts as a
/// way in).
pub(super) fn could_open_count(unseen: &Unseen, owner: u32, mode: u32, dev: DeviceId) -> usize {
    unseen
        .0
        .iter()
        .filter(|p| {
            p.devs.as_ref().is_none_or(|devs| devs.contains(&dev))
                && (p.uid.is_none_or(|uid| uid == 0 || uid == owner) || mode & 0o066 != 0)
        })
        .count()
}

/// Whether a live process with this pid is the one that made an object at `since`: one that
/// started later (beyond [`CLOCK_SLACK`]) only reuses the pid.
pub(super) fn is_creator(started: Option<i64>, since: i64) -> bool {
    started.is_none_or(|s| s <= since.saturating_add(CLOCK_SLACK))
}

/// What the scan knows of a System V segment's creator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Creator {
    /// Its pid runs and started before the segment was made.
    Alive,
    /// No process with its pid runs, or the one that does started later.
    Exited,
    /// The kernel reports pid 0: a pid namespace this one cannot see.
    Unknown,
}

/// The use of a System V segment.
pub(super) fn sysv_usage(
    key: i32,
    nattch: u64,
    marked: bool,
    creator: Creator,
    dtime: i64,
    ctime: i64,
) -> (Usage, Option<Blindness>) {
    // nattch is the kernel's own count of attachments in every process and pid namespace:
    // zero means nobody, seen or not. A marked segment goes at its last detach by itself.
    if nattch > 0 || marked {
        return (Usage::InUse, None);
    }
    let idle = Usage::Idle {
        since: Some(if dtime != 0 { dtime } else { ctime }),
    };
    if key != 0 {
        // Anyone who knows the key can attach it again: that is what a key is for.
        return (idle, None);
    }
    match creator {
        // The creator knows the id and may attach it again.
        Creator::Alive => (idle, None),
        Creator::Exited => (
            Usage::Leaked {
                reason: LeakReason::PrivateSegmentCreatorExited { creator: 0 },
            },
            None,
        ),
        Creator::Unknown => (
            Usage::Leaked {
                reason: LeakReason::PrivateSegmentCreatorUnknown,
            },
            Some(Blindness::CreatorUnknown),
        ),
    }
}

/// The use of a file found by walking a mount (a POSIX object or a tmpfs file).
pub(super) fn file_usage(
    held: bool,
    atime: i64,
    mtime: i64,
    owner: u32,
    mode: u32,
    dev: DeviceId,
    sight: Sight<'_>,
) -> (Usage, Option<Blindness>) {
    if held {
        return (Usage::InUse, None);
    }
    let idle = Usage::Idle {
        since: Some(atime.max(mtime)),
    };
    let Some(unseen) = sight.unseen else {
        return (idle, Some(Blindness::HoldersNotScanned));
    };
    if sight.child_pid_ns {
        return (idle, Some(Blindness::ChildPidNamespace));
    }
    match could_open_count(unseen, owner, mode, dev) {
        0 => (idle, None),
        n => (
            idle,
            Some(Blindness::UnreadableProcesses { count: n as u64 }),
        ),
    }
}

/// Whether `/proc/sysvipc/shm`'s `rss` shows a hugetlb segment: no ordinary segment has more
/// resident than its size rounded up to a page. Kernel quirk (seen on 6.18): for a hugetlb
/// segment the kernel multiplies its page-cache count, already in base pages, by the pages per
/// huge page, so a 2 MiB segment reports 1 GiB. A hugetlb segment nobody faulted in shows rss 0
/// and cannot be told from an ordinary one this way.
pub(super) fn rss_says_hugetlb(size: u64, rss: Option<u64>, page_size: u64) -> bool {
    let page = page_size.max(1);
    rss.is_some_and(|rss| rss > size.div_ceil(page).saturating_mul(page))
}

/// A hugetlb segment's real resident bytes from the `rss` the kernel reports: undoes the
/// multiplication of [`rss_says_hugetlb`] when it happened (an rss beyond the segment's
/// size in huge pages), else keeps it.
pub(super) fn hugetlb_resident(rss: u64, size: u64, page_size: u64, huge_page_size: u64) -> u64 {
    let huge = huge_page_size.max(page_size).max(1);
    let per_huge = (huge / page_size.max(1)).max(1);
    if rss > size.div_ceil(huge).saturating_mul(huge) {
        rss / per_huge
    } else {
        rss
    }
}

pub(super) fn sysv_object(
    seg: &SysvShm,
    holders: Vec<Holder>,
    users: &Accounts,
    made_by: ProcessRef,
    last: ProcessRef,
    creator: Creator,
    hugetlb: bool,
) -> Object {
    let marked = seg.marked_for_destruction();
    let (mut usage, uncertain) =
        sysv_usage(seg.key, seg.nattch, marked, creator, seg.dtime, seg.ctime);
    if let Usage::Leaked {
        reason: LeakReason::PrivateSegmentCreatorExited { creator },
    } = &mut usage
    {
        *creator = seg.cpid;
    }
    Object {
        kind: Kind::Sysv,
        address: Address::Sysv(SysvAddress::Id(seg.shmid)),
        name: format!("0x{:08x}", seg.key as u32),
        dev: None,
        inode: Some(seg.shmid as u64),
        size: seg.size,
        resident: seg.rss,
        swapped: seg.swap,
        uid: seg.uid,
        gid: seg.gid,
        user: users.user_name(seg.uid),
        mode: seg.mode(),
        holders,
        created: Some(seg.ctime),
        mount: None,
        status: Status {
            marked_for_destruction: marked,
            locked: seg.locked(),
            hugetlb,
            ..Status::judged(usage, uncertain)
        },
        orphan_reason: match usage {
            Usage::Leaked { reason } => Some(reason),
            _ => None,
        },
        remedy: (!marked).then_some(Remedy::RemoveSegment { shmid: seg.shmid }),
        sysv: Some(SysvDetails {
            key: seg.key,
            shmid: seg.shmid,
            nattch: seg.nattch,
            creator: made_by,
            last,
            cuid: seg.cuid,
            cgid: seg.cgid,
            atime: seg.atime,
            dtime: seg.dtime,
            ctime: seg.ctime,
        }),
        location: Location::default(),
    }
}

/// How commands reach an object only holders revealed: by its path where that leads to it,
/// else through its canonical holder's descriptor or mapping.
fn hidden_address(kind: Kind, f: &Found, deleted: bool, path_reachable: bool) -> Address {
    let by_path = || Address::File(std::path::PathBuf::from(&f.name));
    match (kind, f.reach) {
        // A regular file mapped shared: its path, which `stat` reports gone once deleted.
        (Kind::File, _) => by_path(),
        (Kind::Posix | Kind::Tmpfs, _) if !deleted && path_reachable => by_path(),
        (_, Some((pid, handle))) => Address::Held(HeldAddress { kind, pid, handle }),
        // Every hidden object was found through some holder's mapping or descriptor.
        (_, None) => by_path(),
    }
}

pub(super) fn file_object(
    file: WalkedFile,
    held: Option<Found>,
    procs: &HashMap<u32, ProcInfo>,
    users: &Accounts,
    sight: Sight<'_>,
) -> Object {
    let holders = held
        .as_ref()
        .map(|f| holders_of(procs, f))
        .unwrap_or_default();
    let (usage, uncertain) = file_usage(
        !holders.is_empty(),
        file.file.atime,
        file.file.mtime,
        file.file.uid,
        file.file.mode,
        file.dev,
        sight,
    );
    // A POSIX name that is not UTF-8 is reached through its file.
    let address = match &file.posix_utf8 {
        Some(name) => Address::Posix(name.clone()),
        None => Address::File(file.raw_path.clone()),
    };
    Object {
        kind: file.kind,
        address,
        name: file.posix_name.clone().unwrap_or_else(|| file.path.clone()),
        dev: Some(file.dev),
        inode: Some(file.file.inode),
        size: file.file.size,
        resident: Some(file.file.allocated),
        swapped: None,
        uid: file.file.uid,
        gid: file.file.gid,
        user: users.user_name(file.file.uid),
        mode: file.file.mode & 0o777,
        holders,
        created: Some(file.file.mtime),
        mount: Some(file.mount),
        status: Status::judged(usage, uncertain),
        orphan_reason: None,
        remedy: Some(Remedy::UnlinkFile {
            path: file.raw_path.clone(),
        }),
        sysv: None,
        location: Location::default(),
    }
}

/// An object only mappings and descriptors revealed: held by construction. `meta` is a
/// `stat` of it through a holder's `map_files` link, if that worked. `path_reachable`: its
/// path leads to it from here (its mount is in our table).
pub(super) fn hidden_object(
    id: Identity,
    kind: Kind,
    f: Found,
    meta: Option<std::fs::Metadata>,
    procs: &HashMap<u32, ProcInfo>,
    path_reachable: bool,
) -> Object {
    let holders = holders_of(procs, &f);
    let size = meta.as_ref().map_or(f.size, |m| m.size().max(f.size));
    // A regular file's pages are page cache, not shmem: its residency is not a blocks count.
    let resident = if kind == Kind::File {
        None
    } else {
        meta.as_ref().map(|m| m.blocks() * 512).or(f.allocated)
    };
    let (uid, gid, mode) = meta
        .as_ref()
        .map_or((0, 0, 0), |m| (m.uid(), m.gid(), m.mode() & 0o777));
    // Unlinked but held: its memory returns when the holders unmap or close it, by itself.
    let deleted = f.deleted && matches!(kind, Kind::Posix | Kind::Tmpfs);
    let name = if deleted {
        format!("{} (deleted)", f.name)
    } else {
        f.name.clone()
    };
    let pids: Vec<u32> = holders.iter().map(|h| h.pid).collect();
    Object {
        kind,
        address: hidden_address(kind, &f, deleted, path_reachable),
        name,
        dev: Some(id.dev),
        inode: Some(id.inode),
        size,
        resident,
        swapped: None,
        uid,
        gid,
        user: None,
        mode,
        holders,
        created: meta.as_ref().map(|m| m.mtime()),
        mount: None,
        status: Status {
            deleted,
            ..Status::judged(Usage::InUse, None)
        },
        orphan_reason: None,
        remedy: (deleted && !pids.is_empty()).then_some(Remedy::EndHolders { pids }),
        sysv: None,
        location: Location::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::facts::UnseenProc;

    const CTIME: i64 = 1_700_000_000;

    #[test]
    fn a_keyed_segment_nobody_attaches_is_idle_whatever_became_of_its_creator() {
        // Article 2: the writer made it under a key and exited; the reader comes later.
        for creator in [Creator::Exited, Creator::Alive, Creator::Unknown] {
            assert_eq!(
                sysv_usage(0x162e, 0, false, creator, 0, CTIME),
                (Usage::Idle { since: Some(CTIME) }, None),
                "{creator:?}"
            );
        }
        // Idle since the last detach when there was one.
        assert_eq!(
            sysv_usage(0x162e, 0, false, Creator::Exited, CTIME + 60, CTIME).0,
            Usage::Idle {
                since: Some(CTIME + 60)
            }
        );
    }

    #[test]
    fn a_private_segment_is_leaked_only_when_its_creator_is_known_to_have_exited() {
        let (usage, uncertain) = sysv_usage(0, 0, false, Creator::Exited, 0, CTIME);
        assert!(usage.is_leaked() && uncertain.is_none(), "{usage:?}");
        // Its creator knows the id and may attach it again.
        assert_eq!(
            sysv_usage(0, 0, false, Creator::Alive, 0, CTIME),
            (Usage::Idle { since: Some(CTIME) }, None)
        );
        // Kernel quirk: a creator in a pid namespace we cannot see reads as pid 0. Unknown is
        // never "exited": a leak at most, and uncertain.
        assert_eq!(
            sysv_usage(0, 0, false, Creator::Unknown, 0, CTIME),
            (
                Usage::Leaked {
                    reason: LeakReason::PrivateSegmentCreatorUnknown
                },
                Some(Blindness::CreatorUnknown)
            )
        );
    }

    #[test]
    fn an_attached_or_marked_segment_is_in_use_never_a_leak() {
        // nattch counts attachments in every process and pid namespace, seen or not.
        assert_eq!(
            sysv_usage(0, 1, false, Creator::Exited, 0, CTIME),
            (Usage::InUse, None)
        );
        // IPC_RMID was called: it frees itself at the last detach.
        assert_eq!(
            sysv_usage(0, 0, true, Creator::Exited, 0, CTIME),
            (Usage::InUse, None)
        );
    }

    fn sight(unseen: &Unseen, child_pid_ns: bool) -> Sight<'_> {
        Sight {
            unseen: Some(unseen),
            child_pid_ns,
        }
    }

    #[test]
    fn an_unheld_file_is_idle_since_its_last_access_or_change() {
        let none = Unseen::default();
        assert_eq!(
            file_usage(
                false,
                CTIME + 5,
                CTIME,
                1000,
                0o600,
                DeviceId::new(0, 23),
                sight(&none, false)
            ),
            (
                Usage::Idle {
                    since: Some(CTIME + 5)
                },
                None
            )
        );
        assert_eq!(
            file_usage(
                true,
                CTIME,
                CTIME,
                1000,
                0o600,
                DeviceId::new(0, 23),
                sight(&none, false)
            ),
            (Usage::InUse, None)
        );
    }

    #[test]
    fn an_unheld_file_is_uncertain_when_the_scan_is_blind_to_who_may_hold_it() {
        // Why an unheld file of uid 1000 could still be held, as the scan sees.
        let unheld = |mode, dev, sight| file_usage(false, CTIME, CTIME, 1000, mode, dev, sight).1;
        let none = Unseen::default();
        // From a child pid namespace, processes outside it are invisible (a sidecar).
        assert_eq!(
            unheld(0o600, DeviceId::new(0, 23), sight(&none, true)),
            Some(Blindness::ChildPidNamespace)
        );
        // An unreadable process that mounts the file's filesystem and may open it.
        let owner_elsewhere = Unseen(vec![UnseenProc {
            uid: Some(1000),
            devs: Some([DeviceId::new(0, 23)].into()),
        }]);
        assert_eq!(
            unheld(0o600, DeviceId::new(0, 23), sight(&owner_elsewhere, false)),
            Some(Blindness::UnreadableProcesses { count: 1 })
        );
        // One that has not that filesystem mounted, or may not open a 0600 file of another
        // user, cannot hold it.
        assert_eq!(
            unheld(0o600, DeviceId::new(0, 99), sight(&owner_elsewhere, false)),
            None
        );
        let stranger = Unseen(vec![UnseenProc {
            uid: Some(2000),
            devs: None,
        }]);
        assert_eq!(
            unheld(0o600, DeviceId::new(0, 23), sight(&stranger, false)),
            None
        );
        assert_eq!(
            unheld(0o644, DeviceId::new(0, 23), sight(&stranger, false)),
            Some(Blindness::UnreadableProcesses { count: 1 })
        );
        // Without a holder pass nothing is known to be unheld.
        let blind = Sight {
            unseen: None,
            child_pid_ns: false,
        };
        assert_eq!(
            unheld(0o600, DeviceId::new(0, 23), blind),
            Some(Blindness::HoldersNotScanned)
        );
    }

    #[test]
    fn a_creator_may_seem_to_start_a_little_after_its_segment() {
        assert!(is_creator(None, CTIME));
        assert!(is_creator(Some(CTIME + CLOCK_SLACK), CTIME));
        assert!(!is_creator(Some(CTIME + CLOCK_SLACK + 1), CTIME));
    }

    /// Kernel quirk (6.18): a 2 MiB SHM_HUGETLB segment, fully touched, reports rss 1 GiB in
    /// /proc/sysvipc/shm (its page count in base pages times the pages per huge page).
    #[test]
    fn a_segment_with_more_resident_than_its_size_is_hugetlb_and_its_rss_is_undone() {
        let mib2 = 2 << 20;
        assert!(rss_says_hugetlb(mib2, Some(1 << 30), 4096));
        assert_eq!(hugetlb_resident(1 << 30, mib2, 4096, mib2), mib2);
        // Kernels that count in huge pages report it right: kept.
        assert_eq!(hugetlb_resident(mib2, mib2, 4096, mib2), mib2);
        // An ordinary segment's rss never exceeds its size in pages.
        assert!(!rss_says_hugetlb(27, Some(4096), 4096));
        assert!(!rss_says_hugetlb(mib2, Some(mib2), 4096));
        assert!(!rss_says_hugetlb(mib2, None, 4096));
    }

    #[test]
    fn nspid_with_more_than_one_level_is_a_child_pid_namespace() {
        use crate::scan::facts::nspid_levels;
        assert_eq!(nspid_levels("Name:\tsh\nNSpid:\t4242\t1\n"), 2);
        assert_eq!(nspid_levels("Name:\tsh\nNSpid:\t4242\n"), 1);
        assert_eq!(nspid_levels("Name:\tsh\n"), 1);
    }
}
