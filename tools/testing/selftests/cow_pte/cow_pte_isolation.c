// SPDX-License-Identifier: GPL-2.0
/*
 * After a fork that shares PTE tables (COW PTE), parent and child must each
 * see only their own data, whatever they do to the shared range: write,
 * fault in, swap, merge, mprotect, mremap, munmap, madvise, userfaultfd
 * write-protect, clear soft-dirty bits, pin, migrate to another NUMA node,
 * be scanned for NUMA hinting, fork again, exit, or write from another
 * thread while forking.
 *
 * Every test runs in a process of its own that enables COW PTE, and checks
 * through /proc/vmstat that tables were really shared where they must be.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/mempolicy.h>
#include <linux/prctl.h>
#include <linux/userfaultfd.h>

#include "../kselftest.h"
#include "../../../../mm/gup_test.h"
#include "cow_pte_util.h"

#define REGION		(4 * PMD_SIZE)	/* four whole PTE tables */
#define KSM_WAIT_SECS	300		/* ksmd merging REGION, busy host */

/* A one-shot signal between two processes. */
struct gate {
	int fd[2];
};

static void gate_init(struct gate *g)
{
	if (pipe(g->fd))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
}

static void gate_open(struct gate *g)
{
	if (write(g->fd[1], "x", 1) != 1)
		ksft_exit_fail_msg("gate write: %s\n", strerror(errno));
}

/* Wait for the other side; false if it died without opening the gate. */
static bool gate_wait(struct gate *g)
{
	char c;
	ssize_t n;

	do {
		n = read(g->fd[0], &c, 1);
	} while (n < 0 && errno == EINTR);
	return n == 1;
}

/* Keep only the ends this side uses, so that a dead peer means EOF. */
static void gate_use(struct gate *opens, struct gate *waits)
{
	close(opens->fd[0]);
	close(waits->fd[1]);
}

/*
 * The common pattern: @child runs in a forked child, @parent_fn in the
 * parent, interleaved by two gates: the child acts first, then the parent,
 * then the child checks again.  Returns FAIL if either side failed.
 */
struct scenario {
	char *mem;
	size_t size;
	struct gate child_done, parent_done;
};

typedef int (*side_fn)(struct scenario *s, int step);

static int run_scenario(char *mem, size_t size, side_fn child, side_fn parent)
{
	struct scenario s = { .mem = mem, .size = size };
	unsigned long shared = vm_event("cow_pte_share");
	int ret;
	pid_t pid;

	gate_init(&s.child_done);
	gate_init(&s.parent_done);
	pid = fork();
	if (failed(pid >= 0, "# fork: %s\n", strerror(errno)))
		return FAIL;
	if (pid == 0) {
		gate_use(&s.child_done, &s.parent_done);
		ret = child(&s, 0);
		gate_open(&s.child_done);
		if (!gate_wait(&s.parent_done))
			_exit(FAIL);
		if (ret == PASS)
			ret = child(&s, 1);
		_exit(ret);
	}
	gate_use(&s.parent_done, &s.child_done);
	if (vm_event("cow_pte_share") == shared) {
		gate_open(&s.parent_done);
		wait_child(pid);
		failed(false, "# fork shared no PTE table\n");
		return FAIL;
	}
	if (!gate_wait(&s.child_done)) {
		wait_child(pid);
		failed(false, "# child died\n");
		return FAIL;
	}
	ret = parent(&s, 0);
	gate_open(&s.parent_done);
	if (failed(wait_child(pid) == PASS, "# child side failed\n"))
		return FAIL;
	if (ret == PASS)
		ret = parent(&s, 1);
	return ret;
}

/*
 * Default sides: the child checks the parent's generation 1, writes
 * generation 2 over its first half; the parent then checks generation 1
 * everywhere and writes generation 3 over its second half; finally each
 * checks its own view.
 */
static int child_writes_first_half(struct scenario *s, int step)
{
	size_t half = s->size / 2;

	if (step == 0) {
		if (differs(s->mem, s->size, 1, 0, "child before writing"))
			return FAIL;
		fill(s->mem, half, 2, 0);
		if (differs(s->mem, half, 2, 0, "child after writing"))
			return FAIL;
		return PASS;
	}
	if (differs(s->mem, half, 2, 0, "child's own half, after the parent wrote"))
		return FAIL;
	if (differs(s->mem + half, half, 1, half, "child's other half, after the parent wrote"))
		return FAIL;
	return PASS;
}

static int parent_writes_second_half(struct scenario *s, int step)
{
	size_t half = s->size / 2;

	if (step == 0) {
		if (differs(s->mem, s->size, 1, 0, "parent after the child wrote"))
			return FAIL;
		fill(s->mem + half, half, 3, half);
		return PASS;
	}
	if (differs(s->mem, half, 1, 0, "parent's first half at the end"))
		return FAIL;
	if (differs(s->mem + half, half, 3, half, "parent's second half at the end"))
		return FAIL;
	return PASS;
}

static int basic_scenario(char *mem, size_t size)
{
	return run_scenario(mem, size, child_writes_first_half,
			    parent_writes_second_half);
}

/*
 * The usual setup: four tables of small anonymous pages holding generation
 * 1, shared by a fork, then @child and @parent as in run_scenario().
 */
