//! `shmkit snapshot save | restore | verify | ls`: System V and POSIX objects to a file and
//! back (format in docs/snapshot-format.md).

use crate::output::{count, print_versioned, TableArgs, TimeFormatArg};
use shmkit::procfs::ProcRoot;
use shmkit::render::size::human;
use shmkit::render::table::{sanitize, Align, Table};
use shmkit::snapshot::{self, RestoreOptions, SaveOptions, SaveReport, Selector};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `shmkit snapshot`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  shmkit snapshot save /data/shm.snap                  # every keyed segment and /dev/shm object
  shmkit snapshot save /data/shm.snap sysv:5678 posix:/orders
  shmkit snapshot save /data/shm.snap sysv:all --wait-detached 10s
  shmkit snapshot ls /data/shm.snap
  shmkit snapshot restore /data/shm.snap --dry-run
  shmkit snapshot restore /data/shm.snap --replace

Selectors: sysv:KEY, sysv:0xHEX, sysv:id=SHMID, sysv:all (keyed segments of this IPC
namespace), sysv:user=NAME|UID, posix:/NAME, posix:all, all (the default).
Restore exits 4 on a conflict (nothing created) and 7 on a damaged file (nothing created).")]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// The snapshot actions.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Save objects to FILE atomically (temporary file, fsync, rename, fsync directory).
    Save(SaveArgs),
    /// Recreate every object in FILE, all or nothing.
    Restore(RestoreArgs),
    /// Check every checksum in FILE.
    Verify(FileArgs),
    /// List the objects in FILE (verifies it too).
    Ls(LsArgs),
}

/// Options of `snapshot save`.
#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// The snapshot file to write (replaced atomically).
    pub file: PathBuf,
    /// What to save (default: all).
    pub selectors: Vec<String>,
    /// Wait up to TIMEOUT (30s, 500ms) until no process is attached to the selected segments,
    /// so the copy is consistent; exit 9 if they stay attached.
    #[arg(long, value_name = "TIMEOUT")]
    pub wait_detached: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Act inside a container or another process's namespaces.
    #[command(flatten)]
    pub inside: super::inside::Inside,
}

/// Options of `snapshot restore`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The snapshot file.
    pub file: PathBuf,
    /// Replace objects that already exist with the same key or name.
    #[arg(long)]
    pub replace: bool,
    /// Verify and check for conflicts; create nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Act inside a container or another process's namespaces.
    #[command(flatten)]
    pub inside: super::inside::Inside,
}

/// Options of `snapshot verify` and `snapshot ls`.
#[derive(Debug, clap::Args)]
pub struct FileArgs {
    /// The snapshot file.
    pub file: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `snapshot ls`.
#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// The snapshot file.
    pub file: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Print sizes in bytes.
    #[arg(long, short)]
    pub bytes: bool,
    /// How the date the snapshot was taken is written, in local time.
    #[arg(long, value_enum, default_value_t = TimeFormatArg::Iso, value_name = "FORMAT")]
    pub time_format: TimeFormatArg,
    /// -o/--output, --output-all, -n/--noheadings, --raw.
    #[command(flatten)]
    pub table: TableArgs,
}

