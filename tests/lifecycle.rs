//! The life-cycle commands end to end, through the real binary: create, write, read, stat,
//! chmod, chown, resize and rm on System V, POSIX and file objects, checked against what the
//! kernel reports.

mod common;

mod lifecycle_support;
use lifecycle_support::*;
use serde_json::Value;

fn json(run: &Run) -> Value {
    serde_json::from_str(run.ok()).unwrap_or_else(|e| panic!("{e}: {run:?}"))
}

#[test]
fn every_lifecycle_command_has_help_with_examples() {
    for cmd in [
        "create", "write", "read", "stat", "chmod", "chown", "resize", "rm",
    ] {
        let out = shmkit(&[cmd, "--help"]);
        assert!(out.ok().contains("Examples:"), "{cmd} --help: {out:?}");
        assert!(
            out.stdout.contains(&format!("shmkit {cmd} ")),
            "{cmd} examples use it: {out:?}"
        );
    }
}

#[test]
fn posix_object_full_life_cycle() {
    if !common::needs_host_root("posix_object_full_life_cycle", common::OTHER_UIDS) {
        return;
    }
    let name = PosixName::new("posix_full");
    let addr = name.addr();
    let created = json(&shmkit(&["create", &addr, "--size", "4K", "--json"]));
    assert_eq!(created["created"], true);
    assert_eq!(created["stat"]["size"], 4096);
    assert_eq!(created["stat"]["mode"], 0o600);
    let meta = std::fs::metadata(name.path()).unwrap();
    assert_eq!(meta.len(), 4096);

    shmkit(&["write", &addr, "--offset", "100", "Hello!"]).ok();
    assert_eq!(
        shmkit(&["read", &addr, "--offset", "100", "--len", "6"]).ok(),
        "Hello!\n"
    );
    let read = json(&shmkit(&[
        "read", &addr, "--offset", "98", "--len", "10", "--json",
    ]));
    assert_eq!(read["hex"], "000048656c6c6f210000");

    let changed = json(&shmkit(&["chmod", &addr, "640", "--json"]));
    assert_eq!(changed["schema"], "shmkit.chmod/2");
    assert_eq!(changed["stat"]["mode"], 0o640);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(name.path()).unwrap().mode() & 0o777,
        0o640
    );
    shmkit(&["chown", &addr, "nobody:65534"]).ok();
    assert_eq!(std::fs::metadata(name.path()).unwrap().uid(), 65534);
    // Now it is another user's: reading and writing need --allow-foreign.
    shmkit(&["read", &addr]).fails(5, &addr);
    shmkit(&["read", &addr, "--allow-foreign", "--len", "1"]).ok();
    shmkit(&["chown", &addr, "0:0"]).ok();

    let changed = json(&shmkit(&["resize", &addr, "1M", "--json"]));
    assert_eq!(changed["stat"]["size"], 1 << 20);
    let meta = std::fs::metadata(name.path()).unwrap();
    assert_eq!(meta.len(), 1 << 20);
    assert!(meta.blocks() * 512 >= 1 << 20, "growth allocated the pages");
    assert_eq!(
        shmkit(&["read", &addr, "--offset", "100", "--len", "6"]).ok(),
        "Hello!\n"
    );

    let rm = json(&shmkit(&["rm", &addr, "--json"]));
    assert_eq!(rm["removed"][0]["address"], addr);
    assert_eq!(rm["freed"], 1 << 20, "its pages came back: {rm}");
    assert!(!name.path().exists());
    shmkit(&["stat", &addr]).fails(3, &addr);
}

