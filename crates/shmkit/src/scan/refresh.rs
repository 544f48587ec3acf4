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
//! hold something. Every [`FULL_EVERY`]th sample walks every process again, and a sample
//! walks them all at once when a cheap signal says a reused walk may be wrong
//! ([`Stale`]):
//! - a System V segment's `nattch` moved by more than the new and exited processes explain
//!   (someone already running attached or detached it);
//! - a file appeared that no walked process holds (its creator may be one that runs on);
//! - an idle file was opened (inotify `IN_OPEN` on its directory, watched before the walk
//!   that judged it idle): a running process may hold it now;
//! - an object reached only through a holder is no longer reached there;
//! - the tmpfs mounts changed, or the caller asked ([`LiveScan::walk_all_next`]).
//!
//! So an object is never shown idle or leaked while a process that holds it lives, except
//! through what no cheap signal sees: a descriptor received over a Unix socket by a process
//! that was already running, for a file nobody else held or opened since. The other way round
//! is bounded: a running process that unmaps or closes an object without exiting is still
//! shown holding it for at most `FULL_EVERY` samples (10 s at `top`'s default interval), so
//! an object can read "in use" that long after its last holder let go, never "idle" early.
//! Leaks are judged from fresh facts only: `nattch` and whether the creator lives.

use super::collect::{collect_with, Carry, Findings};
use super::{ProcRoot, Scan, ScanError, ScanOptions};
use crate::sys::inotify::{Inotify, IN_IGNORED, IN_ISDIR, IN_OPEN, IN_Q_OVERFLOW};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

/// Every how many samples a live scan walks every process again, whatever the signals say.
pub const FULL_EVERY: u32 = 5;

/// Why a sample walked every process.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stale {
    /// The first sample.
    First,
    /// [`FULL_EVERY`] samples since the last full walk.
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
    /// A file appeared that no walked process holds.
    NewUnheld {
        /// The file as shown.
        name: String,
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
}

/// A scan repeated over time that reuses what has not changed (see the module's docs).
#[derive(Debug)]
pub struct LiveScan {
    opts: ScanOptions,
    full_every: u32,
    carry: Carry,
    since_full: Option<u32>,
    asked: bool,
    /// The previous sample's `nattch` gaps, and the files it saw.
    gaps: HashMap<(Option<u64>, i32), i64>,
    files: HashSet<(u32, u32, u64)>,
    watch: Watch,
    last: Refresh,
}

impl LiveScan {
    /// A live scan with these options, walking every process every [`FULL_EVERY`] samples.
    pub fn new(opts: ScanOptions) -> LiveScan {
        LiveScan::every(opts, FULL_EVERY)
    }

    /// A live scan that walks every process every `full_every` samples (1: every sample,
    /// as [`Scan::collect`] does).
    pub fn every(opts: ScanOptions, full_every: u32) -> LiveScan {
        LiveScan {
            opts,
            full_every: full_every.max(1),
            carry: Carry::default(),
            since_full: None,
            asked: false,
            gaps: HashMap::new(),
            files: HashSet::new(),
            watch: Watch::new(),
            last: Refresh::default(),
        }
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

    /// Takes one sample.
    pub fn sample(&mut self, root: &ProcRoot) -> Result<Scan, ScanError> {
        let opened = self.watch.opened();
        let before = before_walk(self.since_full, self.full_every, self.asked, opened);
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
        let since_full = match (&full, self.since_full) {
            (Some(_), _) | (None, None) => 0,
            (None, Some(n)) => n + 1,
        };
        self.since_full = Some(since_full);
        self.gaps = std::mem::take(&mut findings.attach_gap);
        self.files = findings.files.iter().map(|f| f.id).collect();
        if !self.watch.update(&findings) {
            // An idle file's directory cannot be watched, or was not watched during this
            // sample's walk: only a full walk can vouch for its files.
            self.asked = true;
        }
        self.last = Refresh {
            full,
            walked: findings.walked,
            reused: findings.reused,
            since_full,
        };
        Ok(scan)
    }

    /// What says the walks this sample reused may be wrong.
    fn stale(&self, findings: &Findings) -> Option<Stale> {
        after_walk(&self.gaps, &self.files, findings)
    }
}

/// Whether a sample walks every process before looking: the first, every `full_every`th,
/// when asked, or when an idle file was opened since the last sample.
fn before_walk(
    since_full: Option<u32>,
    full_every: u32,
    asked: bool,
    opened: Option<Stale>,
) -> Option<Stale> {
    match since_full {
        None => Some(Stale::First),
        _ if asked => Some(Stale::Asked),
        Some(n) if n + 1 >= full_every => Some(Stale::Periodic),
        _ => opened,
    }
}

/// Whether what a sample that reused walks found says they may be wrong, given the previous
/// sample's attachment gaps and files.
fn after_walk(
    gaps: &HashMap<(Option<u64>, i32), i64>,
    files: &HashSet<(u32, u32, u64)>,
    findings: &Findings,
) -> Option<Stale> {
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
    let new_unheld = findings
        .files
        .iter()
        .find(|f| f.idle && !files.contains(&f.id));
    if let Some(f) = new_unheld {
        return Some(Stale::NewUnheld {
            name: f.name.clone(),
        });
    }
    if let Some(name) = &findings.lost_holding {
        return Some(Stale::LostHolding { name: name.clone() });
    }
    None
}

/// The directories of idle files, watched for opens.
#[derive(Debug)]
struct Watch {
    inotify: Option<Inotify>,
    /// Watch descriptor → its directory and the idle files in it (name → as shown).
    dirs: HashMap<i32, (PathBuf, BTreeMap<Vec<u8>, String>)>,
}

impl Watch {
    fn new() -> Watch {
        Watch {
            inotify: Inotify::new().ok(),
            dirs: HashMap::new(),
        }
    }

