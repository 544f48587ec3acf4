//! [`LiveScan`]: the scan repeated every few seconds (`top`, `mem --watch`, `ls --watch`) at a
//! fraction of its cost, and as true as a full scan where it matters.
//!
//! A full scan's cost is the walk of every process's mappings and descriptors (and two
//! namespace links each). A live scan re-reads every sample what changes fast and is cheap:
//! `/proc/meminfo`, every IPC namespace's `/proc/sysvipc/shm` (size, resident, swapped,
//! `nattch`), the mount tables and a `stat` of every tmpfs file, the pid list, and a `stat` of
//! each object only holders reach, through that holder. It walks only the processes that are
//! new since the last sample, forgets those that exited, and reuses the walks of the others:
//! a process that exited holds nothing, and a new one is read before it is trusted.
//!
//! What a reused walk can miss is a process that was already running starting or stopping to
//! hold something. Every [`FULL_EVERY`]th sample walks every process again, and so does the
//! first sample taken [`FULL_AFTER`] or more after the last full walk (samples are counted
//! for views sampled every second or two, time for callers that sample seldom or unevenly,
//! like a Prometheus exporter scraped every 15 s or 60 s: counted alone, five samples
//! would be minutes). A sample also walks them all at once when a cheap signal says a reused
//! walk may be wrong ([`Stale`]):
//! - a System V segment's `nattch` moved by more than the new and exited processes explain
//!   (someone already running attached or detached it);
//! - an idle file was opened and not released again, or renamed over (inotify on its
//!   directory, watched before the walk that judged it idle): a running process may hold it
//!   now;
//! - an object reached only through a holder is no longer reached there;
//! - the tmpfs mounts changed, or the caller asked ([`LiveScan::walk_all_next`]).
//!
//! A file that appeared since the last sample and that no walked process holds costs no
//! walk: the top directory of every tmpfs and the directory of every listed file are watched
//! for opens, releases (`IN_CLOSE` comes when the open file is freed, after its last
//! descriptor and its last mapping) and renames. If the directory was watched before the
//! file was made, it was not renamed in and every open of it was released, nobody holds it
//! and it is idle; otherwise it reads "in use" until the next full walk names its holders or
//! finds none. Files that come and go (logs, a writer that recreates its file every second)
//! thus never force a full walk.
//!
//! So an object is never shown idle or leaked while a process that holds it lives, except
//! through what no cheap signal sees: a descriptor received over a Unix socket by a process
//! that was already running, for a file nobody else held or opened since. The other way round
//! is bounded: a running process that unmaps or closes an object without exiting is still
//! shown holding it until the next full walk: at most [`FULL_EVERY`] samples later, and no
//! later than the first sample taken [`FULL_AFTER`] (10 s) after the last full walk (or the
//! caller's periods, [`LiveScan::every`] and [`LiveScan::full_after`]). So an object can read
//! "in use" that long after its last holder let go, never "idle" early;
//! [`Refresh::since_full_time`] says how old the oldest reused walk is. Leaks are judged
//! from fresh facts only: `nattch` and whether the creator lives.

use super::collect::{collect_with, Carry, Findings};
use super::{ProcRoot, Scan, ScanError, ScanOptions};
use super::{Status, Usage};
use crate::sys::inotify::{
    Inotify, IN_CLOSE, IN_IGNORED, IN_ISDIR, IN_MOVED_TO, IN_OPEN, IN_Q_OVERFLOW,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Every how many samples [`LiveScan::new`] walks every process again, whatever the signals
/// say.
pub const FULL_EVERY: u32 = 5;

/// How long after its last full walk [`LiveScan::new`] walks every process again at its next
/// sample, whatever the signals say and however few samples were taken since.
pub const FULL_AFTER: Duration = Duration::from_secs(10);

/// Why a sample walked every process.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stale {
    /// The first sample.
    First,
    /// The full-walk period passed: so many samples ([`FULL_EVERY`]) or so much time
    /// ([`FULL_AFTER`]) since the last full walk.
    Periodic,
    /// The caller asked ([`LiveScan::walk_all_next`]).
    Asked,
    /// The tmpfs and ramfs mounts changed.
    Mounts,
    /// A segment's attachments changed beyond what new and exited processes explain.
    Attachments {
        /// The segment's id.
        shmid: i32,
    },
    /// A file judged idle was opened since.
    Opened {
        /// The file as shown.
        name: String,
    },
    /// An object seen only through a holder is not reached there any more.
    LostHolding {
        /// The object as shown.
        name: String,
    },
    /// A watched directory lost events (the inotify queue overflowed), or an idle file's
    /// directory could not be watched.
    Unwatched,
}

