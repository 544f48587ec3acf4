//! `shmkit ls`: every shared-memory object on the host.

use std::process::ExitCode;

/// Options of `shmkit ls`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON (schema in docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// Print sizes in bytes.
    #[arg(long, short)]
    pub bytes: bool,
}

/// Runs `shmkit ls`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("shmkit ls: not built yet")
}
