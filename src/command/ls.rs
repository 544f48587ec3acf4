//! `shmkit ls`: every shared-memory object on the host, one table.

use crate::output::{self, Colour, TableArgs, TimeFormatArg};
use clap::ValueEnum;
use serde::Serialize;
use shmkit::render::time::{self, TimeFormat};
use shmkit::render::{size, table::sanitize, table::Align, table::Table};
use shmkit::scan::{
    Blindness, Coverage, Kind, LeakReason, Object, ProcRoot, Remedy, Scan, ScanOptions, Usage,
};
use std::io::Write;
use std::process::ExitCode;

/// Options of `shmkit ls`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  shmkit ls                      every object, largest first within each kind
  shmkit ls --orphans            only leaks, with the command that frees each
  shmkit ls --idle               only idle objects (named, nobody holds them), with how long
  shmkit ls --kind sysv --kind posix --user postgres
  shmkit ls --sort rss --json
  shmkit ls --container web      what the container `web` holds, seen from the host
  shmkit ls -o KIND,SIZE -n --raw    exactly those columns, for scripts
  shmkit ls --check --orphans        exit 8 if there is a leak (for cron)
  shmkit ls --watch --kind sysv      again every 2 s, with what changed, like `free -s`

Objects in containers are listed with the container's name (or short id) in CONTAINER; `-` is
the host, and `pid:N` a namespace no container runtime made (reach it with --target N).
Notes on what the scan could not see go to stderr.")]
pub struct Args {
    /// Only objects of this kind (repeatable): sysv, posix, tmpfs, shared-anon, memfd, file.
    #[arg(long, value_name = "KIND", value_parser = parse_kind)]
    pub kind: Vec<Kind>,
    /// Only orphans (leaks): nobody can reach them and nothing will free them.
    #[arg(long, conflicts_with = "idle")]
    pub orphans: bool,
    /// Only objects of this container: its name, id or an id prefix (repeatable).
    #[arg(long, value_name = "NAME|ID")]
    pub container: Vec<String>,
    /// Only idle objects: named, and nobody holds them (they wait for their next user).
    #[arg(long)]
    pub idle: bool,
    /// Only objects owned by this user (name or uid).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Sort order.
    #[arg(long, value_enum, default_value_t = SortKey::Kind)]
    pub sort: SortKey,
    /// Print JSON (schema in docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// Print sizes in bytes.
    #[arg(long, short)]
    pub bytes: bool,
    /// Exit 8 when a listed object is a leak (after printing), for cron and scripts.
    #[arg(long)]
    pub check: bool,
    /// How the CREATED column writes dates, in local time.
    #[arg(long, value_enum, default_value_t = TimeFormatArg::Short, value_name = "FORMAT")]
    pub time_format: TimeFormatArg,
    /// -o/--output, --output-all, -n/--noheadings, --raw.
    #[command(flatten)]
    pub table: TableArgs,
    /// Read /proc under this root instead of / (a captured fixture tree).
    #[arg(long, value_name = "DIR", hide = true, default_value = "/")]
    pub root: std::path::PathBuf,
    /// Repeat every SECONDS (2 if not given) with what changed since the previous sample,
    /// like `free -s`.
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, require_equals = true,
          default_missing_value = "2", conflicts_with = "json",
          value_parser = super::flags::interval)]
    pub watch: Option<std::time::Duration>,
    /// Show ages as of this time (unix seconds) instead of now (fixture tests).
    #[arg(long, value_name = "SECONDS", hide = true)]
    pub now: Option<i64>,
}

/// How `ls` orders its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortKey {
    /// By kind, then largest resident first.
    Kind,
    /// Largest size first.
    Size,
    /// Largest resident first.
    Rss,
    /// Oldest first.
    Age,
    /// By name.
    Name,
}

/// Parses a kind name for clap.
pub fn parse_kind(text: &str) -> Result<Kind, String> {
    Kind::parse(text).ok_or_else(|| {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown kind '{text}'; use one of {}", names.join(", "))
    })
}

