// SPDX-License-Identifier: GPL-2.0
/*
 * Randomized stress test of COW PTE.  A tree of processes with COW PTE on
 * does random operations on its memory: fork, exit, write, mmap, munmap,
 * mprotect, mremap, madvise (MADV_DONTNEED, FREE, COLD, PAGEOUT, HUGEPAGE,
 * NOHUGEPAGE, COLLAPSE) and vmsplice into a pipe.  Each process keeps in
 * its heap a model of what every page must hold and checks its memory
 * against it; a second test forks while another thread keeps writing.
 *
 *   cow_pte_stress [-s SEED] [-n OPS] [-d MAXDEPTH] [-p MAXPROCS] [-m MB] [-o]
 *
 * -s: the seed (default: from the clock), printed first; the same seed
 *     gives the same processes doing the same operations, up to what the
 *     kernel does on its own (reclaim, THP) and thread timing.
 * -n: operations of the tree root; a child continues its parent's sequence
 *     from the fork, to operation OPS unless it exits earlier.  The thread
 *     test's forking thread does OPS operations too.
 * -d: depth of the tree (the root is at 0).
 * -p: processes of a test, its first included, so also the most alive.
 * -m: size of the memory area each process works in, in MiB (>= 16).
 * -o: do not enable COW PTE (plain fork, for comparison).
 *
 * A mismatch is printed with its address, the expected and found words,
 * and the seed, process, depth and operation; every process reports
 * through its exit status to the main process, their subreaper.
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
#include <time.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/prctl.h>

#include "../kselftest.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

#define PAGE		4096UL
#define WORDS		(PAGE / 8)
#define TABLE		512UL		/* pages mapped by one PTE table */
#define FILE_PAGES	(2 * TABLE)	/* size of the file */
#define PIN_PAGES	16UL		/* what a pipe holds by default */
#define MAX_PINS	4
#define CHECK_EVERY	32		/* ops between checks of all memory */
#define FULL_EVERY	16		/* ... which read 1 page in 16 fully */
#define MAX_REPORTS	10		/* mismatches printed per process */
#define MAX_EVENTS	16		/* COW PTE counters in /proc/vmstat */
#define FILE_ID		0xf11ef11eULL	/* high half of the file's tags */
#define GOLDEN		0x9e3779b97f4a7c15ULL
#define SPREAD_OPS	500		/* see spread() */

enum { PASS = 0, FAIL = 1 };

static struct {
	unsigned long long seed;
	int ops, max_depth, max_procs, mb;
	bool off;
} opt = { .ops = 1000, .max_depth = 4, .max_procs = 12, .mb = 32 };

/*
 * What one page of the area must hold: every word w of a page written with
 * tag t is pattern(t, w), and tag 0 stands for zeroes.  A page nobody
 * wrote, or that MADV_DONTNEED dropped, holds its base: zeroes, or the
 * file's page for a private file mapping.
 */
struct page_model {
	uint64_t tag;
	uint32_t file_page;	/* page of the file mapped here, or ANON */
	uint8_t prot;
	uint8_t flags;
};

#define ANON	UINT32_MAX

enum {
	MAPPED = 1,	/* mapped by an operation, else a PROT_NONE reservation */
	FREED = 2,	/* MADV_FREE: pattern(tag) or zeroes until written */
	/*
	 * Spliced into a pipe since the last fork.  vmsplice() only takes a
	 * reference: writing this page in place would show in the pipe, as
	 * on any kernel, so the pins are checked and released first.  After
	 * a fork, writes copy the page instead (COW) and the pipe keeps the
	 * data it had: that is the case this test is after.
	 */
	PINNED = 4,
	WRITER = 8,	/* the writer thread's, not for operations */
	/*
	 * Maybe shared with another process since a fork: not written since.
	 * MADV_FREE is not given to such pages, because of a data loss in
	 * stock 6.12 that has nothing to do with COW PTE: a page read back
	 * from zram (SWP_SYNCHRONOUS_IO skips the swap cache) is clean and
	 * has no swap slot; after a fork, MADV_FREE in one process marks
	 * that shared folio lazyfree (madvise_free_pte_range() checks the
	 * mapcount only for dirty or swap cache folios), and reclaim then
	 * discards it from both processes.  The other one reads zeroes.
	 */
	SHARED = 16,
};

/* Pages spliced into a pipe, and what they held then. */
struct pin {
	int fd[2];			/* fd[0] < 0: unused */
	char *addr;			/* where they were, for reports */
	size_t pages;
	struct page_model was[PIN_PAGES];
};

