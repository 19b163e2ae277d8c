#!/usr/bin/env python3
"""Check the results of one VM run against the expectations in the repo.

    vm/check.py OUTDIR TEST... [-- OUTDIR TEST...]...
    vm/check.py OUTDIR --record TEST > tests/expected/FILE

OUTDIR holds results.log (test output framed by "@@@ BEGIN name" /
"@@@ END name rc=N") and console.log.  For each TEST the case script
tests/cases/TEST may name an expectation file with a "# expect: FILE" line:
tests/expected/FILE lists every TAP result ("N status description"), and the
run must reproduce it exactly, test by test.  Without one, the test must
exit 0 and every TAP result must be "pass" (or "skip" when the case says
"# allow: skip").  The kernel log of the run is one more test: it must hold
no BUG, WARNING, Bad rss-counter, Bad page, page_table_check report or
KUnit failure.  Prints one line per test, with the seconds it ran in the
guest, and ends with "N passed, N failed".
"""
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAP = re.compile(r'^(not )?ok (\d+)(?: -)? ?(.*)$')
DMESG_BAD = [
    (re.compile(r'BUG:|kernel BUG at'), 'BUG'),
    (re.compile(r'WARNING:'), 'WARNING'),
    (re.compile(r'Bad rss-counter'), 'Bad rss-counter'),
    (re.compile(r'Bad page'), 'Bad page'),
    (re.compile(r'page_table_check'), 'page_table_check'),
    (re.compile(r'Oops|general protection fault|Kernel panic'), 'oops'),
    (re.compile(r'rcu.*detected stalls|soft lockup|hung_task|blocked for more than'), 'stall'),
    (re.compile(r'^\s*(\[[ \d.]+\]\s*)?\s*not ok \d+'), 'KUnit failure'),
]


def read(path):
    try:
        with open(path, errors='replace') as f:
            return f.read().replace('\r', '')
    except FileNotFoundError:
        return ''


def sections(text):
    """Split results.log into {name: (lines, rc)}."""
    out, cur, lines = {}, None, []
    for line in text.split('\n'):
        m = re.match(r'^@@@ BEGIN (\S+)$', line)
        if m:
            cur, lines = m.group(1), []
            continue
        m = re.match(r'^@@@ END (\S+) rc=(\d+)', line)
        if m and cur == m.group(1):
            out[cur] = (lines, int(m.group(2)))
            cur = None
            continue
        if cur is not None:
            lines.append(line)
    if cur is not None:
        out[cur] = (lines, None)  # never finished
    return out


def durations(text):
    """Seconds each test ran in the guest: {name: secs}."""
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r'^@@@ END (\S+) rc=\d+ secs=(\d+)', text, re.M)}


def tap_results(lines):
    """Normalised TAP results: [(num, status, description)]."""
    res, context = [], ''
    for line in lines:
        if line.startswith('# [RUN] '):
            context = line[len('# [RUN] '):].strip()
            continue
        m = TAP.match(line)
        if not m:
            continue
        notok, num, rest = m.group(1), int(m.group(2)), m.group(3).strip()
        status = 'fail' if notok else 'pass'
        for tag, st in (('# SKIP', 'skip'), ('# XFAIL', 'xfail'),
                        ('# error', 'error')):
            if rest.startswith(tag):
                status, rest = st, rest[len(tag):].strip()
        desc = f'{context}: {rest}' if context else rest
        res.append((num, status, desc))
    return res


def case_headers(name):
    hdr = {}
    for line in read(os.path.join(REPO, 'tests', 'cases', name)).split('\n'):
        m = re.match(r'^# (expect|allow|about): (.*)$', line)
        if m:
            hdr[m.group(1)] = m.group(2).strip()
    return hdr


def load_expected(fname):
    exp = []
    for line in read(os.path.join(REPO, 'tests', 'expected', fname)).split('\n'):
        if not line.strip() or line.startswith('#'):
            continue
        num, status, desc = line.split(' ', 2)
        exp.append((int(num), status, desc))
    return exp


