//! Real containers for tests, with no registry: an image imported (`docker import`) from a root
//! filesystem built here (busybox-static, the shmkit binary with the libraries it links, the C
//! programs of `tests/c` compiled `-static`), containers run with `--network none` and unique
//! names, and everything removed on drop, also when a test fails. Without a Docker Engine the
//! tests fail loudly: CI starts one (`.ci/run`).
//!
//! Also namespaces without Docker: [`Unshared`] runs a shell in a new IPC + mount namespace
//! with its own tmpfs on `/dev/shm`, the way a container has one.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A name no other test (or test run) uses: prefix, pid and a counter.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The shmkit binary under test.
pub fn shmkit() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_shmkit"))
}

/// Runs `docker ARGS`, panicking with its stderr if it fails; its stdout.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs (.ci/run installs docker.io and starts dockerd)");
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Compiles `tests/c/NAME.c` statically into `dir/NAME`.
fn compile_static(name: &str, dir: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/c")
        .join(format!("{name}.c"));
    let status = Command::new("cc")
        .args(["-static", "-O1", "-Wall", "-Werror", "-o"])
        .arg(dir.join(name))
        .arg(&src)
        .status()
        .expect("cc is installed (.ci/run installs gcc)");
    assert!(status.success(), "cc -static {}", src.display());
}

