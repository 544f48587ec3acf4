//! What `top` shows, as pure functions of the samples: each object's identity across samples,
//! its growth, its status word, and the rows a view (sort, filters, grouping) selects.
//!
//! Nothing here reads the system or the terminal, so the growth arithmetic and the row order
//! are unit-tested on built objects; the terminal and batch renderers only format these rows.

use shmkit::scan::{Kind, Object, Usage};
use std::collections::HashMap;
use std::time::Duration;

/// What stays the same for one kernel object from one sample to the next, so growth is never
/// computed between two different objects that happen to share a name or an id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    /// System V ids are reused once a segment is gone, and every IPC namespace counts from
    /// 0: the namespace, the key and the creator's pid tell one segment from another.
    Sysv {
        /// Its IPC namespace (inode).
        ipc: Option<u64>,
        /// The segment id.
        shmid: i32,
        /// Its key.
        key: i32,
        /// Its creator's pid.
        creator: u32,
    },
    /// Files, POSIX objects, shared anonymous memory and memfds: device and inode.
    Inode {
        /// The kind (a file and a mapping of it are different rows).
        kind: Kind,
        /// Device (major, minor).
        dev: shmkit::DeviceId,
        /// Inode number.
        inode: u64,
    },
    /// An object the scan gave no inode: its kind and name.
    Name {
        /// The kind.
        kind: Kind,
        /// The name.
        name: String,
    },
}

impl Identity {
    /// The identity of a scanned object.
    pub fn of(o: &Object) -> Identity {
        if let Some(s) = &o.sysv {
            return Identity::Sysv {
                ipc: o.location.namespaces.ipc,
                shmid: s.shmid,
                key: s.key,
                creator: s.creator.pid,
            };
        }
        match (o.dev, o.inode) {
            (Some(dev), Some(inode)) => Identity::Inode {
                kind: o.kind,
                dev,
                inode,
            },
            _ => Identity::Name {
                kind: o.kind,
                name: o.name.clone(),
            },
        }
    }
}

/// How one object's resident memory moved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Growth {
    /// Bytes per second since the previous sample; `None` on the first sample that shows it,
    /// and when the scan does not know its resident bytes.
    pub per_second: Option<f64>,
    /// Bytes gained since the first sample (an object that appeared later started from 0);
    /// `None` when its resident bytes are unknown.
    pub since_start: Option<i64>,
    /// It appeared after the first sample.
    pub new: bool,
}

/// An object that was in the previous sample and is not in this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gone {
    /// How it was shown.
    pub label: String,
    /// Its resident bytes when last seen.
    pub resident: u64,
}

/// Remembers each object's resident bytes at the first and the previous sample, keyed by
/// [`Identity`].
#[derive(Debug, Default)]
pub struct Tracker {
    samples: u64,
    start: HashMap<Identity, u64>,
    previous: HashMap<Identity, (u64, String)>,
}

impl Tracker {
    /// A tracker that has seen nothing.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Takes a new sample, `elapsed` after the previous one, and returns each object's growth
    /// (in the order of `objects`) and the objects that went away since the previous sample.
    pub fn update<'a>(
        &mut self,
        objects: impl IntoIterator<Item = &'a Object>,
        elapsed: Duration,
    ) -> (Vec<Growth>, Vec<Gone>) {
        let first = self.samples == 0;
        self.samples += 1;
        let seconds = elapsed.as_secs_f64();
        let mut current = HashMap::new();
        let growth = objects
            .into_iter()
            .map(|o| {
                let id = Identity::of(o);
                let known = o.resident.is_some();
                let resident = o.resident.unwrap_or(0);
                let new = !first && !self.start.contains_key(&id);
                let base =
                    *self
                        .start
                        .entry(id.clone())
                        .or_insert(if first { resident } else { 0 });
                let per_second = match self.previous.get(&id) {
                    Some((before, _)) if seconds > 0.0 && known => {
                        Some((resident as f64 - *before as f64) / seconds)
                    }
                    _ => None,
                };
                current.insert(id, (resident, label(o)));
                Growth {
                    per_second,
                    since_start: known.then(|| delta(resident, base)),
                    new,
                }
            })
            .collect();
        let mut gone: Vec<Gone> = self
            .previous
            .iter()
            .filter(|(id, _)| !current.contains_key(*id))
            .map(|(_, (resident, label))| Gone {
                label: label.clone(),
                resident: *resident,
            })
            .collect();
        gone.sort_by(|a, b| b.resident.cmp(&a.resident).then(a.label.cmp(&b.label)));
        self.previous = current;
        (growth, gone)
    }
}

