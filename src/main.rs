//! The `shmkit` command: parses the command line, runs one subcommand, maps errors to exit
//! codes. Each subcommand lives in `command/<name>.rs` with one `run` function; `dispatch`
//! calls it. Imports point down: main → dispatch → cli → command → the library.
//!
//! The C runtime calls [`main`] directly (`#![no_main]`): std's own start-up reads all of
//! `/proc/self/maps` to find the main thread's stack guard and sets up a signal stack, about
//! 5% of what `shmkit rm` costs. What a command-line process does need from it (the
//! standard descriptors open, SIGPIPE ignored, stdout flushed at exit, a panic reported and
//! exit code 101) is done here.

// Unit tests of this crate have the test harness's `main`.
#![cfg_attr(not(test), no_main)]

#[macro_use]
mod output;
mod cli;
mod command;
mod dispatch;

use output::StdoutFailure;
use std::process::ExitCode;

/// The process's entry point, called by the C runtime with the arguments std also reads.
// The one symbol named `main` in the program: a second would fail to link.
#[cfg_attr(not(test), no_mangle)]
#[cfg_attr(test, allow(dead_code))]
pub extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    // A closed stdout that cannot be filled with /dev/null (a chroot without /dev) would let
    // the first file the command opens receive its output: stop before opening anything, as
    // std's start-up does.
    if let Err(err) = shmkit::sys::startup::open_standard_streams() {
        msg!("shmkit: a standard descriptor (0, 1 or 2) is closed and /dev/null cannot be opened in its place ({err}); start shmkit with them open");
        return 1;
    }
    // Fails only for an invalid signal number; SIGPIPE is valid.
    let _ = shmkit::sys::startup::ignore_sigpipe();
    // A panic has printed its message through the hook; 101 is the exit code std gives it.
    let code = std::panic::catch_unwind(run).map_or(101, exit_status);
    output::flush();
    std::ffi::c_int::from(code)
}

/// The number in an `ExitCode`, which std keeps private (`ExitCode::exit_process` is not
/// stable): the one `u8` that makes an equal code.
fn exit_status(code: ExitCode) -> u8 {
    (0..=u8::MAX)
        .find(|&n| ExitCode::from(n) == code)
        .unwrap_or(1)
}

/// Parses the command line, runs the subcommand and words its failure.
fn run() -> ExitCode {
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(err) => return clap_exit(&err),
    };
    output::set_colour(cli.global.color);
    let result = dispatch::run(cli);
    output::flush();
    match (output::stdout_failure(), result) {
        (None, Ok(code)) => code,
        (None, Err(err)) => report(&err),
        // The reader has all it wanted (`shmkit ls | head -1`): a quiet success.
        (Some(StdoutFailure::ClosedPipe), Ok(code)) => code,
        (Some(StdoutFailure::ClosedPipe), Err(err)) if is_stdout_error(&err) => ExitCode::SUCCESS,
        (Some(StdoutFailure::ClosedPipe), Err(err)) => report(&err),
        (Some(StdoutFailure::Failed(kind, errno)), result) => {
            msg!("shmkit: {}", output::stdout_failure_message(kind, errno));
            match result {
                Err(err) if !is_stdout_error(&err) => {
                    report(&err);
                }
                _ => {}
            }
            ExitCode::FAILURE
        }
    }
}

/// Prints clap's help, version or usage error; a closed or full stdout is handled like any
/// command's (clap's own `exit` would panic on it).
fn clap_exit(err: &clap::Error) -> ExitCode {
    let code = u8::try_from(err.exit_code()).unwrap_or(2);
    if err.use_stderr() && wants_json() {
        let text = err.kind().to_string();
        let detail = err.to_string();
        // clap's text is several lines (usage, tip); its first says what was wrong.
        let first = detail
            .lines()
            .next()
            .unwrap_or(&text)
            .trim_start_matches("error: ");
        print_json_error(None, first, Some("see the command's --help"), code);
    }
    match err.print() {
        Ok(()) => ExitCode::from(code),
        // A usage error goes to stderr; if even that fails, the exit code still tells.
        Err(_) if err.use_stderr() => ExitCode::from(code),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(code),
        Err(e) => {
            msg!(
                "shmkit: {}",
                output::stdout_failure_message(e.kind(), e.raw_os_error())
            );
            ExitCode::FAILURE
        }
    }
}

/// Prints the error on one line and picks the exit code: the library's
/// [`shmkit::ErrorKind`] decides it where there is one.
fn report(err: &anyhow::Error) -> ExitCode {
    msg!("shmkit: {}", one_line(err));
    let library = err
        .chain()
        .find_map(|cause| cause.downcast_ref::<shmkit::Error>());
    let code = library.map_or(1, |e| e.kind().exit_code());
    if wants_json() && !is_stdout_error(err) {
        match library {
            Some(e) => print_json_error(Some(e.object()), e.cause(), e.fix(), code),
            None => print_json_error(None, &one_line(err), None, code),
        }
    }
    ExitCode::from(code)
}

/// Whether the command line asks for JSON: `--json` before any `--` (after which the words
/// are a command's own, as in `run --persist FILE -- CMD`).
fn wants_json() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// Under `--json`, an error is a JSON document too (`shmkit.error/1`), on stdout where the
/// reader expects the result, with the exit code it also has.
fn print_json_error(object: Option<&str>, cause: &str, fix: Option<&str>, exit_code: u8) {
    let doc = output::ErrorDocument {
        schema: "shmkit.error/1",
        error: output::ErrorBody {
            object,
            cause,
            fix,
            exit_code,
        },
    };
    // Nothing more to do if stdout fails too: the exit code and stderr still tell.
    let _ = output::print_json(&doc);
    output::flush();
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

/// Whether the error is a bare I/O error: what a failed write to stdout returns through `?`
/// (every other failure is a library error with its object named).
fn is_stdout_error(err: &anyhow::Error) -> bool {
    err.downcast_ref::<std::io::Error>().is_some()
}
