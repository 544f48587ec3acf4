//! `shmkit mem`'s header equals `free -b` taken at the same moment, within what other work
//! on the machine moved the counters meanwhile. Reads global counters, so the tests in this
//! binary run one at a time.

use std::process::Command;
use std::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::new(());

/// The Mem: and Swap: rows of `free -b`, by column name.
fn free_b() -> std::collections::HashMap<String, u64> {
    let out = Command::new("free")
        .arg("-b")
        .output()
        .expect("free (procps) is installed");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let mut fields = std::collections::HashMap::new();
    for line in lines {
        let mut cells = line.split_whitespace();
        let row = cells.next().unwrap().trim_end_matches(':').to_lowercase();
        for (name, value) in header.iter().zip(cells) {
            fields.insert(format!("{row}.{name}"), value.parse().unwrap());
        }
    }
    fields
}

fn mem_json() -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(["mem", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `free -b` run back to back on another thread from before `during` starts until after it
/// ends: every reading, in order.
fn free_b_around<T>(
    during: impl FnOnce() -> T,
) -> (T, Vec<std::collections::HashMap<String, u64>>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    let (first_tx, first_rx) = std::sync::mpsc::channel();
    let sampler = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut readings = vec![free_b()];
            let _ = first_tx.send(());
            // The last reading starts after `stop` was raised, so after `during` ended.
            loop {
                let last = stop.load(Ordering::SeqCst);
                readings.push(free_b());
                if last {
                    return readings;
                }
            }
        })
    };
    first_rx.recv().expect("the sampler's first reading");
    let result = during();
    stop.store(true, Ordering::SeqCst);
    (result, sampler.join().expect("sampler"))
}

#[test]
fn mem_header_equals_free_b() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Other work on the machine moves these counters while shmkit reads them (a tmpfs file
    // written and deleted in a loop moves shared, buff/cache, free and available by its size
    // every second). So `free -b` runs again and again on another thread for the whole time
    // `mem` runs: each of our figures must lie within what free saw over that window, widened
    // by the largest jump free saw between two of its consecutive readings of that field (the
    // counter may have peaked between them) and by 8 MiB (the scan itself allocates a
    // little). On a quiet machine the window is a few MiB wide and a wrong figure fails; on a
    // busy one it is as wide as the other work made it, and no wider.
    let (mem, readings) = free_b_around(mem_json);
    assert_eq!(mem["schema"], "shmkit.mem/5");
    let floor = 8 << 20;
    for (ours, theirs) in [
        ("total", "mem.total"),
        ("used", "mem.used"),
        ("free", "mem.free"),
        ("shared", "mem.shared"),
        ("buff_cache", "mem.buff/cache"),
        ("available", "mem.available"),
        ("swap_total", "swap.total"),
        ("swap_used", "swap.used"),
        ("swap_free", "swap.free"),
    ] {
        let value = mem["free"][ours].as_u64().unwrap();
        let seen: Vec<u64> = readings.iter().map(|r| r[theirs]).collect();
        let (min, max) = (*seen.iter().min().unwrap(), *seen.iter().max().unwrap());
        let jump = seen
            .windows(2)
            .map(|w| w[0].abs_diff(w[1]))
            .max()
            .unwrap_or(0);
        let slack = floor + jump;
        let (lo, hi) = (min.saturating_sub(slack), max + slack);
        assert!(
            (lo..=hi).contains(&value),
            "{ours} = {value}, but free -b said {min}..={max} over {} readings while mem ran (largest jump {jump})",
            seen.len()
        );
    }
    assert_eq!(
        mem["free"]["total"].as_u64().unwrap(),
        readings[0]["mem.total"]
    );
}

#[test]
fn mem_parts_add_up() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mem = mem_json();
    let b = &mem["buff_cache"];
    let parts: u64 = [
        "clean_page_cache",
        "mapped_file",
        "dirty_writeback",
        "buffers",
        "reclaimable_slab",
        "shmem",
        "ramfs",
    ]
    .iter()
    .map(|k| b[k].as_u64().unwrap())
    .sum();
    assert_eq!(parts, b["total"].as_u64().unwrap());
    assert_eq!(parts, mem["free"]["buff_cache"].as_u64().unwrap());
    let p = &mem["pinned"];
    let items: u64 = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["resident"].as_u64().unwrap())
        .sum();
    let total = p["total"].as_u64().unwrap();
    let over = p["overcounted"].as_u64().unwrap();
    assert_eq!(
        items,
        total + over,
        "items add up to Shmem (plus any overcount)"
    );
}

#[test]
fn bad_flag_is_a_usage_error_with_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(["mem", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--no-such-flag"), "{err}");
}

#[test]
fn mem_bytes_header_has_free_b_layout() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let free = Command::new("free").arg("-b").output().unwrap();
    let mem = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(["mem", "--bytes"])
        .output()
        .unwrap();
    assert!(mem.status.success());
    let free = String::from_utf8(free.stdout).unwrap();
    let mem = String::from_utf8(mem.stdout).unwrap();
    let free: Vec<&str> = free.lines().take(3).collect();
    let mem: Vec<&str> = mem.lines().take(3).collect();
    assert_eq!(mem[0], free[0], "the same header line");
    for (ours, theirs) in mem.iter().zip(&free).skip(1) {
        // Same label, same right edges of every column; the values may move between reads.
        let edges = |line: &str| -> Vec<usize> {
            line.char_indices()
                .filter(|&(i, c)| c != ' ' && line[i + 1..].starts_with(' ') || i + 1 == line.len())
                .map(|(i, _)| i)
                .collect()
        };
        assert_eq!(
            ours.split_whitespace().next(),
            theirs.split_whitespace().next()
        );
        assert_eq!(edges(ours), edges(theirs), "\n{ours}\n{theirs}");
    }
}
