// SPDX-License-Identifier: GPL-2.0
/*
 * COW PTE: how many mappings reports count for pages of COW-shared tables.
 *
 * A COW-shared PTE table holds one mapcount of each page, and one swap
 * count of each swap entry, it maps, however many mms share it; a stock
 * fork would have given every sharer a table, and so a count, of its own.
 * Reports that tell how often a page is mapped (smaps Pss, Shared_* and
 * Private_*, SwapPss, pagemap's exclusive bit, numa_maps' mapmax,
 * /proc/kpagecount) add the difference: each COW-shared table that maps a
 * page counts once per sharer, not once.
 *
 * Finding those tables costs a look at the rmap, not per-page state: every
 * VMA that may map a page of a table of @vma is in the interval tree of
 * the root anon_vma of @vma's family (anonymous VMAs) or of the file's
 * address space (private file mappings: their page cache pages, and the
 * anonymous pages of the family, whose VMAs all map the file too), at the
 * same page offset.  A COW-shared table lies within one VMA of each mm
 * that maps it, so the tables that map a page offset of that tree read
 * only are found by looking at one or two PMD entries per VMA.  The look
 * is taken once per table of the report, under the rmap lock, which keeps
 * the page tables of the VMAs in the tree from being freed; the entries of
 * those tables are read without their locks, a snapshot like the
 * mapcounts reports read.
 *
 * KSM pages are mapped by mms of any family, found through KSM's stable
 * tree: for those, and for /proc/kpagecount, which has no VMA to start
 * from, an rmap walk of the page finds every table that maps it.
 */
#include <linux/cow_pte.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/rmap.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/swapops.h>

#include "internal.h"

/* Tables mapped read-only by at least two mms, for a fast "none". */
static atomic_long_t cow_pte_shared_tables = ATOMIC_LONG_INIT(0);

/* A table gained its second sharer (@nr 1) or lost it (@nr -1). */
void cow_pte_shared_tables_add(long nr)
{
	atomic_long_add(nr, &cow_pte_shared_tables);
}

/*
 * Note the table that maps page offset @pgoff of @vma read-only, if it has
 * more than one sharer and is not noted yet.
 */
static void cow_pte_note_table(struct cow_pte_peers *peers,
			       struct vm_area_struct *vma, pgoff_t pgoff)
{
	unsigned long addr = vma->vm_start +
			     ((pgoff - vma->vm_pgoff) << PAGE_SHIFT);
	unsigned long base = addr & PMD_MASK;
	struct cow_pte_peer *more;
	unsigned int sharers, i;
	struct ptdesc *table;
	pmd_t *pmdp, pmd;

	/* A shared table lies within one VMA (mm/cow_pte/share.rs, rule 6). */
	if (base < vma->vm_start || base + PMD_SIZE > vma->vm_end)
		return;
	pmdp = mm_find_pmd(vma->vm_mm, addr);
	if (!pmdp)
		return;
	pmd = pmdp_get_lockless(pmdp);
	sharers = cow_pte_pmd_sharers(pmd);
	if (sharers < 2)
		return;
	table = cow_pte_pmd_table(pmd);
	for (i = 0; i < peers->nr; i++)
		if (peers->peer[i].table == table)
			return;
	if (peers->nr == peers->max) {
		/* Under the rmap lock, a sleeping lock: GFP_KERNEL is fine. */
		more = kmalloc_array(2 * peers->max, sizeof(*more), GFP_KERNEL);
		if (!more) {
			peers->incomplete = true;
			return;
		}
		memcpy(more, peers->peer, peers->nr * sizeof(*more));
		if (peers->peer != peers->inline_peer)
			kfree(peers->peer);
		peers->peer = more;
		peers->max *= 2;
	}
	peers->peer[peers->nr++] = (struct cow_pte_peer) {
		.table = table,
		.pgoff = linear_page_index(vma, base),
		.extra = sharers - 1,
	};
}

/* Note the shared tables that map page offsets [@first, @last] of @tree. */
static void cow_pte_note_tables(struct cow_pte_peers *peers, bool anon,
				struct rb_root_cached *tree, pgoff_t first,
				pgoff_t last)
{
	struct vm_area_struct *vma;
	struct anon_vma_chain *avc;
	pgoff_t lo, hi;

	if (anon) {
		anon_vma_interval_tree_foreach(avc, tree, first, last) {
			vma = avc->vma;
			lo = max(first, vma->vm_pgoff);
			hi = min(last, vma->vm_pgoff + vma_pages(vma) - 1);
			cow_pte_note_table(peers, vma, lo);
			cow_pte_note_table(peers, vma, hi);
		}
	} else {
		vma_interval_tree_foreach(vma, tree, first, last) {
			lo = max(first, vma->vm_pgoff);
			hi = min(last, vma->vm_pgoff + vma_pages(vma) - 1);
			cow_pte_note_table(peers, vma, lo);
			cow_pte_note_table(peers, vma, hi);
		}
	}
}

