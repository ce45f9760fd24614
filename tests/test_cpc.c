// test_cpc.c — the CPC head (cpc/cpc.c): fast InfoNCE vs the naive double
// reference, gradients vs central finite differences, PyTorch fixtures for
// both negative modes (with episode starts inside the unroll), and the
// properties of the loss (0 <= L, L = log N for uninformative scores, L -> 0
// when positives dominate, masking, stop_target, weight, count 0).
//
// Tolerances (all stated where they are checked):
//   fast vs reference loss:   |diff| <= 1e-7 + 1e-6 |L| (measured rel ~3e-8);
//                             counts and accuracies exact
//   gradients vs central FD:  |diff| <= 2e-7 + 1e-5 |fd|  (h = 1e-3, FD in double;
//                             measured max |diff| ~1.4e-8, gradients ~1e-2)
//   PyTorch fixtures:         loss 1e-7 + 1e-6 rel; grads 2e-7 + 1e-5 rel (measured
//                             max |diff| ~3e-8); counts and accuracies exact
//   linearity in weight:      1e-7 + 1e-6 rel
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpc/cpc.h"
#include "base/rng.h"
#include "tests/fixture.h"

#include <cblas.h> // after the project headers (its complex.h defines I)

// ----------------------------------------------------------------------------
// a problem instance: inputs, gradients, workspace

typedef struct {
    int T, B, D, H, K, neg;
    float *c, *z, *W, *dc, *dz, *dW;
    uint8_t *starts;
    CPC cpc;
} Prob;

static float *falloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return p;
}

static void prob_init(Prob *p, int T, int B, int D, int H, int K, int neg) {
    memset(p, 0, sizeof *p);
    p->T = T; p->B = B; p->D = D; p->H = H; p->K = K; p->neg = neg;
    size_t TB = (size_t)T * B;
    p->c = falloc(TB * H);
    p->z = falloc(TB * D);
    p->W = falloc((size_t)K * D * H);
    p->dc = falloc(TB * H);
    p->dz = falloc(TB * D);
    p->dW = falloc((size_t)K * D * H);
    p->starts = calloc(TB, 1);
    assert_non_null(p->starts);
    assert_int_equal(cpc_init(&p->cpc, T, B, D, H, K, neg, 0), 0);
}

static void prob_free(Prob *p) {
    free(p->c); free(p->z); free(p->W);
    free(p->dc); free(p->dz); free(p->dW);
    free(p->starts);
    cpc_free(&p->cpc);
}

static void fill(float *x, size_t n, float scale, uint64_t *rng) {
    for (size_t i = 0; i < n; i++) x[i] = scale * (2.0f * rng_float(rng) - 1.0f);
}

static void prob_random(Prob *p, uint64_t seed, float sc, float sz, float sw, float pstart) {
    uint64_t rng = seed;
    size_t TB = (size_t)p->T * p->B;
    fill(p->c, TB * p->H, sc, &rng);
    fill(p->z, TB * p->D, sz, &rng);
    fill(p->W, (size_t)p->K * p->D * p->H, sw, &rng);
    for (size_t i = 0; i < TB; i++) p->starts[i] = rng_float(&rng) < pstart;
}

static void zero_grads(Prob *p) {
    size_t TB = (size_t)p->T * p->B;
    memset(p->dc, 0, TB * p->H * sizeof(float));
    memset(p->dz, 0, TB * p->D * sizeof(float));
    memset(p->dW, 0, (size_t)p->K * p->D * p->H * sizeof(float));
}

static float prob_fb(Prob *p, float weight, CPCStats *st) {
    return cpc_forward_backward(&p->cpc, p->dc, p->dz, p->dW, p->c, p->z, p->W, p->starts,
                                weight, st);
}

// The reference with the instance's k weighting (pooled unless a test sets
// p->cpc.k_weighting).
static double prob_ref(const Prob *p, CPCStats *st) {
    return cpc_ref_loss_kw(p->c, p->z, p->W, p->starts, p->T, p->B, p->D, p->H, p->K, p->neg,
                           p->cpc.k_weighting, st);
}

static int close_to(double got, double want, double atol, double rtol) {
    return fabs(got - want) <= atol + rtol * fabs(want);
}

// Stats of the fast path equal the reference's: counts and accuracies
// exactly, losses within tolerance.
static void check_stats(const CPCStats *got, const CPCStats *want, int K) {
    assert_int_equal(got->count, want->count);
    assert_int_equal(got->n_candidates, want->n_candidates);
    for (int k = 0; k < K; k++) {
        assert_int_equal(got->count_k[k], want->count_k[k]);
        assert_true(got->acc[k] == want->acc[k]);
        if (!close_to(got->loss_k[k], want->loss_k[k], 1e-7, 1e-6))
            fail_msg("loss_k[%d]: fast %.8g ref %.8g", k, got->loss_k[k], want->loss_k[k]);
    }
}