static int anon_scenario(side_fn child, side_fn parent)
{
	char *mem = map_aligned(REGION, MAP_ANONYMOUS, -1);

	if (failed(mem, "# mmap failed\n"))
		return FAIL;
	madvise(mem, REGION, MADV_NOHUGEPAGE);
	fill(mem, REGION, 1, 0);
	return run_scenario(mem, REGION, child, parent);
}

static int test_anon(void)
{
	return anon_scenario(child_writes_first_half, parent_writes_second_half);
}

static int test_thp_pmd(void)
{
	char *mem = map_aligned(REGION, MAP_ANONYMOUS, -1);
	struct scenario s = { .mem = mem, .size = REGION };
	pid_t pid;

	if (failed(mem, "# mmap failed\n"))
		return FAIL;
	if (madvise(mem, REGION, MADV_HUGEPAGE))
		return SKIP;
	fill(mem, REGION, 1, 0);
	/* PMD-mapped THPs have no PTE table: fork copies them as always. */
	gate_init(&s.child_done);
	gate_init(&s.parent_done);
	pid = fork();
	if (pid == 0) {
		int ret;

		gate_use(&s.child_done, &s.parent_done);
		ret = child_writes_first_half(&s, 0);
		gate_open(&s.child_done);
		if (!gate_wait(&s.parent_done))
			_exit(FAIL);
		_exit(ret == PASS ? child_writes_first_half(&s, 1) : ret);
	}
	gate_use(&s.parent_done, &s.child_done);
	if (!gate_wait(&s.child_done) || parent_writes_second_half(&s, 0) != PASS) {
		gate_open(&s.parent_done);
		wait_child(pid);
		return FAIL;
	}
	gate_open(&s.parent_done);
	if (failed(wait_child(pid) == PASS, "# child side failed\n"))
		return FAIL;
	return parent_writes_second_half(&s, 1);
}

static int test_thp_pte(void)
{
	char *mem = map_aligned(REGION, MAP_ANONYMOUS, -1);
	size_t off;

	if (failed(mem, "# mmap failed\n"))
		return FAIL;
	if (madvise(mem, REGION, MADV_HUGEPAGE))
		return SKIP;
	fill(mem, REGION, 1, 0);
	/* Split every PMD mapping: PTE-mapped THPs in PTE tables. */
	for (off = 0; off < REGION; off += PMD_SIZE) {
		if (failed(!mprotect(mem + off + PAGE, PAGE, PROT_READ),
			   "# mprotect\n"))
			return FAIL;
		if (failed(!mprotect(mem + off + PAGE, PAGE, PROT_READ | PROT_WRITE),
			   "# mprotect\n"))
			return FAIL;
	}
	return basic_scenario(mem, REGION);
}

