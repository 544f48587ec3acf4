//! `shmkit doctor`: is this host or container fit for the shared memory a program needs, and
//! what survives a process exit, a container restart and a reboot here.

use crate::output::{colour_enabled, paint, print_versioned, Colour};
use shmkit::doctor::{self, PlaceKind, Report, Warning};
use shmkit::procfs::ProcRoot;
use shmkit::render::size::human;
use shmkit::render::table::{sanitize, Align, Table};
use shmkit::scan::Kind;
use shmkit::survival::{Answer, Because, Survival};
use std::io::Write;
use std::process::ExitCode;

/// Options of `shmkit doctor`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  shmkit doctor                 # where am I, what survives a restart here, what to fix
  shmkit doctor --json | jq .warnings
  shmkit doctor --strict        # exit 8 if there is any warning (for CI and health checks)
  shmkit doctor --container web # judge the container `web` from the host (needs root)")]
pub struct Args {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 8 when there are warnings.
    #[arg(long)]
    pub strict: bool,
    /// Judge a container (or another process's namespaces) from the host instead of where
    /// this runs.
    #[command(flatten)]
    pub inside: super::inside::Inside,
}

/// Runs `shmkit doctor`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = ProcRoot::live();
    let report = if args.inside.is_set() {
        examine_from_host(&root, &args.inside)?
    } else {
        let fs = shmkit::sys::statvfs(std::path::Path::new("/dev/shm")).ok();
        doctor::examine(&root, fs, shmkit::sys::page_size())
    };
    if args.json {
        print_versioned("shmkit.doctor/3", &DoctorOut::from(&report))?;
    } else {
        print_human(&report, &mut crate::output::stdout(), colour_enabled())?;
    }
    if args.strict && !report.warnings.is_empty() {
        return Ok(ExitCode::from(shmkit::error::EXIT_CHECK_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

/// What `doctor --json` prints (`shmkit.doctor/3`): the library's report, each warning with
/// its words.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct DoctorOut<'a> {
    /// Host or container.
    place: &'a doctor::Place,
    /// Whether this IPC namespace is the host's (initial) one; null if unreadable.
    ipc_initial: Option<bool>,
    /// This process's namespaces against pid 1's and the initial ones.
    namespaces: &'a [doctor::NsCompare],
    /// /dev/shm.
    dev_shm: &'a doctor::DevShm,
    /// System V limits and usage.
    sysv: &'a doctor::SysvLimits,
    /// The memory cgroup, if one was found.
    cgroup: Option<&'a doctor::CgroupMemory>,
    /// systemd-logind's RemoveIPC, if logind's configuration is visible.
    remove_ipc: Option<&'a doctor::RemoveIpc>,
    /// What survives what, per kind.
    verdicts: &'a [doctor::Verdict],
    /// Problems: `{code, ...figures}` as the library gives them, with `message` and `fix`.
    warnings: Vec<WordedWarning<'a>>,
    /// The container examined from the host (`doctor --container`); null for this process.
    container: Option<&'a doctor::ContainerSubject>,
}

/// A warning's code and figures, and its words.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct WordedWarning<'a> {
    #[serde(flatten)]
    warning: &'a Warning,
    /// What is wrong, in words.
    message: String,
    /// What to do.
    fix: &'static str,
}

impl<'a> From<&'a Report> for DoctorOut<'a> {
    fn from(r: &'a Report) -> Self {
        DoctorOut {
            place: &r.place,
            ipc_initial: r.ipc_initial,
            namespaces: &r.namespaces,
            dev_shm: &r.dev_shm,
            sysv: &r.sysv,
            cgroup: r.cgroup.as_ref(),
            remove_ipc: r.remove_ipc.as_ref(),
            verdicts: &r.verdicts,
            warnings: r
                .warnings
                .iter()
                .map(|w| WordedWarning {
                    warning: w,
                    message: warning_message(w),
                    fix: warning_fix(w),
                })
                .collect(),
            container: r.container.as_ref(),
        }
    }
}

