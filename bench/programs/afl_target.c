// SPDX-License-Identifier: GPL-2.0
/*
 * afl_target: a fuzzing target whose initialisation builds a large heap
 * before AFL++'s deferred fork server starts, as real targets with costly
 * set-up do.  Every input is parsed by a fork of the initialised process,
 * so fork latency bounds the executions per second.
 *
 *   afl-fuzz -i IN -o OUT -- afl_target HEAP_MB
 *
 * Built with afl-cc (Debian's afl++); reads at most 64 bytes of input,
 * branches on them and writes one page of the heap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t size = (argc > 1 ? strtoul(argv[1], NULL, 0) : 1024) << 20;
	unsigned char buf[64];
	char *heap;
	ssize_t n;
	size_t i;

	heap = malloc(size);
	if (!heap)
		return 1;
	for (i = 0; i < size; i += 4096)
		heap[i] = (char)i;
#ifdef __AFL_HAVE_MANUAL_CONTROL
	__AFL_INIT();
#endif
	n = read(0, buf, sizeof(buf));
	if (n < 4)
		return 0;
	/* A few branches for the fuzzer to find. */
	if (buf[0] == 'C' && buf[1] == 'O') {
		if (buf[2] == 'W')
			heap[(size_t)buf[3] * 4096 % size] ^= 1;
		else
			heap[4096] ^= buf[2];
	} else if (buf[0] > 0x80) {
		heap[(size_t)buf[1] * 65536 % size] ^= buf[0];
	}
	return heap[0] == 42;
}