static int test_hugetlb(void)
{
	char *mem = mmap(NULL, 2 * PMD_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	int ret;
	pid_t pid;

	if (mem == MAP_FAILED)
		return SKIP;
	fill(mem, 2 * PMD_SIZE, 1, 0);
	/* hugetlb has no PTE tables: fork takes its usual path. */
	pid = fork();
	if (pid == 0) {
		if (verify(mem, 2 * PMD_SIZE, 1, 0))
			_exit(FAIL);
		fill(mem, PMD_SIZE, 2, 0);
		_exit(verify(mem, PMD_SIZE, 2, 0) ? FAIL : PASS);
	}
	ret = wait_child(pid);
	if (failed(ret == PASS, "# child saw wrong data\n"))
		return FAIL;
	if (differs(mem, 2 * PMD_SIZE, 1, 0, "parent after the child wrote"))
		return FAIL;
	return PASS;
}

static int test_file_private(void)
{
	char path[] = "/tmp/cow_pte_isolation.XXXXXX";
	int fd = mkstemp(path);
	char *buf, *mem;

	if (failed(fd >= 0, "# mkstemp: %s\n", strerror(errno)))
		return FAIL;
	unlink(path);
	buf = malloc(REGION);
	fill(buf, REGION, 1, 0);
	if (failed(write(fd, buf, REGION) == (ssize_t)REGION, "# write file\n"))
		return FAIL;
	free(buf);
	/* Map the file at a PMD-aligned address, from offset 0. */
	mem = map_aligned(REGION, MAP_ANONYMOUS, -1);
	if (failed(mem, "# mmap failed\n"))
		return FAIL;
	if (failed(mmap(mem, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0) == mem,
		   "# mmap file: %s\n", strerror(errno)))
		return FAIL;
	/* Half page cache pages, half anonymous copies (still generation 1). */
	fill(mem, REGION / 2, 1, 0);
	return basic_scenario(mem, REGION);
}

/* Whether the page at @addr is swapped out, from /proc/self/pagemap. */
static bool swapped(const char *addr)
{
	uint64_t entry = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return false;
	if (pread(fd, &entry, sizeof(entry), (uintptr_t)addr / PAGE * 8) != 8)
		entry = 0;
	close(fd);
	return entry & (1ULL << 62);
}

static int test_swap(void)
{
	char *mem = map_aligned(REGION, MAP_ANONYMOUS, -1);

	if (failed(mem, "# mmap failed\n"))
		return FAIL;
	madvise(mem, REGION, MADV_NOHUGEPAGE);
	fill(mem, REGION, 1, 0);
	if (madvise(mem, REGION, MADV_PAGEOUT) || !swapped(mem))
		return SKIP;
	return basic_scenario(mem, REGION);
}

static int test_ksm(void)
{
	char *mem = map_aligned(REGION, MAP_ANONYMOUS, -1);
	long merged = REGION / PAGE / 2 + 1, sharing;
	size_t off;
	int ret;

	if (failed(mem, "# mmap failed\n"))
		return FAIL;
	madvise(mem, REGION, MADV_NOHUGEPAGE);
	/* Two kinds of identical pages, for KSM to merge. */
	for (off = 0; off < REGION; off += PAGE)
		memset(mem + off, off / PAGE % 2 ? 0x5a : 0xa5, PAGE);
	if (madvise(mem, REGION, MADV_MERGEABLE) ||
	    write_file("/sys/kernel/mm/ksm/pages_to_scan", "10000") ||
	    write_file("/sys/kernel/mm/ksm/sleep_millisecs", "0") ||
	    write_file("/sys/kernel/mm/ksm/run", "1"))
		return SKIP;
	/* ksmd merges at its own pace: wait for it, bounded for a busy host. */
	sharing = wait_for_value("/sys/kernel/mm/ksm/pages_sharing", merged, KSM_WAIT_SECS);
	if (failed(sharing >= merged, "# ksmd merged %ld pages in %d s, not %ld\n",
		   sharing, KSM_WAIT_SECS, merged)) {
		write_file("/sys/kernel/mm/ksm/run", "2");
		return FAIL;
	}
	/* Overwrite a few merged pages with generation 1 data. */
	fill(mem, REGION, 1, 0);
	ret = basic_scenario(mem, REGION);
	madvise(mem, REGION, MADV_UNMERGEABLE);
	write_file("/sys/kernel/mm/ksm/run", "2");
	return ret;
}

/* The child changes protections inside the shared tables, then writes. */
static int child_mprotects(struct scenario *s, int step)
{
	if (step == 0) {
		if (failed(!mprotect(s->mem + PAGE * 3, PAGE * 5, PROT_READ),
			   "# mprotect\n"))
			return FAIL;
		if (differs(s->mem, s->size, 1, 0, "child with part read-only"))
			return FAIL;
		if (failed(!mprotect(s->mem + PMD_SIZE, PMD_SIZE, PROT_NONE),
			   "# mprotect\n"))
			return FAIL;
		if (failed(!mprotect(s->mem, s->size, PROT_READ | PROT_WRITE),
			   "# mprotect\n"))
			return FAIL;
	}
	return child_writes_first_half(s, step);
}

static int parent_mprotects(struct scenario *s, int step)
{
	if (step == 0) {
		if (failed(!mprotect(s->mem, s->size, PROT_READ),
			   "# mprotect\n"))
			return FAIL;
		if (differs(s->mem, s->size, 1, 0, "parent read-only"))
			return FAIL;
		if (failed(!mprotect(s->mem, s->size, PROT_READ | PROT_WRITE),
			   "# mprotect\n"))
			return FAIL;
	}
	return parent_writes_second_half(s, step);
}

static int test_mprotect(void)
{
	return anon_scenario(child_mprotects, parent_mprotects);
}

/* mremap() [from, from + size) to @to; whether it got there. */
static bool move(char *from, size_t size, char *to)
{
	return mremap(from, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, to) == to;
}

/* The child moves the whole range (PMD-aligned) and part of it (not). */
static int child_mremaps(struct scenario *s, int step)
{
	char *dst, *moved;

	if (step == 1)
		return child_writes_first_half(s, 1);
	dst = map_aligned(s->size, MAP_ANONYMOUS, -1);
	if (failed(dst, "# mmap target\n"))
		return FAIL;
	moved = mremap(s->mem, s->size, s->size, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (failed(moved == dst, "# mremap: %s\n", strerror(errno)))
		return FAIL;
	if (differs(moved, s->size, 1, 0, "child after moving whole tables"))
		return FAIL;
	/* Move three pages from the middle of a table elsewhere and back. */
	dst = mmap(NULL, PAGE * 3, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (failed(move(moved + PAGE * 7, PAGE * 3, dst), "# mremap part\n"))
		return FAIL;
	if (differs(dst, PAGE * 3, 1, PAGE * 7, "child's moved pages"))
		return FAIL;
	if (failed(move(dst, PAGE * 3, moved + PAGE * 7), "# mremap back\n"))
		return FAIL;
	if (failed(move(moved, s->size, s->mem), "# mremap home\n"))
		return FAIL;
	return child_writes_first_half(s, 0);
}

static int test_mremap(void)
{
	return anon_scenario(child_mremaps, parent_writes_second_half);
}

/* The child unmaps pages inside a table and splits the VMA. */
static int child_munmaps(struct scenario *s, int step)
{
	size_t half = s->size / 2;

	if (step == 0) {
		if (failed(!munmap(s->mem + PAGE * 9, PAGE * 2), "# munmap\n"))
			return FAIL;
		if (failed(!madvise(s->mem + PMD_SIZE + PAGE, PAGE, MADV_DONTFORK),
			   "# madvise split\n"))
			return FAIL;
		if (differs(s->mem, PAGE * 9, 1, 0, "child before the hole"))
			return FAIL;
		if (differs(s->mem + PAGE * 11, s->size - PAGE * 11, 1,
			    PAGE * 11, "child after the hole"))
			return FAIL;
		fill(s->mem + PAGE * 11, half - PAGE * 11, 2, PAGE * 11);
		return PASS;
	}
	if (differs(s->mem + PAGE * 11, half - PAGE * 11, 2, PAGE * 11, "child's own"))
		return FAIL;
	if (differs(s->mem + half, half, 1, half, "child's other half"))
		return FAIL;
	return PASS;
}

static int test_munmap_split(void)
{
	return anon_scenario(child_munmaps, parent_writes_second_half);
}

/* The child zaps part of a table, a whole table, frees and pages out. */
static int child_madvises(struct scenario *s, int step)
{
	char *m = s->mem;

	if (step == 1) {
		if (differs(m + PAGE * 2, PAGE * 3, 0, 0, "child's dropped pages"))
			return FAIL;
		if (differs(m + PMD_SIZE, PMD_SIZE, 0, 0, "child's dropped table"))
			return FAIL;
		if (differs(m + 2 * PMD_SIZE, 2 * PMD_SIZE, 1, 2 * PMD_SIZE,
			    "child's paged-out pages"))
			return FAIL;
		return PASS;
	}
	if (failed(!madvise(m + PAGE * 2, PAGE * 3, MADV_DONTNEED),
		   "# DONTNEED part\n"))
		return FAIL;
	if (failed(!madvise(m + PMD_SIZE, PMD_SIZE, MADV_DONTNEED),
		   "# DONTNEED table\n"))
		return FAIL;
	if (failed(!madvise(m + PAGE * 20, PAGE * 4, MADV_FREE), "# FREE\n"))
		return FAIL;
	if (failed(!madvise(m + 2 * PMD_SIZE, PMD_SIZE, MADV_COLD), "# COLD\n"))
		return FAIL;
	if (failed(!madvise(m + 3 * PMD_SIZE, PMD_SIZE, MADV_PAGEOUT),
		   "# PAGEOUT\n"))
		return FAIL;
	if (differs(m + PAGE * 2, PAGE * 3, 0, 0, "child's dropped pages"))
		return FAIL;
	if (differs(m + PMD_SIZE, PMD_SIZE, 0, 0, "child's dropped table"))
		return FAIL;
	if (differs(m + 2 * PMD_SIZE, 2 * PMD_SIZE, 1, 2 * PMD_SIZE,
		    "child's cold and paged-out pages"))
		return FAIL;
	return PASS;
}

static int parent_checks_all(struct scenario *s, int step)
{
	if (differs(s->mem, s->size, 1, 0, "parent"))
		return FAIL;
	if (step == 0)
		fill(s->mem + PMD_SIZE, PMD_SIZE, 1, PMD_SIZE);	/* rewrite, same data */
	return PASS;
}

static int test_madvise(void)
{
	return anon_scenario(child_madvises, parent_checks_all);
}

static int uffd_open(void)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP };
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -1;
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int uffd_wp(int fd, char *mem, size_t size, bool on)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)mem, .len = size },
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(fd, UFFDIO_WRITEPROTECT, &wp);
}

