// nn_check.h — what the kernel test programs (test_nn, test_conv, test_lstm)
// share: per-test allocations freed by the teardown, random inputs, the
// fixture readers, the finite-difference checker and double-precision
// forwards written independently of nn/nn.c, and the tolerances below.
//
// Each kernel is checked three ways:
//   (a) fast (BLAS) vs the naive nn_ref_* loops on random shapes, backward
//       starting from random non-zero gradients so "adds into" is checked too;
//       tolerance 2e-5 abs + 1e-4 rel (float32 sums of <= a few hundred terms);
//   (b) backward vs central finite differences of a double-precision forward
//       written here (h = 1e-6, so the numerical derivative is good to ~1e-9):
//       |analytic - numeric| <= 1e-4 + 1e-3 |numeric|. The same double forward
//       is first held to the float kernel's output (1e-5 abs + 1e-5 rel);
//   (c) forward and backward vs PyTorch fixtures in tests/fixtures/*.bin
//       (scripts/make_fixtures.py; format in tests/fixture.h):
//       |c - torch| <= 1e-5 + 1e-5 |torch|.
// Each main() calls blas_select_kernel() first, so the tests run under the
// kernel the program would pick. Run from the repo root (fixture paths).
#ifndef CPCRL_NN_CHECK_H
#define CPCRL_NN_CHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FORCE_OPENBLAS_COMPLEX_STRUCT // keep <complex.h>'s macro I out
#include <cblas.h>

#include "nn/blas.h"
#include "agent/model.h"
#include "nn/nn.h"
#include "nn/nn_ref.h"
#include "nn/pool.h"
#include "base/rng.h"
#include "tests/fixture.h"

#define FIX_ATOL 1e-5
#define FIX_RTOL 1e-5
#define REF_ATOL 2e-5
#define REF_RTOL 1e-4
#define FD_H 1e-6
#define FD_ATOL 1e-4
#define FD_RTOL 1e-3


// ----------------------------------------------------------------------------
// Per-test allocations, freed by the teardown even when a test fails.

#define MAX_ALLOCS 512
static void *g_allocs[MAX_ALLOCS];
static int g_nallocs;
static Fixture g_fix[4];
static int g_nfix;

static inline void *talloc(size_t bytes) {
    assert_true(g_nallocs < MAX_ALLOCS);
    void *p = calloc(bytes ? bytes : 1, 1);
    assert_non_null(p);
    g_allocs[g_nallocs++] = p;
    return p;
}
static inline float *fa(size_t n) { return talloc(n * sizeof(float)); }
static inline double *dalloc(size_t n) { return talloc(n * sizeof(double)); }

static inline int teardown(void **state) {
    for (int i = 0; i < g_nallocs; i++) free(g_allocs[i]);
    g_nallocs = 0;
    for (int i = 0; i < g_nfix; i++) fix_free(&g_fix[i]);
    g_nfix = 0;
    return 0;
}

static inline float *frand(size_t n, float scale, uint64_t *rng) {
    float *x = fa(n);
    for (size_t i = 0; i < n; i++) x[i] = (2.0f * rng_float(rng) - 1.0f) * scale;
    return x;
}
static inline float *fcopy(const float *src, size_t n) {
    float *x = fa(n);
    memcpy(x, src, n * sizeof(float));
    return x;
}
static inline double *dcopy(const float *src, size_t n) {
    double *x = dalloc(n);
    for (size_t i = 0; i < n; i++) x[i] = src[i];
    return x;
}
static inline float *f_from_d(const double *src, size_t n) {
    float *x = fa(n);
    for (size_t i = 0; i < n; i++) x[i] = (float)src[i];
    return x;
}

// Random one-hot observation planes (N,C,H,W): every pixel one plane, or
// none where `holes` (the padding-like case the env never produces).
static inline float *onehot_input(int N, int C, int HW, int holes, uint64_t *rng) {
    float *x = fa((size_t)N * C * HW);
    for (int n = 0; n < N; n++)
        for (int p = 0; p < HW; p++) {
            if (holes && rng_int(rng, 4) == 0) continue;
            x[((size_t)n * C + rng_int(rng, C)) * HW + p] = 1.0f;
        }
    return x;
}

#define EXPECT_CLOSE(what, got, want, n, atol, rtol) \
    assert_int_equal(fix_compare((what), (got), (want), (n), (atol), (rtol)), 0)

// ----------------------------------------------------------------------------
// Fixtures

