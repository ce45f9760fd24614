// blas.h — which OpenBLAS kernel cpcrl runs on, its thread count, and a
// GEMM benchmark at the network's real shapes.
//
// Why: Debian's OpenBLAS is built with DYNAMIC_ARCH and picks its kernel at
// load time from the CPU id. On CPUs it does not recognise (e.g. some virtual
// Xeons / EPYCs with AVX-512) it falls back to the generic "Prescott" kernel:
// sgemm 1024^3 on 2 threads runs ~60 GFLOP/s that way instead of 150-285 with
// the SkylakeX kernel. The kernel can only be chosen before the library loads,
// through the environment variable OPENBLAS_CORETYPE, so blas_select_kernel()
// sets it and re-executes the program once (/proc/self/exe, same argv).
// A value the user set is never overridden.
#ifndef CPCRL_BLAS_H
#define CPCRL_BLAS_H

#include <stdio.h>

// Call first thing in main(). If OPENBLAS_CORETYPE is unset (or empty) and
// the library runs a kernel weaker than the CPU supports, set it and re-exec;
// the child finds the marker variable CPCRL_BLAS_REEXEC (holding the
// library's own choice) and never re-execs again. With verbose, prints one
// line to stderr, e.g.
//   cpcrl: OpenBLAS kernel SkylakeX (auto-selected; CPU has AVX-512, library default was Prescott)
// Returns 0, or -1 when the better kernel could not be put in place (the
// program still works, only slower; the line says what to set by hand).
int blas_select_kernel(int argc, char **argv, int verbose);

// The kernel OpenBLAS runs now (openblas_get_corename()).
const char *blas_kernel_name(void);
// BLAS threads; n <= 0 means one per online CPU.
void blas_set_threads(int n);
int blas_threads(void);

// Vector-ISA classes, used to compare a kernel with the CPU.
enum { BLAS_CLASS_SSE = 0, BLAS_CLASS_AVX = 1, BLAS_CLASS_AVX2 = 2, BLAS_CLASS_AVX512 = 3 };
int blas_cpu_class(void);                         // what this CPU (and OS) supports
int blas_kernel_class(const char *corename);      // what an OpenBLAS kernel uses
const char *blas_class_name(int cls);             // "AVX-512", "AVX2", ...
// The kernel to switch to, or NULL when `corename` already fits `cpu_class`.
// Pure function (tested): ("Prescott", AVX512) -> "SkylakeX".
const char *blas_pick_kernel(const char *corename, int cpu_class);

// Print GFLOP/s of cblas_sgemm at 1024^3 and at the network's GEMM shapes
// (each repeated for ~0.3 s) under the current kernel and thread count.
void blas_bench(FILE *out);

#endif
