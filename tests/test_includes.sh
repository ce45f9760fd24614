#!/bin/sh
# test_includes.sh: the rooms include only downward (docs/design.md, "What may include what").
# Every `#include "room/..."` of every C file and header is checked against the table below;
# a file including a room it may not, or a header that does not exist, fails the test.
cd "$(dirname "$0")/.." || exit 1
allowed() {  # allowed ROOM: the rooms ROOM may include (itself included)
  case $1 in
    base)    echo "base" ;;
    nn)      echo "nn base" ;;
    env)     echo "env base" ;;
    cpc)     echo "cpc nn base" ;;
    agent)   echo "agent cpc nn env base" ;;
    lab)     echo "lab agent cpc nn env base" ;;
    replays) echo "replays lab agent cpc nn env base" ;;
    cli)     echo "cli lab replays agent cpc nn env base" ;;
    python)  echo "env base" ;;
    *)       echo "" ;;
  esac
}
bad=0; n=0
for room in base nn env cpc agent lab replays cli python; do
  ok=$(allowed $room)
  for f in $room/*.c $room/*.h; do
    [ -f "$f" ] || continue
    for inc in $(grep -o '^#include "[a-z_]*/[a-z_0-9]*\.h"' "$f" | cut -d'"' -f2); do
      n=$((n + 1))
      to=${inc%%/*}
      case " $ok " in
        *" $to "*) ;;
        *) echo "test_includes: $f includes $inc: $room/ may include only: $ok" >&2; bad=1 ;;
      esac
      [ -f "$inc" ] || { echo "test_includes: $f includes $inc, which does not exist" >&2; bad=1; }
    done
  done
done
# nothing below main.c includes a room by a path outside the table (e.g. "../x.h")
if grep -n '^#include "\.\./' base/*.[ch] nn/*.[ch] env/*.[ch] cpc/*.[ch] agent/*.[ch] lab/*.[ch] replays/*.[ch] cli/*.[ch] >&2; then
  echo "test_includes: an include by a relative path" >&2; bad=1
fi
[ $n -gt 100 ] || { echo "test_includes: only $n includes found: is this the cpcrl tree?" >&2; bad=1; }
[ $bad = 0 ] && echo "test_includes: $n includes, every room includes only downward"
exit $bad
