//! Real kernel objects for the live tests, each removed by its guard's `Drop` (also when an
//! assertion fails), with keys and names made of our pid and a counter so that test binaries
//! running at once never meet.

use shmkit::sys::{self, posix::OpenMode, sysv::GetFlags};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Removes a System V segment on drop.
pub struct SysvGuard {
    pub shmid: i32,
}

impl Drop for SysvGuard {
    fn drop(&mut self) {
        let _ = sys::sysv::remove(self.shmid);
    }
}

/// Creates a keyed segment of `size` bytes (mode 0600). Its key is `base` (whose top bits
/// tell the test binaries apart) with our pid and a counter, retrying past keys some other
/// program already uses. Returns the key and the guard.
pub fn sysv_with_unique_key(base: i32, size: u64) -> (i32, SysvGuard) {
    let flags = GetFlags {
        create: true,
        exclusive: true,
        ..GetFlags::default()
    };
    for _ in 0..64 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let key = base | (((std::process::id() & 0x3fff) as i32) << 10) | (n & 0x3ff) as i32;
        match sys::sysv::shmget(key, size, flags, 0o600) {
            Ok(shmid) => return (key, SysvGuard { shmid }),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => continue,
            Err(e) => panic!("shmget(0x{key:x}): {e}"),
        }
    }
    panic!("no free System V key");
}

/// Unlinks a POSIX object on drop.
pub struct PosixGuard {
    pub name: String,
}

impl Drop for PosixGuard {
    fn drop(&mut self) {
        let _ = sys::posix::shm_unlink(&self.name);
    }
}

/// Creates `/shmkit-TAG-PID-N` of `size` bytes (mode 0600) and closes it: only holders the
/// test starts keep it.
pub fn posix_object(tag: &str, size: u64) -> PosixGuard {
    let name = format!(
        "/shmkit-{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let fd = sys::posix::shm_open(&name, OpenMode::CreateExclusive, 0o600).expect("shm_open");
    let guard = PosixGuard { name };
    std::fs::File::from(fd).set_len(size).expect("ftruncate");
    guard
}

/// A `shmkit hold ARGS` child, started once it printed `ready PID`. Drop closes its stdin and
/// reaps it, killing it if it has not gone within 10 s.
pub struct Holder {
    child: Child,
    pid: u32,
}

impl Holder {
    pub fn start(args: &[&str]) -> Holder {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shmkit"))
            .arg("hold")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn shmkit hold");
        let stdout = child.stdout.take().expect("stdout");
        let mut holder = Holder { child, pid: 0 };
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the ready line");
        holder.pid = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("hold {args:?} did not get ready: {line:?}"));
        holder
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// SIGKILL, and wait until it is gone.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Ok(None) = self.child.try_wait() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