/// How the last sample was taken.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Refresh {
    /// Why every process was walked (`None`: only new ones, the others' walks reused).
    pub full: Option<Stale>,
    /// Processes walked in this sample.
    pub walked: usize,
    /// Processes whose earlier walk was reused.
    pub reused: usize,
    /// Samples since every process was last walked (0: in this one).
    pub since_full: u32,
    /// Time from the start of the sample that last walked every process to the start of
    /// this one (zero: this one did): the age of the oldest walk this sample reused.
    pub since_full_time: Duration,
}

/// A scan repeated over time that reuses what has not changed (see the module's docs).
#[derive(Debug)]
pub struct LiveScan {
    opts: ScanOptions,
    full_every: u32,
    full_after: Option<Duration>,
    carry: Carry,
    since_full: Option<u32>,
    /// When the sample that last walked every process started.
    last_full: Option<Instant>,
    asked: bool,
    /// The previous sample's `nattch` gaps, and the files it saw.
    gaps: HashMap<(Option<u64>, i32), i64>,
    files: HashSet<crate::FileId>,
    /// Files that appeared since the last full walk that no walk saw held and no event
    /// proved unheld: shown in use until the next full walk says.
    pending: HashSet<crate::FileId>,
    /// Samples taken.
    samples: u64,
    watch: Watch,
    last: Refresh,
}

impl LiveScan {
    /// A live scan with these options, walking every process every [`FULL_EVERY`] samples
    /// and at the first sample [`FULL_AFTER`] or more after the last full walk.
    pub fn new(opts: ScanOptions) -> LiveScan {
        LiveScan::every(opts, FULL_EVERY).full_after(FULL_AFTER)
    }

    /// A live scan that walks every process every `full_every` samples (1: every sample,
    /// as [`Scan::collect`] does; `u32::MAX`: only when a signal says so), with no bound in
    /// time unless [`LiveScan::full_after`] sets one.
    pub fn every(opts: ScanOptions, full_every: u32) -> LiveScan {
        LiveScan {
            opts,
            full_every: full_every.max(1),
            full_after: None,
            carry: Carry::default(),
            since_full: None,
            last_full: None,
            asked: false,
            gaps: HashMap::new(),
            files: HashSet::new(),
            pending: HashSet::new(),
            samples: 0,
            watch: Watch::new(),
            last: Refresh::default(),
        }
    }

    /// Also walks every process at the first sample taken `period` or more after the last
    /// full walk (zero: every sample).
    pub fn full_after(mut self, period: Duration) -> LiveScan {
        self.full_after = Some(period);
        self
    }

    /// Makes the next sample walk every process (after a removal, or when the caller knows
    /// something changed).
    pub fn walk_all_next(&mut self) {
        self.asked = true;
    }

    /// How the last sample was taken.
    pub fn last(&self) -> &Refresh {
        &self.last
    }

    /// Takes one sample. After a failed one the next walks every process: the failure may
    /// have come halfway through the walks, and the file events it drained are gone.
    pub fn sample(&mut self, root: &ProcRoot) -> Result<Scan, ScanError> {
        let sampled = self.try_sample(root);
        if sampled.is_err() {
            self.asked = true;
        }
        sampled
    }

