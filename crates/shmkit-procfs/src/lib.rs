//! Pure parsers for the `/proc` and `/sys` files that describe Linux shared memory.
//!
//! Every read goes through one [`ProcRoot`], rooted at `/` on a live host or at a captured
//! fixture tree in tests, so the same code runs against both. Each file format has a module
//! with a pure `parse(&str)` function that never panics and never does I/O.
//!
//! ```
//! let m = shmkit_procfs::meminfo::parse("MemTotal: 1024 kB\nMemFree: 512 kB\nShmem: 8 kB\n")?;
//! assert_eq!(m.mem_total, 1024 * 1024);
//! assert_eq!(m.shmem(), Some(8 * 1024));
//! # Ok::<(), shmkit_procfs::ParseError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod cgroup;
pub mod cmdline;
pub mod container;
pub mod error;
pub mod fd;
pub mod maps;
pub mod meminfo;
pub mod mountinfo;
pub mod ns;
pub mod passwd;
pub mod pid_stat;
pub mod pid_status;
mod root;
pub mod swaps;
pub mod sysctl;
pub mod sysvipc;
mod util;

pub use cgroup::CgroupLine;
pub use container::{ContainerId, Runtime};
pub use error::{Error, ParseError, Result};
pub use fd::FdLink;
pub use maps::{MapEntry, MapPath};
pub use meminfo::MemInfo;
pub use mountinfo::MountInfo;
pub use ns::NsId;
pub use passwd::NameTable;
pub use pid_stat::PidStat;
pub use pid_status::PidStatus;
pub use root::ProcRoot;
pub use swaps::SwapEntry;
pub use sysctl::ShmLimits;
pub use sysvipc::SysvShm;
