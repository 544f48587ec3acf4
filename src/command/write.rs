//! `shmkit write`: copy bytes into an existing object, bounds-checked, never growing it.

use super::lifecycle::{self, parse_address, parse_size};
use crate::output;
use anyhow::Context;
use serde::Serialize;
use shmkit::address::Address;
use shmkit::segment::{self, OpenOptions};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `shmkit write`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  shmkit write sysv:5678 abcdefghijklmnopqrstuvwxyz
  shmkit write posix:/orders --offset 4096 --from record.bin
  printf 'Hello!' | shmkit write file:./shm.txt

The data must fit: a write past the end fails (exit 2) and changes nothing. A System V
segment never grows; grow a POSIX object or a file with `shmkit resize` first. Writes to a
file are flushed (msync) before the command exits.")]
pub struct Args {
    /// The object: sysv:KEY, sysv:id=SHMID, posix:/NAME, file:PATH.
    #[arg(value_parser = parse_address)]
    pub address: Address,
    /// The bytes to write, as text (without it: --from FILE, or standard input).
    #[arg(conflicts_with = "from")]
    pub text: Option<String>,
    /// Write the contents of this file.
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Where to start, in bytes.
    #[arg(long, value_parser = parse_size, default_value = "0")]
    pub offset: u64,
    /// Accept an object owned by another user.
    #[arg(long)]
    pub allow_foreign: bool,
    /// Print JSON: {"address", "offset", "written"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Written {
    schema: &'static str,
    address: String,
    offset: u64,
    written: u64,
}

/// Runs `shmkit write`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    lifecycle::refuse_memfd(&args.address)?;
    let data = match (&args.text, &args.from) {
        (Some(text), _) => text.as_bytes().to_vec(),
        (None, Some(path)) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        (None, None) => {
            let mut buf = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .context("cannot read standard input")?;
            buf
        }
    };
    let seg = segment::open(
        &args.address,
        &OpenOptions::read_write().allow_foreign_owner(args.allow_foreign),
    )?;
    lifecycle::warn_if_tamperable(&args.address, seg.stat()?.mode);
    seg.write_at(args.offset, &data)?;
    seg.flush()?;
    if args.json {
        output::print_json(&Written {
            schema: "shmkit.write/1",
            address: args.address.to_string(),
            offset: args.offset,
            written: data.len() as u64,
        })?;
    } else {
        eprintln!(
            "wrote {} bytes at offset {} of {}",
            data.len(),
            args.offset,
            args.address
        );
    }
    Ok(ExitCode::SUCCESS)
}