static void cow_pte_peers_init(struct cow_pte_peers *peers)
{
	peers->peer = peers->inline_peer;
	peers->max = ARRAY_SIZE(peers->inline_peer);
	peers->nr = 0;
	peers->incomplete = false;
	peers->anon_vma = NULL;
	peers->mapping = NULL;
	peers->ksm = NULL;
	peers->nr_ksm = 0;
}

/* What an rmap walk collects: the distinct PTE tables that map a page. */
struct cow_pte_tables {
	struct ptdesc **table;
	unsigned int nr, max;
	unsigned int mappings;		/* what a stock fork would count */
};

static bool cow_pte_note_mapping(struct folio *folio,
				 struct vm_area_struct *vma,
				 unsigned long addr, void *arg)
{
	DEFINE_FOLIO_VMA_WALK(pvmw, folio, vma, addr, PVMW_PTE_READ_ONLY);
	struct cow_pte_tables *tables = arg;

	while (page_vma_mapped_walk(&pvmw)) {
		struct ptdesc *table;
		pmd_t pmd;
		unsigned int i;

		if (!pvmw.pte)
			continue;
		/* Under the PTE lock of the table, which protects its state. */
		pmd = pmdp_get_lockless(pvmw.pmd);
		table = cow_pte_pmd_table(pmd);
		/* The walk meets a shared table once per sharer. */
		for (i = 0; i < tables->nr; i++)
			if (tables->table[i] == table)
				break;
		if (i < tables->nr || tables->nr == tables->max)
			continue;
		tables->table[tables->nr++] = table;
		tables->mappings += cow_pte_pmd_sharers(pmd);
	}
	return true;
}

/*
 * Mappings a stock fork would have left of @page, a small page of @folio,
 * minus its mapcount: each PTE table that maps it counts once per sharer.
 * The caller holds a reference and the folio lock, and may sleep.
 */
static unsigned int cow_pte_rmap_extra(struct folio *folio, struct page *page)
{
	int mapcount = folio_mapcount(folio);
	struct cow_pte_tables tables = { };
	struct rmap_walk_control rwc = {
		.rmap_one = cow_pte_note_mapping,
		.arg = &tables,
	};

	if (folio_test_large(folio) || mapcount <= 0)
		return 0;
	/* Each table that maps the page holds one mapcount. */
	tables.max = mapcount;
	tables.table = kmalloc_array(tables.max, sizeof(*tables.table),
				     GFP_KERNEL);
	if (!tables.table)
		return 0;
	rmap_walk(folio, &rwc);
	kfree(tables.table);
	return tables.mappings > mapcount ? tables.mappings - mapcount : 0;
}

/*
 * The KSM pages of the table of [@addr, @end) of @vma (under @pmd), with
 * what to add to their counts, in the order of their page offsets.
 */
static void cow_pte_note_ksm_pages(struct cow_pte_peers *peers,
				   struct vm_area_struct *vma, pmd_t *pmd,
				   unsigned long addr, unsigned long end)
{
	unsigned int nr = 0, max = 0, i;
	struct folio *folio;
	struct page *page;
	unsigned long a;
	pte_t *pte;

	/* Count them, then collect them, reading the entries locklessly. */
	for (i = 0; i < 2; i++) {
		pte = pte_offset_map(pmd, addr);
		if (!pte)
			return;
		for (a = addr; a < end; a += PAGE_SIZE) {
			pte_t ptent = ptep_get(pte + ((a - addr) >> PAGE_SHIFT));

			if (!pte_present(ptent))
				continue;
			page = vm_normal_page(vma, a, ptent);
			if (!page || !PageKsm(page))
				continue;
			if (!i) {
				max++;
				continue;
			}
			folio = page_folio(page);
			if (nr == max || !folio_try_get(folio))
				continue;
			peers->ksm[nr].pgoff = linear_page_index(vma, a);
			peers->ksm[nr++].folio = folio;
		}
		pte_unmap(pte);
		if (!max)
			return;
		if (!i) {
			peers->ksm = kmalloc_array(max, sizeof(*peers->ksm),
						   GFP_KERNEL);
			if (!peers->ksm)
				return;
		}
	}
	for (i = 0; i < nr; i++) {
		folio = peers->ksm[i].folio;
		folio_lock(folio);
		peers->ksm[i].extra = folio_test_ksm(folio) ?
			cow_pte_rmap_extra(folio, &folio->page) : 0;
		folio_unlock(folio);
		folio_put(folio);
	}
	peers->nr_ksm = nr;
}

