//! The runner: samples `/proc/meminfo` after every step, judges the step's expectations on
//! the experiment's own memory cgroup where it has one (see `meter`),
//! hands each finished step to the caller as it happens, and removes what the experiment made
//! on every way out (success, failure, error, Ctrl-C).

use super::meter::Meter;
use super::sample::Sample;
use super::verdict::{judge, Expectation, Verdict};
use super::ChildCommand;
use crate::error::{Error, ErrorKind, Result};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to run an experiment: [`LabOptions::new`], then set the fields to change.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LabOptions {
    /// SIZE: how much memory the experiment pins, in bytes.
    pub size: u64,
    /// Leave the objects in place at the end (and say how to remove them) instead of removing
    /// them as the last steps.
    pub keep: bool,
    /// How to start a child process.
    pub child: ChildCommand,
    /// Set by the caller's SIGINT/SIGTERM handler; checked between steps.
    pub interrupted: Option<Arc<AtomicBool>>,
    /// Where `/proc` is read (the live one: the lab acts on this machine).
    pub proc: shmkit_procfs::ProcRoot,
}

impl LabOptions {
    /// Options for an experiment of `size` bytes, with every other choice at its default.
    pub fn new(size: u64) -> Self {
        LabOptions {
            size,
            keep: false,
            child: ChildCommand::default(),
            interrupted: None,
            proc: shmkit_procfs::ProcRoot::live(),
        }
    }
}

/// One step of an experiment, as it was measured.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct StepReport {
    /// 0 for the baseline, then 1, 2, ...
    pub index: usize,
    /// What the step did, e.g. `write 64.0M to /tmp/shmkit-lab-1/data`.
    pub action: String,
    /// What the step learned besides meminfo (a segment's IPC_STAT, a child's pid).
    pub notes: Vec<String>,
    /// meminfo after the step.
    pub sample: Sample,
    /// `buff/cache` after the step (`Buffers + Cached + SReclaimable`).
    pub buff_cache: u64,
    /// Changes of every counter since the baseline, in bytes.
    pub since_baseline: super::sample::Changes,
    /// The verdicts of this step's expectations.
    pub verdicts: Vec<Verdict>,
    /// How long the runner waited for an asynchronous kernel action to show, in seconds (0
    /// for most).
    pub settled_seconds: f64,
}

type CleanupFn = Box<dyn FnOnce() -> std::io::Result<()>>;

struct Cleanup {
    id: usize,
    hint: String,
    run: CleanupFn,
}

/// A handle to a registered cleanup, to retire it once a step removed the object itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupId(usize);

/// What a finished [`Lab`] hands back.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Finished {
    /// Each step's samples and verdicts, in order.
    pub steps: Vec<StepReport>,
    /// The objects left in place (`--keep`), each as how to remove it.
    pub kept: Vec<String>,
    /// The cleanups that failed, described.
    pub cleanup_errors: Vec<String>,
}

/// The context an experiment runs in.
pub struct Lab<'a> {
    options: &'a LabOptions,
    tolerance: u64,
    meter: Meter,
    /// The baseline as the verdicts see it (see [`Meter`]).
    baseline: Sample,
    /// The last step as the verdicts see it.
    previous: Sample,
    /// The last step's `/proc/meminfo`.
    previous_host: Sample,
    steps: Vec<StepReport>,
    on_step: &'a mut dyn FnMut(&StepReport),
    cleanups: Vec<Cleanup>,
    next_cleanup: usize,
    kept: Vec<String>,
    cleanup_errors: Vec<String>,
}

impl std::fmt::Debug for Lab<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("tolerance", &self.tolerance)
            .field("steps", &self.steps.len())
            .field("cleanups", &self.cleanups.len())
            .finish()
    }
}

impl<'a> Lab<'a> {
    /// Takes the baseline sample (step 0) and reports it.
    pub fn start(
        options: &'a LabOptions,
        tolerance: u64,
        on_step: &'a mut dyn FnMut(&StepReport),
    ) -> Result<Self> {
        let meter = Meter::start(&options.proc);
        let host = read_sample(&options.proc)?;
        let baseline = meter.measure(&host)?;
        let note = meter.note();
        let mut lab = Lab {
            options,
            tolerance,
            meter,
            baseline,
            previous: baseline,
            previous_host: host,
            steps: Vec::new(),
            on_step,
            cleanups: Vec::new(),
            next_cleanup: 0,
            kept: Vec::new(),
            cleanup_errors: Vec::new(),
        };
        lab.record(
            "baseline: nothing made yet".to_string(),
            vec![note],
            host,
            baseline,
            Vec::new(),
            0,
        );
        Ok(lab)
    }

