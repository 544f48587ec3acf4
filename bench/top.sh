#!/usr/bin/env bash
# bench/top.sh — how much CPU `shmkit top --interval 2` uses on a busy host, beside procps
# `top -d 2` in the same run.
#
# Usage (as root, from anywhere):   bench/top.sh
#
# It runs under bench/mem.sh's load (1,000 processes holding 50 System V segments, 50 POSIX
# objects and 50 shared anonymous mappings; mem.sh builds the release binary, sets the load
# up, checks that shmkit sees it, and removes it all on exit): mem.sh calls this script back
# with --measure while the load is up. Both programs then run side by side in one tmux server
# (each in its own 200x50 window, a real terminal), and after a warm-up their CPU time
# (utime + stime of every thread, /proc/PID/stat) is read over DURATION seconds.
# It prints each one's share of one core and the ratio. Target: shmkit top < 3% of one core.
# `shmkit top -b 0` (plain tables to /dev/null, no terminal) runs beside them too: the
# difference from the live view is the cost of drawing.
#
# Environment: DURATION (60), WARMUP (6), and mem.sh's PROCS and OBJECTS.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" != --measure ]; then
    command -v tmux >/dev/null 2>&1 || {
        echo "bench/top.sh: needs tmux (apt-get install tmux)" >&2
        exit 2
    }
    command -v top >/dev/null 2>&1 || {
        echo "bench/top.sh: needs procps top (apt-get install procps)" >&2
        exit 2
    }
    export PROFILE_CMD="bench/top.sh --measure"
    exec "$REPO/bench/mem.sh"
fi

DURATION=${DURATION:-60}
WARMUP=${WARMUP:-6}
SHMKIT=$REPO/target/release/shmkit
SOCKET="shmkit-bench-top-$$"
tmux_() { tmux -L "$SOCKET" -f /dev/null "$@"; }
PLAIN=
cleanup() {
    [ -z "$PLAIN" ] || kill "$PLAIN" 2>/dev/null || true
    tmux_ kill-server 2>/dev/null || true
    rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$SOCKET"   # tmux leaves its socket behind
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tmux_ new-session -d -x 200 -y 50 -n shmkit "$SHMKIT" top --interval 2
tmux_ new-window -d -n procps top -d 2
OURS=$(tmux_ list-panes -t :shmkit -F '#{pane_pid}')
PEER=$(tmux_ list-panes -t :procps -F '#{pane_pid}')
"$SHMKIT" top -b 0 --interval 2 >/dev/null &
PLAIN=$!

# utime + stime in clock ticks: fields 14 and 15 of /proc/PID/stat, counted after the last
# ')' because the command name may hold spaces and parentheses.
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

sleep "$WARMUP"
for pid in "$OURS" "$PEER" "$PLAIN"; do
    [ -d "/proc/$pid" ] || { echo "bench/top.sh: pid $pid exited early" >&2; exit 1; }
done
echo "shmkit top's first line: $(tmux_ capture-pane -p -t :shmkit | head -1)" >&2
START=$(date +%s.%N)
OURS_0=$(ticks "$OURS")
PEER_0=$(ticks "$PEER")
PLAIN_0=$(ticks "$PLAIN")
echo "measuring for ${DURATION}s" >&2
sleep "$DURATION"
OURS_1=$(ticks "$OURS")
PEER_1=$(ticks "$PEER")
PLAIN_1=$(ticks "$PLAIN")
END=$(date +%s.%N)
echo "shmkit top's first line: $(tmux_ capture-pane -p -t :shmkit | head -1)" >&2

python3 - "$START" "$END" "$(getconf CLK_TCK)" "$OURS_0" "$OURS_1" "$PEER_0" "$PEER_1" \
    "$(ls -d /proc/[0-9]* | wc -l)" "$(cut -d' ' -f1 /proc/loadavg)" "$PLAIN_0" "$PLAIN_1" <<'PY'
import sys
start, end, hz = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
ours = (int(sys.argv[5]) - int(sys.argv[4])) / hz
peer = (int(sys.argv[7]) - int(sys.argv[6])) / hz
plain = (int(sys.argv[11]) - int(sys.argv[10])) / hz
wall = end - start
pct = lambda cpu: 100 * cpu / wall
print()
print(f"{sys.argv[8]} processes; CPU time over {wall:.1f} s of wall time (same run):")
print(f"  shmkit top --interval 2   {ours * 1000:8.0f} ms   {pct(ours):5.2f}% of one core")
print(f"  top -d 2 (procps)         {peer * 1000:8.0f} ms   {pct(peer):5.2f}% of one core")
print(f"  shmkit top -b 0 (no tty)  {plain * 1000:8.0f} ms   {pct(plain):5.2f}% of one core")
if peer > 0:
    print(f"  shmkit top / procps top   {ours / peer:6.2f}x")
print(f"  target: shmkit top < 3% of one core: {'ok' if pct(ours) < 3 else 'MISSED'}")
print(f"  load average at the end: {sys.argv[9]}")
PY
