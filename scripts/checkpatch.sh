#!/bin/bash
# checkpatch --strict on every patch of the series and on every new C file
# or header of the overlay; rustfmt on the overlay's Rust files.
#   scripts/checkpatch.sh SRC
set -uo pipefail
src=$1
repo=$(cd "$(dirname "$0")/.." && pwd)
bad=0
cp=("$src/scripts/checkpatch.pl" --strict --quiet --no-tree --show-types
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG)
for p in "$repo"/patches/*.patch; do
	[ -e "$p" ] || continue
	if ! out=$("${cp[@]}" "$p" 2>&1); then
		echo "checkpatch: patches/$(basename "$p"):"; echo "$out"; bad=1
	fi
done
cd "$repo"
for f in $(find mm include rust tools -name '*.[ch]' 2>/dev/null); do
	if ! out=$("${cp[@]}" --ignore SPDX_LICENSE_TAG -f "$f" 2>&1); then
		echo "checkpatch: $f:"; echo "$out"; bad=1
	fi
done
rs=$(find mm rust -name '*.rs' 2>/dev/null)
if [ -n "$rs" ] && ! /usr/bin/rustfmt --check --edition 2021 \
	--config-path "$src/.rustfmt.toml" $rs; then
	echo "rustfmt: the files above need formatting"; bad=1
fi
[ $bad = 0 ] && echo "checkpatch --strict and rustfmt: clean"
exit $bad