    /// The options.
    pub fn options(&self) -> &LabOptions {
        self.options
    }

    /// SIZE in bytes.
    pub fn size(&self) -> u64 {
        self.options.size
    }

    /// The tolerance of counter verdicts, in bytes.
    pub fn tolerance(&self) -> u64 {
        self.tolerance
    }

    /// `/proc/meminfo` after the last step.
    pub fn last_sample(&self) -> Sample {
        self.previous_host
    }

    /// Fails with an "interrupted" error if Ctrl-C (SIGINT) or SIGTERM arrived.
    pub fn check_interrupted(&self) -> Result<()> {
        if is_interrupted(self.options) {
            return Err(interrupted_error());
        }
        Ok(())
    }

    /// Registers how to remove an object just made: `run` on any way out unless the object
    /// is kept (`--keep`), `hint` (a shell command) printed when it is kept.
    pub fn on_cleanup(
        &mut self,
        hint: impl Into<String>,
        run: impl FnOnce() -> std::io::Result<()> + 'static,
    ) -> CleanupId {
        let id = self.next_cleanup;
        self.next_cleanup += 1;
        self.cleanups.push(Cleanup {
            id,
            hint: hint.into(),
            run: Box::new(run),
        });
        CleanupId(id)
    }

    /// Forgets a cleanup because a step removed the object itself.
    pub fn retire(&mut self, id: CleanupId) {
        self.cleanups.retain(|c| c.id != id.0);
    }

    /// Runs one cleanup now (a step that removes the object the registered way).
    pub fn clean_now(&mut self, id: CleanupId) -> std::io::Result<()> {
        match self.cleanups.iter().position(|c| c.id == id.0) {
            Some(i) => (self.cleanups.remove(i).run)(),
            None => Ok(()),
        }
    }

    /// With `--keep`: leaves every remaining object in place and records how to remove it.
    /// Returns whether the experiment should stop here.
    pub fn keep_if_asked(&mut self) -> bool {
        if !self.options.keep {
            return false;
        }
        for cleanup in self.cleanups.drain(..).rev() {
            self.kept.push(cleanup.hint);
        }
        true
    }

    /// Records a kept object that has no registered cleanup (a holding child process).
    pub fn kept(&mut self, hint: impl Into<String>) {
        self.kept.push(hint.into());
    }

    /// Samples meminfo now, judges `expectations` and reports the step.
    pub fn step(
        &mut self,
        action: impl Into<String>,
        notes: Vec<String>,
        expectations: Vec<Expectation>,
    ) -> Result<()> {
        self.check_interrupted()?;
        let (host, now) = self.read_both()?;
        let verdicts = self.judge_all(&expectations, &now);
        self.record(action.into(), notes, host, now, verdicts, 0);
        self.check_interrupted()
    }

