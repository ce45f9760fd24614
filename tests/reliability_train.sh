# reliability_train.sh — the training side of issue #20 (part A), sourced by
# tests/test_reliability.sh (uses its helpers: train, train_bg, check, rows,
# nosps, listing, ckpt_edit, resume_fails, refused, $R, $TMP, $TINY, $base).
# One block per item of the issue; every block failed before its fix.
# shellcheck shell=bash

# ckpt_get FILE RECORD STRUCTFMT: print the first value of a record
ckpt_get() {
    python3 - "$@" <<'EOF'
import struct, sys
path, rec, fmt = sys.argv[1], sys.argv[2], sys.argv[3]
d = open(path, "rb").read()
(cfglen,) = struct.unpack_from("<I", d, 12)
o = 16 + cfglen
(n,) = struct.unpack_from("<I", d, o); o += 4
for _ in range(n):
    (nl,) = struct.unpack_from("<I", d, o); o += 4
    name = d[o:o + nl].decode(); o += nl
    dt, nd = struct.unpack_from("<II", d, o); o += 8
    dims = struct.unpack_from("<%dI" % nd, d, o); o += 4 * nd
    cnt = 1
    for x in dims: cnt *= x
    if name == rec:
        print(struct.unpack_from(fmt, d, o)[0]); sys.exit(0)
    o += cnt * [4, 1, 8, 8][dt]
sys.exit("no record " + rec)
EOF
}
# ckpt_fill FILE RECORD OFFSET COUNT BYTE: set COUNT bytes of a record's data
# to BYTE; ckpt_dup FILE RECORD: append a second record of that name, data
# zeroed. Both recompute the CRC (crafted files that pass it).
ckpt_craft() {
    python3 - "$@" <<'EOF'
import struct, sys, zlib
mode, path, rec = sys.argv[1], sys.argv[2], sys.argv[3]
d = bytearray(open(path, "rb").read())
(cfglen,) = struct.unpack_from("<I", d, 12)
o = 16 + cfglen
nrec_at = o
(n,) = struct.unpack_from("<I", d, o); o += 4
for _ in range(n):
    start = o
    (nl,) = struct.unpack_from("<I", d, o); o += 4
    name = bytes(d[o:o + nl]).decode(); o += nl
    dt, nd = struct.unpack_from("<II", d, o); o += 8
    dims = struct.unpack_from("<%dI" % nd, d, o); o += 4 * nd
    cnt = 1
    for x in dims: cnt *= x
    size = cnt * [4, 1, 8, 8][dt]
    if name == rec:
        if mode == "fill":
            off, count, byte = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
            d[o + off:o + off + count] = bytes([byte]) * count
        else:
            copy = bytes(d[start:o]) + bytes(size)
            body_end = len(d) - 4
            d = d[:body_end] + copy + d[body_end:]
            struct.pack_into("<I", d, nrec_at, n + 1)
        break
    o += size
else:
    sys.exit("no record " + rec)
struct.pack_into("<I", d, len(d) - 4, zlib.crc32(bytes(d[:-4])))
open(path, "wb").write(d)
EOF
}
ckpt_fill() { ckpt_craft fill "$@"; }
ckpt_dup() { ckpt_craft dup "$@"; }
# every data row of a log.csv whole: as many fields as the header, frames
# strictly increasing
log_whole() {
    awk -F, 'NR == 1 { n = NF; next }
             NF != n || $1 !~ /^[0-9]+$/ || $1 + 0 <= last { bad = 1 }
             { last = $1 + 0 }
             END { exit bad }' "$1"
}

echo "-- issue #20 part A: training side"

# ----------------------------------------------------------------------------
# 1. Full disk while logging: the run stops (exit 1, names log.csv); a resume
#    keeps only whole rows and runs to the end

