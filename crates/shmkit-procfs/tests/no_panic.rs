//! No parser panics on any input: random strings, random bytes (lossy UTF-8), and random
//! mutations of real lines (which reach deeper into each parser than pure noise does).

use proptest::prelude::*;
use shmkit_procfs::*;

fn all_parsers(s: &str) {
    let _ = meminfo::parse(s);
    let _ = sysvipc::parse(s);
    let _ = mountinfo::parse(s);
    let _ = maps::parse(s);
    let mut v = Vec::new();
    let _ = maps::parse_into(s, &mut v);
    let _ = pid_stat::parse(s);
    let _ = pid_status::parse(s);
    let _ = swaps::parse(s);
    let _ = sysctl::parse(s);
    let _ = sysctl::parse_i64(s);
    let _ = sysctl::parse_bool(s);
    let _ = passwd::parse(s);
    let _ = container::from_path(s);
    let _ = container::memory_stat_shmem(s);
    let _ = container::memory_limit(s);
    let _ = cgroup::parse(s);
    let _ = ns::parse(s);
    if let Ok(l) = fd::parse("3", s) {
        let _ = (l.target_path(), l.deleted(), l.anon_inode(), l.memfd_name());
    }
    let _ = fd::parse(s, s);
    let _ = cmdline::parse(s.as_bytes());
    if let Ok(entries) = maps::parse(s) {
        for e in entries {
            let _ = (
                e.len(),
                e.sysv_key(),
                e.sysv_shmid(),
                e.is_shared_anon(),
                e.memfd_name(),
            );
        }
    }
    if let Ok(ms) = mountinfo::parse(s) {
        for m in ms {
            let _ = m.super_option("size");
        }
    }
    if let Ok(segs) = sysvipc::parse(s) {
        for g in segs {
            let _ = (g.mode(), g.marked_for_destruction(), g.locked());
        }
    }
}

const SEEDS: &[&str] = &[
    "MemTotal:       24684100 kB\nMemFree:        20000000 kB\nHugePages_Total:       0\n",
    "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n      5678          3  1666                    27  4242  4242      0 100000 100000 100000 100000 1700000000          0 1700000000                  4096                     0\n",
    "97 27 0:45 / /mnt/my\\040dir rw,relatime shared:5 - tmpfs none rw,size=1024k\n",
    "7f8a2c000000-7f8a2c001000 rw-s 00000000 00:01 294918                     /SYSV0000162e (deleted)\n",
    "123 (a) b\n(c)) S 1 4727 3675 34816 4742 4194304 99 0 0 0 0 0 0 0 20 0 1 0 123456 3133440 437 1\n",
    "Name:\tcat\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nRssShmem:\t       8 kB\n",
    "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/dm-1 partition 8388604 0 -2\n",
    "root:x:0:0:root:/root:/bin/bash\n",
    "4:memory:/docker/abc\n0::/\n",
    "ipc:[4026531839]",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_parser_panics_on_random_strings(s in any::<String>()) {
        all_parsers(&s);
    }

    #[test]
    fn no_parser_panics_on_random_bytes(b in proptest::collection::vec(any::<u8>(), 0..512)) {
        all_parsers(&String::from_utf8_lossy(&b));
        let _ = cmdline::parse(&b);
    }

    #[test]
    fn no_parser_panics_on_mutated_real_lines(
        seed in 0..SEEDS.len(),
        cut in any::<prop::sample::Index>(),
        insert in "[ ()\\-:\n\t0-9a-fA-F\\\\/\u{80}-\u{10ffff}]{0,6}",
        pos in any::<prop::sample::Index>(),
    ) {
        let s = SEEDS.get(seed).copied().unwrap_or("");
        let chars: Vec<char> = s.chars().collect();
        let c = cut.index(chars.len() + 1);
        let p = pos.index(c + 1);
        // Truncate at a random char, then splice random junk in at a random place.
        let mut m: String = chars.iter().take(c).collect();
        let byte_pos = m.char_indices().nth(p).map_or(m.len(), |(i, _)| i);
        m.insert_str(byte_pos, &insert);
        all_parsers(&m);
    }
}
