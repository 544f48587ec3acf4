//! `shmkit lab`: the seed's experiments, run for real, with a verdict for every expected
//! kernel behaviour.

use crate::output::{colour_enabled, paint, print_json, Colour};
use shmkit::lab::{self, ExperimentReport, LabOptions, Status, StepReport};
use shmkit::render::size::{human, human_delta};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Options of `shmkit lab`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  shmkit lab list
  sudo shmkit lab run tmpfs --size 256M
  sudo shmkit lab run sysv --keep        # leave the orphan segment to look at with ipcs -m
  sudo shmkit lab run all --size 64M --json

Exit codes: 0 every verdict held (skipped experiments do not count), 8 a verdict failed,
10 not root / not possible here (a single experiment skipped or refused), 2 bad input.")]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: LabCommand,
}

/// The `lab` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LabCommand {
    /// List the experiments, what each shows and whether it needs root.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// -o/--output, --output-all, -n/--noheadings, --raw.
        #[command(flatten)]
        table: crate::output::TableArgs,
    },
    /// Run one experiment by name, or `all`.
    Run(RunArgs),
    /// Internal: a child process of an experiment.
    #[command(hide = true)]
    Child {
        /// MODE and its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// Options of `shmkit lab run`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  sudo shmkit lab run tmpfs --size 256M
  sudo shmkit lab run sysv --keep        # leave the orphan segment to look at with ipcs -m
  sudo shmkit lab run all --size 64M --json

Exit codes: 0 every verdict held, 8 a verdict failed, 10 needs root or not possible here,
2 bad input, 6 --size over half of MemAvailable, 130 interrupted (everything removed).")]
pub struct RunArgs {
    /// The experiment (see `shmkit lab list`), or `all`.
    pub name: String,
    /// How much memory the experiment pins (binary units: 64M, 1G). Verdicts allow
    /// ±max(8M, 5% of it) for what other processes do meanwhile.
    #[arg(long, default_value = "256M", value_parser = parse_size)]
    pub size: u64,
    /// Print the whole report as JSON (schema in docs/lab.md) instead of lines as it goes.
    #[arg(long)]
    pub json: bool,
    /// Leave the objects in place at the end and print how to remove them.
    #[arg(long)]
    pub keep: bool,
}

fn parse_size(text: &str) -> Result<u64, String> {
    shmkit::render::size::parse(text).map_err(|e| e.to_string())
}

/// Runs `shmkit lab`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        LabCommand::List { json, table } => list(json, &table),
        LabCommand::Run(run_args) => run_experiments(run_args),
        LabCommand::Child { args } => {
            let code = lab::child_main(&args);
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
    }
}

/// The table of `lab list`, every experiment a row.
pub fn list_table() -> shmkit::render::table::Table {
    let mut table = shmkit::render::table::Table::new(&[
        ("NAME", shmkit::render::table::Align::Left),
        ("ROOT", shmkit::render::table::Align::Left),
        ("WHAT IT SHOWS", shmkit::render::table::Align::Left),
    ]);
    for e in lab::experiments() {
        let root = if e.needs_root.is_some() { "yes" } else { "no" };
        table.row(vec![
            e.name.to_string(),
            root.to_string(),
            e.title.to_string(),
        ]);
    }
    table
}

/// What `lab list --json` prints (`shmkit.lab-list/1`).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct ListOut {
    schema: &'static str,
    experiments: Vec<ListedExperiment>,
}

/// One experiment of `lab list --json`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
struct ListedExperiment {
    /// What `lab run` takes.
    name: &'static str,
    /// What it shows.
    title: &'static str,
    /// What the seed did and claimed.
    seed: &'static str,
    /// Why it needs root, or null.
    needs_root: Option<&'static str>,
}

/// What `lab run all --json` prints (`shmkit.lab-all/2`): every experiment's `shmkit.lab/2`
/// document.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct AllOut {
    schema: &'static str,
    experiments: Vec<ExperimentReport>,
}