#[test]
fn sysv_segment_full_life_cycle() {
    let key = SysvKey::new("sysv_full");
    let addr = key.addr();
    let out = shmkit(&["create", &addr, "--size", "27"]);
    out.ok();
    assert!(out.stderr.is_empty(), "no warning at 0600: {out:?}");
    let id = key.id().expect("created");
    let by_id = format!("sysv:id={id}");
    let st = shmkit::sys::sysv::stat(id).unwrap();
    assert_eq!((st.size, st.mode & 0o777, st.nattch), (27, 0o600, 0));

    // The same key in hex is the same segment.
    shmkit(&["write", &format!("sysv:0x{:x}", key.0), "abc"]).ok();
    assert_eq!(
        shmkit(&["read", &by_id, "--len", "3", "--format", "raw"]).ok(),
        "abc"
    );

    // A write past the end fails, changes nothing and never grows the segment.
    assert_eq!(
        shmkit(&["write", &addr, "--offset", "20", "0123456789"]).fails(2, &addr),
        format!(
            "shmkit: {addr}: 10 bytes at offset 20 reach past the end of the 27-byte object; \
             nothing was written; write at most 7 bytes there: a System V segment cannot grow; \
             create a larger one\n"
        )
    );
    assert_eq!(shmkit::sys::sysv::stat(id).unwrap().size, 27);
    assert_eq!(
        shmkit(&["read", &addr, "--offset", "20", "--format", "raw"]).ok(),
        "\0\0\0\0\0\0\0"
    );

    // Resizing is refused with the reason.
    let err = shmkit(&["resize", &addr, "100"]);
    assert!(
        err.fails(10, &addr)
            .contains("kernel ignores shm_segsz in IPC_SET"),
        "{err:?}"
    );
    assert_eq!(shmkit::sys::sysv::stat(id).unwrap().size, 27);

    let stat = json(&shmkit(&["stat", &addr, "--json"]));
    assert_eq!(stat["sysv"]["shmid"], id);
    assert_eq!(stat["sysv"]["key"], key.0);
    assert!(stat["sysv"]["cpid"].as_u64().unwrap() > 0, "{stat}");
    assert_eq!(stat["sysv"]["nattch"], 0, "stat does not attach");
    assert_eq!(stat["lifetime"]["process_exit"]["answer"], "yes");
    assert_eq!(
        stat["lifetime"]["container_restart"]["because"],
        "ipc-namespace-lifetime"
    );
    // Here, on this host or in this container, the answer is yes or no, with its reason.
    for q in ["process_exit", "container_restart", "reboot"] {
        assert!(
            stat["survives"][q]["because"]
                .as_str()
                .is_some_and(|w| !w.is_empty()),
            "{stat}"
        );
    }
    assert_eq!(stat["survives"]["reboot"]["answer"], "no", "{stat}");
    assert_eq!(
        stat["survives"]["reboot"]["because"], "memory-only",
        "{stat}"
    );

    // 0666 only when asked, and with a warning.
    let out = shmkit(&["chmod", &addr, "666"]);
    out.ok();
    assert!(
        out.stderr.contains("warning") && out.stderr.contains("every user"),
        "{out:?}"
    );
    assert_eq!(shmkit::sys::sysv::stat(id).unwrap().mode & 0o777, 0o666);

    shmkit(&["rm", &addr]).ok();
    assert!(shmkit::sys::sysv::stat(id).is_err(), "removed");
}

#[test]
fn create_with_0666_warns_and_creates_exactly_that_mode() {
    let name = PosixName::new("create_666");
    let out = shmkit(&["create", &name.addr(), "--size", "1", "--mode", "666"]);
    out.ok();
    assert!(out.stderr.contains("warning"), "{out:?}");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(name.path()).unwrap().mode() & 0o777,
        0o666,
        "not cut by the umask"
    );
}

#[test]
fn write_takes_text_a_file_or_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seg");
    let addr = format!("file:{}", path.display());
    shmkit(&["create", &addr, "--size", "64"]).ok();
    std::fs::write(dir.path().join("input"), b"from-file").unwrap();
    shmkit(&[
        "write",
        &addr,
        "--from",
        dir.path().join("input").to_str().unwrap(),
    ])
    .ok();
    shmkit_in(None, &["write", &addr, "--offset", "20"], b"from-stdin").ok();
    shmkit(&["write", &addr, "--offset", "40", "from-text"]).ok();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..9], b"from-file");
    assert_eq!(&bytes[20..30], b"from-stdin");
    assert_eq!(&bytes[40..49], b"from-text");
}

