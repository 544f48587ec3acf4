//! `shmkit doctor` on captured fixture trees (host, Docker-like container on cgroup v1,
//! Podman-like container on cgroup v2; see tests/fixtures/README.md) and on the live system,
//! cross-checked with what the kernel and `df` say.

mod common;

use shmkit::doctor::{examine, PlaceKind, Report, Warning, PROC_IPC_INIT_INO};
use shmkit::procfs::ProcRoot;
use shmkit::scan::Kind;
use shmkit::survival::Answer;
use shmkit::sys::FsStat;
use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> Report {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let df = std::fs::read_to_string(dir.join("statvfs-dev-shm")).unwrap();
    let mut it = df.split_whitespace().map(|n| n.parse::<u64>().unwrap());
    let (total, used) = (it.next().unwrap(), it.next().unwrap());
    let fs = FsStat {
        total,
        free: total - used,
        available: total - used,
        inodes: 0,
        inodes_free: 0,
    };
    examine(&ProcRoot::new(dir), Some(fs), 4096)
}

fn warning_ids(r: &Report) -> Vec<&str> {
    r.warnings.iter().map(|w| w.code()).collect()
}

fn verdict(r: &Report, kind: Kind) -> (Answer, Answer, Answer) {
    let v = r.verdicts.iter().find(|v| v.kind == kind).unwrap();
    (
        v.process_exit.answer,
        v.container_restart.answer,
        v.reboot.answer,
    )
}

#[test]
fn host_fixture_is_a_host_despite_its_dockerenv_marker() {
    let r = fixture("doctor-host");
    assert_eq!(r.place.kind, PlaceKind::Host);
    assert_eq!(r.place.runtime, None);
    assert!(r.place.evidence.iter().any(|e| e.contains("/.dockerenv")));
    assert!(r
        .place
        .evidence
        .iter()
        .any(|e| e.contains("a VM or a host")));
    assert_eq!(r.ipc_initial, Some(true));
    assert_eq!(r.sysv.segments, 2);
    assert_eq!(r.sysv.bytes, 1_000_027);
    // shmall counts pages: 1000000 bytes take 245 pages, 27 bytes one.
    assert_eq!(r.sysv.pages, 245 + 1);
    assert_eq!(r.sysv.shmmax, Some(18_446_744_073_692_774_399));
    assert_eq!(r.sysv.shmmni, Some(4096));
    assert_eq!(r.sysv.shm_rmid_forced, Some(false));
    let cg = r.cgroup.as_ref().unwrap();
    assert_eq!(cg.version, 1);
    assert_eq!(cg.limit, None, "v1's 9223372036854771712 means unlimited");
    assert_eq!(cg.shmem, Some(0));
    assert_eq!(r.dev_shm.fs_type.as_deref(), Some("tmpfs"));
    assert!(!r.dev_shm.small);
    let rm = r.remove_ipc.as_ref().unwrap();
    assert!(rm.enabled && !rm.systemd_running, "{rm:?}");
    assert_eq!(
        verdict(&r, Kind::Sysv),
        (Answer::Yes, Answer::Yes, Answer::No)
    );
    assert_eq!(
        verdict(&r, Kind::File),
        (Answer::Yes, Answer::Yes, Answer::Yes)
    );
    assert_eq!(
        verdict(&r, Kind::Memfd),
        (Answer::No, Answer::No, Answer::No)
    );
    assert_eq!(warning_ids(&r), Vec::<&str>::new());
}

#[test]
fn docker_fixture_private_ipc_and_64m_dev_shm_are_flagged_with_fixes() {
    let r = fixture("doctor-docker");
    assert_eq!(r.place.kind, PlaceKind::Container);
    assert_eq!(r.place.runtime.as_deref(), Some("docker"));
    assert!(r
        .place
        .evidence
        .iter()
        .any(|e| e.contains("/docker/4c8d7e2f9a1b")));
    assert!(r
        .place
        .evidence
        .iter()
        .any(|e| e.contains("pid namespace is not the initial one")));
    assert_eq!(r.ipc_initial, Some(false));
    assert_eq!(r.dev_shm.size_option, Some(64 << 20));
    assert_eq!(r.dev_shm.total, Some(64 << 20));
    assert_eq!(r.dev_shm.used, Some(40 << 20));
    assert!(r.dev_shm.small);
    // The host's cgroup path does not exist inside: the controller's mount root is read.
    let cg = r.cgroup.as_ref().unwrap();
    assert_eq!(cg.dir, "/sys/fs/cgroup/memory");
    assert_eq!(
        (cg.limit, cg.usage, cg.shmem),
        (Some(512 << 20), Some(123_731_968), Some(40 << 20))
    );
    assert_eq!(r.sysv.segments, 1);
    assert!(r.remove_ipc.is_none());
    assert_eq!(
        verdict(&r, Kind::Sysv),
        (Answer::Yes, Answer::No, Answer::No)
    );
    assert_eq!(
        verdict(&r, Kind::Posix),
        (Answer::Yes, Answer::No, Answer::No)
    );
    assert_eq!(verdict(&r, Kind::File).1, Answer::Depends);
    assert_eq!(
        warning_ids(&r),
        vec![
            "private-ipc",
            "private-dev-shm",
            "small-dev-shm",
            "cgroup-limit"
        ]
    );
    // The warnings carry the figures the renderers word, not text.
    assert!(r.warnings.contains(&Warning::SmallDevShm {
        size: r.dev_shm.total
    }));
    assert!(r
        .warnings
        .iter()
        .any(|w| matches!(w, Warning::CgroupLimit { shmem, limit } if shmem < limit)));
}

