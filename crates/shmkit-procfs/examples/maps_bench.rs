//! Reads and parses `/proc/PID/maps` of every process, compared with
//! `sh -c 'cat /proc/[0-9]*/maps >/dev/null'` on the same processes.
//!
//! `cargo run --release -p shmkit-procfs --example maps_bench -- [SPAWN] [ROUNDS]` first spawns
//! SPAWN `sleep` processes (default 1000) so there is a realistic number to read.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shmkit_procfs::ProcRoot;

struct Kids(Vec<Child>);

impl Drop for Kids {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let spawn: usize = args.next().map_or(Ok(1000), |a| a.parse())?;
    let rounds: u32 = args.next().map_or(Ok(10), |a| a.parse())?;
    let mut kids = Kids(Vec::with_capacity(spawn));
    for _ in 0..spawn {
        kids.0.push(
            Command::new("sleep")
                .arg("600")
                .stdin(Stdio::null())
                .spawn()?,
        );
    }
    let r = ProcRoot::live();
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    let (mut ours, mut cat) = (Duration::ZERO, Duration::ZERO);
    let (mut procs, mut entries) = (0usize, 0usize);
    for _ in 0..rounds {
        let t = Instant::now();
        let st = Command::new("sh")
            .args(["-c", "cat /proc/[0-9]*/maps >/dev/null 2>&1"])
            .status()?;
        cat += t.elapsed();
        let _ = st;

        let t = Instant::now();
        (procs, entries) = (0, 0);
        for pid in r.pids()? {
            match r.pid_maps_into(pid, &mut buf, &mut out) {
                Ok(true) => {
                    procs += 1;
                    entries += out.len();
                }
                Ok(false) => {}
                Err(e) if e.is_permission_denied() => {}
                Err(e) => return Err(e.into()),
            }
        }
        ours += t.elapsed();
    }
    println!(
        "{procs} processes, {entries} maps entries per round, {rounds} rounds\n\
         shmkit-procfs: {:?}/round\ncat:           {:?}/round\nratio:         {:.2}",
        ours / rounds,
        cat / rounds,
        ours.as_secs_f64() / cat.as_secs_f64()
    );
    Ok(())
}
