#!/bin/bash
# test_reliability_cli.sh — end-to-end reliability tests of the commands
# around training: replays (eval --record, replay --verify / --export / --info,
# play and watch saving), train --record-every, compare (children, unfinished
# runs, flags) and bench flags. Each check names the issue item it covers
# (issue #20). Tiny nets; SDL windows use the dummy video driver (no display).
# Prints one line per check and "N passed, N failed"; exits non-zero when any
# check fails.
#
# usage: tests/test_reliability_cli.sh [CPCRL]    (default ./cpcrl)
set -u
cd "$(dirname "$0")/.." || exit 1

CPCRL=${1:-${CPCRL:-./cpcrl}}
[ -x "$CPCRL" ] || { echo "test_reliability_cli: $CPCRL not built (run make)"; echo "0 passed, 1 failed"; exit 1; }
CPCRL=$(cd "$(dirname "$CPCRL")" && pwd)/$(basename "$CPCRL")
TMP=$(mktemp -d /tmp/cpcrl-cli.XXXXXX)
BGPIDS=""
cleanup() {
    local p
    for p in $BGPIDS; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export OPENBLAS_NUM_THREADS=1 SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy
# SDL's libraries leak a little under ASan (see window_smoke.sh)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
unset CPCRL_FAULT_NAN_AT

# shellcheck source=tests/check.sh
. tests/check.sh
# expect_exit NAME WANT PATTERN CMD...: CMD exits WANT and its stderr matches PATTERN
expect_exit() {
    local name=$1 want=$2 pat=$3 st
    shift 3
    timeout -k 5 120 "$@" >"$TMP/x.out" 2>"$TMP/x.err" </dev/null
    st=$?
    [ $st -eq "$want" ] && grep -qi -- "$pat" "$TMP/x.err"
    check "$name (exit $st, want $want)" $? "$(grep -v OpenBLAS "$TMP/x.err" | head -2)"
}

NET="--conv1 4 --conv2 4 --latent 32 --hidden 32 --envs 8 --unroll 8 --cpc-k 3"
TINY="$NET --threads 1 --progress 0"
R="$TMP/runs"
echo "test_reliability_cli: $CPCRL, scratch $TMP"

# a small checkpoint to act with (seekavoid: returns vary from episode to episode)
# shellcheck disable=SC2086
"$CPCRL" train $TINY --task seekavoid --frames 2000 --log-every 1000 --ckpt-every 2000 --runs-dir "$R" \
    --name sa >"$TMP/sa.out" 2>"$TMP/sa.err"
check "setup: a small seekavoid checkpoint" $? "$(tail -2 "$TMP/sa.err")"
CK="$R/sa"

# rpl.py: read / forge replay headers behind a valid CRC (layout: replays/replay.h)
cat >"$TMP/rpl.py" <<'EOF'
import struct, sys, zlib
def load(p):
    d = open(p, "rb").read()
    zlen = struct.unpack_from("<I", d, 16)[0]
    return bytearray(zlib.decompress(d[20:20 + zlen]))
def save(p, body):
    z = zlib.compress(bytes(body))
    d = bytearray(b"CPCRLRPL" + struct.pack("<III", 1, len(body), len(z)) + z)
    d += struct.pack("<I", zlib.crc32(bytes(d)))
    open(p, "wb").write(d)
HDR = 168  # bytes before grid0; n at 148, end 152, ret 156, success 160
cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "stats":  # mean return and success rate of the files
    rs = [struct.unpack_from("<fI", load(p), 156) for p in args]
    print("%.3f %.1f" % (sum(r for r, _ in rs) / len(rs), 100.0 * sum(s > 0 for _, s in rs) / len(rs)))
elif cmd == "forge":  # IN OUT RET SUCCESS: header return and success changed
    b = load(args[0])
    struct.pack_into("<fI", b, 156, float(args[2]), int(args[3]))
    save(args[1], b)
elif cmd == "zero":  # IN OUT: 0 steps, "terminated", return +5 (frame 0 and its hash kept)
    b = load(args[0])
    w, h, A = struct.unpack_from("<III", b, 44)
    n = struct.unpack_from("<I", b, 148)[0]
    o = HDR + w * h
    f0 = bytes(b[o:o + 6])
    for t in range(n + 1):
        nd = struct.unpack_from("<H", b, o + 4)[0]
        o += 6 + 3 * nd
    o += n * (1 + 4 * (2 + A))
    h0 = bytes(b[o + 4:o + 16])  # the first hash: step 0
    out = bytearray(b[:HDR + w * h]) + f0 + struct.pack("<I", 1) + h0
    struct.pack_into("<IIfI", out, 148, 0, 1, 5.0, 0)
    save(args[1], out)
EOF
has_python() { command -v python3 >/dev/null 2>&1; }
# want N: run section N (all unless CLI_ONLY="9 10 s ..." names a subset)
want() { [ -z "${CLI_ONLY:-}" ] || [[ " $CLI_ONLY " == *" $1 "* ]]; }

# one recorded episode for the replay checks
"$CPCRL" eval "$CK" --episodes 1 --threads 1 --record "$TMP/base" >/dev/null 2>"$TMP/base.err"
check "setup: eval --record of one episode" $? "$(tail -2 "$TMP/base.err")"
RPL="$TMP/base/ep0000.rpl"

# ----------------------------------------------------------------------------
# 9. eval --record records exactly the evaluated episodes

if want 9; then

"$CPCRL" eval "$CK" --episodes 12 --seed 5 --threads 1 --record "$TMP/ev" >"$TMP/ev.out" 2>"$TMP/ev.err"
check "9: eval --record exits 0" $? "$(tail -2 "$TMP/ev.err")"
n=$(find "$TMP/ev" -name '*.rpl' 2>/dev/null | wc -l)
[ "$n" -eq 12 ]
check "9: eval --record --episodes 12 writes 12 replays (got $n)" $?
vfail=0
for f in "$TMP"/ev/*.rpl; do "$CPCRL" replay "$f" --verify >/dev/null 2>&1 || vfail=$((vfail + 1)); done
check "9: every recorded episode verifies ($vfail failed)" $vfail
if has_python; then
    want=$(sed -n 's/.*episodes.*return \([-0-9.]*\) ±.*success \([0-9.]*\)%.*/\1 \2/p' "$TMP/ev.out")
    got=$(python3 "$TMP/rpl.py" stats "$TMP"/ev/*.rpl 2>&1)
    [ -n "$want" ] && [ "$want" = "$got" ]
    check "9: replays' mean return and success = eval's ($got vs $want)" $? "$(cat "$TMP/ev.out")"
fi

# review 15: eval --record into a directory that holds episodes of an
# earlier call (here 12 of them, then a call of 3): refused, nothing changed
# (the 9 stale ones would have been taken for this call's)
before=$(ls "$TMP/ev" | wc -l)
"$CPCRL" eval "$CK" --episodes 3 --threads 1 --record "$TMP/ev" >/dev/null 2>"$TMP/ev2.err"
st=$?
[ $st -eq 1 ] && grep -q "already holds 12 recorded episodes" "$TMP/ev2.err" && [ "$(ls "$TMP/ev" | wc -l)" = "$before" ]
check "15: eval --record into a directory with episodes of another call: refused, nothing changed (exit $st)" $? \
    "$(tail -2 "$TMP/ev2.err")"

fi

# ----------------------------------------------------------------------------
# 10. replay --verify re-derives the header's return, success, length, end

if want 10; then

if has_python; then
    python3 "$TMP/rpl.py" forge "$RPL" "$TMP/forged.rpl" 99 1
    "$CPCRL" replay "$TMP/forged.rpl" --info >/dev/null 2>&1
    check "10: a re-packed replay (return +99) still loads (valid CRC)" $?
    expect_exit "10: --verify refuses a forged return +99 / success" 1 "return" \
        "$CPCRL" replay "$TMP/forged.rpl" --verify
    python3 "$TMP/rpl.py" zero "$RPL" "$TMP/zero.rpl"
    expect_exit "10: --verify refuses a 0-step 'terminated, return +5'" 1 "terminat\|return" \
        "$CPCRL" replay "$TMP/zero.rpl" --verify
fi

fi

# ----------------------------------------------------------------------------
# 14. replay --export starts the encoder without a shell and reports its failure

if want 14; then
# (a stand-in ffmpeg: records its argument count and writes its last argument)

mkdir -p "$TMP/bin" "$TMP/exp"
cat >"$TMP/bin/ffmpeg" <<'EOF'
#!/bin/bash
[ -n "${FAKE_FFMPEG_FAIL:-}" ] && { echo "fake ffmpeg: failing" >&2; exit 3; }
for a; do last=$a; done
cat >/dev/null
echo "$#" >"$(dirname "$0")/argc"
out=${last#file:}
# an MP4 of two boxes: ftyp (16 bytes), moov (8); FAKE_FFMPEG_TRUNCATE: ftyp
# and an mdat of 4096 bytes cut at 100 (no moov), as a full disk leaves it,
# exit 0 (ffmpeg 5.1 does); FAKE_FFMPEG_EMPTY: an empty file, exit 0
ftyp='\x00\x00\x00\x10ftypisom\x00\x00\x02\x00'
if [ -n "${FAKE_FFMPEG_EMPTY:-}" ]; then : >"$out"
elif [ -n "${FAKE_FFMPEG_TRUNCATE:-}" ]; then { printf "$ftyp"'\x00\x00\x10\x00mdat'; head -c 76 /dev/zero; } >"$out"
else printf "$ftyp"'\x00\x00\x00\x08moov' >"$out"; fi
EOF
chmod +x "$TMP/bin/ffmpeg"
(cd "$TMP/exp" && PATH="$TMP/bin:$PATH" "$CPCRL" replay "$RPL" --window 64x64 \
    --export "x.mp4'; touch INJECTED; echo '.mp4" >"$TMP/exp.out" 2>"$TMP/exp.err")
st=$?
[ ! -e "$TMP/exp/INJECTED" ]
check "14: a file name with quotes runs no shell command (no INJECTED file)" $?
[ $st -eq 0 ] && [ -f "$TMP/exp/x.mp4'; touch INJECTED; echo '.mp4" ]
check "14: the encoder got the name as one argument (exit $st)" $? "$(tail -2 "$TMP/exp.err")"
(cd "$TMP/exp" && FAKE_FFMPEG_FAIL=1 PATH="$TMP/bin:$PATH" "$CPCRL" replay "$RPL" --window 64x64 \
    --export "y.mp4" >"$TMP/exp2.out" 2>"$TMP/exp2.err")
st=$?
[ $st -eq 1 ] && grep -q "ffmpeg.*3" "$TMP/exp2.err"
check "14: an encoder that fails: exit 1 (not SIGPIPE) naming its status (exit $st)" $? "$(tail -2 "$TMP/exp2.err")"
(cd "$TMP/exp" && PATH="$TMP/nobin" "$CPCRL" replay "$RPL" --window 64x64 --export "z.mp4" \
    >/dev/null 2>"$TMP/exp3.err")
st=$?
[ $st -eq 1 ] && grep -q "ffmpeg not found" "$TMP/exp3.err"
check "14: no ffmpeg on PATH: exit 1, says so (exit $st)" $? "$(tail -2 "$TMP/exp3.err")"
# review 14: ffmpeg exits 0 on a full disk with the MP4 cut short ("moov atom
# not found"): the file written is checked (non-empty; an .mp4's top-level
# boxes end at its end and hold a moov), else exit 1 and the file removed
(cd "$TMP/exp" && PATH="$TMP/bin:$PATH" "$CPCRL" replay "$RPL" --window 64x64 --export ok.mp4 >/dev/null 2>"$TMP/exp4.err")
check "14: a complete MP4 (ftyp, moov): exit 0, kept (exit $?)" $? "$(tail -2 "$TMP/exp4.err")"
(cd "$TMP/exp" && FAKE_FFMPEG_TRUNCATE=1 PATH="$TMP/bin:$PATH" "$CPCRL" replay "$RPL" --window 64x64 \
    --export cut.mp4 >/dev/null 2>"$TMP/exp5.err")
st=$?
[ $st -eq 1 ] && grep -q "cut.mp4: not a complete MP4: its box 'mdat' at byte 16 runs past the end" "$TMP/exp5.err" &&
    grep -q "removed" "$TMP/exp5.err" && [ ! -e "$TMP/exp/cut.mp4" ]
check "14: ffmpeg exits 0 leaving an MP4 cut short (no moov): exit 1, says so, file removed (exit $st)" $? \
    "$(tail -2 "$TMP/exp5.err")"
(cd "$TMP/exp" && FAKE_FFMPEG_EMPTY=1 PATH="$TMP/bin:$PATH" "$CPCRL" replay "$RPL" --window 64x64 \
    --export empty.webm >/dev/null 2>"$TMP/exp6.err")
st=$?
[ $st -eq 1 ] && grep -q "empty.webm: ffmpeg exited 0 but the file is empty" "$TMP/exp6.err" && [ ! -e "$TMP/exp/empty.webm" ]
check "14: ffmpeg exits 0 leaving an empty file: exit 1, file removed (exit $st)" $? "$(tail -2 "$TMP/exp6.err")"
if [ -x "$(command -v ffmpeg)" ] && [ "$(id -u)" = 0 ] && mkdir -p "$TMP/fullmp4" &&
    mount -t tmpfs -o size=24k tmpfs "$TMP/fullmp4" 2>/dev/null; then
    # the real encoder on a disk with room for part of the video
    "$CPCRL" replay "$RPL" --window 256x256 --export "$TMP/fullmp4/v.mp4" >/dev/null 2>"$TMP/exp7.err"
    st=$?
    ls -A "$TMP/fullmp4" >"$TMP/exp7.ls"
    umount "$TMP/fullmp4"
    [ $st -eq 1 ] && [ ! -s "$TMP/exp7.ls" ]
    check "14: real ffmpeg onto a full disk: exit 1, nothing left (exit $st)" $? "$(tail -2 "$TMP/exp7.err")"
fi

fi

# ----------------------------------------------------------------------------
# 3. train --record-every: tiny values are refused, not an endless loop

if want 3; then

# shellcheck disable=SC2086
expect_exit "3: --record-every 1e-300 is refused" 2 "record-every" \
    "$CPCRL" train $TINY --frames 1000 --runs-dir "$R" --name rec1 --record-every 1e-300
# shellcheck disable=SC2086
expect_exit "3: --record-every below one episode (50 < 100 frames) is refused" 2 "record-every" \
    "$CPCRL" train $TINY --frames 1000 --runs-dir "$R" --name rec2 --record-every 50
# shellcheck disable=SC2086
"$CPCRL" train $TINY --frames 1000 --runs-dir "$R" --name rec3 --record-every 400 >/dev/null 2>"$TMP/rec3.err"
st=$?
n=$(find "$R/rec3/replays" -name '*.rpl' 2>/dev/null | wc -l)
[ $st -eq 0 ] && [ "$n" -ge 2 ]
check "3: --record-every 400 over 1000 frames writes replays (exit $st, $n files)" $? "$(tail -2 "$TMP/rec3.err")"

fi

# ----------------------------------------------------------------------------
# 12. a failed replay save is an error (exit 1, on stderr), in play and watch

if want 12; then
# (the file name is taken by a directory, so the final rename fails)

mkdir -p "$TMP/pl/play-goal-s1-e0.rpl"
expect_exit "12: play: the episode cannot be saved -> exit 1" 1 "play-goal-s1-e0.rpl" \
    "$CPCRL" play goal --seed 1 --out "$TMP/pl" --keys "Up,Left,q" --auto-quit 100
mkdir -p "$TMP/wr/watch-seekavoid-s1-e0.rpl"
expect_exit "12: watch --record: an episode cannot be saved -> exit 1" 1 "watch-seekavoid-s1-e0.rpl" \
    "$CPCRL" watch "$CK/model.ckpt" --seed 1 --speed 1000 --record "$TMP/wr" --auto-quit 150

fi

# ----------------------------------------------------------------------------
# 15. play --out "" is refused

if want 15; then

expect_exit "15: play --out \"\" is refused" 2 "out" \
    "$CPCRL" play goal --out "" --keys "q" --auto-quit 10
expect_exit "15: watch --record \"\" is refused" 2 "record" \
    "$CPCRL" watch "$CK/model.ckpt" --record "" --keys "q" --auto-quit 10
expect_exit "15: replay --frames \"\" is refused" 2 "frames" \
    "$CPCRL" replay "$RPL" --frames ""

fi

# ----------------------------------------------------------------------------
# 13. compare --aggregate-only leaves unfinished runs out of its verdicts

if want 13; then

# shellcheck disable=SC2086
"$CPCRL" compare --tasks goal --seeds 2 --frames 1000 --out "$TMP/cmp" --probe 0 --plot 0 --jobs 1 \
    --bootstrap 200 --threads 1 $NET --log-every 500 --ckpt-every 500 >"$TMP/cmp.out" 2>"$TMP/cmp.err"
check "13: a small compare (2 arms x 2 seeds) runs" $? "$(tail -2 "$TMP/cmp.err")"
# goal-cpc-s2 becomes unfinished: its config asks for more frames than its log reached
sed -i 's/^frames = .*/frames = 300000/' "$TMP/cmp/runs/goal-cpc-s2/config.txt"
"$CPCRL" compare --out "$TMP/cmp" --aggregate-only --plot 0 --bootstrap 200 >"$TMP/agg.out" 2>"$TMP/agg.err"
st=$?
[ $st -eq 0 ] && ! grep -q "^goal,cpc,2," "$TMP/cmp/results.csv" && grep -q "^goal,cpc,1," "$TMP/cmp/results.csv" &&
    grep -q "goal-cpc-s2" "$TMP/agg.err" &&
    grep -q "goal-cpc-s2" "$TMP/cmp/summary.md"
check "13: an unfinished run is left out of results.csv and listed (exit $st)" $? "$(tail -3 "$TMP/agg.err")"
"$CPCRL" compare --out "$TMP/cmp" --aggregate-only --plot 0 --bootstrap 200 --include-unfinished \
    >/dev/null 2>"$TMP/agg2.err"
grep -q "^goal,cpc,2," "$TMP/cmp/results.csv"
check "13: --include-unfinished counts it again" $? "$(tail -2 "$TMP/agg2.err")"

fi

# ----------------------------------------------------------------------------
# 4. compare's trainers die with the compare process

if want 4; then

# shellcheck disable=SC2086
"$CPCRL" compare --tasks goal --seeds 1 --frames 1e9 --out "$TMP/cmpk" --probe 0 --plot 0 --jobs 1 \
    --threads 1 $NET --log-every 500 --ckpt-every 1e9 >/dev/null 2>"$TMP/cmpk.err" &
CPID=$!
BGPIDS="$BGPIDS $CPID"
child=""
for ((i = 0; i < 500; i++)); do
    child=$(pgrep -P "$CPID" | head -1)
    [ -n "$child" ] && break
    sleep 0.02
done
kill -9 "$CPID"
wait "$CPID" 2>/dev/null
gone=1
if [ -n "$child" ]; then
    BGPIDS="$BGPIDS $child"
    for ((i = 0; i < 1000; i++)); do
        kill -0 "$child" 2>/dev/null || { gone=0; break; }
        sleep 0.02
    done
fi
check "4: SIGKILL of compare: its trainer (pid ${child:-none}) ends too" $gone

fi

# ----------------------------------------------------------------------------
# s. Smaller items

if want s; then

expect_exit "compare --first-seed 2^64-1 with 2 seeds (would wrap) is refused" 2 "first-seed" \
    "$CPCRL" compare --tasks goal --seeds 2 --first-seed 18446744073709551615 --out "$TMP/cmpw" --dry-run
expect_exit "compare --cpc-weights 0.5,,1 is refused" 2 "cpc-weights" \
    "$CPCRL" compare --tasks goal --cpc-weights 0.5,,1 --out "$TMP/cmpw" --dry-run
expect_exit "compare --cpc-weights '0.5,' is refused" 2 "cpc-weights" \
    "$CPCRL" compare --tasks goal --cpc-weights 0.5, --out "$TMP/cmpw" --dry-run
expect_exit "bench train --unroll 1 is a usage error" 2 "unroll" \
    "$CPCRL" bench train --unroll 1
expect_exit "bench env --items 1000 is a usage error" 2 "items" \
    "$CPCRL" bench env --items 1000
expect_exit "bench train --repeat 101 is a usage error" 2 "repeat" \
    "$CPCRL" bench train --repeat 101
expect_exit "bench --repeat -1 is a usage error" 2 "repeat" \
    "$CPCRL" bench blas --repeat -1
expect_exit "train --aux-epochs without sample reuse says why" 2 "aux-epochs" \
    "$CPCRL" train --task goal --frames 640 --aux-epochs 1 --runs-dir "$TMP/auxe"
mkdir -p "$TMP/adir"
expect_exit "replay of a directory says so" 1 "directory" \
    "$CPCRL" replay "$TMP/adir" --info
if has_python; then
    python3 -c "
import struct, sys, zlib
exec(open('$TMP/rpl.py').read().split('HDR = ')[0])
b = load('$RPL')
b[84:84 + 64] = (b'\x1b]0;pwned\x07\x1b[31mred' + b'\0' * 64)[:64]
save('$TMP/esc.rpl', b)"
    "$CPCRL" replay "$TMP/esc.rpl" --info >"$TMP/esc.out" 2>&1
    st=$?
    [ $st -eq 0 ] && ! grep -q $'\x1b' "$TMP/esc.out" && grep -q 'pwned' "$TMP/esc.out"
    check "replay --info prints a label's control characters escaped (exit $st)" $? "$(head -3 "$TMP/esc.out" | cat -v)"
fi
mkfifo "$TMP/fifo.rpl" "$TMP/fifo.ckpt"
expect_exit "replay of a FIFO is refused (no blocking read)" 1 "not a regular file" \
    "$CPCRL" replay "$TMP/fifo.rpl" --info
expect_exit "eval of a FIFO is refused (no blocking read)" 1 "not a regular file" \
    "$CPCRL" eval "$TMP/fifo.ckpt"
# no display: play and watch say so at once, with SDL_VIDEODRIVER unset or set empty (never an
# invisible window running until killed)
for drv in unset empty; do
    if [ $drv = unset ]; then envs=(env -u DISPLAY -u WAYLAND_DISPLAY -u SDL_VIDEODRIVER)
    else envs=(env -u DISPLAY -u WAYLAND_DISPLAY SDL_VIDEODRIVER=); fi
    expect_exit "play without a display, SDL_VIDEODRIVER $drv: refused at once" 1 "cannot open a window" \
        timeout 20 "${envs[@]}" "$CPCRL" play goal
    expect_exit "watch without a display, SDL_VIDEODRIVER $drv: refused at once" 1 "cannot open a window" \
        timeout 20 "${envs[@]}" "$CPCRL" watch "$CK"
done
# an output path that cannot be written is refused before the work, naming the user's path
expect_exit "eval --record into a regular file is refused up front" 1 "config.txt: cannot create the directory" \
    "$CPCRL" eval "$CK" --episodes 1 --threads 1 --record "$CK/config.txt"
expect_exit "probe --out a directory is refused up front" 1 "is a directory, expected a file name" \
    "$CPCRL" probe "$CK" --out "$TMP/adir" --threads 1
expect_exit "probe --out where nothing can be created is refused up front" 1 "nope/p.csv: cannot write there" \
    "$CPCRL" probe "$CK" --out "$TMP/nope/p.csv" --threads 1
expect_exit "replay --frames into a regular file is refused" 1 "cannot create the directory" \
    "$CPCRL" replay "$RPL" --frames "$CK/config.txt"
[ ! -e "$TMP/nope" ] && ! ls -a "$CK" "$TMP/adir" | grep -q write-check
check "the write checks leave nothing behind" $? ""
# every other file a command reads: a FIFO refused at once, never a hang
expect_exit "probe of a FIFO checkpoint is refused" 1 "not a regular file" \
    "$CPCRL" probe "$TMP/fifo.ckpt" --threads 1
expect_exit "train --config of a FIFO is refused" 2 "not a regular file" \
    "$CPCRL" train --config "$TMP/fifo.ckpt"
expect_exit "train --config of a directory says so" 2 "is a directory" \
    "$CPCRL" train --config "$TMP/adir"
for f in config.txt log.csv; do
    rm -rf "$TMP/fifo-run" && cp -r "$CK" "$TMP/fifo-run" && rm -f "$TMP/fifo-run/$f" "$TMP/fifo-run/train.lock" &&
        mkfifo "$TMP/fifo-run/$f"
    code=2; [ $f = log.csv ] && code=1 # config.txt: a settings error (2); log.csv: a file error (1)
    expect_exit "train --resume with a FIFO as $f is refused" $code "not a regular file" \
        "$CPCRL" train --resume "$TMP/fifo-run" --frames 3000 --threads 1 --progress 0
    [ -p "$TMP/fifo-run/$f" ] && cmp -s "$CK/model.ckpt" "$TMP/fifo-run/model.ckpt"
    check "train --resume with a FIFO as $f: the run untouched" $? ""
done
mkdir -p "$TMP/fifo-cmp/runs" && cp -r "$CK" "$TMP/fifo-cmp/runs/seekavoid-cpc-s1" &&
    rm -f "$TMP/fifo-cmp/runs/seekavoid-cpc-s1/log.csv" && mkfifo "$TMP/fifo-cmp/runs/seekavoid-cpc-s1/log.csv"
expect_exit "compare --aggregate-only with a FIFO as a run's log.csv skips it, no hang" 1 "not a regular file" \
    "$CPCRL" compare --aggregate-only --out "$TMP/fifo-cmp" --plot 0

fi

# sample reuse (issue #15): a run trained with --epochs/--minibatches/--clip
# writes clip_frac and approx_kl, resumes, and its checkpoint can be evaluated
# and probed with a number of envs its minibatches do not divide (acting only)
if want r; then
# shellcheck disable=SC2086
"$CPCRL" train $TINY --task goal --frames 1024 --log-every 512 --ckpt-every 512 --runs-dir "$R" \
    --name ppo --epochs 2 --minibatches 2 --clip 0.2 >/dev/null 2>"$TMP/ppo.err"
check "r: train with sample reuse" $? "$(tail -2 "$TMP/ppo.err")"
# (then the CPC trunk gradient norms, appended after every older column)
head -1 "$R/ppo/log.csv" | grep -q ',clip_frac,approx_kl,grad_trunk_a2c,grad_trunk_cpc$'
check "r: log.csv ends with clip_frac,approx_kl,grad_trunk_a2c,grad_trunk_cpc" $? "$(head -1 "$R/ppo/log.csv")"
"$CPCRL" train --resume "$R/ppo" --frames 1536 --threads 1 --progress 0 >/dev/null 2>"$TMP/ppo2.err"
check "r: --resume of a sample-reuse run" $? "$(tail -2 "$TMP/ppo2.err")"
"$CPCRL" eval "$R/ppo" --episodes 3 --threads 1 >/dev/null 2>"$TMP/ppo3.err"
check "r: eval --episodes 3 of a --minibatches 2 checkpoint" $? "$(tail -2 "$TMP/ppo3.err")"
expect_exit "r: --minibatches that does not divide --envs is a usage error" 2 "must divide" \
    "$CPCRL" train $TINY --frames 64 --runs-dir "$R" --name ppo-bad --minibatches 3
fi

# ----------------------------------------------------------------------------
# k. The InfoNCE bound log N - L_k per k (issue #17's hygiene, #16's instrument):
#    log.csv has cpc_bound_1..K, every value at most log N (N = 8 envs, batch
#    negatives) and above the loss-free floor log N - (a loss of 20 nats);
#    eval prints one bound per k.

if want k; then

awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ /^cpc_bound_[0-9]+$/) c[++n] = i
                   if (n != 3 || $c[1] != "cpc_bound_1" || $c[3] != "cpc_bound_3") exit 1; next }
         { for (j = 1; j <= n; j++) if ($c[j] == "nan" || $c[j] + 0 > log(8) + 1e-6 || $c[j] + 0 < log(8) - 20) exit 1 }
         END { exit NR < 2 }' "$CK/log.csv"
