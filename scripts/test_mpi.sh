#!/bin/sh
# MPI equivalence test: R = 2 ranks of B/2 envs vs one process of B envs.
set -e
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm_rsh_agent=
mpirun --oversubscribe -np 1 "$bin" 8 3 "$dir/one.bin"
mpirun --oversubscribe -np 2 "$bin" 4 3 "$dir/two.bin"
if "$bin" --compare "$dir/one.bin" "$dir/two.bin" 1e-5; then
    echo "1 passed, 0 failed"
else
    echo "0 passed, 1 failed"; exit 1
fi