/// `now - before` as a signed count, saturating at `i64`'s ends.
pub fn delta(now: u64, before: u64) -> i64 {
    if now >= before {
        i64::try_from(now - before).unwrap_or(i64::MAX)
    } else {
        i64::try_from(before - now).map_or(i64::MIN, |d| -d)
    }
}

/// How an object is named in a row: its address where commands can reach it, else its name.
pub fn label(o: &Object) -> String {
    shmkit::render::table::sanitize(&o.address.to_string())
}

/// What [`label`] shows, unsanitized and without a copy: the order of names, for sorting.
fn name_key(o: &Object) -> String {
    o.address.to_string()
}

/// Whether the scan judged it in use: some process maps it, holds it open or (System V) is
/// attached, in any thread and pid namespace.
pub fn in_use(o: &Object) -> bool {
    o.status.usage == Usage::InUse
}

/// The status word, the scan's judgement: `leak`, `idle`, `in use`, with `?` when processes
/// the scan could not see may hold it; `removed` for a System V segment marked for
/// destruction that nobody holds any more.
pub fn status(o: &Object) -> &'static str {
    let uncertain = o.status.uncertain.is_some();
    match o.status.usage {
        Usage::InUse => "in use",
        Usage::Leaked { .. } if uncertain => "leak?",
        Usage::Leaked { .. } => "leak",
        Usage::Idle { .. } if o.status.marked_for_destruction => "removed",
        Usage::Idle { .. } if uncertain => "idle?",
        Usage::Idle { .. } => "idle",
        // A judgement this version does not know: say nothing rather than guess.
        _ => "-",
    }
}

/// The container an object lives in (its name or short id), or `pid:N` for a namespace no
/// runtime made; `None` in the scan's own namespaces.
pub fn container(o: &Object) -> Option<String> {
    let at = &o.location;
    (at.container.is_some() || at.foreign).then(|| shmkit::render::table::sanitize(&at.label()))
}

/// The name of an object's container group (`host` for the scan's own namespaces).
pub fn group_name(o: &Object) -> String {
    container(o).unwrap_or_else(|| "host".to_string())
}

/// How rows are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortKey {
    /// Largest resident first.
    Resident,
    /// Fastest growing first.
    Growth,
    /// Oldest first.
    Age,
    /// By address or name.
    Name,
}

impl SortKey {
    /// Its name in the header.
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Resident => "resident",
            SortKey::Growth => "growth",
            SortKey::Age => "age",
            SortKey::Name => "name",
        }
    }
}

/// What the view shows: order, filters and grouping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// The order.
    pub sort: SortKey,
    /// The order reversed.
    pub reverse: bool,
    /// Only these kinds (empty: all).
    pub kinds: Vec<Kind>,
    /// Only this container group (`host` for the host's objects).
    pub container: Option<String>,
    /// Only rows whose address, name, holders or status contain this text.
    pub text: String,
    /// Rows gathered under one heading per container.
    pub group: bool,
}

impl Default for View {
    fn default() -> Self {
        View {
            sort: SortKey::Resident,
            reverse: false,
            kinds: Vec::new(),
            container: None,
            text: String::new(),
            group: false,
        }
    }
}

/// One line of the table: a heading for a container group, or an object (its index in the
/// sample).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A group heading: its name, how many objects it shows and their resident bytes.
    Group {
        /// The container (or `host`).
        name: String,
        /// Objects in it that the filters keep.
        objects: usize,
        /// Their resident bytes.
        resident: u64,
    },
    /// An object row.
    Object(usize),
}

