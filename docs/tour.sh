#!/usr/bin/env bash
# docs/tour.sh — sets up the host that README's `shmkit mem` and `shmkit ls` examples show,
# prints those commands' real output (as root, then as the user `nobody`), and removes it all.
#
# Usage (as root, from anywhere):   docs/tour.sh [PATH-TO-SHMKIT]
#
# The objects: the seed's leak (an IPC_PRIVATE segment of 64 MiB, touched, whose creator
# `ipcmk` exited), a keyed segment nobody attaches (article 2's, idle), a POSIX object held by
# a program, one nobody holds (idle), a 100 MiB file on a tmpfs of its own, shared anonymous
# memory and a memfd, both held by that program (`shmkit hold`).
# (`ipcmk -M` would not do for the leak: recent util-linux gives its segments a random key.)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
SHMKIT=${1:-$REPO/target/release/shmkit}
[ -x "$SHMKIT" ] || (cd "$REPO" && cargo build --release --quiet)
[ "$(id -u)" = 0 ] || { echo "docs/tour.sh: run as root" >&2; exit 2; }

SCRATCH=/mnt/scratch
LEAK=
HOLDER=
SLEEPER=
cleanup() {
    [ -z "$SLEEPER" ] || kill "$SLEEPER" 2>/dev/null || true
    [ -z "$HOLDER" ] || kill "$HOLDER" 2>/dev/null || true
    [ -z "$LEAK" ] || ipcrm -m "$LEAK" 2>/dev/null || true
    "$SHMKIT" rm sysv:5678 posix:/orders posix:/stale-cache >/dev/null 2>&1 || true
    umount "$SCRATCH" 2>/dev/null || true
    rmdir "$SCRATCH" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The seed's leak: an IPC_PRIVATE segment whose creator exited; a writer touches it and exits.
LEAK=$("$SHMKIT" create sysv:private --size 64M --json | sed -n 's/.*"shmid": *\([0-9]*\).*/\1/p')
"$SHMKIT" hold --sysv-id "$LEAK" --fill 7 --exit >/dev/null
# Article 2's segment: keyed, written once, nobody attached.
"$SHMKIT" create sysv:5678 --size 32M >/dev/null
"$SHMKIT" write sysv:5678 abcdefghijklmnopqrstuvwxyz >/dev/null
# POSIX objects: one a program holds, one nobody holds.
"$SHMKIT" create posix:/orders --size 32M >/dev/null
"$SHMKIT" create posix:/stale-cache --size 8M >/dev/null
head -c 8M /dev/zero | tr "\0" x | "$SHMKIT" write posix:/stale-cache >/dev/null
# A file on a tmpfs of its own.
mkdir -p "$SCRATCH"
mount -t tmpfs -o size=200M scratch "$SCRATCH"
head -c 100M /dev/zero >"$SCRATCH/build.tar"
# The program: holds /orders, shared anonymous memory and a memfd until its stdin closes.
exec 3< <(exec sleep 3600 2>/dev/null)
SLEEPER=$!
"$SHMKIT" hold --posix /orders --anon 48M --memfd frames=16M --fill 1 <&3 >/dev/null &
HOLDER=$!
sleep 3

echo '$ sudo shmkit mem'
"$SHMKIT" mem 2>&1
echo
echo '$ shmkit mem'
runuser -u nobody -- "$SHMKIT" mem 2>&1
echo
echo '$ sudo shmkit ls --kind sysv --kind posix --kind tmpfs --kind shared-anon --kind memfd'
"$SHMKIT" ls --kind sysv --kind posix --kind tmpfs --kind shared-anon --kind memfd 2>&1
echo
echo '$ shmkit ls --kind sysv --kind posix --kind tmpfs'
runuser -u nobody -- "$SHMKIT" ls --kind sysv --kind posix --kind tmpfs 2>&1