    fn try_sample(&mut self, root: &ProcRoot) -> Result<Scan, ScanError> {
        let started = Instant::now();
        self.samples += 1;
        let events = self.watch.drain();
        let aged = self
            .last_full
            .zip(self.full_after)
            .is_some_and(|(last, period)| started.duration_since(last) >= period);
        let before = before_walk(
            self.since_full,
            self.full_every,
            aged,
            self.asked,
            events.opened.clone(),
        );
        self.asked = false;
        self.carry.walk_all = before.is_some();
        let (mut scan, mut findings) = collect_with(root, &self.opts, &mut self.carry)?;
        let mut full = match (before, findings.mounts_changed) {
            (Some(why), _) => Some(why),
            (None, true) => Some(Stale::Mounts),
            (None, false) => None,
        };
        if full.is_none() {
            if let Some(why) = self.stale(&findings) {
                self.carry.walk_all = true;
                (scan, findings) = collect_with(root, &self.opts, &mut self.carry)?;
                full = Some(why);
            }
        }
        if full.is_some() {
            self.pending.clear();
            self.last_full = Some(started);
        } else {
            // A new file nobody walked holds may be held by a process that was already
            // running: unless its directory's events prove every open of it was released,
            // it reads in use until the next full walk says.
            for f in findings.files.iter().filter(|f| f.idle) {
                if !self.files.contains(&f.id)
                    && !self.watch.proves_unheld(&f.place, &events, self.samples)
                {
                    self.pending.insert(f.id);
                }
            }
        }
        let files: HashSet<_> = findings.files.iter().map(|f| f.id).collect();
        self.pending.retain(|id| files.contains(id));
        if !self.pending.is_empty() {
            mark_in_use(&mut scan, &self.pending);
            for f in &mut findings.files {
                f.idle &= !self.pending.contains(&f.id);
            }
        }
        let since_full = match (&full, self.since_full) {
            (Some(_), _) | (None, None) => 0,
            (None, Some(n)) => n.saturating_add(1),
        };
        self.since_full = Some(since_full);
        self.gaps = std::mem::take(&mut findings.attach_gap);
        self.files = files;
        if !self.watch.update(&findings, self.samples) {
            // An idle file's directory cannot be watched, or was not watched during this
            // sample's walk: only a full walk can vouch for its files.
            self.asked = true;
        }
        self.last = Refresh {
            full,
            walked: findings.walked,
            reused: findings.reused,
            since_full,
            since_full_time: self
                .last_full
                .map_or(Duration::ZERO, |last| started.duration_since(last)),
        };
        Ok(scan)
    }

    /// What says the walks this sample reused may be wrong.
    fn stale(&self, findings: &Findings) -> Option<Stale> {
        after_walk(&self.gaps, findings)
    }
}

/// Whether a sample walks every process before looking: the first, every `full_every`th,
/// once the full-walk period in time has passed (`aged`), when asked, or when an idle file
/// was opened since the last sample.
fn before_walk(
    since_full: Option<u32>,
    full_every: u32,
    aged: bool,
    asked: bool,
    opened: Option<Stale>,
) -> Option<Stale> {
    match since_full {
        None => Some(Stale::First),
        _ if asked => Some(Stale::Asked),
        Some(n) if n.saturating_add(1) >= full_every || aged => Some(Stale::Periodic),
        _ => opened,
    }
}

/// Whether what a sample that reused walks found says they may be wrong, given the previous
/// sample's attachment gaps.
fn after_walk(gaps: &HashMap<(Option<u64>, i32), i64>, findings: &Findings) -> Option<Stale> {
    let mut moved: Vec<i32> = findings
        .attach_gap
        .iter()
        // A new segment starts from no gap: one attached by a process already running has
        // one.
        .filter(|(seg, &gap)| gaps.get(seg).copied().unwrap_or(0) != gap)
        .map(|((_, shmid), _)| *shmid)
        .collect();
    moved.sort_unstable();
    if let Some(&shmid) = moved.first() {
        return Some(Stale::Attachments { shmid });
    }
    if let Some(name) = &findings.lost_holding {
        return Some(Stale::LostHolding { name: name.clone() });
    }
    None
}

/// Every walked tmpfs's top directory and every listed file's directory, watched for opens,
/// releases and renames.
#[derive(Debug)]
struct Watch {
    inotify: Option<Inotify>,
    /// Watch descriptor → its directory, the idle files in it (name → as shown), and the
    /// sample after which it was added.
    dirs: HashMap<i32, (PathBuf, IdleNames, u64)>,
}

/// The idle files of one directory: name → as shown.
type IdleNames = BTreeMap<Vec<u8>, String>;

/// What the events since the previous sample said.
#[derive(Debug, Default)]
struct Events {
    /// An idle file was opened, or events were lost.
    opened: Option<Stale>,
    /// Per directory and name: opens, releases, renamed in.
    tally: HashMap<(i32, Vec<u8>), Tally>,
    /// The queue overflowed: the tallies are incomplete.
    lost: bool,
}

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    opens: u64,
    closes: u64,
    moved_in: bool,
}

impl Watch {
    /// Events the watches ask for.
    const MASK: u32 = IN_OPEN | IN_CLOSE | IN_MOVED_TO;

    fn new() -> Watch {
        Watch {
            inotify: Inotify::new().ok(),
            dirs: HashMap::new(),
        }
    }

