#!/bin/bash
# Run one long build/test stage, announcing it and its elapsed time.
#   scripts/stage.sh "what it does" command args...
what=$1
shift
echo "==> $what"
start=$(date +%s)
"$@"
rc=$?
secs=$(( $(date +%s) - start ))
if [ $rc = 0 ]; then
	echo "<== $what: done in $((secs / 60))m$((secs % 60))s"
else
	echo "<== $what: FAILED (status $rc) after $((secs / 60))m$((secs % 60))s" >&2
fi
exit $rc
