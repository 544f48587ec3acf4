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
bytes and shows control characters as '?', so a hostile writer cannot drive your terminal.
Output is streamed, so an object of any size can be read; --json reads at most 16M.")]
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
    /// Act inside a container or another process's namespaces.
    #[command(flatten)]
    pub inside: super::inside::Inside,
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

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct ReadOut {
    schema: &'static str,
    address: String,
    offset: u64,
    length: u64,
    hex: String,
    text: String,
}

/// Runs `shmkit read`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    lifecycle::refuse_memfd(&args.address, false)?;
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
    if args.json {
        if len > JSON_MAX {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                args.address.to_string(),
                format!("--json holds {len} bytes in memory twice over (as hex and as text); the limit is {JSON_MAX}"),
            )
            .with_fix("read it with --format raw, or a part with --offset and --len")
            .into());
        }
        let mut buf = vec![0u8; len];
        seg.read_at(args.offset, &mut buf)?;
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
    let mut out = crate::output::stdout();
    let mut end = args.offset + len as u64;
    if args.format == Format::Text {
        end = last_non_nul(&*seg, args.offset, end)?;
    }
    // Chunk by chunk: the object may be gigabytes, and only a chunk is ever copied out of it.
    let mut chunk = vec![0u8; CHUNK.min(len)];
    let mut text_out = TextOut::default();
    let mut at = args.offset;
    while at < end {
        let part = &mut chunk[..usize::try_from(end - at).map_or(CHUNK, |n| n.min(CHUNK))];
        seg.read_at(at, part)?;
        match args.format {
            Format::Raw => out.write_all(part)?,
            Format::Hex => out.write_all(hex_dump(at, part).as_bytes())?,
            Format::Text => out.write_all(text_out.push(part).as_bytes())?,
        }
        at += part.len() as u64;
    }
    if args.format == Format::Text {
        writeln!(out, "{}", text_out.finish())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The most bytes `--json` reads: it holds them as a hex string and as text at once.
const JSON_MAX: usize = 16 << 20;

/// How much is copied out of the object at a time; a multiple of 16, so that hex lines of
/// consecutive chunks line up as one `xxd` dump.
const CHUNK: usize = 1 << 20;

/// The end of `[start, end)` without its trailing NUL bytes, found from the back a chunk at a
/// time.
fn last_non_nul(
    seg: &dyn shmkit::segment::Segment,
    start: u64,
    mut end: u64,
) -> Result<u64, Error> {
    let mut chunk = vec![0u8; CHUNK];
    while end > start {
        let n = usize::try_from(end - start).map_or(CHUNK, |n| n.min(CHUNK));
        let part = &mut chunk[..n];
        let from = end - n as u64;
        seg.read_at(from, part)?;
        if let Some(i) = part.iter().rposition(|&b| b != 0) {
            return Ok(from + i as u64 + 1);
        }
        end = from;
    }
    Ok(start)
}

/// Text made from bytes that arrive in chunks: invalid UTF-8 replaced (a character split
/// between chunks is kept for the next), control characters other than newline and tab shown
/// as '?', so a hostile writer cannot drive your terminal.
#[derive(Debug, Default)]
struct TextOut {
    /// The start of a character whose end is in the next chunk.
    pending: Vec<u8>,
}

impl TextOut {
    fn push(&mut self, bytes: &[u8]) -> String {
        let mut joined = std::mem::take(&mut self.pending);
        joined.extend_from_slice(bytes);
        let mut text = String::new();
        let mut rest = joined.as_slice();
        loop {
            match std::str::from_utf8(rest) {
                Ok(valid) => {
                    mask_into(&mut text, valid);
                    return text;
                }
                Err(e) => {
                    let (valid, bad) = rest.split_at(e.valid_up_to());
                    mask_into(&mut text, std::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        Some(n) => {
                            text.push(char::REPLACEMENT_CHARACTER);
                            rest = &bad[n..];
                        }
                        None => {
                            self.pending = bad.to_vec();
                            return text;
                        }
                    }
                }
            }
        }
    }

    /// What is left: a character cut off by the end of the range.
    fn finish(self) -> String {
        if self.pending.is_empty() {
            String::new()
        } else {
            char::REPLACEMENT_CHARACTER.to_string()
        }
    }
}

fn mask_into(text: &mut String, valid: &str) {
    text.extend(valid.chars().map(|c| {
        if c.is_control() && c != '\n' && c != '\t' {
            '?'
        } else {
            c
        }
    }));
}

/// The bytes as text: trailing NULs dropped, invalid UTF-8 replaced, control characters other
/// than newline and tab shown as '?'.
pub fn text(buf: &[u8]) -> String {
    let end = buf.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let mut out = TextOut::default();
    let mut text = out.push(&buf[..end]);
    text.push_str(&out.finish());
    text
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
    fn text_in_chunks_is_the_same_text_as_in_one_piece() {
        let bytes = "a\u{e9}\x1b\u{1f600}b".as_bytes().to_vec();
        let mut broken = bytes.clone();
        broken.insert(3, 0xff);
        for input in [bytes, broken] {
            let whole = text(&input);
            assert_eq!(whole, String::from_utf8_lossy(&input).replace('\x1b', "?"));
            for cut in 0..=input.len() {
                let mut out = TextOut::default();
                let mut chunked = out.push(&input[..cut]);
                chunked.push_str(&out.push(&input[cut..]));
                chunked.push_str(&out.finish());
                assert_eq!(chunked, whole, "cut at {cut}");
            }
        }
        assert_eq!(
            text(b"ab\xc3"),
            "ab\u{fffd}",
            "a character cut off by the end"
        );
    }

    #[test]
    fn text_drops_trailing_nuls_and_masks_escapes() {
        assert_eq!(text(b"Hello!\0\0\0"), "Hello!");
        assert_eq!(text(b"a\x1b[31mb\n"), "a?[31mb\n");
        assert_eq!(text(b"\0\0"), "");
    }
}
