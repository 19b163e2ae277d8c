// SPDX-License-Identifier: GPL-2.0
/*
 * Differential semantics of COW PTE: everything a process can observe after
 * a fork with COW PTE on must be what it observes after a stock fork.  Only
 * the system-wide page-table memory (PageTables in /proc/meminfo) may differ.
 *
 * Each case runs the same scenario twice in one boot, each time in a fresh
 * tree of processes: first with COW PTE off, then on.  The processes of a
 * run write what they observe (smaps, smaps_rollup, pagemap, numa_maps,
 * mincore, status, meminfo, KSM counters, move_pages, kpagecount, file
 * contents) as text lines into a memfd; the case passes when both texts are
 * equal line by line.  The "on" run must also show, through /proc/vmstat,
 * that the mechanism was exercised: a fork shared tables (cow_pte_share),
 * or COW PTE refused to share for the case's reason (a fallback counter).
 *
 * Nothing printed holds a PID, an address or a time: regions are mapped at
 * fixed, 2 MiB aligned addresses; system-wide values are deltas to the
 * start of the run; the whole-process values of /proc/<pid>/status and
 * smaps_rollup are deltas to the run's first process before it mapped the
 * region.  Every process of a run is bound to CPU 0 (node 0), so that the
 * node of a new page does not depend on the scheduler.
 *
 *   cow_pte_semantics          run every case
 *   cow_pte_semantics NAME...  run the named cases
 *   cow_pte_semantics -l       list the cases
 *   cow_pte_semantics -s ...   run both halves with COW PTE off: every case
 *                              must pass (its text is deterministic)
 *
 * Needs root, two NUMA nodes, swap, KSM and /sys/kernel/debug/gup_test: a
 * case that lacks one of them fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/mempolicy.h>
#include <linux/prctl.h>
#include <linux/userfaultfd.h>

#include "../kselftest.h"
#include "../../../../mm/gup_test.h"
#include "cow_pte_util.h"

#define MIB		(1024UL * 1024)
#define BASE_ADDR	0x7e0000000000UL	/* case N maps at BASE + N GiB */
#define CASE_SPAN	(1024 * MIB)
#define MAX_PAGES	(64 * MIB / PAGE)	/* the largest region */
#define RUN_TIMEOUT	1200			/* seconds, one run */
#define KSM_TIMEOUT	300			/* seconds, one KSM wait */
#define NOBODY		65534
#define KSM_DIR		"/sys/kernel/mm/ksm/"
#define GUP_TEST	"/sys/kernel/debug/gup_test"

/* pagemap entries: PFN in bits 0-54, flags in bits 55-63 */
#define PM_PFN(e)	((e) & 0x007fffffffffffffULL)
#define PM_SOFT_DIRTY	0x0080000000000000ULL	/* bit 55 */
#define PM_EXCLUSIVE	0x0100000000000000ULL	/* bit 56 */
#define PM_UFFD_WP	0x0200000000000000ULL	/* bit 57 */
#define PM_FILE		0x2000000000000000ULL	/* bit 61 */
#define PM_SWAP		0x4000000000000000ULL	/* bit 62 */
#define PM_PRESENT	0x8000000000000000ULL	/* bit 63 */

/* The processes of a scenario, as they are named in the output. */
enum { PARENT, CHILD, CHILD_A, CHILD_B, USER, OTHER };
static const char *const who_names[] = {
	"parent", "child", "child A", "child B", "user process", "other process",
};

static int out_fd = -1;		/* the memfd the processes of a run write */
static unsigned long case_base;	/* where the case maps its region */
static char *rmem;		/* the case's region */
static size_t rsize;
static size_t content_size;	/* what contents() may touch of it */

/* Write one line of observations. */
static void __printf(1, 2) say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(out_fd, line, n) != n)
		_exit(FAIL);
}

/* A setup step failed: say why (the text of the run shows it); -1. */
static int __printf(1, 2) bad(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	say("error: %s", msg);
	return -1;
}

/*
 * Peers: child processes that run functions on request, so that one
 * process (the parent of the scenario) orders every step.  A function
 * pointer is valid in the child because it is a fork of the caller.
 */
typedef int (*peer_fn)(long arg);

struct peer {
	pid_t pid;
	int cmd;	/* write end: requests */
	int ack;	/* read end: results */
};

struct peer_msg {
	peer_fn fn;
	long arg;
};

#define MAX_PEERS	4
static struct peer *peers[MAX_PEERS];	/* the caller's live peers */

static int peer_start(struct peer *p)
{
	int cmd[2], ack[2], i, slot = -1;
	pid_t pid;

	for (i = 0; i < MAX_PEERS; i++)
		if (!peers[i] && slot < 0)
			slot = i;
	if (slot < 0)
		return bad("too many child processes");
	if (pipe(cmd) || pipe(ack))
		return bad("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return bad("fork: %s", strerror(errno));
	if (pid == 0) {
		struct peer_msg msg;
		int ret;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* Other peers must see EOF when their parent goes away. */
		for (i = 0; i < MAX_PEERS; i++) {
			if (!peers[i])
				continue;
			close(peers[i]->cmd);
			close(peers[i]->ack);
			peers[i] = NULL;
		}
		close(cmd[1]);
		close(ack[0]);
		/* Ready: nothing of this process changes any more by itself. */
		ret = 0;
		if (write(ack[1], &ret, sizeof(ret)) != sizeof(ret))
			_exit(FAIL);
		while (read(cmd[0], &msg, sizeof(msg)) == sizeof(msg) && msg.fn) {
			ret = msg.fn(msg.arg);
			if (write(ack[1], &ret, sizeof(ret)) != sizeof(ret))
				break;
		}
		_exit(0);
	}
	close(cmd[0]);
	close(ack[1]);
	p->pid = pid;
	p->cmd = cmd[1];
	p->ack = ack[0];
	peers[slot] = p;
	if (read(p->ack, &i, sizeof(i)) != sizeof(i))
		return bad("a child process died at its start");
	return 0;
}

/* Run @fn(@arg) in peer @p; its result, or -1 if the peer died. */
static int peer_call(struct peer *p, peer_fn fn, long arg)
{
	struct peer_msg msg = { .fn = fn, .arg = arg };
	int ret;

	if (write(p->cmd, &msg, sizeof(msg)) != sizeof(msg) ||
	    read(p->ack, &ret, sizeof(ret)) != sizeof(ret))
		return bad("a child process died");
	return ret;
}

/* Let peer @p exit and reap it; -1 if it did not exit cleanly. */
static int peer_stop(struct peer *p)
{
	struct peer_msg msg = { .fn = NULL };
	int i, status;

	if (write(p->cmd, &msg, sizeof(msg)) != sizeof(msg))
		bad("a child process died");
	close(p->cmd);
	close(p->ack);
	for (i = 0; i < MAX_PEERS; i++)
		if (peers[i] == p)
			peers[i] = NULL;
	if (waitpid(p->pid, &status, 0) != p->pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return bad("a child process did not exit cleanly");
	return 0;
}

/* "/proc/<pid>/<file>"; pid 0 is the caller. */
static const char *proc_path(pid_t pid, const char *file)
{
	static char path[64];

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	else
		snprintf(path, sizeof(path), "/proc/self/%s", file);
	return path;
}

/*
 * Make per-CPU state visible: drain every CPU's LRU and mlock folio
 * batches (move_pages() of no page calls lru_cache_disable(), which
 * drains all CPUs), then fold the per-CPU vmstat differences into the
 * counters /proc/meminfo reads.
 */
static void drain_all(void)
{
	int node = 0, status;

	syscall(SYS_move_pages, 0, 0UL, NULL, &node, &status, 0);
	write_file("/proc/sys/vm/stat_refresh", "1");
}

/* /proc/<pid>/status, as deltas to the run's first process. */
static const char *const status_fields[] = {
	"VmRSS", "RssAnon", "RssFile", "RssShmem", "VmSwap", "VmPTE", "VmLck",
};

#define NR_STATUS	ARRAY_SIZE(status_fields)
static long base_status[NR_STATUS];

static void read_status(pid_t pid, long *vals)
{
	unsigned int i;

	for (i = 0; i < NR_STATUS; i++)
		vals[i] = proc_value(proc_path(pid, "status"), status_fields[i], ':');
}

static void show_status(int who, pid_t pid)
{
	long vals[NR_STATUS];
	char line[512];
	unsigned int i;
	int n;

	read_status(pid, vals);
	n = snprintf(line, sizeof(line), "%s status (kB, delta):", who_names[who]);
	for (i = 0; i < NR_STATUS; i++)
		n += snprintf(line + n, sizeof(line) - n, " %s%+ld",
			      status_fields[i], vals[i] - base_status[i]);
	say("%s", line);
}

/*
 * smaps fields, summed over the region's VMAs.  Pss_Anon, Pss_File and
 * Pss_Shmem are only in smaps_rollup.
 */
static const char *const smaps_fields[] = {
	"Rss", "Pss", "Pss_Dirty", "Shared_Clean", "Shared_Dirty",
	"Private_Clean", "Private_Dirty", "Pss_Anon", "Pss_File", "Pss_Shmem",
	"Anonymous", "LazyFree", "Swap", "SwapPss", "Locked", "Referenced",
};

#define NR_SMAPS	ARRAY_SIZE(smaps_fields)
#define SMAPS_PRIVATE_DIRTY	6
#define SMAPS_ROLLUP_ONLY	7	/* Pss_Anon, Pss_File, Pss_Shmem */
#define SMAPS_LINE1	10	/* fields on the first line */
#define SMAPS_REFERENCED	(NR_SMAPS - 1)
static long base_rollup[NR_SMAPS];

/*
 * Sum the fields of the VMAs inside [start, end) of @file ("smaps"), or of
 * every entry (start == end, for "smaps_rollup"); the number of VMAs.
 */
static int read_smaps(pid_t pid, const char *file, unsigned long start,
		      unsigned long end, long *sums)
{
	FILE *f = fopen(proc_path(pid, file), "r");
	bool in = start == end;
	char line[512], perm;
	unsigned long s, e;
	unsigned int i;
	int vmas = 0;

	memset(sums, 0, NR_SMAPS * sizeof(*sums));
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %c", &s, &e, &perm) == 3) {
			if (start != end)
				in = s >= start && e <= end;
			vmas += in;
			continue;
		}
		if (!in)
			continue;
		for (i = 0; i < NR_SMAPS; i++) {
			size_t len = strlen(smaps_fields[i]);

			if (!strncmp(line, smaps_fields[i], len) && line[len] == ':')
				sums[i] += atol(line + len + 1);
		}
	}
	fclose(f);
	return vmas;
}

