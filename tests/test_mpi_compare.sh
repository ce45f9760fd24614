#!/bin/bash
# test_mpi_compare.sh — `compare` over MPI ranks equals `compare` in one
# process (issue #19): `mpirun -np 2 cpcrl-mpi compare` of a tiny plan (2
# tasks x 2 arms x 2 seeds, --threads 1, so every run is deterministic) must
# write a results.csv identical (cmp) to the plain `cpcrl compare` of the same
# plan, with finite figures in every row; every run trained and probed exactly
# once (one "== cpcrl train" and one "== cpcrl probe" line in its train.out:
# ranks take runs under the run lock, never the same one twice), no train.lock
# left behind, both ranks reported; and the same mpirun again trains nothing.
# Run by `make test-mpi` (CI runs it where mpicc exists).
#
# usage: tests/test_mpi_compare.sh CPCRL_MPI CPCRL
set -u
MPI_BIN=${1:-./cpcrl-mpi}
BIN=${2:-./cpcrl}
for b in "$MPI_BIN" "$BIN"; do
    [ -x "$b" ] || { echo "test_mpi_compare: $b not built"; echo "0 passed, 1 failed"; exit 1; }
done
MPI_BIN=$(cd "$(dirname "$MPI_BIN")" && pwd)/$(basename "$MPI_BIN")
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
TMP=$(mktemp -d /tmp/cpcrl-mpicmp.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP" || exit 1
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm_rsh_agent=
unset CPCRL_COMPARE_CHILD

pass=0
fail=0
ok() { echo "test_mpi_compare: $1 ok"; pass=$((pass + 1)); }
bad() { echo "test_mpi_compare: $1 FAILED"; [ $# -gt 1 ] && printf '%s\n' "$2" | head -40 | sed 's/^/  | /'; fail=$((fail + 1)); }

NET="--envs 4 --unroll 5 --conv1 4 --conv2 4 --latent 16 --hidden 16 --cpc-k 3"
PLAN="--tasks tmaze,seekavoid --seeds 2 --frames 2000 --jobs 1 --threads 1 --cpc-weight 0.5 --probe-episodes 5 --plot 0 $NET"

if "$BIN" compare $PLAN --out local >"$TMP/local.log" 2>&1 && [ -s local/results.csv ]; then ok "local compare"
else bad "local compare" "$(tail -20 "$TMP/local.log")"; fi
if mpirun --oversubscribe -np 2 "$MPI_BIN" compare $PLAN --out mpi >"$TMP/mpi.log" 2>&1 && [ -s mpi/results.csv ]; then
    ok "mpirun -np 2 compare exits 0"
else
    bad "mpirun -np 2 compare exits 0" "$(tail -20 "$TMP/mpi.log")"
fi
if cmp -s local/results.csv mpi/results.csv; then ok "results.csv over 2 ranks = the local one"
else bad "results.csv over 2 ranks = the local one" "$(diff local/results.csv mpi/results.csv)"; fi
finite=$(awk -F, 'NR > 1 && $7 !~ /nan/ && $8 !~ /nan/ && $10 !~ /nan/ { n++ } END { print n + 0 }' mpi/results.csv)
[ "$finite" -eq 8 ] && ok "8 rows, finite figures" || bad "8 rows, finite figures" "$(cat mpi/results.csv)"
off=""
for d in mpi/runs/*/; do
    [ "$(grep -c '^== cpcrl train' "$d/train.out")" = 1 ] && [ "$(grep -c '^== cpcrl probe' "$d/train.out")" = 1 ] ||
        off="$off $(basename "$d")"
done
n=$(ls -d mpi/runs/*/ | wc -l)
if [ -z "$off" ] && [ "$n" -eq 8 ]; then ok "every run trained and probed exactly once ($n runs)"
else bad "every run trained and probed exactly once ($n runs)" "more or less than once:$off"; fi
if ls mpi/runs/*/train.lock >/dev/null 2>&1; then bad "no train.lock left" "$(ls mpi/runs/*/train.lock)"
else ok "no train.lock left"; fi
if grep -q "rank 0 of 2 started" "$TMP/mpi.log" && grep -q "rank 1 of 2 started" "$TMP/mpi.log"; then ok "both ranks reported"
else bad "both ranks reported" "$(grep rank "$TMP/mpi.log")"; fi
mpirun --oversubscribe -np 2 "$MPI_BIN" compare $PLAN --out mpi >"$TMP/again.log" 2>&1
rc=$?
trains=$(cat mpi/runs/*/train.out | grep -c '^== cpcrl')
if [ $rc -eq 0 ] && [ "$trains" -eq 16 ] && cmp -s local/results.csv mpi/results.csv; then ok "the same mpirun again trains nothing"
else bad "the same mpirun again trains nothing (rc $rc, $trains children in all)" "$(tail -5 "$TMP/again.log")"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
