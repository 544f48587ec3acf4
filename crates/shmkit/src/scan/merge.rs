//! Joins what each process was seen to map or hold into one record per object, keyed by the
//! identity maps and descriptors share (device and inode) or by shmid.

use super::facts::{Identity, ProcInfo, Unseen, UnseenProc};
use super::model::*;
use super::process::{ProcResult, Seen};
use crate::address::Handle;
use crate::DeviceId;
use shmkit_procfs::ProcRoot;
use std::collections::{BTreeMap, HashMap};

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
            ProcResult::Unreadable { pid, uid } => {
                coverage.processes_unreadable += 1;
                // Its mount table is readable when its memory is not: it can only
                // have opened files of the mounts it has.
                let devs = root
                    .mountinfo(Some(pid))
                    .ok()
                    .map(|ms| ms.iter().map(|m| DeviceId::new(m.major, m.minor)).collect());
                unseen.0.push(UnseenProc { uid, devs });
            }
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