/// What a warning means, in words.
pub fn warning_message(w: &Warning) -> String {
    match w {
        Warning::PrivateIpc => "this IPC namespace is private: its System V segments are destroyed when its last process exits (a container restart)".to_owned(),
        Warning::PrivateDevShm => "POSIX shared memory lives in this container's own /dev/shm and dies with the container".to_owned(),
        Warning::SmallDevShm { size } => {
            let size = size.map_or_else(|| "?".to_owned(), human);
            format!("/dev/shm is only {size} (Docker's default is 64M): programs that use more crash with SIGBUS (\"Bus error\") or \"insufficient shared memory\"")
        }
        Warning::DevShmFull { used, total } => format!(
            "/dev/shm is {}% full ({} of {}): {}",
            used.saturating_mul(100) / (*total).max(1),
            human(*used),
            human(*total),
            shmkit::report::DEV_SHM_WARNING
        ),
        Warning::SigbusSparseDevShm { unbacked, left, largest } => {
            let largest = largest
                .as_ref()
                .map(|f| {
                    format!(
                        "; largest: {} ({}, {} allocated)",
                        f.name,
                        human(f.size),
                        human(f.allocated)
                    )
                })
                .unwrap_or_default();
            format!(
                "the sparse files in /dev/shm can still grow by {} without a write, more than the {} left: the process that touches those pages of a mapping gets SIGBUS{largest}",
                human(*unbacked),
                human(*left)
            )
        }
        Warning::DevShmAboveMemoryLimit { dev_shm, limit } => format!(
            "/dev/shm may hold {} but the memory limit is {}: its pages count toward the limit, so filling it gets the container OOM-killed before /dev/shm is full",
            human(*dev_shm),
            human(*limit)
        ),
        Warning::ShmRmidForced => "kernel.shm_rmid_forced=1: a System V segment is destroyed as soon as its creator has exited and nobody is attached, so programs that rely on segments outliving them (the seed's article 2) break".to_owned(),
        Warning::ShmmniNear { segments, shmmni } => {
            format!("{segments} of kernel.shmmni={shmmni} segments are in use")
        }
        Warning::ShmallNear { pages, shmall_pages } => {
            format!("{pages} of kernel.shmall={shmall_pages} pages are in use")
        }
        Warning::CgroupLimit { shmem, limit } | Warning::CgroupShmemHigh { shmem, limit } => format!(
            "shared memory counts against this cgroup's memory limit: {} shmem of a {} limit{}",
            human(*shmem),
            human(*limit),
            if matches!(w, Warning::CgroupShmemHigh { .. }) {
                " (a quarter or more of it)"
            } else {
                ""
            }
        ),
        Warning::RemoveIpc { source } => format!("systemd-logind RemoveIPC=yes ({source}): the System V and POSIX objects of a regular user (not a system user) are removed when that user's last session ends"),
        other => format!("{} (see `shmkit doctor --json`)", other.code()),
    }
}

/// What to do about a warning.
pub fn warning_fix(w: &Warning) -> &'static str {
    match w {
        Warning::PrivateIpc => "run the program under `shmkit run --persist /volume/shm.snap -- CMD`, or share a longer-lived namespace: `docker run --ipc=shareable` for one container and `--ipc=container:NAME` for the others (Kubernetes: containers of one pod share it), or `--ipc=host`",
        Warning::PrivateDevShm => "use `shmkit run --persist /volume/shm.snap -- CMD`, or keep files that must outlive the container on a volume",
        Warning::SmallDevShm { .. } => "docker run --shm-size=1g (compose: shm_size; Kubernetes: an emptyDir with medium: Memory mounted at /dev/shm)",
        Warning::DevShmFull { .. } => "remove leaked objects (`shmkit ls`, `shmkit rm --orphans`) or enlarge /dev/shm",
        Warning::SigbusSparseDevShm { .. } => "enlarge /dev/shm (docker run --shm-size; Kubernetes: the emptyDir's sizeLimit), remove what is not needed (`shmkit ls --kind posix`), or allocate up front (posix_fallocate; `shmkit create` does) so a full /dev/shm fails with ENOSPC at creation instead",
        Warning::DevShmAboveMemoryLimit { .. } => "make --shm-size smaller than --memory, leaving room for the program itself (Kubernetes: emptyDir sizeLimit below the memory limit)",
        Warning::ShmRmidForced => "sysctl -w kernel.shm_rmid_forced=0 (per IPC namespace; in a container: docker run --sysctl kernel.shm_rmid_forced=0)",
        Warning::ShmmniNear { .. } => "remove leaked segments or raise it: sysctl -w kernel.shmmni=N",
        Warning::ShmallNear { .. } => "remove leaked segments or raise it (in pages, not bytes): sysctl -w kernel.shmall=N",
        Warning::CgroupLimit { .. } | Warning::CgroupShmemHigh { .. } => "size the limit for the program and its shared memory together (docker run --memory; Kubernetes: resources.limits.memory; an emptyDir of medium Memory counts too)",
        Warning::RemoveIpc { .. } => "run the program as a system user, or set RemoveIPC=no in /etc/systemd/logind.conf (or a logind.conf.d drop-in)",
        _ => "see `shmkit doctor --help`",
    }
}

