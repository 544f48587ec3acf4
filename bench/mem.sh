#!/usr/bin/env bash
# bench/mem.sh — how fast is `shmkit mem` on a busy host, side by side with its peers.
#
# Usage (as root, from anywhere):   bench/mem.sh
#
# It builds shmkit (cargo build --release), then starts 1,000 processes holding shared memory:
# 50 System V segments, 50 POSIX objects and 50 shared anonymous mappings, 1 MiB each. Every
# process attaches one segment and maps one POSIX object (process i takes object i mod 50), and
# the first 50 also own 1 MiB of MAP_SHARED|MAP_ANONYMOUS memory, so each kind has exactly 50
# objects. Then, in the same run, hyperfine (with warmup) times:
#   - shmkit mem                         (shmkit ls until `mem` is built)
#   - cat /proc/[0-9]*/maps > /dev/null  (the floor: read every process's mappings once)
#   - smem -t                            (the peer)
# and the script prints the ratios and shmkit's peak RSS (/usr/bin/time -v).
# Targets on a 2-core machine: shmkit <= 1.5x the floor, >= 10x faster than smem -t, < 50 MiB.
# Every process, segment and /dev/shm file it makes is removed on exit (trap EXIT), also on ^C.
#
# Environment: PROCS (1000), OBJECTS (50), RUNS (hyperfine --min-runs, 10),
#              OUT (where the JSON goes, default target/bench),
#              PROFILE_CMD (instead of timing, run this shell command with the 1,000 holders
#              up, then clean up: PROFILE_CMD='strace -c -f target/release/shmkit mem' bench/mem.sh).
set -euo pipefail

PROCS=${PROCS:-1000}
OBJECTS=${OBJECTS:-50}
RUNS=${RUNS:-10}
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$REPO/target/bench}

if [ "$(id -u)" != 0 ]; then
    echo "bench/mem.sh: must run as root (it reads every process's maps); try: sudo $0" >&2
    exit 2
fi

need() { # command debian-package
    command -v "$1" >/dev/null 2>&1 && return
    echo "installing $2 (for $1)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need hyperfine hyperfine
need smem smem
need python3 python3
need ipcmk util-linux
[ -x /usr/bin/time ] || need /usr/bin/time time

cargo build --release --quiet --manifest-path "$REPO/Cargo.toml"
SHMKIT=$REPO/target/release/shmkit
mkdir -p "$OUT"

WORK=$(mktemp -d /tmp/shmkit-bench.XXXXXX)
PIDS=()
SHMIDS=()
POSIX=()
cleanup() {
    set +e
    exec 9>&- 2>/dev/null            # EOF on the holders' stdin: they unmap and exit
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    for id in "${SHMIDS[@]}"; do ipcrm -m "$id" 2>/dev/null; done
    for name in "${POSIX[@]}"; do rm -f "/dev/shm/$name"; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "setting up: $PROCS processes, $OBJECTS objects of each kind (sysv, posix, shared-anon), 1 MiB each" >&2
for ((i = 0; i < OBJECTS; i++)); do
    id=$(ipcmk -M 1048576 -p 0600 | awk '{print $NF}')
    SHMIDS+=("$id")
    name="shmkit-bench-$$-$i"
    truncate -s 1M "/dev/shm/$name"
    chmod 0600 "/dev/shm/$name"
    POSIX+=("$name")
done

# One fifo is every holder's stdin; fd 9 keeps it open for writing until cleanup closes it.
mkfifo "$WORK/hold"
exec 9<>"$WORK/hold"
for ((i = 0; i < PROCS; i++)); do
    k=$((i % OBJECTS))
    args=(hold --sysv-id "${SHMIDS[$k]}" --posix "/${POSIX[$k]}" --fill 1)
    if ((i < OBJECTS)); then args+=(--anon 1M); fi
    "$SHMKIT" "${args[@]}" <"$WORK/hold" >>"$WORK/ready" 9>&- &
    PIDS+=($!)
done
while [ "$(grep -o ready "$WORK/ready" 2>/dev/null | wc -l)" -lt "$PROCS" ]; do
    for pid in "${PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || { echo "a holder (pid $pid) died during setup" >&2; exit 1; }
    done
    sleep 0.2
done
echo "ready: $(ls -d /proc/[0-9]* | wc -l) processes on the host" >&2

# `shmkit mem` once it is built; until then `shmkit ls` runs the same scan.
if "$SHMKIT" mem >/dev/null 2>&1; then SUB=mem; else SUB=ls; fi
echo "checking what shmkit $SUB sees" >&2
"$SHMKIT" ls --json >"$WORK/ls.json"
python3 - "$WORK/ls.json" "$OBJECTS" "$$" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1])); n = int(sys.argv[2]); tag = "shmkit-bench-" + sys.argv[3] + "-"
objs = doc["objects"]
posix = [o for o in objs if o["kind"] == "posix" and o["name"].startswith("/" + tag)]
sysv = [o for o in objs if o["kind"] == "sysv" and o["size"] == 1 << 20 and len(o["holders"]) > 0]
anon = [o for o in objs if o["kind"] == "shared-anon" and o["size"] == 1 << 20]
print(f"  found {len(sysv)} sysv, {len(posix)} posix, {len(anon)} shared-anon objects of 1 MiB "
      f"(holders per posix object: {sorted({len(o['holders']) for o in posix})})", file=sys.stderr)
