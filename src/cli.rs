//! The command line: one `clap` type per subcommand, defined next to its `run` in
//! `command/<name>.rs` and gathered here.

use crate::command;
use clap::{Parser, Subcommand};

/// Linux shared memory, understood and under control.
///
/// Objects are addressed as sysv:KEY (sysv:5678, sysv:0x162e), sysv:id=SHMID, posix:/NAME,
/// file:PATH.
#[derive(Debug, Parser)]
#[command(name = "shmkit", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The exit codes every subcommand uses.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success             5  permission denied
  1  other failure       6  kernel limit or no space
  2  usage / bad input   7  corrupt data
  3  not found           8  a check failed
  4  already exists      9  busy (in use; see --force)
                        10  unsupported here";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Where memory goes: free's numbers, then what buff/cache really holds (the main job).
    Mem(command::mem::Args),
    /// Every shared-memory object on the host, one table.
    Ls(command::ls::Args),
    /// Is this host or container fit for shared memory, and what survives a restart here.
    Doctor(command::doctor::Args),
    /// Save System V and POSIX objects to a checksummed file, and restore them.
    Snapshot(command::snapshot::Args),
    /// Run a command whose shared memory persists in a snapshot file (container entrypoint).
    Run(command::run::Args),
}