#[test]
fn cgroup2_fixture_reads_memory_max_and_shmem_rmid_forced_limits_and_logind_dropins() {
    let r = fixture("doctor-cgroup2");
    assert_eq!(r.place.kind, PlaceKind::Container);
    assert_eq!(r.place.runtime.as_deref(), Some("podman"));
    assert!(r
        .place
        .evidence
        .iter()
        .any(|e| e.contains("container=podman")));
    let cg = r.cgroup.as_ref().unwrap();
    assert_eq!(cg.version, 2);
    assert_eq!(cg.dir, "/sys/fs/cgroup");
    assert_eq!(
        (cg.limit, cg.usage, cg.shmem),
        (Some(1 << 30), Some(603_979_776), Some(400 << 20))
    );
    assert_eq!(r.dev_shm.total, Some(2 << 30));
    assert!(!r.dev_shm.small);
    assert_eq!(r.sysv.shmall_pages, Some(6500));
    assert_eq!(r.sysv.shmall_bytes, Some(6500 * 4096));
    assert_eq!(r.sysv.pages, 3 * 2048 + 2);
    let rm = r.remove_ipc.as_ref().unwrap();
    assert!(
        !rm.enabled,
        "the drop-in's RemoveIPC=no wins over logind.conf"
    );
    assert_eq!(rm.source, "/etc/systemd/logind.conf.d/50-keep-ipc.conf");
    assert_eq!(verdict(&r, Kind::Sysv).0, Answer::No, "shm_rmid_forced=1");
    assert_eq!(
        warning_ids(&r),
        vec![
            "private-ipc",
            "private-dev-shm",
            // 2G of /dev/shm under a 1G limit.
            "dev-shm-above-memory-limit",
            "shm-rmid-forced",
            "shmmni-near",
            "shmall-near",
            "cgroup-shmem-high"
        ]
    );
}

#[test]
fn live_doctor_agrees_with_the_kernel_and_df() {
    let r = examine(
        &ProcRoot::live(),
        shmkit::sys::statvfs(std::path::Path::new("/dev/shm")).ok(),
        shmkit::sys::page_size(),
    );
    let link = std::fs::read_link("/proc/self/ns/ipc").unwrap();
    let inode: u64 = link.to_str().unwrap()[5..]
        .trim_end_matches(']')
        .parse()
        .unwrap();
    assert_eq!(r.ipc_initial, Some(inode == PROC_IPC_INIT_INO));
    let max: u64 = std::fs::read_to_string("/proc/sys/kernel/shmmax")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(r.sysv.shmmax, Some(max));
    let df = Command::new("df")
        .args(["-B1", "--output=size", "/dev/shm"])
        .output()
        .unwrap();
    let size: u64 = String::from_utf8_lossy(&df.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(r.dev_shm.total, Some(size));
    assert_eq!(r.verdicts.len(), Kind::ALL.len());
}

#[test]
fn doctor_in_a_new_ipc_namespace_says_it_is_private_and_counts_its_segments() {
    if !common::as_root("doctor_in_a_new_ipc_namespace_says_it_is_private_and_counts_its_segments")
    {
        return;
    }
    // unshare --ipc: a fresh namespace with one 5000-byte segment made by ipcmk.
    let out = Command::new("unshare")
        .args(["--ipc", "sh", "-c"])
        .arg(format!(
            "ipcmk -M 5000 >/dev/null && {} doctor --json",
            env!("CARGO_BIN_EXE_shmkit")
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ipc_initial"], false);
    assert_eq!(v["sysv"]["segments"], 1);
    assert_eq!(v["sysv"]["size"], 5000);
    assert_eq!(v["verdicts"][0]["kind"], "sysv");
    assert_eq!(v["verdicts"][0]["container_restart"]["answer"], "no");
    assert!(v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["code"] == "private-ipc"
            && w["message"]
                .as_str()
                .is_some_and(|m| m.contains("IPC namespace is private"))
            && w["fix"]
                .as_str()
                .is_some_and(|f| f.contains("--ipc=shareable"))));

    // --strict turns warnings into exit 8, and the human output names the fix.
    let out = Command::new("unshare")
        .args(["--ipc", env!("CARGO_BIN_EXE_shmkit"), "doctor", "--strict"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(8));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("IPC namespace: private"), "{text}");
    assert!(text.contains("shmkit run --persist"), "{text}");
}