static void say_smaps(const char *prefix, const long *vals, bool referenced,
		      const char *sign)
{
	char line[1024];
	unsigned int i;
	int n;

	n = snprintf(line, sizeof(line), "%s:", prefix);
	for (i = 0; i < SMAPS_LINE1; i++) {
		if (i >= SMAPS_ROLLUP_ONLY && !sign[0])
			continue;
		n += snprintf(line + n, sizeof(line) - n, sign[0] ? " %s=%+ld" : " %s=%ld",
			      smaps_fields[i], vals[i]);
	}
	say("%s", line);
	n = snprintf(line, sizeof(line), "%s:", prefix);
	for (i = SMAPS_LINE1; i < NR_SMAPS; i++) {
		if (i == SMAPS_REFERENCED && !referenced)
			continue;
		n += snprintf(line + n, sizeof(line) - n, sign[0] ? " %s=%+ld" : " %s=%ld",
			      smaps_fields[i], vals[i]);
	}
	say("%s", line);
}

static void show_smaps(int who, pid_t pid, bool referenced)
{
	long sums[NR_SMAPS];
	char prefix[64];
	int vmas;

	vmas = read_smaps(pid, "smaps", (unsigned long)rmem,
			  (unsigned long)rmem + rsize, sums);
	snprintf(prefix, sizeof(prefix), "%s smaps (kB, %d VMA%s)",
		 who_names[who], vmas, vmas == 1 ? "" : "s");
	say_smaps(prefix, sums, referenced, "");
}

static void show_rollup(int who, pid_t pid)
{
	long sums[NR_SMAPS];
	char prefix[64];
	unsigned int i;

	read_smaps(pid, "smaps_rollup", 0, 0, sums);
	for (i = 0; i < NR_SMAPS; i++)
		sums[i] -= base_rollup[i];
	snprintf(prefix, sizeof(prefix), "%s smaps_rollup (kB, delta)",
		 who_names[who]);
	say_smaps(prefix, sums, false, "+");
}