def totals(res):
    counts = {}
    for _, st, _ in res:
        counts[st] = counts.get(st, 0) + 1
    return ' '.join(f'{k}:{counts[k]}' for k in sorted(counts))


def check_test(name, secs):
    if name not in secs:
        return False, 'did not run'
    lines, rc = secs[name]
    if rc is None:
        return False, 'did not finish'
    res = tap_results(lines)
    hdr = case_headers(name)
    if 'expect' in hdr:
        exp = load_expected(hdr['expect'])
        if not exp:
            return False, f'expectation file {hdr["expect"]} is empty or missing'
        got = {n: (s, d) for n, s, d in res}
        want = {n: (s, d) for n, s, d in exp}
        diffs = []
        for n in sorted(set(got) | set(want)):
            if got.get(n) != want.get(n):
                diffs.append(f'  test {n}: expected {want.get(n, ("absent",))[0]}'
                             f', got {got.get(n, ("absent",))[0]}'
                             f' ({(want.get(n) or got.get(n))[1]})')
        if diffs:
            return False, 'differs from ' + hdr['expect'] + ':\n' + '\n'.join(diffs[:40])
        if rc != 0:
            tail = '\n'.join('  ' + l for l in lines[-10:])
            return False, f'results as expected, but exit status {rc}\n{tail}'
        return True, f'{totals(res)} (= {hdr["expect"]})'
    if rc != 0:
        tail = '\n'.join('  ' + l for l in lines[-15:])
        return False, f'exit status {rc}\n{tail}'
    allowed = {'pass'} | ({'skip'} if hdr.get('allow') == 'skip' else set())
    bad = [r for r in res if r[1] not in allowed]
    if bad:
        return False, '\n'.join(f'  test {n}: {s} ({d})' for n, s, d in bad[:40])
    return True, totals(res) if res else 'exit 0'


def check_dmesg(secs, console):
    # The guest's dmesg and the console log both: a long run wraps the
    # guest's ring buffer, and a burst may drop console lines.
    text = '\n'.join(secs['dmesg'][0]) + '\n' + console if 'dmesg' in secs else console
    hits = []
    for line in text.split('\n'):
        for pat, what in DMESG_BAD:
            if pat.search(line):
                hits.append(f'  {what}: {line.strip()}')
                break
    if hits:
        return False, '\n'.join(list(dict.fromkeys(hits))[:30])
    return True, 'no BUG/WARNING/rss/page/page_table_check/KUnit reports'


def record(outdir, name):
    """Print the normalised TAP results of NAME: a new expectation file."""
    secs = sections(read(os.path.join(outdir, 'results.log')))
    if name not in secs or secs[name][1] is None:
        sys.exit(f'check: {name} did not run to completion in {outdir}')
    for num, status, desc in tap_results(secs[name][0]):
        print(f'{num} {status} {desc}')


def main():
    if len(sys.argv) == 4 and sys.argv[2] == '--record':
        return record(sys.argv[1], sys.argv[3])
    groups, cur = [], []
    for arg in sys.argv[1:] + ['--']:
        if arg == '--':
            if cur:
                groups.append(cur)
            cur = []
        else:
            cur.append(arg)
    passed = failed = 0
    for outdir, *tests in groups:
        label = f' [{os.path.basename(outdir)}]' if len(groups) > 1 else ''
        log = read(os.path.join(outdir, 'results.log'))
        secs, took = sections(log), durations(log)
        console = read(os.path.join(outdir, 'console.log'))
        for name in tests + ['dmesg']:
            if name == 'dmesg':
                ok, msg = check_dmesg(secs, console)
            else:
                ok, msg = check_test(name, secs)
            when = f' ({took[name]} s)' if name in took else ''
            print(f'{"PASS" if ok else "FAIL"} {name}{label}{when}: {msg}')
            passed, failed = passed + ok, failed + (not ok)
    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
