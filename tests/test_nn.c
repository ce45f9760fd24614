// test_nn.c — tests of agent/nn.[ch] (the shared layers) and agent/blas.[ch].
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
// main() calls blas_select_kernel() first, so the sgemm tests run under the
// kernel the program would pick. Run from the repo root (fixture paths).

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

#include "agent/blas.h"
#include "agent/model.h"
#include "agent/nn.h"
#include "agent/nn_ref.h"
#include "agent/pool.h"
#include "env/rng.h"
#include "tests/fixture.h"

#define FIX_ATOL 1e-5
#define FIX_RTOL 1e-5
#define REF_ATOL 2e-5
#define REF_RTOL 1e-4
#define FD_H 1e-6
#define FD_ATOL 1e-4
#define FD_RTOL 1e-3

static int g_user_coretype; // OPENBLAS_CORETYPE set by the user, not by our re-exec
static int g_select_ret;

// ----------------------------------------------------------------------------
// Per-test allocations, freed by the teardown even when a test fails.

#define MAX_ALLOCS 512
static void *g_allocs[MAX_ALLOCS];
static int g_nallocs;
static Fixture g_fix[4];
static int g_nfix;

static void *talloc(size_t bytes) {
    assert_true(g_nallocs < MAX_ALLOCS);
    void *p = calloc(bytes ? bytes : 1, 1);
    assert_non_null(p);
    g_allocs[g_nallocs++] = p;
    return p;
}
static float *fa(size_t n) { return talloc(n * sizeof(float)); }
static double *dalloc(size_t n) { return talloc(n * sizeof(double)); }

static int teardown(void **state) {
    for (int i = 0; i < g_nallocs; i++) free(g_allocs[i]);
    g_nallocs = 0;
    for (int i = 0; i < g_nfix; i++) fix_free(&g_fix[i]);
    g_nfix = 0;
    return 0;
}

static float *frand(size_t n, float scale, uint64_t *rng) {
    float *x = fa(n);
    for (size_t i = 0; i < n; i++) x[i] = (2.0f * rng_float(rng) - 1.0f) * scale;
    return x;
}
static float *fcopy(const float *src, size_t n) {
    float *x = fa(n);
    memcpy(x, src, n * sizeof(float));
    return x;
}
static double *dcopy(const float *src, size_t n) {
    double *x = dalloc(n);
    for (size_t i = 0; i < n; i++) x[i] = src[i];
    return x;
}
static float *f_from_d(const double *src, size_t n) {
    float *x = fa(n);
    for (size_t i = 0; i < n; i++) x[i] = (float)src[i];
    return x;
}

