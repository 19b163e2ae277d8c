/* SPDX-License-Identifier: GPL-2.0 */
/*
 * COW PTE: copy-on-write sharing of PTE tables at fork.
 *
 * The policy and the state transitions are implemented in Rust
 * (mm/cow_pte.rs); this header declares its C-callable entry points for the
 * hooks in mm/, kernel/ and fs/, and gives them no-op stubs when
 * CONFIG_COW_PTE is off so that the hooks cost nothing in such kernels.
 * It also holds the small page-table primitives both sides use.
 * See Documentation/mm/cow_pte.rst.
 */
#ifndef _LINUX_COW_PTE_H
#define _LINUX_COW_PTE_H

#include <linux/errno.h>
#include <linux/gfp_types.h>
#include <linux/mm.h>
#include <linux/types.h>

struct mm_struct;
struct vm_area_struct;
struct mmu_gather;
struct ptdesc;

/*
 * The COW state word of a PTE table (ptdesc->pt_cow_sharers): how many mms
 * map the table, and whether its entries are already as fork leaves the
 * parent's (see mm/cow_pte/pgtable.rs).
 */
#define COW_PTE_STATE_PREPARED	0x80000000U
#define COW_PTE_STATE_SHARERS	0x7fffffffU

/*
 * Tables for breaks that run where they may not sleep in an allocation
 * (zaps under the i_mmap lock: truncation, hole punching).  The caller
 * fills the reserve with cow_pte_reserve_refill() after dropping its locks
 * and retries; a break takes from it, or allocates without sleeping, and
 * otherwise records what it lacked and gives up.
 */
#define COW_PTE_RESERVE_TABLES	8

struct cow_pte_reserve {
	struct ptdesc *tables[COW_PTE_RESERVE_TABLES];
	unsigned int nr;		/* tables held */
	unsigned int wanted;		/* tables breaks lacked */
	swp_entry_t swap;		/* a swap count continuation they lacked */
};

/* System-wide modes (cow_pte= boot parameter, vm.cow_pte sysctl). */
#define COW_PTE_MODE_DISABLED	0	/* nobody shares */
#define COW_PTE_MODE_OPT_IN	1	/* processes that asked share (default) */
#define COW_PTE_MODE_FORCED	2	/* every process shares */

/* What cow_pte_scan_table() found in a table fork wants to share. */
enum cow_pte_scan {
	COW_PTE_SCAN_OK = 0,		/* shareable */
	COW_PTE_SCAN_UFFD_WP,		/* userfaultfd write-protect bits */
	COW_PTE_SCAN_PINNED,		/* a maybe-pinned anonymous page */
	COW_PTE_SCAN_ENTRY,		/* migration, device, marker entry */
};

/*
 * The COW-shared tables that may map pages of one table a report reads
 * (mm/cow_pte_report.c).
 */
struct cow_pte_peer {
	struct ptdesc *table;		/* mapped read-only, >= 2 sharers */
	pgoff_t pgoff;			/* page offset of its first entry */
	unsigned int extra;		/* its sharers - 1 */
};

struct cow_pte_peers {
	struct cow_pte_peer *peer;	/* inline_peer, or allocated */
	unsigned int nr, max;
	bool incomplete;		/* more than could be allocated */
	struct anon_vma *anon_vma;	/* the rmap lock held, one of these */
	struct address_space *mapping;
	struct cow_pte_peer inline_peer[4];
	struct {			/* KSM pages, by page offset */
		pgoff_t pgoff;
		struct folio *folio;	/* not referenced, compared only */
		unsigned int extra;
	} *ksm;
	unsigned int nr_ksm;
};

/* What a zap of a range takes away. */
enum cow_pte_zap {
	COW_PTE_ZAP_SOME,		/* only some pages (zap details) */
	COW_PTE_ZAP_ALL,		/* every page; the tables stay */
	COW_PTE_ZAP_UNMAP,		/* every page; the tables are freed next */
};

