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
//!
//! A POSIX object saved, gone (as after a container restart), and restored with its bytes:
//!
//! ```
//! use shmkit::address::Address;
//! use shmkit::procfs::ProcRoot;
//! use shmkit::segment::{self, CreateOptions, OpenOptions};
//! use shmkit::snapshot::{self, RestoreOptions, SaveOptions, Selector};
//! # struct RemoveOnDrop(shmkit::address::Address);
//! # impl Drop for RemoveOnDrop {
//! #     fn drop(&mut self) {
//! #         let opts = shmkit::segment::OpenOptions::metadata();
//! #         if let Ok(seg) = shmkit::segment::open(&self.0, &opts) {
//! #             let _ = seg.remove();
//! #         }
//! #     }
//! # }
//!
//! // Named for this process, so that runs in parallel never meet.
//! let name = format!("/shmkit-doc-snapshot-{}", std::process::id());
//! let addr: Address = format!("posix:{name}").parse()?;
//! let seg = segment::create(&addr, &CreateOptions::new(4096).exclusive(true))?;
//! # let _cleanup = RemoveOnDrop(addr.clone());
//! seg.write_at(0, b"kept across a restart")?;
//! drop(seg);
//!
//! let dir = tempfile::tempdir()?;
//! let file = dir.path().join("shm.snap");
//! let save = SaveOptions::default().selectors(vec![Selector::PosixName(name.into_bytes())]);
//! assert_eq!(snapshot::save(&ProcRoot::live(), &file, &save)?.objects.len(), 1);
//!
//! segment::open(&addr, &OpenOptions::read_write())?.remove()?;
//! snapshot::restore(&file, &RestoreOptions::default())?;
//!
//! let back = segment::open(&addr, &OpenOptions::read_only())?;
//! let mut bytes = [0u8; 21];
//! back.read_at(0, &mut bytes)?;
//! assert_eq!(&bytes, b"kept across a restart");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

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
pub use select::Selector;
pub use writer::{ContentSource, Finished, SnapshotWriter, WriteStats};
