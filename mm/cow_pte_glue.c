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
#include <linux/ksm.h>
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
 * The usual table of an anonymous VMA in an mm without pins: is every
 * entry none or a present, non-special entry without uffd-wp, that is an
 * anonymous page?  If so, set @anon to their number.  No branch per entry:
 * the per-entry branches of the general loop below were 81 % of a fork
 * whose tables all changed since the previous fork (make profile).  A full
 * table, the common case, takes one pass of ANDs and ORs of the entries:
 * the OR has the special and uffd-wp bits of any entry, the AND is present
 * when every entry is.
 */
static bool cow_pte_scan_anon_table(pte_t *table, int *anon)
{
	pteval_t all = ~(pteval_t)0, any = 0;
	int present = 0, none = 0, i;

	/*
	 * Four entries per round: with one, the loop's own compare and
	 * branch were half of its instructions.
	 */
	BUILD_BUG_ON(PTRS_PER_PTE % 4);
	for (i = 0; i < PTRS_PER_PTE; i += 4) {
		pteval_t a = pte_val(ptep_get(table + i));
		pteval_t b = pte_val(ptep_get(table + i + 1));
		pteval_t c = pte_val(ptep_get(table + i + 2));
		pteval_t d = pte_val(ptep_get(table + i + 3));

		all &= a & b & c & d;
		any |= a | b | c | d;
	}
	if (pte_special(__pte(any)) || pte_uffd_wp(__pte(any)))
		return false;
	if (pte_present(__pte(all))) {
		*anon = PTRS_PER_PTE;
		return true;
	}
	for (i = 0; i < PTRS_PER_PTE; i++) {
		pte_t pte = ptep_get(table + i);

		present += !!pte_present(pte);
		none += !!pte_none(pte);
	}
	if (present + none != PTRS_PER_PTE)
		return false;
	*anon = present;
	return true;
}

/*
 * Fork's look at a table before sharing it, done once when the table first
 * becomes shared: count its RSS and its KSM zero pages, and find entries
 * that rule sharing out.  Present anonymous pages need no struct page
 * access unless the mm has pinned pages (@check_pins); a table of a
 * private file mapping looks at each page to tell file from anonymous.
 * Called with the table's PTE lock.
 */
int cow_pte_scan_table(struct vm_area_struct *vma, unsigned long addr,
		       pte_t *table, bool check_pins, int *rss, int *ksm_zero)
{
	bool anon_vma_only = vma_is_anonymous(vma);
	int i;

	for (i = 0; i < NR_MM_COUNTERS; i++)
		rss[i] = 0;
	*ksm_zero = 0;
	if (anon_vma_only && !check_pins &&
	    cow_pte_scan_anon_table(table, &rss[MM_ANONPAGES]))
		return COW_PTE_SCAN_OK;
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
		/* Zapping a KSM zero page adjusts the KSM counters. */
		if (IS_ENABLED(CONFIG_KSM) && pte_special(pte) &&
		    is_ksm_zero_pte(pte)) {
			(*ksm_zero)++;
			continue;
		}
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

/*
 * A new, empty PTE table; NULL if @gfp allows failure and it fails.  Like
 * pte_alloc_one(), charged to the caller's memory cgroup.  It does not
 * depend on the mm it is for.
 */
struct ptdesc *cow_pte_alloc_table(gfp_t gfp)
{
	pgtable_t table = __pte_alloc_one(NULL, gfp | __GFP_ZERO | __GFP_ACCOUNT);

	return table ? page_ptdesc(table) : NULL;
}

/* Free a table cow_pte_alloc_table() returned that was never mapped. */
void cow_pte_free_table(struct ptdesc *table)
{
	pte_free(NULL, ptdesc_page(table));
}

/*
 * A table for a break under the i_mmap lock: one from the reserve, or one
 * allocated without entering reclaim.  Otherwise count it as wanted for
 * cow_pte_reserve_refill() and return NULL.
 */
struct ptdesc *cow_pte_reserve_table(struct cow_pte_reserve *reserve)
{
	struct ptdesc *table;

	if (reserve->nr)
		return reserve->tables[--reserve->nr];
	table = cow_pte_alloc_table(GFP_NOWAIT | __GFP_NOWARN);
	if (!table)
		reserve->wanted++;
	return table;
}

/* cow_pte_swap_continuation() for a break under the i_mmap lock. */
int cow_pte_reserve_swap(struct cow_pte_reserve *reserve, swp_entry_t entry)
{
	if (!add_swap_count_continuation(entry, GFP_NOWAIT | __GFP_NOWARN))
		return 0;
	reserve->swap = entry;
	return -ENOMEM;
}

/*
 * Called without the i_mmap lock after a zap pass: get what the pass
 * lacked.  Truncation cannot fail, so neither can this: if a plain
 * allocation fails, retry until it succeeds, as a small allocation would.
 * The caller holds no lock that reclaim waits for (a folio lock and the
 * inode's locks at most, as for the page cache allocations of truncation).
 * Returns true if the pass must be repeated.
 */
bool cow_pte_reserve_refill(struct cow_pte_reserve *reserve)
{
	bool again = reserve->wanted || reserve->swap.val;

	while (reserve->wanted && reserve->nr < COW_PTE_RESERVE_TABLES) {
		struct ptdesc *table = cow_pte_alloc_table(GFP_KERNEL);

		if (!table)
			table = cow_pte_alloc_table(GFP_KERNEL | __GFP_NOFAIL);
		reserve->tables[reserve->nr++] = table;
		reserve->wanted--;
	}
	reserve->wanted = 0;
	if (reserve->swap.val &&
	    add_swap_count_continuation(reserve->swap, GFP_KERNEL))
		add_swap_count_continuation(reserve->swap,
					    GFP_KERNEL | __GFP_NOFAIL);
	reserve->swap.val = 0;
	return again;
}

void cow_pte_reserve_release(struct cow_pte_reserve *reserve)
{
	while (reserve->nr)
		cow_pte_free_table(reserve->tables[--reserve->nr]);
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

/* What zapping @nr KSM zero pages does (ksm_might_unmap_zero_page()). */
void cow_pte_unmap_ksm_zero_pages(struct mm_struct *mm, long nr)
{
#ifdef CONFIG_KSM
	atomic_long_sub(nr, &ksm_zero_pages);
	atomic_long_sub(nr, &mm->ksm_zero_pages);
#endif
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