#ifdef CONFIG_COW_PTE

/*
 * A PTE table is COW-shared, from the point of view of one mm, when that
 * mm's PMD entry points to it without write permission: the CPU then
 * cannot write through any of its entries, and software must break the
 * share (give this mm a table of its own) before changing anything in it.
 * Stock x86 user page tables never have a read-only table PMD.
 */
static inline bool cow_pte_pmd_is_table(pmd_t pmd)
{
	return pmd_present(pmd) && !pmd_leaf(pmd);
}

static inline bool cow_pte_pmd_shared(pmd_t pmd)
{
	return cow_pte_pmd_is_table(pmd) && !pmd_write(pmd);
}

/*
 * A table PMD entry without and with write permission.  Only the RW bit
 * changes: pmd_wrprotect() is for leaf entries and may move the dirty bit.
 */
static inline pmd_t cow_pte_pmd_mkshared(pmd_t pmd)
{
	return pmd_clear_flags(pmd, _PAGE_RW);
}

static inline pmd_t cow_pte_pmd_mkprivate(pmd_t pmd)
{
	return pmd_set_flags(pmd, _PAGE_RW);
}

/* The PTE table a (non-leaf, present) PMD entry points to. */
static inline struct ptdesc *cow_pte_pmd_table(pmd_t pmd)
{
	return page_ptdesc(pmd_page(pmd));
}

/*
 * The COW state of a PTE table (its sharers, and flags the Rust core
 * defines) and the RSS counters it holds, kept in its ptdesc (see struct
 * ptdesc).  Both are protected by the table's own PTE lock, which is the
 * same for every sharer.  A table that is not shared has state 1 (one
 * sharer); the RSS vector is only valid while some PMD maps the table
 * read-only.
 */
static inline unsigned int ptdesc_cow_state(struct ptdesc *ptdesc)
{
	return atomic_read(&ptdesc->pt_cow_sharers);
}

static inline void ptdesc_set_cow_state(struct ptdesc *ptdesc,
					unsigned int state)
{
	atomic_set(&ptdesc->pt_cow_sharers, state);
}

static inline unsigned long ptdesc_cow_rss(struct ptdesc *ptdesc)
{
	return ptdesc->pt_cow_rss;
}

static inline void ptdesc_set_cow_rss(struct ptdesc *ptdesc, unsigned long rss)
{
	ptdesc->pt_cow_rss = rss;
}

/*
 * How many mms map the table under @pmd (a present table entry): 1 unless
 * the table is COW-shared.  Without the table's PTE lock this is a
 * snapshot, good for reports and heuristics only.
 */
static inline unsigned int cow_pte_pmd_sharers(pmd_t pmd)
{
	if (!cow_pte_pmd_shared(pmd))
		return 1;
	return ptdesc_cow_state(cow_pte_pmd_table(pmd)) & COW_PTE_STATE_SHARERS;
}

/*
 * Entry points of the Rust core (mm/cow_pte.rs).
 */

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

/*
 * Fork: share the PTE table under @src_pmd ([@addr, @end) of @src_vma) with
 * the child instead of copying it.  Returns true if shared; false if the
 * caller must copy the table.  Called with both mmap locks held for write.
 */
bool cow_pte_fork(struct vm_area_struct *dst_vma,
		  struct vm_area_struct *src_vma, pmd_t *dst_pmd,
		  pmd_t *src_pmd, unsigned long addr, unsigned long end);

/*
 * Break the share of the table under @pmd for @vma's mm: afterwards @pmd is
 * none, or points to a table this mm may modify.  0, or -ENOMEM (allocation
 * with @gfp failed); the mapping is unchanged on failure.  The caller holds what
 * keeps @vma stable (mmap or VMA lock, or the rmap lock of a folio mapped
 * in it) and no page table lock.
 */
int cow_pte_break(struct vm_area_struct *vma, pmd_t *pmd, unsigned long addr,
		  gfp_t gfp);

