//! `shmkit chown`: give an object to another user and/or group.

use super::lifecycle::{self, parse_address};
use shmkit::address::Address;
use shmkit::segment::{self, OpenOptions};
use std::io::Write;
use std::process::ExitCode;

/// Options of `shmkit chown`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  shmkit chown sysv:5678 postgres
  shmkit chown posix:/orders app:app
  shmkit chown file:./shm.txt :1000     the group only

Giving an object away needs root (CAP_CHOWN; for System V the owner or creator may).")]
pub struct Args {
    /// The object: sysv:KEY, sysv:id=SHMID, posix:/NAME, file:PATH.
    #[arg(value_parser = parse_address)]
    pub address: Address,
    /// USER, USER:GROUP or :GROUP (names or numbers).
    pub owner: String,
    /// Print JSON: {"schema", "stat"} after the change.
    #[arg(long)]
    pub json: bool,
}

/// Runs `shmkit chown`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    lifecycle::refuse_memfd(&args.address, false)?;
    let object = args.address.to_string();
    let (user, group) = match args.owner.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (args.owner.as_str(), None),
    };
    let uid = (!user.is_empty())
        .then(|| lifecycle::resolve_user(&object, user))
        .transpose()?;
    let gid = group
        .filter(|g| !g.is_empty())
        .map(|g| lifecycle::resolve_group(&object, g))
        .transpose()?;
    if uid.is_none() && gid.is_none() {
        return Err(shmkit::Error::new(
            shmkit::ErrorKind::InvalidInput,
            object,
            "no user or group given",
        )
        .with_fix("write USER, USER:GROUP or :GROUP")
        .into());
    }
    let seg = segment::open(&args.address, &OpenOptions::metadata())?;
    seg.chown(uid, gid)?;
    crate::output::done(format!("changed the owner of {}", args.address));
    let st = seg.stat()?;
    if args.json {
        crate::output::print_json(&lifecycle::Changed {
            schema: "shmkit.chown/2",
            stat: st,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        crate::output::stdout(),
        "{}: owner {}",
        args.address,
        lifecycle::describe_owner(st.uid, st.gid)
    )?;
    Ok(ExitCode::SUCCESS)
}
