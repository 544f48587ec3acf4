//! Runs `ProcRoot` over each captured fixture tree in `tests/fixtures/` and checks exact values.
//! The trees are real captures (see `tests/fixtures/README.md` for the few edits).

use std::path::PathBuf;

use shmkit_procfs::{MapPath, ProcRoot};

fn fixture(case: &str) -> ProcRoot {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(case);
    assert!(dir.is_dir(), "missing fixture {}", dir.display());
    ProcRoot::new(dir)
}

/// Quirk: `stat` prints comm unescaped, so the name `a) b\n(c)` spans two lines and contains
/// `)`; `status` prints the same name escaped as `a) b\n(c)` with a literal backslash-n.
#[test]
fn comm_with_paren_and_newline_from_real_process() {
    let r = fixture("comm-with-paren-and-newline");
    let s = r.pid_stat(11277).unwrap().unwrap();
    assert_eq!(s.pid, 11277);
    assert_eq!(s.comm, "a) b\n(c)");
    assert_eq!(s.state, 'S');
    assert_eq!(s.ppid, 11267);
    assert_eq!(s.starttime, 55983);
    assert_eq!(s.rss, 372);
    let st = r.pid_status(11277).unwrap().unwrap();
    assert_eq!(st.name, s.comm);
    assert_eq!(st.uid, [0; 4]);
    assert_eq!(st.gid, [0; 4]);
    assert_eq!(st.vm_rss, Some(1620 * 1024));
    assert_eq!(st.rss_file, Some(1488 * 1024));
    assert_eq!(st.rss_shmem, Some(20 * 1024));
    assert_eq!(
        r.pid_cmdline(11277).unwrap().unwrap(),
        vec!["/tmp/cap/holder".to_string()]
    );
    // Its pid list is exactly the one process directory.
    assert_eq!(r.pids().unwrap(), vec![11277]);
}

/// Quirk: every shmem kind shows in maps as a deleted path: `/SYSV%08x (deleted)` with the
/// shmid in the inode column, `/dev/zero (deleted)` for shared anonymous memory, and
/// `/memfd:NAME (deleted)` where NAME may itself end in ` (deleted)`.
#[test]
fn maps_shmem_kinds_from_real_process() {
    let r = fixture("maps-shmem-kinds");
    let maps = r.pid_maps(11277).unwrap().unwrap();
    assert_eq!(maps.len(), 30);

    let sysv: Vec<_> = maps
        .iter()
        .filter_map(|m| Some((m.sysv_key()?, m.sysv_shmid()?, m.len())))
        .collect();
    assert_eq!(sysv, vec![(0, 5, 8192), (0x162e, 3, 4096)]);

    let anon: Vec<_> = maps.iter().filter(|m| m.is_shared_anon()).collect();
    assert_eq!(anon.len(), 1);
    assert_eq!(
        (anon[0].start, anon[0].len(), anon[0].inode),
        (0x7f46_bf08_0000, 8192, 29)
    );

    let memfd: Vec<_> = maps.iter().filter_map(|m| m.memfd_name()).collect();
    assert_eq!(memfd, vec!["my buf (deleted)"]);

    let file = maps
        .iter()
        .find(|m| m.file_path() == Some("/dev/shm/shmkit fixture file"))
        .unwrap();
    assert!(file.shared && file.readable && !file.writable);
    assert_eq!(
        file.path,
        MapPath::Path {
            path: "/dev/shm/shmkit fixture file".into(),
            deleted: true
        }
    );
    assert_eq!((file.dev_major, file.dev_minor, file.inode), (0, 0x1b, 2));

    let exe = &maps[1];
    assert_eq!(exe.file_path(), Some("/tmp/cap/holder"));
    assert!(exe.executable && !exe.shared);
    assert_eq!(
        (exe.offset, exe.dev_major, exe.inode),
        (0x1000, 0xfe, 10_011_908)
    );

    let anon_private = maps.iter().filter(|m| m.path == MapPath::None).count();
    assert_eq!(anon_private, 4);
    let last = maps.last().unwrap();
    assert_eq!(last.path, MapPath::Special("[vsyscall]".into()));
    assert_eq!(last.start, 0xffff_ffff_ff60_0000);

    // Reusing buffers gives the same result.
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    assert!(r.pid_maps_into(11277, &mut buf, &mut out).unwrap());
    assert!(r.pid_maps_into(11277, &mut buf, &mut out).unwrap());
    assert_eq!(out, maps);
}

