//! `shmkit run --persist FILE -- CMD ARGS...`: a container entrypoint that keeps CMD's System
//! V and POSIX shared memory across restarts.
//!
//! Restore FILE (if it exists) before CMD starts; save every `--every` interval and when CMD
//! exits; on SIGTERM or SIGINT pass the signal on to CMD, wait for it, then save; exit with
//! CMD's status (128+N if a signal N killed it).
//!
//! Signals are caught with the `signal-hook` crate: it is sound (its handlers only store an
//! atomic and write a byte to a self-pipe, both async-signal-safe), so this command needs no
//! `unsafe` of its own. The main loop sleeps on the self-pipe with the time left until the next
//! save, so SIGCHLD, SIGTERM and SIGINT wake it at once and a signal arriving between two
//! checks is never lost (its byte waits in the pipe).

use crate::command::snapshot::{parse_selectors, print_save};
use shmkit::procfs::ProcRoot;
use shmkit::snapshot::{self, RestoreOptions, SaveOptions};
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of `shmkit run`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  shmkit run --persist /data/shm.snap -- ./legacy-server --port 9000
  shmkit run --persist /data/shm.snap --every 10s sysv:5678 -- ./writer
  shmkit run --persist /data/shm.snap --every 0 sysv:all posix:all -- ./app   # save on exit only

Messages go to stderr; CMD keeps stdin, stdout and stderr. The exit status is CMD's
(128+N if signal N killed it); if CMD succeeded but the final save failed, the save's
exit code.")]
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

    if file.exists() {
        let report = snapshot::restore(
            &file,
            &RestoreOptions {
                replace: args.replace,
                dry_run: false,
            },
        )?;
        msg!(
            "shmkit run: restored {} object(s) from {}",
            report.objects.len(),
            file.display()
        );
    } else {
        msg!(
            "shmkit run: {} does not exist yet: starting empty",
            file.display()
        );
    }

    // Registered before the child exists, so its SIGCHLD cannot come too early.
    let (mut wake_rx, wake_tx) = UnixStream::pair()?;
    let forward = Arc::new(AtomicUsize::new(0));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register_usize(sig, Arc::clone(&forward), sig as usize)?;
        signal_hook::low_level::pipe::register(sig, wake_tx.try_clone()?)?;
    }
    signal_hook::low_level::pipe::register(signal_hook::consts::SIGCHLD, wake_tx)?;

    let mut child = std::process::Command::new(&args.command[0])
        .args(&args.command[1..])
        .spawn()
        .map_err(|e| {
            shmkit::Error::io(&args.command[0], "exec", e)
                .with_fix("check the command's path and permissions")
        })?;
    let pid = child.id();

    let save_opts = SaveOptions {
        selectors: selectors.clone(),
        wait_detached: None,
    };
    let mut next_save = (!every.is_zero()).then(|| Instant::now() + every);
    let mut stopping = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let sig = forward.swap(0, Ordering::SeqCst);
        if sig != 0 {
            // The child may have exited meanwhile (ESRCH): try_wait sees it next turn.
            let _ = shmkit::sys::process::kill(pid, i32::try_from(sig).unwrap_or(libc::SIGTERM));
            stopping = true;
            continue;
        }
        let now = Instant::now();
        if let Some(at) = next_save {
            if now >= at && !stopping {
                match snapshot::save(&root, &file, &save_opts) {
                    Ok(r) => msg!(
                        "shmkit run: saved {} object(s) to {} ({} attached while copied)",
                        r.objects.len(),
                        file.display(),
                        r.torn().count()
                    ),
                    // A failed periodic save must not stop the program: the next one may work.
                    Err(e) => msg!("shmkit run: periodic save failed: {e}"),
                }
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

    let final_opts = SaveOptions {
        selectors,
        wait_detached: final_wait,
    };
    let save_result = match snapshot::save(&root, &file, &final_opts) {
        // Still attached after the wait (processes other than CMD): a possibly torn copy is
        // better than none.
        Err(e) if e.kind() == shmkit::ErrorKind::Busy => {
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
