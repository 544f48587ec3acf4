#!/usr/bin/env bash
# Snapshot benchmark, one command: bench/persist.sh [DIR] [RUNS]
#
# 1. save: 1 GiB of System V segments (4 x 256 MiB, no zero pages) with
#    `shmkit snapshot save` against `dd conv=fsync` of the same bytes from a /dev/shm file,
#    both to DIR (default: target/bench-persist on the repository's disk). Ratio = shmkit's
#    throughput / dd's; the target is >= 0.8.
# 2. restore: `shmkit snapshot restore` of that file while it is in the page cache (verify pass
#    + create and fill the segments); the target is >= 2 GB/s.
# Everything runs in a private IPC namespace (unshare --ipc), so no host segment is touched.
# Needs root (unshare), cc, dd. Prints one line per run and a summary with the best of RUNS.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-target/bench-persist}
RUNS=${2:-3}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
cargo build --release --quiet
SHMKIT=$PWD/target/release/shmkit
cc -O2 -o "$DIR/fill_segments" bench/c/fill_segments.c
SRC=/dev/shm/shmkit-bench-$$
trap 'rm -f "$SRC" "$DIR/dd.out" "$DIR/bench.snap"' EXIT

unshare --ipc bash -s "$DIR" "$RUNS" "$SHMKIT" "$SRC" <<'INNER'
set -euo pipefail
DIR=$1 RUNS=$2 SHMKIT=$3 SRC=$4
COUNT=4 SIZE=$((256 << 20)) BYTES=$((4 * (256 << 20)))
now() { date +%s%N; }
"$DIR/fill_segments" 0x5e000 $COUNT $SIZE "$SRC"
best_dd=0 best_save=0 best_restore=0
mbps() { echo $(( $1 * 1000 / $2 )); }   # bytes, ns -> MB/s
ratio() { local r=$(( $1 * 100 / $2 )); printf "%d.%02d" $((r / 100)) $((r % 100)); }
for run in $(seq "$RUNS"); do
    rm -f "$DIR/dd.out" "$DIR/bench.snap"; sync
    t0=$(now); dd if="$SRC" of="$DIR/dd.out" bs=1M conv=fsync status=none; t1=$(now)
    dd_ns=$((t1 - t0)); rm -f "$DIR/dd.out"; sync
    t0=$(now); "$SHMKIT" snapshot save "$DIR/bench.snap" sysv:all >/dev/null; t1=$(now)
    save_ns=$((t1 - t0))
    # The snapshot is in the page cache now (just written); read it once more to be sure.
    cat "$DIR/bench.snap" >/dev/null
    ipcrm --all=shm
    t0=$(now); "$SHMKIT" snapshot restore "$DIR/bench.snap" >/dev/null; t1=$(now)
    restore_ns=$((t1 - t0))
    dd_r=$(mbps $BYTES $dd_ns) save_r=$(mbps $BYTES $save_ns) restore_r=$(mbps $BYTES $restore_ns)
    printf 'run %d: dd conv=fsync %5d MB/s   shmkit save %5d MB/s (%.2fx dd)   shmkit restore %5d MB/s\n' \
        "$run" "$dd_r" "$save_r" "$(ratio "$save_r" "$dd_r")" "$restore_r"
    [ "$dd_r" -gt "$best_dd" ] && best_dd=$dd_r
    [ "$save_r" -gt "$best_save" ] && best_save=$save_r
    [ "$restore_r" -gt "$best_restore" ] && best_restore=$restore_r
done

echo "best of $RUNS: 1 GiB of segments to $DIR"
echo "  save:    shmkit $best_save MB/s vs dd conv=fsync $best_dd MB/s = $(ratio "$best_save" "$best_dd")x (target >= 0.8x)"
echo "  restore: $best_restore MB/s from the page cache (target >= 2000 MB/s)"
INNER
