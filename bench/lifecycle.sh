#!/usr/bin/env bash
# Life-cycle commands against their peers, util-linux's ipcmk and ipcrm: N System V segments
# created, then removed, in a private IPC namespace (nothing else is touched). Prints the time
# per call and shmkit's ratio to the peer. The two tools take turns, call by call, so that load
# from the rest of the machine falls on both alike. Run as root: bench/lifecycle.sh [N]
# (SHMKIT=PATH measures that binary instead of building this tree's.)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-500}
if [ -z "${SHMKIT:-}" ]; then
  cargo build --release --quiet
  SHMKIT=$PWD/target/release/shmkit
fi
export SHMKIT N
# Times come from bash's own clock ($EPOCHREALTIME, microseconds): an interval holds the
# shell's fork and the command, not the start of a clock program as well. Both tools run in
# the caller's locale, as they would for the user: ipcmk and ipcrm call setlocale, which
# under a locale other than C/POSIX opens and maps its data files (a dozen under C.UTF-8);
# shmkit reads no locale. `LC_ALL=C bench/lifecycle.sh` measures the peers without that.
# ($EPOCHREALTIME's decimal point follows the locale: a comma in some.)
# Every timed command has the same redirection, even ipcrm, which prints nothing: bash opens
# /dev/null in the child, which costs about 0.1 ms, so a redirection on one side only is a
# tenth of a call added to that side.
exec unshare --ipc bash -c '
load0=$(cut -d" " -f1 /proc/loadavg)
c1=0; c2=0; r1=0; r2=0
for i in $(seq 1 "$N"); do
  t0=${EPOCHREALTIME/[.,]/}; "$SHMKIT" create "sysv:$((i + 1000))" --size 27 >/dev/null; t1=${EPOCHREALTIME/[.,]/}
  ipcmk -M 27 >/dev/null; t2=${EPOCHREALTIME/[.,]/}
  c1=$((c1 + t1 - t0)); c2=$((c2 + t2 - t1))
done
ours=($(awk "/^ *[0-9-]+ +[0-9]+ / && \$1 > 1000 && \$1 <= 1000 + $N {print \$2}" /proc/sysvipc/shm))
theirs=($(awk "NR > 1 && !(\$1 > 1000 && \$1 <= 1000 + $N) {print \$2}" /proc/sysvipc/shm))
for i in "${!ours[@]}"; do
  t3=${EPOCHREALTIME/[.,]/}; "$SHMKIT" rm "sysv:id=${ours[$i]}" >/dev/null; t4=${EPOCHREALTIME/[.,]/}
  ipcrm -m "${theirs[$i]}" >/dev/null; t5=${EPOCHREALTIME/[.,]/}
  r1=$((r1 + t4 - t3)); r2=$((r2 + t5 - t4))
done
left=$(($(wc -l < /proc/sysvipc/shm) - 1))
load1=$(cut -d" " -f1 /proc/loadavg)
LC_ALL=C awk -v n="$N" -v c1=$c1 -v c2=$c2 -v r1=$r1 -v r2=$r2 -v left="$left" -v l0="$load0" -v l1="$load1" -v locale="${LC_ALL:-${LC_MESSAGES:-${LANG:-POSIX}}}" "BEGIN {
  printf \"%-8s %14s %14s %7s\n\", \"op\", \"shmkit\", \"util-linux\", \"ratio\"
  printf \"%-8s %11.3f ms %11.3f ms %6.2fx\n\", \"create\", c1 / n / 1e3, c2 / n / 1e3, c1 / c2
  printf \"%-8s %11.3f ms %11.3f ms %6.2fx\n\", \"remove\", r1 / n / 1e3, r2 / n / 1e3, r1 / r2
  printf \"(%d segments each; %d left; load average %s at start, %s at end, %d cores; locale %s)\n\", n, left, l0, l1, '"$(nproc)"', locale
}"
'
