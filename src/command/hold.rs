//! `shmkit hold` (hidden): a process that maps shared memory and keeps it until told to go.
//!
//! Tests and `shmkit lab` need real holders: a child that attaches a System V segment, maps a
//! POSIX object or a file, or owns shared anonymous memory and a memfd, so that the scan sees
//! holders and the kernel counts attachments. It prints `ready PID` once everything is mapped
//! and touched, then waits until its standard input reaches end of file (or exits at once with
//! `--exit`).

use anyhow::Context;
use shmkit::render::size;
use shmkit::sys::{self, Mapping};
use shmkit::Error;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::process::ExitCode;

/// Options of `shmkit hold`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Attach this System V segment (by shmid).
    #[arg(long = "sysv-id", value_name = "SHMID")]
    pub sysv_ids: Vec<i32>,
    /// Map this POSIX object (`/NAME`).
    #[arg(long = "posix", value_name = "/NAME")]
    pub posix: Vec<String>,
    /// Map this file (MAP_SHARED, its whole length).
    #[arg(long = "file", value_name = "PATH")]
    pub files: Vec<std::path::PathBuf>,
    /// Create and touch shared anonymous memory of this size (`64M`).
    #[arg(long = "anon", value_name = "SIZE", value_parser = parse_size)]
    pub anon: Vec<u64>,
    /// Create, size and touch a memfd (`NAME=SIZE`).
    #[arg(long = "memfd", value_name = "NAME=SIZE", value_parser = parse_memfd)]
    pub memfd: Vec<(String, u64)>,
    /// Fill everything mapped with this byte (0-255).
    #[arg(long)]
    pub fill: Option<u8>,
    /// Exit as soon as everything is mapped (a process that attached, wrote and left).
    #[arg(long)]
    pub exit: bool,
}

fn parse_size(text: &str) -> Result<u64, String> {
    size::parse(text).map_err(|e| e.to_string())
}

fn parse_memfd(text: &str) -> Result<(String, u64), String> {
    let (name, len) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not NAME=SIZE"))?;
    Ok((name.to_string(), parse_size(len)?))
}

/// Runs `shmkit hold`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut mappings: Vec<(Mapping, bool)> = Vec::new();
    let mut fds: Vec<OwnedFd> = Vec::new();
    for id in &args.sysv_ids {
        let object = format!("sysv:id={id}");
        mappings.push((
            sys::sysv::shmat(*id, false).map_err(|e| Error::io(&object, "shmat", e))?,
            false,
        ));
    }
    for name in &args.posix {
        let object = format!("posix:{name}");
        let fd = sys::posix::shm_open(name, sys::posix::OpenMode::ReadWrite, 0)
            .map_err(|e| Error::io(&object, "shm_open", e))?;
        let len = std::fs::File::from(fd.try_clone()?).metadata()?.len();
        mappings.push((
            sys::mapping::map_shared_fd(fd.as_fd(), len, true)
                .map_err(|e| Error::io(&object, "mmap", e))?,
            false,
        ));
        fds.push(fd);
    }
    for path in &args.files {
        let object = format!("file:{}", path.display());
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(&object, "open", e))?;
        let len = file.metadata()?.len();
        mappings.push((
            sys::mapping::map_shared_fd(file.as_fd(), len, true)
                .map_err(|e| Error::io(&object, "mmap", e))?,
            false,
        ));
        fds.push(file.into());
    }
    for len in &args.anon {
        let m = sys::mapping::map_shared_anonymous(*len)
            .map_err(|e| Error::io("shared-anon", "mmap", e))?;
        mappings.push((m, true));
    }
    for (name, len) in &args.memfd {
        let object = format!("memfd:{name}");
        let fd = sys::memfd::memfd_create(name, false, false)
            .map_err(|e| Error::io(&object, "memfd_create", e))?;
        let file = std::fs::File::from(fd);
        file.set_len(*len)
            .map_err(|e| Error::io(&object, "ftruncate", e))?;
        mappings.push((
            sys::mapping::map_shared_fd(file.as_fd(), *len, true)
                .map_err(|e| Error::io(&object, "mmap", e))?,
            true,
        ));
        fds.push(file.into());
    }
    for (mapping, created) in &mappings {
        // Memory we created is touched so that it is resident; what others made is filled
        // only when asked.
        let byte = match (args.fill, created) {
            (Some(byte), _) => Some(byte),
            (None, true) => Some(0),
            (None, false) => None,
        };
        if let Some(byte) = byte {
            mapping
                .fill(0, mapping.len(), byte)
                .context("filling a mapping")?;
        }
    }
    // One write of the whole line: a thousand holders appending to one file (bench/mem.sh)
    // must not interleave "ready 12ready 13\n\n", which a line count would miss.
    let mut stdout = crate::output::stdout();
    stdout.write_all(format!("ready {}\n", std::process::id()).as_bytes())?;
    stdout.flush()?;
    if !args.exit {
        // Wait for EOF: the parent closes our stdin (or dies) to let us go.
        let mut sink = [0u8; 256];
        while std::io::stdin().read(&mut sink).is_ok_and(|n| n > 0) {}
    }
    drop(mappings);
    drop(fds);
    Ok(ExitCode::SUCCESS)
}
