#!/bin/bash
# Unpack the pinned linux-source-6.12 tarball into a git tree, apply the
# patches/ series (one commit per patch) and link the overlay files in.
#
#   scripts/prepare-tree.sh SRC_DIR KVER
#
# The tree is a working copy for kernel developers: an "upstream" tag, one
# commit per patch, overlay files as symlinks into this repository (so an
# edit in the tree is an edit in the repository).  `make export-patches`
# writes the commits back.  A stamp records which patch series the tree
# holds; when patches/ changes (git pull) the tree is rebuilt from upstream,
# unless it has commits that were never exported.
set -euo pipefail

src=$1
kver=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
tarball=/usr/src/linux-source-6.12.tar.xz
overlay_dirs="mm include rust tools/mm tools/testing/selftests Documentation"

die() { echo "prepare-tree: error: $*" >&2; exit 1; }

have=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)
case "$have" in
"$kver"-*) ;;
"") die "package linux-source-6.12 is not installed (run: make deps)" ;;
*) die "linux-source-6.12 is version $have, this project is pinned to $kver (run: make deps, which installs it; or change KVER in the Makefile)" ;;
esac

series_stamp() {
	{ cat "$repo"/patches/*.patch 2>/dev/null || true; } | sha1sum | cut -d" " -f1
}

git_tree() { git -C "$src" "$@"; }

apply_series() {
	local p
	for p in "$repo"/patches/*.patch; do
		[ -e "$p" ] || continue
		if ! git_tree am -q --whitespace=nowarn "$p" >/dev/null 2>&1; then
			git_tree am --abort >/dev/null 2>&1 || true
			die "patch does not apply: patches/$(basename "$p")"
		fi
	done
	series_stamp > "$src/.git/cowpte-series"
	git_tree rev-parse HEAD > "$src/.git/cowpte-head"
}

if [ ! -d "$src/.git" ]; then
	echo "  unpacking $tarball into $src"
	rm -rf "$src.tmp"
	mkdir -p "$src.tmp"
	tar -xf "$tarball" -C "$src.tmp" --strip-components=1
	sub=$(sed -n 's/^SUBLEVEL = //p' "$src.tmp/Makefile")
	[ "6.12.$sub" = "$kver" ] || die "tarball holds 6.12.$sub, expected $kver"
	git -C "$src.tmp" init -q
	git -C "$src.tmp" config user.name "COW PTE developers"
	git -C "$src.tmp" config user.email "cow-pte@localhost"
	git -C "$src.tmp" config core.autocrlf false
	git -C "$src.tmp" config gc.auto 0
	git -C "$src.tmp" add -A -f .
	git -C "$src.tmp" commit -q -m "Linux $kver (Debian linux-source-6.12)"
	git -C "$src.tmp" tag upstream
	mv "$src.tmp" "$src"
	echo "  applying patches/"
	apply_series
elif [ "$(series_stamp)" != "$(cat "$src/.git/cowpte-series" 2>/dev/null)" ]; then
	if [ "$(git_tree rev-parse HEAD)" != "$(cat "$src/.git/cowpte-head" 2>/dev/null)" ]; then
		die "patches/ changed, but $src has commits that were not exported; run 'make export-patches' (keeps the tree's commits) or 'make reset-tree' (drops them)"
	fi
	echo "  patches/ changed: re-applying the series on upstream"
	git_tree am --abort >/dev/null 2>&1 || true
	git_tree reset -q --hard upstream
	apply_series
fi

# Link the overlay: every file under the overlay directories becomes a
# symlink in the tree.  An overlay file must never shadow an upstream file.
exclude="$src/.git/info/exclude"
grep -qx '# cow-pte overlay' "$exclude" 2>/dev/null || echo '# cow-pte overlay' >> "$exclude"
cd "$repo"
for d in $overlay_dirs; do
	[ -d "$d" ] || continue
	find "$d" -type f ! -name '*.o' ! -name '.*' | while read -r f; do
		t="$src/$f"
		if [ -L "$t" ]; then
			[ "$(readlink "$t")" = "$repo/$f" ] && continue
			rm -f "$t"
		elif [ -e "$t" ]; then
			die "overlay file $f shadows an upstream file; change upstream files with a patch"
		fi
		mkdir -p "$(dirname "$t")"
		ln -s "$repo/$f" "$t"
		grep -qxF "/$f" "$exclude" || echo "/$f" >> "$exclude"
	done
done
# Drop links to overlay files that no longer exist in the repository.
find "$src" -path "$src/.git" -prune -o -type l -lname "$repo/*" ! -exec test -e {} \; -print |
while read -r l; do
	rm -f "$l"
done
