//! `shmkit read`: copy bytes out of an object, as raw bytes, `xxd`-style hex, or text.

use super::lifecycle::{self, parse_address, parse_size};
use crate::output;
use clap::ValueEnum;
use serde::Serialize;
use shmkit::address::Address;
use shmkit::segment::{self, OpenOptions};
use shmkit::{Error, ErrorKind};
use std::io::Write;
use std::process::ExitCode;

/// Options of `shmkit read`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  shmkit read sysv:5678                        the seed's 26 letters, as text
  shmkit read sysv:5678 --len 16 --format hex  like `xxd`
  shmkit read posix:/orders --offset 4096 --len 512 --format raw > record.bin

The object is mapped read-only; reading never changes it. Text mode drops trailing NUL
bytes and shows control characters as '?', so a hostile writer cannot drive your terminal.")]
pub struct Args {
    /// The object: sysv:KEY, sysv:id=SHMID, posix:/NAME, file:PATH.
    #[arg(value_parser = parse_address)]
    pub address: Address,
    /// Where to start, in bytes.
    #[arg(long, value_parser = parse_size, default_value = "0")]
    pub offset: u64,
    /// How many bytes (default: to the end).
    #[arg(long, value_parser = parse_size)]
    pub len: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Accept an object owned by another user.
    #[arg(long)]
    pub allow_foreign: bool,
    /// Print JSON: {"address", "offset", "length", "hex", "text"}.
    #[arg(long)]
    pub json: bool,
}

/// How `read` prints bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The bytes exactly.
    Raw,
    /// `xxd` layout: offset, 16 bytes in pairs, printable characters.
    Hex,
    /// Text without trailing NULs, control characters shown as '?', one final newline.
    Text,
}

#[derive(Debug, Serialize)]
struct ReadOut {
    schema: &'static str,
    address: String,
    offset: u64,
    length: u64,
    hex: String,
    text: String,
}

/// Runs `shmkit read`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    lifecycle::refuse_memfd(&args.address)?;
    let seg = segment::open(
        &args.address,
        &OpenOptions::read_only().allow_foreign_owner(args.allow_foreign),
    )?;
    lifecycle::warn_if_tamperable(&args.address, seg.stat()?.mode);
    let size = seg.len();
    let len = match args.len {
        Some(len) => len,
        None => size.checked_sub(args.offset).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                args.address.to_string(),
                format!(
                    "offset {} is past the end of the {size}-byte object",
                    args.offset
                ),
            )
            .with_fix(format!("give an offset below {size}"))
        })?,
    };
    // Check the range before allocating a buffer for it: `--len 1000T` must be an error, not
    // an allocation failure.
    let fits = args.offset.checked_add(len).is_some_and(|end| end <= size);
    let len = match usize::try_from(len) {
        Ok(len) if fits => len,
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                args.address.to_string(),
                format!(
                    "{len} bytes at offset {} reach past the end of the {size}-byte object",
                    args.offset
                ),
            )
            .with_fix(format!(
                "read within 0..{size}: --len at most {}",
                size.saturating_sub(args.offset)
            ))
            .into())
        }
    };
    let mut buf = vec![0u8; len];
    seg.read_at(args.offset, &mut buf)?;
    if args.json {
        output::print_json(&ReadOut {
            schema: "shmkit.read/1",
            address: args.address.to_string(),
            offset: args.offset,
            length: len as u64,
            hex: buf.iter().map(|b| format!("{b:02x}")).collect(),
            text: text(&buf),
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        Format::Raw => out.write_all(&buf)?,
        Format::Hex => out.write_all(hex_dump(args.offset, &buf).as_bytes())?,
        Format::Text => writeln!(out, "{}", text(&buf))?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The bytes as text: trailing NULs dropped, invalid UTF-8 replaced, control characters other
/// than newline and tab shown as '?'.
pub fn text(buf: &[u8]) -> String {
    let end = buf.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    String::from_utf8_lossy(&buf[..end])
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// `xxd`'s layout: `00000000: 6162 6364 ...  abcd...`, offsets counted from `base`.
pub fn hex_dump(base: u64, buf: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in buf.chunks(16).enumerate() {
        out.push_str(&format!("{:08x}:", base + (i as u64) * 16));
        for pair in 0..8 {
            out.push(' ');
            for j in 0..2 {
                match chunk.get(pair * 2 + j) {
                    Some(b) => out.push_str(&format!("{b:02x}")),
                    None => out.push_str("  "),
                }
            }
        }
        out.push_str("  ");
        out.extend(chunk.iter().map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        }));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_dump_matches_xxd_layout() {
        // `printf 'abcdefghijklmnopqrstuvwxyz\n' | xxd`
        let dump = hex_dump(0, b"abcdefghijklmnopqrstuvwxyz\n");
        assert_eq!(
            dump,
            "00000000: 6162 6364 6566 6768 696a 6b6c 6d6e 6f70  abcdefghijklmnop\n\
             00000010: 7172 7374 7576 7778 797a 0a              qrstuvwxyz.\n"
        );
    }

    #[test]
    fn text_drops_trailing_nuls_and_masks_escapes() {
        assert_eq!(text(b"Hello!\0\0\0"), "Hello!");
        assert_eq!(text(b"a\x1b[31mb\n"), "a?[31mb\n");
        assert_eq!(text(b"\0\0"), "");
    }
}