/* The numa_maps lines of the region, without address and active=. */
static void show_numa_maps(int who, pid_t pid)
{
	FILE *f = fopen(proc_path(pid, "numa_maps"), "r");
	char line[1024], out[1024], *tok, *save;
	unsigned long addr;
	int n;

	if (!f) {
		say("%s numa_maps: cannot open: %s", who_names[who], strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		addr = strtoul(line, &tok, 16);
		if (addr < (unsigned long)rmem || addr >= (unsigned long)rmem + rsize)
			continue;
		n = 0;
		out[0] = '\0';
		for (tok = strtok_r(tok, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			if (!strncmp(tok, "active=", 7))
				continue;
			n += snprintf(out + n, sizeof(out) - n, " %s", tok);
		}
		say("%s numa_maps at +%lu kB:%s", who_names[who],
		    (addr - (unsigned long)rmem) >> 10, out);
	}
	fclose(f);
}

static __u64 pm_a[MAX_PAGES], pm_b[MAX_PAGES];

static int read_pagemap(pid_t pid, __u64 *pm)
{
	size_t n = rsize / PAGE;
	int fd = open(proc_path(pid, "pagemap"), O_RDONLY);
	ssize_t got = -1;

	if (fd >= 0) {
		got = pread(fd, pm, n * 8, (uintptr_t)rmem / PAGE * 8);
		close(fd);
	}
	return got == (ssize_t)(n * 8) ? 0 : -1;
}

static void show_pagemap(int who, pid_t pid)
{
	size_t i, n = rsize / PAGE, present = 0, swapped = 0, file = 0, excl = 0,
	       soft_dirty = 0, uffd_wp = 0;

	if (read_pagemap(pid, pm_a)) {
		bad("%s pagemap: cannot read", who_names[who]);
		return;
	}
	for (i = 0; i < n; i++) {
		present += !!(pm_a[i] & PM_PRESENT);
		swapped += !!(pm_a[i] & PM_SWAP);
		file += !!(pm_a[i] & PM_FILE);
		excl += !!(pm_a[i] & PM_EXCLUSIVE);
		soft_dirty += !!(pm_a[i] & PM_SOFT_DIRTY);
		uffd_wp += !!(pm_a[i] & PM_UFFD_WP);
	}
	say("%s pagemap: pages=%zu present=%zu swapped=%zu file/shared=%zu %s=%zu %s=%zu %s=%zu",
	    who_names[who], n, present, swapped, file, "exclusive", excl,
	    "soft-dirty", soft_dirty, "uffd-wp", uffd_wp);
}

/* How many pages of the region two processes map with the same PFN. */
static void show_same_pfns(int who_a, pid_t a, int who_b, pid_t b)
{
	size_t i, n = rsize / PAGE, both = 0, same = 0;

	if (read_pagemap(a, pm_a) || read_pagemap(b, pm_b)) {
		bad("pagemap: cannot read");
		return;
	}
	for (i = 0; i < n; i++) {
		if (!(pm_a[i] & pm_b[i] & PM_PRESENT))
			continue;
		both++;
		same += PM_PFN(pm_a[i]) == PM_PFN(pm_b[i]);
	}
	say("%s and %s: same PFN in %zu of the %zu pages present in both",
	    who_names[who_a], who_names[who_b], same, both);
}

/* How many of the process's pages map the PFN @pfn. */
static size_t count_pfn(pid_t pid, __u64 pfn)
{
	size_t i, n = rsize / PAGE, count = 0;

	if (read_pagemap(pid, pm_a))
		return 0;
	for (i = 0; i < n; i++)
		count += (pm_a[i] & PM_PRESENT) && PM_PFN(pm_a[i]) == pfn;
	return count;
}

/* /proc/kpagecount of the region's present pages: pages per count. */
static void show_kpagecount(int who, pid_t pid)
{
	size_t i, n = rsize / PAGE, hist[10] = {}, absent = 0;
	char line[512];
	int fd, len;
	__u64 count;

	fd = open("/proc/kpagecount", O_RDONLY);
	if (fd < 0 || read_pagemap(pid, pm_a)) {
		bad("kpagecount: cannot read");
		if (fd >= 0)
			close(fd);
		return;
	}
	for (i = 0; i < n; i++) {
		if (!(pm_a[i] & PM_PRESENT)) {
			absent++;
			continue;
		}
		if (pread(fd, &count, 8, PM_PFN(pm_a[i]) * 8) != 8)
			count = 9;
		hist[count < 9 ? count : 9]++;
	}
	close(fd);
	len = snprintf(line, sizeof(line), "%s kpagecount: not-present=%zu",
		       who_names[who], absent);
	for (i = 0; i < 10; i++)
		if (hist[i])
			len += snprintf(line + len, sizeof(line) - len, " %s%zu=%zu",
					i < 9 ? "count" : "count>=", i, hist[i]);
	say("%s", line);
}

/* Run in the process itself: resident pages of the region. */
static int show_mincore(long who)
{
	static unsigned char vec[MAX_PAGES];
	size_t i, n = rsize / PAGE, resident = 0;

	if (mincore(rmem, rsize, vec))
		return bad("mincore: %s", strerror(errno));
	for (i = 0; i < n; i++)
		resident += vec[i] & 1;
	say("%s mincore: resident=%zu of %zu", who_names[who], resident, n);
	return 0;
}

/*
 * Run in the process itself: what the first content_size bytes of the
 * region hold, page by page: zeroes, or which generation of fill().
 */
static int show_contents(long who)
{
	size_t off, zero = 0, other = 0, gen[4] = {};
	unsigned long g;

	for (off = 0; off < content_size; off += PAGE) {
		if (!verify(rmem + off, PAGE, 0, off)) {
			zero++;
			continue;
		}
		for (g = 1; g < 4; g++)
			if (!verify(rmem + off, PAGE, g, off))
				break;
		if (g < 4)
			gen[g]++;
		else
			other++;
	}
	say("%s contents of the first %zu kB: zero=%zu gen1=%zu gen2=%zu gen3=%zu other=%zu",
	    who_names[who], content_size >> 10, zero, gen[1], gen[2], gen[3], other);
	return 0;
}

enum {
	SHOW_SMAPS = 1 << 0,
	SHOW_REFERENCED = 1 << 1,
	SHOW_PAGEMAP = 1 << 2,
	SHOW_NUMA = 1 << 3,
	SHOW_STATUS = 1 << 4,
	SHOW_ROLLUP = 1 << 5,
	SHOW_KPAGECOUNT = 1 << 6,
	SHOW_MINCORE = 1 << 7,
};

#define SHOW_ALL	(SHOW_SMAPS | SHOW_PAGEMAP | SHOW_NUMA | SHOW_STATUS | SHOW_MINCORE)

/* Observations of process @who: @p, or the caller if @p is NULL. */
static void show(int who, struct peer *p, unsigned int what)
{
	pid_t pid = p ? p->pid : getpid();

	if (what & SHOW_SMAPS)
		show_smaps(who, pid, what & SHOW_REFERENCED);
	if (what & SHOW_ROLLUP)
		show_rollup(who, pid);
	if (what & SHOW_PAGEMAP)
		show_pagemap(who, pid);
	if (what & SHOW_NUMA)
		show_numa_maps(who, pid);
	if (what & SHOW_STATUS)
		show_status(who, pid);
	if (what & SHOW_KPAGECOUNT)
		show_kpagecount(who, pid);
	if (what & SHOW_MINCORE) {
		if (p)
			peer_call(p, show_mincore, who);
		else
			show_mincore(who);
	}
}

/* Observations of the child @child, then of the caller, its parent. */
static void show_both(struct peer *child, unsigned int what)
{
	show(CHILD, child, what);
	show(PARENT, NULL, what);
}

static int set_content_size(long size)
{
	content_size = size;
	return 0;
}

static void contents(int who, struct peer *p)
{
	if (!p) {
		show_contents(who);
		return;
	}
	peer_call(p, set_content_size, content_size);
	peer_call(p, show_contents, who);
}

/* System-wide Mlocked and Unevictable, as deltas to the run's start. */
static long base_mlocked, base_unevictable;

static void show_mlocked(const char *when)
{
	drain_all();
	say("%s: Mlocked%+ld kB Unevictable%+ld kB", when,
	    meminfo_kb("Mlocked") - base_mlocked,
	    meminfo_kb("Unevictable") - base_unevictable);
}

/* The case's region at its fixed address: anonymous, or of file @fd. */
static char *map_region(size_t size, int fd)
{
	int flags = MAP_PRIVATE | MAP_FIXED_NOREPLACE | (fd < 0 ? MAP_ANONYMOUS : 0);
	char *p = mmap((void *)case_base, size, PROT_READ | PROT_WRITE, flags,
		       fd, 0);

	if (p == MAP_FAILED || p != (char *)case_base) {
		bad("mmap of %zu kB at the case's address: %s", size >> 10,
		    p == MAP_FAILED ? strerror(errno) : "moved");
		return NULL;
	}
	/* PTE tables, not PMD-mapped THPs. */
	madvise(p, size, MADV_NOHUGEPAGE);
	rmem = p;
	rsize = size;
	content_size = size;
	return p;
}

/* An anonymous region of @size bytes at the case's address, generation 1. */
static bool filled_region(size_t size)
{
	if (!map_region(size, -1))
		return false;
	fill(rmem, rsize, 1, 0);
	return true;
}

/* A memfd of @size bytes holding generation @gen. */
static int make_file(size_t size, unsigned long gen)
{
	static char page[PAGE];
	int fd = memfd_create("cow_pte_semantics", 0);
	size_t off;

	if (fd < 0 || ftruncate(fd, size)) {
		bad("memfd: %s", strerror(errno));
		return -1;
	}
	for (off = 0; off < size; off += PAGE) {
		memset(page, 0, PAGE);
		fill(page, PAGE, gen, off);
		if (pwrite(fd, page, PAGE, off) != PAGE) {
			bad("pwrite: %s", strerror(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* Fault a page in by reading (or writing) one byte of it. */
static char touch(const char *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void poke(char *p, char val)
{
	__atomic_store_n(p, val, __ATOMIC_RELAXED);
}

static void read_all(void)
{
	size_t off;

	for (off = 0; off < rsize; off += PAGE)
		touch(rmem + off);
}

/* Write generation @gen into one page every @step bytes from @start. */
static void write_pages(size_t start, size_t end, size_t step, unsigned long gen)
{
	size_t off;

	for (off = start; off < end; off += step)
		fill(rmem + off, PAGE, gen, off);
}

/*
 * A private VMA gets an anon_vma only when a page is written; without one
 * stock fork copies no page table at all (the child faults again), and
 * nothing would be shared.  Write the first page, then let it go.
 */
static void prepare_anon_vma(void)
{
	poke(rmem, 1);
	madvise(rmem, PAGE, MADV_DONTNEED);
}

/* Peer functions used by several cases. */
static int write_first_half(long gen)
{
	fill(rmem, rsize / 2, gen, 0);
	return 0;
}

/* Fork @child and say so. */
static int fork_child(struct peer *child)
{
	if (peer_start(child))
		return -1;
	say("-- after fork");
	return 0;
}

/* Let @child write generation 2 over the first half, and say so. */
static int child_writes_first_half(struct peer *child)
{
	if (peer_call(child, write_first_half, 2))
		return -1;
	say("-- after the child wrote the first half");
	return 0;
}

static int write_page_per_table(long gen)
{
	write_pages(0, rsize, PMD_SIZE, gen);
	return 0;
}

/* 1. mlock under RLIMIT_MEMLOCK, munmap while a child maps the pages. */
static int release_fd[2];
static pid_t mlock_children[16];

static int become_nobody(long unused)
{
	struct rlimit lim = { .rlim_cur = PMD_SIZE, .rlim_max = PMD_SIZE };

	if (setrlimit(RLIMIT_MEMLOCK, &lim) || setgroups(0, NULL) ||
	    setgid(NOBODY) || setuid(NOBODY))
		return bad("cannot become an unprivileged user: %s", strerror(errno));
	/* Changing credentials cleared it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	return 0;
}

static int mlock_rounds(long unused)
{
	int i, locked = 0, enomem = 0, eperm = 0, other = 0;
	char c;

	if (pipe(release_fd))
		return bad("pipe: %s", strerror(errno));
	for (i = 0; i < 16; i++) {
		if (!map_region(PMD_SIZE, -1))
			return -1;
		fill(rmem, PMD_SIZE, 1, 0);
		if (!mlock(rmem, PMD_SIZE))
			locked++;
		else if (errno == ENOMEM)
			enomem++;
		else if (errno == EPERM)
			eperm++;
		else
			other++;
		mlock_children[i] = fork();
		if (mlock_children[i] < 0)
			return bad("fork: %s", strerror(errno));
		if (mlock_children[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(release_fd[1]);
			while (read(release_fd[0], &c, 1) > 0)
				;
			_exit(verify(rmem, PMD_SIZE, 1, 0) ? FAIL : PASS);
		}
		munmap(rmem, PMD_SIZE);
	}
	say("user process: mlock succeeded %d of 16 times (ENOMEM %d, EPERM %d, other %d)",
	    locked, enomem, eperm, other);
	return 0;
}

static int release_children(long unused)
{
	int i, bad_data = 0;

	close(release_fd[1]);
	for (i = 0; i < 16; i++)
		bad_data += wait_child(mlock_children[i]) != PASS;
	say("user process: %d of its 16 children saw wrong data", bad_data);
	return 0;
}

static int case_mlock_rlimit(void)
{
	struct peer user;

	if (peer_start(&user) || peer_call(&user, become_nobody, 0))
		return -1;
	if (peer_call(&user, mlock_rounds, 0))
		return -1;
	say("-- after 16 rounds of mmap, write, mlock, fork, munmap");
	show_status(USER, user.pid);
	show_mlocked("system");
	if (peer_call(&user, release_children, 0))
		return -1;
	say("-- after the children exited");
	show_status(USER, user.pid);
	show_mlocked("system");
	if (peer_stop(&user))
		return -1;
	say("-- after the user process exited");
	show_mlocked("system");
	return 0;
}

/* 2. The parent mlocks, forks, and munmaps while the child lives. */
static int case_mlock_parent_unmap(void)
{
	struct peer child;

	if (!filled_region(8 * MIB))
		return -1;
	if (mlock(rmem, rsize))
		return bad("mlock: %s", strerror(errno));
	show_mlocked("after mlock");
	if (fork_child(&child))
		return -1;
	show_mlocked("system");
	show_both(&child, SHOW_SMAPS | SHOW_STATUS);
	munmap(rmem, rsize);
	say("-- after the parent's munmap");
	show_mlocked("system");
	show(CHILD, &child, SHOW_SMAPS | SHOW_STATUS);
	if (peer_stop(&child))
		return -1;
	say("-- after the child exited");
	show_mlocked("system");
	return 0;
}

/* 3. The child mlocks a read-only mapping it shares with the parent. */
static int child_mlocks(long unused)
{
	if (mlock(rmem, rsize))
		say("child: mlock failed: %s", strerror(errno));
	else
		say("child: mlock succeeded");
	say("child: data %s", verify(rmem, rsize, 1, 0) ? "wrong" : "right");
	return 0;
}

static int case_mlock_child_readonly(void)
{
	struct peer child;

	if (!filled_region(8 * MIB))
		return -1;
	if (mprotect(rmem, rsize, PROT_READ))
		return bad("mprotect: %s", strerror(errno));
	if (peer_start(&child) || peer_call(&child, child_mlocks, 0))
		return -1;
	say("-- after the child's mlock");
	show_both(&child, SHOW_SMAPS | SHOW_STATUS);
	show_mlocked("system");
	if (peer_stop(&child))
		return -1;
	say("-- after the child exited");
	show_mlocked("system");
	show(PARENT, NULL, SHOW_SMAPS | SHOW_STATUS);
	munmap(rmem, rsize);
	say("-- after the parent's munmap");
	show_mlocked("system");
	return 0;
}

/* 4. KSM zero pages (use_zero_pages) shared by a fork. */
static const char *const ksm_settings[] = {
	"run", "use_zero_pages", "pages_to_scan", "sleep_millisecs",
};

static const char *const ksm_globals[] = {
	"ksm_zero_pages", "pages_shared", "pages_sharing", "general_profit",
};

static long base_ksm[ARRAY_SIZE(ksm_globals)];

static long ksm_value(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	return read_long(path);
}

static int ksm_set(const char *name, long val)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	snprintf(buf, sizeof(buf), "%ld", val);
	if (write_file(path, buf))
		return bad("cannot write %s to %s", buf, path);
	return 0;
}

static void show_ksm(const char *when)
{
	char line[512];
	unsigned int i;
	int n;

	n = snprintf(line, sizeof(line), "%s: KSM", when);
	for (i = 0; i < ARRAY_SIZE(ksm_globals); i++)
		n += snprintf(line + n, sizeof(line) - n, " %s%+ld", ksm_globals[i],
			      ksm_value(ksm_globals[i]) - base_ksm[i]);
	say("%s", line);
}

static void show_ksm_stat(int who, pid_t pid)
{
	const char *path = proc_path(pid, "ksm_stat");

	say("%s ksm_stat: ksm_zero_pages=%ld ksm_merging_pages=%ld ksm_process_profit=%ld",
	    who_names[who], proc_value(path, "ksm_zero_pages", ' '),
	    proc_value(path, "ksm_merging_pages", ' '),
	    proc_value(path, "ksm_process_profit", ' '));
}

/* Wait until @name has risen to at least @target; false on a timeout. */
static bool ksm_wait(const char *name, long target)
{
	char path[128];

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	return wait_for_value(path, target, KSM_TIMEOUT) >= target;
}

/* Wait until ksmd has completed two full scans since @start full_scans. */
static int ksm_wait_two_scans(long start)
{
	if (!ksm_wait("full_scans", start + 2))
		return bad("timed out after %d s waiting for two full KSM scans (full_scans %+ld)",
			   KSM_TIMEOUT, ksm_value("full_scans") - start);
	return 0;
}

/*
 * Let ksmd forget what earlier runs left (the rmap items of exited
 * processes count in pages_sharing and general_profit until a scan frees
 * them), with @use_zero_pages, and take the baseline of the KSM counters.
 * It only scans while some mm is registered: register one page of data
 * nothing else holds.
 */
static int ksm_forget(long use_zero_pages)
{
	char *dummy = (char *)case_base + CASE_SPAN / 2;
	unsigned int i;
	long start;

	if (mmap(dummy, PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != dummy)
		return bad("mmap: %s", strerror(errno));
	fill(dummy, PAGE, 7, 0);
	if (madvise(dummy, PAGE, MADV_MERGEABLE))
		return bad("MADV_MERGEABLE: %s", strerror(errno));
	start = ksm_value("full_scans");
	if (ksm_set("use_zero_pages", use_zero_pages) ||
	    ksm_set("pages_to_scan", 10000) || ksm_set("sleep_millisecs", 10) ||
	    ksm_set("run", 1) || ksm_wait_two_scans(start))
		return -1;
	if (ksm_set("run", 0))
		return -1;
	for (i = 0; i < ARRAY_SIZE(ksm_globals); i++)
		base_ksm[i] = ksm_value(ksm_globals[i]);
	return 0;
}

static int ksm_zero_scenario(void)
{
	struct peer child;
	size_t off;

	if (ksm_forget(1))
		return -1;

	if (!map_region(4 * MIB, -1))
		return -1;
	for (off = 0; off < rsize; off += PAGE)
		poke(rmem + off, 0);
	if (madvise(rmem, rsize, MADV_MERGEABLE))
		return bad("MADV_MERGEABLE: %s", strerror(errno));
	if (ksm_set("run", 1))
		return -1;
	if (!ksm_wait("ksm_zero_pages", base_ksm[0] + rsize / PAGE)) {
		ksm_set("run", 0);
		return bad("timed out after %d s: ksm_zero_pages rose by %ld, not %zu",
			   KSM_TIMEOUT, ksm_value("ksm_zero_pages") - base_ksm[0],
			   rsize / PAGE);
	}
	/*
	 * The pass that merged the pages left their rmap items, which count
	 * in general_profit and ksm_process_profit; ksmd frees them the next
	 * time it passes the region (a KSM zero page is not an anon page).
	 * Whether that pass came before run=0 was up to the timing: wait for
	 * two more full scans, so that it has come.
	 */
	if (ksm_wait_two_scans(ksm_value("full_scans"))) {
		ksm_set("run", 0);
		return -1;
	}
	/* No more merging: what follows is exact. */
	if (ksm_set("run", 0))
		return -1;
	say("-- after KSM merged the region into the zero page");
	show_ksm("system");
	show_ksm_stat(PARENT, getpid());
	if (fork_child(&child))
		return -1;
	show_ksm("system");
	show_ksm_stat(PARENT, getpid());
	show_ksm_stat(CHILD, child.pid);
	show_both(&child, SHOW_SMAPS | SHOW_PAGEMAP | SHOW_STATUS);
	munmap(rmem, rsize);
	say("-- after the parent's munmap");
	show_ksm("system");
	show_ksm_stat(PARENT, getpid());
	show_ksm_stat(CHILD, child.pid);
	if (peer_stop(&child))
		return -1;
	say("-- after the child exited");
	show_ksm("system");
	show_ksm_stat(PARENT, getpid());
	return 0;
}

/* Run @scenario with KSM's settings restored afterwards, whatever it set. */
static int with_ksm_settings_restored(int (*scenario)(void))
{
	long saved[ARRAY_SIZE(ksm_settings)];
	unsigned int i;
	int ret;

	if (access(KSM_DIR "use_zero_pages", W_OK))
		return bad("no KSM (" KSM_DIR "use_zero_pages)");
	for (i = 0; i < ARRAY_SIZE(ksm_settings); i++)
		saved[i] = ksm_value(ksm_settings[i]);
	ret = scenario();
	/* Stop first: the other settings can only change while stopped. */
	ksm_set("run", 0);
	for (i = ARRAY_SIZE(ksm_settings); i > 0; i--)
		ksm_set(ksm_settings[i - 1], saved[i - 1]);
	return ret;
}

static int case_ksm_zero(void)
{
	return with_ksm_settings_restored(ksm_zero_scenario);
}

/*
 * 4b. KSM pages of two families.  KSM merges the pages of an unrelated
 * process X with the runner's; then the runner forks, sharing the tables
 * that map the KSM pages.  Each KSM page is mapped by X, the runner and its
 * child: X's reports must count the child too, although nothing of X's
 * family maps the tables its child shares.
 */
static int ksm_fill_region(long gen)
{
	if (!map_region(2 * MIB, -1))
		return -1;
	write_pages(0, rsize, PAGE, gen);
	if (madvise(rmem, rsize, MADV_MERGEABLE))
		return bad("MADV_MERGEABLE: %s", strerror(errno));
	return 0;
}

static int ksm_families_scenario(void)
{
	struct peer other, child;
	size_t pages = 2 * MIB / PAGE;

	if (ksm_forget(0))
		return -1;
	/* Forked before the region exists: a family of its own. */
	if (peer_start(&other))
		return -1;
	if (peer_call(&other, ksm_fill_region, 5) || ksm_fill_region(5))
		return -1;
	if (ksm_set("run", 1))
		return -1;
	if (!ksm_wait("pages_sharing", base_ksm[2] + pages)) {
		ksm_set("run", 0);
		return bad("timed out after %d s: pages_sharing rose by %ld, not %zu",
			   KSM_TIMEOUT, ksm_value("pages_sharing") - base_ksm[2], pages);
	}
	/* No more merging: what follows is exact. */
	if (ksm_set("run", 0))
		return -1;
	say("-- after KSM merged the two processes' regions");
	say("system: KSM pages_shared%+ld pages_sharing%+ld",
	    ksm_value("pages_shared") - base_ksm[1],
	    ksm_value("pages_sharing") - base_ksm[2]);
	if (peer_start(&child))
		return -1;
	say("-- after the runner forked");
	show(OTHER, &other, SHOW_SMAPS | SHOW_PAGEMAP | SHOW_NUMA | SHOW_KPAGECOUNT);
	show_both(&child, SHOW_SMAPS | SHOW_PAGEMAP | SHOW_NUMA);
	if (peer_call(&child, write_first_half, 6))
		return -1;
	say("-- after the child wrote half");
	show(OTHER, &other, SHOW_SMAPS | SHOW_PAGEMAP | SHOW_KPAGECOUNT);
	show_both(&child, SHOW_SMAPS | SHOW_PAGEMAP);
	if (peer_stop(&child) || peer_stop(&other))
		return -1;
	return 0;
}

static int case_ksm_families(void)
{
	return with_ksm_settings_restored(ksm_families_scenario);
}

/* 5. A short-term read-only pin in the child (gup_test PIN_BASIC_TEST). */
static int child_pins(long unused)
{
	struct gup_test gup = {
		.addr = (uintptr_t)rmem,
		.size = rsize,
		.nr_pages_per_call = rsize / PAGE,
		.gup_flags = 0,		/* no FOLL_WRITE */
	};
	int fd = open(GUP_TEST, O_RDWR);

	if (fd < 0)
		return bad("%s: %s (CONFIG_GUP_TEST, debugfs)", GUP_TEST, strerror(errno));
	if (ioctl(fd, PIN_BASIC_TEST, &gup)) {
		close(fd);
		return bad("PIN_BASIC_TEST: %s", strerror(errno));
	}
	close(fd);
	say("child: pinned and unpinned %llu pages read-only",
	    (unsigned long long)gup.size / PAGE);
	return 0;
}

/*
 * The same pin with gup_test's DUMP_USER_PAGES_TEST, which pins and unpins
 * without checking each page: PIN_BASIC_TEST checks that every pinned page
 * counts as pinned, which the zero page does not, and warns, stock kernel
 * or not.
 */
static int child_pins_unchecked(long unused)
{
	struct gup_test gup = {
		.addr = (uintptr_t)rmem,
		.size = rsize,
		.nr_pages_per_call = rsize / PAGE,
		.gup_flags = 0,		/* no FOLL_WRITE */
		.test_flags = GUP_TEST_FLAG_DUMP_PAGES_USE_PIN,
	};
	int fd = open(GUP_TEST, O_RDWR);

	if (fd < 0)
		return bad("%s: %s (CONFIG_GUP_TEST, debugfs)", GUP_TEST, strerror(errno));
	if (ioctl(fd, DUMP_USER_PAGES_TEST, &gup)) {
		close(fd);
		return bad("DUMP_USER_PAGES_TEST: %s", strerror(errno));
	}
	close(fd);
	say("child: pinned and unpinned %llu pages read-only",
	    (unsigned long long)gup.size / PAGE);
	return 0;
}

static int case_gup_pin_file(void)
{
	struct peer child;
	int fd = make_file(2 * MIB, 1);
	static char page[PAGE];
	size_t off;

	if (fd < 0 || !map_region(2 * MIB, fd))
		return -1;
	prepare_anon_vma();
	read_all();
	if (peer_start(&child) || peer_call(&child, child_pins, 0))
		return -1;
	for (off = 0; off < rsize; off += PAGE) {
		memset(page, 0, PAGE);
		fill(page, PAGE, 2, off);
		if (pwrite(fd, page, PAGE, off) != PAGE)
			return bad("pwrite: %s", strerror(errno));
	}
	say("-- after the parent wrote generation 2 to the whole file");
	contents(PARENT, NULL);
	contents(CHILD, &child);
	show(PARENT, NULL, SHOW_STATUS);
	show(CHILD, &child, SHOW_STATUS | SHOW_SMAPS | SHOW_PAGEMAP);
	close(fd);
	return peer_stop(&child);
}

static int case_gup_pin_zero(void)
{
	char *probe = (char *)case_base + CASE_SPAN / 2;
	__u64 entry, zero_pfn;
	struct peer child;
	int fd;

	/* The zero page's PFN: a read-faulted, never written page. */
	if (mmap(probe, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		 -1, 0) != probe)
		return bad("mmap: %s", strerror(errno));
	touch(probe);
	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0 || pread(fd, &entry, 8, (uintptr_t)probe / PAGE * 8) != 8)
		return bad("pagemap: %s", strerror(errno));
	close(fd);
	munmap(probe, PAGE);
	zero_pfn = PM_PFN(entry);
	if (!(entry & PM_PRESENT) || !zero_pfn)
		return bad("no PFN for the zero page (not root?)");

	if (!map_region(2 * MIB, -1))
		return -1;
	prepare_anon_vma();
	read_all();
	if (peer_start(&child) || peer_call(&child, child_pins_unchecked, 0))
		return -1;
	say("-- after the child's read-only pin");
	show_both(&child, SHOW_STATUS | SHOW_SMAPS | SHOW_PAGEMAP);
	say("child: %zu pages map the zero page", count_pfn(child.pid, zero_pfn));
	say("parent: %zu pages map the zero page", count_pfn(getpid(), zero_pfn));
	contents(CHILD, &child);
	return peer_stop(&child);
}

/* 6. move_pages() of pages the child maps too. */
static int move_nodes[MAX_PAGES], move_status[MAX_PAGES];
static void *move_addrs[MAX_PAGES];

static long move_region(const int *nodes, int flags)
{
	size_t i, n = rsize / PAGE;

	for (i = 0; i < n; i++) {
		move_addrs[i] = rmem + i * PAGE;
		move_status[i] = -12345;
	}
	return syscall(SYS_move_pages, 0, n, move_addrs, nodes, move_status, flags);
}

/* "what: ret=R node0=N EACCES=N ..." */
static void say_move_status(const char *what, long ret, int err)
{
	size_t i, j, n = rsize / PAGE, count;
	char line[512];
	int len, v, seen[16], nseen = 0;

	len = snprintf(line, sizeof(line), "%s: ret=%ld", what, ret);
	if (ret < 0)
		len += snprintf(line + len, sizeof(line) - len, " (%s)", strerrorname_np(err));
	for (i = 0; i < n; i++) {
		v = move_status[i];
		for (j = 0; j < (size_t)nseen; j++)
			if (seen[j] == v)
				break;
		if (j < (size_t)nseen || nseen == 16)
			continue;
		seen[nseen++] = v;
		for (count = 0, j = i; j < n; j++)
			count += move_status[j] == v;
		if (v >= 0)
			len += snprintf(line + len, sizeof(line) - len, " node%d=%zu", v, count);
		else if (v == -12345)
			len += snprintf(line + len, sizeof(line) - len, " unset=%zu", count);
		else
			len += snprintf(line + len, sizeof(line) - len, " %s=%zu",
					strerrorname_np(-v) ?: "?", count);
	}
	say("%s", line);
}

static int show_nodes(long who)
{
	char what[64];
	long ret = move_region(NULL, 0);

	snprintf(what, sizeof(what), "%s page nodes", who_names[who]);
	say_move_status(what, ret, errno);
	return 0;
}

static int case_move_pages(void)
{
	unsigned long node0 = 1;
	struct peer child;
	size_t i;
	long ret;

	if (access("/sys/devices/system/node/node1", F_OK))
		return bad("needs a second NUMA node");
	if (!map_region(2 * MIB, -1))
		return -1;
	if (syscall(SYS_mbind, rmem, rsize, MPOL_BIND, &node0, 8 * sizeof(node0), 0))
		return bad("mbind: %s", strerror(errno));
	fill(rmem, rsize, 1, 0);
	show_nodes(PARENT);
	if (peer_start(&child))
		return -1;
	for (i = 0; i < rsize / PAGE; i++)
		move_nodes[i] = 1;
	ret = move_region(move_nodes, MPOL_MF_MOVE);
	say_move_status("-- parent move_pages(MPOL_MF_MOVE) to node 1", ret, errno);
	peer_call(&child, show_nodes, CHILD);
	show_nodes(PARENT);
	show_both(&child, SHOW_NUMA);
	ret = move_region(move_nodes, MPOL_MF_MOVE_ALL);
	say_move_status("-- parent move_pages(MPOL_MF_MOVE_ALL) to node 1", ret, errno);
	peer_call(&child, show_nodes, CHILD);
	show_nodes(PARENT);
	show_both(&child, SHOW_NUMA);
	return peer_stop(&child);
}

/* 7. smaps and friends of parent and child after fork and writes. */
static int case_smaps_fork(void)
{
	struct peer child;

	if (!filled_region(8 * MIB))
		return -1;
	if (fork_child(&child))
		return -1;
	show_both(&child, SHOW_ALL | SHOW_ROLLUP);
	show_same_pfns(PARENT, getpid(), CHILD, child.pid);
	if (child_writes_first_half(&child))
		return -1;
	show_both(&child, SHOW_ALL | SHOW_ROLLUP);
	show_same_pfns(PARENT, getpid(), CHILD, child.pid);
	write_pages(rsize / 2, rsize, PMD_SIZE, 3);
	say("-- after the parent wrote one page in each 2 MiB of the second half");
	show_both(&child, SHOW_ALL | SHOW_ROLLUP);
	show_same_pfns(PARENT, getpid(), CHILD, child.pid);
	return peer_stop(&child);
}

/* 8. Three processes map the pages. */
static int case_smaps_three(void)
{
	struct peer a, b;

	if (!filled_region(8 * MIB))
		return -1;
	if (peer_start(&a) || peer_start(&b))
		return -1;
	say("-- after two forks");
	show(CHILD_A, &a, SHOW_SMAPS | SHOW_PAGEMAP | SHOW_NUMA);
	show(CHILD_B, &b, SHOW_SMAPS | SHOW_PAGEMAP | SHOW_NUMA);
	show(PARENT, NULL, SHOW_SMAPS | SHOW_PAGEMAP | SHOW_NUMA);
	if (peer_call(&a, write_page_per_table, 2))
		return -1;
	say("-- after child A wrote one page in each 2 MiB");
	show(CHILD_A, &a, SHOW_ALL);
	show(CHILD_B, &b, SHOW_ALL);
	show(PARENT, NULL, SHOW_ALL);
	show_same_pfns(CHILD_A, a.pid, CHILD_B, b.pid);
	show_same_pfns(PARENT, getpid(), CHILD_B, b.pid);
	if (peer_stop(&a) || peer_stop(&b))
		return -1;
	return 0;
}

/* 9. Swapped-out pages shared by a fork. */
static int child_reads_page(long unused)
{
	say("child: page 0 holds %s",
	    verify(rmem, PAGE, 1, 0) ? "wrong data" : "generation 1");
	return 0;
}

static size_t swapped_pages(void)
{
	size_t i, n = rsize / PAGE, swapped = 0;

	if (read_pagemap(getpid(), pm_a))
		return 0;
	for (i = 0; i < n; i++)
		swapped += !!(pm_a[i] & PM_SWAP);
	return swapped;
}

static int case_smaps_swap(void)
{
	struct peer child;
	int tries;

	if (!filled_region(8 * MIB))
		return -1;
	for (tries = 0; tries < 30; tries++) {
		drain_all();
		if (madvise(rmem, rsize / 2, MADV_PAGEOUT))
			return bad("MADV_PAGEOUT: %s", strerror(errno));
		if (swapped_pages() == rsize / 2 / PAGE)
			break;
		sleep(1);
	}
	if (swapped_pages() != rsize / 2 / PAGE)
		return bad("only %zu of %zu pages went to swap after 30 MADV_PAGEOUT (swap on?)",
			   swapped_pages(), rsize / 2 / PAGE);
	say("parent: VmSwap %ld kB", proc_value("/proc/self/status", "VmSwap", ':'));
	if (fork_child(&child))
		return -1;
	show_both(&child, SHOW_SMAPS | SHOW_PAGEMAP | SHOW_STATUS);
	if (peer_call(&child, child_reads_page, 0))
		return -1;
	say("-- after the child read one swapped-out page");
	show_both(&child, SHOW_SMAPS | SHOW_PAGEMAP | SHOW_STATUS);
	return peer_stop(&child);
}

/* 10. A private file mapping, read and a quarter written, then forked. */
static int case_smaps_file(void)
{
	struct peer child;
	int fd = make_file(8 * MIB, 1);

	if (fd < 0 || !map_region(8 * MIB, fd))
		return -1;
	read_all();
	write_pages(0, rsize, 4 * PAGE, 2);
	if (fork_child(&child))
		return -1;
	show_both(&child, SHOW_ALL | SHOW_ROLLUP);
	show_same_pfns(PARENT, getpid(), CHILD, child.pid);
	contents(CHILD, &child);
	close(fd);
	return peer_stop(&child);
}

/* 11. Redis: the child measures the CoW size the parent causes. */
static int report_private_dirty(long who)
{
	long sums[NR_SMAPS];

	read_smaps(0, "smaps", (unsigned long)rmem, (unsigned long)rmem + rsize, sums);
	say("%s: Private_Dirty of the region %ld kB (%ld.%ld%% of %zu kB)",
	    who_names[who], sums[SMAPS_PRIVATE_DIRTY],
	    sums[SMAPS_PRIVATE_DIRTY] * 100 / (long)(rsize >> 10),
	    sums[SMAPS_PRIVATE_DIRTY] * 1000 / (long)(rsize >> 10) % 10, rsize >> 10);
	return 0;
}

static int case_redis_cow(void)
{
	struct peer child;

	if (!filled_region(64 * MIB))
		return -1;
	if (peer_start(&child))
		return -1;
	write_pages(0, rsize, 10 * PAGE, 2);
	say("-- after the parent wrote every tenth page");
	if (peer_call(&child, report_private_dirty, CHILD))
		return -1;
	report_private_dirty(PARENT);
	show_both(&child, SHOW_SMAPS | SHOW_STATUS);
	return peer_stop(&child);
}

/* 12. /proc/kpagecount of the pages parent and child map. */
static int case_kpagecount(void)
{
	struct peer child;

	if (!filled_region(8 * MIB))
		return -1;
	if (fork_child(&child))
		return -1;
	show_both(&child, SHOW_KPAGECOUNT | SHOW_PAGEMAP);
	if (child_writes_first_half(&child))
		return -1;
	show_both(&child, SHOW_KPAGECOUNT | SHOW_PAGEMAP);
	show_same_pfns(PARENT, getpid(), CHILD, child.pid);
	return peer_stop(&child);
}

/* 13. Hole punching and truncation of a file mapped private by both. */
static int case_punch_hole(void)
{
	struct peer child;
	int fd = make_file(8 * MIB, 1);
	const unsigned int what = SHOW_SMAPS | SHOW_STATUS | SHOW_PAGEMAP;

	if (fd < 0 || !map_region(8 * MIB, fd))
		return -1;
	read_all();
	write_pages(0, rsize, 4 * PAGE, 2);
	if (fork_child(&child))
		return -1;
	show_both(&child, what);
	contents(CHILD, &child);
	contents(PARENT, NULL);
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      7 * MIB / 2, MIB))
		return bad("fallocate(PUNCH_HOLE): %s", strerror(errno));
	say("-- after the parent punched a hole in [3.5 MiB, 4.5 MiB) of the file");
	show_both(&child, what);
	contents(CHILD, &child);
	contents(PARENT, NULL);
	show_both(&child, SHOW_STATUS);
	if (ftruncate(fd, 5 * MIB))
		return bad("ftruncate: %s", strerror(errno));
	content_size = 5 * MIB;
	say("-- after the parent truncated the file to 5 MiB");
	show_both(&child, what);
	contents(CHILD, &child);
	contents(PARENT, NULL);
	close(fd);
	return peer_stop(&child);
}

/* 14. The parent registers shared tables for uffd-wp, then unmaps them. */
static int child_checks(long unused)
{
	say("child: data %s", verify(rmem, rsize, 1, 0) ? "wrong" : "right");
	return 0;
}

static int case_uffd_wp_unmap(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_WP };
	struct peer child;
	int uffd;

	if (!filled_region(8 * MIB))
		return -1;
	if (peer_start(&child))
		return -1;
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api))
		return bad("userfaultfd: %s", strerror(errno));
	reg.range.start = (uintptr_t)rmem;
	reg.range.len = rsize;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return bad("UFFDIO_REGISTER(MODE_WP): %s", strerror(errno));
	say("-- after the parent registered the region for uffd write-protect");
	show(PARENT, NULL, SHOW_SMAPS | SHOW_STATUS | SHOW_PAGEMAP);
	show(CHILD, &child, SHOW_SMAPS | SHOW_STATUS);
	munmap(rmem, rsize);
	say("-- after the parent's munmap");
	show(PARENT, NULL, SHOW_STATUS);
	show(CHILD, &child, SHOW_SMAPS | SHOW_STATUS | SHOW_PAGEMAP);
	peer_call(&child, child_checks, 0);
	close(uffd);
	return peer_stop(&child);
}

/* 15. The parent's accessed bits after fork and a write per table. */
static int case_young_parent(void)
{
	struct peer child;

	if (!filled_region(8 * MIB))
		return -1;
	say("-- before fork");
	show(PARENT, NULL, SHOW_SMAPS | SHOW_REFERENCED);
	if (peer_start(&child))
		return -1;
	write_page_per_table(2);
	say("-- after fork, and the parent wrote one page in each 2 MiB");
	show(PARENT, NULL, SHOW_SMAPS | SHOW_REFERENCED | SHOW_PAGEMAP);
	return peer_stop(&child);
}

/*
 * The cases.  @expect: what the "on" run must show in /proc/vmstat,
 * "counter>0" or "counter=0", separated by spaces.
 */
static const struct sem_case {
	const char *name;
	int (*fn)(void);
	const char *expect;
	const char *about;
} cases[] = {
	{ "mlock_rlimit", case_mlock_rlimit, "cow_pte_fallback_mlock>0",
	  "unprivileged, RLIMIT_MEMLOCK 2 MiB: 16 x (mmap, mlock, fork, munmap); Mlocked, VmLck" },
	{ "mlock_parent_unmap", case_mlock_parent_unmap, "cow_pte_fallback_mlock>0",
	  "the parent mlocks 8 MiB, forks, munmaps while the child lives; Mlocked" },
	{ "mlock_child_readonly", case_mlock_child_readonly, "cow_pte_share>0",
	  "the child mlocks a read-only 8 MiB it shares, exits; Mlocked, VmLck" },
	{ "ksm_zero", case_ksm_zero, "cow_pte_share>0",
	  "KSM zero pages (use_zero_pages) forked, unmapped, exited: ksm_zero_pages, ksm_stat" },
	{ "ksm_families", case_ksm_families, "cow_pte_share>0",
	  "KSM merges two unrelated processes' pages, one forks: reports count all three" },
	{ "gup_pin_file", case_gup_pin_file, "cow_pte_share>0",
	  "the child pins a read-faulted private tmpfs mapping; the parent writes the file" },
	{ "gup_pin_zero", case_gup_pin_zero, "cow_pte_share>0",
	  "the child pins read-only anonymous memory that maps the zero page" },
	{ "move_pages", case_move_pages, "cow_pte_share>0",
	  "the parent move_pages() shared pages to node 1 (MPOL_MF_MOVE, then MOVE_ALL)" },
	{ "smaps_fork", case_smaps_fork, "cow_pte_share>0",
	  "smaps, rollup, pagemap, numa_maps, mincore, status after fork and writes" },
	{ "smaps_three", case_smaps_three, "cow_pte_share>0",
	  "three processes map 8 MiB; one child writes a page per table" },
	{ "smaps_swap", case_smaps_swap, "cow_pte_share>0",
	  "half of 8 MiB swapped out before fork; Swap, SwapPss; the child swaps a page in" },
	{ "smaps_file", case_smaps_file, "cow_pte_share>0",
	  "private tmpfs mapping read and a quarter written, forked: Pss_File, Pss_Anon, pagemap" },
	{ "redis_cow", case_redis_cow, "cow_pte_share>0",
	  "64 MiB forked, the parent writes 10%: the child's Private_Dirty (Redis' CoW size)" },
	{ "kpagecount", case_kpagecount, "cow_pte_share>0",
	  "/proc/kpagecount of the region after fork and after the child wrote half" },
	{ "punch_hole", case_punch_hole, "cow_pte_share>0",
	  "private tmpfs mapping forked, hole punched (not table aligned), file truncated" },
	{ "uffd_wp_unmap", case_uffd_wp_unmap,
	  "cow_pte_share>0 cow_pte_drop>0 cow_pte_break_copy=0",
	  "the parent registers shared tables for uffd-wp and unmaps them: drop, no copy" },
	{ "young_parent", case_young_parent, "cow_pte_share>0",
	  "the parent's Referenced after fork and one write per table" },
};

/* One run: the process tree of a case with COW PTE off or on. */
static int run_process(int idx, bool on, int fd)
{
	cpu_set_t cpus;

	out_fd = fd;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	alarm(RUN_TIMEOUT);
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus)) {
		bad("sched_setaffinity: %s", strerror(errno));
		return FAIL;
	}
	if (prctl(PR_SET_COW_PTE, on ? PR_COW_PTE_ENABLE : 0, 0, 0, 0)) {
		bad("prctl(PR_SET_COW_PTE): %s", strerror(errno));
		return FAIL;
	}
	case_base = BASE_ADDR + idx * CASE_SPAN;
	drain_all();
	base_mlocked = meminfo_kb("Mlocked");
	base_unevictable = meminfo_kb("Unevictable");
	read_status(0, base_status);
	read_smaps(0, "smaps_rollup", 0, 0, base_rollup);
	if (cases[idx].fn())
		return FAIL;
	return PASS;
}

/* The cow_pte_* counters of /proc/vmstat. */
struct counters {
	int n;
	char name[32][48];
	long val[32];
};

static void read_counters(struct counters *c)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char line[128];

	c->n = 0;
	while (f && fgets(line, sizeof(line), f) && c->n < 32) {
		if (strncmp(line, "cow_pte_", 8))
			continue;
		if (sscanf(line, "%47s %ld", c->name[c->n], &c->val[c->n]) == 2)
			c->n++;
	}
	if (f)
		fclose(f);
}

