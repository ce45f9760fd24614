#!/bin/bash
# test_reliability.sh — end-to-end reliability tests of the `cpcrl` binary:
# determinism, interruption and resume, non-finite losses, full disk and
# unwritable run directories, failed resumes, impossible configurations and
# damaged checkpoints. Tiny nets, so the whole file runs in well under two
# minutes on 2 cores. Prints one line per check and a closing
# "N passed, N failed"; exits non-zero when any check fails.
#
# usage: tests/test_reliability.sh [CPCRL]    (default ./cpcrl, built by make)
#        CPCRL=build-asan/cpcrl tests/test_reliability.sh
#        RELIABILITY_VALGRIND=1 ...           also run train + eval under
#                                             valgrind (needs a build without
#                                             AVX-512, e.g. make debug)
#
# What the files contain, and so what can be compared byte for byte:
# model.ckpt embeds config.txt, and config.txt holds the run's name and
# runs_dir, so two runs are compared at the same path (the first one is
# moved away before the second starts). --threads and --progress are run-time
# settings that `train --resume` takes from its own command line (and writes
# into the next checkpoint's config), so resumes pass the original values.
# log.csv's `sps` column is wall-clock and is left out of every comparison.
set -u
cd "$(dirname "$0")/.." || exit 1

CPCRL=${1:-${CPCRL:-./cpcrl}}
[ -x "$CPCRL" ] || { echo "test_reliability: $CPCRL not built (run make)"; echo "0 passed, 1 failed"; exit 1; }
CPCRL=$(cd "$(dirname "$CPCRL")" && pwd)/$(basename "$CPCRL")
TMP=$(mktemp -d /tmp/cpcrl-reliability.XXXXXX)
MNT=""
cleanup() {
    [ -n "$MNT" ] && umount "$MNT" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # exit through cleanup (unmounts the tmpfs)
export OPENBLAS_NUM_THREADS=1
unset CPCRL_FAULT_NAN_AT

# shellcheck source=tests/check.sh
. tests/check.sh

TINY="--conv1 4 --conv2 4 --latent 32 --hidden 32 --envs 8 --unroll 8 --cpc-k 3
      --log-every 2e3 --ckpt-every 4e3 --threads 1 --progress 0"
R="$TMP/runs" # every training run writes $R/NAME
mkdir -p "$R"

# train NAME [flags]: stderr in $TMP/NAME.err, exit status returned
train() {
    local name=$1
    shift
    # shellcheck disable=SC2086
    "$CPCRL" train $TINY --runs-dir "$R" --name "$name" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
}
# train_bg NAME [flags]: the same in the background, its pid in $PID (the
# binary itself, so that signals reach it and not a subshell)
train_bg() {
    local name=$1
    shift
    # shellcheck disable=SC2086
    "$CPCRL" train $TINY --runs-dir "$R" --name "$name" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    PID=$!
}
# log.csv without the wall-clock sps column
nosps() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "sps") c = i }
             { out = ""; for (i = 1; i <= NF; i++) if (i != c) out = out (out == "" && i == 1 ? "" : ",") $i; print out }' "$1"
}
rows() { [ -f "$1" ] && echo $(($(wc -l <"$1") - 1)) || echo 0; }
# content listing of a directory: every file's checksum, and every name
listing() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum && find . | sort); }
# wait until FILE has at least N data rows, or the process is gone
wait_rows() { # PID FILE N
    local i
    for ((i = 0; i < 2000; i++)); do
        kill -0 "$1" 2>/dev/null || return 1
        [ "$(rows "$2")" -ge "$3" ] && return 0
        sleep 0.02
    done
    return 1
}
has_python() { command -v python3 >/dev/null 2>&1; }
# ckpt_edit FILE RECORD OFFSET STRUCTFMT VALUE: overwrite bytes inside a
# record's data and recompute the CRC (a damaged file that passes the CRC)
ckpt_edit() {
    python3 - "$@" <<'EOF'
import struct, sys, zlib
path, rec, off, fmt, val = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
d = bytearray(open(path, "rb").read())
(cfglen,) = struct.unpack_from("<I", d, 12)
o = 16 + cfglen
(n,) = struct.unpack_from("<I", d, o); o += 4
for _ in range(n):
    (nl,) = struct.unpack_from("<I", d, o); o += 4
    name = bytes(d[o:o + nl]).decode(); o += nl
    dt, nd = struct.unpack_from("<II", d, o); o += 8
    dims = struct.unpack_from("<%dI" % nd, d, o); o += 4 * nd
    cnt = 1
    for x in dims: cnt *= x
    if name == rec:
        v = float(val) if fmt[-1] in "fd" else int(val)
        struct.pack_into(fmt, d, o + off, v)
        break
    o += cnt * [4, 1, 8, 8][dt]
else:
    sys.exit("no record " + rec)
struct.pack_into("<I", d, len(d) - 4, zlib.crc32(bytes(d[:-4])))
open(path, "wb").write(d)
EOF
}

