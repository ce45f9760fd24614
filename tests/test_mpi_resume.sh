#!/bin/bash
# test_mpi_resume.sh — an MPI run whose ranks' checkpoints are of different
# updates (a crash between two ranks' checkpoint writes) is refused at
# --resume: exit 1, the ranks named, and the run directory left byte for
# byte as it was (before, the ranks paired different collective calls and
# rewrote both checkpoints with differing parameters). A run whose ranks agree
# still resumes. Run by `make test-mpi`.
#
# usage: tests/test_mpi_resume.sh CPCRL_MPI
set -u
MPI_BIN=${1:-./cpcrl-mpi}
[ -x "$MPI_BIN" ] || { echo "test_mpi_resume: $MPI_BIN not built"; echo "0 passed, 1 failed"; exit 1; }
MPI_BIN=$(cd "$(dirname "$MPI_BIN")" && pwd)/$(basename "$MPI_BIN")
TMP=$(mktemp -d /tmp/cpcrl-mpiresume.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP" || exit 1
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm_rsh_agent=
pass=0
fail=0
ok() { echo "test_mpi_resume: $1 ok"; pass=$((pass + 1)); }
bad() { echo "test_mpi_resume: $1 FAILED"; [ $# -gt 1 ] && printf '%s\n' "$2" | head -20 | sed 's/^/  | /'; fail=$((fail + 1)); }
NET="--envs 4 --hidden 16 --latent 16 --conv1 8 --conv2 8 --cpc-k 3 --unroll 8 --threads 1 --progress 0 --eval-every 0"
run() { timeout 120 mpirun --oversubscribe -np 2 "$MPI_BIN" train "$@" >"$TMP/out.txt" 2>&1; }
listing() { (cd "$1" && find . -type f ! -name train.lock -print0 | sort -z | xargs -0 -r sha256sum); }

run --task goal $NET --frames 4000 --ckpt-every 2000 --runs-dir r --name m
st=$?
[ $st -eq 0 ] && [ -f r/m/model.ckpt ] && [ -f r/m/model.rank1.ckpt ]
if [ $? -eq 0 ]; then ok "a 2-rank run writes model.ckpt and model.rank1.ckpt"; else bad "a 2-rank run writes model.ckpt and model.rank1.ckpt" "$(tail -5 "$TMP/out.txt")"; fi
cp r/m/model.rank1.ckpt "$TMP/rank1.at4000"
run --resume r/m --frames 8000
[ $? -eq 0 ] && ok "the ranks agree: --resume runs on" || bad "the ranks agree: --resume runs on" "$(tail -5 "$TMP/out.txt")"
# rank 1's checkpoint back at 4000 frames, rank 0's at 8000
cp "$TMP/rank1.at4000" r/m/model.rank1.ckpt
before=$(listing r/m)
run --resume r/m --frames 12000
st=$?
[ $st -eq 1 ] && grep -q "checkpoints are of different updates" "$TMP/out.txt" && grep -q "model.rank1.ckpt" "$TMP/out.txt"
if [ $? -eq 0 ]; then ok "checkpoints of different updates: refused (exit 1), the files named"
else bad "checkpoints of different updates: refused (exit 1), the files named" "status $st $(tail -5 "$TMP/out.txt")"; fi
[ "$before" = "$(listing r/m)" ] && ok "... and the run directory is left byte for byte" || bad "... and the run directory is left byte for byte"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
