#!/bin/bash
# Build the static programs that go into the test VM's initramfs.
#
#   scripts/build-progs.sh SRC KOUT OUT
#
# SRC is the kernel tree, KOUT its build directory (for the exported uapi
# headers in KOUT/usr/include), OUT receives bin/ (what the initramfs gets).
# Programs: the upstream mm selftests listed below (built with the kselftest
# makefiles, linked static, liburing for cow), and every tests/progs/*.c.
set -euo pipefail
src=$1
kout=$2
out=$3
repo=$(cd "$(dirname "$0")/.." && pwd)
hdr=$kout/usr/include
mm_selftests="cow"

mkdir -p "$out/bin" "$out/mm"
for t in $mm_selftests; do
	make -s -C "$src/tools/testing/selftests/mm" OUTPUT="$out/mm" \
		KHDR_INCLUDES="-isystem $hdr" EXTRA_CFLAGS="-static" \
		"$out/mm/$t" 2>&1 | grep -v 'warning: Using .* in statically linked' || true
	[ -x "$out/mm/$t" ] || { echo "progs: mm selftest $t failed to build" >&2; exit 1; }
	cp "$out/mm/$t" "$out/bin/$t"
done

# The project's own kselftests and tools.
for t in cow_pte/cow_pte_api cow_pte/cow_pte_isolation cow_pte/cow_pte_memory; do
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
