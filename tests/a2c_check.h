// a2c_check.h — the harness shared by test_a2c.c and test_reuse.c: a tiny
// Trainer on a scripted env (random one-hot observations, a fixed schedule of
// episode ends), per-test teardown, and the finite-difference checker of every
// parameter (tolerances and the ReLU-kink retry as test_a2c.c's header says).
// Static functions: each program uses the part it needs.
#ifndef CPCRL_TESTS_A2C_CHECK_H
#define CPCRL_TESTS_A2C_CHECK_H

#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"

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
#include "cpc/cpca.h"
#include "agent/aux_rp.h"
#include "nn/blas.h"
#include "agent/config.h"
#include "base/rng.h"
#include "tests/fixture.h"


#define FD_H 1e-2        // first step; 3 retries at h/4 each past a ReLU kink
#define FD_TRIES 4
#define FD_NOISE 2e-8    // per-entry tolerance FD_NOISE / h + FD_RTOL |grad|
#define FD_RTOL 1e-3
#define FD_REL_NORM 2e-2 // per tensor: |fd - grad|_2 / |grad|_2
#define FD_MAX_SKIP 0.05 // fraction of entries that may stay kinked
#define CPC_SCALE 8.0f   // cpc.w x 8: scores O(1), so CPC weighs in every shared gradient
#define CPC_MIN_SHARE 0.05
#define FIX_ATOL 1e-6   // activations, advantages, losses
#define FIX_RTOL 1e-5
#define GRAD_ATOL 1e-7  // parameter gradients
#define GRAD_RTOL 1e-4

enum { TT = 4, TB = 3, TV = 5 }; // unroll, envs, view of the tiny trainer

// ----------------------------------------------------------------------------
// Per-test state, released by the teardown even when a test fails.

static Trainer g_tr;
static int g_tr_live;
static Fixture g_fix;
static void *g_buf[8];

static void *talloc(size_t bytes) {
    for (int i = 0; i < 8; i++)
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
    if (g_tr_live) trainer_free(&g_tr);
    g_tr_live = 0;
    fix_free(&g_fix);
    for (int i = 0; i < 8; i++) {
        free(g_buf[i]);
        g_buf[i] = NULL;
    }
    return 0;
}

// ----------------------------------------------------------------------------
// The scripted env: random one-hot observations, rewards that depend on the
// env, the step and the action, and a fixed schedule of episode ends (global
// step n counts from 0 over both rollouts of a test):
//   env 0 terminates at n = T-1 and n = 2T-1, env 1 terminates at n = T+1,
//   env 2 is truncated at n = T+2.
// So in the second unroll env 0 starts an episode at t = 0 and ends it at
// T-1, env 1 starts one at t = 2 and env 2 at t = 3.

typedef struct {
    int B, S, T;
    long n;
    uint64_t rng;
    uint8_t final[TB][ENV_C * TV * TV]; // the final observation last handed back per env
    long cue_n;  // >= 0: the observation handed back by call cue_n gets env 1's cell 0 changed
} Script;

static void script_observe(Script *s, uint8_t *obs) {
    const int VV = s->S / ENV_C;
    memset(obs, 0, (size_t)s->B * s->S);
    for (int b = 0; b < s->B; b++)
        for (int i = 0; i < VV; i++) obs[(size_t)b * s->S + rng_int(&s->rng, ENV_C) * VV + i] = 1;
}

static void script_step(void *ctx, const int *actions, uint8_t *obs, float *rewards,
                        uint8_t *terminated, uint8_t *truncated, uint8_t *final_obs) {
    Script *s = ctx;
    const long n = s->n++, T = s->T;
    for (int b = 0; b < s->B; b++) {
        rewards[b] = 0.3f * (float)(b + 1) * ((n + b) % 2 ? 1.0f : -1.0f) + 0.2f * (float)actions[b];
        if (n == T + 1 && b == 0) rewards[b] = 1.8f; // beyond the clip
        terminated[b] = (b == 0 && (n == T - 1 || n == 2 * T - 1)) || (b == 1 && n == T + 1);
        truncated[b] = b == 2 && n == T + 2;
        if (terminated[b] || truncated[b]) { // a final observation of its own stream
            uint64_t r = rng_derive(0xF17A1, (uint64_t)n * TB + (uint64_t)b);
            const int VV = s->S / ENV_C;
            memset(s->final[b], 0, (size_t)s->S);
            for (int i = 0; i < VV; i++) s->final[b][rng_int(&r, ENV_C) * VV + i] = 1;
            memcpy(final_obs + (size_t)b * s->S, s->final[b], (size_t)s->S);
        }
    }
    script_observe(s, obs);
    if (n == s->cue_n) { // a "cue": move cell 0 of env 1's observation to the next kind
        const int VV = s->S / ENV_C;
        uint8_t *o = obs + (size_t)1 * s->S;
        int k = 0;
        while (!o[k * VV]) k++;
        o[k * VV] = 0, o[((k + 1) % ENV_C) * VV] = 1;
    }
}

