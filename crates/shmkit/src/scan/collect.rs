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
use super::facts::{boot_time, in_child_pid_namespace, Identity, Known, ProcInfo};
use super::merge::{holder, holders_of, merge, Found, Merged};
use super::model::*;
use super::mounts::{join_mount, scan_mounts, HiddenMount, MountTable};
use super::namespaces::{foreign_mount_tables, foreign_segments, NsCache, NsView};
use super::process::{is_live, read_proc_info, scan_processes, ProcResult};
use super::ScanOptions;
use crate::address::{Address, Handle};
use crate::sys;
use crate::{DeviceId, FileId};
use shmkit_procfs::{MemInfo, ProcRoot};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;

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
#[non_exhaustive]
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
    /// The containers on the host, with their namespaces and memory cgroups.
    pub containers: Vec<ContainerInfo>,
}

impl Scan {
    /// Scans the host (or the fixture tree) under `root`.
    pub fn collect(root: &ProcRoot, opts: &ScanOptions) -> Result<Scan, ScanError> {
        let mut carry = Carry {
            walk_all: true,
            ..Carry::default()
        };
        collect_with(root, opts, &mut carry).map(|(scan, _)| scan)
    }
}

/// What one sample of a live scan carries to the next ([`super::refresh`]): each process's
/// walk, the namespaces and containers learnt, the creators asked about. A one-shot scan
/// starts from an empty one and walks everything.
#[derive(Debug, Default)]
pub(super) struct Carry {
    /// Walk every process this time (else only those not in `procs`).
    pub(super) walk_all: bool,
    /// Each live process's last walk (its maps and descriptors).
    pub(super) procs: HashMap<u32, ProcResult>,
    /// Namespaces of processes, containers of namespace pairs, Docker's names.
    pub(super) ns: NsCache,
    /// What was read of System V creators and last attachers (`None`: gone).
    pub(super) creators: HashMap<u32, Option<ProcInfo>>,
    /// The mounts the walks in `procs` were judged against.
    pub(super) mounts: Option<MountsKey>,
}

/// The shmem devices and descriptor prefixes a walk classifies against.
pub(super) type MountsKey = (Vec<DeviceId>, Vec<(String, DeviceId, bool)>);

/// What a sample saw that tells a live scan whether the walks it reused still hold.
#[derive(Debug, Default)]
pub(super) struct Findings {
    /// Processes walked in this sample.
    pub(super) walked: usize,
    /// Processes whose earlier walk was reused.
    pub(super) reused: usize,
    /// The mounts changed since the reused walks: every process was walked again.
    pub(super) mounts_changed: bool,
    /// Per System V segment (IPC namespace when not ours, shmid): `nattch` minus the
    /// mappings of it the walks found. Processes we cannot read and other pid namespaces
    /// make it non-zero for good; a change means an attachment the walks do not know.
    pub(super) attach_gap: HashMap<(Option<u64>, i32), i64>,
    /// Every file the mount walks found.
    pub(super) files: Vec<FileSeen>,
    /// The top directory of every tmpfs and ramfs walked, as reachable from here.
    pub(super) mount_dirs: Vec<std::path::PathBuf>,
    /// An object reached only through a holder whose reused walk no longer reaches it.
    pub(super) lost_holding: Option<String>,
}

/// A file a mount walk found, as a live scan needs it.
#[derive(Debug, Clone)]
pub(super) struct FileSeen {
    /// Its identity.
    pub(super) id: Identity,
    /// Its name as shown.
    pub(super) name: String,
    /// Judged idle: nobody was seen holding it.
    pub(super) idle: bool,
    /// The directory that holds it, as reachable from here, and its name in it.
    pub(super) place: (std::path::PathBuf, Vec<u8>),
}

