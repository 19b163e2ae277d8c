// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failure in COW PTE fork and break.  Fault injection fails the
 * n-th allocation (slab or page) of this task only (/proc/thread-self/
 * fail-nth), for n = 1, 2, ... until the operation makes fewer than n
 * allocations, so that every allocation of a fork and of each break is
 * failed once.  The operation must then either fail with ENOMEM or succeed
 * (a fault retries), and neither side may see the other's data or lose its
 * own.  When everything has run, page-table and anonymous memory are back
 * at their start values: nothing leaked.
 *
 * The operations: fork itself; and in the child, in the parent while the
 * child still shares the tables (break by copy), and in the parent after
 * the child has exited (last sharer, reuse): a write, an mprotect and an
 * MADV_DONTNEED of a few pages inside a shared table.
 *
 * Needs CONFIG_FAULT_INJECTION, CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC and
 * CONFIG_FAULT_INJECTION_DEBUG_FS, and root (it sets the debugfs knobs that
 * let order-0 and sleeping allocations fail).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/prctl.h>
#include <linux/prctl.h>

#include "../kselftest.h"
#include "cow_pte_util.h"

#define REGION		(4 * PMD_SIZE)	/* four whole PTE tables */
#define SPOT		(PMD_SIZE + 16 * PAGE)	/* inside the second table */
#define SPOT_SIZE	(8 * PAGE)
#define MAX_NTH		1000	/* no operation here makes this many */
#define FAULT_DIR	"/sys/kernel/debug/"

/* The parent's data is generation 1, the child's writes generation 2. */
enum { PARENT_GEN = 1, CHILD_GEN = 2 };

static int fail_nth_fd = -1;

/* Open this thread's fail-nth file: a forked child must open its own. */
static void open_fail_nth(void)
{
	if (fail_nth_fd >= 0)
		close(fail_nth_fd);
	fail_nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
}

/* Fail the @n-th allocation of this thread from now on. */
static void arm(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	if (pwrite(fail_nth_fd, buf, len, 0) != len)
		ksft_exit_fail_msg("fail-nth: %s\n", strerror(errno));
}

/*
 * Stop injecting; returns whether the armed failure was injected.  Uses
 * the file opened beforehand: opening one would itself allocate.
 */
static bool disarm(void)
{
	char buf[16] = "";
	bool injected;

	if (pread(fail_nth_fd, buf, sizeof(buf) - 1, 0) <= 0)
		ksft_exit_fail_msg("fail-nth: %s\n", strerror(errno));
	injected = strtoul(buf, NULL, 10) == 0;
	arm(0);
	return injected;
}

/* An operation on [mem + SPOT, + SPOT_SIZE): 0 or -errno. */
struct op {
	const char *name;
	int (*run)(char *spot);
	/* What the spot holds after the operation succeeded. */
	unsigned long gen_after;
};

static int op_write(char *spot)
{
	fill(spot, SPOT_SIZE, CHILD_GEN, SPOT);
	return 0;
}

static int op_mprotect(char *spot)
{
	return mprotect(spot, SPOT_SIZE, PROT_READ) ? -errno : 0;
}

static int op_dontneed(char *spot)
{
	return madvise(spot, SPOT_SIZE, MADV_DONTNEED) ? -errno : 0;
}

static const struct op ops[] = {
	{ "write", op_write, CHILD_GEN },
	{ "mprotect", op_mprotect, PARENT_GEN },
	{ "MADV_DONTNEED", op_dontneed, 0 },
};

/*
 * Run @op with its @n-th allocation failed; check the result and the
 * memory of this process.  Returns FAIL, PASS, or SKIP when the operation
 * made fewer than @n allocations (the sweep is complete).
 */