#[test]
fn read_hex_is_byte_for_byte_what_xxd_prints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seg");
    let addr = format!("file:{}", path.display());
    shmkit(&["create", &addr, "--size", "50"]).ok();
    let data: Vec<u8> = (0u8..50).map(|i| i.wrapping_mul(37)).collect();
    shmkit_in(None, &["write", &addr], &data).ok();
    let ours = shmkit(&["read", &addr, "--format", "hex"]);
    let xxd = run(std::process::Command::new("xxd").arg(&path), None, b"");
    assert_eq!(ours.ok(), xxd.ok());
}

#[test]
fn read_text_masks_terminal_escapes() {
    let name = PosixName::new("escapes");
    shmkit(&["create", &name.addr(), "--size", "16"]).ok();
    shmkit_in(None, &["write", &name.addr()], b"a\x1b[2Jb").ok();
    assert_eq!(shmkit(&["read", &name.addr()]).ok(), "a?[2Jb\n");
}

#[test]
fn rm_refuses_an_object_in_use_unless_forced() {
    let name = PosixName::new("rm_busy");
    let addr = name.addr();
    shmkit(&["create", &addr, "--size", "8K"]).ok();
    let holder = Holder::start(&["--posix", &name.0]);
    let stat = json(&shmkit(&["stat", &addr, "--json"]));
    let pids: Vec<u64> = stat["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(
        pids,
        vec![u64::from(holder.pid)],
        "stat's own handle is not a holder: {stat}"
    );
    let err = shmkit(&["rm", &addr]);
    let text = err.fails(9, &addr);
    assert!(
        text.contains(&holder.pid.to_string()),
        "names the holder: {text}"
    );
    assert!(name.path().exists(), "still there");
    let dry = json(&shmkit(&["rm", &addr, "--force", "--dry-run", "--json"]));
    assert_eq!(
        dry["removed"][0]["freed"], 0,
        "held memory does not come back at once"
    );
    assert!(name.path().exists(), "dry run removes nothing");
    shmkit(&["rm", &addr, "--force"]).ok();
    assert!(!name.path().exists());
    drop(holder);
}

#[test]
fn rm_refuses_an_attached_sysv_segment_and_reports_others() {
    let key = SysvKey::new("rm_attached");
    shmkit(&["create", &key.addr(), "--size", "4K"]).ok();
    let id = key.id().unwrap();
    let holder = Holder::start(&["--sysv-id", &id.to_string()]);
    let missing = PosixName::new("rm_missing");
    let out = shmkit(&["rm", &key.addr(), &missing.addr()]);
    assert_eq!(out.code, 9, "the first failure decides: {out:?}");
    assert!(
        out.stderr.contains(&format!(
            "shmkit: {}: it is in use by {}",
            key.addr(),
            holder.pid
        )),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains(&format!("shmkit: {}: ", missing.addr())),
        "{out:?}"
    );
    assert_eq!(shmkit::sys::sysv::stat(id).unwrap().nattch, 1);
    let stat = json(&shmkit(&["stat", &key.addr(), "--json"]));
    assert_eq!(stat["sysv"]["nattch"], 1);
    let pids: Vec<u64> = stat["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(pids, vec![u64::from(holder.pid)], "{stat}");
    drop(holder);
    shmkit(&["rm", &key.addr()]).ok();
}

#[test]
fn create_without_exclusive_opens_an_existing_object_and_changes_nothing() {
    let key = SysvKey::new("create_twice");
    shmkit(&["create", &key.addr(), "--size", "100"]).ok();
    shmkit(&["write", &key.addr(), "keep"]).ok();
    let again = json(&shmkit(&["create", &key.addr(), "--size", "50", "--json"]));
    assert_eq!(again["created"], false);
    assert_eq!(again["stat"]["size"], 100);
    assert_eq!(shmkit(&["read", &key.addr(), "--len", "4"]).ok(), "keep\n");
    shmkit(&["create", &key.addr(), "--size", "100", "--exclusive"]).fails(4, &key.addr());
}

#[test]
fn sysv_private_creates_a_keyless_segment_and_prints_its_id() {
    let out = shmkit(&["create", "sysv:private", "--size", "10", "--json"]);
    let v = json(&out);
    let id = v["stat"]["sysv"]["shmid"].as_i64().unwrap() as i32;
    let _guard = SysvId(id);
    assert_eq!(v["stat"]["sysv"]["key"], 0);
    assert_eq!(v["stat"]["address"], format!("sysv:id={id}"));
    shmkit(&["write", &format!("sysv:id={id}"), "x"]).ok();
    // The human line names the address to use from now on: sysv:private names no segment.
    let out = shmkit(&["create", "sysv:private", "--size", "10"]);
    let id: i32 = out
        .ok()
        .split_once("(key 0x00000000, id ")
        .and_then(|(_, rest)| rest.split_once(')'))
        .and_then(|(id, _)| id.parse().ok())
        .unwrap_or_else(|| panic!("{out:?}"));
    let _guard = SysvId(id);
    assert_eq!(
        out.stdout,
        format!("created sysv:id={id} (key 0x00000000, id {id}): 10 bytes, mode 0600\n")
    );
}

#[test]
fn sysv_ftok_address_names_the_key_ftok_derives() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.conf");
    std::fs::write(&path, b"").unwrap();
    let key = shmkit::sys::sysv::ftok(&path, b'A').unwrap();
    let _guard = SysvKey(key);
    let addr = format!("sysv:ftok={}:A", path.display());
    let v = json(&shmkit(&["create", &addr, "--size", "10", "--json"]));
    assert_eq!(v["stat"]["sysv"]["key"], key);
}

