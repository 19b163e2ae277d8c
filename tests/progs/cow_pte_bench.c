// SPDX-License-Identifier: GPL-2.0
/*
 * Fork workloads for the COW PTE benchmarks (bench/run-bench.sh runs each
 * with COW PTE off and on, in one boot).  Every run prints one line per
 * result: "RESULT name value unit".
 *
 *   cow_pte_bench forkserver SIZE_MB SECONDS
 *	a SIZE_MB parent forks children that write a few pages and exit,
 *	in a loop: forks per second
 *   cow_pte_bench writepass SIZE_MB child|parent
 *	fork, then the child (or the parent) writes every page: time of the
 *	fork and of the whole pass, faults included
 *   cow_pte_bench snapshot SIZE_MB
 *	fork a child that reads all memory (a snapshot, like Redis BGSAVE)
 *	while the parent keeps writing random pages: the parent's fork pause
 *	and the p50/p99 latency of its writes during the snapshot
 *
 * Memory is anonymous, MADV_NOHUGEPAGE and touched before the timed part.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static char *touched(size_t size)
{
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	madvise(p, size, MADV_NOHUGEPAGE);
	for (i = 0; i < size; i += PAGE)
		p[i] = (char)i;
	return p;
}

static void result(const char *name, double value, const char *unit)
{
	printf("RESULT %s %.3f %s\n", name, value, unit);
	fflush(stdout);
}

static int forkserver(size_t size, double seconds)
{
	char *mem = touched(size);
	double start = now_us(), end = start + seconds * 1e6;
	unsigned long forks = 0;

	while (now_us() < end) {
		pid_t pid = fork();
		int i;

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			/* A fuzzing run: touch a few pages, exit. */
			for (i = 0; i < 8; i++)
				mem[(size / 8) * i + PAGE * i] = 1;
			_exit(0);
		}
		waitpid(pid, NULL, 0);
		forks++;
	}
	result("forkserver_forks_per_s", forks / ((now_us() - start) / 1e6), "1/s");
	return 0;
}

static int writepass(size_t size, const char *who)
{
	char *mem = touched(size);
	double t0, t1, t2;
	size_t i;
	int fds[2];
	char c = 0;
	pid_t pid;

	if (pipe(fds))
		return 1;
	t0 = now_us();
	pid = fork();
	if (pid == 0) {
		if (!strcmp(who, "child"))
			for (i = 0; i < size; i += PAGE)
				mem[i]++;
		if (write(fds[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	t1 = now_us();
	if (strcmp(who, "child"))
		for (i = 0; i < size; i += PAGE)
			mem[i]++;
	if (read(fds[0], &c, 1) != 1)
		return 1;
	t2 = now_us();
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	result("writepass_fork_ms", (t1 - t0) / 1e3, "ms");
	result("writepass_total_ms", (t2 - t0) / 1e3, "ms");
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int snapshot(size_t size)
{
	char *mem = touched(size);
	size_t pages = size / PAGE, n = 0, cap = 1 << 20;
	double *lat = malloc(cap * sizeof(*lat)), t0, t1;
	uint64_t rnd = 88172645463325252ULL;
	int status;
	pid_t pid;

	t0 = now_us();
	pid = fork();
	if (pid == 0) {
		unsigned long sum = 0;
		size_t i;

		/* The snapshot: read everything, as a BGSAVE would. */
		for (i = 0; i < size; i += 64)
			sum += mem[i];
		_exit(sum == 1);
	}
	t1 = now_us();
	result("snapshot_fork_pause_ms", (t1 - t0) / 1e3, "ms");
	while (waitpid(pid, &status, WNOHANG) == 0 && n < cap) {
		double s;

		rnd ^= rnd << 13;
		rnd ^= rnd >> 7;
		rnd ^= rnd << 17;
		s = now_us();
		mem[(rnd % pages) * PAGE + 8]++;
		lat[n++] = now_us() - s;
	}
	waitpid(pid, &status, 0);
	if (!n)
		return 1;
	qsort(lat, n, sizeof(*lat), cmp_double);
	result("snapshot_write_p50_us", lat[n / 2], "us");
	result("snapshot_write_p99_us", lat[n * 99 / 100], "us");
	result("snapshot_writes", n, "writes");
	return 0;
}

int main(int argc, char **argv)
{
	size_t size = argc > 2 ? strtoul(argv[2], NULL, 10) << 20 : 0;

	if (argc < 3 || !size)
		goto usage;
	if (!strcmp(argv[1], "forkserver") && argc == 4)
		return forkserver(size, atof(argv[3]));
	if (!strcmp(argv[1], "writepass") && argc == 4 &&
	    (!strcmp(argv[3], "child") || !strcmp(argv[3], "parent")))
		return writepass(size, argv[3]);
	if (!strcmp(argv[1], "snapshot") && argc == 3)
		return snapshot(size);
usage:
	fprintf(stderr, "usage: %s forkserver SIZE_MB SECONDS | writepass SIZE_MB child|parent | snapshot SIZE_MB\n",
		argv[0]);
	return 2;
}
