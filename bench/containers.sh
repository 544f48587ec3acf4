#!/usr/bin/env bash
# bench/containers.sh — `shmkit mem` on a host full of private namespaces, side by side with
# the floor.
#
# Usage (as root, from anywhere):   bench/containers.sh
#
# It runs bench/mem.sh's load (1,000 processes holding System V, POSIX and shared anonymous
# memory) and, beside it, NS (200) private IPC + mount namespaces made with `unshare --ipc
# --mount`, each with a tmpfs of its own on /dev/shm holding a 2 MiB file and a 2 MiB System V
# segment attached by one process in it, the way containers hold theirs. Then, in the same run:
#   1. `shmkit mem --json` before and after the namespaces exist: the unattributed rest of
#      Shmem must grow by less than 2 MiB (the namespaces' 800 MiB are all attributed);
#   2. hyperfine (with warmup) times `shmkit mem` and the floor, `cat` of every process's
#      maps, and prints the ratio (target: shmkit <= 1.5x the floor).
# Every namespace (and so its segment and tmpfs) ends when its holder's stdin closes; the
# holders and the load are removed on exit (trap EXIT), also on ^C.
#
# Environment: NS (200), RUNS (hyperfine --min-runs, 10), PROCS and OBJECTS (passed to
#              bench/mem.sh), OUT (default target/bench), BASELINE (another shmkit binary,
#              e.g. one built before the namespace scan, timed in the same run),
#              PERF (a file: record `perf record -g` of one `shmkit mem` there instead).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" != --with-load ]; then
    # bench/mem.sh sets up the 1,000 processes, runs us with them up, and cleans up.
    exec env PROFILE_CMD="$REPO/bench/containers.sh --with-load" "$REPO/bench/mem.sh"
fi

NS=${NS:-200}
RUNS=${RUNS:-10}
OUT=${OUT:-$REPO/target/bench}
SHMKIT=$REPO/target/release/shmkit
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/shmkit-bench-ns.XXXXXX)
HOLDERS=()
cleanup() {
    set +e
    exec 8>&- 2>/dev/null             # EOF on the holders' stdin: each namespace ends
    for pid in "${HOLDERS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${HOLDERS[@]}"; do wait "$pid" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

unattributed() {
    "$SHMKIT" mem --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pinned"]["unattributed"])'
}

BEFORE=$(unattributed)
echo "setting up $NS private IPC + mount namespaces, each with a 2 MiB segment and a 2 MiB tmpfs file" >&2
mkfifo "$WORK/hold"
exec 8<>"$WORK/hold"
for ((i = 0; i < NS; i++)); do
    unshare --ipc --mount --propagation private sh -c '
        mount -t tmpfs -o size=4m shmkit-bench /dev/shm
        head -c 2097152 /dev/zero | tr "\0" "n" > /dev/shm/data
        id=$(ipcmk -M 2097152 -p 0600 | awk "{print \$NF}")
        exec "$0" hold --sysv-id "$id" --fill 7' "$SHMKIT" <"$WORK/hold" >>"$WORK/ready" 8>&- &
    HOLDERS+=($!)
done
while [ "$(grep -o ready "$WORK/ready" 2>/dev/null | wc -l)" -lt "$NS" ]; do
    for pid in "${HOLDERS[@]}"; do
        kill -0 "$pid" 2>/dev/null || { echo "a namespace holder (pid $pid) died during setup" >&2; exit 1; }
    done
    sleep 0.2
done
AFTER=$(unattributed)
echo "ready: $(ls -d /proc/[0-9]* | wc -l) processes on the host" >&2

"$SHMKIT" ls --json >"$WORK/ls.json"
python3 - "$WORK/ls.json" "$NS" <<'PY'
import json, sys
objs = json.load(open(sys.argv[1]))["objects"]
n = int(sys.argv[2])
seg = [o for o in objs if o["kind"] == "sysv" and o.get("foreign") and o["size"] == 2 << 20 and o["holders"]]
files = [o for o in objs if o["kind"] == "posix" and o.get("foreign") and o["name"] == "/data"]
print(f"  found {len(seg)} held 2 MiB segments and {len(files)} /dev/shm files in other namespaces", file=sys.stderr)
if len(seg) < n or len(files) < n:
    sys.exit("shmkit did not find every namespace's objects")
PY

if [ -n "${PERF:-}" ]; then
    perf record --call-graph dwarf -o "$PERF" "$SHMKIT" mem >/dev/null
    exit
fi

JSON=$OUT/containers.json
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
EXTRA=()
if [ -n "${BASELINE:-}" ]; then EXTRA=(-n "baseline mem" "$BASELINE mem >/dev/null"); fi
hyperfine --style basic --warmup 3 --min-runs "$RUNS" --ignore-failure \
    --export-json "$JSON" \
    -n "shmkit mem" "$SHMKIT mem >/dev/null" \
    -n "cat maps (floor)" "cat /proc/[0-9]*/maps >/dev/null 2>&1" \
    "${EXTRA[@]}"

python3 - "$JSON" "$BEFORE" "$AFTER" "$NS" "$LOAD_START" "$(nproc)" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
before, after, ns = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
load, cores = float(sys.argv[5]), int(sys.argv[6])
ours, floor = res["shmkit mem"], res["cat maps (floor)"]
mib = lambda b: f"{b / (1 << 20):.1f} MiB"
ok = lambda b: "ok" if b else "MISSED"
grew = after - before
print()
print(f"{ns} private namespaces holding {mib(ns * 4 << 20)} beside bench/mem.sh's load:")
print(f"  unattributed before {mib(before)}, after {mib(after)}: grew {mib(grew)} "
      f"(target < 2 MiB) {ok(grew < 2 << 20)}")
ms = lambda r: f"{r['mean'] * 1000:8.1f} ms ± {r['stddev'] * 1000:5.1f}"
print(f"  shmkit mem               {ms(ours)}")
print(f"  cat /proc/[0-9]*/maps    {ms(floor)}")
ratio = ours["mean"] / floor["mean"]
print(f"  shmkit / floor          {ratio:6.2f}x   (target <= 1.5x)  {ok(ratio <= 1.5)}")
print(f"  fastest runs: shmkit {ours['min'] * 1000:.1f} ms, floor {floor['min'] * 1000:.1f} ms "
      f"({ours['min'] / floor['min']:.2f}x)")
cpu = lambda r: r["user"] + r["system"]
print(f"  CPU time: shmkit {cpu(ours) * 1000:.1f} ms, floor {cpu(floor) * 1000:.1f} ms "
      f"({cpu(ours) / cpu(floor):.2f}x)")
if "baseline mem" in res:
    base = res["baseline mem"]
    print(f"  baseline mem             {ms(base)}   (shmkit / baseline {ours['mean'] / base['mean']:.2f}x, "
          f"CPU {cpu(ours) / cpu(base):.2f}x)")
if load > 0.5:
    print(f"  note: load average {load} on {cores} cores when timing started: other programs "
          "were running, so wall times are noisy; rerun on a quiet machine")
PY
echo "JSON: $JSON" >&2
