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
 * with @gfp failed) or -EHWPOISON (a page that had to be copied is
 * poisoned); the mapping is unchanged on failure.  The caller holds what
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
 * Zap: [@addr, @end) of the table under @pmd is being unmapped.  If the
 * table is shared and the whole table goes (@whole: no details restrict
 * what is zapped), drop this mm's share and return true: nothing is left
 * to zap.  Otherwise make the table this mm's own and return false.
 */
bool cow_pte_zap(struct mmu_gather *tlb, struct vm_area_struct *vma,
		 pmd_t *pmd, unsigned long addr, unsigned long end, bool whole);

/* Pure helpers of the policy core, exported for the KUnit suite. */
int cow_pte_prctl_check(unsigned long flags, unsigned long arg3,
			unsigned long arg4, unsigned long arg5);
long cow_pte_rss_pack(const int *rss);
int cow_pte_rss_unpack(unsigned long packed, int *rss);

/*
 * C primitives the Rust core calls (mm/cow_pte_glue.c, mm/memory.c).
 */

/* Count the RSS of a table and check it can be shared (cow_pte_scan). */
int cow_pte_scan_table(struct vm_area_struct *vma, unsigned long addr,
		       pte_t *table, bool check_pins, int *rss);

/*
 * Copy entries [*@index, PTRS_PER_PTE) of @src into @dst for @vma's mm,
 * doing per entry what fork does (mm/memory.c).  0 when done; -EAGAIN when
 * a page must be copied and *@prealloc is empty; -EIO when a swap count
 * continuation for *@swap is needed; -EHWPOISON.  *@index tells where to
 * resume.
 */
int cow_pte_copy_entries(struct vm_area_struct *vma, unsigned long addr,
			 pte_t *dst, pte_t *src, int *index, int *rss,
			 struct folio **prealloc, swp_entry_t *swap);

/* Leave the entries of a shared table as fork leaves the parent's. */
void cow_pte_prepare_entries(struct vm_area_struct *vma, unsigned long addr,
			     pte_t *table);

/* Undo the first @nr entries copied into @table, which was never mapped. */
void cow_pte_discard_entries(struct vm_area_struct *vma, unsigned long addr,
			     pte_t *table, int nr);

/* Resources the copy may need, allocated without page table locks held. */
struct folio *cow_pte_prealloc_page(struct vm_area_struct *vma,
				    unsigned long addr);
int cow_pte_swap_continuation(swp_entry_t entry, gfp_t gfp);

struct ptdesc *cow_pte_alloc_table(struct mm_struct *mm, gfp_t gfp);
void cow_pte_free_table(struct mm_struct *mm, struct ptdesc *table);
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

static inline bool cow_pte_zap(struct mmu_gather *tlb,
			       struct vm_area_struct *vma, pmd_t *pmd,
			       unsigned long addr, unsigned long end,
			       bool whole)
{
	return false;
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
