# prereg.py DIR: the analysis fixed in PREREGISTERED.md. Per arm (r44, r44n) over seeds 101-130: runs that
# lost the cue (compare's recheck rule, as targets.py), runs whose final checkpoint succeeds >= 0.9 on the
# recheck's 100 fresh episodes; then the two-sided Fisher exact test on lost / not lost.
import csv, math, os, sys
root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
seeds = range(101, 131)

def run(arm, s):
    d = os.path.join(root, 'runs', 'tmaze-%s-s%d' % (arm, s))
    rc = os.path.join(d, 'recheck.csv')
    if not os.path.exists(rc): return None
    with open(rc) as f: q = list(csv.DictReader(f))[0]
    fin, best = float(q['return_final']), float(q['return_best'])
    lost = best > 0 and fin < 0.5 * best and best - fin > math.hypot(float(q['return_final_ci95']),
                                                                    float(q['return_best_ci95']))
    return lost, float(q['success_final'])

def fisher_two_sided(a, b, c, d):
    # 2x2 table [[a, b], [c, d]]: P of tables with the same margins no more likely than this one
    n1, n2, k = a + b, c + d, a + c
    def p(x): return math.comb(n1, x) * math.comb(n2, k - x) / math.comb(n1 + n2, k)
    p0 = p(a)
    return min(1.0, sum(p(x) for x in range(max(0, k - n2), min(k, n1) + 1) if p(x) <= p0 * (1 + 1e-9)))

res = {}
for arm in ('r44', 'r44n'):
    rs = [run(arm, s) for s in seeds]
    done = [r for r in rs if r is not None]
    missing = [s for s, r in zip(seeds, rs) if r is None]
    lost = sum(r[0] for r in done); ok = sum(r[1] >= 0.9 for r in done)
    res[arm] = (lost, len(done))
    print('%-5s %d runs with a recheck%s: lost the cue %d, final checkpoint >= 0.9 on %d, mean final success %.3f' % (
        arm, len(done), (' (missing seeds %s)' % missing) if missing else '', lost, ok,
        sum(r[1] for r in done) / max(1, len(done))))
(a, n1), (c, n2) = res['r44'], res['r44n']
print('Fisher exact (two-sided), lost: r44 %d of %d vs r44n %d of %d: p = %.4f' % (
    a, n1, c, n2, fisher_two_sided(a, n1 - a, c, n2 - c)))
