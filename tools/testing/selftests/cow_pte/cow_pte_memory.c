// SPDX-License-Identifier: GPL-2.0
/*
 * Page-table memory of the children of a COW PTE fork: 16 children of a
 * parent with 1 GiB of touched anonymous memory must use at most 5% of the
 * page-table memory (PageTables in /proc/meminfo) they use without COW PTE.
 * Both are measured in this run; the numbers are printed.
 *
 *   cow_pte_memory [SIZE_MB] [CHILDREN]
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/prctl.h>

#include "../kselftest.h"
#include "cow_pte_util.h"

static long status_kb(pid_t pid, const char *field)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	return proc_value(path, field, ':');
}

/* PageTables growth, in kB, for forking @n sleeping children. */
static long children_page_tables(int n, long *vmpte)
{
	pid_t *pids = calloc(n, sizeof(*pids));
	long before, after;
	int i;

	before = meminfo_kb("PageTables");
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			ksft_exit_fail_msg("fork failed\n");
		if (pids[i] == 0) {
			pause();
			_exit(0);
		}
	}
	after = meminfo_kb("PageTables");
	*vmpte = status_kb(pids[0], "VmPTE");
	for (i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	for (i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	free(pids);
	return after - before;
}

int main(int argc, char **argv)
{
	size_t size = (argc > 1 ? atol(argv[1]) : 1024) << 20;
	int n = argc > 2 ? atoi(argv[2]) : 16;
	long off, on, vmpte_off, vmpte_on;
	char *mem;
	size_t i;

	ksft_print_header();
	ksft_set_plan(1);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		ksft_exit_fail_msg("mmap failed\n");
	madvise(mem, size, MADV_NOHUGEPAGE);
	for (i = 0; i < size; i += 4096)
		mem[i] = 1;

	if (prctl(PR_SET_COW_PTE, 0, 0, 0, 0))
		ksft_exit_skip("no COW PTE\n");
	off = children_page_tables(n, &vmpte_off);
	if (prctl(PR_SET_COW_PTE, PR_COW_PTE_ENABLE, 0, 0, 0))
		ksft_exit_skip("COW PTE disabled\n");
	on = children_page_tables(n, &vmpte_on);

	ksft_print_msg("%d children of a %zu MB parent: PageTables +%ld kB off, %s",
		       n, size >> 20, off, "");
	printf("+%ld kB on (%.2f%%)\n", on, off > 0 ? 100.0 * on / off : 0.0);
	ksft_print_msg("VmPTE of a child: %ld kB off, %ld kB on %s\n",
		       vmpte_off, vmpte_on, "(shared tables count in each sharer)");
	ksft_test_result(off > 0 && on * 20 <= off,
			 "children use at most 5%% of the page-table memory of a stock fork\n");
	ksft_finished();
}