/// Runs `shmkit snapshot`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.action {
        Action::Save(a) => {
            let root = ProcRoot::live();
            let opts = SaveOptions::default()
                .selectors(parse_selectors(&root, &a.selectors)?)
                .wait_detached(
                    a.wait_detached
                        .as_deref()
                        .map(snapshot::parse_duration)
                        .transpose()?,
                );
            let report = snapshot::save(&root, &a.file, &opts)?;
            crate::output::done(format!(
                "saved {} to {}",
                count(report.objects.len(), "object", "objects"),
                a.file.display()
            ));
            if a.json {
                print_skipped(&report);
                print_versioned("shmkit.snapshot-save/2", &SaveOut::from(&report))?;
            } else {
                print_save(&report, &mut crate::output::stdout())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Restore(a) => {
            let opts = RestoreOptions::default()
                .replace(a.replace)
                .dry_run(a.dry_run);
            let report = snapshot::restore(&a.file, &opts)?;
            for note in &report.recovered {
                crate::msg!("shmkit: note: {}: {note}", a.file.display());
            }
            for r in &report.objects {
                let addr = sanitize(&r.meta.address());
                if r.meta.mode & 0o002 != 0 {
                    crate::msg!(
                        "shmkit: warning: {addr}: mode {:04o} lets every user on this host{} write it; chmod it to 600 or 660 unless that is what you want",
                        r.meta.mode,
                        if r.meta.kind == shmkit::scan::Kind::Sysv {
                            " (in this IPC namespace)"
                        } else {
                            ""
                        }
                    );
                }
                if (r.set_uid, r.set_gid) != (r.meta.uid, r.meta.gid) {
                    crate::msg!(
                        "shmkit: note: {addr}: owner {} uid {}, gid {} (saved: uid {}, gid {}); only root can give a file to another user",
                        if a.dry_run { "would be" } else { "is" },
                        r.set_uid,
                        r.set_gid,
                        r.meta.uid,
                        r.meta.gid
                    );
                }
            }
            if !a.dry_run {
                crate::output::done(format!(
                    "restored {} from {}",
                    count(report.objects.len(), "object", "objects"),
                    a.file.display()
                ));
            }
            if a.json {
                print_versioned(
                    "shmkit.snapshot-restore/2",
                    &RestoreOut::new(&report, a.dry_run),
                )?;
            } else {
                let mut out = crate::output::stdout();
                for r in &report.objects {
                    let verb = match r.action {
                        snapshot::Action::Created => "created",
                        snapshot::Action::Replaced => "replaced",
                        snapshot::Action::Completed => "kept (completed by an earlier restore)",
                        snapshot::Action::WouldCreate => "would create",
                        snapshot::Action::WouldReplace => "would replace",
                        snapshot::Action::WouldKeep => {
                            "would keep (completed by an earlier restore)"
                        }
                        snapshot::Action::WouldConflict => "exists, so nothing would be restored:",
                        _ => "would restore",
                    };
                    let id = r
                        .new_shmid
                        .map(|i| format!(" (id {i})"))
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "{verb} {}{id}: {}, mode {:04o}, uid {}, gid {}{}",
                        sanitize(&r.meta.address()),
                        human(r.meta.size),
                        r.meta.mode,
                        r.set_uid,
                        r.set_gid,
                        if r.meta.hugetlb { ", huge pages" } else { "" }
                    )?;
                }
                if report.conflict.is_none() {
                    let n = report.objects.len();
                    let what = if a.dry_run {
                        "would restore"
                    } else {
                        "restored"
                    };
                    writeln!(
                        out,
                        "{what} {} from {}",
                        count(n, "object", "objects"),
                        report.path.display()
                    )?;
                }
            }
            if let Some(conflict) = &report.conflict {
                crate::msg!("shmkit: {conflict}");
                return Ok(ExitCode::from(conflict.kind().exit_code()));
            }
            if let Some(sig) = report.deferred_signal {
                crate::msg!(
                    "shmkit: {}: {} arrived while the restore was committing; it finished first, then stops",
                    a.file.display(),
                    shmkit::sys::signal::signal_name(sig)
                );
                return Ok(ExitCode::from(128u8.saturating_add(sig as u8)));
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Verify(a) => {
            let v = snapshot::verify_file(&a.file)?;
            if a.json {
                print_versioned("shmkit.snapshot-verify/3", &LsOut::from(&v))?;
            } else {
                let bytes: u64 = v.objects.iter().map(|o| o.meta.size).sum();
                writeln!(
                    crate::output::stdout(),
                    "{}: ok: {}, {} of content, file checksum {:016x}",
                    a.file.display(),
                    count(v.footer.object_count, "object", "objects"),
                    human(bytes),
                    v.footer.checksum
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Ls(a) => {
            let v = snapshot::verify_file(&a.file)?;
            if a.json {
                print_versioned("shmkit.snapshot-ls/3", &LsOut::from(&v))?;
                return Ok(ExitCode::SUCCESS);
            }
            print_ls(&a, &v, &mut crate::output::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What `snapshot ls --json` prints (`shmkit.snapshot-ls/3`): each object with the address it
/// had when saved (the one `ls`, `mem`, `stat` and `rm` gave it) and the one a restore
/// recreates; null where a field does not apply; 64-bit checksums as hex strings, which
/// JSON numbers (doubles) cannot carry exactly.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct LsOut {
    /// When the snapshot was taken (unix seconds).
    created_unix: i64,
    format_version: u16,
    objects: Vec<LsObject>,
    object_count: u64,
    /// The file's checksum (XXH3-64, 16 hex digits).
    checksum: String,
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
struct LsObject {
    #[serde(flatten)]
    record: Record,
    /// Bytes of content the file holds for it (runs of zeros are not stored).
    stored: u64,
    /// Its content's checksum (XXH3-64, 16 hex digits).
    checksum: String,
}

/// One object as a snapshot holds it, the same in `snapshot ls`, `save` and `restore`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
struct Record {
    kind: shmkit::scan::Kind,
    /// Its address when it was saved, as `ls` gave it.
    address: shmkit::address::Address,
    /// The address a restore recreates (`sysv:KEY`, `sysv:private`, `posix:/NAME`).
    restores_to: String,
    /// The System V key; null for a POSIX object.
    key: Option<i32>,
    /// The segment id when it was saved; null for a POSIX object.
    shmid: Option<i32>,
    /// The POSIX name (escaped as in `ls`); null for a segment.
    name: Option<String>,
    size: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    locked: bool,
    hugetlb: bool,
    /// Attachments when it was saved: above 0, the copy may be torn.
    nattch: u64,
}

impl From<&snapshot::ObjectMeta> for Record {
    fn from(m: &snapshot::ObjectMeta) -> Record {
        let sysv = m.kind == shmkit::scan::Kind::Sysv;
        Record {
            kind: m.kind,
            address: saved_address(m),
            restores_to: m.address(),
            key: sysv.then_some(m.key),
            shmid: sysv.then_some(m.shmid),
            name: (!sysv).then(|| snapshot::escape_name(&m.name)),
            size: m.size,
            mode: m.mode,
            uid: m.uid,
            gid: m.gid,
            locked: m.locked,
            hugetlb: m.hugetlb,
            nattch: m.nattch,
        }
    }
}

/// What `snapshot save --json` prints (`shmkit.snapshot-save/2`).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct SaveOut {
    /// The snapshot file.
    path: String,
    objects: Vec<SavedOut>,
    /// Objects selected but removed before they could be copied.
    vanished: Vec<String>,
    /// Objects left out, each with the reason.
    skipped: Vec<SkippedOut>,
    /// Bytes of content of all objects.
    size: u64,
    /// Bytes of content stored (the rest were all-zero pages).
    stored: u64,
    /// Size of the snapshot file in bytes.
    file_size: u64,
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
struct SavedOut {
    #[serde(flatten)]
    record: Record,
    /// Its content's checksum (XXH3-64, 16 hex digits).
    checksum: String,
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
struct SkippedOut {
    object: String,
    reason: String,
}

impl From<&SaveReport> for SaveOut {
    fn from(r: &SaveReport) -> SaveOut {
        SaveOut {
            path: r.path.display().to_string(),
            objects: r
                .objects
                .iter()
                .map(|o| SavedOut {
                    record: Record::from(&o.meta),
                    checksum: format!("{:016x}", o.checksum),
                })
                .collect(),
            vanished: r.vanished.clone(),
            skipped: r
                .skipped
                .iter()
                .map(|s| SkippedOut {
                    object: s.object.clone(),
                    reason: s.reason.clone(),
                })
                .collect(),
            size: r.content_bytes,
            stored: r.stored_bytes,
            file_size: r.file_bytes,
        }
    }
}

/// What `snapshot restore --json` prints (`shmkit.snapshot-restore/2`), also for a dry run
/// that meets a conflict.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct RestoreOut {
    /// The snapshot file.
    path: String,
    /// When the snapshot was taken (unix seconds).
    created_unix: i64,
    dry_run: bool,
    objects: Vec<RestoredOut>,
    /// What was found of an earlier restore that did not finish, and what was done with it.
    recovered: Vec<String>,
    /// A signal that arrived while the restore committed (it finished first), or null.
    deferred_signal: Option<i32>,
    /// A dry run without --replace that meets objects that exist: why the restore would
    /// create nothing (the objects are `would-conflict`), as `shmkit.error/1` tells an error;
    /// null otherwise.
    conflict: Option<Conflict>,
}

/// Why a restore would create nothing.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
struct Conflict {
    /// The object (and how many more).
    object: String,
    cause: String,
    fix: Option<String>,
    /// The exit code the command ends with.
    exit_code: u8,
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
struct RestoredOut {
    #[serde(flatten)]
    record: Record,
    /// What was done, or with --dry-run what would be.
    action: snapshot::Action,
    /// The segment's new id (System V; null for a dry run and POSIX objects).
    new_shmid: Option<i32>,
    /// The owner it has now (or would get).
    set_uid: u32,
    /// The group it has now (or would get).
    set_gid: u32,
}

impl RestoreOut {
    fn new(r: &snapshot::RestoreReport, dry_run: bool) -> RestoreOut {
        RestoreOut {
            path: r.path.display().to_string(),
            created_unix: r.created,
            dry_run,
            objects: r
                .objects
                .iter()
                .map(|o| RestoredOut {
                    record: Record::from(&o.meta),
                    action: o.action,
                    new_shmid: o.new_shmid,
                    set_uid: o.set_uid,
                    set_gid: o.set_gid,
                })
                .collect(),
            recovered: r.recovered.clone(),
            deferred_signal: r.deferred_signal,
            conflict: r.conflict.as_ref().map(|e| Conflict {
                object: e.object().to_string(),
                cause: e.cause().to_string(),
                fix: e.fix().map(str::to_string),
                exit_code: e.kind().exit_code(),
            }),
        }
    }
}

/// The address the object had when saved, as `ls` gave it: a segment by id, a POSIX object by
/// name, or by its file when the name is not UTF-8.
fn saved_address(m: &snapshot::ObjectMeta) -> shmkit::address::Address {
    use shmkit::address::{Address, SysvAddress};
    use std::os::unix::ffi::OsStringExt;
    match m.kind {
        shmkit::scan::Kind::Sysv => Address::Sysv(SysvAddress::Id(m.shmid)),
        _ => match String::from_utf8(m.name.clone()) {
            Ok(name) => Address::Posix(name),
            Err(_) => Address::File(std::path::PathBuf::from(std::ffi::OsString::from_vec(
                [b"/dev/shm".as_slice(), &m.name].concat(),
            ))),
        },
    }
}

impl From<&snapshot::Verified> for LsOut {
    fn from(v: &snapshot::Verified) -> LsOut {
        let objects = v
            .objects
            .iter()
            .map(|o| LsObject {
                record: Record::from(&o.meta),
                stored: o.stored_bytes,
                checksum: format!("{:016x}", o.checksum),
            })
            .collect();
        LsOut {
            created_unix: v.header.created,
            format_version: v.header.version,
            objects,
            object_count: v.footer.object_count,
            checksum: format!("{:016x}", v.footer.checksum),
        }
    }
}

/// Parses selector words (`all` when there are none).
pub fn parse_selectors(root: &ProcRoot, words: &[String]) -> anyhow::Result<Vec<Selector>> {
    let needs_users = words.iter().any(|w| w.starts_with("sysv:user="));
    let users = if needs_users {
        root.users().unwrap_or_default()
    } else {
        Default::default()
    };
    let mut out = Vec::new();
    for w in words {
        out.extend(snapshot::select::parse(w, &users)?);
    }
    Ok(out)
}

/// Names every object a save left out, with the reason, on stderr.
pub fn print_skipped(report: &SaveReport) {
    for s in &report.skipped {
        crate::msg!(
            "shmkit: note: {} was not saved: {}",
            sanitize(&s.object),
            s.reason
        );
    }
}

/// The human summary of a save, with the torn-copy warnings (and the skipped objects on
/// stderr).
pub fn print_save(report: &SaveReport, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "saved {} to {}: {} of content, {} stored, file {}",
        count(report.objects.len(), "object", "objects"),
        report.path.display(),
        human(report.content_bytes),
        human(report.stored_bytes),
        human(report.file_bytes)
    )?;
    print_skipped(report);
    for v in &report.vanished {
        writeln!(
            out,
            "note: {} was removed before it could be copied",
            sanitize(v)
        )?;
    }
    for o in report.torn() {
        writeln!(
            out,
            "warning: {} had {} while it was copied: the copy may be torn; \
             stop the writers or use --wait-detached TIMEOUT for a consistent snapshot",
            o.meta.address(),
            count(o.meta.nattch, "attachment", "attachments")
        )?;
    }
    Ok(())
}

fn print_ls(a: &LsArgs, v: &snapshot::Verified, out: &mut dyn Write) -> anyhow::Result<()> {
    if a.table.decorated() {
        let now = crate::command::ls::now();
        writeln!(
            out,
            "{}: format {}, taken {}, {}, checksum {:016x}",
            a.file.display(),
            v.header.version,
            shmkit::render::time::local(v.header.created, a.time_format.into(), now),
            count(v.footer.object_count, "object", "objects"),
            v.footer.checksum
        )?;
    }
    crate::output::write_table(out, &ls_table(&v.objects, a.bytes), &a.table, &|l| {
        l.to_string()
    })
}

/// The columns of `snapshot ls` (for `--help`).
pub fn columns() -> Table {
    ls_table(&[], false)
}

/// One row per object of the snapshot.
fn ls_table(objects: &[snapshot::SavedObject], exact: bool) -> Table {
    let human = |b: u64| shmkit::render::size::bytes(b, exact);
    let mut t = Table::new(&[
        ("OBJECT", Align::Left),
        ("SIZE", Align::Right),
        ("STORED", Align::Right),
        ("MODE", Align::Left),
        ("UID", Align::Right),
        ("GID", Align::Right),
        ("FLAGS", Align::Left),
        ("CHECKSUM", Align::Left),
    ]);
    for o in objects {
        let mut flags = Vec::new();
        if o.meta.locked {
            flags.push("locked".to_string());
        }
        if o.meta.hugetlb {
            flags.push("hugetlb".to_string());
        }
        if o.meta.maybe_torn() {
            flags.push(format!("attached={} (may be torn)", o.meta.nattch));
        }
        t.row(vec![
            sanitize(&o.meta.address()),
            human(o.meta.size),
            human(o.stored_bytes),
            format!("{:04o}", o.meta.mode),
            o.meta.uid.to_string(),
            o.meta.gid.to_string(),
            if flags.is_empty() {
                "-".into()
            } else {
                flags.join(",")
            },
            format!("{:016x}", o.checksum),
        ]);
    }
    t
}