static Script g_script;

static void tiny_config(Config *c, float cpc_weight) {
    config_defaults(c);
    c->init = INIT_TORCH; // the seed below was picked for this init (live encoder ReLUs)
    c->task = ENV_TASK_GOAL;
    c->size = 7;
    c->view = TV;
    c->envs = TB;
    c->unroll = TT;
    c->conv1 = 2, c->conv2 = 3, c->latent = 8, c->hidden = 6;
    c->cpc_k = 2;
    c->cpc_weight = cpc_weight;
    c->gae_lambda = 0.9f;     // exercise GAE, not only n-step returns
    c->entropy_coef = 0.05f;  // a visible entropy term
    c->seed = 3;      // an init whose encoder ReLUs are all partly alive (checked)
    c->threads = 1;
}

static void trainer_up(const Config *c) {
    char err[256];
    int rc = config_check(c, err, sizeof err);
    if (rc != 0) fail_msg("config_check: %s", err);
    rc = trainer_init(&g_tr, c, err, sizeof err);
    if (rc != 0) fail_msg("trainer_init: %s", err);
    g_tr_live = 1;
}

// Attach the scripted env (fresh, seed 0x5EED; cue_n as in Script) to g_tr.
static void script_attach(long cue_n) {
    memset(&g_script, 0, sizeof g_script);
    g_script.B = TB, g_script.S = g_tr.obs_size, g_script.T = TT;
    g_script.rng = 0x5EED;
    g_script.cue_n = cue_n;
    g_tr.env_step = script_step;
    g_tr.env_ctx = &g_script;
    script_observe(&g_script, g_tr.obs);
}

// Trainer on the scripted env, after two rollouts (so the second starts with
// a carried, non-zero LSTM state for envs 1 and 2).
static void scripted_trainer_cfg(const Config *cfg) {
    Config c = *cfg;
    trainer_up(&c);
    script_attach(-1);
    trainer_rollout(&g_tr);
    trainer_rollout(&g_tr);
    // a net with a dead layer would test little: every encoder ReLU layer
    // must be partly alive over the unroll
    const Model *m = &g_tr.model;
    const size_t N = (size_t)TT * TB, VV = (size_t)TV * TV;
    const float *acts[3] = {g_tr.acts.a1, g_tr.acts.a2, g_tr.acts.z};
    const size_t n[3] = {N * m->c1 * VV, N * m->c2 * VV, N * m->D};
    for (int l = 0; l < 3; l++) {
        size_t on = 0;
        for (size_t i = 0; i < n[l]; i++) on += acts[l][i] > 0;
        if (on < n[l] / 10 || on > n[l] * 19 / 20)
            fail_msg("encoder layer %d: %zu of %zu ReLUs active; pick another seed", l + 1, on, n[l]);
    }
    // the schedule above, as the trainer recorded it
    const int start_at[TB] = {0, 2, 3};
    for (int t = 0; t < TT; t++)
        for (int b = 0; b < TB; b++) {
            assert_int_equal(g_tr.starts[t * TB + b], t == start_at[b]);
            assert_true(g_tr.mask[t * TB + b] == (t == start_at[b] ? 0.0f : 1.0f));
        }
}

static void scripted_trainer(float cpc_weight) {
    Config c;
    tiny_config(&c, cpc_weight);
    scripted_trainer_cfg(&c);
}

// Does env b start an episode at any step in (t0, t1]? Step T is the
// bootstrap slot, which starts one when step T-1 ended the episode.
static int start_between(int t0, int t1, int b) {
    for (int s = t0 + 1; s <= t1; s++)
        if (s < TT ? g_tr.starts[s * TB + b] != 0 : g_tr.done[(TT - 1) * TB + b] > 0) return 1;
    return 0;
}

// ----------------------------------------------------------------------------
// Finite differences over every parameter

// Sign pattern of every encoder ReLU over N rows of `a` (for the unroll: its
// T*B rows; the bootstrap slot feeds no loss term when the targets are fixed).
static size_t relu_pattern_of(const Model *m, const Acts *a, size_t N, uint8_t *pat) {
    const size_t VV = (size_t)m->V * m->V;
    size_t k = 0;
    for (size_t i = 0; i < N * m->c1 * VV; i++) pat[k++] = a->a1[i] > 0;
    for (size_t i = 0; i < N * m->c2 * VV; i++) pat[k++] = a->a2[i] > 0;
    for (size_t i = 0; i < N * m->D; i++) pat[k++] = a->z[i] > 0;
    return k;
}