#[test]
fn memfds_and_bad_addresses_are_refused_with_exit_2() {
    shmkit(&["create", "memfd:x", "--size", "1"]).fails(2, "memfd:x");
    let out = shmkit(&["read", "posix:/a/b"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("exactly one '/'"), "{out:?}");
    let out = shmkit(&["create", "sysv:0", "--size", "1"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("IPC_PRIVATE"), "{out:?}");
    let out = shmkit(&["chmod", "posix:/x", "1777"]);
    assert_eq!(out.code, 2, "{out:?}");
}

#[test]
fn file_objects_refuse_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    std::fs::write(&target, vec![0u8; 10]).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let addr = format!("file:{}", link.display());
    let text = shmkit(&["write", &addr, "x"]).fails(5, &addr).to_string();
    assert!(text.contains("symbolic link"), "{text}");
    shmkit(&["create", &addr, "--size", "10", "--exclusive"]).fails(4, &addr);
    assert_eq!(
        std::fs::read(&target).unwrap(),
        vec![0u8; 10],
        "the target was not touched"
    );
}

#[test]
fn resize_refuses_to_shrink_under_a_holder_unless_forced() {
    let name = PosixName::new("resize_busy");
    let addr = name.addr();
    shmkit(&["create", &addr, "--size", "64K"]).ok();
    let holder = Holder::start(&["--posix", &name.0]);
    let text = shmkit(&["resize", &addr, "4K"]).fails(9, &addr).to_string();
    assert!(
        text.contains("SIGBUS") && text.contains(&holder.pid.to_string()),
        "{text}"
    );
    assert_eq!(std::fs::metadata(name.path()).unwrap().len(), 64 << 10);
    // Growing is harmless to holders.
    shmkit(&["resize", &addr, "128K"]).ok();
    drop(holder);
    // Unheld, a shrink still discards data: it needs --force too.
    let text = shmkit(&["resize", &addr, "4K"]).fails(2, &addr).to_string();
    assert!(
        text.contains("discard its last 126976 bytes") && text.contains("--force"),
        "{text}"
    );
    assert_eq!(std::fs::metadata(name.path()).unwrap().len(), 128 << 10);
    shmkit(&["resize", &addr, "4K", "--force"]).ok();
    assert_eq!(std::fs::metadata(name.path()).unwrap().len(), 4 << 10);
}

#[test]
fn reading_a_world_writable_object_warns() {
    let name = PosixName::new("tamper");
    shmkit(&["create", &name.addr(), "--size", "4", "--mode", "666"]).ok();
    let out = shmkit(&["read", &name.addr()]);
    out.ok();
    assert!(out.stderr.contains("anyone may have changed it"), "{out:?}");
    shmkit(&["chmod", &name.addr(), "600"]).ok();
    assert!(shmkit(&["read", &name.addr()]).stderr.is_empty());
}

#[test]
fn create_prefault_makes_a_sysv_segment_resident_at_once() {
    let resident = |key: &SysvKey| {
        let id = key.id().unwrap();
        shmkit::procfs::ProcRoot::live()
            .sysvipc_shm()
            .unwrap()
            .into_iter()
            .find(|s| s.shmid == id)
            .and_then(|s| s.rss)
            .unwrap()
    };
    let key = SysvKey::new("prefault");
    shmkit(&["create", &key.addr(), "--size", "1M", "--prefault"]).ok();
    assert_eq!(resident(&key), 1 << 20, "every page resident");
    let other = SysvKey::new("no_prefault");
    shmkit(&["create", &other.addr(), "--size", "1M"]).ok();
    assert_eq!(resident(&other), 0, "without --prefault nothing is touched");
}

#[test]
fn a_fifo_planted_at_a_file_address_is_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let addr = format!("file:{}", fifo.display());
    let text = shmkit(&["read", &addr]).fails(2, &addr).to_string();
    assert!(text.contains("not a regular file"), "{text}");
}