/// The JSON document `shmkit ls --json` prints.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct LsJson<'a> {
    schema: &'static str,
    objects: Vec<&'a Object>,
    coverage: &'a Coverage,
}

/// Runs `shmkit ls`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = ProcRoot::new(&args.root);
    let uid_filter = match &args.user {
        None => None,
        Some(user) => Some(resolve_user(&root, user)?),
    };
    let collect = |root: &ProcRoot| -> anyhow::Result<Scan> {
        Ok(Scan::collect(root, &ScanOptions::default()).map_err(shmkit::Error::from)?)
    };
    if let Some(interval) = args.watch {
        let mut first = true;
        // Each sample walks only new processes, all of them every few (see LiveScan).
        let mut live = shmkit::scan::LiveScan::new(ScanOptions::default());
        let collect = |root: &ProcRoot| Ok(live.sample(root).map_err(shmkit::Error::from)?);
        return crate::command::top::batch::watch(&root, interval, collect, |out, scan| {
            let objects = select(&args, scan, uid_filter)?;
            write_listing(out, &args, &objects, now())?;
            if std::mem::take(&mut first) {
                let _ = write_coverage(&mut std::io::stderr().lock(), &scan.coverage);
            }
            Ok(objects.into_iter().cloned().collect())
        });
    }
    let scan = collect(&root)?;
    let objects = select(&args, &scan, uid_filter)?;
    let verdict = if args.check && objects.iter().any(|o| o.status.orphan) {
        ExitCode::from(shmkit::error::EXIT_CHECK_FAILED)
    } else {
        ExitCode::SUCCESS
    };
    if args.json {
        output::print_json(&LsJson {
            schema: "shmkit.ls/5",
            objects,
            coverage: &scan.coverage,
        })?;
        return Ok(verdict);
    }
    let mut out = output::stdout();
    write_listing(&mut out, &args, &objects, args.now.unwrap_or_else(now))?;
    // Notes are not part of the table: `shmkit ls | wc -l` counts objects.
    let _ = write_coverage(&mut std::io::stderr().lock(), &scan.coverage);
    Ok(verdict)
}

/// The table and, when decorated, the leaks with the commands that free them.
fn write_listing(
    out: &mut dyn Write,
    args: &Args,
    objects: &[&Object],
    now: i64,
) -> anyhow::Result<()> {
    let table = build_table(objects, args.bytes, now, args.time_format.into());
    if table.is_empty() && args.table.decorated() {
        writeln!(out, "no shared-memory objects match")?;
    } else {
        let colour = output::colour_enabled();
        output::write_table(out, &table, &args.table, &|line| {
            output::paint(line, Colour::Red, colour)
        })?;
    }
    if args.table.decorated() {
        write_free_commands(out, objects)?;
    }
    Ok(())
}

/// The objects the filters keep, in the chosen order; a `--container` that names no running
/// container is an error.
fn select<'a>(
    args: &Args,
    scan: &'a Scan,
    uid_filter: Option<u32>,
) -> anyhow::Result<Vec<&'a Object>> {
    let mut objects: Vec<&Object> = scan
        .objects
        .iter()
        .filter(|o| args.kind.is_empty() || args.kind.contains(&o.kind))
        .filter(|o| !args.orphans || o.status.usage.is_leaked())
        .filter(|o| !args.idle || o.status.usage.is_idle())
        .filter(|o| uid_filter.is_none_or(|uid| o.uid == uid))
        .filter(|o| args.container.is_empty() || in_containers(o, &args.container))
        .collect();
    if !args.container.is_empty() {
        for query in &args.container {
            let known = scan.containers.iter().any(|c| c.container.matches(query));
            if !known {
                return Err(shmkit::Error::new(
                    shmkit::ErrorKind::NotFound,
                    format!("container {query}"),
                    "no running container has this name or id",
                )
                .with_fix("`docker ps` lists the running containers; give a name, an id or an id prefix of 4+ digits")
                .into());
            }
        }
    }
    match args.sort {
        SortKey::Kind => {}
        SortKey::Size => objects.sort_by_key(|o| std::cmp::Reverse(o.size)),
        SortKey::Rss => objects.sort_by_key(|o| std::cmp::Reverse(o.resident)),
        SortKey::Age => objects.sort_by_key(|o| o.created.unwrap_or(i64::MAX)),
        SortKey::Name => objects.sort_by(|a, b| a.name.cmp(&b.name)),
    }
    Ok(objects)
}

