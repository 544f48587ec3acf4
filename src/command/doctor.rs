//! `shmkit doctor`: is this host or container fit for the shared memory a program needs.

use std::process::ExitCode;

/// Options of `shmkit doctor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `shmkit doctor`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("shmkit doctor: not built yet")
}