// ----------------------------------------------------------------------------
// fast vs naive reference

static void check_vs_ref_kw(int T, int B, int D, int H, int K, int neg, float pstart,
                            uint64_t seed, int kw) {
    Prob p;
    prob_init(&p, T, B, D, H, K, neg);
    p.cpc.k_weighting = kw;
    prob_random(&p, seed, 1.0f, 1.0f, 0.6f, pstart);
    CPCStats sf, sr;
    float lf = prob_fb(&p, 1.0f, &sf);
    double lr = prob_ref(&p, &sr);
    if (!close_to(lf, lr, 1e-7, 1e-6))
        fail_msg("T%d B%d D%d H%d K%d neg%d: fast %.8g ref %.8g", T, B, D, H, K, neg, lf, lr);
    assert_true(lf == sf.loss);
    check_stats(&sf, &sr, K);
    // forward-only gives the same numbers
    CPCStats so;
    float lo = cpc_forward(&p.cpc, p.c, p.z, p.W, p.starts, &so);
    assert_true(lo == lf);
    check_stats(&so, &sf, K);
    prob_free(&p);
}

static void check_vs_ref(int T, int B, int D, int H, int K, int neg, float pstart,
                         uint64_t seed) {
    check_vs_ref_kw(T, B, D, H, K, neg, pstart, seed, CPC_KW_POOLED);
}

static void test_fast_vs_ref(void **state) {
    (void)state;
    for (int neg = 0; neg < 2; neg++) {
        check_vs_ref(6, 4, 5, 7, 3, neg, 0.15f, 11);
        check_vs_ref(12, 8, 16, 12, 5, neg, 0.1f, 12);
        check_vs_ref(5, 3, 4, 6, 7, neg, 0.0f, 13);  // K >= T: large k never count
        check_vs_ref(9, 1, 3, 5, 4, neg, 0.2f, 14);  // B = 1 (BATCH: N = 1, L = 0)
        check_vs_ref(2, 5, 8, 3, 1, neg, 0.0f, 15);  // shortest unroll with a target
        check_vs_ref(30, 6, 9, 10, 12, neg, 0.05f, 16);
    }
}

// ----------------------------------------------------------------------------
// gradients vs central finite differences of the double reference

// Central FD of the reference w.r.t. every entry of x (a float input of p),
// compared with the analytic gradient g. The step is taken on the float value
// and divided by the exact float difference, so rounding of x +- h is exact.
static size_t fd_check(Prob *p, float *x, const float *g, size_t n, const char *what) {
    const float h = 1e-3f;
    size_t bad = 0;
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i];
        float xp = x0 + h, xm = x0 - h;
        x[i] = xp;
        double lp = prob_ref(p, NULL);
        x[i] = xm;
        double lm = prob_ref(p, NULL);
        x[i] = x0;
        double fd = (lp - lm) / ((double)xp - (double)xm);
        double err = fabs(g[i] - fd);
        if (err > worst) worst = err;
        if (!(err <= 2e-7 + 1e-5 * fabs(fd))) {
            if (bad < 5) fprintf(stderr, "  %s[%zu]: analytic %.8g fd %.8g\n", what, i, g[i], fd);
            bad++;
        }
    }
    if (bad) fprintf(stderr, "  %s: %zu of %zu differ, max |diff| %.3g\n", what, bad, n, worst);
    return bad;
}

static void check_fd_kw(int neg, int kw) {
    Prob p;
    prob_init(&p, 6, 4, 5, 7, 3, neg);
    p.cpc.k_weighting = kw;
    prob_random(&p, 100 + neg, 1.0f, 1.0f, 0.6f, 0.0f);
    p.starts[2 * 4 + 1] = 1; // starts inside the unroll
    p.starts[4 * 4 + 2] = 1;
    p.starts[3 * 4 + 3] = 1;
    zero_grads(&p);
    CPCStats st;
    prob_fb(&p, 1.0f, &st);
    assert_true(st.count > 0 && st.count < (5 + 4 + 3) * 4);
    size_t TB = 6 * 4;
    size_t bad = fd_check(&p, p.W, p.dW, 3 * 5 * 7, "dW");
    bad += fd_check(&p, p.c, p.dc, TB * 7, "dc");
    bad += fd_check(&p, p.z, p.dz, TB * 5, "dz");
    assert_int_equal(bad, 0);
    prob_free(&p);
}

static void check_fd(int neg) { check_fd_kw(neg, CPC_KW_POOLED); }

