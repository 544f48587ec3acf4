//! The command line: one `clap` type per subcommand, defined next to its `run` in
//! `command/<name>.rs` and gathered here.

use crate::command;
use crate::output::ColorWhen;
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
    /// When to colour output: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
}

/// The command line as clap builds it, with each table's column list added to its
/// command's help (the columns come from the tables themselves, so the list cannot drift).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let with_columns = |cmd: clap::Command, table: shmkit::render::table::Table| {
        let before = cmd
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        let columns = crate::output::columns_help(&table);
        cmd.after_help(format!("{before}\n\n{columns}"))
    };
    Cli::command()
        .mut_subcommand("ls", |c| with_columns(c, command::ls::columns()))
        .mut_subcommand("lab", |c| {
            c.mut_subcommand("list", |c| with_columns(c, command::lab::list_table()))
        })
        .mut_subcommand("snapshot", |c| {
            c.mut_subcommand("ls", |c| with_columns(c, command::snapshot::columns()))
        })
}

/// Parses the command line (with [`command()`]'s help).
pub fn parse() -> Result<Cli, clap::Error> {
    use clap::FromArgMatches;
    let matches = command().try_get_matches()?;
    Cli::from_arg_matches(&matches)
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
    /// Create a System V segment, a POSIX object or a mapped file.
    Create(command::create::Args),
    /// Write bytes into an object (bounds-checked; never grows it).
    Write(command::write::Args),
    /// Read bytes out of an object: raw, hex (like xxd) or text.
    Read(command::read::Args),
    /// Everything the kernel knows of an object, its holders, and what it survives here.
    Stat(command::stat::Args),
    /// Change an object's permission bits.
    Chmod(command::chmod::Args),
    /// Change an object's owner and/or group.
    Chown(command::chown::Args),
    /// Grow or shrink a POSIX object or a file (System V cannot).
    Resize(command::resize::Args),
    /// Remove objects, or collect leaks with --orphans (never one in use without --force).
    Rm(command::rm::Args),
    /// The seed's experiments, run for real, with a verdict for each kernel behaviour.
    Lab(command::lab::Args),
    /// What each drop_caches level would free, predicted; with --measure, dropped for real.
    Reclaim(command::reclaim::Args),
    /// Map shared memory and hold it until stdin closes (for tests and experiments).
    #[command(hide = true)]
    Hold(command::hold::Args),
    /// Is this host or container fit for shared memory, and what survives a restart here.
    Doctor(command::doctor::Args),
    /// Save System V and POSIX objects to a checksummed file, and restore them.
    Snapshot(command::snapshot::Args),
    /// Run a command whose shared memory persists in a snapshot file (container entrypoint).
    Run(command::run::Args),
    /// A live view of shared memory, with each object's growth (plain tables with --once, -b N).
    Top(command::top::Args),
    /// Serve the scan as Prometheus metrics, or write them once as a node_exporter textfile.
    Exporter(command::exporter::Args),
    /// Print a completion script for bash, zsh or fish.
    Completions(command::completions::Args),
    /// Print the manual page (or write every page with --dir).
    Manpage(command::manpage::Args),
    /// Print the JSON Schema of a command's --json output (or write them all with --dir).
    #[command(hide = true)]
    Schema(command::schema::Args),
}
