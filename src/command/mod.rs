//! One module per subcommand, each with its `Args` and one `run` function.

pub mod chmod;
pub mod chown;
pub mod completions;
pub mod create;
pub mod doctor;
pub mod exporter;
pub mod flags;
pub mod hold;
pub mod inside;
pub mod lab;
pub mod lifecycle;
pub mod ls;
pub mod manpage;
pub mod mem;
pub mod read;
pub mod reclaim;
pub mod resize;
pub mod rm;
pub mod run;
pub mod schema;
pub mod snapshot;
pub mod stat;
pub mod top;
pub mod write;

use crate::cli::{Cli, Command};
use std::process::ExitCode;

/// Runs the chosen subcommand.
pub fn run(mut cli: Cli) -> anyhow::Result<ExitCode> {
    // Before anything can start a thread: a mount namespace refuses a multi-threaded caller.
    // The host's root stays open so that files named on the command line stay the host's.
    let host = match inside_of(&cli.command) {
        Some(inside) => inside.enter()?,
        None => None,
    };
    if let Some(host) = &host {
        match &mut cli.command {
            Command::Write(a) => a.from = a.from.as_deref().map(|p| host.reach(p)),
            Command::Snapshot(a) => match &mut a.action {
                snapshot::Action::Save(s) => s.file = host.reach(&s.file),
                snapshot::Action::Restore(r) => r.file = host.reach(&r.file),
                _ => {}
            },
            _ => {}
        }
    }
    match cli.command {
        Command::Mem(args) => mem::run(args),
        Command::Ls(args) => ls::run(args),
        Command::Lab(args) => lab::run(args),
        Command::Reclaim(args) => reclaim::run(args),
        Command::Hold(args) => hold::run(args),
        Command::Create(args) => create::run(args),
        Command::Write(args) => write::run(args),
        Command::Read(args) => read::run(args),
        Command::Stat(args) => stat::run(args),
        Command::Chmod(args) => chmod::run(args),
        Command::Chown(args) => chown::run(args),
        Command::Resize(args) => resize::run(args),
        Command::Rm(args) => rm::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Snapshot(args) => snapshot::run(args),
        Command::Run(args) => run::run(args),
        Command::Top(args) => top::run(args),
        Command::Exporter(args) => exporter::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Manpage(args) => manpage::run(args),
        Command::Schema(args) => schema::run(args),
    }
}

/// The `--container`/`--target` options of the commands that act inside a namespace.
fn inside_of(command: &Command) -> Option<&inside::Inside> {
    match command {
        Command::Stat(a) => Some(&a.inside),
        Command::Read(a) => Some(&a.inside),
        Command::Write(a) => Some(&a.inside),
        Command::Rm(a) => Some(&a.inside),
        Command::Snapshot(a) => match &a.action {
            snapshot::Action::Save(s) => Some(&s.inside),
            snapshot::Action::Restore(r) => Some(&r.inside),
            _ => None,
        },
        _ => None,
    }
}
