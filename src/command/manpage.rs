//! `shmkit manpage`: the manual pages, made by `clap_mangen` from the same command line
//! definition that parses arguments (shipped under `docs/man/`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `shmkit manpage`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  shmkit manpage | man -l -                 read shmkit(1) now
  shmkit manpage --dir /usr/local/share/man/man1   shmkit.1 and one page per subcommand")]
pub struct Args {
    /// Write shmkit.1 and a page for every subcommand (shmkit-ls.1, ...) into DIR instead of
    /// printing shmkit.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Runs `shmkit manpage` on `cmd`, the whole command line definition.
pub fn run(args: Args, cmd: clap::Command) -> anyhow::Result<ExitCode> {
    // `shmkit help` is the same as --help: no page of its own, and not listed.
    let cmd = cmd.disable_help_subcommand(true);
    match args.dir {
        Some(dir) => {
            clap_mangen::generate_to(cmd, &dir).map_err(|e| {
                shmkit::Error::io(dir.display().to_string(), "write manual pages", e)
                    .with_fix("give a directory that exists and that you may write")
            })?;
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut page)?;
            crate::output::stdout().write_all(&page)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
