//! What `echo N > /proc/sys/vm/drop_caches` would free, field by field, predicted from the
//! memory model of `shmkit mem` ([`MemReport`]), and compared with what a real drop freed.
//!
//! The model, level by level (each assumption is also printed by `shmkit reclaim`):
//! - **Level 1** (page cache) frees clean file pages that no process maps:
//!   `Cached − Shmem − ramfs − Dirty − Writeback − mapped file pages`, plus clean `Buffers`.
//!   Shmem (tmpfs, System V, POSIX, shared anonymous, memfd) and ramfs are never dropped;
//!   dirty and writeback pages stay until written (`--measure` syncs first); pages mapped by
//!   a process are skipped by drop_caches (memory pressure can still reclaim them). Mapped
//!   file pages are counted as the sum of `Pss_File` over every process's `smaps_rollup`
//!   where readable (exact for the processes this caller can see), else `shmkit mem`'s upper
//!   bound `Mapped − mapped shmem`.
//! - **Level 2** (slab) frees unused dentries and the inodes they pin: estimated as
//!   `SReclaimable × unused / all dentries` (`/proc/sys/fs/dentry-state`). Slab pages still
//!   holding one live object stay, so this leans high.
//! - **Level 3** is both.
//!
//! [`predict`] and [`compare`] are pure; [`inputs`] and [`measure`] do the I/O.

use crate::error::{Error, ErrorKind, Result};
use crate::lab::sample::{signed_difference, Sample};
use crate::report::MemReport;
use crate::scan::{Scan, ScanOptions};
use serde::Serialize;
use shmkit_procfs::ProcRoot;

/// What the prediction needs besides `shmkit mem`'s model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Inputs {
    /// `Cached`.
    pub cached: u64,
    /// `Shmem`.
    pub shmem: u64,
    /// ramfs files (never freed), from the scan's mounts.
    pub ramfs: u64,
    /// `Dirty + Writeback`.
    pub dirty_writeback: u64,
    /// `Buffers`.
    pub buffers: u64,
    /// `SReclaimable`.
    pub sreclaimable: u64,
    /// `Unevictable`.
    pub unevictable: u64,
    /// `Mlocked`.
    pub mlocked: u64,
    /// `shmkit mem`'s upper bound of mapped file pages (`Mapped − mapped shmem`).
    pub mapped_file_bound: u64,
    /// Σ `Pss_File` over the processes whose `smaps_rollup` was readable.
    pub mapped_file_pss: Option<u64>,
    /// Processes whose `smaps_rollup` was read, and those that could not be.
    pub processes_read: usize,
    /// Processes skipped (gone, or not readable by this user).
    pub processes_skipped: usize,
    /// `/proc/sys/fs/dentry-state`: all dentries and unused ones.
    pub dentries: Option<DentryState>,
    /// Reclaimable slab by kind, from `/sys/kernel/slab` (SLUB; readable by root).
    pub slab: Option<SlabParts>,
}

/// The first two numbers of `/proc/sys/fs/dentry-state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct DentryState {
    /// Every dentry the kernel holds.
    pub all: u64,
    /// The unused ones, which level 2 frees.
    pub unused: u64,
}

/// What stays of a counter after a drop, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Stays {
    /// What it is (`Shmem`, `dirty + writeback`, ...).
    pub what: String,
    /// Its size in bytes.
    pub size: u64,
}

fn stays(what: &str, size: u64) -> Stays {
    Stays {
        what: what.to_string(),
        size,
    }
}

/// Reclaimable slab (`SReclaimable`) split by what frees it, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct SlabParts {
    /// The dentry and inode caches: level 2 frees the unused ones.
    pub dentries_inodes: u64,
    /// The page cache's own bookkeeping (`radix_tree_node`, `buffer_head`): freed with the
    /// pages they index, by level 1.
    pub page_cache_index: u64,
    /// Every other reclaimable cache: drop_caches does not shrink these.
    pub other: u64,
}