/* One process of a test, all in its private heap. */
struct proc {
	uint64_t seed;			/* this process's own seed */
	uint64_t rng;
	uint32_t tags;			/* tags written so far */
	int depth, op, forks;
	int budget;			/* processes it may still create */
	const char *op_name;
	int bad;			/* mismatches and unexpected errors */
	char *mem;			/* the area, at the same address in all */
	size_t pages;
	struct page_model *pm;		/* one per page of the area */
	int memfd;
	struct pin pins[MAX_PINS];
	char *buf;			/* PIN_PAGES pages, for reading pipes */
};

/* splitmix64's mixer: a bijection, so distinct inputs stay distinct. */
static uint64_t mix64(uint64_t x)
{
	x += GOLDEN;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t rnd(uint64_t *state)
{
	*state += GOLDEN;
	return mix64(*state);
}

static size_t below(struct proc *p, size_t n)
{
	return rnd(&p->rng) % n;
}

static uint64_t pattern(uint64_t tag, size_t word)
{
	return tag ? tag ^ (word + 1) * GOLDEN : 0;
}

/* A tag no other process writes: its seed's low half, then a counter. */
static uint64_t new_tag(struct proc *p)
{
	return (uint64_t)((uint32_t)p->seed | 1) << 32 | ++p->tags;
}

static uint64_t file_tag(uint32_t file_page)
{
	return FILE_ID << 32 | (file_page + 1);
}

static uint64_t base_tag(const struct page_model *m)
{
	return m->file_page == ANON ? 0 : file_tag(m->file_page);
}

static char *page_addr(struct proc *p, size_t page)
{
	return p->mem + page * PAGE;
}

static void fill_page(void *addr, uint64_t tag)
{
	uint64_t *word = addr;
	size_t i;

	for (i = 0; i < WORDS; i++)
		word[i] = pattern(tag, i);
}

static void __printf(2, 3) report(struct proc *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (++p->bad > MAX_REPORTS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("# %s; seed %llu, process %#llx, depth %d, op %d (%s)\n", msg,
	       opt.seed, (unsigned long long)p->seed, p->depth, p->op,
	       p->op_name);
}

/*
 * Check that @data, the page at @addr or a copy of it, holds what @m says:
 * four words, or every word if @full.  Reports the first bad word.
 */
static void check_page(struct proc *p, const char *what, const char *addr,
		       const void *data, const struct page_model *m, bool full)
{
	static const size_t sample[] = { 0, 1, WORDS / 2, WORDS - 1 };
	const uint64_t *word = data;
	size_t i, w;

	for (i = 0; i < (full ? WORDS : ARRAY_SIZE(sample)); i++) {
		uint64_t want, got;

		w = full ? i : sample[i];
		want = pattern(m->tag, w);
		got = word[w];
		if (got == want || ((m->flags & FREED) && !got))
			continue;
		report(p, "%s at %p: expected %#llx%s, found %#llx (tag %#llx)",
		       what, addr + w * 8, (unsigned long long)want,
		       m->flags & FREED ? " or 0" : "", (unsigned long long)got,
		       (unsigned long long)(got ^ (w + 1) * GOLDEN));
		return;
	}
}

static bool mapped(const struct page_model *m)
{
	return (m->flags & (MAPPED | WRITER)) == MAPPED;
}

static bool unmapped(const struct page_model *m)
{
	return !(m->flags & MAPPED);
}

static bool readable(const struct page_model *m)
{
	return mapped(m) && m->prot & PROT_READ;
}

static bool writable(const struct page_model *m)
{
	return mapped(m) && m->prot & PROT_WRITE;
}

/* Anonymous and our own, for MADV_FREE (see SHARED). */
static bool anonymous_own(const struct page_model *m)
{
	return mapped(m) && m->file_page == ANON && !(m->flags & SHARED);
}

/* Check all readable memory: four words a page, 1 page in 16 (random) fully. */
static void check_all(struct proc *p)
{
	size_t i, full = below(p, FULL_EVERY);

	for (i = 0; i < p->pages; i++)
		if (readable(&p->pm[i]))
			check_page(p, "memory", page_addr(p, i), page_addr(p, i),
				   &p->pm[i], i % FULL_EVERY == full);
}

static void write_page(struct proc *p, size_t page)
{
	struct page_model *m = &p->pm[page];

	m->tag = new_tag(p);
	m->flags &= ~(FREED | SHARED);
	fill_page(page_addr(p, page), m->tag);
}

static void clear_flag(struct proc *p, int flag)
{
	size_t i;

	for (i = 0; i < p->pages; i++)
		p->pm[i].flags &= ~flag;
}

/*
 * After a fork, in parent and child: every page may be shared, and writes
 * copy pinned pages now, so the pipes keep what they hold.
 */
static void forked(struct proc *p)
{
	size_t i;

	for (i = 0; i < p->pages; i++) {
		p->pm[i].flags &= ~PINNED;
		if (p->pm[i].flags & MAPPED)
			p->pm[i].flags |= SHARED;
	}
}

static bool read_all(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, (char *)buf + done, len - done);
		if (n <= 0)
			return false;
		done += n;
	}
	return true;
}