static int uffd_register(int fd, char *mem, size_t size)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)mem, .len = size },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	return ioctl(fd, UFFDIO_REGISTER, &reg);
}

/* The child write-protects with userfaultfd inside the shared tables. */
static int child_uffd_wp(struct scenario *s, int step)
{
	int fd;

	if (step == 1)
		return child_writes_first_half(s, 1);
	fd = uffd_open();
	if (failed(fd >= 0, "# userfaultfd: %s\n", strerror(errno)))
		return FAIL;
	if (failed(!uffd_register(fd, s->mem, s->size), "# UFFDIO_REGISTER\n"))
		return FAIL;
	if (failed(!uffd_wp(fd, s->mem, s->size, true),
		   "# UFFDIO_WRITEPROTECT\n"))
		return FAIL;
	if (differs(s->mem, s->size, 1, 0, "child, write-protected"))
		return FAIL;
	if (failed(!uffd_wp(fd, s->mem, s->size, false),
		   "# un-write-protect\n"))
		return FAIL;
	close(fd);
	return child_writes_first_half(s, 0);
}

static int test_uffd_wp(void)
{
	char *mem = map_aligned(REGION, MAP_ANONYMOUS, -1);
	unsigned long before;
	int fd, ret;

	if (failed(mem, "# mmap failed\n"))
		return FAIL;
	madvise(mem, REGION, MADV_NOHUGEPAGE);
	fill(mem, REGION, 1, 0);
	ret = run_scenario(mem, REGION, child_uffd_wp, parent_writes_second_half);
	if (ret != PASS)
		return ret;

	/* Write-protected before fork: the tables are copied, not shared. */
	fd = uffd_open();
	if (failed(fd >= 0, "# userfaultfd: %s\n", strerror(errno)))
		return FAIL;
	fill(mem, PMD_SIZE, 1, 0);
	fill(mem + PMD_SIZE, REGION - PMD_SIZE, 1, 0);
	if (failed(!uffd_register(fd, mem, PMD_SIZE), "# UFFDIO_REGISTER\n"))
		return FAIL;
	if (failed(!uffd_wp(fd, mem, PMD_SIZE, true),
		   "# UFFDIO_WRITEPROTECT\n"))
		return FAIL;
	before = vm_event("cow_pte_fallback_uffd_wp");
	ret = run_scenario(mem + PMD_SIZE, REGION - PMD_SIZE,
			   child_writes_first_half, parent_writes_second_half);
	if (failed(vm_event("cow_pte_fallback_uffd_wp") > before,
		   "# a userfaultfd-wp table was shared\n"))
		return FAIL;
	close(fd);
	return ret;
}

