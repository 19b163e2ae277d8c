// SPDX-License-Identifier: GPL-2.0
/*
 * Shows a data loss of stock Linux 6.12 that cow_pte_stress ran into (it
 * needs no COW PTE; run it on either kernel, COW PTE off):
 *
 *   1. the parent writes pages, and MADV_PAGEOUT swaps them out to zram;
 *   2. it reads them back: zram is SWP_SYNCHRONOUS_IO, so do_swap_page()
 *      skips the swap cache and frees the swap slot; the folio is clean
 *      and now holds the only copy of the data;
 *   3. it forks; the child gives MADV_FREE on the pages and exits:
 *      madvise_free_pte_range() checks the mapcount only of dirty or swap
 *      cache folios, so it marks the shared folios lazyfree;
 *   4. the parent's MADV_PAGEOUT reclaims them, and reclaim discards clean
 *      lazyfree folios: the parent, which never gave MADV_FREE, reads
 *      zeroes.
 *
 *   madv_free_swapin [PAGES]
 *
 * Prints how many pages the parent lost; exits 1 if it lost any, 0 if
 * not, 2 if the steps could not be done (no swap, for one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif

#define PAGE	4096UL

/* Pages of @mem that are still resident, from mincore(). */
static long resident(char *mem, long pages)
{
	unsigned char *vec = malloc(pages);
	long i, n = 0;

	if (!vec || mincore(mem, pages * PAGE, vec))
		return -1;
	for (i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	return n;
}

int main(int argc, char **argv)
{
	long pages = argc > 1 ? atol(argv[1]) : 64, i, lost = 0;
	char *mem;
	pid_t pid;
	int status;

	if (pages < 1) {
		fprintf(stderr, "usage: %s [PAGES >= 1]\n", argv[0]);
		return 2;
	}
	mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	for (i = 0; i < pages; i++)
		memset(mem + i * PAGE, 0x5a, PAGE);
	if (madvise(mem, pages * PAGE, MADV_PAGEOUT) ||
	    resident(mem, pages) != 0) {
		fprintf(stderr, "MADV_PAGEOUT did not swap the pages out (no swap?)\n");
		return 2;
	}
	for (i = 0; i < pages; i++)	/* swap in by reading */
		if (mem[i * PAGE] != 0x5a) {
			fprintf(stderr, "page %ld is wrong after swap-in\n", i);
			return 2;
		}

	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0)
		_exit(madvise(mem, pages * PAGE, MADV_FREE) ? 1 : 0);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fprintf(stderr, "the child's MADV_FREE failed\n");
		return 2;
	}
	if (madvise(mem, pages * PAGE, MADV_PAGEOUT)) {
		perror("MADV_PAGEOUT");
		return 2;
	}
	for (i = 0; i < pages; i++)
		lost += mem[i * PAGE] != 0x5a || mem[(i + 1) * PAGE - 1] != 0x5a;
	printf("madv_free_swapin: the parent lost %ld of %ld pages after its child's MADV_FREE\n",
	       lost, pages);
	return lost ? 1 : 0;
}
