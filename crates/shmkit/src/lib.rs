//! shmkit: Linux shared memory, understood and under control.
//!
//! - [`sys`]: the system-call layer (System V, POSIX, mmap, memfd, namespaces), the only
//!   `unsafe` code in the crate.
//! - [`scan`]: every shared-memory object on the host, its holders and leaks.
//! - [`lab`]: the seed's experiments, run for real, with a verdict for each expected kernel
//!   behaviour.
//! - [`report`]: the memory model behind `shmkit mem` (free's numbers, buff/cache and Shmem
//!   itemised, leaks).
//! - [`reclaim`]: what each drop_caches level would free, predicted from the report, and
//!   measured against a real drop.
//! - [`doctor`]: is this host or container fit for shared memory; what survives a restart.
//! - [`snapshot`]: save System V and POSIX objects to a checksummed file and restore them.
//! - [`render`]: sizes and tables for people.
//! - [`accounts`]: user and group names, through NSS (files under a fixture root).
//! - [`address`]: `sysv:5678`, `posix:/name`, `file:PATH`: how objects are named.
//! - [`segment`]: create, open, map, read, write, stat, resize, remove any kind of segment.
//! - [`duration`]: the one grammar for durations (`30s`, `7d`, `250ms`, seconds).
//! - [`error`]: one-line errors that name the object, the cause and the fix, with exit codes.
//!
//! Everything that reads `/proc` or `/sys` goes through [`shmkit_procfs::ProcRoot`], so tests
//! run the same code on captured fixture trees.
#![deny(missing_docs)]
#![deny(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod accounts;
pub mod address;
pub mod device;
pub mod doctor;
pub mod duration;
pub mod error;
mod json;
pub mod lab;
pub mod reap;
pub mod reclaim;
pub mod render;
pub mod report;
pub mod scan;
pub mod segment;
pub mod snapshot;
pub mod survival;
pub mod sys;

pub use device::{DeviceId, FileId};
pub use error::{Error, ErrorKind, Result};
pub use shmkit_procfs as procfs;