check "k: log.csv's cpc_bound_1..3 within (log 8 - 20, log 8]" $? "$(head -1 "$CK/log.csv")"
"$CPCRL" eval "$CK" --episodes 2 --threads 1 >"$TMP/bound.out" 2>&1
grep -Eq '^CPC bound log N - L per k \(nats\): k1 -?[0-9.]+ k2 -?[0-9.]+ k3 -?[0-9.]+$' "$TMP/bound.out"
check "k: eval prints the bound per k" $? "$(tail -2 "$TMP/bound.out")"

fi

# ----------------------------------------------------------------------------
# o. A log.csv begun by an older cpcrl (without the two trunk-norm columns it
#    now appends): --resume gives it the current header and "nan" in the new
#    columns of the old rows, so every row has the header's fields.

if want o; then
"$CPCRL" train $TINY --task goal --frames 1024 --log-every 256 --ckpt-every 512 --runs-dir "$R" --name oldlog \
    >/dev/null 2>&1
awk -F, -v OFS=, '{ NF = NF - 2; print }' "$R/oldlog/log.csv" >"$TMP/oldlog" && mv "$TMP/oldlog" "$R/oldlog/log.csv"
"$CPCRL" train --resume "$R/oldlog" --frames 1536 --threads 1 --progress 0 >/dev/null 2>&1
awk -F, 'NR == 1 { n = NF; ok = $(NF - 1) == "grad_trunk_a2c" && $NF == "grad_trunk_cpc"; next }
         NF != n { ok = 0 } NR == 2 && ($(NF - 1) != "nan" || $NF != "nan") { ok = 0 }
         END { exit !(ok && NR >= 6) }' "$R/oldlog/log.csv"