// Random one-hot observation planes (N,C,H,W): every pixel one plane, or
// none where `holes` (the padding-like case the env never produces).
static float *onehot_input(int N, int C, int HW, int holes, uint64_t *rng) {
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

static Fixture *fix_open(const char *file) {
    assert_true(g_nfix < 4);
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/%s", file);
    Fixture *f = &g_fix[g_nfix++];
    if (fix_load(f, path) != 0) fail_msg("%s", f->err);
    return f;
}
static const float *need(Fixture *f, const char *name, size_t n) {
    const float *p = fix_data(f, name, n);
    if (!p) fail_msg("%s", f->err);
    return p;
}
static const FixTensor *need_t(Fixture *f, const char *name, int ndim) {
    const FixTensor *t = fix_get(f, name);
    if (!t) fail_msg("%s", f->err);
    assert_int_equal(t->ndim, ndim);
    return t;
}

// ----------------------------------------------------------------------------
// Finite differences: perturb one double input at a time.

typedef double (*LossFn)(void *ctx);

static void fd_check(const char *what, double *x, size_t n, const float *analytic,
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

static double dot_d(const double *a, const double *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

// ----------------------------------------------------------------------------
// Double-precision forwards (independent of nn.c) for the finite differences.

static void linear_d(double *out, const double *inp, const double *w, const double *b,
                     int N, int I, int O) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double s = b ? b[o] : 0.0;
            for (int i = 0; i < I; i++) s += inp[n * I + i] * w[o * I + i];
            out[n * O + o] = s;
        }
}

static void conv_d(double *out, const double *inp, const double *w, const double *b, int N,
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

static double sig_d(double x) { return 1.0 / (1.0 + exp(-x)); }

static void lstm_d(double *h, double *c, const double *x, const double *hp, const double *cp,
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

static void log_softmax_d(double *lp, const double *z, int N, int A) {
    for (int n = 0; n < N; n++) {
        double mx = z[n * A];
        for (int a = 1; a < A; a++) mx = fmax(mx, z[n * A + a]);
        double s = 0.0;
        for (int a = 0; a < A; a++) s += exp(z[n * A + a] - mx);
        for (int a = 0; a < A; a++) lp[n * A + a] = z[n * A + a] - mx - log(s);
    }
}

// ============================================================================
// BLAS: kernel choice and sgemm vs the naive reference

static void test_blas_pick_kernel(void **state) {
    // The decision table: weak kernels are upgraded to what the CPU supports.
    assert_string_equal(blas_pick_kernel("Prescott", BLAS_CLASS_AVX512), "SkylakeX");
    assert_string_equal(blas_pick_kernel("Core2", BLAS_CLASS_AVX512), "SkylakeX");
    assert_string_equal(blas_pick_kernel("Haswell", BLAS_CLASS_AVX512), "SkylakeX");
    assert_string_equal(blas_pick_kernel("Prescott", BLAS_CLASS_AVX2), "Haswell");
    assert_string_equal(blas_pick_kernel("Nehalem", BLAS_CLASS_AVX), "Sandybridge");
    assert_null(blas_pick_kernel("SkylakeX", BLAS_CLASS_AVX512));
    assert_null(blas_pick_kernel("Cooperlake", BLAS_CLASS_AVX512));
    assert_null(blas_pick_kernel("Zen", BLAS_CLASS_AVX2));
    assert_null(blas_pick_kernel("Haswell", BLAS_CLASS_AVX2));
    assert_null(blas_pick_kernel("Prescott", BLAS_CLASS_SSE));
    assert_int_equal(blas_kernel_class("PRESCOTT"), BLAS_CLASS_SSE);
    assert_int_equal(blas_kernel_class(NULL), BLAS_CLASS_SSE);
}

static void test_blas_kernel_selected(void **state) {
    const char *name = blas_kernel_name();
    assert_non_null(name);
    assert_true(strlen(name) > 0);
    // Unless the user forced a kernel, the one running must be as good as the CPU allows.
    if (!g_user_coretype) {
        assert_int_equal(g_select_ret, 0);
        assert_null(blas_pick_kernel(name, blas_cpu_class()));
    }
    blas_set_threads(1);
    assert_int_equal(blas_threads(), 1);
    blas_set_threads(0); // back to one per CPU
    assert_true(blas_threads() >= 1);
}

// C = alpha op(A) op(B) + beta C with padded leading dimensions, vs nn_ref_sgemm.
static void check_sgemm(int ta, int tb, int M, int N, int K, float alpha, float beta,
                        uint64_t *rng) {
    int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    int lda = ac + rng_int(rng, 3), ldb = bc + rng_int(rng, 3), ldc = N + rng_int(rng, 3);
    float *A = frand((size_t)ar * lda, 1.0f, rng), *B = frand((size_t)br * ldb, 1.0f, rng);
    float *C = frand((size_t)M * ldc, 1.0f, rng), *R = fcopy(C, (size_t)M * ldc);
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    nn_ref_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
    // float32 accumulation over K terms of size <= 1: allow ~1 ulp per term
    double atol = 1e-6 + 1.2e-7 * K * fabs(alpha);
    char what[96];
    snprintf(what, sizeof what, "sgemm %c%c M=%d N=%d K=%d", ta ? 'T' : 'N', tb ? 'T' : 'N',
             M, N, K);
    EXPECT_CLOSE(what, C, R, (size_t)M * ldc, atol, 1e-5);
}

static void test_sgemm_vs_ref(void **state) {
    uint64_t rng = 11;
    for (int t = 0; t < 4; t++) check_sgemm(t & 1, t >> 1, 1024, 256, 64, 1.0f, 0.0f, &rng);
    check_sgemm(0, 1, 1024, 1024, 64, 1.0f, 0.0f, &rng);  // big enough for the threaded path
    check_sgemm(0, 1, 640, 32, 144, 1.0f, 1.0f, &rng);    // conv2 im2col shape
    check_sgemm(1, 0, 96, 80, 640, 0.5f, 1.0f, &rng);     // weight-gradient shape
    for (int r = 0; r < 24; r++)
        check_sgemm(rng_int(&rng, 2), rng_int(&rng, 2), 1 + rng_int(&rng, 70),
                    1 + rng_int(&rng, 70), 1 + rng_int(&rng, 300),
                    rng_int(&rng, 2) ? 1.0f : -0.75f, rng_int(&rng, 2) ? 0.0f : 0.5f, &rng);
}

// nn_sgemm_rows (split into column blocks for few rows) vs the naive
// product, both layouts of B, shapes on both sides of the split.
static void test_sgemm_rows_vs_ref(void **state) {
    uint64_t rng = 12;
    static const int shapes[][3] = {{32, 1024, 517}, {32, 256, 1568}, {32, 256, 1024},
                                    {16, 100, 300}, {64, 70, 2000}, {3, 5, 7}, {80, 64, 64}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int tb = 0; tb < 2; tb++) {
            int M = shapes[i][0], N = shapes[i][1], K = shapes[i][2];
            int lda = K + 1, ldb = (tb ? K : N) + 2, ldc = N + 3;
            float *A = frand((size_t)M * lda, 1, &rng);
            float *B = frand((size_t)(tb ? N : K) * ldb, 1, &rng);
            float *C = frand((size_t)M * ldc, 1, &rng), *R = fcopy(C, (size_t)M * ldc);
            nn_sgemm_rows(tb, M, N, K, 0.5f, A, lda, B, ldb, 1.0f, C, ldc);
            nn_ref_sgemm(0, tb, M, N, K, 0.5f, A, lda, B, ldb, 1.0f, R, ldc);
            EXPECT_CLOSE("sgemm_rows", C, R, (size_t)M * ldc, 1e-6 + 1.2e-7 * K, 1e-5);
        }
}

// Clipping over a slab long enough for the vector blocks, vs a double sum.
static void test_clip_long(void **state) {
    uint64_t rng = 13;
    NNParams p;
    memset(&p, 0, sizeof p);
    const int shape[1] = {100003};
    assert_int_equal(nn_params_add(&p, "g", 1, shape), 0);
    assert_int_equal(nn_params_alloc(&p), 0);
    for (size_t i = 0; i < p.total; i++) p.grads[i] = (2.0f * rng_float(&rng) - 1.0f) * 0.01f;
    double s = 0.0;
    for (size_t i = 0; i < p.total; i++) s += (double)p.grads[i] * p.grads[i];
    float g5 = p.grads[5];
    float norm = nn_clip_grad_norm(&p, 0.5f);
    assert_float_equal(norm, (float)sqrt(s), 1e-5 * sqrt(s));
    assert_float_equal(p.grads[5], g5 * 0.5f / (norm + 1e-6f), 1e-9);
    assert_float_equal(nn_clip_grad_norm(&p, 0.0f), 0.5f, 1e-5);
    nn_params_free(&p);
}

// ============================================================================
// Threads

typedef struct { int *hits; int n; } PartCtx;

static void count_part(void *ctx, int part, int nparts) {
    PartCtx *c = ctx;
    int lo, hi;
    nn_part_range(c->n, part, nparts, &lo, &hi);
    for (int i = lo; i < hi; i++) c->hits[i]++;
}

// Every item is visited exactly once per job, for any number of parts,
// over many back-to-back jobs (a lost wake-up would hang here).
static void test_parallel(void **state) {
    int hits[37];
    PartCtx c = {hits, 37};
    for (int rep = 0; rep < 2000; rep++) {
        memset(hits, 0, sizeof hits);
        int parts = 1 + rep % 4;
        nn_parallel(parts, count_part, &c);
        for (int i = 0; i < c.n; i++) assert_int_equal(hits[i], 1);
    }
    int lo, hi, prev = 0;
    for (int part = 0; part < 3; part++) {
        nn_part_range(10, part, 3, &lo, &hi);
        assert_int_equal(lo, prev);
        prev = hi;
    }
    assert_int_equal(prev, 10);
}

// The model split over 2 threads (rows of a step, frames of the conv
// backward) computes what 1 thread does: every activation, every gradient.
// With one-hot observations (conv1 gathers) and without (generic conv).
static void model_run(Model *m, Acts *a, Grads *g, const float *mask, int T, int B,
                      const float *dsrc, size_t nd) {
    for (int t = 0; t <= T; t++) model_forward(m, a, t * B, B);
    nn_zero_grad(&m->p);
    // dlogits, dvalue, dh, dz from one random source
    const int N = T * B;
    const float *d = dsrc;
    memcpy(g->dlogits, d, (size_t)N * m->A * sizeof(float)), d += (size_t)N * m->A;
    memcpy(g->dvalue, d, (size_t)N * sizeof(float)), d += N;
    memcpy(g->dh, d, (size_t)N * m->H * sizeof(float)), d += (size_t)N * m->H;
    memcpy(g->dz, d, (size_t)N * m->D * sizeof(float)), d += (size_t)N * m->D;
    assert_true((size_t)(d - dsrc) == nd);
    model_backward(m, a, g, mask, T, B);
}

static void test_model_threads(void **state) {
    const int C = 14, V = 7, A = 4, T = 3, B = 32, N = (T + 1) * B, VV = V * V;
    for (int onehot = 1; onehot >= 0; onehot--) {
        uint64_t rng = 47 + onehot;
        Model m;
        assert_int_equal(model_init(&m, C, V, A, 4, 6, 16, 20, 0, 0, 5), 0);
        Acts a;
        Grads g;
        assert_int_equal(acts_alloc(&a, &m, N), 0);
        assert_int_equal(grads_alloc(&g, &m, T * B, B), 0);
        float *x = onehot ? onehot_input(N, C, VV, 0, &rng) : frand((size_t)N * C * VV, 1, &rng);
        memcpy(a.x0, x, (size_t)N * C * VV * sizeof(float));
        for (int r = 0; r < N; r++)
            for (int i = m.D; i < m.X; i++) a.xin[(size_t)r * m.X + i] = rng_float(&rng);
        for (size_t i = 0; i < (size_t)N * m.H; i++) {
            a.hprev[i] = 2.0f * rng_float(&rng) - 1.0f;
            a.cprev[i] = 2.0f * rng_float(&rng) - 1.0f;
        }
        float *mask = fa((size_t)T * B);
        for (int i = 0; i < T * B; i++) mask[i] = rng_int(&rng, 5) ? 1.0f : 0.0f;
        size_t nd = (size_t)T * B * (m.A + 1 + m.H + m.D);
        float *dsrc = frand(nd, 0.1f, &rng);

        int blas = blas_threads();
        blas_set_threads(1);
        model_run(&m, &a, &g, mask, T, B, dsrc, nd);
        float *h1 = fcopy(a.h, (size_t)N * m.H), *v1 = fcopy(a.value, N);
        float *z1 = fcopy(a.z, (size_t)N * m.D), *a1 = fcopy(a.a1, (size_t)N * 4 * VV);
        float *gr1 = fcopy(m.p.grads, m.p.total), *dz1 = fcopy(g.dz, (size_t)T * B * m.D);
        float *dhc1 = fcopy(g.dhc, (size_t)B * m.H), *dcc1 = fcopy(g.dcc, (size_t)B * m.H);
        blas_set_threads(2);
        model_run(&m, &a, &g, mask, T, B, dsrc, nd);
        blas_set_threads(blas);
        EXPECT_CLOSE("threads: a1", a.a1, a1, (size_t)N * 4 * VV, 1e-6, 1e-6);
        EXPECT_CLOSE("threads: z", a.z, z1, (size_t)N * m.D, 1e-6, 1e-6);
        EXPECT_CLOSE("threads: h", a.h, h1, (size_t)N * m.H, 1e-6, 1e-6);
        EXPECT_CLOSE("threads: value", a.value, v1, N, 1e-6, 1e-6);
        EXPECT_CLOSE("threads: grads", m.p.grads, gr1, m.p.total, 1e-6, 1e-5);
        EXPECT_CLOSE("threads: dz", g.dz, dz1, (size_t)T * B * m.D, 1e-6, 1e-5);
        EXPECT_CLOSE("threads: dhc", g.dhc, dhc1, (size_t)B * m.H, 1e-6, 1e-5);
        EXPECT_CLOSE("threads: dcc", g.dcc, dcc1, (size_t)B * m.H, 1e-6, 1e-5);
        for (int r = 0; r < N; r++) assert_int_equal(a.onehot[r], onehot);
        grads_free(&g);
        acts_free(&a);
        model_free(&m);
    }
}

// ============================================================================
// Linear

static void test_linear_vs_ref(void **state) {
    uint64_t rng = 21;
    for (int r = 0; r < 20; r++) {
        int N = 1 + rng_int(&rng, 40), I = 1 + rng_int(&rng, 60), O = 1 + rng_int(&rng, 50);
        int has_b = r % 3 != 0;
        float *inp = frand((size_t)N * I, 1, &rng), *w = frand((size_t)O * I, 1, &rng);
        float *b = has_b ? frand(O, 1, &rng) : NULL;
        float *out = fa((size_t)N * O), *ref = fa((size_t)N * O);
        nn_linear_forward(out, inp, w, b, N, I, O);
        nn_ref_linear_forward(ref, inp, w, b, N, I, O);
        EXPECT_CLOSE("linear out", out, ref, (size_t)N * O, REF_ATOL, REF_RTOL);
        float *dout = frand((size_t)N * O, 1, &rng);
        float *dinp = frand((size_t)N * I, 1, &rng), *rdinp = fcopy(dinp, (size_t)N * I);
        float *dw = frand((size_t)O * I, 1, &rng), *rdw = fcopy(dw, (size_t)O * I);
        float *db = frand(O, 1, &rng), *rdb = fcopy(db, O);
        nn_linear_backward(dinp, dw, db, dout, inp, w, N, I, O);
        nn_ref_linear_backward(rdinp, rdw, rdb, dout, inp, w, N, I, O);
        EXPECT_CLOSE("linear dinp", dinp, rdinp, (size_t)N * I, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("linear dw", dw, rdw, (size_t)O * I, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("linear db", db, rdb, O, REF_ATOL, REF_RTOL);
        // NULL gradients are skipped, the others unchanged
        float *dw2 = fa((size_t)O * I), *dw3 = fa((size_t)O * I);
        nn_linear_backward(NULL, dw2, NULL, dout, inp, w, N, I, O);
        nn_ref_linear_backward(NULL, dw3, NULL, dout, inp, w, N, I, O);
        EXPECT_CLOSE("linear dw (others NULL)", dw2, dw3, (size_t)O * I, REF_ATOL, REF_RTOL);
        // _set writes dinp over whatever it held (the reference adds into
        // zeros); dw, db still add
        float *sdinp = frand((size_t)N * I, 1, &rng), *zdinp = fa((size_t)N * I);
        nn_linear_backward_set(sdinp, dw, db, dout, inp, w, N, I, O);
        nn_ref_linear_backward(zdinp, rdw, rdb, dout, inp, w, N, I, O);
        EXPECT_CLOSE("linear_set dinp", sdinp, zdinp, (size_t)N * I, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("linear_set dw (added)", dw, rdw, (size_t)O * I, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("linear_set db (added)", db, rdb, O, REF_ATOL, REF_RTOL);
    }
}

typedef struct { int N, I, O; double *inp, *w, *b, *dout, *out; } LinearCtx;

static double linear_loss(void *p) {
    LinearCtx *c = p;
    linear_d(c->out, c->inp, c->w, c->b, c->N, c->I, c->O);
    return dot_d(c->out, c->dout, (size_t)c->N * c->O);
}

static void test_linear_fd(void **state) {
    uint64_t rng = 22;
    int N = 4, I = 7, O = 5;
    float *inp = frand(N * I, 1, &rng), *w = frand(O * I, 1, &rng), *b = frand(O, 1, &rng);
    float *dout = frand(N * O, 1, &rng), *out = fa(N * O);
    float *dinp = fa(N * I), *dw = fa(O * I), *db = fa(O);
    nn_linear_forward(out, inp, w, b, N, I, O);
    nn_linear_backward(dinp, dw, db, dout, inp, w, N, I, O);
    LinearCtx c = {N, I, O, dcopy(inp, N * I), dcopy(w, O * I), dcopy(b, O),
                   dcopy(dout, N * O), dalloc(N * O)};
    linear_loss(&c);
    EXPECT_CLOSE("linear out vs double", out, f_from_d(c.out, N * O), N * O, 1e-5, 1e-5);
    fd_check("inp", c.inp, N * I, dinp, linear_loss, &c);
    fd_check("w", c.w, O * I, dw, linear_loss, &c);
    fd_check("b", c.b, O, db, linear_loss, &c);
}

static void test_linear_fixture(void **state) {
    Fixture *f = fix_open("linear.bin");
    const FixTensor *tw = need_t(f, "w", 2);
    int O = tw->dims[0], I = tw->dims[1], N = need_t(f, "inp", 2)->dims[0];
    const float *inp = need(f, "inp", N * I), *w = tw->data, *b = need(f, "b", O);
    float *out = fa(N * O), *dinp = fa(N * I), *dw = fa(O * I), *db = fa(O);
    nn_linear_forward(out, inp, w, b, N, I, O);
    EXPECT_CLOSE("linear out", out, need(f, "out", N * O), N * O, FIX_ATOL, FIX_RTOL);
    nn_linear_backward(dinp, dw, db, need(f, "dout", N * O), inp, w, N, I, O);
    EXPECT_CLOSE("linear dinp", dinp, need(f, "dinp", N * I), N * I, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("linear dw", dw, need(f, "dw", O * I), O * I, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("linear db", db, need(f, "db", O), O, FIX_ATOL, FIX_RTOL);
}

// ============================================================================
// Conv2d

static void test_conv_vs_ref(void **state) {
    uint64_t rng = 31;
    for (int r = 0; r < 40; r++) {
        static const int ks[] = {1, 2, 3, 5};
        int K = ks[rng_int(&rng, 4)], S = 1 + rng_int(&rng, 3), P = rng_int(&rng, K);
        int N = 1 + rng_int(&rng, 3), Ci = 1 + rng_int(&rng, 5), Co = 1 + rng_int(&rng, 6);
        int H = 1 + rng_int(&rng, 9), W = 1 + rng_int(&rng, 9);
        if (H + 2 * P < K || W + 2 * P < K) continue;
        int Ho = (H + 2 * P - K) / S + 1, Wo = (W + 2 * P - K) / S + 1;
        size_t ni = (size_t)N * Ci * H * W, nw = (size_t)Co * Ci * K * K,
               no = (size_t)N * Co * Ho * Wo;
        float *work = fa(nn_conv2d_workspace(N, Ci, H, W, Co, K, S, P));
        float *inp = frand(ni, 1, &rng), *w = frand(nw, 1, &rng);
        float *b = r % 4 ? frand(Co, 1, &rng) : NULL;
        float *out = fa(no), *ref = fa(no);
        nn_conv2d_forward(out, inp, w, b, work, N, Ci, H, W, Co, K, S, P);
        nn_ref_conv2d_forward(ref, inp, w, b, N, Ci, H, W, Co, K, S, P);
        EXPECT_CLOSE("conv out", out, ref, no, REF_ATOL, REF_RTOL);
        float *dout = frand(no, 1, &rng);
        float *dinp = frand(ni, 1, &rng), *rdinp = fcopy(dinp, ni);
        float *dw = frand(nw, 1, &rng), *rdw = fcopy(dw, nw);
        float *db = frand(Co, 1, &rng), *rdb = fcopy(db, Co);
        nn_conv2d_backward(dinp, dw, db, dout, inp, w, work, N, Ci, H, W, Co, K, S, P);
        nn_ref_conv2d_backward(rdinp, rdw, rdb, dout, inp, w, N, Ci, H, W, Co, K, S, P);
        EXPECT_CLOSE("conv dinp", dinp, rdinp, ni, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("conv dw", dw, rdw, nw, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("conv db", db, rdb, Co, REF_ATOL, REF_RTOL);
        // dinp = NULL (the first layer) must leave dw alone and not touch dinp
        float *dw2 = fa(nw), *dw3 = fa(nw);
        nn_conv2d_backward(NULL, dw2, NULL, dout, inp, w, work, N, Ci, H, W, Co, K, S, P);
        nn_ref_conv2d_backward(NULL, dw3, NULL, dout, inp, w, N, Ci, H, W, Co, K, S, P);
        EXPECT_CLOSE("conv dw (others NULL)", dw2, dw3, nw, REF_ATOL, REF_RTOL);
    }
}

typedef struct { int N, Ci, H, W, Co, K, S, P; double *inp, *w, *b, *dout, *out; } ConvCtx;

static double conv_loss(void *p) {
    ConvCtx *c = p;
    conv_d(c->out, c->inp, c->w, c->b, c->N, c->Ci, c->H, c->W, c->Co, c->K, c->S, c->P);
    int Ho = (c->H + 2 * c->P - c->K) / c->S + 1, Wo = (c->W + 2 * c->P - c->K) / c->S + 1;
    return dot_d(c->out, c->dout, (size_t)c->N * c->Co * Ho * Wo);
}

static void conv_fd(int N, int Ci, int H, int W, int Co, int K, int S, int P, uint64_t seed) {
    uint64_t rng = seed;
    int Ho = (H + 2 * P - K) / S + 1, Wo = (W + 2 * P - K) / S + 1;
    size_t ni = (size_t)N * Ci * H * W, nw = (size_t)Co * Ci * K * K, no = (size_t)N * Co * Ho * Wo;
    float *work = fa(nn_conv2d_workspace(N, Ci, H, W, Co, K, S, P));
    float *inp = frand(ni, 1, &rng), *w = frand(nw, 1, &rng), *b = frand(Co, 1, &rng);
    float *dout = frand(no, 1, &rng), *out = fa(no), *dinp = fa(ni), *dw = fa(nw), *db = fa(Co);
    nn_conv2d_forward(out, inp, w, b, work, N, Ci, H, W, Co, K, S, P);
    nn_conv2d_backward(dinp, dw, db, dout, inp, w, work, N, Ci, H, W, Co, K, S, P);
    ConvCtx c = {N, Ci, H, W, Co, K, S, P, dcopy(inp, ni), dcopy(w, nw), dcopy(b, Co),
                 dcopy(dout, no), dalloc(no)};
    conv_loss(&c);
    EXPECT_CLOSE("conv out vs double", out, f_from_d(c.out, no), no, 1e-5, 1e-5);
    fd_check("inp", c.inp, ni, dinp, conv_loss, &c);
    fd_check("w", c.w, nw, dw, conv_loss, &c);
    fd_check("b", c.b, Co, db, conv_loss, &c);
}

static void test_conv_fd(void **state) {
    conv_fd(2, 3, 5, 6, 4, 3, 1, 1, 32);
    conv_fd(2, 3, 5, 6, 4, 3, 2, 1, 33);
    conv_fd(1, 2, 7, 4, 3, 2, 1, 0, 34);
    conv_fd(2, 2, 6, 6, 2, 5, 3, 2, 35);
}

static void conv_fixture(const char *file) {
    Fixture *f = fix_open(file);
    const FixTensor *ti = need_t(f, "inp", 4), *tw = need_t(f, "w", 4);
    const float *cfg = need(f, "cfg", 2);
    int N = ti->dims[0], Ci = ti->dims[1], H = ti->dims[2], W = ti->dims[3];
    int Co = tw->dims[0], K = tw->dims[2], S = (int)cfg[0], P = (int)cfg[1];
    assert_int_equal(tw->dims[1], Ci);
    int Ho = (H + 2 * P - K) / S + 1, Wo = (W + 2 * P - K) / S + 1;
    size_t ni = ti->size, nw = tw->size, no = (size_t)N * Co * Ho * Wo;
    float *work = fa(nn_conv2d_workspace(N, Ci, H, W, Co, K, S, P));
    float *out = fa(no), *dinp = fa(ni), *dw = fa(nw), *db = fa(Co);
    const float *b = need(f, "b", Co);
    nn_conv2d_forward(out, ti->data, tw->data, b, work, N, Ci, H, W, Co, K, S, P);
    EXPECT_CLOSE("conv out", out, need(f, "out", no), no, FIX_ATOL, FIX_RTOL);
    nn_conv2d_backward(dinp, dw, db, need(f, "dout", no), ti->data, tw->data, work, N, Ci, H, W,
                       Co, K, S, P);
    EXPECT_CLOSE("conv dinp", dinp, need(f, "dinp", ni), ni, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("conv dw", dw, need(f, "dw", nw), nw, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("conv db", db, need(f, "db", Co), Co, FIX_ATOL, FIX_RTOL);
}

static void test_conv_s1_fixture(void **state) { conv_fixture("conv_s1.bin"); }
static void test_conv_s2_fixture(void **state) { conv_fixture("conv_s2.bin"); }

// "Same" convolutions (stride 1, 2P = K-1) take the padded-shift im2col; the
// random shapes above hit it only by chance, so: every such K on a few
// images, batch sizes, and the network's own shape, vs the naive loops.
static void test_conv_same_vs_ref(void **state) {
    uint64_t rng = 36;
    static const int shapes[][5] = {
        // N, Ci, H, W, Co   (K, P below)
        {3, 16, 7, 7, 32}, {2, 3, 5, 6, 4}, {1, 2, 1, 1, 3}, {2, 4, 9, 3, 5}, {4, 1, 2, 8, 2},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int K = 1; K <= 5; K += 2) {
            int N = shapes[s][0], Ci = shapes[s][1], H = shapes[s][2], W = shapes[s][3];
            int Co = shapes[s][4], P = (K - 1) / 2;
            size_t ni = (size_t)N * Ci * H * W, nw = (size_t)Co * Ci * K * K;
            size_t no = (size_t)N * Co * H * W;
            float *work = fa(nn_conv2d_workspace(N, Ci, H, W, Co, K, 1, P));
            float *inp = frand(ni, 1, &rng), *w = frand(nw, 1, &rng), *b = frand(Co, 1, &rng);
            float *out = fa(no), *ref = fa(no);
            nn_conv2d_forward(out, inp, w, b, work, N, Ci, H, W, Co, K, 1, P);
            nn_ref_conv2d_forward(ref, inp, w, b, N, Ci, H, W, Co, K, 1, P);
            EXPECT_CLOSE("same conv out", out, ref, no, REF_ATOL, REF_RTOL);
            float *dout = frand(no, 1, &rng);
            float *dinp = frand(ni, 1, &rng), *rdinp = fcopy(dinp, ni);
            float *dw = frand(nw, 1, &rng), *rdw = fcopy(dw, nw);
            float *db = frand(Co, 1, &rng), *rdb = fcopy(db, Co);
            nn_conv2d_backward(dinp, dw, db, dout, inp, w, work, N, Ci, H, W, Co, K, 1, P);
            nn_ref_conv2d_backward(rdinp, rdw, rdb, dout, inp, w, N, Ci, H, W, Co, K, 1, P);
            EXPECT_CLOSE("same conv dinp", dinp, rdinp, ni, REF_ATOL, REF_RTOL);
            EXPECT_CLOSE("same conv dw", dw, rdw, nw, REF_ATOL, REF_RTOL);
            EXPECT_CLOSE("same conv db", db, rdb, Co, REF_ATOL, REF_RTOL);
        }
}

// ----------------------------------------------------------------------------
// Conv2d on one-hot input

static void test_onehot_index(void **state) {
    uint64_t rng = 37;
    const int N = 3, C = 5, HW = 12;
    float *x = onehot_input(N, C, HW, 1, &rng);
    uint8_t kind[3 * 12];
    assert_int_equal(nn_onehot_index(kind, x, N, C, HW), 0);
    for (int n = 0; n < N; n++)
        for (int p = 0; p < HW; p++) {
            int hot = NN_ONEHOT_NONE;
            for (int c = 0; c < C; c++)
                if (x[((size_t)n * C + c) * HW + p] != 0.0f) hot = c;
            assert_int_equal(kind[n * HW + p], hot);
        }
    // not one-hot: a second plane set, or a value other than 1
    float *y = fcopy(x, (size_t)N * C * HW);
    int p = 0;
    while (kind[HW + p] == NN_ONEHOT_NONE) p++;
    y[((size_t)1 * C + (kind[HW + p] + 1) % C) * HW + p] = 1.0f;
    assert_int_equal(nn_onehot_index(kind, y, N, C, HW), -1);
    float *z = fcopy(x, (size_t)N * C * HW);
    z[((size_t)1 * C + kind[HW + p]) * HW + p] = 0.5f;
    assert_int_equal(nn_onehot_index(kind, z, N, C, HW), -1);
}

// The gather and the scatter vs the generic conv's naive loops on the same
// one-hot input, over strides, paddings and kernel sizes; backward adds.
static void test_conv_onehot_vs_ref(void **state) {
    uint64_t rng = 38;
    for (int r = 0; r < 40; r++) {
        static const int ks[] = {1, 2, 3, 5};
        int K = ks[rng_int(&rng, 4)], S = 1 + rng_int(&rng, 2), P = rng_int(&rng, K);
        int N = 1 + rng_int(&rng, 4), Ci = 1 + rng_int(&rng, 14), Co = 1 + rng_int(&rng, 20);
        int H = 1 + rng_int(&rng, 8), W = 1 + rng_int(&rng, 8);
        if (r == 0) K = 3, S = 1, P = 1, N = 5, Ci = 14, Co = 16, H = W = 7; // the network's conv1
        if (H + 2 * P < K || W + 2 * P < K) continue;
        int Ho = (H + 2 * P - K) / S + 1, Wo = (W + 2 * P - K) / S + 1;
        size_t ni = (size_t)N * Ci * H * W, nw = (size_t)Co * Ci * K * K,
               no = (size_t)N * Co * Ho * Wo;
        float *inp = onehot_input(N, Ci, H * W, r % 2, &rng);
        uint8_t *kind = talloc((size_t)N * H * W);
        assert_int_equal(nn_onehot_index(kind, inp, N, Ci, H * W), 0);
        float *work = fa(nn_conv2d_onehot_workspace(Ci, H, W, Co, K, S, P));
        float *w = frand(nw, 1, &rng), *b = r % 4 ? frand(Co, 1, &rng) : NULL;
        float *out = fa(no), *ref = fa(no);
        nn_conv2d_onehot_forward(out, kind, w, b, work, N, Ci, H, W, Co, K, S, P);
        nn_ref_conv2d_forward(ref, inp, w, b, N, Ci, H, W, Co, K, S, P);
        EXPECT_CLOSE("onehot conv out", out, ref, no, REF_ATOL, REF_RTOL);
        float *dout = frand(no, 1, &rng);
        float *dw = frand(nw, 1, &rng), *rdw = fcopy(dw, nw);
        float *db = frand(Co, 1, &rng), *rdb = fcopy(db, Co);
        nn_conv2d_onehot_backward(dw, db, dout, kind, work, N, Ci, H, W, Co, K, S, P);
        nn_ref_conv2d_backward(NULL, rdw, rdb, dout, inp, w, N, Ci, H, W, Co, K, S, P);
        EXPECT_CLOSE("onehot conv dw", dw, rdw, nw, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("onehot conv db", db, rdb, Co, REF_ATOL, REF_RTOL);
        float *dw2 = fa(nw), *rdw2 = fa(nw); // db NULL leaves dw alone
        nn_conv2d_onehot_backward(dw2, NULL, dout, kind, work, N, Ci, H, W, Co, K, S, P);
        nn_ref_conv2d_backward(NULL, rdw2, NULL, dout, inp, w, N, Ci, H, W, Co, K, S, P);
        EXPECT_CLOSE("onehot conv dw (db NULL)", dw2, rdw2, nw, REF_ATOL, REF_RTOL);
        (void)ni;
    }
}

// Finite differences of the double conv on the one-hot input, against the
// scatter's dw and db (the gather has no input gradient).
static void test_conv_onehot_fd(void **state) {
    static const int cfg[][8] = {{2, 6, 5, 6, 4, 3, 1, 1}, {2, 4, 6, 6, 3, 3, 2, 1}, {1, 5, 7, 7, 3, 5, 1, 2}};
    for (int s = 0; s < 3; s++) {
        uint64_t rng = 39 + s;
        int N = cfg[s][0], Ci = cfg[s][1], H = cfg[s][2], W = cfg[s][3], Co = cfg[s][4];
        int K = cfg[s][5], S = cfg[s][6], P = cfg[s][7];
        int Ho = (H + 2 * P - K) / S + 1, Wo = (W + 2 * P - K) / S + 1;
        size_t ni = (size_t)N * Ci * H * W, nw = (size_t)Co * Ci * K * K, no = (size_t)N * Co * Ho * Wo;
        float *inp = onehot_input(N, Ci, H * W, 1, &rng);
        uint8_t *kind = talloc((size_t)N * H * W);
        assert_int_equal(nn_onehot_index(kind, inp, N, Ci, H * W), 0);
        float *work = fa(nn_conv2d_onehot_workspace(Ci, H, W, Co, K, S, P));
        float *w = frand(nw, 1, &rng), *b = frand(Co, 1, &rng), *dout = frand(no, 1, &rng);
        float *out = fa(no), *dw = fa(nw), *db = fa(Co);
        nn_conv2d_onehot_forward(out, kind, w, b, work, N, Ci, H, W, Co, K, S, P);
        nn_conv2d_onehot_backward(dw, db, dout, kind, work, N, Ci, H, W, Co, K, S, P);
        ConvCtx c = {N, Ci, H, W, Co, K, S, P, dcopy(inp, ni), dcopy(w, nw), dcopy(b, Co),
                     dcopy(dout, no), dalloc(no)};
        conv_loss(&c);
        EXPECT_CLOSE("onehot conv out vs double", out, f_from_d(c.out, no), no, 1e-5, 1e-5);
        fd_check("w (onehot)", c.w, nw, dw, conv_loss, &c);
        fd_check("b (onehot)", c.b, Co, db, conv_loss, &c);
    }
}

// ============================================================================
// ReLU

static void test_relu(void **state) {
    Fixture *f = fix_open("relu.bin");
    const FixTensor *ti = need_t(f, "inp", 2);
    size_t n = ti->size;
    float *out = fa(n), *dinp = fa(n);
    nn_relu_forward(out, ti->data, n);
    EXPECT_CLOSE("relu out", out, need(f, "out", n), n, 0, 0);
    nn_relu_backward(dinp, need(f, "dout", n), out, n);
    EXPECT_CLOSE("relu dinp", dinp, need(f, "dinp", n), n, 0, 0);
    // in place, and backward adds
    float *x = fcopy(ti->data, n);
    nn_relu_forward(x, x, n);
    EXPECT_CLOSE("relu in place", x, out, n, 0, 0);
    float *acc = fa(n);
    for (size_t i = 0; i < n; i++) acc[i] = 1.0f;
    nn_relu_backward(acc, need(f, "dout", n), out, n);
    for (size_t i = 0; i < n; i++) acc[i] -= 1.0f;
    EXPECT_CLOSE("relu dinp (added)", acc, need(f, "dinp", n), n, 1e-6, 0);
    // _set writes: over garbage, and in place over dout
    float *set = fa(n);
    for (size_t i = 0; i < n; i++) set[i] = 7.0f;
    nn_relu_backward_set(set, need(f, "dout", n), out, n);
    EXPECT_CLOSE("relu dinp (set)", set, need(f, "dinp", n), n, 0, 0);
    float *d = fcopy(need(f, "dout", n), n);
    nn_relu_backward_set(d, d, out, n);
    EXPECT_CLOSE("relu dinp (set, in place)", d, need(f, "dinp", n), n, 0, 0);
}

// nn_add over lengths with and without a partial vector block: exact sums.
static void test_add(void **state) {
    uint64_t rng = 31;
    static const size_t ns[] = {1, 15, 16, 17, 100, 4099};
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        size_t n = ns[t];
        float *y = frand(n, 1, &rng), *x = frand(n, 1, &rng), *want = fa(n);
        for (size_t i = 0; i < n; i++) want[i] = y[i] + x[i];
        nn_add(y, x, n);
        EXPECT_CLOSE("add", y, want, n, 0, 0);
    }
}

// ============================================================================
// LSTM

static void test_lstm_vs_ref(void **state) {
    uint64_t rng = 41;
    for (int r = 0; r < 12; r++) {
        int N = 1 + rng_int(&rng, 9), I = 1 + rng_int(&rng, 20), H = 1 + rng_int(&rng, 20);
        size_t nx = (size_t)N * I, nh = (size_t)N * H, G = 4 * (size_t)H;
        float *x = frand(nx, 1, &rng), *hp = frand(nh, 1, &rng), *cp = frand(nh, 1, &rng);
        float *wih = frand(G * I, 0.5f, &rng), *whh = frand(G * H, 0.5f, &rng);
        float *bih = frand(G, 0.5f, &rng), *bhh = frand(G, 0.5f, &rng);
        float *h = fa(nh), *c = fa(nh), *gates = fa(N * G);
        float *rh = fa(nh), *rc = fa(nh), *rgates = fa(N * G);
        nn_lstm_forward(h, c, gates, x, hp, cp, wih, whh, bih, bhh, N, I, H);
        nn_ref_lstm_forward(rh, rc, rgates, x, hp, cp, wih, whh, bih, bhh, N, I, H);
        EXPECT_CLOSE("lstm h", h, rh, nh, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm c", c, rc, nh, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm gates", gates, rgates, N * G, REF_ATOL, REF_RTOL);
        float *dh = frand(nh, 1, &rng), *dc = r % 2 ? frand(nh, 1, &rng) : NULL;
        float *dx = frand(nx, 1, &rng), *dhp = frand(nh, 1, &rng), *dcp = frand(nh, 1, &rng);
        float *dwih = frand(G * I, 1, &rng), *dwhh = frand(G * H, 1, &rng);
        float *dbih = frand(G, 1, &rng), *dbhh = frand(G, 1, &rng);
        float *rdx = fcopy(dx, nx), *rdhp = fcopy(dhp, nh), *rdcp = fcopy(dcp, nh);
        float *rdwih = fcopy(dwih, G * I), *rdwhh = fcopy(dwhh, G * H);
        float *rdbih = fcopy(dbih, G), *rdbhh = fcopy(dbhh, G);
        float *dgates = fa(N * G), *rdgates = fa(N * G);
        nn_lstm_backward(dx, dhp, dcp, dwih, dwhh, dbih, dbhh, dh, dc, gates, c, cp, x, hp, wih,
                         whh, dgates, N, I, H);
        nn_ref_lstm_backward(rdx, rdhp, rdcp, rdwih, rdwhh, rdbih, rdbhh, dh, dc, rgates, rc, cp,
                             x, hp, wih, whh, rdgates, N, I, H);
        EXPECT_CLOSE("lstm dx", dx, rdx, nx, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm dh_prev", dhp, rdhp, nh, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm dc_prev", dcp, rdcp, nh, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm dw_ih", dwih, rdwih, G * I, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm dw_hh", dwhh, rdwhh, G * H, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm db_ih", dbih, rdbih, G, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm db_hh", dbhh, rdbhh, G, REF_ATOL, REF_RTOL);
    }
}

// The pointwise backward alone, completed with the GEMMs nn_lstm_backward
// does, equals the naive backward; over widths with and without a partial
// vector block, saturated gates (pre-activations up to +-40), and every
// combination of absent dh / dc / dc_prev. The forward's fast exp/tanh
// against the naive libm one at the same widths.
static void test_lstm_gates_vs_ref(void **state) {
    uint64_t rng = 46;
    static const int Hs[] = {1, 5, 16, 37, 64};
    for (int r = 0; r < 20; r++) {
        int N = 1 + rng_int(&rng, 5), I = 1 + rng_int(&rng, 12), H = Hs[r % 5], G = 4 * H;
        float scale = r % 3 == 0 ? 20.0f : 1.0f; // saturation
        size_t nx = (size_t)N * I, nh = (size_t)N * H;
        float *x = frand(nx, scale, &rng), *hp = frand(nh, 1, &rng), *cp = frand(nh, 2, &rng);
        float *wih = frand((size_t)G * I, 0.5f, &rng), *whh = frand((size_t)G * H, 0.5f, &rng);
        float *bih = frand(G, 0.5f, &rng), *bhh = frand(G, 0.5f, &rng);
        float *h = fa(nh), *c = fa(nh), *gates = fa((size_t)N * G);
        float *rh = fa(nh), *rc = fa(nh), *rgates = fa((size_t)N * G);
        nn_lstm_forward(h, c, gates, x, hp, cp, wih, whh, bih, bhh, N, I, H);
        nn_ref_lstm_forward(rh, rc, rgates, x, hp, cp, wih, whh, bih, bhh, N, I, H);
        EXPECT_CLOSE("lstm h (fast exp)", h, rh, nh, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm c (fast exp)", c, rc, nh, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm gates (fast exp)", gates, rgates, (size_t)N * G, REF_ATOL, REF_RTOL);
        int has_dh = (r & 3) != 1, has_dc = (r & 3) != 2, has_dcp = (r & 3) != 3;
        float *dh = has_dh ? frand(nh, 1, &rng) : NULL, *dc = has_dc ? frand(nh, 1, &rng) : NULL;
        float *dcp = has_dcp ? frand(nh, 1, &rng) : NULL, *rdcp = has_dcp ? fcopy(dcp, nh) : NULL;
        float *dgates = frand((size_t)N * G, 1, &rng), *rdgates = fa((size_t)N * G);
        nn_lstm_backward_gates(dgates, dcp, dh, dc, gates, c, cp, N, H);
        // the rest of the reference's outputs, from the same dgates
        float *dx = fa(nx), *dhp = fa(nh), *dwih = fa((size_t)G * I), *dwhh = fa((size_t)G * H);
        float *dbih = fa(G), *dbhh = fa(G);
        float *rdx = fa(nx), *rdhp = fa(nh), *rdwih = fa((size_t)G * I), *rdwhh = fa((size_t)G * H);
        float *rdbih = fa(G), *rdbhh = fa(G);
        nn_ref_lstm_backward(rdx, rdhp, rdcp, rdwih, rdwhh, rdbih, rdbhh, dh, dc, rgates, rc, cp, x,
                             hp, wih, whh, rdgates, N, I, H);
        EXPECT_CLOSE("lstm dgates", dgates, rdgates, (size_t)N * G, REF_ATOL, REF_RTOL);
        if (has_dcp) EXPECT_CLOSE("lstm dc_prev (gates)", dcp, rdcp, nh, REF_ATOL, REF_RTOL);
        nn_ref_sgemm(0, 0, N, I, G, 1.0f, dgates, G, wih, I, 0.0f, dx, I);
        nn_ref_sgemm(0, 0, N, H, G, 1.0f, dgates, G, whh, H, 0.0f, dhp, H);
        nn_ref_sgemm(1, 0, G, I, N, 1.0f, dgates, G, x, I, 0.0f, dwih, I);
        nn_ref_sgemm(1, 0, G, H, N, 1.0f, dgates, G, hp, H, 0.0f, dwhh, H);
        for (int n = 0; n < N; n++)
            for (int k = 0; k < G; k++) dbih[k] += dgates[(size_t)n * G + k];
        memcpy(dbhh, dbih, (size_t)G * sizeof(float));
        EXPECT_CLOSE("lstm dx (gates + GEMM)", dx, rdx, nx, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm dh_prev (gates + GEMM)", dhp, rdhp, nh, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm dw_ih (gates + GEMM)", dwih, rdwih, (size_t)G * I, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm dw_hh (gates + GEMM)", dwhh, rdwhh, (size_t)G * H, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm db_ih (gates)", dbih, rdbih, G, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm db_hh (gates)", dbhh, rdbhh, G, REF_ATOL, REF_RTOL);
        teardown(NULL); // this round's buffers
    }
}

// The batched BPTT pair against its references: the step over widths with
// and without a partial vector block, with a mask that cuts some rows,
// dc_prev in place over dc or in a buffer of its own, dh_prev added into;
// the weights with Ix < I and with NULL outputs.
static void test_lstm_step_vs_ref(void **state) {
    uint64_t rng = 48;
    static const int Hs[] = {1, 5, 16, 37, 64};
    for (int r = 0; r < 20; r++) {
        int N = 1 + rng_int(&rng, 9), I = 1 + rng_int(&rng, 12), H = Hs[r % 5], G = 4 * H;
        size_t nx = (size_t)N * I, nh = (size_t)N * H, ng = (size_t)N * G;
        float *x = frand(nx, 1, &rng), *hp = frand(nh, 1, &rng), *cp = frand(nh, 2, &rng);
        float *wih = frand((size_t)G * I, 0.5f, &rng), *whh = frand((size_t)G * H, 0.5f, &rng);
        float *bih = frand(G, 0.5f, &rng), *bhh = frand(G, 0.5f, &rng);
        float *h = fa(nh), *c = fa(nh), *gates = fa(ng);
        nn_lstm_forward(h, c, gates, x, hp, cp, wih, whh, bih, bhh, N, I, H);
        float *mask = fa(N);
        for (int n = 0; n < N; n++) mask[n] = rng_int(&rng, 3) ? 1.0f : 0.0f;
        const int in_place = r % 2, no_mask = r % 7 == 3;
        float *dh = frand(nh, 1, &rng), *dc = frand(nh, 1, &rng), *rdc = fcopy(dc, nh);
        float *dhp = frand(nh, 1, &rng), *rdhp = fcopy(dhp, nh);
        float *dcp = in_place ? dc : frand(nh, 1, &rng), *rdcp = in_place ? rdc : fa(nh);
        float *dgates = frand(ng, 1, &rng), *rdgates = fa(ng);
        float *work = frand(nn_lstm_step_workspace(N, H), 1, &rng);
        nn_lstm_backward_step(dgates, dhp, dcp, dh, dc, no_mask ? NULL : mask, gates, c, cp, whh,
                              work, N, H);
        nn_ref_lstm_backward_step(rdgates, rdhp, rdcp, dh, rdc, no_mask ? NULL : mask, gates, c,
                                  cp, whh, N, H);
        EXPECT_CLOSE("lstm step dgates", dgates, rdgates, ng, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm step dh_prev", dhp, rdhp, nh, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm step dc_prev", dcp, rdcp, nh, REF_ATOL, REF_RTOL);
        for (int n = 0; n < N && !no_mask; n++)
            for (int j = 0; j < H; j++)
                if (mask[n] == 0.0f) assert_true(dcp[(size_t)n * H + j] == 0.0f);

        int Ix = r % 3 ? I : 1 + rng_int(&rng, I);
        float *dx = frand((size_t)N * Ix, 1, &rng), *rdx = fcopy(dx, (size_t)N * Ix);
        float *dwih = frand((size_t)G * I, 1, &rng), *rdwih = fcopy(dwih, (size_t)G * I);
        float *dwhh = frand((size_t)G * H, 1, &rng), *rdwhh = fcopy(dwhh, (size_t)G * H);
        float *dbih = frand(G, 1, &rng), *rdbih = fcopy(dbih, G);
        float *dbhh = frand(G, 1, &rng), *rdbhh = fcopy(dbhh, G);
        nn_lstm_backward_weights(dx, dwih, dwhh, dbih, dbhh, dgates, x, hp, wih, N, I, H, Ix);
        nn_ref_lstm_backward_weights(rdx, rdwih, rdwhh, rdbih, rdbhh, dgates, x, hp, wih, N, I, H,
                                     Ix);
        EXPECT_CLOSE("lstm weights dx", dx, rdx, (size_t)N * Ix, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm weights dw_ih", dwih, rdwih, (size_t)G * I, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm weights dw_hh", dwhh, rdwhh, (size_t)G * H, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm weights db_ih", dbih, rdbih, G, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm weights db_hh", dbhh, rdbhh, G, REF_ATOL, REF_RTOL);
        // NULL outputs skipped, the others the same
        float *dwhh2 = fa((size_t)G * H), *rdwhh2 = fa((size_t)G * H);
        nn_lstm_backward_weights(NULL, NULL, dwhh2, NULL, NULL, dgates, x, hp, wih, N, I, H, Ix);
        nn_ref_lstm_backward_weights(NULL, NULL, rdwhh2, NULL, NULL, dgates, x, hp, wih, N, I, H,
                                     Ix);
        EXPECT_CLOSE("lstm weights dw_hh alone", dwhh2, rdwhh2, (size_t)G * H, REF_ATOL, REF_RTOL);
        teardown(NULL); // this round's buffers
    }
}

typedef struct {
    int T, N, I, H;
    double *xs, *h0, *c0, *wih, *whh, *bih, *bhh, *proj, *proj_c; // proj_c may be NULL
    double *h, *c, *hn, *cn;
    const double *mask; // (T,N): the state entering step t is scaled by mask[t]; NULL = 1
} LstmCtx;

// loss = sum_t sum(h_t * proj_t) + sum(c_T * proj_c)
static double lstm_loss(void *p) {
    LstmCtx *k = p;
    size_t nh = (size_t)k->N * k->H;
    memcpy(k->h, k->h0, nh * sizeof(double));
    memcpy(k->c, k->c0, nh * sizeof(double));
    double loss = 0.0;
    for (int t = 0; t < k->T; t++) {
        for (size_t i = 0; i < nh && k->mask; i++) {
            k->h[i] *= k->mask[(size_t)t * k->N + i / k->H];
            k->c[i] *= k->mask[(size_t)t * k->N + i / k->H];
        }
        lstm_d(k->hn, k->cn, k->xs + (size_t)t * k->N * k->I, k->h, k->c, k->wih, k->whh,
               k->bih, k->bhh, k->N, k->I, k->H);
        memcpy(k->h, k->hn, nh * sizeof(double));
        memcpy(k->c, k->cn, nh * sizeof(double));
        loss += dot_d(k->h, k->proj + t * nh, nh);
    }
    if (k->proj_c) loss += dot_d(k->c, k->proj_c, nh);
    return loss;
}

// The float BPTT the model will do, with nn_lstm_forward/backward: T steps
// forward keeping every cache, then backward from t = T-1 to 0 carrying dh and
// dc into the previous step. hs (T,N,H) gets h_1..h_T, c_last c_T; gradients
// are added into the d* arrays (dh0, dc0 included).
typedef struct {
    int T, N, I, H;
    const float *xs, *h0, *c0, *wih, *whh, *bih, *bhh, *proj, *proj_c;
    float *hs, *cs, *gates, *dgates, *dh, *dc, *dh_next, *dc_next;
    float *dxs, *dh0, *dc0, *dwih, *dwhh, *dbih, *dbhh;
} Bptt;

static void bptt_alloc(Bptt *b, int T, int N, int I, int H) {
    size_t nh = (size_t)N * H, G = 4 * (size_t)H;
    b->T = T; b->N = N; b->I = I; b->H = H;
    b->hs = fa(T * nh); b->cs = fa(T * nh); b->gates = fa(T * N * G); b->dgates = fa(N * G);
    b->dh = fa(nh); b->dc = fa(nh); b->dh_next = fa(nh); b->dc_next = fa(nh);
    b->dxs = fa((size_t)T * N * I); b->dh0 = fa(nh); b->dc0 = fa(nh);
    b->dwih = fa(G * I); b->dwhh = fa(G * H); b->dbih = fa(G); b->dbhh = fa(G);
}

static void bptt_run(Bptt *b) {
    int T = b->T, N = b->N, I = b->I, H = b->H;
    size_t nh = (size_t)N * H, G = 4 * (size_t)H;
    for (int t = 0; t < T; t++) {
        const float *hp = t ? b->hs + (t - 1) * nh : b->h0, *cp = t ? b->cs + (t - 1) * nh : b->c0;
        nn_lstm_forward(b->hs + t * nh, b->cs + t * nh, b->gates + t * N * G,
                        b->xs + (size_t)t * N * I, hp, cp, b->wih, b->whh, b->bih, b->bhh, N, I, H);
    }
    memset(b->dh_next, 0, nh * sizeof(float));
    if (b->proj_c) memcpy(b->dc_next, b->proj_c, nh * sizeof(float));
    for (int t = T - 1; t >= 0; t--) {
        const float *hp = t ? b->hs + (t - 1) * nh : b->h0, *cp = t ? b->cs + (t - 1) * nh : b->c0;
        for (size_t i = 0; i < nh; i++) b->dh[i] = b->proj[t * nh + i] + b->dh_next[i];
        memcpy(b->dc, b->dc_next, nh * sizeof(float));
        float *dhp = t ? b->dh_next : b->dh0, *dcp = t ? b->dc_next : b->dc0;
        if (t) {
            memset(b->dh_next, 0, nh * sizeof(float));
            memset(b->dc_next, 0, nh * sizeof(float));
        }
        // the last step has no gradient arriving into c unless proj_c is set
        const float *dc = (t == T - 1 && !b->proj_c) ? NULL : b->dc;
        nn_lstm_backward(b->dxs + (size_t)t * N * I, dhp, dcp, b->dwih, b->dwhh, b->dbih, b->dbhh,
                         b->dh, dc, b->gates + t * N * G, b->cs + t * nh, cp,
                         b->xs + (size_t)t * N * I, hp, b->wih, b->whh, b->dgates, N, I, H);
    }
}

static void lstm_fd(int T, int N, int I, int H, int with_pc, uint64_t seed) {
    uint64_t rng = seed;
    size_t nh = (size_t)N * H, G = 4 * (size_t)H, nx = (size_t)T * N * I;
    Bptt b;
    bptt_alloc(&b, T, N, I, H);
    b.xs = frand(nx, 1, &rng); b.h0 = frand(nh, 1, &rng); b.c0 = frand(nh, 1, &rng);
    b.wih = frand(G * I, 0.5f, &rng); b.whh = frand(G * H, 0.5f, &rng);
    b.bih = frand(G, 0.5f, &rng); b.bhh = frand(G, 0.5f, &rng);
    b.proj = frand(T * nh, 1, &rng); b.proj_c = with_pc ? frand(nh, 1, &rng) : NULL;
    bptt_run(&b);
    LstmCtx k = {T, N, I, H, dcopy(b.xs, nx), dcopy(b.h0, nh), dcopy(b.c0, nh),
                 dcopy(b.wih, G * I), dcopy(b.whh, G * H), dcopy(b.bih, G), dcopy(b.bhh, G),
                 dcopy(b.proj, T * nh), with_pc ? dcopy(b.proj_c, nh) : NULL,
                 dalloc(nh), dalloc(nh), dalloc(nh), dalloc(nh), NULL};
    lstm_loss(&k);
    EXPECT_CLOSE("lstm h_T vs double", b.hs + (T - 1) * nh, f_from_d(k.h, nh), nh, 1e-5, 1e-5);
    EXPECT_CLOSE("lstm c_T vs double", b.cs + (T - 1) * nh, f_from_d(k.c, nh), nh, 1e-5, 1e-5);
    fd_check("x", k.xs, nx, b.dxs, lstm_loss, &k);
    fd_check("h0", k.h0, nh, b.dh0, lstm_loss, &k);
    fd_check("c0", k.c0, nh, b.dc0, lstm_loss, &k);
    fd_check("w_ih", k.wih, G * I, b.dwih, lstm_loss, &k);
    fd_check("w_hh", k.whh, G * H, b.dwhh, lstm_loss, &k);
    fd_check("b_ih", k.bih, G, b.dbih, lstm_loss, &k);
    fd_check("b_hh", k.bhh, G, b.dbhh, lstm_loss, &k);
}

static void test_lstm_cell_fd(void **state) {
    lstm_fd(1, 3, 4, 5, 1, 42); // one cell, gradient into both h and c
    lstm_fd(1, 2, 6, 3, 0, 43); // dc = NULL
}

static void test_lstm_bptt_fd(void **state) {
    lstm_fd(5, 3, 4, 5, 1, 44);
    lstm_fd(4, 2, 3, 6, 0, 45);
}

// Truncated BPTT the way the model batches it, with episode starts: the
// state entering step t is h_{t-1} * mask_t (h0, c0 before step 0); per
// step nn_lstm_backward_step carries dh, dc back (cut where mask = 0), then
// nn_lstm_backward_weights once over all T*N rows. Held to finite
// differences of the double forward with the same masks.
static void lstm_masked_fd(int T, int N, int I, int H, uint64_t seed) {
    uint64_t rng = seed;
    size_t nh = (size_t)N * H, G = 4 * (size_t)H, nx = (size_t)T * N * I, TN = (size_t)T * N;
    float *xs = frand(nx, 1, &rng), *h0 = frand(nh, 1, &rng), *c0 = frand(nh, 1, &rng);
    float *wih = frand(G * I, 0.5f, &rng), *whh = frand(G * H, 0.5f, &rng);
    float *bih = frand(G, 0.5f, &rng), *bhh = frand(G, 0.5f, &rng);
    float *proj = frand(T * nh, 1, &rng), *mask = fa(TN);
    for (size_t i = 0; i < TN; i++) mask[i] = rng_int(&rng, 3) ? 1.0f : 0.0f;
    mask[0] = 1.0f, mask[N] = 0.0f; // some gradient reaches h0; some is cut
    float *hps = fa(T * nh), *cps = fa(T * nh), *hs = fa(T * nh), *cs = fa(T * nh);
    float *gates = fa(TN * G), *dgates = fa(TN * G), *work = fa(nn_lstm_step_workspace(N, H));
    for (int t = 0; t < T; t++) {
        const float *h = t ? hs + (t - 1) * nh : h0, *c = t ? cs + (t - 1) * nh : c0;
        for (size_t i = 0; i < nh; i++) {
            hps[t * nh + i] = mask[(size_t)t * N + i / H] * h[i];
            cps[t * nh + i] = mask[(size_t)t * N + i / H] * c[i];
        }
        nn_lstm_forward(hs + t * nh, cs + t * nh, gates + t * N * G, xs + (size_t)t * N * I,
                        hps + t * nh, cps + t * nh, wih, whh, bih, bhh, N, I, H);
    }
    float *dh = fcopy(proj, T * nh), *dh0 = fa(nh), *dc = fa(nh);
    for (int t = T - 1; t >= 0; t--)
        nn_lstm_backward_step(dgates + t * N * G, t ? dh + (t - 1) * nh : dh0, dc, dh + t * nh,
                              dc, mask + (size_t)t * N, gates + t * N * G, cs + t * nh,
                              cps + t * nh, whh, work, N, H);
    float *dxs = fa(nx), *dwih = fa(G * I), *dwhh = fa(G * H), *dbih = fa(G), *dbhh = fa(G);
    nn_lstm_backward_weights(dxs, dwih, dwhh, dbih, dbhh, dgates, xs, hps, wih, (int)TN, I, H, I);
    double *dmask = dcopy(mask, TN);
    LstmCtx k = {T, N, I, H, dcopy(xs, nx), dcopy(h0, nh), dcopy(c0, nh),
                 dcopy(wih, G * I), dcopy(whh, G * H), dcopy(bih, G), dcopy(bhh, G),
                 dcopy(proj, T * nh), NULL, dalloc(nh), dalloc(nh), dalloc(nh), dalloc(nh), dmask};
    lstm_loss(&k);
    EXPECT_CLOSE("masked lstm h_T vs double", hs + (T - 1) * nh, f_from_d(k.h, nh), nh, 1e-5,
                 1e-5);
    fd_check("x (masked)", k.xs, nx, dxs, lstm_loss, &k);
    fd_check("h0 (masked)", k.h0, nh, dh0, lstm_loss, &k);
    fd_check("c0 (masked)", k.c0, nh, dc, lstm_loss, &k);
    fd_check("w_ih (masked)", k.wih, G * I, dwih, lstm_loss, &k);
    fd_check("w_hh (masked)", k.whh, G * H, dwhh, lstm_loss, &k);
    fd_check("b_ih (masked)", k.bih, G, dbih, lstm_loss, &k);
    fd_check("b_hh (masked)", k.bhh, G, dbhh, lstm_loss, &k);
}

static void test_lstm_masked_bptt_fd(void **state) {
    lstm_masked_fd(5, 3, 4, 5, 49);
    lstm_masked_fd(4, 4, 3, 17, 50); // a full vector block of units and a partial one
}

static void test_lstm_cell_fixture(void **state) {
    Fixture *f = fix_open("lstm_cell.bin");
    const FixTensor *tx = need_t(f, "x", 2), *th = need_t(f, "h_prev", 2);
    int N = tx->dims[0], I = tx->dims[1], H = th->dims[1];
    size_t nh = (size_t)N * H, G = 4 * (size_t)H;
    const float *x = tx->data, *hp = th->data, *cp = need(f, "c_prev", nh);
    const float *wih = need(f, "w_ih", G * I), *whh = need(f, "w_hh", G * H);
    const float *bih = need(f, "b_ih", G), *bhh = need(f, "b_hh", G);
    float *h = fa(nh), *c = fa(nh), *gates = fa(N * G), *dgates = fa(N * G);
    nn_lstm_forward(h, c, gates, x, hp, cp, wih, whh, bih, bhh, N, I, H);
    EXPECT_CLOSE("lstm h", h, need(f, "h", nh), nh, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("lstm c", c, need(f, "c", nh), nh, FIX_ATOL, FIX_RTOL);
    float *dx = fa(N * I), *dhp = fa(nh), *dcp = fa(nh), *dwih = fa(G * I), *dwhh = fa(G * H);
    float *dbih = fa(G), *dbhh = fa(G);
    nn_lstm_backward(dx, dhp, dcp, dwih, dwhh, dbih, dbhh, need(f, "dh", nh), need(f, "dc", nh),
                     gates, c, cp, x, hp, wih, whh, dgates, N, I, H);
    EXPECT_CLOSE("lstm dx", dx, need(f, "dx", N * I), N * I, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("lstm dh_prev", dhp, need(f, "dh_prev", nh), nh, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("lstm dc_prev", dcp, need(f, "dc_prev", nh), nh, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("lstm dw_ih", dwih, need(f, "dw_ih", G * I), G * I, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("lstm dw_hh", dwhh, need(f, "dw_hh", G * H), G * H, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("lstm db_ih", dbih, need(f, "db_ih", G), G, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("lstm db_hh", dbhh, need(f, "db_hh", G), G, FIX_ATOL, FIX_RTOL);
}

// 5 steps of BPTT against torch.nn.LSTMCell unrolled with autograd.
static void test_lstm_bptt_fixture(void **state) {
    Fixture *f = fix_open("lstm_bptt.bin");
    const FixTensor *tx = need_t(f, "xs", 3), *th = need_t(f, "h0", 2);
    int T = tx->dims[0], N = tx->dims[1], I = tx->dims[2], H = th->dims[1];
    size_t nh = (size_t)N * H, G = 4 * (size_t)H, nx = tx->size;
    Bptt b;
    bptt_alloc(&b, T, N, I, H);
    b.xs = tx->data; b.h0 = th->data; b.c0 = need(f, "c0", nh);
    b.wih = need(f, "w_ih", G * I); b.whh = need(f, "w_hh", G * H);
    b.bih = need(f, "b_ih", G); b.bhh = need(f, "b_hh", G);
    b.proj = need(f, "proj", T * nh); b.proj_c = need(f, "proj_c", nh);
    bptt_run(&b);
    EXPECT_CLOSE("bptt hs", b.hs, need(f, "hs", T * nh), T * nh, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("bptt c_T", b.cs + (T - 1) * nh, need(f, "c_last", nh), nh, FIX_ATOL, FIX_RTOL);
    double loss = 0.0;
    for (size_t i = 0; i < T * nh; i++) loss += (double)b.hs[i] * b.proj[i];
    for (size_t i = 0; i < nh; i++) loss += (double)b.cs[(T - 1) * nh + i] * b.proj_c[i];
    float lossf = (float)loss;
    EXPECT_CLOSE("bptt loss", &lossf, need(f, "loss", 1), 1, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("bptt dxs", b.dxs, need(f, "dxs", nx), nx, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("bptt dh0", b.dh0, need(f, "dh0", nh), nh, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("bptt dc0", b.dc0, need(f, "dc0", nh), nh, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("bptt dw_ih", b.dwih, need(f, "dw_ih", G * I), G * I, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("bptt dw_hh", b.dwhh, need(f, "dw_hh", G * H), G * H, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("bptt db_ih", b.dbih, need(f, "db_ih", G), G, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("bptt db_hh", b.dbhh, need(f, "db_hh", G), G, FIX_ATOL, FIX_RTOL);
}

// ============================================================================
// Categorical: log-softmax, entropy; MSE

typedef struct { int N, A; double *z, *dlogp, *dent, *lp; int which; } DistCtx;

static double dist_loss(void *p) {
    DistCtx *k = p;
    log_softmax_d(k->lp, k->z, k->N, k->A);
    if (k->which == 0) return dot_d(k->lp, k->dlogp, (size_t)k->N * k->A);
    double s = 0.0;
    for (int n = 0; n < k->N; n++) {
        double e = 0.0;
        for (int a = 0; a < k->A; a++) e -= exp(k->lp[n * k->A + a]) * k->lp[n * k->A + a];
        s += e * k->dent[n];
    }
    return s;
}

static void test_dist_fd(void **state) {
    uint64_t rng = 51;
    int N = 5, A = 6;
    float *z = frand(N * A, 3, &rng), *dlogp = frand(N * A, 1, &rng), *dent = frand(N, 1, &rng);
    float *logp = fa(N * A), *ent = fa(N), *dz_ls = fa(N * A), *dz_ent = fa(N * A);
    nn_log_softmax_forward(logp, z, N, A);
    nn_log_softmax_backward(dz_ls, dlogp, logp, N, A);
    nn_entropy_forward(ent, logp, N, A);
    nn_entropy_backward(dz_ent, dent, logp, ent, N, A);
    DistCtx k = {N, A, dcopy(z, N * A), dcopy(dlogp, N * A), dcopy(dent, N), dalloc(N * A), 0};
    dist_loss(&k);
    EXPECT_CLOSE("logp vs double", logp, f_from_d(k.lp, N * A), N * A, 1e-5, 1e-5);
    fd_check("logits (log_softmax)", k.z, N * A, dz_ls, dist_loss, &k);
    k.which = 1;
    fd_check("logits (entropy)", k.z, N * A, dz_ent, dist_loss, &k);
}

static void test_dist_fixture(void **state) {
    Fixture *f = fix_open("dist.bin");
    const FixTensor *tz = need_t(f, "logits", 2);
    int N = tz->dims[0], A = tz->dims[1];
    float *logp = fa(N * A), *ent = fa(N), *dz_ls = fa(N * A), *dz_ent = fa(N * A);
    nn_log_softmax_forward(logp, tz->data, N, A);
    EXPECT_CLOSE("logp", logp, need(f, "logp", N * A), N * A, FIX_ATOL, FIX_RTOL);
    nn_log_softmax_backward(dz_ls, need(f, "dlogp", N * A), logp, N, A);
    EXPECT_CLOSE("dlogits (log_softmax)", dz_ls, need(f, "dlogits_logsoftmax", N * A), N * A,
                 FIX_ATOL, FIX_RTOL);
    nn_entropy_forward(ent, logp, N, A);
    EXPECT_CLOSE("entropy", ent, need(f, "ent", N), N, FIX_ATOL, FIX_RTOL);
    nn_entropy_backward(dz_ent, need(f, "dent", N), logp, ent, N, A);
    EXPECT_CLOSE("dlogits (entropy)", dz_ent, need(f, "dlogits_entropy", N * A), N * A,
                 FIX_ATOL, FIX_RTOL);
}

typedef struct { size_t n; double *pred, *target, scale; } MseCtx;

static double mse_loss(void *p) {
    MseCtx *k = p;
    double s = 0.0;
    for (size_t i = 0; i < k->n; i++) s += (k->pred[i] - k->target[i]) * (k->pred[i] - k->target[i]);
    return k->scale * s / (double)k->n;
}

static void test_mse(void **state) {
    Fixture *f = fix_open("mse.bin");
    const FixTensor *tp = need_t(f, "pred", 1);
    size_t n = tp->size;
    const float *target = need(f, "target", n), scale = need(f, "scale", 1)[0];
    float loss = nn_mse_forward(tp->data, target, n);
    EXPECT_CLOSE("mse loss", &loss, need(f, "loss", 1), 1, FIX_ATOL, FIX_RTOL);
    float *dpred = fa(n);
    nn_mse_backward(dpred, tp->data, target, n, scale);
    EXPECT_CLOSE("mse dpred", dpred, need(f, "dpred", n), n, FIX_ATOL, FIX_RTOL);
    MseCtx k = {n, dcopy(tp->data, n), dcopy(target, n), scale};
    fd_check("pred (mse)", k.pred, n, dpred, mse_loss, &k);
}

// ============================================================================
// Sampling

static void test_sample_frequencies(void **state) {
    // 100k draws; each action's frequency must lie within 4.5 binomial standard
    // deviations (+1e-4) of its softmax probability. The seed is fixed, so this
    // is deterministic; with a correct sampler a failure would be a ~1e-5 event.
    const float logits[5] = {0.5f, -1.0f, 2.0f, 0.0f, -3.0f};
    const int A = 5, draws = 100000;
    double p[5], tot = 0.0;
    for (int a = 0; a < A; a++) tot += p[a] = exp(logits[a]);
    long count[5] = {0};
    uint64_t rng = 61;
    for (int i = 0; i < draws; i++) {
        int a = nn_sample_logits(logits, A, &rng);
        assert_in_range(a, 0, A - 1);
        count[a]++;
    }
    for (int a = 0; a < A; a++) {
        double pa = p[a] / tot, fr = (double)count[a] / draws;
        double tol = 4.5 * sqrt(pa * (1 - pa) / draws) + 1e-4;
        if (fabs(fr - pa) > tol)
            fail_msg("action %d: frequency %.5f, softmax %.5f (tol %.5f)", a, fr, pa, tol);
    }
    // a hugely dominated action is never drawn; a single action always is
    const float lop[2] = {0.0f, -200.0f};
    for (int i = 0; i < 10000; i++) assert_int_equal(nn_sample_logits(lop, 2, &rng), 0);
    const float one[1] = {3.0f};
    assert_int_equal(nn_sample_logits(one, 1, &rng), 0);
    // large logits do not overflow
    const float big[3] = {1000.0f, 1000.0f, -1000.0f};
    for (int i = 0; i < 1000; i++) assert_in_range(nn_sample_logits(big, 3, &rng), 0, 1);
}

static void test_sample_deterministic(void **state) {
    const float logits[4] = {0.1f, 0.2f, -0.3f, 0.4f};
    uint64_t r1 = 77, r2 = 77, r3 = 78;
    int same = 1, diff = 0;
    for (int i = 0; i < 1000; i++) {
        int a = nn_sample_logits(logits, 4, &r1), b = nn_sample_logits(logits, 4, &r2);
        int c = nn_sample_logits(logits, 4, &r3);
        same &= a == b;
        diff += a != c;
    }
    assert_true(same);
    assert_true(diff > 100); // another seed gives another sequence
    assert_int_equal(r1, r2);
    const float x[5] = {1, 3, 3, -1, 2};
    assert_int_equal(nn_argmax(x, 5), 1); // first of the ties
    assert_int_equal(nn_argmax(x, 1), 0);
}

// ============================================================================
// Parameter slab

static void test_params(void **state) {
    NNParams p;
    memset(&p, 0, sizeof p);
    const int s1[2] = {3, 4}, s2[1] = {5}, s3[4] = {2, 3, 1, 2};
    assert_int_equal(nn_params_add(&p, "fc.w", 2, s1), 0);
    assert_int_equal(nn_params_add(&p, "fc.b", 1, s2), 1);
    assert_int_equal(nn_params_add(&p, "conv.w", 4, s3), 2);
    assert_int_equal(nn_params_add(&p, "fc.w", 2, s1), -1);                 // duplicate
    assert_int_equal(nn_params_add(&p, "a_name_that_is_much_too_long_for_it", 1, s2), -1);
    assert_int_equal(nn_params_add(&p, "bad", 5, s3), -1);                  // ndim > 4
    assert_int_equal(p.n, 3);
    assert_int_equal(p.total, 12 + 5 + 12);
    assert_int_equal(p.t[1].offset, 12);
    assert_int_equal(p.t[2].offset, 17);
    assert_int_equal(p.t[2].size, 12);
    assert_int_equal(p.t[2].shape[3], 2);
    assert_int_equal(nn_params_find(&p, "fc.b"), 1);
    assert_int_equal(nn_params_find(&p, "nope"), -1);
    assert_int_equal(nn_params_alloc(&p), 0);
    for (size_t i = 0; i < p.total; i++) assert_true(p.params[i] == 0.0f && p.grads[i] == 0.0f);
    assert_ptr_equal(nn_param(&p, 1), p.params + 12);
    assert_ptr_equal(nn_grad(&p, 2), p.grads + 17);
    // clipping: grads (3, 4, 0...) have norm 5
    nn_grad(&p, 0)[0] = 3.0f;
    nn_grad(&p, 2)[11] = 4.0f;
    assert_float_equal(nn_clip_grad_norm(&p, 10.0f), 5.0f, 1e-6);   // below: untouched
    assert_float_equal(p.grads[0], 3.0f, 0);
    assert_float_equal(nn_clip_grad_norm(&p, 0.0f), 5.0f, 1e-6);    // 0 = no clipping
    assert_float_equal(p.grads[0], 3.0f, 0);
    assert_float_equal(nn_clip_grad_norm(&p, 1.0f), 5.0f, 1e-6);
    assert_float_equal(p.grads[0], 0.6f, 1e-6);
    assert_float_equal(p.grads[28], 0.8f, 1e-6);
    assert_float_equal(nn_clip_grad_norm(&p, 0.0f), 1.0f, 1e-5);
    nn_zero_grad(&p);
    for (size_t i = 0; i < p.total; i++) assert_true(p.grads[i] == 0.0f);
    nn_params_free(&p);
    assert_null(p.params);
    // full
    NNParams q;
    memset(&q, 0, sizeof q);
    char name[16];
    for (int i = 0; i < NN_MAX_TENSORS; i++) {
        snprintf(name, sizeof name, "t%d", i);
        assert_int_equal(nn_params_add(&q, name, 1, s2), i);
    }
    assert_int_equal(nn_params_add(&q, "extra", 1, s2), -1);
}

// ============================================================================
// Initialisation

static void test_init_uniform(void **state) {
    size_t n = 20000;
    float *w = fa(n), *w2 = fa(n);
    float bound = 1.0f / sqrtf(1568.0f);
    uint64_t rng = 81, rng2 = 81;
    nn_init_uniform(w, n, bound, &rng);
    nn_init_uniform(w2, n, bound, &rng2);
    double mean = 0.0, var = 0.0;
    float lo = 1, hi = -1;
    for (size_t i = 0; i < n; i++) {
        assert_true(w[i] >= -bound && w[i] <= bound);
        assert_true(w[i] == w2[i]); // same seed, same bits
        lo = fminf(lo, w[i]);
        hi = fmaxf(hi, w[i]);
        mean += w[i];
        var += (double)w[i] * w[i];
    }
    mean /= n;
    var /= n;
    assert_true(lo < -0.99f * bound && hi > 0.99f * bound);
    assert_true(fabs(mean) < 0.02 * bound);
    assert_true(fabs(var - bound * bound / 3.0) < 0.03 * bound * bound); // U(-b,b): b^2/3
}

static void check_orthogonal(int rows, int cols, float gain, uint64_t seed) {
    int big = rows > cols ? rows : cols, small = rows > cols ? cols : rows;
    float *w = fa((size_t)rows * cols), *work = fa((size_t)rows * cols + big);
    uint64_t rng = seed;
    nn_init_orthogonal(w, rows, cols, gain, &rng, work);
    // the `small` orthonormal vectors, times gain: W^T W (rows >= cols) or W W^T
    double worst = 0.0;
    for (int a = 0; a < small; a++)
        for (int b = 0; b < small; b++) {
            double s = 0.0;
            for (int k = 0; k < big; k++) {
                size_t ia = rows >= cols ? (size_t)k * cols + a : (size_t)a * cols + k;
                size_t ib = rows >= cols ? (size_t)k * cols + b : (size_t)b * cols + k;
                s += (double)w[ia] * w[ib];
            }
            worst = fmax(worst, fabs(s - (a == b ? (double)gain * gain : 0.0)));
        }
    if (worst > 1e-5 * gain * gain) fail_msg("orthogonal %dx%d: |Q^T Q - g^2 I| = %g", rows, cols, worst);
}

static void test_init_orthogonal(void **state) {
    check_orthogonal(16, 16, 1.0f, 91);
    check_orthogonal(64, 10, 1.414f, 92);  // tall
    check_orthogonal(4, 256, 0.01f, 93);   // wide, a small gain (policy head style)
    check_orthogonal(1024, 256, 1.0f, 94); // the LSTM's W_hh shape
}

// ============================================================================
// Fixture reader: bad files must fail, not crash.

static void test_fixture_reader(void **state) {
    Fixture f;
    assert_int_equal(fix_load(&f, "tests/fixtures/no_such_file.bin"), -1);
    assert_non_null(strstr(f.err, "no_such_file.bin"));
    char path[] = "/tmp/cpcrl_fixXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fwrite("NOTAFIX\0", 1, 8, fp);
    fclose(fp);
    assert_int_equal(fix_load(&f, path), -1);
    assert_non_null(strstr(f.err, "magic"));
    // a good file cut short inside a record
    FILE *src = fopen("tests/fixtures/linear.bin", "rb");
    assert_non_null(src);
    unsigned char buf[100];
    size_t got = fread(buf, 1, sizeof buf, src);
    fclose(src);
    assert_int_equal(got, sizeof buf);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    fwrite(buf, 1, sizeof buf, fp);
    fclose(fp);
    assert_int_equal(fix_load(&f, path), -1);
    assert_non_null(strstr(f.err, "truncated"));
    unlink(path);
    // and a good one loads, with a wrong-size request refused
    assert_int_equal(fix_load(&f, "tests/fixtures/linear.bin"), 0);
    assert_non_null(fix_data(&f, "w", 20));
    assert_null(fix_data(&f, "w", 21));
    assert_null(fix_data(&f, "nope", 1));
    fix_free(&f);
    // fix_compare counts mismatches (and NaN)
    fprintf(stderr, "  (fix_compare self-test: the mismatches printed next are expected)\n");
    const float a[3] = {1.0f, 2.0f, NAN}, b[3] = {1.0f, 2.1f, 3.0f};
    assert_int_equal(fix_compare("self-test", a, b, 3, 1e-3, 0), 2);
}

// ============================================================================

int main(int argc, char **argv) {
    g_user_coretype = getenv("OPENBLAS_CORETYPE") && *getenv("OPENBLAS_CORETYPE") &&
                      !getenv("CPCRL_BLAS_REEXEC");
    g_select_ret = blas_select_kernel(argc, argv, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_blas_pick_kernel, teardown),
        cmocka_unit_test_teardown(test_blas_kernel_selected, teardown),
        cmocka_unit_test_teardown(test_sgemm_vs_ref, teardown),
        cmocka_unit_test_teardown(test_sgemm_rows_vs_ref, teardown),
        cmocka_unit_test_teardown(test_clip_long, teardown),
        cmocka_unit_test_teardown(test_parallel, teardown),
        cmocka_unit_test_teardown(test_model_threads, teardown),
        cmocka_unit_test_teardown(test_linear_vs_ref, teardown),
        cmocka_unit_test_teardown(test_linear_fd, teardown),
        cmocka_unit_test_teardown(test_linear_fixture, teardown),
        cmocka_unit_test_teardown(test_conv_vs_ref, teardown),
        cmocka_unit_test_teardown(test_conv_fd, teardown),
        cmocka_unit_test_teardown(test_conv_s1_fixture, teardown),
        cmocka_unit_test_teardown(test_conv_s2_fixture, teardown),
        cmocka_unit_test_teardown(test_conv_same_vs_ref, teardown),
        cmocka_unit_test_teardown(test_onehot_index, teardown),
        cmocka_unit_test_teardown(test_conv_onehot_vs_ref, teardown),
        cmocka_unit_test_teardown(test_conv_onehot_fd, teardown),
        cmocka_unit_test_teardown(test_relu, teardown),
        cmocka_unit_test_teardown(test_add, teardown),
        cmocka_unit_test_teardown(test_lstm_vs_ref, teardown),
        cmocka_unit_test_teardown(test_lstm_gates_vs_ref, teardown),
        cmocka_unit_test_teardown(test_lstm_step_vs_ref, teardown),
        cmocka_unit_test_teardown(test_lstm_cell_fd, teardown),
        cmocka_unit_test_teardown(test_lstm_bptt_fd, teardown),
        cmocka_unit_test_teardown(test_lstm_masked_bptt_fd, teardown),
        cmocka_unit_test_teardown(test_lstm_cell_fixture, teardown),
        cmocka_unit_test_teardown(test_lstm_bptt_fixture, teardown),
        cmocka_unit_test_teardown(test_dist_fd, teardown),
        cmocka_unit_test_teardown(test_dist_fixture, teardown),
        cmocka_unit_test_teardown(test_mse, teardown),
        cmocka_unit_test_teardown(test_sample_frequencies, teardown),
        cmocka_unit_test_teardown(test_sample_deterministic, teardown),
        cmocka_unit_test_teardown(test_params, teardown),
        cmocka_unit_test_teardown(test_init_uniform, teardown),
        cmocka_unit_test_teardown(test_init_orthogonal, teardown),
        cmocka_unit_test_teardown(test_fixture_reader, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
