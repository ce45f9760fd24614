#!/bin/sh
# plot_compare.sh DIR — learning curves of a `cpcrl compare` experiment.
#
# Reads DIR/results/curve_<task>_<arm>.csv (written by cpcrl compare: per
# frame, the mean over seeds and the 95% bootstrap CI of the episode return
# and of the CPC InfoNCE accuracy at k = 1 and k = K) and writes
# DIR/curves_<task>.png: left, return mean with a CI band for every arm;
# right, CPC accuracy (k = 1 solid, k = K dashed, chance 1/B dotted) for the
# arms with CPC. Needs gnuplot (Debian: gnuplot-nox).
set -eu
dir=${1:?usage: plot_compare.sh DIR}
command -v gnuplot >/dev/null 2>&1 || {
    echo "plot_compare.sh: gnuplot not found (apt-get install gnuplot-nox)" >&2
    exit 1
}
ls "$dir"/results/curve_*_*.csv >/dev/null 2>&1 || {
    echo "plot_compare.sh: no $dir/results/curve_*.csv (run cpcrl compare first)" >&2
    exit 1
}
tmp=$(mktemp /tmp/plot_compare.XXXXXX)
trap 'rm -f "$tmp"' EXIT

# tasks: curve_<task>_<arm>.csv, arm names contain no '_'
tasks=$(for f in "$dir"/results/curve_*_*.csv; do
    b=$(basename "$f" .csv); b=${b#curve_}; echo "${b%_*}"; done | sort -u)

for task in $tasks; do
    ret="" acc="" i=0 B=0
    for f in "$dir"/results/curve_"$task"_*.csv; do
        b=$(basename "$f" .csv); b=${b#curve_}
        [ "${b%_*}" = "$task" ] || continue # e.g. task "goal" must not take "goal_x" files
        arm=${b##*_}
        i=$((i + 1))
        K=$(sed -n '1s/.* K=\([0-9]*\).*/\1/p' "$f")
        n=$(sed -n '1s/.* seeds=\([0-9]*\).*/\1/p' "$f")
        envs=$(sed -n '1s/.* envs=\([0-9]*\).*/\1/p' "$f")
        [ -n "$envs" ] && [ "$envs" -gt 0 ] && B=$envs
        ret="$ret '$f' using 1:4:5 with filledcurves lc $i fs transparent solid 0.2 notitle,"
        ret="$ret '$f' using 1:3 with lines lc $i lw 2 title '$arm ($n seeds)',"
        if [ "${K:-0}" -gt 0 ]; then
            acc="$acc '$f' using 1:7:8 with filledcurves lc $i fs transparent solid 0.15 notitle,"
            acc="$acc '$f' using 1:6 with lines lc $i lw 2 title '$arm k=1',"
            acc="$acc '$f' using 1:10:11 with filledcurves lc $i fs transparent solid 0.15 notitle,"
            acc="$acc '$f' using 1:9 with lines lc $i lw 2 dt 2 title '$arm k=$K',"
        fi
    done
    [ -n "$ret" ] || continue
    if [ -n "$acc" ] && [ "$B" -gt 0 ]; then
        acc="$acc 1.0/$B with lines lc rgb 'gray' dt 3 title 'chance 1/B',"
    fi
    out="$dir/curves_$task.png"
    {
        echo "set terminal pngcairo size 1400,520 font 'sans,10'"
        echo "set output '$out'"
        echo "set datafile separator ','"
        echo "set datafile missing 'nan'"
        echo "set grid"
        echo "set key top left"
        echo "set xlabel 'frames'"
        if [ -n "$acc" ]; then echo "set multiplot layout 1,2"; fi
        echo "set title '$task: episode return (mean and 95% bootstrap CI over seeds)' noenhanced"
        echo "set ylabel 'return'"
        echo "plot ${ret%,}"
        if [ -n "$acc" ]; then
            echo "set title '$task: CPC InfoNCE accuracy (k=1 solid, k=K dashed)' noenhanced"
            echo "set ylabel 'accuracy'"
            echo "set yrange [0:1]"
            echo "plot ${acc%,}"
            echo "unset multiplot"
        fi
    } >"$tmp"
    gnuplot "$tmp"
    echo "plot_compare.sh: wrote $out"
done
