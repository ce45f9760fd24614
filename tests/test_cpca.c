// test_cpca.c — action-conditioned CPC (cpc/cpca.c): fast loss vs the naive
// double reference, every gradient (w_in, b_in, the GRU's w_ih, w_hh, b_ih,
// b_hh, w_out, dc, dz) vs central finite differences of the reference, with
// episode starts inside the unroll and both negative modes, PyTorch fixtures
// (scripts/make_fixtures_cpca.py: torch's own GRU cell), and the contract
// shared with cpc.c (count 0 adds nothing, stop_target, weight scales and
// gradients accumulate, thread count does not change a bit).
//
// Tolerances (stated where checked):
//   fast vs reference loss:  |diff| <= 1e-6 + 1e-5 |L|; counts exact,
//                            accuracies exact (inputs keep clear margins)
//   gradients vs central FD: |diff| <= 2e-7 + 1e-5 |fd| (h = 1e-3 on the
//                            float value, FD in double; measured max |diff|
//                            3e-8, gradients up to 0.17; every tensor must
//                            have some |fd| > 1e-4 so none passes as all-zero)
//   PyTorch fixtures:        loss 1e-6 + 1e-5 rel; grads 1e-6 + 1e-5 rel
//                            (measured max |diff| 2.4e-7); counts and
//                            accuracies exact
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpc/cpca.h"
#include "base/rng.h"
#include "tests/fixture.h"

#include <cblas.h> // after the project headers (its complex.h defines I)

// ----------------------------------------------------------------------------
// a problem instance: inputs, parameters (one array), gradients, workspace

enum { NPARAM = 7 };
static const char *const PNAME[NPARAM] = {"w_in", "b_in", "w_ih", "w_hh", "b_ih", "b_hh", "w_out"};

typedef struct {
    int T, B, D, H, K, G, A, neg;
    float *c, *z, *dc, *dz;
    int *actions;
    uint8_t *starts;
    float *w, *dw;        // the seven tensors back to back
    size_t off[NPARAM + 1], nw;
    CPCAParams P;
    CPCAGrads Gr;
    CPCA head;
} Prob;

static float *falloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return p;
}

static void prob_init(Prob *p, int T, int B, int D, int H, int K, int G, int A, int neg) {
    memset(p, 0, sizeof *p);
    p->T = T, p->B = B, p->D = D, p->H = H, p->K = K, p->G = G, p->A = A, p->neg = neg;
    const size_t TB = (size_t)T * B;
    p->c = falloc(TB * H), p->z = falloc(TB * D), p->dc = falloc(TB * H), p->dz = falloc(TB * D);
    p->actions = calloc(TB, sizeof(int));
    p->starts = calloc(TB, 1);
    assert_non_null(p->actions);
    assert_non_null(p->starts);
    const size_t sz[NPARAM] = {(size_t)G * H, (size_t)G, (size_t)3 * G * A, (size_t)3 * G * G,
                               (size_t)3 * G, (size_t)3 * G, (size_t)D * G};
    p->off[0] = 0;
    for (int i = 0; i < NPARAM; i++) p->off[i + 1] = p->off[i] + sz[i];
    p->nw = p->off[NPARAM];
    assert_true(p->nw == cpca_param_count(D, H, G, A));
    p->w = falloc(p->nw), p->dw = falloc(p->nw);
    float *w = p->w, *dw = p->dw;
    p->P = (CPCAParams){w + p->off[0], w + p->off[1], w + p->off[2], w + p->off[3],
                        w + p->off[4], w + p->off[5], w + p->off[6]};
    p->Gr = (CPCAGrads){dw + p->off[0], dw + p->off[1], dw + p->off[2], dw + p->off[3],
                        dw + p->off[4], dw + p->off[5], dw + p->off[6]};
    assert_int_equal(cpca_init(&p->head, T, B, D, H, K, G, A, neg, 0), 0);
}

static void prob_free(Prob *p) {
    free(p->c), free(p->z), free(p->dc), free(p->dz);
    free(p->actions), free(p->starts), free(p->w), free(p->dw);
    cpca_free(&p->head);
}

static void fill(float *x, size_t n, float scale, uint64_t *rng) {
    for (size_t i = 0; i < n; i++) x[i] = scale * (2.0f * rng_float(rng) - 1.0f);
}

