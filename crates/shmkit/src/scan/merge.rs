//! Joins what each process was seen to map or hold into one record per object, keyed by the
//! identity maps and descriptors share (device and inode) or by shmid.

use super::facts::{Identity, ProcInfo, Unseen, UnseenProc};
use super::model::*;
use super::process::{ProcResult, Seen};
use crate::address::Handle;
use crate::DeviceId;
use shmkit_procfs::ProcRoot;
use std::collections::{BTreeMap, HashMap, HashSet};

/// What the per-process pass learnt about one shmem object found through mappings or fds.
#[derive(Debug, Default)]
pub(super) struct Found {
    pub(super) kind: Option<Kind>,
    pub(super) name: String,
    pub(super) size: u64,
    pub(super) allocated: Option<u64>,
    pub(super) deleted: bool,
    pub(super) holders: BTreeMap<u32, (bool, bool, u64)>,
    pub(super) stat_path: Option<std::path::PathBuf>,
    /// The holder's handle that names it canonically: the lowest pid, then a descriptor
    /// before a mapping, then the lowest number.
    pub(super) reach: Option<(u32, Handle)>,
}

impl Found {
    fn reached_by(&mut self, pid: u32, handle: Handle) {
        if self.reach.is_none_or(|r| (pid, handle) < r) {
            self.reach = Some((pid, handle));
        }
    }
}

pub(super) fn holder(
    procs: &HashMap<u32, ProcInfo>,
    pid: u32,
    via: HoldVia,
    mapped: u64,
) -> Holder {
    let (comm, uid) = procs
        .get(&pid)
        .map_or((String::new(), 0), |p| (p.comm.clone(), p.uid));
    Holder {
        pid,
        comm,
        uid,
        via,
        mapped,
    }
}

pub(super) fn holders_of(procs: &HashMap<u32, ProcInfo>, f: &Found) -> Vec<Holder> {
    f.holders
        .iter()
        .map(|(&pid, &(map, fd, mapped))| {
            let via = match (map, fd) {
                (true, true) => HoldVia::MapAndFd,
                (false, true) => HoldVia::Fd,
                _ => HoldVia::Map,
            };
            holder(procs, pid, via, mapped)
        })
        .collect()
}

/// One process's attachments of one System V segment.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct SysvHold {
    /// Bytes attached.
    pub(super) mapped: u64,
    /// Attached from the internal hugetlbfs (`SHM_HUGETLB`).
    pub(super) hugetlb: bool,
    /// Its mappings of the segment: the kernel's `nattch` counts each one.
    pub(super) vmas: u64,
}

/// Everything the per-process pass found, joined per object.
#[derive(Debug, Default)]
pub(super) struct Merged {
    /// Facts of the processes that hold something.
    pub(super) procs: HashMap<u32, ProcInfo>,
    /// Shmem objects (and file mappings) found through mappings or descriptors.
    pub(super) found: HashMap<Identity, Found>,
    /// System V holders: (IPC namespace when not ours, shmid) → pid → what it attached.
    pub(super) sysv_holders: HashMap<(Option<u64>, i32), BTreeMap<u32, SysvHold>>,
    /// The processes that could not be read.
    pub(super) unseen: Unseen,
}

/// What a process whose memory and descriptors could not be read may hold files of.
#[derive(Debug, PartialEq, Eq)]
enum Reach {
    /// Every thread of it is past the point of exit that closes its descriptors: nothing.
    Exited,
    /// Files of the mounts of these devices (`None`: of any).
    Devices(Option<HashSet<DeviceId>>),
}

/// What an unreadable process may hold files of: its mount table is readable when its
/// memory and descriptors are not, and it can only have opened files of the mounts it has.
///
/// Kernel quirks: exit drops a thread's descriptors (`exit_files`) before its namespaces
/// (`exit_task_namespaces`), and a thread without namespaces reads EINVAL from `mountinfo`.
/// A thread whose table reads EINVAL has therefore closed everything, and a process all of
/// whose threads do (a zombie, or one dying as the scan looks) holds nothing. That matters
/// off the machine's root: `/proc` gives a task without memory to root of the machine, so
/// even root of a user namespace may not list a dying process's descriptors, and every
/// program exiting during a scan would otherwise be one that may hold anything. A leader
/// that exited while its other threads run on has no table either, so each thread is asked.
fn mount_devices(root: &ProcRoot, pid: u32) -> Reach {
    let devices = |ms: Vec<shmkit_procfs::MountInfo>| {
        ms.iter().map(|m| DeviceId::new(m.major, m.minor)).collect()
    };
    if let Ok(ms) = root.mountinfo(Some(pid)) {
        return Reach::Devices(Some(devices(ms)));
    }
    let Ok(tasks) = std::fs::read_dir(root.path(format!("/proc/{pid}/task"))) else {
        return Reach::Devices(None);
    };
    let mut alive: Option<HashSet<DeviceId>> = None;
    for task in tasks {
        let Some(tid) = task
            .ok()
            .and_then(|t| t.file_name().to_str()?.parse::<u32>().ok())
        else {
            return Reach::Devices(None);
        };
        match std::fs::read(root.path(format!("/proc/{pid}/task/{tid}/mountinfo"))) {
            Ok(text) => match shmkit_procfs::mountinfo::parse(&text) {
                Ok(ms) => alive.get_or_insert_default().extend(devices(ms)),
                Err(_) => return Reach::Devices(None),
            },
            // Past exit_task_namespaces, or reaped since the listing.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINVAL | libc::ENOENT | libc::ESRCH)
                ) => {}
            Err(_) => return Reach::Devices(None),
        }
    }
    match alive {
        Some(devs) => Reach::Devices(Some(devs)),
        None => Reach::Exited,
    }
}