    /// Reads the events since the last call.
    fn drain(&mut self) -> Events {
        let mut out = Events::default();
        let Some(inotify) = self.inotify.as_ref() else {
            return out;
        };
        let events = match inotify.drain() {
            Ok(events) => events,
            Err(_) => {
                out.opened = Some(Stale::Unwatched);
                out.lost = true;
                return out;
            }
        };
        for e in events {
            if e.mask & IN_Q_OVERFLOW != 0 {
                out.opened.get_or_insert(Stale::Unwatched);
                out.lost = true;
            }
            if e.mask & IN_IGNORED != 0 {
                // Its directory was removed or unmounted: watched anew if it comes back.
                self.dirs.remove(&e.wd);
                continue;
            }
            if e.mask & IN_ISDIR != 0 || e.name.is_empty() {
                continue;
            }
            let t = out.tally.entry((e.wd, e.name)).or_default();
            t.opens += u64::from(e.mask & IN_OPEN != 0);
            t.closes += u64::from(e.mask & IN_CLOSE != 0);
            t.moved_in |= e.mask & IN_MOVED_TO != 0;
        }
        // An idle file opened and released again (a writer that appends and closes, a
        // reader that copies it) is still unheld; one opened and not released, or replaced
        // by a rename, may be held now.
        for ((wd, name), t) in &out.tally {
            let idle = self.dirs.get(wd).and_then(|(_, idle, _)| idle.get(name));
            if let Some(shown) = idle.filter(|_| t.moved_in || t.opens > t.closes) {
                out.opened.get_or_insert(Stale::Opened {
                    name: shown.clone(),
                });
            }
        }
        out
    }

    /// Whether the events prove that nobody holds a file that appeared since the previous
    /// sample: its directory was watched before that sample's mount walk (so the file was
    /// made under watch), it was not renamed in, and every open of it was released (a
    /// mapping keeps its open file alive, so a release means no mapping is left either).
    fn proves_unheld(&self, place: &(PathBuf, Vec<u8>), events: &Events, sample: u64) -> bool {
        if events.lost {
            return false;
        }
        let watched_before = self.dirs.iter().find_map(|(wd, (dir, _, added))| {
            (dir == &place.0 && added + 2 <= sample).then_some(*wd)
        });
        let Some(wd) = watched_before else {
            return false;
        };
        events
            .tally
            .get(&(wd, place.1.clone()))
            .is_some_and(|t| !t.moved_in && t.opens > 0 && t.closes >= t.opens)
    }

    /// Watches the walked mounts' top directories and the directories of this sample's
    /// files, and notes which files are idle. `false` if the directory of an idle file could
    /// not be watched, or was not watched before this sample's walk (an open between the walk
    /// and now would be missed). A directory stays watched once it is, so that a file that
    /// turns idle again does not cost another full walk.
    fn update(&mut self, findings: &Findings, sample: u64) -> bool {
        let Some(inotify) = self.inotify.as_ref() else {
            return findings.files.iter().all(|f| !f.idle);
        };
        let mut wanted: BTreeMap<&PathBuf, IdleNames> = findings
            .mount_dirs
            .iter()
            .map(|d| (d, BTreeMap::new()))
            .collect();
        for f in &findings.files {
            let names = wanted.entry(&f.place.0).or_default();
            if f.idle {
                names.insert(f.place.1.clone(), f.name.clone());
            }
        }
        for (_, names, _) in self.dirs.values_mut() {
            names.clear();
        }
        let mut ok = true;
        for (dir, names) in wanted {
            let idle = !names.is_empty();
            // Watching a directory already watched returns its descriptor again, and events
            // since the previous call are already queued: nothing is missed in between.
            match inotify.add_watch(dir, Self::MASK) {
                Ok(wd) => match self.dirs.get_mut(&wd) {
                    Some((_, old, _)) => *old = names,
                    None => {
                        ok &= !idle;
                        self.dirs.insert(wd, (dir.clone(), names, sample));
                    }
                },
                Err(_) => ok &= !idle,
            }
        }
        ok
    }
}

