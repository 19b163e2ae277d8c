// SPDX-License-Identifier: GPL-2.0

#include <linux/cow_pte.h>
#include <linux/mm.h>
#include <linux/userfaultfd_k.h>

pmd_t rust_helper_pmdp_get_lockless(pmd_t *pmdp)
{
	return pmdp_get_lockless(pmdp);
}

void rust_helper_set_pmd(pmd_t *pmdp, pmd_t pmd)
{
	set_pmd(pmdp, pmd);
}

void rust_helper_pmd_clear(pmd_t *pmdp)
{
	pmd_clear(pmdp);
}

spinlock_t *rust_helper_pmd_lock(struct mm_struct *mm, pmd_t *pmd)
{
	return pmd_lock(mm, pmd);
}

spinlock_t *rust_helper_ptlock_ptr(struct ptdesc *ptdesc)
{
	return ptlock_ptr(ptdesc);
}

void rust_helper_mm_inc_nr_ptes(struct mm_struct *mm)
{
	mm_inc_nr_ptes(mm);
}

void rust_helper_mm_dec_nr_ptes(struct mm_struct *mm)
{
	mm_dec_nr_ptes(mm);
}

bool rust_helper_is_cow_mapping(vm_flags_t flags)
{
	return is_cow_mapping(flags);
}

bool rust_helper_userfaultfd_wp(struct vm_area_struct *vma)
{
	return userfaultfd_wp(vma);
}

void rust_helper_folio_put(struct folio *folio)
{
	folio_put(folio);
}

#ifdef CONFIG_COW_PTE
bool rust_helper_cow_pte_pmd_is_table(pmd_t pmd)
{
	return cow_pte_pmd_is_table(pmd);
}

bool rust_helper_cow_pte_pmd_shared(pmd_t pmd)
{
	return cow_pte_pmd_shared(pmd);
}

pmd_t rust_helper_cow_pte_pmd_mkshared(pmd_t pmd)
{
	return cow_pte_pmd_mkshared(pmd);
}

pmd_t rust_helper_cow_pte_pmd_mkprivate(pmd_t pmd)
{
	return cow_pte_pmd_mkprivate(pmd);
}

struct ptdesc *rust_helper_cow_pte_pmd_table(pmd_t pmd)
{
	return cow_pte_pmd_table(pmd);
}

unsigned int rust_helper_ptdesc_cow_state(struct ptdesc *ptdesc)
{
	return ptdesc_cow_state(ptdesc);
}

void rust_helper_ptdesc_set_cow_state(struct ptdesc *ptdesc,
				      unsigned int state)
{
	ptdesc_set_cow_state(ptdesc, state);
}

unsigned long rust_helper_ptdesc_cow_rss(struct ptdesc *ptdesc)
{
	return ptdesc_cow_rss(ptdesc);
}

void rust_helper_ptdesc_set_cow_rss(struct ptdesc *ptdesc, unsigned long rss)
{
	ptdesc_set_cow_rss(ptdesc, rss);
}
#endif /* CONFIG_COW_PTE */