// The score work is split over the worker threads by target step; the
// result must not depend on how many there are: 1 thread and 2 threads give
// the same bits (loss, stats, every gradient).
static void run_threads(int threads, int neg, float *loss, CPCStats *st, float **g, size_t *n) {
    openblas_set_num_threads(threads);
    Prob p;
    prob_init(&p, 14, 8, 16, 12, 5, neg);
    prob_random(&p, 77, 1.0f, 1.0f, 0.6f, 0.08f);
    zero_grads(&p);
    *loss = prob_fb(&p, 0.7f, st);
    const size_t TB = 14 * 8;
    n[0] = TB * 12, n[1] = TB * 16, n[2] = (size_t)5 * 16 * 12;
    const float *src[3] = {p.dc, p.dz, p.dW};
    for (int i = 0; i < 3; i++) {
        g[i] = malloc(n[i] * sizeof(float));
        assert_non_null(g[i]);
        memcpy(g[i], src[i], n[i] * sizeof(float));
    }
    prob_free(&p);
}

static void test_threads_same_bits(void **state) {
    (void)state;
    const int saved = openblas_get_num_threads();
    for (int neg = 0; neg < 2; neg++) {
        float l1, l2;
        CPCStats s1, s2;
        float *g1[3], *g2[3];
        size_t n[3];
        run_threads(1, neg, &l1, &s1, g1, n);
        run_threads(2, neg, &l2, &s2, g2, n);
        assert_true(memcmp(&l1, &l2, sizeof l1) == 0);
        assert_true(memcmp(&s1, &s2, sizeof s1) == 0);
        for (int i = 0; i < 3; i++) {
            assert_true(memcmp(g1[i], g2[i], n[i] * sizeof(float)) == 0);
            free(g1[i]);
            free(g2[i]);
        }
    }
    openblas_set_num_threads(saved);
}

static void test_grad_fd_batch(void **state) { (void)state; check_fd(CPC_NEG_BATCH); }
static void test_grad_fd_all(void **state) { (void)state; check_fd(CPC_NEG_ALL); }

// ----------------------------------------------------------------------------
// PyTorch fixtures (scripts/make_fixtures_cpc.py)

static void check_fixture(const char *path, int neg) {
    Fixture f;
    if (fix_load(&f, path) != 0) fail_msg("%s", f.err);
    const float *cfg = fix_data(&f, "config", 6);
    if (!cfg) fail_msg("%s: %s", path, f.err);
    int T = (int)cfg[0], B = (int)cfg[1], D = (int)cfg[2], H = (int)cfg[3], K = (int)cfg[4];
    assert_int_equal((int)cfg[5], neg);
    size_t TB = (size_t)T * B;
    const float *c = fix_data(&f, "c", TB * H), *z = fix_data(&f, "z", TB * D),
                *W = fix_data(&f, "W", (size_t)K * D * H), *st = fix_data(&f, "starts", TB),
                *loss = fix_data(&f, "loss", 1), *acc = fix_data(&f, "acc", K),
                *loss_k = fix_data(&f, "loss_k", K), *count_k = fix_data(&f, "count_k", K),
                *dc = fix_data(&f, "dc", TB * H), *dz = fix_data(&f, "dz", TB * D),
                *dW = fix_data(&f, "dW", (size_t)K * D * H);
    if (!c || !z || !W || !st || !loss || !acc || !loss_k || !count_k || !dc || !dz || !dW)
        fail_msg("%s: %s", path, f.err);

    Prob p;
    prob_init(&p, T, B, D, H, K, neg);
    memcpy(p.c, c, TB * H * sizeof(float));
    memcpy(p.z, z, TB * D * sizeof(float));
    memcpy(p.W, W, (size_t)K * D * H * sizeof(float));
    int inside = 0;
    for (size_t i = 0; i < TB; i++) {
        p.starts[i] = st[i] != 0.0f;
        inside += p.starts[i] && i >= (size_t)B;
    }
    assert_true(inside > 0); // the fixture must exercise the mask
    CPCStats s;
    float l = prob_fb(&p, 1.0f, &s);
    if (!close_to(l, loss[0], 1e-7, 1e-6))
        fail_msg("%s: loss %.8g torch %.8g", path, l, loss[0]);
    for (int k = 0; k < K; k++) {
        assert_int_equal(s.count_k[k], (int)count_k[k]);
        if (s.acc[k] != acc[k]) fail_msg("%s: acc[%d] %g torch %g", path, k, s.acc[k], acc[k]);
        if (!close_to(s.loss_k[k], loss_k[k], 1e-7, 1e-6))
            fail_msg("%s: loss_k[%d] %.8g torch %.8g", path, k, s.loss_k[k], loss_k[k]);
    }
    // the reference agrees with torch too
    assert_true(close_to(prob_ref(&p, NULL), loss[0], 1e-7, 1e-6));
    size_t bad = fix_compare("dc", p.dc, dc, TB * H, 2e-7, 1e-5);
    bad += fix_compare("dz", p.dz, dz, TB * D, 2e-7, 1e-5);
    bad += fix_compare("dW", p.dW, dW, (size_t)K * D * H, 2e-7, 1e-5);
    assert_int_equal(bad, 0);
    prob_free(&p);
    fix_free(&f);
}

