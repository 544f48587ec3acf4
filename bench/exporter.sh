#!/usr/bin/env bash
# bench/exporter.sh — what a Prometheus scrape of `shmkit exporter` costs on a busy host, side
# by side with prometheus-node-exporter (the exporter every such host runs, default
# collectors) and `shmkit ls --json` (the same scan, printed once), and whether the exporter's
# memory stays flat over many scrapes.
#
# Usage (as root, from anywhere):   bench/exporter.sh
#        BASELINE=/path/to/older/shmkit bench/exporter.sh   (also scrape an older build, same run)
#
# It runs inside bench/mem.sh's load (which builds shmkit and starts 1,000 processes holding
# 50 System V segments, 50 POSIX objects and 50 shared anonymous mappings of 1 MiB, and removes
# them afterwards). It starts, each on a free loopback port, with `--min-interval 0` (every
# scrape samples):
#   - shmkit exporter                            (live: walks only new processes, all of them
#                                                 at least every --full-walk-interval, 60 s)
#   - shmkit exporter --full-walk-interval 0     (every scrape walks every process: the
#                                                 scrape on which the full walk falls due)
#   - $BASELINE exporter                         (if BASELINE is set)
#   - prometheus-node-exporter                   (the peer, its default collectors)
# then, in the same run, hyperfine (with warmup) times a curl of each /metrics and
# `shmkit ls --json`, and the CPU each server spent (user + system, every thread, from
# /proc/PID/stat) is divided by the scrapes it answered. A Prometheus scraping every 15 s pays
# one full walk per 60 s: the live exporter's amortised cost is (full + 3 x live) / 4.
# Then it scrapes the live exporter SCRAPES more times (4 clients at once) and reads its
# resident memory (VmRSS, VmHWM) after the first scrape and after the last.
# Targets: a scrape <= 1.2x `shmkit ls --json`; RSS < 30 MiB after 1,000 scrapes.
# The servers and their files are removed on exit (trap EXIT), also on ^C; bench/mem.sh removes
# the load.
#
# Environment: PROCS (1000), OBJECTS (50), RUNS (hyperfine --min-runs, 10), SCRAPES (1000),
#              BASELINE (another shmkit binary), OUT (where the JSON goes, default target/bench).
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
need prometheus-node-exporter prometheus-node-exporter

if [ "${1:-}" != --with-load ]; then
    # bench/mem.sh sets up the 1,000 processes, runs us with them up, and cleans up.
    exec env PROCS="$PROCS" OBJECTS="$OBJECTS" \
        PROFILE_CMD="$REPO/bench/exporter.sh --with-load" "$REPO/bench/mem.sh"
fi

SHMKIT=$REPO/target/release/shmkit
mkdir -p "$OUT"