echo "test_reliability: $CPCRL, scratch $TMP"

# ----------------------------------------------------------------------------
# Determinism: same seed + config on one thread => identical bytes

train det --frames 2e4
st1=$?
mv "$R/det" "$TMP/det1"
train det --frames 2e4
st2=$?
mv "$R/det" "$TMP/det2"
check "determinism: two runs exit 0" $((st1 | st2)) "$(tail -2 "$TMP/det.err")"
cmp -s "$TMP/det1/model.ckpt" "$TMP/det2/model.ckpt"
check "determinism: same seed, 1 thread => identical model.ckpt" $?
cmp -s <(nosps "$TMP/det1/log.csv") <(nosps "$TMP/det2/log.csv")
check "determinism: same seed => identical log.csv except sps ($(rows "$TMP/det1/log.csv") rows)" $?
cmp -s "$TMP/det1/config.txt" "$TMP/det2/config.txt"
check "determinism: identical config.txt" $?
train det --frames 2e4 --seed 2
mv "$R/det" "$TMP/det3"
! cmp -s <(nosps "$TMP/det1/log.csv" | tail -n +2) <(nosps "$TMP/det3/log.csv" | tail -n +2)
check "determinism: a different seed gives different log rows" $?

# More threads: OpenBLAS splits each GEMM the same way for a given thread
# count, so a fixed --threads N repeats bit for bit; changing N changes the
# rounding of the sums (a medium net, so that OpenBLAS does use 2 threads)
MED="--conv1 8 --conv2 16 --latent 128 --hidden 128 --envs 16 --unroll 10 --frames 1e4 --ckpt-every 1e4"
unset OPENBLAS_NUM_THREADS
# shellcheck disable=SC2086
train thr $MED --threads 2
mv "$R/thr" "$TMP/thr1"
# shellcheck disable=SC2086
train thr $MED --threads 2
mv "$R/thr" "$TMP/thr2"
cmp -s "$TMP/thr1/model.ckpt" "$TMP/thr2/model.ckpt" &&
    cmp -s <(nosps "$TMP/thr1/log.csv") <(nosps "$TMP/thr2/log.csv")
check "determinism: --threads 2 twice => identical model.ckpt and log.csv" $?
# shellcheck disable=SC2086
train thr $MED --threads 1
cmp -s <(nosps "$TMP/thr1/log.csv") <(nosps "$R/thr/log.csv") ||
    echo "note: --threads 1 and --threads 2 differ in the last bits (expected: BLAS summation order)"
rm -rf "$R/thr"
export OPENBLAS_NUM_THREADS=1

# ----------------------------------------------------------------------------
# Interruption: straight through vs stopped and resumed => same final state