/// One sample: [`Scan::collect`] reusing what `carry` holds from earlier samples, and
/// updating it.
pub(super) fn collect_with(
    root: &ProcRoot,
    opts: &ScanOptions,
    carry: &mut Carry,
) -> Result<(Scan, Findings), ScanError> {
    let mut findings = Findings::default();
    {
        let meminfo = root.meminfo()?;
        let mut coverage = Coverage::default();
        let users = crate::accounts::Accounts::of(root);
        let swap_total = meminfo.get("SwapTotal").unwrap_or(0);

        let pids = root.pids().unwrap_or_else(|e| {
            coverage.notes.push(format!("processes not listed: {e}"));
            Vec::new()
        });
        // Other namespaces are looked into from the host only: from a private IPC namespace
        // (a container, `unshare --ipc`, `--container`), the host's would be "other" too.
        let on_host = root.ns_link(None, "ipc").ok().flatten().map(|n| n.inode)
            == Some(crate::doctor::PROC_IPC_INIT_INO);
        let view = if opts.all_namespaces && on_host {
            if carry.walk_all {
                carry.ns = NsCache::default();
            }
            NsView::discover_with(root, &pids, opts.docker_socket.as_deref(), &mut carry.ns)
        } else {
            NsView::default()
        };

        let mut segments: Vec<(Option<u64>, shmkit_procfs::SysvShm)> = root
            .sysvipc_shm()
            .unwrap_or_else(|e| {
                coverage
                    .notes
                    .push(format!("System V segments not read: {e}"));
                Vec::new()
            })
            .into_iter()
            .map(|seg| (None, seg))
            .collect();
        let mut other_tables = Vec::new();
        // Each mount namespace's /dev/shm device, for its containers' report.
        let mut dev_shm_of: HashMap<u64, DeviceId> = HashMap::new();
        // Other namespaces are entered with setns, which only a live host has.
        if opts.all_namespaces && is_live(root) {
            for (ns, segs) in foreign_segments(root, &view, &mut coverage.notes) {
                segments.extend(segs.into_iter().map(|seg| (Some(ns), seg)));
            }
            for (ns, pid, infos) in foreign_mount_tables(root, &view, &mut coverage.notes) {
                // The last mount at a point is the one its path reaches.
                if let Some(m) = infos.iter().rev().find(|m| super::mounts::is_dev_shm(m)) {
                    if m.fs_type == "tmpfs" || m.fs_type == "ramfs" {
                        dev_shm_of.insert(ns, DeviceId::new(m.major, m.minor));
                    }
                }
                other_tables.push(MountTable {
                    ns: Some(ns),
                    via: Some(pid),
                    infos,
                });
            }
        }

        let (mounts, mut files, hidden) = scan_mounts(root, opts, other_tables, &mut coverage);
        findings.mount_dirs = mounts
            .iter()
            .map(|m| {
                // The shown mount point reads back to its bytes.
                let bytes = std::ffi::OsString::from_vec(crate::address::unescape(&m.mount_point));
                match m.location.pid {
                    Some(pid) if m.location.foreign => {
                        let mut under = std::ffi::OsString::from(format!("/proc/{pid}/root"));
                        under.push(&bytes);
                        root.path(under)
                    }
                    _ => root.path(bytes),
                }
            })
            .collect();
        let known = known(root, &mounts, &hidden);
        let alive: HashSet<u32> = pids.iter().copied().collect();
        let mounts_key = mounts_key(&known);
        if !carry.walk_all && carry.mounts.as_ref() != Some(&mounts_key) {
            // The walks classified mappings and descriptors against other mounts.
            carry.walk_all = true;
            findings.mounts_changed = true;
        }
        carry.mounts = Some(mounts_key);
        if carry.walk_all {
            carry.procs.clear();
            carry.creators.clear();
        }
        let Merged {
            procs,
            mut found,
            mut sysv_holders,
            unseen,
        } = if opts.holders {
            carry.procs.retain(|pid, _| alive.contains(pid));
            let new: Vec<u32> = pids
                .iter()
                .copied()
                .filter(|pid| !carry.procs.contains_key(pid))
                .collect();
            findings.walked = new.len();
            findings.reused = carry.procs.len();
            let mut vanished = Vec::new();
            for r in scan_processes(root, &new, &known) {
                match r.pid() {
                    Some(pid) => {
                        carry.procs.insert(pid, r);
                    }
                    None => vanished.push(r),
                }
            }
            // In pid order, so a sample that reuses walks joins them as one that does not.
            let results = pids
                .iter()
                .filter_map(|pid| carry.procs.get(pid).cloned())
                .chain(vanished)
                .collect();
            merge(root, results, &mut coverage)
        } else {
            Merged::default()
        };
        // Everything else we know of a creator is whether it is alive and when it started.
        carry.creators.retain(|pid, _| alive.contains(pid));
        let mut creator = |pid: u32, since: i64| -> (ProcessRef, Creator) {
            if pid == 0 {
                return (ProcessRef { pid, comm: None }, Creator::Unknown);
            }
            if !alive.contains(&pid) {
                return (ProcessRef { pid, comm: None }, Creator::Exited);
            }
            // Holders were read without their start time: read the creator's (once while it
            // lives, in a live scan).
            let info = carry
                .creators
                .entry(pid)
                .or_insert_with(|| read_proc_info(root, pid, known.boot_time))
                .clone();
            match info {
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
        for (ns, seg) in &segments {
            let holders = sysv_holders.remove(&(*ns, seg.shmid)).unwrap_or_default();
            let vmas: u64 = holders.values().map(|h| h.vmas).sum();
            findings.attach_gap.insert(
                (*ns, seg.shmid),
                i64::try_from(seg.nattch).unwrap_or(i64::MAX) - i64::try_from(vmas).unwrap_or(0),
            );
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
            obj.location = place(&view, Some(ns.or(view.ours_ipc)), None, ns.is_some());
            objects.push(obj);
        }

        // Attachments in IPC namespaces whose segments were not read (a fixture tree, or no
        // right to enter them): their segments are not listed.
        let read_ns: HashSet<Option<u64>> = segments.iter().map(|(ns, _)| *ns).collect();
        let unlisted: HashSet<u32> = sysv_holders
            .iter()
            .filter(|((ns, _), _)| ns.is_some() && !read_ns.contains(ns))
            .flat_map(|(_, pids)| pids.keys().copied())
            .collect();
        if !unlisted.is_empty() {
            coverage.notes.push(format!(
                "{} System V segments of other IPC namespaces (containers); those segments are not listed here",
                if unlisted.len() == 1 {
                    "1 process attaches".to_string()
                } else {
                    format!("{} processes attach", unlisted.len())
                }
            ));
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
            let id = FileId::new(file.dev, file.file.inode);
            let held = found.remove(&id);
            let ns = file.ns;
            let dir_and_name = file.place.clone();
            let mut obj = file_object(file, held, &procs, &users, sight);
            findings.files.push(FileSeen {
                id,
                name: obj.name.clone(),
                idle: matches!(obj.status.usage, Usage::Idle { .. }),
                place: dir_and_name,
            });
            obj.location = place(&view, None, Some(ns.or(view.ours_mnt)), ns.is_some());
            objects.push(obj);
        }
        // What only mappings and descriptors revealed: shared anonymous memory, memfds,
        // deleted tmpfs files, shared mappings of regular files.
        let mut rest: Vec<(Identity, Found)> = found.into_iter().collect();
        rest.sort_by_key(|(id, _)| *id);
        for (id, f) in rest {
            let Some(kind) = f.kind else { continue };
            // Held by a descriptor only: stat it through the descriptor, so its size and
            // resident bytes are fresh even when the walk that found it is not.
            let fd_path = match (f.stat_path.is_none(), f.reach) {
                (true, Some((pid, Handle::Fd(fd)))) if is_live(root) => {
                    Some(root.path(format!("/proc/{pid}/fd/{fd}")))
                }
                _ => None,
            };
            let stat_path = f.stat_path.as_ref().or(fd_path.as_ref());
            // A holder whose walk is reused may have put something else at that address or
            // descriptor number since: only the same file counts. (Not for regular files,
            // whose maps line names overlayfs's real inode and whose stat the overlay's.)
            let same = |m: &std::fs::Metadata| {
                let found = FileId::new(DeviceId::from_dev(m.dev()), m.ino());
                kind == Kind::File || !is_live(root) || found == id
            };
            let meta = stat_path
                .and_then(|p| std::fs::metadata(p).ok())
                .filter(same);
            if stat_path.is_some() && meta.is_none() {
                if f.allocated.is_none() {
                    coverage.objects_vanished += u64::from(kind != Kind::File);
                }
                // The holder no longer maps or holds it where its walk said.
                if kind != Kind::File {
                    findings.lost_holding.get_or_insert_with(|| f.name.clone());
                }
            }
            // A file of a mount that is hidden, or of another mount namespace, cannot be
            // reached by its path from here: only through a holder.
            let path_reachable = mounts.iter().any(|m| m.dev == id.dev);
            let mut obj = hidden_object(id, kind, f, meta, &procs, path_reachable);
            obj.user = users.user_name(obj.uid);
            if let Some((mount_point, _)) = known.shmem_devs.get(&id.dev) {
                obj.mount = Some(mount_point.clone());
            }
            // A file lives where its filesystem is mounted; memory that only mappings and
            // descriptors hold lives with its first holder.
            obj.location = match mounts.iter().find(|m| m.dev == id.dev) {
                Some(m) => m.location.clone(),
                None => {
                    let first = obj.holders.first().and_then(|h| view.of_pid.get(&h.pid));
                    match first {
                        Some(&Namespaces { ipc, mnt }) => {
                            let foreign = ipc != view.ours_ipc || mnt != view.ours_mnt;
                            let mut l = place(&view, None, Some(mnt), foreign);
                            l.namespaces.ipc = ipc;
                            l.container = view.owner(ipc, mnt).cloned().or(l.container);
                            l
                        }
                        None => Location::default(),
                    }
                }
            };
            objects.push(obj);
        }
        let mut mounts = mounts;
        for m in &mut mounts {
            m.location = place(
                &view,
                None,
                Some(m.location.namespaces.mnt.or(view.ours_mnt)),
                m.location.foreign,
            );
        }
        for obj in &mut objects {
            reach_inside(obj);
        }
        if let Some(ours) = view.ours_mnt {
            if let Some(m) = mounts.iter().find(|m| m.is_dev_shm && !m.location.foreign) {
                dev_shm_of.insert(ours, m.dev);
            }
        }
        let containers = container_infos(root, &view, &dev_shm_of);
        objects.sort_by(|a, b| {
            a.kind
                .cmp(&b.kind)
                .then(b.resident.unwrap_or(0).cmp(&a.resident.unwrap_or(0)))
                .then(a.name.cmp(&b.name))
        });
        Ok((
            Scan {
                objects,
                mounts,
                meminfo,
                swap_total,
                coverage,
                containers,
            },
            findings,
        ))
    }
}

fn mounts_key(known: &Known) -> MountsKey {
    let mut devs: Vec<DeviceId> = known.shmem_devs.keys().copied().collect();
    devs.sort_unstable();
    (devs, known.mounts_by_prefix.clone())
}

/// The location of an object in these namespaces (`None` = not known).
fn place(
    view: &NsView,
    ipc: Option<Option<u64>>,
    mnt: Option<Option<u64>>,
    foreign: bool,
) -> Location {
    let ipc = ipc.flatten();
    let mnt = mnt.flatten();
    let group = match (ipc, mnt) {
        (Some(i), _) => view.ipc.get(&i),
        (None, Some(m)) => view.mnt.get(&m),
        _ => None,
    };
    Location {
        namespaces: Namespaces { ipc, mnt },
        container: if foreign {
            view.owner(ipc, mnt).cloned()
        } else {
            None
        },
        foreign,
        pid: if foreign {
            group.and_then(|g| g.representative())
        } else {
            None
        },
    }
}

/// An object in another namespace is freed from inside it: its remedy says how.
fn reach_inside(obj: &mut Object) {
    if !obj.location.foreign {
        return;
    }
    if obj.remedy.is_none() || matches!(obj.address, Address::Held(_)) {
        return;
    }
    let address = obj.address.clone();
    if obj.status.deleted {
        return;
    }
    obj.remedy = match (&obj.location.container, obj.location.pid) {
        (Some(c), _) => Some(Remedy::RemoveInContainer {
            container: c.label().to_string(),
            address,
        }),
        (None, Some(pid)) => Some(Remedy::RemoveInNamespace { pid, address }),
        (None, None) => return,
    };
}

/// Each container's processes, namespaces, neighbours and memory cgroup.
fn container_infos(
    root: &ProcRoot,
    view: &NsView,
    dev_shm_of: &HashMap<u64, DeviceId>,
) -> Vec<ContainerInfo> {
    let mut pids_of: std::collections::BTreeMap<&str, Vec<u32>> = Default::default();
    for (pid, id) in &view.container_of {
        pids_of.entry(id.as_str()).or_default().push(*pid);
    }
    let label = |id: &str| {
        view.containers
            .get(id)
            .map_or(id.to_string(), |c| c.label().to_string())
    };
    let mut out = Vec::new();
    for (id, c) in &view.containers {
        let mut pids = pids_of.remove(id.as_str()).unwrap_or_default();
        pids.sort_unstable();
        let Namespaces { ipc, mnt } = pids
            .first()
            .and_then(|p| view.of_pid.get(p))
            .copied()
            .unwrap_or_default();
        let group = ipc.and_then(|i| view.ipc.get(&i));
        let ipc_owner = if ipc.is_some() && ipc == view.ours_ipc {
            Some("host".to_string())
        } else {
            group
                .and_then(|g| g.owner.as_ref())
                .filter(|o| *o != id)
                .map(|o| label(o))
        };
        let ipc_shared_with = group
            .map(|g| {
                g.members
                    .iter()
                    .filter(|m| *m != id)
                    .map(|m| label(m))
                    .collect()
            })
            .unwrap_or_default();
        out.push(ContainerInfo {
            container: c.clone(),
            pids,
            namespaces: Namespaces { ipc, mnt },
            ipc_owner,
            ipc_shared_with,
            dev_shm: mnt.and_then(|m| dev_shm_of.get(&m).copied()),
            cgroup: view
                .cgroups
                .get(id)
                .and_then(|lines| super::container::cgroup_shmem(root, lines)),
        });
    }
    out.sort_by(|a, b| a.container.label().cmp(b.container.label()));
    out
}

/// What the per-process pass needs to know of the host's mounts.
fn known(root: &ProcRoot, mounts: &[TmpfsMount], hidden: &[HiddenMount]) -> Known {
    // Every tmpfs and ramfs device of every mount table, also those hidden under another
    // mount: a file of one that a process maps is shmem however it is reached.
    let mut shmem_devs: HashMap<DeviceId, (String, bool)> = hidden
        .iter()
        .map(|m| (m.dev, (m.mount_point.clone(), m.is_dev_shm)))
        .collect();
    for m in mounts {
        shmem_devs.insert(m.dev, (m.mount_point.clone(), m.is_dev_shm));
    }
    // Descriptors name paths, not devices: a path under one of our tmpfs mount points is a
    // candidate, longest mount point first so /dev/shm wins over /dev.
    let mut mounts_by_prefix: Vec<(String, DeviceId, bool)> = mounts
        .iter()
        .filter(|m| !m.location.foreign)
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
            .map(|st| DeviceId::from_dev(st.dev)),
        // A fixture tree's maps are text files.
        procmap_query: std::sync::atomic::AtomicBool::new(is_live(root)),
        read_threads: true,
    }
}

/// Who holds some files now, asked again right before removing them.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HoldersNow {
    /// For each (device major, minor, inode) asked about that some process maps or holds
    /// open: those processes (any of their threads).
    pub holders: BTreeMap<FileId, Vec<Holder>>,
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
pub fn holders_now(root: &ProcRoot, ids: &[FileId], shmids: &[i32]) -> HoldersNow {
    let mut coverage = Coverage::default();
    let opts = ScanOptions {
        top_files: 0,
        holders: true,
        walk_limit: 0,
        all_namespaces: false,
        docker_socket: None,
    };
    let (mounts, _, hidden) = scan_mounts(root, &opts, Vec::new(), &mut coverage);
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
        // Our namespace's attachments (a process of another namespace attaches its own).
        if let Some(h) = merged.sysv_holders.get(&(None, *shmid)) {
            let holders = h
                .iter()
                .map(|(&pid, h)| holder(&merged.procs, pid, HoldVia::Map, h.mapped))
                .collect();
            out.sysv.insert(*shmid, holders);
        }
    }
    out
}
