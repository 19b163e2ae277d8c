#!/bin/bash
# make soak: what make check runs, RUNS times on the KASAN kernel, then the
# stress test over SEEDS seeds in one more boot, then make check's tests on
# the lockdep kernel, judged by its kernel log only: lockdep makes the
# timing-dependent upstream tests (KSM scans) miss their own time limits
# (vm/lockdep.config), which the KASAN runs and make check judge.  Every
# failure is reported with what reproduces it; ends "N passed, N failed"
# over all runs.
#
#   scripts/soak.sh BUILD RUNS SEEDS TEST...
#
# The debug kernels run the tests several times slower than make check's
# (mm_selftests: 513 s there, 1925 s with lockdep), so every time limit in
# the guest is multiplied by SOAK_TIME_SCALE (default 4, cowpte.time_scale=
# on the kernel command line) and the VM's by as much.
set -uo pipefail
build=$1 runs=$2 seeds=$3
shift 3
repo=$(cd "$(dirname "$0")/.." && pwd)
kernel=$build/kernel-kasan
pass=0 fail=0
summary=()
scale=${SOAK_TIME_SCALE:-4}
export CHECK_APPEND="cowpte.time_scale=$scale"
export VM_TIMEOUT=$((${VM_TIMEOUT:-3600} * scale))

count() { # count LOG: add the "N passed, N failed" of a check.py run
	local p f
	p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$1" | tail -1)
	f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$1" | tail -1)
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-1}))
}

for i in $(seq "$runs"); do
	out=$build/vm-soak-$i
	echo "==> soak run $i of $runs: make check's tests on the KASAN kernel"
	CHECK_KERNEL=$kernel CHECK_OUT=$out CHECK_NOCOWPTE=no \
		"$repo/scripts/check.sh" "$build" "$@" | tee "$out.log"
	count "$out.log"
	while read -r line; do
		summary+=("run $i: $line (console: $out/console.log; again: make soak" \
			"SOAK_RUNS=1 T='${line#FAIL }')")
	done < <(grep -o '^FAIL [^ :]*' "$out.log")
done

echo "==> soak: cow_pte_stress, seeds 1 to $seeds, on the KASAN kernel"
"$repo/vm/mkrun.sh" "$build/run-soak-stress.cpio" cmd \
	"for s in \$(seq $seeds); do cow_pte_stress -s \$s > /tmp/out 2>&1 && echo \"seed \$s ok\" || { echo \"seed \$s FAILED\"; cat /tmp/out; }; done" &&
	"$repo/scripts/stage.sh" "running the stress seeds" \
		"$repo/vm/run.sh" "$kernel/arch/x86/boot/bzImage" "$build/initramfs.cpio.gz" \
		"$build/run-soak-stress.cpio" "$build/vm-soak-stress" "$VM_TIMEOUT"
"$repo/vm/show.sh" "$build/vm-soak-stress" cmd > "$build/vm-soak-stress.log"
ok=$(grep -c ' ok$' "$build/vm-soak-stress.log")
bad=$(grep -c ' FAILED$' "$build/vm-soak-stress.log")
echo "stress: $ok seeds passed, $bad failed"
pass=$((pass + ok)) fail=$((fail + bad))
while read -r seed; do
	summary+=("stress seed $seed: make vm CMD='cow_pte_stress -s $seed'")
done < <(sed -n 's/^seed \([0-9]*\) FAILED$/\1/p' "$build/vm-soak-stress.log")
# The kernel log of the stress boot, as check.py reads every boot's.
if "$repo/vm/check.py" "$build/vm-soak-stress" > "$build/vm-soak-stress-dmesg.log"; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	summary+=("stress boot kernel log: $(grep FAIL "$build/vm-soak-stress-dmesg.log")")
fi

echo "==> soak: make check's tests on the lockdep kernel (its kernel log)"
CHECK_KERNEL=$build/kernel-lockdep CHECK_OUT=$build/vm-soak-lockdep CHECK_NOCOWPTE=no \
	CHECK_ONLY_DMESG=yes "$repo/scripts/check.sh" "$build" "$@" | tee "$build/vm-soak-lockdep.log"
count "$build/vm-soak-lockdep.log"
grep -q '^FAIL' "$build/vm-soak-lockdep.log" &&
	summary+=("lockdep boot: $(grep '^FAIL' "$build/vm-soak-lockdep.log")")

if [ ${#summary[@]} -gt 0 ]; then
	echo "Failures, and what reproduces them:"
	printf '  %s\n' "${summary[@]}"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