impl Inputs {
    /// The inputs from `shmkit mem`'s report plus the extra counts.
    pub(crate) fn from_report(
        report: &MemReport,
        meminfo: &shmkit_procfs::MemInfo,
        mapped_file_pss: Option<(u64, usize, usize)>,
        dentries: Option<DentryState>,
        slab: Option<SlabParts>,
    ) -> Inputs {
        let bc = &report.buff_cache;
        Inputs {
            cached: meminfo.cached().unwrap_or(0),
            shmem: bc.shmem,
            ramfs: bc.ramfs,
            dirty_writeback: bc.dirty_writeback,
            buffers: bc.buffers,
            sreclaimable: bc.reclaimable_slab,
            unevictable: meminfo.get("Unevictable").unwrap_or(0),
            mlocked: meminfo.get("Mlocked").unwrap_or(0),
            mapped_file_bound: bc.mapped_file,
            mapped_file_pss: mapped_file_pss.map(|(b, _, _)| b),
            processes_read: mapped_file_pss.map_or(0, |(_, r, _)| r),
            processes_skipped: mapped_file_pss.map_or(0, |(_, _, s)| s),
            dentries,
            slab,
        }
    }

    /// Takes the meminfo counters anew from `meminfo`, keeping what came from the scan
    /// (ramfs, the mapped bound) and the slower counts: a measurement re-reads meminfo just
    /// before the drop, so that prediction and drop see the same moment.
    pub fn refresh(&mut self, meminfo: &shmkit_procfs::MemInfo) {
        let get = |name: &str| meminfo.get(name).unwrap_or(0);
        self.cached = get("Cached");
        self.shmem = get("Shmem");
        self.dirty_writeback = get("Dirty") + get("Writeback");
        self.buffers = get("Buffers");
        self.sreclaimable = get("SReclaimable");
        self.unevictable = get("Unevictable");
        self.mlocked = get("Mlocked");
    }

    /// File pages that are neither shmem, ramfs, nor dirty.
    fn clean_file_cache(&self) -> u64 {
        self.cached
            .saturating_sub(self.shmem)
            .saturating_sub(self.ramfs)
            .saturating_sub(self.dirty_writeback)
    }

    /// The mapped file pages the model uses: Σ Pss_File where read, else mem's bound (and
    /// never more than the bound: processes that exit between the two reads can only make the
    /// sum too large).
    pub fn mapped_file(&self) -> u64 {
        self.mapped_file_pss
            .unwrap_or(self.mapped_file_bound)
            .min(self.mapped_file_bound)
            .min(self.clean_file_cache())
    }

    /// The share of reclaimable slab that level 2 frees: unused / all dentries.
    pub fn unused_dentry_fraction(&self) -> f64 {
        match self.dentries {
            Some(DentryState { all, unused }) if all > 0 => (unused.min(all)) as f64 / all as f64,
            _ => 0.0,
        }
    }
}

/// One field of `/proc/meminfo` at one level.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct FieldPrediction {
    /// `Cached`, `Buffers` or `SReclaimable`.
    pub field: &'static str,
    /// Its value now.
    pub now: u64,
    /// What the level frees of it.
    pub frees: u64,
    /// What stays, and why, part by part.
    pub stays: Vec<Stays>,
}

/// What one drop_caches level frees.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct LevelPrediction {
    /// 1, 2 or 3.
    pub level: u8,
    /// Cached, Buffers, SReclaimable.
    pub fields: Vec<FieldPrediction>,
    /// The sum of `frees`.
    pub total: u64,
}

/// The version of the JSON document `shmkit reclaim --json` prints.
pub const SCHEMA: &str = "shmkit.reclaim/2";
/// The version of the JSON document `shmkit reclaim --measure N --json` prints.
pub const MEASURE_SCHEMA: &str = "shmkit.reclaim-measure/2";

/// The whole prediction: the three levels, the assumptions behind them, and the cost.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Prediction {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// What the model saw.
    pub inputs: Inputs,
    /// Levels 1, 2 and 3.
    pub levels: Vec<LevelPrediction>,
    /// The model's assumptions, in words, with this machine's figures.
    pub assumptions: Vec<String>,
    /// What dropping costs.
    pub cost: &'static str,
}

