//! Container identity from `/proc/PID/cgroup` paths, and the memory cgroup files
//! (`memory.stat`, `memory.max`, `memory.limit_in_bytes`).
//!
//! Every runtime names a container's cgroup after its id, in one of a few forms:
//!
//! | runtime | cgroupfs driver | systemd driver |
//! |---|---|---|
//! | Docker | `/docker/ID` | `/system.slice/docker-ID.scope` |
//! | containerd (nerdctl) | `/NAMESPACE/ID` | `/system.slice/nerdctl-ID.scope` |
//! | CRI-O | `…/crio-ID` | `…/crio-ID.scope` |
//! | Podman | `/libpod_parent/libpod-ID` | `/machine.slice/libpod-ID.scope[/container]` |
//! | Kubernetes | `/kubepods/burstable/podUID/ID` | `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podUID.slice/cri-containerd-ID.scope` |
//!
//! In the systemd form of a pod the UID's dashes are written as underscores (a dash separates
//! slice levels). A container nested in another (Docker in Docker) shows both ids: the innermost
//! is the one that owns the process. The conmon monitor of CRI-O and Podman sits in
//! `crio-conmon-ID.scope` / `libpod-conmon-ID.scope`: it is not the container.

use crate::cgroup::CgroupLine;
use crate::error::ParseError;
use crate::util::numbered_lines;

/// The engine that runs a container, or Kubernetes for a container of a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Runtime {
    /// Docker Engine (`docker run`).
    Docker,
    /// containerd without Kubernetes (`nerdctl`, `ctr`).
    Containerd,
    /// CRI-O outside a pod path.
    Crio,
    /// Podman.
    Podman,
    /// A container of a Kubernetes pod (whatever engine runs it).
    Kubernetes,
}

impl Runtime {
    /// The name used in JSON and tables: `docker`, `containerd`, `cri-o`, `podman`,
    /// `kubernetes`.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::Crio => "cri-o",
            Runtime::Podman => "podman",
            Runtime::Kubernetes => "kubernetes",
        }
    }
}

/// Who a cgroup path says a process belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContainerId {
    /// The runtime.
    pub runtime: Runtime,
    /// The full container id (64 hex digits).
    pub id: String,
    /// The Kubernetes pod UID (with dashes), for a container of a pod.
    pub pod_uid: Option<String>,
}

/// The id in a path component `PREFIX-ID[.scope]`, or a bare `ID`: 64 lowercase hex digits.
fn hex_id(text: &str) -> Option<&str> {
    (text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())).then_some(text)
}

/// A pod UID from a path component: `podUID` (cgroupfs) or `kubepods[-QOS]-podUID.slice`
/// (systemd, dashes written as underscores).
fn pod_uid(component: &str) -> Option<String> {
    let rest = component.strip_suffix(".slice").unwrap_or(component);
    let at = rest.rfind("pod")?;
    let (before, after) = (rest.get(..at)?, rest.get(at + 3..)?);
    if !(before.is_empty() || before.starts_with("kubepods") && before.ends_with('-')) {
        return None;
    }
    let uid = after.replace('_', "-");
    // A UID is 32 hex digits and 4 dashes; a static pod's is a hash of the same length.
    let ok = uid.len() == 36 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    ok.then_some(uid)
}

