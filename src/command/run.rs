//! `shmkit run --persist FILE -- CMD ARGS...`: a container entrypoint that keeps CMD's System
//! V and POSIX shared memory across restarts.
//!
//! It behaves as an init should, since it is often pid 1 of a container:
//! - one `run --persist` per snapshot file: a second one refuses (exit 9) instead of both
//!   saving and one losing (a `flock` on `.FILE.run.shmkit-lock` beside it, dropped by the
//!   kernel however we die);
//! - restore FILE (if it exists) before CMD starts;
//! - CMD gets `PR_SET_PDEATHSIG` (SIGKILL): if shmkit is killed, CMD does not run on unsaved;
//! - a failed exec exits like a shell: 127 not found, 126 not executable;
//! - save every `--every` interval, and keep saving after a SIGTERM that CMD ignores;
//! - SIGHUP: save now, then pass it on; SIGTERM and SIGINT: pass them on, wait for CMD,
//!   save; exit with CMD's status (128+N if signal N killed it);
//! - every child that ends is reaped (`waitpid(-1)`), so orphans re-parented to pid 1 do not
//!   pile up as zombies.
//!
//! Signals are caught with the `signal-hook` crate: it is sound (its handlers only store an
//! atomic and write a byte to a self-pipe, both async-signal-safe). The main loop sleeps on
//! the self-pipe with the time left until the next save, so SIGCHLD, SIGTERM, SIGINT and
//! SIGHUP wake it at once and a signal arriving between two checks is never lost (its byte
//! waits in the pipe).

use crate::command::snapshot::{parse_selectors, print_save};
use crate::output::count;
use shmkit::procfs::ProcRoot;
use shmkit::snapshot::{self, RestoreOptions, SaveOptions};
use shmkit::{Error, ErrorKind};
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of `shmkit run`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  shmkit run --persist /data/shm.snap -- ./legacy-server --port 9000
  shmkit run --persist /data/shm.snap --every 10s sysv:5678 -- ./writer
  shmkit run --persist /data/shm.snap --every 0 sysv:all posix:all -- ./app   # save on exit only

Messages go to stderr; CMD keeps stdin, stdout and stderr. SIGHUP saves at once and is
passed on; SIGTERM and SIGINT are passed on, and the final save follows CMD's exit. If
shmkit is killed, CMD is killed too. One run --persist per FILE: a second one exits 9.

Exit status: CMD's (128+N if signal N killed it); 127 if CMD is not found, 126 if it
cannot be executed; if CMD succeeded but the final save failed, the save's exit code.")]
pub struct Args {
    /// The snapshot file (put it on a volume): restored before CMD starts if it exists,
    /// replaced atomically at every save.
    #[arg(long, value_name = "FILE")]
    pub persist: PathBuf,
    /// How often to save while CMD runs (30s, 5m; 0 = only when CMD exits).
    #[arg(long, default_value = "30s", value_name = "INTERVAL")]
    pub every: String,
    /// Restore over objects that already exist with the same key or name.
    #[arg(long)]
    pub replace: bool,
    /// Before the final save, wait up to TIMEOUT for every segment to be detached (then save
    /// anyway, saying which copies may be torn).
    #[arg(long, value_name = "TIMEOUT")]
    pub wait_detached: Option<String>,
    /// What to save (default: all): sysv:KEY, sysv:id=N, sysv:all, sysv:user=U, posix:/NAME,
    /// posix:all.
    pub selectors: Vec<String>,
    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// The signals `run` acts on, each its own flag so that two arriving together are both seen.
#[derive(Debug, Default)]
struct Signals {
    term: Arc<AtomicBool>,
    int: Arc<AtomicBool>,
    hup: Arc<AtomicBool>,
}

impl Signals {
    /// Registers the flags and the wake-up pipe; before the child exists, so neither its
    /// SIGCHLD nor an early SIGTERM can be missed.
    fn register(wake: &UnixStream) -> anyhow::Result<Signals> {
        let signals = Signals::default();
        for (sig, flag) in [
            (SIGTERM, &signals.term),
            (SIGINT, &signals.int),
            (SIGHUP, &signals.hup),
        ] {
            signal_hook::flag::register(sig, Arc::clone(flag))?;
            signal_hook::low_level::pipe::register(sig, wake.try_clone()?)?;
        }
        signal_hook::low_level::pipe::register(SIGCHLD, wake.try_clone()?)?;
        Ok(signals)
    }
}

/// Runs `shmkit run`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = ProcRoot::live();
    let selectors = parse_selectors(&root, &args.selectors)?;
    let every = snapshot::parse_duration(&args.every)?;
    let final_wait = args
        .wait_detached
        .as_deref()
        .map(snapshot::parse_duration)
        .transpose()?;
    let file = args.persist.clone();
    let _lock = lock_run(&file)?;

