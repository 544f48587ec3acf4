//! meminfo samples: the counters an experiment watches, read from `/proc/meminfo`, and how
//! they changed.

use crate::error::{Error, ErrorKind, Result};
use serde::Serialize;
use shmkit_procfs::MemInfo;

/// One reading of the `/proc/meminfo` counters the lab watches, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Sample {
    /// `Cached`: page cache, including every shmem page (tmpfs, System V, POSIX, shared
    /// anonymous, memfd).
    pub cached: u64,
    /// `Shmem`: the shmem part of `Cached`, the part `drop_caches` cannot free.
    pub shmem: u64,
    /// `MemFree`: memory nobody uses.
    pub mem_free: u64,
    /// `MemAvailable`: the kernel's estimate of what can be had without swapping.
    pub mem_available: u64,
    /// `Buffers`: block-device page cache.
    pub buffers: u64,
    /// `SReclaimable`: slab the kernel can shrink (dentries, inodes, ...).
    pub sreclaimable: u64,
    /// `Dirty`: page cache waiting to be written to disk.
    pub dirty: u64,
    /// `Active(file) + Inactive(file)`: ordinary file cache on the file LRU lists. Shmem pages
    /// are never on them (they are swap-backed and sit on the anon lists).
    pub file_lru: u64,
    /// `SwapTotal`: swap space configured (0 = swap is off).
    pub swap_total: u64,
    /// `SwapFree`: unused swap.
    pub swap_free: u64,
}

/// The counters an expectation can be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub enum Counter {
    /// `Cached`.
    Cached,
    /// `Shmem`.
    Shmem,
    /// `MemFree`.
    MemFree,
    /// `MemAvailable`.
    MemAvailable,
    /// `Buffers`.
    Buffers,
    /// `SReclaimable`.
    SReclaimable,
    /// `buff/cache` as procps-ng 4's `free` computes it: `Buffers + Cached + SReclaimable`.
    #[serde(rename = "buff/cache")]
    BuffCache,
    /// `Dirty`.
    Dirty,
    /// Swap in use: `SwapTotal - SwapFree`.
    SwapUsed,
    /// `Cached + Buffers − (Active(file) + Inactive(file))`: Cached with the ordinary file
    /// cache taken out (the file LRU lists hold both Cached's file pages and Buffers' block
    /// device pages, never shmem). Other processes' file I/O moves Cached all the time; it does
    /// not move this, so a shmem change shows in Cached here without that noise.
    CachedBeyondFileLru,
}

impl Counter {
    /// The counters every step prints, in order.
    pub const SHOWN: [Counter; 5] = [
        Counter::Cached,
        Counter::Shmem,
        Counter::MemFree,
        Counter::MemAvailable,
        Counter::BuffCache,
    ];

    /// The name `/proc/meminfo` (or `free`, for buff/cache) gives it.
    pub fn name(self) -> &'static str {
        match self {
            Counter::Cached => "Cached",
            Counter::Shmem => "Shmem",
            Counter::MemFree => "MemFree",
            Counter::MemAvailable => "MemAvailable",
            Counter::Buffers => "Buffers",
            Counter::SReclaimable => "SReclaimable",
            Counter::BuffCache => "buff/cache",
            Counter::Dirty => "Dirty",
            Counter::SwapUsed => "swap used",
            Counter::CachedBeyondFileLru => "Cached + Buffers − file LRU",
        }
    }
}

impl Sample {
    /// Takes the watched counters from a parsed `/proc/meminfo`.
    ///
    /// Fails with `Unsupported` when a watched line is missing (`MemAvailable` and `Shmem`
    /// need Linux 3.14 and 2.6.32).
    pub fn from_meminfo(meminfo: &MemInfo) -> Result<Sample> {
        let field = |name: &str| -> Result<u64> {
            meminfo.get(name).ok_or_else(|| {
                Error::new(
                    ErrorKind::Unsupported,
                    "/proc/meminfo",
                    format!("has no '{name}' line"),
                )
                .with_fix("shmkit needs Linux 3.14 or later, where /proc/meminfo has MemAvailable and Shmem")
            })
        };
        Ok(Sample {
            cached: field("Cached")?,
            shmem: field("Shmem")?,
            mem_free: meminfo.mem_free,
            mem_available: field("MemAvailable")?,
            buffers: field("Buffers")?,
            sreclaimable: field("SReclaimable")?,
            dirty: field("Dirty")?,
            file_lru: field("Active(file)")?.saturating_add(field("Inactive(file)")?),
            swap_total: field("SwapTotal")?,
            swap_free: field("SwapFree")?,
        })
    }

    /// `Buffers + Cached + SReclaimable`: the `buff/cache` column of procps-ng 4's `free`.
    pub fn buff_cache(&self) -> u64 {
        self.buffers
            .saturating_add(self.cached)
            .saturating_add(self.sreclaimable)
    }