/// The container a cgroup path names, if any.
pub fn from_path(path: &str) -> Option<ContainerId> {
    let path = path.strip_suffix(" (deleted)").unwrap_or(path);
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let in_pods = parts.iter().any(|p| p.starts_with("kubepods"));
    let pod = parts.iter().find_map(|p| pod_uid(p));
    // The innermost id wins (a container nested in another).
    for (i, part) in parts.iter().enumerate().rev() {
        let name = part.strip_suffix(".scope").unwrap_or(part);
        const PREFIXES: [(&str, Runtime); 6] = [
            ("docker-", Runtime::Docker),
            ("cri-containerd-", Runtime::Containerd),
            ("crio-", Runtime::Crio),
            ("libpod-", Runtime::Podman),
            ("nerdctl-", Runtime::Containerd),
            ("containerd-", Runtime::Containerd),
        ];
        let found = PREFIXES
            .iter()
            .find_map(|(prefix, rt)| Some((hex_id(name.strip_prefix(prefix)?)?, *rt)))
            .or_else(|| {
                let id = hex_id(name)?;
                let parent = i.checked_sub(1).and_then(|p| parts.get(p)).copied();
                let rt = match parent {
                    Some("docker") => Runtime::Docker,
                    Some("libpod_parent") => Runtime::Podman,
                    _ if in_pods => Runtime::Kubernetes,
                    // containerd's cgroupfs form is /NAMESPACE/ID.
                    Some(_) => Runtime::Containerd,
                    None => return None,
                };
                Some((id, rt))
            });
        if let Some((id, rt)) = found {
            return Some(ContainerId {
                runtime: if in_pods { Runtime::Kubernetes } else { rt },
                id: id.to_ascii_lowercase(),
                pod_uid: if in_pods { pod.clone() } else { None },
            });
        }
    }
    None
}

/// The container a process's cgroups name: the v2 line first, then the v1 memory hierarchy,
/// then any other v1 hierarchy.
pub fn from_cgroup(lines: &[CgroupLine]) -> Option<ContainerId> {
    let v2 = lines.iter().filter(|l| l.is_v2());
    let memory = lines.iter().filter(|l| l.has_controller("memory"));
    let rest = lines.iter().filter(|l| !l.is_v2());
    v2.chain(memory)
        .chain(rest)
        .find_map(|l| from_path(&l.path))
}

/// The memory cgroup a process is in, as a directory below `/sys/fs/cgroup` to try in order:
/// v1's `memory/PATH` when the memory controller is on a v1 hierarchy, else the v2 `PATH`
/// (also under `unified/` on a hybrid host, where it has no memory controller).
pub fn memory_cgroup_dirs(lines: &[CgroupLine]) -> Vec<String> {
    let trim = |p: &str| {
        let p = p.strip_suffix(" (deleted)").unwrap_or(p);
        p.trim_end_matches('/').to_string()
    };
    if let Some(v1) = lines.iter().find(|l| l.has_controller("memory")) {
        return vec![format!("/sys/fs/cgroup/memory{}", trim(&v1.path))];
    }
    match lines.iter().find(|l| l.is_v2()) {
        Some(v2) => vec![format!("/sys/fs/cgroup{}", trim(&v2.path))],
        None => Vec::new(),
    }
}

/// One field of `memory.stat` (`shmem 1234`), in bytes.
pub fn memory_stat_field(text: &str, name: &str) -> Result<Option<u64>, ParseError> {
    for (line, l) in numbered_lines(text) {
        let mut it = l.split_ascii_whitespace();
        if it.next() == Some(name) {
            let value = it
                .next()
                .ok_or_else(|| ParseError::new(line, format!("{name} has no value")))?;
            return value
                .parse()
                .map(Some)
                .map_err(|_| ParseError::new(line, format!("{name}: not a number: {value:?}")));
        }
    }
    Ok(None)
}

/// The shmem charged to a memory cgroup from its `memory.stat`: v2 `shmem`; v1
/// `total_shmem` (with its child cgroups) or else `shmem`.
pub fn memory_stat_shmem(text: &str) -> Result<Option<u64>, ParseError> {
    match memory_stat_field(text, "total_shmem")? {
        Some(v) => Ok(Some(v)),
        None => memory_stat_field(text, "shmem"),
    }
}

/// cgroup v1 reports "no limit" as `PAGE_COUNTER_MAX * PAGE_SIZE`; anything this large is
/// no limit.
const V1_UNLIMITED: u64 = 1 << 62;

