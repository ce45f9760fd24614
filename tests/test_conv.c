// test_conv.c — tests of nn/nn_conv.c: conv2d (im2col + sgemm) and its
// one-hot gather/scatter path, vs the naive loops, finite differences and
// PyTorch fixtures
// (shared helpers and the three kinds of check: tests/nn_check.h).
#include "tests/nn_check.h"

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

int main(int argc, char **argv) {
    blas_select_kernel(argc, argv, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_conv_vs_ref, teardown),
        cmocka_unit_test_teardown(test_conv_fd, teardown),
        cmocka_unit_test_teardown(test_conv_s1_fixture, teardown),
        cmocka_unit_test_teardown(test_conv_s2_fixture, teardown),
        cmocka_unit_test_teardown(test_conv_same_vs_ref, teardown),
        cmocka_unit_test_teardown(test_onehot_index, teardown),
        cmocka_unit_test_teardown(test_conv_onehot_vs_ref, teardown),
        cmocka_unit_test_teardown(test_conv_onehot_fd, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
