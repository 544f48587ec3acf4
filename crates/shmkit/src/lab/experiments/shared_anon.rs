//! `shared-anon`: the seed's mmap.c done right. A child maps SIZE bytes
//! `MAP_SHARED|MAP_ANONYMOUS` (checked against `MAP_FAILED`), touches every page and holds it.

use super::{human, pinned_across_drop_caches};
use crate::error::Result;
use crate::lab::child::ChildProc;
use crate::lab::runner::Lab;
use crate::lab::sample::Counter;
use crate::lab::verdict::Expectation;
use crate::lab::Outcome;

pub(super) fn run(lab: &mut Lab<'_>) -> Result<Outcome> {
    let size = lab.size();
    let mut holder = ChildProc::spawn(&lab.options().child, "hold-anon", &[size.to_string()])?;
    holder.wait_ready()?;
    let pid = holder.pid();
    lab.step(
        format!(
            "child pid {pid}: mmap {} MAP_SHARED|MAP_ANONYMOUS, touch every page, hold",
            human(size)
        ),
        vec![
            "mmap's result checked against MAP_FAILED (the seed's mmap.c checks NULL)".to_string(),
        ],
        vec![
            Expectation::grows(Counter::Shmem, size),
            Expectation::grows(Counter::CachedBeyondFileLru, size),
        ],
    )?;

    lab.drop_caches()?;
    lab.step(
        format!("sync; echo 3 > /proc/sys/vm/drop_caches (pid {pid} still maps it)"),
        Vec::new(),
        pinned_across_drop_caches(size),
    )?;

    if lab.keep_if_asked() {
        let pid = holder.keep()?;
        lab.kept(format!(
            "kill {pid}    # the process holding the shared anonymous mapping"
        ));
        return Ok(Outcome::Completed);
    }
    let ended = holder.run_to_end()?;
    lab.step(
        format!("child pid {pid} exits: the last unmap"),
        vec![format!("exit code {}", ended.code.unwrap_or(-1))],
        vec![
            Expectation::falls(Counter::Shmem, size),
            Expectation::falls(Counter::CachedBeyondFileLru, size),
        ],
    )?;
    Ok(Outcome::Completed)
}
