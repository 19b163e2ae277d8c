# SPDX-License-Identifier: GPL-2.0
"""Python multiprocessing with the fork start method, as data-processing
programs use it: a parent holding a large heap starts a pool of workers
and gives each one task.

    python3 mp_pool.py HEAP_MB WORKERS REPS

Prints "RESULT pool_start_and_task SECONDS s" for each repetition: the
time from creating the pool to having every worker's result.
"""
import multiprocessing as mp
import sys
import time


def task(i):
    return i * i


def main():
    heap_mb, workers, reps = (int(a) for a in sys.argv[1:4])
    # A heap of heap_mb MiB, every page written (bytearray zero-fills it).
    heap = bytearray(heap_mb << 20)
    for off in range(0, len(heap), 4096):
        heap[off] = 1
    ctx = mp.get_context("fork")
    for _ in range(reps):
        start = time.monotonic()
        with ctx.Pool(workers) as pool:
            results = pool.map(task, range(workers), chunksize=1)
        took = time.monotonic() - start
        assert results == [i * i for i in range(workers)]
        print(f"RESULT pool_start_and_task {took:.4f} s", flush=True)
    del heap


if __name__ == "__main__":
    main()
