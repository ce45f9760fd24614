#!/bin/bash
# fault_campaign.sh — a fault-injection campaign over `cpcrl compare`: an
# experiment carried out by two or three compare workers at once on one OUT
# while their processes are killed, the disk fills up and aggregations are
# cut short, must end, after one clean run of the same command, in a
# results.csv byte-identical to that of an uninterrupted run.
#
# A reference: the experiment (goal, tmaze x nocpc, cpc x 2 seeds = 8 tiny
# runs, probed) by one uninterrupted compare. Then, per round, on a fresh OUT
# (its own tmpfs when root, so that the disk can fill up):
#   - 2 or 3 workers start (the same compare command, --jobs 1 each);
#   - 3 to 8 faults, each after a random 0.1-1.2 s, drawn from:
#       kill9-worker   SIGKILL a worker (its children get SIGTERM: they save)
#       term-worker    SIGTERM a worker (it stops its children, which save)
#       kill9-child    SIGKILL a worker's child (a trainer or a probe)
#       term-child     SIGTERM a worker's child (it saves and exits)
#       kill-agg       start `compare --aggregate-only`, SIGKILL or SIGTERM it
#                      after 0-0.3 s (its lock and temporary files left behind)
#       disk-full      fill OUT's tmpfs, hold it full 0.2-1.2 s, free it
#                      (root only; whatever writes then gets ENOSPC)
#     a killed worker is replaced by a new one (the workers only ever add up
#     to 3), and an aggregator is also started now and then alongside;
#   - once the faults are spent, the workers are left to finish (bounded),
#     every process working on OUT is waited for, and the same compare is run
#     once more, with no fault: it must exit 0, results.csv must equal the
#     reference byte for byte, and no aggregate.lock may be left (files
#     left behind by killed processes, a stale train.lock of a run found
#     done or a dead writer's *.tmp.* not yet swept, are listed, not failed).
# Rounds are drawn from FAULT_SEED (printed; the same seed replays the same
# draws, though not the same timings).
#
# usage: tests/fault_campaign.sh [CPCRL] [ROUNDS]   (default ./cpcrl, 3 rounds)
#        FAULT_SEED=N tests/fault_campaign.sh ./cpcrl 50    the full campaign
# Prints a line per round and the figures (rounds, faults of each kind, the
# rounds whose results.csv differ or whose clean run failed); exits non-zero
# when any round fails.
set -u
CPCRL=${1:-./cpcrl}
ROUNDS=${2:-3}
[ -x "$CPCRL" ] || { echo "fault_campaign: $CPCRL not built (run make)"; echo "0 passed, 1 failed"; exit 1; }
CPCRL=$(cd "$(dirname "$CPCRL")" && pwd)/$(basename "$CPCRL")
cd "$(dirname "$0")/.." || exit 1
SEED=${FAULT_SEED:-$(( $(date +%s) % 100000 ))}
RANDOM=$SEED
TMP=$(mktemp -d /tmp/cpcrl-faults.XXXXXX)
MNT=""
PIDS="" # every process this script started (killed on exit, by pid)
cleanup() {
    local p
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    [ -n "$MNT" ] && umount "$MNT" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export OPENBLAS_NUM_THREADS=1
unset CPCRL_COMPARE_CHILD CPCRL_LOCK_TEST_WAIT_US CPCRL_AGG_TEST_WAIT_US CPCRL_FAULT_NAN_AT

NET="--envs 4 --unroll 5 --conv1 4 --conv2 4 --latent 16 --hidden 16 --cpc-k 3"
CMP="--tasks goal,tmaze --seeds 2 --frames 2000 --probe-episodes 4 --jobs 1 --threads 1 --plot 0 --bootstrap 100 $NET"
AGG="--aggregate-only --plot 0 --bootstrap 100"

echo "fault_campaign: $CPCRL, $ROUNDS rounds, FAULT_SEED=$SEED, scratch $TMP"
"$CPCRL" compare $CMP --out "$TMP/ref" >"$TMP/ref.log" 2>&1 || {
    echo "fault_campaign: the reference run failed:"; tail -5 "$TMP/ref.log"; echo "0 passed, 1 failed"; exit 1; }
REF=$TMP/ref/results.csv

can_fill=0
if [ "$(id -u)" = 0 ] && mkdir -p "$TMP/probe-mnt" && mount -t tmpfs -o size=1m tmpfs "$TMP/probe-mnt" 2>/dev/null; then
    umount "$TMP/probe-mnt"
    can_fill=1
else
    echo "fault_campaign: no disk-full faults (need root and mount -t tmpfs)"
fi

# (RANDOM drawn here, never in a subshell, so that the seed gives the draws)
nap() { local r=$RANDOM; sleep "$(awk -v a="$1" -v b="$2" -v r=$r 'BEGIN { printf "%.2f", a + (b - a) * r / 32767 }')"; }
pick() { local i=$(( RANDOM % $# + 1 )); PICKED=${!i}; } # a random word of the arguments
alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

declare -A COUNT
KINDS="kill9-worker term-worker kill9-child term-child kill-agg disk-full"
for k in $KINDS; do COUNT[$k]=0; done
passed=0
failed=0
FAILED_ROUNDS=""
t_start=$(date +%s)

for ((round = 1; round <= ROUNDS; round++)); do
    D=$TMP/round$round
    mkdir -p "$D"
    fill=0
    if [ $can_fill = 1 ] && mount -t tmpfs -o size=24m tmpfs "$D"; then MNT=$D; fill=1; fi
    OUT=$D/out
    LOG=$TMP/round$round.log
    : >"$LOG"
    WORKERS=""
    start_worker() {
        "$CPCRL" compare $CMP --out "$OUT" >>"$LOG" 2>&1 &
        WORKERS="$WORKERS $!"
        PIDS="$PIDS $!"
        disown $! # (no "Killed" notices: alive() polls it)
    }
    live_workers() { local w; for w in $WORKERS; do alive "$w" && echo "$w"; done; }
    nw=$(( 2 + RANDOM % 2 ))
    for ((i = 0; i < nw; i++)); do start_worker; done
    nf=$(( 3 + RANDOM % 6 ))
    did=""
    kinds="kill9-worker term-worker kill9-child term-child kill-agg"
    [ $fill = 1 ] && kinds="$kinds disk-full"
    for ((f = 0; f < nf; f++)); do
        nap 0.1 1.2
        lw=$(live_workers)
        [ -z "$lw" ] && break # the experiment is done already
        pick $kinds
        kind=$PICKED
        case $kind in
        kill9-worker | term-worker)
            pick $lw
            kill "-$([ $kind = kill9-worker ] && echo KILL || echo TERM)" "$PICKED" 2>/dev/null
            start_worker ;;
        kill9-child | term-child)
            kids=""
            for w in $lw; do kids="$kids $(pgrep -P "$w")"; done
            [ -z "${kids// /}" ] && { f=$((f - 1)); continue; } # between two children: draw again
            pick $kids
            kill "-$([ $kind = kill9-child ] && echo KILL || echo TERM)" "$PICKED" 2>/dev/null ;;
        kill-agg)
            "$CPCRL" compare $AGG --out "$OUT" >>"$LOG" 2>&1 &
            a=$!
            PIDS="$PIDS $a"
            disown $a
            nap 0 0.3
            pick KILL TERM
            kill "-$PICKED" "$a" 2>/dev/null ;;
        disk-full)
            head -c 30000000 /dev/zero >"$D/filler" 2>/dev/null
            nap 0.2 1.2
            rm -f "$D/filler" ;;
        esac
        COUNT[$kind]=$(( ${COUNT[$kind]} + 1 ))
        did="$did $kind"
        if (( RANDOM % 3 == 0 )); then # an aggregation alongside, left to finish
            "$CPCRL" compare $AGG --out "$OUT" >>"$LOG" 2>&1 &
            PIDS="$PIDS $!"
            disown $!
        fi
        # keep 2 or 3 workers
        [ "$(live_workers | wc -l)" -lt 2 ] && start_worker
    done
    # the workers finish on their own (bounded: a hang is a finding)
    for ((i = 0; i < 600; i++)); do [ -z "$(live_workers)" ] && break; sleep 0.2; done
    hung=$(live_workers | tr '\n' ' ')
    for w in $hung; do kill -9 "$w" 2>/dev/null; done
    # every process still working on OUT (a killed worker's children saving)
    for ((i = 0; i < 300; i++)); do pgrep -f -- "$OUT" >/dev/null || break; sleep 0.2; done
    # the clean run
    "$CPCRL" compare $CMP --out "$OUT" >"$D/final.log" 2>&1
    st=$?
    # left behind (a note, not a failure: a stale lock is taken over when its
    # run is worked on again, a dead writer's temporary file swept when its
    # file is written again): locks of runs found done, temporary files
    left=$(cd "$OUT" && find . -name train.lock -o -name '*.tmp*' | sort | tr '\n' ' ')
    why=""
    [ -n "$hung" ] && why="$why workers hung ($hung);"
    [ $st -ne 0 ] && why="$why the clean run exited $st;"
    cmp -s "$REF" "$OUT/results.csv" || why="$why results.csv differs;"
    [ -e "$OUT/aggregate.lock" ] && why="$why aggregate.lock left by the clean run;"
    if [ -z "$why" ]; then
        passed=$((passed + 1))
        echo "round $round: $nw workers, faults:${did:- none (done first)}: results.csv identical${left:+ (left behind: $left)}"
    else
        failed=$((failed + 1))
        FAILED_ROUNDS="$FAILED_ROUNDS $round"
        echo "round $round: $nw workers, faults:$did: FAILED:$why"
        tail -5 "$D/final.log" | sed 's/^/  | /'
        [ -f "$OUT/results.csv" ] && diff "$REF" "$OUT/results.csv" | head -10 | sed 's/^/  | /'
        mkdir -p "$TMP/../cpcrl-faults-kept" && cp -a "$D" "$TMP/../cpcrl-faults-kept/round$round-$SEED" 2>/dev/null &&
            cp "$LOG" "$TMP/../cpcrl-faults-kept/round$round-$SEED/" && echo "  | kept in /tmp/cpcrl-faults-kept/round$round-$SEED"
    fi
    PIDS=""
    if [ $fill = 1 ]; then umount "$D" && MNT=""; fi
    rm -rf "$D"
done

faults=""
total=0
for k in $KINDS; do faults="$faults $k ${COUNT[$k]},"; total=$((total + ${COUNT[$k]})); done
echo "fault_campaign: $ROUNDS rounds in $(( $(date +%s) - t_start )) s, $total faults:${faults%,}"
echo "fault_campaign: results.csv identical to the uninterrupted run's in $passed of $ROUNDS rounds${FAILED_ROUNDS:+ (failed:$FAILED_ROUNDS)}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
