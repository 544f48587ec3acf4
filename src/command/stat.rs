//! `shmkit stat`: everything the kernel knows of one object, who holds it, and what it
//! survives here.

use super::lifecycle::{self, parse_address};
use crate::output::{self, TimeFormatArg};
use serde::Serialize;
use shmkit::address::Address;
use shmkit::render::size;
use shmkit::scan::Holder;
use shmkit::segment::{self, OpenOptions, Stat};
use std::io::Write;
use std::process::ExitCode;

/// Options of `shmkit stat`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  shmkit stat sysv:5678
  shmkit stat sysv:id=294918 --json
  shmkit stat posix:/orders
  shmkit stat file:./shm.txt
  shmkit stat memfd:4242/5
  shmkit stat shared-anon:4242@0x7f3a0000
  TZ=Asia/Shanghai shmkit stat sysv:5678 --time-format full

It does not attach or map the object, so System V's nattch, atime and lpid stay as they are.")]
pub struct Args {
    /// The object: sysv:KEY, sysv:id=SHMID, posix:/NAME, file:PATH, or what a process holds,
    /// KIND:PID/FD or KIND:PID@0xSTART (as `shmkit ls` lists it).
    #[arg(value_parser = parse_address)]
    pub address: Address,
    /// Print JSON (the kernel's fields, holders, and survival answers).
    #[arg(long)]
    pub json: bool,
    /// Act inside a container or another process's namespaces.
    #[command(flatten)]
    pub inside: super::inside::Inside,
    /// How dates are written, in local time (TZ honoured): short, full or iso.
    #[arg(long, value_enum, default_value_t = TimeFormatArg::Iso, value_name = "FORMAT")]
    pub time_format: TimeFormatArg,
}

/// What `stat --json` prints.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct StatOut {
    schema: &'static str,
    #[serde(flatten)]
    stat: Stat,
    user: Option<String>,
    group: Option<String>,
    holders: Vec<Holder>,
    /// Resident and swapped bytes, where the scan knows them.
    resident: Option<u64>,
    swapped: Option<u64>,
    /// Why the scan calls it a leak, if it does.
    orphan_reason: Option<shmkit::scan::LeakReason>,
    /// In use, idle or leaked, as the scan judges it.
    usage: Option<shmkit::scan::Usage>,
    /// Why the scan is not sure nobody holds it, when it is not.
    uncertain: Option<shmkit::scan::Blindness>,
    /// What it survives here.
    survives: shmkit::survival::Lifetime,
}

fn time(secs: i64, format: TimeFormatArg) -> String {
    if secs == 0 {
        return "never".into();
    }
    format!(
        "{} ({} ago)",
        shmkit::render::time::local(secs, format.into(), crate::command::ls::now()),
        duration(lifecycle::seconds_since(secs))
    )
}

