#!/bin/bash
# Build the base initramfs of the test VM.
#
#   vm/mkinitramfs.sh OUT.cpio.gz BINDIR
#
# BINDIR holds the static test programs (installed as /tests/bin); the test
# case scripts come from tests/cases and bench/cases (with tests/mm, the
# list of upstream mm selftests), /init from vm/init, the shell and tools
# from Debian's busybox-static.
set -euo pipefail
out=$1
bindir=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc/cowpte,extra,tests/bin,tests/cases}
cp /bin/busybox "$stage/bin/busybox"
for app in $(/bin/busybox --list); do
	[ -e "$stage/bin/$app" ] || ln -s busybox "$stage/bin/$app"
done
install -m 755 "$repo/vm/init" "$stage/init"
install -m 755 "$repo/vm/host-run" "$stage/usr/bin/host-run"
cp -a "$bindir"/. "$stage/tests/bin/"
cp -a "$repo"/tests/cases/. "$repo"/bench/cases/. "$stage/tests/cases/"
cp "$repo/tests/lib.sh" "$repo/tests/redis.sh" "$stage/tests/"
cp -a "$repo/tests/mm" "$stage/tests/"
# Where the host keeps what tests and benchmarks run through vm/host-run.
printf 'REPO=%s\nPROGS=%s\n' "$repo" "$(cd "$bindir/.." && pwd)" > "$stage/etc/cowpte/host"
echo "root:x:0:0:root:/root:/bin/sh" > "$stage/etc/passwd"
echo "root:x:0:" > "$stage/etc/group"
(cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"
