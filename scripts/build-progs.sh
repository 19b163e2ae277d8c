#!/bin/bash
# Build the static programs that go into the test VM's initramfs.
#
#   scripts/build-progs.sh SRC KOUT OUT
#
# SRC is the kernel tree, KOUT its build directory (for the exported uapi
# headers in KOUT/usr/include), OUT receives bin/ (what the initramfs gets).
# Programs: the upstream mm selftests that tests/mm/selftests.list runs
# (built with the kselftest makefiles, linked static: liburing, libnuma,
# libcap), the project's kselftests and tools, and every tests/progs/*.c.
set -euo pipefail
src=$1
kout=$2
out=$3
repo=$(cd "$(dirname "$0")/.." && pwd)
hdr=$kout/usr/include
mm_selftests=$(grep -v '^#' "$repo/tests/mm/selftests.list" |
	grep -o '/tests/bin/[A-Za-z0-9_-]*' | sed 's#/tests/bin/##' | sort -u)

mkdir -p "$out/bin" "$out/mm"
# khugepaged.c of 6.12.117 uses KSFT_SKIP without including kselftest.h.
mm_cflags() {
	if [ "$1" = khugepaged ]; then echo "-DKSFT_SKIP=4"; fi
}
for t in $mm_selftests; do
	make -s -C "$src/tools/testing/selftests/mm" OUTPUT="$out/mm" \
		KHDR_INCLUDES="-isystem $hdr" EXTRA_CFLAGS="-static $(mm_cflags "$t")" \
		"$out/mm/$t" > "$out/mm/$t.log" 2>&1 || true
	[ -x "$out/mm/$t" ] || {
		cat "$out/mm/$t.log" >&2
		echo "progs: mm selftest $t failed to build (log: $out/mm/$t.log)" >&2
		exit 1
	}
	cp "$out/mm/$t" "$out/bin/$t"
done

# The project's own kselftests and tools.
for t in cow_pte/cow_pte_api cow_pte/cow_pte_isolation cow_pte/cow_pte_memory \
	cow_pte/cow_pte_enomem cow_pte/cow_pte_stress cow_pte/cow_pte_semantics; do
	mkdir -p "$out/${t%/*}"
	make -s -C "$src/tools/testing/selftests/${t%/*}" OUTPUT="$out/${t%/*}" \
		KHDR_INCLUDES="-isystem $hdr" LDFLAGS="-static" "$out/$t"
	cp "$out/$t" "$out/bin/"
done
gcc -static -O2 -Wall -Werror -isystem "$hdr" -o "$out/bin/cowpte" "$repo/tools/mm/cowpte.c"

for c in "$repo"/tests/progs/*.c; do
	name=$(basename "$c" .c)
	if [ ! "$out/bin/$name" -nt "$c" ] || [ -n "$(find "$repo/tests/progs" -name '*.h' -newer "$out/bin/$name")" ]; then
		gcc -static -O2 -Wall -Werror -isystem "$hdr" -I "$repo/tests/progs" \
			-o "$out/bin/$name" "$c" -lpthread
	fi
done

# Programs the VM runs from the host's file system (vm/host-run) rather
# than from the initramfs: the AFL++ benchmark target, built with afl-cc
# as fuzzing targets are (make bench).
if [ ! "$out/afl_target" -nt "$repo/bench/programs/afl_target.c" ]; then
	AFL_QUIET=1 afl-cc -O2 -w -o "$out/afl_target" "$repo/bench/programs/afl_target.c"
fi
