# Where a fork's time goes (make profile): perf (the host's linux-perf,
# through host-run) samples fork_latency's "writes" mode, in which every
# PTE table changed since the last fork, with COW PTE on and then off.  Of
# the samples taken inside fork (kernel_clone), it prints the share of
# each function, callees included, and the fork time per GB.
#
#   sh profile-fork.sh [SIZE_GB] [NPROC]
. /etc/cowpte/host
gb=${1:-4}
nproc=${2:-16}
[ -x /host/usr/bin/perf ] ||
	{ echo "profile: the host has no perf (apt-get install linux-perf)"; exit 1; }
echo 0 > /proc/sys/kernel/kptr_restrict
echo -1 > /proc/sys/kernel/perf_event_paranoid
for mode in on off; do
	pre=""
	[ $mode = on ] && pre="cowpte run"
	echo "== COW PTE $mode: fork_latency $gb $nproc writes"
	$pre host-run perf record -q -e cpu-clock -F 10000 -g -o /tmp/perf-$mode.data -- \
		"$PROGS/bin/fork_latency" "$gb" "$nproc" writes 2> /dev/null || exit 1
	# One sample: a header line, one line per frame, a blank line.
	host-run perf script -i /tmp/perf-$mode.data -F ip,sym 2> /dev/null | awk '
	function flush(   s) {
		if (in_fork) {
			fork++
			for (s in seen) incl[s]++
			self[leaf]++
		}
		delete seen; in_fork = 0; leaf = ""
	}
	/^$/ { flush(); next }
	{
		sym = $2
		sub(/\+0x[0-9a-f]+$/, "", sym)
		if (leaf == "") leaf = sym
		seen[sym] = 1
		if (sym == "kernel_clone") in_fork = 1
	}
	END {
		flush()
		printf "%d samples in fork (kernel_clone); share of them, callees included, and own:\n", fork
		for (s in incl)
			if (incl[s] * 100 >= fork * 0.8)
				printf "%6.1f%% %6.1f%%  %s\n", incl[s] * 100 / fork, self[s] * 100 / fork, s
	}' | { IFS= read -r header; echo "$header"; sort -rn | head -40; }
done