FR=6e4 # ~2-4 s of tiny training: room to interrupt after a few rows
train int --frames $FR
st=$?
mv "$R/int" "$TMP/straight"
check "interrupt: straight-through run exits 0" $st "$(tail -2 "$TMP/int.err")"

# SIGINT after 3 log rows: writes a partial row + checkpoint, exits 0
train_bg int --frames $FR
wait_rows $PID "$R/int/log.csv" 3
kill -INT $PID 2>/dev/null
wait $PID
st=$?
grep -q "interrupted, saved" "$TMP/int.err"
check "SIGINT: exits 0 and says it saved (status $st)" $((st | $?)) "$(tail -3 "$TMP/int.err")"
int_rows=$(rows "$R/int/log.csv")
"$CPCRL" train --resume "$R/int" --threads 1 --progress 0 >"$TMP/res.out" 2>"$TMP/res.err"
check "SIGINT: --resume runs to the end" $? "$(tail -2 "$TMP/res.err")"
cmp -s "$TMP/straight/model.ckpt" "$R/int/model.ckpt"
check "SIGINT + resume: final model.ckpt identical to straight-through" $?
# the log gains the partial row written at the interruption (none when the
# interrupted update happened to end on a log boundary: that row is the
# regular one); every other row is at the same frames/updates (its means
# cover a shorter interval)
cut -d, -f1,2 "$TMP/straight/log.csv" >"$TMP/s.fu"
cut -d, -f1,2 "$R/int/log.csv" >"$TMP/i.fu"
extra=$(comm -13 <(sort "$TMP/s.fu") <(sort "$TMP/i.fu") | wc -l)
missing=$(comm -23 <(sort "$TMP/s.fu") <(sort "$TMP/i.fu") | wc -l)
[ "$extra" -le 1 ] && [ "$missing" -eq 0 ]
check "SIGINT + resume: log.csv = straight rows + at most 1 partial row (at interrupt, row $int_rows)" $? \
    "extra rows $extra, missing rows $missing"
