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
    /// The options every subcommand takes.
    #[command(flatten)]
    pub global: Global,
}

/// The options every subcommand takes.
#[derive(Debug, clap::Args)]
pub struct Global {
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
///
/// Building all of clap's tree (every subcommand, every argument, every help text) costs more
/// than a life-cycle command's own work, so a command line that names its subcommand is parsed
/// against a tree holding that subcommand only. Anything that one rejects (help, version, a
/// usage error, a misspelt subcommand) is parsed again against the whole tree, which words
/// the help or the error exactly as before.
pub fn parse() -> Result<Cli, clap::Error> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(cli) = parse_with_one_subcommand(&args) {
        return Ok(cli);
    }
    parse_with(command(), &args)
}

fn parse_with(cmd: clap::Command, args: &[std::ffi::OsString]) -> Result<Cli, clap::Error> {
    use clap::FromArgMatches;
    let matches = cmd.try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// The command line parsed against a tree with only the subcommand it names; `None` when it
/// names none or that parse fails.
fn parse_with_one_subcommand(args: &[std::ffi::OsString]) -> Option<Cli> {
    let cmd = with_one_subcommand(named_subcommand(args)?)?;
    parse_with(cmd, args).ok()
}

/// The first word that is not a global option (`--color WHEN`, `--color=WHEN`); `None` if an
/// option comes first that only the whole tree knows (`--help`, `--version`).
fn named_subcommand(args: &[std::ffi::OsString]) -> Option<&str> {
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        let word = word.to_str()?;
        if word == "--color" {
            words.next()?;
        } else if word.starts_with("--color=") {
            continue;
        } else if word.starts_with('-') {
            return None;
        } else {
            return Some(word);
        }
    }
    None
}

/// The top-level command with the global options and the one subcommand `name`, built as
/// clap's derive builds it inside the whole tree (the test below holds them equal).
fn with_one_subcommand(name: &str) -> Option<clap::Command> {
    use clap::Args as _;
    let sub = clap::Command::new(name.to_owned());
    let sub = match name {
        "mem" => command::mem::Args::augment_args(sub),
        "ls" => command::ls::Args::augment_args(sub),
        "create" => command::create::Args::augment_args(sub),
        "write" => command::write::Args::augment_args(sub),
        "read" => command::read::Args::augment_args(sub),
        "stat" => command::stat::Args::augment_args(sub),
        "chmod" => command::chmod::Args::augment_args(sub),
        "chown" => command::chown::Args::augment_args(sub),
        "resize" => command::resize::Args::augment_args(sub),
        "rm" => command::rm::Args::augment_args(sub),
        "lab" => command::lab::Args::augment_args(sub),
        "reclaim" => command::reclaim::Args::augment_args(sub),
        "hold" => command::hold::Args::augment_args(sub),
        "doctor" => command::doctor::Args::augment_args(sub),
        "snapshot" => command::snapshot::Args::augment_args(sub),
        "run" => command::run::Args::augment_args(sub),
        "top" => command::top::Args::augment_args(sub),
        "exporter" => command::exporter::Args::augment_args(sub),
        "completions" => command::completions::Args::augment_args(sub),
        "manpage" => command::manpage::Args::augment_args(sub),
        "schema" => command::schema::Args::augment_args(sub),
        _ => return None,
    };
    let top = Global::augment_args(clap::Command::new("shmkit"));
    Some(top.subcommand(sub).subcommand_required(true))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_that_takes_json_has_a_schema() {
        command::schema::tests::check_every_json_command_has_a_schema(&command());
    }
    use std::ffi::OsString;

    fn words(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn every_subcommand_alone_is_built_as_in_the_whole_tree() {
        use clap::CommandFactory;
        let whole = Cli::command();
        for (order, full) in whole.get_subcommands().enumerate() {
            let name = full.get_name();
            let alone = with_one_subcommand(name)
                .unwrap_or_else(|| panic!("`{name}` has no entry in with_one_subcommand"));
            let one = alone
                .find_subcommand(name)
                .expect("the subcommand it was built with");
            // The variant's doc comment, `hide` and place in the list are the enum's, and
            // matter only for help.
            let mut one = one.clone().hide(full.is_hide_set()).display_order(order);
            if let Some(about) = full.get_about() {
                one = one.about(about.clone());
            }
            if let Some(about) = full.get_long_about() {
                one = one.long_about(about.clone());
            }
            assert_eq!(
                format!("{one:?}"),
                format!("{full:?}"),
                "subcommand `{name}`"
            );
        }
        // The order in --help is the whole tree's to decide.
        let top_args = |c: &clap::Command| {
            c.get_arguments()
                .map(|a| format!("{:?}", a.clone().display_order(0)))
                .collect::<Vec<_>>()
        };
        let alone = with_one_subcommand("rm").expect("rm");
        assert_eq!(top_args(&alone), top_args(&whole));
    }

    #[test]
    fn one_subcommand_parses_as_the_whole_tree_does() {
        for line in [
            "shmkit create sysv:1234 --size 27",
            "shmkit --color never rm sysv:id=3",
            "shmkit --color=always rm --orphans --older-than 1d --dry-run",
            "shmkit rm --color never sysv:0x162e posix:/orders file:./shm.txt",
            "shmkit ls -o KIND,SIZE -n --raw",
            "shmkit snapshot save /tmp/x.snap sysv:1",
            "shmkit lab run all",
            "shmkit mem --json",
        ] {
            let args = words(line);
            let alone = parse_with_one_subcommand(&args).expect(line);
            let whole = parse_with(command(), &args).expect(line);
            assert_eq!(format!("{alone:?}"), format!("{whole:?}"), "{line}");
        }
    }

    #[test]
    fn help_version_and_errors_go_to_the_whole_tree() {
        for line in [
            "shmkit",
            "shmkit --help",
            "shmkit --version",
            "shmkit rm --help",
            "shmkit rm",
            "shmkit creat sysv:1",
            "shmkit create sysv:1 --size",
            "shmkit help rm",
        ] {
            assert!(parse_with_one_subcommand(&words(line)).is_none(), "{line}");
        }
    }
}