WORK=$(mktemp -d /tmp/shmkit-bench-exporter.XXXXXX)
SERVERS=()
cleanup() {
    set +e
    for pid in "${SERVERS[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_exporter NAME BINARY ARGS...: serves on a free port; sets NAME_URL and NAME_PID.
start_exporter() {
    local name=$1 bin=$2
    shift 2
    "$bin" exporter --listen 127.0.0.1:0 --min-interval 0 "$@" 9>&- 2>"$WORK/$name.err" &
    local pid=$!
    SERVERS+=("$pid")
    for _ in $(seq 1 100); do
        grep -q 'serving' "$WORK/$name.err" 2>/dev/null && break
        sleep 0.1
    done
    local url
    url=$(sed -n 's#.*serving \(http://.*/metrics\)#\1#p' "$WORK/$name.err")
    [ -n "$url" ] || { echo "$name did not start:"; cat "$WORK/$name.err"; exit 1; } >&2
    echo "$name at $url (pid $pid)" >&2
    printf -v "${name}_URL" %s "$url"
    printf -v "${name}_PID" %s "$pid"
}
start_exporter LIVE "$SHMKIT"
start_exporter FULL "$SHMKIT" --full-walk-interval 0
[ -n "${BASELINE:-}" ] && start_exporter BASE "$BASELINE"
URL=$LIVE_URL
EXPORTER=$LIVE_PID

NODE_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prometheus-node-exporter --web.listen-address="127.0.0.1:$NODE_PORT" 9>&- 2>"$WORK/node.err" &
NODE_PID=$!
SERVERS+=("$NODE_PID")
NODE_URL=http://127.0.0.1:$NODE_PORT/metrics
for _ in $(seq 1 100); do
    curl -sf -o /dev/null "$NODE_URL" && break
    sleep 0.1
done
curl -sf -o /dev/null "$NODE_URL" || { echo "node_exporter did not start:"; cat "$WORK/node.err"; exit 1; } >&2
echo "prometheus-node-exporter at $NODE_URL (pid $NODE_PID)" >&2

# The exporter must see the load: every bench segment, each held by PROCS/OBJECTS processes.
curl -sf "$URL" >"$WORK/first.prom"
held=$(grep -c '^shmkit_object_holders{kind="sysv".*} '"$((PROCS / OBJECTS))"'$' "$WORK/first.prom" || true)
echo "  the exporter sees $held sysv segments with $((PROCS / OBJECTS)) holders each" >&2
[ "$held" -ge "$OBJECTS" ] || { echo "the exporter did not find the load" >&2; exit 1; }
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$EXPORTER/status"; }
RSS_FIRST=$(rss VmRSS)

# Every server answers one scrape before timing (the live one its first, full, walk).
for url in "$FULL_URL" ${BASE_URL:+"$BASE_URL"} "$NODE_URL"; do
    curl -sf -o /dev/null "$url"
done

# CPU ticks (user + system, every thread) each server spends: hyperfine only sees curl's.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
PIDS="$LIVE_PID $FULL_PID ${BASE_PID:-} $NODE_PID"
JSON=$OUT/exporter.json
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
TICKS_BEFORE=$(for p in $PIDS; do cpu_ticks "$p"; done | paste -sd,)
BASE_ARGS=()
[ -n "${BASE_URL:-}" ] && BASE_ARGS=(-n "scrape, baseline" "curl -sf -o /dev/null $BASE_URL")
hyperfine --style basic --warmup 3 --min-runs "$RUNS" \
    --export-json "$JSON" \
    -n "scrape (curl /metrics)" "curl -sf -o /dev/null $URL" \
    -n "scrape, full walk" "curl -sf -o /dev/null $FULL_URL" \
    "${BASE_ARGS[@]}" \
    -n "node_exporter scrape" "curl -sf -o /dev/null $NODE_URL" \
    -n "shmkit ls --json" "$SHMKIT ls --json >/dev/null"
TICKS_AFTER=$(for p in $PIDS; do cpu_ticks "$p"; done | paste -sd,)

echo "scraping $SCRAPES times (4 clients at once)" >&2
SCRAPE_START=$(date +%s.%N)
seq 1 "$SCRAPES" | xargs -P 4 -I{} curl -sf -o /dev/null "$URL"
SCRAPE_END=$(date +%s.%N)
RSS_LAST=$(rss VmRSS)
HWM=$(rss VmHWM)
curl -sf "$URL" >"$WORK/last.prom"
SCAN_S=$(awk '/^shmkit_scrape_duration_seconds / {print $2}' "$WORK/last.prom")

python3 - "$JSON" "$RSS_FIRST" "$RSS_LAST" "$HWM" "$SCRAPES" "$SCRAPE_START" "$SCRAPE_END" \
    "$SCAN_S" "$PROCS" "$LOAD_START" "$(nproc)" "$TICKS_BEFORE" "$TICKS_AFTER" \
    "$(getconf CLK_TCK)" "${BASE_PID:+yes}" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
first, last, hwm = (int(x) / 1024 for x in sys.argv[2:5])
scrapes, t0, t1, scan = int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
procs, load, cores = sys.argv[9], float(sys.argv[10]), int(sys.argv[11])
before = [int(t) for t in sys.argv[12].split(",")]
after = [int(t) for t in sys.argv[13].split(",")]
hz, has_base = int(sys.argv[14]), sys.argv[15] == "yes"
servers = ["scrape (curl /metrics)", "scrape, full walk"] + (["scrape, baseline"] if has_base else [])
servers.append("node_exporter scrape")
# hyperfine ran 3 warmups and len(times) timed scrapes of each server.
cpu = {name: (a - b) / hz / (3 + len(res[name]["times"]))
       for name, b, a in zip(servers, before, after)}
ours, peer = res["scrape (curl /metrics)"], res["shmkit ls --json"]
ms = lambda r: f"{r['mean'] * 1000:8.1f} ms ± {r['stddev'] * 1000:5.1f}"
ok = lambda b: "ok" if b else "MISSED"
print()
print(f"{procs} processes; mean wall time (hyperfine, same run):")
for name in servers + ["shmkit ls --json"]:
    print(f"  {name:24} {ms(res[name])}")
ratio = ours["mean"] / peer["mean"]
print(f"  scrape / ls --json      {ratio:6.2f}x   (target <= 1.2x)  {ok(ratio <= 1.2)}")
print(f"  fastest runs: scrape {ours['min'] * 1000:.1f} ms, ls --json {peer['min'] * 1000:.1f} ms "
      f"({ours['min'] / peer['min']:.2f}x)")
print(f"  the exporter's own scan: {scan * 1000:.1f} ms (shmkit_scrape_duration_seconds)")
ls_cpu = peer["user"] + peer["system"]
node = cpu["node_exporter scrape"]
live, full = cpu["scrape (curl /metrics)"], cpu["scrape, full walk"]
amortised = (full + 3 * live) / 4
print(f"CPU per scrape (the server's, all threads; 1 tick = {1000 / hz:.0f} ms), and / node_exporter:")
rows = [("live (new processes only)", live), ("full walk (every 60 s)", full),
        ("live, amortised at 15 s", amortised)]
if has_base:
    rows.append(("baseline build", cpu["scrape, baseline"]))
rows += [("prometheus-node-exporter", node), ("shmkit ls --json (process)", ls_cpu)]
for name, c in rows:
    ratio = f"{c / node:6.2f}x" if node > 0 else "     -"
    print(f"  {name:28} {c * 1000:7.1f} ms  {ratio}")
if has_base and cpu["scrape, baseline"] > 0:
    print(f"  live / baseline {live / cpu['scrape, baseline']:.2f}x, "
          f"amortised at 15 s / baseline {amortised / cpu['scrape, baseline']:.2f}x")
print(f"{scrapes} more scrapes in {t1 - t0:.1f} s ({scrapes / (t1 - t0):.1f}/s, 4 clients):")
print(f"  exporter RSS after the first scrape {first:6.1f} MiB, after the last {last:6.1f} MiB "
      f"(target < 30 MiB) {ok(last < 30)}; peak (VmHWM) {hwm:.1f} MiB")
if load > 0.5:
    print(f"  note: load average {load} on {cores} cores when timing started: other programs "
          "were running, so wall times are noisy; rerun on a quiet machine")
PY
echo "JSON: $JSON" >&2
