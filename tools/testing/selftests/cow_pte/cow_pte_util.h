/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the COW PTE selftests: reading /proc and debugfs
 * values, PMD-aligned mappings (so that whole PTE tables are shared), and
 * page patterns that tell every writer ("generation") apart.
 */
#ifndef COW_PTE_UTIL_H
#define COW_PTE_UTIL_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest.h"

#define PMD_SIZE	(2UL << 20)
#define PAGE		4096UL

/* How a test process ended: its exit status. */
enum { PASS = 0, FAIL = 1, SKIP = 4 };

/* Print why a test fails; returns true when @cond does not hold. */
static inline bool __printf(2, 3)
failed(bool cond, const char *fmt, ...)
{
	va_list ap;

	if (cond)
		return false;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	return true;
}

/*
 * The number after @field and @sep at the start of a line of @path
 * ("cow_pte_share 12" in /proc/vmstat, "PageTables: 40 kB" in
 * /proc/meminfo), or -1.
 */
static inline long proc_value(const char *path, const char *field, char sep)
{
	char line[256];
	long val = -1;
	size_t len = strlen(field);
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == sep)
			val = atol(line + len + 1);
	if (f)
		fclose(f);
	return val;
}

/* A /proc/vmstat event counter (0 if absent). */
static inline unsigned long vm_event(const char *name)
{
	long val = proc_value("/proc/vmstat", name, ' ');

	return val < 0 ? 0 : val;
}

static inline long meminfo_kb(const char *field)
{
	return proc_value("/proc/meminfo", field, ':');
}

static inline int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	int ret = -1;

	if (fd >= 0) {
		ret = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
		close(fd);
	}
	return ret;
}

/* Seconds since some fixed point. */
static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline long read_long(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY);

	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) < 0)
			buf[0] = '\0';
		close(fd);
	}
	return strtol(buf, NULL, 10);
}

/*
 * Wait up to @secs for the number in @path to reach @target, polling every
 * 100 ms (a kernel thread's progress: ksmd, khugepaged).  Returns the last
 * value read.
 */
static inline long wait_for_value(const char *path, long target, int secs)
{
	double start = now();
	long val;

	while ((val = read_long(path)) < target && now() - start < secs)
		usleep(100000);
	return val;
}

static inline int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return FAIL;
	return WIFEXITED(status) ? WEXITSTATUS(status) : FAIL;
}

/* A PMD-aligned private region of @size bytes (@flags: MAP_ANONYMOUS...). */
static inline char *map_aligned(size_t size, int flags, int fd)
{
	char *p = mmap(NULL, size + PMD_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | flags, fd, 0);
	char *aligned;

	if (p == MAP_FAILED)
		return NULL;
	aligned = (char *)(((uintptr_t)p + PMD_SIZE - 1) & ~(PMD_SIZE - 1));
	if (aligned > p)
		munmap(p, aligned - p);
	munmap(aligned + size, p + PMD_SIZE - aligned);
	return aligned;
}

/* The word written at offset @off of a region by "generation" @gen. */
static inline uint64_t pattern(unsigned long gen, size_t off)
{
	return (gen << 48) ^ (off * 0x9e3779b97f4a7c15ULL) ^ 0x5555;
}

/*
 * Write 16 words per page of [p, p + size) for generation @gen, with
 * offsets counted from @base (the offset of @p in the region).
 */
static inline void fill(char *p, size_t size, unsigned long gen, size_t base)
{
	size_t off;

	for (off = 0; off < size; off += PAGE / 16)
		*(uint64_t *)(p + off) = pattern(gen, base + off);
}

/*
 * Check that [p, p + size) holds generation @gen (0 means zeroes), with
 * offsets counted from @base; returns the number of bad words.
 */
static inline long verify(const char *p, size_t size, unsigned long gen,
			  size_t base)
{
	long bad = 0;
	size_t off;

	for (off = 0; off < size; off += PAGE / 16) {
		uint64_t want = gen ? pattern(gen, base + off) : 0;

		bad += *(const uint64_t *)(p + off) != want;
	}
	return bad;
}

/* Whether [p, p + size) differs from generation @gen; says so if it does. */
static inline bool differs(const char *p, size_t size, unsigned long gen,
			   size_t base, const char *what)
{
	long bad = verify(p, size, gen, base);

	return failed(!bad, "# %s: %ld words differ from generation %lu\n",
		      what, bad, gen);
}

#endif /* COW_PTE_UTIL_H */
