// SPDX-License-Identifier: GPL-2.0
/*
 * pageout_other_cpu: why the cow selftest skips a swap-out test at random.
 *
 * A page a process has just faulted in is not on an LRU list yet: it waits
 * in the faulting CPU's LRU batch (folio_add_lru()).  MADV_PAGEOUT drains
 * only the batch of the CPU it runs on (lru_add_drain() in
 * madvise_pageout()), and a folio that is not on an LRU list cannot be
 * isolated, so it is silently left resident.  When the scheduler moves the
 * process to the other CPU between the fault and MADV_PAGEOUT, the page
 * stays mapped, and cow's swap-out tests report "MADV_PAGEOUT did not
 * work, is swap enabled?" as a skip (test 2 of the cow selftest, its first
 * swap-out, seen in a soak run on the KASAN kernel).
 *
 * This program makes that move on purpose: it faults a page in on one CPU,
 * moves itself to another (or, as a control, stays), gives MADV_PAGEOUT and
 * reads the page's swap bit from /proc/self/pagemap; then it gives
 * MADV_PAGEOUT once more from the CPU that faulted the page, which drains
 * that batch.  It prints how often each was swapped out and exits 1 when a
 * page faulted on another CPU was left resident while the control was not.
 *
 * With -u it leaves the moving to the scheduler, as in the cow selftest:
 * the same steps, no affinity, the CPU read before the fault and after
 * MADV_PAGEOUT; it prints how many pages were left resident, on how many
 * of those rounds the CPU had changed, and how many MADV_PAGEOUT from each
 * CPU in turn swapped out (the cow selftest's fix).  Something else
 * running on the CPUs makes the scheduler move it more often.
 *
 *   pageout_other_cpu [-u] [-n ROUNDS]
 *
 * Exits 2 when the steps cannot be done (one CPU, no swap).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif

#define PAGE		4096UL
#define PM_SWAP		(1ULL << 62)

static int pagemap_fd;

static int run_on(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* Is the page at @addr swapped out?  -1 when pagemap cannot be read. */
static int swapped(char *addr)
{
	uint64_t entry;
	off_t off = (uintptr_t)addr / PAGE * sizeof(entry);

	if (pread(pagemap_fd, &entry, sizeof(entry), off) != sizeof(entry))
		return -1;
	return !!(entry & PM_SWAP);
}

/*
 * One round: fault a page in on CPU 0, give MADV_PAGEOUT on @cpu, then
 * again on CPU 0.  Returns how the two were seen (bit 0: swapped out after
 * the first, bit 1: after the second), or -1 on an error.
 */
static int round_on(int cpu)
{
	char *mem;
	int first, second;

	mem = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || madvise(mem, PAGE, MADV_NOHUGEPAGE))
		return -1;
	if (run_on(0))
		return -1;
	memset(mem, 0x5a, PAGE);
	if (run_on(cpu) || madvise(mem, PAGE, MADV_PAGEOUT))
		return -1;
	first = swapped(mem);
	if (run_on(0) || madvise(mem, PAGE, MADV_PAGEOUT))
		return -1;
	second = swapped(mem);
	if (first < 0 || second < 0 || mem[0] != 0x5a || mem[PAGE - 1] != 0x5a)
		return -1;
	munmap(mem, PAGE);
	return first | second << 1;
}

/*
 * MADV_PAGEOUT from each CPU of @allowed in turn until the page is swapped
 * out, then back to @allowed: what the cow selftest's fix does.  Returns
 * whether it was swapped out, -1 on an error.
 */
static int pageout_each_cpu(char *mem, cpu_set_t *allowed)
{
	int cpu, out = 0;

	for (cpu = 0; cpu < CPU_SETSIZE && !out; cpu++) {
		if (!CPU_ISSET(cpu, allowed))
			continue;
		if (run_on(cpu) || madvise(mem, PAGE, MADV_PAGEOUT))
			return -1;
		out = swapped(mem);
	}
	if (sched_setaffinity(0, sizeof(*allowed), allowed))
		return -1;
	return out;
}

/* -u: the scheduler moves the process, or not, between fault and pageout. */
static int unpinned(long rounds)
{
	long resident = 0, moved = 0, retried = 0, i;
	int before, after, out;
	cpu_set_t allowed;
	char *mem;

	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		goto fail;
	for (i = 0; i < rounds; i++) {
		mem = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED || madvise(mem, PAGE, MADV_NOHUGEPAGE))
			goto fail;
		before = sched_getcpu();
		memset(mem, 0x5a, PAGE);
		if (madvise(mem, PAGE, MADV_PAGEOUT))
			goto fail;
		after = sched_getcpu();
		out = swapped(mem);
		if (out < 0)
			goto fail;
		if (!out) {
			resident++;
			moved += before != after;
			out = pageout_each_cpu(mem, &allowed);
			if (out < 0)
				goto fail;
			retried += out;
		}
		if (mem[0] != 0x5a || mem[PAGE - 1] != 0x5a)
			goto fail;
		munmap(mem, PAGE);
	}
	printf("unpinned: %ld of %ld pages left resident by MADV_PAGEOUT, the CPU had changed in %ld of those; %ld swapped out by MADV_PAGEOUT from each CPU in turn\n",
	       resident, rounds, moved, retried);
	return resident ? 1 : 0;
fail:
	perror("pageout_other_cpu: round");
	return 2;
}

int main(int argc, char **argv)
{
	long rounds = 200, i;
	long out[2][2] = { { 0 } };
	int opt, cpu, seen, unpin = 0;

	while ((opt = getopt(argc, argv, "un:")) != -1) {
		if (opt == 'u') {
			unpin = 1;
			continue;
		}
		if (opt == 'n')
			rounds = atol(optarg);
		if (opt != 'n' || rounds < 1) {
			fprintf(stderr, "usage: %s [-u] [-n ROUNDS >= 1]\n", argv[0]);
			return 2;
		}
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		fprintf(stderr, "pageout_other_cpu: needs two CPUs\n");
		return 2;
	}
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap_fd < 0) {
		perror("/proc/self/pagemap");
		return 2;
	}
	if (unpin)
		return unpinned(rounds);
	for (i = 0; i < rounds; i++) {
		for (cpu = 0; cpu < 2; cpu++) {
			seen = round_on(cpu);
			if (seen < 0) {
				perror("pageout_other_cpu: round");
				return 2;
			}
			out[cpu][0] += seen & 1;
			out[cpu][1] += seen >> 1 & 1;
		}
	}
	printf("faulted on CPU 0, MADV_PAGEOUT on CPU 0: %ld of %ld swapped out\n",
	       out[0][0], rounds);
	printf("faulted on CPU 0, MADV_PAGEOUT on CPU 1: %ld of %ld swapped out, %ld after MADV_PAGEOUT again on CPU 0\n",
	       out[1][0], rounds, out[1][1]);
	if (out[0][0] < rounds) {
		fprintf(stderr, "pageout_other_cpu: the control was not swapped out (no swap?)\n");
		return 2;
	}
	return out[1][0] < rounds ? 1 : 0;
}