/**
 * cow_pte_peers_find - find the shared tables that may map pages of a table
 * @vma: the VMA being reported on
 * @addr: an address of the PTE table to report on, in @vma
 * @end: the end of the range of that table to report on
 * @peers: filled with the tables found
 *
 * Called with the mmap lock of @vma's mm held for read, no other lock; @pmd
 * maps the table.
 * Returns false if there is nothing to add to any count of the table.
 * Otherwise it returns true with the rmap lock held, which keeps the
 * tables found allocated: the caller reads the entries of its table (its
 * PTE lock nests inside) with cow_pte_peers_extra(), then calls
 * cow_pte_peers_release().
 */
bool cow_pte_peers_find(struct vm_area_struct *vma, pmd_t *pmd,
			unsigned long addr, unsigned long end,
			struct cow_pte_peers *peers)
{
	pgoff_t first = linear_page_index(vma, addr);
	pgoff_t last = linear_page_index(vma, end - 1);
	struct address_space *mapping;
	struct anon_vma *root;

	cow_pte_peers_init(peers);
	if (!atomic_long_read(&cow_pte_shared_tables) ||
	    !is_cow_mapping(vma->vm_flags))
		return false;
	/* Before the rmap lock: the folio lock comes first. */
	if (vma->vm_flags & VM_MERGEABLE)
		cow_pte_note_ksm_pages(peers, vma, pmd, addr, end);
	if (vma->vm_file) {
		mapping = vma->vm_file->f_mapping;
		i_mmap_lock_read(mapping);
		peers->mapping = mapping;
		cow_pte_note_tables(peers, false, &mapping->i_mmap, first, last);
	} else if (vma->anon_vma) {
		root = vma->anon_vma->root;
		anon_vma_lock_read(root);
		peers->anon_vma = root;
		cow_pte_note_tables(peers, true, &root->rb_root, first, last);
	}
	if (peers->nr || peers->nr_ksm)
		return true;
	cow_pte_peers_release(peers);
	return false;
}

void cow_pte_peers_release(struct cow_pte_peers *peers)
{
	if (peers->mapping)
		i_mmap_unlock_read(peers->mapping);
	if (peers->anon_vma)
		anon_vma_unlock_read(peers->anon_vma);
	if (peers->peer != peers->inline_peer)
		kfree(peers->peer);
	kfree(peers->ksm);
	cow_pte_peers_init(peers);
}

/* Whether two entries map the same page, or hold the same swap entry. */
static bool cow_pte_same_target(pte_t a, pte_t b)
{
	if (pte_present(a))
		return pte_present(b) && pte_pfn(a) == pte_pfn(b);
	return is_swap_pte(a) && is_swap_pte(b) &&
	       pte_to_swp_entry(a).val == pte_to_swp_entry(b).val;
}

/**
 * cow_pte_peers_extra - mappings to add to the count of an entry
 * @peers: what cow_pte_peers_find() found
 * @pgoff: the page offset of the entry in its VMA
 * @pte: the entry
 *
 * Returns how many more mms a stock fork would have left mapping the page
 * (or holding the swap entry) of @pte than its mapcount (swap count) says.
 */
unsigned int cow_pte_peers_extra(struct cow_pte_peers *peers, pgoff_t pgoff,
				 pte_t pte)
{
	unsigned int i, lo = 0, hi = peers->nr_ksm, extra = 0;

	/* A KSM page: its rmap walk counted every table that maps it. */
	while (lo < hi) {
		i = (lo + hi) / 2;
		if (peers->ksm[i].pgoff == pgoff)
			return pte_present(pte) &&
			       pte_pfn(pte) == folio_pfn(peers->ksm[i].folio) ?
			       peers->ksm[i].extra : 0;
		if (peers->ksm[i].pgoff < pgoff)
			lo = i + 1;
		else
			hi = i;
	}
	for (i = 0; i < peers->nr; i++) {
		struct cow_pte_peer *peer = &peers->peer[i];
		pgoff_t index = pgoff - peer->pgoff;
		pte_t *entries = cow_pte_table_entries(peer->table);

		if (index < PTRS_PER_PTE &&
		    cow_pte_same_target(pte, ptep_get(entries + index)))
			extra += peer->extra;
	}
	return extra;
}

/**
 * cow_pte_page_extra - mappings to add to the mapcount of a page
 * @folio: the folio of @page, referenced by the caller
 * @page: the page
 *
 * As cow_pte_peers_extra(), for a page found by its frame
 * (/proc/kpagecount).  Takes the folio lock and the rmap locks: the caller
 * holds no lock and may sleep.
 */
unsigned int cow_pte_page_extra(struct folio *folio, struct page *page)
{
	unsigned int extra;

	if (!atomic_long_read(&cow_pte_shared_tables) || !folio_mapped(folio) ||
	    folio_test_large(folio) || folio_test_hugetlb(folio))
		return 0;
	folio_lock(folio);
	extra = cow_pte_rmap_extra(folio, page);
	folio_unlock(folio);
	return extra;
}
