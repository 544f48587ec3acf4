//! `shmkit rm`: remove objects by address, or collect leaks (`--orphans`) — never one that a
//! process still maps or holds open, unless `--force`.

use super::lifecycle::{self, parse_address};
use crate::output;
use serde::Serialize;
use shmkit::address::{Address, SysvAddress};
use shmkit::render::size;
use shmkit::scan::{Kind, Object, ProcRoot, Scan, ScanOptions};
use shmkit::segment::{self, OpenOptions};
use shmkit::{Error, ErrorKind};
use std::io::Write;
use std::process::ExitCode;

/// Options of `shmkit rm`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  shmkit rm sysv:5678 posix:/orders file:./shm.txt
  shmkit rm --orphans --dry-run                 list the leaks, remove nothing
  shmkit rm --orphans --older-than 1d --user postgres
  shmkit rm --orphans --dry-run --check         exit 8 if there are leaks (for cron)
  shmkit rm --force sysv:id=294918              even though a process is attached

An orphan is what the scan (`shmkit ls --orphans`) calls one: a System V segment with no
attachment whose creator has exited, or a POSIX object nobody maps or holds open. An object in
use is never removed without --force (exit 9); with --force, System V memory comes back at the
last detach and POSIX memory at the last unmap. Prints what it removed and how much memory
came back.")]
pub struct Args {
    /// What to remove: sysv:KEY, sysv:id=SHMID, posix:/NAME, file:PATH.
    #[arg(value_parser = parse_address, required_unless_present = "orphans", conflicts_with = "orphans")]
    pub addresses: Vec<Address>,
    /// Remove every orphan (leak) the scan finds.
    #[arg(long)]
    pub orphans: bool,
    /// With --orphans: only those unused for longer than this (30s, 10m, 2h, 7d): since the
    /// last attach, detach or change (System V) or modification (POSIX).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "orphans")]
    pub older_than: Option<u64>,
    /// With --orphans: only those owned by this user (name or uid).
    #[arg(long, value_name = "USER", requires = "orphans")]
    pub user: Option<String>,
    /// Say what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --orphans: exit 8 when there were orphans (for cron: `rm --orphans --dry-run
    /// --check` alerts without removing).
    #[arg(long, requires = "orphans")]
    pub check: bool,
    /// Remove objects even if processes map or hold them (orphans have no holders; one that a
    /// process attached since the scan is still skipped). With --orphans, also POSIX objects
    /// that processes the scan could not read might hold.
    #[arg(long)]
    pub force: bool,
    /// Print JSON: {"dry_run", "removed": [...], "failed": [...], "freed"}.
    #[arg(long)]
    pub json: bool,
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
#[derive(Debug, Serialize)]
struct Removed {
    address: String,
    kind: Kind,
    size: u64,
    /// Memory that came back at once (0 if holders keep it until they detach or unmap).
    freed: u64,
    /// Why it went: named on the command line, or the scan's orphan reason.
    reason: String,
}

/// One object not removed.
#[derive(Debug, Serialize)]
struct Failed {
    address: String,
    error: String,
    exit_code: u8,
}

#[derive(Debug, Serialize)]
struct RmOut {
    schema: &'static str,
    dry_run: bool,
    removed: Vec<Removed>,
    failed: Vec<Failed>,
    freed: u64,
}

/// When an object was last used, as far as the kernel tells.
fn last_used(o: &Object) -> Option<i64> {
    match &o.sysv {
        Some(s) => Some(s.ctime.max(s.atime).max(s.dtime)),
        None => o.created,
    }
}

/// Runs `shmkit rm`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut scan = LazyScan::default();
    let mut out = RmOut {
        schema: "shmkit.rm/1",
        dry_run: args.dry_run,
        removed: vec![],
        failed: vec![],
        freed: 0,
    };
    if args.orphans {
        collect_orphans(&args, scan.get()?, &mut out)?;
    } else {
        for addr in &args.addresses {
            match remove_one(addr, &mut scan, &args) {
                Ok(r) => out.removed.push(r),
                Err(e) => out.failed.push(Failed {
                    address: addr.to_string(),
                    exit_code: e.kind().exit_code(),
                    error: e.to_string(),
                }),
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
            output::done(format!("removed {}", r.address));
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
                sanitize(&r.address),
                r.kind,
                size::human(r.size),
                sanitize(&r.reason)
            )?;
        }
        for f in &out.failed {
            msg!("shmkit: {}", sanitize(&f.error));
        }
        if args.orphans && out.removed.is_empty() && out.failed.is_empty() {
            writeln!(stdout, "no orphans found")?;
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

/// The holder scan, made only when an answer needs it: a System V segment with nattch 0 has no
/// holder anywhere (the kernel counts every attachment), so removing one costs no /proc walk.
#[derive(Debug, Default)]
struct LazyScan(Option<Scan>);

impl LazyScan {
    fn get(&mut self) -> Result<&Scan, Error> {
        let scan = match self.0.take() {
            Some(scan) => scan,
            None => Scan::collect(&ProcRoot::live(), &ScanOptions::default()).map_err(|e| {
                Error::new(ErrorKind::Other, "/proc", e.to_string())
                    .with_fix("shmkit needs /proc mounted and readable")
            })?,
        };
        Ok(self.0.insert(scan))
    }
}

/// Resident plus swapped bytes of a System V segment, from `/proc/sysvipc/shm`.
fn sysv_memory(shmid: i32) -> u64 {
    ProcRoot::live()
        .sysvipc_shm()
        .ok()
        .and_then(|list| list.into_iter().find(|s| s.shmid == shmid))
        .map_or(0, |s| s.rss.unwrap_or(0) + s.swap.unwrap_or(0))
}

fn remove_one(addr: &Address, scan: &mut LazyScan, args: &Args) -> Result<Removed, Error> {
    lifecycle::refuse_memfd(addr, false)?;
    let seg = segment::open(addr, &OpenOptions::metadata())?;
    let stat = seg.stat()?;
    let nattch = stat.sysv.as_ref().map_or(0, |s| s.nattch);
    let (holders, memory): (Vec<String>, Option<u64>) = match &stat.sysv {
        Some(sysv) if nattch == 0 => (vec![], Some(sysv_memory(sysv.shmid))),
        _ => {
            let scan = scan.get()?;
            let holders = lifecycle::holders(scan, &stat)
                .iter()
                .map(|h| format!("{} ({})", h.pid, shmkit::render::table::sanitize(&h.comm)))
                .collect();
            let memory = lifecycle::scan_object(scan, &stat)
                .and_then(|o| o.resident.map(|r| r + o.swapped.unwrap_or(0)));
            (holders, memory)
        }
    };
    let in_use = nattch > 0 || !holders.is_empty();
    if in_use && !args.force {
        let who = if holders.is_empty() {
            format!(
                "{} in processes this scan cannot see",
                output::count(nattch, "attachment", "attachments")
            )
        } else {
            holders.join(", ")
        };
        return Err(Error::new(
            ErrorKind::Busy,
            addr.to_string(),
            format!("it is in use by {who}; removing it would strand their data"),
        )
        .with_fix(
            "stop them first, or pass --force (the memory comes back at their last detach/unmap)",
        ));
    }
    if stat.sysv.as_ref().is_some_and(|s| s.marked_for_destruction) {
        return Err(Error::new(
            ErrorKind::NotFound,
            addr.to_string(),
            "it was already removed (IPC_RMID) and goes at its last detach",
        )
        .with_fix("nothing to do; stop its holders to get the memory back"));
    }
    let freed = if in_use {
        0
    } else {
        match stat.kind {
            Kind::File => 0,
            _ => memory
                .or_else(|| stat.file.as_ref().map(|f| f.allocated))
                .unwrap_or(0),
        }
    };
    if !args.dry_run {
        seg.remove()?;
    }
    Ok(Removed {
        address: addr.to_string(),
        kind: stat.kind,
        size: stat.size,
        freed,
        reason: if in_use {
            "named on the command line; in use, removed with --force".into()
        } else {
            "named on the command line".into()
        },
    })
}

fn collect_orphans(args: &Args, scan: &Scan, out: &mut RmOut) -> anyhow::Result<()> {
    let uid = args
        .user
        .as_deref()
        .map(|u| lifecycle::resolve_user("--user", u))
        .transpose()?;
    for o in &scan.objects {
        // Only named orphans that nobody holds: a deleted-but-held object has no name to remove.
        if !o.status.orphan
            || !lifecycle::object_holders(o).is_empty()
            || o.status.marked_for_destruction
        {
            continue;
        }
        let Some(address) = o.address.as_deref().and_then(|a| a.parse::<Address>().ok()) else {
            continue;
        };
        if uid.is_some_and(|u| u != o.uid) {
            continue;
        }
        if let Some(min) = args.older_than {
            let age = last_used(o).map_or(0, lifecycle::seconds_since);
            if age < min {
                continue;
            }
        }
        let reason = o.orphan_reason.clone().unwrap_or_else(|| "orphan".into());
        // A segment's nattch counts every attachment; a file's holders are only those the scan
        // could read. Not seeing a holder is not knowing there is none.
        let unreadable = scan.coverage.processes_unreadable;
        if o.status.orphan_uncertain && !args.force {
            out.failed.push(Failed {
                address: address.to_string(),
                exit_code: ErrorKind::Busy.exit_code(),
                error: Error::new(
                    ErrorKind::Busy,
                    address.to_string(),
                    format!("no process this scan could read holds it, but {unreadable} could not be read and may"),
                )
                .with_fix(if shmkit::sys::geteuid() == 0 {
                    "pass --force if you know no program uses it (even root cannot read every process here)"
                } else {
                    "run as root to see every holder, or pass --force"
                })
                .to_string(),
            });
            continue;
        }
        match recheck_and_remove(&address, o, args.dry_run) {
            Ok(freed) => out.removed.push(Removed {
                address: address.to_string(),
                kind: o.kind,
                size: o.size,
                freed,
                reason,
            }),
            Err(e) => out.failed.push(Failed {
                address: address.to_string(),
                exit_code: e.kind().exit_code(),
                error: e.to_string(),
            }),
        }
    }
    Ok(())
}

/// Looks at the object once more right before removing it: a process may have attached since
/// the scan.
fn recheck_and_remove(address: &Address, o: &Object, dry_run: bool) -> Result<u64, Error> {
    let seg = segment::open(address, &OpenOptions::metadata())?;
    let stat = seg.stat()?;
    if !lifecycle::is_same_object(o, &stat) {
        return Err(Error::new(
            ErrorKind::Busy,
            address.to_string(),
            "it was replaced by another object since the scan",
        )
        .with_fix("run `shmkit rm --orphans` again to judge the new one"));
    }
    if let (Address::Sysv(SysvAddress::Id(_)), Some(s)) = (address, &stat.sysv) {
        if s.nattch > 0 {
            return Err(Error::new(
                ErrorKind::Busy,
                address.to_string(),
                format!("a process attached it since the scan (nattch {})", s.nattch),
            )
            .with_fix("run `shmkit rm --orphans` again later"));
        }
    }
    if !dry_run {
        seg.remove()?;
    }
    Ok(o.resident.unwrap_or(0) + o.swapped.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_orphan_replaced_since_the_scan_is_not_removed() {
        // The race `rm --orphans` must survive: between the scan and the removal, the leaked
        // object goes and a live program makes a new one under the same name.
        struct Unlink(String);
        impl Drop for Unlink {
            fn drop(&mut self) {
                let _ = shmkit::sys::posix::shm_unlink(&self.0);
            }
        }
        let name = format!("/shmkit-rm-replaced-{}", std::process::id());
        let _guard = Unlink(name.clone());
        let addr = Address::posix(&name).unwrap();
        let create = || segment::create(&addr, &segment::CreateOptions::new(4096).exclusive(true));
        let old = create().unwrap();
        let scan = Scan::collect(&ProcRoot::live(), &ScanOptions::default()).unwrap();
        let scanned = scan
            .objects
            .iter()
            .find(|o| o.address.as_deref() == Some(addr.to_string().as_str()))
            .unwrap()
            .clone();
        old.remove().unwrap();
        let new = create().unwrap();
        let err = recheck_and_remove(&addr, &scanned, false).unwrap_err();
        let still_there = segment::open(&addr, &OpenOptions::metadata()).is_ok();
        new.remove().unwrap();
        assert!(still_there, "the new object was removed");
        assert_eq!(err.kind(), ErrorKind::Busy, "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "{addr}: it was replaced by another object since the scan; \
                 run `shmkit rm --orphans` again to judge the new one"
            )
        );
    }
}