/// What dropping costs, said wherever a prediction is shown.
pub const COST: &str = "Dropping is not free memory for nothing: every file page dropped is read from disk again the next time a program needs it (slower starts, an I/O burst), and every dentry and inode dropped is looked up again. The kernel reclaims this memory by itself when it needs it; drop_caches is for measuring, not for tuning.";

/// Predicts what level `level` (1, 2 or 3) frees.
pub(crate) fn predict_level(inputs: &Inputs, level: u8) -> LevelPrediction {
    let pages = level == 1 || level == 3;
    let slab = level == 2 || level == 3;
    let mapped = inputs.mapped_file();
    let droppable_cache = inputs.clean_file_cache().saturating_sub(mapped);
    let cached_stays = vec![
        stays("Shmem", inputs.shmem),
        stays("ramfs", inputs.ramfs),
        stays("dirty + writeback", inputs.dirty_writeback),
        stays("mapped file pages", mapped),
    ];
    let cached = FieldPrediction {
        field: "Cached",
        now: inputs.cached,
        frees: if pages { droppable_cache } else { 0 },
        stays: if pages {
            cached_stays
        } else {
            vec![stays("not touched by level 2", inputs.cached)]
        },
    };
    let buffers = FieldPrediction {
        field: "Buffers",
        now: inputs.buffers,
        frees: if pages { inputs.buffers } else { 0 },
        stays: if pages {
            Vec::new()
        } else {
            vec![stays("not touched by level 2", inputs.buffers)]
        },
    };
    let (slab_frees, slab_stays) = slab_prediction(inputs, pages, slab, droppable_cache);
    let sreclaimable = FieldPrediction {
        field: "SReclaimable",
        now: inputs.sreclaimable,
        frees: slab_frees,
        stays: slab_stays,
    };
    let fields = vec![cached, buffers, sreclaimable];
    let total = fields.iter().map(|f| f.frees).sum();
    LevelPrediction {
        level,
        fields,
        total,
    }
}

/// What a level frees of `SReclaimable`, and what stays and why.
fn slab_prediction(
    inputs: &Inputs,
    pages: bool,
    slab: bool,
    droppable_cache: u64,
) -> (u64, Vec<Stays>) {
    let unused = inputs.unused_dentry_fraction();
    let Some(parts) = inputs.slab else {
        // Without the breakdown: the unused share of all of it, at level 2 and 3.
        let frees = if slab {
            ((inputs.sreclaimable as f64 * unused) as u64).min(inputs.sreclaimable)
        } else {
            0
        };
        let why = if slab {
            "in use"
        } else {
            "not touched by level 1"
        };
        return (frees, vec![stays(why, inputs.sreclaimable - frees)]);
    };
    let dentries = if slab {
        ((parts.dentries_inodes as f64 * unused) as u64).min(parts.dentries_inodes)
    } else {
        0
    };
    // The index nodes and buffer heads go with the pages they describe, in proportion.
    let index = if pages && inputs.cached > 0 {
        let share = droppable_cache as f64 / inputs.cached as f64;
        ((parts.page_cache_index as f64 * share) as u64).min(parts.page_cache_index)
    } else {
        0
    };
    let frees = (dentries + index).min(inputs.sreclaimable);
    let stays = vec![
        stays(
            "dentries and inodes in use",
            parts.dentries_inodes - dentries,
        ),
        stays("index of pages that stay", parts.page_cache_index - index),
        stays("other reclaimable slab", parts.other),
    ];
    (frees, stays)
}

