//! `file-mapped`: the seed's correction. A regular file on a disk filesystem, mapped
//! `MAP_SHARED`, written and msync'd, is ordinary page cache: Cached grows, Shmem does not,
//! and once unmapped drop_caches frees it.

use super::{create_private_file, disk_parent, gone_is_ok, human, private_dir};
use crate::error::{Error, Result};
use crate::lab::runner::Lab;
use crate::lab::sample::Counter;
use crate::lab::verdict::{Expectation, Since};
use crate::lab::Outcome;
use crate::sys::mapping::map_shared_fd;
use std::os::fd::AsFd;

pub(super) fn run(lab: &mut Lab<'_>) -> Result<Outcome> {
    let size = lab.size();
    let parent = disk_parent(size)?;
    let dir = private_dir(&parent, "file")?;
    let dir_for_cleanup = dir.clone();
    lab.on_cleanup(format!("rmdir {}", dir.display()), move || {
        gone_is_ok(std::fs::remove_dir(&dir_for_cleanup))
    });
    let path = dir.join("mapped");
    let file = create_private_file(&path)?;
    let path_for_cleanup = path.clone();
    let file_cleanup = lab.on_cleanup(format!("rm {}", path.display()), move || {
        gone_is_ok(std::fs::remove_file(&path_for_cleanup))
    });
    let object = path.display().to_string();
    file.set_len(size)
        .map_err(|e| Error::io(object.clone(), "ftruncate", e))?;
    let magic = crate::sys::fs::filesystem_magic(&dir).unwrap_or(0);
    lab.step(
        format!(
            "create {object}, {} long (sparse: no pages yet)",
            human(size)
        ),
        vec![format!(
            "statfs f_type {magic:#x}: a disk filesystem, not tmpfs"
        )],
        vec![Expectation::unchanged(Counter::Shmem)],
    )?;

    let map = map_shared_fd(file.as_fd(), size, true)
        .map_err(|e| Error::io(object.clone(), "mmap(MAP_SHARED)", e))?;
    map.fill(0, size, 0x5a)
        .map_err(|e| Error::io(object.clone(), "write through the mapping", e))?;
    map.flush()
        .map_err(|e| Error::io(object.clone(), "msync", e))?;
    let resident = map.resident_bytes().unwrap_or(0);
    let dirty = crate::lab::runner::read_sample(&lab.options().proc)?.dirty;
    lab.step(
        format!("mmap MAP_SHARED, write all {}, msync", human(size)),
        vec![
            format!("mincore: {} of the file in the page cache", human(resident)),
            format!(
                "Dirty {} (msync wrote the pages back: they are clean now)",
                human(dirty)
            ),
        ],
        vec![
            // Other processes' file I/O adds to Cached too; mincore above counts this file alone.
            Expectation::GrowsByAtLeast {
                counter: Counter::Cached,
                by: size,
                since: Since::PreviousStep,
            },
            Expectation::unchanged(Counter::Shmem),
        ],
    )?;

    lab.drop_caches()?;
    let resident = map.resident_bytes().unwrap_or(0);
    lab.step(
        "sync; echo 3 > /proc/sys/vm/drop_caches while still mapped",
        vec!["drop_caches skips mapped pages; memory pressure can still reclaim them".to_string()],
        vec![
            Expectation::fact(
                "file pages in the page cache (mincore)",
                human(size),
                human(resident),
            ),
            Expectation::unchanged(Counter::Shmem),
        ],
    )?;

    drop(map);
    lab.drop_caches()?;
    let resident = map_shared_fd(file.as_fd(), size, false)
        .and_then(|m| m.resident_bytes())
        .map_err(|e| Error::io(object.clone(), "mincore", e))?;
    lab.step(
        "munmap; sync; echo 3 > /proc/sys/vm/drop_caches",
        vec![
            "drop_caches also frees unrelated clean cache, so Cached may fall by more".to_string(),
        ],
        vec![
            Expectation::FallsByAtLeast {
                counter: Counter::Cached,
                by: size,
                since: Since::PreviousStep,
            },
            Expectation::unchanged(Counter::Shmem),
            Expectation::fact(
                "file pages in the page cache (mincore)",
                human(0),
                human(resident),
            ),
        ],
    )?;
    drop(file);

    if lab.keep_if_asked() {
        return Ok(Outcome::Completed);
    }
    lab.clean_now(file_cleanup)
        .map_err(|e| Error::io(object.clone(), "unlink", e))?;
    lab.step(
        format!("rm {object}"),
        vec!["the file's pages were already gone: nothing left to free".to_string()],
        vec![Expectation::unchanged(Counter::Shmem)],
    )?;
    Ok(Outcome::Completed)
}