ls "$R/int"/*.tmp* >/dev/null 2>&1
check "SIGINT + resume: no *.tmp left" $((! $?))
rm -rf "$R/int"

# SIGKILL after the first checkpoint (and at least one row past it)
train_bg int --frames $FR
wait_rows $PID "$R/int/log.csv" 3 # rows at ~2k and ~4k (checkpoint) and ~6k
[ -f "$R/int/model.ckpt" ]
had_ckpt=$?
kill -KILL $PID 2>/dev/null
wait $PID 2>/dev/null
check "SIGKILL: a checkpoint existed before the kill" $had_ckpt
kill_rows=$(rows "$R/int/log.csv")
"$CPCRL" train --resume "$R/int" --threads 1 --progress 0 >"$TMP/res.out" 2>"$TMP/res.err"
check "SIGKILL: --resume runs to the end (killed at $kill_rows rows)" $? "$(tail -2 "$TMP/res.err")"
cmp -s "$TMP/straight/model.ckpt" "$R/int/model.ckpt"
check "SIGKILL + resume: final model.ckpt identical to straight-through" $?
cmp -s <(nosps "$TMP/straight/log.csv") <(nosps "$R/int/log.csv")
check "SIGKILL + resume: log.csv identical except sps (rows past the checkpoint dropped, redone)" $?
ls "$R/int"/*.tmp* >/dev/null 2>&1
check "SIGKILL + resume: no *.tmp left" $((! $?))
rm -rf "$R/int"

# ----------------------------------------------------------------------------
# Non-finite loss: stop with a message naming the update and the term, keep
# the last good checkpoint byte for byte (a run checkpointed at update 4 is
# resumed; update 5's loss is made NaN)

train nan --frames 256 --log-every 128 --ckpt-every 128
check "NaN: 4-update run to start from" $? "$(tail -2 "$TMP/nan.err")"
before=$(listing "$R/nan")
CPCRL_FAULT_NAN_AT=5 "$CPCRL" train --resume "$R/nan" --frames 2e4 >"$TMP/nan2.out" 2>"$TMP/nan2.err"
st=$?
[ $st -eq 1 ]
check "NaN at update 5: exit status 1 (got $st)" $? "$(tail -2 "$TMP/nan2.err")"
grep -q "non-finite loss at update 5" "$TMP/nan2.err" && grep -q "value nan" "$TMP/nan2.err"
check "NaN at update 5: message names the update and the term" $? "$(tail -1 "$TMP/nan2.err")"
[ "$before" = "$(listing "$R/nan")" ]
check "NaN at update 5: run directory (model.ckpt, log.csv) byte-identical to before" $?
CPCRL_FAULT_NAN_AT=5 "$CPCRL" train $TINY --runs-dir "$R" --name nan3 --frames 2e4 --log-every 128 \
    --ckpt-every 128 >/dev/null 2>"$TMP/nan3.err"
st=$?
"$CPCRL" eval "$R/nan3" --episodes 2 >/dev/null 2>&1
check "NaN in a fresh run: exit 1 ($st) and the kept checkpoint loads" $(( (st != 1) | $? ))

# ----------------------------------------------------------------------------
# Full disk / unwritable run directory (tmpfs; needs root)

# room for one checkpoint (same config as the determinism runs) and the
# small files, not for two: NAME.tmp cannot be written beside NAME
ck_kb=$(( $(stat -c %s "$TMP/det1/model.ckpt") / 1024 ))
disk_kb=$(( ck_kb + ck_kb / 2 + 32 ))
if [ "$(id -u)" = 0 ] && mkdir -p "$TMP/disk" &&
    mount -t tmpfs -o size=${disk_kb}k tmpfs "$TMP/disk" 2>/dev/null; then
    MNT="$TMP/disk"
    # the first checkpoint is written, the second fails with ENOSPC
    "$CPCRL" train $TINY --runs-dir "$TMP/disk" --name full --frames 2e4 >/dev/null 2>"$TMP/full.err"
    st=$?
    [ $st -eq 1 ] && grep -q "No space left on device" "$TMP/full.err"
    check "full disk: exit 1 with a clear error (status $st)" $? "$(grep -i "fail\|space" "$TMP/full.err" | head -2)"
    ls "$TMP/disk/full"/*.tmp* >/dev/null 2>&1
    check "full disk: no *.tmp left behind" $((! $?))
    # the checkpoint left is the first one (update 0): same bytes as a run
    # stopped by a NaN right after it (same config text, same path)
    mv "$TMP/disk/full" "$TMP/full"
    CPCRL_FAULT_NAN_AT=1 "$CPCRL" train $TINY --runs-dir "$TMP/disk" --name full --frames 2e4 \
        >/dev/null 2>/dev/null
    cmp -s "$TMP/full/model.ckpt" "$TMP/disk/full/model.ckpt"
    check "full disk: previous checkpoint intact (= first checkpoint, byte for byte)" $?
    # read-only run directory: --resume refuses before touching anything
    before=$(listing "$TMP/disk/full")
    mount -o remount,ro "$TMP/disk"
    "$CPCRL" train --resume "$TMP/disk/full" --frames 3e4 >/dev/null 2>"$TMP/ro.err"
    st=$?
    [ $st -eq 1 ] && grep -qi "read-only" "$TMP/ro.err"
    check "read-only run dir: --resume exits 1 with a clear error (status $st)" $? "$(tail -1 "$TMP/ro.err")"
    "$CPCRL" train $TINY --runs-dir "$TMP/disk" --name new --frames 2e3 >/dev/null 2>"$TMP/ro2.err"
    st=$?
    [ $st -eq 1 ] && grep -qi "read-only" "$TMP/ro2.err"
    check "read-only runs dir: a new run exits 1 with a clear error (status $st)" $? "$(tail -1 "$TMP/ro2.err")"
    [ "$before" = "$(listing "$TMP/disk/full")" ]
    check "read-only run dir: checkpoint and log intact" $?
    umount "$TMP/disk" && MNT=""
else
    echo "skip full disk / read-only tmpfs tests: need root and mount -t tmpfs"
fi

# ----------------------------------------------------------------------------
# A failed --resume leaves the run directory exactly as it was

train base --frames 8e3
base="$R/base"
cp -a "$base" "$TMP/base.orig"
resume_fails() { # NAME: corrupt $base/model.ckpt first; expects exit 1 + message
    local name=$1 pattern=$2 before st
    before=$(listing "$base")
    "$CPCRL" train --resume "$base" --frames 2e4 >/dev/null 2>"$TMP/rf.err"
    st=$?
    [ $st -eq 1 ] && grep -q "model.ckpt" "$TMP/rf.err" && grep -qi "$pattern" "$TMP/rf.err"
    check "failed resume ($name): exit 1, message names the file and '$pattern' (status $st)" $? \
        "$(tail -1 "$TMP/rf.err")"
    [ "$before" = "$(listing "$base")" ]
    check "failed resume ($name): run directory byte-identical" $?
    rm -rf "$base" && cp -a "$TMP/base.orig" "$base"
}
size=$(stat -c %s "$base/model.ckpt")
printf '\xff' | dd of="$base/model.ckpt" bs=1 seek=$((size / 2)) conv=notrunc status=none
resume_fails "flipped byte" "CRC"
truncate -s $((size / 3)) "$base/model.ckpt"
resume_fails "truncated" "CRC\|truncated"
printf 'XPCRLCKP' | dd of="$base/model.ckpt" bs=1 conv=notrunc status=none
resume_fails "wrong magic" "not a cpcrl checkpoint"
: >"$base/model.ckpt"
resume_fails "empty file" "not a cpcrl checkpoint"
rm -f "$base/model.ckpt"
resume_fails "missing file" "cannot open"
if has_python; then
    printf '\x03' | dd of="$base/model.ckpt" bs=1 seek=8 conv=notrunc status=none
    python3 -c "import sys,zlib,struct; p=sys.argv[1]; d=bytearray(open(p,'rb').read()); struct.pack_into('<I', d, len(d)-4, zlib.crc32(bytes(d[:-4]))); open(p,'wb').write(d)" "$base/model.ckpt"
    resume_fails "version 3, valid CRC" "version 3"
    # damaged files that pass the CRC: the loader validates every record
    ckpt_edit "$base/model.ckpt" state/prev_action 0 "<i" 7
    resume_fails "action 7 in state/prev_action" "prev_action"
    # the envs field by field (docs/files.md): env 0's values first, i64 each
    ckpt_edit "$base/model.ckpt" state/envs/w 0 "<q" 200
    resume_fails "env map width 200" "state/envs"
    ckpt_edit "$base/model.ckpt" state/envs/carrying 0 "<q" 99
    resume_fails "env carrying item kind 99" "state/envs"
    ckpt_edit "$base/model.ckpt" param/lstm.w_ih 0 "<f" nan
    resume_fails "NaN parameter" "expected a finite number"
    # the log/checkpoint schedule read back: a next-log frame of -1e300
    # would make the trainer loop for ever (next_log += log_every)
    ckpt_edit "$base/model.ckpt" state/extra 0 "<d" -1e300
    before=$(listing "$base")
    timeout -k 2 20 "$CPCRL" train --resume "$base" --frames 2e4 >/dev/null 2>"$TMP/rf.err"
    st=$?
    [ $st -eq 1 ]
    check "failed resume (next log row at -1e300 frames): refused, exit 1 (status $st; 124 = hung)" $? \
        "$(tail -1 "$TMP/rf.err")"
    rm -rf "$base" && cp -a "$TMP/base.orig" "$base"
else
    echo "skip crafted-checkpoint resume tests: python3 not found"
fi
# --resume takes the settings embedded in model.ckpt; config.txt is their
# copy for people and must agree with it, so a damaged one stops the resume
# (exit 2, naming file:line) before anything changes
echo "hidden = banana" >>"$base/config.txt"
before=$(listing "$base")
"$CPCRL" train --resume "$base" --frames 1e4 >/dev/null 2>"$TMP/rc.err"
st=$?
[ $st -eq 2 ] && grep -q "config.txt:[0-9]" "$TMP/rc.err" && [ "$before" = "$(listing "$base")" ]
check "resume with a damaged config.txt: exit 2, names file:line, nothing changed (status $st)" $? \
    "$(head -1 "$TMP/rc.err")"
rm -rf "$base" && cp -a "$TMP/base.orig" "$base"
# ... while --config with a bad file is refused before any work
echo "hidden = banana" >"$TMP/bad.txt"
"$CPCRL" train --config "$TMP/bad.txt" --runs-dir "$R" --name badcfg >/dev/null 2>"$TMP/bc.err"
st=$?
[ $st -eq 2 ] && grep -q "bad.txt:1" "$TMP/bc.err" && [ ! -e "$R/badcfg" ]
check "--config with a bad file: exit 2, message names file:line, nothing created (status $st)" $? \
    "$(head -1 "$TMP/bc.err")"

# ----------------------------------------------------------------------------
# Impossible configurations: refused with exit 2 and a message, before work

refused() { # NAME PATTERN FLAGS...
    local name=$1 pattern=$2 st before
    shift 2
    before=$(ls -A "$R")
    "$CPCRL" train --runs-dir "$R" --name refused --frames 2e3 --progress 0 "$@" >/dev/null 2>"$TMP/ref.err"
    st=$?
    [ $st -eq 2 ] && grep -qi -- "$pattern" "$TMP/ref.err" && [ "$before" = "$(ls -A "$R")" ]
    check "refused: $name => exit 2, '$pattern', nothing written (status $st)" $? "$(head -1 "$TMP/ref.err")"
    rm -rf "$R/refused" "$R/ x"
}
refused "--cpc-k 20 --unroll 10 (K >= T)" "cpc-k" --cpc-k 20 --unroll 10
refused "--envs 1 with CPC on" "at least 2 envs" --envs 1
refused "--cpc-k 100 --unroll 200 (K above the 64 the trainer holds)" "cpc-k" --cpc-k 100 --unroll 200
refused "--view 8 (even)" "view" --view 8
refused "--size 8 --task goal (even maze)" "size" --task goal --size 8
refused "--items 40 --task seekavoid --size 7" "items" --task seekavoid --size 7 --items 40
refused "--task nope" "unknown value 'nope'" --task nope
refused "--frames -1" "frames" --frames -1
refused "--frames 1.5" "whole number" --frames 1.5
refused "--lr abc" "expected a number" --lr abc
refused "--lr nan" "expected a number" --lr nan
refused "--seed -1" "non-negative" --seed -1
refused "unknown flag --nope" "unknown option" --nope 1
refused "--envs (missing value)" "missing value" --envs
refused "--name a/b" "name" --name a/b
refused "--name ' x' (config.txt could not give it back)" "blank" --name " x"
# A view window larger than the maze is accepted: cells outside the map are
# observed as "unseen" (test_env.c uses size 5 with the default view 7).
"$CPCRL" show goal --view 9 --size 7 >/dev/null 2>&1 && echo "note: --view 9 --size 7 is accepted (view > size is valid)"

# ----------------------------------------------------------------------------
# eval on damaged checkpoints: exit 1 with a message naming the file and the
# problem; never a crash (a crash is status >= 128, a sanitizer error 1 with
# its report, which the message check below would not match)

good="$TMP/base.orig/model.ckpt"
eval_fails() { # NAME PATTERN FILE
    local name=$1 pattern=$2 file=$3 st
    "$CPCRL" eval "$file" --episodes 2 >/dev/null 2>"$TMP/ev.err"
    st=$?
    [ $st -eq 1 ] && grep -q -- "$file" "$TMP/ev.err" && grep -qi -- "$pattern" "$TMP/ev.err" &&
        ! grep -q "Sanitizer\|runtime error" "$TMP/ev.err"
    check "eval $name: exit 1, names the file and '$pattern' (status $st)" $? "$(head -2 "$TMP/ev.err")"
}
"$CPCRL" eval "$good" --episodes 4 >/dev/null 2>&1
check "eval of a good checkpoint works" $?
# success is counted over exactly the N episodes (not the extra ones that
# finish while the last envs complete their share): N x rate is a whole number
ev=$("$CPCRL" eval "$good" --episodes 7 --threads 1 2>/dev/null | head -1)
echo "$ev" | grep -q "^[^ ]*: 7 episodes" &&
    echo "$ev" | sed -n 's/.*success \([0-9.]*\)%.*/\1/p' |
    awk '{ k = $1 * 7 / 100; exit !(NF == 1 && (k - int(k + 0.5)) ^ 2 < 1e-4) }'