#[test]
fn read_past_the_end_is_refused_before_allocating() {
    let name = PosixName::new("read_huge");
    let addr = name.addr();
    shmkit(&["create", &addr, "--size", "4K"]).ok();
    for args in [
        vec!["--len", "1000T"],
        vec!["--offset", "4097"],
        vec!["--offset", "4000", "--len", "97"],
        vec!["--offset", "18446744073709551615", "--len", "2"],
    ] {
        let mut cmd = vec!["read", addr.as_str()];
        cmd.extend(args);
        let out = shmkit(&cmd);
        out.fails(2, &name.addr());
        assert!(out.stderr.contains("4096-byte object"), "{out:?}");
    }
    assert_eq!(
        shmkit(&["read", &name.addr(), "--offset", "4096", "--format", "raw"]).ok(),
        ""
    );
}

#[test]
fn write_refuses_input_that_does_not_fit_and_writes_nothing() {
    let name = PosixName::new("write_big");
    let addr = name.addr();
    shmkit(&["create", &addr, "--size", "8"]).ok();
    let out = shmkit_in(None, &["write", &addr, "--offset", "4"], &[b'x'; 100_000]);
    out.fails(2, &addr);
    assert!(
        out.stderr
            .contains("at least 5 bytes at offset 4 reach past the end of the 8-byte object"),
        "{out:?}"
    );
    assert!(out.stderr.contains("shmkit resize"), "{out:?}");
    assert_eq!(
        std::fs::read(name.path()).unwrap(),
        vec![0u8; 8],
        "nothing written"
    );
    let out = shmkit(&["write", &addr, "--from", "/nonexistent/input"]);
    out.fails(3, "/nonexistent/input");
    // Exactly filling it is fine.
    shmkit_in(None, &["write", &addr, "--offset", "4"], b"abcd").ok();
    assert_eq!(&std::fs::read(name.path()).unwrap()[4..], b"abcd");
}

#[test]
fn a_mapped_file_is_held_and_not_removed_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shm.txt");
    let addr = format!("file:{}", path.display());
    shmkit(&["create", &addr, "--size", "501"]).ok();
    let holder = Holder::start(&["--file", path.to_str().unwrap()]);
    let stat = json(&shmkit(&["stat", &addr, "--json"]));
    assert_eq!(stat["holders"][0]["pid"], holder.pid, "{stat}");
    shmkit(&["rm", &addr]).fails(9, &addr);
    assert!(path.exists());
    drop(holder);
    let rm = json(&shmkit(&["rm", &addr, "--json"]));
    assert_eq!(rm["removed"][0]["kind"], "file");
    assert!(!path.exists());
}

/// Removes whatever a test planted in /dev/shm (a FIFO, a directory), also on failure.
struct Planted(std::path::PathBuf);

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0).or_else(|_| std::fs::remove_dir(&self.0));
    }
}

