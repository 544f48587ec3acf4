//! Removal policy: what may be removed from a [`Scan`] ([`plan`]), and the removal itself with
//! its re-checks ([`remove`], [`remove_address`]). `shmkit rm` only parses and renders this.
//!
//! The rules:
//! - `--orphans` takes leaks only ([`Usage::Leaked`]); `--idle` takes idle objects only
//!   ([`Usage::Idle`]); neither ever takes an object in use. An object whose judgement is
//!   uncertain (processes the scan could not see may hold it) needs `force`.
//! - Right before removing, the object is looked at again: the same kernel object (System V
//!   id, or device and inode), and still unheld. For System V that is `IPC_STAT` showing
//!   `nattch` 0 just before `IPC_RMID`: `nattch` is the kernel's own count of attachments in
//!   every process and pid namespace, so no scan of `/proc` is needed at all. For files it
//!   is a new pass over every process's descriptors and mappings, and its threads', for their
//!   devices and inodes, just before the unlinks, which follow at once ([`remove_all`] makes
//!   one pass for a whole collection: the window is that pass either way).
//!
//! - An object of another namespace (a container's) is removed from inside it: a System V
//!   segment on a helper thread that joined its IPC namespace, a file through
//!   `/proc/PID/root` of a process of its mount namespace; that process must still be in the
//!   namespace the scan saw (pids are reused), and the same re-checks apply there.
//!
//! What remains (no userspace tool can close it): a process may `shmat` between `IPC_STAT`
//! and `IPC_RMID`, or `shm_open`/`open` the file between the re-check and the unlink. The
//! removal then only takes the name away: the memory stays with that process, intact, until
//! it detaches or closes and unmaps, and nobody else can find it by name. A descriptor in
//! flight in a Unix socket (`SCM_RIGHTS`) belongs to no process and is not seen either.
//!
//! A plan lists what may go and why; one object named by its address goes through the same
//! re-check:
//!
//! ```
//! use shmkit::address::Address;
//! use shmkit::reap::{self, Collect, PlanOptions};
//! use shmkit::scan::{ProcRoot, Scan, ScanOptions};
//! use shmkit::segment::{self, CreateOptions};
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
//! let scan = Scan::collect(&ProcRoot::live(), &ScanOptions::default())?;
//! let plan = reap::plan(&scan, &PlanOptions::new(Collect::Orphans));
//! for candidate in &plan.candidates {
//!     println!("would remove {} ({:?})", candidate.address, candidate.why);
//! }
//!
//! // A keyed System V segment nobody attaches (the key is this process's, so that runs in
//! // parallel never meet): removed after IPC_STAT shows nattch 0, without a scan.
//! let addr: Address = format!("sysv:{}", 0x5d00_0000 | std::process::id()).parse()?;
//! drop(segment::create(&addr, &CreateOptions::new(4096).exclusive(true))?);
//! # let _cleanup = RemoveOnDrop(addr.clone());
//! let removed = reap::remove_address(&addr, false, false)?;
//! assert_eq!(removed.size, 4096);
//! assert!(segment::open(&addr, &segment::OpenOptions::metadata()).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::address::Address;
use crate::scan::{
    holders_now, Blindness, Holder, HoldersNow, Kind, LeakReason, Namespaces, Object, ProcRoot,
    Scan, Usage,
};
use crate::segment::{self, OpenOptions, Stat};
use crate::{Error, ErrorKind, Result};

/// Which objects a collection takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Collect {
    /// Leaks: what nobody can reach or use any more.
    Orphans,
    /// Idle objects: named, and nobody holds them.
    Idle,
}