/// Whether the view's filters keep `o`.
fn keeps(view: &View, o: &Object) -> bool {
    if !view.kinds.is_empty() && !view.kinds.contains(&o.kind) {
        return false;
    }
    if view.container.as_ref().is_some_and(|c| *c != group_name(o)) {
        return false;
    }
    if view.text.is_empty() {
        return true;
    }
    let needle = view.text.to_lowercase();
    let found = |hay: &str| hay.to_lowercase().contains(&needle);
    found(&label(o))
        || found(&o.name)
        || found(status(o))
        || container(o).is_some_and(|c| found(&c))
        || o.holders
            .iter()
            .any(|h| found(&h.comm) || h.pid.to_string() == needle)
}

/// The lines the view shows, in order.
pub fn lines(view: &View, objects: &[Object], growth: &[Growth]) -> Vec<Line> {
    let mut kept: Vec<usize> = (0..objects.len())
        .filter(|&i| keeps(view, &objects[i]))
        .collect();
    let rate = |i: usize| growth.get(i).and_then(|g| g.per_second).unwrap_or(0.0);
    kept.sort_by(|&a, &b| {
        let (oa, ob) = (&objects[a], &objects[b]);
        let order = match view.sort {
            SortKey::Resident => ob.resident.unwrap_or(0).cmp(&oa.resident.unwrap_or(0)),
            SortKey::Growth => rate(b).total_cmp(&rate(a)),
            SortKey::Age => oa
                .created
                .unwrap_or(i64::MAX)
                .cmp(&ob.created.unwrap_or(i64::MAX)),
            SortKey::Name => name_key(oa).cmp(&name_key(ob)),
        };
        let order = if view.reverse { order.reverse() } else { order };
        // Ties go to the larger object, then by name, so rows keep their places between
        // refreshes instead of swapping at random.
        order
            .then_with(|| ob.resident.unwrap_or(0).cmp(&oa.resident.unwrap_or(0)))
            .then_with(|| name_key(oa).cmp(&name_key(ob)))
    });
    if !view.group {
        return kept.into_iter().map(Line::Object).collect();
    }
    // Groups: the host first, then containers by name; each keeps the view's order inside.
    let mut names: Vec<String> = kept.iter().map(|&i| group_name(&objects[i])).collect();
    names.sort_by(|a, b| (a != "host", a).cmp(&(b != "host", b)));
    names.dedup();
    let mut out = Vec::with_capacity(kept.len() + names.len());
    for name in names {
        let members: Vec<usize> = kept
            .iter()
            .copied()
            .filter(|&i| group_name(&objects[i]) == name)
            .collect();
        out.push(Line::Group {
            name: name.to_string(),
            objects: members.len(),
            resident: members
                .iter()
                .map(|&i| objects[i].resident.unwrap_or(0))
                .sum(),
        });
        out.extend(members.into_iter().map(Line::Object));
    }
    out
}

/// The holders cell: the first holder as `pid/comm`, `+N` more, and the kernel's attachment
/// count when it sees attachments the scan could not.
pub fn holders_cell(o: &Object) -> String {
    let mut parts: Vec<String> = o
        .holders
        .first()
        .map(|h| format!("{}/{}", h.pid, shmkit::render::table::sanitize(&h.comm)))
        .into_iter()
        .collect();
    if o.holders.len() > 1 {
        parts.push(format!("+{}", o.holders.len() - 1));
    }
    if let Some(s) = &o.sysv {
        if s.nattch as usize != o.holders.len() {
            parts.push(format!("(nattch {})", s.nattch));
        }
    }
    if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join(" ")
    }
}

/// Bytes per second as a signed human size: `+1.5M`, `-4.0K`, `0`, `-` when unknown.
pub fn rate_cell(g: &Growth) -> String {
    match g.per_second {
        None if g.new => "new".to_string(),
        None => "-".to_string(),
        Some(r) if r.abs() < 1.0 => "0".to_string(),
        Some(r) => shmkit::render::size::human_delta(r as i64),
    }
}

