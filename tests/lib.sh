# Shell helpers for tests/cases (sourced in the guest as /tests/lib.sh).

# time_limit SECS: SECS times the boot's cowpte.time_scale= (1 unless
# given): make soak's KASAN and lockdep kernels run the same tests several
# times slower than make check's kernel (vm/lockdep.config).
time_limit() {
	scale=$(sed -n 's/.*cowpte\.time_scale=\([0-9][0-9]*\).*/\1/p' /proc/cmdline)
	echo $(($1 * ${scale:-1}))
}

# vmstat_cow_pte: the cow_pte_* lines of /proc/vmstat, "name value" each.
vmstat_cow_pte() {
	grep '^cow_pte_' /proc/vmstat
}

# cow_pte_delta BEFORE AFTER: print "# name: delta" for every counter that
# moved, and set $shared and $broken (tables shared; copies + reuses).
cow_pte_delta() {
	shared=0
	broken=0
	while read -r name after; do
		before=$(echo "$1" | awk -v n="$name" '$1 == n {print $2}')
		d=$((after - ${before:-0}))
		[ "$d" = 0 ] && continue
		echo "# $name: +$d"
		case $name in
		cow_pte_share) shared=$d ;;
		cow_pte_break_copy|cow_pte_break_reuse) broken=$((broken + d)) ;;
		esac
	done <<END
$2
END
}

# vm_event NAME: the value of one /proc/vmstat counter.
vm_event() {
	awk -v n="$1" '$1 == n {print $2}' /proc/vmstat
}
