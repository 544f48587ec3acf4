//! Prometheus metrics: one more renderer of a [`Scan`] and its [`MemReport`].
//!
//! [`Metrics::new`] turns a scan into metric families (pure: the same scan gives the same
//! metrics), and [`Metrics::encode`] writes them with the official `prometheus-client`
//! encoders, in the Prometheus text format (0.0.4) or in OpenMetrics 1.0. `shmkit exporter`
//! serves them over HTTP and writes them as node_exporter textfiles; any program using the
//! library can do the same.
//!
//! Every family is a gauge in base units (bytes, seconds). Labels take bounded values only:
//! an object's `address`, never a pid; and `--max-objects` keeps the number of per-object
//! series bounded by folding the smallest objects into one series per kind and container
//! (`address="other"`). The names are a contract, listed in `docs/exporter.md`.

use crate::address::Address;
use crate::report::MemReport;
use crate::scan::{Kind, Location, Object, Scan};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The `address` label of the series that folds the objects beyond `max_objects`.
pub const OTHER: &str = "other";

/// The default bound on per-object series (`--max-objects`).
pub const DEFAULT_MAX_OBJECTS: usize = 500;

/// What the caller knows about the scrape that the scan does not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScrapeFacts {
    /// How long the scan took.
    pub duration: Duration,
    /// When the scan started, in seconds since the epoch.
    pub timestamp: f64,
    /// How old the oldest process walk the scan reused is (zero: it walked every process,
    /// as a one-shot scan does). A holder that let go without exiting can be shown that long.
    pub holders_age: Duration,
}

/// How metrics are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsOptions {
    /// Keep this many objects (the largest by resident bytes) as their own series; fold the
    /// others into one series per kind and container.
    pub max_objects: usize,
}

impl Default for MetricsOptions {
    fn default() -> Self {
        MetricsOptions {
            max_objects: DEFAULT_MAX_OBJECTS,
        }
    }
}

/// The two exposition formats a scraper can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format, version 0.0.4 (what node_exporter's textfile collector
    /// reads, and what scrapers get unless they ask for OpenMetrics).
    Prometheus,
    /// OpenMetrics 1.0 text (ends with `# EOF`).
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// One sample: its labels and its value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Sample {
    /// Label names and values, in the order they are written.
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: Value,
}

/// A sample's value: bytes and counts are integers (written without a fraction or an
/// exponent, so every byte shows), durations and times are floats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A count or a number of bytes.
    Integer(u64),
    /// Seconds.
    Float(f64),
}

impl Value {
    /// The value as a float.
    pub fn as_f64(self) -> f64 {
        match self {
            Value::Integer(n) => n as f64,
            Value::Float(x) => x,
        }
    }
}

/// One metric family: a name, its help text and its samples (all gauges).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Family {
    /// The metric name (`shmkit_shmem_bytes`).
    pub name: &'static str,
    /// The `# HELP` text.
    pub help: &'static str,
    /// Its samples.
    pub samples: Vec<Sample>,
}

/// The metrics of one scan.
#[derive(Debug, Clone)]
pub struct Metrics {
    families: Arc<[Family]>,
    folded: usize,
}

/// The parts of buff/cache, as `part` label values, in the order `shmkit mem` lists them.
const BUFF_CACHE_PARTS: [&str; 7] = [
    "clean_page_cache",
    "mapped_file",
    "dirty_writeback",
    "buffers",
    "reclaimable_slab",
    "shmem",
    "ramfs",
];

/// The kinds whose memory is shmem, each always given a leak series on the host so that
/// alerts and dashboards see a 0 rather than nothing.
const SHMEM_KINDS: [Kind; 5] = [
    Kind::Sysv,
    Kind::Posix,
    Kind::Tmpfs,
    Kind::SharedAnon,
    Kind::Memfd,
];