static size_t relu_pattern(Trainer *tr, uint8_t *pat) {
    return relu_pattern_of(&tr->model, &tr->acts, (size_t)tr->T * tr->B, pat);
}

// The loss of trainer.h's header comment, evaluated in double from the float
// activations, with the advantages/returns of the last trainer_loss held
// fixed; the CPC part by cpc_ref_loss_kw (the double reference of cpc.h,
// with the trainer's k weighting). Its
// rounding noise is several times below that of trainer_loss's float total.
static double loss_double(Trainer *tr) {
    const Model *m = &tr->model;
    const Acts *a = &tr->acts;
    const Config *c = &tr->cfg;
    const int N = tr->T * tr->B, A = m->A;
    double pl = 0, vl = 0, en = 0;
    for (int i = 0; i < N; i++) {
        const float *lg = a->logits + (size_t)i * A;
        double mx = lg[0], se = 0, e = 0;
        for (int k = 1; k < A; k++) mx = lg[k] > mx ? lg[k] : mx;
        for (int k = 0; k < A; k++) se += exp(lg[k] - mx);
        const double lse = mx + log(se);
        for (int k = 0; k < A; k++) e -= exp(lg[k] - lse) * (lg[k] - lse);
        pl -= (lg[tr->actions[i]] - lse) * tr->adv[i];
        const double err = (double)tr->ret[i] - a->value[i];
        vl += 0.5 * err * err;
        en += e;
    }
    double L = pl / N + c->value_coef * vl / N - c->entropy_coef * en / N;
    if (aux_state(&tr->aux, "cpca")) { // CPC|A: its double reference (cpca.h)
        const float *pp = tr->model.p.params;
        const CPCAParams w = {pp + m->p.t[nn_params_find(&m->p, "cpca.w_in")].offset, pp + m->p.t[nn_params_find(&m->p, "cpca.b_in")].offset,
                              pp + m->p.t[nn_params_find(&m->p, "cpca.w_ih")].offset, pp + m->p.t[nn_params_find(&m->p, "cpca.w_hh")].offset,
                              pp + m->p.t[nn_params_find(&m->p, "cpca.b_ih")].offset, pp + m->p.t[nn_params_find(&m->p, "cpca.b_hh")].offset,
                              pp + m->p.t[nn_params_find(&m->p, "cpca.w_out")].offset};
        L += c->cpc_weight * cpca_ref_loss(a->h, a->z, tr->actions, &w, tr->starts, tr->T, tr->B,
                                           m->D, m->H, m->K, m->G, m->A, c->cpc_negatives, NULL);
    } else if (tr->use_cpc)
        L += c->cpc_weight * cpc_ref_loss_kw(a->h, a->z, tr->model.p.params + m->p.t[nn_params_find(&m->p, "cpc.w")].offset,
                                             tr->starts, tr->T, tr->B, m->D, m->H, m->K,
                                             c->cpc_negatives, c->cpc_k_weighting, NULL);
    const int rp = nn_params_find(&m->p, "rp.w");
    if (rp >= 0 && c->rp_weight > 0) { // reward prediction: its double reference (aux_rp.h)
        double W[RP_CLASSES * RP_FRAMES * 64], b[RP_CLASSES];
        assert_true(m->D <= 64);
        for (size_t j = 0; j < m->p.t[rp].size; j++) W[j] = m->p.params[m->p.t[rp].offset + j];
        for (int j = 0; j < RP_CLASSES; j++) b[j] = m->p.params[m->p.t[rp + 1].offset + j];
        L += c->rp_weight * rp_ref_loss(a->z, tr->rew, tr->starts, W, b, tr->T, tr->B, m->D);
    }
    return L;
}

static double loss_now(Trainer *tr) {
    trainer_forward_unroll(tr);
    return loss_double(tr);
}

// Analytic gradient of the stored unroll into a copy; returns the loss.
static double analytic(Trainer *tr, float *grad) {
    UpdateStats st;
    tr->fixed_targets = 0;
    trainer_forward_unroll(tr);
    float loss = trainer_loss(tr, &st);
    model_backward(&tr->model, &tr->acts, &tr->grads, tr->mask, tr->T, tr->B);
    memcpy(grad, tr->model.p.grads, tr->model.p.total * sizeof(float));
    tr->fixed_targets = 1;
    return loss;
}

// What the finite differences check: the loss in double at the current
// parameters (forward recomputed), the analytic gradient (into grad; returns
// the float loss) and the pattern of kinks (ReLU signs, clip branches) that
// a stencil must not cross; npat bytes.
typedef struct {
    double (*loss)(Trainer *tr);
    double (*analytic)(Trainer *tr, float *grad);
    size_t (*pattern)(Trainer *tr, uint8_t *pat);
    size_t npat;
} FDCase;

