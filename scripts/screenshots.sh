#!/bin/sh
# screenshots.sh — the README's pictures, made under Xvfb with the real
# windows: docs/watch.png (a trained agent acting), docs/play.png (a person
# playing keys_doors), docs/replay.png (the replay player), docs/demo.gif
# (an episode exported from a replay with `cpcrl replay --export`) and
# docs/overlay.png (watch with the belief overlay of a watermaze agent).
#
# usage: scripts/screenshots.sh [RUN_DIR]
#   RUN_DIR  a training run to watch (default: train one now, seekavoid,
#            $FRAMES frames, default 2e5, into a temporary directory)
# env: CPCRL (binary, default ./cpcrl), OUT (default docs), FRAMES, SEED (default 4),
#      EPISODES (evaluation episodes recorded; the one with the best return is shown, default 8),
#      SHOTS (which pictures, default "watch play replay overlay"),
#      WM_RUN (the watermaze run of the overlay picture; default: train one now,
#      3e5 frames on one thread, and fit its read-outs with probe --save)
set -eu
CPCRL=${CPCRL:-./cpcrl}
OUT=${OUT:-docs}
FRAMES=${FRAMES:-2e5}
SEED=${SEED:-4}
command -v xvfb-run >/dev/null 2>&1 || { echo "screenshots: needs xvfb-run (apt-get install xvfb xauth)" >&2; exit 1; }
[ -x "$CPCRL" ] || { echo "screenshots: build $CPCRL first (make)" >&2; exit 1; }
mkdir -p "$OUT"
T=$(mktemp -d /tmp/cpcrl_shots.XXXXXX)
trap 'rm -rf "$T"' EXIT
xrun() { xvfb-run -a -s "-screen 0 1280x800x24" "$@"; }

SHOTS=${SHOTS:-watch play replay overlay}
want() { case " $SHOTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# overlay: a watermaze agent (3e5 frames) with the read-outs of probe --save, seed 3 stepped 55
# times: it has just found the platform and been put back elsewhere, and its position belief is
# spread along the east wall it sees
if want overlay; then
    WM=${WM_RUN:-}
    if [ -z "$WM" ]; then
        echo "screenshots: training a small watermaze agent (3e5 frames, one thread) ..."
        "$CPCRL" train --task watermaze --frames 3e5 --threads 1 --name wm --runs-dir "$T/runs" --progress 0
        WM="$T/runs/wm"
    fi
    [ -s "$WM/readout.bin" ] || "$CPCRL" probe "$WM" --save --threads 1
    xrun "$CPCRL" watch "$WM" --seed 3 --paused --keys "$(printf 'n,%.0s' $(seq 55))WAIT" \
        --auto-quit 175 --screenshot "$OUT/overlay.png"
    ls -l "$OUT/overlay.png"
fi

# play: a person fetches the purple key in keys_doors and opens the purple door
if want play; then
    xrun "$CPCRL" play keys_doors --seed 2 --save 0 --keys "Right,Right,Up,Right,space,Right,Right,space,Up,WAIT" \
        --auto-quit 40 --screenshot "$OUT/play.png"
    ls -l "$OUT/play.png"
fi
want watch || want replay || exit 0

RUN=${1:-}
if [ -z "$RUN" ]; then
    echo "screenshots: training a small seekavoid agent ($FRAMES frames) ..."
    "$CPCRL" train --task seekavoid --frames "$FRAMES" --name shot --runs-dir "$T/runs" --progress 0
    RUN="$T/runs/shot"
fi

# watch: paused, then stepped 14 times (N) so the frame is reproducible
if want watch; then
    xrun "$CPCRL" watch "$RUN" --seed "$SEED" --paused --keys "n,n,n,n,n,n,n,n,n,n,n,n,n,n,WAIT" \
        --auto-quit 60 --screenshot "$OUT/watch.png"
    ls -l "$OUT/watch.png"
fi

# replay: record evaluation episodes of the agent, show one mid-way, export it as a GIF
want replay || exit 0
"$CPCRL" eval "$RUN" --episodes "${EPISODES:-8}" --seed "$SEED" --record "$T/rec" >/dev/null
best=$(for f in "$T"/rec/*.rpl; do
    printf '%s %s\n' "$("$CPCRL" replay "$f" --info | sed -n 's/.*return \([-+0-9.]*\).*/\1/p')" "$f"
done | sort -g | tail -n 1 | cut -d' ' -f2)
"$CPCRL" replay "$best" --verify
xrun "$CPCRL" replay "$best" --start 30 --paused --auto-quit 20 --screenshot "$OUT/replay.png"
"$CPCRL" replay "$best" --export "$OUT/demo.gif" --window 960x560 --fps 6
ls -l "$OUT"/replay.png "$OUT"/demo.gif
