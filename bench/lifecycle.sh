#!/usr/bin/env bash
# Life-cycle commands against their peers, util-linux's ipcmk and ipcrm: N System V segments
# created, then removed, in a private IPC namespace (nothing else is touched). Prints the time
# per call and shmkit's ratio to the peer. Run as root: bench/lifecycle.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-500}
cargo build --release --quiet
export SHMKIT=$PWD/target/release/shmkit N
exec unshare --ipc bash -c '
ms() { date +%s%N; }
t0=$(ms); for i in $(seq 1 "$N"); do "$SHMKIT" create "sysv:$((i + 1000))" --size 27 >/dev/null; done; t1=$(ms)
for i in $(seq 1 "$N"); do ipcmk -M 27 >/dev/null; done; t2=$(ms)
ours=$(awk "/^ *[0-9-]+ +[0-9]+ / && \$1 > 1000 && \$1 <= 1000 + $N {print \$2}" /proc/sysvipc/shm)
theirs=$(awk "NR > 1 && !(\$1 > 1000 && \$1 <= 1000 + $N) {print \$2}" /proc/sysvipc/shm)
t3=$(ms); for id in $ours; do "$SHMKIT" rm "sysv:id=$id" >/dev/null; done; t4=$(ms)
for id in $theirs; do ipcrm -m "$id"; done; t5=$(ms)
left=$(($(wc -l < /proc/sysvipc/shm) - 1))
awk -v n="$N" -v c1=$((t1 - t0)) -v c2=$((t2 - t1)) -v r1=$((t4 - t3)) -v r2=$((t5 - t4)) -v left="$left" "BEGIN {
  printf \"%-8s %14s %14s %7s\n\", \"op\", \"shmkit\", \"util-linux\", \"ratio\"
  printf \"%-8s %11.3f ms %11.3f ms %6.2fx\n\", \"create\", c1 / n / 1e6, c2 / n / 1e6, c1 / c2
  printf \"%-8s %11.3f ms %11.3f ms %6.2fx\n\", \"remove\", r1 / n / 1e6, r2 / n / 1e6, r1 / r2
  printf \"(%d segments each; %d left)\n\", n, left
}"
'
