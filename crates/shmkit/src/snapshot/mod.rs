//! Snapshots: System V segments and POSIX objects saved to one versioned, checksummed file and
//! recreated from it, so shared memory outlives a container restart (or a reboot).
//!
//! - [`format`](mod@format): the file format (described in `docs/snapshot-format.md`).
//! - [`writer`] / [`reader`]: streaming encode and a decoder that never trusts its input.
//! - [`save()`]: select, copy, write atomically (temporary file, fsync, rename, fsync dir),
//!   one writer at a time per file.
//! - [`restore()`]: verify everything, check conflicts and limits, recreate all or nothing,
//!   and complete a restore that was killed (its journal).
//! - [`select`]: `sysv:KEY`, `sysv:id=N`, `sysv:all`, `sysv:user=U`, `posix:/NAME`,
//!   `posix:all`, `all`.
//!
//! Checksums are XXH3-64 (`xxhash-rust`): it hashes at memory speed (tens of GB/s with SIMD),
//! far above any disk, so verifying costs nothing next to the copy, and 64 bits make an
//! undetected random corruption vanishingly unlikely (2^-64 per object), where CRC-32 would
//! leave 2^-32 on files of gigabytes.

mod files;
pub mod format;
mod journal;
pub mod reader;
pub mod restore;
pub mod save;
pub mod select;
pub mod writer;

pub use format::{escape_name, ObjectMeta};
pub use reader::{verify, FormatError, ReadError, SavedObject, SnapshotReader, Verified};
pub use restore::{restore, verify_file, Action, RestoreOptions, RestoreReport, Restored};
pub use save::{save, SaveOptions, SaveReport, SavedSummary, Skipped};
pub use select::{parse_duration, Selector};
pub use writer::{ContentSource, Finished, SnapshotWriter, WriteStats};
