//! `shmkit mem`: free's numbers, then the truth behind buff/cache.

use std::process::ExitCode;

/// Options of `shmkit mem`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON (schema in docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// Print sizes in bytes.
    #[arg(long, short)]
    pub bytes: bool,
}

/// Runs `shmkit mem`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("shmkit mem: not built yet")
}
