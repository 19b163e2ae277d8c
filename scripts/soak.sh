#!/bin/bash
# make soak: what make check runs, RUNS times on the KASAN kernel, the
# stress test over SEEDS seeds in one more boot of it, and make check's
# tests on the lockdep kernel, judged by its kernel log only: lockdep makes
# the timing-dependent upstream tests (KSM scans) miss their own time
# limits (vm/lockdep.config), which the KASAN runs and make check judge.
# Every failure is reported with what reproduces it; ends "N passed,
# N failed" over all boots.
#
#   scripts/soak.sh BUILD RUNS SEEDS TEST...
#
# The boots are independent, so SOAK_JOBS of them (default: the host's
# CPUs) run at once.  A TCG guest mostly keeps one host CPU busy (the tests
# run one after the other), so on the 2-CPU host two boots at once finish
# the default soak in a bit over 2 hours instead of 3.5 to 4.  Each boot's
# output is printed when it ends.
#
# The debug kernels run the tests several times slower than make check's
# (mm_selftests: 399 s there, 1925 s with lockdep), so every time limit in
# the guest is multiplied by SOAK_TIME_SCALE (default 4, cowpte.time_scale=
# on the kernel command line) and the VM's by as much.
set -uo pipefail
build=$1 runs=$2 seeds=$3
shift 3
repo=$(cd "$(dirname "$0")/.." && pwd)
kasan=$build/kernel-kasan
jobs=${SOAK_JOBS:-$(nproc)}
case $jobs in '' | *[!0-9]* | 0)
	echo "soak: SOAK_JOBS must be a positive number, not '$jobs'" >&2
	exit 1
	;;
esac
scale=${SOAK_TIME_SCALE:-4}
export CHECK_APPEND="cowpte.time_scale=$scale"
export VM_TIMEOUT=$((${VM_TIMEOUT:-3600} * scale))

# The boots, each writing everything it prints to $build/vm-soak-NAME.log.
kasan_run() { # kasan_run I TEST...
	local i=$1
	shift
	echo "==> soak run $i of $runs: make check's tests on the KASAN kernel"
	CHECK_KERNEL=$kasan CHECK_OUT=$build/vm-soak-$i CHECK_NOCOWPTE=no \
		"$repo/scripts/check.sh" "$build" "$@"
}

stress_run() {
	local out=$build/vm-soak-stress
	echo "==> soak: cow_pte_stress, seeds 1 to $seeds, on the KASAN kernel"
	"$repo/vm/mkrun.sh" "$out.cpio" cmd \
		"for s in \$(seq $seeds); do cow_pte_stress -s \$s > /tmp/out 2>&1 && echo \"seed \$s ok\" || { echo \"seed \$s FAILED\"; cat /tmp/out; }; done" &&
		"$repo/scripts/stage.sh" "running the stress seeds" \
			"$repo/vm/run.sh" "$kasan/arch/x86/boot/bzImage" "$build/initramfs.cpio.gz" \
			"$out.cpio" "$out" "$VM_TIMEOUT"
	"$repo/vm/show.sh" "$out" cmd > "$out-seeds.log"
	local ok bad
	ok=$(grep -c ' ok$' "$out-seeds.log")
	bad=$(grep -c ' FAILED$' "$out-seeds.log")
	sed -n 's/^seed \([0-9]*\) FAILED$/FAIL stress seed \1/p' "$out-seeds.log"
	echo "stress: $ok seeds passed, $bad failed"
	if [ $((ok + bad)) != "$seeds" ]; then
		echo "FAIL stress: $((ok + bad)) of $seeds seeds ran"
		bad=$((bad + 1))
	fi
	# The kernel log of the stress boot, as check.py reads every boot's.
	"$repo/vm/check.py" "$out" > "$out-dmesg.log"
	grep -E '^(PASS|FAIL)' "$out-dmesg.log"
	local p=$(($(grep -c '^PASS' "$out-dmesg.log") + ok))
	local f=$(($(grep -c '^FAIL' "$out-dmesg.log") + bad))
	echo "$p passed, $f failed"
}

lockdep_run() { # lockdep_run TEST...
	echo "==> soak: make check's tests on the lockdep kernel (its kernel log)"
	CHECK_KERNEL=$build/kernel-lockdep CHECK_OUT=$build/vm-soak-lockdep \
		CHECK_NOCOWPTE=no CHECK_ONLY_DMESG=yes "$repo/scripts/check.sh" "$build" "$@"
}

# What reproduces a failure line ("FAIL NAME ...") of boot NAME.
again() { # again BOOT LINE
	local what=${2#FAIL }
	what=${what%%[ :]*}
	case $1 in
	stress)
		case $2 in
		"FAIL stress seed "*)
			echo "make vm CMD='cow_pte_stress -s ${2#FAIL stress seed }'" \
				"(the test kernel; make soak SOAK_RUNS=0 for KASAN)"
			;;
		*) echo "see $build/vm-soak-stress/console.log" ;;
		esac
		;;
	lockdep) echo "make soak SOAK_RUNS=0 SOAK_SEEDS=0 T='$what' (console: $build/vm-soak-lockdep/console.log)" ;;
	*) echo "make soak SOAK_RUNS=1 SOAK_SEEDS=0 T='$what' (console: $build/vm-soak-$1/console.log)" ;;
	esac
}

# The longest boots first, so that none starts last and runs alone.  On
# 2026-12-02: lockdep 48 to 68 min, the stress seeds 47 to 52, a KASAN run
# 40 to 44; two soaks with the KASAN runs first took 149 and 132 min, this
# order would have taken about 132 and 131.
boots=(lockdep)
[ "$seeds" -gt 0 ] && boots+=(stress)
for i in $(seq "$runs"); do boots+=("$i"); done

declare -A pid_of=()
start_boot() { # start_boot NAME TEST...
	local b=$1
	shift
	case $b in
	stress) stress_run ;;
	lockdep) lockdep_run "$@" ;;
	*) kasan_run "$b" "$@" ;;
	esac > "$build/vm-soak-$b.log" 2>&1 &
	pid_of[$!]=$b
	echo "==> soak: boot '$b' started ($(date +%H:%M))"
}

pass=0 fail=0
summary=()
finish_boot() { # finish_boot NAME: print its output, count its result
	local b=$1 log=$build/vm-soak-$1.log p f
	echo "<== soak: boot '$b' ended ($(date +%H:%M)); its output:"
	sed 's/^/    /' "$log"
	p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log" | tail -1)
	# No result line: the boot itself failed, which counts as a failure.
	[ -n "$f" ] || f=1
	pass=$((pass + ${p:-0})) fail=$((fail + f))
	while read -r line; do
		summary+=("$b: $line; again: $(again "$b" "$line")")
	done < <(grep '^FAIL' "$log" | cut -c1-160)
	[ -n "$p" ] || summary+=("$b: the boot gave no result, see $log")
}

reap_boot() { # wait for one running boot to end, and finish it
	local done_pid
	wait -n -p done_pid "${!pid_of[@]}"
	finish_boot "${pid_of[$done_pid]}"
	unset "pid_of[$done_pid]"
}

for b in "${boots[@]}"; do
	while [ ${#pid_of[@]} -ge "$jobs" ]; do reap_boot; done
	start_boot "$b" "$@"
done
while [ ${#pid_of[@]} -gt 0 ]; do reap_boot; done

if [ ${#summary[@]} -gt 0 ]; then
	echo "Failures, and what reproduces them:"
	printf '  %s\n' "${summary[@]}"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
