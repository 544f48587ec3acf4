//! Which container a process belongs to, what its runtime calls it, and what its memory
//! cgroup says of its shared memory.
//!
//! The id and runtime come from `/proc/PID/cgroup` ([`shmkit_procfs::container`] parses every
//! runtime's form). Names only the runtime knows: for Docker, [`docker_names`] asks the Engine
//! API on its unix socket (`GET /containers/json`) with a short timeout; no socket, or a
//! daemon that does not answer, means ids without names, never an error. The memory cgroup is
//! read through the [`ProcRoot`] under `/sys/fs/cgroup` (v1 `memory/PATH`, v2 `PATH`):
//! shared memory is charged to the cgroup of the process that first touched each page, and
//! counts toward that cgroup's limit, so a full `/dev/shm` can get a container OOM-killed.

use serde::Serialize;
use shmkit_procfs::{container as parse, CgroupLine, ProcRoot};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// Where Docker's Engine API listens.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// How long to wait for the Engine API before going on without names.
pub const DOCKER_TIMEOUT: Duration = Duration::from_millis(1500);

/// The most of an Engine API answer read (a host with thousands of containers is far below).
const MAX_ANSWER: u64 = 64 << 20;

/// A container, as JSON shows it (`container: {runtime, id, name, pod}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Container {
    /// `docker`, `containerd`, `cri-o`, `podman` or `kubernetes`.
    pub runtime: String,
    /// The full id (64 hex digits).
    pub id: String,
    /// The name the runtime gives it, when it tells (Docker: without the leading `/`).
    pub name: Option<String>,
    /// The Kubernetes pod UID, for a container of a pod.
    pub pod: Option<String>,
}

impl Container {
    /// From a parsed cgroup identity, without a name yet.
    pub fn from_id(c: &parse::ContainerId) -> Container {
        Container {
            runtime: c.runtime.as_str().to_string(),
            id: c.id.clone(),
            name: None,
            pod: c.pod_uid.clone(),
        }
    }

    /// The first 12 digits of the id, as `docker ps` shows it.
    pub fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }

    /// The name, or else the short id: what a table shows.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or_else(|| self.short_id())
    }

    /// Whether `query` names this container: its name, its full id, or a prefix of the id
    /// at least 4 digits long (like `docker`'s own id prefixes).
    pub fn matches(&self, query: &str) -> bool {
        let q = query.strip_prefix('/').unwrap_or(query);
        self.name.as_deref() == Some(q)
            || self.id == q
            || (q.len() >= 4 && self.id.starts_with(&q.to_ascii_lowercase()))
    }
}

/// The container process `pid` belongs to, from its cgroup; `None` on the host, or if the
/// process is gone.
pub fn of_process(root: &ProcRoot, pid: u32) -> Option<(Container, Vec<CgroupLine>)> {
    let lines = root.pid_cgroup(Some(pid)).ok()??;
    let id = parse::from_cgroup(&lines)?;
    Some((Container::from_id(&id), lines))
}

