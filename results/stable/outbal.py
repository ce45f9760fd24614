# outbal.py TRACE.csv[.gz] [N]: could one backward pass give the default's per-update scale
# s = rho |g_a2c| / |g_cpc| (norms over the trunk's parameters)? From a default run's trace
# (--trace-every 1): s_out = rho |u_a2c| / |u_cpc| uses the norms where the two losses enter the trunk
# (known before the backward); kappa = s / s_out, measured every N updates and held in between, corrects
# it. Prints, over held updates u + j (j = 1..N-1): |kappa_u s_out(u+j) / s(u+j) - 1| against the error of
# holding s itself (|s_u / s(u+j) - 1|, --cpc-balance-every N), and how the parts vary.
import csv, gzip, math, statistics as st, sys
path = sys.argv[1]; N = int(sys.argv[2]) if len(sys.argv) > 2 else 8
with (gzip.open(path, 'rt') if path.endswith('.gz') else open(path)) as f: rows = list(csv.DictReader(f))
f = lambda r, k: float(r[k])
rows = [r for r in rows if not math.isnan(f(r, 'trunk_a2c'))]
u = [int(r['updates']) for r in rows]
if any(b - a != 1 for a, b in zip(u, u[1:])): sys.exit('outbal.py: needs a measurement at every update')
s = [f(r, 'trunk_a2c') / f(r, 'trunk_cpc') for r in rows]          # / rho
so = [f(r, 'out_a2c') / f(r, 'out_cpc') for r in rows]
ka = [f(r, 'trunk_a2c') / f(r, 'out_a2c') for r in rows]             # the trunk's gain for A2C
kc = [f(r, 'trunk_cpc') / f(r, 'out_cpc') for r in rows]             # ... for CPC
def q(v, p): v = sorted(v); return v[min(len(v) - 1, int(p * len(v)))]
def cv(v): return st.pstdev(v) / st.mean(v)
def corr(a, b):
    ma, mb = st.mean(a), st.mean(b)
    return sum((x - ma) * (y - mb) for x, y in zip(a, b)) / (len(a) * st.pstdev(a) * st.pstdev(b))
ls, lso = [math.log(x) for x in s], [math.log(x) for x in so]
print('%s: %d updates (frames %s-%s)' % (path, len(rows), rows[0]['frames'], rows[-1]['frames']))
print('  variation over updates (CV): s %.2f, s_out %.2f, A2C gain %.2f, CPC gain %.2f; corr(log s, log s_out) %.3f' % (
    cv(s), cv(so), cv(ka), cv(kc), corr(ls, lso)))
held = [abs(s[i] / s[i + j] - 1) for i in range(len(s)) if (u[i] - 1) % N == 0 for j in range(1, N) if i + j < len(s)]
corr_ = [abs(s[i] / so[i] * so[i + j] / s[i + j] - 1) for i in range(len(s)) if (u[i] - 1) % N == 0
         for j in range(1, N) if i + j < len(s)]
print('  N = %d, error of the scale on held updates: hold s: median %.3f, 90th pct %.3f; hold kappa, s_out per update: median %.3f, 90th pct %.3f' % (
    N, q(held, 0.5), q(held, 0.9), q(corr_, 0.5), q(corr_, 0.9)))
