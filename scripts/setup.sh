#!/bin/sh
# Set-up step of `make test` / `make train`: make sure the Debian packages the
# build needs are installed. As root, install the missing ones with apt-get
# (running `apt-get update` first); otherwise print the exact line and fail.
PKGS="${PKGS:-build-essential pkg-config libsdl2-dev libopenblas-dev zlib1g-dev libcmocka-dev libdnnl-dev xvfb xauth gnuplot-nox clang-14 libclang-rt-14-dev python3 python3-numpy python3-setuptools python3-pip}"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "setup: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || { echo "setup: apt-get update failed" >&2; exit 1; }
    apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
        { echo "setup: apt-get install$missing failed" >&2; exit 1; }
else
    echo "setup: missing Debian packages; run:" >&2
    echo "  sudo apt-get install$missing" >&2
    exit 1
fi
