//! `shmkit completions SHELL`: a completion script for bash, zsh or fish, made by
//! `clap_complete` from the same command line definition that parses arguments.

use clap_complete::Shell;
use std::io::Write;
use std::process::ExitCode;

/// Options of `shmkit completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  shmkit completions bash > /etc/bash_completion.d/shmkit
  shmkit completions zsh > \"${fpath[1]}/_shmkit\"
  shmkit completions fish > ~/.config/fish/completions/shmkit.fish")]
pub struct Args {
    /// The shell: bash, zsh or fish.
    #[arg(value_parser = ["bash", "zsh", "fish"])]
    pub shell: String,
}

/// Runs `shmkit completions`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let shell = match args.shell.as_str() {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        _ => Shell::Fish,
    };
    // clap_complete panics on a failed write: render into memory, then write what can fail.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::command(), "shmkit", &mut script);
    crate::output::stdout().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}