/* The change of counter @name; false if the kernel has no such counter. */
static bool counter_delta(const struct counters *b, const struct counters *a,
			  const char *name, long *delta)
{
	int i, j;

	for (i = 0; i < a->n; i++) {
		if (strcmp(a->name[i], name))
			continue;
		*delta = a->val[i];
		for (j = 0; j < b->n; j++)
			if (!strcmp(b->name[j], name))
				*delta -= b->val[j];
		return true;
	}
	return false;
}

/* Print the counters that moved; true if any did. */
static bool show_moved(const char *mode, const struct counters *b,
		       const struct counters *a)
{
	char line[1024];
	int i, n = 0;
	long d;

	for (i = 0; i < a->n; i++)
		if (counter_delta(b, a, a->name[i], &d) && d)
			n += snprintf(line + n, sizeof(line) - n, " %s%+ld",
				      a->name[i], d);
	if (n)
		ksft_print_msg("%s: vmstat:%s\n", mode, line);
	else
		ksft_print_msg("%s: vmstat: no cow_pte_* counter moved\n", mode);
	return n;
}

/* Check the "on" run against @expect; prints what it checked. */
static bool mechanism_ok(const char *expect, const struct counters *b,
			 const struct counters *a)
{
	char spec[256], *tok, *save, *op;
	bool ok = true, positive;
	long d;

	snprintf(spec, sizeof(spec), "%s", expect);
	for (tok = strtok_r(spec, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		op = strpbrk(tok, ">=");
		if (!op)
			continue;
		positive = *op == '>';
		*op = '\0';
		if (!counter_delta(b, a, tok, &d)) {
			ksft_print_msg("on: mechanism: no counter %s in /proc/vmstat (%s)\n",
				       tok, "this kernel does not count it");
			ok = false;
			continue;
		}
		if (positive ? d > 0 : d == 0) {
			ksft_print_msg("on: mechanism: %s %+ld (needed %s)\n", tok, d,
				       positive ? "> 0" : "= 0");
			continue;
		}
		ksft_print_msg("on: mechanism NOT exercised: %s %+ld (needed %s)\n", tok, d,
			       positive ? "> 0" : "= 0");
		ok = false;
	}
	return ok;
}

/* A run's text, read back from its memfd and split into lines. */
struct text {
	char *buf;
	char **lines;
	int n;
};

static void read_text(int fd, struct text *t)
{
	struct stat st;
	char *p;

	memset(t, 0, sizeof(*t));
	if (fstat(fd, &st))
		return;
	t->buf = calloc(1, st.st_size + 1);
	t->lines = calloc(st.st_size + 1, sizeof(*t->lines));
	if (!t->buf || !t->lines || pread(fd, t->buf, st.st_size, 0) != st.st_size)
		return;
	for (p = t->buf; *p; ) {
		t->lines[t->n++] = p;
		p += strcspn(p, "\n");
		if (*p)
			*p++ = '\0';
	}
}

static const char *describe_exit(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d%s", WTERMSIG(status),
			 WTERMSIG(status) == SIGALRM ? " (run timeout)" : "");
	else
		snprintf(buf, size, "status %#x", status);
	return buf;
}