/// The report on a container (or process) judged from the host: its `/dev/shm` through
/// `/proc/PID/root`, its System V limits read on a thread inside its IPC namespace, and what
/// Docker says of its IPC mode and `--shm-size`.
fn examine_from_host(root: &ProcRoot, inside: &super::inside::Inside) -> anyhow::Result<Report> {
    use shmkit::scan::container;
    let socket = std::path::Path::new(container::DOCKER_SOCKET);
    let (subject, pid) = match (&inside.container, inside.target) {
        (Some(query), _) => {
            let (c, pid) = container::find(root, query, Some(socket))?;
            (Some(c), pid)
        }
        (None, Some(pid)) => (container::of_process(root, pid).map(|(c, _)| c), pid),
        (None, None) => unreachable_subject()?,
    };
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/ipc")).map_err(|e| {
        shmkit::Error::new(
            shmkit::ErrorKind::from_errno(e.raw_os_error().unwrap_or(0)),
            format!("process {pid}"),
            format!(
                "cannot open its IPC namespace: {}",
                shmkit::error::os_message(&e)
            ),
        )
        .with_fix("name a running process or container, as root")
    })?;
    let page = shmkit::sys::page_size();
    let sysv = shmkit::sys::ns::on_thread_in_ipc(&ns, || {
        doctor::sysv_limits_here(&ProcRoot::live(), page)
    })
    .map_err(|e| {
        shmkit::Error::new(
            shmkit::ErrorKind::PermissionDenied,
            format!("process {pid}"),
            format!(
                "cannot enter its IPC namespace: {}",
                shmkit::error::os_message(&e)
            ),
        )
        .with_fix("judging another namespace needs root: run it with sudo")
    })?;
    let fs = shmkit::sys::statvfs(std::path::Path::new(&format!("/proc/{pid}/root/dev/shm"))).ok();
    let mut report = doctor::examine_process(root, pid, fs, sysv);
    report.container = subject.map(|mut c| {
        let docker = (c.runtime == "docker")
            .then(|| container::docker_inspect(socket, &c.id).ok())
            .flatten();
        if c.name.is_none() && c.runtime == "docker" {
            c.name = container::docker_names(socket)
                .ok()
                .and_then(|n| n.get(&c.id).cloned());
        }
        doctor::ContainerSubject::new(c, pid, docker)
    });
    Ok(report)
}

/// `is_set` was checked: a container or a pid is named.
fn unreachable_subject() -> anyhow::Result<(Option<shmkit::scan::Container>, u32)> {
    Err(shmkit::Error::new(
        shmkit::ErrorKind::InvalidInput,
        "doctor",
        "no container or process named",
    )
    .with_fix("give --container NAME|ID or --target PID")
    .into())
}

/// Limits at or above 2^62 are the kernel's "unlimited" defaults.
fn limit(v: Option<u64>, unit: &str) -> String {
    match v {
        None => "?".to_owned(),
        Some(v) if v >= 1 << 62 => "unlimited".to_owned(),
        Some(v) if unit == "bytes" => human(v),
        Some(v) => format!("{v} {unit}"),
    }
}

