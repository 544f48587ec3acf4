//! `ipc-namespace`: the seed's article 2, a container restart without Docker. In a new IPC
//! namespace a writer creates `sysv:5678` with the 26 letters (and a SIZE segment, to watch
//! its memory go), and a file on disk with the same letters; the namespace ends with its last
//! process; in a fresh namespace the key is gone and the file still reads the letters.

use super::{disk_parent, gone_is_ok, human, private_dir};
use crate::error::Result;
use crate::lab::child::{ChildProc, EXIT_UNSHARE_DENIED, LETTERS};
use crate::lab::runner::Lab;
use crate::lab::sample::Counter;
use crate::lab::verdict::{Expectation, Since};
use crate::lab::Outcome;
use std::time::Duration;

/// The seed's key.
const KEY: i32 = 5678;

pub(super) fn run(lab: &mut Lab<'_>) -> Result<Outcome> {
    let size = lab.size();
    let dir = private_dir(&disk_parent(1 << 20)?, "ipc")?;
    let dir_for_cleanup = dir.clone();
    lab.on_cleanup(format!("rmdir {}", dir.display()), move || {
        gone_is_ok(std::fs::remove_dir(&dir_for_cleanup))
    });
    let file = dir.join("shm.txt");
    let file_for_cleanup = file.clone();
    let file_cleanup = lab.on_cleanup(format!("rm {}", file.display()), move || {
        gone_is_ok(std::fs::remove_file(&file_for_cleanup))
    });
    let host_ns = match lab.options().proc.ns_link(None, "ipc") {
        Ok(Some(ns)) => format!("ipc:[{}]", ns.inode),
        _ => String::new(),
    };
    let letters = String::from_utf8_lossy(LETTERS).to_string();

    let args = [
        KEY.to_string(),
        file.display().to_string(),
        size.to_string(),
    ];
    let mut writer = ChildProc::spawn(&lab.options().child, "ipc-writer", &args)?;
    if let Err(err) = writer.wait_ready() {
        let ended = writer.finish().ok();
        if ended.as_ref().and_then(|e| e.code) == Some(EXIT_UNSHARE_DENIED) {
            let why = ended.map(|e| e.stderr).unwrap_or_default();
            return Ok(Outcome::Unsupported(format!(
                "{why}: entering a new IPC namespace needs CAP_SYS_ADMIN (root on the host; in a container, --cap-add SYS_ADMIN or --privileged, and a seccomp profile that allows unshare)"
            )));
        }
        return Err(err);
    }
    let pid = writer.pid();
    let said = writer.said.clone();
    let get = |key: &str| said.get(key).cloned().unwrap_or_default();
    let writer_ns = get("ipc-ns");
    lab.step(
        format!("child pid {pid} in a new IPC namespace (unshare CLONE_NEWIPC): create sysv:{KEY} with a..z, a {} segment, and {}", human(size), file.display()),
        vec![
            format!("namespace {writer_ns}; this shell's is {host_ns}"),
            format!("sysv:{KEY} (27 bytes, mode 0600 — the seed used 0666, writable by every user) reads back: {}", get("segment-reads")),
            format!("a second segment, id {} in that namespace, {} filled, nattch 0", get("big-id"), human(size)),
            format!("{} (501 bytes, 0600): a..z at its start, msync'd", file.display()),
        ],
        vec![
            Expectation::fact("a new IPC namespace", "yes", if writer_ns != host_ns && !writer_ns.is_empty() { "yes" } else { "no" }),
            Expectation::fact(format!("sysv:{KEY} inside it reads"), letters.clone(), get("segment-reads")),
            Expectation::grows(Counter::Shmem, size),
        ],
    )?;

    writer.run_to_end()?;
    lab.step_settling(
        format!("child pid {pid} exits: the namespace's last process, so the namespace ends (docker stop)"),
        vec!["the kernel frees a dead namespace's segments from a worker, a moment after the exit".to_string()],
        vec![
            Expectation::falls(Counter::Shmem, size),
            Expectation::Changes {
                counter: Counter::Shmem,
                by: 0,
                since: Since::Baseline,
            },
        ],
        Duration::from_secs(10),
    )?;

    let reader = ChildProc::spawn(
        &lab.options().child,
        "ipc-reader",
        &[KEY.to_string(), file.display().to_string()],
    )?;
    let rpid = reader.pid();
    let ended = reader.run_to_end()?;
    let rget = |key: &str| ended.said.get(key).cloned().unwrap_or_default();
    let segment = rget("segment");
    lab.step(
        format!("child pid {rpid} in a fresh IPC namespace (docker start): shmget({KEY}, 27, 0); read {}", file.display()),
        vec![
            if rget("ipc-ns") == writer_ns {
                format!("namespace {} (new; the kernel reused the dead namespace's inode number)", rget("ipc-ns"))
            } else {
                format!("namespace {}", rget("ipc-ns"))
            },
            format!("shmget: {segment}"),
        ],
        vec![
            Expectation::fact(
                format!("sysv:{KEY}"),
                "missing (ENOENT)",
                if segment.starts_with("missing errno=2 ") { "missing (ENOENT)".to_string() } else { segment.clone() },
            ),
            Expectation::fact("the file reads", letters, rget("file-reads")),
            Expectation::unchanged(Counter::Shmem),
        ],
    )?;

    if lab.keep_if_asked() {
        return Ok(Outcome::Completed);
    }
    lab.clean_now(file_cleanup)
        .map_err(|e| crate::Error::io(file.display().to_string(), "unlink", e))?;
    Ok(Outcome::Completed)
}
