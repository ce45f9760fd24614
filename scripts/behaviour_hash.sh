#!/bin/bash
# behaviour_hash.sh CPCRL [OUT]: one line per artefact, "name sha256", of what a refactor must not
# change: `cpcrl help` for every command, short one-thread trainings on every task (CPC, CPC|A,
# no CPC, sample reuse, the trunk balance held), their log.csv without the sps column, eval.csv,
# model.ckpt, a recorded replay, eval/probe/baseline output. Run it before and after a change:
#   bash scripts/behaviour_hash.sh ./cpcrl > before.txt ... bash scripts/behaviour_hash.sh ./cpcrl > after.txt; diff before.txt after.txt
set -euo pipefail
BIN=$(readlink -f "${1:?usage: behaviour_hash.sh CPCRL}")
W=${2:-/tmp/cpcrl_behaviour_hash}   # a fixed path: config.txt and checkpoints hold the runs dir
rm -rf "$W"; mkdir -p "$W"
h() { printf '%s %s\n' "$1" "$(sha256sum | cut -c1-16)"; }
tasks=$("$BIN" help train | sed -n 's/^ *--task .*(\([a-z_|]*\); default.*/\1/p' | tr '|' ' ')
[ -n "$tasks" ] || { echo "behaviour_hash.sh: no task list in '$BIN help train'" >&2; exit 1; }
for c in "" train eval show baseline bench compare probe watch play replay help; do
  "$BIN" help $c 2>&1 | h "help-${c:-top}"
done
run() {  # run NAME FLAGS...: train, then hash its files
  local n=$1; shift
  "$BIN" train --runs-dir "$W" --name "$n" --threads 1 --progress 0 --frames 6400 --log-every 1280 \
     --eval-every 3200 --eval-episodes 4 "$@" > /dev/null 2>&1
  cut -d, -f3 --complement "$W/$n/log.csv" | h "$n/log-minus-sps"
  h "$n/eval.csv" < "$W/$n/eval.csv"
  h "$n/model.ckpt" < "$W/$n/model.ckpt"
  h "$n/config.txt" < "$W/$n/config.txt"
}
for t in $tasks; do
  run "$t-cpc" --task $t --seed 3
done
run tmaze-nocpc --task tmaze --seed 4 --cpc-weight 0
run goal-cpca --task goal --seed 5 --cpc-mode action
run goal-reuse --task goal --seed 6 --epochs 2 --minibatches 2 --clip 0.2
run goal-bal4 --task goal --seed 7 --cpc-balance-every 4
run goal-small --task goal --seed 8 --hidden 32 --latent 32 --cpc-k 3 --envs 8 --unroll 10
# resume: 3200 frames, then on to 6400, equals the straight run
"$BIN" train --runs-dir "$W" --name res --task goal --seed 3 --threads 1 --progress 0 --frames 3200 --log-every 1280 --eval-every 3200 --eval-episodes 4 > /dev/null 2>&1
"$BIN" train --resume "$W/res" --frames 6400 --threads 1 --progress 0 > /dev/null 2>&1 || true
h resume/model.ckpt < "$W/res/model.ckpt"
mkdir -p "$W/rec"
"$BIN" eval "$W/goal-cpc" --episodes 3 --seed 9 --threads 1 --record "$W/rec" 2>&1 | grep -v -i 'time\|/s' | h eval-goal
for f in "$W"/rec/*.rpl; do h "replay-$(basename "$f")" < "$f"; done
"$BIN" replay "$(ls "$W"/rec/*.rpl | head -1)" --info 2>&1 | sed "s#$W#W#g" | h replay-info
"$BIN" eval "$W/watermaze-cpc" --episodes 4 --seed 9 --threads 1 2>&1 | grep -v -i 'time\|/s' | h eval-watermaze
"$BIN" probe "$W/watermaze-cpc" --episodes 6 --threads 1 --out "$W/probe.csv" > /dev/null 2>&1
h probe.csv < "$W/probe.csv"
for t in $tasks; do
  "$BIN" baseline --task $t --episodes 20 --policy oracle 2>&1 | h "baseline-$t"
  "$BIN" show --task $t --seed 2 2>&1 | h "show-$t"
done