    // An unfinished restore (shmkit killed during one) is completed by `snapshot::restore`
    // itself, which recognises its own leftovers: nothing more to do here first.
    if file.exists() {
        let report = snapshot::restore(&file, &RestoreOptions::default().replace(args.replace))?;
        msg!(
            "shmkit run: restored {} from {}",
            count(report.objects.len(), "object", "objects"),
            file.display()
        );
        // A signal that arrived while the restore committed was held until it finished: it
        // was meant for us, so the command does not start.
        if let Some(sig) = report.deferred_signal {
            msg!(
                "shmkit run: {} arrived while the restore was committing; it finished, and {} does not start",
                shmkit::sys::signal::signal_name(sig),
                args.command[0]
            );
            return Ok(ExitCode::from(128u8.saturating_add(sig as u8)));
        }
    } else {
        msg!(
            "shmkit run: {} does not exist yet: starting empty",
            file.display()
        );
    }

    let (mut wake_rx, wake_tx) = UnixStream::pair()?;
    let signals = Signals::register(&wake_tx)?;
    drop(wake_tx);

    let mut command = std::process::Command::new(&args.command[0]);
    command.args(&args.command[1..]);
    let child = match shmkit::sys::process::spawn_dying_with_parent(&mut command, libc::SIGKILL) {
        Ok(child) => child,
        Err(e) => return Ok(exec_failed(&args.command[0], &e)),
    };
    let pid = child.id();
    // Reaped below with waitpid(-1), never through `child`: as pid 1 every orphan is ours too.
    drop(child);

    let save_opts = SaveOptions::default().selectors(selectors.clone());
    let mut next_save = (!every.is_zero()).then(|| Instant::now() + every);
    let status = loop {
        if let Some(status) = reap_children(pid)? {
            break status;
        }
        if signals.hup.swap(false, Ordering::SeqCst) {
            periodic_save(&root, &file, &save_opts, "on SIGHUP");
            forward(pid, SIGHUP);
            continue;
        }
        for (flag, sig) in [(&signals.term, SIGTERM), (&signals.int, SIGINT)] {
            if flag.swap(false, Ordering::SeqCst) {
                forward(pid, sig);
            }
        }
        let now = Instant::now();
        if let Some(at) = next_save {
            // Saves go on after a SIGTERM: CMD may ignore it and run for a long time yet.
            if now >= at {
                periodic_save(&root, &file, &save_opts, "periodic");
                next_save = Some(Instant::now() + every);
                continue;
            }
        }
        let wait = next_save
            .map_or(Duration::from_secs(3600), |at| {
                at.saturating_duration_since(now)
            })
            .max(Duration::from_millis(1));
        wake_rx.set_read_timeout(Some(wait))?;
        let mut buf = [0u8; 64];
        // Woken by a signal's byte or by the timeout; either way the loop re-checks everything.
        let _ = wake_rx.read(&mut buf);
    };

    let final_opts = SaveOptions::default()
        .selectors(selectors)
        .wait_detached(final_wait);
    let save_result = match snapshot::save(&root, &file, &final_opts) {
        // Still attached after the wait (processes other than CMD): a possibly torn copy is
        // better than none.
        Err(e) if e.kind() == ErrorKind::Busy => {
            msg!("shmkit run: {e}; saving anyway");
            snapshot::save(&root, &file, &save_opts)
        }
        other => other,
    };
    let cmd_code: u8 = match (status.code(), status.signal()) {
        (Some(c), _) => u8::try_from(c).unwrap_or(1),
        (None, Some(s)) => u8::try_from(128 + s).unwrap_or(255),
        _ => 1,
    };
    match save_result {
        Ok(report) => {
            let mut err = std::io::stderr().lock();
            let _ = write_prefixed(&report, &mut err);
            Ok(ExitCode::from(cmd_code))
        }
        Err(e) => {
            msg!("shmkit run: final save failed: {e}");
            if cmd_code == 0 {
                Ok(ExitCode::from(e.kind().exit_code()))
            } else {
                Ok(ExitCode::from(cmd_code))
            }
        }
    }
}