/// Bytes since the first sample: `+24M`, `-4.0K`, `0`.
pub fn since_cell(g: &Growth) -> String {
    match g.since_start {
        None => "-".to_string(),
        Some(0) => "0".to_string(),
        Some(d) => shmkit::render::size::human_delta(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shmkit::scan::{Blindness, HoldVia, Holder, LeakReason, ProcessRef, SysvDetails};

    const MIB: u64 = 1 << 20;

    fn object(kind: Kind, name: &str, inode: u64, resident: u64) -> Object {
        let address = format!("{kind}:{name}")
            .parse()
            .unwrap_or_else(|_| shmkit::address::Address::File(name.into()));
        let mut o = Object::new(kind, address, name);
        o.dev = Some(shmkit::DeviceId::new(0, 1));
        o.inode = Some(inode);
        o.size = resident;
        o.resident = Some(resident);
        o.mode = 0o600;
        o.created = Some(1000 + inode as i64);
        o
    }

    fn segment(shmid: i32, creator: u32, resident: u64) -> Object {
        let mut o = object(Kind::Sysv, "0x00000000", shmid as u64, resident);
        o.address = format!("sysv:id={shmid}").parse().unwrap();
        o.sysv = Some(SysvDetails::new(0, shmid, ProcessRef::new(creator, None)));
        o
    }

    #[test]
    fn growth_is_per_second_since_the_previous_sample_and_since_the_first() {
        let mut t = Tracker::new();
        let (g, _) = t.update(&[object(Kind::Posix, "/a", 7, 10 * MIB)], Duration::ZERO);
        assert_eq!(g[0].per_second, None);
        assert_eq!(g[0].since_start, Some(0));
        assert!(!g[0].new);
        let (g, _) = t.update(
            &[object(Kind::Posix, "/a", 7, 14 * MIB)],
            Duration::from_secs(2),
        );
        assert_eq!(g[0].per_second, Some((2 * MIB) as f64));
        assert_eq!(g[0].since_start, Some((4 * MIB) as i64));
        let (g, _) = t.update(
            &[object(Kind::Posix, "/a", 7, 13 * MIB)],
            Duration::from_secs(1),
        );
        assert_eq!(g[0].per_second, Some(-(MIB as f64)));
        assert_eq!(g[0].since_start, Some((3 * MIB) as i64));
    }

    #[test]
    fn an_object_that_appears_later_grew_from_nothing() {
        let mut t = Tracker::new();
        t.update(&[object(Kind::Posix, "/a", 7, MIB)], Duration::ZERO);
        let objects = [
            object(Kind::Posix, "/a", 7, MIB),
            object(Kind::Posix, "/b", 8, 24 * MIB),
        ];
        let (g, gone) = t.update(&objects, Duration::from_secs(2));
        assert!(g[1].new);
        assert_eq!(g[1].since_start, Some((24 * MIB) as i64));
        assert_eq!(since_cell(&g[1]), "+24.0M");
        assert_eq!(rate_cell(&g[1]), "new");
        assert!(gone.is_empty());
    }

    #[test]
    fn a_reused_segment_id_is_a_new_object_not_growth() {
        // The kernel hands a freed id to the next shmget: the new segment (another creator)
        // must not inherit the old one's history.
        let mut t = Tracker::new();
        t.update(&[segment(5, 100, 32 * MIB)], Duration::ZERO);
        let (g, gone) = t.update(&[segment(5, 200, MIB)], Duration::from_secs(2));
        assert!(g[0].new);
        assert_eq!(g[0].per_second, None);
        assert_eq!(
            gone,
            [Gone {
                label: "sysv:id=5".into(),
                resident: 32 * MIB
            }]
        );
    }

    #[test]
    fn the_same_segment_id_in_two_ipc_namespaces_is_two_objects_in_two_groups() {
        // Every IPC namespace numbers its segments from 0: a container's segment 0 is not
        // ours, and neither its growth nor its row may be mixed with ours.
        let ours = segment(0, 100, MIB);
        let mut theirs = segment(0, 100, 8 * MIB);
        theirs.location.namespaces.ipc = Some(4026532000);
        theirs.location.foreign = true;
        theirs.location.pid = Some(4242);
        assert_ne!(Identity::of(&ours), Identity::of(&theirs));
        assert_eq!(container(&ours), None);
        assert_eq!(container(&theirs).as_deref(), Some("pid:4242"));
        let mut t = Tracker::new();
        t.update(&[ours.clone(), theirs.clone()], Duration::ZERO);
        let (g, gone) = t.update(&[ours.clone(), theirs.clone()], Duration::from_secs(1));
        assert_eq!(g[1].per_second, Some(0.0), "no growth from mixing the two");
        assert!(gone.is_empty());
        let objects = [ours, theirs];
        let growth = [g[0], g[1]];
        let view = View {
            group: true,
            ..View::default()
        };
        let heads: Vec<String> = lines(&view, &objects, &growth)
            .into_iter()
            .filter_map(|l| match l {
                Line::Group { name, .. } => Some(name),
                Line::Object(_) => None,
            })
            .collect();
        assert_eq!(heads, ["host", "pid:4242"]);
        let view = View {
            container: Some("pid:4242".into()),
            ..View::default()
        };
        assert_eq!(lines(&view, &objects, &growth), [Line::Object(1)]);
    }

    #[test]
    fn status_words_follow_holders_attachments_and_orphan_flags() {
        let mut leak = segment(1, 9, MIB);
        leak.status.usage = Usage::Leaked {
            reason: LeakReason::PrivateSegmentCreatorExited { creator: 9 },
        };
        assert_eq!(status(&leak), "leak");
        leak.status.uncertain = Some(Blindness::ChildPidNamespace);
        assert_eq!(status(&leak), "leak?");
        let mut attached = segment(2, 9, MIB);
        attached.sysv.as_mut().unwrap().nattch = 1;
        assert_eq!(status(&attached), "in use");
        assert_eq!(holders_cell(&attached), "(nattch 1)");
        let mut idle = segment(3, 9, MIB);
        idle.status.usage = Usage::Idle { since: None };
        assert_eq!(status(&idle), "idle");
        idle.status.marked_for_destruction = true;
        assert_eq!(status(&idle), "removed");
        let mut held = object(Kind::Posix, "/h", 3, MIB);
        held.holders
            .push(Holder::new(42, "db", 0, HoldVia::Map, MIB));
        assert_eq!(status(&held), "in use");
        assert_eq!(holders_cell(&held), "42/db");
    }

    #[test]
    fn sort_keys_reorder_rows_and_filters_drop_them() {
        let objects = [
            object(Kind::Posix, "/small-old", 1, MIB),
            object(Kind::Posix, "/big", 2, 8 * MIB),
            segment(3, 1, 4 * MIB),
        ];
        let growth = [
            Growth {
                per_second: Some(0.0),
                since_start: Some(0),
                new: false,
            },
            Growth {
                per_second: Some(10.0),
                since_start: Some(0),
                new: false,
            },
            Growth {
                per_second: Some(500.0),
                since_start: Some(0),
                new: false,
            },
        ];
        let order = |view: &View| -> Vec<Line> { lines(view, &objects, &growth) };
        let rows = |ids: &[usize]| -> Vec<Line> { ids.iter().map(|&i| Line::Object(i)).collect() };
        let mut view = View::default();
        assert_eq!(order(&view), rows(&[1, 2, 0]));
        view.sort = SortKey::Growth;
        assert_eq!(order(&view), rows(&[2, 1, 0]));
        view.sort = SortKey::Age;
        assert_eq!(order(&view), rows(&[0, 1, 2]));
        view.sort = SortKey::Name;
        assert_eq!(order(&view), rows(&[1, 0, 2]));
        view.reverse = true;
        assert_eq!(order(&view), rows(&[2, 0, 1]));
        view.kinds = vec![Kind::Sysv];
        assert_eq!(order(&view), rows(&[2]));
        view.kinds.clear();
        view.text = "BIG".into();
        assert_eq!(order(&view), rows(&[1]));
        view.text.clear();
        view.group = true;
        view.reverse = false;
        assert_eq!(
            order(&view),
            [
                Line::Group {
                    name: "host".into(),
                    objects: 3,
                    resident: 13 * MIB
                },
                Line::Object(1),
                Line::Object(0),
                Line::Object(2)
            ]
        );
        view.container = Some("a-container".into());
        assert_eq!(order(&view), []);
    }

    #[test]
    fn deltas_saturate_instead_of_overflowing() {
        assert_eq!(delta(u64::MAX, 0), i64::MAX);
        assert_eq!(delta(0, u64::MAX), i64::MIN);
        assert_eq!(delta(3, 5), -2);
    }
}
