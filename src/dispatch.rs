//! Runs a parsed command line: enters the namespaces `--container`/`--target` ask for, then
//! hands the subcommand's options to its `run` in `command/`. It sits above both `cli` (which
//! gathers the subcommands' options) and `command` (which knows nothing of the whole command
//! line), so every import points down.

use crate::cli::{Cli, Command};
use crate::command::*;
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
        Command::Completions(args) => completions::run(args, crate::cli::command()),
        Command::Manpage(args) => manpage::run(args, crate::cli::command()),
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