if [ "$(id -u)" = 0 ] && mkdir -p "$TMP/ldisk" &&
    mount -t tmpfs -o size=4m tmpfs "$TMP/ldisk" 2>/dev/null; then
    MNT="$TMP/ldisk"
    "$CPCRL" train $TINY --runs-dir "$TMP/ldisk" --name logfull --frames 5e7 --log-every 64 \
        --ckpt-every 1e9 >/dev/null 2>"$TMP/logfull.err" &
    PID=$!
    wait_rows $PID "$TMP/ldisk/logfull/log.csv" 3
    dd if=/dev/zero of="$TMP/ldisk/fill" bs=4k status=none 2>/dev/null
    timeout -k 2 60 tail --pid=$PID -f /dev/null
    kill -KILL $PID 2>/dev/null
    wait $PID
    st=$?
    [ $st -eq 1 ] && grep -q "log.csv" "$TMP/logfull.err" && grep -qi "No space left" "$TMP/logfull.err"
    check "1 full disk while logging: exit 1, message names log.csv and the reason (status $st)" $? \
        "$(tail -2 "$TMP/logfull.err")"
    rm -f "$TMP/ldisk/fill"
    "$CPCRL" train --resume "$TMP/ldisk/logfull" --frames 2e4 --threads 1 --progress 0 \
        >/dev/null 2>"$TMP/logfull2.err"
    st=$?
    [ $st -eq 0 ] && log_whole "$TMP/ldisk/logfull/log.csv" &&
        tail -1 "$TMP/ldisk/logfull/log.csv" | grep -q "^20032,"
    check "1 full disk while logging: resume truncates to whole rows and finishes (status $st)" $? \
        "$(tail -1 "$TMP/logfull2.err")"
    umount "$TMP/ldisk" && MNT=""
else
    echo "skip 1 (full disk while logging): need root and mount -t tmpfs"
fi

# ----------------------------------------------------------------------------
# 2. --ckpt-every below --log-every: checkpoints on their own schedule, and a
#    run resumed from a checkpoint between two log rows logs the same rows

CK2="--frames 2e4 --log-every 4e3 --ckpt-every 1e3"
# shellcheck disable=SC2086
train sched $CK2
mv "$R/sched" "$TMP/sched.straight"
# update 100 (6400 frames) is NaN: the last checkpoint is the one at 6016
# frames, between the log rows at 4032 and 8000
# shellcheck disable=SC2086
CPCRL_FAULT_NAN_AT=100 "$CPCRL" train $TINY --runs-dir "$R" --name sched $CK2 >/dev/null 2>"$TMP/sched.err"
fr=$(ckpt_get "$R/sched/model.ckpt" state/frames "<d" 2>/dev/null)
[ "${fr%.*}" = 6016 ]
check "2 --ckpt-every 1e3 below --log-every 4e3: last checkpoint at 6016 frames (got ${fr:-none})" $?
"$CPCRL" train --resume "$R/sched" --threads 1 --progress 0 >/dev/null 2>"$TMP/sched2.err"
cmp -s <(nosps "$TMP/sched.straight/log.csv") <(nosps "$R/sched/log.csv") &&
    cmp -s "$TMP/sched.straight/model.ckpt" "$R/sched/model.ckpt"
check "2 resumed between two log rows: log.csv and model.ckpt identical to straight-through" $? \
    "$(tail -1 "$TMP/sched2.err")"
rm -rf "$R/sched"

# ----------------------------------------------------------------------------
# 4. One trainer per run directory (lock held for the trainer's lifetime)

train_bg lock --frames 5e7
wait_rows $PID "$R/lock/log.csv" 1
"$CPCRL" train --resume "$R/lock" --threads 1 --progress 0 >/dev/null 2>"$TMP/lock2.err" &
P2=$!
timeout -k 2 30 tail --pid=$P2 -f /dev/null
kill -KILL $P2 2>/dev/null
wait $P2
st=$?
[ $st -eq 1 ] && grep -q "pid $PID" "$TMP/lock2.err"
check "4 second --resume of a running run: refused, exit 1, names the holder's pid (status $st)" $? \
    "$(tail -1 "$TMP/lock2.err")"