    /// The value of one counter.
    pub fn get(&self, counter: Counter) -> u64 {
        match counter {
            Counter::Cached => self.cached,
            Counter::Shmem => self.shmem,
            Counter::MemFree => self.mem_free,
            Counter::MemAvailable => self.mem_available,
            Counter::Buffers => self.buffers,
            Counter::SReclaimable => self.sreclaimable,
            Counter::BuffCache => self.buff_cache(),
            Counter::Dirty => self.dirty,
            Counter::SwapUsed => self.swap_total.saturating_sub(self.swap_free),
            Counter::CachedBeyondFileLru => self
                .cached
                .saturating_add(self.buffers)
                .saturating_sub(self.file_lru),
        }
    }

    /// `self - earlier` for one counter, signed.
    pub fn delta(&self, earlier: &Sample, counter: Counter) -> i64 {
        signed_difference(self.get(counter), earlier.get(counter))
    }
}

/// The change of every watched counter between two samples, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Changes {
    /// `Cached`.
    pub cached: i64,
    /// `Shmem`.
    pub shmem: i64,
    /// `MemFree`.
    pub mem_free: i64,
    /// `MemAvailable`.
    pub mem_available: i64,
    /// `Buffers`.
    pub buffers: i64,
    /// `SReclaimable`.
    pub sreclaimable: i64,
    /// `buff/cache`.
    pub buff_cache: i64,
    /// `Dirty`.
    pub dirty: i64,
    /// Swap in use.
    pub swap_used: i64,
    /// `Cached + Buffers − file LRU`.
    pub cached_beyond_file_lru: i64,
}

impl Changes {
    /// `now - earlier` for every counter.
    pub fn between(earlier: &Sample, now: &Sample) -> Self {
        let d = |c| now.delta(earlier, c);
        Changes {
            cached: d(Counter::Cached),
            shmem: d(Counter::Shmem),
            mem_free: d(Counter::MemFree),
            mem_available: d(Counter::MemAvailable),
            buffers: d(Counter::Buffers),
            sreclaimable: d(Counter::SReclaimable),
            buff_cache: d(Counter::BuffCache),
            dirty: d(Counter::Dirty),
            swap_used: d(Counter::SwapUsed),
            cached_beyond_file_lru: d(Counter::CachedBeyondFileLru),
        }
    }

    /// The change of one counter.
    pub fn get(&self, counter: Counter) -> i64 {
        match counter {
            Counter::Cached => self.cached,
            Counter::Shmem => self.shmem,
            Counter::MemFree => self.mem_free,
            Counter::MemAvailable => self.mem_available,
            Counter::Buffers => self.buffers,
            Counter::SReclaimable => self.sreclaimable,
            Counter::BuffCache => self.buff_cache,
            Counter::Dirty => self.dirty,
            Counter::SwapUsed => self.swap_used,
            Counter::CachedBeyondFileLru => self.cached_beyond_file_lru,
        }
    }
}

/// `a - b` as a signed number, saturating at the ends of `i64`.
pub fn signed_difference(a: u64, b: u64) -> i64 {
    if a >= b {
        i64::try_from(a - b).unwrap_or(i64::MAX)
    } else {
        i64::try_from(b - a).map_or(i64::MIN, |d| -d)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A meminfo text with the watched lines, in kB.
    pub(crate) fn meminfo_text(cached_kb: u64, shmem_kb: u64, free_kb: u64) -> String {
        format!(
            "MemTotal:       24684100 kB\nMemFree:        {free_kb} kB\nMemAvailable:   {} kB\n\
             Buffers:            3988 kB\nCached:         {cached_kb} kB\nSwapCached:            0 kB\n\
             Active(file):     363740 kB\nInactive(file):   418820 kB\n\
             SwapTotal:             0 kB\nSwapFree:              0 kB\nDirty:               40 kB\n\
             Shmem:          {shmem_kb} kB\nSReclaimable:     113916 kB\nHugePages_Total:       0\n",
            free_kb + cached_kb - shmem_kb
        )
    }

    fn parse(text: &str) -> Result<Sample> {
        Sample::from_meminfo(&shmkit_procfs::meminfo::parse(text).unwrap())
    }

    #[test]
    fn takes_kb_fields_as_bytes_and_computes_buff_cache_like_procps_4() {
        let s = parse(&meminfo_text(787272, 8724, 23562500)).unwrap();
        assert_eq!(s.cached, 787272 * 1024);
        assert_eq!(s.shmem, 8724 * 1024);
        assert_eq!(s.buff_cache(), (3988 + 787272 + 113916) * 1024);
        assert_eq!(s.get(Counter::SwapUsed), 0);
    }

    #[test]
    fn a_kernel_without_memavailable_is_unsupported() {
        let err = parse("MemTotal: 2 kB\nMemFree: 1 kB\nCached: 1 kB\nShmem: 1 kB\n").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
    }

    #[test]
    fn signed_difference_saturates() {
        assert_eq!(signed_difference(5, 7), -2);
        assert_eq!(signed_difference(u64::MAX, 0), i64::MAX);
        assert_eq!(signed_difference(0, u64::MAX), i64::MIN);
    }
}