static void prob_random(Prob *p, uint64_t seed, float sw, float pstart) {
    uint64_t rng = seed;
    const size_t TB = (size_t)p->T * p->B;
    fill(p->c, TB * p->H, 1.0f, &rng);
    fill(p->z, TB * p->D, 1.0f, &rng);
    fill(p->w, p->nw, sw, &rng);
    for (size_t i = 0; i < TB; i++) {
        p->actions[i] = rng_int(&rng, p->A);
        p->starts[i] = rng_float(&rng) < pstart;
    }
}

static void zero_grads(Prob *p) {
    const size_t TB = (size_t)p->T * p->B;
    memset(p->dc, 0, TB * p->H * sizeof(float));
    memset(p->dz, 0, TB * p->D * sizeof(float));
    memset(p->dw, 0, p->nw * sizeof(float));
}

static float prob_fb(Prob *p, float weight, CPCStats *st) {
    return cpca_forward_backward(&p->head, p->dc, p->dz, &p->Gr, p->c, p->z, p->actions, &p->P,
                                 p->starts, weight, st);
}

static double prob_ref(const Prob *p, CPCStats *st) {
    return cpca_ref_loss(p->c, p->z, p->actions, &p->P, p->starts, p->T, p->B, p->D, p->H, p->K,
                         p->G, p->A, p->neg, st);
}

static int close_to(double got, double want, double atol, double rtol) {
    return fabs(got - want) <= atol + rtol * fabs(want);
}

static void check_stats(const CPCStats *got, const CPCStats *want, int K) {
    assert_int_equal(got->count, want->count);
    assert_int_equal(got->n_candidates, want->n_candidates);
    for (int k = 0; k < K; k++) {
        assert_int_equal(got->count_k[k], want->count_k[k]);
        if (got->acc[k] != want->acc[k])
            fail_msg("acc[%d]: fast %g ref %g", k, got->acc[k], want->acc[k]);
        if (!close_to(got->loss_k[k], want->loss_k[k], 1e-6, 1e-5))
            fail_msg("loss_k[%d]: fast %.8g ref %.8g", k, got->loss_k[k], want->loss_k[k]);
    }
}

// ----------------------------------------------------------------------------
// fast vs naive reference

static void check_vs_ref(int T, int B, int D, int H, int K, int G, int neg, float pstart,
                         uint64_t seed) {
    Prob p;
    prob_init(&p, T, B, D, H, K, G, 4, neg);
    prob_random(&p, seed, 0.6f, pstart);
    CPCStats sf, sr;
    float lf = prob_fb(&p, 1.0f, &sf);
    double lr = prob_ref(&p, &sr);
    if (!close_to(lf, lr, 1e-6, 1e-5))
        fail_msg("T%d B%d D%d H%d K%d G%d neg%d: fast %.8g ref %.8g", T, B, D, H, K, G, neg, lf,
                 lr);
    assert_true(lf == sf.loss);
    check_stats(&sf, &sr, K);
    // without gradients: the same numbers
    CPCStats so;
    float lo = cpca_forward_backward(&p.head, NULL, NULL, NULL, p.c, p.z, p.actions, &p.P,
                                     p.starts, 0.0f, &so);
    assert_true(lo == lf);
    check_stats(&so, &sf, K);
    prob_free(&p);
}

static void test_fast_vs_ref(void **state) {
    (void)state;
    for (int neg = 0; neg < 2; neg++) {
        check_vs_ref(6, 4, 5, 7, 3, 6, neg, 0.15f, 11);
        check_vs_ref(12, 8, 16, 12, 5, 9, neg, 0.1f, 12);
        check_vs_ref(5, 3, 4, 6, 7, 5, neg, 0.0f, 13);   // K >= T: large k never count
        check_vs_ref(9, 1, 3, 5, 4, 3, neg, 0.2f, 14);   // B = 1
        check_vs_ref(2, 5, 8, 3, 1, 4, neg, 0.0f, 15);   // shortest unroll with a target
        check_vs_ref(20, 6, 9, 10, 10, 8, neg, 0.05f, 16);
    }
}

// ----------------------------------------------------------------------------
// gradients vs central finite differences of the double reference

