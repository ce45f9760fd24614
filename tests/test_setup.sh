#!/bin/bash
# The set-up step as a user who is not root: it must print the one
# `sudo apt-get install ...` line naming what is missing, install nothing and
# fail. (As root it installs; `make test` itself covers that path.)
set -u
pass=0; fail=0
ok() { echo "test_setup: $1 ok"; pass=$((pass + 1)); }
bad() { echo "test_setup: $1 FAILED"; fail=$((fail + 1)); }
if [ "$(id -u)" = 0 ]; then
    if command -v setpriv >/dev/null; then asuser="setpriv --reuid=65534 --regid=65534 --clear-groups"
    elif command -v runuser >/dev/null; then asuser="runuser -u nobody --"
    else echo "test_setup: skip: no setpriv or runuser to drop root"; echo "0 passed, 0 failed"; exit 0; fi
else
    asuser=""
fi
out=$(PKGS="cpcrl-no-such-package zlib1g-dev" $asuser sh scripts/setup.sh 2>&1); rc=$?
[ "$rc" -ne 0 ] && ok "non-root with a package missing: exit $rc" || bad "non-root with a package missing: exit 0"
[ "$(printf '%s\n' "$out" | grep -c 'sudo apt-get install')" = 1 ] && ok "one sudo apt-get install line" || bad "one sudo line: got: $out"
printf '%s\n' "$out" | grep -q '^  sudo apt-get install cpcrl-no-such-package$' && ok "the line names only what is missing" || bad "line: $out"
out=$(PKGS="zlib1g-dev" $asuser sh scripts/setup.sh 2>&1); rc=$?
[ "$rc" = 0 ] && [ -z "$out" ] && ok "nothing missing: exit 0, silent" || bad "nothing missing: exit $rc, said: $out"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
