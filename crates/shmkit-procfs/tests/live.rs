//! Live tests against the real `/proc` of this host, cross-checked against independent tools
//! (`free`, `ipcmk`, `id`, `stat`) and against each other.

use std::process::{Command, Stdio};

use shmkit_procfs::ProcRoot;

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(out.status.success(), "{cmd} {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Removes a System V segment when dropped, so a failing test does not leak it.
struct ShmGuard(i32);

impl Drop for ShmGuard {
    fn drop(&mut self) {
        let _ = Command::new("ipcrm")
            .args(["-m", &self.0.to_string()])
            .status();
    }
}

fn ipcmk(size: &str, mode: &str) -> ShmGuard {
    // util-linux prints "Shared memory id: 294918".
    let out = run("ipcmk", &["-M", size, "-p", mode]);
    let id = out
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("unexpected ipcmk output {out:?}"));
    ShmGuard(id)
}

#[test]
fn meminfo_is_sane_and_matches_free() {
    let m = ProcRoot::live().meminfo().unwrap();
    assert!(m.mem_total > 0);
    assert!(m.mem_free <= m.mem_total);
    assert!(m.mem_available().unwrap() <= m.mem_total);
    assert!(m.shmem().unwrap() <= m.mem_total);
    // `free -b` prints MemTotal in bytes as "total"; MemTotal does not change at runtime
    // (without memory hotplug).
    let free = run("free", &["-b"]);
    let total: u64 = free
        .lines()
        .find(|l| l.starts_with("Mem:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|t| t.parse().ok())
        .unwrap();
    assert_eq!(m.mem_total, total);
}

#[test]
fn swaps_sum_to_swap_total() {
    let r = ProcRoot::live();
    let swaps = r.swaps().unwrap();
    let total: u64 = swaps.iter().map(|s| s.size).sum();
    assert_eq!(Some(total), r.meminfo().unwrap().swap_total());
}

#[test]
fn sysv_segment_from_ipcmk_is_listed_with_size_and_mode() {
    let r = ProcRoot::live();
    let guard = ipcmk("8192", "0600");
    let segs = r.sysvipc_shm().unwrap();
    let s = segs
        .iter()
        .find(|s| s.shmid == guard.0)
        .unwrap_or_else(|| panic!("shmid {} not in {segs:?}", guard.0));
    assert_eq!(s.size, 8192);
    assert_eq!(s.mode(), 0o600);
    assert_eq!(s.nattch, 0);
    assert!(!s.marked_for_destruction() && !s.locked());
    let my_uid: u32 = run("id", &["-u"]).trim().parse().unwrap();
    assert_eq!((s.uid, s.cuid), (my_uid, my_uid));
    assert!(s.ctime > 1_600_000_000);
    assert_eq!(s.atime, 0, "nobody attached yet");
    // ipcmk has exited: its creator pid no longer has a /proc entry (or was reused).
    let id = guard.0;
    drop(guard);
    assert!(r.sysvipc_shm().unwrap().iter().all(|s| s.shmid != id));
}

#[test]
fn own_maps_contain_own_executable() {
    let exe = std::env::current_exe().unwrap();
    let exe = exe.to_str().unwrap();
    let maps = ProcRoot::live()
        .pid_maps(std::process::id())
        .unwrap()
        .unwrap();
    assert!(maps
        .iter()
        .any(|m| m.file_path() == Some(exe) && m.executable));
    assert!(maps
        .iter()
        .any(|m| m.path == shmkit_procfs::MapPath::Special("[stack]".into())));
}

#[test]
fn own_stat_status_cmdline_match_the_process() {
    let r = ProcRoot::live();
    let pid = std::process::id();
    let st = r.pid_stat(pid).unwrap().unwrap();
    assert_eq!(st.pid, pid);
    // The main thread's comm is the executable's name, truncated to 15 bytes.
    let exe = std::env::current_exe().unwrap();
    let name = exe.file_name().unwrap().to_str().unwrap();
    assert_eq!(st.comm, &name[..name.len().min(15)]);
    assert!(st.rss > 0);
    let parent = r.pid_stat(st.ppid).unwrap().unwrap();
    assert!(parent.starttime <= st.starttime);

    let status = r.pid_status(pid).unwrap().unwrap();
    assert_eq!(status.name, st.comm);
    let uid: u32 = run("id", &["-u"]).trim().parse().unwrap();
    let gid: u32 = run("id", &["-g"]).trim().parse().unwrap();
    assert_eq!(status.uid[0], uid);
    assert_eq!(status.gid[0], gid);
    assert!(status.vm_rss.unwrap() > 0);

    let args: Vec<String> = std::env::args().collect();
    assert_eq!(r.pid_cmdline(pid).unwrap().unwrap(), args);
    assert!(r.pids().unwrap().contains(&pid));
}

#[test]
fn own_fds_show_an_open_file_then_its_deletion() {
    let r = ProcRoot::live();
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join(format!("shmkit procfs fd {}", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let p = path.to_str().unwrap();
    let fds = r.pid_fds(std::process::id()).unwrap().unwrap();
    let l = fds.iter().find(|l| l.target_path() == Some(p)).unwrap();
    assert!(!l.deleted());
    std::fs::remove_file(&path).unwrap();
    let fds = r.pid_fds(std::process::id()).unwrap().unwrap();
    let l = fds.iter().find(|l| l.target_path() == Some(p)).unwrap();
    assert!(l.deleted());
    drop(file);
}

#[test]
fn ipc_namespace_inode_matches_stat() {
    let ns = ProcRoot::live().ns_link(None, "ipc").unwrap().unwrap();
    assert_eq!(ns.kind, "ipc");
    // `stat` runs in the same IPC namespace, so its /proc/self/ns/ipc has the same inode.
    let ino: u64 = run("stat", &["-L", "-c", "%i", "/proc/self/ns/ipc"])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(ns.inode, ino);
}

#[test]
fn mountinfo_and_cgroup_agree() {
    let r = ProcRoot::live();
    let mounts = r.mountinfo(None).unwrap();
    assert!(mounts
        .iter()
        .any(|m| m.mount_point == std::path::Path::new("/proc") && m.fs_type == "proc"));
    assert!(mounts
        .iter()
        .any(|m| m.mount_point == std::path::Path::new("/")));
    let cg = r.pid_cgroup(None).unwrap().unwrap();
    assert!(!cg.is_empty());
    // Every mounted v1 hierarchy's controllers appear on one line of /proc/self/cgroup, and a
    // cgroup2 mount means there is a `0::` line.
    for m in &mounts {
        if m.fs_type == "cgroup" {
            for opt in m.super_options.split(',') {
                if ["memory", "pids", "cpuset", "devices", "freezer"].contains(&opt) {
                    assert!(cg.iter().any(|c| c.has_controller(opt)), "{opt}: {cg:?}");
                }
            }
        }
        if m.fs_type == "cgroup2" {
            assert!(cg.iter().any(|c| c.is_v2()), "{cg:?}");
        }
    }
}

#[test]
fn shm_limits_are_present() {
    let l = ProcRoot::live().shm_limits().unwrap();
    assert!(l.shmmni.unwrap() > 0);
    assert!(l.shmmax.unwrap() > 0);
    assert!(l.shm_rmid_forced.is_some());
}

#[test]
fn a_process_that_exits_reads_as_none() {
    let r = ProcRoot::live();
    let mut child = Command::new("sleep")
        .arg("30")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let st = r.pid_stat(pid).unwrap().unwrap();
    assert_eq!(st.ppid, std::process::id());
    assert!(r.pid_maps(pid).unwrap().unwrap().len() > 1);
    child.kill().unwrap();
    child.wait().unwrap();
    // Reaped: its /proc entry is gone (a pid reused within this instant would fail here).
    assert_eq!(r.pid_stat(pid).unwrap(), None);
    assert_eq!(r.pid_maps(pid).unwrap(), None);
    assert_eq!(r.pid_fds(pid).unwrap(), None);
    assert_eq!(r.pid_status(pid).unwrap(), None);
}

#[test]
fn every_live_process_parses() {
    let r = ProcRoot::live();
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    let mut seen = 0;
    for pid in r.pids().unwrap() {
        // Processes come and go; only a parse error is a failure.
        match r.pid_maps_into(pid, &mut buf, &mut out) {
            Ok(_) => seen += 1,
            Err(e) => assert!(e.is_not_found() || e.is_permission_denied(), "{e}"),
        }
        for res in [r.pid_stat(pid).map(|_| ()), r.pid_status(pid).map(|_| ())] {
            if let Err(e) = res {
                assert!(e.is_permission_denied(), "{e}");
            }
        }
    }
    assert!(seen > 1);
}