static void close_pin(struct pin *pin)
{
	close(pin->fd[0]);
	close(pin->fd[1]);
	pin->fd[0] = -1;
}

/* Read a pipe back: it must hold the pages as they were when spliced. */
static void release_pin(struct proc *p, struct pin *pin)
{
	size_t i;

	if (!read_all(pin->fd[0], p->buf, pin->pages * PAGE))
		report(p, "reading a pipe back failed");
	else
		for (i = 0; i < pin->pages; i++)
			check_page(p, "pipe", pin->addr + i * PAGE,
				   p->buf + i * PAGE, &pin->was[i], true);
	close_pin(pin);
}

static void release_pins(struct proc *p)
{
	int i;

	for (i = 0; i < MAX_PINS; i++)
		if (p->pins[i].fd[0] >= 0)
			release_pin(p, &p->pins[i]);
	clear_flag(p, PINNED);
}

/* Put the PROT_NONE reservation back over pages we no longer map. */
static void reserve(struct proc *p, size_t start, size_t len)
{
	size_t i;

	if (mmap(page_addr(p, start), len * PAGE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
		 -1, 0) == MAP_FAILED)
		report(p, "mmap PROT_NONE: %s", strerror(errno));
	for (i = start; i < start + len; i++)
		p->pm[i].flags = 0;
}

/*
 * Pick a range of at most @max pages that all satisfy @want, starting with
 * a few pages, part of a table, whole tables or a range across a table
 * boundary (with @tables, whole tables only).  False if a few tries found
 * none.
 */
static bool pick_range(struct proc *p, bool (*want)(const struct page_model *),
		       bool tables, size_t max, size_t *start, size_t *len)
{
	size_t n_tables = p->pages / TABLE, s, n, i;
	int try;

	for (try = 0; try < 8; try++) {
		/* Whole tables half of the time: those are what fork shares. */
		switch (tables ? 2 : below(p, 6)) {
		case 0:		/* a few pages */
			n = 1 + below(p, 4);
			s = below(p, p->pages - n);
			break;
		case 1:		/* part of a table */
			n = 1 + below(p, 64);
			s = below(p, p->pages - n);
			break;
		case 2:		/* one or two whole tables */
		case 4:
		case 5:
			n = TABLE * (1 + below(p, 2));
			s = TABLE * below(p, n_tables - 1);
			break;
		default:	/* across a table boundary */
			n = 2 + below(p, TABLE);
			s = TABLE * (1 + below(p, n_tables - 1)) - 1 - below(p, n - 1);
			break;
		}
		if (n > max)
			n = max;
		if (!want(&p->pm[s]))
			continue;
		for (i = 1; i < n && s + i < p->pages && want(&p->pm[s + i]); i++)
			;
		*start = s;
		*len = i;
		return true;
	}
	return false;
}

/* Map pages of the file from @file_page, or anonymous memory (ANON). */
static void map_pages(struct proc *p, size_t start, size_t len, int prot,
		      uint32_t file_page)
{
	bool anon = file_page == ANON;
	size_t i;

	if (mmap(page_addr(p, start), len * PAGE, prot,
		 MAP_PRIVATE | MAP_FIXED | (anon ? MAP_ANONYMOUS : 0),
		 anon ? -1 : p->memfd, anon ? 0 : file_page * PAGE) == MAP_FAILED) {
		report(p, "mmap: %s", strerror(errno));
		return;
	}
	for (i = 0; i < len; i++) {
		struct page_model *m = &p->pm[start + i];

		m->file_page = anon ? ANON : file_page + i;
		m->tag = base_tag(m);
		m->prot = prot;
		m->flags = MAPPED;
	}
}

/* The end of a process: check memory (unless already bad), then pipes. */
static void __noreturn finish(struct proc *p)
{
	p->op_name = "final check";
	if (!p->bad)
		check_all(p);
	release_pins(p);
	exit(p->bad ? FAIL : PASS);
}