/*
 * -s: run both runs with COW PTE off, to show that a case's text is
 * deterministic (every case must pass; no mechanism is checked).
 */
static bool determinism_check;

static bool run_case(int idx)
{
	const struct sem_case *c = &cases[idx];
	const char *const modes[2] = { "off", determinism_check ? "off2" : "on" };
	struct counters before[2], after[2];
	int fd[2], status[2], m, i, diffs = 0;
	struct text text[2];
	char desc[64];
	bool ok = true;
	pid_t pid;

	ksft_print_msg("[RUN] %s: %s\n", c->name, c->about);
	for (m = 0; m < 2; m++) {
		fd[m] = memfd_create("cow_pte_semantics_out", 0);
		if (fd[m] < 0)
			ksft_exit_fail_msg("memfd_create: %s\n", strerror(errno));
		read_counters(&before[m]);
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			ksft_exit_fail_msg("fork: %s\n", strerror(errno));
		if (pid == 0)
			_exit(run_process(idx, m && !determinism_check, fd[m]));
		if (waitpid(pid, &status[m], 0) != pid)
			status[m] = -1;
		read_counters(&after[m]);
	}

	for (m = 0; m < 2; m++) {
		read_text(fd[m], &text[m]);
		close(fd[m]);
		if (!WIFEXITED(status[m]) || WEXITSTATUS(status[m]) != PASS) {
			ksft_print_msg("%s: the run failed (%s)\n", modes[m],
				       describe_exit(status[m], desc, sizeof(desc)));
			ok = false;
		}
	}
	for (i = 0; i < text[0].n || i < text[1].n; i++) {
		const char *off = i < text[0].n ? text[0].lines[i] : "(no line)";
		const char *on = i < text[1].n ? text[1].lines[i] : "(no line)";

		if (!strcmp(off, on)) {
			ksft_print_msg("  %s\n", off);
			continue;
		}
		diffs++;
		ksft_print_msg("%s: %s\n", modes[0], off);
		ksft_print_msg("%s:%s %s\n", modes[1], determinism_check ? "" : " ", on);
	}
	if (diffs) {
		ksft_print_msg("%s: %s and %s differ in %d of %d lines\n", c->name,
			       modes[0], modes[1], diffs, i);
		ok = false;
	}
	for (m = 0; m < 2; m++) {
		if (m == 1 && !determinism_check)
			break;
		if (show_moved(modes[m], &before[m], &after[m])) {
			ksft_print_msg("%s: COW PTE counters moved: not a stock fork\n",
				       modes[m]);
			ok = false;
		}
	}
	if (!determinism_check) {
		show_moved("on", &before[1], &after[1]);
		if (!mechanism_ok(c->expect, &before[1], &after[1]))
			ok = false;
	}
	for (m = 0; m < 2; m++) {
		free(text[m].buf);
		free(text[m].lines);
	}
	return ok;
}