if len(posix) != n or len(sysv) < n or len(anon) < n:
    sys.exit("shmkit did not find every object")
PY

if [ -n "${PROFILE_CMD:-}" ]; then
    (cd "$REPO" && sh -c "$PROFILE_CMD")
    exit
fi

JSON=$OUT/mem.json
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
hyperfine --style basic --warmup 3 --min-runs "$RUNS" --ignore-failure \
    --export-json "$JSON" \
    -n "shmkit $SUB" "$SHMKIT $SUB >/dev/null" \
    -n "cat maps (floor)" "cat /proc/[0-9]*/maps >/dev/null 2>&1" \
    -n "smem -t" "smem -t >/dev/null"

/usr/bin/time -v "$SHMKIT" "$SUB" >/dev/null 2>"$WORK/time.txt"
RSS_KB=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$WORK/time.txt")

python3 - "$JSON" "$RSS_KB" "$SUB" "$PROCS" "$LOAD_START" "$(nproc)" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
rss_mib = int(sys.argv[2]) / 1024
sub = sys.argv[3]
load, cores = float(sys.argv[5]), int(sys.argv[6])
ours, floor, smem = res[f"shmkit {sub}"], res["cat maps (floor)"], res["smem -t"]
ms = lambda r: f"{r['mean'] * 1000:8.1f} ms ± {r['stddev'] * 1000:5.1f}"
print()
print(f"{sys.argv[4]} processes; mean wall time (hyperfine, same run):")
for name, r in ((f"shmkit {sub}", ours), ("cat /proc/[0-9]*/maps", floor), ("smem -t", smem)):
    print(f"  {name:24} {ms(r)}")
vs_floor = ours["mean"] / floor["mean"]
vs_smem = smem["mean"] / ours["mean"]
ok = lambda b: "ok" if b else "MISSED"
print(f"  shmkit / floor          {vs_floor:6.2f}x   (target <= 1.5x)  {ok(vs_floor <= 1.5)}")
print(f"  smem -t / shmkit        {vs_smem:6.1f}x   (target >= 10x)   {ok(vs_smem >= 10)}")
print(f"  shmkit peak RSS         {rss_mib:6.1f} MiB (target < 50 MiB) {ok(rss_mib < 50)}")
# The fastest run of each is its cost when nothing else got in the way.
print(f"  fastest runs: shmkit {ours['min'] * 1000:.1f} ms, floor {floor['min'] * 1000:.1f} ms "
      f"({ours['min'] / floor['min']:.2f}x), smem -t {smem['min'] * 1000:.1f} ms "
      f"({smem['min'] / ours['min']:.1f}x shmkit's)")
# CPU time (user + system, all threads) is what contention from other programs distorts
# least: shmkit spreads its work over the cores, cat and smem use one.
cpu = lambda r: r["user"] + r["system"]
print(f"  CPU time: shmkit {cpu(ours) * 1000:.1f} ms, floor {cpu(floor) * 1000:.1f} ms "
      f"({cpu(ours) / cpu(floor):.2f}x), smem -t {cpu(smem) * 1000:.1f} ms "
      f"({cpu(smem) / cpu(ours):.1f}x shmkit's)")
if load > 0.5:
    print(f"  note: load average {load} on {cores} cores when timing started: other programs "
          "were running, so wall times are noisy; rerun on a quiet machine")
PY
echo "JSON: $JSON" >&2
