//! Plain text for logs and pipes: `top --once` and `top -b N` print one table per sample,
//! and `mem --watch` / `ls --watch` repeat their own output with what changed since the
//! previous sample, the way `free -s` repeats free's.

use super::collector::{self, Sample};
use super::model::{self, Growth, Line, Tracker, View};
use shmkit::render::size;
use shmkit::render::table::{Align, Table};
use shmkit::report::FreeHeader;
use shmkit::scan::{Object, ProcRoot, Scan};
use std::io::Write;
use std::time::{Duration, Instant};

/// Prints `count` samples (0: until interrupted), `interval` apart.
pub fn run(
    root: &ProcRoot,
    view: &View,
    interval: Duration,
    count: u64,
    exact: bool,
) -> anyhow::Result<()> {
    let mut tracker = Tracker::new();
    let mut previous: Option<Instant> = None;
    let mut n = 0;
    let mut live = collector::live_scan();
    loop {
        let sample = collector::sample(root, &mut live)?;
        let elapsed = previous.map_or(Duration::ZERO, |p| sample.taken - p);
        previous = Some(sample.taken);
        let (growth, _) = tracker.update(&sample.scan.objects, elapsed);
        n += 1;
        let mut out = crate::output::stdout();
        if n > 1 {
            writeln!(out)?;
        }
        write_sample(&mut out, &sample, &growth, view, n, interval, exact)?;
        out.flush()?;
        drop(out);
        if count != 0 && n >= count {
            return Ok(());
        }
        std::thread::sleep((sample.taken + interval).saturating_duration_since(Instant::now()));
    }
}

/// One sample as plain text: a title, free's lines, the buff/cache split, the objects.
pub fn write_sample(
    out: &mut dyn Write,
    sample: &Sample,
    growth: &[Growth],
    view: &View,
    number: u64,
    interval: Duration,
    exact: bool,
) -> std::io::Result<()> {
    writeln!(
        out,
        "shmkit top - {}, sample {number}, every {}",
        local_date(sample.unix),
        seconds(interval)
    )?;
    crate::command::mem::write_free(out, &sample.report.free, exact)?;
    let sz = |b: u64| size::bytes(b, exact);
    let parts: Vec<String> = buff_cache_parts(&sample.report)
        .iter()
        .filter(|(_, b)| *b > 0)
        .map(|(name, b)| format!("{name} {}", sz(*b)))
        .collect();
    writeln!(
        out,
        "buff/cache {}: {}",
        sz(sample.report.free.buff_cache),
        parts.join(", ")
    )?;
    writeln!(out)?;
    let objects = &sample.scan.objects;
    write_objects(
        out,
        objects,
        growth,
        &model::lines(view, objects, growth),
        sample.unix,
        exact,
    )
}

/// buff/cache's parts, named as `shmkit mem` names them; they add up to buff/cache.
pub fn buff_cache_parts(r: &shmkit::report::MemReport) -> Vec<(&'static str, u64)> {
    let b = &r.buff_cache;
    let mut parts = vec![
        ("clean page cache", b.clean_page_cache),
        ("mapped", b.mapped_file),
        ("dirty", b.dirty_writeback),
        ("buffers", b.buffers),
        ("slab", b.reclaimable_slab),
        ("shared memory", b.shmem),
    ];
    if b.ramfs > 0 {
        parts.push(("ramfs", b.ramfs));
    }
    parts
}

/// The objects table: the container column only when some object is in a container.
pub fn write_objects(
    out: &mut dyn Write,
    objects: &[Object],
    growth: &[Growth],
    lines: &[Line],
    now: i64,
    exact: bool,
) -> std::io::Result<()> {
    let containers = objects.iter().any(|o| model::container(o).is_some());
    let mut columns = vec![("KIND", Align::Left), ("ADDRESS", Align::Left)];
    if containers {
        columns.push(("CONTAINER", Align::Left));
    }
    columns.extend([
        ("SIZE", Align::Right),
        ("RSS", Align::Right),
        ("GROWTH/S", Align::Right),
        ("SINCE START", Align::Right),
        ("AGE", Align::Right),
        ("HOLDERS", Align::Left),
        ("STATUS", Align::Left),
    ]);
    let mut t = Table::new(&columns);
    let sz = |b: u64| size::bytes(b, exact);
    for line in lines {
        let i = match line {
            Line::Group {
                name,
                objects,
                resident,
            } => {
                t.row(vec![
                    format!("[{}]", shmkit::render::table::sanitize(name)),
                    format!("{objects} objects, {} resident", sz(*resident)),
                ]);
                continue;
            }
            Line::Object(i) => *i,
        };
        let o = &objects[i];
        let g = growth.get(i).copied().unwrap_or(Growth {
            per_second: None,
            since_start: None,
            new: false,
        });
        let mut row = vec![o.kind.to_string(), model::label(o)];
        if containers {
            row.push(model::container(o).unwrap_or_else(|| "-".to_string()));
        }
        row.extend([
            sz(o.size),
            o.resident.map_or("-".to_string(), sz),
            model::rate_cell(&g),
            model::since_cell(&g),
            o.created.map_or("-".to_string(), |c| {
                crate::command::ls::age(now.saturating_sub(c))
            }),
            model::holders_cell(o),
            model::status(o).to_string(),
        ]);
        t.row(row);
    }
    if t.is_empty() {
        writeln!(out, "no shared-memory objects match")
    } else {
        t.write(out)
    }
}

