// test_trainer.c — the trainer's update wiring (agent/trainer.c trainer_init +
// trainer_update: Config -> Optim hyper-parameters, global gradient-norm
// clipping, optimizer step) against a reference computed here in double.
//
// A Trainer with a tiny network (A2C + CPC) steps a scripted env through the
// Trainer's env hook; for each of three updates the test takes the analytic
// gradient g of the stored unroll (trainer_loss + model_backward: the gradient
// itself is checked by test_a2c), then calls trainer_update, and compares
// every parameter with
//
//   norm  = ||g||_2 over the whole slab          (must exceed max_grad_norm)
//   gc    = g * max_norm / (norm + 1e-6)          (torch clip_grad_norm_)
//   RMSProp (torch.optim.RMSprop, eps after the square root):
//     v  = alpha v + (1 - alpha) gc^2,   p -= lr gc / (sqrt(v) + eps)
//   Adam (torch.optim.Adam), step t = 1, 2, 3:
//     m  = b1 m + (1 - b1) gc,  v = b2 v + (1 - b2) gc^2
//     p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//
// with the optimizer state (v, m) carried in double by the test, from zero.
// Hyper-parameters are all non-default: alpha 0.9, betas 0.8 / 0.95,
// max_grad_norm 1e-3 (clipping is active on every update: the norm is 0.2-0.5),
// eps 1e-5 (comparable to the clipped entries, so the clip scale shows in the
// step, not only in its sign).
//
// Tolerance per entry: |p - p_ref| <= STEP_RTOL * s + P_ULPS * 2^-23 |p_ref|,
// where s is the step's magnitude (|m| replaced by the running mean of |gc|
// for Adam, so that a first moment that cancels to ~0 keeps a sane bound).
// Measured: the float32 rounding of the parameter itself dominates (worst
// entry at ~0.23 of its tolerance, the same with STEP_RTOL 1e-6); each wiring
// bug below moves most entries by tens of percent of s or more. The test also
// checks its own power: references built with those bugs (decay 1 - alpha, no
// clipping, betas swapped, default betas) must each be rejected on at least
// POWER_MIN of the entries (measured 64-69%), so a configuration change that
// made the test blind fails it.
//
// Mutations tried, each failing this test (~60% of the entries off, update 1
// for RMSProp / clipping, update 2 for the betas, which cancel at step 1):
// trainer_init passing alpha as 1 - alpha; trainer_update clipping with
// max_norm 0 (never clips); beta1/beta2 swapped; betas left at torch's
// defaults; and in optim.c eps inside the square root, Adam without 1 - b1^t.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/trainer.h"
#include "nn/blas.h"
#include "agent/config.h"
#include "base/rng.h"

#define STEP_RTOL 1e-5  // of the step's magnitude (float32 vs double: < 1e-6)
#define P_ULPS 2.0      // float32 rounding of the updated parameter
#define NORM_RTOL 1e-5  // reported grad norm vs the double norm
#define POWER_MIN 0.10  // fraction of entries a wrong reference must miss
#define UPDATES 3

enum { TT = 4, TB = 3, TV = 5 }; // unroll, envs, view

// ----------------------------------------------------------------------------
// Per-test state, released by the teardown even when a test fails.

static Trainer g_tr;
static int g_live;
static void *g_buf[24];

static void *talloc(size_t bytes) {
    for (int i = 0; i < 24; i++)
        if (!g_buf[i]) {
            g_buf[i] = calloc(bytes ? bytes : 1, 1);
            assert_non_null(g_buf[i]);
            return g_buf[i];
        }
    fail_msg("talloc: too many buffers");
    return NULL;
}

static int teardown(void **state) {
    (void)state;
    if (g_live) trainer_free(&g_tr);
    g_live = 0;
    for (int i = 0; i < 24; i++) {
        free(g_buf[i]);
        g_buf[i] = NULL;
    }
    return 0;
}

// ----------------------------------------------------------------------------
// The scripted env: random one-hot observations, rewards that depend on the
// env, the step and the action, an episode end now and then.

typedef struct {
    int B, S;
    long n;
    uint64_t rng;
} Script;

static Script g_script;

static void script_observe(Script *s, uint8_t *obs) {
    const int VV = s->S / ENV_C;
    memset(obs, 0, (size_t)s->B * s->S);
    for (int b = 0; b < s->B; b++)
        for (int i = 0; i < VV; i++) obs[(size_t)b * s->S + rng_int(&s->rng, ENV_C) * VV + i] = 1;
}

