//! [`Scan::collect`]: orders the passes that fill the model. Each pass has its own module:
//! [`super::mounts`] finds the tmpfs mounts and walks their files, [`super::process`] reads
//! every process's mappings and descriptors, [`super::merge`] joins them per object, and
//! [`super::classify`] judges each object. Nothing here reads `/proc` on its own account
//! except to ask whether a System V creator is still alive.
//!
//! A creator's start time is `btime` + ticks, and `btime` moves with clock steps: it gets
//! [`CLOCK_SLACK`] before its pid counts as reused.

use super::classify::{file_object, hidden_object, sysv_object};
use super::facts::{boot_time, dev_major, dev_minor, Identity, Known};
use super::merge::{holder, merge, Found, Merged};
use super::model::*;
use super::mounts::{join_mount, scan_mounts};
use super::process::{is_live, read_proc_info, scan_processes};
use super::ScanOptions;
use crate::sys;
use shmkit_procfs::{MemInfo, ProcRoot};
use std::collections::{HashMap, HashSet};
use std::os::fd::AsFd;

/// How much later than a segment's ctime its creator may seem to have started and still be
/// its creator, in seconds. A start time is boot time (`btime`) plus ticks, and `btime` moves
/// when the wall clock is stepped (NTP at boot), while ctime was taken before the step: a
/// small slack would call a live creator dead and its segment a leak. A pid reused within
/// this window is the rarer mistake, and the safe one (a leak missed, not a segment freed).
const CLOCK_SLACK: i64 = 120;

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
        let boot_time = boot_time(root);

        let segments = root.sysvipc_shm().unwrap_or_else(|e| {
            coverage
                .notes
                .push(format!("System V segments not read: {e}"));
            Vec::new()
        });

        let (mounts, mut files, hidden) = scan_mounts(root, opts, &mut coverage);
        // Every tmpfs and ramfs device of our mount table, also those hidden under another
        // mount: a file of one that a process maps is shmem however it is reached.
        let mut shmem_devs: HashMap<(u32, u32), (String, bool)> = hidden
            .iter()
            .map(|m| (m.dev, (m.mount_point.clone(), m.is_dev_shm)))
            .collect();
        for m in &mounts {
            shmem_devs.insert(m.dev, (m.mount_point.clone(), m.is_dev_shm));
        }
        // Descriptors name paths, not devices: a path under a tmpfs mount point is a
        // candidate, longest mount point first so /dev/shm wins over /dev.
        let mut mounts_by_prefix: Vec<(String, (u32, u32), bool)> = mounts
            .iter()
            .map(|m| (join_mount(&m.mount_point, ""), m.dev, m.is_dev_shm))
            .collect();
        mounts_by_prefix.sort_by_key(|(p, _, _)| std::cmp::Reverse(p.len()));
        let known = Known {
            shmem_devs,
            mounts_by_prefix,
            boot_time,
            // Shmids are per IPC namespace: only holders in ours attach our segments.
            our_ipc: root.ns_link(None, "ipc").ok().flatten().map(|ns| ns.inode),
            internal_shm_dev: is_live(root)
                .then(|| sys::memfd::memfd_create("shmkit-scan-probe", false, false))
                .and_then(|fd| sys::dir::fstat(fd.ok()?.as_fd()).ok())
                .map(|st| (dev_major(st.dev), dev_minor(st.dev))),
            // A fixture tree's maps are text files.
            procmap_query: std::sync::atomic::AtomicBool::new(is_live(root)),
        };
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
        let creator = |pid: u32, since: i64| -> ProcessRef {
            if !alive.contains(&pid) {
                return ProcessRef { pid, comm: None };
            }
            // Holders were read without their start time: read the creator's.
            let info = read_proc_info(root, pid, known.boot_time);
            match info {
                // A process that started after the segment was made only reuses the pid.
                Some(i)
                    if i.started
                        .is_none_or(|s| s <= since.saturating_add(CLOCK_SLACK)) =>
                {
                    ProcessRef {
                        pid,
                        comm: Some(i.comm),
                    }
                }
                _ => ProcessRef { pid, comm: None },
            }
        };

        let mut objects = Vec::new();
        for seg in &segments {
            let holders = sysv_holders
                .remove(&seg.shmid)
                .unwrap_or_default()
                .into_iter()
                .map(|(pid, mapped)| holder(&procs, pid, HoldVia::Map, mapped))
                .collect();
            objects.push(sysv_object(seg, holders, &users, &creator));
        }

        // Files found by walking mounts, with holders matched by identity.
        let unseen = opts.holders.then_some(&unseen);
        for file in files.drain(..) {
            let id = (file.dev.0, file.dev.1, file.file.inode);
            let held = found.remove(&id);
            objects.push(file_object(file, held, &procs, &users, unseen));
        }
        // What only mappings and descriptors revealed: shared anonymous memory, memfds,
        // deleted tmpfs files, shared mappings of regular files.
        let mut rest: Vec<(Identity, Found)> = found.into_iter().collect();
        rest.sort_by_key(|(id, _)| *id);
        for (id, f) in rest {
            let Some(kind) = f.kind else { continue };
            let mut obj = hidden_object(id, kind, f, &procs, &mut coverage);
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
