# Where a fork's time goes (make profile): perf (the host's linux-perf,
# through host-run) samples, with COW PTE on and then off:
# - fork_latency's "writes" mode, in which every PTE table changed since
#   the previous fork;
# - Redis (Debian's redis-server) with 1M 1000-byte keys while a client
#   overwrites random keys and 5 BGSAVEs fork it (tests/progs/redis_bench).
# Of the samples taken inside fork (kernel_clone), it prints the share of
# each function, its own (the sampled instruction is in it) and callees
# included, sorted by its own.  Only the own share is exact: the benchmark
# kernel unwinds with UNWINDER_GUESS (tinyconfig's default), which takes
# every kernel address on the stack for a caller, stale ones too (in
# 2026-12 it put percpu_counter_add_batch above cow_pte_scan_table, which
# never calls it).
#
#   sh profile-fork.sh [SIZE_GB] [NPROC]
. /etc/cowpte/host
. /tests/lib.sh
. /tests/redis.sh
gb=${1:-4}
nproc=${2:-100}
[ -x /host/usr/bin/perf ] ||
	{ echo "profile: the host has no perf (apt-get install linux-perf)"; exit 1; }
echo 0 > /proc/sys/kernel/kptr_restrict
echo -1 > /proc/sys/kernel/perf_event_paranoid

# fork_shares DATA: the functions of the samples inside kernel_clone.  A
# sample is a header line, one line per frame, a blank line.
fork_shares() {
	host-run perf script -i "$1" -F ip,sym 2> /dev/null | awk '
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
		printf "%d samples in fork (kernel_clone); share of them, own and callees included (guessed):\n", fork
		for (s in incl)
			if (incl[s] * 100 >= fork * 0.8)
				printf "%6.1f%% %6.1f%%  %s\n", self[s] * 100 / fork, incl[s] * 100 / fork, s
	}' | { IFS= read -r header; echo "$header"; sort -k1,1rn -k2,2rn | head -40; }
}

for mode in on off; do
	pre=""
	[ $mode = on ] && pre="cowpte run"
	echo "== COW PTE $mode: fork_latency $gb $nproc writes"
	$pre host-run perf record -q -e cpu-clock -F 10000 -g -o /tmp/perf-$mode.data -- \
		"$PROGS/bin/fork_latency" "$gb" "$nproc" writes 2> /dev/null || exit 1
	fork_shares /tmp/perf-$mode.data
done

echo never > /sys/kernel/mm/transparent_hugepage/enabled
for mode in on off; do
	echo "== COW PTE $mode: Redis, 1M keys of 1000 bytes, 5 BGSAVEs under writes"
	redis_start 6379 /tmp/redis-profile $mode || exit 1
	rcli 6379 DEBUG POPULATE 1000000 key 1000 > /dev/null
	pid=$(redis_info 6379 process_id)
	host-run perf record -q -e cpu-clock -F 10000 -g -p "$pid" \
		-o /tmp/perf-redis-$mode.data 2> /dev/null &
	perf=$!
	sleep 2
	redis_bench 6379 5 200 1000000 2 | grep '^RESULT fork'
	kill -INT $perf
	wait $perf
	redis_stop 6379
	rm -rf /tmp/redis-profile
	fork_shares /tmp/perf-redis-$mode.data
done
