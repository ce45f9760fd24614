#!/bin/sh
# screenshots.sh — the README's pictures, made under Xvfb with the real
# windows: docs/watch.png (a trained agent acting), docs/play.png (a person
# playing keys_doors), docs/replay.png (the replay player) and docs/demo.gif
# (an episode exported from a replay with `cpcrl replay --export`).
#
# usage: scripts/screenshots.sh [RUN_DIR]
#   RUN_DIR  a training run to watch (default: train one now, seekavoid,
#            $FRAMES frames, default 2e5, into a temporary directory)
# env: CPCRL (binary, default ./cpcrl), OUT (default docs), FRAMES, SEED (default 4),
#      EPISODES (evaluation episodes recorded; the one with the best return is shown, default 8)
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

RUN=${1:-}
if [ -z "$RUN" ]; then
    echo "screenshots: training a small seekavoid agent ($FRAMES frames) ..."
    "$CPCRL" train --task seekavoid --frames "$FRAMES" --name shot --runs-dir "$T/runs" --progress 0
    RUN="$T/runs/shot"
fi

# watch: paused, then stepped 14 times (N) so the frame is reproducible
xrun "$CPCRL" watch "$RUN" --seed "$SEED" --paused --keys "n,n,n,n,n,n,n,n,n,n,n,n,n,n,WAIT" \
    --auto-quit 60 --screenshot "$OUT/watch.png"

# play: a person fetches the purple key in keys_doors and opens the purple door
xrun "$CPCRL" play keys_doors --seed 2 --save 0 --keys "Right,Right,Up,Right,space,Right,Right,space,Up,WAIT" \
    --auto-quit 40 --screenshot "$OUT/play.png"

# replay: record evaluation episodes of the agent, show one mid-way, export it as a GIF
"$CPCRL" eval "$RUN" --episodes "${EPISODES:-8}" --seed "$SEED" --record "$T/rec" >/dev/null
best=$(for f in "$T"/rec/*.rpl; do
    printf '%s %s\n' "$("$CPCRL" replay "$f" --info | sed -n 's/.*return \([-+0-9.]*\).*/\1/p')" "$f"
done | sort -g | tail -n 1 | cut -d' ' -f2)
"$CPCRL" replay "$best" --verify
xrun "$CPCRL" replay "$best" --start 30 --paused --auto-quit 20 --screenshot "$OUT/replay.png"
"$CPCRL" replay "$best" --export "$OUT/demo.gif" --window 960x560 --fps 6
ls -l "$OUT"/watch.png "$OUT"/play.png "$OUT"/replay.png "$OUT"/demo.gif
