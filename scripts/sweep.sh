#!/bin/bash
# sweep.sh — train a grid of learner settings x tasks x seeds (resumable: a run
# whose log.csv already reaches its frames is skipped; a run with a checkpoint
# is resumed), then print one table row per (setting, task).
#
#   scripts/sweep.sh OUT FRAMES JOBS "TASKS" "SEEDS" NAME "FLAGS" [NAME "FLAGS" ...]
#   e.g. scripts/sweep.sh results/sweep 1e6 2 "tmaze" "1 2 3" \
#          base "" lr2e3 "--lr 2e-3"
#
# Every run is `cpcrl train --task T --seed S --frames FRAMES --threads 1
# --cpc-weight 0 FLAGS` into OUT/runs/NAME-T-sS/ (the learner without CPC,
# unless FLAGS set --cpc-weight). The table (OUT/table.md) gives per (setting,
# task): the final return (mean of return_mean over the last 5 log rows) per
# seed and its mean, the mean over seeds of the logged return at the first row
# past 60k, 140k and 500k frames, and the first logged frames at which
# success_rate >= 0.9 (tmaze's "cue learned"; "-" if never).
set -euo pipefail
CPCRL=${CPCRL:-./cpcrl}
OUT=$1 FRAMES=$2 JOBS=$3 TASKS=$4 SEEDS=$5
shift 5
mkdir -p "$OUT/runs"
plan=()
names=()
while (($#)); do
    name=$1 flags=$2
    shift 2
    names+=("$name")
    echo "$name: $flags" >> "$OUT/settings.txt.new"
    for task in $TASKS; do
        for seed in $SEEDS; do
            dir="$OUT/runs/$name-$task-s$seed"
            if [ -f "$dir/log.csv" ] && awk -F, -v f="$FRAMES" 'NR>1{x=$1} END{exit !(x>=f)}' "$dir/log.csv"; then
                continue
            fi
            resume=""
            [ -f "$dir/model.ckpt" ] && resume="--resume $dir"
            if [ -n "$resume" ]; then
                plan+=("$CPCRL train $resume --frames $FRAMES --progress 0")
            else
                plan+=("$CPCRL train --task $task --seed $seed --frames $FRAMES --threads 1 --cpc-weight 0 --progress 0 --log-every 2e4 --runs-dir $OUT/runs --name $name-$task-s$seed $flags")
            fi
        done
    done
done
sort -u "$OUT/settings.txt.new" > "$OUT/settings.txt" && rm -f "$OUT/settings.txt.new"
if ((${#plan[@]})); then
    printf '%s\n' "${plan[@]}" | xargs -P "$JOBS" -I{} sh -c '{} > /dev/null 2>&1 || echo "failed: {}" >&2'
fi
{
    echo "| setting | task | final return per seed | mean | return at 60k / 140k / 500k frames (mean over seeds) | frames to success >= 0.9 per seed |"
    echo "|---|---|---|---|---|---|"
    for name in "${names[@]}"; do
        for task in $TASKS; do
            finals="" sum=0 n=0 hits=""
            for seed in $SEEDS; do
                log="$OUT/runs/$name-$task-s$seed/log.csv"
                [ -f "$log" ] || continue
                f=$(awk -F, 'NR>1{r[NR]=$5} END{s=0;c=0;for(i=NR-4;i<=NR;i++)if(i>1){s+=r[i];c++} printf "%.3f", c?s/c:0}' "$log")
                h=$(awk -F, 'NR>1 && $6>=0.9 {print $1; exit}' "$log")
                finals="$finals $f" hits="$hits ${h:--}"
                sum=$(awk -v a="$sum" -v b="$f" 'BEGIN{print a+b}') n=$((n + 1))
            done
            mean=$(awk -v s="$sum" -v n="$n" 'BEGIN{printf "%.3f", n?s/n:0}')
            at=""
            for x in 60000 140000 500000; do
                v=$(for seed in $SEEDS; do
                        log="$OUT/runs/$name-$task-s$seed/log.csv"
                        [ -f "$log" ] && awk -F, -v x="$x" 'NR>1 && $1>=x {print $5; exit}' "$log"
                    done | awk '{s+=$1; n++} END{if (n) printf "%.2f", s/n; else printf "-"}')
                at="$at${at:+ / }$v"
            done
            echo "| $name | $task |$finals | $mean | $at |$hits |"
        done
    done
} | tee "$OUT/table.md"
