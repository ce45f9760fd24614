#!/bin/sh
# time_to.sh LOG.csv COLUMN THRESHOLD — the first log row whose COLUMN (by
# name, e.g. success_rate or return_mean) reaches THRESHOLD: its frames and the
# wall-clock seconds of training up to it (the sum over rows of frames / sps,
# log.csv's sps being each interval's wall-clock rate). Prints "never" if no
# row reaches it.
set -eu
awk -F, -v col="$2" -v thr="$3" '
NR == 1 { for (i = 1; i <= NF; i++) { if ($i == col) c = i; if ($i == "sps") s = i; if ($i == "frames") f = i }
          if (!c || !s || !f) { print "time_to: no column " col " (or sps/frames)" > "/dev/stderr"; exit 2 }
          next }
{ secs += ($f - prev) / ($s > 0 ? $s : 1); prev = $f
  if ($c != "nan" && $c + 0 >= thr + 0) { printf "%s frames %.0f s\n", $f, secs; found = 1; exit } }
END { if (!found && NR > 1) print "never" }' "$1"
