//! The host's view of containers' shared memory, on a real Docker Engine (images imported from
//! a local root filesystem, `--network none`) and, without Docker, in namespaces made with
//! `unshare --ipc --mount`. Every container, image and namespace is removed on drop, also when
//! an assertion fails; objects are created under a uid of the test's own so that host-wide
//! `rm --orphans --user UID` cannot touch anything another test made.

mod common;
mod containers_support;

use containers_support::*;
use serde_json::Value;

/// A uid no other test uses, for objects created in containers.
fn test_uid(n: u32) -> u32 {
    300_000 + (std::process::id() % 20_000) * 8 + n
}

fn ns_inode(pid: u32, kind: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/{kind}"))
        .expect("ns link")
        .ino()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {objects:#?}"))
}

/// Article 2 in a container with a private IPC namespace, seen from the host: the writer's
/// segment (idle), a held segment, an orphan from the seed's shm.c, a held POSIX object and a
/// /dev/shm file are each attributed to the container; `read --container` reads the writer's
/// letters; `rm --orphans` on the host frees the container's orphan inside its namespace and
/// spares everything else.
#[test]
fn a_private_ipc_containers_objects_are_attributed_read_and_collected_from_the_host() {
    if !common::needs_docker(
        "a_private_ipc_containers_objects_are_attributed_read_and_collected_from_the_host",
    ) {
        return;
    }
    let image = Image::build();
    let ct = Container::run(&image, &["--ipc", "private"]);
    let uid = test_uid(0);
    let as_uid = |script: &str| {
        docker(&[
            "exec",
            "-u",
            &format!("{uid}:{uid}"),
            &ct.name,
            "sh",
            "-c",
            script,
        ])
    };
    ct.sh("writer sysv 5678");
    let leak_id: i32 = as_uid("leak 2097152")
        .trim()
        .parse()
        .expect("leak prints its id");
    // Root's: whether an unheld POSIX object is a leak or only idle, --user leaves it alone.
    ct.sh("head -c 4194304 /dev/zero > /dev/shm/file4m");
    // Held objects belong to the uid too, so that nothing but the orphan is eligible.
    docker(&[
        "exec",
        "-d",
        "-u",
        &format!("{uid}:{uid}"),
        &ct.name,
        "hold",
        "sysv",
        "0x1234",
        "1048576",
    ]);
    docker(&[
        "exec",
        "-d",
        "-u",
        &format!("{uid}:{uid}"),
        &ct.name,
        "hold",
        "posix",
        "held",
        "1048576",
    ]);
    // `exec -d` returns at once: wait until both are in place.
    // (key, shmid) of the container's segments, as its own /proc shows them.
    let segments = || -> Vec<(i64, i64)> {
        ct.sh("cat /proc/sysvipc/shm")
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
            })
            .collect()
    };
    for _ in 0..100 {
        let held = ct.sh("ls /dev/shm");
        if segments().iter().any(|s| s.0 == 0x1234) && held.contains("held") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let ipc = ns_inode(ct.pid(), "ipc");
    let mnt = ns_inode(ct.pid(), "mnt");

    let objects = ls_json(&["--container", &ct.name]);
    let writer = find(&objects, "sysv", "0x0000162e");
    let held = find(&objects, "sysv", "0x00001234");
    let leak = objects
        .iter()
        .find(|o| o["sysv"]["shmid"] == leak_id && o["kind"] == "sysv")
        .expect("the leak is listed");
    let file = find(&objects, "posix", "/file4m");
    let posix_held = find(&objects, "posix", "/held");
    for o in [writer, held, leak, file, posix_held] {
        assert_eq!(o["container"]["name"], ct.name.as_str(), "{o:#}");
        assert_eq!(o["container"]["id"], ct.id.as_str(), "{o:#}");
        assert_eq!(o["container"]["runtime"], "docker", "{o:#}");
    }
    for o in [writer, held, leak] {
        assert_eq!(o["namespaces"]["ipc"], ipc, "{o:#}");
    }
    for o in [file, posix_held] {
        assert_eq!(o["namespaces"]["mnt"], mnt, "{o:#}");
    }
    assert_eq!(leak["status"]["orphan"], true, "{leak:#}");
    assert_eq!(held["status"]["orphan"], false);
    assert_eq!(
        held["holders"].as_array().map(Vec::len),
        Some(1),
        "{held:#}"
    );
    assert_eq!(posix_held["holders"].as_array().map(Vec::len), Some(1));
    assert_eq!(file["resident"], 4_194_304);
    // The host's own table: the container's name in the CONTAINER column.
    let (code, table, err) = run_shmkit(&["ls", "--container", &ct.id[..12]]);
    assert_eq!(code, 0, "{err}");
    let line = table
        .lines()
        .find(|l| l.contains("0x0000162e"))
        .expect("the writer's segment in the table");
    assert!(line.contains(&ct.name), "{table}");

    // Article 2's reader, from the host.
    let (code, letters, err) = run_shmkit(&["read", "--container", &ct.name, "sysv:5678"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(letters.trim_end(), "abcdefghijklmnopqrstuvwxyz");

    // The host collects the container's leak, and only it.
    let (code, out, err) = run_shmkit(&["rm", "--orphans", "--user", &uid.to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("sysv:id={leak_id} in {}", ct.name)),
        "{out}"
    );
    assert_eq!(out.matches("removed ").count(), 1, "{out}");
    let left = segments();
    assert!(!left.iter().any(|s| s.1 == i64::from(leak_id)), "{left:?}");
    assert!(
        left.iter().any(|s| s.0 == 5678) && left.iter().any(|s| s.0 == 0x1234),
        "{left:?}"
    );
    let files = ct.sh("ls /dev/shm");
    assert!(
        files.contains("file4m") && files.contains("held"),
        "{files}"
    );
}

/// `--ipc=shareable` and a container joined to it (`--ipc=container:X`): one IPC namespace,
/// owned by the shareable container; the joined one lists it as its owner.
#[test]
fn a_shareable_ipc_namespace_belongs_to_its_owner_and_lists_who_joined() {
    if !common::needs_docker("a_shareable_ipc_namespace_belongs_to_its_owner_and_lists_who_joined")
    {
        return;
    }
    let image = Image::build();
    let owner = Container::run(&image, &["--ipc", "shareable"]);
    let joined = Container::run(&image, &["--ipc", &format!("container:{}", owner.name)]);
    owner.hold("sysv 0x2345 65536");
    joined.hold("sysv 0x3456 65536");
    let objects = ls_json(&["--container", &owner.name]);
    for key in ["0x00002345", "0x00003456"] {
        let o = find(&objects, "sysv", key);
        assert_eq!(o["container"]["name"], owner.name.as_str(), "{o:#}");
    }
    // The joined container's holder is matched in the shared namespace.
    let by_joined = find(&objects, "sysv", "0x00003456");
    assert_eq!(by_joined["holders"].as_array().map(Vec::len), Some(1));
    let (code, out, err) = run_shmkit(&["mem", "--json"]);
    assert_eq!(code, 0, "{err}");
    let mem: Value = serde_json::from_str(&out).expect("json");
    let report = |name: &str| {
        mem["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .find(|c| c["container"]["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not in {:#}", mem["containers"]))
    };
    let o = report(&owner.name);
    let j = report(&joined.name);
    assert_eq!(j["ipc_owner"], owner.name.as_str(), "{j:#}");
    assert_eq!(o["ipc_owner"], Value::Null, "{o:#}");
    assert!(o["ipc_shared_with"]
        .as_array()
        .expect("list")
        .contains(&Value::from(joined.name.as_str())));
    assert_eq!(o["sysv_segments"], 2, "{o:#}");
    assert!(o["sysv"].as_u64().expect("bytes") >= 2 * 65536, "{o:#}");
}

/// `--shm-size=16m` filled to 90%: the host's `mem` shows it 90% full, with the warning.
#[test]
fn a_16m_dev_shm_filled_to_90_percent_is_shown_with_the_sigbus_warning() {
    if !common::needs_docker("a_16m_dev_shm_filled_to_90_percent_is_shown_with_the_sigbus_warning")
    {
        return;
    }
    let image = Image::build();
    let ct = Container::run(&image, &["--shm-size", "16m"]);
    // 90% of 16 MiB, in whole pages.
    ct.sh("head -c 15101952 /dev/zero > /dev/shm/fill");
    let (code, out, err) = run_shmkit(&["mem", "--json"]);
    assert_eq!(code, 0, "{err}");
    let mem: Value = serde_json::from_str(&out).expect("json");
    let c = mem["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .find(|c| c["container"]["name"] == ct.name.as_str())
        .cloned()
        .expect("the container is in the report");
    assert_eq!(c["dev_shm"]["size"], 16 << 20, "{c:#}");
    assert_eq!(c["dev_shm"]["percent"], 90, "{c:#}");
    let warning = c["dev_shm"]["warning"].as_str().expect("a warning");
    assert!(
        warning.ends_with("the next writes get SIGBUS/ENOSPC; raise --shm-size"),
        "{warning}"
    );
    let (code, text, err) = run_shmkit(&["mem"]);
    assert_eq!(code, 0, "{err}");
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with(&ct.name) && l.contains("docker"))
        .unwrap_or_else(|| panic!("no row for {} in {text}", ct.name));
    assert!(row.contains("90%") && row.contains("16.0M"), "{row}");
    assert!(
        text.contains(&format!("{}: /dev/shm is 90% full", ct.name)),
        "{text}"
    );
    // Its /dev/shm is itemised under Shmem, in the container.
    assert!(text.contains(&format!("/dev/shm in {}", ct.name)), "{text}");
}

/// The same without a container runtime: a namespace from `unshare --ipc --mount` with its
/// own /dev/shm. Its objects carry its namespace inodes and `pid:N`; `read --target` reads
/// inside; `rm --orphans` on the host frees its orphan inside it and spares the held one; the
/// host's tmpfs mounts, which the new mount namespace also has, are listed once.
#[test]
fn an_unshared_namespace_is_scanned_read_and_collected_without_docker() {
    if !common::needs_host_root(
        "an_unshared_namespace_is_scanned_read_and_collected_without_docker",
        common::OTHER_NAMESPACES,
    ) {
        return;
    }
    let bin = tempfile::tempdir().expect("tempdir");
    for prog in ["writer", "leak", "hold"] {
        compile(prog, bin.path());
    }
    let uid = test_uid(1);
    let mut ns = Unshared::start(bin.path());
    ns.run(&format!("chown {uid} /dev/shm"));
    let as_uid = format!("setpriv --reuid={uid} --regid={uid} --clear-groups");
    ns.run("writer sysv 0x4567");
    let leak_id: i32 = ns
        .run(&format!("{as_uid} leak 1048576"))
        .trim()
        .parse()
        .expect("an id");
    ns.run(&format!(
        "({as_uid} hold sysv 0x5678 65536 > /dev/shm/.ready &) ; while ! grep -q ready /dev/shm/.ready; do sleep 0.05; done"
    ));
    ns.run(&format!(
        "{as_uid} sh -c 'head -c 8192 /dev/zero > /dev/shm/nsfile'"
    ));
    let ipc = ns_inode(ns.pid, "ipc");
    let objects = ls_json(&[]);
    let mine: Vec<Value> = objects
        .iter()
        .filter(|o| {
            o["namespaces"]["ipc"] == ipc || o["namespaces"]["mnt"] == ns_inode(ns.pid, "mnt")
        })
        .cloned()
        .collect();
    let leak = mine
        .iter()
        .find(|o| o["sysv"]["shmid"] == leak_id)
        .unwrap_or_else(|| panic!("leak {leak_id} not in {mine:#?}"));
    assert_eq!(leak["status"]["orphan"], true);
    assert_eq!(leak["container"], Value::Null);
    assert_eq!(leak["foreign"], true);
    let held = find(&mine, "sysv", "0x00005678");
    assert_eq!(
        held["holders"].as_array().map(Vec::len),
        Some(1),
        "{held:#}"
    );
    let file = find(&mine, "posix", "/nsfile");
    assert_eq!(file["resident"], 8192);
    // One filesystem, one listing: no object twice.
    let mut ids: Vec<(String, String)> = objects
        .iter()
        .filter(|o| o["kind"] != "sysv" && o["inode"].is_u64())
        .map(|o| (o["dev"].to_string(), o["inode"].to_string()))
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "an object listed twice");
    // The table names the namespace by a pid in it.
    let (_, table, _) = run_shmkit(&["ls", "--kind", "sysv"]);
    assert!(
        table
            .lines()
            .any(|l| l.contains("0x00004567") && l.contains(&format!("pid:{}", ns.pid))),
        "{table}"
    );

    let (code, letters, err) =
        run_shmkit(&["read", "--target", &ns.pid.to_string(), "sysv:0x4567"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(letters.trim_end(), "abcdefghijklmnopqrstuvwxyz");

    let (code, out, err) = run_shmkit(&["rm", "--orphans", "--user", &uid.to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("sysv:id={leak_id} in pid:{}", ns.pid)),
        "{out}"
    );
    let ipcs = ns.run("ipcs -m");
    assert!(
        ipcs.contains("0x00005678") && ipcs.contains("0x00004567"),
        "{ipcs}"
    );
    assert!(
        !ipcs
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(&leak_id.to_string())),
        "{ipcs}"
    );
}

/// Bad input: a container nobody runs is one line naming it, with exit 3.
#[test]
fn an_unknown_container_is_a_one_line_error_with_exit_3() {
    if !common::needs_host_root(
        "an_unknown_container_is_a_one_line_error_with_exit_3",
        common::DOCKER,
    ) {
        return;
    }
    let (code, out, err) =
        run_shmkit(&["read", "--container", "no-such-container-xyz", "sysv:5678"]);
    assert_eq!(code, 3, "{out}{err}");
    assert_eq!(
        err,
        "shmkit: container no-such-container-xyz: no running container has this name or id; `docker ps` lists the running containers; give a name, an id or an id prefix of 4+ digits\n"
    );
    let (code, _, err) = run_shmkit(&["ls", "--container", "no-such-container-xyz"]);
    assert_eq!(code, 3, "{err}");
}

/// `doctor --container` judges a container from the host: Docker's IPC mode and
/// `--shm-size`, its private namespaces, its /dev/shm with its largest files, and the SIGBUS
/// that is coming: a sparse file larger than the space left, a /dev/shm larger than the
/// memory limit.
#[test]
fn doctor_judges_a_container_from_the_host_and_warns_of_the_coming_sigbus() {
    if !common::needs_docker(
        "doctor_judges_a_container_from_the_host_and_warns_of_the_coming_sigbus",
    ) {
        return;
    }
    let image = Image::build();
    let ct = Container::run(&image, &["--shm-size", "16m", "--memory", "64m"]);
    // A 24 MiB file with one page written: touching the rest through a mapping needs more
    // than the 16 MiB there are.
    ct.sh("dd if=/dev/zero of=/dev/shm/sparse bs=4096 count=1 seek=6143 2>/dev/null");
    let (code, out, err) = run_shmkit(&["doctor", "--container", &ct.name, "--json"]);
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(r["place"]["kind"], "container", "{r:#}");
    assert_eq!(r["container"]["container"]["name"], ct.name.as_str());
    assert_eq!(r["container"]["docker"]["ipc_mode"], "private");
    assert_eq!(r["container"]["docker"]["shm_size"], 16 << 20);
    assert_eq!(r["ipc_initial"], false);
    assert_eq!(r["dev_shm"]["total"], 16 << 20);
    assert_eq!(r["dev_shm"]["largest"][0]["name"], "sparse");
    assert_eq!(r["dev_shm"]["largest"][0]["size"], 24 << 20);
    let ids: Vec<&str> = r["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w["code"].as_str())
        .collect();
    assert!(ids.contains(&"sigbus-sparse-dev-shm"), "{ids:?}");
    assert!(ids.contains(&"private-ipc"), "{ids:?}");
    let posix = r["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .find(|v| v["kind"] == "posix")
        .expect("posix verdict");
    assert_eq!(posix["container_restart"]["answer"], "no", "{posix:#}");
    // A /dev/shm above the memory limit: OOM before ENOSPC.
    let small = Container::run(&image, &["--shm-size", "64m", "--memory", "32m"]);
    let (code, out, err) = run_shmkit(&["doctor", "--container", &small.name]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("warning: /dev/shm may hold 64.0M but the memory limit is 32.0M"),
        "{out}"
    );
}

/// Inside a private mount namespace with a /dev/shm of its own (`unshare --mount`), `doctor`
/// and `stat` do not claim POSIX objects survive because the host's /dev/shm does; with the
/// host's /dev/shm still there, they do.
#[test]
fn in_a_private_mount_namespace_posix_objects_do_not_outlive_it() {
    if !common::needs_host_root(
        "in_a_private_mount_namespace_posix_objects_do_not_outlive_it",
        "it compares a private /dev/shm with the host's own",
    ) {
        return;
    }
    let bin = tempfile::tempdir().expect("tempdir");
    let mut ns = Unshared::start(bin.path());
    let shmkit = shmkit();
    let shmkit = shmkit.display();
    let doctor: Value =
        serde_json::from_str(&ns.run(&format!("{shmkit} doctor --json"))).expect("json");
    assert_eq!(doctor["dev_shm"]["private_mount_ns"], true, "{doctor:#}");
    assert_eq!(doctor["dev_shm"]["hosts"], false);
    let posix = doctor["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .find(|v| v["kind"] == "posix")
        .expect("posix")
        .clone();
    assert_eq!(posix["container_restart"]["answer"], "no", "{posix:#}");
    ns.run(&format!("{shmkit} create posix:/ns-stat --size 4096"));
    let stat = ns.run(&format!("{shmkit} stat posix:/ns-stat"));
    let restart = stat
        .lines()
        .find(|l| l.trim_start().starts_with("container restart"))
        .expect("a container restart line");
    assert!(
        restart.contains("no:") && !restart.contains("host's"),
        "{stat}"
    );
    // The host's /dev/shm seen from a private mount namespace is still the host's.
    ns.run("umount /dev/shm");
    let doctor: Value =
        serde_json::from_str(&ns.run(&format!("{shmkit} doctor --json"))).expect("json");
    assert_eq!(doctor["dev_shm"]["hosts"], true, "{doctor:#}");
}

/// Article 2's fix from the host: `snapshot save --container` copies a container's segments
/// to a file on the host, and `snapshot restore --container` recreates them in another
/// container, where the reader finds the writer's letters.
#[test]
fn a_containers_segments_are_saved_to_the_host_and_restored_into_another() {
    if !common::needs_docker(
        "a_containers_segments_are_saved_to_the_host_and_restored_into_another",
    ) {
        return;
    }
    let image = Image::build();
    let from = Container::run(&image, &[]);
    let to = Container::run(&image, &[]);
    from.sh("writer sysv 0x162f");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("shm.snap");
    let file = file.to_str().expect("utf-8");
    let (code, out, err) = run_shmkit(&["snapshot", "save", "--container", &from.name, file]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        std::path::Path::new(file).is_file(),
        "the snapshot is on the host"
    );
    let (code, out, err) = run_shmkit(&["snapshot", "restore", "--container", &to.name, file]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        to.sh("reader sysv 0x162f").trim_end(),
        "abcdefghijklmnopqrstuvwxyz"
    );
}