/// Predicts all three levels and states the assumptions with this machine's figures.
pub fn predict(inputs: &Inputs) -> Prediction {
    use crate::render::size::human;
    let mapped_source = match inputs.mapped_file_pss {
        Some(pss) => format!(
            "the sum of Pss_File over {} processes' smaps_rollup = {} (not readable: {}; shmkit mem's upper bound Mapped − mapped shmem = {})",
            inputs.processes_read,
            human(pss),
            inputs.processes_skipped,
            human(inputs.mapped_file_bound)
        ),
        None => format!(
            "shmkit mem's upper bound Mapped − mapped shmem = {} (smaps_rollup not readable)",
            human(inputs.mapped_file_bound)
        ),
    };
    let dentries = match inputs.dentries {
        Some(DentryState { all, unused }) => format!("{unused} of {all} dentries unused"),
        None => "dentry-state not readable: no slab predicted".to_string(),
    };
    let assumptions = vec![
        "Level 1 frees clean page cache that no process maps: Cached − Shmem − ramfs − Dirty − Writeback − mapped file pages, plus Buffers.".to_string(),
        format!("Mapped file pages stay (drop_caches skips them; memory pressure does not): {mapped_source}."),
        format!("Dirty + Writeback ({}) stay until written back: run sync first (--measure does).", human(inputs.dirty_writeback)),
        format!("Shmem ({}) is never dropped: tmpfs, System V, POSIX, shared anonymous, memfd. Neither is ramfs ({}).", human(inputs.shmem), human(inputs.ramfs)),
        format!("Unevictable {} (Mlocked {}): the mlocked file pages among them are mapped, so already counted as staying.", human(inputs.unevictable), human(inputs.mlocked)),
        "Buffers are assumed clean and unused after sync; the few in use (journal, superblocks) stay.".to_string(),
        match inputs.slab {
            Some(parts) => format!(
                "Level 2 frees the unused share ({dentries}) of the dentry and inode caches ({} in /sys/kernel/slab): unused dentries go, with the inodes they pin. This leans high: slab pages that still hold one live object stay, and an inode that still has cached pages is kept, so level 2 alone frees less than level 3, which drops the pages first.",
                human(parts.dentries_inodes)
            ),
            None => format!("Level 2 frees SReclaimable × unused/all dentries ({dentries}); /sys/kernel/slab is not readable, so other reclaimable caches are assumed to shrink alike, which leans high."),
        },
        match inputs.slab {
            Some(parts) => format!(
                "Level 1 also frees the page cache's own index (radix_tree_node, buffer_head: {}) in proportion to the pages it drops; other reclaimable slab ({}) stays.",
                human(parts.page_cache_index),
                human(parts.other)
            ),
            None => "Level 1 also frees a little slab (page-cache index nodes, buffer heads) that is not predicted here.".to_string(),
        },
    ];
    Prediction {
        schema: SCHEMA,
        inputs: inputs.clone(),
        levels: (1..=3).map(|l| predict_level(inputs, l)).collect(),
        assumptions,
        cost: COST,
    }
}

/// One field, predicted against what a real drop freed.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct FieldOutcome {
    /// `Cached`, `Buffers`, `SReclaimable`, or `total`.
    pub field: &'static str,
    /// Before the drop.
    pub before: u64,
    /// After the drop.
    pub after: u64,
    /// What the model predicted it would free.
    pub predicted: u64,
    /// What it freed (`before − after`; negative if it grew meanwhile).
    pub actual: i64,
    /// `(actual − predicted) / predicted` in percent (`None` when nothing was predicted).
    pub difference_percent: Option<f64>,
}

/// The outcome of a real drop.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Measurement {
    /// [`MEASURE_SCHEMA`].
    pub schema: &'static str,
    /// The level dropped.
    pub level: u8,
    /// The prediction it is compared with.
    pub prediction: LevelPrediction,
    /// Cached, Buffers, SReclaimable, then their total.
    pub fields: Vec<FieldOutcome>,
    /// `MemFree` after − before.
    pub mem_free_gain: i64,
    /// `Shmem` before and after: pinned memory, which must not move.
    pub shmem_before: u64,
    /// `Shmem` after.
    pub shmem_after: u64,
    /// How long the write to drop_caches took, in seconds.
    pub drop_seconds: f64,
    /// What dropping costs.
    pub cost: &'static str,
}

fn outcome(field: &'static str, before: u64, after: u64, predicted: u64) -> FieldOutcome {
    let actual = signed_difference(before, after);
    FieldOutcome {
        field,
        before,
        after,
        predicted,
        actual,
        difference_percent: (predicted > 0)
            .then(|| (actual as f64 - predicted as f64) * 100.0 / predicted as f64),
    }
}

