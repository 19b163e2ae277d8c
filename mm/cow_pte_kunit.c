// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the COW PTE policy core (mm/cow_pte.rs), through its C
 * entry points: 6.12 has no #[kunit_tests] for Rust, so the tests are C,
 * as for the Rust part of the KASAN tests.
 */
#include <kunit/test.h>
#include <linux/cow_pte.h>
#include <linux/string.h>
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

static struct kunit_case cow_pte_test_cases[] = {
	KUNIT_CASE(cow_pte_test_mode_parse),
	KUNIT_CASE(cow_pte_test_mode_set),
	KUNIT_CASE(cow_pte_test_prctl_args),
	KUNIT_CASE(cow_pte_test_prctl_no_mm),
	KUNIT_CASE(cow_pte_test_counts_pack),
	KUNIT_CASE(cow_pte_test_counts_invalid),
	{}
};

static struct kunit_suite cow_pte_test_suite = {
	.name = "cow_pte",
	.test_cases = cow_pte_test_cases,
};

kunit_test_suite(cow_pte_test_suite);
