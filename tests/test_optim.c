// test_optim.c — tests of nn/optim.[ch] (RMSProp and Adam over a flat slab).
//
// Reference values come from torch.optim.RMSprop / torch.optim.Adam, 3 steps
// on a 6-element tensor with given gradients (tests/fixtures/rmsprop.bin,
// adam.bin, written by scripts/make_fixtures.py in float64; file format in
// tests/fixture.h). Tolerance: |c - torch| <= 1e-6 + 1e-5 |torch| on the
// parameters after every step and on the final optimizer state.
// Update clipping (opt_step_clipped) is checked against a plain double
// reference written here (per tensor: state, RMS of the normalized step,
// step scaled by 1 / max(1, RMS / d)), 1e-6 relative; with a d no step
// reaches it equals opt_step (RMSProp bit for bit); after 400 quiet steps
// a 100x gradient makes an unclipped RMSProp step ~10x the usual, the
// clipped one the usual size.
// Run from the repo root (fixture paths).

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/optim.h"
#include "base/rng.h"
#include "tests/fixture.h"

#define OPT_ATOL 1e-6
#define OPT_RTOL 1e-5

static Fixture g_fix;
static Optim g_opt, g_opt2;

static int teardown(void **state) {
    fix_free(&g_fix);
    opt_free(&g_opt);
    opt_free(&g_opt2);
    return 0;
}

#define EXPECT_CLOSE(what, got, want, n, atol, rtol) \
    assert_int_equal(fix_compare((what), (got), (want), (n), (atol), (rtol)), 0)

static const float *need(Fixture *f, const char *name, size_t n) {
    const float *p = fix_data(f, name, n);
    if (!p) fail_msg("%s", f->err);
    return p;
}

// Runs the fixture's steps with our optimizer, comparing the parameters after
// each step; returns the parameter count.
static size_t run_fixture(const char *file, int kind) {
    if (fix_load(&g_fix, file) != 0) fail_msg("%s", g_fix.err);
    const FixTensor *tp = fix_get(&g_fix, "p0"), *tg = fix_get(&g_fix, "grads");
    if (!tp || !tg) fail_msg("%s", g_fix.err);
    size_t n = tp->size;
    int steps = tg->dims[0];
    assert_int_equal(tg->size, (size_t)steps * n);
    const float *hyper = need(&g_fix, "hyper", kind == OPT_ADAM ? 4 : 3);
    const float *want = need(&g_fix, "params", (size_t)steps * n);
    float lr = hyper[0], eps = hyper[kind == OPT_ADAM ? 3 : 2];
    assert_int_equal(opt_init(&g_opt, kind, n, lr, eps), 0);
    if (kind == OPT_ADAM) {
        g_opt.beta1 = hyper[1];
        g_opt.beta2 = hyper[2];
    } else {
        g_opt.alpha = hyper[1];
    }
    float p[64];
    assert_true(n <= 64);
    memcpy(p, tp->data, n * sizeof(float));
    for (int s = 0; s < steps; s++) {
        opt_step(&g_opt, p, tg->data + (size_t)s * n, g_opt.lr);
        char what[32];
        snprintf(what, sizeof what, "params after step %d", s + 1);
        EXPECT_CLOSE(what, p, want + (size_t)s * n, n, OPT_ATOL, OPT_RTOL);
    }
    assert_int_equal(g_opt.step, steps);
    return n;
}

static void test_rmsprop_fixture(void **state) {
    size_t n = run_fixture("tests/fixtures/rmsprop.bin", OPT_RMSPROP);
    EXPECT_CLOSE("square_avg", g_opt.v, need(&g_fix, "square_avg", n), n, OPT_ATOL, OPT_RTOL);
}

static void test_adam_fixture(void **state) {
    size_t n = run_fixture("tests/fixtures/adam.bin", OPT_ADAM);
    EXPECT_CLOSE("exp_avg", g_opt.m, need(&g_fix, "exp_avg", n), n, OPT_ATOL, OPT_RTOL);
    EXPECT_CLOSE("exp_avg_sq", g_opt.v, need(&g_fix, "exp_avg_sq", n), n, OPT_ATOL, OPT_RTOL);
}

