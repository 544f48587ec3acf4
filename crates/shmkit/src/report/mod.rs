//! The memory model behind `shmkit mem`: pure functions of a [`Scan`].
//!
//! [`MemReport::new`] turns one scan into:
//! - [`FreeHeader`]: the numbers `free -b` prints, computed as procps-ng 4 computes them;
//! - [`BuffCache`]: buff/cache broken into what drop_caches frees now, what needs write-back
//!   first, buffers, reclaimable slab, and pinned memory (shmem, ramfs) — parts that add up to
//!   buff/cache;
//! - [`Pinned`]: meminfo `Shmem` itemised by object (tmpfs mounts with their largest files,
//!   System V segments, shared anonymous memory, memfds) with an explicit unattributed
//!   remainder, so the parts add up to `Shmem`;
//! - the leaks, each with the command that frees it.
//!
//! [`metrics`] renders the same report as Prometheus metrics.
//!
//! Nothing here reads the system: the same scan always gives the same report, so the model is
//! tested on fixture scans as well as live.

pub mod metrics;

use crate::address::Address;
use crate::scan::{Blindness, Coverage, Holder, Kind, LeakReason, Object, Remedy, Scan, Usage};
use serde::Serialize;

mod containers;
pub use containers::{
    containers, ContainerReport, DevShmUse, DEV_SHM_WARNING, DEV_SHM_WARN_PERCENT,
};

/// The version of the JSON document `shmkit mem --json` prints.
pub const SCHEMA: &str = "shmkit.mem/5";

/// The header `free -b` prints, field for field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct FreeHeader {
    /// `MemTotal`.
    pub total: u64,
    /// `MemTotal - MemAvailable` (procps-ng 4; without `MemAvailable`:
    /// total − free − buff/cache).
    pub used: u64,
    /// `MemFree`.
    pub free: u64,
    /// `Shmem`.
    pub shared: u64,
    /// `Buffers`.
    pub buffers: u64,
    /// `Cached + SReclaimable`.
    pub cache: u64,
    /// `buffers + cache`.
    pub buff_cache: u64,
    /// `MemAvailable` (the kernel's estimate).
    pub available: u64,
    /// `SwapTotal`.
    pub swap_total: u64,
    /// `SwapTotal - SwapFree`.
    pub swap_used: u64,
    /// `SwapFree`.
    pub swap_free: u64,
}

/// buff/cache, part by part; the parts add up to [`FreeHeader::buff_cache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct BuffCache {
    /// Clean file pages: `echo 1 > drop_caches` frees them now, except pages mapped by
    /// running processes, which stay until memory pressure reclaims them.
    pub clean_page_cache: u64,
    /// File pages mapped into processes (`Mapped` minus mapped shared memory, an upper
    /// bound): reclaimable under pressure, skipped by drop_caches while mapped.
    pub mapped_file: u64,
    /// `Dirty + Writeback`: freeable only after write-back (`sync` first).
    pub dirty_writeback: u64,
    /// `Buffers`: block-device metadata cache (drop_caches 1).
    pub buffers: u64,
    /// `SReclaimable`: dentries and inodes (drop_caches 2), less the ones in use.
    pub reclaimable_slab: u64,
    /// `Shmem`: tmpfs, System V, POSIX, shared anonymous, memfd; never freed by drop_caches.
    pub shmem: u64,
    /// ramfs files: in `Cached` but not `Shmem`, never freed and never swapped.
    pub ramfs: u64,
    /// The sum of the parts (equals `buff_cache` in [`FreeHeader`]).
    pub total: u64,
}

/// What a line of the pinned-memory itemisation is: an object of a [`Kind`], a whole tmpfs
/// mount, or the Shmem no object found accounts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PinnedKind {
    /// A tmpfs mount, with its files.
    TmpfsMount,
    /// A System V segment.
    Sysv,
    /// A POSIX object.
    Posix,
    /// A file on a tmpfs.
    Tmpfs,
    /// Shared anonymous memory.
    SharedAnon,
    /// A memfd.
    Memfd,
    /// A mapped file (not Shmem; never itemised, named for completeness).
    File,
    /// Shmem that no object found accounts for.
    Unattributed,
}