impl Metrics {
    /// Builds the metrics of `scan` (whose report is `report`).
    pub fn new(
        scan: &Scan,
        report: &MemReport,
        facts: &ScrapeFacts,
        opts: &MetricsOptions,
    ) -> Metrics {
        let mut families = Vec::new();
        let gauge = |name, help, value: u64| Family {
            name,
            help,
            samples: vec![Sample {
                labels: Vec::new(),
                value: Value::Integer(value),
            }],
        };
        families.push(gauge(
            "shmkit_shmem_bytes",
            "Shared memory the kernel counts (meminfo Shmem): tmpfs, System V, POSIX, shared anonymous, memfd.",
            report.pinned.total,
        ));
        families.push(gauge(
            "shmkit_shmem_unattributed_bytes",
            "Part of Shmem that no object found by the scan accounts for.",
            report.pinned.unattributed,
        ));
        let b = &report.buff_cache;
        let parts = [
            b.clean_page_cache,
            b.mapped_file,
            b.dirty_writeback,
            b.buffers,
            b.reclaimable_slab,
            b.shmem,
            b.ramfs,
        ];
        families.push(Family {
            name: "shmkit_buff_cache_bytes",
            help: "What free's buff/cache holds, part by part; the parts add up to buff/cache.",
            samples: BUFF_CACHE_PARTS
                .iter()
                .zip(parts)
                .map(|(part, value)| Sample {
                    labels: vec![("part", (*part).to_string())],
                    value: Value::Integer(value),
                })
                .collect(),
        });
        families.push(gauge(
            "shmkit_really_available_bytes",
            "Memory that can be had without touching shared memory: free plus the reclaimable parts of buff/cache.",
            report.really_available,
        ));

        let (objects, folded) = object_families(scan, opts.max_objects);
        families.extend(objects);
        families.extend(leak_families(scan));
        families.extend(mount_families(scan));
        families.extend(container_families(report));

        let c = &scan.coverage;
        families.push(Family {
            name: "shmkit_scrape_duration_seconds",
            help: "How long the scan behind these metrics took.",
            samples: vec![Sample {
                labels: Vec::new(),
                value: Value::Float(facts.duration.as_secs_f64()),
            }],
        });
        families.push(Family {
            name: "shmkit_scrape_timestamp_seconds",
            help:
                "When the scan behind these metrics started (scans are reused for --min-interval).",
            samples: vec![Sample {
                labels: Vec::new(),
                value: Value::Float(facts.timestamp),
            }],
        });
        families.push(Family {
            name: "shmkit_scrape_holders_age_seconds",
            help: "How old the oldest process walk these metrics reuse is (0: every process was walked for them); a holder that let go without exiting can be shown that long.",
            samples: vec![Sample {
                labels: Vec::new(),
                value: Value::Float(facts.holders_age.as_secs_f64()),
            }],
        });
        families.push(gauge(
            "shmkit_scrape_processes",
            "Processes the scan examined.",
            c.processes,
        ));
        families.push(gauge(
            "shmkit_scrape_processes_unreadable",
            "Processes whose mappings or descriptors the scan could not read; what they hold is unattributed and leaks they might hold are uncertain.",
            c.processes_unreadable,
        ));
        families.push(gauge(
            "shmkit_scrape_objects_folded",
            "Objects beyond --max-objects, folded into the address=\"other\" series.",
            folded as u64,
        ));
        families.push(Family {
            name: "shmkit_build_info",
            help: "The shmkit version that produced these metrics (always 1).",
            samples: vec![Sample {
                labels: vec![("version", env!("CARGO_PKG_VERSION").to_string())],
                value: Value::Integer(1),
            }],
        });
        families.retain(|f| !f.samples.is_empty());
        Metrics {
            families: families.into(),
            folded,
        }
    }

    /// The families, in the order they are written.
    pub fn families(&self) -> &[Family] {
        &self.families
    }

    /// How many objects were folded into `address="other"` series.
    pub fn folded(&self) -> usize {
        self.folded
    }

    /// The exposition text in `format`.
    pub fn encode(&self, format: Format) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Families(Arc::clone(&self.families))));
        let mut out = String::new();
        // Writing into a String cannot fail, and the collector only fails when its writer
        // does: an error here would be a bug in the encoder, so it yields what was written.
        let _ = match format {
            Format::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
            }
            Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry),
        };
        out
    }
}

