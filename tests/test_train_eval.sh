#!/bin/bash
# test_train_eval.sh — train's evaluations (--eval-every: eval.csv, best.ckpt)
# and the log across an interruption:
#   - an eval.csv row equals `cpcrl eval` of that state on the held-out seed
#     1000000 + seed (same episodes, greedy or sampled);
#   - best.ckpt is the state of the best evaluation (evaluated again, it gives
#     that row's return);
#   - SIGINT + resume and SIGKILL + resume give log.csv (but sps), eval.csv,
#     best.ckpt and model.ckpt byte-identical to a run that never stopped (an
#     interrupt writes no partial log row);
#   - evaluations change nothing of training (log.csv and model.ckpt's
#     parameters the same with --eval-every 0);
#   - a checkpoint from before evaluations (no schedule for them) resumes;
#   - --trace-every: trace.csv's rows and the two losses' norms in them.
# Prints one line per check and "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1
CPCRL=${1:-./cpcrl}
[ -x "$CPCRL" ] || { echo "test_train_eval: $CPCRL not built"; echo "0 passed, 1 failed"; exit 1; }
CPCRL=$(cd "$(dirname "$CPCRL")" && pwd)/$(basename "$CPCRL")
TMP=$(mktemp -d /tmp/cpcrl-traineval.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export OPENBLAS_NUM_THREADS=1
. tests/check.sh

TINY="--task tmaze --conv1 4 --conv2 4 --latent 32 --hidden 32 --envs 8 --unroll 8 --cpc-k 3
      --log-every 2e3 --ckpt-every 6e3 --threads 1 --progress 0 --seed 5
      --eval-every 4e3 --eval-episodes 12"
R="$TMP/runs"
mkdir -p "$R"
train() { local n=$1; shift; "$CPCRL" train $TINY --runs-dir "$R" --name "$n" "$@" >"$TMP/$n.out" 2>"$TMP/$n.err"; }
train_bg() { local n=$1; shift; "$CPCRL" train $TINY --runs-dir "$R" --name "$n" "$@" >"$TMP/$n.out" 2>"$TMP/$n.err" & PID=$!; }
nosps() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "sps") c = i }
             { out = ""; for (i = 1; i <= NF; i++) if (i != c) out = out (out == "" && i == 1 ? "" : ",") $i; print out }' "$1"
}
rows() { [ -f "$1" ] && echo $(($(wc -l <"$1") - 1)) || echo 0; }
wait_rows() { local i; for ((i = 0; i < 3000; i++)); do kill -0 "$1" 2>/dev/null || return 1; [ "$(rows "$2")" -ge "$3" ] && return 0; sleep 0.02; done; return 1; }
# eval's "return X ± ..." line of a checkpoint, 6 digits
eval_ret() { "$CPCRL" eval "$1" --seed 1000005 --episodes 12 --threads 1 "${@:2}" 2>/dev/null |
    sed -n 's/.*return \([-0-9.e]*\) ±.*/\1/p' | head -1; }
FR=3e4

# the reference: a run that never stops
train ref --frames $FR
check "a run with evaluations exits 0" $? "$(tail -2 "$TMP/ref.err")"
mv "$R/ref" "$TMP/ref"
E="$TMP/ref/eval.csv"
[ "$(head -1 "$E")" = "frames,updates,episodes,return_mean,return_ci95,success_rate,episode_length,best" ]
check "eval.csv has its header" $? "$(head -1 "$E")"
n=$(rows "$E")
[ "$n" -ge 7 ] && awk -F, 'NR > 1 && $3 != 12 { exit 1 }' "$E"
check "eval.csv: a row per 4e3 frames and one at the end, 12 episodes each ($n rows)" $?
[ -f "$TMP/ref/best.ckpt" ]
check "best.ckpt written beside model.ckpt" $?

