// test_nn.c — tests of nn/nn.[ch] (linear, ReLU, add, log-softmax,
// entropy, MSE, sampling, init, the parameter slab), nn/blas.[ch] (kernel
// choice, sgemm vs a naive GEMM), the worker pool and the model over 2 threads
// vs 1; conv: test_conv.c, LSTM: test_lstm.c
// (shared helpers and the three kinds of check: tests/nn_check.h).
#include "tests/nn_check.h"

static int g_user_coretype; // OPENBLAS_CORETYPE set by the user, not by our re-exec
static int g_select_ret;

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
        assert_int_equal(model_init_ext(&m, C, V, A, 4, 6, 16, 20, NULL, 0, 0, 5), 0);
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

// model_forward_seq (the recomputed forward of sample reuse) against T
// model_forward calls of B rows with the state carried by hand, at the
// default network's sizes, 8 rows per step (a 4 x 4 minibatch), episode
// starts inside the sequence, one thread and two.
static void test_model_forward_seq(void **state) {
    const int C = 14, V = 7, A = 4, T = 20, B = 8, N = T * B, VV = V * V;
    uint64_t rng = 61;
    Model m;
    assert_int_equal(model_init_ext(&m, C, V, A, 16, 32, 256, 256, NULL, 0, 1, 9), 0);
    Acts a, ref;
    assert_int_equal(acts_alloc(&a, &m, N), 0);
    assert_int_equal(acts_alloc(&ref, &m, N), 0);
    float *x = onehot_input(N, C, VV, 0, &rng);
    float *mask = fa((size_t)N);
    for (int i = 0; i < N; i++) mask[i] = rng_int(&rng, 6) ? 1.0f : 0.0f;
    for (Acts *p = &a; p; p = p == &a ? &ref : NULL) {
        memcpy(p->x0, x, (size_t)N * C * VV * sizeof(float));
        uint64_t r2 = 62;
        for (int r = 0; r < N; r++)
            for (int i = m.D; i < m.X; i++) p->xin[(size_t)r * m.X + i] = rng_float(&r2);
        for (size_t i = 0; i < (size_t)B * m.H; i++) {
            p->hprev[i] = 2.0f * rng_float(&r2) - 1.0f;
            p->cprev[i] = 2.0f * rng_float(&r2) - 1.0f;
        }
    }
    const int blas = blas_threads();
    for (int threads = 1; threads <= 2; threads++) {
        blas_set_threads(threads);
        for (int t = 0; t < T; t++) {
            for (int r = t * B; t > 0 && r < (t + 1) * B; r++)
                for (int i = 0; i < m.H; i++) {
                    ref.hprev[(size_t)r * m.H + i] = mask[r] * ref.h[(size_t)(r - B) * m.H + i];
                    ref.cprev[(size_t)r * m.H + i] = mask[r] * ref.cell[(size_t)(r - B) * m.H + i];
                }
            model_forward(&m, &ref, t * B, B);
        }
        model_forward_seq(&m, &a, mask, T, B);
        EXPECT_CLOSE("seq: z", a.z, ref.z, (size_t)N * m.D, 1e-6, 1e-5);
        EXPECT_CLOSE("seq: hprev", a.hprev, ref.hprev, (size_t)N * m.H, 1e-6, 1e-5);
        EXPECT_CLOSE("seq: h", a.h, ref.h, (size_t)N * m.H, 1e-6, 1e-5);
        EXPECT_CLOSE("seq: cell", a.cell, ref.cell, (size_t)N * m.H, 1e-6, 1e-5);
        EXPECT_CLOSE("seq: logits", a.logits, ref.logits, (size_t)N * A, 1e-6, 1e-5);
        EXPECT_CLOSE("seq: value", a.value, ref.value, N, 1e-6, 1e-5);
        for (int r = 0; r < N; r++) assert_int_equal(a.onehot[r], 1);
    }
    blas_set_threads(blas);
    acts_free(&ref);
    acts_free(&a);
    model_free(&m);
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
        cmocka_unit_test_teardown(test_model_forward_seq, teardown),
        cmocka_unit_test_teardown(test_linear_vs_ref, teardown),
        cmocka_unit_test_teardown(test_linear_fd, teardown),
        cmocka_unit_test_teardown(test_linear_fixture, teardown),
        cmocka_unit_test_teardown(test_relu, teardown),
        cmocka_unit_test_teardown(test_add, teardown),
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