/// The collector that hands the families to `prometheus-client`'s encoders.
#[derive(Debug)]
struct Families(Arc<[Family]>);

impl Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in self.0.iter() {
            let mut metric =
                encoder.encode_descriptor(family.name, family.help, None, MetricType::Gauge)?;
            for sample in &family.samples {
                let encoder = if sample.labels.is_empty() {
                    metric.encode_family(&NO_LABELS)?
                } else {
                    metric.encode_family(&sample.labels)?
                };
                match sample.value {
                    Value::Integer(n) => ConstGauge::new(n).encode(encoder)?,
                    Value::Float(x) => ConstGauge::new(x).encode(encoder)?,
                }
            }
        }
        Ok(())
    }
}

const NO_LABELS: [(&str, &str); 0] = [];

/// The `container` label of a location: the container's name (or short id); for namespaces
/// no runtime made (an `unshare`), their inode (`ns:4026532451`), never a pid; empty in the
/// scan's own namespaces (the host).
fn container_label(location: &Location) -> String {
    match (&location.container, location.foreign) {
        (Some(c), _) => c.label().to_string(),
        (None, true) => location
            .namespaces
            .ipc
            .or(location.namespaces.mnt)
            .map_or(String::new(), |ns| format!("ns:{ns}")),
        (None, false) => String::new(),
    }
}

/// The `container` label of an object.
fn container_of(object: &Object) -> String {
    container_label(&object.location)
}

/// Each container's `/dev/shm`, System V total and memory cgroup, from the report's
/// per-container section.
fn container_families(report: &MemReport) -> Vec<Family> {
    let mut dev_shm_size = Vec::new();
    let mut dev_shm_used = Vec::new();
    let mut sysv = Vec::new();
    let mut charged = Vec::new();
    let mut limit = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for c in &report.containers {
        let mut label = c.container.label().to_string();
        // Two containers of one name (the same container name in two pods): the id tells
        // them apart.
        if !seen.insert(label.clone()) {
            label = format!("{label} ({})", c.container.short_id());
        }
        let labels = vec![("container", label)];
        let sample = |value: u64| Sample {
            labels: labels.clone(),
            value: Value::Integer(value),
        };
        if let Some(d) = &c.dev_shm {
            if let Some(size) = d.size {
                dev_shm_size.push(sample(size));
            }
            dev_shm_used.push(sample(d.used));
        }
        sysv.push(sample(c.sysv));
        if let Some(s) = c.cgroup_shmem {
            charged.push(sample(s));
        }
        if let Some(l) = c.cgroup_limit {
            limit.push(sample(l));
        }
    }
    vec![
        Family {
            name: "shmkit_container_dev_shm_size_bytes",
            help: "Size of the container's own /dev/shm (--shm-size).",
            samples: dev_shm_size,
        },
        Family {
            name: "shmkit_container_dev_shm_used_bytes",
            help: "Bytes used in the container's /dev/shm; when it is full the next writes get SIGBUS or ENOSPC.",
            samples: dev_shm_used,
        },
        Family {
            name: "shmkit_container_sysv_bytes",
            help: "Resident and swapped bytes of the System V segments in the container's IPC namespace.",
            samples: sysv,
        },
        Family {
            name: "shmkit_container_shmem_charged_bytes",
            help: "Shared memory charged to the container's memory cgroup (memory.stat shmem).",
            samples: charged,
        },
        Family {
            name: "shmkit_container_memory_limit_bytes",
            help: "The container's memory cgroup limit (absent when unlimited).",
            samples: limit,
        },
    ]
}

/// The `owner` label: the user name, or the uid when the passwd database has none.
fn owner_of(object: &Object) -> String {
    object
        .user
        .clone()
        .unwrap_or_else(|| object.uid.to_string())
}

/// The `address` label: how commands address the object; for an object reached only through
/// a holder (a memfd, shared anonymous memory, a deleted file), whose address names the
/// holder's pid, its name with its inode instead: a label must not change when the holders do,
/// and the inode tells apart two memfds of the same name.
fn address_of(object: &Object) -> String {
    match &object.address {
        Address::Held(_) => match (object.kind, object.inode) {
            // Its name already carries the inode.
            (Kind::SharedAnon, _) | (_, None) => object.name.clone(),
            (_, Some(ino)) => format!("{} ino={ino}", object.name),
        },
        address => address.to_string(),
    }
}