/* Soft-dirty bit of the page at @addr. */
static bool soft_dirty(const char *addr)
{
	uint64_t entry = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd >= 0) {
		if (pread(fd, &entry, 8, (uintptr_t)addr / PAGE * 8) != 8)
			entry = 0;
		close(fd);
	}
	return entry & (1ULL << 55);
}

static int child_clears_soft_dirty(struct scenario *s, int step)
{
	char c;

	if (step == 0) {
		if (failed(!write_file("/proc/self/clear_refs", "4"),
			   "# clear_refs\n"))
			return FAIL;
		if (failed(!soft_dirty(s->mem + PAGE),
			   "# child: soft-dirty after clearing\n"))
			return FAIL;
		/* Write the same byte back. */
		c = __atomic_load_n(&s->mem[PAGE], __ATOMIC_RELAXED);
		__atomic_store_n(&s->mem[PAGE], c, __ATOMIC_RELAXED);
		if (failed(soft_dirty(s->mem + PAGE),
			   "# child: not soft-dirty after writing\n"))
			return FAIL;
		if (failed(!soft_dirty(s->mem + 2 * PAGE),
			   "# child: untouched page soft-dirty\n"))
			return FAIL;
	}
	return child_writes_first_half(s, step);
}

static int parent_keeps_soft_dirty(struct scenario *s, int step)
{
	if (step == 0 && failed(soft_dirty(s->mem + 2 * PAGE),
				"# parent: the child's clear_refs cleared %s\n",
				"the parent's soft-dirty bit"))
		return FAIL;
	return parent_writes_second_half(s, step);
}

static int test_soft_dirty(void)
{
	char *mem = map_aligned(REGION, MAP_ANONYMOUS, -1);

	if (failed(mem, "# mmap failed\n"))
		return FAIL;
	madvise(mem, REGION, MADV_NOHUGEPAGE);
	fill(mem, REGION, 1, 0);
	if (!soft_dirty(mem))
		return SKIP;
	return run_scenario(mem, REGION, child_clears_soft_dirty,
			    parent_keeps_soft_dirty);
}

static int test_pinned(void)
{
	char *mem = map_aligned(REGION, MAP_ANONYMOUS, -1);
	struct pin_longterm_test args = { .size = PMD_SIZE };
	unsigned long before;
	int fd, ret;

	if (failed(mem, "# mmap failed\n"))
		return FAIL;
	madvise(mem, REGION, MADV_NOHUGEPAGE);
	fill(mem, REGION, 1, 0);
	fd = open("/sys/kernel/debug/gup_test", O_RDWR);
	if (fd < 0)
		return SKIP;
	/* Pin the first table's pages: it must be copied, not shared. */
	args.addr = (uintptr_t)mem;
	if (failed(!ioctl(fd, PIN_LONGTERM_TEST_START, &args), "# pin: %s\n",
		   strerror(errno)))
		return FAIL;
	before = vm_event("cow_pte_fallback_pinned");
	ret = basic_scenario(mem, REGION);
	if (failed(vm_event("cow_pte_fallback_pinned") > before,
		   "# a pinned table was shared\n"))
		return FAIL;
	ioctl(fd, PIN_LONGTERM_TEST_STOP);
	close(fd);
	return ret;
}

/*
 * Page migration between NUMA nodes: move_pages(MPOL_MF_MOVE_ALL) in the
 * child moves pages the parent maps through the same shared tables.  Each
 * page goes to the node it is not on; both processes must then find every
 * page on its new node and the data unchanged.
 */
#define MIGRATE_PAGES	(REGION / PAGE)

/*
 * move_pages() on the region's pages: moves them to @nodes, or only says
 * where they are if @nodes is NULL.  0, or what was not moved.
 */
static long move_region(char *mem, const int *nodes, int *status, int flags)
{
	void *pages[MIGRATE_PAGES];
	size_t i;

	for (i = 0; i < MIGRATE_PAGES; i++)
		pages[i] = mem + i * PAGE;
	return syscall(SYS_move_pages, 0, MIGRATE_PAGES, pages, nodes, status,
		       flags);
}

static int migrated_nodes[MIGRATE_PAGES];

static bool two_nodes(void)
{
	return !access("/sys/devices/system/node/node1", F_OK);
}

static int on_migrated_nodes(char *mem, const char *who)
{
	int status[MIGRATE_PAGES];
	size_t i, wrong = 0;

	if (failed(!move_region(mem, NULL, status, 0), "# %s: move_pages query: %s\n",
		   who, strerror(errno)))
		return FAIL;
	for (i = 0; i < MIGRATE_PAGES; i++)
		wrong += status[i] != migrated_nodes[i];
	return failed(!wrong, "# %s: %zu pages not on their new node\n", who,
		      wrong) ? FAIL : PASS;
}