/// A date in local time (`TZ` honoured), ISO 8601 with its offset: what a log wants.
pub fn local_date(unix: i64) -> String {
    shmkit::render::time::local(unix, shmkit::render::time::TimeFormat::Iso, unix)
}

/// The local time of day, `HH:MM:SS`, as `top` shows it.
pub fn clock(unix: i64) -> String {
    let iso = local_date(unix);
    iso.get(11..19).unwrap_or(&iso).to_string()
}

/// `2s`, `0.5s`.
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}s")
    } else {
        format!("{s}s")
    }
}

/// Repeats a command's output every `interval` until interrupted, each time followed by what
/// changed since the previous sample: free's numbers and the objects `print` showed.
///
/// `print` writes one sample's output from its scan and returns the objects it showed.
pub fn watch(
    root: &ProcRoot,
    interval: Duration,
    mut collect: impl FnMut(&ProcRoot) -> anyhow::Result<Scan>,
    mut print: impl FnMut(&mut dyn Write, &Scan) -> anyhow::Result<Vec<Object>>,
) -> anyhow::Result<std::process::ExitCode> {
    let mut tracker = Tracker::new();
    let mut previous: Option<(Instant, FreeHeader)> = None;
    loop {
        let taken = Instant::now();
        let scan = collect(root)?;
        let free = shmkit::report::MemReport::new(&scan).free;
        let mut out = crate::output::stdout();
        if previous.is_some() {
            writeln!(out)?;
        }
        writeln!(
            out,
            "-- {} (every {}) --",
            local_date(crate::command::ls::now()),
            seconds(interval)
        )?;
        let shown = print(&mut out, &scan)?;
        let elapsed = previous.map_or(Duration::ZERO, |(at, _)| taken - at);
        let (growth, gone) = tracker.update(&shown, elapsed);
        if let Some((_, before)) = &previous {
            write_changes(&mut out, elapsed, before, &free, &shown, &growth, &gone)?;
        }
        out.flush()?;
        drop(out);
        previous = Some((taken, free));
        std::thread::sleep((taken + interval).saturating_duration_since(Instant::now()));
    }
}

/// How many changed objects a watch lists, largest change first.
const CHANGES_LISTED: usize = 10;

/// What changed between two samples: free's numbers, then the objects that appeared, went
/// away or changed resident size.
fn write_changes(
    out: &mut dyn Write,
    elapsed: Duration,
    before: &FreeHeader,
    now: &FreeHeader,
    objects: &[Object],
    growth: &[Growth],
    gone: &[model::Gone],
) -> std::io::Result<()> {
    let d = |after: u64, was: u64| size::human_delta(model::delta(after, was));
    writeln!(
        out,
        "\nchanges in {:.1}s: used {}, free {}, shared {}, buff/cache {}, available {}",
        elapsed.as_secs_f64(),
        d(now.used, before.used),
        d(now.free, before.free),
        d(now.shared, before.shared),
        d(now.buff_cache, before.buff_cache),
        d(now.available, before.available)
    )?;
    let mut changed: Vec<(i64, String, &str)> = Vec::new();
    for (o, g) in objects.iter().zip(growth) {
        if g.new {
            changed.push((g.since_start.unwrap_or(0), model::label(o), "new"));
        } else if let Some(rate) = g.per_second.filter(|r| r.abs() >= 1.0) {
            let bytes = (rate * elapsed.as_secs_f64()).round() as i64;
            changed.push((bytes, model::label(o), ""));
        }
    }
    for g in gone {
        changed.push((-model::delta(g.resident, 0), g.label.clone(), "gone"));
    }
    if changed.is_empty() {
        return writeln!(out, "  no object appeared, went away or changed size");
    }
    changed
        .sort_by_key(|(bytes, label, _)| (std::cmp::Reverse(bytes.unsigned_abs()), label.clone()));
    let mut t = Table::new(&[("", Align::Right), ("", Align::Left), ("", Align::Left)]);
    for (bytes, label, note) in changed.iter().take(CHANGES_LISTED) {
        t.row(vec![
            format!("  {}", size::human_delta(*bytes)),
            label.clone(),
            (*note).to_string(),
        ]);
    }
    let mut buf = Vec::new();
    t.write(&mut buf)?;
    for line in String::from_utf8_lossy(&buf).lines().skip(1) {
        writeln!(out, "{line}")?;
    }
    if changed.len() > CHANGES_LISTED {
        writeln!(out, "  ... {} more", changed.len() - CHANGES_LISTED)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_print_as_seconds() {
        assert_eq!(seconds(Duration::from_millis(500)), "0.5s");
        assert_eq!(seconds(Duration::from_secs(2)), "2s");
    }
}
