//! The per-container section of the memory report: for each container, its `/dev/shm` use
//! against its size, its System V total, the shared anonymous memory and memfds its processes
//! map, and the shmem charged to its memory cgroup against the cgroup's limit.
//!
//! Shared memory counts toward a memory cgroup's limit (it is charged to the cgroup that first
//! touched each page), so a container can be OOM-killed for its `/dev/shm`; and a tmpfs that
//! is full makes the next page fault on a mapped, sparse file a `SIGBUS` (a `write` gets
//! `ENOSPC`). Both are shown before they happen.

use crate::scan::{Container, Kind, Scan};
use serde::Serialize;
use std::collections::HashSet;

/// How full a `/dev/shm` may get before the report warns, in percent.
pub const DEV_SHM_WARN_PERCENT: u64 = 80;

/// The warning of a nearly full `/dev/shm`.
pub const DEV_SHM_WARNING: &str = "the next writes get SIGBUS/ENOSPC; raise --shm-size";

/// A container's `/dev/shm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct DevShmUse {
    /// Its size (`--shm-size`); `None` for a ramfs (no limit).
    pub size: Option<u64>,
    /// Bytes allocated in it.
    pub used: u64,
    /// `used` as a percentage of `size`, rounded down.
    pub percent: Option<u64>,
    /// Files in it.
    pub files: u64,
    /// Set from [`DEV_SHM_WARN_PERCENT`] full.
    pub warning: Option<String>,
}

/// One container's shared memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct ContainerReport {
    /// Runtime, id, name, pod.
    pub container: Container,
    /// Its processes.
    pub processes: usize,
    /// Whose IPC namespace it uses when not its own (`host`, or a container's name).
    pub ipc_owner: Option<String>,
    /// The containers that share its IPC namespace.
    pub ipc_shared_with: Vec<String>,
    /// Its `/dev/shm`, if one was found in its mount namespace.
    pub dev_shm: Option<DevShmUse>,
    /// Resident + swapped bytes of the System V segments of its IPC namespace (counted for
    /// the namespace's owner only).
    pub sysv: u64,
    /// How many segments.
    pub sysv_segments: usize,
    /// Resident bytes of shared anonymous memory and memfds its processes map or hold.
    pub shared_anon_memfd: u64,
    /// Shmem charged to its memory cgroup (memory.stat).
    pub cgroup_shmem: Option<u64>,
    /// Its memory cgroup's limit (`None`: none).
    pub cgroup_limit: Option<u64>,
    /// Set when shared memory takes a quarter of the limit or more, or `/dev/shm` could grow
    /// past the limit.
    pub cgroup_warning: Option<String>,
}

