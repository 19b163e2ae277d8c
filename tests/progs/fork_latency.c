// SPDX-License-Identifier: GPL-2.0
/*
 * Fork latency per gigabyte, after Pasha Tatashin's program in his reply to
 * the COW PTE v4 cover letter (seed 002): map SIZE of anonymous memory,
 * MADV_NOHUGEPAGE, touch every page, then time 16 forks whose children only
 * sleep.  The size is an argument (GB, fractions allowed) and the children
 * are reaped at the end instead of sleeping for 30 s.
 *
 *   fork_latency [SIZE_GB] [NPROC] [writes]
 *
 * With "writes", the Redis pattern: after each fork the parent writes one
 * page in every 2 MiB (every PTE table) and the child exits before the next
 * fork, so that every table changed since the last fork; only the forks
 * are timed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define USEC 1000000L
#define GIG (1UL << 30)

int main(int argc, char **argv)
{
	double ngig = argc > 1 ? atof(argv[1]) : 1.0;
	int nproc = argc > 2 ? atoi(argv[2]) : 16;
	int writes = argc > 3 && !strcmp(argv[3], "writes");
	unsigned long size = (unsigned long)(ngig * GIG);
	long page_size = getpagesize();
	struct timeval start, end;
	pid_t *pids;
	long duration;
	unsigned long i;
	char *p;
	int n;

	if (ngig <= 0 || nproc <= 0 || size < (unsigned long)page_size ||
	    (argc > 3 && !writes)) {
		fprintf(stderr, "usage: %s [SIZE_GB > 0] [NPROC > 0] [writes]\n", argv[0]);
		return 2;
	}
	pids = calloc(nproc, sizeof(*pids));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!pids || p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	madvise(p, size, MADV_NOHUGEPAGE);

	/* Touch every page */
	for (i = 0; i < size; i += page_size)
		p[i] = 0;

	duration = 0;
	gettimeofday(&start, NULL);
	for (n = 0; n < nproc; n++) {
		pids[n] = fork();
		if (pids[n] < 0) {
			perror("fork");
			return 1;
		}
		if (pids[n] == 0) {
			pause();
			_exit(0);
		}
		if (!writes)
			continue;
		gettimeofday(&end, NULL);
		duration += (end.tv_sec - start.tv_sec) * USEC +
			    (end.tv_usec - start.tv_usec);
		/* One write per PTE table, then the snapshot child goes. */
		for (i = (unsigned long)n * page_size % (2UL << 20); i < size;
		     i += 2UL << 20)
			p[i] = n;
		kill(pids[n], SIGKILL);
		waitpid(pids[n], NULL, 0);
		gettimeofday(&start, NULL);
	}
	if (!writes) {
		gettimeofday(&end, NULL);
		duration = (end.tv_sec - start.tv_sec) * USEC +
			   (end.tv_usec - start.tv_usec);
		for (n = 0; n < nproc; n++)
			kill(pids[n], SIGKILL);
		for (n = 0; n < nproc; n++)
			waitpid(pids[n], NULL, 0);
	}

	/* Normalise per process and per gigabyte, as the original does. */
	duration = (long)(duration / nproc / ngig);
	printf("Fork latency per gigabyte: %ld.%06ld seconds (size %.2f GB, %d forks%s)\n",
	       duration / USEC, duration % USEC, ngig, nproc,
	       writes ? ", a write per table between forks" : "");
	return 0;
}