/* Write pages (all, or one in a few), checking each before. */
static void op_write(struct proc *p, int unused)
{
	size_t start, len, i, step = below(p, 4) ? 1 : 2 + below(p, 15);

	if (!pick_range(p, writable, false, TABLE, &start, &len))
		return;
	for (i = start; i < start + len; i += step) {
		if (p->pm[i].flags & PINNED)
			release_pins(p);
		check_page(p, "before writing", page_addr(p, i), page_addr(p, i),
			   &p->pm[i], false);
		write_page(p, i);
	}
}

/* Read every word of a range. */
static void op_check(struct proc *p, int unused)
{
	size_t start, len, i;

	if (!pick_range(p, readable, false, TABLE, &start, &len))
		return;
	for (i = start; i < start + len; i++)
		check_page(p, "memory", page_addr(p, i), page_addr(p, i),
			   &p->pm[i], true);
}

/*
 * Whether a chosen fork or exit happens: always in runs of up to SPREAD_OPS
 * operations, and in longer ones as many times per run as in SPREAD_OPS,
 * so that the tree keeps its shape over the whole run.
 */
static bool spread(struct proc *p)
{
	return opt.ops <= SPREAD_OPS || below(p, opt.ops) < SPREAD_OPS;
}

/* The new identity of a child: nothing but its memory is inherited. */
static void become_child(struct proc *p, int budget)
{
	int i;

	p->seed = mix64(p->seed ^ mix64(p->forks));
	p->rng = p->seed;
	p->tags = 0;
	p->depth++;
	p->forks = 0;
	p->budget = budget;
	/* The parent reads its pipes back. */
	for (i = 0; i < MAX_PINS; i++)
		if (p->pins[i].fd[0] >= 0)
			close_pin(&p->pins[i]);
	forked(p);
}

/*
 * Fork a child that continues the operations from here with its own seed,
 * derived from its parent's and its fork index, and half of the parent's
 * process budget.
 */
static void op_fork(struct proc *p, int unused)
{
	int budget;
	pid_t pid;

	if (!spread(p) || !p->budget || p->depth >= opt.max_depth)
		return;
	budget = (p->budget - 1) / 2;
	p->budget -= budget + 1;
	p->forks++;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		report(p, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0)
		become_child(p, budget);
	else
		forked(p);
}

/* Exit early, maybe while our children still share our tables. */
static void op_exit(struct proc *p, int unused)
{
	if (spread(p) && p->depth)
		finish(p);
}

/* Map anonymous memory or the file (private) over unmapped pages. */
static void op_mmap(struct proc *p, int unused)
{
	bool file = !below(p, 4);
	int prot = below(p, 8) ? PROT_READ | PROT_WRITE : PROT_READ;
	size_t start, len;

	if (!pick_range(p, unmapped, false, 2 * TABLE, &start, &len))
		return;
	if (!file) {
		map_pages(p, start, len, prot, ANON);
		return;
	}
	if (len > FILE_PAGES)
		len = FILE_PAGES;
	map_pages(p, start, len, prot, below(p, FILE_PAGES - len + 1));
}

/* Unmap pages; the reservation takes their place. */
static void op_munmap(struct proc *p, int unused)
{
	size_t start, len;

	if (!pick_range(p, mapped, false, 2 * TABLE, &start, &len))
		return;
	if (munmap(page_addr(p, start), len * PAGE))
		report(p, "munmap: %s", strerror(errno));
	else
		reserve(p, start, len);
}

/* Change protections; PROT_NONE pages keep their content for later. */
static void op_mprotect(struct proc *p, int unused)
{
	static const int prots[] = { PROT_NONE, PROT_READ,
				     PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE };
	int prot = prots[below(p, ARRAY_SIZE(prots))];
	size_t start, len, i;

	if (!pick_range(p, mapped, false, 2 * TABLE, &start, &len))
		return;
	if (mprotect(page_addr(p, start), len * PAGE, prot)) {
		report(p, "mprotect: %s", strerror(errno));
		return;
	}
	for (i = start; i < start + len; i++)
		p->pm[i].prot = prot;
}

/*
 * Move pages to unmapped ones (whole tables to a table boundary, when they
 * start at one), sometimes leaving the source mapped but empty
 * (MREMAP_DONTUNMAP).  The pages keep their content.  mremap() fails with
 * EFAULT when the source spans VMAs; it has unmapped the target by then.
 */