static void test_fixture_batch(void **state) {
    (void)state;
    check_fixture("tests/fixtures/cpc_batch.bin", CPC_NEG_BATCH);
}
static void test_fixture_all(void **state) {
    (void)state;
    check_fixture("tests/fixtures/cpc_all.bin", CPC_NEG_ALL);
}

// ----------------------------------------------------------------------------
// properties

// 0 <= L and 0 <= L_k, so the bound log N - L_k never exceeds log N.
static void test_nonnegative(void **state) {
    (void)state;
    for (int neg = 0; neg < 2; neg++)
        for (int trial = 0; trial < 20; trial++) {
            Prob p;
            prob_init(&p, 8, 5, 6, 6, 4, neg);
            float scale = trial % 2 ? 3.0f : 0.3f; // decisive and flat scores
            prob_random(&p, 200 + trial, scale, scale, scale, 0.1f);
            CPCStats s;
            float l = cpc_forward(&p.cpc, p.c, p.z, p.W, p.starts, &s);
            assert_true(l >= 0.0f);
            for (int k = 1; k <= 4; k++) {
                assert_true(s.loss_k[k - 1] >= 0.0f);
                assert_true(cpc_stats_bound(&s, k) <= logf((float)s.n_candidates) + 1e-6f);
            }
            prob_free(&p);
        }
}

// Tiny latents make every score ~0: softmax is uniform, L = log N, bound 0.
// Zero latents make the scores tie exactly: accuracy 0 (ties are wrong).
static void test_uniform_is_log_n(void **state) {
    (void)state;
    for (int neg = 0; neg < 2; neg++) {
        Prob p;
        prob_init(&p, 7, 6, 5, 8, 3, neg);
        prob_random(&p, 300 + neg, 1.0f, 1e-4f, 1.0f, 0.1f);
        CPCStats s;
        float l = cpc_forward(&p.cpc, p.c, p.z, p.W, p.starts, &s);
        double logn = log(neg == CPC_NEG_ALL ? 7.0 * 6.0 : 6.0);
        assert_int_equal(s.n_candidates, neg == CPC_NEG_ALL ? 42 : 6);
        if (!(fabs(l - logn) < 1e-3)) fail_msg("neg %d: L %.6f, log N %.6f", neg, l, logn);
        for (int k = 1; k <= 3; k++) assert_true(fabsf(cpc_stats_bound(&s, k)) < 1e-3f);
        // z = 0: every score ties at exactly 0, and a tie counts as wrong
        memset(p.z, 0, (size_t)7 * 6 * 5 * sizeof(float));
        l = cpc_forward(&p.cpc, p.c, p.z, p.W, p.starts, &s);
        assert_true(fabs(l - logn) < 1e-6);
        for (int k = 1; k <= 3; k++) assert_true(s.acc[k - 1] == 0.0f);
        prob_free(&p);
    }
}

// One-hot contexts and latents, D = H = T*B, and W_k shifting index t*B+b to
// (t+k)*B+b: score = alpha for the positive and 0 for every other candidate
// (in both modes), so L = log(1 + (N-1) e^-alpha) ~ 0 and accuracy = 1.
static void test_dominant_positive(void **state) {
    (void)state;
    const int T = 6, B = 4, K = 3, n = T * B;
    const float alpha = 40.0f;
    for (int neg = 0; neg < 2; neg++) {
        Prob p;
        prob_init(&p, T, B, n, n, K, neg);
        for (int i = 0; i < n; i++) {
            p.c[(size_t)i * n + i] = 1.0f;
            p.z[(size_t)i * n + i] = 1.0f;
        }
        for (int k = 1; k <= K; k++)
            for (int i = 0; i + k * B < n; i++)
                p.W[((size_t)(k - 1) * n + i + k * B) * n + i] = alpha;
        p.starts[3 * B + 1] = 1;
        CPCStats s;
        float l = prob_fb(&p, 1.0f, &s);
        assert_true(l >= 0.0f && l < 1e-6f);
        for (int k = 1; k <= K; k++) {
            assert_true(s.acc[k - 1] == 1.0f);
            assert_true(fabsf(cpc_stats_bound(&s, k) - logf((float)s.n_candidates)) < 1e-5f);
        }
        // flipping the sign makes the positive the worst: accuracy 0, L ~ alpha
        for (size_t i = 0; i < (size_t)K * n * n; i++) p.W[i] = -p.W[i];
        l = cpc_forward(&p.cpc, p.c, p.z, p.W, p.starts, &s);
        assert_true(fabsf(l - alpha - logf((float)s.n_candidates - 1)) < 1e-3f);
        for (int k = 1; k <= K; k++) assert_true(s.acc[k - 1] == 0.0f);
        prob_free(&p);
    }
}

