#!/usr/bin/env python3
"""Turn the CSV rows of the benchmark boots into a table, a CSV file and a plot.

    bench/report.py OUTDIR RESULTS_LOG...

Rows come from bench/cases/bench as "CSV,bench,param,mode,value,unit".
Writes OUTDIR/results.csv, OUTDIR/results.md (the table) and
OUTDIR/fork_latency.png, and prints the table.
"""
import datetime
import os
import platform
import statistics
import sys

# bench -> (what it measures, targets on the on/off ratio: a list of (op,
# bound, param it applies to or None for every param)), in table order.
BENCHES = {
    'fork_floor': ('seed 002 program, 1 page of memory: one fork', []),
    'fork_latency': ('seed 002 fork latency per GB', [('<=', 1 / 50, '4GB')]),
    'fork_latency_writes': ('same, a write in every table between forks',
                            [('<=', 1 / 100, '1GB'), ('<=', 1 / 200, '4GB')]),
    'forkserver:forkserver_forks_per_s': ('fork-server loop, forks/s', [('>=', 10, None)]),
    'writepass_child:writepass_total_ms': ('fork + child writes every page', [('<=', 1.15, None)]),
    'writepass_child:writepass_fork_ms': ('  of which fork', []),
    'writepass_parent:writepass_total_ms': ('fork + parent writes every page', [('<=', 1.15, None)]),
    'writepass_parent:writepass_fork_ms': ('  of which fork', []),
    'snapshot:snapshot_fork_pause_ms': ('snapshot: parent fork pause', [('<=', 1 / 50, None)]),
    'snapshot:snapshot_write_p50_us': ('snapshot: parent write p50', []),
    'snapshot:snapshot_write_p99_us': ('snapshot: parent write p99', [('<=', 2, None)]),
    'snapshot:snapshot_writes': ('snapshot: parent writes during it', []),
    'pagetables': ('page tables of 16 children (PageTables)', [('<=', 0.02, None)]),
}

# The real programs (bench/cases/bench_programs).
PROGRAMS = {
    'redis:fork': ('Redis BGSAVE: latest_fork_usec', [('<=', 1 / 50, '1GB'), ('<=', 1 / 100, '4GB')]),
    'redis:cow_size': ('Redis BGSAVE: rdb_last_cow_size', []),
    'redis:snapshot': ('Redis BGSAVE: snapshot time', []),
    'redis:during_p50': ('Redis SET during BGSAVE: p50', []),
    'redis:during_p99': ('Redis SET during BGSAVE: p99', [('<=', 1.1, None)]),
    'redis:during_p99.9': ('Redis SET during BGSAVE: p99.9', []),
    'redis:during_max': ('Redis SET during BGSAVE: slowest', [('<=', 1 / 10, None)]),
    'redis:outside_p50': ('Redis SET outside BGSAVE: p50', []),
    'redis:outside_p99': ('Redis SET outside BGSAVE: p99', []),
    'redis:outside_max': ('Redis SET outside BGSAVE: slowest', []),
    'redis:digest_equal': ('Redis RDB digest = digest at fork (1 = yes)', [('>=', 1, None)]),
    'redis:log_errors': ('Redis server log: error lines', []),
    'afl:execs_per_sec': ('AFL++ fork server, execs/s', [('>=', 5, None)]),
    'python:pool_start_and_task': ('Python fork Pool(8) start + 1 task each', [('<=', 1 / 5, None)]),
}


def target_cell(targets, param, ratio):
    """'<= 0.02: met' for the target that applies to @param, else ''."""
    for op, bound, p in targets:
        if p and p != param:
            continue
        met = ratio <= bound if op == '<=' else ratio >= bound
        return f'{op} {bound:.3g}: {"met" if met else "NOT MET"}'
    return ''


def rows(path):
    out = []
    try:
        text = open(path, errors='replace').read().replace('\r', '')
    except FileNotFoundError:
        return out
    for line in text.split('\n'):
        if line.startswith('CSV,'):
            _, bench, param, mode, value, unit = line.split(',', 5)
            out.append((bench, param, mode, float(value), unit))
    return out


def param_key(param):
    """Sort sizes numerically: 1GB, 2GB, 4GB, 16x1GB."""
    digits = ''.join(c for c in param if c.isdigit() or c == '.')
    try:
        return (float(digits), param)
    except ValueError:
        return (0.0, param)


def fmt(v):
    return f'{v:.0f}' if v >= 100 else f'{v:.2f}' if v < 10 else f'{v:.1f}'