// Closed forms of the first step, independent of the fixtures:
// RMSProp: v = (1-alpha) g^2, so p -= lr g / (sqrt(1-alpha) |g| + eps);
// Adam: the bias corrections cancel, so p -= lr g / (|g| + eps) ~ lr sign(g).
static void test_first_step(void **state) {
    const float g[4] = {0.5f, -2.0f, 1e-3f, 0.0f};
    float p[4] = {0, 0, 0, 0};
    assert_int_equal(opt_init(&g_opt, OPT_RMSPROP, 4, 0.01f, 1e-5f), 0);
    opt_step(&g_opt, p, g, 0.01f);
    for (int i = 0; i < 4; i++) {
        double want = -0.01 * g[i] / (sqrt(0.01) * fabs(g[i]) + 1e-5);
        assert_float_equal(p[i], want, 1e-6);
    }
    assert_int_equal(opt_init(&g_opt2, OPT_ADAM, 4, 0.1f, 1e-8f), 0);
    memset(p, 0, sizeof p);
    opt_step(&g_opt2, p, g, 0.1f);
    for (int i = 0; i < 4; i++) {
        double want = -0.1 * g[i] / (fabs(g[i]) + 1e-8);
        assert_float_equal(p[i], want, 1e-6);
    }
}

static void test_defaults_and_slab(void **state) {
    assert_int_equal(opt_init(&g_opt, OPT_RMSPROP, 10, 7e-4f, 1e-5f), 0);
    assert_float_equal(g_opt.alpha, 0.99f, 0);
    assert_float_equal(g_opt.lr, 7e-4f, 0);
    assert_float_equal(g_opt.eps, 1e-5f, 0);
    assert_int_equal(g_opt.nstate, 10);
    assert_null(g_opt.m);
    assert_ptr_equal(g_opt.v, g_opt.state);
    assert_int_equal(g_opt.step, 0);
    for (size_t i = 0; i < g_opt.nstate; i++) assert_true(g_opt.state[i] == 0.0f);
    assert_int_equal(opt_init(&g_opt2, OPT_ADAM, 10, 1e-3f, 1e-8f), 0);
    assert_float_equal(g_opt2.beta1, 0.9f, 0);
    assert_float_equal(g_opt2.beta2, 0.999f, 0);
    assert_int_equal(g_opt2.nstate, 20);
    assert_ptr_equal(g_opt2.m, g_opt2.state);
    assert_ptr_equal(g_opt2.v, g_opt2.state + 10);
    opt_free(&g_opt2);
    assert_null(g_opt2.state);
    opt_free(&g_opt2); // twice is harmless
    // an unknown kind is refused and leaves nothing to free
    assert_int_equal(opt_init(&g_opt2, 7, 10, 1e-3f, 1e-8f), -1);
    assert_null(g_opt2.state);
    assert_int_equal(opt_kind_from_name("rmsprop"), OPT_RMSPROP);
    assert_int_equal(opt_kind_from_name("Adam"), OPT_ADAM);
    assert_int_equal(opt_kind_from_name("sgd"), -1);
    assert_string_equal(opt_kind_name(OPT_ADAM), "adam");
    assert_string_equal(opt_kind_name(OPT_RMSPROP), "rmsprop");
}

// Saving (state slab + step) and restoring into a fresh optimizer continues
// exactly as if never interrupted — what a checkpoint relies on.
static void test_state_roundtrip(void **state) {
    for (int kind = 0; kind < 2; kind++) {
        enum { N = 32 };
        uint64_t rng = 5;
        float p1[N], p2[N], g[N], saved[2 * N];
        for (int i = 0; i < N; i++) p1[i] = rng_float(&rng) - 0.5f;
        assert_int_equal(opt_init(&g_opt, kind, N, 0.01f, 1e-5f), 0);
        for (int s = 0; s < 5; s++) {
            for (int i = 0; i < N; i++) g[i] = rng_float(&rng) - 0.5f;
            opt_step(&g_opt, p1, g, 0.01f);
        }
        memcpy(saved, g_opt.state, g_opt.nstate * sizeof(float));
        memcpy(p2, p1, sizeof p1);
        assert_int_equal(opt_init(&g_opt2, kind, N, 0.01f, 1e-5f), 0);
        memcpy(g_opt2.state, saved, g_opt2.nstate * sizeof(float));
        g_opt2.step = g_opt.step;
        for (int s = 0; s < 5; s++) {
            for (int i = 0; i < N; i++) g[i] = rng_float(&rng) - 0.5f;
            opt_step(&g_opt, p1, g, 0.01f);
            opt_step(&g_opt2, p2, g, 0.01f);
        }
        assert_memory_equal(p1, p2, sizeof p1);
        // reset = a fresh optimizer
        opt_reset(&g_opt);
        assert_int_equal(g_opt.step, 0);
        for (size_t i = 0; i < g_opt.nstate; i++) assert_true(g_opt.state[i] == 0.0f);
        opt_free(&g_opt);
        opt_free(&g_opt2);
    }
}