"$CPCRL" train $TINY --runs-dir "$R" --name lock --frames 2e4 >/dev/null 2>"$TMP/lock3.err" &
P2=$!
timeout -k 2 30 tail --pid=$P2 -f /dev/null
kill -KILL $P2 2>/dev/null
wait $P2
st=$?
[ $st -eq 1 ] && grep -q "pid $PID" "$TMP/lock3.err"
check "4 second trainer with the same --name: refused, exit 1, names the holder's pid (status $st)" $? \
    "$(tail -1 "$TMP/lock3.err")"
kill -TERM $PID 2>/dev/null
wait $PID
st=$?
check "4 the holder was not disturbed (SIGTERM: exit 0, status $st)" $st "$(tail -1 "$TMP/lock.err")"
rm -rf "$R/lock"

# ----------------------------------------------------------------------------
# 5. Crafted checkpoints with a valid CRC are refused before anything is used
#    (the envs field by field: env 0's map is the first 41x41 bytes of
#    state/envs/grid, its steps the first i64 of state/envs/steps)

if has_python; then
    ckpt_fill "$base/model.ckpt" state/envs/grid 0 1681 3
    resume_fails "5 env grid all goal cells, no floor" "state/envs"
    ckpt_edit "$base/model.ckpt" state/envs/steps 0 "<q" 2147483647
    resume_fails "5 env steps INT_MAX" "state/envs"
    ckpt_edit "$base/model.ckpt" state/updates 0 "<q" 9223372036854775807
    resume_fails "5 state/updates INT64_MAX" "state/updates"
    ckpt_edit "$base/model.ckpt" opt/state 0 "<f" -1
    resume_fails "5 negative RMSProp square average" "opt/state"
    ckpt_dup "$base/model.ckpt" state/frames
    resume_fails "5 duplicate record state/frames" "duplicate"
    ckpt_edit "$base/model.ckpt" opt/step 0 "<q" -5
    resume_fails "5 negative optimizer step" "opt/step"
fi

# ----------------------------------------------------------------------------
# 6. A run stopped before its first regular checkpoint can be resumed; no
#    message names a file that does not exist

CPCRL_FAULT_NAN_AT=2 "$CPCRL" train $TINY --runs-dir "$R" --name early --frames 2e4 >/dev/null 2>"$TMP/early.err"
st=$?
kept=$(sed -n 's/.*last good checkpoint kept in \([^ ]*\).*/\1/p' "$TMP/early.err")
[ $st -eq 1 ] && [ -n "$kept" ] && [ -f "$kept" ]
check "6 NaN at update 2: exit 1, the checkpoint it names exists (status $st, '${kept}')" $? \
    "$(tail -1 "$TMP/early.err")"
"$CPCRL" train --resume "$R/early" --threads 1 --progress 0 >/dev/null 2>"$TMP/early2.err"
check "6 ... and --resume runs it to the end" $? "$(tail -1 "$TMP/early2.err")"
rm -f "$R/early/model.ckpt" # as if killed before any checkpoint was written
"$CPCRL" train --resume "$R/early" --threads 1 --progress 0 >/dev/null 2>"$TMP/early3.err"
st=$?
[ $st -eq 1 ] && grep -q "no checkpoint" "$TMP/early3.err"
check "6 --resume of a run without a checkpoint: exit 1, says so and what to do (status $st)" $? \
    "$(tail -1 "$TMP/early3.err")"
train early --frames 4e3
check "6 a fresh start reuses a run directory that holds no checkpoint" $? "$(tail -1 "$TMP/early.err")"
rm -rf "$R/early"

# ----------------------------------------------------------------------------
# 7. SIGHUP (closed terminal) is handled like SIGINT/SIGTERM

