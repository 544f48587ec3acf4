//! The experiments themselves, one file each, and what they share: temporary places on the
//! right kind of filesystem, and removal that tolerates "already gone".

mod file_mapped;
mod ipc_namespace;
mod shared_anon;
mod swap;
mod sysv;
mod tmpfs;

use super::{Experiment, LabOptions, Outcome};
use crate::error::{Error, ErrorKind, Result};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

const DROP_CACHES_NEEDS_ROOT: &str = "it writes /proc/sys/vm/drop_caches";

/// Every experiment, in the order `lab run all` runs them.
pub(super) static ALL: &[Experiment] = &[
    Experiment {
        name: "tmpfs",
        title: "a file on tmpfs is page cache that drop_caches cannot free",
        seed: "article 1, experiment 1: dd 13G into a tmpfs; cached +13G, still there after drop_caches, gone after rm",
        lesson: "tmpfs files are Shmem: they count in Cached and buff/cache, drop_caches never frees them, only deleting the file (or unmounting) does.",
        needs_root: Some("it mounts a tmpfs and writes /proc/sys/vm/drop_caches"),
        precheck: no_precheck,
        run: tmpfs::run,
    },
    Experiment {
        name: "sysv",
        title: "a System V segment outlives its creator and drop_caches; IPC_SET cannot resize it",
        seed: "article 1, experiment 2 (shm.c): shmget(IPC_PRIVATE), IPC_STAT, IPC_SET with doubled shm_segsz, a child fills it, the creator exits without IPC_RMID",
        lesson: "A segment's memory stays (nattch 0, creator dead) until IPC_RMID: that is a leak unless someone needs it. Its size is fixed at creation; IPC_SET only changes owner, group and mode.",
        needs_root: Some(DROP_CACHES_NEEDS_ROOT),
        precheck: no_precheck,
        run: sysv::run,
    },
    Experiment {
        name: "shared-anon",
        title: "MAP_SHARED|MAP_ANONYMOUS memory is pinned while mapped, freed when its last holder exits",
        seed: "article 1, experiment 3 (mmap.c): mmap 2G MAP_SHARED|MAP_ANON, bzero, sleep; cached +2G until the process exits",
        lesson: "Shared anonymous memory is Shmem (tmpfs inside the kernel): drop_caches cannot free it; the last munmap or exit does. (mmap.c opens ./mmapfile but MAP_ANON ignores it, and it checks NULL where mmap returns MAP_FAILED.)",
        needs_root: Some(DROP_CACHES_NEEDS_ROOT),
        precheck: no_precheck,
        run: shared_anon::run,
    },
    Experiment {
        name: "file-mapped",
        title: "the correction: a MAP_SHARED mapping of a regular file is ordinary, reclaimable page cache",
        seed: "article 1 claims mapped files (shared libraries) pin cache; the kernel disagrees",
        lesson: "Pages of a mapped regular file are Cached but not Shmem: once written back (msync) they are clean and reclaimable. drop_caches skips them while they are mapped; memory pressure can still reclaim them, and once unmapped drop_caches frees them.",
        needs_root: Some(DROP_CACHES_NEEDS_ROOT),
        precheck: no_precheck,
        run: file_mapped::run,
    },
    Experiment {
        name: "ipc-namespace",
        title: "a container restart without Docker: System V segments die with their IPC namespace, files do not",
        seed: "article 2: a writer puts a..z in sysv:5678 and in ./shm.txt; after docker stop/start the segment is gone, the file is not",
        lesson: "System V objects live in an IPC namespace and end with it (a container restart makes a new one); a file on disk survives. Share the namespace (docker --ipc=host or --ipc=container:ID, one pod) or persist the data (shmkit snapshot) to keep segments across a restart.",
        needs_root: None,
        precheck: no_precheck,
        run: ipc_namespace::run,
    },
    Experiment {
        name: "swap",
        title: "with swap on, a pinned segment can move to swap under pressure; drop_caches still does not free it",
        seed: "article 1 says shared memory is pinned; that holds only without swap",
        lesson: "Shmem pages are swap-backed: with swap on, reclaim can move them to swap (the segment's swap column in /proc/sysvipc/shm grows) but never discards them; drop_caches does neither.",
        needs_root: Some(DROP_CACHES_NEEDS_ROOT),
        precheck: swap::precheck,
        run: swap::run,
    },
];