impl PinnedKind {
    /// The name JSON and the tables use (`tmpfs-mount`, `sysv`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            PinnedKind::TmpfsMount => "tmpfs-mount",
            PinnedKind::Unattributed => "unattributed",
            PinnedKind::Sysv => Kind::Sysv.as_str(),
            PinnedKind::Posix => Kind::Posix.as_str(),
            PinnedKind::Tmpfs => Kind::Tmpfs.as_str(),
            PinnedKind::SharedAnon => Kind::SharedAnon.as_str(),
            PinnedKind::Memfd => Kind::Memfd.as_str(),
            PinnedKind::File => Kind::File.as_str(),
        }
    }
}

impl From<Kind> for PinnedKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Sysv => PinnedKind::Sysv,
            Kind::Posix => PinnedKind::Posix,
            Kind::Tmpfs => PinnedKind::Tmpfs,
            Kind::SharedAnon => PinnedKind::SharedAnon,
            Kind::Memfd => PinnedKind::Memfd,
            Kind::File => PinnedKind::File,
        }
    }
}

impl std::fmt::Display for PinnedKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of the pinned-memory itemisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct PinnedItem {
    /// What it is: `tmpfs-mount`, `sysv`, `shared-anon`, `memfd`, `unattributed`.
    pub kind: PinnedKind,
    /// Its name: a mount point, a key and id, a memfd name.
    pub name: String,
    /// The object's address, as `ls` and `stat` give it (`None` for a mount or the
    /// unattributed remainder, which are no object).
    pub address: Option<Address>,
    /// The container it lives in (name or short id), `pid:N` for another namespace; `None`
    /// here.
    pub location: Option<String>,
    /// Bytes of `Shmem` it accounts for.
    #[serde(rename = "resident")]
    pub bytes: u64,
    /// Who holds it, if anyone.
    pub holders: Vec<Holder>,
    /// In use, idle (since when) or leaked.
    pub usage: Usage,
    /// Why the scan is not sure nobody holds it, when it is not.
    pub uncertain: Option<Blindness>,
    /// Whether it is a leak.
    pub orphan: bool,
    /// A leak only as far as the scan could see (unreadable processes may hold it).
    pub orphan_uncertain: bool,
    /// System V: attachments the kernel counts (also by processes this scan could not read).
    pub nattch: Option<u64>,
    /// Details: for a tmpfs mount, its largest files and POSIX objects.
    pub files: Vec<PinnedFile>,
}

/// A file inside a pinned tmpfs mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct PinnedFile {
    /// `posix` or `tmpfs`.
    pub kind: Kind,
    /// Its name or path (` (deleted)` if unlinked but still held).
    pub name: String,
    /// Its address, as `ls` and `stat` give it.
    pub address: Address,
    /// Allocated bytes.
    #[serde(rename = "resident")]
    pub bytes: u64,
    /// Who maps it or holds it open.
    pub holders: Vec<Holder>,
    /// In use, idle (since when) or leaked.
    pub usage: Usage,
    /// Why the scan is not sure nobody holds it, when it is not.
    pub uncertain: Option<Blindness>,
    /// Whether it is a leak.
    pub orphan: bool,
    /// A leak only as far as the scan could see.
    pub orphan_uncertain: bool,
}

/// `Shmem`, itemised; the items add up to `total`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Pinned {
    /// meminfo `Shmem`.
    pub total: u64,
    /// Largest first; the last item is the unattributed remainder when there is one.
    pub items: Vec<PinnedItem>,
    /// What the objects account for.
    pub attributed: u64,
    /// `Shmem` that no object found accounts for (GPU driver buffers, tmpfs mounts in other
    /// mount namespaces, objects of unreadable processes).
    pub unattributed: u64,
    /// How far the objects exceed `Shmem` (counts taken moments apart, swapped pages that
    /// tmpfs still counts as allocated); 0 normally.
    pub overcounted: u64,
}

/// A leaked object and the command that frees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Leak {
    /// The container it lives in (name or short id), `pid:N` for another namespace; `None`
    /// here.
    pub location: Option<String>,
    /// Its kind.
    pub kind: Kind,
    /// Its address (`sysv:id=5`), as `ls` and `stat` give it.
    pub address: Address,
    /// Resident bytes it pins.
    #[serde(rename = "resident")]
    pub bytes: u64,
    /// Why it is a leak.
    pub reason: LeakReason,
    /// A leak only as far as the scan could see: processes it could not see may hold it.
    pub uncertain: bool,
    /// Why the scan could not see them, when `uncertain`.
    pub blindness: Option<Blindness>,
    /// Huge pages (`SHM_HUGETLB`): what it pins is in `HugePages_*`, not in `Shmem`.
    pub hugetlb: bool,
    /// What frees it, from the host (for a container's object, removing it from inside the
    /// container); the renderers word it as the command that does it.
    pub remedy: Option<Remedy>,
}