// One triple's loss, computed directly in double (for the masking check).
static double triple_loss(const Prob *p, int t, int k, int b) {
    int N = p->neg == CPC_NEG_ALL ? p->T * p->B : p->B;
    int first = p->neg == CPC_NEG_ALL ? 0 : (t + k) * p->B;
    int pos = (t + k) * p->B + b;
    double pred[64], sc[256], mx = -INFINITY, se = 0.0;
    assert_true(p->D <= 64 && N <= 256);
    for (int d = 0; d < p->D; d++) {
        pred[d] = 0.0;
        for (int h = 0; h < p->H; h++)
            pred[d] += (double)p->W[((size_t)(k - 1) * p->D + d) * p->H + h] *
                       p->c[(size_t)(t * p->B + b) * p->H + h];
    }
    for (int j = 0; j < N; j++) {
        sc[j] = 0.0;
        for (int d = 0; d < p->D; d++) sc[j] += pred[d] * p->z[(size_t)(first + j) * p->D + d];
        if (sc[j] > mx) mx = sc[j];
    }
    for (int j = 0; j < N; j++) se += exp(sc[j] - mx);
    return mx + log(se) - sc[pos - first];
}

// A start at step 3 of env 0 (T = 6, K = 3) removes exactly the triples
// (t,k,0) with t < 3 <= t+k: (0,3) (1,2) (1,3) (2,1) (2,2) (2,3). Counts drop
// from 20/16/12 to 19/14/9 and the loss sum drops by those six triple losses.
static void test_mask_removes_straddling(void **state) {
    (void)state;
    for (int neg = 0; neg < 2; neg++) {
        Prob p;
        prob_init(&p, 6, 4, 5, 7, 3, neg);
        prob_random(&p, 400 + neg, 1.0f, 1.0f, 0.6f, 0.0f);
        for (int b = 0; b < 4; b++) p.starts[b] = 1; // starts at t = 0 mask nothing
        CPCStats s0, s1;
        float l0 = cpc_forward(&p.cpc, p.c, p.z, p.W, p.starts, &s0);
        assert_int_equal(s0.count, 48);
        assert_int_equal(s0.count_k[0], 20);
        assert_int_equal(s0.count_k[1], 16);
        assert_int_equal(s0.count_k[2], 12);
        p.starts[3 * 4 + 0] = 1;
        float l1 = cpc_forward(&p.cpc, p.c, p.z, p.W, p.starts, &s1);
        assert_int_equal(s1.count, 42);
        assert_int_equal(s1.count_k[0], 19);
        assert_int_equal(s1.count_k[1], 14);
        assert_int_equal(s1.count_k[2], 9);
        static const int removed[6][2] = {{0, 3}, {1, 2}, {1, 3}, {2, 1}, {2, 2}, {2, 3}};
        double gone = 0.0;
        for (int i = 0; i < 6; i++) gone += triple_loss(&p, removed[i][0], removed[i][1], 0);
        double want = (48.0 * l0 - gone) / 42.0;
        if (!close_to(l1, want, 1e-7, 1e-6))
            fail_msg("neg %d: L %.8g, expected %.8g", neg, l1, want);
        assert_true(close_to(l1, prob_ref(&p, NULL), 1e-7, 1e-6));
        prob_free(&p);
    }
}

// A start at step 1 of env 0 masks every triple whose context is c_{0,0};
// contexts only enter through their own triples, so dc of that row is exactly
// 0 and changing it leaves the loss untouched. The last step's contexts have
// no target at all.
static void test_masked_context_is_inert(void **state) {
    (void)state;
    const int T = 6, B = 4, H = 7;
    for (int neg = 0; neg < 2; neg++) {
        Prob p;
        prob_init(&p, T, B, 5, H, 3, neg);
        prob_random(&p, 500 + neg, 1.0f, 1.0f, 0.6f, 0.0f);
        zero_grads(&p);
        float l0 = prob_fb(&p, 1.0f, NULL);
        float norm = 0.0f;
        for (int h = 0; h < H; h++) norm += fabsf(p.dc[h]);
        assert_true(norm > 1e-4f); // without the start, c_{0,0} has a gradient

        p.starts[1 * B + 0] = 1;
        zero_grads(&p);
        float l1 = prob_fb(&p, 1.0f, NULL);
        assert_true(l1 != l0);
        for (int h = 0; h < H; h++) assert_true(p.dc[h] == 0.0f);
        for (int i = (T - 1) * B * H; i < T * B * H; i++) assert_true(p.dc[i] == 0.0f);
        for (int h = 0; h < H; h++) p.c[h] += 5.0f;
        float l2 = cpc_forward(&p.cpc, p.c, p.z, p.W, p.starts, NULL);
        if (!close_to(l2, l1, 1e-7, 1e-6)) fail_msg("neg %d: L %.9g then %.9g", neg, l1, l2);
        prob_free(&p);
    }
}