/// Compares a level's prediction with the samples before and after the drop.
pub fn compare(
    prediction: &LevelPrediction,
    before: &Sample,
    after: &Sample,
    drop_seconds: f64,
) -> Measurement {
    let predicted = |name: &str| {
        prediction
            .fields
            .iter()
            .find(|f| f.field == name)
            .map_or(0, |f| f.frees)
    };
    let mut fields = vec![
        outcome("Cached", before.cached, after.cached, predicted("Cached")),
        outcome(
            "Buffers",
            before.buffers,
            after.buffers,
            predicted("Buffers"),
        ),
        outcome(
            "SReclaimable",
            before.sreclaimable,
            after.sreclaimable,
            predicted("SReclaimable"),
        ),
    ];
    let sum_before = before.cached + before.buffers + before.sreclaimable;
    let sum_after = after.cached + after.buffers + after.sreclaimable;
    fields.push(outcome("total", sum_before, sum_after, prediction.total));
    Measurement {
        schema: MEASURE_SCHEMA,
        level: prediction.level,
        prediction: prediction.clone(),
        fields,
        mem_free_gain: signed_difference(after.mem_free, before.mem_free),
        shmem_before: before.shmem,
        shmem_after: after.shmem,
        drop_seconds,
        cost: COST,
    }
}

/// Σ `Pss_File` over every process's `smaps_rollup`: (bytes, processes read, skipped).
pub(crate) fn mapped_file_pss(root: &ProcRoot) -> Option<(u64, usize, usize)> {
    let pids = root.pids().ok()?;
    let (mut total, mut read, mut skipped) = (0u64, 0usize, 0usize);
    for pid in pids {
        match root.read_to_string(format!("/proc/{pid}/smaps_rollup")) {
            Ok(Some(text)) => match rollup_field(&text, "Pss_File") {
                Some(pss) => {
                    total += pss;
                    read += 1;
                }
                // A kernel before 5.9 has no Pss_File.
                None => skipped += 1,
            },
            // Gone meanwhile, or a kernel thread (no memory map: ESRCH): maps nothing.
            Ok(None) => {}
            Err(_) => skipped += 1,
        }
    }
    (read > 0).then_some((total, read, skipped))
}

/// One `Name:   N kB` line of an `smaps_rollup`, in bytes (its first line is the rollup's
/// address range, not a field).
fn rollup_field(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (key, rest) = line.split_once(':')?;
        if key != name {
            return None;
        }
        let kb: u64 = rest.split_whitespace().next()?.parse().ok()?;
        kb.checked_mul(1024)
    })
}

/// `/proc/sys/fs/dentry-state`: all dentries and unused ones.
pub(crate) fn dentry_state(root: &ProcRoot) -> Option<DentryState> {
    let text = root.read_to_string("/proc/sys/fs/dentry-state").ok()??;
    let mut numbers = text.split_whitespace().map(|w| w.parse::<u64>().ok());
    Some(DentryState {
        all: numbers.next()??,
        unused: numbers.next()??,
    })
}

/// Reclaimable slab by kind from `/sys/kernel/slab` (SLUB): every cache directory whose
/// `reclaim_account` is 1, sized as `slabs × (page << order)`, named by itself and by the
/// aliases (symlinks) that point to it. `None` where the directory cannot be read.
pub(crate) fn slab_parts(root: &ProcRoot) -> Option<SlabParts> {
    let dir = root.path("/sys/kernel/slab");
    let mut aliases: std::collections::HashMap<String, Vec<String>> = Default::default();
    let mut caches = Vec::new();
    for entry in std::fs::read_dir(&dir).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        match std::fs::read_link(entry.path()) {
            Ok(target) => {
                let target = target.file_name()?.to_string_lossy().to_string();
                aliases.entry(target).or_default().push(name);
            }
            Err(_) => caches.push(name),
        }
    }
    let page = crate::sys::page_size();
    let read_number = |cache: &str, file: &str| -> Option<u64> {
        let text = root
            .read_to_string(format!("/sys/kernel/slab/{cache}/{file}"))
            .ok()??;
        text.split_whitespace().next()?.parse().ok()
    };
    let mut parts = SlabParts::default();
    let mut any = false;
    for cache in caches {
        if read_number(&cache, "reclaim_account") != Some(1) {
            continue;
        }
        let (Some(slabs), Some(order)) =
            (read_number(&cache, "slabs"), read_number(&cache, "order"))
        else {
            continue;
        };
        any = true;
        let bytes = slabs.saturating_mul(page << order.min(10));
        let mut names = aliases.remove(&cache).unwrap_or_default();
        names.push(cache);
        if names
            .iter()
            .any(|n| n == "dentry" || n.ends_with("inode_cache"))
        {
            parts.dentries_inodes += bytes;
        } else if names
            .iter()
            .any(|n| n == "radix_tree_node" || n == "buffer_head")
        {
            parts.page_cache_index += bytes;
        } else {
            parts.other += bytes;
        }
    }
    any.then_some(parts)
}