static void script_step(void *ctx, const int *actions, uint8_t *obs, float *rewards,
                        uint8_t *terminated, uint8_t *truncated, uint8_t *final_obs) {
    Script *s = ctx;
    const long n = s->n++;
    for (int b = 0; b < s->B; b++) {
        rewards[b] = 0.4f * (float)(b + 1) * ((n + b) % 3 ? 1.0f : -1.0f) + 0.1f * (float)actions[b];
        terminated[b] = (n + 2 * b) % 5 == 4;
        truncated[b] = b == 2 && n % 7 == 6;
    }
    script_observe(s, obs);
}

static void trainer_up(int optim) {
    Config c;
    config_defaults(&c);
    c.task = ENV_TASK_GOAL;
    c.size = 7;
    c.view = TV;
    c.envs = TB;
    c.unroll = TT;
    c.conv1 = 2, c.conv2 = 3, c.latent = 8, c.hidden = 6;
    c.cpc_k = 2;
    c.cpc_weight = 0.5f;
    c.cpc_trunk_ratio = 0; // the reference steps with the loss's gradient (the control: test_cpcbal)
    c.seed = 3;
    c.threads = 1;
    c.optim = optim;
    c.lr = 0.01f;
    c.eps = 1e-5f;
    c.alpha = 0.9f;
    c.beta1 = 0.8f, c.beta2 = 0.95f;
    c.max_grad_norm = 1e-3f;
    c.lr_decay = 0;
    char err[256];
    if (config_check(&c, err, sizeof err) != 0) fail_msg("config_check: %s", err);
    if (trainer_init(&g_tr, &c, err, sizeof err) != 0) fail_msg("trainer_init: %s", err);
    g_live = 1;
    memset(&g_script, 0, sizeof g_script);
    g_script.B = TB, g_script.S = g_tr.obs_size;
    g_script.rng = 0x7E57;
    g_tr.env_step = script_step;
    g_tr.env_ctx = &g_script;
    script_observe(&g_script, g_tr.obs);
}

// ----------------------------------------------------------------------------
// The reference optimizer, in double

// What the reference is told the trainer does: the right hyper-parameters, or
// one of the wiring bugs (for the power check).
typedef struct {
    const char *name;
    int clip;             // apply the global-norm clip
    double alpha, b1, b2; // RMSProp decay, Adam betas
} Variant;

typedef struct {
    size_t n;
    double *m, *v, *mabs; // state carried over the updates (zero at start)
} RefOpt;

static void ref_alloc(RefOpt *r, size_t n) {
    r->n = n;
    r->m = talloc(n * sizeof(double));
    r->v = talloc(n * sizeof(double));
    r->mabs = talloc(n * sizeof(double));
}

// One reference step from parameters p0 and gradient g (step t from 1):
// writes the updated parameters and each step's magnitude (the tolerance).
static void ref_step(RefOpt *r, const Variant *vr, int kind, int t, const float *p0, const float *g,
                     double norm, double max_norm, double lr, double eps, double *p1,
                     double *scale) {
    const double coef = vr->clip ? max_norm / (norm + 1e-6) : 1.0;
    const double bc1 = 1.0 - pow(vr->b1, t), bc2 = 1.0 - pow(vr->b2, t);
    for (size_t i = 0; i < r->n; i++) {
        const double gc = (double)g[i] * coef;
        double step, mag;
        if (kind == OPT_RMSPROP) {
            r->v[i] = vr->alpha * r->v[i] + (1.0 - vr->alpha) * gc * gc;
            step = lr * gc / (sqrt(r->v[i]) + eps);
            mag = fabs(step);
        } else {
            r->m[i] = vr->b1 * r->m[i] + (1.0 - vr->b1) * gc;
            r->mabs[i] = vr->b1 * r->mabs[i] + (1.0 - vr->b1) * fabs(gc);
            r->v[i] = vr->b2 * r->v[i] + (1.0 - vr->b2) * gc * gc;
            const double den = sqrt(r->v[i]) / sqrt(bc2) + eps;
            step = lr / bc1 * r->m[i] / den;
            mag = lr / bc1 * r->mabs[i] / den;
        }
        p1[i] = (double)p0[i] - step;
        scale[i] = mag;
    }
}

static double tolerance(double scale, double pref) {
    return STEP_RTOL * scale + P_ULPS * 0x1p-23 * fabs(pref);
}

// Entries of p outside the tolerance around the reference; the worst ratio
// |diff| / tol in *worst (at *at).
static size_t count_off(const float *p, const double *pref, const double *scale, size_t n,
                        double *worst, size_t *at) {
    size_t off = 0;
    *worst = 0, *at = 0;
    for (size_t i = 0; i < n; i++) {
        double tol = tolerance(scale[i], pref[i]), d = fabs((double)p[i] - pref[i]);
        if (d > tol) off++;
        if (d / tol > *worst) *worst = d / tol, *at = i;
    }
    return off;
}

