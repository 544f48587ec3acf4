//! What every command shares for output: one fallible stdout, messages on stderr, JSON
//! printing and the colour decision.
//!
//! Nothing here panics. `println!` panics when stdout is a closed pipe or a full disk, so
//! commands write through [`stdout`] instead, and `main` words what went wrong:
//! - a closed pipe (`shmkit ls | head -1`) is a quiet success: the reader has what it wanted;
//! - any other failure (`> /dev/full`) is one line on stderr and exit 1, saying what the
//!   command had already done ([`done`]) so that nobody runs a removal twice or thinks it
//!   failed.
//!
//! Messages (notes, warnings, progress) go to stderr through [`message`], which ignores a
//! failing stderr: there is nowhere left to report that.

use serde::Serialize;
use shmkit::render::table::{Layout, Table};
use shmkit::render::time::TimeFormat;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

/// The first error writing to stdout, if any: its kind and errno.
static STDOUT_FAILED: Mutex<Option<(io::ErrorKind, Option<i32>)>> = Mutex::new(None);

/// What the command committed before its output could fail, in order.
static DONE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// `--color`: 0 auto, 1 always, 2 never.
static COLOUR: AtomicU8 = AtomicU8::new(0);

/// Standard output that records its first failure for `main` to word. Write to it with
/// `writeln!(out, ...)?`: a failure stops the command through `?`.
#[derive(Debug)]
pub struct Stdout {
    lock: io::StdoutLock<'static>,
}

/// The process's standard output, locked.
pub fn stdout() -> Stdout {
    Stdout {
        lock: io::stdout().lock(),
    }
}

fn record(err: io::Error) -> io::Error {
    if let Ok(mut slot) = STDOUT_FAILED.lock() {
        slot.get_or_insert((err.kind(), err.raw_os_error()));
    }
    err
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock.write(buf).map_err(record)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.lock.flush().map_err(record)
    }
}

/// Flushes stdout (Rust's own flush at exit would ignore a failure).
pub fn flush() {
    let _ = stdout().flush();
}

/// How writing to stdout failed, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdoutFailure {
    /// The reader went away: a quiet success.
    ClosedPipe,
    /// Anything else (a full disk, an I/O error): errno if there is one.
    Failed(io::ErrorKind, Option<i32>),
}

/// Whether (and how) a write to stdout failed during this run.
pub fn stdout_failure() -> Option<StdoutFailure> {
    let slot = STDOUT_FAILED.lock().ok()?;
    let (kind, errno) = (*slot)?;
    Some(if kind == io::ErrorKind::BrokenPipe {
        StdoutFailure::ClosedPipe
    } else {
        StdoutFailure::Failed(kind, errno)
    })
}

/// Records an action that is now committed (an object removed, created, changed), so that a
/// failure to print the report still says it happened.
pub fn done(action: impl Into<String>) {
    if let Ok(mut list) = DONE.lock() {
        list.push(action.into());
    }
}

/// The one-line message for a stdout that failed otherwise than by a closed pipe.
pub fn stdout_failure_message(kind: io::ErrorKind, errno: Option<i32>) -> String {
    let cause = match errno {
        Some(n) => shmkit::error::os_message(&io::Error::from_raw_os_error(n)),
        None => io::Error::from(kind).to_string(),
    };
    let cause = lower_first(&cause);
    let done = DONE.lock().map(|d| d.clone()).unwrap_or_default();
    let fix = match errno {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) | Some(libc::EFBIG) => {
            "free space where stdout goes, or send it elsewhere"
        }
        _ => "send stdout somewhere writable",
    };
    if done.is_empty() {
        format!("writing to stdout: {cause}; {fix}")
    } else {
        format!(
            "writing to stdout: {cause}, after the command was done ({}): only its report is lost; {fix}",
            done.join(", ")
        )
    }
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `N thing` or `N things`: counts that agree in number ("1 object", "2 objects").
pub fn count(n: impl TryInto<u64>, one: &str, many: &str) -> String {
    shmkit::render::count(n.try_into().unwrap_or(u64::MAX), one, many)
}

/// Writes one line to stderr (a note, a warning, progress). A failing stderr is ignored:
/// there is nowhere left to say so.
pub fn message(args: std::fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(args);
    let _ = err.write_all(b"\n");
}

/// `eprintln!` that never panics: formats its arguments into one line on stderr.
#[macro_export]
macro_rules! msg {
    ($($arg:tt)*) => {
        $crate::output::message(format_args!($($arg)*))
    };
}

/// Writes `value` as pretty JSON and a newline to stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    // Serialized first, so a failing stdout surfaces as an io::Error of ours, not one
    // buried inside serde_json's.
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    let mut out = stdout();
    out.write_all(&text)?;
    out.flush()?;
    Ok(())
}

/// A document with a `schema` field (`NAME/VERSION`) beside its own fields.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Versioned<T> {
    /// `shmkit.NAME/VERSION`.
    schema: &'static str,
    #[serde(flatten)]
    value: T,
}

/// Writes `value` as pretty JSON with a `schema` field (`NAME/VERSION`) beside its own fields.
pub fn print_versioned<T: Serialize>(schema: &'static str, value: &T) -> anyhow::Result<()> {
    print_json(&Versioned { schema, value })
}