/// Copies `file` into the root filesystem `root` at the same absolute path.
fn copy_in(root: &Path, file: &Path) {
    let dest = root.join(file.strip_prefix("/").unwrap_or(file));
    std::fs::create_dir_all(dest.parent().expect("a parent")).expect("mkdir");
    std::fs::copy(file, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", file.display()));
}

/// A test image, removed on drop.
pub struct Image {
    pub tag: String,
}

impl Image {
    /// Builds the root filesystem and imports it.
    pub fn build() -> Image {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).expect("mkdir bin");
        for d in ["dev", "proc", "sys", "tmp", "etc"] {
            std::fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        std::fs::copy("/bin/busybox", bin.join("busybox"))
            .expect("/bin/busybox (apt-get install busybox-static)");
        for tool in [
            "sh", "sleep", "head", "cat", "ls", "ipcs", "ipcrm", "rm", "echo", "dd",
        ] {
            std::os::unix::fs::symlink("busybox", bin.join(tool)).expect("symlink");
        }
        for prog in ["writer", "reader", "leak", "hold"] {
            compile_static(prog, &bin);
        }
        // shmkit itself, with the shared libraries it links.
        let exe = shmkit();
        std::fs::copy(&exe, bin.join("shmkit")).expect("copy shmkit");
        let ldd = Command::new("ldd").arg(&exe).output().expect("ldd");
        for line in String::from_utf8_lossy(&ldd.stdout).lines() {
            let path = line
                .split_whitespace()
                .find(|w| w.starts_with('/'))
                .map(PathBuf::from);
            if let Some(p) = path {
                copy_in(root, &p);
            }
        }
        let tag = format!("{}:test", unique("shmkit-containers"));
        let mut tar = Command::new("tar")
            .arg("-C")
            .arg(root)
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .expect("tar");
        let out = Command::new("docker")
            .args(["import", "-", &tag])
            .stdin(tar.stdout.take().expect("tar stdout"))
            .output()
            .expect("docker import");
        assert!(
            tar.wait().expect("tar").success(),
            "tar of the root filesystem"
        );
        assert!(
            out.status.success(),
            "docker import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Image { tag }
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rmi", "-f", &self.tag])
            .output();
    }
}

/// A running container, removed (with its namespaces and shared memory) on drop.
pub struct Container {
    pub name: String,
    pub id: String,
}

impl Container {
    /// `docker run -d --network none --name NAME OPTIONS IMAGE sleep 3600`.
    pub fn run(image: &Image, options: &[&str]) -> Container {
        let name = unique("shmkit-ct");
        let mut args = vec!["run", "-d", "--network", "none", "--name", &name];
        args.extend_from_slice(options);
        args.extend_from_slice(&[&image.tag, "sleep", "3600"]);
        let id = docker(&args).trim().to_string();
        Container { name, id }
    }

    /// `docker exec NAME sh -c SCRIPT`, which must succeed; its stdout.
    pub fn sh(&self, script: &str) -> String {
        docker(&["exec", &self.name, "sh", "-c", script])
    }

    /// Starts `hold ARGS` in the container in the background and waits until it holds.
    pub fn hold(&self, args: &str) {
        let log = format!("/tmp/{}", unique("hold"));
        self.sh(&format!(
            "hold {args} > {log} 2>&1 & for i in $(seq 100); do grep -q ready {log} && exit 0; sleep 0.1; done; cat {log}; exit 1"
        ));
    }

    /// The host pid of its first process.
    pub fn pid(&self) -> u32 {
        docker(&["inspect", "-f", "{{.State.Pid}}", &self.name])
            .trim()
            .parse()
            .expect("a pid")
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
    }
}

/// A shell in a new IPC and mount namespace with a private tmpfs on `/dev/shm`, like a
/// container without a runtime. Commands are sent on its stdin; it ends (and its namespaces
/// with their objects) on drop.
pub struct Unshared {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
    /// The pid of the shell, inside the namespaces.
    pub pid: u32,
}

impl Unshared {
    /// Starts it, with `PATH` extended by `bin` (where test programs are).
    pub fn start(bin: &Path) -> Unshared {
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut child = Command::new("unshare")
            .args(["--ipc", "--mount", "--propagation", "private", "sh"])
            .env("PATH", path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare (util-linux)");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let pid = child.id();
        let mut u = Unshared { child, out, pid };
        u.run("mount -t tmpfs -o size=16m,mode=1777 shm /dev/shm");
        u
    }

    /// Runs one shell line and waits for it; its output up to the end marker. Panics if it
    /// fails.
    pub fn run(&mut self, line: &str) -> String {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}; echo \"__rc=$?\"").expect("write to the shell");
        let mut out = String::new();
        loop {
            let mut l = String::new();
            let n = self.out.read_line(&mut l).expect("read the shell");
            assert!(n > 0, "the shell ended during {line:?}: {out}");
            if let Some(rc) = l.trim_end().strip_prefix("__rc=") {
                assert_eq!(rc, "0", "{line:?} failed: {out}");
                return out;
            }
            out.push_str(&l);
        }
    }
}

impl Drop for Unshared {
    fn drop(&mut self) {
        // Killing every process of the namespace ends it: its segments and tmpfs go with it.
        let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/ipc")).ok();
        if let Some(ours) = ns(&self.pid.to_string()) {
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.parse::<u32>().is_ok() && ns(&name).as_ref() == Some(&ours) {
                    let _ = Command::new("kill").args(["-KILL", &name]).status();
                }
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Compiles `tests/c/NAME.c` into `dir` (dynamically, for use on the host).
pub fn compile(name: &str, dir: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/c")
        .join(format!("{name}.c"));
    let status = Command::new("cc")
        .args(["-O1", "-Wall", "-Werror", "-o"])
        .arg(dir.join(name))
        .arg(&src)
        .status()
        .expect("cc is installed (.ci/run installs gcc)");
    assert!(status.success(), "cc {}", src.display());
}

/// Runs shmkit with `args`; (exit code, stdout, stderr).
pub fn run_shmkit(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(shmkit())
        .args(args)
        .output()
        .expect("run shmkit");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `shmkit ls --json` parsed; only the objects.
pub fn ls_json(extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["ls", "--json"];
    args.extend_from_slice(extra);
    let (code, out, err) = run_shmkit(&args);
    assert_eq!(code, 0, "shmkit ls: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("ls --json parses");
    v["objects"].as_array().expect("objects").clone()
}