check "eval: success rate over exactly the N episodes counted" $? "$ev"
cp "$good" "$TMP/e1.ckpt" && truncate -s 1000 "$TMP/e1.ckpt"
eval_fails "truncated" "CRC\|truncated" "$TMP/e1.ckpt"
cp "$good" "$TMP/e2.ckpt" && printf '\x00' | dd of="$TMP/e2.ckpt" bs=1 seek=5000 conv=notrunc status=none
eval_fails "corrupt byte" "CRC" "$TMP/e2.ckpt"
printf 'hello\n' >"$TMP/e3.ckpt"
eval_fails "text file" "not a cpcrl checkpoint" "$TMP/e3.ckpt"
head -c 24 "$good" >"$TMP/e4.ckpt"
eval_fails "24-byte header only" "CRC\|truncated\|short" "$TMP/e4.ckpt"
eval_fails "missing file" "cannot open" "$TMP/nonexistent.ckpt"
mkdir -p "$TMP/e5.ckpt"
eval_fails "a directory without model.ckpt" "cannot open\|not a regular" "$TMP/e5.ckpt"
if has_python; then
    cp "$good" "$TMP/e6.ckpt"
    printf '\x09' | dd of="$TMP/e6.ckpt" bs=1 seek=8 conv=notrunc status=none
    python3 -c "import sys,zlib,struct; p=sys.argv[1]; d=bytearray(open(p,'rb').read()); struct.pack_into('<I', d, len(d)-4, zlib.crc32(bytes(d[:-4]))); open(p,'wb').write(d)" "$TMP/e6.ckpt"
    eval_fails "wrong version (9, valid CRC)" "version 9" "$TMP/e6.ckpt"
    cp "$good" "$TMP/e7.ckpt"
    ckpt_edit "$TMP/e7.ckpt" param/pi.w 0 "<f" inf
    eval_fails "infinite parameter (valid CRC)" "expected a finite number" "$TMP/e7.ckpt"
