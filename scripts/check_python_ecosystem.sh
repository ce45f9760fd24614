#!/bin/bash
# check_python_ecosystem.sh — the Python binding (python/) against real
# Gymnasium and Stable-Baselines3 source trees, offline: not part of `make test`
# (which has neither). Results of a run: results/python/README.md.
#
# usage: scripts/check_python_ecosystem.sh [--gym DIR]... [--sb3 DIR] [--ppo-steps N]
#
#   --gym DIR   a Gymnasium source tree (the directory holding gymnasium/);
#               repeat it for each version to check, e.g. 0.29.1 and 1.x.
#               Default: $CPCRL_GYM_SRCS, colon-separated.
#   --sb3 DIR   a Stable-Baselines3 source tree (holding stable_baselines3/).
#               Default: $CPCRL_SB3_SRC; none: the SB3 checks are not run.
#   --ppo-steps N  SB3 PPO's length (default 20000).
#
# DIR may also be GITDIR@REV: REV's tree of the git repository GITDIR (a bare
# mirror will do) is extracted with `git archive` into a temporary directory,
# e.g. /work/.mirror/Farama-Foundation+Gymnasium/repo@v0.29.1.
#
# For each Gymnasium tree, with PYTHONPATH = python/ + that tree (+ the SB3
# tree), tests/python/ecosystem_check.py runs: check_env on every task,
# RecordEpisodeStatistics over the single and the vector env (episode stats
# against the C env's), on 1.x gymnasium.make_vec with the vector entry point
# (against SyncVectorEnv), and with SB3: its check_env and PPO through
# cpcrl.sb3.CpcrlSB3VecEnv (ep_rew_mean after the first and the last rollout,
# steps/s). Dependencies come from Debian (no pip download: PyPI need not be
# reachable): python3-numpy, python3-cloudpickle, python3-typing-extensions,
# and for SB3 python3-torch, python3-pandas, python3-matplotlib; what is missing
# is named with the apt-get line, and the checks that need it are not run.
#
# Uses Debian's /usr/bin/python3 (PYTHON overrides) and the library of
# `make lib` (CPCRL_LIB overrides). Exit status: 0 when no check failed.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
PY=${PYTHON:-/usr/bin/python3}
export CPCRL_LIB=${CPCRL_LIB:-$ROOT/build/libcpcrl_env.so}
PPO_STEPS=20000
GYMS=()
SB3=${CPCRL_SB3_SRC:-}
if [ -n "${CPCRL_GYM_SRCS:-}" ]; then IFS=: read -r -a GYMS <<<"$CPCRL_GYM_SRCS"; fi
ARG_GYMS=()
while [ $# -gt 0 ]; do
    case $1 in
    --gym) ARG_GYMS+=("$2"); shift 2 ;;
    --sb3) SB3=$2; shift 2 ;;
    --ppo-steps) PPO_STEPS=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "check_python_ecosystem: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ ${#ARG_GYMS[@]} -gt 0 ] && GYMS=("${ARG_GYMS[@]}")
