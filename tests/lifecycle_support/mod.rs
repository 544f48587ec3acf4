//! What the life-cycle integration tests share: running `shmkit`, unique keys and names,
//! guards that remove what a test made (also when it fails), and compiling the C programs.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The `shmkit` binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_shmkit")
}

/// What a command did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        &self.stdout
    }

    /// Asserts the exit code and a one-line error naming `object`, with a cause and a fix
    /// (`shmkit: OBJECT: CAUSE; FIX`).
    #[track_caller]
    pub fn fails(&self, code: i32, object: &str) -> &str {
        assert_eq!(self.code, code, "exit code: {self:#?}");
        let line = self
            .stderr
            .lines()
            .find(|l| l.starts_with("shmkit: ") && !l.starts_with("shmkit: warning"))
            .unwrap_or_else(|| panic!("no error line: {self:#?}"));
        assert!(
            line.starts_with(&format!("shmkit: {object}: ")),
            "error names the object {object}: {line}"
        );
        assert!(line.contains("; "), "error has a fix after '; ': {line}");
        &self.stderr
    }
}

/// Runs `shmkit ARGS` with `stdin` as standard input.
pub fn shmkit_in(dir: Option<&Path>, args: &[&str], stdin: &[u8]) -> Run {
    run(Command::new(bin()).args(args), dir, stdin)
}

/// Runs `shmkit ARGS`.
pub fn shmkit(args: &[&str]) -> Run {
    shmkit_in(None, args, b"")
}

/// Runs a command with stdin and collects everything.
pub fn run(cmd: &mut Command, dir: Option<&Path>, stdin: &[u8]) -> Run {
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    // Feed stdin from a thread (a child that writes a lot before reading cannot deadlock us),
    // and accept a child that stops reading early (EPIPE): refusing input is a valid answer.
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let feeder = std::thread::spawn(move || match pipe.write_all(&input) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("writing stdin: {e}"),
        _ => {}
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a shell script (`sh -c`), e.g. inside `unshare --ipc`.
pub fn sh(prefix: &[&str], script: &str) -> Run {
    let mut cmd = Command::new(prefix.first().copied().unwrap_or("sh"));
    cmd.args(&prefix[1.min(prefix.len())..]);
    if !prefix.is_empty() {
        cmd.arg("sh");
    }
    cmd.arg("-c").arg(script).env("SHMKIT", bin());
    run(&mut cmd, None, b"")
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A number no other test uses at the same time: a hash of the test's name, the pid, a counter
/// and the clock.
pub fn unique(test: &str) -> u32 {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut h: u32 = 2166136261;
    for b in test
        .bytes()
        .chain(std::process::id().to_le_bytes())
        .chain(n.to_le_bytes())
    {
        h = (h ^ u32::from(b)).wrapping_mul(16777619);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    (h ^ nanos) & 0x3fff_ffff | 0x1000_0000
}

/// A System V key nobody uses, removed (whatever holds it) when dropped.
pub struct SysvKey(pub i32);

impl SysvKey {
    pub fn new(test: &str) -> Self {
        SysvKey(unique(test) as i32)
    }
    pub fn addr(&self) -> String {
        format!("sysv:{}", self.0)
    }
    /// The segment's id, if it exists.
    pub fn id(&self) -> Option<i32> {
        let st = shmkit::sys::sysv::shmget(self.0, 0, Default::default(), 0).ok()?;
        Some(st)
    }
}

impl Drop for SysvKey {
    fn drop(&mut self) {
        if let Some(id) = self.id() {
            let _ = shmkit::sys::sysv::remove(id);
        }
    }
}

/// A POSIX name nobody uses, unlinked when dropped.
pub struct PosixName(pub String);

impl PosixName {
    pub fn new(test: &str) -> Self {
        PosixName(format!("/shmkit-test-{:x}", unique(test)))
    }
    pub fn addr(&self) -> String {
        format!("posix:{}", self.0)
    }
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/dev/shm{}", self.0))
    }
}

impl Drop for PosixName {
    fn drop(&mut self) {
        let _ = shmkit::sys::posix::shm_unlink(&self.0);
    }
}

/// A System V segment id, removed when dropped.
pub struct SysvId(pub i32);

impl Drop for SysvId {
    fn drop(&mut self) {
        let _ = shmkit::sys::sysv::remove(self.0);
    }
}

/// Compiles `tests/c/NAME.c` into `dir` and returns the program's path.
pub fn compile_c(name: &str, dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/c")
        .join(format!("{name}.c"));
    let out = dir.join(name);
    let status = Command::new("cc")
        .args(["-Wall", "-Werror", "-O1", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("cc is installed (.ci/run installs gcc)");
    assert!(status.success(), "cc {}", src.display());
    out
}

/// A child that holds objects (`shmkit hold ...`) until dropped (its stdin closes).
pub struct Holder {
    child: std::process::Child,
    pub pid: u32,
}

impl Holder {
    pub fn start(args: &[&str]) -> Holder {
        use std::io::BufRead;
        let mut child = Command::new(bin())
            .arg("hold")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let pid = line
            .strip_prefix("ready ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("hold did not get ready: {line:?}"));
        Holder { child, pid }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// How a create line names the user running the tests: `owner root (uid 0), group root
/// (gid 0)` as root, the same with the user's own names and ids otherwise.
pub fn owner_words() -> String {
    let id = |flag: &str| {
        let out = Command::new("id")
            .arg(flag)
            .output()
            .expect("id (coreutils)");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    format!(
        "owner {} (uid {}), group {} (gid {})",
        id("-un"),
        id("-u"),
        id("-gn"),
        id("-g")
    )
}