fi

# ----------------------------------------------------------------------------
# Replays (when this cpcrl has them): damaged .rpl files are refused with a
# message naming the file; a good one verifies by re-simulation

if "$CPCRL" help replay >/dev/null 2>&1 &&
    "$CPCRL" eval "$good" --episodes 1 --record "$TMP/rec" >/dev/null 2>&1 && [ -f "$TMP/rec/ep0000.rpl" ]; then
    rpl="$TMP/rec/ep0000.rpl"
    "$CPCRL" replay "$rpl" --verify >/dev/null 2>"$TMP/rv.err"
    check "replay: a recorded episode verifies by re-simulation" $? "$(tail -1 "$TMP/rv.err")"
    replay_fails() { # NAME PATTERN FILE
        local st
        "$CPCRL" replay "$3" --info >/dev/null 2>"$TMP/rp.err"
        st=$?
        [ $st -eq 1 ] && grep -q -- "$3" "$TMP/rp.err" && grep -qi -- "$2" "$TMP/rp.err"
        check "replay --info $1: exit 1, names the file and '$2' (status $st)" $? "$(head -1 "$TMP/rp.err")"
    }
    rsize=$(stat -c %s "$rpl")
    cp "$rpl" "$TMP/r1.rpl" && truncate -s $((rsize / 2)) "$TMP/r1.rpl"
    replay_fails "truncated" "truncated" "$TMP/r1.rpl"
    cp "$rpl" "$TMP/r2.rpl" && printf '\x5a' | dd of="$TMP/r2.rpl" bs=1 seek=$((rsize / 2)) conv=notrunc status=none
    replay_fails "corrupt byte" "CRC" "$TMP/r2.rpl"
    cp "$good" "$TMP/r3.rpl"
    replay_fails "a checkpoint passed as a replay" "not a cpcrl replay" "$TMP/r3.rpl"
    cp "$rpl" "$TMP/r4.rpl" && printf '\x07' | dd of="$TMP/r4.rpl" bs=1 seek=8 conv=notrunc status=none
    replay_fails "version 7" "version" "$TMP/r4.rpl"