    /// Why the events since the last call say a walk may be wrong: an idle file was opened,
    /// or events were lost.
    fn opened(&mut self) -> Option<Stale> {
        let inotify = self.inotify.as_ref()?;
        let events = match inotify.drain() {
            Ok(events) => events,
            Err(_) => return Some(Stale::Unwatched),
        };
        let mut why = None;
        for e in events {
            if e.mask & IN_Q_OVERFLOW != 0 {
                why.get_or_insert(Stale::Unwatched);
            }
            if e.mask & IN_IGNORED != 0 {
                // Its directory was removed or unmounted: watched anew if it comes back.
                self.dirs.remove(&e.wd);
                continue;
            }
            if e.mask & IN_OPEN == 0 || e.mask & IN_ISDIR != 0 {
                continue;
            }
            if let Some(name) = self.dirs.get(&e.wd).and_then(|(_, idle)| idle.get(&e.name)) {
                why.get_or_insert(Stale::Opened { name: name.clone() });
            }
        }
        why
    }

    /// Watches the directories of this sample's idle files. `false` if one could not be
    /// watched, or was not watched before this sample's walk (an open between the walk and
    /// now would be missed). A directory stays watched once it is, so that a file that turns
    /// idle again does not cost another full walk.
    fn update(&mut self, findings: &Findings) -> bool {
        let Some(inotify) = self.inotify.as_ref() else {
            return findings.files.iter().all(|f| !f.idle);
        };
        let mut wanted: BTreeMap<&PathBuf, BTreeMap<Vec<u8>, String>> = BTreeMap::new();
        for f in findings.files.iter().filter(|f| f.idle) {
            wanted
                .entry(&f.place.0)
                .or_default()
                .insert(f.place.1.clone(), f.name.clone());
        }
        for (_, names) in self.dirs.values_mut() {
            names.clear();
        }
        let mut ok = true;
        for (dir, names) in wanted {
            // Watching a directory already watched returns its descriptor again, and opens
            // since the previous call are already queued: nothing is missed in between.
            match inotify.add_watch(dir, IN_OPEN) {
                Ok(wd) => match self.dirs.get_mut(&wd) {
                    Some((_, idle)) => *idle = names,
                    None => {
                        ok = false;
                        self.dirs.insert(wd, (dir.clone(), names));
                    }
                },
                Err(_) => ok = false,
            }
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::super::collect::FileSeen;
    use super::*;

    #[test]
    fn every_process_is_walked_first_then_every_nth_sample_or_when_asked() {
        let opened = || {
            Some(Stale::Opened {
                name: "/x".to_string(),
            })
        };
        assert_eq!(before_walk(None, 5, false, None), Some(Stale::First));
        assert_eq!(before_walk(Some(0), 5, false, None), None);
        assert_eq!(before_walk(Some(3), 5, false, None), None);
        // Four samples reused walks: the fifth walks everything.
        assert_eq!(before_walk(Some(4), 5, false, None), Some(Stale::Periodic));
        assert_eq!(before_walk(Some(0), 5, true, None), Some(Stale::Asked));
        assert_eq!(before_walk(Some(0), 5, false, opened()), opened());
        // One sample per full walk: every sample walks everything.
        assert_eq!(before_walk(Some(0), 1, false, None), Some(Stale::Periodic));
    }

    fn file(inode: u64, idle: bool) -> FileSeen {
        FileSeen {
            id: (0, 42, inode),
            name: format!("/f{inode}"),
            idle,
            place: (PathBuf::from("/dev/shm"), format!("f{inode}").into_bytes()),
        }
    }

    #[test]
    fn attachments_that_new_and_exited_processes_do_not_explain_make_the_walks_stale() {
        let gaps: HashMap<(Option<u64>, i32), i64> =
            [((None, 7), 0), ((None, 8), 2), ((Some(99), 7), 1)].into();
        let same = Findings {
            attach_gap: gaps.clone(),
            ..Findings::default()
        };
        assert_eq!(after_walk(&gaps, &HashSet::new(), &same), None);
        // Segment 8 of ours: two attachments we never saw (an unreadable process, say)
        // and now three.
        let mut moved = same.attach_gap.clone();
        moved.insert((None, 8), 3);
        let moved = Findings {
            attach_gap: moved,
            ..Findings::default()
        };
        assert_eq!(
            after_walk(&gaps, &HashSet::new(), &moved),
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
        assert_eq!(after_walk(&gaps, &HashSet::new(), &new), None);
        // A new segment attached by a process already running.
        let mut by_old = same.attach_gap.clone();
        by_old.insert((None, 10), 1);
        let by_old = Findings {
            attach_gap: by_old,
            ..Findings::default()
        };
        assert_eq!(
            after_walk(&gaps, &HashSet::new(), &by_old),
            Some(Stale::Attachments { shmid: 10 })
        );
    }

    #[test]
    fn a_new_file_nobody_walked_holds_makes_the_walks_stale() {
        let known: HashSet<(u32, u32, u64)> = [(0, 42, 1)].into();
        let old_idle = Findings {
            files: vec![file(1, true)],
            ..Findings::default()
        };
        assert_eq!(after_walk(&HashMap::new(), &known, &old_idle), None);
        // A new file a new process holds: its walk is fresh.
        let new_held = Findings {
            files: vec![file(1, true), file(2, false)],
            ..Findings::default()
        };
        assert_eq!(after_walk(&HashMap::new(), &known, &new_held), None);
        let new_idle = Findings {
            files: vec![file(1, true), file(3, true)],
            ..Findings::default()
        };
        assert_eq!(
            after_walk(&HashMap::new(), &known, &new_idle),
            Some(Stale::NewUnheld {
                name: "/f3".to_string()
            })
        );
    }

    #[test]
    fn an_object_its_holder_no_longer_reaches_makes_the_walks_stale() {
        let lost = Findings {
            lost_holding: Some("memfd:x".to_string()),
            ..Findings::default()
        };
        assert_eq!(
            after_walk(&HashMap::new(), &HashSet::new(), &lost),
            Some(Stale::LostHolding {
                name: "memfd:x".to_string()
            })
        );
    }

    /// Opens of idle files in a watched directory are told by name; opens of other files,
    /// and of the directory itself (the mount walk lists it), are not.
    #[test]
    fn an_open_of_an_idle_file_is_told_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["idle", "busy"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let mut watch = Watch::new();
        let seen = |name: &str, idle: bool| FileSeen {
            id: (0, 0, name.len() as u64),
            name: format!("file:{name}"),
            idle,
            place: (dir.path().to_path_buf(), name.as_bytes().to_vec()),
        };
        let findings = Findings {
            files: vec![seen("idle", true), seen("busy", false)],
            ..Findings::default()
        };
        // The first time, the directory was not watched during the walk.
        assert!(!watch.update(&findings));
        assert!(watch.update(&findings));
        assert_eq!(watch.opened(), None);
        drop(std::fs::File::open(dir.path().join("busy")).unwrap());
        drop(std::fs::read_dir(dir.path()).unwrap());
        assert_eq!(watch.opened(), None);
        drop(std::fs::File::open(dir.path().join("idle")).unwrap());
        assert_eq!(
            watch.opened(),
            Some(Stale::Opened {
                name: "file:idle".to_string()
            })
        );
        assert_eq!(watch.opened(), None, "events are read once");
    }
}
