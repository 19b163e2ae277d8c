// SPDX-License-Identifier: GPL-2.0
/*
 * uffd_shmem_hint: why uffd-unit-tests exits 1 at random with
 * randomize_va_space=2.
 *
 * shmem_allocate_area() of uffd-common.c maps the shmem test areas at fixed
 * hints from 1 GB up (src 1G, its alias 1G+34M, dst 1G+68M, its alias
 * 1G+102M, 32 MB each) without MAP_FIXED and calls err() ("mmap of memfd
 * failed at 0x40000000", exit 1) when the kernel places one elsewhere.
 * With randomize_va_space=2, x86-64 starts the brk heap of a static binary
 * at a random page in the 1 GB above the end of its bss
 * (arch_randomize_brk(): randomize_page(mm->brk, SZ_1G)), so the heap
 * covers the hint range whenever it starts less than its own size below
 * 1 GB or above it: about (bss end + heap) / 1 GB of the runs, ~0.5 % for
 * uffd-unit-tests (bss ends at 0x4e8128).  With randomize_va_space=1 the
 * heap stays right after the bss.
 *
 * This program has its bss end where uffd-unit-tests' ends, grows its heap
 * as the test does, then maps the four areas as shmem_allocate_area() does.
 * Exit 1 (and the heap range) when a hint is refused.  Run it many times:
 *   for i in $(seq 3000); do uffd_shmem_hint || n=$((n+1)); done
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define AREA (32UL << 20)
#define HPAGE (2UL << 20)
#define BASE ((char *)(1UL << 30))

/* Moves the end of bss next to uffd-unit-tests' (checked with readelf). */
#ifndef PAD_BYTES
#define PAD_BYTES 239240
#endif
static char pad[PAD_BYTES] __attribute__((used));

int main(void)
{
	char *hint[4] = {
		BASE,				/* src */
		BASE + AREA + HPAGE,		/* src alias */
		BASE + 2 * (AREA + HPAGE),	/* dst */
		BASE + 3 * (AREA + HPAGE),	/* dst alias */
	};
	void *heap_start = sbrk(0), *heap_end;
	unsigned long long *count;
	int fd, i;
	char *p;

	pad[0] = 1;
	/* count_verify = malloc(nr_pages * 8) and stdio, as the test has. */
	count = malloc((AREA / 4096) * sizeof(*count));
	if (!count)
		return 2;
	memset(count, 1, (AREA / 4096) * sizeof(*count));
	heap_end = sbrk(0);

	fd = memfd_create("uffd_shmem_hint", 0);
	if (fd < 0 || ftruncate(fd, 2 * AREA)) {
		perror("memfd");
		return 2;
	}
	for (i = 0; i < 4; i++) {
		p = mmap(hint[i], AREA, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 i < 2 ? 0 : AREA);
		if (p == MAP_FAILED) {
			perror("mmap");
			return 2;
		}
		if (p != hint[i]) {
			printf("hint %p refused (got %p): heap %p-%p\n",
			       hint[i], p, heap_start, heap_end);
			return 1;
		}
	}
	free(count);
	return 0;
}
