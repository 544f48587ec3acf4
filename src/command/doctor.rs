//! `shmkit doctor`: is this host or container fit for the shared memory a program needs, and
//! what survives a process exit, a container restart and a reboot here.

use crate::output::{colour_enabled, paint, print_versioned, Colour};
use shmkit::doctor::{self, Answer, PlaceKind, Report};
use shmkit::procfs::ProcRoot;
use shmkit::render::size::human;
use shmkit::render::table::{sanitize, Align, Table};
use std::io::Write;
use std::process::ExitCode;

/// Options of `shmkit doctor`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  shmkit doctor                 # where am I, what survives a restart here, what to fix
  shmkit doctor --json | jq .warnings
  shmkit doctor --strict        # exit 8 if there is any warning (for CI and health checks)")]
pub struct Args {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 8 when there are warnings.
    #[arg(long)]
    pub strict: bool,
}

/// Runs `shmkit doctor`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = ProcRoot::live();
    let fs = shmkit::sys::statvfs(std::path::Path::new("/dev/shm")).ok();
    let report = doctor::examine(&root, fs, shmkit::sys::page_size());
    if args.json {
        print_versioned("shmkit.doctor/1", &report)?;
    } else {
        print_human(&report, &mut crate::output::stdout(), colour_enabled())?;
    }
    if args.strict && !report.warnings.is_empty() {
        return Ok(ExitCode::from(shmkit::error::EXIT_CHECK_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

/// Limits at or above 2^62 are the kernel's "unlimited" defaults.
fn limit(v: Option<u64>, unit: &str) -> String {
    match v {
        None => "?".to_owned(),
        Some(v) if v >= 1 << 62 => "unlimited".to_owned(),
        Some(v) if unit == "bytes" => human(v),
        Some(v) => format!("{v} {unit}"),
    }
}

fn print_human(r: &Report, out: &mut dyn Write, colour: bool) -> std::io::Result<()> {
    let bold = |t: &str| paint(t, Colour::Bold, colour);
    let place = match (r.place.kind, &r.place.runtime) {
        (PlaceKind::Host, _) => "host".to_owned(),
        (PlaceKind::Container, Some(rt)) => format!("container ({})", sanitize(rt)),
        (PlaceKind::Container, None) => "container".to_owned(),
    };
    writeln!(out, "{} {place}", bold("Where:"))?;
    for e in &r.place.evidence {
        writeln!(out, "  - {}", sanitize(e))?;
    }
    let ipc_inode = r
        .namespaces
        .iter()
        .find(|n| n.kind == "ipc")
        .and_then(|n| n.inode);
    let ipc = match (r.ipc_initial, ipc_inode) {
        (Some(true), Some(i)) => format!("the host's (initial, inode {i})"),
        (Some(false), Some(i)) => format!(
            "private (inode {i}; the host's is {})",
            doctor::PROC_IPC_INIT_INO
        ),
        _ => "unknown (/proc/self/ns/ipc unreadable)".to_owned(),
    };
    writeln!(out, "{} {ipc}", bold("IPC namespace:"))?;
    let d = &r.dev_shm;
    writeln!(
        out,
        "{} {}, size {}, used {}{}",
        bold("/dev/shm:"),
        d.fs_type
            .as_deref()
            .map_or("not a mount point".to_owned(), sanitize),
        d.total.map_or("?".to_owned(), human),
        d.used.map_or("?".to_owned(), human),
        if d.small {
            " (the 64M container default or less)"
        } else {
            ""
        }
    )?;
    let s = &r.sysv;
    writeln!(
        out,
        "{} {}, {} ({} pages of {}); shmmax {}, shmall {}, shmmni {}; shm_rmid_forced {}",
        bold("System V:"),
        crate::output::count(s.segments, "segment", "segments"),
        human(s.bytes),
        s.pages,
        human(s.page_size),
        limit(s.shmmax, "bytes"),
        limit(s.shmall_pages, "pages"),
        limit(s.shmmni, "segments"),
        match s.shm_rmid_forced {
            Some(true) => "1",
            Some(false) => "0",
            None => "?",
        }
    )?;
    match &r.cgroup {
        Some(c) => writeln!(
            out,
            "{} v{} {} ({}): limit {}, usage {}, of it shmem {}",
            bold("Memory cgroup:"),
            c.version,
            sanitize(&c.path),
            sanitize(&c.dir),
            c.limit.map_or("none".to_owned(), human),
            c.usage.map_or("?".to_owned(), human),
            c.shmem.map_or("?".to_owned(), human)
        )?,
        None => writeln!(out, "{} not found", bold("Memory cgroup:"))?,
    }
    match &r.remove_ipc {
        Some(x) => writeln!(
            out,
            "{} {} ({}){}",
            bold("systemd RemoveIPC:"),
            if x.enabled { "yes" } else { "no" },
            sanitize(&x.source),
            if x.systemd_running {
                ""
            } else {
                "; systemd is not running here, so nothing applies it"
            }
        )?,
        None => writeln!(
            out,
            "{} not visible (no logind configuration)",
            bold("systemd RemoveIPC:")
        )?,
    }
    writeln!(out)?;
    writeln!(out, "{}", bold("What survives here:"))?;
    let cell = |a: Answer| -> String {
        let (t, c) = match a {
            Answer::Yes => ("yes", Colour::Green),
            Answer::No => ("no", Colour::Red),
            Answer::Depends => ("depends", Colour::Yellow),
        };
        paint(t, c, colour)
    };
    let mut t = Table::new(&[
        ("KIND", Align::Left),
        ("PROCESS EXIT", Align::Left),
        ("CONTAINER RESTART", Align::Left),
        ("REBOOT", Align::Left),
    ]);
    for v in &r.verdicts {
        t.row(vec![
            v.kind.to_string(),
            cell(v.process_exit.answer),
            cell(v.container_restart.answer),
            cell(v.reboot.answer),
        ]);
    }
    t.write(out)?;
    for v in &r.verdicts {
        for (when, s) in [
            ("process exit", &v.process_exit),
            ("container restart", &v.container_restart),
        ] {
            if s.answer != Answer::Yes || v.kind.as_str() == "sysv" {
                writeln!(out, "  {} / {when}: {}", v.kind, sanitize(&s.why))?;
            }
        }
    }
    if !r.warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", bold("Warnings:"))?;
        for w in &r.warnings {
            writeln!(
                out,
                "{} {}",
                paint("warning:", Colour::Yellow, colour),
                sanitize(&w.message)
            )?;
            writeln!(out, "  fix: {}", sanitize(&w.fix))?;
        }
    }
    Ok(())
}