// stop_target: dz untouched (bit for bit), dc and dW as without it.
static void test_stop_target(void **state) {
    (void)state;
    for (int neg = 0; neg < 2; neg++) {
        Prob p;
        prob_init(&p, 6, 4, 5, 7, 3, neg);
        prob_random(&p, 600 + neg, 1.0f, 1.0f, 0.6f, 0.1f);
        zero_grads(&p);
        float l0 = prob_fb(&p, 1.0f, NULL);
        size_t nc = 24 * 7, nz = 24 * 5, nw = 3 * 5 * 7;
        float *dc0 = falloc(nc), *dW0 = falloc(nw), *dz0 = falloc(nz);
        memcpy(dc0, p.dc, nc * sizeof(float));
        memcpy(dW0, p.dW, nw * sizeof(float));
        float nzsum = 0.0f;
        for (size_t i = 0; i < nz; i++) nzsum += fabsf(p.dz[i]);
        assert_true(nzsum > 1e-4f);

        CPC st;
        assert_int_equal(cpc_init(&st, 6, 4, 5, 7, 3, neg, 1), 0);
        zero_grads(&p);
        for (size_t i = 0; i < nz; i++) p.dz[i] = dz0[i] = (float)i - 7.25f; // sentinel
        float l1 = cpc_forward_backward(&st, p.dc, p.dz, p.dW, p.c, p.z, p.W, p.starts, 1.0f,
                                        NULL);
        assert_true(l1 == l0);
        assert_memory_equal(p.dz, dz0, nz * sizeof(float));
        assert_int_equal(fix_compare("dc", p.dc, dc0, nc, 0.0, 1e-6), 0);
        assert_int_equal(fix_compare("dW", p.dW, dW0, nw, 0.0, 1e-6), 0);
        cpc_free(&st);
        free(dc0); free(dW0); free(dz0);
        prob_free(&p);
    }
}

// Gradients are weight * dL and are added: weight 2.5 gives 2.5x, and a
// second call on top of the first doubles them. NULL gradients are skipped.
static void test_weight_and_accumulate(void **state) {
    (void)state;
    for (int neg = 0; neg < 2; neg++) {
        Prob p;
        prob_init(&p, 7, 3, 4, 6, 3, neg);
        prob_random(&p, 700 + neg, 1.0f, 1.0f, 0.6f, 0.1f);
        size_t nc = 21 * 6, nz = 21 * 4, nw = 3 * 4 * 6;
        zero_grads(&p);
        float l1 = prob_fb(&p, 1.0f, NULL);
        float *gc = falloc(nc), *gz = falloc(nz), *gw = falloc(nw);
        float *sc = falloc(nc), *sz = falloc(nz), *sw = falloc(nw);
        memcpy(gc, p.dc, nc * sizeof(float));
        memcpy(gz, p.dz, nz * sizeof(float));
        memcpy(gw, p.dW, nw * sizeof(float));
        for (size_t i = 0; i < nc; i++) sc[i] = 2.5f * gc[i];
        for (size_t i = 0; i < nz; i++) sz[i] = 2.5f * gz[i];
        for (size_t i = 0; i < nw; i++) sw[i] = 2.5f * gw[i];
        zero_grads(&p);
        float l2 = prob_fb(&p, 2.5f, NULL);
        assert_true(l2 == l1); // the loss is returned unweighted
        size_t bad = fix_compare("2.5 dc", p.dc, sc, nc, 1e-7, 1e-6);
        bad += fix_compare("2.5 dz", p.dz, sz, nz, 1e-7, 1e-6);
        bad += fix_compare("2.5 dW", p.dW, sw, nw, 1e-7, 1e-6);
        // accumulate: 2.5 + 1 = 3.5 times the gradient
        prob_fb(&p, 1.0f, NULL);
        for (size_t i = 0; i < nc; i++) sc[i] = 3.5f * gc[i];
        for (size_t i = 0; i < nz; i++) sz[i] = 3.5f * gz[i];
        for (size_t i = 0; i < nw; i++) sw[i] = 3.5f * gw[i];
        bad += fix_compare("3.5 dc", p.dc, sc, nc, 1e-7, 1e-6);
        bad += fix_compare("3.5 dz", p.dz, sz, nz, 1e-7, 1e-6);
        bad += fix_compare("3.5 dW", p.dW, sw, nw, 1e-7, 1e-6);
        // only dz requested: same dz, nothing else touched
        memset(p.dz, 0, nz * sizeof(float));
        float l3 = cpc_forward_backward(&p.cpc, NULL, p.dz, NULL, p.c, p.z, p.W, p.starts,
                                        1.0f, NULL);
        assert_true(l3 == l1);
        bad += fix_compare("dz alone", p.dz, gz, nz, 1e-7, 1e-6);
        // only dc requested
        memset(p.dc, 0, nc * sizeof(float));
        cpc_forward_backward(&p.cpc, p.dc, NULL, NULL, p.c, p.z, p.W, p.starts, 1.0f, NULL);
        bad += fix_compare("dc alone", p.dc, gc, nc, 1e-7, 1e-6);
        assert_int_equal(bad, 0);
        free(gc); free(gz); free(gw); free(sc); free(sz); free(sw);
        prob_free(&p);
    }
}