/// What a collection takes, and how.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PlanOptions {
    /// Leaks or idle objects.
    pub collect: Collect,
    /// Only those unused for at least this many seconds (see [`last_used`]).
    pub older_than: Option<u64>,
    /// Only those owned by this uid.
    pub uid: Option<u32>,
    /// Only these kinds. [`PlanOptions::new`] takes System V segments and POSIX objects:
    /// other tmpfs files (`/run`, `/tmp`) hold programs' state, and one nobody holds open is
    /// not garbage for that; they go only when asked by kind.
    pub kinds: Vec<Kind>,
    /// Also those whose judgement is uncertain.
    pub force: bool,
    /// The user removing them (their permission is checked, so a dry run predicts the real
    /// run); `None`: the effective uid of this process.
    pub euid: Option<u32>,
    /// Now, in unix seconds (`None`: the clock).
    pub now: Option<i64>,
    /// Only objects of the scan's own namespaces (inside a container entered with
    /// `--container`, the host's are another namespace's).
    pub here_only: bool,
}

impl PlanOptions {
    /// Every object `collect` takes, of any owner and age, certain judgements only.
    pub fn new(collect: Collect) -> PlanOptions {
        PlanOptions {
            collect,
            older_than: None,
            uid: None,
            kinds: vec![Kind::Sysv, Kind::Posix],
            force: false,
            euid: None,
            now: None,
            here_only: false,
        }
    }

    /// Only objects unused for at least `seconds`.
    pub fn older_than(mut self, seconds: Option<u64>) -> Self {
        self.older_than = seconds;
        self
    }

    /// Only objects owned by `uid`.
    pub fn uid(mut self, uid: Option<u32>) -> Self {
        self.uid = uid;
        self
    }

    /// Only these kinds (an empty list keeps the default).
    pub fn kinds(mut self, kinds: &[Kind]) -> Self {
        if !kinds.is_empty() {
            self.kinds = kinds.to_vec();
        }
        self
    }

    /// Also objects whose judgement is uncertain.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// Judge permissions as this user would have them.
    pub fn euid(mut self, euid: u32) -> Self {
        self.euid = Some(euid);
        self
    }

    /// Only objects of the scan's own namespaces.
    pub fn here_only(mut self, here_only: bool) -> Self {
        self.here_only = here_only;
        self
    }

    /// Judge ages as of this time (unix seconds).
    pub fn now(mut self, now: i64) -> Self {
        self.now = Some(now);
        self
    }
}

/// The kernel object a candidate was judged to be, to recognise it at removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Identity {
    /// A System V segment id (ids are not reused at once: the kernel cycles a sequence).
    Sysv {
        /// `shmid`.
        shmid: i32,
    },
    /// A file: its device and inode.
    File {
        /// Device (major, minor).
        dev: crate::DeviceId,
        /// Inode number.
        inode: u64,
    },
}

/// Why a candidate goes. In JSON `{"why": "leaked", "reason": ...}` (the leak's reason as
/// `ls` gives it), `{"why": "idle", "since_unix": T}` or `{"why": "named", "in_use": B}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(tag = "why", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Why {
    /// It is a leak.
    Leaked(LeakReason),
    /// It is idle, since then (unix seconds).
    Idle {
        /// Last use.
        #[serde(rename = "since_unix")]
        since: Option<i64>,
    },
    /// It was named on the command line.
    Named {
        /// It was in use, and removed with `force`.
        in_use: bool,
    },
}

/// An object [`plan`] would remove.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Candidate {
    /// How to reach it.
    pub address: Address,
    /// Its kind.
    pub kind: Kind,
    /// Its size in bytes.
    pub size: u64,
    /// The memory it holds (resident + swapped), which comes back when it goes.
    pub memory: u64,
    /// Why it goes.
    pub why: Why,
    /// Taken with `force` although the scan could not be sure nobody holds it.
    pub forced: Option<Blindness>,
    /// What it was when judged.
    pub identity: Identity,
    /// How to reach it when it lives in another namespace (a container).
    pub inside: Option<Inside>,
}

/// Where an object of another namespace is, and the process to reach it through.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Inside {
    /// A process of its namespaces (host pid).
    pub pid: u32,
    /// The namespaces the scan saw it in; the process must still be in them.
    pub namespaces: Namespaces,
    /// Its container's name or short id, or `pid:N`.
    pub label: String,
    /// A file's path in its own mount namespace.
    pub path: Option<String>,
}