def cell(samples):
    """Mean of the samples, with their standard deviation if repeated."""
    vals = [v for v, _ in samples]
    if len(vals) < 2:
        return fmt(vals[0])
    return f'{fmt(statistics.mean(vals))} ± {fmt(statistics.stdev(vals))}'


def floor_lines(values):
    """What the fork of a process with one page of memory leaves of each
    fork-time target, per PTE table, against what a table costs now."""
    floor = values.get(('fork_floor', '4KB'), {}).get('on')
    if not floor:
        return []
    floor = statistics.mean(v for v, _ in floor)

    def per_fork(bench, param, mode):
        """Mean time of one fork in us, or None."""
        samples = values.get((bench, param), {}).get(mode)
        if not samples:
            return None
        # Microseconds per unit: per GB of the size, or per millisecond.
        scale = {'us/GB': float(param[:-2]), 'ms': 1000}.get(samples[0][1])
        return statistics.mean(v for v, _ in samples) * scale if scale else None

    lines = ['', f'Bound: one fork of the seed program with one page of memory takes '
             f'{floor:.0f} us with COW PTE on; no way of dealing with page tables '
             'makes a fork faster than that.  Per target: what stock fork takes, what '
             'the target allows, what that leaves per PTE table after the floor, and '
             'what a table costs with COW PTE on (above the floor; "no read": the '
             'fork without writes between forks, which reads no entry).', '',
             '| target | size | stock fork | allowed | left per table | '
             'per table, on | per table, no read |', '|---|---|---:|---:|---:|---:|---:|']
    cases = [('fork_latency_writes', op, bound, param)
             for op, bound, param in BENCHES['fork_latency_writes'][1]]
    cases += [('snapshot:snapshot_fork_pause_ms', op, bound, '1GB')
              for op, bound, _ in BENCHES['snapshot:snapshot_fork_pause_ms'][1]]
    for bench, op, bound, param in cases:
        stock, on = per_fork(bench, param, 'off'), per_fork(bench, param, 'on')
        if stock is None or on is None:
            continue
        tables = float(param[:-2]) * 512
        allowed = stock * bound
        no_read = per_fork('fork_latency', param, 'on')
        no_read = f'{(no_read - floor) / tables:.2f} us' if no_read else ''
        what = 'fork, a write in every table between forks' if bench == 'fork_latency_writes' \
            else BENCHES[bench][0]
        lines.append(f'| {what}: on/off {op} {bound:.3g} | {param} | {stock:.0f} us | '
                     f'{allowed:.0f} us | {(allowed - floor) / tables:.2f} us | '
                     f'{(on - floor) / tables:.2f} us | {no_read} |')
    return lines


