//! `tmpfs`: the seed's first experiment. Mount a tmpfs of our own (or use /dev/shm where we
//! cannot mount), write SIZE into a file, drop caches, delete the file.

use super::{
    create_private_file, gone_is_ok, human, pinned_across_drop_caches, private_dir, write_bytes,
};
use crate::error::{Error, ErrorKind, Result};
use crate::lab::runner::Lab;
use crate::lab::sample::Counter;
use crate::lab::verdict::Expectation;
use crate::lab::Outcome;
use crate::sys::fs::{filesystem_magic, mount_tmpfs, unmount, TMPFS_MAGIC};
use std::path::{Path, PathBuf};

pub(super) fn run(lab: &mut Lab<'_>) -> Result<Outcome> {
    let size = lab.size();
    let dir = private_dir(&std::env::temp_dir(), "tmpfs")?;
    let dir_for_cleanup = dir.clone();
    lab.on_cleanup(format!("rmdir {}", dir.display()), move || {
        gone_is_ok(std::fs::remove_dir(&dir_for_cleanup))
    });
    // A tmpfs a little larger than SIZE, so that the file fits with its metadata.
    let (place, action) = match mount_tmpfs(&dir, size + (1 << 20)) {
        Ok(()) => {
            let mounted = dir.clone();
            lab.on_cleanup(format!("umount {}", dir.display()), move || {
                gone_is_ok(unmount(&mounted))
            });
            (
                dir.clone(),
                format!(
                    "mount a tmpfs of {} at {}",
                    human(size + (1 << 20)),
                    dir.display()
                ),
            )
        }
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES)) => {
            let shm = PathBuf::from("/dev/shm");
            if filesystem_magic(&shm).ok() != Some(TMPFS_MAGIC) {
                return Ok(Outcome::Unsupported(format!(
                    "cannot mount a tmpfs ({}: mount needs CAP_SYS_ADMIN) and /dev/shm is not a tmpfs here",
                    crate::error::os_message(&e)
                )));
            }
            (
                shm,
                format!(
                    "cannot mount a tmpfs ({}); using /dev/shm, which is a tmpfs too",
                    crate::error::os_message(&e)
                ),
            )
        }
        Err(e) => return Err(Error::io(dir.display().to_string(), "mount -t tmpfs", e)),
    };
    lab.step(
        action,
        vec!["an empty tmpfs takes no memory".to_string()],
        vec![Expectation::unchanged(Counter::Shmem)],
    )?;

    let file_path = if place == dir {
        dir.join("data")
    } else {
        place.join(super::unique_name("tmpfs"))
    };
    let mut file = create_private_file(&file_path)?;
    let for_cleanup = file_path.clone();
    let file_cleanup = lab.on_cleanup(format!("rm {}", file_path.display()), move || {
        gone_is_ok(std::fs::remove_file(&for_cleanup))
    });
    write_bytes(&mut file, size, 0x5a).map_err(|e| write_error(&file_path, e))?;
    drop(file);
    lab.step(
        format!("write {} to {}", human(size), file_path.display()),
        vec![used_note(&place)],
        vec![
            Expectation::grows(Counter::Shmem, size),
            Expectation::grows(Counter::CachedBeyondFileLru, size),
        ],
    )?;

    lab.drop_caches()?;
    lab.step(
        "sync; echo 3 > /proc/sys/vm/drop_caches",
        vec!["drop_caches frees clean page cache and slab, never shmem".to_string()],
        pinned_across_drop_caches(size),
    )?;

    if lab.keep_if_asked() {
        return Ok(Outcome::Completed);
    }
    lab.clean_now(file_cleanup)
        .map_err(|e| Error::io(file_path.display().to_string(), "unlink", e))?;
    lab.step(
        format!("rm {}", file_path.display()),
        vec![used_note(&place)],
        vec![
            Expectation::falls(Counter::Shmem, size),
            Expectation::falls(Counter::CachedBeyondFileLru, size),
        ],
    )?;
    Ok(Outcome::Completed)
}

fn used_note(place: &Path) -> String {
    match crate::sys::statvfs(place) {
        Ok(fs) => format!(
            "df {}: {} used of {}",
            place.display(),
            human(fs.total.saturating_sub(fs.free)),
            human(fs.total)
        ),
        Err(e) => format!("df {}: {e}", place.display()),
    }
}

fn write_error(path: &Path, e: std::io::Error) -> Error {
    let full = e.raw_os_error() == Some(libc::ENOSPC);
    let err = Error::io(path.display().to_string(), "write", e);
    if full {
        Error::new(
            ErrorKind::LimitExceeded,
            path.display().to_string(),
            "the tmpfs is full",
        )
        .with_fix("use a smaller --size (or a larger /dev/shm)")
    } else {
        err
    }
}