/// Huge pages (hugetlbfs, `SHM_HUGETLB` segments): a pool of its own, counted in
/// `HugePages_*` and `Hugetlb`, never in `Shmem` or buff/cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct HugePages {
    /// meminfo `Hugetlb`: bytes of every huge page size in the pool.
    pub pool: u64,
    /// `HugePages_Total × Hugepagesize`.
    pub total: u64,
    /// `HugePages_Free × Hugepagesize`.
    pub free: u64,
    /// The System V segments backed by huge pages.
    pub segments: Vec<PinnedItem>,
}

/// Everything `shmkit mem` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct MemReport {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// free's header.
    pub free: FreeHeader,
    /// buff/cache, part by part.
    pub buff_cache: BuffCache,
    /// Shared memory, object by object.
    pub pinned: Pinned,
    /// The kernel's `MemAvailable`.
    pub kernel_available: u64,
    /// Free memory plus everything reclaimable without swapping (clean and dirty page cache,
    /// buffers, reclaimable slab), with pinned memory excluded. The kernel's estimate is lower:
    /// it keeps watermarks and assumes part of the cache stays.
    pub really_available: u64,
    /// `free + buff/cache`: what a naive reading of `free` calls available.
    pub naive_available: u64,
    /// Leaks, largest first.
    pub leaks: Vec<Leak>,
    /// Huge pages: not `Shmem`, so not in [`MemReport::pinned`].
    pub huge_pages: HugePages,
    /// Swap is on: shmem can move to swap under pressure (but drop_caches never frees it).
    pub swap_on: bool,
    /// Each container's shared memory, limits and warnings.
    pub containers: Vec<ContainerReport>,
    /// What the scan could not see.
    pub coverage: Coverage,
}

impl MemReport {
    /// Builds the report from one scan.
    pub fn new(scan: &Scan) -> MemReport {
        let free = free_header(scan);
        let pinned = pinned(scan);
        let buff_cache = buff_cache(scan, &free);
        let really_available = free.free
            + buff_cache.clean_page_cache
            + buff_cache.mapped_file
            + buff_cache.dirty_writeback
            + buff_cache.buffers
            + buff_cache.reclaimable_slab;
        let mut leaks: Vec<Leak> = scan
            .objects
            .iter()
            .filter_map(|o| match o.status.usage {
                Usage::Leaked { reason } => Some(Leak {
                    location: label(&o.location),
                    kind: o.kind,
                    address: o.address.clone(),
                    bytes: o.resident.unwrap_or(0),
                    reason,
                    uncertain: o.status.uncertain.is_some(),
                    blindness: o.status.uncertain,
                    hugetlb: o.status.hugetlb,
                    remedy: o.remedy.clone(),
                }),
                _ => None,
            })
            .collect();
        leaks.sort_by_key(|l| std::cmp::Reverse(l.bytes));
        MemReport {
            schema: SCHEMA,
            naive_available: free.free + free.buff_cache,
            kernel_available: free.available,
            really_available,
            free,
            buff_cache,
            pinned,
            leaks,
            huge_pages: huge_pages(scan),
            swap_on: scan.swap_total > 0,
            containers: containers(scan),
            coverage: scan.coverage.clone(),
        }
    }
}

fn free_header(scan: &Scan) -> FreeHeader {
    let m = &scan.meminfo;
    let total = m.mem_total;
    let free = m.mem_free;
    let buffers = m.buffers().unwrap_or(0);
    let cache = m.cached().unwrap_or(0) + m.s_reclaimable().unwrap_or(0);
    let buff_cache = buffers + cache;
    // procps-ng 4 takes used = total - available; before MemAvailable existed (Linux < 3.14)
    // it subtracted free and buff/cache, and so does it when MemAvailable is absent.
    let (available, used) = match m.mem_available() {
        Some(avail) => (avail.min(total), total.saturating_sub(avail)),
        None => {
            let used = total.saturating_sub(free + buff_cache);
            (free, used)
        }
    };
    let swap_total = m.swap_total().unwrap_or(0);
    let swap_free = m.swap_free().unwrap_or(0);
    FreeHeader {
        total,
        used,
        free,
        shared: m.shmem().unwrap_or(0),
        buffers,
        cache,
        buff_cache,
        available,
        swap_total,
        swap_used: swap_total.saturating_sub(swap_free),
        swap_free,
    }
}