static size_t fd_check(Prob *p, float *x, const float *g, size_t n, const char *what) {
    const float h = 1e-3f;
    size_t bad = 0;
    double worst = 0.0, gmax = 0.0;
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
        if (fabs(fd) > gmax) gmax = fabs(fd);
        if (!(err <= 2e-7 + 1e-5 * fabs(fd))) {
            if (bad < 5) fprintf(stderr, "  %s[%zu]: analytic %.8g fd %.8g\n", what, i, g[i], fd);
            bad++;
        }
    }
    // a gradient that is all ~0 would pass trivially: each tensor must get some
    if (!(gmax > 1e-4)) {
        fprintf(stderr, "  %s: largest |fd| %.3g: the test does not reach it\n", what, gmax);
        bad++;
    }
    if (bad) fprintf(stderr, "  %s: %zu of %zu differ, max |diff| %.3g\n", what, bad, n, worst);
    return bad;
}

static void check_fd(int neg) {
    Prob p;
    const int T = 6, B = 4;
    prob_init(&p, T, B, 5, 7, 3, 6, 4, neg);
    prob_random(&p, 100 + neg, 0.7f, 0.0f);
    p.starts[2 * B + 1] = 1; // starts inside the unroll
    p.starts[4 * B + 2] = 1;
    p.starts[3 * B + 3] = 1;
    zero_grads(&p);
    CPCStats st;
    prob_fb(&p, 1.0f, &st);
    assert_true(st.count > 0 && st.count < (5 + 4 + 3) * B);
    const size_t TB = (size_t)T * B;
    size_t bad = 0;
    for (int i = 0; i < NPARAM; i++)
        bad += fd_check(&p, p.w + p.off[i], p.dw + p.off[i], p.off[i + 1] - p.off[i], PNAME[i]);
    bad += fd_check(&p, p.c, p.dc, TB * 7, "dc");
    bad += fd_check(&p, p.z, p.dz, TB * 5, "dz");
    assert_int_equal(bad, 0);
    // the contexts of the last step predict nothing: their dc is exactly 0
    for (size_t i = (TB - B) * 7; i < TB * 7; i++) assert_true(p.dc[i] == 0.0f);
    prob_free(&p);
}

static void test_grad_fd_batch(void **state) { (void)state; check_fd(CPC_NEG_BATCH); }
static void test_grad_fd_all(void **state) { (void)state; check_fd(CPC_NEG_ALL); }

// ----------------------------------------------------------------------------
// PyTorch fixtures (scripts/make_fixtures_cpca.py)

static void check_fixture(const char *path, int neg) {
    Fixture f;
    if (fix_load(&f, path) != 0) fail_msg("%s", f.err);
    const float *cfg = fix_data(&f, "config", 8);
    if (!cfg) fail_msg("%s: %s", path, f.err);
    const int T = (int)cfg[0], B = (int)cfg[1], D = (int)cfg[2], H = (int)cfg[3], K = (int)cfg[4];
    const int G = (int)cfg[5], A = (int)cfg[6];
    assert_int_equal((int)cfg[7], neg);
    const size_t TB = (size_t)T * B;
    Prob p;
    prob_init(&p, T, B, D, H, K, G, A, neg);
    const float *c = fix_data(&f, "c", TB * H), *z = fix_data(&f, "z", TB * D),
                *act = fix_data(&f, "actions", TB), *st = fix_data(&f, "starts", TB),
                *loss = fix_data(&f, "loss", 1), *acc = fix_data(&f, "acc", K),
                *loss_k = fix_data(&f, "loss_k", K), *count_k = fix_data(&f, "count_k", K),
                *dc = fix_data(&f, "dc", TB * H), *dz = fix_data(&f, "dz", TB * D);
    if (!c || !z || !act || !st || !loss || !acc || !loss_k || !count_k || !dc || !dz)
        fail_msg("%s: %s", path, f.err);
    memcpy(p.c, c, TB * H * sizeof(float));
    memcpy(p.z, z, TB * D * sizeof(float));
    int inside = 0;
    for (size_t i = 0; i < TB; i++) {
        p.actions[i] = (int)act[i];
        assert_true(p.actions[i] >= 0 && p.actions[i] < A);
        p.starts[i] = st[i] != 0.0f;
        inside += p.starts[i] && i >= (size_t)B;
    }
    assert_true(inside > 0); // the fixture must exercise the mask
    for (int i = 0; i < NPARAM; i++) {
        const size_t n = p.off[i + 1] - p.off[i];
        const float *x = fix_data(&f, PNAME[i], n);
        if (!x) fail_msg("%s: %s", path, f.err);
        memcpy(p.w + p.off[i], x, n * sizeof(float));
    }
    zero_grads(&p);
    CPCStats s;
    float l = prob_fb(&p, 1.0f, &s);
    if (!close_to(l, loss[0], 1e-6, 1e-5)) fail_msg("%s: loss %.8g torch %.8g", path, l, loss[0]);
    for (int k = 0; k < K; k++) {
        assert_int_equal(s.count_k[k], (int)count_k[k]);
        if (s.acc[k] != acc[k]) fail_msg("%s: acc[%d] %g torch %g", path, k, s.acc[k], acc[k]);
        if (!close_to(s.loss_k[k], loss_k[k], 1e-6, 1e-5))
            fail_msg("%s: loss_k[%d] %.8g torch %.8g", path, k, s.loss_k[k], loss_k[k]);
    }
    assert_true(close_to(prob_ref(&p, NULL), loss[0], 1e-6, 1e-5)); // the reference agrees too
    size_t bad = fix_compare("dc", p.dc, dc, TB * H, 1e-6, 1e-5);
    bad += fix_compare("dz", p.dz, dz, TB * D, 1e-6, 1e-5);
    for (int i = 0; i < NPARAM; i++) {
        char name[16];
        snprintf(name, sizeof name, "d%s", PNAME[i]);
        const size_t n = p.off[i + 1] - p.off[i];
        const float *want = fix_data(&f, name, n);
        if (!want) fail_msg("%s: %s", path, f.err);
        bad += fix_compare(name, p.dw + p.off[i], want, n, 1e-6, 1e-5);
    }
    assert_int_equal(bad, 0);
    prob_free(&p);
    fix_free(&f);
}

