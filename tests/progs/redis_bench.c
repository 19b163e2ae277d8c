// SPDX-License-Identifier: GPL-2.0
/*
 * redis_bench: what a Redis user sees while the server snapshots (BGSAVE).
 *
 *   redis_bench PORT ROUNDS RATE KEYS QUIET_SECS
 *
 * One connection overwrites random keys ("key:0" .. "key:KEYS-1", as
 * DEBUG POPULATE names them) at RATE requests per second, open loop: each
 * request has a scheduled send time, requests are pipelined without waiting
 * for replies, and a request's latency runs from its scheduled time to its
 * reply, so a stalled server counts in full (no coordinated omission).
 * Another connection runs ROUNDS BGSAVEs, each after QUIET_SECS without
 * one, and reads the server's latest_fork_usec and rdb_last_cow_size.
 * Requests scheduled between a BGSAVE command and the end of that
 * snapshot count as "during", the others as "outside".
 *
 * Prints "RESULT name value unit" lines: fork, cow_size and snapshot once
 * per round, then the latency percentiles of all rounds.  Exit status 1 on
 * any error reply or connection problem.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define VALUE_SIZE	1000	/* as DEBUG POPULATE KEYS key 1000 */
#define MAX_ROUNDS	64

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "redis_bench: %s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(1);
}

static int connect_port(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("send");
		buf += n;
		len -= n;
	}
}

/* A command of the control connection; the reply (one RESP value) in @out. */
static void command(int fd, const char *cmd, char *out, size_t size)
{
	char req[256];
	size_t got = 0;
	long bulk = -2;

	snprintf(req, sizeof(req), "%s\r\n", cmd);
	send_all(fd, req, strlen(req));
	for (;;) {
		ssize_t n = recv(fd, out + got, size - 1 - got, 0);
		char *end;

		if (n <= 0)
			die("recv");
		got += n;
		out[got] = 0;
		end = strstr(out, "\r\n");
		if (!end)
			continue;
		if (out[0] != '$')
			return;		/* +OK, -ERR, :N: one line */
		if (bulk == -2)
			bulk = atol(out + 1);
		if (bulk < 0 || got >= (size_t)(end - out) + 2 + bulk + 2)
			return;
		if (got == size - 1)
			die("reply too long");
	}
}

/* The integer value of "name:value" in an INFO reply, or -1. */
static long long info_value(const char *info, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\n%s:", name);
	p = strstr(info, key);
	return p ? atoll(p + strlen(key)) : -1;
}

/* The requests of the writer: scheduled send time and latency. */
struct sample {
	int64_t sched;
	int64_t latency;
};

static struct sample *samples;
static size_t max_samples;
static volatile size_t sent, answered;
static volatile bool stop;
static int wfd;
static double rate;
static long keys;
static int64_t start;
static volatile int errors;

static void *writer(void *arg)
{
	static char req[VALUE_SIZE + 128];
	char value[VALUE_SIZE + 1];
	unsigned int seed = 1;
	size_t i;

	memset(value, 'x', VALUE_SIZE);
	value[VALUE_SIZE] = 0;
	for (i = 0; !stop && i < max_samples; i++) {
		int64_t sched = start + (int64_t)(i * 1e9 / rate);
		struct timespec ts = { sched / 1000000000LL, sched % 1000000000LL };
		long key = rand_r(&seed) % keys;
		int len;

		/* Late (the server or the socket stalled): send at once. */
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		value[0] = 'a' + i % 26;
		len = snprintf(req, sizeof(req),
			       "*3\r\n$3\r\nSET\r\n$%d\r\nkey:%ld\r\n$%d\r\n%s\r\n",
			       snprintf(NULL, 0, "key:%ld", key), key, VALUE_SIZE, value);
		samples[i].sched = sched;
		__atomic_store_n(&sent, i + 1, __ATOMIC_RELEASE);
		send_all(wfd, req, len);
	}
	return arg;
}

