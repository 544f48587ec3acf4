//! A test per errno of the life-cycle calls: the command fails with its documented exit code,
//! one line that names the object, the cause and the fix — and leaves no object behind.
//!
//! Kernel limits are lowered only inside private namespaces: `unshare --ipc` for
//! `kernel.shmmax`/`shmmni`/`shmall` (per IPC namespace), `unshare --mount` with a tiny tmpfs
//! over /dev/shm for a full /dev/shm. Permission errors run the command as `nobody` with
//! `setpriv`. EIDRM is a race no test can force; its table line is unit-tested in
//! `crates/shmkit/src/segment/errno.rs`.

mod common;

mod lifecycle_support;
use lifecycle_support::*;

const NOBODY: [&str; 4] = [
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
];

/// Runs shmkit as `nobody`. The binary is linked (or copied) into a world-readable temporary
/// directory first: the build tree may sit under a home directory nobody cannot enter.
struct Nobody {
    _dir: tempfile::TempDir,
    bin: std::path::PathBuf,
}

impl Nobody {
    fn new() -> Nobody {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.path().join("shmkit");
        if std::fs::hard_link(lifecycle_support::bin(), &bin).is_err() {
            std::fs::copy(lifecycle_support::bin(), &bin).unwrap();
        }
        Nobody { _dir: dir, bin }
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut cmd = std::process::Command::new(NOBODY[0]);
        cmd.args(&NOBODY[1..]).arg(&self.bin).args(args);
        run(&mut cmd, Some(std::path::Path::new("/")), b"")
    }
}

