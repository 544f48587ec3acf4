//! `shmkit chmod`: change an object's permission bits.

use super::lifecycle::{self, parse_address, parse_mode};
use shmkit::address::Address;
use shmkit::segment::{self, OpenOptions};
use std::io::Write;
use std::process::ExitCode;

/// Options of `shmkit chmod`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  shmkit chmod sysv:5678 600       only the owner (and root)
  shmkit chmod posix:/orders 640   the owner writes, its group reads
  shmkit chmod sysv:5678 666       every user may write it (warns)

Only the owner, the creator (System V) or root may change the mode.")]
pub struct Args {
    /// The object: sysv:KEY, sysv:id=SHMID, posix:/NAME, file:PATH.
    #[arg(value_parser = parse_address)]
    pub address: Address,
    /// The new permission bits, in octal.
    #[arg(value_parser = parse_mode)]
    pub mode: u32,
    /// Print JSON: {"schema", "stat"} after the change.
    #[arg(long)]
    pub json: bool,
}

/// Runs `shmkit chmod`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    lifecycle::refuse_memfd(&args.address, false)?;
    let seg = segment::open(&args.address, &OpenOptions::metadata())?;
    let before = seg.stat()?.mode;
    seg.chmod(args.mode)?;
    crate::output::done(format!("{} is now mode {:04o}", args.address, args.mode));
    lifecycle::warn_if_world_writable(&args.address, args.mode);
    if args.json {
        crate::output::print_json(&lifecycle::Changed {
            schema: "shmkit.chmod/2",
            stat: seg.stat()?,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        crate::output::stdout(),
        "{}: mode {before:04o} -> {:04o}",
        args.address,
        args.mode
    )?;
    Ok(ExitCode::SUCCESS)
}