static void *reader(void *arg)
{
	char buf[65536];

	for (;;) {
		ssize_t n = recv(wfd, buf, sizeof(buf), 0);
		int64_t t = now_ns();
		ssize_t j;

		if (n <= 0)
			break;
		for (j = 0; j < n; j++) {
			if (buf[j] == '-')
				errors++;
			if (buf[j] != '\n')
				continue;
			if (answered < __atomic_load_n(&sent, __ATOMIC_ACQUIRE)) {
				samples[answered].latency = t - samples[answered].sched;
				answered++;
			}
		}
	}
	return arg;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Percentiles (us) of the latencies in [@from, @to) that are (not) @during. */
static void percentiles(const char *name, int64_t *win, int nwin, bool during,
			size_t from, size_t to)
{
	int64_t *v = malloc((to - from + 1) * sizeof(*v));
	static const double ps[] = { 50, 99, 99.9 };
	size_t n = 0, i;
	int w;

	if (!v)
		die("malloc");
	for (i = from; i < to; i++) {
		bool in = false;

		for (w = 0; w < nwin; w++)
			if (samples[i].sched >= win[2 * w] && samples[i].sched < win[2 * w + 1])
				in = true;
		if (in == during)
			v[n++] = samples[i].latency;
	}
	if (!n) {
		free(v);
		return;
	}
	qsort(v, n, sizeof(*v), cmp64);
	for (i = 0; i < 3; i++)
		printf("RESULT %s_p%g %.3f ms\n", name, ps[i],
		       v[(size_t)((n - 1) * ps[i] / 100)] / 1e6);
	printf("RESULT %s_max %.3f ms\n", name, v[n - 1] / 1e6);
	printf("RESULT %s_requests %zu requests\n", name, n);
	free(v);
}

int main(int argc, char **argv)
{
	static char info[65536];
	int64_t win[2 * MAX_ROUNDS];
	pthread_t w, r;
	int port, rounds, round, cfd, waited;
	double quiet;
	size_t first = 0;

	if (argc != 6) {
		fprintf(stderr, "usage: redis_bench PORT ROUNDS RATE KEYS QUIET_SECS\n");
		return 2;
	}
	port = atoi(argv[1]);
	rounds = atoi(argv[2]);
	rate = atof(argv[3]);
	keys = atol(argv[4]);
	quiet = atof(argv[5]);
	if (port <= 0 || rounds <= 0 || rounds > MAX_ROUNDS || rate <= 0 ||
	    keys <= 0 || quiet < 0) {
		fprintf(stderr, "redis_bench: invalid arguments\n");
		return 2;
	}
	/* Room for an hour of requests. */
	max_samples = rate * 3600;
	samples = calloc(max_samples, sizeof(*samples));
	if (!samples)
		die("calloc");
	wfd = connect_port(port);
	cfd = connect_port(port);
	start = now_ns() + 100000000;
	if (pthread_create(&r, NULL, reader, NULL) ||
	    pthread_create(&w, NULL, writer, NULL))
		die("pthread_create");

	for (round = 0; round < rounds; round++) {
		int64_t t0;

		usleep(quiet * 1e6);
		command(cfd, "INFO persistence", info, sizeof(info));
		while (info_value(info, "rdb_bgsave_in_progress") != 0) {
			usleep(10000);
			command(cfd, "INFO persistence", info, sizeof(info));
		}
		t0 = now_ns();
		command(cfd, "BGSAVE", info, sizeof(info));
		if (info[0] == '-') {
			fprintf(stderr, "redis_bench: BGSAVE: %s", info);
			return 1;
		}
		win[2 * round] = t0;
		do {
			usleep(5000);
			command(cfd, "INFO persistence", info, sizeof(info));
		} while (info_value(info, "rdb_bgsave_in_progress") != 0);
		win[2 * round + 1] = now_ns();
		if (!strstr(info, "rdb_last_bgsave_status:ok")) {
			fprintf(stderr, "redis_bench: BGSAVE failed\n");
			return 1;
		}
		printf("RESULT cow_size %.1f MiB\n",
		       info_value(info, "rdb_last_cow_size") / 1048576.0);
		printf("RESULT snapshot %.1f ms\n", (win[2 * round + 1] - t0) / 1e6);
		command(cfd, "INFO stats", info, sizeof(info));
		printf("RESULT fork %.3f ms\n",
		       info_value(info, "latest_fork_usec") / 1e3);
		fflush(stdout);
	}
	usleep(quiet * 1e6);
	stop = true;
	/*
	 * The writer may be sleeping until the time of one more request: it
	 * sends that one too.  Only then is @sent final; the reader runs until
	 * the connection is shut down, so it counts every reply.
	 */
	pthread_join(w, NULL);
	for (waited = 0; answered < sent; waited++) {
		if (waited == 6000) {
			fprintf(stderr, "redis_bench: %zu of %zu replies missing after 60 s\n",
				sent - answered, sent);
			return 1;
		}
		usleep(10000);
	}
	shutdown(wfd, SHUT_RDWR);
	pthread_join(r, NULL);
	/* The first requests warm up the connection: leave out one second. */
	while (first < answered && samples[first].sched < start + 1000000000LL)
		first++;
	percentiles("during", win, rounds, true, first, answered);
	percentiles("outside", win, rounds, false, first, answered);
	printf("RESULT errors %d replies\n", errors);
	return errors ? 1 : 0;
}
