// gemm.h — the learner's large products in fp32 (OpenBLAS) or bf16 (oneDNN).
//
// gemm_learner() / gemm_fixed() / gemm_param() stand for cblas_sgemm
// (row-major, alpha 1) at the learner's products: the LSTM's weight and
// input gradients, BPTT's carried dh_prev, fc's backward, CPC's
// predictions P_k and their gradients, and the acting forward's fc and
// LSTM products (measured 3-4x faster in bf16 with the weights converted
// once per rollout; acting was a quarter to a third of the update time).
// Under --precision fp32 (the default) they are cblas_sgemm. Under
// --precision bf16 a product of at least GEMM_BF16_MIN multiply-adds runs
// as a oneDNN matmul with both operands rounded to bf16 (round to nearest
// even: 8 significant bits) and fp32 accumulation and result; smaller ones
// stay on cblas_sgemm. Parameters, optimizer state, activations, losses,
// the pointwise kernels, the convolutions and CPC's score products stay fp32.
//
// Why oneDNN: its matmul runs bf16 on AMX tiles (brgemm) where the CPU
// has them and on AVX512-BF16 otherwise; OpenBLAS 0.3.21 has no sbgemm.
// `cpcrl bench blas` prints both per shape; on this repo's 2-core Xeon
// (AMX-BF16), 2 threads, conversions of both operands included, 2026-11-29:
// LSTM dW_ih 1024x261x640 3.21 -> 1.01 ms, dz 640x256x1024 3.06 -> 0.87,
// fc dW 256x1568x640 5.23 -> 1.29, fc dinp 640x1568x256 3.93 -> 1.81
// (oneDNN 2.6's tail in N: 1568 = 24.5 x 64), CPC P_1 608x256x256 0.85 ->
// 0.29, BPTT dh_prev 32x256x1024 0.34 -> 0.22 (W_hh converted every call
// there; once per update in training). Every learner shape measured faster,
// so all of them are routed; GEMM_BF16_MIN keeps the heads and CPC's
// 32x32 score products on sgemm. Packing B in oneDNN's blocked layout
// ahead of time measured no faster than its plain layout, so operands are
// passed plain (strided, transposed by strides).
//
// Machinery: primitives are created on first use of a shape and kept in a
// per-thread cache keyed by (transA, transB, M, N, K, lda, ldb, ldc, beta),
// with their memory objects (only data handles change per call); operands
// are converted into per-thread buffers that grow on first use, parameters
// (and CPC's contexts) once per rollout / optimizer step into per-thread
// copies. After the first update nothing is created or allocated
// (gemm_bf16_stats; test_gemm).
// oneDNN runs on OpenMP: a call uses as many OpenMP threads as OpenBLAS
// has at that moment (1 inside nn_run_parts' parts).
#ifndef CPCRL_GEMM_H
#define CPCRL_GEMM_H

#include <stddef.h>
#include <stdint.h>

enum { GEMM_FP32 = 0, GEMM_BF16 = 1 };

// Products below this many multiply-adds stay on cblas_sgemm under bf16:
// the conversion and the call cost more than they save there.
#define GEMM_BF16_MIN (1 << 20)

// 1 when bf16 products can run here: built with oneDNN (CPCRL_DNNL), the CPU
// has AVX512-BF16 or AMX-BF16, and CPCRL_NO_BF16 is unset or empty (a way to
// see the refusal on a machine that has it). gemm_bf16_status() says which
// ("oneDNN 2.6.3, AMX-BF16") or why not ("built without oneDNN: apt-get
// install libdnnl-dev and rebuild").
int gemm_bf16_available(void);
const char *gemm_bf16_status(void);

// The learner's precision, process-wide (trainer_init sets it from
// --precision). Setting GEMM_BF16 where it is unavailable is a programming
// error (assert): callers check gemm_bf16_available() first.
void gemm_set_precision(int precision);
int gemm_precision(void);

// C (M,N) = op(A) op(B) + beta C, row-major: op(A) is (M,K), A stored (M,K)
// with row stride lda, or (K,M) when ta; op(B) is (K,N), B stored (K,N), or
// (N,K) when tb. beta is 0 or 1.
void gemm_learner(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc);

// A product whose B is a parameter (weights), A (M,K) not transposed:
// under bf16 and at least GEMM_BF16_MIN multiply-adds it runs in bf16 and
// returns 0, and while parameters are fixed (below) W is converted once per
// thread and reused; otherwise it returns -1 and does nothing (the caller
// runs its fp32 product). The acting forward's fc and LSTM products, BPTT's
// dh_prev, fc's dinp, the LSTM's dz and CPC's P_k and dc go through here.
int gemm_param(int tb, int M, int N, int K, const float *A, int lda, const float *W, int ldw,
               float beta, float *C, int ldc);

// The general form: afixed / bfixed mark an operand that does not change
// while parameters are fixed (a parameter, or an activation the learner
// only reads, like CPC's contexts): its copy is reused, also by calls on its
// first rows. Returns 0, or -1 (not bf16 / too small: the caller runs fp32).
int gemm_fixed(int ta, int tb, int M, int N, int K, const float *A, int lda, int afixed,
               const float *B, int ldb, int bfixed, float beta, float *C, int ldc);

// Parameters do not change between begin and end (the trainer brackets a
// rollout, and the loss + backward of each optimizer step): bf16 copies of
// them made in between are reused. Outside, they are converted per call.
void gemm_params_fixed_begin(void);
void gemm_params_fixed_end(void);

// The bf16 product itself, whatever the precision and size (tests, bench).
// Returns 0, or -1 when bf16 is unavailable or oneDNN refused (C untouched).
int gemm_bf16(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc);

// Round to bf16, nearest even (NaN stays NaN), and back: the reference the
// tests hold the oneDNN path to.
uint16_t gemm_bf16_round(float x);
float gemm_bf16_float(uint16_t b);
// Convert n floats (vectorised where the CPU has AVX512-BF16).
void gemm_bf16_convert(uint16_t *out, const float *x, size_t n);

// Primitives created and scratch bytes allocated so far (all threads).
typedef struct { long primitives, allocs; size_t scratch_bytes; } GemmStats;
void gemm_bf16_stats(GemmStats *s);

// Release every primitive and buffer (end of program; tests).
void gemm_bf16_shutdown(void);

#endif