fn list(json: bool, args: &crate::output::TableArgs) -> anyhow::Result<ExitCode> {
    if json {
        let experiments = lab::experiments()
            .iter()
            .map(|e| ListedExperiment {
                name: e.name,
                title: e.title,
                seed: e.seed,
                needs_root: e.needs_root,
            })
            .collect();
        print_json(&ListOut {
            schema: "shmkit.lab-list/1",
            experiments,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = crate::output::stdout();
    crate::output::write_table(&mut out, &list_table(), args, &|l| l.to_string())?;
    if args.decorated() {
        writeln!(out, "\nRun one with `sudo shmkit lab run NAME [--size 256M]`, or all with `sudo shmkit lab run all`.")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run_experiments(args: RunArgs) -> anyhow::Result<ExitCode> {
    let chosen: Vec<&lab::Experiment> = if args.name == "all" {
        lab::experiments().iter().collect()
    } else {
        vec![lab::find(&args.name)?]
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The first signal asks the experiment to stop after the current step and clean up;
        // a second one, while it is still cleaning up, ends the process at once (exit 130).
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&interrupted))?;
        signal_hook::flag::register(signal, Arc::clone(&interrupted))?;
    }
    let mut options = LabOptions::new(args.size);
    options.keep = args.keep;
    options.interrupted = Some(Arc::clone(&interrupted));

    let colour = colour_enabled();
    // Refuse before printing anything: not root, a SIZE too small or too large.
    for experiment in &chosen {
        lab::preflight(experiment, &options)?;
    }
    let mut reports = Vec::new();
    let mut out = crate::output::stdout();
    // A failed write (a closed pipe, a full disk) stops the experiment like Ctrl-C does, so
    // its cleanups still run; the error then ends the command.
    let mut print_failed: Option<std::io::Error> = None;
    for (i, experiment) in chosen.iter().enumerate() {
        if !args.json {
            if i > 0 {
                writeln!(out)?;
            }
            print_header(&mut out, experiment, &options)?;
        }
        let mut on_step = |step: &StepReport| {
            if !args.json && print_failed.is_none() {
                if let Err(e) = print_step(&mut out, step, colour) {
                    print_failed = Some(e);
                    interrupted.store(true, Ordering::SeqCst);
                }
            }
        };
        let report = lab::run(experiment, &options, &mut on_step);
        if let Some(e) = print_failed {
            // What the experiment made is already removed; only the report is lost.
            drop(report);
            return Err(e.into());
        }
        if shmkit::lab::runner::is_interrupted(&options) {
            msg!(
                "shmkit: lab {}: interrupted; everything it made was removed",
                experiment.name
            );
            return Ok(ExitCode::from(130));
        }
        let report = report?;
        if !args.json {
            print_footer(&mut out, &report, colour)?;
        }
        reports.push(report);
    }
    if args.json {
        if args.name == "all" {
            print_json(&AllOut {
                schema: "shmkit.lab-all/2",
                experiments: reports.clone(),
            })?;
        } else if let Some(report) = reports.first() {
            print_json(report)?;
        }
    } else if reports.len() > 1 {
        print_summary(&mut out, &reports, colour)?;
    }
    Ok(exit_code(&reports, args.name == "all"))
}

fn exit_code(reports: &[ExperimentReport], all: bool) -> ExitCode {
    if reports.iter().any(|r| r.status == Status::Failed) {
        return ExitCode::from(shmkit::error::EXIT_CHECK_FAILED);
    }
    let skipped = |r: &ExperimentReport| matches!(r.status, Status::Skipped | Status::Unsupported);
    if !all && reports.iter().any(skipped) {
        return ExitCode::from(shmkit::ErrorKind::Unsupported.exit_code());
    }
    ExitCode::SUCCESS
}

const CELL: usize = 18;

fn print_header(
    out: &mut dyn Write,
    experiment: &lab::Experiment,
    options: &LabOptions,
) -> std::io::Result<()> {
    writeln!(out, "{} — {}", experiment.name, experiment.title)?;
    writeln!(out, "seed: {}", experiment.seed)?;
    writeln!(out,
        "SIZE {}; counter verdicts allow ±{}; figures from /proc/meminfo (change since the baseline)",
        human(options.size),
        human(lab::tolerance_for(options.size))
    )?;
    Ok(())
}

fn print_counter_names(out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out)?;
    let mut line = " ".repeat(4);
    for counter in lab::Counter::SHOWN {
        line.push_str(&format!("{:<CELL$}", counter.name()));
    }
    writeln!(out, "{}", line.trim_end())?;
    Ok(())
}

fn print_step(out: &mut dyn Write, step: &StepReport, colour: bool) -> std::io::Result<()> {
    let action = shmkit::render::table::sanitize(&step.action);
    if step.index == 0 {
        print_counter_names(out)?;
    }
    if step.settled_seconds > 0.0 {
        writeln!(
            out,
            "[{}] {action}  (settled after {} ms)",
            step.index,
            (step.settled_seconds * 1000.0).round()
        )?;
    } else {
        writeln!(out, "[{}] {action}", step.index)?;
    }
    let mut line = " ".repeat(4);
    for counter in lab::Counter::SHOWN {
        let value = human(step.sample.get(counter));
        let cell = if step.index == 0 {
            value
        } else {
            format!(
                "{value} ({})",
                human_delta(step.since_baseline.get(counter))
            )
        };
        line.push_str(&format!("{cell:<CELL$}"));
    }
    writeln!(out, "{}", line.trim_end())?;
    for note in &step.notes {
        writeln!(out, "    · {}", shmkit::render::table::sanitize(note))?;
    }
    for v in &step.verdicts {
        let mark = if v.held {
            paint("✔", Colour::Green, colour)
        } else {
            paint("✘ FAIL", Colour::Red, colour)
        };
        writeln!(
            out,
            "    {mark} {}: expected {}, observed {}",
            shmkit::render::table::sanitize(&v.claim),
            shmkit::render::table::sanitize(&v.expected),
            shmkit::render::table::sanitize(&v.observed)
        )?;
    }
    Ok(())
}

fn print_footer(
    out: &mut dyn Write,
    report: &ExperimentReport,
    colour: bool,
) -> std::io::Result<()> {
    let counts = report.verdict_counts();
    let (held, total) = (counts.held, counts.total);
    match report.status {
        Status::Held => writeln!(
            out,
            "{} every verdict held ({held} of {total})",
            paint("result:", Colour::Bold, colour)
        )?,
        Status::Failed => writeln!(
            out,
            "{} {} ({held} of {total} verdicts held)",
            paint("result:", Colour::Bold, colour),
            paint("FAILED", Colour::Red, colour)
        )?,
        _ => {
            let word = if report.status == Status::Skipped {
                "skipped"
            } else {
                "not possible here"
            };
            writeln!(
                out,
                "{} {}: {}",
                paint("result:", Colour::Bold, colour),
                paint(word, Colour::Yellow, colour),
                report.reason.as_deref().unwrap_or("")
            )?;
        }
    }
    if !report.steps.is_empty() {
        writeln!(out, "lesson: {}", report.lesson)?;
    }
    if !report.kept.is_empty() {
        writeln!(out, "left in place (--keep); remove with:")?;
        for hint in &report.kept {
            writeln!(out, "    {}", shmkit::render::table::sanitize(hint))?;
        }
    }
    for line in &report.cleanup_errors {
        writeln!(out, "{} {line}", paint("warning:", Colour::Yellow, colour))?;
    }
    Ok(())
}

fn print_summary(
    out: &mut dyn Write,
    reports: &[ExperimentReport],
    colour: bool,
) -> std::io::Result<()> {
    writeln!(out)?;
    let mut table = shmkit::render::table::Table::new(&[
        ("EXPERIMENT", shmkit::render::table::Align::Left),
        ("RESULT", shmkit::render::table::Align::Left),
        ("VERDICTS", shmkit::render::table::Align::Right),
    ]);
    for r in reports {
        let counts = r.verdict_counts();
        let (held, total) = (counts.held, counts.total);
        let result = match r.status {
            Status::Held => "held",
            Status::Failed => "FAILED",
            Status::Skipped => "skipped",
            Status::Unsupported => "not possible here",
            _ => "?",
        };
        table.row(vec![
            r.name.to_string(),
            result.to_string(),
            format!("{held}/{total}"),
        ]);
    }
    let mut rendered = Vec::new();
    table.write(&mut rendered)?;
    let text = String::from_utf8_lossy(&rendered);
    let text = if colour {
        text.replace("FAILED", &paint("FAILED", Colour::Red, true))
    } else {
        text.to_string()
    };
    write!(out, "{text}")?;
    Ok(())
}