/// Every container's report, in the scan's order (by name).
pub fn containers(scan: &Scan) -> Vec<ContainerReport> {
    let human = crate::render::size::human;
    scan.containers
        .iter()
        .map(|info| {
            let c = &info.container;
            let dev_shm = info.dev_shm.and_then(|dev| {
                let m = scan.mounts.iter().find(|m| m.dev == dev)?;
                let percent = m
                    .size_limit
                    .filter(|&s| s > 0)
                    .map(|s| m.used.saturating_mul(100) / s);
                Some(DevShmUse {
                    size: m.size_limit,
                    used: m.used,
                    percent,
                    files: m.files,
                    warning: percent.filter(|&p| p >= DEV_SHM_WARN_PERCENT).map(|p| {
                        format!(
                            "/dev/shm is {p}% full ({} of {}): {DEV_SHM_WARNING}",
                            human(m.used),
                            human(m.size_limit.unwrap_or(0))
                        )
                    }),
                })
            });
            let owns_ipc = info.ipc_owner.is_none();
            let segments: Vec<_> = scan
                .objects
                .iter()
                .filter(|o| o.kind == Kind::Sysv && owns_ipc)
                .filter(|o| o.location.namespaces.ipc == info.namespaces.ipc)
                .collect();
            let pids: HashSet<u32> = info.pids.iter().copied().collect();
            let shared_anon_memfd = scan
                .objects
                .iter()
                .filter(|o| matches!(o.kind, Kind::SharedAnon | Kind::Memfd))
                .filter(|o| o.holders.iter().any(|h| pids.contains(&h.pid)))
                .map(|o| o.resident.unwrap_or(0))
                .sum();
            let cg = info.cgroup.as_ref();
            let (cgroup_shmem, cgroup_limit) = (cg.and_then(|g| g.shmem), cg.and_then(|g| g.limit));
            let cgroup_warning = match (cgroup_shmem, cgroup_limit, &dev_shm) {
                (_, Some(limit), Some(DevShmUse { size: Some(size), .. })) if *size > limit => {
                    Some(format!(
                        "/dev/shm ({}) is larger than the memory limit ({}): filling it gets the container OOM-killed before ENOSPC",
                        human(*size),
                        human(limit)
                    ))
                }
                (Some(shmem), Some(limit), _) if shmem.saturating_mul(4) >= limit => Some(format!(
                    "shared memory is {}% of the memory limit ({} of {}): it counts toward the OOM killer's limit",
                    shmem.saturating_mul(100) / limit.max(1),
                    human(shmem),
                    human(limit)
                )),
                _ => None,
            };
            ContainerReport {
                container: c.clone(),
                processes: info.pids.len(),
                ipc_owner: info.ipc_owner.clone(),
                ipc_shared_with: info.ipc_shared_with.clone(),
                dev_shm,
                sysv: segments
                    .iter()
                    .map(|o| o.resident.unwrap_or(0) + o.swapped.unwrap_or(0))
                    .sum(),
                sysv_segments: segments.len(),
                shared_anon_memfd,
                cgroup_shmem,
                cgroup_limit,
                cgroup_warning,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{
        ContainerInfo, Coverage, HoldVia, Holder, Location, Namespaces, Object, TmpfsMount,
    };

    const MIB: u64 = 1 << 20;

    fn container(name: &str) -> Container {
        Container {
            runtime: "docker".into(),
            id: format!("{name:0>64}"),
            name: Some(name.into()),
            pod: None,
        }
    }

    fn in_ns(kind: Kind, resident: u64, ipc: u64, holder: Option<u32>) -> Object {
        let address = crate::address::Address::Sysv(crate::address::SysvAddress::Id(0));
        let mut o = Object::new(kind, address, "x");
        o.size = resident;
        o.resident = Some(resident);
        o.swapped = Some(0);
        o.mode = 0o600;
        o.holders = holder
            .map(|pid| Holder::new(pid, "app", 0, HoldVia::Map, resident))
            .into_iter()
            .collect();
        o.location.namespaces.ipc = Some(ipc);
        o.location.foreign = true;
        o
    }

    fn info(name: &str, pids: Vec<u32>, ipc: u64, owner: Option<&str>) -> ContainerInfo {
        ContainerInfo {
            container: container(name),
            pids,
            namespaces: Namespaces {
                ipc: Some(ipc),
                mnt: Some(ipc + 1),
            },
            ipc_owner: owner.map(str::to_string),
            ipc_shared_with: Vec::new(),
            cgroup: Some(crate::scan::container::CgroupShmem {
                dir: "/sys/fs/cgroup/memory/docker/x".into(),
                shmem: Some(15 * MIB),
                limit: Some(12 * MIB),
                usage: None,
            }),
            dev_shm: Some(crate::DeviceId::new(0, 77)),
        }
    }

    fn scan() -> Scan {
        Scan {
            objects: vec![
                in_ns(Kind::Sysv, 8 * MIB, 100, None),
                in_ns(Kind::Sysv, 2 * MIB, 200, None),
                in_ns(Kind::Memfd, 3 * MIB, 100, Some(41)),
            ],
            mounts: vec![TmpfsMount {
                mount_point: "/dev/shm".into(),
                fs_type: "tmpfs".into(),
                dev: crate::DeviceId::new(0, 77),
                size_limit: Some(16 * MIB),
                used: 16 * MIB * 81 / 100,
                files: 1,
                is_dev_shm: true,
                location: Location::default(),
            }],
            meminfo: shmkit_procfs::meminfo::parse("MemTotal: 1024 kB\nMemFree: 512 kB\n")
                .expect("meminfo"),
            swap_total: 0,
            coverage: Coverage::default(),
            containers: vec![
                info("cache", vec![40, 41], 100, None),
                info("worker", vec![50], 100, Some("cache")),
            ],
        }
    }

    #[test]
    fn dev_shm_from_80_percent_warns_of_sigbus() {
        let r = containers(&scan());
        let d = r[0].dev_shm.as_ref().expect("a /dev/shm");
        assert_eq!(d.percent, Some(80));
        assert!(d
            .warning
            .as_deref()
            .is_some_and(|w| w.ends_with(DEV_SHM_WARNING)));
    }

    #[test]
    fn system_v_counts_for_the_namespace_owner_only_and_memfds_for_their_holders() {
        let r = containers(&scan());
        assert_eq!((r[0].sysv, r[0].sysv_segments), (8 * MIB, 1));
        assert_eq!(
            (r[1].sysv, r[1].sysv_segments),
            (0, 0),
            "worker joined cache's"
        );
        assert_eq!(r[0].shared_anon_memfd, 3 * MIB);
        assert_eq!(r[1].shared_anon_memfd, 0);
    }

    #[test]
    fn a_dev_shm_larger_than_the_memory_limit_is_an_oom_warning() {
        let r = containers(&scan());
        let w = r[0].cgroup_warning.as_deref().expect("a warning");
        assert!(w.contains("larger than the memory limit"), "{w}");
    }
}
