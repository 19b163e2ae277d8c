// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the COW PTE policy core (mm/cow_pte.rs), through its C
 * entry points: 6.12 has no #[kunit_tests] for Rust, so the tests are C,
 * as for the Rust part of the KASAN tests.
 */
#include <kunit/test.h>
#include <linux/cow_pte.h>
#include <linux/mm.h>
#include <linux/string.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <uapi/linux/prctl.h>

static void cow_pte_test_mode_parse(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, cow_pte_mode_parse("disabled"), COW_PTE_MODE_DISABLED);
	KUNIT_EXPECT_EQ(test, cow_pte_mode_parse("opt-in"), COW_PTE_MODE_OPT_IN);
	KUNIT_EXPECT_EQ(test, cow_pte_mode_parse("forced"), COW_PTE_MODE_FORCED);
	KUNIT_EXPECT_EQ(test, cow_pte_mode_parse("0"), COW_PTE_MODE_DISABLED);
	KUNIT_EXPECT_EQ(test, cow_pte_mode_parse("1"), COW_PTE_MODE_OPT_IN);
	KUNIT_EXPECT_EQ(test, cow_pte_mode_parse("2"), COW_PTE_MODE_FORCED);
	/* Invalid values are rejected, never clamped. */
	KUNIT_EXPECT_EQ(test, cow_pte_mode_parse("3"), -EINVAL);
	KUNIT_EXPECT_EQ(test, cow_pte_mode_parse("-1"), -EINVAL);
	KUNIT_EXPECT_EQ(test, cow_pte_mode_parse(""), -EINVAL);
	KUNIT_EXPECT_EQ(test, cow_pte_mode_parse("force"), -EINVAL);
	KUNIT_EXPECT_EQ(test, cow_pte_mode_parse("forced "), -EINVAL);
	KUNIT_EXPECT_EQ(test, cow_pte_mode_parse("Disabled"), -EINVAL);
	KUNIT_EXPECT_EQ(test, cow_pte_mode_parse(NULL), -EINVAL);
}

static void cow_pte_test_mode_set(struct kunit *test)
{
	int saved = cow_pte_mode_get();
	int mode;

	for (mode = COW_PTE_MODE_DISABLED; mode <= COW_PTE_MODE_FORCED; mode++) {
		KUNIT_EXPECT_EQ(test, cow_pte_mode_set(mode), 0);
		KUNIT_EXPECT_EQ(test, cow_pte_mode_get(), mode);
	}
	KUNIT_EXPECT_EQ(test, cow_pte_mode_set(3), -EINVAL);
	KUNIT_EXPECT_EQ(test, cow_pte_mode_set(-1), -EINVAL);
	KUNIT_EXPECT_EQ(test, cow_pte_mode_get(), COW_PTE_MODE_FORCED);
	KUNIT_EXPECT_EQ(test, cow_pte_mode_set(saved), 0);
}