// The lr argument is the one used (schedules); lr = 0 leaves parameters alone.
static void test_lr_argument(void **state) {
    const float g[3] = {1.0f, -1.0f, 0.5f};
    float p[3] = {1.0f, 2.0f, 3.0f};
    assert_int_equal(opt_init(&g_opt, OPT_ADAM, 3, 0.5f, 1e-8f), 0);
    opt_step(&g_opt, p, g, 0.0f);
    assert_float_equal(p[0], 1.0f, 0);
    assert_float_equal(p[1], 2.0f, 0);
    assert_float_equal(p[2], 3.0f, 0);
    assert_int_equal(g_opt.step, 1);
}

// Both optimizers bring a quadratic bowl to its minimum.
static void test_converges(void **state) {
    for (int kind = 0; kind < 2; kind++) {
        enum { N = 8 };
        float p[N], g[N], target[N];
        for (int i = 0; i < N; i++) {
            p[i] = 0.0f;
            target[i] = (float)(i - 3) * 0.7f;
        }
        assert_int_equal(opt_init(&g_opt, kind, N, 0.02f, 1e-8f), 0);
        for (int s = 0; s < 2000; s++) {
            for (int i = 0; i < N; i++) g[i] = 2.0f * (p[i] - target[i]) * (1.0f + i);
            opt_step(&g_opt, p, g, s < 1500 ? 0.02f : 0.002f);
        }
        for (int i = 0; i < N; i++)
            if (fabsf(p[i] - target[i]) > 0.02f)
                fail_msg("%s: p[%d] = %g, minimum at %g", opt_kind_name(kind), i, p[i], target[i]);
        opt_free(&g_opt);
    }
}

// ----------------------------------------------------------------------------
// update clipping

typedef struct { double *p, *m, *v; long step; } RefOpt;

static void ref_step(RefOpt *r, int kind, const float *g, size_t n, double lr, double d, double eps,
                     const size_t *off, const size_t *sz, int nt) {
    r->step++;
    const double a = 0.99, b1 = 0.9, b2 = 0.999;
    const double bc1 = 1 - pow(b1, (double)r->step), bc2 = 1 - pow(b2, (double)r->step);
    double *u = malloc(n * sizeof(double));
    assert_non_null(u);
    for (size_t i = 0; i < n; i++) {
        if (kind == OPT_RMSPROP) {
            r->v[i] = a * r->v[i] + (1 - a) * (double)g[i] * g[i];
            u[i] = g[i] / (sqrt(r->v[i]) + eps);
        } else {
            r->m[i] = b1 * r->m[i] + (1 - b1) * g[i];
            r->v[i] = b2 * r->v[i] + (1 - b2) * (double)g[i] * g[i];
            u[i] = (r->m[i] / bc1) / (sqrt(r->v[i] / bc2) + eps);
        }
    }
    for (int t = 0; t < nt; t++) {
        double s2 = 0;
        for (size_t i = off[t]; i < off[t] + sz[t]; i++) s2 += u[i] * u[i];
        const double rms = sqrt(s2 / (double)sz[t]), f = rms > d ? d / rms : 1.0;
        for (size_t i = off[t]; i < off[t] + sz[t]; i++) r->p[i] -= lr * f * u[i];
    }
    free(u);
}

