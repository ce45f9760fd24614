#!/bin/sh
# window_smoke.sh — open the SDL windows of `play`, `replay` and `watch` under
# Xvfb, feed them scripted key events (--keys) and check that each quits
# cleanly (exit 0), saved what it should, and that the saved replay verifies;
# then the belief overlay: probe --save, watch (one checkpoint and two side by
# side), replay and --export with it, read-outs of another network refused.
# Usage: tests/window_smoke.sh [path/to/cpcrl]   (needs xvfb-run; the set-up
# step installs it)
set -u
BIN=$(cd "$(dirname "${1:-./cpcrl}")" && pwd)/$(basename "${1:-./cpcrl}")
command -v xvfb-run >/dev/null 2>&1 || { echo "window_smoke: xvfb-run not found (apt-get install xvfb xauth)"; exit 1; }
[ -x "$BIN" ] || { echo "window_smoke: $BIN not built"; exit 1; }
# Under ASan (make asan) the X11/D-Bus libraries SDL loads leak a few bytes we
# cannot free; leak checking of our own code is the unit tests' job.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
T=$(mktemp -d /tmp/cpcrl_smoke.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
run() { # name, expected file, command...
    name=$1; want=$2; shift 2
    if timeout 120 xvfb-run -a -s "-screen 0 1280x800x24" "$@" >"$T/$name.log" 2>&1 && { [ -z "$want" ] || [ -s "$want" ]; }; then
        echo "window_smoke: $name ok"
    else
        echo "window_smoke: $name FAILED"; sed 's/^/  | /' "$T/$name.log"; fails=$((fails + 1))
    fi
}
cd "$T" || exit 1

# play: move, turn, interact, save (S), quit (Q saves too)
run play "$T/play/play-keys_doors-s2-e0.rpl" \
    "$BIN" play keys_doors --seed 2 --out "$T/play" --keys "Up,Left,Up,Up,Right,space,Return,s,Up,q" \
    --auto-quit 400 --screenshot "$T/play.png"
[ -s "$T/play.png" ] || { echo "window_smoke: play screenshot missing"; fails=$((fails + 1)); }
"$BIN" replay "$T/play/play-keys_doors-s2-e0.rpl" --verify >"$T/verify.log" 2>&1 ||
    { echo "window_smoke: the played episode does not verify"; cat "$T/verify.log"; fails=$((fails + 1)); }

# replay: play/pause, steps, seek, speed, loop, quit
run replay "$T/replay.png" \
    "$BIN" replay "$T/play/play-keys_doors-s2-e0.rpl" --window 800x500 \
    --keys "space,Right,Right,Left,End,Home,PageDown,PageUp,Up,Down,l,space,WAIT,q" \
    --auto-quit 400 --screenshot "$T/replay.png"

# watch: a tiny checkpoint trained for a few seconds; toggle greedy, step, reset, save
"$BIN" train --task goal --frames 2000 --envs 4 --unroll 5 --cpc-k 2 --hidden 16 --latent 16 \
    --conv1 4 --conv2 4 --name tiny --runs-dir "$T/runs" --progress 0 >"$T/train.log" 2>&1 ||
    { echo "window_smoke: tiny training failed"; cat "$T/train.log"; exit 1; }
run watch "$T/watch.png" \
    "$BIN" watch "$T/runs/tiny" --speed 60 --keys "g,Right,Right,space,Up,r,s,WAIT,q" \
    --record "$T/watchrec" --auto-quit 400 --screenshot "$T/watch.png"
ls "$T"/watchrec/watch-goal-*.rpl >/dev/null 2>&1 || { echo "window_smoke: watch did not save its replay"; fails=$((fails + 1)); }

# the belief overlay: read-outs saved with the run (probe --save), drawn by watch (layers toggled
# with B and T), by two checkpoints side by side (each recording its own episodes), and by replay
# and its --export, c_t recomputed from the replay with the run's checkpoint
"$BIN" probe "$T/runs/tiny" --save --episodes 4 --envs 2 --threads 1 >"$T/probe.log" 2>&1 && [ -s "$T/runs/tiny/readout.bin" ] ||
    { echo "window_smoke: probe --save failed"; cat "$T/probe.log"; fails=$((fails + 1)); }
run watch-overlay "$T/overlay.png" \
    "$BIN" watch "$T/runs/tiny" --speed 60 --keys "b,t,b,Right,t,WAIT,q" --auto-quit 400 --screenshot "$T/overlay.png"
grep -q "belief overlay from $T/runs/tiny/readout.bin" "$T/watch-overlay.log" ||
    { echo "window_smoke: watch did not load the read-outs"; cat "$T/watch-overlay.log"; fails=$((fails + 1)); }
run watch-2 "$T/watch2.png" \
    "$BIN" watch "$T/runs/tiny" "$T/runs/tiny" --seed 3 --speed 240 --record "$T/rec2" --keys "WAIT,WAIT,WAIT,WAIT,b,q" \
    --auto-quit 400 --screenshot "$T/watch2.png"
ls "$T"/rec2/watch-goal-s3-e0-A.rpl "$T"/rec2/watch-goal-s3-e0-B.rpl >/dev/null 2>&1 ||
    { echo "window_smoke: side-by-side watch did not record both panes' first episodes"; ls "$T/rec2"; fails=$((fails + 1)); }
# the two panes played the same maze: the same first state, hence the same start hash
"$BIN" replay "$T/rec2/watch-goal-s3-e0-A.rpl" --verify >/dev/null 2>&1 && "$BIN" replay "$T/rec2/watch-goal-s3-e0-B.rpl" --verify >/dev/null 2>&1 ||
    { echo "window_smoke: side-by-side replays do not verify"; fails=$((fails + 1)); }
rpl=$(ls "$T"/watchrec/watch-goal-*.rpl | head -n 1)
"$BIN" replay "$rpl" --ckpt "$T/runs/tiny" --export "$T/overlay.gif" --window 480x300 >"$T/export.log" 2>&1 &&
    grep -q "the policy matches the recorded one" "$T/export.log" && [ -s "$T/overlay.gif" ] ||
    { echo "window_smoke: replay --export with the overlay failed"; cat "$T/export.log"; fails=$((fails + 1)); }
run replay-overlay "$T/replay-overlay.png" \
    "$BIN" replay "$rpl" --ckpt "$T/runs/tiny" --keys "Right,t,Right,b,WAIT,q" --auto-quit 200 --screenshot "$T/replay-overlay.png"
# read-outs of another network are refused (exit 1) naming both sizes; a corrupt file too
"$BIN" train --task goal --frames 500 --envs 4 --unroll 5 --cpc-k 2 --hidden 8 --latent 8 --conv1 2 --conv2 2 --name tiny8 \
    --runs-dir "$T/runs" --progress 0 >"$T/train8.log" 2>&1 || { echo "window_smoke: tiny8 training failed"; fails=$((fails + 1)); }
"$BIN" replay "$rpl" --ckpt "$T/runs/tiny8" --readout "$T/runs/tiny/readout.bin" --frames "$T/fr" >"$T/mismatch.log" 2>&1
[ $? -eq 1 ] && grep -q "hidden size 16, but .* hidden size 8" "$T/mismatch.log" ||
    { echo "window_smoke: mismatched read-outs not refused"; cat "$T/mismatch.log"; fails=$((fails + 1)); }
cp "$T/runs/tiny/readout.bin" "$T/bad.bin" && printf 'x' | dd of="$T/bad.bin" bs=1 seek=100 conv=notrunc 2>/dev/null
"$BIN" replay "$rpl" --ckpt "$T/runs/tiny" --readout "$T/bad.bin" --frames "$T/fr" >"$T/bad.log" 2>&1
[ $? -eq 1 ] && grep -q "CRC32 mismatch" "$T/bad.log" ||
    { echo "window_smoke: a corrupt readout.bin not refused"; cat "$T/bad.log"; fails=$((fails + 1)); }

# a bad flag is a usage error (2), a bad file a runtime error (1), both without a window
"$BIN" replay "$T/none.rpl" >/dev/null 2>&1; [ $? -eq 1 ] || { echo "window_smoke: missing file should exit 1"; fails=$((fails + 1)); }
"$BIN" play goal --bogus 1 >/dev/null 2>&1; [ $? -eq 2 ] || { echo "window_smoke: bad flag should exit 2"; fails=$((fails + 1)); }

[ $fails -eq 0 ] && echo "window_smoke: all passed" || echo "window_smoke: $fails failed"
[ $fails -eq 0 ]
