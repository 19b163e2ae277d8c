#!/bin/bash
# Print the output of one section of a VM run (results.log) and exit with
# the section's exit status (1 when it never finished).
#   vm/show.sh OUTDIR SECTION
log=$(tr -d '\r' < "$1/results.log" 2>/dev/null)
awk -v s="$2" '$0 == "@@@ BEGIN " s {on=1; next}
	on && index($0, "@@@ END " s " ") == 1 {on=0; next}
	on {print}' <<< "$log"
rc=$(sed -n "s/^@@@ END $2 rc=\([0-9]*\).*/\1/p" <<< "$log")
[ -n "$rc" ] || { echo "($2 did not finish)" >&2; exit 1; }
exit "$rc"
