//! `shmkit reclaim`: what each drop_caches level would free, and with `--measure`, what it
//! really freed.

use crate::output::{colour_enabled, paint, print_json, Colour};
use shmkit::reclaim::{self, Measurement, Prediction};
use shmkit::render::size::{bytes as size_text, human_delta};
use shmkit::render::table::{Align, Table};
use shmkit::scan::ProcRoot;
use shmkit::{Error, ErrorKind};
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

/// Options of `shmkit reclaim`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  shmkit reclaim                          predict levels 1, 2 and 3 from shmkit mem's model
  sudo shmkit reclaim --measure 3         sync, drop page cache and slab for real, compare
  sudo shmkit reclaim --measure 1 --yes   no question asked (scripts; needed without a terminal)

Exit codes: 0 done, 2 bad level or refused without --yes, 10 --measure without root.")]
pub struct Args {
    /// Drop this level for real (1 page cache, 2 slab, 3 both) and print predicted against
    /// actual. Needs root; asks first unless --yes.
    #[arg(long, value_name = "LEVEL")]
    pub measure: Option<u8>,
    /// Do not ask before dropping (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Print sizes in bytes.
    #[arg(long, short)]
    pub bytes: bool,
}

/// Runs `shmkit reclaim`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = ProcRoot::live();
    match args.measure {
        None => {
            let prediction = reclaim::predict(&reclaim::inputs(&root)?);
            if args.json {
                print_json(&prediction)?;
            } else {
                write_prediction(&mut crate::output::stdout(), &prediction, args.bytes)?;
            }
        }
        Some(level) => {
            if !(1..=3).contains(&level) {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("--measure {level}"),
                    "drop_caches has levels 1 (page cache), 2 (slab) and 3 (both)",
                )
                .with_fix("use --measure 1, 2 or 3")
                .into());
            }
            if !args.yes && !confirm(level)? {
                msg!("shmkit reclaim: nothing dropped");
                return Ok(ExitCode::from(ErrorKind::InvalidInput.exit_code()));
            }
            let measurement = reclaim::measure(&root, level)?;
            crate::output::done(format!("dropped caches (level {level})"));
            if args.json {
                print_json(&measurement)?;
            } else {
                write_measurement(&mut crate::output::stdout(), &measurement, args.bytes)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks on the terminal; refuses outright without one.
fn confirm(level: u8) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("reclaim --measure {level}"),
            "refusing to drop caches without asking, and stdin is not a terminal",
        )
        .with_fix(format!("add --yes: shmkit reclaim --measure {level} --yes"))
        .into());
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "Drop caches (level {level}) for real? Every dropped file page is read from disk again when next needed. [y/N] "
    );
    let _ = err.flush();
    drop(err);
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

fn write_prediction(out: &mut dyn Write, p: &Prediction, exact: bool) -> std::io::Result<()> {
    let size = |b: u64| size_text(b, exact);
    writeln!(
        out,
        "What `sync; echo N > /proc/sys/vm/drop_caches` would free now (shmkit mem's model):\n"
    )?;
    let mut table = Table::new(&[
        ("FIELD", Align::Left),
        ("NOW", Align::Right),
        ("LEVEL 1", Align::Right),
        ("LEVEL 2", Align::Right),
        ("LEVEL 3", Align::Right),
        ("STAYS AFTER LEVEL 3", Align::Left),
    ]);
    let level3 = &p.levels[2];
    for (i, field) in level3.fields.iter().enumerate() {
        let stays: Vec<String> = field
            .stays
            .iter()
            .filter(|s| s.size > 0)
            .map(|s| format!("{} {}", s.what, size(s.size)))
            .collect();
        table.row(vec![
            field.field.to_string(),
            size(field.now),
            size(p.levels[0].fields[i].frees),
            size(p.levels[1].fields[i].frees),
            size(field.frees),
            if stays.is_empty() {
                "-".to_string()
            } else {
                stays.join(", ")
            },
        ]);
    }
    table.row(vec![
        "total".to_string(),
        String::new(),
        size(p.levels[0].total),
        size(p.levels[1].total),
        size(p.levels[2].total),
        String::new(),
    ]);
    table.write(out)?;
    writeln!(out, "\nThe model and its assumptions:")?;
    for line in &p.assumptions {
        writeln!(out, "  - {line}")?;
    }
    writeln!(out, "\nWhat it costs: {}", p.cost)?;
    writeln!(
        out,
        "To check the model on this machine: sudo shmkit reclaim --measure 3"
    )
}

fn write_measurement(out: &mut dyn Write, m: &Measurement, exact: bool) -> std::io::Result<()> {
    let size = |b: u64| size_text(b, exact);
    let delta = |d: i64| if exact { d.to_string() } else { human_delta(d) };
    writeln!(
        out,
        "sync; echo {} > /proc/sys/vm/drop_caches  (the write took {} ms)\n",
        m.level,
        (m.drop_seconds * 1000.0).round()
    )?;
    let mut table = Table::new(&[
        ("FIELD", Align::Left),
        ("BEFORE", Align::Right),
        ("AFTER", Align::Right),
        ("PREDICTED FREED", Align::Right),
        ("ACTUALLY FREED", Align::Right),
        ("DIFFERENCE", Align::Right),
    ]);
    for f in &m.fields {
        let freed = if f.actual >= 0 {
            size(f.actual.unsigned_abs())
        } else {
            delta(-f.actual)
        };
        table.row(vec![
            f.field.to_string(),
            size(f.before),
            size(f.after),
            size(f.predicted),
            freed,
            f.difference_percent
                .map_or("-".to_string(), |d| format!("{d:+.1}%")),
        ]);
    }
    table.write(out)?;
    let colour = colour_enabled();
    let shmem_moved = m.shmem_after as i64 - m.shmem_before as i64;
    let shmem_line = format!(
        "Shmem {} -> {} ({}): pinned shared memory is not dropped",
        size(m.shmem_before),
        size(m.shmem_after),
        delta(shmem_moved)
    );
    writeln!(out, "\nMemFree {}", delta(m.mem_free_gain))?;
    writeln!(out, "{}", paint(&shmem_line, Colour::Bold, colour))?;
    writeln!(out, "\nWhat it cost: {}", m.cost)
}