static void test_fixture_batch(void **state) {
    (void)state;
    check_fixture("tests/fixtures/cpca_batch.bin", CPC_NEG_BATCH);
}

static void test_fixture_all(void **state) {
    (void)state;
    check_fixture("tests/fixtures/cpca_all.bin", CPC_NEG_ALL);
}

// ----------------------------------------------------------------------------
// the contract shared with cpc.c

// Same bits with 1 and 2 OpenBLAS / worker threads.
static void run_threads(int threads, int neg, float *loss, CPCStats *st, float **g, size_t *n) {
    openblas_set_num_threads(threads);
    Prob p;
    prob_init(&p, 14, 8, 16, 12, 5, 10, 4, neg);
    prob_random(&p, 77, 0.6f, 0.08f);
    zero_grads(&p);
    *loss = prob_fb(&p, 0.7f, st);
    const size_t TB = 14 * 8;
    n[0] = TB * 12, n[1] = TB * 16, n[2] = p.nw;
    const float *src[3] = {p.dc, p.dz, p.dw};
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

// Gradients are added (+=) and scale with the weight; stop_target leaves dz.
static void test_weight_accumulate_stop(void **state) {
    (void)state;
    for (int neg = 0; neg < 2; neg++) {
        Prob p;
        prob_init(&p, 8, 5, 6, 7, 3, 5, 4, neg);
        prob_random(&p, 31, 0.6f, 0.1f);
        const size_t TB = 8 * 5, nc = TB * 7, nz = TB * 6;
        zero_grads(&p);
        float l1 = prob_fb(&p, 1.0f, NULL);
        float *c1 = falloc(nc), *z1 = falloc(nz), *w1 = falloc(p.nw);
        memcpy(c1, p.dc, nc * sizeof(float));
        memcpy(z1, p.dz, nz * sizeof(float));
        memcpy(w1, p.dw, p.nw * sizeof(float));
        // weight 2 on top of the first: 3x the first
        float l2 = prob_fb(&p, 2.0f, NULL);
        assert_true(l1 == l2); // the loss is unweighted
        size_t bad = 0;
        for (size_t i = 0; i < nc; i++) bad += !close_to(p.dc[i], 3.0 * c1[i], 1e-7, 1e-5);
        for (size_t i = 0; i < nz; i++) bad += !close_to(p.dz[i], 3.0 * z1[i], 1e-7, 1e-5);
        for (size_t i = 0; i < p.nw; i++) bad += !close_to(p.dw[i], 3.0 * w1[i], 1e-7, 1e-5);
        assert_int_equal(bad, 0);
        // stop_target: dz untouched, the rest as before
        CPCA st;
        assert_int_equal(cpca_init(&st, 8, 5, 6, 7, 3, 5, 4, neg, 1), 0);
        zero_grads(&p);
        for (size_t i = 0; i < nz; i++) p.dz[i] = 0.5f;
        float l3 = cpca_forward_backward(&st, p.dc, p.dz, &p.Gr, p.c, p.z, p.actions, &p.P,
                                         p.starts, 1.0f, NULL);
        assert_true(l3 == l1);
        for (size_t i = 0; i < nz; i++) assert_true(p.dz[i] == 0.5f);
        for (size_t i = 0; i < nc; i++) assert_true(p.dc[i] == c1[i]);
        for (size_t i = 0; i < p.nw; i++) assert_true(p.dw[i] == w1[i]);
        cpca_free(&st);
        free(c1), free(z1), free(w1);
        prob_free(&p);
    }
}

// No triple counts (a start at every step, or T = 1): loss 0, nothing added.
static void test_count_zero(void **state) {
    (void)state;
    for (int neg = 0; neg < 2; neg++)
        for (int T = 1; T <= 5; T += 4) {
            Prob p;
            prob_init(&p, T, 3, 4, 5, 2, 3, 4, neg);
            prob_random(&p, 5, 0.5f, 0.0f);
            for (int i = 0; i < T * 3; i++) p.starts[i] = 1;
            const size_t nc = (size_t)T * 3 * 5, nz = (size_t)T * 3 * 4;
            for (size_t i = 0; i < nc; i++) p.dc[i] = 1.5f;
            for (size_t i = 0; i < nz; i++) p.dz[i] = -2.5f;
            for (size_t i = 0; i < p.nw; i++) p.dw[i] = 0.25f;
            CPCStats s;
            s.count = 99;
            assert_true(prob_fb(&p, 1.0f, &s) == 0.0f);
            assert_int_equal(s.count, 0);
            for (size_t i = 0; i < nc; i++) assert_true(p.dc[i] == 1.5f);
            for (size_t i = 0; i < nz; i++) assert_true(p.dz[i] == -2.5f);
            for (size_t i = 0; i < p.nw; i++) assert_true(p.dw[i] == 0.25f);
            assert_true(prob_ref(&p, NULL) == 0.0);
            prob_free(&p);
        }
}

// The action matters: changing one action changes the predictions of the
// contexts that roll over it, and only theirs.
static void test_actions_condition(void **state) {
    (void)state;
    Prob p;
    const int T = 6, B = 3;
    prob_init(&p, T, B, 4, 5, 3, 4, 4, CPC_NEG_BATCH);
    prob_random(&p, 9, 0.8f, 0.0f);
    CPCStats s1, s2;
    prob_fb(&p, 1.0f, &s1);
    p.actions[4 * B + 1] = (p.actions[4 * B + 1] + 1) % 4; // a_4 of env 1
    prob_fb(&p, 1.0f, &s2);
    // k = 1 targets z_5 from t = 4: changed; the loss of steps that cannot
    // reach a_4 (t + k <= 4) is unchanged, so some k differ, not all terms
    assert_true(s1.loss != s2.loss);
    double r1 = prob_ref(&p, NULL);
    assert_true(close_to(s2.loss, r1, 1e-6, 1e-5));
    prob_free(&p);
}

static void test_init_rejects(void **state) {
    (void)state;
    CPCA p;
    assert_int_equal(cpca_init(&p, 5, 4, 3, 3, 0, 4, 4, 0, 0), -1);
    assert_int_equal(cpca_init(&p, 5, 4, 3, 3, CPC_MAX_K + 1, 4, 4, 0, 0), -1);
    assert_int_equal(cpca_init(&p, 5, 4, 3, 3, 2, 0, 4, 0, 0), -1);
    assert_int_equal(cpca_init(&p, 5, 4, 3, 3, 2, 4, 0, 0, 0), -1);
    assert_int_equal(cpca_init(&p, 5, 4, 3, 3, 2, 4, 4, 2, 0), -1);
    assert_int_equal(cpca_init(&p, 5, 4, 3, 3, 2, 4, 4, 1, 0), 0);
    assert_true(p.work_bytes == cpca_workspace_bytes(5, 4, 3, 3, 2, 4, 4, 1));
    cpca_free(&p);
    cpca_free(&p); // idempotent
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects),
        cmocka_unit_test(test_fast_vs_ref),
        cmocka_unit_test(test_grad_fd_batch),
        cmocka_unit_test(test_grad_fd_all),
        cmocka_unit_test(test_fixture_batch),
        cmocka_unit_test(test_fixture_all),
        cmocka_unit_test(test_threads_same_bits),
        cmocka_unit_test(test_weight_accumulate_stop),
        cmocka_unit_test(test_count_zero),
        cmocka_unit_test(test_actions_condition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
