//! The collector: a thread that scans the host every interval (the scan `shmkit mem` makes)
//! and sends each whole sample over a channel, so the interface only ever draws a finished
//! sample and never waits on `/proc` (bottom's design).

use shmkit::report::MemReport;
use shmkit::scan::{ProcRoot, Scan, ScanOptions};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One scan and the report made of it.
#[derive(Debug)]
pub struct Sample {
    /// The scan.
    pub scan: Scan,
    /// The memory model of that scan (free's line, buff/cache).
    pub report: MemReport,
    /// When the scan started.
    pub taken: Instant,
    /// The same moment, in unix seconds (for ages and the timestamp).
    pub unix: i64,
}

/// What the collector sends.
#[derive(Debug)]
pub enum Collected {
    /// A sample.
    Sample(Box<Sample>),
    /// A scan that failed, in words (`/proc/meminfo` unreadable).
    Failed(String),
}

/// What the interface tells the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Stop scanning until resumed (the screen keeps the last sample).
    Pause,
    /// Scan again every interval, starting now.
    Resume,
    /// Scan now (after a removal), then keep the interval.
    Now,
    /// End the thread.
    Quit,
}

/// Takes one sample.
pub fn sample(root: &ProcRoot) -> Result<Sample, shmkit::Error> {
    let taken = Instant::now();
    let unix = crate::command::ls::now();
    // Like `shmkit mem`: the same options, so both tell the same story.
    let opts = ScanOptions::default().top_files(5);
    let scan = Scan::collect(root, &opts).map_err(shmkit::Error::from)?;
    let report = MemReport::new(&scan);
    Ok(Sample {
        scan,
        report,
        taken,
        unix,
    })
}

/// A running collector.
#[derive(Debug)]
pub struct Collector {
    /// Where to send [`Control`]s.
    pub control: Sender<Control>,
    handle: Option<JoinHandle<()>>,
}

impl Collector {
    /// Starts scanning `root` every `interval`, sending samples to `out` (wrapped by `wrap`
    /// into the caller's message type). `panic_after` makes the thread panic after that many
    /// samples: the tests' way to check that a panic leaves the terminal as it was.
    pub fn start<M: Send + 'static>(
        root: PathBuf,
        interval: Duration,
        out: Sender<M>,
        wrap: fn(Collected) -> M,
        panic_after: Option<u64>,
    ) -> std::io::Result<Collector> {
        let (control, commands) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("shmkit-top-collector".into())
            .spawn(move || {
                run(
                    &ProcRoot::new(root),
                    interval,
                    &out,
                    wrap,
                    &commands,
                    panic_after,
                )
            })?;
        Ok(Collector {
            control,
            handle: Some(handle),
        })
    }

    /// Stops the thread and waits for it (at most one scan).
    pub fn stop(mut self) {
        let _ = self.control.send(Control::Quit);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

fn run<M>(
    root: &ProcRoot,
    interval: Duration,
    out: &Sender<M>,
    wrap: fn(Collected) -> M,
    commands: &Receiver<Control>,
    panic_after: Option<u64>,
) {
    let mut paused = false;
    let mut taken = 0;
    loop {
        let started = Instant::now();
        if panic_after.is_some_and(|n| taken >= n) {
            panic!("shmkit top: panicking after {taken} samples as --panic-after asked");
        }
        if !paused {
            taken += 1;
            let msg = match sample(root) {
                Ok(s) => Collected::Sample(Box::new(s)),
                Err(e) => Collected::Failed(e.to_string()),
            };
            if out.send(wrap(msg)).is_err() {
                return;
            }
        }
        // The interval runs from the start of a scan, so samples stay evenly spaced however
        // long a scan takes; a paused collector sleeps until it is told something.
        let deadline = started + interval;
        loop {
            let wait = if paused {
                Duration::from_secs(3600)
            } else {
                deadline.saturating_duration_since(Instant::now())
            };
            match commands.recv_timeout(wait) {
                Ok(Control::Pause) => paused = true,
                Ok(Control::Resume) | Ok(Control::Now) => {
                    paused = false;
                    break;
                }
                Err(RecvTimeoutError::Timeout) if !paused => break,
                Err(RecvTimeoutError::Timeout) => {}
                Ok(Control::Quit) | Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}
