//! Every IPC and mount namespace on the host, who lives in each, and what they hold that the
//! scan's own namespaces do not show: the System V segments of other IPC namespaces and the
//! mount tables of other mount namespaces.
//!
//! Kernel facts this pass relies on:
//! - `/proc/PID/ns/{ipc,mnt}` name a namespace by inode; processes with the same inode share
//!   it. One process per namespace is enough to reach it (its representative).
//! - `/proc/sysvipc/shm` lists the segments of the IPC namespace of the thread that opens
//!   it, so each namespace's list is read on a helper thread that joined it with `setns`
//!   (allowed per thread for IPC; see [`crate::sys::ns`]). Its `cpid`/`lpid` columns are
//!   printed in the reader's pid namespace (the kernel keeps a `struct pid`), so they are
//!   host pids here, as for our own segments.
//! - A mount namespace cannot be joined by a multi-threaded process, and need not be:
//!   `/proc/PID/mountinfo` lists its mounts and `/proc/PID/root/MOUNTPOINT` reaches each one
//!   through that process's root, in its namespace.
//! - A namespace shared by several containers (`--ipc=shareable` and `--ipc=container:X`,
//!   the containers of a pod) belongs to the container whose process has lived in it
//!   longest: the one that made it (the pod's sandbox, the shareable container).

use super::container::{self, Container};
use super::model::Namespaces;
use crate::sys;
use shmkit_procfs::{MountInfo, ProcRoot, SysvShm};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;

/// The processes of one namespace and the containers they belong to.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct NsGroup {
    /// Its processes, lowest pid first.
    pub pids: Vec<u32>,
    /// The container that owns it (`None`: the host, or a namespace no runtime made, such as
    /// one from `unshare`).
    pub owner: Option<String>,
    /// Every container with a process in it (ids).
    pub members: BTreeSet<String>,
}

impl NsGroup {
    /// A process of the namespace, to reach it through.
    pub fn representative(&self) -> Option<u32> {
        self.pids.first().copied()
    }
}

/// What the scan knows of namespaces and containers.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct NsView {
    /// The scan's own IPC namespace.
    pub ours_ipc: Option<u64>,
    /// The scan's own mount namespace.
    pub ours_mnt: Option<u64>,
    /// Each process's IPC and mount namespace inodes.
    pub of_pid: HashMap<u32, Namespaces>,
    /// IPC namespaces by inode.
    pub ipc: BTreeMap<u64, NsGroup>,
    /// Mount namespaces by inode.
    pub mnt: BTreeMap<u64, NsGroup>,
    /// Containers by id, named where the runtime told.
    pub containers: BTreeMap<String, Container>,
    /// The container of each process outside our namespaces.
    pub container_of: HashMap<u32, String>,
    /// The cgroup lines of one process of each container (for its memory cgroup).
    pub cgroups: HashMap<String, Vec<shmkit_procfs::CgroupLine>>,
}

impl NsView {
    /// Groups `pids` by namespace and names the containers of the processes outside ours.
    /// Only processes in a namespace other than ours have their cgroup read: a host with no
    /// containers pays two `readlink`s per process.
    pub fn discover(
        root: &ProcRoot,
        pids: &[u32],
        docker_socket: Option<&std::path::Path>,
    ) -> NsView {
        NsView::discover_with(root, pids, docker_socket, &mut NsCache::default())
    }

