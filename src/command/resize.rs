//! `shmkit resize`: grow or shrink a POSIX object or a file; System V is refused with the
//! reason.

use super::lifecycle::{self, parse_address, parse_size};
use shmkit::address::Address;
use shmkit::render::size;
use shmkit::scan::Kind;
use shmkit::segment::{self, OpenOptions};
use shmkit::{Error, ErrorKind};
use std::io::Write;
use std::process::ExitCode;

/// Options of `shmkit resize`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  shmkit resize posix:/orders 128M
  shmkit resize file:./shm.txt 4K

Growing allocates the new pages now, so a full /dev/shm fails here with 'no space' (exit 6)
instead of killing a reader later with SIGBUS. Shrinking discards the bytes past the new size,
and would kill processes that map the object with SIGBUS when they touch the cut-off part:
refused unless --force. System V segments
cannot change size (the kernel ignores shm_segsz in IPC_SET): refused (exit 10).")]
pub struct Args {
    /// The object: posix:/NAME or file:PATH.
    #[arg(value_parser = parse_address)]
    pub address: Address,
    /// The new size in bytes, or with K, M, G.
    #[arg(value_parser = parse_size)]
    pub size: u64,
    /// Shrink: discard the bytes past the new size, even if other processes map it.
    #[arg(long)]
    pub force: bool,
    /// Accept an object owned by another user.
    #[arg(long)]
    pub allow_foreign: bool,
    /// Print JSON: {"schema", "stat"} after the change.
    #[arg(long)]
    pub json: bool,
}

/// Runs `shmkit resize`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    lifecycle::refuse_memfd(&args.address, false)?;
    let access = if args.address.kind() == Kind::Sysv {
        // Attaching would only disturb nattch: the answer is no either way.
        OpenOptions::metadata()
    } else {
        OpenOptions::read_write()
    };
    let mut seg = segment::open(
        &args.address,
        &access.allow_foreign_owner(args.allow_foreign),
    )?;
    let stat = seg.stat()?;
    // Only objects that can shrink can strand a holder; System V's refusal comes from resize.
    let can_shrink = args.address.kind() != Kind::Sysv;
    if can_shrink && args.size < stat.size && !args.force {
        let scan = lifecycle::scan()?;
        let others: Vec<String> = lifecycle::holders(&scan, &stat)
            .into_iter()
            .map(|h| format!("{} ({})", h.pid, shmkit::render::table::sanitize(&h.comm)))
            .collect();
        if !others.is_empty() {
            return Err(Error::new(
                ErrorKind::Busy,
                args.address.to_string(),
                format!(
                    "shrinking it would kill processes that map it with SIGBUS: {}",
                    others.join(", ")
                ),
            )
            .with_fix("stop them first, or pass --force")
            .into());
        }
    }
    // A shrink throws bytes away for good (`resize file:/etc/passwd 0` empties the file):
    // only on request.
    if can_shrink && args.size < stat.size && !args.force {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            args.address.to_string(),
            format!(
                "shrinking it from {} to {} bytes would discard its last {} bytes",
                stat.size,
                args.size,
                stat.size - args.size
            ),
        )
        .with_fix("pass --force to discard them, or give a size of at least the current one")
        .into());
    }
    seg.resize(args.size)?;
    crate::output::done(format!("resized {} to {} bytes", args.address, args.size));
    if args.json {
        crate::output::print_json(&lifecycle::Changed {
            schema: "shmkit.resize/2",
            stat: seg.stat()?,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        crate::output::stdout(),
        "{}: {} -> {} ({} bytes)",
        args.address,
        size::human(stat.size),
        size::human(args.size),
        args.size
    )?;
    Ok(ExitCode::SUCCESS)
}
