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

/// Prints the error on one line and picks the exit code: the library's
/// [`shmkit::ErrorKind`] decides it where there is one; a closed pipe (`shmkit ls | head`) is
/// success.
fn report(err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        return ExitCode::SUCCESS;
    }
    eprintln!("shmkit: {}", one_line(err));
    let code = err
        .chain()
        .find_map(|cause| cause.downcast_ref::<shmkit::Error>())
        .map_or(1, |e| e.kind().exit_code());
    ExitCode::from(code)
}

/// The chain joined with `: `, stopping at a library error: its own text already says the
/// cause (with the OS message) and the fix, so its source would only repeat it.
fn one_line(err: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    for cause in err.chain() {
        parts.push(cause.to_string());
        if cause.downcast_ref::<shmkit::Error>().is_some() {
            break;
        }
    }
    parts.join(": ").replace('\n', " ")
}

/// A closed pipe, however deep it is wrapped (`serde_json` wraps the `io::Error`).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}