/// The running container `query` names (its name, full id, or an id prefix of 4+ digits) and
/// a process of it (its oldest), to enter it through. Names are asked of Docker only when no
/// id matches.
pub fn find(
    root: &ProcRoot,
    query: &str,
    docker_socket: Option<&Path>,
) -> crate::Result<(Container, u32)> {
    let not_found = || {
        crate::Error::new(
            crate::ErrorKind::NotFound,
            format!("container {query}"),
            "no running container has this name or id",
        )
        .with_fix("`docker ps` lists the running containers; give a name, an id or an id prefix of 4+ digits")
    };
    let pids = root.pids().map_err(|e| {
        crate::Error::new(crate::ErrorKind::Other, "/proc", e.to_string())
            .with_fix("shmkit needs /proc mounted and readable")
    })?;
    // Oldest process first: the container's init, whose namespaces are the container's.
    let mut found: std::collections::BTreeMap<String, (Container, u64, u32)> = Default::default();
    for pid in pids {
        let Some((c, _)) = of_process(root, pid) else {
            continue;
        };
        let start = root
            .pid_stat(pid)
            .ok()
            .flatten()
            .map_or(u64::MAX, |s| s.starttime);
        let e = found.entry(c.id.clone()).or_insert((c, start, pid));
        if start < e.1 {
            (e.1, e.2) = (start, pid);
        }
    }
    let by_id = |found: &std::collections::BTreeMap<String, (Container, u64, u32)>| {
        found
            .values()
            .filter(|(c, _, _)| c.matches(query))
            .map(|(c, _, pid)| (c.clone(), *pid))
            .collect::<Vec<_>>()
    };
    let mut hits = by_id(&found);
    if hits.is_empty() {
        if let Some(names) = docker_socket.and_then(|s| docker_names(s).ok()) {
            for (c, _, _) in found.values_mut() {
                c.name = names.get(&c.id).cloned();
            }
            hits = by_id(&found);
        }
    }
    match hits.len() {
        0 => Err(not_found()),
        1 => hits.pop().ok_or_else(not_found),
        n => Err(crate::Error::new(
            crate::ErrorKind::InvalidInput,
            format!("container {query}"),
            format!("{n} running containers have an id starting with it"),
        )
        .with_fix("give more digits of the id, or the name")),
    }
}

/// A memory cgroup's view of shared memory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct CgroupShmem {
    /// The directory read, as an absolute path (below the root in tests).
    pub dir: String,
    /// Shared memory charged to it (memory.stat `shmem`; v1 `total_shmem`).
    pub shmem: Option<u64>,
    /// Its memory limit (`memory.max`, v1 `memory.limit_in_bytes`); `None` = none.
    pub limit: Option<u64>,
    /// Its memory use now (`memory.current`, v1 `memory.usage_in_bytes`).
    pub usage: Option<u64>,
}

/// The memory cgroup of a process with these cgroup lines; `None` if no directory of it can
/// be read (no memory controller, or a cgroup namespace that hides the path).
pub fn cgroup_shmem(root: &ProcRoot, lines: &[CgroupLine]) -> Option<CgroupShmem> {
    for dir in parse::memory_cgroup_dirs(lines) {
        let Ok(Some(stat)) = root.read_to_string(format!("{dir}/memory.stat")) else {
            continue;
        };
        let read = |names: [&str; 2]| {
            names.iter().find_map(|n| {
                root.read_to_string(format!("{dir}/{n}"))
                    .ok()
                    .flatten()
                    .map(|t| parse::memory_limit(&t))
            })
        };
        let usage = read(["memory.current", "memory.usage_in_bytes"])
            .and_then(|r| r.ok())
            .flatten();
        return Some(CgroupShmem {
            shmem: parse::memory_stat_shmem(&stat).ok().flatten(),
            limit: read(["memory.max", "memory.limit_in_bytes"]).and_then(|r| r.ok().flatten()),
            usage,
            dir,
        });
    }
    None
}

/// The names Docker gives its running containers, by full id, from the Engine API on
/// `socket`. `Ok(empty)` when no socket is there.
pub fn docker_names(socket: &Path) -> std::io::Result<HashMap<String, String>> {
    if !socket.exists() {
        return Ok(HashMap::new());
    }
    let body = docker_get(socket, "/containers/json")?;
    let list: Vec<serde_json::Value> = serde_json::from_slice(&body)
        .map_err(|e| std::io::Error::other(format!("unexpected answer: {e}")))?;
    Ok(list
        .iter()
        .filter_map(|c| {
            let id = c.get("Id")?.as_str()?;
            let name = c.get("Names")?.as_array()?.first()?.as_str()?;
            Some((id.to_string(), name.trim_start_matches('/').to_string()))
        })
        .collect())
}

