#!/bin/sh
# Run every test program given; print a closing "N passed, N failed" line and
# fail when any program fails.
pass=0; fail=0; failed=""
for t in "$@"; do
    echo "== $t"
    if eval "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $t"; fi
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
