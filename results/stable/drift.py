# drift.py TRACE.csv[.gz] [N]: how far a scale held for N-1 updates (--cpc-balance-every N) is from the one
# measured at each of those updates, along a default run (--cpc-balance-every 1, --trace-every 1): for
# every update u = 0 mod N and j = 1..N-1, e = s_u / s_{u+j} - 1. The held step's trunk gradient differs
# from the exact one by e times CPC's part (whose norm is rho x A2C's): at rho = 0.5 and the two parts
# orthogonal, |e| x 0.447 of the whole trunk gradient.
import csv, gzip, sys
path = sys.argv[1]; N = int(sys.argv[2]) if len(sys.argv) > 2 else 8
with (gzip.open(path, 'rt') if path.endswith('.gz') else open(path)) as f: rows = list(csv.DictReader(f))
u = [int(r['updates']) for r in rows]; s = [float(r['cpc_trunk_scale']) for r in rows]
if any(b - a != 1 for a, b in zip(u, u[1:])): sys.exit('drift.py: needs a trace of every update (--trace-every 1)')
def q(v, p): v = sorted(v); return v[min(len(v) - 1, int(p * len(v)))]
for lo, hi in ((0, len(s)), (0, len(s) // 4), (len(s) // 4, len(s))):
    e = [abs(s[i] / s[i + j] - 1) for i in range(lo, hi) if (u[i] - 1) % N == 0
         for j in range(1, N) if i + j < hi and s[i + j] > 0]
    print('%s updates %d-%d (frames %s-%s), N = %d: |s_held / s_exact - 1| median %.3f, 90th pct %.3f, max %.3f (%d held steps)' % (
        path, u[lo], u[hi - 1], rows[lo]['frames'], rows[hi - 1]['frames'], N, q(e, 0.5), q(e, 0.9), max(e), len(e)))