fn print_human(r: &Report, out: &mut dyn Write, colour: bool) -> std::io::Result<()> {
    let bold = |t: &str| paint(t, Colour::Bold, colour);
    let place = match (r.place.kind, &r.place.runtime) {
        (PlaceKind::Host, _) => "host".to_owned(),
        (PlaceKind::Container, Some(rt)) => format!("container ({})", sanitize(rt)),
        (PlaceKind::Container, None) => "container".to_owned(),
        _ => "unknown".to_owned(),
    };
    writeln!(out, "{} {place}", bold("Where:"))?;
    if let Some(c) = &r.container {
        let d = c.docker.as_ref();
        let mut facts = vec![format!(
            "{} {} (id {}), examined through process {}",
            sanitize(&c.container.runtime),
            sanitize(c.container.label()),
            c.container.short_id(),
            c.pid
        )];
        if let Some(mode) = d.and_then(|d| d.ipc_mode.as_deref()) {
            facts.push(format!("--ipc={}", sanitize(mode)));
        }
        if let Some(size) = d.and_then(|d| d.shm_size).filter(|&s| s > 0) {
            facts.push(format!("--shm-size={}", human(size)));
        }
        match d.and_then(|d| d.memory) {
            Some(0) => facts.push("no --memory limit".to_owned()),
            Some(m) => facts.push(format!("--memory={}", human(m))),
            None => {}
        }
        writeln!(out, "{} {}", bold("Container:"), facts.join(", "))?;
    }
    for e in &r.place.evidence {
        writeln!(out, "  - {}", sanitize(e))?;
    }
    let ipc_inode = r
        .namespaces
        .iter()
        .find(|n| n.kind == "ipc")
        .and_then(|n| n.inode);
    let ipc = match (r.ipc_initial, ipc_inode) {
        (Some(true), Some(i)) => format!("the host's (initial, inode {i})"),
        (Some(false), Some(i)) => format!(
            "private (inode {i}; the host's is {})",
            doctor::PROC_IPC_INIT_INO
        ),
        _ => "unknown (/proc/self/ns/ipc unreadable)".to_owned(),
    };
    writeln!(out, "{} {ipc}", bold("IPC namespace:"))?;
    let d = &r.dev_shm;
    writeln!(
        out,
        "{} {}, size {}, used {}{}",
        bold("/dev/shm:"),
        d.fs_type
            .as_deref()
            .map_or("not a mount point".to_owned(), sanitize),
        d.total.map_or("?".to_owned(), human),
        d.used.map_or("?".to_owned(), human),
        if d.small {
            " (the 64M container default or less)"
        } else {
            ""
        }
    )?;
    if !d.largest.is_empty() {
        let files: Vec<String> = d
            .largest
            .iter()
            .map(|f| {
                let sparse = if f.allocated < f.size {
                    format!(", {} allocated", human(f.allocated))
                } else {
                    String::new()
                };
                format!("{} {}{sparse}", sanitize(&f.name), human(f.size))
            })
            .collect();
        writeln!(out, "  largest files: {}", files.join("; "))?;
    }
    let s = &r.sysv;
    writeln!(
        out,
        "{} {}, {} ({} pages of {}); shmmax {}, shmall {}, shmmni {}; shm_rmid_forced {}",
        bold("System V:"),
        crate::output::count(s.segments, "segment", "segments"),
        human(s.bytes),
        s.pages,
        human(s.page_size),
        limit(s.shmmax, "bytes"),
        limit(s.shmall_pages, "pages"),
        limit(s.shmmni, "segments"),
        match s.shm_rmid_forced {
            Some(true) => "1",
            Some(false) => "0",
            None => "?",
        }
    )?;
    match &r.cgroup {
        Some(c) => writeln!(
            out,
            "{} v{} {} ({}): limit {}, usage {}, of it shmem {}",
            bold("Memory cgroup:"),
            c.version,
            sanitize(&c.path),
            sanitize(&c.dir),
            c.limit.map_or("none".to_owned(), human),
            c.usage.map_or("?".to_owned(), human),
            c.shmem.map_or("?".to_owned(), human)
        )?,
        None => writeln!(out, "{} not found", bold("Memory cgroup:"))?,
    }
    match &r.remove_ipc {
        Some(x) => writeln!(
            out,
            "{} {} ({}){}",
            bold("systemd RemoveIPC:"),
            if x.enabled { "yes" } else { "no" },
            sanitize(&x.source),
            if x.systemd_running {
                ""
            } else {
                "; systemd is not running here, so nothing applies it"
            }
        )?,
        None => writeln!(
            out,
            "{} not visible (no logind configuration)",
            bold("systemd RemoveIPC:")
        )?,
    }
    writeln!(out)?;
    writeln!(out, "{}", bold("What survives here:"))?;
    let cell = |a: Answer| -> String {
        let (t, c) = match a {
            Answer::Yes => ("yes", Colour::Green),
            Answer::No => ("no", Colour::Red),
            Answer::Depends => ("depends", Colour::Yellow),
        };
        paint(t, c, colour)
    };
    let mut t = Table::new(&[
        ("KIND", Align::Left),
        ("PROCESS EXIT", Align::Left),
        ("CONTAINER RESTART", Align::Left),
        ("REBOOT", Align::Left),
    ]);
    for v in &r.verdicts {
        t.row(vec![
            v.kind.to_string(),
            cell(v.process_exit.answer),
            cell(v.container_restart.answer),
            cell(v.reboot.answer),
        ]);
    }
    t.write(out)?;
    for v in &r.verdicts {
        for (when, s) in [
            ("process exit", &v.process_exit),
            ("container restart", &v.container_restart),
        ] {
            if s.answer != Answer::Yes || v.kind.as_str() == "sysv" {
                writeln!(out, "  {} / {when}: {}", v.kind, because_words(v.kind, s))?;
            }
        }
    }
    if !r.warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", bold("Warnings:"))?;
        for w in &r.warnings {
            writeln!(
                out,
                "{} {}",
                paint("warning:", Colour::Yellow, colour),
                sanitize(&warning_message(w))
            )?;
            writeln!(out, "  fix: {}", sanitize(warning_fix(w)))?;
        }
    }
    Ok(())
}

