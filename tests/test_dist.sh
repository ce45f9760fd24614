#!/bin/bash
# test_dist.sh — end-to-end tests of running an experiment on several
# machines without MPI (issue #19): the run-directory lock across hosts
# (base/runlock.c) and `compare --emit-slurm` (lab/slurm.c). No MPI, no
# Slurm needed: other hosts are faked by writing their lock files, Slurm's
# array tasks are run by hand in a loop (SLURM_ARRAY_TASK_ID=i bash
# array.sbatch), as sbatch would run them.
#
#   lock     `cpcrl train` into a directory whose train.lock names
#            - another host, heartbeat (mtime) 2 h old: taken over (exit 0,
#              the message names host and pid, the run trains to its end,
#              train.lock is gone afterwards);
#            - another host, fresh heartbeat: refused (exit 1, names host and
#              pid; nothing written into the directory, the lock unchanged);
#            - another host, heartbeat 300 s old: refused at the default
#              --lock-stale 600, taken over with --lock-stale 120 (60, under
#              4 heartbeats, is a usage error), also by --resume;
#            - a fresh start into a directory with model.ckpt and a stale
#              lock: refused, the lock untouched;
#            - this host, a pid that has exited: taken over;
#            - this host, a live pid (this shell): refused; with another
#              start time (a reused pid) or from an earlier boot: taken over;
#            - the old flock format (an empty file nobody holds): taken over.
#   beat     a trainer (CPCRL_LOCK_BEAT=0.2, the heartbeat every 0.2 s
#            instead of 30 s) names this host and its pid in train.lock,
#            touches it (a lock aged by the test becomes fresh again), and
#            stops with exit 1 and a message once its lock is replaced by
#            another host's (taken over as stale), writing no checkpoint.
#   compare  one run of a plan locked by a live other host: compare trains
#            the others, leaves that one alone, says so, exits 1; once the
#            lock is 2 h old the same command takes it over and finishes.
#   slurm    `compare --emit-slurm DIR` of a tiny plan (2 tasks x 2 arms x 2
#            seeds): trains nothing; runs.txt has one command per run with
#            absolute paths; array.sbatch and aggregate.sh pass `bash -n`;
#            --array=0-7%3; every array task run by hand exits 0, a task run
#            again on its done run trains nothing, a task past the last line
#            exits 2; aggregate.sh writes a results.csv identical (cmp) to
#            that of a local `compare` of the same plan, with finite figures.
#            Usage errors (--only-run of no run, --slurm-limit -1): exit 2.
#
# Mutations tried, each failing it: stale test on this host by heartbeat
# instead of pid (dead-pid case), the take-over without the age check (fresh
# other-host case), runlock_beat not checking the inode (beat), runner not
# taking the lock (compare), runs.txt without --only-run (slurm).
#
# usage: tests/test_dist.sh [CPCRL]   (default ./cpcrl)
set -u
CPCRL=${1:-./cpcrl}
[ -x "$CPCRL" ] || { echo "test_dist: $CPCRL not built (run make)"; echo "0 passed, 1 failed"; exit 1; }
CPCRL=$(cd "$(dirname "$CPCRL")" && pwd)/$(basename "$CPCRL")
cd "$(dirname "$0")/.." || exit 1
TMP=$(mktemp -d /tmp/cpcrl-dist.XXXXXX)
BG=""
trap '[ -n "$BG" ] && kill $BG 2>/dev/null; rm -rf "$TMP"' EXIT
export OPENBLAS_NUM_THREADS=1
unset CPCRL_COMPARE_CHILD