/// Per-object families, the largest `max` objects by resident bytes on their own and the rest
/// folded per kind and container; returns them with the number of objects folded.
fn object_families(scan: &Scan, max: usize) -> (Vec<Family>, usize) {
    let mut order: Vec<&Object> = scan.objects.iter().collect();
    order.sort_by(|a, b| {
        b.resident
            .unwrap_or(0)
            .cmp(&a.resident.unwrap_or(0))
            .then(b.size.cmp(&a.size))
            .then(a.kind.cmp(&b.kind))
            .then(a.name.cmp(&b.name))
            .then(a.inode.cmp(&b.inode))
    });
    let (kept, rest) = order.split_at(max.min(order.len()));

    let mut size = Vec::new();
    let mut resident = Vec::new();
    let mut swapped = Vec::new();
    let mut holders = Vec::new();
    let mut seen: BTreeMap<(Kind, String, String, String), u32> = BTreeMap::new();
    for o in kept {
        let container = container_of(o);
        let owner = owner_of(o);
        let mut address = address_of(o);
        // Two series with the same labels would make the scrape fail; a repeat (a name
        // reused by another object) gets a counter.
        let n = seen
            .entry((o.kind, container.clone(), owner.clone(), address.clone()))
            .or_insert(0);
        *n += 1;
        if *n > 1 {
            address = format!("{address} #{n}");
        }
        let labels = vec![
            ("kind", o.kind.as_str().to_string()),
            ("address", address),
            ("container", container),
            ("owner", owner),
        ];
        size.push(Sample {
            labels: labels.clone(),
            value: Value::Integer(o.size),
        });
        if let Some(r) = o.resident {
            resident.push(Sample {
                labels: labels.clone(),
                value: Value::Integer(r),
            });
        }
        if let Some(s) = o.swapped {
            swapped.push(Sample {
                labels: labels.clone(),
                value: Value::Integer(s),
            });
        }
        holders.push(Sample {
            labels,
            value: Value::Integer(o.holders.len() as u64),
        });
    }

    #[derive(Default)]
    struct Folded {
        size: u64,
        resident: u64,
        swapped: u64,
        holders: u64,
    }
    let mut folded: BTreeMap<(Kind, String), Folded> = BTreeMap::new();
    for o in rest {
        let f = folded.entry((o.kind, container_of(o))).or_default();
        f.size += o.size;
        f.resident += o.resident.unwrap_or(0);
        f.swapped += o.swapped.unwrap_or(0);
        f.holders += o.holders.len() as u64;
    }
    for ((kind, container), f) in folded {
        let labels = vec![
            ("kind", kind.as_str().to_string()),
            ("address", OTHER.to_string()),
            ("container", container),
            ("owner", String::new()),
        ];
        let push = |to: &mut Vec<Sample>, value: u64| {
            to.push(Sample {
                labels: labels.clone(),
                value: Value::Integer(value),
            })
        };
        push(&mut size, f.size);
        push(&mut resident, f.resident);
        push(&mut swapped, f.swapped);
        push(&mut holders, f.holders);
    }

    let families = vec![
        Family {
            name: "shmkit_object_size_bytes",
            help: "Size of a shared-memory object (address=\"other\": the objects beyond --max-objects, summed).",
            samples: size,
        },
        Family {
            name: "shmkit_object_resident_bytes",
            help: "Bytes of the object in memory.",
            samples: resident,
        },
        Family {
            name: "shmkit_object_swapped_bytes",
            help: "Bytes of the object in swap (known for System V segments).",
            samples: swapped,
        },
        Family {
            name: "shmkit_object_holders",
            help: "Processes that map the object or hold it open.",
            samples: holders,
        },
    ];
    (families, rest.len())
}