static inline Fixture *fix_open(const char *file) {
    assert_true(g_nfix < 4);
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/%s", file);
    Fixture *f = &g_fix[g_nfix++];
    if (fix_load(f, path) != 0) fail_msg("%s", f->err);
    return f;
}
static inline const float *need(Fixture *f, const char *name, size_t n) {
    const float *p = fix_data(f, name, n);
    if (!p) fail_msg("%s", f->err);
    return p;
}
static inline const FixTensor *need_t(Fixture *f, const char *name, int ndim) {
    const FixTensor *t = fix_get(f, name);
    if (!t) fail_msg("%s", f->err);
    assert_int_equal(t->ndim, ndim);
    return t;
}

// ----------------------------------------------------------------------------
// Finite differences: perturb one double input at a time.

typedef double (*LossFn)(void *ctx);

static inline void fd_check(const char *what, double *x, size_t n, const float *analytic,
                     LossFn loss, void *ctx) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + FD_H;
        double lp = loss(ctx);
        x[i] = x0 - FD_H;
        double lm = loss(ctx);
        x[i] = x0;
        double num = (lp - lm) / (2.0 * FD_H), err = fabs(analytic[i] - num);
        if (!(err <= FD_ATOL + FD_RTOL * fabs(num))) {
            if (bad < 5)
                fprintf(stderr, "  d%s[%zu]: analytic %.8g numeric %.8g\n", what, i,
                        analytic[i], num);
            bad++;
        }
    }
    if (bad) fail_msg("d%s: %zu of %zu gradients disagree with finite differences", what, bad, n);
}

static inline double dot_d(const double *a, const double *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

// ----------------------------------------------------------------------------
// Double-precision forwards (independent of nn.c) for the finite differences.

static inline void linear_d(double *out, const double *inp, const double *w, const double *b,
                     int N, int I, int O) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double s = b ? b[o] : 0.0;
            for (int i = 0; i < I; i++) s += inp[n * I + i] * w[o * I + i];
            out[n * O + o] = s;
        }
}

static inline void conv_d(double *out, const double *inp, const double *w, const double *b, int N,
                   int Ci, int H, int W, int Co, int K, int S, int P) {
    int Ho = (H + 2 * P - K) / S + 1, Wo = (W + 2 * P - K) / S + 1;
    for (int n = 0; n < N; n++)
        for (int co = 0; co < Co; co++)
            for (int y = 0; y < Ho; y++)
                for (int x = 0; x < Wo; x++) {
                    double s = b ? b[co] : 0.0;
                    for (int ci = 0; ci < Ci; ci++)
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++) {
                                int iy = y * S - P + ky, ix = x * S - P + kx;
                                if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                                    s += inp[((n * Ci + ci) * H + iy) * W + ix] *
                                         w[((co * Ci + ci) * K + ky) * K + kx];
                            }
                    out[((n * Co + co) * Ho + y) * Wo + x] = s;
                }
}

static inline double sig_d(double x) { return 1.0 / (1.0 + exp(-x)); }

static inline void lstm_d(double *h, double *c, const double *x, const double *hp, const double *cp,
                   const double *wih, const double *whh, const double *bih,
                   const double *bhh, int N, int I, int H) {
    for (int n = 0; n < N; n++)
        for (int j = 0; j < H; j++) {
            double a[4];
            for (int g = 0; g < 4; g++) {
                int k = g * H + j;
                double s = bih[k] + bhh[k];
                for (int i = 0; i < I; i++) s += x[n * I + i] * wih[k * I + i];
                for (int m = 0; m < H; m++) s += hp[n * H + m] * whh[k * H + m];
                a[g] = s;
            }
            double ig = sig_d(a[0]), fg = sig_d(a[1]), gg = tanh(a[2]), og = sig_d(a[3]);
            c[n * H + j] = fg * cp[n * H + j] + ig * gg;
            h[n * H + j] = og * tanh(c[n * H + j]);
        }
}

static inline void log_softmax_d(double *lp, const double *z, int N, int A) {
    for (int n = 0; n < N; n++) {
        double mx = z[n * A];
        for (int a = 1; a < A; a++) mx = fmax(mx, z[n * A + a]);
        double s = 0.0;
        for (int a = 0; a < A; a++) s += exp(z[n * A + a] - mx);
        for (int a = 0; a < A; a++) lp[n * A + a] = z[n * A + a] - mx - log(s);
    }
}


#endif
