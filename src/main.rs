//! The `shmkit` command: parses the command line, runs one subcommand, maps errors to exit
//! codes. Each subcommand lives in `command/<name>.rs` with one `run` function.

mod cli;
mod command;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match command::run(cli) {
        Ok(code) => code,
        Err(err) => report(&err),
    }
}

/// Prints the whole error chain on one line and picks the exit code: the library's
/// [`shmkit::ErrorKind`] decides it where there is one; a closed pipe (`shmkit ls | head`) is
/// success.
fn report(err: &anyhow::Error) -> ExitCode {
    for cause in err.chain() {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                return ExitCode::SUCCESS;
            }
        }
    }
    eprintln!("shmkit: {err:#}");
    let code = err
        .chain()
        .find_map(|cause| cause.downcast_ref::<shmkit::Error>())
        .map_or(1, |e| e.kind().exit_code());
    ExitCode::from(code)
}