def main():
    outdir, logs = sys.argv[1], sys.argv[2:]
    data = [r for log in logs for r in rows(log)]
    if not data:
        sys.exit('bench: no results (did the benchmark boot finish?)')
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, 'results.csv'), 'w') as f:
        f.write('bench,param,mode,value,unit\n')
        for r in data:
            f.write(','.join(str(x) for x in r) + '\n')

    values = {}
    for bench, param, mode, value, unit in data:
        values.setdefault((bench, param), {}).setdefault(mode, []).append((value, unit))

    lines = [f'Measured {datetime.date.today()} on {platform.node()} '
             f'({os.cpu_count()} CPUs), QEMU TCG guest; off and on in one boot.',
             '',
             '| benchmark | size | COW PTE off | COW PTE on | on/off | target (on/off) |',
             '|---|---|---:|---:|---:|---|']
    def table_rows(benches):
        for bench, (what, targets) in benches.items():
            params = sorted({p for b, p in values if b == bench}, key=param_key)
            for param in params:
                modes = values[(bench, param)]
                if 'off' not in modes or 'on' not in modes:
                    continue
                off = statistics.mean(v for v, _ in modes['off'])
                on = statistics.mean(v for v, _ in modes['on'])
                unit = modes['off'][0][1]
                if bench == 'redis:digest_equal':
                    # Every run must hold: the smallest value, not a ratio.
                    ratio = min(v for v, _ in modes['off'] + modes['on'])
                else:
                    ratio = on / off if off else float('inf')
                lines.append(f'| {what} | {param} | {cell(modes["off"])} {unit} | '
                             f'{cell(modes["on"])} {unit} | {ratio:.3g} | '
                             f'{target_cell(targets, param, ratio)} |')

    table_rows(BENCHES)
    if any(b in PROGRAMS for b, _ in values):
        lines += ['', 'Real programs (Debian packages, run from the host over 9p): on/off '
                  'is the ratio of the means; for the digest row, the smallest value of '
                  'all runs.', '',
                  '| program | size | COW PTE off | COW PTE on | on/off | target (on/off) |',
                  '|---|---|---:|---:|---:|---|']
        table_rows(PROGRAMS)

    lines += floor_lines(values)

    hooks = values.get(('hooks', '1GB'), {})
    if 'off' in hooks and 'nocowpte' in hooks:
        off = [v for v, _ in hooks['off']]
        base = [v for v, _ in hooks['nocowpte']]
        # Two standard errors of the difference of the means: the noise.
        noise = 2 * (statistics.variance(off) / len(off) +
                     statistics.variance(base) / len(base)) ** 0.5
        diff = statistics.mean(off) - statistics.mean(base)
        verdict = 'within' if abs(diff) <= noise else 'OUTSIDE'
        lines += ['', 'Cost of the hooks (seed program, 1 GB, COW PTE off): kernel with '
                  f'CONFIG_COW_PTE {statistics.mean(off):.0f} +- {statistics.stdev(off):.0f} '
                  f'us/GB, without {statistics.mean(base):.0f} +- '
                  f'{statistics.stdev(base):.0f} us/GB ({len(off)} runs each, separate '
                  f'boots): ratio {statistics.mean(off) / statistics.mean(base):.3f}, '
                  f'difference {diff:+.0f} us/GB, {verdict} the noise (2 standard errors: '
                  f'{noise:.0f} us/GB)']
        again = [v for v, _ in hooks.get('off_again', [])]
        if again:
            lines += ['', 'Noise between boots: the COW PTE kernel booted again gave '
                      f'{statistics.mean(again):.0f} +- {statistics.stdev(again):.0f} us/GB '
                      f'(ratio {statistics.mean(again) / statistics.mean(off):.3f} to its '
                      'first boot)']
    table = '\n'.join(lines)
    with open(os.path.join(outdir, 'results.md'), 'w') as f:
        f.write(table + '\n')
    print(table)

    sizes = sorted({p for b, p in values if b == 'fork_latency'}, key=lambda p: float(p[:-2]))
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        print('bench: matplotlib not found, no plot')
        return
    gb = [float(p[:-2]) for p in sizes]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for mode, label in (('off', 'stock fork (COW PTE off)'), ('on', 'COW PTE on')):
        # us per GB x GB = time of one fork, in ms
        ms = [statistics.mean(v for v, _ in values[('fork_latency', p)][mode]) * g / 1e3
              for p, g in zip(sizes, gb)]
        ax.plot(gb, ms, marker='o', label=label)
    ax.set_xlabel('parent memory (GB, every page touched, no THP)')
    ax.set_ylabel('fork latency (ms per fork, TCG guest)')
    ax.set_yscale('log')
    ax.set_xticks(gb)
    ax.grid(True, which='both', alpha=0.3)
    ax.legend()
    ax.set_title(f'fork() latency, seed 002 program, {datetime.date.today()}')
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, 'fork_latency.png'), dpi=100)

    # Redis: fork time and the slowest request during BGSAVE against size.
    redis = sorted({p for b, p in values if b == 'redis:fork'}, key=param_key)
    if not redis:
        return
    gb = [param_key(p)[0] for p in redis]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax, bench, ylabel in ((axes[0], 'redis:fork', 'latest_fork_usec (ms)'),
                              (axes[1], 'redis:during_max',
                               'slowest SET during BGSAVE (ms)')):
        for mode, label in (('off', 'stock fork (COW PTE off)'), ('on', 'COW PTE on')):
            ys = [statistics.mean(v for v, _ in values[(bench, p)][mode])
                  if mode in values.get((bench, p), {}) else float('nan') for p in redis]
            ax.plot(gb, ys, marker='o', label=label)
        ax.set_xlabel('Redis data set (GB, DEBUG POPULATE, 1000-byte values)')
        ax.set_ylabel(ylabel)
        ax.set_yscale('log')
        ax.set_xticks(gb)
        ax.grid(True, which='both', alpha=0.3)
        ax.legend()
    fig.suptitle(f'Redis 7.0.15 BGSAVE in a TCG guest, {datetime.date.today()}')
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, 'redis.png'), dpi=100)


if __name__ == '__main__':
    main()
