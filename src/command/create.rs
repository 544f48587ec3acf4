//! `shmkit create`: make a System V segment, a POSIX object or a mapped file.

use super::lifecycle::{self, parse_address, parse_mode, parse_size};
use crate::output;
use serde::Serialize;
use shmkit::address::Address;
use shmkit::segment::{self, CreateOptions, Stat, DEFAULT_MODE};
use std::io::Write;
use std::process::ExitCode;

/// Options of `shmkit create`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  shmkit create sysv:5678 --size 27              the seed's segment, mode 0600
  shmkit create sysv:private --size 1M           a new keyless segment; prints its id
  shmkit create posix:/orders --size 64M --exclusive
  shmkit create file:./shm.txt --size 501
  shmkit create sysv:5678 --size 27 --mode 666   every user may write it (warns)

Without --exclusive an existing object of at least --size bytes that you own is opened
instead, and nothing changes. A failed create leaves nothing behind.")]
pub struct Args {
    /// What to create: sysv:KEY, sysv:private, sysv:ftok=PATH:PROJ, posix:/NAME, file:PATH.
    #[arg(value_parser = parse_address)]
    pub address: Address,
    /// Size in bytes, or with K, M, G (binary units).
    #[arg(long, value_parser = parse_size)]
    pub size: u64,
    /// Permission bits in octal.
    #[arg(long, value_parser = parse_mode, default_value = "600")]
    pub mode: u32,
    /// Fail if it exists already (exit 4) instead of opening it.
    #[arg(long)]
    pub exclusive: bool,
    /// Back it with huge pages (System V only; needs vm.nr_hugepages).
    #[arg(long)]
    pub hugetlb: bool,
    /// Allocate and touch every page now.
    #[arg(long)]
    pub prefault: bool,
    /// Accept an existing object owned by another user.
    #[arg(long)]
    pub allow_foreign: bool,
    /// Print JSON: {"created": bool, "stat": {...}}.
    #[arg(long)]
    pub json: bool,
}

/// What `create --json` prints.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Created {
    schema: &'static str,
    /// Whether this command made it (false: it existed and was opened).
    created: bool,
    /// What the kernel says of it now.
    stat: Stat,
}

/// Runs `shmkit create`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    lifecycle::refuse_memfd(&args.address, true)?;
    let opts = CreateOptions::new(args.size)
        .mode(args.mode)
        .exclusive(args.exclusive)
        .hugetlb(args.hugetlb)
        .prefault(args.prefault)
        .allow_foreign_owner(args.allow_foreign)
        // Like ipcmk: making a segment is not using it, so its last-attach time and pid stay
        // unset (and the command costs no mapping).
        .attach(false);
    let seg = segment::create(&args.address, &opts)?;
    let stat = seg.stat()?;
    if seg.created() {
        crate::output::done(format!("created {}", seg.address()));
        lifecycle::warn_if_world_writable(&args.address, args.mode);
    }
    if args.json {
        output::print_json(&Created {
            schema: "shmkit.create/2",
            created: seg.created(),
            stat,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if seg.created() {
        "created"
    } else {
        "opened existing"
    };
    let id = stat
        .sysv
        .as_ref()
        .map(|s| format!(" (key 0x{:08x}, id {})", s.key as u32, s.shmid))
        .unwrap_or_default();
    // What this command made is the caller's (`stat` names the owner): only an object it
    // opened can belong to someone else, and only then is the owner worth a user-database
    // lookup.
    let owner = if seg.created() {
        String::new()
    } else {
        format!(", owner {}", lifecycle::describe_owner(stat.uid, stat.gid))
    };
    // The segment's own address: for sysv:private that is its new id, the way to reach it.
    writeln!(
        output::stdout(),
        "{verb} {}{id}: {} bytes, mode {:04o}{owner}",
        seg.address(),
        stat.size,
        stat.mode,
    )?;
    if !seg.created() && args.mode != DEFAULT_MODE && stat.mode != args.mode {
        msg!(
            "shmkit: note: {} existed with mode {:04o}; --mode applies only to new objects (use `shmkit chmod`)",
            args.address, stat.mode
        );
    }
    Ok(ExitCode::SUCCESS)
}