impl Inside {
    fn of(o: &Object) -> Option<Inside> {
        if !o.location.foreign {
            return None;
        }
        let path = match (o.kind, &o.mount) {
            (Kind::Posix, Some(mount)) => {
                Some(format!("{}{}", mount.trim_end_matches('/'), o.name))
            }
            (Kind::Tmpfs, _) => Some(o.name.clone()),
            _ => None,
        };
        Some(Inside {
            pid: o.location.pid?,
            namespaces: o.location.namespaces,
            label: o.location.label(),
            path,
        })
    }
}

/// Why [`plan`] leaves an object of the collection alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The scan could not see every process that may hold it: `force` takes it.
    Uncertain(Blindness),
    /// This user may not remove it (not its owner or creator, and not root).
    NotPermitted {
        /// The user asking.
        euid: u32,
    },
}

/// An object of the collection that [`plan`] leaves alone, and why.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Refused {
    /// How to reach it.
    pub address: Address,
    /// Its kind.
    pub kind: Kind,
    /// Why it stays.
    pub refusal: Refusal,
    /// Its container (or `pid:N`) when it lives in another namespace.
    pub location: Option<String>,
}

impl Refused {
    /// The refusal as a one-line error (object, cause, fix).
    pub fn to_error(&self) -> Error {
        let object = self.address.to_string();
        match self.refusal {
            Refusal::Uncertain(blind) => {
                let cause = match blind {
                    Blindness::UnreadableProcesses { count } => format!(
                        "no process this scan could read holds it, but {count} could not be read and may"
                    ),
                    Blindness::ChildPidNamespace => "this runs in a child pid namespace, so processes outside it that share this IPC namespace or /dev/shm are invisible and may hold it".to_string(),
                    Blindness::CreatorUnknown => "its creator is pid 0 here: it runs or ran in a pid namespace this one cannot see, and may still know the segment".to_string(),
                    Blindness::HoldersNotScanned => "holders were not looked for".to_string(),
                };
                let fix = match blind {
                    Blindness::ChildPidNamespace | Blindness::CreatorUnknown => {
                        "run it from the host's pid namespace, or pass --force if you know no program uses it"
                    }
                    _ if crate::sys::geteuid() == 0 => {
                        "pass --force if you know no program uses it (even root cannot read every process here)"
                    }
                    _ => "run as root to see every holder, or pass --force",
                };
                Error::new(ErrorKind::Busy, object, cause).with_fix(fix)
            }
            Refusal::NotPermitted { euid } => Error::new(
                ErrorKind::PermissionDenied,
                object,
                format!("uid {euid} is neither its owner nor its creator"),
            )
            .with_fix("run as its owner or as root"),
        }
    }
}

/// What a collection would do.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Plan {
    /// What it removes, in scan order.
    pub candidates: Vec<Candidate>,
    /// What it leaves, and why.
    pub refused: Vec<Refused>,
}

/// An object removed (or that would be, in a dry run).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Removed {
    /// How it was reached.
    pub address: Address,
    /// Its kind.
    pub kind: Kind,
    /// Its size.
    pub size: u64,
    /// Memory that came back at once (0 when holders keep it until they let go).
    pub freed: u64,
    /// Why it went.
    pub why: Why,
    /// Its container (or `pid:N`) when it lived in another namespace.
    pub location: Option<String>,
}

/// When an object was last used, as far as the kernel tells: System V its last attach,
/// detach or change; a file its last access or modification (the scan's idle time).
pub fn last_used(o: &Object) -> Option<i64> {
    match (&o.sysv, o.status.usage) {
        (Some(s), _) => Some(s.ctime.max(s.atime).max(s.dtime)),
        (None, Usage::Idle { since }) => since.or(o.created),
        (None, _) => o.created,
    }
}

