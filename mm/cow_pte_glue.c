// SPDX-License-Identifier: GPL-2.0
/*
 * C glue of COW PTE: the kernel interfaces that are C macros (boot
 * parameter, sysctl table) and the page-table primitives the Rust core in
 * mm/cow_pte.rs calls.  The primitives do one thing each and take no
 * decision: locking, ordering and accounting rules live in the Rust core.
 * The per-entry copy of a break is in mm/memory.c, next to the fork code it
 * reuses.
 */
#include <linux/cow_pte.h>
#include <linux/init.h>
#include <linux/mm.h>
#include <linux/pgalloc.h>
#include <linux/printk.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <linux/sysctl.h>
#include <linux/userfaultfd_k.h>
#include <asm/tlbflush.h>

#include "internal.h"

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

static struct ctl_table cow_pte_sysctls[] = {
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

/*
 * Fork's look at a table before sharing it, done once when the table first
 * becomes shared: count its RSS and find entries that rule sharing out.
 * Present anonymous pages need no struct page access unless the mm has
 * pinned pages (@check_pins); a table of a private file mapping looks at
 * each page to tell file from anonymous.  Called with the table's PTE lock.
 */
int cow_pte_scan_table(struct vm_area_struct *vma, unsigned long addr,
		       pte_t *table, bool check_pins, int *rss)
{
	bool anon_vma_only = vma_is_anonymous(vma);
	int i;

	for (i = 0; i < NR_MM_COUNTERS; i++)
		rss[i] = 0;
	for (i = 0; i < PTRS_PER_PTE; i++, addr += PAGE_SIZE) {
		pte_t pte = ptep_get(table + i);
		struct folio *folio;
		struct page *page;

		if (pte_none(pte))
			continue;
		if (!pte_present(pte)) {
			swp_entry_t entry = pte_to_swp_entry(pte);

			if (non_swap_entry(entry))
				return COW_PTE_SCAN_ENTRY;
			if (pte_swp_uffd_wp(pte))
				return COW_PTE_SCAN_UFFD_WP;
			rss[MM_SWAPENTS]++;
			continue;
		}
		if (pte_uffd_wp(pte))
			return COW_PTE_SCAN_UFFD_WP;
		/*
		 * The common case, kept to bit tests: in an anonymous VMA
		 * (never PFNMAP or MIXEDMAP here) a present entry maps an
		 * anonymous page unless it is special (the zero page).
		 */
		if (anon_vma_only && !check_pins) {
			if (!pte_special(pte))
				rss[MM_ANONPAGES]++;
			continue;
		}
		page = vm_normal_page(vma, addr, pte);
		if (!page)
			continue;
		folio = page_folio(page);
		if (folio_test_anon(folio) && check_pins &&
		    folio_maybe_dma_pinned(folio))
			return COW_PTE_SCAN_PINNED;
		rss[mm_counter(folio)]++;
	}
	return COW_PTE_SCAN_OK;
}

/* A new, empty PTE table for @mm; NULL if @gfp allows failure and it fails. */
struct ptdesc *cow_pte_alloc_table(struct mm_struct *mm, gfp_t gfp)
{
	pgtable_t table = __pte_alloc_one(mm, gfp | __GFP_ZERO | __GFP_ACCOUNT);

	return table ? page_ptdesc(table) : NULL;
}

/* Free a table cow_pte_alloc_table() returned that was never mapped. */
void cow_pte_free_table(struct mm_struct *mm, struct ptdesc *table)
{
	pte_free(mm, ptdesc_page(table));
}

pte_t *cow_pte_table_entries(struct ptdesc *table)
{
	return (pte_t *)ptdesc_address(table);
}

/*
 * Map @table, a new table of @mm's own, at @pmd.  The entries the caller
 * wrote must be visible to lockless walkers before the table is: the
 * barrier pairs with the one in pmd_install().
 */
void cow_pte_install_table(struct mm_struct *mm, pmd_t *pmd,
			   struct ptdesc *table)
{
	smp_wmb(); /* the entries before the table, see pmd_install() */
	pmd_populate(mm, pmd, ptdesc_page(table));
}

/*
 * Flush @mm's TLB for the 2 MiB the table at @addr maps, before @mm lets go
 * of the table (break or drop) and while the table is still referenced, so
 * that no CPU can use a stale translation through it once another sharer
 * changes it.  Freed-tables semantics: paging-structure caches that point
 * to the table go too, and lazy-TLB CPUs are not skipped.
 */
void cow_pte_flush(struct mm_struct *mm, unsigned long addr)
{
	addr &= PMD_MASK;
	flush_tlb_mm_range(mm, addr, addr + PMD_SIZE, PAGE_SHIFT, true);
}

void cow_pte_add_rss(struct mm_struct *mm, const int *rss, int sign)
{
	int i;

	for (i = 0; i < NR_MM_COUNTERS; i++)
		if (rss[i])
			add_mm_counter(mm, i, sign * rss[i]);
}

/* Make sure swapoff finds @dst: the shared table holds swap entries. */
void cow_pte_mmlist_add(struct mm_struct *dst, struct mm_struct *src)
{
	if (!list_empty(&dst->mmlist))
		return;
	spin_lock(&mmlist_lock);
	if (list_empty(&dst->mmlist))
		list_add(&dst->mmlist, &src->mmlist);
	spin_unlock(&mmlist_lock);
}

int cow_pte_swap_continuation(swp_entry_t entry, gfp_t gfp)
{
	return add_swap_count_continuation(entry, gfp);
}

pmd_t *cow_pte_find_pmd(struct mm_struct *mm, unsigned long addr)
{
	return mm_find_pmd(mm, addr);
}