static void cow_pte_test_prctl_args(struct kunit *test)
{
	const unsigned long on = PR_COW_PTE_ENABLE;
	const unsigned long exec = PR_COW_PTE_INHERIT_EXEC;

	KUNIT_EXPECT_EQ(test, cow_pte_prctl_check(0, 0, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, cow_pte_prctl_check(on, 0, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, cow_pte_prctl_check(on | exec, 0, 0, 0), 0);
	/* Inheritance across exec without enabling means nothing. */
	KUNIT_EXPECT_EQ(test, cow_pte_prctl_check(exec, 0, 0, 0), -EINVAL);
	/* Unknown flags. */
	KUNIT_EXPECT_EQ(test, cow_pte_prctl_check(4, 0, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, cow_pte_prctl_check(on | (1UL << 63), 0, 0, 0), -EINVAL);
	/* Unused arguments must be zero. */
	KUNIT_EXPECT_EQ(test, cow_pte_prctl_check(on, 1, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, cow_pte_prctl_check(on, 0, 1, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, cow_pte_prctl_check(on, 0, 0, 1), -EINVAL);
}

static void cow_pte_test_prctl_no_mm(struct kunit *test)
{
	/* Kernel threads have no mm: nothing to fork. */
	KUNIT_EXPECT_EQ(test, cow_pte_prctl_set(NULL, PR_COW_PTE_ENABLE, 0, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, cow_pte_prctl_get(NULL, 0, 0, 0, 0), -EINVAL);
}

/* The counts of a table: NR_MM_COUNTERS RSS counters, then KSM zero pages. */
#define COUNTS		(NR_MM_COUNTERS + 1)
#define KSM_ZERO	NR_MM_COUNTERS

static void cow_pte_test_counts_pack(struct kunit *test)
{
	int counts[COUNTS] = {}, back[COUNTS];
	long packed;
	int i;

	/* Every count survives a round trip, alone and together. */
	for (i = 0; i < COUNTS; i++) {
		memset(counts, 0, sizeof(counts));
		counts[i] = PTRS_PER_PTE;
		packed = cow_pte_counts_pack(counts);
		KUNIT_ASSERT_GE(test, packed, 0);
		KUNIT_EXPECT_EQ(test, cow_pte_counts_unpack(packed, back), 0);
		KUNIT_EXPECT_MEMEQ(test, back, counts, sizeof(counts));
	}
	counts[MM_FILEPAGES] = 100;
	counts[MM_ANONPAGES] = 300;
	counts[MM_SWAPENTS] = 12;
	counts[MM_SHMEMPAGES] = 50;
	counts[KSM_ZERO] = 50;
	packed = cow_pte_counts_pack(counts);
	KUNIT_ASSERT_GE(test, packed, 0);
	KUNIT_EXPECT_EQ(test, cow_pte_counts_unpack(packed, back), 0);
	KUNIT_EXPECT_MEMEQ(test, back, counts, sizeof(counts));
	memset(counts, 0, sizeof(counts));
	KUNIT_EXPECT_EQ(test, cow_pte_counts_pack(counts), 0);
}

static void cow_pte_test_counts_invalid(struct kunit *test)
{
	int counts[COUNTS] = {}, back[COUNTS];

	/* A table has PTRS_PER_PTE entries, each counted at most once. */
	counts[MM_ANONPAGES] = PTRS_PER_PTE + 1;
	KUNIT_EXPECT_EQ(test, cow_pte_counts_pack(counts), -EINVAL);
	counts[MM_ANONPAGES] = -1;
	KUNIT_EXPECT_EQ(test, cow_pte_counts_pack(counts), -EINVAL);
	counts[MM_ANONPAGES] = PTRS_PER_PTE;
	counts[KSM_ZERO] = 1;
	KUNIT_EXPECT_EQ(test, cow_pte_counts_pack(counts), -EINVAL);
	/* Words that no valid vector packs to (12 bits per count). */
	KUNIT_EXPECT_EQ(test, cow_pte_counts_unpack(PTRS_PER_PTE + 1, back), -EINVAL);
	KUNIT_EXPECT_EQ(test, cow_pte_counts_unpack(~0UL, back), -EINVAL);
	KUNIT_EXPECT_EQ(test, cow_pte_counts_unpack(0x200200UL, back), -EINVAL);
	KUNIT_EXPECT_EQ(test, cow_pte_counts_unpack(1UL << (12 * COUNTS), back), -EINVAL);
}

/*
 * Fork's scan of a table, cow_pte_scan_table(), on an array that no mm
 * maps: an anonymous VMA (no vm_ops) and no pin check, so that it looks at
 * no struct page.  Its first pass reads four entries per round; each kind
 * of entry that sends the scan past that pass is put at each position of
 * the first two rounds and of the last one.
 */
#define SCAN_PFN	0x12345UL	/* any PFN: nothing reads its page */

struct scan_case {
	const char *what;
	pte_t pte;			/* the entry put at one position */
	int result;			/* enum cow_pte_scan */
	int counter;			/* the RSS counter it adds to, or -1 */
	int ksm_zero;
};

static void scan_expect(struct kunit *test, pte_t *table, int result,
			const int *want, int want_ksm_zero, const char *what,
			int pos)
{
	struct vm_area_struct vma = { };
	int rss[NR_MM_COUNTERS], ksm_zero;

	KUNIT_EXPECT_EQ_MSG(test, cow_pte_scan_table(&vma, 0, table, false, rss,
						     &ksm_zero), result,
			    "%s at %d", what, pos);
	if (result != COW_PTE_SCAN_OK)
		return;
	KUNIT_EXPECT_MEMEQ_MSG(test, rss, want, sizeof(rss), "%s at %d", what, pos);
	KUNIT_EXPECT_EQ_MSG(test, ksm_zero, want_ksm_zero, "%s at %d", what, pos);
}

static void cow_pte_test_scan_table(struct kunit *test)
{
	const struct scan_case cases[] = {
		{ "hole", __pte(0), COW_PTE_SCAN_OK, -1, 0 },
		{ "special", pte_mkspecial(pfn_pte(SCAN_PFN, PAGE_READONLY)),
		  COW_PTE_SCAN_OK, -1, 0 },
		{ "zero page", pte_mkspecial(pfn_pte(my_zero_pfn(0), PAGE_READONLY)),
		  COW_PTE_SCAN_OK, -1, 0 },
		{ "swap", swp_entry_to_pte(swp_entry(0, 42)), COW_PTE_SCAN_OK,
		  MM_SWAPENTS, 0 },
#ifdef CONFIG_KSM
		{ "KSM zero page",
		  pte_mkdirty(pte_mkspecial(pfn_pte(my_zero_pfn(0), PAGE_READONLY))),
		  COW_PTE_SCAN_OK, -1, 1 },
#endif
#ifdef CONFIG_MIGRATION
		{ "migration", swp_entry_to_pte(make_readable_migration_entry(SCAN_PFN)),
		  COW_PTE_SCAN_ENTRY, -1, 0 },
#endif
#ifdef CONFIG_HAVE_ARCH_USERFAULTFD_WP
		{ "uffd-wp", pte_mkuffd_wp(pfn_pte(SCAN_PFN, PAGE_READONLY)),
		  COW_PTE_SCAN_UFFD_WP, -1, 0 },
		{ "uffd-wp swap", pte_swp_mkuffd_wp(swp_entry_to_pte(swp_entry(0, 42))),
		  COW_PTE_SCAN_UFFD_WP, -1, 0 },
#endif
	};
	const int positions[] = { 0, 1, 2, 3, 4, 5, 6, 7, 508, 509, 510, 511 };
	int want[NR_MM_COUNTERS] = {};
	pte_t *table;
	int c, p, i;

	table = kunit_kzalloc(test, PTRS_PER_PTE * sizeof(*table), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, table);
	scan_expect(test, table, COW_PTE_SCAN_OK, want, 0, "empty table", 0);
	for (i = 0; i < PTRS_PER_PTE; i++)
		table[i] = pfn_pte(SCAN_PFN + i, PAGE_READONLY);
	want[MM_ANONPAGES] = PTRS_PER_PTE;
	scan_expect(test, table, COW_PTE_SCAN_OK, want, 0, "full table", 0);

	for (c = 0; c < ARRAY_SIZE(cases); c++) {
		for (p = 0; p < ARRAY_SIZE(positions); p++) {
			int pos = positions[p];
			pte_t saved = table[pos];

			table[pos] = cases[c].pte;
			memset(want, 0, sizeof(want));
			want[MM_ANONPAGES] = PTRS_PER_PTE - 1;
			if (cases[c].counter >= 0)
				want[cases[c].counter]++;
			scan_expect(test, table, cases[c].result, want,
				    cases[c].ksm_zero, cases[c].what, pos);
			table[pos] = saved;
		}
	}
}

static struct kunit_case cow_pte_test_cases[] = {
	KUNIT_CASE(cow_pte_test_mode_parse),
	KUNIT_CASE(cow_pte_test_mode_set),
	KUNIT_CASE(cow_pte_test_prctl_args),
	KUNIT_CASE(cow_pte_test_prctl_no_mm),
	KUNIT_CASE(cow_pte_test_counts_pack),
	KUNIT_CASE(cow_pte_test_counts_invalid),
	KUNIT_CASE(cow_pte_test_scan_table),
	{}
};

static struct kunit_suite cow_pte_test_suite = {
	.name = "cow_pte",
	.test_cases = cow_pte_test_cases,
};

kunit_test_suite(cow_pte_test_suite);
