//! The lab's child processes: a process that creates, fills or holds an object, then exits
//! (or waits), so that an experiment can show what outlives it.
//!
//! The runner never `fork()`s (a multi-threaded process must not, and `unshare(CLONE_NEWIPC)`
//! needs a single-threaded caller): it starts a fresh copy of the program,
//! `/proc/self/exe lab child MODE ARGS...` by default ([`ChildCommand`]), whose `main` hands
//! those arguments to [`child_main`]. The child speaks a line protocol on stdout,
//! `KEY VALUE` per line, and `ready` when it holds what it was asked to hold; it then waits
//! until its stdin reaches EOF (the runner closes it or dies) and exits, unless told `keep`.

use crate::error::{os_message, Error, ErrorKind, Result};
use crate::sys;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// Exit code of a child that could not enter a new IPC namespace (`unshare` refused).
pub const EXIT_UNSHARE_DENIED: i32 = 10;

/// The 26 letters the seed's article-2 writer puts in segment 5678 and in `./shm.txt`.
pub const LETTERS: &[u8; 26] = b"abcdefghijklmnopqrstuvwxyz";

/// The program and leading arguments that start a lab child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildCommand {
    /// The program, `/proc/self/exe` by default (this very binary).
    pub program: PathBuf,
    /// The arguments before the child's mode, `["lab", "child"]` by default.
    pub args: Vec<OsString>,
}

impl Default for ChildCommand {
    fn default() -> Self {
        ChildCommand {
            program: PathBuf::from("/proc/self/exe"),
            args: vec!["lab".into(), "child".into()],
        }
    }
}

/// A running lab child; killed and reaped on drop unless it finished or was kept.
#[derive(Debug)]
pub struct ChildProc {
    mode: String,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// Every `KEY VALUE` line read so far.
    pub said: BTreeMap<String, String>,
    ended: Option<Ended>,
}

/// How a child ended.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Ended {
    /// Its exit code (`None` when a signal killed it).
    pub code: Option<i32>,
    /// Everything it said.
    pub said: BTreeMap<String, String>,
    /// What it wrote on stderr, trimmed.
    pub stderr: String,
}