/// A memory limit: `memory.max` (`max` or bytes) or `memory.limit_in_bytes`. `None` for no
/// limit.
pub fn memory_limit(text: &str) -> Result<Option<u64>, ParseError> {
    let t = text.trim();
    if t == "max" {
        return Ok(None);
    }
    let v: u64 = t
        .parse()
        .map_err(|_| ParseError::new(1, format!("not a memory limit: {t:?}")))?;
    Ok((v < V1_UNLIMITED).then_some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f5ad0c8e2c3b4a1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708192a3";

    #[test]
    fn docker_cgroupfs_and_systemd() {
        let c = from_path(&format!("/docker/{ID}")).unwrap();
        assert_eq!(
            (c.runtime, c.id.as_str(), c.pod_uid),
            (Runtime::Docker, ID, None)
        );
        let c = from_path(&format!("/system.slice/docker-{ID}.scope")).unwrap();
        assert_eq!(c.runtime, Runtime::Docker);
        assert_eq!(c.id, ID);
    }

    #[test]
    fn the_innermost_id_of_nested_containers_wins() {
        let inner = ID.replace('3', "4");
        let c = from_path(&format!("/docker/{ID}/docker/{inner}")).unwrap();
        assert_eq!(c.id, inner);
    }

    #[test]
    fn kubernetes_pod_uid_with_dashes_or_underscores() {
        let uid = "0b5a9e2c-5c8c-4f3e-9b1a-2d6b7e8f9a01";
        let c = from_path(&format!("/kubepods/burstable/pod{uid}/{ID}")).unwrap();
        assert_eq!(c.runtime, Runtime::Kubernetes);
        assert_eq!(c.pod_uid.as_deref(), Some(uid));
        let c = from_path(&format!(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-{ID}.scope",
            uid.replace('-', "_")
        ))
        .unwrap();
        assert_eq!(c.pod_uid.as_deref(), Some(uid));
        assert_eq!(c.id, ID);
        // Guaranteed QoS has no class level.
        let c = from_path(&format!(
            "/kubepods.slice/kubepods-pod{}.slice/crio-{ID}.scope",
            uid.replace('-', "_")
        ))
        .unwrap();
        assert_eq!(c.pod_uid.as_deref(), Some(uid));
    }

    #[test]
    fn crio_podman_and_their_monitors() {
        assert_eq!(
            from_path(&format!("/machine.slice/libpod-{ID}.scope/container"))
                .unwrap()
                .runtime,
            Runtime::Podman
        );
        assert_eq!(
            from_path(&format!("/system.slice/crio-{ID}.scope"))
                .unwrap()
                .runtime,
            Runtime::Crio
        );
        assert_eq!(
            from_path(&format!("/machine.slice/libpod-conmon-{ID}.scope")),
            None
        );
    }

    #[test]
    fn host_paths_are_no_container() {
        for p in [
            "/",
            "/user.slice/user-0.slice/session-1.scope",
            "/system.slice/docker.service",
            "/docker",
            "/init.scope",
            "/docker/abc (deleted)",
        ] {
            assert_eq!(from_path(p), None, "{p}");
        }
        let c = from_path(&format!("/docker/{ID} (deleted)")).unwrap();
        assert_eq!(c.id, ID);
    }

    #[test]
    fn memory_stat_and_limits() {
        let v1 = "cache 1\nshmem 4096\nmapped_file 0\ntotal_shmem 8192\n";
        assert_eq!(memory_stat_shmem(v1).unwrap(), Some(8192));
        assert_eq!(memory_stat_shmem("anon 1\nshmem 12\n").unwrap(), Some(12));
        assert_eq!(memory_stat_shmem("anon 1\n").unwrap(), None);
        assert!(memory_stat_shmem("shmem x\n").is_err());
        assert_eq!(memory_limit("max\n").unwrap(), None);
        assert_eq!(memory_limit("9223372036854771712\n").unwrap(), None);
        assert_eq!(memory_limit("67108864\n").unwrap(), Some(64 << 20));
        assert!(memory_limit("").is_err());
    }
}