/// `3d4h`, `5m12s`, `40s`.
pub fn duration(secs: u64) -> String {
    match secs {
        s if s >= 86400 => format!("{}d{}h", s / 86400, s % 86400 / 3600),
        s if s >= 3600 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m{}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// Runs `shmkit stat`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    lifecycle::refuse_memfd(&args.address, false)?;
    let seg = segment::open(&args.address, &OpenOptions::metadata())?;
    let stat = seg.stat()?;
    let scan = lifecycle::scan()?;
    let holders = lifecycle::holders(&scan, &stat);
    let scanned = lifecycle::scan_object(&scan, &stat);
    let creator_alive = scanned
        .and_then(|o| o.sysv.as_ref())
        .map(|d| d.creator.comm.clone());
    let out = StatOut {
        resident: scanned.and_then(|o| o.resident),
        swapped: scanned.and_then(|o| o.swapped),
        orphan_reason: scanned.and_then(|o| match o.status.usage {
            shmkit::scan::Usage::Leaked { reason } => Some(reason),
            _ => None,
        }),
        usage: scanned.map(|o| o.status.usage),
        uncertain: scanned.and_then(|o| o.status.uncertain),
        schema: "shmkit.stat/2",
        user: lifecycle::user_name(stat.uid),
        group: lifecycle::group_name(stat.gid),
        holders,
        survives: lifecycle::survival(&stat),
        stat,
    };
    if args.json {
        output::print_json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let s = &out.stat;
    let mut lines: Vec<(&str, String)> = vec![
        ("address", args.address.to_string()),
        ("kind", s.kind.to_string()),
        (
            "size",
            format!("{} ({} bytes)", size::human(s.size), s.size),
        ),
        ("owner", lifecycle::describe_owner(s.uid, s.gid)),
        ("mode", format!("{:04o}", s.mode)),
    ];
    if let Some(v) = &s.sysv {
        lines.extend([
            ("key", format!("0x{:08x} ({})", v.key as u32, v.key)),
            ("shmid", v.shmid.to_string()),
            (
                "creator",
                format!(
                    "{} pid {} ({})",
                    lifecycle::describe_owner(v.cuid, v.cgid),
                    v.cpid,
                    match &creator_alive {
                        Some(Some(comm)) => shmkit::render::table::sanitize(comm),
                        Some(None) => "exited".to_string(),
                        None => "unknown".to_string(),
                    }
                ),
            ),
            ("last pid", v.lpid.to_string()),
            ("nattch", v.nattch.to_string()),
            ("attached", time(v.atime, args.time_format)),
            ("detached", time(v.dtime, args.time_format)),
            ("changed", time(v.ctime, args.time_format)),
            ("status", {
                let mut flags = vec![];
                if v.marked_for_destruction {
                    flags.push("marked for destruction (IPC_RMID; freed at the last detach)");
                }
                if v.locked {
                    flags.push("locked in memory (SHM_LOCK)");
                }
                if flags.is_empty() {
                    "-".into()
                } else {
                    flags.join(", ")
                }
            }),
        ]);
    }
    if let Some(f) = &s.file {
        if let Some(path) = &f.path {
            use std::os::unix::ffi::OsStrExt;
            lines.push((
                "path",
                shmkit::address::escape_bytes(path.as_os_str().as_bytes()),
            ));
        }
        lines.extend([
            ("device", f.dev.to_string()),
            ("inode", f.inode.to_string()),
            ("links", f.nlink.to_string()),
            (
                "allocated",
                format!("{} ({} bytes)", size::human(f.allocated), f.allocated),
            ),
            ("accessed", time(f.atime, args.time_format)),
            ("modified", time(f.mtime, args.time_format)),
            ("changed", time(f.ctime, args.time_format)),
        ]);
    }
    let mut holders = if out.holders.is_empty() {
        "none seen".to_string()
    } else {
        out.holders
            .iter()
            .map(|h| format!("{} ({})", h.pid, shmkit::render::table::sanitize(&h.comm)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // The kernel counts every attachment; the scan sees only processes of this IPC namespace
    // that it may read.
    let unseen = s
        .sysv
        .as_ref()
        .map_or(0, |v| v.nattch.saturating_sub(out.holders.len() as u64));
    if unseen > 0 {
        holders.push_str(&format!(
            "; {} in processes this scan cannot see (another IPC namespace, or unreadable)",
            crate::output::count(unseen, "more attachment", "more attachments")
        ));
    }
    lines.push(("holders", holders));
    if let Some(resident) = out.resident {
        lines.push((
            "resident",
            format!(
                "{} in memory, {} in swap",
                size::human(resident),
                size::human(out.swapped.unwrap_or(0))
            ),
        ));
    }
    if let Some(usage) = &out.usage {
        lines.push(("use", super::ls::usage_words(usage, out.uncertain.as_ref())));
    }
    if let Some(reason) = &out.orphan_reason {
        lines.push((
            "orphan",
            format!(
                "{}; free it with `shmkit rm {}`",
                shmkit::render::table::sanitize(&super::ls::leak_words(reason)),
                args.address
            ),
        ));
    }
    let sv = &out.survives;
    let answer = |s: &shmkit::survival::Survival| {
        format!(
            "{}: {}",
            super::doctor::answer_word(s.answer),
            super::doctor::because_words(out.stat.kind, s)
        )
    };
    lines.extend([
        ("process exit", answer(&sv.process_exit)),
        ("container restart", answer(&sv.container_restart)),
        ("reboot", answer(&sv.reboot)),
    ]);
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut stdout = output::stdout();
    for (key, value) in lines {
        writeln!(stdout, "{key:>width$}  {value}")?;
    }
    Ok(ExitCode::SUCCESS)
}