/* cow_pte_break() for every shared table in [@start, @end) of @vma. */
int cow_pte_break_range(struct vm_area_struct *vma, unsigned long start,
			unsigned long end);

/*
 * Break the shared tables that a VMA boundary at @start or @end (if not
 * PMD-aligned) would cut in two, so that a shared table is always covered
 * by a single VMA in every mm that maps it.  Called with the mmap lock held,
 * before a VMA boundary moves there or a partial zap.
 */
int cow_pte_break_boundaries(struct mm_struct *mm, unsigned long start,
			     unsigned long end);

/*
 * Zap: [@addr, @end) of the table under @pmd is being zapped.  If the
 * table is shared and the whole table goes, drop this mm's share (and,
 * unless the tables are freed next, map an empty table in its place, as a
 * stock zap leaves one) and return true: nothing is left to zap.
 * Otherwise make the table this mm's own and return false.  With a
 * @reserve, a break that lacks memory returns true and leaves the table
 * alone: the caller refills the reserve and zaps again.
 */
bool cow_pte_zap(struct vm_area_struct *vma, pmd_t *pmd, unsigned long addr,
		 unsigned long end, enum cow_pte_zap kind,
		 struct cow_pte_reserve *reserve);

/* After a zap pass with @reserve: refill it; true if the pass must rerun. */
bool cow_pte_reserve_refill(struct cow_pte_reserve *reserve);
/* Free what is left in @reserve. */
void cow_pte_reserve_release(struct cow_pte_reserve *reserve);

/*
 * Reports (smaps, pagemap, numa_maps, kpagecount): how many more mappings
 * a stock fork would have left than the mapcounts say, see
 * mm/cow_pte_report.c.
 */
bool cow_pte_peers_find(struct vm_area_struct *vma, pmd_t *pmd,
			unsigned long addr, unsigned long end,
			struct cow_pte_peers *peers);
unsigned int cow_pte_peers_extra(struct cow_pte_peers *peers, pgoff_t pgoff,
				 pte_t pte);
void cow_pte_peers_release(struct cow_pte_peers *peers);
unsigned int cow_pte_page_extra(struct folio *folio, struct page *page);
/* A table gained its second sharer (@nr 1) or lost it (@nr -1). */
void cow_pte_shared_tables_add(long nr);

/* Pure helpers of the policy core, exported for the KUnit suite. */
int cow_pte_prctl_check(unsigned long flags, unsigned long arg3,
			unsigned long arg4, unsigned long arg5);
long cow_pte_counts_pack(const int *counts);
int cow_pte_counts_unpack(unsigned long packed, int *counts);

/*
 * C primitives the Rust core calls (mm/cow_pte_glue.c, mm/memory.c).
 */

/*
 * Count the RSS and the KSM zero pages of a table and check it can be
 * shared (enum cow_pte_scan).
 */
int cow_pte_scan_table(struct vm_area_struct *vma, unsigned long addr,
		       pte_t *table, bool check_pins, int *rss, int *ksm_zero);

/*
 * Copy the shared table @src into @dst, a new table of @vma's mm, doing
 * per entry what fork does (mm/memory.c).  All or nothing: 0 when done,
 * else @dst is left empty and the result is -EIO when a swap count
 * continuation for *@swap is needed.
 */
int cow_pte_copy_table(struct vm_area_struct *vma, unsigned long addr,
		       pte_t *dst, pte_t *src, int *rss, swp_entry_t *swap);

/* Leave the entries of a shared table as fork leaves the parent's. */
void cow_pte_prepare_entries(struct vm_area_struct *vma, unsigned long addr,
			     pte_t *table);

/* A swap count continuation for @entry, allocated with @gfp. */
int cow_pte_swap_continuation(swp_entry_t entry, gfp_t gfp);