static int child_migrates(struct scenario *s, int step)
{
	int status[MIGRATE_PAGES];

	if (step == 0) {
		if (failed(!move_region(s->mem, migrated_nodes, status,
					MPOL_MF_MOVE_ALL),
			   "# move_pages: %s\n", strerror(errno)))
			return FAIL;
		if (on_migrated_nodes(s->mem, "child after migrating"))
			return FAIL;
	}
	return child_writes_first_half(s, step);
}

static int parent_sees_migration(struct scenario *s, int step)
{
	if (step == 0 && on_migrated_nodes(s->mem, "parent"))
		return FAIL;
	return parent_writes_second_half(s, step);
}

static int test_migration(void)
{
	char *mem = map_aligned(REGION, MAP_ANONYMOUS, -1);
	int status[MIGRATE_PAGES];
	size_t i;

	if (failed(mem, "# mmap failed\n"))
		return FAIL;
	if (!two_nodes())
		return SKIP;
	madvise(mem, REGION, MADV_NOHUGEPAGE);
	fill(mem, REGION, 1, 0);
	/* Where each page is now decides where the child moves it. */
	if (failed(!move_region(mem, NULL, status, 0), "# move_pages query: %s\n",
		   strerror(errno)))
		return FAIL;
	for (i = 0; i < MIGRATE_PAGES; i++) {
		if (failed(status[i] == 0 || status[i] == 1,
			   "# page %zu: node %d\n", i, status[i]))
			return FAIL;
		migrated_nodes[i] = !status[i];
	}
	return run_scenario(mem, REGION, child_migrates, parent_sees_migration);
}

/*
 * NUMA hinting: task_numa_work() scans the parent while tables are shared.
 * It must leave alone the tables the child still shares (stock skips their
 * pages as shared COW pages) and copy none, and still scan the parent's
 * own memory (and the tables the child broke away from, which the parent
 * takes back), and the data stays as in the basic scenario.
 */
#define NUMA_SYSCTL	"/proc/sys/kernel/numa_balancing"
#define SCAN_DELAY	"/sys/kernel/debug/sched/numa_balancing/scan_delay_ms"
#define SCAN_PERIOD	"/sys/kernel/debug/sched/numa_balancing/scan_period_min_ms"
/*
 * The scanner is a task_work that comes after every 10 ms of the task's
 * run time: run (not sleep) until it has scanned, for at most this long
 * (a loaded 2-core host under TCG gives the guest a fraction of a CPU).
 */
#define SCAN_WAIT_SECS	300

static unsigned long copies(void)
{
	return vm_event("cow_pte_break_copy") + vm_event("cow_pte_break_fail") +
	       vm_event("cow_pte_drop");
}

static void *idle_thread(void *arg)
{
	for (;;)
		pause();
	return NULL;
}

static int parent_scanned(struct scenario *s, int step)
{
	unsigned long before, updates, scanned;
	pthread_t idle;
	double start;
	long bad;
	char *own;

	if (step == 1)
		return parent_writes_second_half(s, step);
	own = map_aligned(PMD_SIZE, MAP_ANONYMOUS, -1);
	if (failed(own, "# mmap failed\n"))
		return FAIL;
	fill(own, PMD_SIZE, 1, 0);
	/*
	 * The scanner leaves alone the pages of a single-threaded process
	 * that are on its node: a second thread makes it count every entry
	 * of the parent's own memory.
	 */
	if (failed(!pthread_create(&idle, NULL, idle_thread, NULL),
		   "# pthread_create\n"))
		return FAIL;
	/*
	 * One round of the loop below first: the stack, heap and libc data it
	 * writes are then this process's own, and any break counted from
	 * here on is the scanner's.
	 */
	bad = verify(s->mem, s->size, 1, 0) + verify(own, PMD_SIZE, 1, 0);
	updates = vm_event("numa_pte_updates");
	before = copies();
	start = now();
	for (;;) {
		bad += verify(s->mem, s->size, 1, 0) + verify(own, PMD_SIZE, 1, 0);
		scanned = vm_event("numa_pte_updates") - updates;
		if (scanned >= PMD_SIZE / PAGE || now() - start > SCAN_WAIT_SECS)
			break;
	}
	pthread_cancel(idle);
	pthread_join(idle, NULL);
	if (failed(copies() == before, "# NUMA hinting copied or dropped %lu shared tables\n",
		   copies() - before))
		return FAIL;
	if (failed(scanned >= PMD_SIZE / PAGE,
		   "# NUMA hinting scanned %lu entries in %d s, not %lu\n",
		   scanned, SCAN_WAIT_SECS, PMD_SIZE / PAGE))
		return FAIL;
	if (failed(!bad, "# %ld words differed during the scan\n", bad))
		return FAIL;
	return parent_writes_second_half(s, step);
}

/* Write @val to @path; its old value goes to @old (size 32). */
static void swap_setting(const char *path, const char *val, char *old)
{
	snprintf(old, 32, "%ld", read_long(path));
	write_file(path, val);
}

