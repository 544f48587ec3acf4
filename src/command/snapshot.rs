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
    #[arg(long, value_name = "TIMEOUT", value_parser = super::flags::duration)]
    pub wait_detached: Option<std::time::Duration>,
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
            let opts = SaveOptions {
                selectors: parse_selectors(&root, &a.selectors)?,
                wait_detached: a.wait_detached,
            };
            let report = snapshot::save(&root, &a.file, &opts)?;
            crate::output::done(format!(
                "saved {} to {}",
                count(report.objects.len(), "object", "objects"),
                a.file.display()
            ));
            let schema = "shmkit.snapshot-save/1";
            if a.json {
                print_skipped(&report);
                print_versioned(schema, &report)?;
            } else {
                print_save(&report, &mut crate::output::stdout())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Restore(a) => {
            let opts = RestoreOptions {
                replace: a.replace,
                dry_run: a.dry_run,
            };
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
            let schema = "shmkit.snapshot-restore/1";
            if a.json {
                print_versioned(schema, &report)?;
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
                print_versioned("shmkit.snapshot-verify/2", &LsOut::from(&v))?;
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
                print_versioned("shmkit.snapshot-ls/2", &LsOut::from(&v))?;
                return Ok(ExitCode::SUCCESS);
            }
            print_ls(&a, &v, &mut crate::output::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What `snapshot ls --json` prints (`shmkit.snapshot-ls/2`): each object with the address it
/// had when saved (the one `ls`, `mem`, `stat` and `rm` gave it) and the one a restore
/// recreates; null where a field does not apply; 64-bit checksums as hex strings, which
/// JSON numbers (doubles) cannot carry exactly.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct LsOut {
    created: i64,
    format_version: u16,
    objects: Vec<LsObject>,
    object_count: u64,
    checksum: String,
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
struct LsObject {
    kind: shmkit::scan::Kind,
    address: shmkit::address::Address,
    restores_to: String,
    key: Option<i32>,
    shmid: Option<i32>,
    name: Option<String>,
    size: u64,
    stored: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    locked: bool,
    hugetlb: bool,
    nattch: u64,
    checksum: String,
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
            .map(|o| {
                let m = &o.meta;
                let sysv = m.kind == shmkit::scan::Kind::Sysv;
                LsObject {
                    kind: m.kind,
                    address: saved_address(m),
                    restores_to: m.address(),
                    key: sysv.then_some(m.key),
                    shmid: sysv.then_some(m.shmid),
                    name: (!sysv).then(|| snapshot::escape_name(&m.name)),
                    size: m.size,
                    stored: o.stored_bytes,
                    mode: m.mode,
                    uid: m.uid,
                    gid: m.gid,
                    locked: m.locked,
                    hugetlb: m.hugetlb,
                    nattch: m.nattch,
                    checksum: format!("{:016x}", o.checksum),
                }
            })
            .collect();
        LsOut {
            created: v.header.created,
            format_version: v.header.version,
            objects,
            object_count: v.footer.object_count,
            checksum: format!("{:016x}", v.footer.checksum),
        }
    }
}

/// Parses selector words (`all` when there are none).
pub fn parse_selectors(root: &ProcRoot, words: &[String]) -> anyhow::Result<Vec<Selector>> {
    let users = shmkit::accounts::Accounts::of(root);
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
