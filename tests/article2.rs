//! The seed's article 2, reproduced through the commands: a System V segment (key, 27 bytes)
//! and a mapped regular file (`./shm.txt`, 501 bytes, 27 mapped) written by one process and
//! read by another — and interoperating with real C programs (`tests/c/writer.c`,
//! `tests/c/reader.c`, compiled at test time) in both directions.

mod lifecycle_support;
use lifecycle_support::*;
use std::process::Command;

const LETTERS: &str = "abcdefghijklmnopqrstuvwxyz";

#[test]
fn sysv_shmkit_writes_and_another_process_and_a_c_reader_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let reader = compile_c("reader", dir.path());
    let key = SysvKey::new("article2_sysv_shmkit_writes");
    let addr = key.addr();
    let out = shmkit(&["create", &addr, "--size", "27"]);
    let id = key.id().expect("created");
    assert_eq!(
        out.ok(),
        format!(
            "created {addr} (key 0x{:08x}, id {id}): 27 bytes, mode 0600\n",
            key.0
        )
    );
    shmkit(&["write", &addr, LETTERS]).ok();
    // Another shmkit process reads them back.
    assert_eq!(shmkit(&["read", &addr]).ok(), format!("{LETTERS}\n"));
    // So does the seed's C reader: shmget(KEY, 27, 0666).
    let out = run(
        Command::new(&reader).args(["sysv", &key.0.to_string()]),
        None,
        b"",
    );
    assert_eq!(out.ok(), format!("{LETTERS}\n"));
    // shmkit made it 0600, not the seed's 0666.
    let stat: serde_json::Value =
        serde_json::from_str(shmkit(&["stat", &addr, "--json"]).ok()).unwrap();
    assert_eq!(stat["mode"], 0o600);
    assert_eq!(stat["size"], 27);
}

#[test]
fn sysv_c_writer_and_shmkit_reader() {
    let dir = tempfile::tempdir().unwrap();
    let writer = compile_c("writer", dir.path());
    let key = SysvKey::new("article2_sysv_c_writes");
    let out = run(
        Command::new(&writer).args(["sysv", &key.0.to_string()]),
        None,
        b"",
    );
    out.ok();
    let addr = key.addr();
    assert_eq!(shmkit(&["read", &addr]).ok(), format!("{LETTERS}\n"));
    assert_eq!(
        shmkit(&["read", &addr, "--len", "26", "--format", "raw"]).ok(),
        LETTERS
    );
    // The seed's writer asked for 0666: stat shows it, and the segment outlived the writer.
    let stat: serde_json::Value =
        serde_json::from_str(shmkit(&["stat", &addr, "--json"]).ok()).unwrap();
    assert_eq!(stat["mode"], 0o666);
    assert_eq!(stat["sysv"]["nattch"], 0);
    assert_eq!(stat["survives"]["process_exit"]["answer"], "yes");
    assert_eq!(stat["survives"]["reboot"]["answer"], "no");
}

#[test]
fn file_shmkit_writes_and_a_c_reader_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let reader = compile_c("reader", dir.path());
    let work = dir.path();
    shmkit_in(
        Some(work),
        &["create", "file:./shm.txt", "--size", "501"],
        b"",
    )
    .ok();
    shmkit_in(Some(work), &["write", "file:./shm.txt"], LETTERS.as_bytes()).ok();
    let out = shmkit_in(Some(work), &["read", "file:./shm.txt", "--len", "26"], b"");
    assert_eq!(out.ok(), format!("{LETTERS}\n"));
    let out = run(
        Command::new(&reader).args(["file", "./shm.txt"]),
        Some(work),
        b"",
    );
    assert_eq!(out.ok(), format!("{LETTERS}\n"));
    // It is a file: the bytes are in it (shmkit write flushes with msync).
    let bytes = std::fs::read(work.join("shm.txt")).unwrap();
    assert_eq!(bytes.len(), 501);
    assert_eq!(&bytes[..26], LETTERS.as_bytes());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(work.join("shm.txt"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

#[test]
fn file_c_writer_and_shmkit_reader() {
    // Under target/, on the disk the repository is on (a tmpfs /tmp would not survive reboot).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let writer = compile_c("writer", dir.path());
    let work = dir.path();
    run(
        Command::new(&writer).args(["file", "./shm.txt"]),
        Some(work),
        b"",
    )
    .ok();
    let out = shmkit_in(
        Some(work),
        &["read", "file:./shm.txt", "--len", "27", "--format", "text"],
        b"",
    );
    assert_eq!(out.ok(), format!("{LETTERS}\n"));
    let stat: serde_json::Value = serde_json::from_str(
        shmkit_in(Some(work), &["stat", "file:./shm.txt", "--json"], b"").ok(),
    )
    .unwrap();
    assert_eq!(stat["size"], 501, "the writer extended it to 501 bytes");
    assert_eq!(stat["kind"], "file");
    assert_eq!(stat["survives"]["reboot"]["answer"], "yes");
}