pass=0
fail=0
ok() { echo "test_dist: $1 ok"; pass=$((pass + 1)); }
bad() { echo "test_dist: $1 FAILED"; [ $# -gt 1 ] && printf '%s\n' "$2" | head -40 | sed 's/^/  | /'; fail=$((fail + 1)); }
check() { # name, then a command: ok when it succeeds
    local name=$1; shift
    if "$@"; then ok "$name"; else bad "$name" "$(cat "$TMP/err" 2>/dev/null | tail -5)"; fi
}

HOST=$(hostname)
TINY="--envs 4 --unroll 5 --conv1 4 --conv2 4 --latent 16 --hidden 16 --cpc-k 3 --threads 1 --progress 0"
R=$TMP/runs
mkdir -p "$R"
fake_lock() { # dir host pid [touch -d date]
    mkdir -p "$1"
    printf 'cpcrl run lock\nhost %s\npid %s\n' "$2" "$3" >"$1/train.lock"
    [ $# -gt 3 ] && touch -d "$4" "$1/train.lock"
    return 0
}
train() { # name, extra flags...: exit status in $rc, stderr in $TMP/err
    local name=$1; shift
    "$CPCRL" train $TINY --runs-dir "$R" --name "$name" --frames 200 "$@" >/dev/null 2>"$TMP/err"
    rc=$?
}
last_frames() { tail -1 "$1/log.csv" 2>/dev/null | cut -d, -f1; }

# ----------------------------------------------------------------------------
# lock: the stale cases and the live ones

fake_lock "$R/old" other-host.invalid 4242 "2 hours ago"
train old
check "lock: another host's, heartbeat 2 h old: taken over" \
    test $rc -eq 0 -a "$(last_frames "$R/old")" = 200 -a ! -e "$R/old/train.lock"
check "lock: ... with a message naming host and pid" \
    grep -q "taking over the stale lock of host other-host.invalid, pid 4242.*no heartbeat for" "$TMP/err"

fake_lock "$R/fresh" other-host.invalid 4242
cp "$R/fresh/train.lock" "$TMP/lock.copy"
train fresh
check "lock: another host's, fresh heartbeat: refused (exit 1, names host and pid)" \
    eval '[ $rc -eq 1 ] && grep -q "in use by another process (host other-host.invalid, pid 4242, heartbeat" "$TMP/err"'
check "lock: ... nothing written, the lock unchanged" \
    eval '[ "$(ls "$R/fresh")" = train.lock ] && cmp -s "$TMP/lock.copy" "$R/fresh/train.lock"'

fake_lock "$R/limit" other-host.invalid 4242 "300 seconds ago"
train limit
check "lock: heartbeat 300 s old, default --lock-stale 600: refused" test $rc -eq 1
train limit --lock-stale 60
check "lock: --lock-stale 60 (under 4 heartbeats): exit 2" eval '[ $rc -eq 2 ] && grep -q "lock-stale" "$TMP/err"'
train limit --lock-stale 120
check "lock: heartbeat 300 s old, --lock-stale 120: taken over" \
    test $rc -eq 0 -a "$(last_frames "$R/limit")" = 200
fake_lock "$R/limit" other-host.invalid 4242 "300 seconds ago"
"$CPCRL" train --resume "$R/limit" --frames 400 --threads 1 --progress 0 --lock-stale 120 >/dev/null 2>"$TMP/err"
rc=$?
check "lock: --resume with --lock-stale takes a dead host's lock over" \
    test $rc -eq 0 -a "$(last_frames "$R/limit")" = 400
# a fresh start into a directory that holds a run is refused before the lock is looked at
fake_lock "$R/limit" other-host.invalid 4242 "2 hours ago"
cp "$R/limit/train.lock" "$TMP/lock.copy"
train limit
check "lock: a fresh start over a run with a stale lock: refused, the lock left alone" \
    eval '[ $rc -eq 1 ] && grep -q "already holds a run" "$TMP/err" && cmp -s "$TMP/lock.copy" "$R/limit/train.lock"'
rm "$R/limit/train.lock"

sleep 0 &
dead=$!
wait $dead
fake_lock "$R/dead" "$HOST" $dead
train dead
check "lock: this host, pid $dead gone: taken over" \
    eval '[ $rc -eq 0 ] && [ "$(last_frames "$R/dead")" = 200 ] && grep -q "no process of it runs on this host" "$TMP/err"'

fake_lock "$R/live" "$HOST" $$
train live
check "lock: this host, live pid $$: refused" eval '[ $rc -eq 1 ] && grep -q "host $HOST, pid $$" "$TMP/err"'
rm -rf "$R/live"

# a pid that runs, but is not the process that wrote the lock (another start
# time: the pid was reused), and a lock of this host from an earlier boot
mystart=$(sed 's/.*) //' /proc/$$/stat | cut -d' ' -f20)
printf 'cpcrl run lock\nhost %s\npid %s %s\n' "$HOST" $$ $((mystart + 1)) >"$TMP/l" && mkdir -p "$R/reused" && mv "$TMP/l" "$R/reused/train.lock"
train reused
check "lock: this host, pid $$ alive but started at another time (reused): taken over" \
    eval '[ $rc -eq 0 ] && grep -q "no process of it runs on this host" "$TMP/err"'
printf 'cpcrl run lock\nhost %s\npid %s %s\n' "$HOST" $$ "$mystart" >"$TMP/l" && mkdir -p "$R/same" && mv "$TMP/l" "$R/same/train.lock"
train same
check "lock: this host, pid $$ with its own start time: refused" eval '[ $rc -eq 1 ] && grep -q "host $HOST, pid $$" "$TMP/err"'
rm -rf "$R/same"
printf 'cpcrl run lock\nhost %s\nboot 00000000-not-this-boot\npid %s\n' "$HOST" $$ >"$TMP/l" && mkdir -p "$R/boot" && mv "$TMP/l" "$R/boot/train.lock"
train boot
check "lock: this host, an earlier boot (live pid $$): taken over" \
    eval '[ $rc -eq 0 ] && grep -q "written before this host last booted" "$TMP/err"'

mkdir -p "$R/flock" && : >"$R/flock/train.lock"
train flock
check "lock: old-format empty lock nobody holds: taken over" \
    test $rc -eq 0 -a "$(last_frames "$R/flock")" = 200

# ----------------------------------------------------------------------------
# beat: heartbeat, and a lock lost to a take-over stops the trainer

CPCRL_LOCK_BEAT=0.2 "$CPCRL" train $TINY --runs-dir "$R" --name beat --frames 5e7 >/dev/null 2>"$TMP/beat.err" &
BG=$!
for _ in $(seq 600); do [ -s "$R/beat/log.csv" ] && [ "$(wc -l <"$R/beat/log.csv")" -ge 2 ] && break; sleep 0.1; done
check "beat: train.lock names this host and the trainer's pid" \
    grep -qx "pid $BG [0-9]*" "$R/beat/train.lock"
touch -d "1 hour ago" "$R/beat/train.lock"
fresh=0
for _ in $(seq 600); do
    [ $(( $(date +%s) - $(stat -c %Y "$R/beat/train.lock") )) -lt 600 ] && { fresh=1; break; }
    sleep 0.1
done
check "beat: the trainer touches its lock (aged 1 h, fresh again)" test $fresh -eq 1
ck_before=$(stat -c %Y.%s "$R/beat/model.ckpt")
fake_lock "$TMP" other-host.invalid 777
mv "$TMP/train.lock" "$R/beat/train.lock" # what a take-over leaves
st=none # bounded: a trainer that never notices would run for ever
for _ in $(seq 600); do kill -0 $BG 2>/dev/null || { wait $BG; st=$?; break; }; sleep 0.1; done
[ "$st" = none ] && { kill $BG; wait $BG; }
BG=""
check "beat: a lock taken over stops the trainer (exit 1, says so)" \
    eval '[ "$st" = 1 ] && grep -q "is no longer this process.s (now host other-host.invalid, pid 777" "$TMP/beat.err"'
check "beat: ... without a checkpoint, leaving the new holder's lock" \
    eval '[ "$(stat -c %Y.%s "$R/beat/model.ckpt")" = "$ck_before" ] && grep -qx "pid 777" "$R/beat/train.lock"'

# ----------------------------------------------------------------------------
# compare: a run in use elsewhere is left to its holder

NET="--envs 4 --unroll 5 --conv1 4 --conv2 4 --latent 16 --hidden 16 --cpc-k 3"
PLAN="--tasks tmaze,seekavoid --seeds 2 --frames 2000 --jobs 1 --threads 1 --cpc-weight 0.5 --probe-episodes 5 --plot 0 $NET"
C=$TMP/c
mkdir -p "$C"
fake_lock "$C/busy/runs/seekavoid-cpc-s1" other-host.invalid 4242
(cd "$C" && "$CPCRL" compare $PLAN --out busy) >/dev/null 2>"$TMP/err"
rc=$?
check "compare: a run locked by a live other host is left alone (exit 1, says so)" \
    eval '[ $rc -eq 1 ] && grep -q "seekavoid-cpc-s1 left to its holder: .*host other-host.invalid, pid 4242" "$TMP/err" &&
          [ ! -e "$C/busy/runs/seekavoid-cpc-s1/log.csv" ] && [ $(ls "$C"/busy/runs/*/probe.csv | wc -l) -eq 7 ]'
touch -d "2 hours ago" "$C/busy/runs/seekavoid-cpc-s1/train.lock"
(cd "$C" && "$CPCRL" compare $PLAN --out busy) >/dev/null 2>"$TMP/err"
rc=$?
check "compare: the same command once the lock is stale takes it over and finishes" \
    eval '[ $rc -eq 0 ] && grep -q "taking over the stale lock of host other-host.invalid" "$TMP/err" &&
          [ "$(grep -c "^== cpcrl train" "$C/busy/runs/seekavoid-cpc-s1/train.out")" = 1 ] &&
          [ $(ls "$C"/busy/runs/*/train.lock 2>/dev/null | wc -l) -eq 0 ]'

# ----------------------------------------------------------------------------
# slurm: the job array, run by hand, equals a local compare

(cd "$C" && "$CPCRL" compare $PLAN --out local) >/dev/null 2>"$TMP/err"
check "slurm: local compare of the plan (the reference)" test $? -eq 0 -a -s "$C/local/results.csv"
(cd "$C" && "$CPCRL" compare $PLAN --out viaslurm --emit-slurm slurm --slurm-limit 3) >"$TMP/emit.out" 2>"$TMP/err"
rc=$?
check "slurm: --emit-slurm exits 0 and trains nothing" \
    eval '[ $rc -eq 0 ] && [ ! -e "$C/viaslurm/runs" ] && grep -q "sbatch $C/slurm/array.sbatch" "$TMP/emit.out"'
S=$C/slurm
check "slurm: runs.txt, one command per run, absolute paths" \
    eval '[ $(wc -l <"$S/runs.txt") -eq 8 ] && [ $(grep -c "^cd '"'$C'"' && '"'$CPCRL'"' compare '"'--out=$C/viaslurm'"' .*'"'--only-run="'" "$S/runs.txt") -eq 8 ]'
check "slurm: array.sbatch passes bash -n" bash -n "$S/array.sbatch"
check "slurm: aggregate.sh passes bash -n" bash -n "$S/aggregate.sh"
check "slurm: #SBATCH --array=0-7%3, one CPU per task" \
    eval 'grep -qx "#SBATCH --array=0-7%3" "$S/array.sbatch" && grep -qx "#SBATCH --cpus-per-task=1" "$S/array.sbatch"'
fails=""
for i in $(seq 0 7); do
    SLURM_ARRAY_TASK_ID=$i bash "$S/array.sbatch" >/dev/null 2>"$TMP/task$i.err" || fails="$fails $i"
done
check "slurm: the 8 array tasks, run by hand, exit 0" eval '[ -z "$fails" ] || { cat "$TMP"/task*.err >"$TMP/err"; false; }'
only=""
for i in $(seq 0 7); do
    name=$(sed -n "$((i + 1))p" "$S/runs.txt" | sed "s/.*'--only-run=\([^']*\)'$/\1/")
    grep -q "^compare: only run $name (" "$TMP/task$i.err" || only="$only $i"
done
check "slurm: task i carries out run i alone (line i+1 of runs.txt)" eval '[ -z "$only" ] || { echo "tasks:$only" >"$TMP/err"; false; }'
SLURM_ARRAY_TASK_ID=3 bash "$S/array.sbatch" >/dev/null 2>"$TMP/err"
rc=$?
trains=$(cat "$C"/viaslurm/runs/*/train.out | grep -c "^== cpcrl train")
check "slurm: a task run again on its done run exits 0 and trains nothing (8 trainings in all)" \
    test $rc -eq 0 -a "$trains" -eq 8
SLURM_ARRAY_TASK_ID=8 bash "$S/array.sbatch" >/dev/null 2>"$TMP/err"
check "slurm: a task past the last line exits 2" test $? -eq 2
bash "$S/aggregate.sh" >/dev/null 2>"$TMP/err"
check "slurm: aggregate.sh exits 0" test $? -eq 0
if cmp -s "$C/local/results.csv" "$C/viaslurm/results.csv"; then ok "slurm: results.csv equals the local compare's"
else bad "slurm: results.csv equals the local compare's" "$(diff "$C/local/results.csv" "$C/viaslurm/results.csv")"; fi
finite=$(awk -F, 'NR > 1 && $7 !~ /nan/ && $8 !~ /nan/ && $10 !~ /nan/ { n++ } END { print n + 0 }' "$C/local/results.csv")
check "slurm: ... 8 rows, final return, auc and probe finite in every row" test "$finite" -eq 8

# --arms (a spec with blanks and ';') survives runs.txt: a line, run as a dry run, plans that arm's run
(cd "$C" && "$CPCRL" compare $PLAN --out viaarms --emit-slurm slurm-arms --arms "lo=--lr 1e-3; hi=--lr 3e-3" --baseline lo) \
    >/dev/null 2>"$TMP/err"
line=$(grep -F -- "'--only-run=tmaze-hi-s2'" "$C/slurm-arms/runs.txt")
bash -c "$line --dry-run" >"$TMP/arms.out" 2>&1
check "slurm: --arms written to runs.txt, quoted; its line plans the arm's run" \
    eval '[ $(wc -l <"$C/slurm-arms/runs.txt") -eq 12 ] && grep -q "^tmaze-hi-s2 .*--lr 3e-3" "$TMP/arms.out"'
check "slurm: --baseline written to aggregate.sh" grep -q -- "--baseline=lo" "$C/slurm-arms/aggregate.sh"

(cd "$C" && "$CPCRL" compare $PLAN --out viaslurm --only-run nosuch-run) >/dev/null 2>"$TMP/err"
rc=$?
check "usage: --only-run of no run in the plan: exit 2, names it" \
    eval '[ $rc -eq 2 ] && grep -q "only-run nosuch-run: no such run in the plan" "$TMP/err"'
(cd "$C" && "$CPCRL" compare $PLAN --out viaslurm --emit-slurm "it's slurm") >/dev/null 2>"$TMP/err"
rc=$?
check "usage: --emit-slurm into a path with a quote and a blank: exit 2, nothing written" \
    eval '[ $rc -eq 2 ] && grep -q "cannot be named in the job script" "$TMP/err" && [ ! -e "$C/it'"'"'s slurm" ]'
(cd "$C" && "$CPCRL" compare $PLAN --out viaslurm --emit-slurm slurm --slurm-limit -1) >/dev/null 2>"$TMP/err"
check "usage: --slurm-limit -1: exit 2" test $? -eq 2

# ----------------------------------------------------------------------------
# review: a lock that is not a regular file, locks of another PID namespace
# with this host name, line breaks in what runs.txt holds (items of the
# adversarial review; each check fails on the code before its fix)

# 10. a FIFO (or a symbolic link) as train.lock: refused at once, never a
# read that blocks (timeout 20: 124 = hung)
train fifo
mkfifo "$R/fifo/train.lock"
timeout -k 2 20 "$CPCRL" train --resume "$R/fifo" --frames 400 --threads 1 --progress 0 >/dev/null 2>"$TMP/err"
rc=$?
check "10: train --resume with a FIFO as train.lock: exit 1 at once, says it is not a regular file (rc $rc)" \
    eval '[ $rc -eq 1 ] && grep -q "fifo/train.lock is not a regular file (a FIFO)" "$TMP/err" && [ -p "$R/fifo/train.lock" ]'
mkdir -p "$R/fifo2" && mkfifo "$R/fifo2/train.lock"
timeout -k 2 20 "$CPCRL" train $TINY --runs-dir "$R" --name fifo2 --frames 200 >/dev/null 2>"$TMP/err"
rc=$?
check "10: a fresh train over a FIFO lock: exit 1 at once (rc $rc)" \
    eval '[ $rc -eq 1 ] && grep -q "not a regular file" "$TMP/err"'
rm "$R/fifo/train.lock" && ln -s /dev/zero "$R/fifo/train.lock"
timeout -k 2 20 "$CPCRL" train --resume "$R/fifo" --frames 400 --threads 1 --progress 0 >/dev/null 2>"$TMP/err"
rc=$?
check "10: a symbolic link as train.lock: refused, exit 1 (rc $rc)" \
    eval '[ $rc -eq 1 ] && grep -q "is a symbolic link" "$TMP/err"'
F=$TMP/cfifo
mkdir -p "$F/o/runs/tmaze-nocpc-s1" && mkfifo "$F/o/runs/tmaze-nocpc-s1/train.lock"
(cd "$F" && timeout -k 2 60 "$CPCRL" compare --tasks tmaze --seeds 1 --frames 200 --jobs 1 --threads 1 --probe 0 --plot 0 \
    $NET --out o) >/dev/null 2>"$TMP/err"
rc=$?
check "10: compare with a FIFO as one run's lock: the others trained, that one named, exit 1 (rc $rc)" \
    eval '[ $rc -eq 1 ] && grep -q "tmaze-nocpc-s1/train.lock is not a regular file" "$TMP/err" &&
          [ "$(tail -1 "$F/o/runs/tmaze-cpc-s1/log.csv" | cut -d, -f1)" = 200 ]'

# 13. the same host name in another PID namespace (another container): its
# pids mean nothing here, so the lock is judged by its heartbeat. A fake
# lock naming a pid that does not run here, fresh: refused (it was taken
# over as "no process of it runs"); 2 h old: taken over
sleep 0 &
dead=$!
wait $dead
printf 'cpcrl run lock\nhost %s\nboot %s\npidns pid:[1]\npid %s 1\n' "$HOST" "$(cat /proc/sys/kernel/random/boot_id)" $dead \
    >"$TMP/l" && mkdir -p "$R/ns" && mv "$TMP/l" "$R/ns/train.lock"
train ns
check "13: this host, another PID namespace, fresh heartbeat, its pid not running here: refused (exit 1)" \
    eval '[ $rc -eq 1 ] && grep -q "pid $dead in another PID namespace (pid:\[1\]), heartbeat" "$TMP/err" && [ ! -e "$R/ns/log.csv" ]'
touch -d "2 hours ago" "$R/ns/train.lock"
train ns
check "13: ... with a heartbeat 2 h old: taken over" \
    eval '[ $rc -eq 0 ] && grep -q "no heartbeat for" "$TMP/err" && [ "$(last_frames "$R/ns")" = 200 ]'
# a real one (root: unshare): a trainer in a new PID namespace, pid 1 there,
# holds its run; from here pid 1 runs (init, another start time) and the old
# rule took the live lock over
if [ "$(id -u)" = 0 ] && unshare -pf --mount-proc true 2>/dev/null; then
    unshare -pf --mount-proc "$CPCRL" train $TINY --runs-dir "$R" --name inns --frames 5e7 >/dev/null 2>"$TMP/inns.err" &
    U=$!
    BG="$U"
    for _ in $(seq 300); do [ -s "$R/inns/log.csv" ] && [ "$(wc -l <"$R/inns/log.csv")" -ge 3 ] && break; sleep 0.1; done
    inner=$(pgrep -P "$U" | head -1)
    BG="$U $inner"
    timeout -k 2 20 "$CPCRL" train --resume "$R/inns" --frames 6e7 --threads 1 --progress 0 >/dev/null 2>"$TMP/err"
    rc=$?
    grep -q "^pid 1 " "$R/inns/train.lock" && grep -q "^pidns pid:\[" "$R/inns/train.lock" &&
        ! grep -qx "pidns $(readlink /proc/self/ns/pid)" "$R/inns/train.lock"
    named=$?
    kill -9 $inner 2>/dev/null
    wait $U 2>/dev/null
    BG=""
    check "13: a live trainer in another PID namespace (pid 1 there) keeps its run: --resume from here refused (rc $rc)" \
        eval '[ $named -eq 0 ] && [ $rc -eq 1 ] && grep -q "in use by another process (host $HOST, pid 1 in another PID namespace" "$TMP/err"'
else
    echo "test_dist: skip 13 (a real PID namespace): needs root and unshare"
fi

# 11. a line break in any word runs.txt would hold (here --out, and the
# working directory) is refused, nothing written: it would split a run's
# line, the rest run as a command of its own
(cd "$C" && "$CPCRL" compare $PLAN --out "$(printf 'nl\ntouch PWN11')" --emit-slurm slurm-nl) >/dev/null 2>"$TMP/err"
rc=$?
check "11: --emit-slurm with a line break in --out: exit 2, nothing written (rc $rc)" \
    eval '[ $rc -eq 2 ] && grep -q "\-\-out holds a line break" "$TMP/err" && [ ! -e "$C/slurm-nl" ] && [ ! -e "$C/nl" ]'
NL="$C/cwd
x"
mkdir -p "$NL"
(cd "$NL" && "$CPCRL" compare $PLAN --out "$C/nlout" --emit-slurm "$C/slurm-nl") >/dev/null 2>"$TMP/err"
rc=$?
check "11: --emit-slurm from a working directory with a line break: exit 2, nothing written (rc $rc)" \
    eval '[ $rc -eq 2 ] && grep -q "the working directory holds a line break" "$TMP/err" && [ ! -e "$C/slurm-nl" ] && [ ! -e "$C/nlout" ]'

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
