#!/usr/bin/env bash
# Restore's cost per object: N empty POSIX objects saved to a snapshot, removed, then
# `shmkit snapshot restore --dry-run` (verify, plan, check every name and limit) and a real
# restore, side by side with the peer that bounds them from below: `cat` reading the same
# snapshot file once. All in a private mount namespace with its own /dev/shm (nothing else
# is touched). Run as root: bench/restore-scale.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-60000}
cargo build --release --quiet
export SHMKIT=$PWD/target/release/shmkit N
exec unshare --mount --ipc --propagation private bash -c '
mount -t tmpfs -o size=1g,nr_inodes=200000,mode=1777 bench-shm /dev/shm
dir=$(mktemp -d); trap "rm -rf $dir" EXIT
ms() { date +%s%N; }
(cd /dev/shm && seq 1 "$N" | sed "s/^/o/" | xargs -n 1000 touch)
"$SHMKIT" snapshot save "$dir/n.snap" >/dev/null
find /dev/shm -name "o*" -delete
t0=$(ms); cat "$dir/n.snap" > /dev/null; t1=$(ms)
"$SHMKIT" snapshot restore "$dir/n.snap" --dry-run > /dev/null; t2=$(ms)
"$SHMKIT" snapshot restore "$dir/n.snap" > /dev/null; t3=$(ms)
made=$(find /dev/shm -name "o*" | wc -l)
awk -v n="$N" -v c=$((t1 - t0)) -v d=$((t2 - t1)) -v r=$((t3 - t2)) -v made="$made" "BEGIN {
  printf \"%d objects (%d restored)\n\", n, made
  printf \"%-22s %10.1f ms\n\", \"cat of the snapshot\", c / 1e6
  printf \"%-22s %10.1f ms  %8.1fx cat\n\", \"restore --dry-run\", d / 1e6, d / c
  printf \"%-22s %10.1f ms  %8.1fx cat\n\", \"restore\", r / 1e6, r / c
}"
'