train_bg hup --frames 5e7
wait_rows $PID "$R/hup/log.csv" 2
kill -HUP $PID 2>/dev/null
wait $PID
st=$?
grep -q "interrupted, saved" "$TMP/hup.err"
check "7 SIGHUP: exits 0 and saves a checkpoint (status $st)" $((st | $?)) "$(tail -1 "$TMP/hup.err")"
rm -rf "$R/hup"

# ----------------------------------------------------------------------------
# 8. An empty --runs-dir (or runs_dir = in a config file) is refused

mkdir -p "$TMP/cwd8" && cd "$TMP/cwd8" || exit 1
"$CPCRL" train --runs-dir "" --name cpcrl-test-empty-runs-dir --frames 2e3 --progress 0 >/dev/null 2>"$TMP/e8.err"
st=$?
[ $st -eq 2 ] && grep -q "runs-dir" "$TMP/e8.err" && [ ! -e /cpcrl-test-empty-runs-dir ]
check "8 --runs-dir '': exit 2, names the flag, nothing written under / (status $st)" $? "$(head -1 "$TMP/e8.err")"
rm -rf /cpcrl-test-empty-runs-dir
printf 'runs_dir =\nname = cpcrl-test-empty-runs-dir\nframes = 2e3\n' >"$TMP/e8.txt"
"$CPCRL" train --config "$TMP/e8.txt" --progress 0 >/dev/null 2>"$TMP/e8.err"
st=$?
[ $st -eq 2 ] && grep -q "runs.dir" "$TMP/e8.err" && [ ! -e /cpcrl-test-empty-runs-dir ]
check "8 'runs_dir =' in a config file: exit 2, nothing written under / (status $st)" $? "$(head -1 "$TMP/e8.err")"
rm -rf /cpcrl-test-empty-runs-dir
cd - >/dev/null || exit 1

# ----------------------------------------------------------------------------
# 11. config.txt must agree with the checkpoint on resume

train cfg --frames 4e3
sed -i 's/^lr = .*/lr = 0.5/; s/^hidden = .*/hidden = 64/' "$R/cfg/config.txt"
before=$(listing "$R/cfg")
"$CPCRL" train --resume "$R/cfg" --frames 8e3 >/dev/null 2>"$TMP/cfg2.err"
st=$?
[ $st -eq 2 ] && grep -q "config.txt" "$TMP/cfg2.err" && grep -qw "lr" "$TMP/cfg2.err" &&
    grep -qw "hidden" "$TMP/cfg2.err" && [ "$before" = "$(listing "$R/cfg")" ]
check "11 resume with an edited config.txt: exit 2, lists lr and hidden, nothing changed (status $st)" $? \
    "$(head -3 "$TMP/cfg2.err")"
rm "$R/cfg/config.txt"
"$CPCRL" train --resume "$R/cfg" --frames 8e3 --threads 1 --progress 0 >/dev/null 2>"$TMP/cfg3.err"
st=$?
[ $st -eq 0 ] && grep -q "^frames = 8000$" "$R/cfg/config.txt" && ! grep -q "^lr = 0.5$" "$R/cfg/config.txt"
check "11 resume rewrites config.txt from the checkpoint (and the new --frames) (status $st)" $? \
    "$(tail -1 "$TMP/cfg3.err")"
"$CPCRL" train --resume "$R/cfg" --lr 0.1 >/dev/null 2>"$TMP/cfg4.err"
st=$?
[ $st -eq 2 ] && grep -q "model.ckpt" "$TMP/cfg4.err"
check "11 --lr on resume: exit 2, names the checkpoint as what holds the setting (status $st)" $? \
    "$(head -1 "$TMP/cfg4.err")"

# ----------------------------------------------------------------------------
# Smaller items

rm "$R/cfg/log.csv"
"$CPCRL" train --resume "$R/cfg" --frames 1e4 --threads 1 --progress 0 >/dev/null 2>"$TMP/nolog.err"
st=$?
[ $st -eq 0 ] && grep -q "log.csv" "$TMP/nolog.err" && head -1 "$R/cfg/log.csv" | grep -q "^frames," &&
    log_whole "$R/cfg/log.csv"
