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

/// Runs `shmkit completions` on `cmd`, the whole command line definition.
pub fn run(args: Args, cmd: clap::Command) -> anyhow::Result<ExitCode> {
    let shell = match args.shell.as_str() {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        _ => Shell::Fish,
    };
    // clap_complete panics on a failed write: render into memory, then write what can fail.
    let mut script = Vec::new();
    let mut cmd = without_hidden(cmd);
    clap_complete::generate(shell, &mut cmd, "shmkit", &mut script);
    crate::output::stdout().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// The command without its hidden subcommands (`hold`, `lab child`): clap_complete would
/// offer them, and nothing should suggest a command `--help` does not list.
fn without_hidden(cmd: clap::Command) -> clap::Command {
    let visible: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .map(without_hidden)
        .collect();
    let args: Vec<clap::Arg> = cmd.get_arguments().cloned().collect();
    let mut pruned = clap::Command::new(cmd.get_name().to_string()).args(args);
    if let Some(about) = cmd.get_about() {
        pruned = pruned.about(about.clone());
    }
    pruned.subcommands(visible)
}