/// Why an object of `kind` survives or not, in words; a "no" that a snapshot can undo says so.
pub fn because_words(kind: Kind, survival: &Survival) -> String {
    let persist = "; `shmkit run --persist FILE` on a volume brings it back";
    let words: std::borrow::Cow<'static, str> = match survival.because {
        Because::UntilRemoved => match kind {
            Kind::Sysv => "it stays until IPC_RMID (`shmkit rm`), even with nattch 0".into(),
            Kind::Posix => "it stays in /dev/shm until unlinked (`shmkit rm`)".into(),
            _ => "a file stays until deleted".into(),
        },
        Because::ShmRmidForced => "kernel.shm_rmid_forced=1 destroys a segment once its creator exited and nobody is attached".into(),
        Because::FreedWithLastHolder if kind == Kind::SharedAnon => "freed at the last unmap".into(),
        Because::FreedWithLastHolder => "freed at the last close and unmap".into(),
        Because::IsAFile => "it is a file".into(),
        Because::IpcNamespaceLifetime => "only if the IPC namespace outlives the container (--ipc=host or shareable)".into(),
        Because::PrivateIpcNamespace => format!("this IPC namespace is private: it ends with its last process{persist}").into(),
        Because::SharesHostIpcNamespace => "this container shares the host's IPC namespace".into(),
        Because::HostIpcNamespace => "the host's IPC namespace outlives any service restart".into(),
        Because::IpcNamespaceUnreadable => "the IPC namespace could not be read".into(),
        Because::DevShmLifetime => "only if that /dev/shm outlives the container".into(),
        Because::ContainerDevShm => format!("this container's /dev/shm is its own tmpfs{persist}").into(),
        Because::DevShmMaybeHosts => "only if /dev/shm is the host's (--ipc=host shares it)".into(),
        Because::PrivateMountNsHostDevShm => "this private mount namespace still has the host's /dev/shm, which outlives it".into(),
        Because::PrivateMountNsOwnDevShm => format!("this private mount namespace has a /dev/shm of its own: it ends with the namespace's last process{persist}").into(),
        Because::PrivateMountNsDevShmUnknown => "this mount namespace is private and its /dev/shm could not be compared with the host's".into(),
        Because::MountNamespaceUnreadable => "pid 1's mount namespace could not be read to tell whether /dev/shm is the host's".into(),
        Because::HostDevShm => "the host's /dev/shm outlives any service restart".into(),
        Because::MountLifetime => "only if the mount outlives the container".into(),
        Because::ContainerTmpfs => "a tmpfs mounted in the container ends with it".into(),
        Because::PrivateMountNsTmpfs => "this mount namespace is private: a tmpfs mounted in it ends with it; one mounted on the host outlives it".into(),
        Because::HostTmpfs => "a host tmpfs outlives any service restart".into(),
        Because::FreedWithProcesses => "freed with its processes".into(),
        Because::FileSystemLifetime => "if the file's filesystem does (a volume, not the writable layer)".into(),
        Because::WritableLayer => "the file is in a container's writable layer: it survives a restart but not `docker rm`; use a volume to keep it".into(),
        Because::FileOnTmpfs => "the file is on a tmpfs, which is memory: it lives as long as that mount".into(),
        Because::FileOnDisk => "the file is on a disk filesystem, which outlives containers".into(),
        Because::FileSystemUnknown => "it is a file (its filesystem could not be determined)".into(),
        Because::MemoryOnly => "shared memory is RAM (and swap); a reboot clears it".into(),
        Because::WrittenBack => "it is on disk — what was written back (msync; `shmkit write` does it)".into(),
        _ => "(no words for this reason yet)".into(),
    };
    words.into_owned()
}

