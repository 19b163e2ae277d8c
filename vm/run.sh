#!/bin/bash
# Boot the test kernel once and run what the per-run initramfs asks for.
#
#   vm/run.sh BZIMAGE BASE.cpio.gz RUN.cpio OUTDIR [TIMEOUT_SECS]
#
# OUTDIR receives console.log (ttyS0: kernel messages) and results.log
# (ttyS1: test output framed by @@@ markers).  Exit status: 0 when the guest
# reached "@@@ DONE", 2 on a timeout (last console lines printed), 3 on a
# kernel panic (panic text printed).  Environment: VM_MEM (default 8G),
# VM_SMP (2), VM_NUMA (1; 2 splits memory and CPUs into two NUMA nodes),
# VM_APPEND (extra kernel command line), VM_ACCEL (tcg/kvm, else probed once
# and cached in OUTDIR/../accel).  The host's root file system is exported
# read-only over 9p (mounted at /host in the guest, see vm/host-run).
set -uo pipefail
kernel=$1
base=$2
run=$3
outdir=$4
timeout_s=${5:-1800}
mem=${VM_MEM:-8G}
smp=${VM_SMP:-2}
smp_opt=$smp
numa=()
case "${VM_NUMA:-1}" in
1) ;;
2)
	# Two nodes with half the memory and half the CPUs each, so that page
	# migration between nodes (move_pages, mbind, KSM across nodes) runs.
	gib=${mem%G}
	if [ "$gib" = "$mem" ] || [ $((gib % 2)) != 0 ] || [ $((smp % 2)) != 0 ]; then
		echo "vm: VM_NUMA=2 needs VM_MEM in an even number of G and an even VM_SMP" >&2
		exit 1
	fi
	# One socket per node: cores of one socket share a last-level cache,
	# and the kernel warns when such cores sit on different nodes.
	smp_opt="$smp,sockets=2"
	for n in 0 1; do
		numa+=(-object "memory-backend-ram,id=node$n,size=$((gib / 2))G"
		       -numa "node,nodeid=$n,memdev=node$n,cpus=$((n * smp / 2))-$(((n + 1) * smp / 2 - 1))")
	done
	;;
*)
	echo "vm: VM_NUMA must be 1 or 2, not '${VM_NUMA}'" >&2
	exit 1
	;;
esac
mkdir -p "$outdir"
console="$outdir/console.log"
results="$outdir/results.log"
initrd="$outdir/initrd.img"

# base.cpio.gz, zero padding to a 4-byte boundary, then the run archive.
cp "$base" "$initrd"
pad=$(( (4 - $(stat -c %s "$initrd") % 4) % 4 ))
head -c "$pad" /dev/zero >> "$initrd"
cat "$run" >> "$initrd"

cmdline="console=ttyS0 panic=-1 oops=panic panic_on_warn=0 reboot=t nokaslr ${VM_APPEND:-}"

qemu() {
	local accel=$1 limit=$2 con=$3 res=$4
	shift 4
	timeout --foreground -k 5 "$limit" qemu-system-x86_64 \
		-accel "$accel" -m "$mem" -smp "$smp_opt" -cpu max,pdpe1gb=off "${numa[@]}" \
		-kernel "$kernel" -initrd "$initrd" -append "$cmdline $*" \
		-nographic -no-reboot -monitor none \
		-serial "file:$con" -serial "file:$res" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-nic none > /dev/null 2>&1
}

accel=${VM_ACCEL:-}
if [ -z "$accel" ]; then
	cache="$outdir/../accel"
	if [ -f "$cache" ]; then
		accel=$(cat "$cache")
	else
		# /dev/kvm may exist while nested guests hang after the BIOS: use
		# KVM only if a guest really boots with it within a short time.
		accel=tcg
		if [ -w /dev/kvm ]; then
			echo "  probing KVM (30 s at most)"
			rm -f "$outdir/probe-res.log"
			(qemu kvm 30 /dev/null "$outdir/probe-res.log" cowpte.probe=1) 2>/dev/null
			grep -q '@@@ BOOTED' "$outdir/probe-res.log" 2>/dev/null && accel=kvm
		fi
		echo "$accel" > "$cache"
	fi
fi
echo "  booting $(basename "$kernel") under $accel (mem $mem, $smp cpus, timeout ${timeout_s}s)"
rm -f "$console" "$results"
start=$(date +%s)
qemu "$accel" "$timeout_s" "$console" "$results"
status=$?
echo "  VM ran $(( $(date +%s) - start )) s"
if grep -q '^@@@ DONE' <(tr -d '\r' < "$results" 2>/dev/null); then
	exit 0
fi
if grep -q 'Kernel panic' "$console" 2>/dev/null; then
	echo "vm: KERNEL PANIC; console:" >&2
	grep -B 40 -A 5 'Kernel panic' "$console" | tail -60 >&2
	exit 3
fi
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
	echo "vm: TIMEOUT after ${timeout_s}s; last console lines:" >&2
else
	echo "vm: guest stopped without finishing (qemu status $status); last console lines:" >&2
fi
tail -30 "$console" >&2
echo "vm: last test output lines:" >&2
tail -15 "$results" 2>/dev/null | tr -d '\r' >&2
exit 2