fn ramfs_bytes(scan: &Scan) -> u64 {
    scan.mounts
        .iter()
        .filter(|m| m.fs_type == "ramfs")
        .map(|m| m.used)
        .sum()
}

fn buff_cache(scan: &Scan, free: &FreeHeader) -> BuffCache {
    let m = &scan.meminfo;
    let cached = m.cached().unwrap_or(0);
    let shmem = m.shmem().unwrap_or(0);
    let ramfs = ramfs_bytes(scan).min(cached.saturating_sub(shmem));
    let dirty_writeback = (m.dirty().unwrap_or(0) + m.writeback().unwrap_or(0))
        .min(cached.saturating_sub(shmem + ramfs));
    let file_cache = cached.saturating_sub(shmem + ramfs + dirty_writeback);
    // Mapped counts mapped shmem too; what shared memory processes map is at most what is
    // resident of the mapped objects, so subtract that to bound the mapped file pages.
    let mapped_shmem: u64 = scan
        .objects
        .iter()
        .filter(|o| o.kind.is_shmem() && !o.status.hugetlb && !o.holders.is_empty())
        .map(|o| o.resident.unwrap_or(0))
        .sum();
    let mapped_file = m
        .mapped()
        .unwrap_or(0)
        .saturating_sub(mapped_shmem)
        .min(file_cache);
    let clean_page_cache = file_cache - mapped_file;
    let buffers = free.buffers;
    let reclaimable_slab = m.s_reclaimable().unwrap_or(0);
    BuffCache {
        clean_page_cache,
        mapped_file,
        dirty_writeback,
        buffers,
        reclaimable_slab,
        shmem: shmem.min(cached),
        ramfs,
        total: clean_page_cache
            + mapped_file
            + dirty_writeback
            + buffers
            + reclaimable_slab
            + shmem.min(cached)
            + ramfs,
    }
}

/// Where an item lives, for people: `None` in the scan's own namespaces.
fn label(l: &crate::scan::Location) -> Option<String> {
    l.foreign.then(|| l.label())
}

/// One object's line.
fn pinned_item(o: &Object) -> PinnedItem {
    let name = match &o.sysv {
        Some(s) => format!("{} id={}", o.name, s.shmid),
        None => o.name.clone(),
    };
    PinnedItem {
        kind: PinnedKind::from(o.kind),
        name,
        address: Some(o.address.clone()),
        location: label(&o.location),
        bytes: o.resident.unwrap_or(0),
        holders: o.holders.clone(),
        usage: o.status.usage,
        uncertain: o.status.uncertain,
        orphan: o.status.orphan,
        orphan_uncertain: o.status.orphan_uncertain,
        nattch: o.sysv.as_ref().map(|s| s.nattch),
        files: Vec::new(),
    }
}

fn huge_pages(scan: &Scan) -> HugePages {
    let m = &scan.meminfo;
    let page = m.get("Hugepagesize").unwrap_or(0);
    // HugePages_* are counts of pages, not kB.
    let count = |name: &str| m.get(name).unwrap_or(0);
    let mut segments: Vec<PinnedItem> = scan
        .objects
        .iter()
        .filter(|o| o.status.hugetlb)
        .map(pinned_item)
        .collect();
    segments.sort_by_key(|i| std::cmp::Reverse(i.bytes));
    HugePages {
        pool: m.get("Hugetlb").unwrap_or(0),
        total: count("HugePages_Total").saturating_mul(page),
        free: count("HugePages_Free").saturating_mul(page),
        segments,
    }
}

