#!/usr/bin/env bash
# bench/exporter.sh — what a Prometheus scrape of `shmkit exporter` costs on a busy host, side
# by side with `shmkit ls --json` (the same scan, printed once), and whether the exporter's
# memory stays flat over many scrapes.
#
# Usage (as root, from anywhere):   bench/exporter.sh
#
# It runs inside bench/mem.sh's load (which builds shmkit and starts 1,000 processes holding
# 50 System V segments, 50 POSIX objects and 50 shared anonymous mappings of 1 MiB, and removes
# them afterwards). It starts `shmkit exporter --min-interval 0` (every scrape scans) on a free loopback
# port, then, in the same run, hyperfine (with warmup) times:
#   - curl http://127.0.0.1:PORT/metrics   (one scrape: a scan and the encoding)
#   - shmkit ls --json                     (the peer: the same scan, printed as JSON)
# Then it scrapes SCRAPES more times (4 clients at once) and reads the exporter's resident
# memory (VmRSS, VmHWM) after the first scrape and after the last.
# Targets: a scrape <= 1.2x `shmkit ls --json`; RSS < 30 MiB after 1,000 scrapes.
# The exporter and its files are removed on exit (trap EXIT), also on ^C; bench/mem.sh removes the load.
#
# Environment: PROCS (1000), OBJECTS (50), RUNS (hyperfine --min-runs, 10), SCRAPES (1000),
#              OUT (where the JSON goes, default target/bench).
set -euo pipefail

PROCS=${PROCS:-1000}
OBJECTS=${OBJECTS:-50}
RUNS=${RUNS:-10}
SCRAPES=${SCRAPES:-1000}
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$REPO/target/bench}

if [ "$(id -u)" != 0 ]; then
    echo "bench/exporter.sh: must run as root (it reads every process's maps); try: sudo $0" >&2
    exit 2
fi

need() { # command debian-package
    command -v "$1" >/dev/null 2>&1 && return
    echo "installing $2 (for $1)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need curl curl

if [ "${1:-}" != --with-load ]; then
    # bench/mem.sh sets up the 1,000 processes, runs us with them up, and cleans up.
    exec env PROCS="$PROCS" OBJECTS="$OBJECTS" \
        PROFILE_CMD="$REPO/bench/exporter.sh --with-load" "$REPO/bench/mem.sh"
fi

SHMKIT=$REPO/target/release/shmkit
mkdir -p "$OUT"

WORK=$(mktemp -d /tmp/shmkit-bench-exporter.XXXXXX)
EXPORTER=
cleanup() {
    set +e
    [ -n "$EXPORTER" ] && kill "$EXPORTER" 2>/dev/null && wait "$EXPORTER" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$SHMKIT" exporter --listen 127.0.0.1:0 --min-interval 0 9>&- 2>"$WORK/exporter.err" &
EXPORTER=$!
for _ in $(seq 1 100); do
    grep -q 'serving' "$WORK/exporter.err" 2>/dev/null && break
    sleep 0.1
done
URL=$(sed -n 's#.*serving \(http://.*/metrics\)#\1#p' "$WORK/exporter.err")
[ -n "$URL" ] || { echo "the exporter did not start:"; cat "$WORK/exporter.err"; exit 1; } >&2
echo "exporter at $URL (pid $EXPORTER)" >&2

# The exporter must see the load: every bench segment, each held by PROCS/OBJECTS processes.
curl -sf "$URL" >"$WORK/first.prom"
held=$(grep -c '^shmkit_object_holders{kind="sysv".*} '"$((PROCS / OBJECTS))"'$' "$WORK/first.prom" || true)
echo "  the exporter sees $held sysv segments with $((PROCS / OBJECTS)) holders each" >&2
[ "$held" -ge "$OBJECTS" ] || { echo "the exporter did not find the load" >&2; exit 1; }
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$EXPORTER/status"; }
RSS_FIRST=$(rss VmRSS)

# CPU ticks (user + system, every thread) the exporter spends: hyperfine only sees curl's.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$EXPORTER/stat"; }
JSON=$OUT/exporter.json
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
CPU_BEFORE=$(cpu_ticks)
hyperfine --style basic --warmup 3 --min-runs "$RUNS" \
    --export-json "$JSON" \
    -n "scrape (curl /metrics)" "curl -sf -o /dev/null $URL" \
    -n "shmkit ls --json" "$SHMKIT ls --json >/dev/null"
CPU_AFTER=$(cpu_ticks)

echo "scraping $SCRAPES times (4 clients at once)" >&2
SCRAPE_START=$(date +%s.%N)
seq 1 "$SCRAPES" | xargs -P 4 -I{} curl -sf -o /dev/null "$URL"
SCRAPE_END=$(date +%s.%N)
RSS_LAST=$(rss VmRSS)
HWM=$(rss VmHWM)
curl -sf "$URL" >"$WORK/last.prom"
SCAN_S=$(awk '/^shmkit_scrape_duration_seconds / {print $2}' "$WORK/last.prom")

python3 - "$JSON" "$RSS_FIRST" "$RSS_LAST" "$HWM" "$SCRAPES" "$SCRAPE_START" "$SCRAPE_END" \
    "$SCAN_S" "$PROCS" "$LOAD_START" "$(nproc)" "$((CPU_AFTER - CPU_BEFORE))" "$(getconf CLK_TCK)" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
first, last, hwm = (int(x) / 1024 for x in sys.argv[2:5])
scrapes, t0, t1, scan = int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
procs, load, cores = sys.argv[9], float(sys.argv[10]), int(sys.argv[11])
ticks, hz = int(sys.argv[12]), int(sys.argv[13])
ours, peer = res["scrape (curl /metrics)"], res["shmkit ls --json"]
ms = lambda r: f"{r['mean'] * 1000:8.1f} ms ± {r['stddev'] * 1000:5.1f}"
ok = lambda b: "ok" if b else "MISSED"
print()
print(f"{procs} processes; mean wall time (hyperfine, same run):")
print(f"  {'scrape (curl /metrics)':24} {ms(ours)}")
print(f"  {'shmkit ls --json':24} {ms(peer)}")
ratio = ours["mean"] / peer["mean"]
print(f"  scrape / ls --json      {ratio:6.2f}x   (target <= 1.2x)  {ok(ratio <= 1.2)}")
print(f"  fastest runs: scrape {ours['min'] * 1000:.1f} ms, ls --json {peer['min'] * 1000:.1f} ms "
      f"({ours['min'] / peer['min']:.2f}x)")
print(f"  the exporter's own scan: {scan * 1000:.1f} ms (shmkit_scrape_duration_seconds)")
# hyperfine ran 3 warmups and len(times) timed scrapes; the exporter's CPU over them:
scrape_cpu = ticks / hz / (3 + len(ours["times"]))
ls_cpu = peer["user"] + peer["system"]
print(f"  CPU per scrape (exporter, all threads) {scrape_cpu * 1000:.1f} ms vs ls --json "
      f"{ls_cpu * 1000:.1f} ms ({scrape_cpu / ls_cpu:.2f}x)")
print(f"{scrapes} more scrapes in {t1 - t0:.1f} s ({scrapes / (t1 - t0):.1f}/s, 4 clients):")
print(f"  exporter RSS after the first scrape {first:6.1f} MiB, after the last {last:6.1f} MiB "
      f"(target < 30 MiB) {ok(last < 30)}; peak (VmHWM) {hwm:.1f} MiB")
if load > 0.5:
    print(f"  note: load average {load} on {cores} cores when timing started: other programs "
          "were running, so wall times are noisy; rerun on a quiet machine")
PY
echo "JSON: $JSON" >&2