check "o: resume of an older log: current header, old rows padded with nan" $? "$(awk -F, '{ print NF }' "$R/oldlog/log.csv" | uniq -c)"
fi

# ----------------------------------------------------------------------------
# p. --precision bf16 on a machine without it (CPCRL_NO_BF16=1 stands in for
#    one): a fresh run is refused (exit 2), a bf16 checkpoint trained where
#    bf16 runs still evaluates and probes (fp32 products, said on stderr) and
#    its --resume is refused (exit 1), naming why. --precision auto is
#    written as fp32 there, and as what this machine runs here; the start line
#    names it.

if want p; then
env CPCRL_NO_BF16=1 "$CPCRL" train $TINY --frames 64 --runs-dir "$R" --name auto-no --precision auto >/dev/null 2>"$TMP/an.err"
check "p: auto without bf16: train exits 0" $? "$(tail -2 "$TMP/an.err")"
[ "$(grep -c "^precision = fp32$" "$R/auto-no/config.txt")$(grep -c "CPC on, fp32," "$TMP/an.err")" = 11 ]
check "p: auto without bf16: config.txt and the start line say fp32" $? \
    "$(grep precision "$R/auto-no/config.txt"; grep starting "$TMP/an.err")"
"$CPCRL" train $TINY --frames 64 --runs-dir "$R" --name auto-here --precision auto >/dev/null 2>"$TMP/ah.err"
hw=$(sed -n 's/^precision = //p' "$R/auto-here/config.txt")
if "$CPCRL" train $TINY --frames 64 --runs-dir "$R" --name auto-bf --precision bf16 >/dev/null 2>&1; then want_p=bf16; else want_p=fp32; fi
[ "$hw" = "$want_p" ] && grep -q "CPC on, $want_p," "$TMP/ah.err"
check "p: auto here: config.txt and the start line say $want_p (what --precision bf16 tells this machine runs)" $? \
    "config.txt: $hw; $(grep starting "$TMP/ah.err")"
expect_exit "p: train --precision bf16 without bf16: exit 2" 2 "precision bf16: unavailable" \
    env CPCRL_NO_BF16=1 "$CPCRL" train $TINY --frames 64 --runs-dir "$R" --name bf-no --precision bf16
if "$CPCRL" train $TINY --task goal --frames 512 --runs-dir "$R" --name bf --precision bf16 >/dev/null 2>&1; then
    expect_exit "p: eval of a bf16 checkpoint without bf16: exit 0, fp32 said" 0 "evaluating with fp32 products" \
        env CPCRL_NO_BF16=1 "$CPCRL" eval "$R/bf" --episodes 2 --threads 1
    expect_exit "p: probe of a bf16 checkpoint without bf16: exit 0" 0 "" \
        env CPCRL_NO_BF16=1 "$CPCRL" probe "$R/bf" --episodes 4 --threads 1
    expect_exit "p: --resume of a bf16 run without bf16: exit 1" 1 "precision bf16: unavailable" \
        env CPCRL_NO_BF16=1 "$CPCRL" train --resume "$R/bf" --frames 1024 --threads 1 --progress 0
else
    echo "test_reliability_cli: p: this machine has no bf16 (or no oneDNN build): the checkpoint checks skipped"
fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