#[test]
fn a_fifo_or_directory_planted_in_dev_shm_is_refused_without_hanging() {
    // /dev/shm is world-writable: any user may put a FIFO under a name another user's program
    // will open. A plain open of a FIFO waits for a writer; `timeout` turns a hang into 124.
    let fifo = PosixName::new("planted_fifo");
    let _fifo_guard = Planted(fifo.path());
    let status = std::process::Command::new("mkfifo")
        .arg(fifo.path())
        .status()
        .unwrap();
    assert!(status.success());
    let dir = PosixName::new("planted_dir");
    std::fs::create_dir(dir.path()).unwrap();
    let _dir_guard = Planted(dir.path());
    for name in [&fifo, &dir] {
        let addr = name.addr();
        for cmd in [
            vec!["stat", addr.as_str()],
            vec!["read", addr.as_str()],
            vec!["write", addr.as_str(), "x"],
            vec!["rm", addr.as_str()],
        ] {
            let out = run(
                std::process::Command::new("timeout")
                    .arg("10")
                    .arg(bin())
                    .args(&cmd),
                None,
                b"",
            );
            let text = out.fails(2, &addr);
            assert_eq!(
                text,
                format!(
                    "shmkit: {addr}: it is not a regular file, so not a POSIX shm object \
                     (anyone may create files in /dev/shm); look at `ls -l {}` and remove it \
                     with rm if it does not belong there\n",
                    name.path().display()
                ),
                "{cmd:?}"
            );
        }
        assert!(name.path().exists(), "rm left it alone");
    }
}

#[test]
fn shrinking_an_attached_sysv_segment_is_refused_as_unsupported_not_busy() {
    // The holder check is for objects that can shrink; a System V segment cannot change size at
    // all, whoever has it attached.
    let key = SysvKey::new("resize_attached_sysv");
    let addr = key.addr();
    shmkit(&["create", &addr, "--size", "8K"]).ok();
    let id = key.id().unwrap();
    let _holder = Holder::start(&["--sysv-id", &id.to_string()]);
    let out = shmkit(&["resize", &addr, "4K"]);
    assert_eq!(
        out.fails(10, &addr),
        format!(
            "shmkit: {addr}: a System V segment cannot change size (8192 bytes, asked 4096): \
             the kernel ignores shm_segsz in IPC_SET; create a new segment of 4096 bytes, copy \
             the data (`shmkit read {addr} --format raw | shmkit write NEWADDR`), and remove this one\n"
        )
    );
    assert_eq!(shmkit::sys::sysv::stat(id).unwrap().size, 8192);
}

#[test]
fn stat_survives_the_oldest_time_a_user_can_set() {
    // Any user may set their object's times to the extremes of a 64-bit time_t
    // (`touch -d @-9223372036854775808`); "how long ago" must not overflow.
    let name = PosixName::new("stat_extreme_time");
    let addr = name.addr();
    shmkit(&["create", &addr, "--size", "1"]).ok();
    for when in ["@-9223372036854775808", "@9223372036854775807"] {
        let status = std::process::Command::new("touch")
            .args(["-d", when])
            .arg(name.path())
            .status()
            .unwrap();
        assert!(status.success());
        let out = shmkit(&["stat", &addr]);
        assert!(out.ok().contains("\n         modified  "), "{out:?}");
        assert_eq!(out.stderr, "", "{when}");
    }
}

#[test]
fn chown_refuses_id_4294967295_which_chown_reads_as_leave_unchanged() {
    // (uid_t)-1 tells fchown to keep the owner: `chown X 4294967295` would succeed doing nothing,
    // and IPC_SET rejects it with EINVAL.
    let name = PosixName::new("chown_minus_one");
    let key = SysvKey::new("chown_minus_one");
    for addr in [name.addr(), key.addr()] {
        shmkit(&["create", &addr, "--size", "1"]).ok();
        for (owner, what, table) in [
            ("4294967295", "user", "getent passwd"),
            (":4294967295", "group", "getent group"),
        ] {
            let out = shmkit(&["chown", &addr, owner]);
            assert_eq!(
                out.fails(2, &addr),
                format!(
                    "shmkit: {addr}: {what} id 4294967295 is -1, which chown reads as \
                     'leave it unchanged'; give a {what} name that `{table}` lists, or a numeric id\n"
                )
            );
        }
    }
}

