# check.sh — the pass/fail tally of the end-to-end shell tests (sourced by
# test_reliability.sh and test_reliability_cli.sh): ok NAME, bad NAME [details...],
# check NAME STATUS [details...] (ok when STATUS is 0); pass and fail count them.
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; shift; for l in "$@"; do echo "     $l"; done; fail=$((fail + 1)); }
check() { # NAME CONDITION-STATUS [details...]
    local name=$1 st=$2
    shift 2
    if [ "$st" -eq 0 ]; then ok "$name"; else bad "$name" "$@"; fi
}
