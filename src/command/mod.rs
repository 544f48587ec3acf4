//! One module per subcommand, each with its `Args` and one `run` function.

pub mod doctor;
pub mod ls;
pub mod mem;
pub mod run;
pub mod snapshot;

use crate::cli::{Cli, Command};
use std::process::ExitCode;

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Mem(args) => mem::run(args),
        Command::Ls(args) => ls::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Snapshot(args) => snapshot::run(args),
        Command::Run(args) => run::run(args),
    }
}