fn no_precheck(_: &LabOptions) -> Result<Option<Outcome>> {
    Ok(None)
}

/// A name no other lab run uses: `shmkit-lab-<what>-<pid>-<n>`.
fn unique_name(what: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "shmkit-lab-{what}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates a new directory (mode 0700, failing if the name exists) under `parent`.
fn private_dir(parent: &Path, what: &str) -> Result<PathBuf> {
    let dir = parent.join(unique_name(what));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| Error::io(dir.display().to_string(), "mkdir", e))?;
    Ok(dir)
}

/// A directory on a real disk filesystem (not tmpfs, not ramfs), where page cache is
/// ordinary file cache: `/var/tmp`, else the current directory.
fn disk_parent(size: u64) -> Result<PathBuf> {
    let mut refused = Vec::new();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    for candidate in [PathBuf::from("/var/tmp"), cwd] {
        match crate::sys::fs::filesystem_magic(&candidate) {
            Ok(magic)
                if magic == crate::sys::fs::TMPFS_MAGIC || magic == crate::sys::fs::RAMFS_MAGIC =>
            {
                refused.push(format!("{} is tmpfs/ramfs", candidate.display()));
            }
            Ok(_) => match crate::sys::statvfs(&candidate) {
                Ok(fs) if fs.available >= size.saturating_add(64 << 20) => return Ok(candidate),
                Ok(fs) => refused.push(format!(
                    "{} has only {} free",
                    candidate.display(),
                    crate::render::size::human(fs.available)
                )),
                Err(e) => refused.push(format!("{}: {e}", candidate.display())),
            },
            Err(e) => refused.push(format!("{}: {e}", candidate.display())),
        }
    }
    Err(Error::new(
        ErrorKind::Unsupported,
        "lab",
        format!(
            "needs a disk filesystem with room for the test file, and found none ({})",
            refused.join("; ")
        ),
    )
    .with_fix("run it from a directory on a disk filesystem with enough free space"))
}

/// Treats "already gone" as done, for cleanups that may race with the experiment's own
/// removal.
fn gone_is_ok(result: std::io::Result<()>) -> std::io::Result<()> {
    match result {
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOENT | libc::EINVAL | libc::EIDRM)
            ) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Removes System V segment `id` (for cleanups).
fn remove_segment(id: i32) -> std::io::Result<()> {
    gone_is_ok(crate::sys::sysv::remove(id))
}

/// Writes `size` bytes of `byte` to `file`, a MiB at a time.
fn write_bytes(file: &mut std::fs::File, size: u64, byte: u8) -> std::io::Result<()> {
    use std::io::Write;
    let chunk = vec![byte; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
        file.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    file.flush()
}

/// Creates `path` new, 0600, refusing symlinks.
fn create_private_file(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Error::io(path.display().to_string(), "open(O_CREAT|O_EXCL)", e))
}

/// Bytes for people, as every step line prints them.
/// What "drop_caches never frees shared memory" means in counters, for SIZE bytes of it:
/// Shmem stays, Cached keeps at least SIZE, and what drop_caches took from Cached was
/// ordinary file cache, all of it.
fn pinned_across_drop_caches(size: u64) -> Vec<crate::lab::verdict::Expectation> {
    use crate::lab::sample::Counter;
    use crate::lab::verdict::Expectation;
    vec![
        Expectation::unchanged(Counter::Shmem),
        Expectation::AtLeast {
            counter: Counter::Cached,
            value: size,
        },
        Expectation::unchanged(Counter::CachedBeyondFileLru),
    ]
}

fn human(bytes: u64) -> String {
    crate::render::size::human(bytes)
}