/// Joins the per-process results, counting in `coverage` what was skipped.
pub(super) fn merge(root: &ProcRoot, results: Vec<ProcResult>, coverage: &mut Coverage) -> Merged {
    let mut merged = Merged::default();
    let Merged {
        procs,
        found,
        sysv_holders,
        unseen,
    } = &mut merged;
    for r in results {
        coverage.processes += 1;
        match r {
            ProcResult::Vanished => coverage.processes_vanished += 1,
            ProcResult::Unreadable { pid, uid } => match mount_devices(root, pid) {
                // It holds nothing: count it with those that exited while the scan ran.
                Reach::Exited => coverage.processes_vanished += 1,
                Reach::Devices(devs) => {
                    coverage.processes_unreadable += 1;
                    unseen.0.push(UnseenProc { uid, devs });
                }
            },
            ProcResult::Seen {
                pid,
                info,
                maps,
                fds,
                other_ipc,
            } => {
                let interesting = !maps.is_empty() || !fds.is_empty();
                for m in maps {
                    match m {
                        Seen::Sysv {
                            shmid,
                            len,
                            hugetlb,
                        } => {
                            let h = sysv_holders
                                .entry((other_ipc, shmid))
                                .or_default()
                                .entry(pid)
                                .or_default();
                            h.mapped += len;
                            h.hugetlb |= hugetlb;
                            h.vmas += 1;
                        }
                        Seen::Shmem {
                            id,
                            kind,
                            name,
                            len,
                            size,
                            deleted,
                            stat_path,
                            start,
                        } => {
                            let f = found.entry(id).or_default();
                            if f.kind.is_none() {
                                f.kind = Some(kind);
                                f.name = name;
                                f.deleted = deleted;
                            }
                            f.size = f.size.max(size);
                            if f.stat_path.is_none() {
                                f.stat_path = stat_path;
                            }
                            f.reached_by(pid, Handle::Map(start));
                            let h = f.holders.entry(pid).or_default();
                            h.0 = true;
                            h.2 += len;
                        }
                    }
                }
                for fd in fds {
                    let f = found.entry(fd.id).or_default();
                    if f.kind.is_none() {
                        f.kind = Some(fd.kind);
                        f.name = fd.name;
                        f.deleted = fd.deleted;
                    }
                    f.size = f.size.max(fd.size);
                    f.allocated = f.allocated.or(fd.allocated);
                    f.reached_by(fd.reach.0, Handle::Fd(fd.reach.1));
                    f.holders.entry(pid).or_default().1 = true;
                }
                if interesting {
                    procs.insert(pid, info);
                }
            }
        }
    }
    if coverage.processes_unreadable > 0 {
        let n = coverage.processes_unreadable;
        let (count, how) = match (n, crate::sys::geteuid()) {
            (1, 0) => (
                "1 process".to_string(),
                "even as root (another user namespace, or hidepid)",
            ),
            (_, 0) => (
                format!("{n} processes"),
                "even as root (another user namespace, or hidepid)",
            ),
            (1, _) => ("1 process".to_string(), "(run as root to see every holder)"),
            _ => (
                format!("{n} processes"),
                "(run as root to see every holder)",
            ),
        };
        coverage.notes.push(format!(
            "{count} could not be read {how}; an object only they hold looks unheld"
        ));
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    const TMPFS_LINE: &str = "30 1 0:23 / /dev/shm rw,nosuid,nodev - tmpfs tmpfs rw\n";

    /// A fake `/proc/PID` of the threads `tids` (the first is the leader), each with a mount
    /// table or not: a thread past exit has none to read.
    fn process(dir: &std::path::Path, tids: &[(u32, bool)]) {
        let pid = tids[0].0;
        for &(tid, has_table) in tids {
            let task = dir.join(format!("proc/{pid}/task/{tid}"));
            std::fs::create_dir_all(&task).unwrap();
            if has_table {
                std::fs::write(task.join("mountinfo"), TMPFS_LINE).unwrap();
                if tid == pid {
                    std::fs::write(dir.join(format!("proc/{pid}/mountinfo")), TMPFS_LINE).unwrap();
                }
            }
        }
    }

    #[test]
    fn a_process_whose_every_thread_is_past_exit_holds_nothing_and_is_not_unseen() {
        let dir = tempfile::tempdir().unwrap();
        process(dir.path(), &[(100, false)]);
        process(dir.path(), &[(200, false), (201, true)]);
        process(dir.path(), &[(300, true)]);
        process(dir.path(), &[(400, false), (401, false)]);
        let root = ProcRoot::new(dir.path());
        let dev_shm = Reach::Devices(Some([DeviceId::new(0, 23)].into()));
        assert_eq!(mount_devices(&root, 100), Reach::Exited);
        // The leader exited while a thread runs on: that thread may hold what it mounts.
        assert_eq!(mount_devices(&root, 200), dev_shm);
        assert_eq!(mount_devices(&root, 300), dev_shm);
        assert_eq!(mount_devices(&root, 400), Reach::Exited);
        // No /proc entry to tell (hidden): it may hold anything.
        assert_eq!(mount_devices(&root, 500), Reach::Devices(None));

        let unreadable = |pid| ProcResult::Unreadable {
            pid,
            uid: Some(1000),
        };
        let mut coverage = Coverage::default();
        let merged = merge(
            &root,
            [100, 200, 300, 400, 500].map(unreadable).into(),
            &mut coverage,
        );
        assert_eq!(merged.unseen.0.len(), 3, "{:?}", merged.unseen);
        assert_eq!(coverage.processes_unreadable, 3);
        assert_eq!(coverage.processes_vanished, 2);
    }
}
