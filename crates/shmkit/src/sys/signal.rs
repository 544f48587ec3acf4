//! Deferring SIGINT, SIGTERM and SIGHUP while a restore runs, so it can roll back or finish
//! instead of dying half-way.
//!
//! # Safety
//!
//! The handler only stores the signal number in an atomic, which is async-signal-safe. The
//! previous actions are saved by `sigaction` into zeroed locals and put back when the last
//! guard drops; a mutex makes install and restore of concurrent guards one critical section.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

/// The signals a guard catches.
const CAUGHT: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The last caught signal, 0 if none since the first guard was installed.
static PENDING: AtomicI32 = AtomicI32::new(0);

/// Live guards, and the actions to put back when the last one goes.
static STATE: Mutex<(usize, Vec<libc::sigaction>)> = Mutex::new((0, Vec::new()));

extern "C" fn record(sig: libc::c_int) {
    PENDING.store(sig, Ordering::SeqCst);
}

/// While it lives, SIGINT, SIGTERM and SIGHUP do not end the process: they are recorded for
/// [`DeferSignals::pending`] to report. Dropping the last guard restores the previous actions.
#[derive(Debug)]
pub struct DeferSignals(());

impl DeferSignals {
    /// `sigaction(SIGINT|SIGTERM|SIGHUP, record)`—Starts deferring the signals.
    ///
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man2/sigaction.2.html)
    pub fn install() -> io::Result<Self> {
        let mut state = STATE.lock().unwrap_or_else(|p| p.into_inner());
        if state.0 == 0 {
            PENDING.store(0, Ordering::SeqCst);
            let mut old = Vec::with_capacity(CAUGHT.len());
            for sig in CAUGHT {
                // SAFETY: zeroed sigaction structs are valid; `new` is fully set before the
                // call, `prev` is written by the kernel; both outlive it.
                let prev = unsafe {
                    let mut new: libc::sigaction = std::mem::zeroed();
                    new.sa_sigaction = record as extern "C" fn(libc::c_int) as usize;
                    new.sa_flags = libc::SA_RESTART;
                    libc::sigemptyset(&mut new.sa_mask);
                    let mut prev: libc::sigaction = std::mem::zeroed();
                    if libc::sigaction(sig, &new, &mut prev) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    prev
                };
                old.push(prev);
            }
            state.1 = old;
        }
        state.0 += 1;
        Ok(DeferSignals(()))
    }

    /// The signal caught since the first live guard was installed, if any.
    pub fn pending(&self) -> Option<i32> {
        match PENDING.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }
}

impl Drop for DeferSignals {
    fn drop(&mut self) {
        let mut state = STATE.lock().unwrap_or_else(|p| p.into_inner());
        state.0 -= 1;
        if state.0 == 0 {
            let old = std::mem::take(&mut state.1);
            for (sig, prev) in CAUGHT.iter().zip(old.iter()) {
                // SAFETY: `prev` is the action sigaction reported for this signal; a null old
                // pointer asks for nothing back.
                unsafe { libc::sigaction(*sig, prev, std::ptr::null_mut()) };
            }
        }
    }
}

/// The name of a signal for messages (`SIGTERM`), or its number.
pub fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        n => format!("signal {n}"),
    }
}
