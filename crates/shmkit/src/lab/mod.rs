//! The lab: the seed's experiments, run for real at a size the machine can afford, with a
//! meminfo sample after every step and a verdict for every expected kernel behaviour.
//!
//! Each [`Experiment`] is a sequence of steps. The [`runner`] samples `/proc/meminfo` after
//! each one (Cached, Shmem, MemFree, MemAvailable, Buffers, SReclaimable, and `buff/cache` as
//! procps-ng 4's `free` computes it), judges the step's expectations with the pure functions of
//! [`verdict`] on the same counters read from a memory cgroup of the experiment's own, where
//! other work on the machine cannot move them (host-wide where no cgroup can be made; the
//! baseline's first note says which, beginning [`MEASURED_IN_CGROUP`] or
//! [`MEASURED_HOST_WIDE`]), and removes everything the experiment made on every way out. Children that
//! create, fill or hold objects are fresh processes (this binary run again), never `fork()`s.
//!
//! ```no_run
//! use shmkit::lab;
//! let experiment = lab::find("tmpfs")?;
//! let options = lab::LabOptions::new(64 << 20);
//! let report = lab::run(experiment, &options, &mut |step| println!("{}", step.action))?;
//! assert!(report.status == lab::Status::Held);
//! # Ok::<(), shmkit::Error>(())
//! ```

pub(crate) mod child;
mod experiments;
mod meter;
pub mod runner;
pub mod sample;
pub mod verdict;

pub use child::{child_main, ChildCommand};
pub use meter::{MEASURED_HOST_WIDE, MEASURED_IN_CGROUP};
pub use runner::{LabOptions, StepReport};
pub use sample::{Changes, Counter, Sample};
pub use verdict::{tolerance_for, Expectation, Verdict};

use crate::error::{Error, ErrorKind, Result};
use crate::render::size::human;
use runner::Lab;
use serde::Serialize;

/// The smallest SIZE an experiment accepts: below it the memory other processes use in a
/// second is as large as the effect to be seen.
pub(crate) const MIN_SIZE: u64 = 16 << 20;

/// How an experiment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Status {
    /// Every verdict held.
    Held,
    /// At least one verdict did not hold.
    Failed,
    /// This machine cannot show it and it was not tried (swap is off).
    Skipped,
    /// It was tried and the kernel refused what it needs (unshare not permitted).
    Unsupported,
}

/// What an experiment's `run` ends with, besides its steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Ran to its end; the verdicts decide.
    Completed,
    /// Not run here, and why.
    Skipped(String),
    /// Refused by the kernel here, and why.
    Unsupported(String),
}

/// One experiment of the seed.
#[derive(Debug)]
pub struct Experiment {
    /// Its name on the command line: `tmpfs`, `sysv`, ...
    pub name: &'static str,
    /// One line: what it shows.
    pub title: &'static str,
    /// Where it comes from in the seed and what the seed claimed.
    pub seed: &'static str,
    /// What a user should take away from it (including the seed's corrections).
    pub lesson: &'static str,
    /// Whether it needs root (drop_caches, mount), and why.
    pub needs_root: Option<&'static str>,
    precheck: fn(&LabOptions) -> Result<Option<Outcome>>,
    run: fn(&mut Lab<'_>) -> Result<Outcome>,
}

/// Every experiment, in the order `lab run all` runs them.
pub fn experiments() -> &'static [Experiment] {
    experiments::ALL
}

/// The experiment called `name`.
pub fn find(name: &str) -> Result<&'static Experiment> {
    experiments()
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = experiments().iter().map(|e| e.name).collect();
            Error::new(
                ErrorKind::InvalidInput,
                format!("lab experiment '{}'", crate::render::table::sanitize(name)),
                "no experiment has this name",
            )
            .with_fix(format!(
                "use one of: {}, all (see `shmkit lab list`)",
                names.join(", ")
            ))
        })
}

/// The version of the JSON document `shmkit lab run NAME --json` prints.
pub const SCHEMA: &str = "shmkit.lab/2";

/// The result of one experiment.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct ExperimentReport {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// The experiment's name.
    pub name: &'static str,
    /// What it shows.
    pub title: &'static str,
    /// What the seed did and claimed.
    pub seed: &'static str,
    /// SIZE in bytes.
    pub size: u64,
    /// The tolerance of its counter verdicts in bytes: `max(8 MiB, 5 % of SIZE)`.
    pub tolerance: u64,
    /// How it ended.
    pub status: Status,
    /// Why it was skipped or unsupported.
    pub reason: Option<String>,
    /// Every step, the baseline first.
    pub steps: Vec<StepReport>,
    /// What it teaches.
    pub lesson: &'static str,
    /// With `--keep`: the objects left in place, as the commands that remove them.
    pub kept: Vec<String>,
    /// Objects that could not be removed, with the command to remove them by hand.
    pub cleanup_errors: Vec<String>,
}