check "resume with log.csv missing: runs, says so, starts a new log with its header (status $st)" $? \
    "$(tail -2 "$TMP/nolog.err")"
rm -rf "$R/cfg"

numflag() { # NAME WANT-STATUS ARGS...
    local name=$1 want=$2 st
    shift 2
    "$CPCRL" show goal "$@" >/dev/null 2>"$TMP/num.err"
    st=$?
    [ $st -eq "$want" ]
    check "number syntax: $name => exit $want (got $st)" $? "$(head -1 "$TMP/num.err")"
}
numflag "--seed ' -1' (wraps around)" 2 --seed " -1"
numflag "--seed ' 5' (blank)" 2 --seed " 5"
numflag "--size 0x9 (hex integer)" 2 --size 0x9
numflag "--max-steps 0x1p6 (hex float)" 2 --max-steps 0x1p6
numflag "--max-steps 1e2 (exponent on an integer flag, like --frames)" 0 --max-steps 1e2
numflag "--max-steps 1.5 (not whole)" 2 --max-steps 1.5
numflag "--seed 18446744073709551615 (largest)" 0 --seed 18446744073709551615
numflag "--seed 18446744073709551616 (too large)" 2 --seed 18446744073709551616
"$CPCRL" train --runs-dir "$R" --name hexlr --lr 0x1p-10 --frames 2e3 --progress 0 >/dev/null 2>&1
check "number syntax: --lr 0x1p-10 (hex float) => exit 2 (got $?)" $(( $? != 2 ))
"$CPCRL" show goal tmaze >/dev/null 2>"$TMP/pos.err"
st=$?
[ $st -eq 2 ] && grep -q "tmaze" "$TMP/pos.err"
check "extra positional word (show goal tmaze) refused: exit 2 (got $st)" $? "$(head -1 "$TMP/pos.err")"

printf '\xef\xbb\xbfhidden = 32\nconv1 = 4\n' >"$TMP/bom.txt"
# shellcheck disable=SC2086
"$CPCRL" train --config "$TMP/bom.txt" $TINY --runs-dir "$R" --name bom --frames 1e3 >/dev/null 2>"$TMP/bom.err"
check "config.txt with a UTF-8 BOM is read" $? "$(head -1 "$TMP/bom.err")"
rm -rf "$R/bom"
printf 'hidden = 32\nlr = 0.001\nhidden = 64\n' >"$TMP/dup.txt"
"$CPCRL" train --config "$TMP/dup.txt" --runs-dir "$R" --name dup --frames 1e3 >/dev/null 2>"$TMP/dup.err"
st=$?
[ $st -eq 2 ] && grep -q "dup.txt:3" "$TMP/dup.err" && grep -q "hidden" "$TMP/dup.err" && [ ! -e "$R/dup" ]
check "config.txt with a duplicate key: exit 2, names file:line and the key (status $st)" $? \
    "$(head -1 "$TMP/dup.err")"

long="$TMP/$(printf 'd%.0s' $(seq 1 250))/$(printf 'e%.0s' $(seq 1 250))/$(printf 'f%.0s' $(seq 1 100))"
"$CPCRL" train --config "$long/config.txt" >/dev/null 2>"$TMP/long.err"
st=$?
grep -q "No such file or directory" "$TMP/long.err"
check "a 600-character --config path: the error keeps its reason (status $st)" $? "$(head -c 300 "$TMP/long.err")"
"$CPCRL" train --resume "$long" >/dev/null 2>"$TMP/long.err"
st=$?
[ $st -eq 1 ] && grep -q "No such file or directory" "$TMP/long.err"
check "a 600-character --resume path: exit 1, the error keeps its reason (status $st)" $? \
    "$(head -c 300 "$TMP/long.err")"