/// The error line, without the `shmkit: ` prefix.
fn error_line(run: &Run) -> String {
    run.stderr
        .lines()
        .find(|l| l.starts_with("shmkit: ") && !l.starts_with("shmkit: warning"))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn eexist_exclusive_create_of_an_existing_object() {
    let key = SysvKey::new("eexist_sysv");
    let name = PosixName::new("eexist_posix");
    let dir = tempfile::tempdir().unwrap();
    let file = format!("file:{}", dir.path().join("f").display());
    for addr in [key.addr(), name.addr(), file] {
        shmkit(&["create", &addr, "--size", "16"]).ok();
        shmkit(&["write", &addr, "kept"]).ok();
        let out = shmkit(&["create", &addr, "--size", "16", "--exclusive"]);
        out.fails(4, &addr);
        let line = error_line(&out);
        assert!(
            line.contains("exists already") && line.contains("EEXIST"),
            "{line}"
        );
        assert!(line.contains("open it instead"), "{line}");
        assert_eq!(
            shmkit(&["read", &addr]).ok(),
            "kept\n",
            "the existing object is untouched"
        );
    }
}

#[test]
fn enoent_missing_objects_are_not_created_by_reading() {
    let key = SysvKey::new("enoent_sysv");
    let name = PosixName::new("enoent_posix");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing");
    let file = format!("file:{}", path.display());
    for addr in [key.addr(), name.addr(), file.clone()] {
        for cmd in [
            vec!["read", &addr],
            vec!["write", &addr, "x"],
            vec!["stat", &addr],
            vec!["rm", &addr],
        ] {
            let out = shmkit(&cmd);
            out.fails(3, &addr);
            let line = error_line(&out);
            assert!(
                line.contains("ENOENT") || line.contains("does not exist"),
                "{line}"
            );
            assert!(
                line.contains(&format!("shmkit create {addr} --size N")),
                "{line}"
            );
        }
    }
    assert!(key.id().is_none(), "nothing created");
    assert!(!name.path().exists());
    assert!(!path.exists());
    let nested = format!("file:{}", dir.path().join("no-such-dir/shm.txt").display());
    let out = shmkit(&["create", &nested, "--size", "1"]);
    out.fails(3, &nested);
    assert!(
        error_line(&out).contains("no-such-dir does not exist"),
        "{out:?}"
    );
    assert!(
        error_line(&out).contains("create the directory first"),
        "{out:?}"
    );
    let out = shmkit(&["stat", "sysv:id=2147483000"]);
    out.fails(3, "sysv:id=2147483000");
    assert!(
        error_line(&out).contains("no segment has id 2147483000"),
        "{out:?}"
    );
}

#[test]
fn eacces_nobody_may_not_read_roots_0600_segment() {
    if !common::needs_host_root(
        "eacces_nobody_may_not_read_roots_0600_segment",
        common::OTHER_UIDS,
    ) {
        return;
    }
    let nobody = Nobody::new();
    let key = SysvKey::new("eacces_sysv");
    shmkit(&["create", &key.addr(), "--size", "16"]).ok();
    let out = nobody.run(&["read", &key.addr()]);
    out.fails(5, &key.addr());
    let line = error_line(&out);
    for part in [
        "owned by uid 0 (root)",
        "mode 0600",
        "only root may read it",
        "you are uid 65534",
        "EACCES",
        "shmkit chmod",
    ] {
        assert!(line.contains(part), "{part:?} missing: {line}");
    }
    // Metadata needs no permission: nobody may stat it (through /proc/sysvipc/shm).
    nobody.run(&["stat", &key.addr()]).ok();
}

#[test]
fn eacces_nobody_may_not_write_roots_posix_object() {
    if !common::needs_host_root(
        "eacces_nobody_may_not_write_roots_posix_object",
        common::OTHER_UIDS,
    ) {
        return;
    }
    let nobody = Nobody::new();
    let name = PosixName::new("eacces_posix");
    shmkit(&["create", &name.addr(), "--size", "16", "--mode", "644"]).ok();
    let out = nobody.run(&["write", &name.addr(), "x"]);
    out.fails(5, &name.addr());
    let line = error_line(&out);
    for part in [
        "owned by uid 0 (root)",
        "mode 0644",
        "only root may write it",
        "you are uid 65534",
    ] {
        assert!(line.contains(part), "{part:?} missing: {line}");
    }
    assert_eq!(
        shmkit(&["read", &name.addr(), "--format", "raw", "--len", "1"]).ok(),
        "\0"
    );
}

#[test]
fn eacces_nobody_may_not_create_a_file_in_roots_directory_and_nothing_is_left() {
    if !common::needs_host_root(
        "eacces_nobody_may_not_create_a_file_in_roots_directory_and_nothing_is_left",
        common::OTHER_UIDS,
    ) {
        return;
    }
    let nobody = Nobody::new();
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("shm.txt");
    let addr = format!("file:{}", path.display());
    let out = nobody.run(&["create", &addr, "--size", "16"]);
    out.fails(5, &addr);
    assert!(
        error_line(&out).contains("may not create files in"),
        "{out:?}"
    );
    assert!(!path.exists());
}

#[test]
fn a_segment_planted_by_another_user_is_refused_even_after_it_was_given_to_root() {
    if !common::needs_host_root(
        "a_segment_planted_by_another_user_is_refused_even_after_it_was_given_to_root",
        common::OTHER_UIDS,
    ) {
        return;
    }
    // The creator of a System V segment may set its owner to anyone with IPC_SET, root
    // included, and keeps the creator's rights: owner root does not mean root made it.
    let nobody = Nobody::new();
    let key = SysvKey::new("planted_sysv");
    let addr = key.addr();
    nobody
        .run(&["create", &addr, "--size", "27", "--mode", "644"])
        .ok();
    nobody.run(&["chown", &addr, "0:0"]).ok();
    let st = shmkit::sys::sysv::stat(key.id().unwrap()).unwrap();
    assert_eq!((st.uid, st.cuid), (0, 65534), "the plant is in place");
    let refusal = format!(
        "shmkit: {addr}: it exists and was created by uid 65534 (nobody), not by you \
         (uid 0 (root)): another user may have planted it to read what you write; check who \
         made it (`shmkit stat {addr}`); if you trust it, pass --allow-foreign\n"
    );
    assert_eq!(shmkit(&["write", &addr, "secret"]).fails(5, &addr), refusal);
    assert_eq!(shmkit(&["read", &addr]).fails(5, &addr), refusal);
    assert_eq!(
        shmkit(&["create", &addr, "--size", "27"]).fails(5, &addr),
        refusal
    );
    shmkit(&["write", &addr, "--allow-foreign", "x"]).ok();
}

#[test]
fn eperm_only_owner_creator_or_root_may_remove_or_chmod() {
    if !common::needs_host_root(
        "eperm_only_owner_creator_or_root_may_remove_or_chmod",
        common::OTHER_UIDS,
    ) {
        return;
    }
    let nobody = Nobody::new();
    let key = SysvKey::new("eperm_sysv");
    shmkit(&["create", &key.addr(), "--size", "16", "--mode", "666"]).ok();
    let out = nobody.run(&["rm", &key.addr()]);
    out.fails(5, &key.addr());
    let line = error_line(&out);
    assert!(
        line.contains(
            "only its owner uid 0 (root), its creator uid 0 (root) or root may remove it"
        ),
        "{line}"
    );
    assert!(line.contains("EPERM"), "{line}");
    assert!(key.id().is_some(), "still there");
    let out = nobody.run(&["chmod", &key.addr(), "600"]);
    out.fails(5, &key.addr());

    let name = PosixName::new("eperm_posix");
    shmkit(&["create", &name.addr(), "--size", "16", "--mode", "666"]).ok();
    let out = nobody.run(&["chmod", &name.addr(), "600"]);
    out.fails(5, &name.addr());
    assert!(
        error_line(&out).contains("only its owner or root may change its mode"),
        "{out:?}"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(name.path()).unwrap().mode() & 0o777,
        0o666
    );
}

/// Runs `script` inside a new IPC namespace (its segments die with it).
fn in_private_ipc(script: &str) -> Run {
    sh(&["unshare", "--ipc"], script)
}

#[test]
fn einval_size_above_kernel_shmmax_names_the_limit_and_the_sysctl() {
    if !common::as_root("einval_size_above_kernel_shmmax_names_the_limit_and_the_sysctl") {
        return;
    }
    let out = in_private_ipc(
        r#"echo 4096 > /proc/sys/kernel/shmmax
           "$SHMKIT" create sysv:77 --size 8192; echo "rc=$?"
           echo "left=$(($(wc -l < /proc/sysvipc/shm) - 1))""#,
    );
    assert!(out.stdout.contains("rc=2"), "{out:?}");
    assert!(out.stdout.contains("left=0"), "nothing created: {out:?}");
    let line = error_line(&out);
    assert!(line.starts_with("shmkit: sysv:77: "), "{line}");
    assert!(
        line.contains("above the limit kernel.shmmax = 4096"),
        "{line}"
    );
    assert!(line.contains("sysctl -w kernel.shmmax=8192"), "{line}");
}

#[test]
fn einval_size_below_shmmin_or_above_the_existing_segment() {
    if !common::as_root("einval_size_below_shmmin_or_above_the_existing_segment") {
        return;
    }
    let out = in_private_ipc(
        r#""$SHMKIT" create sysv:78 --size 0; echo "rc=$?"
           "$SHMKIT" create sysv:79 --size 27 >/dev/null
           "$SHMKIT" create sysv:79 --size 28; echo "rc=$?"
           "$SHMKIT" read sysv:79 --len 28; echo "rc=$?"
           echo "left=$(($(wc -l < /proc/sysvipc/shm) - 1))""#,
    );
    assert_eq!(out.stdout.matches("rc=2").count(), 3, "{out:?}");
    assert!(out.stdout.contains("left=1"), "only sysv:79: {out:?}");
    assert!(
        out.stderr
            .contains("sysv:78: a System V segment needs at least kernel shmmin = 1 byte"),
        "{out:?}"
    );
    assert!(out.stderr.contains("sysv:79: the segment with this key has 27B (27 bytes), less than the 28 bytes asked for"), "{out:?}");
    assert!(
        out.stderr.contains("a System V segment cannot grow"),
        "{out:?}"
    );
}

#[test]
fn enospc_shmmni_exhausted_shows_usage() {
    if !common::as_root("enospc_shmmni_exhausted_shows_usage") {
        return;
    }
    let out = in_private_ipc(
        r#"echo 1 > /proc/sys/kernel/shmmni
           "$SHMKIT" create sysv:1 --size 1 >/dev/null; echo "rc=$?"
           "$SHMKIT" create sysv:2 --size 1; echo "rc=$?"
           echo "left=$(($(wc -l < /proc/sysvipc/shm) - 1))""#,
    );
    assert!(out.stdout.contains("rc=0\nrc=6\n"), "{out:?}");
    assert!(out.stdout.contains("left=1"), "{out:?}");
    let line = error_line(&out);
    assert!(
        line.contains(
            "all kernel.shmmni = 1 segment ids of this IPC namespace are in use (1 segments)"
        ),
        "{line}"
    );
    assert!(
        line.contains("shmkit rm --orphans --dry-run")
            && line.contains("sysctl -w kernel.shmmni=2"),
        "{line}"
    );
}

#[test]
fn enospc_shmall_exhausted_shows_pages_used() {
    if !common::as_root("enospc_shmall_exhausted_shows_pages_used") {
        return;
    }
    let page = shmkit::sys::page_size();
    let out = in_private_ipc(&format!(
        r#""$SHMKIT" create sysv:1 --size {page} >/dev/null
           echo 2 > /proc/sys/kernel/shmall
           "$SHMKIT" create sysv:2 --size {}; echo "rc=$?"
           echo "left=$(($(wc -l < /proc/sysvipc/shm) - 1))""#,
        2 * page
    ));
    assert!(out.stdout.contains("rc=6"), "{out:?}");
    assert!(out.stdout.contains("left=1"), "{out:?}");
    let line = error_line(&out);
    assert!(
        line.contains("kernel.shmall = 2 pages would be exceeded: 1 pages"),
        "{line}"
    );
    assert!(line.contains("2 more were asked for"), "{line}");
    assert!(line.contains("sysctl -w kernel.shmall=3"), "{line}");
}

#[test]
fn enospc_shmall_exhausted_by_huge_noreserve_segments_does_not_overflow() {
    if !common::as_root("enospc_shmall_exhausted_by_huge_noreserve_segments_does_not_overflow") {
        return;
    }
    // Four segments of 2^62 bytes are 2^64 bytes in use: more than a u64 counts.
    let dir = tempfile::tempdir().unwrap();
    let noreserve = compile_c("noreserve", dir.path());
    let out = in_private_ipc(&format!(
        r#""{}" 4 >/dev/null || exit 99
           echo {} > /proc/sys/kernel/shmall
           "$SHMKIT" create sysv:6 --size 1; echo "rc=$?""#,
        noreserve.display(),
        1u64 << 52
    ));
    assert_eq!(out.stdout, "rc=6\n", "{out:?}");
    let line = error_line(&out);
    assert!(
        line.contains(&format!(
            "kernel.shmall = {} pages would be exceeded: {} pages (16.0E) are used by 4 segments",
            1u64 << 52,
            1u64 << 52
        )),
        "{line}"
    );
}

#[test]
fn enospc_full_dev_shm_fails_at_create_and_resize_not_later_with_sigbus() {
    if !common::as_root("enospc_full_dev_shm_fails_at_create_and_resize_not_later_with_sigbus") {
        return;
    }
    // POSIX shm always lives in /dev/shm: put a 64 KiB tmpfs over it in a private mount
    // namespace.
    let out = sh(
        &["unshare", "--mount", "--propagation", "private"],
        r#"mount -t tmpfs -o size=64k shmkit-test /dev/shm || exit 99
           "$SHMKIT" create posix:/big --size 1M; echo "rc=$?"
           echo "left=$(ls /dev/shm | wc -l)"
           "$SHMKIT" create posix:/small --size 16K >/dev/null; echo "rc=$?"
           "$SHMKIT" resize posix:/small 1M; echo "rc=$?"
           echo "size=$(stat -c %s /dev/shm/small)"
           "$SHMKIT" create posix:/fill --size 40K >/dev/null; echo "rc=$?"
           "$SHMKIT" create posix:/more --size 16K; echo "rc=$?"
           echo "left=$(ls /dev/shm | wc -l)""#,
    );
    assert_eq!(
        out.stdout, "rc=6\nleft=0\nrc=0\nrc=6\nsize=16384\nrc=0\nrc=6\nleft=2\n",
        "{out:?}"
    );
    let fix = |kib: u32| {
        format!(
            "remove objects you no longer need (`shmkit ls`), or enlarge it: \
             `mount -o remount,size={kib}k /dev/shm` (in Docker: --shm-size)"
        )
    };
    assert_eq!(
        out.stderr,
        format!(
            "shmkit: posix:/big: 1.0M (1048576 bytes) is more than all of /dev/shm holds \
             (64.0K in all, 0B used) (fallocate: ENOSPC); {}\n\
             shmkit: posix:/small: 1.0M (1048576 bytes) is more than all of /dev/shm holds \
             (64.0K in all, 16.0K used) (fallocate: ENOSPC); {}\n\
             shmkit: posix:/more: /dev/shm is full: 56.0K of 64.0K used, 8.0K free, not enough \
             for 16.0K (16384 bytes) (fallocate: ENOSPC); {}\n",
            fix(1024),
            fix(1040),
            fix(72)
        )
    );
}

#[test]
fn enospc_on_a_disk_filesystem_leaves_the_file_as_it_was() {
    if !common::needs_host_root(
        "enospc_on_a_disk_filesystem_leaves_the_file_as_it_was",
        "mounts an ext4 image on a loop device",
    ) {
        return;
    }
    // Unlike tmpfs, ext4 keeps what a failed fallocate allocated, and the size it reached: a
    // failed grow must give it back, or the file keeps megabytes (of a full disk) it never had.
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("ext4.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    let mkfs = std::process::Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(&image)
        .status()
        .expect("mkfs.ext4 (e2fsprogs) is installed");
    assert!(mkfs.success());
    std::fs::create_dir(dir.path().join("mnt")).unwrap();
    let out = sh(
        &["unshare", "--mount", "--propagation", "private"],
        &format!(
            r#"cd "{dir}" && mount -o loop ext4.img mnt || exit 99
               free=$(df -B1 --output=avail mnt | tail -1)
               "$SHMKIT" create file:mnt/f --size 4K >/dev/null; echo "rc=$?"
               "$SHMKIT" resize file:mnt/f 100M; echo "rc=$?"
               echo "size=$(stat -c %s mnt/f) blocks=$(stat -c %b mnt/f)"
               "$SHMKIT" create file:mnt/g --size 100M; echo "rc=$?"
               echo "left=$(ls mnt | grep -c g)"
               [ "$(df -B1 --output=avail mnt | tail -1)" -ge $((free - 65536)) ] && echo "space back""#,
            dir = dir.path().display()
        ),
    );
    assert_eq!(
        out.stdout, "rc=0\nrc=6\nsize=4096 blocks=8\nrc=6\nleft=0\nspace back\n",
        "{out:?}"
    );
    assert!(
        out.stderr.starts_with(
            "shmkit: file:mnt/f: 100M (104857600 bytes) is more than all of mnt holds"
        ),
        "{out:?}"
    );
}

#[test]
fn enospc_no_inode_left_in_dev_shm_says_so() {
    if !common::as_root("enospc_no_inode_left_in_dev_shm_says_so") {
        return;
    }
    // A tmpfs with nr_inodes=2 has room for its root and one object: the next shm_open fails
    // with ENOSPC though every byte is free.
    let out = sh(
        &["unshare", "--mount", "--propagation", "private"],
        r#"mount -t tmpfs -o size=64k,nr_inodes=2 shmkit-test /dev/shm || exit 99
           "$SHMKIT" create posix:/one --size 1 >/dev/null; echo "rc=$?"
           "$SHMKIT" create posix:/two --size 1; echo "rc=$?"
           echo "left=$(ls /dev/shm | wc -l)""#,
    );
    assert_eq!(out.stdout, "rc=0\nrc=6\nleft=1\n", "{out:?}");
    assert_eq!(
        out.stderr,
        "shmkit: posix:/two: /dev/shm has no free inodes: all 2 files its nr_inodes allows \
         exist (shm_open: ENOSPC); remove objects you no longer need (`shmkit ls`), or allow \
         more: `mount -o remount,nr_inodes=4 /dev/shm`\n"
    );
}

#[test]
fn enomem_segment_larger_than_memory() {
    if !common::as_root("enomem_segment_larger_than_memory") {
        return;
    }
    // With vm.overcommit_memory=1 the kernel promises any size, so there is no ENOMEM to see.
    let overcommit = std::fs::read_to_string("/proc/sys/vm/overcommit_memory").unwrap();
    if overcommit.trim() == "1" {
        eprintln!("vm.overcommit_memory=1: the kernel never refuses; skipped");
        return;
    }
    let out = in_private_ipc(
        r#""$SHMKIT" create sysv:9 --size 1048576G; echo "rc=$?"
           echo "left=$(($(wc -l < /proc/sysvipc/shm) - 1))""#,
    );
    assert!(out.stdout.contains("rc=6\nleft=0"), "{out:?}");
    let line = error_line(&out);
    assert!(
        line.contains("the kernel could not allocate 1.0P") && line.contains("ENOMEM"),
        "{line}"
    );
    assert!(line.contains("ask for less"), "{line}");
}

#[test]
fn enomem_huge_pages_not_reserved_names_vm_nr_hugepages() {
    if !common::needs_host_root(
        "enomem_huge_pages_not_reserved_names_vm_nr_hugepages",
        common::HUGE_PAGES,
    ) {
        return;
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let field = |name: &str| {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (free, page_kb) = (field("HugePages_Free:"), field("Hugepagesize:"));
    if page_kb == 0 {
        eprintln!("no huge page support in this kernel; skipped");
        return;
    }
    // One huge page more than are free.
    let size = (free + 1) * page_kb * 1024;
    let out = in_private_ipc(&format!(
        r#""$SHMKIT" create sysv:11 --size {size} --hugetlb; echo "rc=$?"
           echo "left=$(($(wc -l < /proc/sysvipc/shm) - 1))""#
    ));
    assert!(out.stdout.contains("rc=6\nleft=0"), "{out:?}");
    let line = error_line(&out);
    assert!(
        line.contains("not enough huge pages") && line.contains("vm.nr_hugepages"),
        "{line}"
    );
    assert!(line.contains("sysctl -w vm.nr_hugepages=N"), "{line}");
}

#[test]
fn the_owner_may_chmod_and_chown_its_object_at_mode_0000() {
    if !common::needs_host_root(
        "the_owner_may_chmod_and_chown_its_object_at_mode_0000",
        common::OTHER_UIDS,
    ) {
        return;
    }
    // The owner may not open a 0000 object for reading, so stat, chmod and chown work through
    // an O_PATH handle — on which fchmod and fchown fail with EBADF.
    let nobody = Nobody::new();
    let name = PosixName::new("owner_0000");
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let path = dir.path().join("f");
    let file = format!("file:{}", path.display());
    for (addr, on_disk) in [(name.addr(), name.path()), (file, path.clone())] {
        shmkit(&["create", &addr, "--size", "16"]).ok();
        shmkit(&["chown", &addr, "65534:65534"]).ok();
        shmkit(&["chmod", &addr, "000"]).ok();
        assert_eq!(
            nobody.run(&["chmod", &addr, "640"]).ok(),
            format!("{addr}: mode 0000 -> 0640\n")
        );
        assert_eq!(std::fs::metadata(&on_disk).unwrap().mode() & 0o777, 0o640);
        shmkit(&["chmod", &addr, "000"]).ok();
        assert_eq!(
            nobody.run(&["chown", &addr, ":65534"]).ok(),
            format!("{addr}: owner nobody (uid 65534), group nogroup (gid 65534)\n")
        );
    }
}