static int test_numa_hinting(void)
{
	char mode[32], delay[32], period[32];
	int ret;
	pid_t pid;

	if (access(NUMA_SYSCTL, F_OK) || !two_nodes())
		return SKIP;
	/*
	 * Scan at once and often (the defaults wait a second or more).  A
	 * task takes its first scan delay at fork: the scenario runs in a
	 * process forked after the change.
	 */
	swap_setting(SCAN_DELAY, "0", delay);
	swap_setting(SCAN_PERIOD, "10", period);
	swap_setting(NUMA_SYSCTL, "1", mode);
	ret = FAIL;
	if (failed(read_long(NUMA_SYSCTL) == 1, "# cannot enable NUMA balancing\n"))
		goto restore;
	pid = fork();
	if (pid == 0)
		_exit(anon_scenario(child_writes_first_half, parent_scanned));
	if (pid > 0)
		ret = wait_child(pid);
restore:
	write_file(NUMA_SYSCTL, mode);
	write_file(SCAN_DELAY, delay);
	write_file(SCAN_PERIOD, period);
	return ret;
}

/* Child and grandchild share the same tables with the parent. */
static int test_nested(void)
{
	char *mem = map_aligned(REGION, MAP_ANONYMOUS, -1);
	size_t q = REGION / 4;
	struct gate done;
	pid_t pid;

	if (failed(mem, "# mmap failed\n"))
		return FAIL;
	madvise(mem, REGION, MADV_NOHUGEPAGE);
	fill(mem, REGION, 1, 0);
	gate_init(&done);
	pid = fork();
	if (pid == 0) {
		pid_t grandchild = fork();

		if (grandchild == 0) {
			fill(mem + 2 * q, q, 5, 2 * q);
			_exit(verify(mem, 2 * q, 1, 0) || verify(mem + 2 * q, q, 5, 2 * q) ||
			      verify(mem + 3 * q, q, 1, 3 * q) ? FAIL : PASS);
		}
		fill(mem + q, q, 4, q);
		if (wait_child(grandchild) != PASS)
			_exit(FAIL);
		_exit(verify(mem, q, 1, 0) || verify(mem + q, q, 4, q) ||
		      verify(mem + 2 * q, 2 * q, 1, 2 * q) ? FAIL : PASS);
	}
	fill(mem + 3 * q, q, 3, 3 * q);
	if (failed(wait_child(pid) == PASS,
		   "# child or grandchild saw wrong data\n"))
		return FAIL;
	if (differs(mem, 3 * q, 1, 0, "parent's untouched part"))
		return FAIL;
	if (differs(mem + 3 * q, q, 3, 3 * q, "parent's own part"))
		return FAIL;
	return PASS;
}

/* The parent exits while the child still shares its tables. */
static int test_exit_parent_first(void)
{
	struct gate result;
	char ret = FAIL;
	pid_t middle;

	gate_init(&result);
	middle = fork();
	if (middle == 0) {
		char *mem = map_aligned(REGION, MAP_ANONYMOUS, -1);
		pid_t parent = getpid();

		if (!mem)
			_exit(FAIL);
		madvise(mem, REGION, MADV_NOHUGEPAGE);
		fill(mem, REGION, 1, 0);
		if (fork() == 0) {
			char r;

			/* Wait until the parent is gone, then use the memory. */
			while (getppid() == parent)
				usleep(1000);
			r = verify(mem, REGION, 1, 0) ? FAIL : PASS;
			fill(mem, REGION / 2, 2, 0);
			if (r == PASS && (verify(mem, REGION / 2, 2, 0) ||
					  verify(mem + REGION / 2, REGION / 2, 1, REGION / 2)))
				r = FAIL;
			if (write(result.fd[1], &r, 1) != 1)
				_exit(FAIL);
			_exit(0);
		}
		_exit(0);
	}
	close(result.fd[1]);
	wait_child(middle);
	if (failed(read(result.fd[0], &ret, 1) == 1,
		   "# no result from the child\n"))
		return FAIL;
	if (failed(ret == PASS,
		   "# the child saw wrong data after the parent exited\n"))
		return FAIL;
	return PASS;
}

/* The child exits first; the parent writes, and forks again. */
static int test_exit_child_first(void)
{
	char *mem = map_aligned(REGION, MAP_ANONYMOUS, -1);
	unsigned long shared;
	pid_t pid;

	if (failed(mem, "# mmap failed\n"))
		return FAIL;
	madvise(mem, REGION, MADV_NOHUGEPAGE);
	fill(mem, REGION, 1, 0);
	shared = vm_event("cow_pte_share");
	pid = fork();
	if (pid == 0)
		_exit(verify(mem, REGION, 1, 0) ? FAIL : PASS);
	if (failed(wait_child(pid) == PASS, "# child saw wrong data\n"))
		return FAIL;
	if (failed(vm_event("cow_pte_share") > shared,
		   "# fork shared no PTE table\n"))
		return FAIL;
	/* Fork again from the tables the first child let go of. */
	pid = fork();
	if (pid == 0) {
		fill(mem, REGION / 2, 2, 0);
		_exit(verify(mem, REGION / 2, 2, 0) ? FAIL : PASS);
	}
	fill(mem + REGION / 2, REGION / 2, 3, REGION / 2);
	if (failed(wait_child(pid) == PASS, "# second child saw wrong data\n"))
		return FAIL;
	if (differs(mem, REGION / 2, 1, 0, "parent's first half"))
		return FAIL;
	if (differs(mem + REGION / 2, REGION / 2, 3, REGION / 2, "parent's second half"))
		return FAIL;
	return PASS;
}

/*
 * One thread keeps writing increasing values into every page while the
 * main thread forks: a child must see a frozen snapshot (two reads a while
 * apart agree), and its own writes must never show up in the parent.
 */