fn pinned(scan: &Scan) -> Pinned {
    let total = scan.meminfo.shmem().unwrap_or(0);
    let mut items = Vec::new();
    for mount in scan.mounts.iter().filter(|m| m.fs_type == "tmpfs") {
        let mut files: Vec<PinnedFile> = scan
            .objects
            .iter()
            // By device: every container has a /dev/shm of its own (by mount point within
            // the same mount namespace where no device is known).
            .filter(|o| match o.dev {
                Some(dev) => o.mount.is_some() && dev == mount.dev,
                None => {
                    o.mount.as_deref() == Some(mount.mount_point.as_str())
                        && o.location.namespaces.mnt == mount.location.namespaces.mnt
                }
            })
            .map(|o| PinnedFile {
                kind: o.kind,
                name: o.name.clone(),
                bytes: o.resident.unwrap_or(0),
                address: o.address.clone(),
                holders: o.holders.clone(),
                usage: o.status.usage,
                uncertain: o.status.uncertain,
                orphan: o.status.orphan,
                orphan_uncertain: o.status.orphan_uncertain,
            })
            .collect();
        files.sort_by_key(|f| std::cmp::Reverse(f.bytes));
        if mount.used == 0 && files.is_empty() {
            continue;
        }
        items.push(PinnedItem {
            kind: PinnedKind::TmpfsMount,
            name: mount.mount_point.clone(),
            address: None,
            location: label(&mount.location),
            bytes: mount.used,
            holders: Vec::new(),
            usage: Usage::InUse,
            uncertain: None,
            orphan: false,
            orphan_uncertain: false,
            nattch: None,
            files,
        });
    }
    for o in scan.objects.iter().filter(|o| !o.status.hugetlb) {
        let counted = match o.kind {
            Kind::Sysv | Kind::SharedAnon | Kind::Memfd => true,
            // Files of a tmpfs mount are counted in their mount's usage.
            Kind::Posix | Kind::Tmpfs => o.mount.is_none(),
            Kind::File => false,
        };
        if !counted {
            continue;
        }
        items.push(pinned_item(o));
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.bytes));
    let attributed: u64 = items.iter().map(|i| i.bytes).sum();
    let unattributed = total.saturating_sub(attributed);
    let overcounted = attributed.saturating_sub(total);
    if unattributed > 0 {
        items.push(PinnedItem {
            kind: PinnedKind::Unattributed,
            name: "no object found accounts for it".to_string(),
            address: None,
            location: None,
            bytes: unattributed,
            holders: Vec::new(),
            usage: Usage::InUse,
            uncertain: None,
            orphan: false,
            orphan_uncertain: false,
            nattch: None,
            files: Vec::new(),
        });
    }
    Pinned {
        total,
        items,
        attributed,
        unattributed,
        overcounted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{HoldVia, Holder, Location, TmpfsMount};

    const MIB: u64 = 1 << 20;

    fn meminfo(lines: &[(&str, u64)]) -> shmkit_procfs::MemInfo {
        let text: String = lines
            .iter()
            .map(|(name, mib)| format!("{name}: {} kB\n", mib * 1024))
            .collect();
        shmkit_procfs::meminfo::parse(&text).unwrap()
    }

    fn object(kind: Kind, name: &str, resident: u64, mount: Option<&str>) -> Object {
        let mut o = Object::new(kind, crate::address::Address::File(name.into()), name);
        o.size = resident;
        o.resident = Some(resident);
        o.mode = 0o600;
        o.mount = mount.map(str::to_string);
        o
    }

    /// A host with 100 MiB Shmem: a /dev/shm holding 30 MiB, a 40 MiB orphan segment, a
    /// 20 MiB shared anonymous region held by pid 7, and 10 MiB nobody accounts for.
    fn scan() -> Scan {
        let mut segment = object(Kind::Sysv, "0x0000162e", 40 * MIB, None);
        let leaked = crate::scan::Usage::Leaked {
            reason: crate::scan::LeakReason::PrivateSegmentCreatorExited { creator: 7 },
        };
        segment.status = crate::scan::Status::judged(leaked, None);
        segment.remedy = Some(Remedy::RemoveSegment { shmid: 5 });
        segment.address = "sysv:id=5".parse().unwrap();
        let mut anon = object(Kind::SharedAnon, "shared-anon:9", 20 * MIB, None);
        anon.holders.push(Holder {
            pid: 7,
            comm: "postgres".into(),
            uid: 0,
            via: HoldVia::Map,
            mapped: 20 * MIB,
        });
        Scan {
            objects: vec![
                segment,
                object(Kind::Posix, "/big", 30 * MIB, Some("/dev/shm")),
                anon,
                object(Kind::File, "/var/lib/x", 0, None),
            ],
            mounts: vec![TmpfsMount {
                mount_point: "/dev/shm".into(),
                fs_type: "tmpfs".into(),
                dev: crate::DeviceId::new(0, 23),
                size_limit: Some(1024 * MIB),
                used: 30 * MIB,
                files: 1,
                is_dev_shm: true,
                location: Location::default(),
            }],
            meminfo: meminfo(&[
                ("MemTotal", 1000),
                ("MemFree", 300),
                ("MemAvailable", 600),
                ("Buffers", 10),
                ("Cached", 400),
                ("Dirty", 5),
                ("Writeback", 1),
                ("Mapped", 50),
                ("Shmem", 100),
                ("SReclaimable", 20),
                ("SwapTotal", 0),
                ("SwapFree", 0),
            ]),
            swap_total: 0,
            coverage: Coverage::default(),
            containers: Vec::new(),
        }
    }

    #[test]
    fn header_follows_procps_ng_4() {
        let r = MemReport::new(&scan());
        assert_eq!(r.free.total, 1000 * MIB);
        assert_eq!(r.free.used, 400 * MIB, "used = total - MemAvailable");
        assert_eq!(r.free.shared, 100 * MIB);
        assert_eq!(
            r.free.buff_cache,
            430 * MIB,
            "Buffers + Cached + SReclaimable"
        );
        assert_eq!(r.free.available, 600 * MIB);
    }

    #[test]
    fn buff_cache_parts_add_up_to_buff_cache() {
        let r = MemReport::new(&scan());
        let b = r.buff_cache;
        assert_eq!(b.total, r.free.buff_cache);
        assert_eq!(b.shmem, 100 * MIB);
        assert_eq!(b.dirty_writeback, 6 * MIB);
        // Mapped 50 MiB includes the 20 MiB shared anonymous region its holder maps.
        assert_eq!(b.mapped_file, 30 * MIB);
        assert_eq!(b.clean_page_cache, (400 - 100 - 6 - 30) * MIB);
    }

    #[test]
    fn pinned_items_add_up_to_shmem_with_unattributed_remainder() {
        let r = MemReport::new(&scan());
        let p = &r.pinned;
        assert_eq!(p.total, 100 * MIB);
        assert_eq!(p.attributed, 90 * MIB);
        assert_eq!(p.unattributed, 10 * MIB);
        let sum: u64 = p.items.iter().map(|i| i.bytes).sum();
        assert_eq!(sum, p.total);
        let kinds: Vec<&str> = p.items.iter().map(|i| i.kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["sysv", "tmpfs-mount", "shared-anon", "unattributed"]
        );
        assert_eq!(
            p.items[1].files[0].name, "/big",
            "posix objects listed under their mount"
        );
        assert_eq!(
            (
                p.items[2].holders[0].pid,
                p.items[2].holders[0].comm.as_str()
            ),
            (7, "postgres")
        );
    }

    #[test]
    fn leaks_carry_the_command_that_frees_them() {
        let r = MemReport::new(&scan());
        assert_eq!(r.leaks.len(), 1);
        assert_eq!(r.leaks[0].address.to_string(), "sysv:id=5");
        assert_eq!(r.leaks[0].bytes, 40 * MIB);
        assert_eq!(r.leaks[0].remedy, Some(Remedy::RemoveSegment { shmid: 5 }));
    }

    #[test]
    fn really_available_excludes_shared_memory() {
        let r = MemReport::new(&scan());
        // free 300 + (Cached 400 - Shmem 100) + Buffers 10 + SReclaimable 20.
        assert_eq!(r.really_available, 630 * MIB);
        assert_eq!(r.naive_available, 730 * MIB);
    }

    #[test]
    fn objects_exceeding_shmem_are_reported_not_hidden() {
        let mut s = scan();
        s.meminfo = meminfo(&[
            ("MemTotal", 1000),
            ("MemFree", 300),
            ("Cached", 400),
            ("Shmem", 80),
        ]);
        let r = MemReport::new(&s);
        assert_eq!(r.pinned.unattributed, 0);
        assert_eq!(r.pinned.overcounted, 10 * MIB);
        assert!(r
            .pinned
            .items
            .iter()
            .all(|i| i.kind != PinnedKind::Unattributed));
    }

    #[test]
    fn without_mem_available_used_is_total_minus_free_and_buff_cache() {
        let mut s = scan();
        s.meminfo = meminfo(&[
            ("MemTotal", 1000),
            ("MemFree", 300),
            ("Buffers", 10),
            ("Cached", 400),
        ]);
        let r = MemReport::new(&s);
        assert_eq!(r.free.used, 290 * MIB);
    }
}