/// `yes`, `no` or `depends`.
pub fn answer_word(answer: Answer) -> &'static str {
    match answer {
        Answer::Yes => "yes",
        Answer::No => "no",
        Answer::Depends => "depends",
    }
}

#[cfg(test)]
mod warning_words_tests {
    use super::*;

    #[test]
    fn warnings_are_worded_from_their_figures() {
        assert_eq!(
            warning_message(&Warning::SmallDevShm {
                size: Some(64 << 20)
            }),
            "/dev/shm is only 64.0M (Docker's default is 64M): programs that use more crash with SIGBUS (\"Bus error\") or \"insufficient shared memory\""
        );
        assert_eq!(
            warning_message(&Warning::ShmmniNear {
                segments: 3900,
                shmmni: 4096
            }),
            "3900 of kernel.shmmni=4096 segments are in use"
        );
        let high = warning_message(&Warning::CgroupShmemHigh {
            shmem: 512 << 20,
            limit: 1 << 30,
        });
        assert!(high.ends_with(" limit (a quarter or more of it)"), "{high}");
        let low = warning_message(&Warning::CgroupLimit {
            shmem: 1 << 20,
            limit: 1 << 30,
        });
        assert!(low.ends_with(" limit"), "{low}");
        assert!(warning_fix(&Warning::PrivateIpc).contains("--ipc=shareable"));
    }

    #[test]
    fn the_json_warning_is_the_code_its_figures_and_its_words() {
        let w = Warning::DevShmFull {
            used: 60 << 20,
            total: 64 << 20,
        };
        let worded = WordedWarning {
            warning: &w,
            message: warning_message(&w),
            fix: warning_fix(&w),
        };
        let v = serde_json::to_value(&worded).unwrap();
        assert_eq!(v["code"], "dev-shm-full");
        assert_eq!(v["used"], 60 << 20);
        assert_eq!(v["total"], 64 << 20);
        assert!(v["message"]
            .as_str()
            .unwrap()
            .starts_with("/dev/shm is 93% full"));
        assert!(v["fix"].as_str().unwrap().contains("shmkit rm --orphans"));
    }
}