// No counted triple (every step starts an episode, or T = 1): L = 0, count 0,
// and the gradients stay exactly as they were.
static void check_count_zero(int T, int neg) {
    Prob p;
    prob_init(&p, T, 3, 4, 5, 2, neg);
    prob_random(&p, 800 + T, 1.0f, 1.0f, 1.0f, 0.0f);
    memset(p.starts, 1, (size_t)T * 3);
    size_t nc = (size_t)T * 3 * 5, nz = (size_t)T * 3 * 4, nw = 2 * 4 * 5;
    for (size_t i = 0; i < nc; i++) p.dc[i] = 1.5f;
    for (size_t i = 0; i < nz; i++) p.dz[i] = -2.5f;
    for (size_t i = 0; i < nw; i++) p.dW[i] = 0.25f;
    CPCStats s;
    s.count = 99;
    float l = prob_fb(&p, 1.0f, &s);
    assert_true(l == 0.0f);
    assert_int_equal(s.count, 0);
    assert_true(s.loss == 0.0f);
    for (int k = 1; k <= 2; k++) {
        assert_int_equal(s.count_k[k - 1], 0);
        assert_true(cpc_stats_bound(&s, k) == 0.0f);
    }
    for (size_t i = 0; i < nc; i++) assert_true(p.dc[i] == 1.5f);
    for (size_t i = 0; i < nz; i++) assert_true(p.dz[i] == -2.5f);
    for (size_t i = 0; i < nw; i++) assert_true(p.dW[i] == 0.25f);
    assert_true(prob_ref(&p, NULL) == 0.0);
    prob_free(&p);
}

static void test_count_zero(void **state) {
    (void)state;
    for (int neg = 0; neg < 2; neg++) {
        check_count_zero(5, neg);
        check_count_zero(1, neg);
    }
}

// ----------------------------------------------------------------------------
// k weighting (--cpc-k-weighting): pooled mean vs per-k mean averaged over k

// Per-k (CPC_KW_PER_K) against the reference over the shapes of
// test_fast_vs_ref (incl. K >= T, where the long k count nothing and K' < K),
// and its gradients against finite differences of the per-k reference.
static void test_per_k_vs_ref_and_fd(void **state) {
    (void)state;
    for (int neg = 0; neg < 2; neg++) {
        check_vs_ref_kw(6, 4, 5, 7, 3, neg, 0.15f, 11, CPC_KW_PER_K);
        check_vs_ref_kw(12, 8, 16, 12, 5, neg, 0.1f, 12, CPC_KW_PER_K);
        check_vs_ref_kw(5, 3, 4, 6, 7, neg, 0.0f, 13, CPC_KW_PER_K);
        check_vs_ref_kw(30, 6, 9, 10, 12, neg, 0.05f, 16, CPC_KW_PER_K);
        check_fd_kw(neg, CPC_KW_PER_K);
    }
}

