//! What every command shares for output: JSON printing and the colour decision.

use serde::Serialize;
use std::io::{IsTerminal, Write};

/// Writes `value` as pretty JSON and a newline to stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Writes `value` as pretty JSON with a `schema` field (`NAME/VERSION`) beside its own fields.
pub fn print_versioned<T: Serialize>(schema: &'static str, value: &T) -> anyhow::Result<()> {
    #[derive(Serialize)]
    struct Versioned<'a, T> {
        schema: &'static str,
        #[serde(flatten)]
        value: &'a T,
    }
    print_json(&Versioned { schema, value })
}

/// Colour only on a terminal, and never when `NO_COLOR` is set.
pub fn colour_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
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