/// util-linux's options for a table, shared by every command that prints one.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TableArgs {
    /// Columns to print, comma-separated, in this order (the list is under "Columns" below);
    /// +COL,... adds to the default columns.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "COLUMNS",
        value_delimiter = ','
    )]
    pub output: Vec<String>,
    /// Print every column.
    #[arg(long, conflicts_with = "output")]
    pub output_all: bool,
    /// Do not print the header line.
    #[arg(short = 'n', long)]
    pub noheadings: bool,
    /// Raw output: cells separated by one space, no alignment, spaces and control characters
    /// escaped as \xNN, nothing but the table.
    #[arg(long)]
    pub raw: bool,
}

impl TableArgs {
    /// The layout these options ask for; on a terminal, lines fit its width.
    pub fn layout(&self) -> Layout {
        Layout {
            columns: (!self.output.is_empty()).then(|| self.output.clone()),
            all_columns: self.output_all,
            no_headings: self.noheadings,
            raw: self.raw,
            width: if self.raw { None } else { terminal_width() },
        }
    }

    /// Whether to print what surrounds the table (totals, lists of commands): only in the
    /// default layout, so that `-o`, `-n` and `--raw` print the table alone.
    pub fn decorated(&self) -> bool {
        self.output.is_empty() && !self.output_all && !self.noheadings && !self.raw
    }
}

/// The width to fit tables into: `COLUMNS` if set, else the terminal's when stdout is one;
/// `None` (any width) into a pipe or a file, like util-linux.
pub fn terminal_width() -> Option<usize> {
    if let Some(cols) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|&c| c > 0)
    {
        return Some(cols);
    }
    let stdout = io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    terminal_size::terminal_size_of(&stdout).map(|(w, _)| usize::from(w.0))
}

/// Writes `table` per the `-o`/`-n`/`--raw` options; an unknown column is a usage error
/// naming the columns there are.
pub fn write_table(
    out: &mut dyn Write,
    table: &Table,
    args: &TableArgs,
    style: &dyn Fn(&str) -> String,
) -> anyhow::Result<()> {
    let layout = args.layout();
    if let Err(e) = table.chosen(&layout) {
        return Err(shmkit::Error::new(
            shmkit::ErrorKind::InvalidInput,
            format!("--output {}", args.output.join(",")),
            e.to_string(),
        )
        .with_fix("pick columns from that list (any case), or use --output-all")
        .into());
    }
    table.write_layout(out, &layout, style)?;
    Ok(())
}

/// The column list for a command's `--help`: default columns, then the optional ones.
pub fn columns_help(table: &Table) -> String {
    let shmkit::render::table::Columns {
        defaults, optional, ..
    } = table.columns();
    let mut text = format!("Columns (-o): {}", defaults.join(","));
    if !optional.is_empty() {
        text.push_str(&format!("; also {}", optional.join(",")));
    }
    text
}

/// `--time-format`: how dates are written, in local time (`TZ` honoured).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TimeFormatArg {
    /// 18:25 today, Nov25 this year, 2025-Nov25 before.
    Short,
    /// Wed Nov 25 18:25:59 2026.
    Full,
    /// 2026-11-25T18:25:59+08:00.
    #[default]
    Iso,
}

impl From<TimeFormatArg> for TimeFormat {
    fn from(arg: TimeFormatArg) -> TimeFormat {
        match arg {
            TimeFormatArg::Short => TimeFormat::Short,
            TimeFormatArg::Full => TimeFormat::Full,
            TimeFormatArg::Iso => TimeFormat::Iso,
        }
    }
}

/// `--color`: when to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless `NO_COLOR` is set.
    #[default]
    Auto,
    /// Always (for `less -R`).
    Always,
    /// Never.
    Never,
}

/// Sets the `--color` choice for the whole run.
pub fn set_colour(when: ColorWhen) {
    let v = match when {
        ColorWhen::Auto => 0,
        ColorWhen::Always => 1,
        ColorWhen::Never => 2,
    };
    COLOUR.store(v, Ordering::Relaxed);
}

/// Colour per `--color`: by default only on a terminal, and never when `NO_COLOR` is set.
pub fn colour_enabled() -> bool {
    match COLOUR.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => std::env::var_os("NO_COLOR").is_none() && io::stdout().is_terminal(),
    }
}

/// Wraps `text` in an ANSI colour when `on`.
pub fn paint(text: &str, colour: Colour, on: bool) -> String {
    if !on {
        return text.to_string();
    }
    let code = match colour {
        Colour::Red => "31",
        Colour::Yellow => "33",
        Colour::Green => "32",
        Colour::Bold => "1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The few colours shmkit uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// Leaks, failures.
    Red,
    /// Warnings.
    Yellow,
    /// Verdicts that held.
    Green,
    /// Headings.
    Bold,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_worded_without_the_rust_suffix() {
        let text = stdout_failure_message(io::ErrorKind::StorageFull, Some(libc::ENOSPC));
        assert_eq!(
            text,
            "writing to stdout: no space left on device; free space where stdout goes, or send it elsewhere"
        );
    }
}

/// What a command prints on stdout when it fails under `--json` (`shmkit.error/1`).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct ErrorDocument<'a> {
    pub schema: &'static str,
    pub error: ErrorBody<'a>,
}

/// The error itself: what it is about, why, what to do, and the exit code.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct ErrorBody<'a> {
    /// The address or file it is about; null when there is none.
    pub object: Option<&'a str>,
    /// Why it failed.
    pub cause: &'a str,
    /// What to do about it, if anything.
    pub fix: Option<&'a str>,
    /// The exit code the command ends with.
    pub exit_code: u8,
}