/// Scans the host and gathers the model's inputs now.
pub fn inputs(root: &ProcRoot) -> Result<Inputs> {
    gather(root).map(|(inputs, _)| inputs)
}

/// The inputs, and the meminfo sample of the moment they describe (the "before" of a
/// measurement): the slow reads (scan, smaps_rollup, slab) first, then meminfo once more.
fn gather(root: &ProcRoot) -> Result<(Inputs, Sample)> {
    let meminfo_error = |e: String| {
        Error::new(ErrorKind::Other, "/proc/meminfo", e).with_fix("shmkit needs a mounted /proc")
    };
    // Holders are not needed: mapped file pages come from smaps_rollup, and without holders
    // mem's bound is plain Mapped, still an upper bound.
    let options = ScanOptions {
        holders: false,
        ..ScanOptions::default()
    };
    let scan = Scan::collect(root, &options).map_err(|e| meminfo_error(e.to_string()))?;
    let report = MemReport::new(&scan);
    let mut inputs = Inputs::from_report(
        &report,
        &scan.meminfo,
        mapped_file_pss(root),
        dentry_state(root),
        slab_parts(root),
    );
    let meminfo = root.meminfo().map_err(|e| meminfo_error(e.to_string()))?;
    inputs.refresh(&meminfo);
    Ok((inputs, Sample::from_meminfo(&meminfo)?))
}