    /// [`NsView::discover`], reusing what `cache` learnt in earlier calls: the namespaces of
    /// processes it saw before (read again only for new pids), the container of each
    /// namespace pair, and Docker's names (asked again only for a container it has not
    /// named). A live view calls this every sample and empties the cache every few.
    pub fn discover_with(
        root: &ProcRoot,
        pids: &[u32],
        docker_socket: Option<&std::path::Path>,
        cache: &mut NsCache,
    ) -> NsView {
        let mut view = NsView {
            ours_ipc: root.ns_link(None, "ipc").ok().flatten().map(|n| n.inode),
            ours_mnt: root.ns_link(None, "mnt").ok().flatten().map(|n| n.inode),
            ..NsView::default()
        };
        let alive: std::collections::HashSet<u32> = pids.iter().copied().collect();
        cache.links.retain(|pid, _| alive.contains(pid));
        let new: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|pid| !cache.links.contains_key(pid))
            .collect();
        // Two readlinks per process, on every core (the kernel checks ptrace access for
        // each).
        for (pid, ipc, mnt) in ns_links(root, &new) {
            // A process that vanished or may not be read is asked again next time.
            if ipc.is_some() || mnt.is_some() {
                cache.links.insert(pid, (ipc, mnt));
            }
        }
        // Processes of one container share both namespaces: one cgroup read per pair names
        // the container of all of them.
        for &pid in pids {
            let Some(&(ipc, mnt)) = cache.links.get(&pid) else {
                continue;
            };
            view.of_pid.insert(pid, Namespaces { ipc, mnt });
            if let Some(i) = ipc {
                view.ipc.entry(i).or_default().pids.push(pid);
            }
            if let Some(m) = mnt {
                view.mnt.entry(m).or_default().pids.push(pid);
            }
            let foreign =
                (ipc.is_some() && ipc != view.ours_ipc) || (mnt.is_some() && mnt != view.ours_mnt);
            if !foreign {
                continue;
            }
            let id = match cache.pairs.get(&(ipc, mnt)) {
                Some(known) => known.clone(),
                None => {
                    let found = container::of_process(root, pid).map(|(c, lines)| {
                        let id = c.id.clone();
                        cache.containers.entry(id.clone()).or_insert((c, lines));
                        id
                    });
                    // A process that vanished says nothing of its neighbours: ask the next.
                    if found.is_some() || root.pid_stat(pid).ok().flatten().is_some() {
                        cache.pairs.insert((ipc, mnt), found.clone());
                    }
                    found
                }
            };
            if let Some(id) = id {
                if let Some((c, lines)) = cache.containers.get(&id) {
                    view.cgroups
                        .entry(id.clone())
                        .or_insert_with(|| lines.clone());
                    view.containers
                        .entry(id.clone())
                        .or_insert_with(|| c.clone());
                }
                view.container_of.insert(pid, id);
            }
        }
        let unnamed = view
            .containers
            .values()
            .any(|c| c.runtime == "docker" && !cache.docker_names.contains_key(&c.id));
        if let Some(socket) = docker_socket.filter(|_| unnamed) {
            // No daemon, or one that does not answer in time: ids without names, and the
            // daemon is asked again next time.
            if let Ok(names) = container::docker_names(socket) {
                for c in view.containers.values().filter(|c| c.runtime == "docker") {
                    cache
                        .docker_names
                        .insert(c.id.clone(), names.get(&c.id).cloned());
                }
            }
        }
        for c in view.containers.values_mut() {
            if let Some(name) = cache.docker_names.get(&c.id) {
                c.name = name.clone();
            }
        }
        let ours = (view.ours_ipc, view.ours_mnt);
        let container_of = &view.container_of;
        for (groups, our) in [(&mut view.ipc, ours.0), (&mut view.mnt, ours.1)] {
            for (inode, group) in groups.iter_mut() {
                group.members = group
                    .pids
                    .iter()
                    .filter_map(|p| container_of.get(p).cloned())
                    .collect();
                if Some(*inode) != our {
                    group.owner = owner(root, group, container_of);
                }
            }
        }
        view
    }

    /// The container a namespace pair places an object in: the IPC namespace's owner for
    /// System V, the mount namespace's for files; `None` on the host or in a namespace no
    /// runtime made.
    pub fn owner(&self, ipc: Option<u64>, mnt: Option<u64>) -> Option<&Container> {
        let id = match (ipc, mnt) {
            (Some(i), _) => self.ipc.get(&i)?.owner.as_ref(),
            (None, Some(m)) => self.mnt.get(&m)?.owner.as_ref(),
            (None, None) => None,
        }?;
        self.containers.get(id)
    }

    /// The other IPC namespaces, with a process of each.
    pub(crate) fn foreign_ipc(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.ipc
            .iter()
            .filter(|(i, _)| Some(**i) != self.ours_ipc)
            .filter_map(|(i, g)| Some((*i, g.representative()?)))
    }

    /// The other mount namespaces, with a process of each.
    pub(crate) fn foreign_mnt(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.mnt
            .iter()
            .filter(|(m, _)| Some(**m) != self.ours_mnt)
            .filter_map(|(m, g)| Some((*m, g.representative()?)))
    }
}