#[test]
fn reading_a_large_object_streams_it_instead_of_copying_it_whole() {
    // A 128 MiB sparse file, read under a 64 MiB data limit (RLIMIT_DATA counts heap, not the
    // shared mapping): a whole-object buffer aborts with "memory allocation failed". An 'é'
    // straddles 127 MiB, where one 1 MiB chunk of a read from 126 MiB ends and the next begins.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(128 << 20).unwrap();
    std::os::unix::fs::FileExt::write_at(&file, "é".as_bytes(), (127 << 20) - 1).unwrap();
    std::os::unix::fs::FileExt::write_at(&file, b"abc\xc3", (128 << 20) - 5).unwrap();
    drop(file);
    let addr = format!("file:{}", path.display());
    let out = sh(
        &[],
        &format!(
            r#"ulimit -d 65536
               "$SHMKIT" read '{addr}' --format raw | wc -c
               "$SHMKIT" read '{addr}' --format hex --offset 126M | grep -A1 '^07effff0'
               "$SHMKIT" read '{addr}' --format text --offset 126M | tr -d '?' | od -An -c"#
        ),
    );
    assert_eq!(
        out.stdout,
        "134217728\n\
         07effff0: 0000 0000 0000 0000 0000 0000 0000 00c3  ................\n\
         07f00000: a900 0000 0000 0000 0000 0000 0000 0000  ................\n \
         303 251   a   b   c 357 277 275  \\n\n",
        "{out:?}"
    );
    assert_eq!(out.stderr, "");
    let out = shmkit(&["read", &addr, "--json"]);
    assert_eq!(
        out.fails(2, &addr),
        format!(
            "shmkit: {addr}: --json holds 134217728 bytes in memory twice over (as hex and as \
             text); the limit is 16777216; read it with --format raw, or a part with --offset \
             and --len\n"
        )
    );
}

#[test]
fn create_leaves_a_sysv_segment_unattached_and_rm_measures_only_what_was_mapped() {
    // `create` makes the segment the way ipcmk does: nobody attaches, so the kernel's last
    // attach/detach times and pid stay unset.
    let fresh = SysvKey::new("create_unattached_fresh");
    let out = shmkit(&["create", &fresh.addr(), "--size", "8192"]);
    let id = fresh.id().expect("created");
    assert_eq!(
        out.ok(),
        format!(
            "created {} (key 0x{:08x}, id {id}): 8192 bytes, mode 0600\n",
            fresh.addr(),
            fresh.0
        )
    );
    let st = shmkit::sys::sysv::stat(id).unwrap();
    assert_eq!(
        (st.nattch, st.atime, st.dtime, st.lpid),
        (0, 0, 0, 0),
        "{st:?}"
    );
    // Opening what exists names its owner: it may be someone else's.
    let again = shmkit(&["create", &fresh.addr(), "--size", "8192"]);
    assert_eq!(
        again.ok(),
        format!(
            "opened existing {} (key 0x{:08x}, id {id}): 8192 bytes, mode 0600, {}\n",
            fresh.addr(),
            fresh.0,
            owner_words()
        )
    );
    // Never attached, so none of its pages was ever allocated: nothing comes back.
    let rm = json(&shmkit(&["rm", &fresh.addr(), "--json"]));
    assert_eq!(rm["freed"], 0, "{rm}");
    assert!(fresh.id().is_none());

    // One page written through a mapping is one page back at removal.
    let used = SysvKey::new("create_unattached_used");
    shmkit(&["create", &used.addr(), "--size", "8192"]).ok();
    shmkit(&["write", &used.addr(), "x"]).ok();
    let id = used.id().expect("created");
    assert!(
        shmkit::sys::sysv::stat(id).unwrap().atime > 0,
        "write attached it"
    );
    let rm = json(&shmkit(&["rm", &used.addr(), "--json"]));
    assert_eq!(rm["freed"], shmkit::sys::page_size(), "{rm}");
}