impl ChildProc {
    /// Starts `command MODE ARGS...` with piped stdin, stdout and stderr.
    pub fn spawn(command: &ChildCommand, mode: &str, args: &[String]) -> Result<ChildProc> {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new(&command.program)
            // So that ps and `shmkit ls` show "shmkit lab child ...", not "/proc/self/exe".
            .arg0("shmkit")
            .args(&command.args)
            .arg(mode)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                Error::io(
                    format!("lab child {mode}"),
                    &format!("starting {}", command.program.display()),
                    e,
                )
            })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or_else(|| {
            Error::new(
                ErrorKind::Other,
                format!("lab child {mode}"),
                "has no stdout pipe",
            )
        })?;
        Ok(ChildProc {
            mode: mode.to_string(),
            child: Some(child),
            stdin,
            stdout: BufReader::new(stdout),
            said: BTreeMap::new(),
            ended: None,
        })
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Reads lines until `ready`; fails (with the child's stderr) if it exits first.
    pub fn wait_ready(&mut self) -> Result<()> {
        loop {
            let mut line = String::new();
            let n = self
                .stdout
                .read_line(&mut line)
                .map_err(|e| Error::io(format!("lab child {}", self.mode), "read", e))?;
            if n == 0 {
                let ended = self.finish()?;
                return Err(child_failed(&self.mode, &ended));
            }
            let line = line.trim_end();
            if line == "ready" {
                return Ok(());
            }
            if let Some((key, value)) = line.split_once(' ') {
                self.said.insert(key.to_string(), value.to_string());
            }
        }
    }

    /// Closes stdin (the child's signal to let go and exit), reads the rest of its output and
    /// reaps it.
    pub fn finish(&mut self) -> Result<Ended> {
        if let Some(ended) = &self.ended {
            return Ok(ended.clone());
        }
        drop(self.stdin.take());
        let mut rest = String::new();
        let _ = self.stdout.read_to_string(&mut rest);
        for line in rest.lines() {
            if let Some((key, value)) = line.split_once(' ') {
                self.said.insert(key.to_string(), value.to_string());
            }
        }
        let Some(mut child) = self.child.take() else {
            return Err(Error::new(
                ErrorKind::Other,
                format!("lab child {}", self.mode),
                "was already reaped",
            ));
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let status = child
            .wait()
            .map_err(|e| Error::io(format!("lab child {}", self.mode), "waitpid", e))?;
        let ended = Ended {
            code: status.code(),
            said: self.said.clone(),
            stderr: stderr.trim().to_string(),
        };
        self.ended = Some(ended.clone());
        Ok(ended)
    }

    /// Runs the child to its end and fails unless it exited 0.
    pub fn run_to_end(mut self) -> Result<Ended> {
        let ended = self.finish()?;
        if ended.code == Some(0) {
            Ok(ended)
        } else {
            Err(child_failed(&self.mode, &ended))
        }
    }

    /// Tells a holding child to keep holding after the runner exits (`--keep`) and lets it go.
    pub fn keep(mut self) -> Result<u32> {
        let pid = self.pid();
        if let Some(stdin) = self.stdin.as_mut() {
            stdin
                .write_all(b"keep\n")
                .and_then(|()| stdin.flush())
                .map_err(|e| Error::io(format!("lab child {}", self.mode), "write", e))?;
        }
        // Dropping a std Child neither kills nor waits: the child lives on, reparented.
        self.child = None;
        Ok(pid)
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn child_failed(mode: &str, ended: &Ended) -> Error {
    let how = match ended.code {
        Some(code) => format!("exited with code {code}"),
        None => "was killed by a signal".to_string(),
    };
    let detail = if ended.stderr.is_empty() {
        String::new()
    } else {
        format!(": {}", ended.stderr.replace('\n', " | "))
    };
    Error::new(
        ErrorKind::Other,
        format!("lab child {mode}"),
        format!("{how}{detail}"),
    )
    .with_fix("run the experiment again; if it fails the same way, report it with this line")
}

// ---------------------------------------------------------------------------------------------
// The child's side.

/// The entry point of `shmkit lab child MODE ARGS...`; returns the process exit code.
///
/// Modes:
/// - `sysv-create SIZE`: the seed's shm.c creator. `shmget(IPC_PRIVATE, SIZE, 0600)`,
///   `IPC_STAT`, `IPC_SET` with `shm_segsz` doubled, `IPC_STAT` again; says `id`, `size`,
///   `set-size`, `size-after-set`, then exits without `IPC_RMID`.
/// - `sysv-fill ID`: attaches segment ID, zeroes all of it (touching every page), writes
///   `Hello!` at its start, detaches and exits.
/// - `hold-anon SIZE`: maps SIZE bytes `MAP_SHARED|MAP_ANONYMOUS`, touches every page, says
///   `ready` and holds until stdin ends.
/// - `ipc-writer KEY FILE SIZE`: enters a new IPC namespace, creates segment KEY (27 bytes,
///   0600) with the 26 letters, a second segment of SIZE filled (to see its memory go with the
///   namespace), and FILE (501 bytes, 0600, the letters at its start, msync'd), says `ready`,
///   and when stdin ends exits, which ends the namespace.
/// - `ipc-reader KEY FILE`: enters a new IPC namespace, looks for KEY, reads FILE.
pub fn child_main(args: &[String]) -> i32 {
    let mut out = std::io::stdout().lock();
    let result = match args {
        [mode, size] if mode == "sysv-create" => sysv_create(&mut out, size),
        [mode, id] if mode == "sysv-fill" => sysv_fill(&mut out, id),
        [mode, size] if mode == "hold-anon" => hold_anon(&mut out, size),
        [mode, key, file, size] if mode == "ipc-writer" => ipc_writer(&mut out, key, file, size),
        [mode, key, file] if mode == "ipc-reader" => ipc_reader(&mut out, key, file),
        _ => Err(ChildError::Usage(format!(
            "unknown lab child invocation {args:?}; this is an internal subcommand of shmkit lab"
        ))),
    };
    let _ = out.flush();
    match result {
        Ok(()) => 0,
        Err(ChildError::UnshareDenied(err)) => {
            eprintln!("unshare(CLONE_NEWIPC) failed: {}", os_message(&err));
            EXIT_UNSHARE_DENIED
        }
        Err(ChildError::Usage(text)) => {
            eprintln!("{text}");
            2
        }
        Err(ChildError::Io(what, err)) => {
            eprintln!("{what} failed: {}", os_message(&err));
            1
        }
    }
}

#[derive(Debug)]
enum ChildError {
    Usage(String),
    UnshareDenied(std::io::Error),
    Io(String, std::io::Error),
}

type ChildResult = std::result::Result<(), ChildError>;

fn io(what: &str) -> impl FnOnce(std::io::Error) -> ChildError + '_ {
    move |e| ChildError::Io(what.to_string(), e)
}

fn number<T: std::str::FromStr>(text: &str) -> std::result::Result<T, ChildError> {
    text.parse()
        .map_err(|_| ChildError::Usage(format!("'{text}' is not a number")))
}

fn say(out: &mut dyn Write, key: &str, value: impl std::fmt::Display) -> ChildResult {
    writeln!(out, "{key} {value}")
        .and_then(|()| out.flush())
        .map_err(io("write to stdout"))
}

/// Waits until stdin ends; a `keep` line means "hold on after the runner is gone": then it
/// holds until killed.
fn hold_until_released(out: &mut dyn Write) -> ChildResult {
    writeln!(out, "ready")
        .and_then(|()| out.flush())
        .map_err(io("write to stdout"))?;
    let stdin = std::io::stdin();
    let mut line = String::new();
    loop {
        line.clear();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => return Ok(()),
            Ok(_) if line.trim() == "keep" => loop {
                std::thread::park();
            },
            Ok(_) => {}
        }
    }
}

fn sysv_create(out: &mut dyn Write, size: &str) -> ChildResult {
    let size: u64 = number(size)?;
    let flags = sys::sysv::GetFlags {
        create: true,
        exclusive: true,
        ..Default::default()
    };
    let id = sys::sysv::shmget(sys::sysv::IPC_PRIVATE, size, flags, 0o600).map_err(io("shmget"))?;
    say(out, "id", id)?;
    let st = sys::sysv::stat(id).map_err(io("shmctl(IPC_STAT)"))?;
    say(out, "size", st.size)?;
    let doubled = st.size.saturating_mul(2);
    sys::sysv::set_with_size(id, st.uid, st.gid, st.mode, Some(doubled))
        .map_err(io("shmctl(IPC_SET)"))?;
    say(out, "set-size", doubled)?;
    let after = sys::sysv::stat(id).map_err(io("shmctl(IPC_STAT)"))?;
    say(out, "size-after-set", after.size)?;
    // Exits without IPC_RMID, like the seed's shm.c: the segment outlives its creator.
    Ok(())
}

fn sysv_fill(out: &mut dyn Write, id: &str) -> ChildResult {
    let id: i32 = number(id)?;
    let map = sys::sysv::shmat(id, false).map_err(io("shmat"))?;
    map.fill(0, map.len(), 0)
        .map_err(io("zeroing the segment"))?;
    map.write_at(0, b"Hello!").map_err(io("writing Hello!"))?;
    say(out, "filled", map.len())?;
    drop(map);
    Ok(())
}

fn hold_anon(out: &mut dyn Write, size: &str) -> ChildResult {
    let size: u64 = number(size)?;
    // map_shared_anonymous checks the result against MAP_FAILED (the seed checks NULL).
    let map =
        sys::mapping::map_shared_anonymous(size).map_err(io("mmap(MAP_SHARED|MAP_ANONYMOUS)"))?;
    map.fill(0, map.len(), 0x5a)
        .map_err(io("filling the mapping"))?;
    say(out, "mapped", map.len())?;
    hold_until_released(out)?;
    drop(map);
    Ok(())
}

fn ipc_namespace_inode() -> String {
    match shmkit_procfs::ProcRoot::live().ns_link(None, "ipc") {
        Ok(Some(ns)) => format!("ipc:[{}]", ns.inode),
        Ok(None) => "unknown (no /proc/self/ns/ipc)".to_string(),
        Err(e) => format!("unknown ({e})"),
    }
}

fn ipc_writer(out: &mut dyn Write, key: &str, file: &str, size: &str) -> ChildResult {
    let key: i32 = number(key)?;
    let size: u64 = number(size)?;
    sys::ns::unshare_ipc().map_err(ChildError::UnshareDenied)?;
    say(out, "ipc-ns", ipc_namespace_inode())?;
    let flags = sys::sysv::GetFlags {
        create: true,
        exclusive: true,
        ..Default::default()
    };
    // The seed's writer: shmget(5678, 27, IPC_CREAT|0666); shmkit creates 0600, not 0666.
    let id = sys::sysv::shmget(key, 27, flags, 0o600).map_err(io("shmget"))?;
    {
        let map = sys::sysv::shmat(id, false).map_err(io("shmat"))?;
        map.write_at(0, LETTERS)
            .map_err(io("writing the letters"))?;
    }
    let reread = sys::sysv::shmget(key, 27, sys::sysv::GetFlags::default(), 0)
        .and_then(|id| sys::sysv::shmat(id, true))
        .and_then(|map| {
            let mut buf = [0u8; 26];
            map.read_at(0, &mut buf)?;
            Ok(buf)
        })
        .map_err(io("reading segment back"))?;
    say(out, "segment-reads", String::from_utf8_lossy(&reread))?;
    // A second, large segment left behind with nattch 0: its memory goes with the namespace.
    let big =
        sys::sysv::shmget(sys::sysv::IPC_PRIVATE, size, flags, 0o600).map_err(io("shmget"))?;
    {
        let map = sys::sysv::shmat(big, false).map_err(io("shmat"))?;
        map.fill(0, map.len(), 0x5a)
            .map_err(io("filling the segment"))?;
    }
    say(out, "big-id", big)?;
    write_letters_file(Path::new(file))?;
    say(out, "file-written", file)?;
    // Hold the namespace open until the runner has measured it, then exit without IPC_RMID:
    // this is the namespace's last process, so the namespace ends with it.
    hold_until_released(out)
}

/// The seed's article-2 file writer: O_RDWR|O_CREAT (here also O_EXCL|O_NOFOLLOW, 0600),
/// extend to 501 bytes, map 27 bytes MAP_SHARED, write the letters, and msync.
fn write_letters_file(path: &Path) -> ChildResult {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(io("creating the file"))?;
    file.set_len(501).map_err(io("extending the file"))?;
    use std::os::fd::AsFd;
    let map = sys::mapping::map_shared_fd(file.as_fd(), 27, true).map_err(io("mmap"))?;
    map.write_at(0, LETTERS)
        .map_err(io("writing the letters"))?;
    map.flush().map_err(io("msync"))?;
    Ok(())
}

fn ipc_reader(out: &mut dyn Write, key: &str, file: &str) -> ChildResult {
    let key: i32 = number(key)?;
    sys::ns::unshare_ipc().map_err(ChildError::UnshareDenied)?;
    say(out, "ipc-ns", ipc_namespace_inode())?;
    // The seed's reader: shmget(5678, 27, 0666) — here without IPC_CREAT.
    match sys::sysv::shmget(key, 27, sys::sysv::GetFlags::default(), 0) {
        Ok(id) => say(out, "segment", format!("present id={id}"))?,
        Err(e) => say(
            out,
            "segment",
            format!(
                "missing errno={} {}",
                e.raw_os_error().unwrap_or(0),
                os_message(&e)
            ),
        )?,
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(file)
        .map_err(io("opening the file"))?;
    use std::os::fd::AsFd;
    let map = sys::mapping::map_shared_fd(file.as_fd(), 27, false).map_err(io("mmap"))?;
    let mut buf = [0u8; 26];
    map.read_at(0, &mut buf)
        .map_err(|e| ChildError::Io("read".into(), e.into()))?;
    say(out, "file-reads", String::from_utf8_lossy(&buf))?;
    Ok(())
}