/// What [`NsView::discover_with`] keeps between calls.
#[derive(Debug, Clone, Default)]
pub struct NsCache {
    /// Each process's IPC and mount namespace inodes.
    links: HashMap<u32, (Option<u64>, Option<u64>)>,
    /// The container of each namespace pair outside ours (`None`: no runtime made it).
    pairs: HashMap<(Option<u64>, Option<u64>), Option<String>>,
    /// Containers by id, with the cgroup lines of one of their processes.
    containers: HashMap<String, (Container, Vec<shmkit_procfs::CgroupLine>)>,
    /// Docker's name for each of its containers (`None`: it gave none).
    docker_names: HashMap<String, Option<String>>,
}

/// Each process's IPC and mount namespace inodes, read on every core.
fn ns_links(root: &ProcRoot, pids: &[u32]) -> Vec<(u32, Option<u64>, Option<u64>)> {
    on_every_core(pids, |&pid| {
        let inode = |kind| {
            root.ns_link(Some(pid), kind)
                .ok()
                .flatten()
                .map(|n| n.inode)
        };
        (pid, inode("ipc"), inode("mnt"))
    })
}

/// `items.iter().map(f)`, spread over the cores in order: the kernel formats `/proc` files
/// on the reading thread, which is where the time goes.
fn on_every_core<I: Sync, T: Send>(items: &[I], f: impl Fn(&I) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = items.len().div_ceil(threads).max(16);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// The container whose process has lived longest in the namespace; `None` if that process
/// is in no container. Start times are read only when more than one party shares it.
fn owner(root: &ProcRoot, group: &NsGroup, container_of: &HashMap<u32, String>) -> Option<String> {
    let in_none = group.pids.iter().any(|p| !container_of.contains_key(p));
    if group.members.len() == 1 && !in_none {
        return group.members.first().cloned();
    }
    if group.members.is_empty() {
        return None;
    }
    let eldest = group
        .pids
        .iter()
        .filter_map(|&p| Some((root.pid_stat(p).ok()??.starttime, p)))
        .min()?;
    container_of.get(&eldest.1).cloned()
}

/// The System V segments of every IPC namespace other than ours, each read from inside it.
/// A namespace that cannot be joined (not root) is reported in the notes.
pub fn foreign_segments(
    root: &ProcRoot,
    view: &NsView,
    notes: &mut Vec<String>,
) -> Vec<(u64, Vec<SysvShm>)> {
    let mut items: Vec<(u64, File)> = Vec::new();
    let mut unreachable = 0usize;
    for (inode, pid) in view.foreign_ipc() {
        match File::open(root.path(format!("/proc/{pid}/ns/ipc"))) {
            Ok(f) => items.push((inode, f)),
            // Its last process exited since: the namespace and its segments are gone.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => unreachable += 1,
        }
    }
    let mut out = Vec::new();
    let mut refused = 0usize;
    // The helper thread reads the live /proc/sysvipc/shm: a namespace file only exists on a
    // live host.
    let results = sys::ns::for_each_ipc_namespace(&items, |_| ProcRoot::live().sysvipc_shm());
    for ((inode, _), r) in items.iter().zip(results) {
        match r {
            Ok(Ok(segs)) => out.push((*inode, segs)),
            Ok(Err(e)) => notes.push(format!(
                "System V segments of IPC namespace {inode} not read: {e}"
            )),
            Err(_) => refused += 1,
        }
    }
    if refused + unreachable > 0 {
        notes.push(format!(
            "the System V segments of {} are not listed: entering them needs root (CAP_SYS_ADMIN)",
            plural(
                refused + unreachable,
                "other IPC namespace (a container)",
                "other IPC namespaces (containers)"
            )
        ));
    }
    out
}

/// The mount table of every mount namespace other than ours, with the process to reach it
/// through.
pub fn foreign_mount_tables(
    root: &ProcRoot,
    view: &NsView,
    notes: &mut Vec<String>,
) -> Vec<(u64, u32, Vec<MountInfo>)> {
    let mut out = Vec::new();
    let mut unread = 0usize;
    let namespaces: Vec<(u64, u32)> = view.foreign_mnt().collect();
    let tables = on_every_core(&namespaces, |&(inode, pid)| {
        (inode, pid, root.mountinfo(Some(pid)))
    });
    for (inode, pid, infos) in tables {
        match infos {
            Ok(infos) => out.push((inode, pid, infos)),
            // Its last process exited since: nothing of it is left to list.
            Err(e) if e.is_not_found() => {}
            Err(_) => unread += 1,
        }
    }
    if unread > 0 {
        notes.push(format!(
            "the mounts of {} could not be read (run as root)",
            plural(unread, "other mount namespace", "other mount namespaces")
        ));
    }
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
