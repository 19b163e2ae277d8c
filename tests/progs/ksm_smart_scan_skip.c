// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_smart_scan_skip: why "ksm_tests -N -m 1" fails at random.
 *
 * ksm_tests -N (check_ksm_numa_merge) makes page 1 mergeable and waits for
 * two full KSM scans, then makes page 2 (same content) mergeable and waits
 * for two more, and expects the two pages merged.  Two scans are enough for
 * a page seen for the first time (first scan: checksum, second scan:
 * unstable tree and merge), but page 1 is older by then, and with
 * smart_scan (on by default since 6.7) should_skip_rmap_item() skips an
 * unmerged page of age 4, 6, 7, 9-12, ... and takes it out of the unstable
 * tree.  When ksmd completes one extra scan between the test's two waits
 * (the test polls full_scans in a busy loop while ksmd scans with
 * sleep_millisecs=0), page 1 is skipped in the one scan where page 2 could
 * merge with it, and the test reads pages_shared=0.
 *
 * This program steps ksmd one full scan at a time (sleep_millisecs=1000,
 * run=1 until full_scans moves, then run=0) and replays the test with K
 * extra scans between the two waits.  The test's assertion holds for every
 * K only with smart_scan=0.  Exit 1 when some K leaves the pages unmerged.
 *
 *   ksm_smart_scan_skip [-s SMART_SCAN] [-k MAX_K]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define KSM "/sys/kernel/mm/ksm/"
#define MPOL_BIND_ 2

static long page_size;

static unsigned long ksm_read(const char *name)
{
	char path[128];
	unsigned long val;
	FILE *f;

	snprintf(path, sizeof(path), KSM "%s", name);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%lu", &val) != 1) {
		fprintf(stderr, "read %s: %s\n", path, strerror(errno));
		exit(2);
	}
	fclose(f);
	return val;
}

static void ksm_write(const char *name, unsigned long val)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), KSM "%s", name);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%lu", val) < 0 || fclose(f)) {
		fprintf(stderr, "write %s=%lu: %s\n", path, val, strerror(errno));
		exit(2);
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Let ksmd do exactly one full scan (one batch: fewer than pages_to_scan pages). */
static void scan_once(void)
{
	unsigned long seq = ksm_read("full_scans");
	int waited = 0;

	ksm_write("run", 1);
	while (ksm_read("full_scans") == seq) {
		sleep_ms(2);
		if (++waited > 60000) {
			fprintf(stderr, "ksmd did not scan\n");
			exit(2);
		}
	}
	ksm_write("run", 0);
	if (ksm_read("full_scans") != seq + 1) {
		fprintf(stderr, "could not step ksmd one scan at a time\n");
		exit(2);
	}
}

static void bind_node(void *addr, int node)
{
	unsigned long mask = 1UL << node;

	/* Best effort, as numa_alloc_onnode(); irrelevant with merge_across_nodes=1. */
	syscall(SYS_mbind, addr, page_size, MPOL_BIND_, &mask, 64, 0);
}

/* The test's sequence with @extra scans between its two waits: merged? */
static bool replay(int extra, unsigned long *skipped)
{
	unsigned long skipped0;
	char *area, *p1, *p2;
	bool merged;
	int i;

	ksm_write("run", 2);	/* unmerge, drop every rmap_item: fresh ages */
	ksm_write("run", 0);
	skipped0 = ksm_read("pages_skipped");

	/* Two separate VMAs, page 1 above page 2 as numa_alloc_onnode() gives. */
	area = mmap(NULL, 3 * page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	p1 = area + 2 * page_size;
	p2 = area;
	bind_node(p1, 0);
	bind_node(p2, 1);
	memset(p1, '*', page_size);
	memset(p2, '*', page_size);

	if (madvise(p1, page_size, MADV_MERGEABLE)) {
		perror("madvise");
		exit(2);
	}
	scan_once();
	scan_once();
	for (i = 0; i < extra; i++)
		scan_once();
	if (madvise(p2, page_size, MADV_MERGEABLE)) {
		perror("madvise");
		exit(2);
	}
	scan_once();
	scan_once();

	/* assert_ksm_pages_count(2) with max_page_sharing >= 3 */
	merged = ksm_read("pages_shared") == 1 && ksm_read("pages_sharing") == 1;
	*skipped = ksm_read("pages_skipped") - skipped0;
	munmap(area, 3 * page_size);
	return merged;
}

int main(int argc, char **argv)
{
	unsigned long run, sleep, to_scan, across, smart, skipped;
	int smart_set = -1, max_k = 6, opt, k, failed = 0;

	while ((opt = getopt(argc, argv, "s:k:")) != -1) {
		switch (opt) {
		case 's':
			smart_set = atoi(optarg);
			break;
		case 'k':
			max_k = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-s SMART_SCAN] [-k MAX_K]\n", argv[0]);
			return 2;
		}
	}
	page_size = sysconf(_SC_PAGESIZE);

	run = ksm_read("run");
	sleep = ksm_read("sleep_millisecs");
	to_scan = ksm_read("pages_to_scan");
	across = ksm_read("merge_across_nodes");
	smart = ksm_read("smart_scan");

	ksm_write("run", 2);
	ksm_write("run", 0);
	ksm_write("merge_across_nodes", 1);
	ksm_write("pages_to_scan", 10);
	ksm_write("sleep_millisecs", 1000);
	if (smart_set >= 0)
		ksm_write("smart_scan", smart_set);
	printf("smart_scan=%lu: page 1 mergeable, 2 scans, K extra scans, page 2 mergeable, 2 scans\n",
	       ksm_read("smart_scan"));

	for (k = 0; k <= max_k; k++) {
		bool merged = replay(k, &skipped);

		printf("K=%d: %s (pages_skipped +%lu)\n", k,
		       merged ? "merged" : "NOT merged: ksm_tests -N -m 1 would fail", skipped);
		if (!merged)
			failed++;
	}

	ksm_write("run", 2);
	ksm_write("run", 0);
	ksm_write("smart_scan", smart);
	ksm_write("merge_across_nodes", across);
	ksm_write("pages_to_scan", to_scan);
	ksm_write("sleep_millisecs", sleep);
	ksm_write("run", run);

	if (failed) {
		printf("FAIL: %d of %d replays not merged after the test's two scans\n",
		       failed, max_k + 1);
		return 1;
	}
	printf("PASS: merged after two scans whatever the extra scans\n");
	return 0;
}
