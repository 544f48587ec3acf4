//! `swap`: the seed's "pinned" holds only without swap. Where swap is on, a filled segment's
//! pages are pushed out the way memory pressure pushes them (`MADV_PAGEOUT` runs the same
//! reclaim on just these pages), they land in swap, and drop_caches frees none of it. Where
//! swap is off, the experiment says so and skips.

use super::{human, remove_segment};
use crate::error::{Error, Result};
use crate::lab::runner::{read_sample, Lab};
use crate::lab::sample::Counter;
use crate::lab::verdict::Expectation;
use crate::lab::{LabOptions, Outcome};
use crate::sys::sysv;

pub(super) fn precheck(options: &LabOptions) -> Result<Option<Outcome>> {
    let sample = read_sample(&options.proc)?;
    if sample.swap_total == 0 {
        return Ok(Some(Outcome::Skipped(
            "swap is off here (SwapTotal 0, /proc/swaps lists no device): shmem pages have nowhere to go, so pinned really means pinned on this machine; to see the other case, add swap (fallocate -l 1G /swapfile; chmod 600 /swapfile; mkswap /swapfile; swapon /swapfile) and run it again".to_string(),
        )));
    }
    if sample.swap_free < options.size.saturating_add(options.size / 4) {
        return Ok(Some(Outcome::Skipped(format!(
            "only {} of swap is free; the experiment needs SIZE ({}) and a margin",
            human(sample.swap_free),
            human(options.size)
        ))));
    }
    Ok(None)
}

/// rss and swap of segment `id` from `/proc/sysvipc/shm`.
fn rss_and_swap(proc: &shmkit_procfs::ProcRoot, id: i32) -> Option<(u64, u64)> {
    let segments = proc.sysvipc_shm().ok()?;
    let seg = segments.iter().find(|s| s.shmid == id)?;
    Some((seg.rss?, seg.swap?))
}

pub(super) fn run(lab: &mut Lab<'_>) -> Result<Outcome> {
    let size = lab.size();
    let object = "sysv (IPC_PRIVATE)";
    let flags = sysv::GetFlags {
        create: true,
        exclusive: true,
        ..Default::default()
    };
    let id = sysv::shmget(sysv::IPC_PRIVATE, size, flags, 0o600)
        .map_err(|e| Error::io(object, "shmget", e))?;
    let segment = lab.on_cleanup(format!("ipcrm -m {id}"), move || remove_segment(id));
    let map = sysv::shmat(id, false).map_err(|e| Error::io(format!("sysv:id={id}"), "shmat", e))?;
    map.fill(0, size, 0x5a)
        .map_err(|e| Error::io(format!("sysv:id={id}"), "fill", e))?;
    let proc = lab.options().proc.clone();
    let note = |label: &str| match rss_and_swap(&proc, id) {
        Some((rss, swap)) => format!(
            "{label}: /proc/sysvipc/shm id {id}: rss {}, swap {}",
            human(rss),
            human(swap)
        ),
        None => format!("{label}: id {id} not found in /proc/sysvipc/shm"),
    };
    lab.step(
        format!(
            "shmget(IPC_PRIVATE, {}) = id {id}; shmat; fill",
            human(size)
        ),
        vec![note("now")],
        vec![Expectation::grows(Counter::Shmem, size)],
    )?;

    map.pageout()
        .map_err(|e| Error::io(format!("sysv:id={id}"), "madvise(MADV_PAGEOUT)", e))?;
    drop(map);
    lab.step(
        "madvise(MADV_PAGEOUT) on the whole segment (what memory pressure does), shmdt",
        vec![note("now")],
        vec![
            Expectation::grows(Counter::SwapUsed, size),
            Expectation::falls(Counter::Shmem, size),
        ],
    )?;

    lab.drop_caches()?;
    let (_, swap) = rss_and_swap(&proc, id).unwrap_or((0, 0));
    lab.step(
        "sync; echo 3 > /proc/sys/vm/drop_caches",
        vec![note("now")],
        vec![
            Expectation::unchanged(Counter::SwapUsed),
            Expectation::unchanged(Counter::Shmem),
            Expectation::fact(
                "the segment still has its pages in swap",
                "yes",
                if swap + lab.tolerance() >= size {
                    "yes"
                } else {
                    "no"
                },
            ),
        ],
    )?;

    if lab.keep_if_asked() {
        return Ok(Outcome::Completed);
    }
    lab.clean_now(segment)
        .map_err(|e| Error::io(format!("sysv:id={id}"), "shmctl(IPC_RMID)", e))?;
    lab.step(
        format!("shmctl(id {id}, IPC_RMID)"),
        vec!["removing the segment frees its swap".to_string()],
        vec![Expectation::falls(Counter::SwapUsed, size)],
    )?;
    Ok(Outcome::Completed)
}
