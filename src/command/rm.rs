//! `shmkit rm`: remove objects by address, collect leaks (`--orphans`) or idle objects
//! (`--idle`) — never one that a process still maps or holds open, unless `--force`. What may
//! be removed and the removal with its re-checks are the library's ([`shmkit::reap`]); this
//! parses the command line and words the results.

use super::lifecycle::{self, parse_address};
use crate::output;
use serde::Serialize;
use shmkit::address::Address;
use shmkit::reap::{self, Collect, PlanOptions, Removed, Why};
use shmkit::render::size;
use shmkit::scan::{Kind, ProcRoot, Scan, ScanOptions};
use shmkit::Error;
use std::io::Write;
use std::process::ExitCode;

/// Options of `shmkit rm`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  shmkit rm sysv:5678 posix:/orders file:./shm.txt
  shmkit rm --orphans --dry-run                 list the leaks, remove nothing
  shmkit rm --orphans --older-than 1d --user postgres
  shmkit rm --idle --older-than 7d --dry-run    idle objects unused for a week
  shmkit rm --orphans --dry-run --check         exit 8 if there are leaks (for cron)
  shmkit rm --force sysv:id=294918              even though a process is attached
  shmkit rm --container db sysv:id=3            inside the container `db`

A leak (orphan) is what nobody can reach any more: an IPC_PRIVATE segment with no attachment
whose creator has exited. A keyed segment, POSIX object or tmpfs file that nobody holds is
idle, not leaked: that is how shared memory waits for its next reader. --orphans never touches
idle objects; --idle removes them, never held ones. Each object is looked at again right
before it goes (System V: nattch 0; files: no process or thread maps or holds it). When the
scan cannot see every process that may hold an object (unreadable processes, a child pid
namespace), it is uncertain and needs --force. An object in use is never removed without
--force (exit 9); with --force, System V memory comes back at the last detach and POSIX memory
at the last unmap. Prints what it removed and how much memory came back.

On the host, --orphans and --idle collect in every namespace (containers included), each
object removed from inside its own; with --container or --target, only inside that one.")]
pub struct Args {
    /// What to remove: sysv:KEY, sysv:id=SHMID, posix:/NAME, file:PATH.
    #[arg(value_parser = parse_address, required_unless_present_any = ["orphans", "idle"], conflicts_with_all = ["orphans", "idle"])]
    pub addresses: Vec<Address>,
    /// Remove every orphan (leak) the scan finds; never an idle object.
    #[arg(long, conflicts_with = "idle")]
    pub orphans: bool,
    /// Remove every idle object (named, nobody holds it); never one in use.
    #[arg(long)]
    pub idle: bool,
    /// With --orphans or --idle: only those unused for longer than this (30s, 10m, 2h, 7d):
    /// since the last attach, detach or change (System V) or access or modification (files).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub older_than: Option<u64>,
    /// With --orphans or --idle: only those owned by this user (name or uid).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// With --orphans or --idle: only this kind (repeatable): sysv, posix, tmpfs. Default:
    /// sysv and posix; files of other tmpfs mounts (/run, /tmp) go only when named here.
    #[arg(long, value_name = "KIND", value_parser = super::ls::parse_kind)]
    pub kind: Vec<Kind>,
    /// Say what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --orphans: exit 8 when there were orphans (for cron: `rm --orphans --dry-run
    /// --check` alerts without removing).
    #[arg(long, requires = "orphans")]
    pub check: bool,
    /// Remove objects even if processes map or hold them (orphans and idle objects have no
    /// holders; one that a process attached since the scan is still skipped). With --orphans
    /// or --idle, also objects that processes the scan could not see might hold.
    #[arg(long)]
    pub force: bool,
    /// Print JSON: {"dry_run", "removed": [...], "failed": [...], "freed"}.
    #[arg(long)]
    pub json: bool,
    /// Act inside a container or another process's namespaces.
    #[command(flatten)]
    pub inside: super::inside::Inside,
}

/// Parses `30s`, `10m`, `2h`, `7d`, `90` (seconds).
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a duration; write e.g. 30s, 10m, 2h, 7d"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        "w" => 7 * 86400,
        _ => return Err(format!("'{text}' has an unknown unit; use s, m, h, d or w")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("'{text}' is too long"))
}

/// One object removed (or that would be, with --dry-run).
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct RemovedOut {
    address: Address,
    /// The container (or `pid:N`) it lived in, when that is another namespace; null here.
    location: Option<String>,
    kind: Kind,
    size: u64,
    /// Memory that came back at once (0 if holders keep it until they detach or unmap).
    freed: u64,
    /// Why it went.
    why: reap::Why,
    /// Processes the scan could not see might have held it: removed because of --force.
    forced: bool,
}

