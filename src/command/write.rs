//! `shmkit write`: copy bytes into an existing object, bounds-checked, never growing it.

use super::lifecycle::{self, parse_address, parse_size};
use crate::output;
use serde::Serialize;
use shmkit::address::Address;
use shmkit::scan::Kind;
use shmkit::segment::{self, OpenOptions};
use shmkit::{Error, ErrorKind};
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
    /// Act inside a container or another process's namespaces.
    #[command(flatten)]
    pub inside: super::inside::Inside,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Written {
    schema: &'static str,
    address: String,
    offset: u64,
    written: u64,
}

/// Reads at most `limit + 1` bytes of the input: enough to know whether it fits, without
/// reading a huge input into memory first.
fn read_input(args: &Args, limit: u64) -> Result<Vec<u8>, Error> {
    let cap = limit.saturating_add(1);
    let mut buf = Vec::new();
    match (&args.text, &args.from) {
        (Some(text), _) => buf.extend_from_slice(text.as_bytes()),
        (None, Some(path)) => {
            let object = path.display().to_string();
            let file = std::fs::File::open(path).map_err(|e| {
                Error::io(&object, "open", e).with_fix("give a readable file to --from")
            })?;
            file.take(cap).read_to_end(&mut buf).map_err(|e| {
                Error::io(&object, "read", e).with_fix("give a readable file to --from")
            })?;
        }
        (None, None) => {
            std::io::stdin()
                .lock()
                .take(cap)
                .read_to_end(&mut buf)
                .map_err(|e| {
                    Error::io("stdin", "read", e)
                        .with_fix("pipe the data in, or give TEXT or --from FILE")
                })?;
        }
    }
    Ok(buf)
}

/// Runs `shmkit write`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    lifecycle::refuse_memfd(&args.address, false)?;
    let seg = segment::open(
        &args.address,
        &OpenOptions::read_write().allow_foreign_owner(args.allow_foreign),
    )?;
    let size = seg.len();
    let room = size.saturating_sub(args.offset);
    let data = read_input(&args, room)?;
    if args.offset > size || data.len() as u64 > room {
        // Input from a file or stdin was read only up to one byte past the room.
        let more = if args.text.is_none() && data.len() as u64 > room {
            "at least "
        } else {
            ""
        };
        return Err(Error::new(
            ErrorKind::InvalidInput,
            args.address.to_string(),
            format!(
                "{more}{} bytes at offset {} reach past the end of the {size}-byte object; nothing was written",
                data.len(),
                args.offset
            ),
        )
        .with_fix(match args.address.kind() {
            Kind::Sysv => format!("write at most {room} bytes there: a System V segment cannot grow; create a larger one"),
            _ => format!("write at most {room} bytes there, or grow it first with `shmkit resize {} SIZE`", args.address),
        })
        .into());
    }
    lifecycle::warn_if_tamperable(&args.address, seg.stat()?.mode);
    seg.write_at(args.offset, &data)?;
    seg.flush()?;
    output::done(format!(
        "wrote {} bytes at offset {} of {}",
        data.len(),
        args.offset,
        args.address
    ));
    if args.json {
        output::print_json(&Written {
            schema: "shmkit.write/1",
            address: args.address.to_string(),
            offset: args.offset,
            written: data.len() as u64,
        })?;
    } else {
        msg!(
            "wrote {} bytes at offset {} of {}",
            data.len(),
            args.offset,
            args.address
        );
    }
    Ok(ExitCode::SUCCESS)
}