// One entry's 4-point central difference with step h (fd), and whether any
// kink of the pattern flips between the unperturbed net and any perturbed one.
static double fd_entry(Trainer *tr, const FDCase *fc, float *w, double h, const uint8_t *pat0,
                       uint8_t *pat, int *kink) {
    const size_t npat = fc->npat;
    const float w0 = *w;
    const double hs[4] = {h, -h, 2 * h, -2 * h};
    double L[4];
    *kink = 0;
    for (int s = 0; s < 4; s++) {
        *w = w0 + (float)hs[s];
        L[s] = fc->loss(tr);
        fc->pattern(tr, pat);
        *kink |= memcmp(pat, pat0, npat) != 0;
    }
    *w = w0;
    const double ha = ((double)(w0 + (float)h) - (double)(w0 - (float)h)) / 2; // as applied
    return (8 * (L[0] - L[1]) - (L[2] - L[3])) / (12 * ha);
}

static void check_fd_case(Trainer *tr, const FDCase *fc) {
    NNParams *p = &tr->model.p;
    float *grad = talloc(p->total * sizeof(float));
    const size_t npat = fc->npat;
    uint8_t *pat0 = talloc(npat), *pat = talloc(npat);
    double l0 = fc->analytic(tr, grad);
    assert_true(isfinite(l0));
    // the double loss used for the differences is trainer_loss's loss
    const double ld = fc->loss(tr);
    if (!(fabs(ld - l0) <= 1e-6 + 1e-6 * fabs(ld)))
        fail_msg("trainer_loss %.9g vs the loss of trainer.h in double %.9g", l0, ld);
    assert_int_equal(fc->pattern(tr, pat0), npat);

    size_t checked = 0, skipped = 0, bad = 0, smaller = 0;
    for (int ti = 0; ti < p->n; ti++) {
        const NNTensor *t = &p->t[ti];
        double worst = 0, gmax = 0, se = 0, sg = 0, use = 0;
        size_t tchecked = 0;
        for (size_t j = 0; j < t->size; j++) {
            float *w = p->params + t->offset + j;
            // a ReLU kink within 2h: retry closer (the noise grows as 1/h,
            // and so does the absolute tolerance)
            double h = FD_H, fd = 0;
            int kink = 1;
            for (int tries = 0; tries < FD_TRIES && kink; tries++, h /= 4) {
                fd = fd_entry(tr, fc, w, h, pat0, pat, &kink);
                smaller += tries > 0 && !kink;
            }
            h *= 4;
            if (kink) { skipped++; continue; }
            const double an = grad[t->offset + j], err = fabs(fd - an);
            checked++, tchecked++;
            se += (fd - an) * (fd - an), sg += an * an;
            if (err > worst) worst = err;
            if (fabs(an) > gmax) gmax = fabs(an);
            const double tol = FD_NOISE / h + FD_RTOL * fabs(an);
            if (err / tol > use) use = err / tol;
            if (!(err <= tol)) {
                if (bad < 10)
                    fprintf(stderr, "  %s[%zu]: analytic %.7g, finite difference %.7g (h %.3g)\n",
                            t->name, j, an, fd, h);
                bad++;
            }
        }
        const double rel = sg > 0 ? sqrt(se / sg) : 0;
        printf("  %-10s %4zu/%4zu checked, max |grad| %.2g, max |fd - grad| %.2g (%.0f%% of its "
               "tolerance), |fd - grad| / |grad| %.2g\n", t->name, tchecked, t->size, gmax, worst,
               100 * use, rel);
        if (tchecked == 0) fail_msg("no entry of %s could be checked", t->name);
        if (!(rel <= FD_REL_NORM)) {
            fprintf(stderr, "  %s: |fd - grad| / |grad| = %.3g > %.3g\n", t->name, rel, FD_REL_NORM);
            bad++;
        }
    }
    fc->loss(tr); // restore the activations of the unperturbed parameters
    printf("  %zu entries checked (%zu with a smaller h), %zu skipped (kink), %zu bad\n",
           checked, smaller, skipped, bad);
    assert_int_equal(bad, 0);
    assert_true((double)skipped <= FD_MAX_SKIP * (double)(checked + skipped));
}

static void check_fd(Trainer *tr) {
    const FDCase fc = {loss_now, analytic, relu_pattern,
                       (size_t)tr->T * tr->B *
                           (tr->model.D + (size_t)(tr->model.c1 + tr->model.c2) * tr->model.V * tr->model.V)};
    check_fd_case(tr, &fc);
}


// A fixture array of n floats, or fail the test.
static const float *need(const char *name, size_t n) {
    const float *d = fix_data(&g_fix, name, n);
    if (!d) fail_msg("%s", g_fix.err);
    return d;
}

#endif