/// Whether an object lives in one of the containers `queries` name.
pub fn in_containers(o: &Object, queries: &[String]) -> bool {
    o.location
        .container
        .as_ref()
        .is_some_and(|c| queries.iter().any(|q| c.matches(q)))
}

/// Resolves a user name or a numeric uid.
pub fn resolve_user(root: &ProcRoot, user: &str) -> anyhow::Result<u32> {
    if let Ok(uid) = user.parse::<u32>() {
        return Ok(uid);
    }
    shmkit::accounts::Accounts::of(root)
        .user_id(user)
        .ok_or_else(|| {
            shmkit::Error::new(
                shmkit::ErrorKind::NotFound,
                format!("user {user}"),
                "no such user (getent passwd lists none)",
            )
            .with_fix("give a numeric uid or an existing user name")
            .into()
        })
}

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A duration in one unit a person reads at a glance: `40s`, `12m`, `5h`, `3d`.
pub fn age(seconds: i64) -> String {
    match seconds {
        s if s < 0 => "-".to_string(),
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn holders_cell(o: &Object) -> String {
    let mut parts: Vec<String> = o
        .holders
        .iter()
        .take(2)
        .map(|h| format!("{}/{}", h.pid, sanitize(&h.comm)))
        .collect();
    if o.holders.len() > 2 {
        parts.push(format!("+{}", o.holders.len() - 2));
    }
    // The kernel counts attachments in every namespace and in processes we could not read.
    if let Some(sysv) = &o.sysv {
        if sysv.nattch as usize != o.holders.len() {
            parts.push(format!("(nattch {})", sysv.nattch));
        }
    }
    if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join(" ")
    }
}

/// Why an object is a leak, in words.
pub fn leak_words(reason: &LeakReason) -> String {
    match reason {
        LeakReason::PrivateSegmentCreatorExited { creator } => format!(
            "an IPC_PRIVATE segment with no attachment (nattch 0) whose creator, pid {creator}, has exited: nobody knows its id"
        ),
        LeakReason::PrivateSegmentCreatorUnknown => "an IPC_PRIVATE segment with no attachment (nattch 0) whose creator is pid 0 here: it runs or ran in a pid namespace this one cannot see".to_string(),
        _ => "a leak".to_string(),
    }
}

/// The command line that carries out a remedy, quoted so that bash reads back the very bytes
/// of every name.
pub fn remedy_command(remedy: &Remedy) -> String {
    use shmkit::render::shell::{quote, quote_bytes};
    use std::os::unix::ffi::OsStrExt;
    match remedy {
        Remedy::RemoveSegment { shmid } => format!("ipcrm -m {shmid}"),
        Remedy::UnlinkFile { path } => format!("rm {}", quote_bytes(path.as_os_str().as_bytes())),
        Remedy::EndHolders { pids } => {
            let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
            format!("kill {}", pids.join(" "))
        }
        Remedy::RemoveInContainer { container, address } => format!(
            "shmkit rm --container {} {}",
            quote(container),
            quote(&address.to_string())
        ),
        Remedy::RemoveInNamespace { pid, address } => {
            format!("shmkit rm --target {pid} {}", quote(&address.to_string()))
        }
        _ => "shmkit rm --help".to_string(),
    }
}

/// Why the scan is not sure nobody holds an object, in words.
pub fn blindness_words(blind: &Blindness) -> String {
    match blind {
        Blindness::UnreadableProcesses { count } => {
            format!("{count} processes this scan could not read may hold it")
        }
        Blindness::ChildPidNamespace => {
            "this runs in a child pid namespace: processes outside it may hold it".to_string()
        }
        Blindness::CreatorUnknown => {
            "its creator is in a pid namespace this one cannot see".to_string()
        }
        Blindness::HoldersNotScanned => "holders were not looked for".to_string(),
        _ => "the scan could not see every process".to_string(),
    }
}

/// In use, idle for how long, or leaked, with why the scan is unsure when it is.
pub fn usage_words(usage: &Usage, uncertain: Option<&Blindness>) -> String {
    let mut text = match usage {
        Usage::InUse => "in use".to_string(),
        Usage::Idle { since: Some(t) } => {
            format!(
                "idle for {} (nobody holds it)",
                age(now().saturating_sub(*t))
            )
        }
        Usage::Idle { since: None } => "idle (nobody holds it)".to_string(),
        Usage::Leaked { reason } => format!("leaked: {}", leak_words(reason)),
        _ => "unknown".to_string(),
    };
    if let Some(blind) = uncertain {
        text.push_str(&format!("; uncertain: {}", blindness_words(blind)));
    }
    text
}

fn status_cell(o: &Object, now: i64) -> String {
    let s = &o.status;
    let q = if s.uncertain.is_some() { "?" } else { "" };
    let usage = match s.usage {
        Usage::Leaked { .. } => Some(format!("orphan{q}")),
        Usage::Idle { since: Some(t) } => Some(format!("idle{q} {}", age(now.saturating_sub(t)))),
        Usage::Idle { since: None } => Some(format!("idle{q}")),
        _ => None,
    };
    let flags: Vec<String> = usage
        .into_iter()
        .chain(
            [
                (s.marked_for_destruction, "removed"),
                (s.locked, "locked"),
                (s.hugetlb, "hugetlb"),
                (s.deleted, "deleted"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| name.to_string()),
        )
        .collect();
    if flags.is_empty() {
        "-".to_string()
    } else {
        flags.join(",")
    }
}

/// The columns of `ls` (for `--help`).
pub fn columns() -> Table {
    build_table(&[], false, 0, TimeFormat::Short)
}

/// The table of `objects` with every column, optional ones included; leaks are marked.
pub fn build_table(objects: &[&Object], exact: bool, now: i64, times: TimeFormat) -> Table {
    // CONTAINER is a default column only when something listed lives in another namespace;
    // on a host without containers it would be a column of `-` (`-o CONTAINER` shows it).
    let foreign = objects.iter().any(|o| o.location.foreign);
    let mut defaults = vec![("KIND", Align::Left), ("ID/NAME", Align::Left)];
    if foreign {
        defaults.push(("CONTAINER", Align::Left));
    }
    defaults.extend([
        ("SIZE", Align::Right),
        ("RSS", Align::Right),
        ("SWAP", Align::Right),
        ("OWNER", Align::Left),
        ("MODE", Align::Left),
        ("HOLDERS", Align::Left),
        ("CREATOR", Align::Left),
        ("AGE", Align::Right),
        ("STATUS", Align::Left),
    ]);
    let mut optional = vec![
        ("ADDRESS", Align::Left),
        ("UID", Align::Right),
        ("GID", Align::Right),
        ("NATTCH", Align::Right),
        ("CREATED", Align::Left),
    ];
    if !foreign {
        optional.push(("CONTAINER", Align::Left));
    }
    let mut t = Table::new(&defaults).optional(&optional);
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |b| size::bytes(b, exact));
    for o in objects {
        let name = match &o.sysv {
            Some(s) => format!("{} id={}", o.name, s.shmid),
            None => sanitize(&o.name),
        };
        let creator = match &o.sysv {
            Some(s) => match &s.creator.comm {
                Some(comm) => format!("{}/{}", s.creator.pid, sanitize(comm)),
                // The kernel's pid 0: a creator in a pid namespace we cannot see.
                None if s.creator.pid == 0 => "unknown".to_string(),
                None => format!("{} (exited)", s.creator.pid),
            },
            None => "-".to_string(),
        };
        let place = sanitize(&o.location.label());
        let mut row = vec![o.kind.to_string(), name];
        if foreign {
            row.push(place.clone());
        }
        row.extend([
            size::bytes(o.size, exact),
            opt(o.resident),
            opt(o.swapped),
            o.user.clone().unwrap_or_else(|| o.uid.to_string()),
            format!("{:04o}", o.mode),
            holders_cell(o),
            creator,
            o.created
                .map_or("-".to_string(), |c| age(now.saturating_sub(c))),
            status_cell(o, now),
            sanitize(&o.address.to_string()),
            o.uid.to_string(),
            o.gid.to_string(),
            o.sysv
                .as_ref()
                .map_or("-".to_string(), |s| s.nattch.to_string()),
            o.created
                .map_or("-".to_string(), |c| time::local(c, times, now)),
        ]);
        if !foreign {
            row.push(place);
        }
        t.row(row);
        if o.status.orphan {
            t.mark_last();
        }
    }
    t
}

/// Lists the leaks among `objects`, each with why it is one and the command that frees it.
pub fn write_free_commands(out: &mut dyn Write, objects: &[&Object]) -> std::io::Result<()> {
    let leaks: Vec<(String, String)> = objects
        .iter()
        .filter_map(|o| {
            let Usage::Leaked { reason } = &o.status.usage else {
                return None;
            };
            let name = match &o.sysv {
                Some(s) => format!("{} {} id={}", o.kind, o.name, s.shmid),
                None => format!("{} {}", o.kind, sanitize(&o.name)),
            };
            let mut why = leak_words(reason);
            if let Some(blind) = &o.status.uncertain {
                why.push_str(&format!(" (uncertain: {})", blindness_words(blind)));
            }
            Some((remedy_command(o.remedy.as_ref()?), format!("{name}: {why}")))
        })
        .collect();
    if leaks.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nleaks, and the command that frees each:")?;
    let width = leaks.iter().map(|(cmd, _)| cmd.len()).max().unwrap_or(0);
    for (cmd, why) in leaks {
        writeln!(out, "  {cmd:width$}  # {why}")?;
    }
    Ok(())
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Says what the scan could not see, if anything.
pub fn write_coverage(out: &mut dyn Write, coverage: &Coverage) -> std::io::Result<()> {
    if coverage.processes_vanished > 0 || coverage.objects_vanished > 0 {
        writeln!(
            out,
            "skipped: {} and {} that vanished during the scan",
            plural(coverage.processes_vanished, "process", "processes"),
            plural(coverage.objects_vanished, "object", "objects"),
        )?;
    }
    for note in &coverage.notes {
        writeln!(out, "note: {note}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remedies_are_worded_as_the_command_lines_that_carry_them_out() {
        assert_eq!(
            remedy_command(&Remedy::RemoveSegment { shmid: 294918 }),
            "ipcrm -m 294918"
        );
        assert_eq!(
            remedy_command(&Remedy::EndHolders {
                pids: vec![42, 4242]
            }),
            "kill 42 4242"
        );
        assert_eq!(
            remedy_command(&Remedy::RemoveInContainer {
                container: "web".into(),
                address: "sysv:id=3".parse().unwrap(),
            }),
            "shmkit rm --container web sysv:id=3"
        );
        assert_eq!(
            remedy_command(&Remedy::RemoveInNamespace {
                pid: 77,
                address: "posix:/orders".parse().unwrap(),
            }),
            "shmkit rm --target 77 posix:/orders"
        );
    }

    #[test]
    fn an_unlink_remedy_names_a_hostile_path_exactly_on_one_line() {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::OsStr::from_bytes(b"/dev/shm/a\nrm -rf ~ \xff").into();
        let line = remedy_command(&Remedy::UnlinkFile { path });
        assert_eq!(line, r"rm $'/dev/shm/a\nrm -rf ~ \xff'");
        assert_eq!(
            remedy_command(&Remedy::UnlinkFile {
                path: "/dev/shm/orders".into()
            }),
            "rm /dev/shm/orders"
        );
    }
}
