# targets.py [DIR [ARM]]: per task, the final evaluation (mean of the last 3), collapses, seeds whose final
# checkpoint succeeds >= 0.9 and the frames of the first evaluation >= 0.9 / half of goal's gap.
# With recheck.csv (compare's probe step: model.ckpt and best.ckpt on the same 100 fresh episodes) a collapse is
# final < half of best there beyond the two CIs (compare's rule) and success is the final checkpoint's there;
# without, the last evaluation's.
import csv, glob, os, sys, math
root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
arm = sys.argv[2] if len(sys.argv) > 2 else 'base'
rows = {}
for d in sorted(glob.glob(os.path.join(root, 'runs', '*-%s-s*' % arm))):
    name = os.path.basename(d)
    task = name.split('-%s-' % arm)[0]
    ev = os.path.join(d, 'eval.csv')
    lg = os.path.join(d, 'log.csv')
    if not os.path.exists(ev) or not os.path.exists(lg): continue
    with open(lg) as f: last = list(csv.DictReader(f))
    budget = next((float(l.split('=', 1)[1]) for l in open(os.path.join(d, 'config.txt'))
                   if l.split('=', 1)[0].strip() == 'frames'), 1e6)
    if not last or float(last[-1]['frames']) < budget: continue   # unfinished
    with open(ev) as f: e = list(csv.DictReader(f))
    rets = [float(r['return_mean']) for r in e]; succ = [float(r['success_rate']) for r in e]; fr = [float(r['frames']) for r in e]
    final = sum(rets[-3:]) / len(rets[-3:]); best = max(rets); coll = rets[-1] < 0.5 * best; fsucc = succ[-1]
    rc = os.path.join(d, 'recheck.csv')
    if os.path.exists(rc):
        with open(rc) as f: q = list(csv.DictReader(f))[0]
        f, b = float(q['return_final']), float(q['return_best'])
        coll = b > 0 and f < 0.5 * b and b - f > math.hypot(float(q['return_final_ci95']), float(q['return_best_ci95']))
        fsucc = float(q['success_final'])
    first09 = next((fr[i] for i in range(len(succ)) if succ[i] >= 0.9), None)
    half = {'goal': 5.73}.get(task)
    firsthalf = next((fr[i] for i in range(len(rets)) if half and rets[i] >= half), None)
    rows.setdefault(task, []).append((name, final, best, rets[-1], coll, fsucc, first09, firsthalf))
for t, rs in rows.items():
    n = len(rs); fm = sum(r[1] for r in rs) / n
    print('%s: %d runs, final eval mean %.3f, collapses %d, final success>=0.9: %d, ever>=0.9: %d' % (
        t, n, fm, sum(r[4] for r in rs), sum(r[5] >= 0.9 for r in rs), sum(r[6] is not None for r in rs)))
    for r in rs:
        print('   %-24s final %.3f best %.3f last %.3f collapsed %d final_success %.2f first>=0.9 at %s half-gap at %s' % (
            r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]))