# the last row is the final checkpoint's evaluation: `cpcrl eval` agrees
last=$(tail -1 "$E" | cut -d, -f4)
got=$(eval_ret "$TMP/ref/model.ckpt")
awk -v a="$last" -v b="$got" 'BEGIN { exit !(a != "" && b != "" && (a - b < 0.0005 && b - a < 0.0005)) }'
check "the last eval.csv row = cpcrl eval model.ckpt --seed 1000005 ($last vs $got)" $?
# best.ckpt holds the best row's state
bestret=$(awk -F, 'NR > 1 && $8 == 1 { r = $4 } END { print r }' "$E")
maxret=$(awk -F, 'NR > 1 && (m == "" || $4 > m) { m = $4 } END { print m }' "$E")
got=$(eval_ret "$TMP/ref/best.ckpt")
awk -v a="$bestret" -v m="$maxret" -v b="$got" 'BEGIN { exit !(a == m && (a - b < 0.0005 && b - a < 0.0005)) }'
check "best.ckpt = the state of the best row (row $bestret, max $maxret, eval $got)" $?
# a new best is marked only when strictly better than every row before it
awk -F, 'NR > 1 { better = (NR == 2 || $4 > m); if (($8 == 1) != better) exit 1; if (better) m = $4 }' "$E"
check "eval.csv's best column marks strict improvements" $?

# evaluations change nothing of training
train noeval --frames $FR --eval-every 0
mv "$R/noeval" "$TMP/noeval"
cmp -s <(nosps "$TMP/ref/log.csv") <(nosps "$TMP/noeval/log.csv")
check "--eval-every 0: the same log.csv (but sps)" $?
[ ! -e "$TMP/noeval/eval.csv" ] && [ ! -e "$TMP/noeval/best.ckpt" ]
check "--eval-every 0: no eval.csv, no best.ckpt" $?

same_as_ref() { # NAME LABEL
    cmp -s <(nosps "$TMP/ref/log.csv") <(nosps "$R/$1/log.csv")
    check "$2: log.csv identical to the run that never stopped (but sps)" $? "$(diff <(nosps "$TMP/ref/log.csv") <(nosps "$R/$1/log.csv") | head -4)"
    cmp -s "$TMP/ref/eval.csv" "$R/$1/eval.csv"
    check "$2: eval.csv identical" $? "$(diff "$TMP/ref/eval.csv" "$R/$1/eval.csv" | head -4)"
    cmp -s "$TMP/ref/model.ckpt" "$R/$1/model.ckpt" && cmp -s "$TMP/ref/best.ckpt" "$R/$1/best.ckpt"
    check "$2: model.ckpt and best.ckpt identical" $?
}

# SIGINT in the middle, then resume
mv "$TMP/ref" "$TMP/ref.keep"; mkdir -p "$TMP/ref"; cp "$TMP/ref.keep/"* "$TMP/ref/"
train_bg ref --frames $FR
wait_rows $PID "$R/ref/log.csv" 6
kill -INT $PID 2>/dev/null; wait $PID
check "SIGINT: exits 0" $?
"$CPCRL" train --resume "$R/ref" --frames $FR --threads 1 --progress 0 2>"$TMP/res.err" >/dev/null
check "SIGINT: --resume runs to the end" $? "$(tail -2 "$TMP/res.err")"
mkdir -p "$TMP/int"; mv "$R/ref" "$TMP/int/ref"; ln -s "$TMP/int/ref" "$R/int"
same_as_ref int "SIGINT + resume"
rm -f "$R/int"

# SIGKILL after a checkpoint, then resume (rows past the checkpoint redone)
train_bg ref --frames $FR
wait_rows $PID "$R/ref/eval.csv" 3
kill -KILL $PID 2>/dev/null; wait $PID 2>/dev/null
"$CPCRL" train --resume "$R/ref" --frames $FR --threads 1 --progress 0 2>"$TMP/res2.err" >/dev/null
check "SIGKILL: --resume runs to the end" $? "$(tail -2 "$TMP/res2.err")"
mkdir -p "$TMP/kill"; mv "$R/ref" "$TMP/kill/ref"; ln -s "$TMP/kill/ref" "$R/kill"
same_as_ref kill "SIGKILL + resume"
rm -f "$R/kill"