static void op_mremap(struct proc *p, int unused)
{
	int flags = MREMAP_MAYMOVE | MREMAP_FIXED;
	size_t from, to, len, n, i;

	if (!below(p, 4))
		flags |= MREMAP_DONTUNMAP;
	if (!pick_range(p, mapped, false, 2 * TABLE, &from, &len))
		return;
	if (!pick_range(p, unmapped, from % TABLE == 0, len, &to, &n) || n < len)
		return;
	if (mremap(page_addr(p, from), len * PAGE, len * PAGE, flags,
		   page_addr(p, to)) == MAP_FAILED) {
		if (errno != EFAULT)
			report(p, "mremap: %s", strerror(errno));
		reserve(p, to, len);
		return;
	}
	memcpy(&p->pm[to], &p->pm[from], len * sizeof(*p->pm));
	if (!(flags & MREMAP_DONTUNMAP)) {
		reserve(p, from, len);
		return;
	}
	for (i = from; i < from + len; i++) {
		p->pm[i].tag = base_tag(&p->pm[i]);
		p->pm[i].flags &= ~(FREED | SHARED);
	}
}

/*
 * MADV_DONTNEED drops pages: they hold their base again.  MADV_FREE (on
 * anonymous memory not shared since a fork only) lets reclaim drop them
 * until they are written again: they hold what they held, or zeroes.  The
 * other advice must not change what memory holds; their errors are ignored
 * (MADV_COLLAPSE, for one, may be unsupported or fail with EAGAIN).
 */
static void op_madvise(struct proc *p, int advice)
{
	bool lazy = advice == MADV_FREE;
	size_t start, len, i;

	if (!pick_range(p, lazy ? anonymous_own : mapped, advice == MADV_COLLAPSE,
			2 * TABLE, &start, &len))
		return;
	if (madvise(page_addr(p, start), len * PAGE, advice)) {
		if (lazy || advice == MADV_DONTNEED)
			report(p, "madvise: %s", strerror(errno));
		return;
	}
	for (i = start; i < start + len; i++) {
		if (lazy) {
			p->pm[i].flags |= FREED;
		} else if (advice == MADV_DONTNEED) {
			p->pm[i].tag = base_tag(&p->pm[i]);
			p->pm[i].flags &= ~(FREED | SHARED);
		}
	}
}

/* Splice pages into a pipe, which keeps them as they are now. */
static void op_vmsplice(struct proc *p, int unused)
{
	struct pin *pin = &p->pins[below(p, MAX_PINS)];
	struct iovec iov;
	size_t start, len, i;
	ssize_t n;

	if (!pick_range(p, readable, false, PIN_PAGES, &start, &len))
		return;
	if (pin->fd[0] >= 0)
		release_pin(p, pin);
	if (pipe(pin->fd)) {
		report(p, "pipe: %s", strerror(errno));
		pin->fd[0] = -1;
		return;
	}
	iov.iov_base = page_addr(p, start);
	iov.iov_len = len * PAGE;
	n = vmsplice(pin->fd[1], &iov, 1, SPLICE_F_NONBLOCK);
	if (n <= 0 || n % PAGE) {
		report(p, "vmsplice returned %zd: %s", n, strerror(errno));
		close_pin(pin);
		return;
	}
	pin->addr = iov.iov_base;
	pin->pages = n / PAGE;
	memcpy(pin->was, &p->pm[start], pin->pages * sizeof(*pin->was));
	for (i = start; i < start + pin->pages; i++)
		p->pm[i].flags |= PINNED;
}

/* Read a pipe back, long after the splice. */
static void op_unpin(struct proc *p, int unused)
{
	struct pin *pin = &p->pins[below(p, MAX_PINS)];

	if (pin->fd[0] >= 0)
		release_pin(p, pin);
}

static const struct op {
	const char *name;
	void (*fn)(struct proc *p, int arg);
	int arg, weight;
} ops[] = {
	{ "write", op_write, 0, 55 },
	{ "check", op_check, 0, 12 },
	{ "fork", op_fork, 0, 2 },	/* 1 op in 72: forks spread out */
	{ "exit", op_exit, 0, 1 },	/* 1 in 144: children live a while */
	{ "mmap", op_mmap, 0, 10 },
	{ "munmap", op_munmap, 0, 6 },
	{ "mprotect", op_mprotect, 0, 8 },
	{ "mremap", op_mremap, 0, 10 },
	{ "MADV_DONTNEED", op_madvise, MADV_DONTNEED, 6 },
	{ "MADV_FREE", op_madvise, MADV_FREE, 6 },
	{ "MADV_COLD", op_madvise, MADV_COLD, 2 },
	{ "MADV_PAGEOUT", op_madvise, MADV_PAGEOUT, 6 },
	{ "MADV_HUGEPAGE", op_madvise, MADV_HUGEPAGE, 2 },
	{ "MADV_NOHUGEPAGE", op_madvise, MADV_NOHUGEPAGE, 2 },
	{ "MADV_COLLAPSE", op_madvise, MADV_COLLAPSE, 2 },
	{ "vmsplice", op_vmsplice, 0, 6 },
	{ "unpin", op_unpin, 0, 2 },
};

