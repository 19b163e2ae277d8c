// SPDX-License-Identifier: GPL-2.0
/*
 * uffd_unregister_race: why "uffd-unit-tests -f events" exits 1 at random.
 *
 * UFFDIO_UNREGISTER takes the mmap lock for writing, wakes the faults
 * queued on the range (wake_userfault()), and only then write-locks each
 * VMA (userfaultfd_clear_vma()).  A missing fault handled under the per-VMA
 * lock (CONFIG_PER_VMA_LOCK, every x86-64 kernel here) does not wait for
 * the mmap lock: when it read-locked the VMA before that write lock and
 * queues itself after the wake, it stays queued on a range that is no
 * longer registered.  The monitor reads it, UFFDIO_COPY fails with ENOENT
 * (the VMA has no userfaultfd context any more) and the faulting thread
 * sleeps until a UFFDIO_WAKE.
 *
 * The events test meets it when its poll thread unregisters the range the
 * child MADV_DONTNEEDs (UFFD_EVENT_REMOVE) while the child already reads
 * the range back: the poll thread then calls err("UFFDIO_COPY error: -2"),
 * which exits 1 in the middle of "events on anon".
 *
 * This program replays that pair in one process: a thread reads a page of
 * a registered range while the main thread unregisters it, with a varying
 * head start.  After UFFDIO_UNREGISTER returns, a fault message for the
 * range is one the unregister did not wake.  Exit 1 when one was read.
 *
 *   uffd_unregister_race [-n ROUNDS]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WAIT_MS		30000	/* for the reader after the unregister */

static long page_size;
static char *area;
static atomic_int go, done, seen;

/* The reader: one read of the page per round, when the round starts. */
static void *reader(void *arg)
{
	for (int round = 1;; round++) {
		while (atomic_load(&go) < round)
			;
		if (atomic_load(&go) < 0)
			return NULL;
		atomic_store_explicit(&seen, area[0], memory_order_relaxed);
		atomic_store(&done, round);
	}
}

static void spin(unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		__asm__ __volatile__("" ::: "memory");
}

int main(int argc, char **argv)
{
	long rounds = 20000, stale = 0, enoent = 0, other = 0;
	struct uffdio_api api = { .api = UFFD_API };
	pthread_t thread;
	int uffd, opt;
	char *src;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt == 'n')
			rounds = atol(optarg);
		if (opt != 'n' || rounds <= 0) {
			fprintf(stderr, "usage: %s [-n ROUNDS]\n", argv[0]);
			return 2;
		}
	}
	page_size = sysconf(_SC_PAGESIZE);
	src = calloc(1, page_size);
	if (!src) {
		perror("calloc");
		return 2;
	}
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) {
		perror("userfaultfd");
		return 2;
	}
	if (pthread_create(&thread, NULL, reader, NULL)) {
		fprintf(stderr, "pthread_create failed\n");
		return 2;
	}
	for (int round = 1; round <= rounds; round++) {
		struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
		struct pollfd pfd = { .fd = uffd, .events = POLLIN };
		struct uffdio_range range;
		struct uffd_msg msg;
		int waited = 0;

		area = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (area == MAP_FAILED) {
			perror("mmap");
			return 2;
		}
		range.start = (unsigned long)area;
		range.len = page_size;
		reg.range = range;
		if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
			perror("UFFDIO_REGISTER");
			return 2;
		}
		/* Start the read, give it a head start of 0 to 255 steps. */
		atomic_store(&go, round);
		spin((round % 256) * 8);
		if (ioctl(uffd, UFFDIO_UNREGISTER, &range)) {
			perror("UFFDIO_UNREGISTER");
			return 2;
		}
		/* The read ends by itself, or left a fault nobody woke. */
		while (atomic_load(&done) < round) {
			if (poll(&pfd, 1, 1) == 1 &&
			    read(uffd, &msg, sizeof(msg)) == sizeof(msg)) {
				struct uffdio_copy copy = {
					.dst = range.start,
					.src = (unsigned long)src,
					.len = page_size,
				};

				if (msg.event != UFFD_EVENT_PAGEFAULT ||
				    (msg.arg.pagefault.address & ~(page_size - 1)) !=
				    range.start) {
					fprintf(stderr, "round %d: unexpected message (event %u)\n",
						round, msg.event);
					return 2;
				}
				stale++;
				if (!ioctl(uffd, UFFDIO_COPY, &copy))
					other++;
				else if (copy.copy == -ENOENT)
					enoent++;
				else
					other++;
				if (stale <= 5)
					printf("round %d: UFFDIO_COPY: %lld\n", round,
					       (long long)copy.copy);
				if (ioctl(uffd, UFFDIO_WAKE, &range)) {
					perror("UFFDIO_WAKE");
					return 2;
				}
			}
			if (++waited > WAIT_MS) {
				fprintf(stderr, "round %d: the read neither ended nor faulted\n",
					round);
				return 2;
			}
		}
		munmap(area, page_size);
	}
	atomic_store(&go, -1);
	printf("%ld rounds: %ld faults read after the unregister of their range\n",
	       rounds, stale);
	printf("UFFDIO_COPY of them: %ld ENOENT, %ld other\n", enoent, other);
	if (stale) {
		printf("FAIL: UFFDIO_UNREGISTER left faults queued that it did not wake\n");
		return 1;
	}
	printf("PASS: every fault of the range was woken by the unregister\n");
	return 0;
}