    /// Like [`Lab::step`] for a kernel action that completes asynchronously (an IPC namespace
    /// is torn down by a worker after its last process exits): samples again every 50 ms, for
    /// up to `patience`, until every counter verdict holds, and reports the last sample and
    /// how long it waited.
    pub fn step_settling(
        &mut self,
        action: impl Into<String>,
        notes: Vec<String>,
        expectations: Vec<Expectation>,
        patience: Duration,
    ) -> Result<()> {
        let started = Instant::now();
        loop {
            self.check_interrupted()?;
            let (host, now) = self.read_both()?;
            let verdicts = self.judge_all(&expectations, &now);
            let waited = started.elapsed();
            if verdicts.iter().all(|v| v.held) || waited >= patience {
                let ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
                self.record(action.into(), notes, host, now, verdicts, ms);
                return self.check_interrupted();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `/proc/meminfo` now, and the sample the verdicts judge.
    fn read_both(&self) -> Result<(Sample, Sample)> {
        let host = read_sample(&self.options.proc)?;
        let measured = self.meter.measure(&host)?;
        Ok((host, measured))
    }

    fn judge_all(&self, expectations: &[Expectation], now: &Sample) -> Vec<Verdict> {
        expectations
            .iter()
            .map(|e| judge(e, &self.baseline, &self.previous, now, self.tolerance))
            .collect()
    }

    fn record(
        &mut self,
        action: String,
        notes: Vec<String>,
        sample: Sample,
        measured: Sample,
        verdicts: Vec<Verdict>,
        settled_ms: u64,
    ) {
        let baseline_host = self.steps.first().map_or(sample, |s| s.sample);
        let since_baseline = super::sample::Changes::between(&baseline_host, &sample);
        let report = StepReport {
            index: self.steps.len(),
            action,
            notes,
            sample,
            buff_cache: sample.buff_cache(),
            since_baseline,
            verdicts,
            settled_seconds: settled_ms as f64 / 1000.0,
        };
        (self.on_step)(&report);
        self.steps.push(report);
        self.previous = measured;
        self.previous_host = sample;
    }

    /// `sync`, then `echo 3 > /proc/sys/vm/drop_caches`.
    pub fn drop_caches(&self) -> Result<()> {
        drop_caches(&self.options.proc, 3)
    }

    /// Runs the remaining cleanups (newest first) and returns what was measured, what was kept
    /// and what could not be removed.
    pub fn finish(mut self) -> Finished {
        self.run_cleanups();
        Finished {
            steps: std::mem::take(&mut self.steps),
            kept: std::mem::take(&mut self.kept),
            cleanup_errors: std::mem::take(&mut self.cleanup_errors),
        }
    }

    fn run_cleanups(&mut self) {
        self.run_object_cleanups();
        // Last: the experiment's processes are gone by now, so its cgroup can go too.
        if let Some(line) = self.meter.finish() {
            self.cleanup_errors.push(line);
        }
    }

    fn run_object_cleanups(&mut self) {
        while let Some(cleanup) = self.cleanups.pop() {
            if let Err(e) = (cleanup.run)() {
                self.cleanup_errors.push(format!(
                    "could not clean up ({}): {}; do it by hand: {}",
                    e.kind(),
                    crate::error::os_message(&e),
                    cleanup.hint
                ));
            }
        }
    }
}

impl Drop for Lab<'_> {
    fn drop(&mut self) {
        // Every early return (`?`) passes here: nothing the experiment made stays behind.
        self.run_cleanups();
        // Not eprintln!: a panic here, in a drop, would abort, and a closed stderr must not.
        let mut err = std::io::stderr().lock();
        for line in &self.cleanup_errors {
            let _ = std::io::Write::write_fmt(&mut err, format_args!("shmkit lab: {line}\n"));
        }
    }
}

/// Reads `/proc/meminfo` and takes the lab's counters from it.
pub fn read_sample(proc: &shmkit_procfs::ProcRoot) -> Result<Sample> {
    let meminfo = proc.meminfo().map_err(|e| {
        Error::new(ErrorKind::Other, "/proc/meminfo", e.to_string())
            .with_fix("shmkit needs a mounted /proc")
    })?;
    Sample::from_meminfo(&meminfo)
}

/// `sync`, then writes `level` to `/proc/sys/vm/drop_caches` (1 page cache, 2 slab, 3 both).
pub fn drop_caches(proc: &shmkit_procfs::ProcRoot, level: u8) -> Result<()> {
    crate::sys::fs::sync();
    let path = proc.path("/proc/sys/vm/drop_caches");
    std::fs::write(&path, format!("{level}\n")).map_err(|e| {
        let denied = matches!(
            e.raw_os_error(),
            Some(libc::EACCES | libc::EPERM | libc::EROFS)
        );
        let err = Error::io(path.display().to_string(), "write", e);
        if denied {
            err.with_fix("run as root, outside a container whose /proc/sys is read-only")
        } else {
            err
        }
    })
}

/// Whether the caller's interrupt flag is set.
pub fn is_interrupted(options: &LabOptions) -> bool {
    options
        .interrupted
        .as_ref()
        .is_some_and(|flag| flag.load(Ordering::SeqCst))
}

/// The error an interrupted experiment ends with.
pub fn interrupted_error() -> Error {
    Error::new(
        ErrorKind::Other,
        "shmkit lab",
        "interrupted (SIGINT or SIGTERM); everything the experiment made was removed",
    )
}
