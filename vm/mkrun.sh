#!/bin/bash
# Build the per-run initramfs appended to the base one: what the guest runs.
#
#   vm/mkrun.sh OUT.cpio tests NAME...       run these tests/cases
#   vm/mkrun.sh OUT.cpio cmd 'CMD' [FILE...] run CMD in /extra, with FILEs
set -euo pipefail
out=$1
mode=$2
shift 2
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/etc/cowpte" "$stage/extra"
case "$mode" in
tests)
	printf '%s\n' "$@" > "$stage/etc/cowpte/tests"
	;;
cmd)
	printf '%s\n' "$1" > "$stage/etc/cowpte/cmd"
	shift
	for f in "$@"; do
		[ -e "$f" ] || { echo "vm: EXTRA file not found: $f" >&2; exit 1; }
		cp -a "$f" "$stage/extra/"
	done
	;;
*)
	echo "mkrun.sh: unknown mode $mode" >&2
	exit 1
	;;
esac
# Benchmark settings given to make (BENCH_*=...), for the cases to source.
env | grep '^BENCH_[A-Z0-9_]*=' | sed "s/^\([^=]*\)=\(.*\)$/\1='\2'/" > "$stage/etc/cowpte/bench.env" || true
(cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet) > "$out"