static int op_nth(char *mem, const struct op *op, unsigned int n)
{
	char *spot = mem + SPOT;
	bool injected;
	int ret;

	arm(n);
	ret = op->run(spot);
	injected = disarm();
	if (failed(!ret || (ret == -ENOMEM && injected),
		   "# %s with allocation %u failed: %s, injected: %d\n",
		   op->name, n, strerror(-ret), injected))
		return FAIL;
	if (differs(mem, SPOT, PARENT_GEN, 0, "before the spot") ||
	    differs(spot, SPOT_SIZE, ret ? PARENT_GEN : op->gen_after, SPOT,
		    op->name) ||
	    differs(spot + SPOT_SIZE, REGION - SPOT - SPOT_SIZE, PARENT_GEN,
		    SPOT + SPOT_SIZE, "after the spot"))
		return FAIL;
	if (mprotect(spot, SPOT_SIZE, PROT_READ | PROT_WRITE))
		return FAIL;
	fill(spot, SPOT_SIZE, PARENT_GEN, SPOT);
	return injected ? PASS : SKIP;
}

/* Where the operation runs, relative to the fork. */
enum op_side { IN_CHILD, IN_PARENT_SHARED, IN_PARENT_LAST };

static const char *const side_names[] = {
	[IN_CHILD] = "in the child",
	[IN_PARENT_SHARED] = "in the parent, table still shared",
	[IN_PARENT_LAST] = "in the parent, child gone (last sharer)",
};

/*
 * One step of a sweep: fork (tables shared again), fail allocation @n of
 * the operation on @side, check both processes.
 */
static int sweep_step(char *mem, const struct op *op, enum op_side side,
		      unsigned int n)
{
	int go[2], ret, child;
	pid_t pid;
	char c;

	if (pipe(go))
		return FAIL;
	pid = fork();
	if (pid < 0)
		return FAIL;
	if (pid == 0) {
		close(go[1]);
		if (side == IN_CHILD) {
			open_fail_nth();
			_exit(fail_nth_fd < 0 ? FAIL : op_nth(mem, op, n));
		}
		/* Wait until the parent is done, then check nothing moved. */
		if (side == IN_PARENT_SHARED && read(go[0], &c, 1) != 0)
			_exit(FAIL);
		_exit(differs(mem, REGION, PARENT_GEN, 0, "child") ? FAIL : PASS);
	}
	close(go[0]);
	if (side == IN_PARENT_LAST && wait_child(pid) != PASS) {
		close(go[1]);
		return FAIL;
	}
	ret = side == IN_CHILD ? PASS : op_nth(mem, op, n);
	close(go[1]);
	if (side != IN_PARENT_LAST) {
		child = wait_child(pid);
		if (side == IN_CHILD)
			ret = child;
		else if (child != PASS)
			ret = FAIL;
	}
	return ret;
}

static bool sweep(char *mem, const struct op *op, enum op_side side)
{
	unsigned int n;

	for (n = 1; n < MAX_NTH; n++) {
		int ret = sweep_step(mem, op, side, n);

		/* Some make no allocation: a write by the last sharer. */
		if (ret == SKIP) {
			ksft_print_msg("%s %s: %u allocations failed in turn\n",
				       op->name, side_names[side], n - 1);
			return true;
		}
		if (ret != PASS)
			return false;
	}
	return false;
}

/* Fork with its @n-th allocation failed; PASS, FAIL or SKIP as op_nth(). */
static int fork_nth(char *mem, unsigned int n, unsigned long *failures)
{
	bool injected;
	pid_t pid;

	arm(n);
	pid = fork();
	if (pid == 0)
		_exit(differs(mem, REGION, PARENT_GEN, 0, "child") ? FAIL : PASS);
	injected = disarm();
	if (pid < 0) {
		if (failed(errno == ENOMEM && injected,
			   "# fork with allocation %u failed: %s, injected: %d\n",
			   n, strerror(errno), injected))
			return FAIL;
		++*failures;
	} else if (wait_child(pid) != PASS) {
		return FAIL;
	}
	if (differs(mem, REGION, PARENT_GEN, 0, "parent after fork"))
		return FAIL;
	return injected ? PASS : SKIP;
}

static bool fork_sweep(char *mem)
{
	unsigned long failures = 0;
	unsigned int n;

	for (n = 1; n < MAX_NTH; n++) {
		int ret = fork_nth(mem, n, &failures);

		if (ret == SKIP) {
			ksft_print_msg("fork: %u allocations failed in turn, %lu forks ENOMEM\n",
				       n - 1, failures);
			return failures > 0;
		}
		if (ret != PASS)
			return false;
	}
	return false;
}