if [ ${#GYMS[@]} -eq 0 ]; then
    echo "check_python_ecosystem: no Gymnasium tree: give --gym DIR (or CPCRL_GYM_SRCS)" >&2
    exit 2
fi
[ -f "$CPCRL_LIB" ] || { echo "check_python_ecosystem: $CPCRL_LIB missing: run make lib" >&2; exit 2; }

TMP=$(mktemp -d /tmp/cpcrl-eco.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# tree SPEC PACKAGE: the directory holding PACKAGE/ (SPEC = DIR or GITDIR@REV), or fail
tree() {
    local spec=$1 pkg=$2
    if [[ $spec == *@* && ! -d $spec ]]; then
        local git=${spec%@*} rev=${spec##*@} out
        out="$TMP/$(basename "$(dirname "$git")")-$rev"
        mkdir -p "$out"
        git --git-dir="$git" archive "$rev" "$pkg" 2>"$TMP/archive.err" | tar -x -C "$out"
        [ -d "$out/$pkg" ] || { cat "$TMP/archive.err" >&2; return 1; }
        echo "$out"
    else
        echo "$spec"
    fi
}

# describe SPEC: SPEC, with the commit REV names when it is GITDIR@REV
describe() {
    if [[ $1 == *@* && ! -d $1 ]]; then
        echo "$1 (commit $(git --git-dir="${1%@*}" rev-parse --short=12 "${1##*@}^{commit}" 2>/dev/null))"
    else
        echo "$1"
    fi
}

echo "== cpcrl's Python binding against Gymnasium / Stable-Baselines3 source trees"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); cpcrl commit $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet -- python 2>/dev/null || echo ' (python/ modified)')"
echo "machine: $(uname -m), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" - <<'EOF'
import importlib, platform
print("python %s (%s)" % (platform.python_version(), __import__("sys").executable))
for m in ("numpy", "cloudpickle", "typing_extensions", "torch", "pandas", "matplotlib",
          "farama_notifications"):
    try:
        mod = importlib.import_module(m)
        v = getattr(mod, "__version__", None)
        if v is None:
            from importlib.metadata import version
            v = version(m.replace("_", "-"))
        print("  %-21s %s" % (m, v))
    except ImportError:
        print("  %-21s absent" % m)
    except Exception as e:
        print("  %-21s present (version unknown: %s)" % (m, e))
EOF

# have MODULE...: 0 when Debian's python imports them all
have() { "$PY" -c "import $(IFS=,; echo "$*")" 2>/dev/null; }
if ! have farama_notifications; then
    echo "note: farama_notifications (PyPI only) is absent: gymnasium imports it inside try/except" \
         "(a notice printer), so nothing is stubbed"
fi
missing=()
have numpy || missing+=(python3-numpy)
have cloudpickle || missing+=(python3-cloudpickle)
have typing_extensions || missing+=(python3-typing-extensions)
if [ ${#missing[@]} -gt 0 ]; then
    echo "NOT RUN: gymnasium needs ${missing[*]}: apt-get install -y ${missing[*]}"
    exit 1
fi
SB3_DIR=
if [ -n "$SB3" ]; then
    sb3_missing=()
    have torch || sb3_missing+=(python3-torch)
    have pandas || sb3_missing+=(python3-pandas)
    have matplotlib || sb3_missing+=(python3-matplotlib)
    if [ ${#sb3_missing[@]} -gt 0 ]; then
        echo "NOT RUN (SB3 checks): stable-baselines3 needs ${sb3_missing[*]}:" \
             "apt-get install -y ${sb3_missing[*]}"
    elif ! SB3_DIR=$(tree "$SB3" stable_baselines3) || [ ! -d "$SB3_DIR/stable_baselines3" ]; then
        echo "NOT RUN (SB3 checks): no stable_baselines3/ in $SB3"
        SB3_DIR=
    else
        echo "stable-baselines3 $(cat "$SB3_DIR/stable_baselines3/version.txt" 2>/dev/null) from $(describe "$SB3")"
    fi
else
    echo "NOT RUN (SB3 checks): no --sb3 tree given"
fi

status=0
for spec in "${GYMS[@]}"; do
    echo
    if ! dir=$(tree "$spec" gymnasium) || [ ! -d "$dir/gymnasium" ]; then
        echo "== $spec: no gymnasium/ there: NOT RUN"
        status=1
        continue
    fi
    echo "== gymnasium tree $(describe "$spec")"
    path="$ROOT/python:$dir"
    sb3flag=()
    if [ -n "$SB3_DIR" ]; then
        path="$path:$SB3_DIR"
        sb3flag=(--sb3 --ppo-steps "$PPO_STEPS")
    fi
    PYTHONPATH=$path "$PY" tests/python/ecosystem_check.py "${sb3flag[@]}" 2>&1 || status=1
done
echo
[ $status -eq 0 ] && echo "check_python_ecosystem: no check failed" ||
    echo "check_python_ecosystem: FAILED (see FAIL / NOT RUN above)"
exit $status