// The tensor an entry of the slab belongs to (for messages).
static const char *tensor_of(const NNParams *p, size_t i) {
    for (int k = 0; k < p->n; k++)
        if (i >= p->t[k].offset && i < p->t[k].offset + p->t[k].size) return p->t[k].name;
    return "?";
}

// ----------------------------------------------------------------------------
// The test: UPDATES updates, each compared entry by entry

#define MAX_WRONG 4

static void check_updates(int optim, const Variant *right, const Variant *wrong, int nwrong) {
    trainer_up(optim);
    Model *m = &g_tr.model;
    const size_t n = m->p.total;
    const int kind = optim;
    const Config *c = &g_tr.cfg;
    float *p0 = talloc(n * sizeof(float)), *g = talloc(n * sizeof(float));
    double *pref = talloc(n * sizeof(double)), *scale = talloc(n * sizeof(double));
    RefOpt ref, alt[MAX_WRONG];
    double best[MAX_WRONG] = {0}; // largest fraction of entries a wrong reference missed
    assert_true(nwrong <= MAX_WRONG);
    ref_alloc(&ref, n);
    for (int w = 0; w < nwrong; w++) ref_alloc(&alt[w], n);

    for (int u = 1; u <= UPDATES; u++) {
        trainer_rollout(&g_tr);
        UpdateStats st;
        memcpy(p0, m->p.params, n * sizeof(float));
        trainer_loss(&g_tr, &st);
        model_backward(m, &g_tr.acts, &g_tr.grads, g_tr.mask, g_tr.T, g_tr.B);
        memcpy(g, m->p.grads, n * sizeof(float));
        double ss = 0;
        for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
        const double norm = sqrt(ss);
        if (!(norm > 10.0 * c->max_grad_norm))
            fail_msg("update %d: grad norm %g, not well above max_grad_norm %g: clipping would "
                     "not show", u, norm, (double)c->max_grad_norm);

        assert_int_equal(trainer_update(&g_tr, &st, c->lr), 0);
        if (fabs(st.grad_norm - norm) > NORM_RTOL * norm)
            fail_msg("update %d: reported grad norm %.8g, reference %.8g", u, (double)st.grad_norm,
                     norm);

        // the reference with the configured hyper-parameters
        ref_step(&ref, right, kind, u, p0, g, norm, c->max_grad_norm, c->lr, c->eps, pref, scale);
        double worst;
        size_t at;
        size_t off = count_off(m->p.params, pref, scale, n, &worst, &at);
        printf("  %s update %d: grad norm %.4g (clipped to %g), %zu params, worst |diff|/tol "
               "%.3g (%s)\n", opt_kind_name(kind), u, norm, (double)c->max_grad_norm, n, worst,
               tensor_of(&m->p, at));
        if (off)
            fail_msg("%s update %d: %zu of %zu parameters differ from the reference; worst "
                     "%s (slab entry %zu) = %.9g, reference %.9g, tolerance %.3g",
                     opt_kind_name(kind), u, off, n, tensor_of(&m->p, at), at,
                     (double)m->p.params[at], pref[at], tolerance(scale[at], pref[at]));

        // power: each wrong wiring, fed the same gradients from the same
        // parameters (its own state carried from update 1), must be rejected
        for (int w = 0; w < nwrong; w++) {
            ref_step(&alt[w], &wrong[w], kind, u, p0, g, norm, c->max_grad_norm, c->lr, c->eps,
                     pref, scale);
            double frac = (double)count_off(m->p.params, pref, scale, n, &worst, &at) / (double)n;
            if (frac > best[w]) best[w] = frac;
        }
    }
    for (int w = 0; w < nwrong; w++) {
        printf("  a reference with \"%s\" misses up to %.0f%% of the entries\n", wrong[w].name,
               100.0 * best[w]);
        if (best[w] < POWER_MIN)
            fail_msg("a reference with \"%s\" is rejected on only %.1f%% of the entries: the "
                     "test could not tell that bug", wrong[w].name, 100.0 * best[w]);
    }
}

static void test_rmsprop_update(void **state) {
    (void)state;
    const Variant right = {"configured", 1, 0.9, 0, 0};
    const Variant wrong[] = {{"decay 1 - alpha", 1, 0.1, 0, 0}, {"no clipping", 0, 0.9, 0, 0}};
    check_updates(OPT_RMSPROP, &right, wrong, 2);
}

static void test_adam_update(void **state) {
    (void)state;
    const Variant right = {"configured", 1, 0, 0.8, 0.95};
    const Variant wrong[] = {{"betas swapped", 1, 0, 0.95, 0.8},
                             {"default betas", 1, 0, 0.9, 0.999},
                             {"no clipping", 0, 0, 0.8, 0.95}};
    check_updates(OPT_ADAM, &right, wrong, 3);
}

int main(void) {
    blas_set_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_rmsprop_update, teardown),
        cmocka_unit_test_teardown(test_adam_update, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