/// Object counts, leaks and idle objects per kind and container. The host always has a series
/// per shmem kind (0 when nothing leaked), so an alert's expression never has nothing to look
/// at.
fn leak_families(scan: &Scan) -> Vec<Family> {
    #[derive(Default)]
    struct Count {
        objects: u64,
        leaked: u64,
        leaked_bytes: u64,
        uncertain: u64,
        uncertain_bytes: u64,
        idle: u64,
        idle_bytes: u64,
    }
    let mut counts: BTreeMap<(String, Kind), Count> = BTreeMap::new();
    for kind in SHMEM_KINDS {
        counts.insert((String::new(), kind), Count::default());
    }
    for o in &scan.objects {
        let c = counts.entry((container_of(o), o.kind)).or_default();
        c.objects += 1;
        let bytes = o.resident.unwrap_or(0);
        if o.status.usage.is_leaked() {
            if o.status.uncertain.is_some() {
                c.uncertain += 1;
                c.uncertain_bytes += bytes;
            } else {
                c.leaked += 1;
                c.leaked_bytes += bytes;
            }
        } else if o.status.usage.is_idle() {
            c.idle += 1;
            c.idle_bytes += bytes;
        }
    }
    let family = |name, help, value: &dyn Fn(&Count) -> u64| Family {
        name,
        help,
        samples: counts
            .iter()
            .map(|((container, kind), c)| Sample {
                labels: vec![
                    ("kind", kind.as_str().to_string()),
                    ("container", container.clone()),
                ],
                value: Value::Integer(value(c)),
            })
            .collect(),
    };
    vec![
        family(
            "shmkit_objects",
            "Shared-memory objects found, per kind and container.",
            &|c| c.objects,
        ),
        family(
            "shmkit_leaked_objects",
            "Leaked objects: nobody holds them and nothing will free them (rm --orphans collects them).",
            &|c| c.leaked,
        ),
        family(
            "shmkit_leaked_bytes",
            "Resident bytes of leaked objects.",
            &|c| c.leaked_bytes,
        ),
        family(
            "shmkit_idle_objects",
            "Idle objects: named objects nobody holds, kept by design until removed (rm --idle).",
            &|c| c.idle,
        ),
        family(
            "shmkit_idle_bytes",
            "Resident bytes of idle objects.",
            &|c| c.idle_bytes,
        ),
        family(
            "shmkit_leak_uncertain_objects",
            "Objects that look leaked, but processes the scan could not read may hold them.",
            &|c| c.uncertain,
        ),
        family(
            "shmkit_leak_uncertain_bytes",
            "Resident bytes of objects that look leaked but may be held by unreadable processes.",
            &|c| c.uncertain_bytes,
        ),
    ]
}