// A case computed by hand. T = 3, B = 2, D = H = 1, K = 2, batch negatives;
// c = 1 everywhere, W_1 = 1, W_2 = 0; z_{s,0} = a, z_{s,1} = -a with
// e^{2a} = 3. Step 1 (t = 0, 1): scores (a, -a) for both envs, softmax
// (3/4, 1/4); env 0's triple loses log(1 + e^{-2a}) = log(4/3), env 1's
// log(1 + e^{2a}) = log 4: L_1 = log(16/3) / 2 over 4 triples. Step 2
// (t = 0): scores 0, L_2 = log 2 over 2 triples.
//   pooled: (4 L_1 + 2 L_2) / 6 = log(32/3) / 3
//   per-k:  (L_1 + L_2) / 2     = log(64/3) / 4
// dl/dW_1 of a triple = (sum_j p_j z_j - z_b) c: env 0 a/2 - a = -a/2, env 1
// a/2 + a = 3a/2, so a per t and 2a over the 4 triples; the mean's weights
// make dL/dW_1 = 2a / 6 pooled and 2a / (2 * 4) per-k (K' = 2, count_1 = 4).
// With episode starts at step 2 in both envs only t = 0 of step 1 counts:
// both means are L_1 (K' = 1) and dL/dW_1 = a / 2.
static void test_per_k_by_hand(void **state) {
    (void)state;
    const double a = 0.5 * log(3.0);
    for (int kw = 0; kw < 2; kw++)
        for (int masked = 0; masked < 2; masked++) {
            Prob p;
            prob_init(&p, 3, 2, 1, 1, 2, CPC_NEG_BATCH);
            p.cpc.k_weighting = kw;
            for (int i = 0; i < 6; i++) {
                p.c[i] = 1.0f;
                p.z[i] = i % 2 ? (float)-a : (float)a;
            }
            p.W[0] = 1.0f, p.W[1] = 0.0f;
            if (masked) p.starts[4] = p.starts[5] = 1;
            zero_grads(&p);
            CPCStats st;
            const float l = prob_fb(&p, 1.0f, &st);
            const double L1 = 0.5 * log(16.0 / 3.0);
            const double want = masked ? L1
                                : kw == CPC_KW_PER_K ? log(64.0 / 3.0) / 4 : log(32.0 / 3.0) / 3;
            if (!close_to(l, want, 1e-7, 1e-6))
                fail_msg("kw %d masked %d: loss %.8g, by hand %.8g", kw, masked, l, want);
            assert_true(close_to(prob_ref(&p, NULL), want, 1e-7, 1e-6)); // a rounded to float
            assert_true(close_to(st.loss_k[0], L1, 1e-7, 1e-6));
            if (!masked) assert_true(close_to(st.loss_k[1], log(2.0), 1e-7, 1e-6));
            assert_int_equal(st.count_k[1], masked ? 0 : 2);
            const double dw1 = masked ? a / 2 : kw == CPC_KW_PER_K ? 2 * a / 8 : 2 * a / 6;
            if (!close_to(p.dW[0], dw1, 1e-7, 1e-6))
                fail_msg("kw %d masked %d: dW_1 %.8g, by hand %.8g", kw, masked, p.dW[0], dw1);
            prob_free(&p);
        }
}

// Pooled is the default of cpc_init, and per-k equals pooled exactly when
// every k counts the same number of triples (K' count_k = count): K = 1.
static void test_per_k_default_and_k1(void **state) {
    (void)state;
    Prob p;
    prob_init(&p, 7, 4, 5, 6, 1, CPC_NEG_BATCH);
    assert_int_equal(p.cpc.k_weighting, CPC_KW_POOLED);
    prob_random(&p, 5, 1.0f, 1.0f, 0.6f, 0.1f);
    const size_t n = (size_t)7 * 4 * 6;
    float *dc0 = falloc(n);
    zero_grads(&p);
    const float l0 = prob_fb(&p, 0.3f, NULL);
    memcpy(dc0, p.dc, n * sizeof(float));
    p.cpc.k_weighting = CPC_KW_PER_K;
    zero_grads(&p);
    const float l1 = prob_fb(&p, 0.3f, NULL);
    assert_true(l0 == l1);
    assert_memory_equal(dc0, p.dc, n * sizeof(float));
    free(dc0);
    prob_free(&p);
}

static void test_init_rejects(void **state) {
    (void)state;
    CPC p;
    assert_int_equal(cpc_init(&p, 5, 4, 3, 3, 0, 0, 0), -1);
    assert_int_equal(cpc_init(&p, 5, 4, 3, 3, CPC_MAX_K + 1, 0, 0), -1);
    assert_int_equal(cpc_init(&p, 5, 4, 3, 3, 2, 2, 0), -1);
    assert_int_equal(cpc_init(&p, 0, 4, 3, 3, 2, 0, 0), -1);
    assert_int_equal(cpc_init(&p, 5, 4, 3, 3, 2, 1, 0), 0);
    assert_true(p.work_bytes == cpc_workspace_bytes(5, 4, 3, 3, 2, 1));
    cpc_free(&p);
    cpc_free(&p); // idempotent
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects),
        cmocka_unit_test(test_fast_vs_ref),
        cmocka_unit_test(test_threads_same_bits),
        cmocka_unit_test(test_grad_fd_batch),
        cmocka_unit_test(test_grad_fd_all),
        cmocka_unit_test(test_fixture_batch),
        cmocka_unit_test(test_fixture_all),
        cmocka_unit_test(test_nonnegative),
        cmocka_unit_test(test_uniform_is_log_n),
        cmocka_unit_test(test_dominant_positive),
        cmocka_unit_test(test_mask_removes_straddling),
        cmocka_unit_test(test_masked_context_is_inert),
        cmocka_unit_test(test_stop_target),
        cmocka_unit_test(test_weight_and_accumulate),
        cmocka_unit_test(test_count_zero),
        cmocka_unit_test(test_per_k_vs_ref_and_fd),
        cmocka_unit_test(test_per_k_by_hand),
        cmocka_unit_test(test_per_k_default_and_k1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