/* Run random operations up to op number @end, checking all memory often. */
static void run_ops(struct proc *p, int end)
{
	size_t total = 0, r, i;

	for (i = 0; i < ARRAY_SIZE(ops); i++)
		total += ops[i].weight;
	while (p->op < end && !p->bad) {
		r = below(p, total);
		for (i = 0; r >= ops[i].weight; i++)
			r -= ops[i].weight;
		p->op++;
		p->op_name = ops[i].name;
		ops[i].fn(p, ops[i].arg);
		if (p->op % CHECK_EVERY == 0) {
			p->op_name = "periodic check";
			check_all(p);
		}
	}
}

/* The file for private file mappings, written before it is mapped. */
static int make_file(struct proc *p)
{
	int fd = memfd_create("cow_pte_stress", 0);
	uint32_t i;

	if (fd < 0)
		return -1;
	for (i = 0; i < FILE_PAGES; i++) {
		fill_page(p->buf, file_tag(i));
		if (write(fd, p->buf, PAGE) != PAGE) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/*
 * A test's first process: its area, PMD-aligned, holds two whole tables
 * of anonymous memory, a range across a table boundary, a table of the
 * file, a few small mappings, and anonymous memory from the seventh table
 * to the end, 3 pages in 4 written.
 */
static void setup(struct proc *p, uint64_t seed)
{
	size_t size = (size_t)opt.mb << 20, i;
	char *mem;
	int pin;

	memset(p, 0, sizeof(*p));
	p->seed = seed;
	p->rng = seed;
	p->op_name = "setup";
	p->pages = size / PAGE;
	p->pm = calloc(p->pages, sizeof(*p->pm));
	p->buf = malloc(PIN_PAGES * PAGE);
	mem = mmap(NULL, size + TABLE * PAGE, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!p->pm || !p->buf || mem == MAP_FAILED) {
		report(p, "out of memory");
		exit(FAIL);
	}
	p->mem = (char *)(((uintptr_t)mem + TABLE * PAGE - 1) & ~(TABLE * PAGE - 1));
	for (pin = 0; pin < MAX_PINS; pin++)
		p->pins[pin].fd[0] = -1;
	p->memfd = make_file(p);
	if (p->memfd < 0) {
		report(p, "memfd: %s", strerror(errno));
		exit(FAIL);
	}
	map_pages(p, 0, 2 * TABLE, PROT_READ | PROT_WRITE, ANON);
	map_pages(p, 3 * TABLE - 100, 300, PROT_READ | PROT_WRITE, ANON);
	map_pages(p, 4 * TABLE, TABLE, PROT_READ | PROT_WRITE, 0);
	map_pages(p, 5 * TABLE + 10, 3, PROT_READ | PROT_WRITE, ANON);
	map_pages(p, 5 * TABLE + 20, 1, PROT_READ | PROT_WRITE, 7);
	map_pages(p, 6 * TABLE, p->pages - 6 * TABLE, PROT_READ | PROT_WRITE, ANON);
	for (i = 0; i < p->pages; i++)
		if (writable(&p->pm[i]) && below(p, 4))
			write_page(p, i);
}

static void __noreturn test_tree(void)
{
	struct proc p;

	setup(&p, mix64(opt.seed));
	p.budget = opt.max_procs - 1;
	run_ops(&p, opt.ops);
	finish(&p);
}

/*
 * Threads writing while another thread forks.  The writer thread owns W:
 * half of the first table and half of the second.  For each page, it
 * publishes count = v, then writes version v of the page.  The forking
 * thread works on the rest of the memory, never on W, so that is exact in
 * the child.  Fork copies W over a while, not at one instant: just before
 * fork, the forker reads lo = count - 1 (a write of version count may be
 * in flight; all earlier ones are complete), and just after it hi = count
 * (a write starting later faults, and copies), and sends hi to the child.
 * Each word of W in the child must then be the word of a version between
 * lo and hi of that page: an exact check, whatever the timing, that still
 * lets a write caught halfway by fork leave a mix of two versions.
 */
struct writer {
	size_t first, pages;		/* W, in pages of the area */
	char *mem;
	uint32_t *count;		/* per page of W: last version started */
	uint64_t rng;
	bool stop;
};

static uint64_t writer_tag(size_t page, uint32_t version)
{
	return (uint64_t)((uint32_t)mix64(opt.seed ^ page) | 1) << 32 | version;
}

static void *writer_thread(void *arg)
{
	struct writer *w = arg;
	size_t j;
	uint32_t v;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		j = rnd(&w->rng) % w->pages;
		v = w->count[j] + 1;
		__atomic_store_n(&w->count[j], v, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		fill_page(w->mem + j * PAGE, writer_tag(w->first + j, v));
	}
	return NULL;
}

/* In the child: every word of a page of W is from a version in [lo, hi]. */
static void check_writer_page(struct proc *p, struct writer *w, size_t j,
			      uint32_t lo, uint32_t hi)
{
	const uint64_t *word = (uint64_t *)(w->mem + j * PAGE);
	uint64_t want = writer_tag(w->first + j, 0), tag;
	size_t i;

	for (i = 0; i < WORDS; i++) {
		tag = word[i] ^ (i + 1) * GOLDEN;
		if (tag >> 32 == want >> 32 && (uint32_t)tag >= lo && (uint32_t)tag <= hi)
			continue;
		report(p, "W at %p: expected tag %#llx + %u..%u, found %#llx (tag %#llx)",
		       word + i, (unsigned long long)want, lo, hi,
		       (unsigned long long)word[i], (unsigned long long)tag);
		return;
	}
}

/* The child of a fork while writing: check, take W over, go on alone. */
static void __noreturn writer_child(struct proc *p, struct writer *w, int fd,
				    const uint32_t *lo, uint32_t *hi, int ops)
{
	size_t j;

	become_child(p, 0);
	if (!read_all(fd, hi, w->pages * sizeof(*hi))) {
		report(p, "no versions from the parent");
	} else {
		for (j = 0; j < w->pages; j++)
			check_writer_page(p, w, j, lo[j], hi[j]);
	}
	check_all(p);
	for (j = w->first; j < w->first + w->pages; j++) {
		write_page(p, j);
		p->pm[j].flags &= ~WRITER;
	}
	run_ops(p, p->op + ops);
	finish(p);
}

/* Fork while the writer writes; the child checks, then goes its own way. */
static void fork_while_writing(struct proc *p, struct writer *w, uint32_t *lo,
			       uint32_t *hi, int child_ops)
{
	size_t j, size = w->pages * sizeof(*hi);
	int fd[2];
	pid_t pid;

	if (pipe(fd)) {
		report(p, "pipe: %s", strerror(errno));
		return;
	}
	for (j = 0; j < w->pages; j++) {
		lo[j] = __atomic_load_n(&w->count[j], __ATOMIC_SEQ_CST);
		if (lo[j])
			lo[j]--;	/* version lo[j] + 1 may be in flight */
	}
	p->op_name = "fork while writing";
	p->forks++;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		report(p, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		close(fd[1]);
		writer_child(p, w, fd[0], lo, hi, child_ops);
	}
	for (j = 0; j < w->pages; j++)
		hi[j] = __atomic_load_n(&w->count[j], __ATOMIC_SEQ_CST);
	if (write(fd[1], hi, size) != (ssize_t)size)
		report(p, "sending versions: %s", strerror(errno));
	close(fd[0]);
	close(fd[1]);
	forked(p);
}

static void __noreturn test_threads(void)
{
	int i, children = opt.max_procs - 1;
	struct writer w = { .first = TABLE / 2, .pages = TABLE };
	uint32_t *lo, *hi;
	pthread_t thread;
	struct proc p;
	size_t j;

	setup(&p, mix64(opt.seed + 1));
	w.mem = page_addr(&p, w.first);
	w.rng = p.seed;
	w.count = calloc(w.pages, sizeof(*w.count));
	lo = calloc(w.pages, sizeof(*lo));
	hi = calloc(w.pages, sizeof(*hi));
	if (!w.count || !lo || !hi) {
		report(&p, "out of memory");
		exit(FAIL);
	}
	for (j = 0; j < w.pages; j++) {
		fill_page(w.mem + j * PAGE, writer_tag(w.first + j, 0));
		p.pm[w.first + j].flags |= WRITER;
	}
	if (pthread_create(&thread, NULL, writer_thread, &w)) {
		report(&p, "pthread_create failed");
		exit(FAIL);
	}
	for (i = 0; i < children && !p.bad; i++) {
		run_ops(&p, p.op + opt.ops / children);
		fork_while_writing(&p, &w, lo, hi, opt.ops / children);
	}
	__atomic_store_n(&w.stop, true, __ATOMIC_RELEASE);
	pthread_join(thread, NULL);
	for (j = 0; j < w.pages; j++) {
		p.pm[w.first + j].tag = writer_tag(w.first + j, w.count[j]);
		p.pm[w.first + j].flags &= ~WRITER;
	}
	finish(&p);
}

/* The COW PTE counters of /proc/vmstat (none without COW PTE). */
struct events {
	int n;
	char name[MAX_EVENTS][32];
	unsigned long long val[MAX_EVENTS];
};

static void read_events(struct events *e)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char line[128];

	e->n = 0;
	while (f && e->n < MAX_EVENTS && fgets(line, sizeof(line), f))
		if (!strncmp(line, "cow_pte_", 8) &&
		    sscanf(line, "%31s %llu", e->name[e->n], &e->val[e->n]) == 2)
			e->n++;
	if (f)
		fclose(f);
}

/* Print how the counters grew since @before, to show what was exercised. */
static void print_events(const struct events *before)
{
	char line[1024];
	struct events now;
	int i, len = 0;

	read_events(&now);
	for (i = 0; i < now.n && i < before->n; i++)
		if (now.val[i] != before->val[i])
			len += snprintf(line + len, sizeof(line) - len, " %s +%llu",
					now.name[i], now.val[i] - before->val[i]);
	if (len)
		ksft_print_msg("%s\n", line + 1);
}

/*
 * Run @test in a new process, and wait for it and for all the processes it
 * leaves behind, which we reap as their subreaper.  True if all passed.
 */
static bool run_test(void (*test)(void), const char *name)
{
	int status, procs = 0, failed = 0;
	struct timespec start, end;
	struct events before;
	pid_t pid;

	read_events(&before);
	clock_gettime(CLOCK_MONOTONIC, &start);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (pid == 0)
		test();
	while ((pid = wait(&status)) > 0) {
		procs++;
		if (WIFEXITED(status) && WEXITSTATUS(status) == PASS)
			continue;
		failed++;
		if (WIFSIGNALED(status))
			ksft_print_msg("process %d killed by signal %d\n", pid,
				       WTERMSIG(status));
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	ksft_print_msg("%s: %d processes, %d failed, %.2f s\n", name, procs,
		       failed, end.tv_sec - start.tv_sec +
		       (end.tv_nsec - start.tv_nsec) / 1e9);
	print_events(&before);
	return !failed;
}

static const char usage[] =
	"usage: %s [-s SEED] [-n OPS] [-d MAXDEPTH] [-p MAXPROCS >= 2] [-m MB >= 16] [-o]\n";

static void parse_args(int argc, char **argv)
{
	int c;

	opt.seed = time(NULL) ^ getpid();
	while ((c = getopt(argc, argv, "s:n:d:p:m:o")) != -1) {
		switch (c) {
		case 's':
			opt.seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			opt.ops = atoi(optarg);
			break;
		case 'd':
			opt.max_depth = atoi(optarg);
			break;
		case 'p':
			opt.max_procs = atoi(optarg);
			break;
		case 'm':
			opt.mb = atoi(optarg);
			break;
		case 'o':
			opt.off = true;
			break;
		default:
			opt.ops = 0;
		}
	}
	if (optind < argc || opt.ops < 1 || opt.max_depth < 0 ||
	    opt.max_procs < 2 || opt.mb < 16 || opt.mb > 4096)
		ksft_exit_fail_msg(usage, argv[0]);
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	ksft_print_header();
	ksft_print_msg("seed %llu: cow_pte_stress -s %llu -n %d -d %d -p %d -m %d%s\n",
		       opt.seed, opt.seed, opt.ops, opt.max_depth,
		       opt.max_procs, opt.mb, opt.off ? " -o" : "");
	if (!opt.off && prctl(PR_SET_COW_PTE, PR_COW_PTE_ENABLE, 0, 0, 0))
		ksft_exit_skip("PR_SET_COW_PTE: %s (-o runs without COW PTE)\n",
			       strerror(errno));
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
		ksft_exit_fail_msg("PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));
	ksft_set_plan(2);
	ksft_test_result(run_test(test_tree, "process tree"), "process tree\n");
	ksft_test_result(run_test(test_threads, "threads"),
			 "threads writing while another thread forks\n");
	ksft_finished();
}
