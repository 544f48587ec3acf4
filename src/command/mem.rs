//! `shmkit mem`: free's numbers, then the truth behind buff/cache.

use crate::output::{self, Colour};
use shmkit::render::size;
use shmkit::render::table::{sanitize, Align, Table};
use shmkit::report::{MemReport, PinnedKind};
use shmkit::scan::{ProcRoot, Scan, ScanOptions, Usage};
use std::io::Write;
use std::process::ExitCode;

/// Options of `shmkit mem`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  shmkit mem                 free's header, buff/cache explained, shared memory itemised, leaks
  shmkit mem --bytes         the same in bytes (the header then equals `free -b`)
  shmkit mem --json | jq .pinned.items
  sudo shmkit mem            as root every holder is visible
  shmkit mem --check >/dev/null || alert   exit 8 when there is a leak (for cron)
  shmkit mem --watch=5       again every 5 s, with what changed, like `free -s 5`

Notes on what the scan could not see go to stderr.")]
pub struct Args {
    /// Print JSON (schema `shmkit.mem/5`, documented in docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// Print sizes in bytes.
    #[arg(long, short)]
    pub bytes: bool,
    /// Exit 8 when there is a leak (after printing), for cron and scripts.
    #[arg(long)]
    pub check: bool,
    /// How many files to list per tmpfs mount.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top: usize,
    /// Repeat every SECONDS (2 if not given) with what changed since the previous sample,
    /// like `free -s`.
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, require_equals = true,
          default_missing_value = "2", conflicts_with = "json",
          value_parser = super::flags::interval)]
    pub watch: Option<std::time::Duration>,
    /// Read /proc under this root instead of / (a captured fixture tree).
    #[arg(long, value_name = "DIR", hide = true, default_value = "/")]
    pub root: std::path::PathBuf,
}