/// Shows these files in use: something may hold them that no walk has seen yet.
fn mark_in_use(scan: &mut Scan, ids: &HashSet<crate::FileId>) {
    for o in &mut scan.objects {
        let id = o.file_id();
        if id.is_some_and(|id| ids.contains(&id)) && !matches!(o.status.usage, Usage::InUse) {
            o.status = Status {
                deleted: o.status.deleted,
                ..Status::judged(Usage::InUse, None)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::collect::FileSeen;
    use super::super::Object;
    use super::*;
    use crate::scan::ProcRoot;
    use std::os::fd::AsFd;

    #[test]
    fn every_process_is_walked_first_then_every_nth_sample_or_period_or_when_asked() {
        let opened = || {
            Some(Stale::Opened {
                name: "/x".to_string(),
            })
        };
        assert_eq!(before_walk(None, 5, false, false, None), Some(Stale::First));
        assert_eq!(before_walk(Some(0), 5, false, false, None), None);
        assert_eq!(before_walk(Some(3), 5, false, false, None), None);
        // Four samples reused walks: the fifth walks everything.
        assert_eq!(
            before_walk(Some(4), 5, false, false, None),
            Some(Stale::Periodic)
        );
        assert_eq!(
            before_walk(Some(0), 5, false, true, None),
            Some(Stale::Asked)
        );
        assert_eq!(before_walk(Some(0), 5, false, false, opened()), opened());
        // One sample per full walk: every sample walks everything.
        assert_eq!(
            before_walk(Some(0), 1, false, false, None),
            Some(Stale::Periodic)
        );
        // The period in time passed: however few samples since, and with no count at all.
        assert_eq!(
            before_walk(Some(0), 5, true, false, None),
            Some(Stale::Periodic)
        );
        assert_eq!(
            before_walk(Some(7), u32::MAX, true, false, opened()),
            Some(Stale::Periodic)
        );
        assert_eq!(before_walk(Some(7), u32::MAX, false, false, None), None);
    }

    #[test]
    fn attachments_that_new_and_exited_processes_do_not_explain_make_the_walks_stale() {
        let gaps: HashMap<(Option<u64>, i32), i64> =
            [((None, 7), 0), ((None, 8), 2), ((Some(99), 7), 1)].into();
        let same = Findings {
            attach_gap: gaps.clone(),
            ..Findings::default()
        };
        assert_eq!(after_walk(&gaps, &same), None);
        // Segment 8 of ours: two attachments we never saw (an unreadable process, say)
        // and now three.
        let mut moved = same.attach_gap.clone();
        moved.insert((None, 8), 3);
        let moved = Findings {
            attach_gap: moved,
            ..Findings::default()
        };
        assert_eq!(
            after_walk(&gaps, &moved),
            Some(Stale::Attachments { shmid: 8 })
        );
        // A new segment nobody attached, and a new one attached by a new process that was
        // walked: nothing unexplained.
        let mut new = same.attach_gap.clone();
        new.insert((None, 9), 0);
        let new = Findings {
            attach_gap: new,
            ..Findings::default()
        };
        assert_eq!(after_walk(&gaps, &new), None);
        // A new segment attached by a process already running.
        let mut by_old = same.attach_gap.clone();
        by_old.insert((None, 10), 1);
        let by_old = Findings {
            attach_gap: by_old,
            ..Findings::default()
        };
        assert_eq!(
            after_walk(&gaps, &by_old),
            Some(Stale::Attachments { shmid: 10 })
        );
    }

    #[test]
    fn an_object_its_holder_no_longer_reaches_makes_the_walks_stale() {
        let lost = Findings {
            lost_holding: Some("memfd:x".to_string()),
            ..Findings::default()
        };
        assert_eq!(
            after_walk(&HashMap::new(), &lost),
            Some(Stale::LostHolding {
                name: "memfd:x".to_string()
            })
        );
    }

    #[test]
    fn the_sample_after_a_failed_one_walks_every_process() {
        let mut live = LiveScan::every(ScanOptions::default(), u32::MAX);
        live.sample(&ProcRoot::live()).expect("a live scan");
        let gone = tempfile::tempdir().unwrap();
        assert!(live.sample(&ProcRoot::new(gone.path())).is_err());
        live.sample(&ProcRoot::live()).expect("a live scan");
        assert_eq!(live.last().full, Some(Stale::Asked));
    }

    fn in_dir(dir: &std::path::Path, name: &str, idle: bool) -> FileSeen {
        FileSeen {
            id: crate::FileId::new(crate::DeviceId::new(0, 0), name.len() as u64),
            name: format!("file:{name}"),
            idle,
            place: (dir.to_path_buf(), name.as_bytes().to_vec()),
        }
    }

    /// Opens of idle files in a watched directory that are not released again are told by
    /// name; opens of other files, of the directory itself (the mount walk lists it), and
    /// opens released within the interval are not.
    #[test]
    fn an_open_of_an_idle_file_is_told_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["idle", "busy"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let mut watch = Watch::new();
        let findings = Findings {
            files: vec![
                in_dir(dir.path(), "idle", true),
                in_dir(dir.path(), "busy", false),
            ],
            ..Findings::default()
        };
        // The first time, the directory was not watched during the walk.
        assert!(!watch.update(&findings, 1));
        assert!(watch.update(&findings, 2));
        assert_eq!(watch.drain().opened, None);
        drop(std::fs::File::open(dir.path().join("busy")).unwrap());
        drop(std::fs::read_dir(dir.path()).unwrap());
        assert_eq!(watch.drain().opened, None);
        // Opened and released again: still nobody holds it.
        drop(std::fs::File::open(dir.path().join("idle")).unwrap());
        assert_eq!(watch.drain().opened, None);
        let reader = std::fs::File::open(dir.path().join("idle")).unwrap();
        assert_eq!(
            watch.drain().opened,
            Some(Stale::Opened {
                name: "file:idle".to_string()
            })
        );
        assert_eq!(watch.drain().opened, None, "events are read once");
        drop(reader);
    }

    /// A file made under watch whose every open was released is proven unheld; one still
    /// open, one mapped after its descriptor was closed (the mapping keeps the open file
    /// alive: no release yet), one renamed in, or one in a directory watched only since, is
    /// not.
    #[test]
    fn only_events_that_cover_a_new_files_whole_life_prove_it_unheld() {
        let dir = tempfile::tempdir().unwrap();
        let mut watch = Watch::new();
        let mounts = Findings {
            mount_dirs: vec![dir.path().to_path_buf()],
            ..Findings::default()
        };
        assert!(watch.update(&mounts, 1), "no idle file there yet");
        watch.update(&mounts, 2);
        let _ = watch.drain();
        std::fs::write(dir.path().join("written"), b"x").unwrap();
        let open = std::fs::File::create(dir.path().join("open")).unwrap();
        let mapped = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(dir.path().join("mapped"))
            .unwrap();
        mapped.set_len(4096).unwrap();
        let mapping = crate::sys::mapping::map_shared_fd(mapped.as_fd(), 4096, true).unwrap();
        drop(mapped);
        std::fs::write(dir.path().join(".tmp"), b"x").unwrap();
        std::fs::rename(dir.path().join(".tmp"), dir.path().join("renamed")).unwrap();
        let events = watch.drain();
        let proves = |name: &str| {
            watch.proves_unheld(
                &(dir.path().to_path_buf(), name.as_bytes().to_vec()),
                &events,
                3,
            )
        };
        assert!(proves("written"));
        assert!(!proves("open"));
        assert!(!proves("mapped"));
        assert!(!proves("renamed"));
        // The same events, had the directory been watched only since the last sample.
        assert!(!watch.proves_unheld(&(dir.path().to_path_buf(), b"written".to_vec()), &events, 2));
        drop(mapping);
        drop(open);
        let events = watch.drain();
        let released = |name: &str| {
            events
                .tally
                .get(&(*watch.dirs.keys().next().unwrap(), name.as_bytes().to_vec()))
                .map(|t| t.closes)
        };
        assert_eq!(released("mapped"), Some(1), "released at the unmap");
        assert_eq!(released("open"), Some(1));
    }

    #[test]
    fn files_that_may_be_held_read_in_use() {
        let name = format!("/shmkit-refresh-unit-{}", std::process::id());
        let fd =
            crate::sys::posix::shm_open(&name, crate::sys::posix::OpenMode::CreateExclusive, 0o600)
                .unwrap();
        drop(fd);
        struct Unlink(String);
        impl Drop for Unlink {
            fn drop(&mut self) {
                let _ = crate::sys::posix::shm_unlink(&self.0);
            }
        }
        let _unlink = Unlink(name.clone());
        let mut scan = Scan::collect(&ProcRoot::live(), &ScanOptions::default()).unwrap();
        let ours = |scan: &Scan| -> Object {
            scan.objects
                .iter()
                .find(|o| o.name == name)
                .cloned()
                .unwrap()
        };
        let o = ours(&scan);
        assert!(matches!(o.status.usage, Usage::Idle { .. }), "{o:?}");
        let id = o.file_id().unwrap();
        let idle_before = scan
            .objects
            .iter()
            .filter(|o| matches!(o.status.usage, Usage::Idle { .. }))
            .count();
        mark_in_use(&mut scan, &[id].into());
        assert!(matches!(ours(&scan).status.usage, Usage::InUse));
        let idle_after = scan
            .objects
            .iter()
            .filter(|o| matches!(o.status.usage, Usage::Idle { .. }))
            .count();
        assert_eq!(idle_after, idle_before - 1, "only that one");
    }
}