/// Size and use of every tmpfs mount (`/dev/shm` included): a full one makes the next
/// write fail with SIGBUS or ENOSPC.
fn mount_families(scan: &Scan) -> Vec<Family> {
    let mut size = Vec::new();
    let mut used = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for m in scan.mounts.iter().filter(|m| m.fs_type == "tmpfs") {
        let container = container_label(&m.location);
        // The same mount point can appear twice in one place (a mount over another): the top
        // one counts.
        if !seen.insert((m.mount_point.clone(), container.clone())) {
            continue;
        }
        let labels = vec![("mount", m.mount_point.clone()), ("container", container)];
        if let Some(limit) = m.size_limit {
            size.push(Sample {
                labels: labels.clone(),
                value: Value::Integer(limit),
            });
        }
        used.push(Sample {
            labels,
            value: Value::Integer(m.used),
        });
    }
    vec![
        Family {
            name: "shmkit_tmpfs_size_bytes",
            help: "Size limit of a tmpfs mount (its size= option).",
            samples: size,
        },
        Family {
            name: "shmkit_tmpfs_used_bytes",
            help: "Bytes allocated in a tmpfs mount, deleted files still held included.",
            samples: used,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::container::CgroupShmem;
    use crate::scan::{
        Blindness, Container, ContainerInfo, Coverage, HoldVia, Holder, LeakReason, Namespaces,
        Status, TmpfsMount, Usage,
    };

    const MIB: u64 = 1 << 20;

    fn object(kind: Kind, address: Option<&str>, name: &str, resident: u64) -> Object {
        let address = address
            .unwrap_or("memfd:4242/5")
            .parse()
            .expect("a valid address");
        let mut o = Object::new(kind, address, name);
        o.dev = Some(crate::DeviceId::new(0, 1));
        o.inode = Some(77);
        o.size = resident * 2;
        o.resident = Some(resident);
        o.uid = 1000;
        o.gid = 1000;
        o.mode = 0o600;
        o
    }

    fn scan(objects: Vec<Object>) -> Scan {
        let text = "MemTotal: 1024000 kB\nMemFree: 512000 kB\nMemAvailable: 600000 kB\n\
                    Buffers: 1000 kB\nCached: 300000 kB\nShmem: 102400 kB\nSReclaimable: 2000 kB\n";
        Scan {
            objects,
            mounts: vec![TmpfsMount {
                mount_point: "/dev/shm".into(),
                fs_type: "tmpfs".into(),
                dev: crate::DeviceId::new(0, 23),
                size_limit: Some(64 * MIB),
                used: 3 * MIB,
                files: 1,
                is_dev_shm: true,
                location: Location::default(),
            }],
            meminfo: shmkit_procfs::meminfo::parse(text).unwrap(),
            swap_total: 0,
            coverage: Coverage {
                processes: 12,
                processes_unreadable: 2,
                ..Coverage::default()
            },
            containers: Vec::new(),
        }
    }

    fn metrics(scan: &Scan, max_objects: usize) -> Metrics {
        let facts = ScrapeFacts {
            duration: Duration::from_millis(250),
            timestamp: 1_700_000_000.0,
            holders_age: Duration::from_millis(7500),
        };
        Metrics::new(
            scan,
            &MemReport::new(scan),
            &facts,
            &MetricsOptions { max_objects },
        )
    }

    fn family<'a>(m: &'a Metrics, name: &str) -> &'a Family {
        m.families()
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no family {name}"))
    }

    fn value(m: &Metrics, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        family(m, name)
            .samples
            .iter()
            .find(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
            })
            .map(|s| s.value.as_f64())
    }

    #[test]
    fn buff_cache_parts_add_up_to_free_buff_cache() {
        let s = scan(Vec::new());
        let m = metrics(&s, 10);
        let sum: f64 = family(&m, "shmkit_buff_cache_bytes")
            .samples
            .iter()
            .map(|s| s.value.as_f64())
            .sum();
        assert_eq!(sum, MemReport::new(&s).free.buff_cache as f64);
        assert_eq!(
            value(&m, "shmkit_shmem_bytes", &[]),
            Some((102_400 * 1024) as f64)
        );
    }

    #[test]
    fn objects_beyond_the_bound_fold_into_other_per_kind() {
        let objects = vec![
            object(Kind::Sysv, Some("sysv:id=1"), "0x1", 10 * MIB),
            object(Kind::Sysv, Some("sysv:id=2"), "0x2", MIB),
            object(Kind::Sysv, Some("sysv:id=3"), "0x3", 2 * MIB),
            object(Kind::Posix, Some("posix:/a"), "/a", 5 * MIB),
            object(Kind::Posix, Some("posix:/b"), "/b", 3 * MIB),
        ];
        let m = metrics(&scan(objects), 2);
        let kept: Vec<&str> = family(&m, "shmkit_object_resident_bytes")
            .samples
            .iter()
            .map(|s| s.labels[1].1.as_str())
            .collect();
        assert_eq!(kept, ["sysv:id=1", "posix:/a", "other", "other"]);
        assert_eq!(m.folded(), 3);
        let r = |kind| {
            value(
                &m,
                "shmkit_object_resident_bytes",
                &[("kind", kind), ("address", "other")],
            )
        };
        assert_eq!(r("sysv"), Some((3 * MIB) as f64));
        assert_eq!(r("posix"), Some((3 * MIB) as f64));
        assert_eq!(
            value(
                &m,
                "shmkit_object_size_bytes",
                &[("kind", "sysv"), ("address", "other")]
            ),
            Some((6 * MIB) as f64)
        );
    }

    #[test]
    fn memfds_of_the_same_name_get_distinct_series() {
        let mut a = object(Kind::Memfd, None, "memfd:buf", MIB);
        a.inode = Some(10);
        let mut b = object(Kind::Memfd, None, "memfd:buf", MIB);
        b.inode = Some(11);
        let c = object(Kind::Memfd, None, "memfd:buf", MIB); // same inode as nothing else
        let d = c.clone();
        let m = metrics(&scan(vec![a, b, c, d]), 10);
        let mut addresses: Vec<&str> = family(&m, "shmkit_object_size_bytes")
            .samples
            .iter()
            .map(|s| s.labels[1].1.as_str())
            .collect();
        addresses.sort_unstable();
        assert_eq!(
            addresses,
            [
                "memfd:buf ino=10",
                "memfd:buf ino=11",
                "memfd:buf ino=77",
                "memfd:buf ino=77 #2"
            ]
        );
    }

    #[test]
    fn leaks_uncertain_leaks_and_idle_objects_are_told_apart_and_the_host_has_a_zero_for_every_kind(
    ) {
        let leaked = Usage::Leaked {
            reason: LeakReason::PrivateSegmentCreatorExited { creator: 42 },
        };
        let mut leak = object(Kind::Sysv, Some("sysv:id=9"), "0x0", 4 * MIB);
        leak.status = Status::judged(leaked, None);
        let mut maybe = object(Kind::Sysv, Some("sysv:id=10"), "0x0", MIB);
        maybe.status = Status::judged(leaked, Some(Blindness::ChildPidNamespace));
        let mut idle = object(Kind::Posix, Some("posix:/m"), "/m", 2 * MIB);
        idle.status = Status::judged(Usage::Idle { since: Some(1) }, None);
        let mut held = object(Kind::Sysv, Some("sysv:id=8"), "0x1", MIB);
        held.holders.push(Holder {
            pid: 5,
            comm: "app".into(),
            uid: 0,
            via: HoldVia::Map,
            mapped: MIB,
        });
        let m = metrics(&scan(vec![leak, maybe, idle, held]), 10);
        let sysv = [("kind", "sysv"), ("container", "")];
        assert_eq!(value(&m, "shmkit_leaked_objects", &sysv), Some(1.0));
        assert_eq!(
            value(&m, "shmkit_leaked_bytes", &sysv),
            Some((4 * MIB) as f64)
        );
        assert_eq!(value(&m, "shmkit_leak_uncertain_objects", &sysv), Some(1.0));
        assert_eq!(value(&m, "shmkit_objects", &sysv), Some(3.0));
        assert_eq!(value(&m, "shmkit_idle_objects", &sysv), Some(0.0));
        let posix = [("kind", "posix"), ("container", "")];
        assert_eq!(value(&m, "shmkit_leaked_objects", &posix), Some(0.0));
        assert_eq!(value(&m, "shmkit_idle_objects", &posix), Some(1.0));
        assert_eq!(
            value(&m, "shmkit_idle_bytes", &posix),
            Some((2 * MIB) as f64),
            "an idle object is not a leak"
        );
        assert_eq!(
            value(&m, "shmkit_leaked_objects", &[("kind", "memfd")]),
            Some(0.0)
        );
        assert_eq!(
            value(
                &m,
                "shmkit_object_holders",
                &[("address", "sysv:id=8"), ("owner", "1000")]
            ),
            Some(1.0)
        );
    }

    #[test]
    fn both_formats_carry_help_type_and_labels() {
        let m = metrics(
            &scan(vec![object(
                Kind::Posix,
                Some("posix:/quote\"d"),
                "/quote\"d",
                MIB,
            )]),
            10,
        );
        let text = m.encode(Format::Prometheus);
        assert!(text.contains("# HELP shmkit_shmem_bytes "), "{text}");
        assert!(text.contains("# TYPE shmkit_shmem_bytes gauge\n"), "{text}");
        assert!(
            text.contains(
                "shmkit_object_resident_bytes{kind=\"posix\",address=\"posix:/quote\\\"d\",container=\"\",owner=\"1000\"} 1048576\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("shmkit_scrape_duration_seconds 0.25\n"),
            "{text}"
        );
        assert!(
            text.contains("shmkit_scrape_holders_age_seconds 7.5\n"),
            "{text}"
        );
        assert!(!text.contains("# EOF"), "{text}");
        let om = m.encode(Format::OpenMetrics);
        assert!(om.ends_with("# EOF\n"), "{om}");
        assert!(om.contains("# TYPE shmkit_build_info gauge\n"), "{om}");
    }

    /// A container "db" with a 16 MiB /dev/shm holding 12 MiB, a 1 MiB segment in its IPC
    /// namespace and a cgroup limit of 64 MiB; and an unshare'd namespace with no runtime.
    #[test]
    fn containers_get_their_families_and_objects_their_container_label() {
        let db = Container {
            runtime: "docker".into(),
            id: format!("{:0>64}", "abc"),
            name: Some("db".into()),
            pod: None,
        };
        let in_db = Location {
            namespaces: Namespaces {
                ipc: Some(4026532001),
                mnt: Some(4026532002),
            },
            container: Some(db.clone()),
            foreign: true,
            pid: Some(300),
        };
        let mut segment = object(Kind::Sysv, Some("sysv:id=0"), "0x0", MIB);
        segment.location = in_db.clone();
        let mut elsewhere = object(Kind::Sysv, Some("sysv:id=0"), "0x0", 2 * MIB);
        elsewhere.location = Location {
            namespaces: Namespaces {
                ipc: Some(4026532099),
                mnt: None,
            },
            container: None,
            foreign: true,
            pid: Some(400),
        };
        let host = object(Kind::Sysv, Some("sysv:id=0"), "0x0", 3 * MIB);
        let mut s = scan(vec![segment, elsewhere, host]);
        s.mounts.push(TmpfsMount {
            mount_point: "/dev/shm".into(),
            fs_type: "tmpfs".into(),
            dev: crate::DeviceId::new(0, 77),
            size_limit: Some(16 * MIB),
            used: 12 * MIB,
            files: 1,
            is_dev_shm: true,
            location: in_db.clone(),
        });
        s.containers.push(ContainerInfo {
            container: db,
            pids: vec![300],
            namespaces: in_db.namespaces,
            ipc_owner: None,
            ipc_shared_with: Vec::new(),
            cgroup: Some(CgroupShmem {
                dir: "/sys/fs/cgroup/memory/docker/abc".into(),
                shmem: Some(13 * MIB),
                limit: Some(64 * MIB),
                usage: None,
            }),
            dev_shm: Some(crate::DeviceId::new(0, 77)),
        });
        let m = metrics(&s, 10);
        let db = [("container", "db")];
        let mib = |n: u64| Some((n * MIB) as f64);
        assert_eq!(
            value(&m, "shmkit_container_dev_shm_size_bytes", &db),
            mib(16)
        );
        assert_eq!(
            value(&m, "shmkit_container_dev_shm_used_bytes", &db),
            mib(12)
        );
        assert_eq!(
            value(&m, "shmkit_container_shmem_charged_bytes", &db),
            mib(13)
        );
        assert_eq!(
            value(&m, "shmkit_container_memory_limit_bytes", &db),
            mib(64)
        );
        assert!(value(&m, "shmkit_container_sysv_bytes", &db).is_some());
        // Three segments with one address in three IPC namespaces: three series.
        let r = |container| {
            value(
                &m,
                "shmkit_object_resident_bytes",
                &[("address", "sysv:id=0"), ("container", container)],
            )
        };
        assert_eq!(r("db"), mib(1));
        assert_eq!(r("ns:4026532099"), mib(2), "a namespace no runtime made");
        assert_eq!(r(""), mib(3), "the host");
        assert_eq!(
            value(
                &m,
                "shmkit_tmpfs_used_bytes",
                &[("mount", "/dev/shm"), ("container", "db")]
            ),
            mib(12)
        );
        assert_eq!(
            value(
                &m,
                "shmkit_tmpfs_used_bytes",
                &[("mount", "/dev/shm"), ("container", "")]
            ),
            mib(3)
        );
    }
}