struct writer {
	uint64_t *mem;
	size_t words;
	bool stop;		/* all accessed with __atomic builtins */
	bool saw_marker;
};

#define MARKER 0xdeadbeefcafef00dULL

static void *writer_thread(void *arg)
{
	struct writer *w = arg;
	uint64_t round = 1;
	size_t i;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		for (i = 0; i < w->words; i += PAGE / 8) {
			if (__atomic_load_n(&w->mem[i], __ATOMIC_RELAXED) == MARKER)
				__atomic_store_n(&w->saw_marker, true, __ATOMIC_RELAXED);
			__atomic_store_n(&w->mem[i], round, __ATOMIC_RELAXED);
		}
		round++;
	}
	return NULL;
}

static int test_threads(void)
{
	char *mem = map_aligned(REGION, MAP_ANONYMOUS, -1);
	struct writer w = { .words = REGION / 8 };
	uint64_t *snap = malloc(REGION / PAGE * 8);
	pthread_t thread;
	int i, bad = 0;

	if (failed(mem && snap, "# allocation failed\n"))
		return FAIL;
	madvise(mem, REGION, MADV_NOHUGEPAGE);
	memset(mem, 0, REGION);
	w.mem = (uint64_t *)mem;
	if (failed(!pthread_create(&thread, NULL, writer_thread, &w),
		   "# pthread_create\n"))
		return FAIL;
	for (i = 0; i < 8; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			uint64_t *m = (uint64_t *)mem;
			size_t p, pages = REGION / PAGE;

			for (p = 0; p < pages; p++)
				snap[p] = __atomic_load_n(&m[p * PAGE / 8], __ATOMIC_RELAXED);
			usleep(20000);
			for (p = 0; p < pages; p++)
				if (__atomic_load_n(&m[p * PAGE / 8], __ATOMIC_RELAXED) != snap[p])
					_exit(FAIL);
			for (p = 0; p < pages; p++)
				__atomic_store_n(&m[p * PAGE / 8], MARKER, __ATOMIC_RELAXED);
			_exit(PASS);
		}
		if (wait_child(pid) != PASS)
			bad++;
	}
	usleep(20000);
	__atomic_store_n(&w.stop, true, __ATOMIC_RELEASE);
	pthread_join(thread, NULL);
	if (failed(!bad, "# %d children saw the parent write after fork\n",
		   bad))
		return FAIL;
	if (failed(!__atomic_load_n(&w.saw_marker, __ATOMIC_RELAXED),
		   "# the parent saw a child's write\n"))
		return FAIL;
	return PASS;
}

static const struct {
	const char *name;
	int (*fn)(void);
} tests[] = {
	{ "anonymous pages", test_anon },
	{ "PMD-mapped THP", test_thp_pmd },
	{ "PTE-mapped THP", test_thp_pte },
	{ "hugetlb", test_hugetlb },
	{ "private file mapping", test_file_private },
	{ "swapped-out pages", test_swap },
	{ "KSM-merged pages", test_ksm },
	{ "mprotect inside shared tables", test_mprotect },
	{ "mremap of shared tables, whole and partial", test_mremap },
	{ "partial munmap and VMA split inside a shared table", test_munmap_split },
	{ "MADV_DONTNEED, FREE, COLD, PAGEOUT", test_madvise },
	{ "userfaultfd write-protect", test_uffd_wp },
	{ "soft-dirty", test_soft_dirty },
	{ "pinned pages (gup_test)", test_pinned },
	{ "nested forks", test_nested },
	{ "parent exits before the child", test_exit_parent_first },
	{ "child exits before the parent", test_exit_child_first },
	{ "a thread writes while another forks", test_threads },
	{ "page migration between NUMA nodes", test_migration },
	{ "NUMA hinting scans leave shared tables alone", test_numa_hinting },
};

/* cow_pte_isolation [N...]: all tests, or tests number N (from 1). */
int main(int argc, char **argv)
{
	unsigned int i, only[ARRAY_SIZE(tests)] = {}, n = argc - 1;

	for (i = 0; i < n; i++) {
		only[i] = atoi(argv[i + 1]);
		if (!only[i] || only[i] > ARRAY_SIZE(tests) || i >= ARRAY_SIZE(tests))
			ksft_exit_fail_msg("usage: %s [TEST NUMBER (1-%zu)...]\n",
					   argv[0], ARRAY_SIZE(tests));
	}
	ksft_print_header();
	ksft_set_plan(n ? n : ARRAY_SIZE(tests));
	for (i = 0; i < (n ? n : ARRAY_SIZE(tests)); i++) {
		unsigned int t = n ? only[i] - 1 : i;
		int status;
		pid_t pid = fork();

		if (pid < 0)
			ksft_exit_fail_msg("fork: %s\n", strerror(errno));
		if (pid == 0) {
			if (prctl(PR_SET_COW_PTE, PR_COW_PTE_ENABLE, 0, 0, 0))
				_exit(FAIL);
			_exit(tests[t].fn());
		}
		status = wait_child(pid);
		if (status == PASS)
			ksft_test_result_pass("%s\n", tests[t].name);
		else if (status == SKIP)
			ksft_test_result_skip("%s\n", tests[t].name);
		else
			ksft_test_result_fail("%s\n", tests[t].name);
	}
	ksft_finished();
}
