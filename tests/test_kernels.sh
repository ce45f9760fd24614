#!/bin/bash
# The portability step of `make test`: every numeric test program again under
# each OpenBLAS kernel this CPU can run (SkylakeX with AVX-512, Haswell and
# Zen with AVX2, Sandybridge with AVX, Prescott always) and once with
# CPCRL_NO_BF16=1 (a CPU without bf16), so a failure that only another kind of
# machine would show is caught here. A kernel the CPU cannot run is skipped,
# saying so. Usage: tests/test_kernels.sh PROGRAM...
set -u
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has() { case " $flags " in *" $1 "*) return 0 ;; esac; return 1; }
kernels="Prescott"
has avx && kernels="$kernels Sandybridge"
has avx2 && has fma && kernels="$kernels Haswell Zen"
has avx512f && has avx512bw && has avx512vl && has avx512dq && has avx512cd && kernels="$kernels SkylakeX"
for k in Haswell Zen Sandybridge SkylakeX; do
    case " $kernels " in *" $k "*) ;; *) echo "test_kernels: skip $k: this CPU lacks its instructions" ;; esac
done
pass=0; fail=0
run() { # label, env assignment, program
    local out
    if out=$(env "$2" "$3" 2>&1); then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "test_kernels: FAILED $3 with $2"
        printf '%s\n' "$out" | grep -E 'ERROR|FAILED|LINE|error' | head -20
    fi
}
for k in $kernels; do
    for t in "$@"; do run "$k" "OPENBLAS_CORETYPE=$k" "$t"; done
    echo "test_kernels: OPENBLAS_CORETYPE=$k done"
done
for t in "$@"; do run nobf16 "CPCRL_NO_BF16=1" "$t"; done
echo "test_kernels: CPCRL_NO_BF16=1 done"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
