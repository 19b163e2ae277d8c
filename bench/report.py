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

# bench -> (what it measures, target on the on/off ratio: (op, bound,
# param it applies to or None for every param)), in table order.
BENCHES = {
    'fork_latency': ('seed 002 fork latency per GB', ('<=', 1 / 50, '4GB')),
    'forkserver:forkserver_forks_per_s': ('fork-server loop, forks/s', ('>=', 10, None)),
    'writepass_child:writepass_total_ms': ('fork + child writes every page', ('<=', 1.15, None)),
    'writepass_child:writepass_fork_ms': ('  of which fork', None),
    'writepass_parent:writepass_total_ms': ('fork + parent writes every page', ('<=', 1.15, None)),
    'writepass_parent:writepass_fork_ms': ('  of which fork', None),
    'snapshot:snapshot_fork_pause_ms': ('snapshot: parent fork pause', ('<=', 1 / 50, None)),
    'snapshot:snapshot_write_p50_us': ('snapshot: parent write p50', None),
    'snapshot:snapshot_write_p99_us': ('snapshot: parent write p99', ('<=', 2, None)),
    'snapshot:snapshot_writes': ('snapshot: parent writes during it', None),
    'pagetables': ('page tables of 16 children (PageTables)', ('<=', 0.02, None)),
}


def target_cell(target, param, ratio):
    """'<= 0.02: met' for a target that applies to @param, else ''."""
    if not target or (target[2] and target[2] != param):
        return ''
    op, bound, _ = target
    met = ratio <= bound if op == '<=' else ratio >= bound
    return f'{op} {bound:.3g}: {"met" if met else "NOT MET"}'


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


def fmt(v):
    return f'{v:.0f}' if v >= 100 else f'{v:.2f}' if v < 10 else f'{v:.1f}'


def cell(samples):
    """Mean of the samples, with their standard deviation if repeated."""
    vals = [v for v, _ in samples]
    if len(vals) < 2:
        return fmt(vals[0])
    return f'{fmt(statistics.mean(vals))} ± {fmt(statistics.stdev(vals))}'


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
    for bench, (what, target) in BENCHES.items():
        for (b, param), modes in values.items():
            if b != bench or 'off' not in modes or 'on' not in modes:
                continue
            off = statistics.mean(v for v, _ in modes['off'])
            on = statistics.mean(v for v, _ in modes['on'])
            unit = modes['off'][0][1]
            ratio = on / off if off else float('inf')
            lines.append(f'| {what} | {param} | {cell(modes["off"])} {unit} | '
                         f'{cell(modes["on"])} {unit} | {ratio:.3g} | '
                         f'{target_cell(target, param, ratio)} |')

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


if __name__ == '__main__':
    main()
