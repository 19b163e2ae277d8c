#!/bin/bash
# Run tests in the VM: every test on the COW PTE kernel (one boot), and the
# tests marked "# kernel: any" also on the kernel built without
# CONFIG_COW_PTE (a second boot).  Ends with "N passed, N failed".
#
#   scripts/check.sh BUILD TEST...
#
# For make soak: CHECK_KERNEL (a kernel build directory instead of
# BUILD/kernel), CHECK_OUT (instead of BUILD/vm-check), CHECK_NOCOWPTE=no
# (no second boot), CHECK_ONLY_DMESG=yes (judge the kernel log only),
# CHECK_APPEND (more kernel command line, as cowpte.time_scale=).
set -uo pipefail
build=$1
shift
repo=$(cd "$(dirname "$0")/.." && pwd)
timeout=${VM_TIMEOUT:-3600}

on=() off=()
for t in "$@"; do
	[ "$t" = main ] && continue
	on+=("$t")
	grep -q '^# kernel: any' "$repo/tests/cases/$t" && off+=("$t")
done

boot() { # boot KERNEL_DIR OUTDIR APPEND TEST...
	local kdir=$1 out=$2 append=$3
	shift 3
	"$repo/vm/mkrun.sh" "$out.cpio" tests "$@" &&
		"$repo/scripts/stage.sh" "running $# test(s) on $(basename "$kdir")" \
			env VM_APPEND="$append" "$repo/vm/run.sh" "$kdir/arch/x86/boot/bzImage" \
			"$build/initramfs.cpio.gz" "$out.cpio" "$out" "$timeout"
}

args=()
kernel=${CHECK_KERNEL:-$build/kernel}
out=${CHECK_OUT:-$build/vm-check}
[ "${CHECK_NOCOWPTE:-yes}" = no ] && off=()
if [ ${#on[@]} -gt 0 ]; then
	# An invalid cow_pte= between two valid ones: tests/cases/
	# cow_pte_bootparam checks it was rejected and the mode kept.
	boot "$kernel" "$out" \
		"cow_pte=disabled cow_pte=bogus cow_pte=opt-in ${CHECK_APPEND:-}" "${on[@]}"
	if [ "${CHECK_ONLY_DMESG:-no}" = yes ]; then
		args+=("$out")
	else
		args+=("$out" "${on[@]}")
	fi
fi
if [ ${#off[@]} -gt 0 ]; then
	boot "$build/kernel-nocowpte" "$build/vm-check-nocowpte" "" "${off[@]}"
	args+=(-- "$build/vm-check-nocowpte" "${off[@]}")
fi
exec "$repo/vm/check.py" "${args[@]}"
