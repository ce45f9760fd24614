#!/bin/sh
# plot_run.sh RUN_DIR [OUT.png] — one run's log.csv as PNG curves: episode
# return and success rate against frames and, when the run has the CPC loss,
# its InfoNCE accuracy for every k (cpc_acc_1 .. cpc_acc_K). Writes
# RUN_DIR/curves.png unless OUT.png is given. Needs gnuplot (gnuplot-nox).
set -eu
run=${1:?usage: plot_run.sh RUN_DIR [OUT.png]}
out=${2:-$run/curves.png}
log=$run/log.csv
[ -f "$log" ] || { echo "plot_run.sh: $log not found" >&2; exit 1; }
command -v gnuplot >/dev/null 2>&1 || {
    echo "plot_run.sh: gnuplot not found (apt-get install gnuplot-nox)" >&2
    exit 1
}
[ "$(wc -l <"$log")" -ge 2 ] || { echo "plot_run.sh: $log has no rows yet" >&2; exit 1; }
K=$(head -1 "$log" | tr ',' '\n' | grep -c '^cpc_acc_' || true)
name=$(basename "$run")
tmp=$(mktemp /tmp/plot_run.XXXXXX)
trap 'rm -f "$tmp"' EXIT
{
    echo "set terminal pngcairo size $([ "$K" -gt 0 ] && echo 1400 || echo 760),520 font 'sans,10'"
    echo "set output '$out'"
    echo "set datafile separator ','"
    echo "set datafile missing 'nan'"
    echo "set grid"
    echo "set key top left"
    echo "set xlabel 'frames'"
    [ "$K" -gt 0 ] && echo "set multiplot layout 1,2"
    echo "set title '$name: return and success rate' noenhanced"
    echo "set ylabel 'return'"
    echo "set y2label 'success rate'"
    echo "set y2range [0:1]"
    echo "set y2tics"
    echo "plot '$log' using 'frames':'return_mean' with lines lw 2 title 'return', \\"
    echo "     '$log' using 'frames':'success_rate' axes x1y2 with lines lw 1 dt 2 title 'success rate'"
    if [ "$K" -gt 0 ]; then
        echo "unset y2label; unset y2tics"
        echo "set title '$name: CPC InfoNCE accuracy per k' noenhanced"
        echo "set ylabel 'accuracy'"
        echo "set yrange [0:1]"
        echo "set key top right"
        echo "set palette defined (0 '#1f3fbf', 1 '#2ca02c', 2 '#d62728')"
        echo "unset colorbox"
        echo "plot for [k=1:$K] '$log' using 'frames':(column(sprintf('cpc_acc_%d', k))) with lines lw 1.5 lc palette frac ($K > 1 ? (k - 1.0) / ($K - 1) : 0) title sprintf('k=%d', k)"
        echo "unset multiplot"
    fi
} >"$tmp"
gnuplot "$tmp"
echo "plot_run.sh: wrote $out"
