#!/usr/bin/env bash
# learning_table.sh — the README's learning table from an experiment directory.
#
#   scripts/learning_table.sh DIR [ARM] [EPISODES]
#
# For every task with runs DIR/runs/<task>-<ARM>-s<seed>/ (ARM defaults to
# cpc, the default training settings; nocpc is the --cpc-weight 0 arm) or,
# as scripts/sweep.sh names them, DIR/runs/<ARM>-<task>-s<seed>/:
#   - the random and oracle baselines: cpcrl baseline TASK --policy P
#     --episodes 1000 --seed 1;
#   - each seed's final checkpoint: cpcrl eval RUN --episodes EPISODES
#     (default 200) --seed 1001 (sampled actions, env seeds unseen in training);
#   - the mean over seeds with a 95% Student-t interval over seeds, and the
#     fraction of the random-to-oracle gap it closes (per seed and of the mean).
# Prints a markdown table and writes it to DIR/learning_ARM.md.
set -euo pipefail

dir=${1:?usage: scripts/learning_table.sh DIR [ARM] [EPISODES]}
arm=${2:-cpc}
episodes=${3:-200}
bin=${CPCRL:-./cpcrl}
[ -d "$dir/runs" ] || { echo "learning_table.sh: $dir/runs: no such directory" >&2; exit 1; }
[ -x "$bin" ] || { echo "learning_table.sh: $bin not found (run make, or set CPCRL=)" >&2; exit 1; }

# "return X ± Y" out of a baseline / eval line
ret_of() { sed -n 's/.*return \(-\{0,1\}[0-9.]*\) ±.*/\1/p' | head -1; }

out="$dir/learning_$arm.md"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
{
    echo "| task | random | oracle | agent per seed (eval $episodes episodes) | agent mean [95% CI over seeds] | gap closed (mean; worst seed) |"
    echo "|---|---|---|---|---|---|"
} >"$tmp"

# the tasks, in cpcrl's order, from its own help: "--task ... (goal|...|tmaze; default goal)"
tasks=$("$bin" help train | sed -n 's/^ *--task .*(\([a-z_|]*\); default.*/\1/p' | tr '|' ' ')
[ -n "$tasks" ] || { echo "learning_table.sh: no task list in '$bin help train'" >&2; exit 1; }

for task in $tasks; do
    runs=$(ls -d "$dir/runs/$task-$arm-s"* 2>/dev/null | sort -V || true)
    # scripts/sweep.sh names its runs <setting>-<task>-s<seed>
    [ -n "$runs" ] || runs=$(ls -d "$dir/runs/$arm-$task-s"* 2>/dev/null | sort -V || true)
    [ -n "$runs" ] || continue
    rnd=$("$bin" baseline "$task" --policy random --episodes 1000 --seed 1 2>/dev/null | ret_of)
    orc=$("$bin" baseline "$task" --policy oracle --episodes 1000 --seed 1 2>/dev/null | ret_of)
    vals=""
    for r in $runs; do
        [ -f "$r/model.ckpt" ] || { echo "learning_table.sh: $r/model.ckpt missing, skipped" >&2; continue; }
        v=$("$bin" eval "$r" --episodes "$episodes" --seed 1001 --threads 1 2>/dev/null | ret_of)
        [ -n "$v" ] || { echo "learning_table.sh: cpcrl eval $r failed" >&2; exit 1; }
        vals="$vals $v"
    done
    [ -n "$vals" ] || continue
    echo "$task $rnd $orc$vals" | awk '
        function tcrit(df) { # two-sided 95% Student t
            if (df == 1) return 12.706; if (df == 2) return 4.303; if (df == 3) return 3.182;
            if (df == 4) return 2.776; if (df == 5) return 2.571; if (df == 6) return 2.447;
            if (df == 7) return 2.365; if (df == 8) return 2.306; if (df == 9) return 2.262;
            return 1.96 + 2.5 / df
        }
        {
            task = $1; rnd = $2; orc = $3; n = NF - 3; s = 0; worst = 1e9; per = ""
            for (i = 4; i <= NF; i++) {
                s += $i; per = per (i > 4 ? ", " : "") sprintf("%.3f", $i)
                g = ($i - rnd) / (orc - rnd); if (g < worst) worst = g
            }
            m = s / n; v = 0
            for (i = 4; i <= NF; i++) v += ($i - m) ^ 2
            ci = n > 1 ? tcrit(n - 1) * sqrt(v / (n - 1) / n) : 0
            printf "| %s | %.3f | %.3f | %s | %.3f [%.3f, %.3f] | %.0f%%; %.0f%% |\n", task, rnd, orc,
                per, m, m - ci, m + ci, 100 * (m - rnd) / (orc - rnd), 100 * worst
        }' >>"$tmp"
done
mv "$tmp" "$out"
trap - EXIT
cat "$out"