static void check_clipped(int kind) {
    enum { N = 40 };
    const size_t off[3] = {0, 7, 25}, sz[3] = {7, 18, 15};
    float p[N], g[N];
    double rp[N], rm[N] = {0}, rv[N] = {0};
    RefOpt r = {rp, rm, rv, 0};
    uint64_t rng = 99;
    for (int i = 0; i < N; i++) p[i] = rng_float(&rng) - 0.5f, rp[i] = p[i];
    assert_int_equal(opt_init(&g_opt, kind, N, 0.01f, 1e-5f), 0);
    for (int s = 0; s < 60; s++) {
        // tensor 1's gradient jumps 100x at step 40
        for (int i = 0; i < N; i++) g[i] = (rng_float(&rng) - 0.5f) * 1e-3f * (s == 40 && i >= 7 && i < 25 ? 100.0f : 1.0f);
        opt_step_clipped(&g_opt, p, g, 0.01f, 1.0f, off, sz, 3);
        ref_step(&r, kind, g, N, 0.01, 1.0, 1e-5, off, sz, 3);
        for (int i = 0; i < N; i++)
            if (!(fabs(p[i] - rp[i]) <= 1e-6 + 1e-6 * fabs(rp[i])))
                fail_msg("%s step %d [%d]: %.9g vs reference %.9g", kind ? "adam" : "rmsprop", s, i, p[i], rp[i]);
    }
    opt_free(&g_opt);
}

static void test_update_clip_reference(void **state) {
    (void)state;
    check_clipped(OPT_RMSPROP);
    check_clipped(OPT_ADAM);
}

static void test_update_clip_spike(void **state) {
    (void)state;
    enum { N = 64 };
    const size_t off[1] = {0}, sz[1] = {N};
    float p0[N], p1[N], g[N];
    assert_int_equal(opt_init(&g_opt, OPT_RMSPROP, N, 0.001f, 1e-5f), 0);
    assert_int_equal(opt_init(&g_opt2, OPT_RMSPROP, N, 0.001f, 1e-5f), 0);
    memset(p0, 0, sizeof p0), memset(p1, 0, sizeof p1);
    uint64_t rng = 5;
    double quiet = 0;
    for (int s = 0; s <= 400; s++) {
        const float scale = s == 400 ? 1e-1f : 1e-3f;
        for (int i = 0; i < N; i++) g[i] = (rng_float(&rng) < 0.5f ? -1.0f : 1.0f) * scale;
        float b0[N], b1[N];
        memcpy(b0, p0, sizeof b0), memcpy(b1, p1, sizeof b1);
        opt_step(&g_opt, p0, g, 0.001f);                       // unclipped
        opt_step_clipped(&g_opt2, p1, g, 0.001f, 1.0f, off, sz, 1); // clipped at 1
        double d0 = 0, d1 = 0;
        for (int i = 0; i < N; i++) d0 += (p0[i] - b0[i]) * (p0[i] - b0[i]), d1 += (p1[i] - b1[i]) * (p1[i] - b1[i]);
        d0 = sqrt(d0 / N), d1 = sqrt(d1 / N);
        if (s == 399) quiet = d0;
        if (s == 400) {
            // v ~ 1e-6 then: u = 0.1 / sqrt(0.99e-6 + 0.01 * 0.01) ~ 9.95
            assert_true(d0 > 9.0 * quiet);
            assert_true(fabs(d1 - 0.001) < 1e-6); // the usual size: lr x RMS 1
        }
    }
    assert_true(quiet > 0.9e-3 && quiet < 1.1e-3); // RMS(u) ~ 1 in the quiet stretch
    // no clip reached: the same as opt_step, bit for bit (RMSProp)
    float q0[N], q1[N];
    memset(q0, 0, sizeof q0), memset(q1, 0, sizeof q1);
    opt_reset(&g_opt), opt_reset(&g_opt2);
    for (int s = 0; s < 20; s++) {
        for (int i = 0; i < N; i++) g[i] = rng_float(&rng) - 0.5f;
        opt_step(&g_opt, q0, g, 0.01f);
        opt_step_clipped(&g_opt2, q1, g, 0.01f, 1e9f, off, sz, 1);
    }
    assert_memory_equal(q0, q1, sizeof q0);
    assert_memory_equal(g_opt.v, g_opt2.v, N * sizeof(float));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_rmsprop_fixture, teardown),
        cmocka_unit_test_teardown(test_adam_fixture, teardown),
        cmocka_unit_test_teardown(test_first_step, teardown),
        cmocka_unit_test_teardown(test_defaults_and_slab, teardown),
        cmocka_unit_test_teardown(test_state_roundtrip, teardown),
        cmocka_unit_test_teardown(test_lr_argument, teardown),
        cmocka_unit_test_teardown(test_converges, teardown),
        cmocka_unit_test_teardown(test_update_clip_reference, teardown),
        cmocka_unit_test_teardown(test_update_clip_spike, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