/// One object not removed.
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Failed {
    address: Address,
    /// The container (or `pid:N`) it lives in, when that is another namespace; null here.
    location: Option<String>,
    /// The one-line error.
    error: String,
    exit_code: u8,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct RmOut {
    schema: &'static str,
    dry_run: bool,
    removed: Vec<RemovedOut>,
    failed: Vec<Failed>,
    freed: u64,
}

/// Why an object went, in words.
fn reason(why: &Why, forced: bool) -> String {
    let mut text = match why {
        Why::Leaked(r) => super::ls::leak_words(r),
        Why::Idle { since } => match since {
            Some(t) => format!(
                "idle for {}",
                super::ls::age(lifecycle::seconds_since(*t) as i64)
            ),
            None => "idle".to_string(),
        },
        Why::Named { in_use: true } => {
            "named on the command line; in use, removed with --force".to_string()
        }
        Why::Named { .. } => "named on the command line".to_string(),
        _ => String::new(),
    };
    if forced {
        text.push_str(" (uncertain, removed with --force)");
    }
    text
}

/// An address, and where it lives when that is another namespace: `sysv:id=3 in db`.
fn placed(address: &Address, location: Option<&str>) -> String {
    match location {
        Some(l) => format!("{address} in {l}"),
        None => address.to_string(),
    }
}

fn removed_out(r: &Removed, forced: bool) -> RemovedOut {
    RemovedOut {
        address: r.address.clone(),
        location: r.location.clone(),
        kind: r.kind,
        size: r.size,
        freed: r.freed,
        why: r.why,
        forced,
    }
}

fn failed(address: &Address, location: Option<&str>, e: &Error) -> Failed {
    Failed {
        address: address.clone(),
        location: location.map(str::to_string),
        exit_code: e.kind().exit_code(),
        error: e.to_string(),
    }
}

/// Runs `shmkit rm`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let collect = if args.orphans {
        Some(Collect::Orphans)
    } else if args.idle {
        Some(Collect::Idle)
    } else {
        None
    };
    if collect.is_none()
        && (args.older_than.is_some() || args.user.is_some() || !args.kind.is_empty())
    {
        return Err(Error::new(
            shmkit::ErrorKind::InvalidInput,
            "rm",
            "--older-than, --user and --kind choose among the objects --orphans or --idle collect",
        )
        .with_fix("add --orphans or --idle, or name the objects to remove")
        .into());
    }
    let mut out = RmOut {
        schema: "shmkit.rm/2",
        dry_run: args.dry_run,
        removed: vec![],
        failed: vec![],
        freed: 0,
    };
    match collect {
        Some(collect) => {
            let uid = args
                .user
                .as_deref()
                .map(|u| lifecycle::resolve_user("--user", u))
                .transpose()?;
            let scan = Scan::collect(&ProcRoot::live(), &ScanOptions::default())
                .map_err(shmkit::Error::from)?;
            let plan = reap::plan(
                &scan,
                &PlanOptions::new(collect)
                    .older_than(args.older_than)
                    .uid(uid)
                    .kinds(&args.kind)
                    .force(args.force)
                    // Entered into a container, the host's objects are "another namespace".
                    .here_only(args.inside.is_set()),
            );
            for refused in &plan.refused {
                out.failed.push(failed(
                    &refused.address,
                    refused.location.as_deref(),
                    &refused.to_error(),
                ));
            }
            let results = reap::remove_all(&plan.candidates, args.dry_run);
            for (candidate, result) in plan.candidates.iter().zip(results) {
                match result {
                    Ok(r) => out
                        .removed
                        .push(removed_out(&r, candidate.forced.is_some())),
                    Err(e) => {
                        let label = candidate.inside.as_ref().map(|i| i.label.as_str());
                        out.failed.push(failed(&candidate.address, label, &e))
                    }
                }
            }
        }
        None => {
            for addr in &args.addresses {
                let done = lifecycle::refuse_memfd(addr, false)
                    .and_then(|()| reap::remove_address(addr, args.force, args.dry_run));
                match done {
                    Ok(r) => out.removed.push(removed_out(&r, false)),
                    Err(e) => out.failed.push(failed(addr, None, &e)),
                }
            }
        }
    }
    out.freed = out.removed.iter().map(|r| r.freed).sum();
    let code = match out.failed.first() {
        Some(f) => f.exit_code,
        None if args.check && !out.removed.is_empty() => shmkit::error::EXIT_CHECK_FAILED,
        None => 0,
    };
    if !args.dry_run {
        for r in &out.removed {
            output::done(format!(
                "removed {}",
                placed(&r.address, r.location.as_deref())
            ));
        }
    }
    let mut stdout = output::stdout();
    if args.json {
        output::print_json(&out)?;
    } else {
        let verb = if args.dry_run {
            "would remove"
        } else {
            "removed"
        };
        // Names come from the scan, and any user may put escape sequences or newlines in a
        // name in /dev/shm: print them as sanitized text.
        use shmkit::render::table::sanitize;
        for r in &out.removed {
            writeln!(
                stdout,
                "{verb} {} ({}, {}): {}",
                sanitize(&placed(&r.address, r.location.as_deref())),
                r.kind,
                size::human(r.size),
                sanitize(&reason(&r.why, r.forced))
            )?;
        }
        for f in &out.failed {
            msg!("shmkit: {}", sanitize(&f.error));
        }
        if out.removed.is_empty() && out.failed.is_empty() {
            match collect {
                Some(Collect::Orphans) => writeln!(stdout, "no orphans found")?,
                Some(_) => writeln!(stdout, "no idle objects found")?,
                None => {}
            }
        }
        if !out.removed.is_empty() {
            let back = if args.dry_run {
                "would come back"
            } else {
                "came back"
            };
            writeln!(stdout, "{} of memory {back}", size::human(out.freed))?;
        }
    }
    Ok(ExitCode::from(code))
}
