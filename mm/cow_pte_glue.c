// SPDX-License-Identifier: GPL-2.0
/*
 * C glue of COW PTE: the kernel interfaces that are C macros (boot
 * parameters, sysctl tables) and forward to the Rust core in mm/cow_pte.rs.
 */
#include <linux/cow_pte.h>
#include <linux/init.h>
#include <linux/printk.h>
#include <linux/sysctl.h>

/* cow_pte=disabled|opt-in|forced (or 0|1|2): the system-wide mode. */
static int __init cow_pte_setup(char *str)
{
	int mode = cow_pte_mode_parse(str);

	if (mode < 0) {
		pr_err("cow_pte: invalid mode '%s' (want disabled, opt-in or forced); keeping %d\n",
		       str ? str : "", cow_pte_mode_get());
		return -EINVAL;
	}
	return cow_pte_mode_set(mode);
}
early_param("cow_pte", cow_pte_setup);

/*
 * vm.cow_pte: 0 (disabled), 1 (opt-in) or 2 (forced).  Values outside the
 * range are rejected with -EINVAL by proc_dointvec_minmax().
 */
static int cow_pte_sysctl_mode(const struct ctl_table *table, int write,
			       void *buffer, size_t *lenp, loff_t *ppos)
{
	struct ctl_table tmp = *table;
	int mode = cow_pte_mode_get();
	int ret;

	tmp.data = &mode;
	ret = proc_dointvec_minmax(&tmp, write, buffer, lenp, ppos);
	if (ret || !write)
		return ret;
	return cow_pte_mode_set(mode);
}

static const struct ctl_table cow_pte_sysctls[] = {
	{
		.procname	= "cow_pte",
		.maxlen		= sizeof(int),
		.mode		= 0644,
		.proc_handler	= cow_pte_sysctl_mode,
		.extra1		= SYSCTL_ZERO,
		.extra2		= SYSCTL_TWO,
	},
};

static int __init cow_pte_sysctl_init(void)
{
	register_sysctl_init("vm", cow_pte_sysctls);
	return 0;
}
subsys_initcall(cow_pte_sysctl_init);