/// Runs `shmkit mem`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = ProcRoot::new(&args.root);
    let opts = ScanOptions::default().top_files(args.top);
    if let Some(interval) = args.watch {
        let colour = output::colour_enabled();
        // Each sample walks only new processes, all of them every few (see LiveScan).
        let mut live = shmkit::scan::LiveScan::new(opts.clone());
        return crate::command::top::batch::watch(
            &root,
            interval,
            |root| Ok(live.sample(root).map_err(shmkit::Error::from)?),
            |out, scan| {
                write_report(out, &MemReport::new(scan), args.bytes, args.top, colour)?;
                Ok(scan.objects.clone())
            },
        );
    }
    let scan = Scan::collect(&root, &opts).map_err(shmkit::Error::from)?;
    let report = MemReport::new(&scan);
    if args.json {
        output::print_json(&report)?;
    } else {
        let mut out = crate::output::stdout();
        write_report(
            &mut out,
            &report,
            args.bytes,
            args.top,
            output::colour_enabled(),
        )?;
        let _ = crate::command::ls::write_coverage(&mut std::io::stderr().lock(), &report.coverage);
    }
    if args.check && !report.leaks.is_empty() {
        return Ok(ExitCode::from(shmkit::error::EXIT_CHECK_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the report as people read it.
pub fn write_report(
    out: &mut dyn Write,
    r: &MemReport,
    exact: bool,
    top: usize,
    colour: bool,
) -> std::io::Result<()> {
    let sz = |b: u64| size::bytes(b, exact);
    let bold = |t: &str| output::paint(t, Colour::Bold, colour);
    let f = &r.free;
    write_free(out, f, exact)?;

    let b = &r.buff_cache;
    let pinned_note = if r.swap_on {
        "pinned: can move to swap under pressure, never dropped"
    } else {
        "pinned: no swap, nothing frees it but its owner"
    };
    writeln!(
        out,
        "\n{}",
        bold(&format!("buff/cache {} is:", sz(f.buff_cache)))
    )?;
    let mut t = Table::new(&[("", Align::Left), ("", Align::Right), ("", Align::Left)]);
    let rows: [(&str, u64, &str); 7] = [
        (
            "page cache, clean",
            b.clean_page_cache,
            "drop_caches 1 frees it now",
        ),
        (
            "page cache, mapped",
            b.mapped_file,
            "in use by processes: reclaimed under pressure, not by drop_caches",
        ),
        (
            "dirty + writeback",
            b.dirty_writeback,
            "freeable after write-back (sync)",
        ),
        ("buffers", b.buffers, "drop_caches 1"),
        (
            "reclaimable slab",
            b.reclaimable_slab,
            "drop_caches 2 (dentries and inodes not in use)",
        ),
        ("shared memory", b.shmem, pinned_note),
        ("ramfs", b.ramfs, "pinned: never freed, never swapped"),
    ];
    for (name, bytes, note) in rows {
        if bytes > 0 || matches!(name, "page cache, clean" | "shared memory") {
            t.row(vec![format!("  {name}"), sz(bytes), note.to_string()]);
        }
    }
    t.row(vec![
        "  = sum".to_string(),
        sz(b.total),
        "equals buff/cache".to_string(),
    ]);
    write_rows(out, &t)?;

    let p = &r.pinned;
    writeln!(
        out,
        "\n{}",
        bold(&format!(
            "shared memory {} (meminfo Shmem, free's \"shared\"):",
            sz(p.total)
        ))
    )?;
    let mut t = Table::new(&[
        ("", Align::Left),
        ("", Align::Left),
        ("", Align::Right),
        ("", Align::Left),
    ]);
    for item in &p.items {
        let note = if item.orphan {
            leak_label(item.orphan_uncertain)
        } else if let Some(idle) = idle_label(&item.usage, item.uncertain.is_some()) {
            idle
        } else if !item.holders.is_empty() {
            held_by(&item.holders)
        } else if item.kind == PinnedKind::Unattributed {
            "GPU buffers, other mount namespaces, unreadable processes".to_string()
        } else if let Some(n @ 1..) = item.nattch {
            format!("attached {n}x by processes this user cannot read")
        } else if item.kind == PinnedKind::Sysv {
            "nobody attached; lives until ipcrm".to_string()
        } else {
            String::new()
        };
        let name = match &item.location {
            Some(place) => format!("{} in {place}", item.name),
            None => item.name.clone(),
        };
        t.row(vec![
            format!("  {}", item.kind),
            sanitize(&name),
            sz(item.bytes),
            note,
        ]);
        if item.orphan {
            t.mark_last();
        }
        for file in item.files.iter().take(top) {
            t.row(vec![
                format!("    {}", file.kind),
                sanitize(&file.name),
                sz(file.bytes),
                if file.orphan {
                    leak_label(file.orphan_uncertain)
                } else if let Some(idle) = idle_label(&file.usage, file.uncertain.is_some()) {
                    idle
                } else if !file.holders.is_empty() {
                    held_by(&file.holders)
                } else {
                    String::new()
                },
            ]);
            if file.orphan {
                t.mark_last();
            }
        }
        if item.files.len() > top {
            let rest: u64 = item.files.iter().skip(top).map(|f| f.bytes).sum();
            t.row(vec![
                "    ...".to_string(),
                format!("{} more files", item.files.len() - top),
                sz(rest),
                String::new(),
            ]);
        }
    }
    t.row(vec![
        "  = sum".to_string(),
        String::new(),
        sz(p.attributed + p.unattributed),
        if p.overcounted > 0 {
            format!(
                "objects exceed Shmem by {} (counts taken moments apart)",
                sz(p.overcounted)
            )
        } else {
            "equals Shmem".to_string()
        },
    ]);
    write_rows_styled(out, &t, &|l| output::paint(l, Colour::Red, colour))?;

    write_containers(out, r, exact, colour)?;
    let h = &r.huge_pages;
    if h.total > 0 || h.pool > 0 || !h.segments.is_empty() {
        writeln!(
            out,
            "\n{}",
            bold(&format!(
                "huge pages {} in the pool, {} free (HugeTLB: not Shmem, not buff/cache):",
                sz(h.total.max(h.pool)),
                sz(h.free)
            ))
        )?;
        let mut t = Table::new(&[
            ("", Align::Left),
            ("", Align::Left),
            ("", Align::Right),
            ("", Align::Left),
        ]);
        for item in &h.segments {
            let note = if item.orphan {
                leak_label(item.orphan_uncertain)
            } else if let Some(idle) = idle_label(&item.usage, item.uncertain.is_some()) {
                idle
            } else if !item.holders.is_empty() {
                held_by(&item.holders)
            } else {
                String::new()
            };
            t.row(vec![
                format!("  {} hugetlb", item.kind),
                sanitize(&item.name),
                sz(item.bytes),
                note,
            ]);
            if item.orphan {
                t.mark_last();
            }
        }
        if h.segments.is_empty() {
            t.row(vec![
                "  no System V segment found in them".to_string(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        write_rows_styled(out, &t, &|l| output::paint(l, Colour::Red, colour))?;
    }

    writeln!(out, "\n{}", bold("available:"))?;
    let mut t = Table::new(&[("", Align::Left), ("", Align::Right), ("", Align::Left)]);
    t.row(vec![
        "  free + buff/cache".to_string(),
        sz(r.naive_available),
        "what a naive reading of free suggests".to_string(),
    ]);
    t.row(vec![
        "  really available".to_string(),
        sz(r.really_available),
        "free + everything reclaimable, shared memory excluded".to_string(),
    ]);
    t.row(vec![
        "  MemAvailable".to_string(),
        sz(r.kernel_available),
        "the kernel's own, more cautious estimate".to_string(),
    ]);
    write_rows(out, &t)?;

    if r.leaks.is_empty() {
        writeln!(
            out,
            "\n{}",
            output::paint("no leaks found", Colour::Green, colour)
        )?;
    } else {
        let total: u64 = r.leaks.iter().map(|l| l.bytes).sum();
        let possible = r.leaks.iter().filter(|l| l.uncertain).count();
        let mut title = format!(
            "leaks: {}, {}",
            output::count(r.leaks.len(), "object", "objects"),
            sz(total)
        );
        if possible > 0 {
            title.push_str(&format!(
                " ({possible} marked ? only possible: processes this scan could not read may hold them)"
            ));
        }
        writeln!(out, "\n{}", output::paint(&title, Colour::Red, colour))?;
        let mut t = Table::new(&[
            ("", Align::Left),
            ("", Align::Right),
            ("", Align::Left),
            ("", Align::Left),
        ]);
        for leak in &r.leaks {
            t.row(vec![
                format!(
                    "  {}{}{}",
                    sanitize(&leak.address.to_string()),
                    leak.location
                        .as_ref()
                        .map_or(String::new(), |l| format!(" in {}", sanitize(l))),
                    if leak.uncertain { " ?" } else { "" }
                ),
                sz(leak.bytes),
                leak.remedy
                    .as_ref()
                    .map_or(String::new(), crate::command::ls::remedy_command),
                format!(
                    "{}{}",
                    crate::command::ls::leak_words(&leak.reason),
                    if leak.hugetlb {
                        " (huge pages, not Shmem)"
                    } else {
                        ""
                    }
                ),
            ]);
        }
        write_rows(out, &t)?;
    }
    if r.swap_on {
        let note = "swap is on: shared memory is swap-backed, so \"pinned\" means it can move to swap under pressure; drop_caches never frees it";
        writeln!(out, "\n{}", output::paint(note, Colour::Yellow, colour))?;
    }
    Ok(())
}

/// Each container's shared memory: /dev/shm against its size, System V, shared anonymous
/// memory and memfds, the memory cgroup's shmem against its limit, and the warnings.
fn write_containers(
    out: &mut dyn Write,
    r: &MemReport,
    exact: bool,
    colour: bool,
) -> std::io::Result<()> {
    if r.containers.is_empty() {
        return Ok(());
    }
    let sz = |b: u64| size::bytes(b, exact);
    writeln!(
        out,
        "\n{}",
        output::paint(
            &format!("containers ({}):", r.containers.len()),
            Colour::Bold,
            colour
        )
    )?;
    let mut t = Table::new(&[
        ("  CONTAINER", Align::Left),
        ("RUNTIME", Align::Left),
        ("/dev/shm USED", Align::Right),
        ("OF", Align::Right),
        ("%", Align::Right),
        ("SYSV", Align::Right),
        ("ANON+MEMFD", Align::Right),
        ("CGROUP SHMEM", Align::Right),
        ("LIMIT", Align::Right),
        ("IPC", Align::Left),
    ]);
    let mut warnings = Vec::new();
    for c in &r.containers {
        let name = c.container.label().to_string();
        let (used, of, pct) = match &c.dev_shm {
            Some(d) => (
                sz(d.used),
                d.size.map_or("-".into(), sz),
                d.percent.map_or("-".into(), |p| format!("{p}%")),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let ipc = match (&c.ipc_owner, c.ipc_shared_with.is_empty()) {
            (Some(owner), _) => format!("joins {owner}"),
            (None, true) => "private".to_string(),
            (None, false) => format!("shared with {}", c.ipc_shared_with.join(", ")),
        };
        let sysv = if c.ipc_owner.is_some() {
            "-".to_string()
        } else {
            sz(c.sysv)
        };
        t.row(vec![
            format!("  {}", sanitize(&name)),
            c.container.runtime.clone(),
            used,
            of,
            pct,
            sysv,
            sz(c.shared_anon_memfd),
            c.cgroup_shmem.map_or("-".into(), sz),
            c.cgroup_limit.map_or("none".into(), sz),
            sanitize(&ipc),
        ]);
        for w in c
            .dev_shm
            .iter()
            .filter_map(|d| d.warning.as_ref())
            .chain(&c.cgroup_warning)
        {
            warnings.push(format!("  {}: {}", sanitize(&name), w));
        }
    }
    t.write(out)?;
    for w in warnings {
        writeln!(out, "{}", output::paint(&w, Colour::Red, colour))?;
    }
    Ok(())
}

/// `idle 3h` (`idle? 3h` when the scan could not see every possible holder), for an object
/// nobody holds: it waits for its next user, it is not a leak.
fn idle_label(usage: &Usage, uncertain: bool) -> Option<String> {
    let q = if uncertain { "?" } else { "" };
    match usage {
        Usage::Idle { since: Some(t) } => Some(format!(
            "idle{q} {} (nobody holds it)",
            crate::command::ls::age(crate::command::ls::now().saturating_sub(*t))
        )),
        Usage::Idle { since: None } => Some(format!("idle{q} (nobody holds it)")),
        _ => None,
    }
}

/// `LEAK`, or `LEAK?` when unreadable processes may hold it.
fn leak_label(uncertain: bool) -> String {
    if uncertain { "LEAK?" } else { "LEAK" }.to_string()
}

/// `held by 12/a 34/b 56/c +2`.
fn held_by(holders: &[shmkit::scan::Holder]) -> String {
    let mut held: Vec<String> = holders
        .iter()
        .take(3)
        .map(|h| sanitize(&format!("{}/{}", h.pid, h.comm)))
        .collect();
    if holders.len() > 3 {
        held.push(format!("+{}", holders.len() - 3));
    }
    format!("held by {}", held.join(" "))
}

/// Writes a headerless table (its header row is empty).
fn write_rows(out: &mut dyn Write, t: &Table) -> std::io::Result<()> {
    write_rows_styled(out, t, &|l| l.to_string())
}

/// Writes a headerless table, passing marked rows through `style`.
fn write_rows_styled(
    out: &mut dyn Write,
    t: &Table,
    style: &dyn Fn(&str) -> String,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    // Fitted to the terminal: long reasons and names are cut with … rather than wrapped.
    let layout = shmkit::render::table::Layout {
        width: output::terminal_width(),
        ..Default::default()
    };
    t.write_layout(&mut buf, &layout, style)?;
    let text = String::from_utf8_lossy(&buf);
    for line in text.lines().skip(1) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// free's header and its two lines (`Mem:` and `Swap:`), laid out as `free` lays them out:
/// an 8-wide label, then 12-wide right-aligned columns.
pub fn write_free(
    out: &mut dyn Write,
    f: &shmkit::report::FreeHeader,
    exact: bool,
) -> std::io::Result<()> {
    let sz = |b: u64| size::bytes(b, exact);
    writeln!(
        out,
        "{:8}{:>12}{:>12}{:>12}{:>12}{:>12}{:>12}",
        "", "total", "used", "free", "shared", "buff/cache", "available"
    )?;
    writeln!(
        out,
        "{:8}{:>12}{:>12}{:>12}{:>12}{:>12}{:>12}",
        "Mem:",
        sz(f.total),
        sz(f.used),
        sz(f.free),
        sz(f.shared),
        sz(f.buff_cache),
        sz(f.available)
    )?;
    writeln!(
        out,
        "{:8}{:>12}{:>12}{:>12}",
        "Swap:",
        sz(f.swap_total),
        sz(f.swap_used),
        sz(f.swap_free)
    )
}