struct ptdesc *cow_pte_alloc_table(gfp_t gfp);
/* A table from @reserve (or allocated without sleeping), else NULL. */
struct ptdesc *cow_pte_reserve_table(struct cow_pte_reserve *reserve);
/* A swap count continuation without sleeping, else recorded in @reserve. */
int cow_pte_reserve_swap(struct cow_pte_reserve *reserve, swp_entry_t entry);
void cow_pte_free_table(struct ptdesc *table);
pte_t *cow_pte_table_entries(struct ptdesc *table);

/* Map a new table of @mm's own at @pmd (its entries are ready). */
void cow_pte_install_table(struct mm_struct *mm, pmd_t *pmd,
			   struct ptdesc *table);

/*
 * Flush @mm's TLB for the table at @addr, page-structure caches included,
 * before this mm lets go of the table.
 */
void cow_pte_flush(struct mm_struct *mm, unsigned long addr);

/* Add (@sign 1) or remove (@sign -1) an RSS vector to @mm's counters. */
void cow_pte_add_rss(struct mm_struct *mm, const int *rss, int sign);

/* @mm let go of @nr KSM zero pages (ksm_might_unmap_zero_page() for each). */
void cow_pte_unmap_ksm_zero_pages(struct mm_struct *mm, long nr);

/* Put @dst on swapoff's mmlist (after @src) if the table holds swap. */
void cow_pte_mmlist_add(struct mm_struct *dst, struct mm_struct *src);

pmd_t *cow_pte_find_pmd(struct mm_struct *mm, unsigned long addr);

#else /* !CONFIG_COW_PTE */

static inline bool cow_pte_pmd_shared(pmd_t pmd)
{
	return false;
}

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

static inline bool cow_pte_fork(struct vm_area_struct *dst_vma,
				struct vm_area_struct *src_vma, pmd_t *dst_pmd,
				pmd_t *src_pmd, unsigned long addr,
				unsigned long end)
{
	return false;
}

static inline int cow_pte_break(struct vm_area_struct *vma, pmd_t *pmd,
				unsigned long addr, gfp_t gfp)
{
	return 0;
}

static inline int cow_pte_break_range(struct vm_area_struct *vma,
				      unsigned long start, unsigned long end)
{
	return 0;
}

static inline int cow_pte_break_boundaries(struct mm_struct *mm,
					   unsigned long start,
					   unsigned long end)
{
	return 0;
}

static inline bool cow_pte_zap(struct vm_area_struct *vma, pmd_t *pmd,
			       unsigned long addr, unsigned long end,
			       enum cow_pte_zap kind,
			       struct cow_pte_reserve *reserve)
{
	return false;
}

static inline bool cow_pte_reserve_refill(struct cow_pte_reserve *reserve)
{
	return false;
}

static inline void cow_pte_reserve_release(struct cow_pte_reserve *reserve)
{
}

static inline unsigned int cow_pte_pmd_sharers(pmd_t pmd)
{
	return 1;
}

static inline bool cow_pte_peers_find(struct vm_area_struct *vma,
				      pmd_t *pmd, unsigned long addr,
				      unsigned long end,
				      struct cow_pte_peers *peers)
{
	return false;
}

static inline unsigned int cow_pte_peers_extra(struct cow_pte_peers *peers,
					       pgoff_t pgoff, pte_t pte)
{
	return 0;
}

static inline void cow_pte_peers_release(struct cow_pte_peers *peers)
{
}

static inline unsigned int cow_pte_page_extra(struct folio *folio,
					      struct page *page)
{
	return 0;
}

#endif /* CONFIG_COW_PTE */

/*
 * Break the share of the table under @pmd if it is COW-shared (see
 * cow_pte_break()); hooks on paths that may change PTEs call this first.
 */
static inline int cow_pte_unshare(struct vm_area_struct *vma, pmd_t *pmd,
				  unsigned long addr, gfp_t gfp)
{
	if (likely(!cow_pte_pmd_shared(pmdp_get_lockless(pmd))))
		return 0;
	return cow_pte_break(vma, pmd, addr, gfp);
}

#endif /* _LINUX_COW_PTE_H */
