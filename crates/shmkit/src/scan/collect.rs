//! [`Scan::collect`]: orders the passes that fill the model. Each pass has its own module:
//! [`super::mounts`] finds the tmpfs mounts and walks their files, [`super::process`] reads
//! every process's mappings and descriptors, [`super::merge`] joins them per object, and
//! [`super::classify`] judges each object. Nothing here reads `/proc` on its own account
//! except to ask whether a System V creator is still alive, and whether this runs in a child
//! pid namespace.

use super::classify::{
    file_object, hidden_object, hugetlb_resident, is_creator, rss_says_hugetlb, sysv_object,
    Creator, Sight,
};
use super::facts::{boot_time, dev_major, dev_minor, in_child_pid_namespace, Identity, Known};
use super::merge::{holder, holders_of, merge, Found, Merged};
use super::model::*;
use super::mounts::{join_mount, scan_mounts, HiddenMount};
use super::process::{is_live, read_proc_info, scan_processes};
use super::ScanOptions;
use crate::sys;
use shmkit_procfs::{MemInfo, ProcRoot};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::fd::AsFd;

/// The one thing a scan cannot do without: `/proc/meminfo`.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the memory counters: {0}")]
pub struct ScanError(#[from] shmkit_procfs::Error);

impl From<ScanError> for crate::Error {
    /// A one-line error for the user: which file, why, and how to get it back.
    fn from(e: ScanError) -> Self {
        let kind = if e.0.is_not_found() {
            crate::ErrorKind::NotFound
        } else if e.0.is_permission_denied() {
            crate::ErrorKind::PermissionDenied
        } else {
            crate::ErrorKind::Corrupt
        };
        crate::Error::new(kind, "/proc/meminfo", e.0.to_string())
            .with_fix("the scan needs a mounted proc filesystem: mount -t proc proc /proc")
    }
}

/// Every shared-memory object on the host at one moment, and what could not be seen.
#[derive(Debug, Clone)]
pub struct Scan {
    /// The objects, System V first, then POSIX, tmpfs, shared anonymous, memfd, file.
    pub objects: Vec<Object>,
    /// The tmpfs and ramfs mounts.
    pub mounts: Vec<TmpfsMount>,
    /// `/proc/meminfo` read at the start of the scan.
    pub meminfo: MemInfo,
    /// Total swap in bytes (0: no swap, shmem is pinned in RAM).
    pub swap_total: u64,
    /// What was skipped.
    pub coverage: Coverage,
}

impl Scan {
    /// Scans the host (or the fixture tree) under `root`.
    pub fn collect(root: &ProcRoot, opts: &ScanOptions) -> Result<Scan, ScanError> {
        let meminfo = root.meminfo()?;
        let mut coverage = Coverage::default();
        let users = root.users().unwrap_or_default();
        let swap_total = meminfo.get("SwapTotal").unwrap_or(0);

        let segments = root.sysvipc_shm().unwrap_or_else(|e| {
            coverage
                .notes
                .push(format!("System V segments not read: {e}"));
            Vec::new()
        });

        let (mounts, mut files, hidden) = scan_mounts(root, opts, &mut coverage);
        let known = known(root, &mounts, &hidden);
        let pids = root.pids().unwrap_or_else(|e| {
            coverage.notes.push(format!("processes not listed: {e}"));
            Vec::new()
        });
        let alive: HashSet<u32> = pids.iter().copied().collect();
        let Merged {
            procs,
            mut found,
            mut sysv_holders,
            unseen,
        } = if opts.holders {
            merge(root, scan_processes(root, &pids, &known), &mut coverage)
        } else {
            Merged::default()
        };
        // Everything else we know of a creator is whether it is alive and when it started.
        let creator = |pid: u32, since: i64| -> (ProcessRef, Creator) {
            if pid == 0 {
                return (ProcessRef { pid, comm: None }, Creator::Unknown);
            }
            if !alive.contains(&pid) {
                return (ProcessRef { pid, comm: None }, Creator::Exited);
            }
            // Holders were read without their start time: read the creator's.
            match read_proc_info(root, pid, known.boot_time) {
                Some(i) if is_creator(i.started, since) => (
                    ProcessRef {
                        pid,
                        comm: Some(i.comm),
                    },
                    Creator::Alive,
                ),
                _ => (ProcessRef { pid, comm: None }, Creator::Exited),
            }
        };

        let page_size = if is_live(root) {
            sys::page_size()
        } else {
            4096
        };
        let huge_page_size = meminfo.get("Hugepagesize").unwrap_or(0);
        let mut objects = Vec::new();
        for seg in &segments {
            let holders = sysv_holders.remove(&seg.shmid).unwrap_or_default();
            let mapped_huge = holders.values().any(|h| h.hugetlb);
            let holders = holders
                .into_iter()
                .map(|(pid, h)| holder(&procs, pid, HoldVia::Map, h.mapped))
                .collect();
            let (made_by, made) = creator(seg.cpid, seg.ctime);
            let (last, _) = creator(seg.lpid, i64::MAX);
            let rss_huge = rss_says_hugetlb(seg.size, seg.rss, page_size);
            let mut obj = sysv_object(
                seg,
                holders,
                &users,
                made_by,
                last,
                made,
                mapped_huge || rss_huge,
            );
            if rss_huge {
                obj.resident = seg
                    .rss
                    .map(|rss| hugetlb_resident(rss, seg.size, page_size, huge_page_size));
            }
            objects.push(obj);
        }

        // Files found by walking mounts, with holders matched by identity.
        let sight = Sight {
            unseen: opts.holders.then_some(&unseen),
            child_pid_ns: in_child_pid_namespace(root),
        };
        if sight.child_pid_ns {
            coverage.notes.push(
                "this runs in a child pid namespace: processes of the parent namespaces may hold what looks idle here (marked ?)".to_string(),
            );
        }
        for file in files.drain(..) {
            let id = (file.dev.0, file.dev.1, file.file.inode);
            let held = found.remove(&id);
            objects.push(file_object(file, held, &procs, &users, sight));
        }
        // What only mappings and descriptors revealed: shared anonymous memory, memfds,
        // deleted tmpfs files, shared mappings of regular files.
        let mut rest: Vec<(Identity, Found)> = found.into_iter().collect();
        rest.sort_by_key(|(id, _)| *id);
        for (id, f) in rest {
            let Some(kind) = f.kind else { continue };
            let meta = f.stat_path.as_ref().and_then(|p| std::fs::metadata(p).ok());
            if f.stat_path.is_some() && meta.is_none() && f.allocated.is_none() {
                coverage.objects_vanished += u64::from(kind != Kind::File);
            }
            let mut obj = hidden_object(id, kind, f, meta, &procs);
            obj.user = users.name(obj.uid).map(str::to_string);
            if let Some((mount_point, _)) = known.shmem_devs.get(&(id.0, id.1)) {
                obj.mount = Some(mount_point.clone());
            }
            // A file of a mount that is hidden, or of another mount namespace, cannot be
            // reached by its path from here: no command can address it.
            if matches!(kind, Kind::Posix | Kind::Tmpfs)
                && !mounts.iter().any(|m| m.dev == (id.0, id.1))
            {
                obj.address = None;
            }
            objects.push(obj);
        }
        objects.sort_by(|a, b| {
            a.kind
                .cmp(&b.kind)
                .then(b.resident.unwrap_or(0).cmp(&a.resident.unwrap_or(0)))
                .then(a.name.cmp(&b.name))
        });
        Ok(Scan {
            objects,
            mounts,
            meminfo,
            swap_total,
            coverage,
        })
    }
}

/// What the per-process pass needs to know of the host's mounts.
fn known(root: &ProcRoot, mounts: &[TmpfsMount], hidden: &[HiddenMount]) -> Known {
    // Every tmpfs and ramfs device of our mount table, also those hidden under another
    // mount: a file of one that a process maps is shmem however it is reached.
    let mut shmem_devs: HashMap<(u32, u32), (String, bool)> = hidden
        .iter()
        .map(|m| (m.dev, (m.mount_point.clone(), m.is_dev_shm)))
        .collect();
    for m in mounts {
        shmem_devs.insert(m.dev, (m.mount_point.clone(), m.is_dev_shm));
    }
    // Descriptors name paths, not devices: a path under a tmpfs mount point is a
    // candidate, longest mount point first so /dev/shm wins over /dev.
    let mut mounts_by_prefix: Vec<(String, (u32, u32), bool)> = mounts
        .iter()
        .map(|m| (join_mount(&m.mount_point, ""), m.dev, m.is_dev_shm))
        .collect();
    mounts_by_prefix.sort_by_key(|(p, _, _)| std::cmp::Reverse(p.len()));
    Known {
        shmem_devs,
        mounts_by_prefix,
        boot_time: boot_time(root),
        // Shmids are per IPC namespace: only holders in ours attach our segments.
        our_ipc: root.ns_link(None, "ipc").ok().flatten().map(|ns| ns.inode),
        internal_shm_dev: is_live(root)
            .then(|| sys::memfd::memfd_create("shmkit-scan-probe", false, false))
            .and_then(|fd| sys::dir::fstat(fd.ok()?.as_fd()).ok())
            .map(|st| (dev_major(st.dev), dev_minor(st.dev))),
        // A fixture tree's maps are text files.
        procmap_query: std::sync::atomic::AtomicBool::new(is_live(root)),
        read_threads: true,
    }
}

/// Who holds some files now, asked again right before removing them.
#[derive(Debug, Clone, Default)]
pub struct HoldersNow {
    /// For each (device major, minor, inode) asked about that some process maps or holds
    /// open: those processes (any of their threads).
    pub holders: BTreeMap<(u32, u32, u64), Vec<Holder>>,
    /// For each System V id asked about that a process of our IPC namespace attaches: those
    /// processes.
    pub sysv: BTreeMap<i32, Vec<Holder>>,
    /// Processes whose maps or descriptors could not be read.
    pub unreadable: u64,
}

/// Reads every process's mappings and descriptors (and those of its threads where they
/// differ) once more, for the files `ids` and the System V segments `shmids` only: what
/// [`Scan::collect`] does for holders, without walking mounts or judging anything, so that a
/// removal can re-check just before it acts.
pub fn holders_now(root: &ProcRoot, ids: &[(u32, u32, u64)], shmids: &[i32]) -> HoldersNow {
    let mut coverage = Coverage::default();
    let opts = ScanOptions {
        top_files: 0,
        holders: true,
        walk_limit: 0,
    };
    let (mounts, _, hidden) = scan_mounts(root, &opts, &mut coverage);
    let known = known(root, &mounts, &hidden);
    let pids = root.pids().unwrap_or_default();
    let merged = merge(root, scan_processes(root, &pids, &known), &mut coverage);
    let mut out = HoldersNow {
        unreadable: coverage.processes_unreadable,
        ..HoldersNow::default()
    };
    for id in ids {
        if let Some(f) = merged.found.get(id) {
            out.holders.insert(*id, holders_of(&merged.procs, f));
        }
    }
    for shmid in shmids {
        if let Some(h) = merged.sysv_holders.get(shmid) {
            let holders = h
                .iter()
                .map(|(&pid, h)| holder(&merged.procs, pid, HoldVia::Map, h.mapped))
                .collect();
            out.sysv.insert(*shmid, holders);
        }
    }
    out
}
