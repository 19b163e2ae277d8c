// SPDX-License-Identifier: GPL-2.0
/*
 * thp_split_recollapse: why split_huge_page_test fails at random with
 * "Still AnonHugePages not split".
 *
 * split_pmd_thp() of the test faults four THPs in a MADV_HUGEPAGE area,
 * splits them through <debugfs>/split_huge_pages, reads all 8 MB back and
 * only then checks that smaps shows AnonHugePages: 0 kB.  The split leaves
 * 512 present, young, writable PTEs per 2 MB in a VM_HUGEPAGE VMA that is
 * on khugepaged's list: exactly what khugepaged collapses.  When its
 * periodic scan (every scan_sleep_millisecs, 10 s by default) falls between
 * the split and the check, the test sees a THP again.
 *
 * This program does what split_pmd_thp() does, checks right after the split
 * (split: AnonHugePages 0), then keeps looking for up to -t seconds (default
 * 3 scan periods + 5 s, at most 60 s).  Exit 1 when khugepaged has put a THP
 * back, 0 when the range stayed split.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PMD_SIZE_ (2UL << 20)
#define NR_THP 4
#define KH "/sys/kernel/mm/transparent_hugepage/khugepaged/"

static unsigned long read_ul(const char *path)
{
	unsigned long val = 0;
	FILE *f = fopen(path, "r");

	if (!f || fscanf(f, "%lu", &val) != 1) {
		fprintf(stderr, "read %s: %s\n", path, strerror(errno));
		exit(2);
	}
	fclose(f);
	return val;
}

/* AnonHugePages (kB) of the VMA that contains @addr, as check_huge_anon() reads it. */
static long anon_huge_kb(char *addr)
{
	unsigned long start, end;
	char line[256];
	long kb = -1;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f) {
		perror("smaps");
		exit(2);
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (unsigned long)addr >= start && (unsigned long)addr < end;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	size_t len = NR_THP * PMD_SIZE_, i;
	unsigned long sleep_ms, collapsed0, scans0;
	long limit_s, t0, t, kb;
	char buf[80], *raw, *p;
	int fd, n;

	sleep_ms = read_ul(KH "scan_sleep_millisecs");
	limit_s = 3 * sleep_ms / 1000 + 5;
	if (limit_s > 60)
		limit_s = 60;
	if (argc > 2 && !strcmp(argv[1], "-t"))
		limit_s = atol(argv[2]);

	raw = mmap(NULL, len + PMD_SIZE_, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	p = (char *)(((unsigned long)raw + PMD_SIZE_ - 1) & ~(PMD_SIZE_ - 1));
	madvise(p, len, MADV_HUGEPAGE);
	for (i = 0; i < len; i++)
		p[i] = (char)i;
	kb = anon_huge_kb(p);
	if (kb != (long)(len >> 10)) {
		printf("SKIP: %ld kB of THP after faulting, not %zu\n", kb, len >> 10);
		return 2;
	}

	collapsed0 = read_ul(KH "pages_collapsed");
	scans0 = read_ul(KH "full_scans");
	fd = open("/sys/kernel/debug/split_huge_pages", O_WRONLY);
	if (fd < 0) {
		perror("split_huge_pages");
		return 2;
	}
	n = snprintf(buf, sizeof(buf), "%d,0x%lx,0x%lx,0", getpid(),
		     (unsigned long)p, (unsigned long)p + len);
	if (write(fd, buf, n) != n) {
		perror("split_huge_pages write");
		return 2;
	}
	close(fd);
	t0 = now_ms();
	kb = anon_huge_kb(p);
	printf("split: AnonHugePages %ld kB right after the split (khugepaged scan_sleep_millisecs=%lu)\n",
	       kb, sleep_ms);
	if (kb) {
		printf("FAIL: the split left a THP\n");
		return 1;
	}

	do {
		usleep(100000);
		for (i = 0; i < len; i++)
			if (p[i] != (char)i) {
				printf("FAIL: byte %zu corrupted\n", i);
				return 1;
			}
		kb = anon_huge_kb(p);
		t = now_ms() - t0;
		if (kb) {
			printf("FAIL: AnonHugePages %ld kB again %ld ms after the split: khugepaged collapsed it (pages_collapsed +%lu, full_scans +%lu); split_huge_page_test checks this after reading 8 MB back\n",
			       kb, t, read_ul(KH "pages_collapsed") - collapsed0,
			       read_ul(KH "full_scans") - scans0);
			return 1;
		}
	} while (t < limit_s * 1000);

	printf("PASS: still split after %ld s (pages_collapsed +%lu, full_scans +%lu)\n",
	       t / 1000, read_ul(KH "pages_collapsed") - collapsed0,
	       read_ul(KH "full_scans") - scans0);
	munmap(raw, len + PMD_SIZE_);
	return 0;
}