impl ExperimentReport {
    /// How many verdicts held and how many there were.
    pub fn verdict_counts(&self) -> VerdictCounts {
        let all = self.steps.iter().flat_map(|s| &s.verdicts);
        let total = all.clone().count();
        VerdictCounts {
            held: all.filter(|v| v.held).count(),
            total,
        }
    }
}

/// How many verdicts of an experiment held, of how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerdictCounts {
    /// The verdicts that held.
    pub held: usize,
    /// Every verdict.
    pub total: usize,
}

/// Checks SIZE against the floor and against what the machine has.
pub(crate) fn check_size(size: u64, mem_available: u64) -> Result<()> {
    if size < MIN_SIZE {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("--size {}", human(size)),
            format!(
                "is too small to tell from the noise of other processes (verdicts allow ±{})",
                human(tolerance_for(size))
            ),
        )
        .with_fix(format!("use --size {} or more", human(MIN_SIZE))));
    }
    if size > mem_available / 2 {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            format!("--size {}", human(size)),
            format!(
                "is more than half of MemAvailable ({}): the experiment could push this machine into reclaim or the OOM killer",
                human(mem_available)
            ),
        )
        .with_fix(format!("use --size {} or less", human(mem_available / 2))));
    }
    Ok(())
}

/// What must hold before an experiment starts: root where it needs root (`Unsupported`,
/// exit 10), and a SIZE this machine can afford (`InvalidInput`, `LimitExceeded`). An
/// experiment this machine skips anyway (swap off) passes, so that it can say why.
pub fn preflight(experiment: &Experiment, options: &LabOptions) -> Result<()> {
    if (experiment.precheck)(options)?.is_some() {
        return Ok(());
    }
    if let Some(why) = experiment.needs_root {
        if crate::sys::geteuid() != 0 {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("lab {}", experiment.name),
                format!("needs root: {why}"),
            )
            .with_fix(format!(
                "run it as root: sudo shmkit lab run {}",
                experiment.name
            )));
        }
    }
    let baseline = runner::read_sample(&options.proc)?;
    check_size(options.size, baseline.mem_available)
}

/// Runs one experiment, calling `on_step` after every step (the baseline first).
///
/// Fails with `Unsupported` (exit 10) when it needs root and this is not root, and with the
/// interrupted error when the options' flag was raised; in every case what it made is removed
/// before it returns (or left and listed in [`ExperimentReport::kept`] with `--keep`).
pub fn run(
    experiment: &Experiment,
    options: &LabOptions,
    on_step: &mut dyn FnMut(&StepReport),
) -> Result<ExperimentReport> {
    let tolerance = tolerance_for(options.size);
    let report = |status, reason, steps, kept, cleanup_errors| ExperimentReport {
        schema: SCHEMA,
        name: experiment.name,
        title: experiment.title,
        seed: experiment.seed,
        size: options.size,
        tolerance,
        status,
        reason,
        steps,
        lesson: experiment.lesson,
        kept,
        cleanup_errors,
    };
    if let Some(outcome) = (experiment.precheck)(options)? {
        let (status, reason) = match outcome {
            Outcome::Skipped(r) => (Status::Skipped, r),
            Outcome::Unsupported(r) => (Status::Unsupported, r),
            Outcome::Completed => (Status::Held, String::new()),
        };
        return Ok(report(
            status,
            Some(reason),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        ));
    }
    preflight(experiment, options)?;

    let mut lab = Lab::start(options, tolerance, on_step)?;
    let outcome = (experiment.run)(&mut lab);
    let runner::Finished {
        steps,
        kept,
        cleanup_errors,
        ..
    } = lab.finish();
    if runner::is_interrupted(options) {
        return Err(runner::interrupted_error());
    }
    let (status, reason) = match outcome? {
        Outcome::Completed => {
            let held = steps.iter().all(|s| verdict::all_held(&s.verdicts));
            (if held { Status::Held } else { Status::Failed }, None)
        }
        Outcome::Skipped(r) => (Status::Skipped, Some(r)),
        Outcome::Unsupported(r) => (Status::Unsupported, Some(r)),
    };
    Ok(report(status, reason, steps, kept, cleanup_errors))
}
