//! `shmkit top`: a live view of shared memory, with each object's growth.
//!
//! A collector thread takes the scan `shmkit mem` takes every `--interval` and sends whole
//! samples to the interface, which only draws ([`tui`]); `--once` and `-b N` print the same
//! rows as plain tables ([`batch`]). Growth is keyed by each object's identity
//! ([`model::Identity`]), so a reused id or name never reads as growth.

pub mod actions;
pub mod batch;
pub mod collector;
pub mod model;
pub mod tui;

use shmkit::scan::{Kind, ProcRoot};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

/// Options of `shmkit top`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  shmkit top                    the live view; ? lists the keys
  shmkit top -d 1 --sort growth  sample every second, fastest growing first
  shmkit top --once             one plain table (for logs; no terminal needed)
  shmkit top -b 30 -d 10 >> log 30 tables, 10 s apart, with growth between them

Keys: q quit, ? keys, r/g/a/n sort by resident/growth/age/name, k kind, c container,
/ text filter, G group by container, p pause, Enter stat, d remove (only if `shmkit rm` would).

Exit: 0 after q or Ctrl-C, 128 + N after signal N (SIGTERM: 143); the terminal is restored
either way, also after a panic (exit 101).

GROWTH/S is the change of resident bytes per second since the previous sample, SINCE START
the change since the first sample (an object that appeared later counts from 0).")]
pub struct Args {
    /// Seconds between samples (fractions allowed).
    #[arg(long, short = 'd', value_name = "SECONDS", default_value = "2", value_parser = super::flags::interval)]
    pub interval: Duration,
    /// Print one plain table and exit.
    #[arg(long, conflicts_with = "batch")]
    pub once: bool,
    /// Print N plain tables, one per interval, with growth between them (0: until
    /// interrupted), like `top -b -n N`.
    #[arg(long, short = 'b', value_name = "N")]
    pub batch: Option<u64>,
    /// Only objects of this kind (repeatable): sysv, posix, tmpfs, shared-anon, memfd, file.
    #[arg(long, value_name = "KIND", value_parser = parse_kind)]
    pub kind: Vec<Kind>,
    /// The order rows start in.
    #[arg(long, value_enum, default_value_t = model::SortKey::Resident)]
    pub sort: model::SortKey,
    /// Print sizes in bytes (plain tables).
    #[arg(long, short = 'B')]
    pub bytes: bool,
    /// Read /proc under this root instead of / (a captured fixture tree).
    #[arg(long, value_name = "DIR", hide = true, default_value = "/")]
    pub root: std::path::PathBuf,
    /// Panic in the collector after this many samples (tests that a panic restores the
    /// terminal).
    #[arg(long, value_name = "SAMPLES", hide = true)]
    pub panic_after: Option<u64>,
}

fn parse_kind(text: &str) -> Result<Kind, String> {
    Kind::parse(text).ok_or_else(|| {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown kind '{text}'; use one of {}", names.join(", "))
    })
}

/// Runs `shmkit top`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let view = model::View {
        sort: args.sort,
        kinds: args.kind.clone(),
        ..model::View::default()
    };
    let count = match (args.once, args.batch) {
        (true, _) => Some(1),
        (false, n) => n,
    };
    if let Some(count) = count {
        let root = ProcRoot::new(&args.root);
        batch::run(&root, &view, args.interval, count, args.bytes)?;
        return Ok(ExitCode::SUCCESS);
    }
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(shmkit::Error::new(
            shmkit::ErrorKind::InvalidInput,
            "shmkit top",
            "standard input and output must be a terminal for the live view",
        )
        .with_fix("use `shmkit top --once` or `shmkit top -b N` for plain tables")
        .into());
    }
    let code = tui::run(args.root, args.interval, view, args.panic_after)?;
    Ok(ExitCode::from(code))
}