#[test]
fn fd_links_and_namespace_links() {
    let r = fixture("maps-shmem-kinds");
    let fds = r.pid_fds(11277).unwrap().unwrap();
    let nums: Vec<u32> = fds.iter().map(|f| f.fd).collect();
    assert_eq!(nums, vec![3, 4, 10, 251]);
    assert_eq!(fds[0].memfd_name(), Some("my buf (deleted)"));
    assert!(fds[0].deleted());
    assert_eq!(fds[1].target_path(), Some("/dev/shm/shmkit fixture file"));
    assert!(fds[1].deleted());
    assert_eq!(
        (fds[2].target_path(), fds[2].deleted()),
        (Some("/dev/null"), false)
    );
    assert_eq!(fds[3].target, "pipe:[16883]");
    assert_eq!(fds[3].target_path(), None);

    let ipc = r.ns_link(Some(11277), "ipc").unwrap().unwrap();
    assert_eq!((ipc.kind.as_str(), ipc.inode), ("ipc", 4_026_531_839));
    assert_eq!(
        r.ns_link(Some(11277), "mnt").unwrap().unwrap().inode,
        4_026_531_832
    );
    // Kernels before 4.6 lack ns/cgroup: absent is None, not an error.
    assert_eq!(r.ns_link(Some(11277), "cgroup").unwrap(), None);
}