/// Takes the lock that makes this the only `run --persist` of `file`: two would each save
/// their own objects over the other's, and both say "saved".
fn lock_run(file: &Path) -> anyhow::Result<File> {
    let name = file.file_name().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidInput,
            file.display().to_string(),
            "is not a file name",
        )
        .with_fix("give the snapshot's file path, e.g. /data/shm.snap")
    })?;
    let mut lock_name = std::ffi::OsString::from(".");
    lock_name.push(name);
    lock_name.push(".run.shmkit-lock");
    let lock_path = file.with_file_name(lock_name);
    let shown = lock_path.display().to_string();
    let lock = File::options()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(&lock_path)
        .map_err(|e| {
            Error::io(&shown, "open lock file", e)
                .with_fix("put the snapshot in a directory that exists and that you may write")
        })?;
    if !lock.metadata().map(|m| m.is_file()).unwrap_or(false) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            shown,
            "is not a regular file, so it cannot be the lock of a snapshot",
        )
        .with_fix("remove it; shmkit creates the lock file itself")
        .into());
    }
    let locked = shmkit::sys::process::try_lock_exclusive(std::os::fd::AsFd::as_fd(&lock))
        .map_err(|e| Error::io(&shown, "flock", e).with_fix("use a local filesystem"))?;
    if !locked {
        return Err(Error::new(
            ErrorKind::Busy,
            file.display().to_string(),
            "another `shmkit run --persist` uses this snapshot (it holds the lock on its lock file); two would save over each other's objects",
        )
        .with_fix("give each program its own snapshot file, or stop the other one first")
        .into());
    }
    Ok(lock)
}

/// Reaps every child that has ended; the direct child's status once it has.
fn reap_children(direct: u32) -> anyhow::Result<Option<ExitStatus>> {
    let mut status = None;
    while let Some((pid, st)) = shmkit::sys::process::reap_any()? {
        if pid == direct {
            status = Some(st);
        }
    }
    Ok(status)
}

/// Passes `sig` on to the child; it may have ended meanwhile (ESRCH): the reaper sees it next.
fn forward(pid: u32, sig: i32) {
    let _ = shmkit::sys::process::kill(pid, sig);
}

/// A save while the child runs; a failure must not stop the program: the next one may work.
fn periodic_save(root: &ProcRoot, file: &Path, opts: &SaveOptions, why: &str) {
    match snapshot::save(root, file, opts) {
        Ok(r) => msg!(
            "shmkit run: saved {} to {} ({why}; {} attached while copied)",
            count(r.objects.len(), "object", "objects"),
            file.display(),
            r.torn().count()
        ),
        Err(e) => msg!("shmkit run: {why} save failed: {e}"),
    }
}

/// Says why the command could not start and exits as a shell would: 127 when there is no
/// such command, 126 when it exists but cannot be executed.
fn exec_failed(command: &str, err: &std::io::Error) -> ExitCode {
    let cause = shmkit::error::os_message(err);
    let (code, what, fix) = match err.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => {
            (127, "not found", "check its path, or that it is in PATH")
        }
        Some(libc::EACCES) | Some(libc::EPERM) => (
            126,
            "cannot be executed",
            "make it executable (chmod +x) and check the filesystem is not mounted noexec",
        ),
        Some(libc::ENOEXEC) => (
            126,
            "cannot be executed",
            "it is not a program this kernel runs: add a #! line if it is a script",
        ),
        _ => (
            126,
            "cannot be executed",
            "check the command and its permissions",
        ),
    };
    msg!(
        "shmkit run: {}: {what} ({cause}); {fix}",
        shmkit::render::table::sanitize(command)
    );
    ExitCode::from(code)
}

/// The save summary on stderr, each line prefixed like the command's other messages.
fn write_prefixed(
    report: &snapshot::SaveReport,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut text = Vec::new();
    print_save(report, &mut text)?;
    for line in String::from_utf8_lossy(&text).lines() {
        writeln!(out, "shmkit run: {line}")?;
    }
    Ok(())
}