/// Seconds from `t` to `now`, 0 for a time in the future. Saturating: any user may set their
/// object's times to the extremes of `i64`.
fn seconds_between(t: i64, now: i64) -> u64 {
    u64::try_from(now.saturating_sub(t)).unwrap_or(0)
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether `euid` may remove it: `IPC_RMID` wants the owner or creator, an unlink in a
/// sticky directory like `/dev/shm` the file's owner; root may do both.
fn permitted(o: &Object, euid: u32) -> bool {
    euid == 0 || euid == o.uid || o.sysv.as_ref().is_some_and(|s| s.cuid == euid)
}

/// The identity of a scanned object, if it has one a removal can check.
fn identity(o: &Object) -> Option<Identity> {
    match (&o.sysv, o.dev, o.inode) {
        (Some(s), _, _) => Some(Identity::Sysv { shmid: s.shmid }),
        (None, Some(dev), Some(inode)) => Some(Identity::File { dev, inode }),
        _ => None,
    }
}

/// What a collection would remove from `scan`, and what it leaves and why. Reads nothing.
pub fn plan(scan: &Scan, opts: &PlanOptions) -> Plan {
    let euid = opts.euid.unwrap_or_else(crate::sys::geteuid);
    let now = opts.now.unwrap_or_else(now_seconds);
    let mut plan = Plan::default();
    for o in &scan.objects {
        let why = match (opts.collect, o.status.usage) {
            (Collect::Orphans, Usage::Leaked { reason }) => Why::Leaked(reason),
            (Collect::Idle, Usage::Idle { since }) => Why::Idle { since },
            _ => continue,
        };
        if !opts.kinds.contains(&o.kind) {
            continue;
        }
        // Only named objects: a deleted-but-held one has no name, and frees itself.
        if o.status.marked_for_destruction || !o.holders.is_empty() {
            continue;
        }
        let address = match &o.address {
            Address::Held(_) => continue,
            named => named.clone(),
        };
        let Some(identity) = identity(o) else {
            continue;
        };
        if opts.uid.is_some_and(|u| u != o.uid) {
            continue;
        }
        if o.location.foreign && opts.here_only {
            continue;
        }
        let inside = Inside::of(o);
        if o.location.foreign && inside.is_none() {
            continue;
        }
        if let Some(min) = opts.older_than {
            if last_used(o).map_or(0, |t| seconds_between(t, now)) < min {
                continue;
            }
        }
        let refuse = |refusal| Refused {
            address: address.clone(),
            kind: o.kind,
            refusal,
            location: inside.as_ref().map(|i| i.label.clone()),
        };
        match o.status.uncertain {
            Some(blind) if !opts.force => {
                plan.refused.push(refuse(Refusal::Uncertain(blind)));
                continue;
            }
            _ => {}
        }
        if !permitted(o, euid) {
            plan.refused.push(refuse(Refusal::NotPermitted { euid }));
            continue;
        }
        plan.candidates.push(Candidate {
            address,
            kind: o.kind,
            size: o.size,
            memory: o.resident.unwrap_or(0) + o.swapped.unwrap_or(0),
            why,
            forced: o.status.uncertain,
            identity,
            inside,
        });
    }
    plan
}

/// Whether a scanned object and a fresh `stat` are the same kernel object: the same System V
/// id, or the same device and inode (a name can be reused by a new object at any moment).
pub fn is_same_object(o: &Object, stat: &Stat) -> bool {
    // Shmids repeat across IPC namespaces: a stat taken here is of our namespace's segment.
    if o.kind == Kind::Sysv && o.location.foreign {
        return false;
    }
    identity(o).is_some_and(|id| stat_is(&id, stat))
}

fn stat_is(id: &Identity, stat: &Stat) -> bool {
    match (id, &stat.sysv, &stat.file) {
        (Identity::Sysv { shmid }, Some(s), _) => s.shmid == *shmid,
        (Identity::File { dev, inode }, None, Some(f)) => f.dev == *dev && f.inode == *inode,
        _ => false,
    }
}

/// The holders of a scanned object other than this process (which opens what it inspects).
pub fn object_holders(object: &Object) -> Vec<Holder> {
    let me = std::process::id();
    object
        .holders
        .iter()
        .filter(|h| h.pid != me)
        .cloned()
        .collect()
}

/// The processes other than this one that map or hold open the file `dev`/`inode` now, in
/// any thread.
fn file_holders_now(dev: crate::DeviceId, inode: u64) -> Vec<Holder> {
    let me = std::process::id();
    let now = holders_now(&ProcRoot::live(), &[crate::FileId::new(dev, inode)], &[]);
    now.holders
        .into_values()
        .flatten()
        .filter(|h| h.pid != me)
        .collect()
}

/// `1 attachment`, `2 attachments`.
fn attachments(n: u64) -> String {
    format!("{n} attachment{}", if n == 1 { "" } else { "s" })
}

/// `123 (app), 456 (worker)`.
fn name_holders(holders: &[Holder]) -> String {
    let named: Vec<String> = holders
        .iter()
        .map(|h| format!("{} ({})", h.pid, h.comm))
        .collect();
    named.join(", ")
}

fn busy(address: &Address, cause: String, fix: &str) -> Error {
    Error::new(ErrorKind::Busy, address.to_string(), cause).with_fix(fix)
}

/// Removes a planned candidate after looking at it once more: still the object that was
/// judged, still unheld (System V: `nattch` 0 by `IPC_STAT` just before `IPC_RMID`; a file:
/// no process or thread maps it or holds it open, by a fresh pass just before the unlink).
/// With `dry_run`, does every check and removes nothing.
pub fn remove(candidate: &Candidate, dry_run: bool) -> Result<Removed> {
    remove_all(std::slice::from_ref(candidate), dry_run)
        .pop()
        .unwrap_or_else(|| Err(Error::new(ErrorKind::Other, "reap", "nothing was removed")))
}

/// [`remove`] for many candidates, in order, one result each. The files' holders are looked
/// for in one pass over every process right before the unlinks, which then follow at once
/// (each a few microseconds): the window in which a new holder goes unseen is that one pass,
/// as it would be for each object alone, without a pass per object.
pub fn remove_all(candidates: &[Candidate], dry_run: bool) -> Vec<Result<Removed>> {
    let files: Vec<crate::FileId> = candidates
        .iter()
        .filter_map(|c| match c.identity {
            Identity::File { dev, inode } => Some(crate::FileId::new(dev, inode)),
            _ => None,
        })
        .collect();
    let now = if files.is_empty() {
        HoldersNow::default()
    } else {
        holders_now(&ProcRoot::live(), &files, &[])
    };
    candidates
        .iter()
        .map(|c| match &c.inside {
            None => remove_checked(c, &c.address, &now, dry_run),
            Some(inside) => remove_inside(c, inside, &now, dry_run),
        })
        .collect()
}

/// [`remove`] of an object of another namespace, from inside it.
fn remove_inside(
    candidate: &Candidate,
    inside: &Inside,
    now: &HoldersNow,
    dry_run: bool,
) -> Result<Removed> {
    use std::os::unix::fs::MetadataExt;
    let object = format!("{} in {}", candidate.address, inside.label);
    let pid = inside.pid;
    let ns_file = |kind: &str, want: Option<u64>| -> Result<std::fs::File> {
        let gone = |why: String| {
            Error::new(ErrorKind::NotFound, &object, why)
                .with_fix("run the collection again to judge it anew")
        };
        let f = std::fs::File::open(format!("/proc/{pid}/ns/{kind}")).map_err(|e| {
            gone(format!(
                "process {pid}, its way in, is gone: {}",
                crate::error::os_message(&e)
            ))
        })?;
        if want.is_some() && f.metadata().map(|m| m.ino()).ok() != want {
            return Err(gone(format!("process {pid} has left its {kind} namespace")));
        }
        Ok(f)
    };
    let removed = match candidate.identity {
        Identity::Sysv { .. } => {
            let ns = ns_file("ipc", inside.namespaces.ipc)?;
            // IPC_STAT and IPC_RMID answer for the namespace of the thread that calls them.
            crate::sys::ns::on_thread_in_ipc(&ns, || {
                remove_checked(candidate, &candidate.address, now, dry_run)
            })
            .map_err(|e| {
                Error::new(
                    ErrorKind::PermissionDenied,
                    &object,
                    format!(
                        "cannot enter its IPC namespace: {}",
                        crate::error::os_message(&e)
                    ),
                )
                .with_fix("run as root")
            })??
        }
        Identity::File { .. } => {
            ns_file("mnt", inside.namespaces.mnt)?;
            let path = inside.path.as_deref().ok_or_else(|| {
                Error::new(ErrorKind::NotFound, &object, "its path is not known")
                    .with_fix("remove it from inside the container")
            })?;
            let through = Address::File(format!("/proc/{pid}/root{path}").into());
            remove_checked(candidate, &through, now, dry_run)?
        }
    };
    Ok(Removed {
        address: candidate.address.clone(),
        location: Some(inside.label.clone()),
        ..removed
    })
}

/// [`remove`] through `address`, in the namespaces this thread is in.
fn remove_checked(
    candidate: &Candidate,
    address: &Address,
    now: &HoldersNow,
    dry_run: bool,
) -> Result<Removed> {
    let again = "run the collection again to judge it anew";
    let seg = segment::open(address, &OpenOptions::metadata())?;
    let stat = seg.stat()?;
    if !stat_is(&candidate.identity, &stat) {
        return Err(busy(
            address,
            "it was replaced by another object since the scan".into(),
            again,
        ));
    }
    match (&stat.sysv, candidate.identity) {
        (Some(s), _) if s.nattch > 0 => {
            return Err(busy(
                address,
                format!("a process attached it since the scan (nattch {})", s.nattch),
                again,
            ))
        }
        (Some(s), _) if s.marked_for_destruction => {
            return Err(Error::new(
                ErrorKind::NotFound,
                address.to_string(),
                "it was already removed (IPC_RMID) and goes at its last detach",
            )
            .with_fix("nothing to do"))
        }
        (None, Identity::File { dev, inode }) => {
            // Processes it cannot read were weighed by the plan (the judgement's certainty).
            let me = std::process::id();
            let holders: Vec<Holder> = now
                .holders
                .get(&crate::FileId::new(dev, inode))
                .into_iter()
                .flatten()
                .filter(|h| h.pid != me)
                .cloned()
                .collect();
            if !holders.is_empty() {
                return Err(busy(
                    address,
                    format!(
                        "pid {} mapped or opened it since the scan",
                        name_holders(&holders)
                    ),
                    again,
                ));
            }
        }
        _ => {}
    }
    if !dry_run {
        seg.remove()?;
    }
    Ok(Removed {
        address: address.clone(),
        kind: candidate.kind,
        size: candidate.size,
        freed: candidate.memory,
        why: candidate.why,
        location: None,
    })
}

/// Removes the object at `address`, named by a person: refuses one in use (mapped, open, or
/// attached) unless `force`. A System V segment costs no scan of `/proc`: its `nattch` from
/// `IPC_STAT` counts every attachment in every pid namespace; a file's holders are found by a
/// pass for its device and inode only.
pub fn remove_address(address: &Address, force: bool, dry_run: bool) -> Result<Removed> {
    let seg = segment::open(address, &OpenOptions::metadata())?;
    let stat = seg.stat()?;
    if stat.sysv.as_ref().is_some_and(|s| s.marked_for_destruction) {
        return Err(Error::new(
            ErrorKind::NotFound,
            address.to_string(),
            "it was already removed (IPC_RMID) and goes at its last detach",
        )
        .with_fix("nothing to do; stop its holders to get the memory back"));
    }
    let (in_use, who) = match (&stat.sysv, &stat.file) {
        (Some(s), _) if s.nattch == 0 => (false, String::new()),
        (Some(s), _) => {
            // Only to name them: nattch already said it is in use.
            let me = std::process::id();
            let now = holders_now(&ProcRoot::live(), &[], &[s.shmid]);
            let holders: Vec<Holder> = now
                .sysv
                .into_values()
                .flatten()
                .filter(|h| h.pid != me)
                .collect();
            let unseen = s.nattch.saturating_sub(holders.len() as u64);
            let who = match (holders.is_empty(), unseen) {
                (true, n) => format!("{} in processes this scan cannot see", attachments(n)),
                (false, 0) => name_holders(&holders),
                (false, n) => format!(
                    "{} and {} in processes this scan cannot see",
                    name_holders(&holders),
                    attachments(n)
                ),
            };
            (true, who)
        }
        (None, Some(f)) => {
            let holders = file_holders_now(f.dev, f.inode);
            (!holders.is_empty(), name_holders(&holders))
        }
        _ => (false, String::new()),
    };
    if in_use && !force {
        return Err(Error::new(
            ErrorKind::Busy,
            address.to_string(),
            format!("it is in use by {who}; removing it would strand their data"),
        )
        .with_fix(
            "stop them first, or pass --force (the memory comes back at their last detach/unmap)",
        ));
    }
    // A file's allocated blocks are its memory; a segment's is measured around IPC_RMID
    // (or, in a dry run, read from /proc/sysvipc/shm).
    let file_memory = match (stat.kind, &stat.file) {
        (Kind::File, _) => 0,
        (_, Some(f)) => f.allocated,
        _ => 0,
    };
    let mut freed = if in_use { 0 } else { file_memory };
    if dry_run {
        if let (Some(s), false) = (&stat.sysv, in_use) {
            freed = sysv_memory(s.shmid);
        }
    } else {
        // SHM_INFO walks every segment of the namespace; a segment never attached (atime 0:
        // nothing can have faulted a page in, since only a mapping allocates its pages) frees
        // nothing, and needs no walk.
        let before = stat
            .sysv
            .as_ref()
            .filter(|s| s.atime != 0)
            .and_then(|_| crate::sys::sysv::totals().ok());
        // The last look, as close to the removal as two system calls allow.
        if stat.sysv.is_some() && !force {
            let now = seg.stat()?;
            if now.sysv.as_ref().is_some_and(|s| s.nattch > 0) {
                return Err(busy(
                    address,
                    "a process attached it a moment ago".into(),
                    "stop it first, or pass --force",
                ));
            }
        }
        seg.remove()?;
        if let (Some(before), false) = (before, in_use) {
            let after = crate::sys::sysv::totals().ok();
            freed = after.map_or(0, |after| {
                let pages = (before.resident_pages + before.swapped_pages)
                    .saturating_sub(after.resident_pages + after.swapped_pages);
                // Other segments change meanwhile, and hugetlb pages are over-counted by the
                // kernel: never more than the segment itself.
                let page = crate::sys::page_size();
                (pages * page).min(stat.size.div_ceil(page) * page)
            });
        }
    }
    Ok(Removed {
        address: address.clone(),
        kind: stat.kind,
        size: stat.size,
        freed,
        why: Why::Named { in_use },
        location: None,
    })
}

/// Resident plus swapped bytes of a System V segment, from `/proc/sysvipc/shm`.
fn sysv_memory(shmid: i32) -> u64 {
    ProcRoot::live()
        .sysvipc_shm()
        .ok()
        .and_then(|list| list.into_iter().find(|s| s.shmid == shmid))
        .map_or(0, |s| s.rss.unwrap_or(0) + s.swap.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::ScanOptions;

    struct Unlink(String);
    impl Drop for Unlink {
        fn drop(&mut self) {
            let _ = crate::sys::posix::shm_unlink(&self.0);
        }
    }

    fn idle_candidate(addr: &Address) -> Candidate {
        let scan = Scan::collect(&ProcRoot::live(), &ScanOptions::default()).unwrap();
        let text = addr.to_string();
        let o = scan
            .objects
            .iter()
            .find(|o| o.address.to_string() == text)
            .unwrap();
        assert!(o.status.usage.is_idle(), "{o:?}");
        // Other tests of this binary run at once, so only this object is planned.
        let single = Scan {
            objects: vec![o.clone()],
            ..scan.clone()
        };
        let plan = plan(&single, &PlanOptions::new(Collect::Idle).force(true));
        assert_eq!(plan.candidates.len(), 1, "{plan:?}");
        plan.candidates[0].clone()
    }

    #[test]
    fn an_object_replaced_since_the_scan_is_not_removed() {
        // Between the scan and the removal, the object goes and a live program makes a new
        // one under the same name.
        let name = format!("/shmkit-reap-replaced-{}", std::process::id());
        let _guard = Unlink(name.clone());
        let addr = Address::posix(&name).unwrap();
        let create = || segment::create(&addr, &segment::CreateOptions::new(4096).exclusive(true));
        let old = create().unwrap();
        drop(old);
        let candidate = idle_candidate(&addr);
        segment::open(&addr, &OpenOptions::metadata())
            .unwrap()
            .remove()
            .unwrap();
        let new = create().unwrap();
        drop(new);
        let err = remove(&candidate, false).unwrap_err();
        assert!(
            segment::open(&addr, &OpenOptions::metadata()).is_ok(),
            "the new object was removed"
        );
        assert_eq!(err.kind(), ErrorKind::Busy, "{err}");
        assert!(
            err.to_string()
                .contains("replaced by another object since the scan"),
            "{err}"
        );
    }

    /// The race of `rm --idle`: an object judged idle is mapped between the plan and the
    /// removal. The re-check finds the new holder (in another process) and leaves it.
    #[test]
    fn an_object_mapped_after_the_plan_is_not_removed() {
        let name = format!("/shmkit-reap-race-{}", std::process::id());
        let _guard = Unlink(name.clone());
        let addr = Address::posix(&name).unwrap();
        drop(segment::create(&addr, &segment::CreateOptions::new(8192).exclusive(true)).unwrap());
        let candidate = idle_candidate(&addr);
        // A process that maps it now, after the plan: python-free, a shell `exec 3<` holds
        // an fd (a mapping is found the same way, by device and inode).
        let mut holder = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("exec 3</dev/shm{name}; echo ready; read _"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        let result = remove(&candidate, false);
        drop(holder.stdin.take());
        let _ = holder.wait();
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Busy, "{err}");
        assert!(
            err.to_string().contains(&format!("pid {}", holder.id())),
            "{err}"
        );
        assert!(
            segment::open(&addr, &OpenOptions::metadata()).is_ok(),
            "removed while held"
        );
        // Let go, it goes.
        remove(&candidate, false).unwrap();
        assert!(segment::open(&addr, &OpenOptions::metadata()).is_err());
    }

    /// A dry run predicts the real run: what this user may not remove is refused by the plan,
    /// before anything is tried.
    #[test]
    fn the_plan_refuses_what_the_user_may_not_remove() {
        let name = format!("/shmkit-reap-perm-{}", std::process::id());
        let _guard = Unlink(name.clone());
        let addr = Address::posix(&name).unwrap();
        drop(segment::create(&addr, &segment::CreateOptions::new(4096).exclusive(true)).unwrap());
        let owner = segment::open(&addr, &OpenOptions::metadata())
            .unwrap()
            .stat()
            .unwrap()
            .uid;
        let mut candidate = idle_candidate(&addr);
        let scan = Scan::collect(&ProcRoot::live(), &ScanOptions::default()).unwrap();
        let single = Scan {
            objects: scan
                .objects
                .iter()
                .filter(|o| o.address == addr)
                .cloned()
                .collect(),
            ..scan.clone()
        };
        let stranger = owner.wrapping_add(4242).max(1);
        let plan = plan(
            &single,
            &PlanOptions::new(Collect::Idle).force(true).euid(stranger),
        );
        assert!(plan.candidates.is_empty(), "{plan:?}");
        assert_eq!(
            plan.refused[0].refusal,
            Refusal::NotPermitted { euid: stranger }
        );
        let err = plan.refused[0].to_error();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        // Its owner may; and a collection of leaks never takes an idle object.
        let mine = plan_of(&single, Collect::Idle, owner);
        assert_eq!(mine.candidates.len(), 1);
        assert!(plan_of(&single, Collect::Orphans, owner)
            .candidates
            .is_empty());
        candidate.forced = None;
        remove(&candidate, true).unwrap();
        assert!(
            segment::open(&addr, &OpenOptions::metadata()).is_ok(),
            "a dry run removes nothing"
        );
    }

    fn plan_of(scan: &Scan, collect: Collect, euid: u32) -> Plan {
        plan(scan, &PlanOptions::new(collect).force(true).euid(euid))
    }
}