/// Quirk: keys are `%d`-printed key_t (0xdeadbeef prints as -559038737) and perms are octal
/// with SHM_DEST (0o1000) and SHM_LOCKED (0o2000) above the mode bits.
#[test]
fn sysv_key_negative_dest_locked() {
    let r = fixture("sysv-key-negative-dest-locked");
    let v = r.sysvipc_shm().unwrap();
    let summary: Vec<_> = v
        .iter()
        .map(|s| {
            (
                s.key,
                s.shmid,
                s.mode(),
                s.size,
                s.nattch,
                s.marked_for_destruction(),
                s.locked(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (5678, 3, 0o666, 27, 1, false, false),
            (0xdead_beef_u32 as i32, 4, 0o600, 4096, 0, false, false),
            (0, 5, 0o640, 8192, 1, true, false),
            (0, 6, 0o600, 4096, 0, false, true),
        ]
    );
    assert_eq!(v[2].perms, 0o1640);
    assert_eq!(v[0].rss, Some(4096));
    assert_eq!(v[2].rss, Some(8192));
    assert_eq!(v[1].atime, 0);
    assert_eq!(v[0].ctime, 1_795_629_348);
    assert!(v.iter().all(|s| s.swap == Some(0) && s.cpid == 11277));
}

/// Quirk: uids above 65535 (user namespaces' subordinate ranges) must keep all 32 bits.
#[test]
fn sysv_leak_uid_100000_with_names_and_limits() {
    let r = fixture("sysv-leak-uid-100000");
    let v = r.sysvipc_shm().unwrap();
    assert_eq!(v.len(), 1);
    let s = &v[0];
    assert_eq!((s.key, s.shmid, s.size, s.nattch), (5678, 3, 27, 0));
    assert_eq!(
        (s.uid, s.gid, s.cuid, s.cgid),
        (100_000, 100_000, 100_000, 100_000)
    );
    assert_eq!((s.atime, s.dtime), (1_795_629_348, 1_795_629_350));
    // The creator is gone from this tree: nattch 0 and no /proc/11277 is how a leak looks.
    assert_eq!(r.pid_stat(s.cpid).unwrap(), None);

    let users = r.users().unwrap();
    assert_eq!(users.name(s.uid), Some("shmapp"));
    assert_eq!(users.id("root"), Some(0));
    assert_eq!(users.len(), 2);
    assert_eq!(r.groups().unwrap().name(s.gid), Some("shmapp"));

    let l = r.shm_limits().unwrap();
    assert_eq!(l.shmmax, Some(18_446_744_073_692_774_399));
    assert_eq!(l.shmall, Some(18_446_744_073_692_774_399));
    assert_eq!(l.shmmni, Some(4096));
    assert_eq!(l.shm_rmid_forced, Some(false));
    assert_eq!(l.shm_next_id, Some(-1));
}

/// Quirk: mountinfo escapes space as `\040` and tab as `\011` in mount points and sources.
#[test]
fn mount_with_escaped_space() {
    let r = fixture("mount-with-escaped-space");
    let mounts = r.mountinfo(None).unwrap();
    assert_eq!(mounts.len(), 21);
    let m = mounts
        .iter()
        .find(|m| m.fs_type == "tmpfs" && m.source == "shmkit src")
        .unwrap();
    assert_eq!(m.mount_point, std::path::Path::new("/tmp/shmkit my\tdir"));
    assert_eq!((m.mount_id, m.parent_id, m.major, m.minor), (42, 27, 0, 39));
    assert_eq!(m.super_option("size"), Some("1024k"));
    assert_eq!(m.mount_options, "rw,relatime");
    let shm = mounts
        .iter()
        .find(|m| m.mount_point == std::path::Path::new("/dev/shm"))
        .unwrap();
    assert_eq!(shm.super_option("size"), Some("24684100k"));
    assert_eq!(mounts[0].fs_type, "proc");
}

#[test]
fn cgroup_v1_hybrid_and_v2_only() {
    let v1 = fixture("cgroup-v1-hybrid")
        .pid_cgroup(None)
        .unwrap()
        .unwrap();
    assert_eq!(v1.len(), 10);
    let mem = v1.iter().find(|c| c.has_controller("memory")).unwrap();
    assert_eq!(
        (mem.hierarchy_id, mem.path.as_str()),
        (4, "/process_api/643846526864b23e2849a4f73f5eeb65")
    );
    assert_eq!(v1[0].controllers, vec!["name=systemd"]);
    assert_eq!(v1.iter().filter(|c| c.is_v2()).count(), 1);

    let v2 = fixture("cgroup-v2-only").pid_cgroup(None).unwrap().unwrap();
    assert_eq!(v2.len(), 1);
    assert!(v2[0].is_v2());
    assert_eq!(v2[0].path, "/system.slice/shmkit demo.service");
}

#[test]
fn host_no_swap_meminfo_and_limits() {
    let r = fixture("host-no-swap");
    let m = r.meminfo().unwrap();
    assert_eq!(m.entries.len(), 54);
    assert_eq!(m.mem_total, 24_684_100 * 1024);
    assert_eq!(m.mem_free, 23_197_272 * 1024);
    assert_eq!(m.mem_available(), Some(24_269_220 * 1024));
    assert_eq!(m.cached(), Some(1_220_984 * 1024));
    assert_eq!(m.shmem(), Some(8744 * 1024));
    assert_eq!(m.dirty(), Some(42_348 * 1024));
    assert_eq!(m.s_reclaimable(), Some(125_972 * 1024));
    assert_eq!(m.swap_total(), Some(0));
    assert_eq!(m.get("HugePages_Total"), Some(0));
    assert_eq!(m.get("VmallocTotal"), Some(34_359_738_367 * 1024));
    assert_eq!(m.hugetlb(), Some(0));
    assert_eq!(r.swaps().unwrap(), vec![]);
    assert_eq!(r.shm_limits().unwrap().shmmni, Some(4096));
}

#[test]
fn kernel_without_sysvipc_gives_empty_results_not_errors() {
    let r = fixture("kernel-without-sysvipc");
    assert_eq!(r.sysvipc_shm().unwrap(), vec![]);
    assert_eq!(r.shm_limits().unwrap(), shmkit_procfs::ShmLimits::default());
    assert!(r.users().unwrap().is_empty());
    assert!(r.groups().unwrap().is_empty());
    assert_eq!(r.swaps().unwrap(), vec![]);
    assert_eq!(r.meminfo().unwrap().mem_total, 24_684_100 * 1024);
    assert_eq!(r.read_to_string("/proc/nope").unwrap(), None);
}

/// Quirk: a file cut short (a process exiting mid-read, a capture gone wrong) must give a
/// parse error naming the file and line, never a panic and never a silently short result.
#[test]
fn truncated_files_are_errors_with_path_and_line() {
    let r = fixture("truncated-files");
    let check = |e: shmkit_procfs::Error, file: &str, line: usize| {
        match &e {
            shmkit_procfs::Error::Parse { path, line: l, .. } => {
                assert!(path.ends_with(file), "{e}");
                assert_eq!(*l, line, "{e}");
            }
            other => panic!("expected a parse error, got {other}"),
        }
        assert!(!e.is_not_found() && !e.is_permission_denied());
    };
    check(r.meminfo().unwrap_err(), "proc/meminfo", 8);
    check(r.sysvipc_shm().unwrap_err(), "proc/sysvipc/shm", 2);
    check(r.pid_maps(11277).unwrap_err(), "proc/11277/maps", 2);
    check(r.pid_stat(11277).unwrap_err(), "proc/11277/stat", 2);
    check(r.pid_status(11277).unwrap_err(), "proc/11277/status", 1);
    check(r.mountinfo(None).unwrap_err(), "proc/self/mountinfo", 3);
    // An empty swaps file is no swap, not an error.
    assert_eq!(r.swaps().unwrap(), vec![]);
    // proc/42 exists but is empty: the process exited between readdir and read.
    assert_eq!(r.pids().unwrap(), vec![42, 11277]);
    assert_eq!(r.pid_stat(42).unwrap(), None);
    assert_eq!(r.pid_maps(42).unwrap(), None);
    assert_eq!(r.pid_fds(42).unwrap(), None);
    assert_eq!(r.pid_cmdline(42).unwrap(), None);
    assert_eq!(r.ns_link(Some(42), "ipc").unwrap(), None);
}

/// Every runtime names the container's cgroup after its id in its own form (see
/// `container.rs`); the pod UID of a systemd-driven pod is written with `_` for `-`.
#[test]
fn container_identity_from_each_runtimes_cgroup_form() {
    use shmkit_procfs::container::from_cgroup;
    use shmkit_procfs::Runtime;
    const K: &str = "7e1d9a2b44c0f3e5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3";
    const POD: &str = "0b5a9e2c-5c8c-4f3e-9b1a-2d6b7e8f9a01";
    let cases: [(&str, u32, Runtime, &str, Option<&str>); 8] = [
        (
            "cgroup-docker-cgroupfs-v1",
            4242,
            Runtime::Docker,
            "d2c479ea65332161c54f8eea792fad8a408558b00d60ad5a771eb55e8c9fe380",
            None,
        ),
        ("cgroup-docker-systemd-v2", 4243, Runtime::Docker, K, None),
        (
            "cgroup-kubepods-burstable-cgroupfs-v1",
            4244,
            Runtime::Kubernetes,
            K,
            Some(POD),
        ),
        (
            "cgroup-kubepods-besteffort-containerd-systemd-v2",
            4245,
            Runtime::Kubernetes,
            K,
            Some(POD),
        ),
        (
            "cgroup-kubepods-guaranteed-crio-systemd-v2",
            4246,
            Runtime::Kubernetes,
            K,
            Some(POD),
        ),
        ("cgroup-crio-systemd-v2", 4247, Runtime::Crio, K, None),
        ("cgroup-podman-systemd-v2", 4248, Runtime::Podman, K, None),
        (
            "cgroup-containerd-cgroupfs-v1",
            4250,
            Runtime::Containerd,
            K,
            None,
        ),
    ];
    for (case, pid, runtime, id, pod) in cases {
        let lines = fixture(case).pid_cgroup(Some(pid)).unwrap().unwrap();
        let c = from_cgroup(&lines).unwrap_or_else(|| panic!("{case}: no container"));
        assert_eq!(c.runtime, runtime, "{case}");
        assert_eq!(c.id, id, "{case}");
        assert_eq!(c.pod_uid.as_deref(), pod, "{case}");
    }
    // Podman's conmon monitor and a host process are no container.
    let conmon = fixture("cgroup-podman-systemd-v2")
        .pid_cgroup(Some(4249))
        .unwrap()
        .unwrap();
    assert_eq!(from_cgroup(&conmon), None);
    let host = fixture("cgroup-v1-hybrid")
        .pid_cgroup(None)
        .unwrap()
        .unwrap();
    assert_eq!(from_cgroup(&host), None);
    // The v1 memory hierarchy is where a v1 container's memory cgroup lives.
    let docker = fixture("cgroup-docker-cgroupfs-v1")
        .pid_cgroup(Some(4242))
        .unwrap()
        .unwrap();
    assert_eq!(
        shmkit_procfs::container::memory_cgroup_dirs(&docker),
        vec!["/sys/fs/cgroup/memory/docker/d2c479ea65332161c54f8eea792fad8a408558b00d60ad5a771eb55e8c9fe380".to_string()]
    );
}