# a run written by cpcrl before evaluations existed (tests/fixtures/run_v0:
# its config.txt and checkpoint have no eval_* keys, its checkpoint no
# schedule for them; log_resumed_2e4.csv is that cpcrl's own log after
# `train --resume ... --frames 2e4`): it resumes with evaluations at the
# defaults, and its training goes on exactly as the older cpcrl's did
mkdir -p "$R/old"; cp tests/fixtures/run_v0/config.txt tests/fixtures/run_v0/log.csv tests/fixtures/run_v0/model.ckpt "$R/old/"
"$CPCRL" train --resume "$R/old" --frames 2e4 --threads 1 --progress 0 2>"$TMP/old.err" >/dev/null
check "a run from before evaluations resumes" $? "$(tail -2 "$TMP/old.err")"
# bit for bit only where the numbers are made the same way: the fixture's
# OpenBLAS kernel and CPU class (made_under.txt; -march=native builds differ
# across CPU kinds), else rows and integer columns only
made=$(cat tests/fixtures/run_v0/made_under.txt)
if grep -qF "$made" "$TMP/old.err"; then
    cmp -s <(nosps tests/fixtures/run_v0/log_resumed_2e4.csv) <(nosps "$R/old/log.csv")
    check "... its log.csv equals the older cpcrl's resumed log (but sps; $made)" $? "$(diff <(nosps tests/fixtures/run_v0/log_resumed_2e4.csv) <(nosps "$R/old/log.csv") | head -4)"
else
    cmp -s <(cut -d, -f1,2 tests/fixtures/run_v0/log_resumed_2e4.csv) <(cut -d, -f1,2 "$R/old/log.csv")
    check "... its log.csv has the older cpcrl's rows (frames, updates; not made under '$made': no bit comparison)" $?
fi
[ "$(rows "$R/old/eval.csv")" = 1 ] && [ "$(sed -n 2p "$R/old/eval.csv" | cut -d, -f1)" -ge 20000 ]
check "... and evaluates at the end (the default --eval-every 1e5 is past 2e4)" $? "$(cat "$R/old/eval.csv")"
grep -q '^eval_every = 100000$' "$R/old/config.txt"
check "... its config.txt now states the evaluation settings" $?

# greedy evaluations match eval --greedy
train gr --frames 1e4 --eval-greedy
last=$(tail -1 "$R/gr/eval.csv" | cut -d, -f4)
got=$(eval_ret "$R/gr/model.ckpt" --greedy)
awk -v a="$last" -v b="$got" 'BEGIN { exit !(a != "" && b != "" && (a - b < 0.0005 && b - a < 0.0005)) }'
check "--eval-greedy: the last row = cpcrl eval --greedy ($last vs $got)" $?

# --trace-every: a row per update with as many fields as the header; the two
# losses' norms measured on every update at the default ratio control (numbers
# > 0) and not at all without it (nan); tracing changes nothing of training
train tr --frames 2e3 --eval-every 0 --trace-every 1
train tr0 --frames 2e3 --eval-every 0 --trace-every 1 --cpc-trunk-ratio 0
train notr --frames 2e3 --eval-every 0
T="$R/tr/trace.csv"
awk -F, 'NR == 1 { n = NF; for (i = 1; i <= NF; i++) c[$i] = i; next }
         NF != n || !($c["trunk_a2c"] > 0 && $c["trunk_cpc"] > 0 && $c["out_a2c"] > 0 && $c["out_cpc"] > 0) { bad = 1 }
         END { exit bad || NR < 9 || !("out_cpc" in c) }' "$T"
check "--trace-every 1: a row per update, the two losses' norms on each (default ratio control)" $? "$(head -2 "$T")"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
         { a = $c["trunk_a2c"] ""; u = $c["out_cpc"] "" }
         a == "nan" && u == "nan" { nan++; next }
         !(a > 0 && u > 0) { bad = 1 }
         END { exit bad || nan < NR - 3 }' "$R/tr0/trace.csv"
check "... nan where nothing measured them (--cpc-trunk-ratio 0: only the log rows' updates measure)" $? "$(sed -n 2p "$R/tr0/trace.csv")"
cmp -s <(nosps "$R/tr/log.csv") <(nosps "$R/notr/log.csv")
check "... and tracing changes nothing of training (log.csv but sps)" $?

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