else
    echo "skip replay tests: this cpcrl has no replay command / eval --record"
fi

# the training side of issue #20 (run directory lock, log on a full disk, ...)
. tests/reliability_train.sh

# ----------------------------------------------------------------------------
# valgrind (opt-in: slow, and needs a binary without AVX-512 instructions)

if [ -n "${RELIABILITY_VALGRIND:-}" ]; then
    if command -v valgrind >/dev/null; then
        VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
        # OPENBLAS_CORETYPE, OPENBLAS_THREAD_TIMEOUT and OMP_WAIT_POLICY set:
        # cpcrl does not re-exec itself (under valgrind /proc/self/exe is
        # valgrind's tool), and no AVX-512 kernels, which valgrind cannot run
        export OPENBLAS_THREAD_TIMEOUT=4 OMP_WAIT_POLICY=PASSIVE
        OPENBLAS_CORETYPE=Haswell $VG "$CPCRL" train $TINY --runs-dir "$R" --name vg --frames 1e3 \
            --log-every 512 --ckpt-every 512 >/dev/null 2>"$TMP/vg1.err"
        check "valgrind: train clean" $? "$(grep -m3 "==\|Invalid\|lost" "$TMP/vg1.err")"
        OPENBLAS_CORETYPE=Haswell $VG "$CPCRL" eval "$R/vg" --episodes 2 >/dev/null 2>"$TMP/vg2.err"
        check "valgrind: eval clean" $? "$(grep -m3 "==\|Invalid\|lost" "$TMP/vg2.err")"
        OPENBLAS_CORETYPE=Haswell $VG "$CPCRL" eval "$TMP/e1.ckpt" >/dev/null 2>"$TMP/vg3.err"
        [ $? -eq 1 ] && grep -q "CRC" "$TMP/vg3.err"
        check "valgrind: eval of a truncated checkpoint clean" $? "$(grep -m3 "==\|Invalid\|lost" "$TMP/vg3.err")"
        if OPENBLAS_CORETYPE=Haswell $VG "$CPCRL" eval "$R/vg" --episodes 1 --record "$TMP/vgrec" \
            >/dev/null 2>"$TMP/vg4.err"; then
            OPENBLAS_CORETYPE=Haswell $VG "$CPCRL" replay "$TMP/vgrec/ep0000.rpl" --info >/dev/null 2>>"$TMP/vg4.err"
        fi
        check "valgrind: eval --record + replay --info clean" $? "$(grep -m3 "==\|Invalid\|lost" "$TMP/vg4.err")"
    else
        echo "skip valgrind: not installed"
    fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