/// What Docker says of one container's shared-memory settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct DockerIpc {
    /// `HostConfig.IpcMode`: `private`, `shareable`, `container:ID`, `host`, `none`.
    pub ipc_mode: Option<String>,
    /// `HostConfig.ShmSize` in bytes (0: the daemon default).
    pub shm_size: Option<u64>,
    /// `HostConfig.Memory` in bytes (0: no limit).
    pub memory: Option<u64>,
}

/// `GET /containers/ID/json`: the container's IPC mode, `--shm-size` and memory limit.
pub fn docker_inspect(socket: &Path, id: &str) -> std::io::Result<DockerIpc> {
    if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    }
    let body = docker_get(socket, &format!("/containers/{id}/json"))?;
    let v: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| std::io::Error::other(format!("unexpected answer: {e}")))?;
    let host = v.get("HostConfig");
    let field = |name: &str| host.and_then(|h| h.get(name));
    Ok(DockerIpc {
        ipc_mode: field("IpcMode")
            .and_then(|m| m.as_str())
            .map(str::to_string),
        shm_size: field("ShmSize").and_then(|s| s.as_u64()),
        memory: field("Memory").and_then(|s| s.as_u64()),
    })
}

/// One HTTP/1.1 `GET` on a unix socket, `Connection: close`, with [`DOCKER_TIMEOUT`] on
/// every read and write; the body of a 200 answer (chunked or not).
fn docker_get(socket: &Path, path: &str) -> std::io::Result<Vec<u8>> {
    let mut stream = std::os::unix::net::UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(DOCKER_TIMEOUT))?;
    stream.set_write_timeout(Some(DOCKER_TIMEOUT))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: shmkit\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.take(MAX_ANSWER).read_to_end(&mut answer)?;
    parse_http(&answer)
}

/// The body of an HTTP/1.x answer, decoding chunked transfer; an error for a status other
/// than 200 or a malformed answer.
fn parse_http(answer: &[u8]) -> std::io::Result<Vec<u8>> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(answer.get(..split).unwrap_or_default());
    let body = answer.get(split + 4..).unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let code = status.split(' ').nth(1).unwrap_or_default();
    if code != "200" {
        return Err(std::io::Error::other(format!("answered {status:?}")));
    }
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if !chunked {
        return Ok(body.to_vec());
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| bad("truncated chunk"))?;
        let size_text = String::from_utf8_lossy(rest.get(..eol).unwrap_or_default());
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("bad chunk size"))?;
        let data = rest.get(eol + 2..).unwrap_or_default();
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(data.get(..size).ok_or_else(|| bad("truncated chunk"))?);
        rest = data.get(size + 2..).ok_or_else(|| bad("truncated chunk"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_answers_plain_chunked_and_refused() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]";
        assert_eq!(parse_http(plain).unwrap(), b"[]");
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[{}\r\n1\r\n]\r\n0\r\n\r\n";
        assert_eq!(parse_http(chunked).unwrap(), b"[{}]");
        assert!(parse_http(b"HTTP/1.1 404 Not Found\r\n\r\n").is_err());
        assert!(
            parse_http(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err()
        );
        assert!(
            parse_http(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nab").is_err()
        );
        assert!(parse_http(b"garbage").is_err());
    }

    #[test]
    fn a_container_is_named_by_name_full_id_or_an_id_prefix() {
        let c = Container {
            runtime: "docker".into(),
            id: "d2c479ea65332161c54f8eea792fad8a408558b00d60ad5a771eb55e8c9fe380".into(),
            name: Some("web".into()),
            pod: None,
        };
        assert!(c.matches("web") && c.matches("/web") && c.matches("d2c479ea6533"));
        assert!(!c.matches("d2c") && !c.matches("we") && !c.matches("e9fe380"));
        assert_eq!(c.short_id(), "d2c479ea6533");
        assert_eq!(c.label(), "web");
    }

    #[test]
    fn no_docker_socket_is_no_names_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(docker_names(&dir.path().join("docker.sock"))
            .unwrap()
            .is_empty());
    }
}
