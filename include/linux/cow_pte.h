/* SPDX-License-Identifier: GPL-2.0 */
/*
 * COW PTE: copy-on-write sharing of PTE tables at fork.
 *
 * The policy and the state transitions are implemented in Rust
 * (mm/cow_pte.rs); this header declares its C-callable entry points for the
 * hooks in mm/, kernel/ and fs/, and gives them no-op stubs when
 * CONFIG_COW_PTE is off so that the hooks cost nothing in such kernels.
 * See Documentation/mm/cow_pte.rst.
 */
#ifndef _LINUX_COW_PTE_H
#define _LINUX_COW_PTE_H

#include <linux/errno.h>
#include <linux/types.h>

struct mm_struct;

/* System-wide modes (cow_pte= boot parameter, vm.cow_pte sysctl). */
#define COW_PTE_MODE_DISABLED	0	/* nobody shares */
#define COW_PTE_MODE_OPT_IN	1	/* processes that asked share (default) */
#define COW_PTE_MODE_FORCED	2	/* every process shares */

#ifdef CONFIG_COW_PTE

/*
 * prctl(PR_SET_COW_PTE, flags, 0, 0, 0) and prctl(PR_GET_COW_PTE, 0, 0, 0, 0)
 * for @mm, the caller's own mm.  Return 0 (set), the current flags (get) or
 * a negative errno.
 */
int cow_pte_prctl_set(struct mm_struct *mm, unsigned long flags,
		      unsigned long arg3, unsigned long arg4,
		      unsigned long arg5);
int cow_pte_prctl_get(struct mm_struct *mm, unsigned long arg2,
		      unsigned long arg3, unsigned long arg4,
		      unsigned long arg5);

/*
 * Called by execve() on the new mm, whose flags were inherited from the old
 * one: COW PTE stays on only if the process asked for that.
 */
void cow_pte_exec_mm(struct mm_struct *mm);

/* The value of the "CowPte:" line of /proc/<pid>/status for @mm. */
const char *cow_pte_mm_status(struct mm_struct *mm);

/* System-wide mode: parse a boot parameter value, read, set. */
int cow_pte_mode_parse(const char *str);
int cow_pte_mode_get(void);
int cow_pte_mode_set(int mode);

/* Pure helpers of the policy core, exported for the KUnit suite. */
int cow_pte_prctl_check(unsigned long flags, unsigned long arg3,
			unsigned long arg4, unsigned long arg5);

#else /* !CONFIG_COW_PTE */

static inline int cow_pte_prctl_set(struct mm_struct *mm, unsigned long flags,
				    unsigned long arg3, unsigned long arg4,
				    unsigned long arg5)
{
	return -EINVAL;
}

static inline int cow_pte_prctl_get(struct mm_struct *mm, unsigned long arg2,
				    unsigned long arg3, unsigned long arg4,
				    unsigned long arg5)
{
	return -EINVAL;
}

static inline void cow_pte_exec_mm(struct mm_struct *mm)
{
}

static inline const char *cow_pte_mm_status(struct mm_struct *mm)
{
	return NULL;
}

#endif /* CONFIG_COW_PTE */
#endif /* _LINUX_COW_PTE_H */
