#!/bin/sh
# trunk_table.sh RUN_DIR... — one markdown row per run from its log.csv: the
# trunk gradient norms of the two losses (grad_trunk_a2c, grad_trunk_cpc; the
# median over the rows, and the median of their per-row ratio CPC / A2C), the
# training return (mean of the last 5 rows' return_mean), and the last row's
# cpc_loss and InfoNCE bounds at k = 1 and k = K (cpc_bound_1, the last
# cpc_bound_*). Columns are found by name.
set -eu
echo "| run | rows | median ‖g_a2c‖ | median ‖g_cpc‖ | median ‖g_cpc‖/‖g_a2c‖ | return (last 5 rows) | cpc_loss | bound k=1 | bound k=K |"
echo "|---|---|---|---|---|---|---|---|---|"
for d in "$@"; do
    awk -F, -v name="$(basename "$d")" '
    function med(x, m,   i, j, t, y) {
        for (i = 1; i <= m; i++) y[i] = x[i]
        for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (y[j] < y[i]) { t = y[i]; y[i] = y[j]; y[j] = t }
        return m % 2 ? y[(m + 1) / 2] : (y[m / 2] + y[m / 2 + 1]) / 2
    }
    NR == 1 { for (i = 1; i <= NF; i++) { h[$i] = i; if ($i ~ /^cpc_bound_[0-9]+$/) bk = i }
              if (!h["grad_trunk_a2c"] || !h["cpc_bound_1"]) { print "trunk_table: " FILENAME ": no grad_trunk / cpc columns" > "/dev/stderr"; exit 2 }
              next }
    $h["grad_trunk_a2c"] != "nan" { m++; a[m] = $h["grad_trunk_a2c"]; c[m] = $h["grad_trunk_cpc"]; q[m] = c[m] / a[m] }
    { n++; ret[n] = $h["return_mean"]; L = $h["cpc_loss"]; b1 = $h["cpc_bound_1"]; bK = $bk }
    END { r = 0; k = 0; for (i = n - 4; i <= n; i++) if (i >= 1 && ret[i] != "nan") { r += ret[i]; k++ }
          printf "| %s | %d | %.3g | %.3g | %.3g | %.2f | %.3f | %.2f | %.2f |\n", name, n, med(a, m), med(c, m), med(q, m), k ? r / k : 0, L, b1, bK }' "$d/log.csv"
done