/// Syncs, predicts, drops `level` for real and measures. Needs root.
pub fn measure(root: &ProcRoot, level: u8) -> Result<Measurement> {
    if !(1..=3).contains(&level) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("--measure {level}"),
            "drop_caches has levels 1 (page cache), 2 (slab) and 3 (both)",
        )
        .with_fix("use --measure 1, 2 or 3"));
    }
    if crate::sys::geteuid() != 0 {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "/proc/sys/vm/drop_caches",
            "only root can drop caches",
        )
        .with_fix("run it as root: sudo shmkit reclaim --measure 3"));
    }
    // Written-back pages become clean and droppable: sync before predicting, as the drop
    // itself does.
    crate::sys::fs::sync();
    // The "before" figures are the meminfo the prediction was made from, so that both sides
    // describe the same moment.
    let (inputs, before) = gather(root)?;
    let prediction = predict_level(&inputs, level);
    let started = std::time::Instant::now();
    crate::lab::runner::drop_caches(root, level)?;
    let drop_seconds = started.elapsed().as_secs_f64();
    let after = crate::lab::runner::read_sample(root)?;
    Ok(compare(&prediction, &before, &after, drop_seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u64 = 1 << 20;

    fn inputs() -> Inputs {
        Inputs {
            cached: 1000 * M,
            shmem: 200 * M,
            ramfs: 10 * M,
            dirty_writeback: 40 * M,
            buffers: 20 * M,
            sreclaimable: 100 * M,
            unevictable: 14 * M,
            mlocked: 14 * M,
            mapped_file_bound: 150 * M,
            mapped_file_pss: Some(100 * M),
            processes_read: 50,
            processes_skipped: 0,
            dentries: Some(DentryState {
                all: 1000,
                unused: 900,
            }),
            slab: None,
        }
    }

    #[test]
    fn level_1_frees_clean_unmapped_file_cache_and_buffers_never_shmem() {
        let p = predict_level(&inputs(), 1);
        let cached = &p.fields[0];
        // 1000 − 200 shmem − 10 ramfs − 40 dirty − 100 mapped = 650
        assert_eq!(cached.frees, 650 * M);
        assert_eq!(
            cached.stays.iter().map(|s| s.size).sum::<u64>() + cached.frees,
            cached.now
        );
        assert_eq!(p.fields[1].frees, 20 * M);
        assert_eq!(p.fields[2].frees, 0);
        assert_eq!(p.total, 670 * M);
    }

    #[test]
    fn without_smaps_rollup_the_mapped_bound_is_used_and_the_prediction_is_lower() {
        let mut i = inputs();
        i.mapped_file_pss = None;
        assert_eq!(predict_level(&i, 1).fields[0].frees, 600 * M);
    }

    #[test]
    fn level_2_frees_the_unused_dentry_share_of_reclaimable_slab() {
        let p = predict_level(&inputs(), 2);
        assert_eq!(p.fields[0].frees, 0);
        assert_eq!(p.fields[2].frees, 90 * M);
        assert_eq!(p.total, 90 * M);
        let p3 = predict_level(&inputs(), 3);
        assert_eq!(p3.total, 670 * M + 90 * M);
    }

    #[test]
    fn with_the_slab_breakdown_level_1_frees_the_index_and_level_2_the_unused_dentries() {
        let mut i = inputs();
        i.slab = Some(SlabParts {
            dentries_inodes: 50 * M,
            page_cache_index: 30 * M,
            other: 20 * M,
        });
        // Level 1 drops 650 of 1000M of Cached: 65% of the index.
        let l1 = predict_level(&i, 1);
        assert_eq!(l1.fields[2].frees, (30.0 * M as f64 * 0.65) as u64);
        // Level 2: 90% of the dentries and inodes; the index and the rest stay.
        let l2 = predict_level(&i, 2);
        assert_eq!(l2.fields[2].frees, 45 * M);
        let stays: u64 = l2.fields[2].stays.iter().map(|s| s.size).sum();
        assert_eq!(stays + l2.fields[2].frees, 100 * M);
        let l3 = predict_level(&i, 3);
        assert_eq!(l3.fields[2].frees, l1.fields[2].frees + l2.fields[2].frees);
    }

    #[test]
    fn a_cache_that_is_all_shmem_frees_nothing() {
        let mut i = inputs();
        i.shmem = i.cached;
        assert_eq!(predict_level(&i, 1).fields[0].frees, 0);
    }

    #[test]
    fn rollup_fields_are_read_past_the_address_line() {
        let text = "559900c20000-7ffdc1307000 ---p 00000000 00:00 0    [rollup]\nRss:  1708 kB\nPss_File:  120 kB\nPss_Shmem: 4 kB\n";
        assert_eq!(rollup_field(text, "Pss_File"), Some(120 * 1024));
        assert_eq!(rollup_field(text, "Pss"), None);
    }

    #[test]
    fn compare_reports_actual_against_predicted_in_percent() {
        let p = predict_level(&inputs(), 3);
        let before = Sample {
            cached: 1000 * M,
            buffers: 20 * M,
            sreclaimable: 100 * M,
            shmem: 200 * M,
            mem_free: 1000 * M,
            ..Sample::default()
        };
        let after = Sample {
            cached: 350 * M,
            buffers: 2 * M,
            sreclaimable: 20 * M,
            shmem: 200 * M,
            mem_free: 1748 * M,
            ..Sample::default()
        };
        let m = compare(&p, &before, &after, 0.005);
        assert_eq!(m.fields[0].actual, 650 * 1024 * 1024);
        assert_eq!(m.fields[0].difference_percent, Some(0.0));
        let total = m.fields.last().unwrap();
        assert_eq!(total.field, "total");
        assert_eq!(total.actual, (650 + 18 + 80) as i64 * M as i64);
        assert!((total.difference_percent.unwrap() - (-1.578)).abs() < 0.01);
        assert_eq!(m.mem_free_gain, 748 * M as i64);
        assert_eq!(m.shmem_after, m.shmem_before);
    }
}