/* A /proc/meminfo value with the per-CPU counter deltas folded in. */
static long settled_kb(const char *field)
{
	if (write_file("/proc/sys/vm/stat_refresh", "1"))
		return -1;
	return meminfo_kb(field);
}

/* Let order-0 and sleeping allocations fail, quietly. */
static bool setup_fault_injection(void)
{
	static const char *const knobs[][2] = {
		{ "failslab/ignore-gfp-wait", "N" },
		{ "failslab/verbose", "0" },
		{ "fail_page_alloc/ignore-gfp-wait", "N" },
		{ "fail_page_alloc/ignore-gfp-highmem", "N" },
		{ "fail_page_alloc/min-order", "0" },
		{ "fail_page_alloc/verbose", "0" },
	};
	char path[128];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		snprintf(path, sizeof(path), FAULT_DIR "%s", knobs[i][0]);
		if (write_file(path, knobs[i][1]))
			return false;
	}
	open_fail_nth();
	return fail_nth_fd >= 0;
}

/*
 * A failure armed before fork() is still armed when the parent returns
 * to user mode, where the kernel may update the rseq area: that write
 * faults on the now copy-on-write page, fails to allocate, and the
 * kernel kills the task with SIGSEGV, as a stock kernel does too.  Run
 * without rseq registration so that only the operation under test
 * allocates.
 */
static void without_rseq(char **argv)
{
	static const char tunable[] = "glibc.pthread.rseq=0";
	const char *set = getenv("GLIBC_TUNABLES");

	if (set && !strcmp(set, tunable))
		return;
	setenv("GLIBC_TUNABLES", tunable, 1);
	execv("/proc/self/exe", argv);
	ksft_exit_fail_msg("execv /proc/self/exe: %s\n", strerror(errno));
}

int main(int argc, char **argv)
{
	long tables, anon, tables_end, anon_end;
	unsigned long break_fail = vm_event("cow_pte_break_fail");
	unsigned int o, s;
	char *mem;

	without_rseq(argv);
	ksft_print_header();
	if (!setup_fault_injection())
		ksft_exit_skip("no fault injection (fail-nth, debugfs failslab)\n");
	if (prctl(PR_SET_COW_PTE, PR_COW_PTE_ENABLE, 0, 0, 0))
		ksft_exit_skip("PR_SET_COW_PTE: %s\n", strerror(errno));
	ksft_set_plan(2 + ARRAY_SIZE(ops) * ARRAY_SIZE(side_names));

	mem = map_aligned(REGION, MAP_ANONYMOUS, -1);
	if (!mem)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	fill(mem, REGION, PARENT_GEN, 0);
	tables = settled_kb("PageTables");
	anon = settled_kb("AnonPages");

	ksft_test_result(fork_sweep(mem), "fork fails cleanly at every allocation\n");
	for (o = 0; o < ARRAY_SIZE(ops); o++)
		for (s = 0; s < ARRAY_SIZE(side_names); s++)
			ksft_test_result(sweep(mem, &ops[o], s),
					 "%s %s fails cleanly at every allocation\n",
					 ops[o].name, side_names[s]);

	/*
	 * Every child is gone and the parent's region holds what it held at
	 * the start, so the page-table and anonymous memory must be back at
	 * the start values, and breaks must have failed along the way.
	 */
	tables_end = settled_kb("PageTables");
	anon_end = settled_kb("AnonPages");
	ksft_print_msg("PageTables %ld -> %ld kB, AnonPages %ld -> %ld kB, breaks failed: %lu\n",
		       tables, tables_end, anon, anon_end,
		       vm_event("cow_pte_break_fail") - break_fail);
	ksft_test_result(tables_end == tables && anon_end == anon &&
			 vm_event("cow_pte_break_fail") > break_fail,
			 "no page-table or anonymous memory leaked; breaks failed\n");
	ksft_finished();
}
