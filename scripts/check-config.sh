#!/bin/bash
# Fail unless every "CONFIG_X=y" line of the REQUIRED files is in .config.
# (CONFIG_RUST silently drops out when the Rust toolchain is not found.)
#   scripts/check-config.sh .config REQUIRED...
set -u
config=$1
shift
bad=0
for req in "$@"; do
	[ -n "$req" ] || continue
	while read -r line; do
		case "$line" in ''|'#'*) continue ;; esac
		if ! grep -qx "$line" "$config"; then
			opt=${line%%=*}
			got=$(grep -E "^$opt=|^# $opt is not set" "$config" || echo "absent")
			echo "config: $line required, .config has: $got" >&2
			bad=1
		fi
	done < "$req"
done
if [ $bad = 1 ]; then
	echo "config: required options are missing from $config." >&2
	echo "config: CONFIG_RUST missing usually means the Rust toolchain was not found:" >&2
	echo "config: run 'make deps', then 'make -C build/linux O=... rustavailable'." >&2
	exit 1
fi
