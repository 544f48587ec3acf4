//! One module per subcommand, each with its `Args` and one `run` function.

pub mod hold;
pub mod ls;
pub mod mem;

use crate::cli::{Cli, Command};
use std::process::ExitCode;

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Mem(args) => mem::run(args),
        Command::Ls(args) => ls::run(args),
        Command::Hold(args) => hold::run(args),
    }
}