static void print_help(const char *prog)
{
	unsigned int i;

	fprintf(stderr, "usage: %s [-l] [-s] [CASE...]\n"
		"  -l  list the cases\n"
		"  -s  run both runs of each case with COW PTE off (determinism check)\n"
		"cases:", prog);
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		fprintf(stderr, " %s", cases[i].name);
	fprintf(stderr, "\n");
	exit(KSFT_FAIL);
}

int main(int argc, char **argv)
{
	static const char numa_sysctl[] = "/proc/sys/kernel/numa_balancing";
	unsigned int i, j, n = 0, only[ARRAY_SIZE(cases)];
	char numa_saved[16] = "";
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "-l")) {
		for (i = 0; i < ARRAY_SIZE(cases); i++)
			printf("%-22s %s\n", cases[i].name, cases[i].about);
		return 0;
	}
	for (i = 1; i < (unsigned int)argc; i++) {
		if (!strcmp(argv[i], "-s")) {
			determinism_check = true;
			continue;
		}
		for (j = 0; j < ARRAY_SIZE(cases); j++)
			if (!strcmp(argv[i], cases[j].name))
				break;
		if (j == ARRAY_SIZE(cases) || n == ARRAY_SIZE(cases))
			print_help(argv[0]);
		only[n++] = j;
	}
	if (!n)
		for (n = 0; n < ARRAY_SIZE(cases); n++)
			only[n] = n;

	ksft_print_header();
	ksft_set_plan(n);
	if (geteuid())
		ksft_exit_fail_msg("needs root\n");
	/* NUMA balancing would move pages between the nodes behind our back. */
	fd = open(numa_sysctl, O_RDONLY);
	if (fd >= 0) {
		if (read(fd, numa_saved, sizeof(numa_saved) - 1) < 0)
			numa_saved[0] = '\0';
		close(fd);
		write_file(numa_sysctl, "0");
	}
	for (i = 0; i < n; i++) {
		if (run_case(only[i]))
			ksft_test_result_pass("%s\n", cases[only[i]].name);
		else
			ksft_test_result_fail("%s\n", cases[only[i]].name);
	}
	if (numa_saved[0])
		write_file(numa_sysctl, numa_saved);
	ksft_finished();
}
