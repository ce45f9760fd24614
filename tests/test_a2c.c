// test_a2c.c — the whole learner's gradient: conv encoder -> LSTM -> heads,
// A2C loss and CPC loss over one unroll with episode boundaries inside it
// (agent/trainer.c, agent/model.c, cpc/cpc.c together).
//
// A Trainer with a tiny network steps a scripted env (the Trainer's env hook):
// random one-hot observations, non-zero rewards (one beyond the clip), env 0
// starting an episode at t = 0 and ending one at t = T-1, env 1 ending one at
// t = 1 (terminated), env 2 at t = 2 (truncated); envs 1 and 2 carry a
// non-zero LSTM state into the unroll. Checks:
//
//   forward_unroll  trainer_forward_unroll reproduces the rollout's activations
//                   bit for bit (same inputs, same kernels).
//   finite diffs    every entry of every parameter tensor (A2C + CPC with
//                   cpc_weight 0.7 and cpc.w scaled x8 so that CPC weighs in
//                   the shared gradients -- checked: >= 5% of |grad| of conv1,
//                   fc, w_ih, w_hh; and A2C alone, where no cpc tensor exists):
//                   the analytic gradient (trainer_loss + model_backward) vs
//                   the 4-point central difference
//                     fd = [8 (L(+h) - L(-h)) - (L(+2h) - L(-2h))] / 12h
//                   of the loss with the advantages/returns held fixed
//                   (tr.fixed_targets; the loss defines them as constants).
//                   L is the loss of trainer.h's header evaluated in double from
//                   the float activations (the CPC part by cpc_ref_loss),
//                   first held equal to trainer_loss (1e-6): the float32 total
//                   of trainer_loss rounds ~30x coarser and would drown the
//                   encoder's small gradients. h = 1e-2; an entry whose
//                   stencil flips any encoder ReLU (a kink; exactly detected,
//                   as the encoder is piecewise linear in one parameter) is
//                   retried with h/4, h/16, h/64 and skipped if still kinked
//                   (at most 5%; measured 2 of ~1550).
//                   Tolerances: per entry |fd - an| <= 2e-8 / h + 1e-3 |an|
//                   (the noise term is 4x the measured FD noise, ~5e-9 / h;
//                   worst entry uses 25% of its tolerance); per tensor
//                   |fd - an|_2 <= 2e-2 |an|_2 (measured <= 7.3e-3, set by
//                   the few small-h entries; 1e-4 and below elsewhere).
//   time/masking    (forward) changing the observation of env b at step t
//                   changes every later output of env b up to its next
//                   episode start and, bit for bit, nothing at or after it,
//                   nor any other env; (backward) a gradient put on V(c_t) of
//                   one env reaches dL/dz at earlier steps of that env exactly
//                   until its episode start (non-zero before, exactly 0 behind
//                   it: model_backward multiplies the carried gradient by the
//                   mask), never another env, and leaves the unroll only when
//                   no start lies in [0, t].
//   PyTorch         tests/fixtures/model_a2c_cpc.bin and model_a2c.bin
//                   (scripts/make_fixtures_model.py: the same network built
//                   from nn.Conv2d / nn.Linear / nn.LSTMCell, autograd, float64
//                   from float32 inputs): activations, advantages/returns,
//                   each loss term and every parameter gradient.
//                   Tolerances: activations, advantages, losses 1e-6 +
//                   1e-5 |torch| (measured max |diff| 1.2e-7); gradients 1e-7 +
//                   1e-4 |torch| (measured max |diff| 3e-8, gradients 1e-4..0.2).
//                   The script refuses seeds whose encoder has a dead layer.
//   sample reuse    (trainer.h) forced through the reuse path at 1/1/0, a group's
//                   loss and gradient equal A2C's: bit for bit with the envs
//                   in order, to 1e-6 + 1e-5 |a2c| shuffled. Finite
//                   differences as above of the group's PPO loss (clip 0.2
//                   over 3 shuffled envs, CPC batch negatives; clip 0.1 over
//                   1 env of 3, CPC all negatives), the policy moved from the
//                   acting one so that some rows are clipped (3 of 12, 2 of
//                   4); the loss in double uses the min/clamp form, and a
//                   stencil that moves a ratio across a clip bound counts as
//                   a kink. The update loop (E*M steps, same bits from the
//                   same state), refused group sizes, and the clipped
//                   objective vs tests/fixtures/ppo_clip.bin
//                   (scripts/make_fixtures_ppo.py; 1e-7 + 1e-5 |torch|).
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

#include "agent/trainer.h"
#include "agent/blas.h"
#include "agent/config.h"
#include "env/rng.h"
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
// fixed; the CPC part by cpc_ref_loss (the double reference of cpc.h). Its
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
    if (tr->use_cpc)
        L += c->cpc_weight * cpc_ref_loss(a->h, a->z, tr->model.p.params + m->p.t[m->cpc_w].offset,
                                          tr->starts, tr->T, tr->B, m->D, m->H, m->K,
                                          c->cpc_negatives, NULL);
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

// ----------------------------------------------------------------------------
// Tests

static void test_forward_unroll_reproduces_rollout(void **state) {
    (void)state;
    scripted_trainer(0.7f);
    const Model *m = &g_tr.model;
    const size_t R = (size_t)(TT + 1) * TB;
    float *value = talloc(R * sizeof(float)), *logits = talloc(R * m->A * sizeof(float));
    float *h = talloc(R * m->H * sizeof(float));
    memcpy(value, g_tr.acts.value, R * sizeof(float));
    memcpy(logits, g_tr.acts.logits, R * m->A * sizeof(float));
    memcpy(h, g_tr.acts.h, R * m->H * sizeof(float));
    trainer_forward_unroll(&g_tr);
    assert_memory_equal(value, g_tr.acts.value, R * sizeof(float));
    assert_memory_equal(logits, g_tr.acts.logits, R * m->A * sizeof(float));
    assert_memory_equal(h, g_tr.acts.h, R * m->H * sizeof(float));
}

static void test_grad_fd_a2c_cpc(void **state) {
    (void)state;
    scripted_trainer(0.7f);
    assert_true(g_tr.use_cpc);
    assert_true(g_tr.model.cpc_w >= 0);
    Model *m = &g_tr.model;
    float *w = nn_param(&m->p, m->cpc_w);
    for (size_t j = 0; j < m->p.t[m->cpc_w].size; j++) w[j] *= CPC_SCALE;
    // the CPC part must weigh in the gradient of the shared layers, or the
    // differences below would hardly test its dc / dz paths: compare with
    // the gradient at cpc_weight 0
    const size_t P = m->p.total;
    float *g1 = talloc(P * sizeof(float)), *g0 = talloc(P * sizeof(float));
    analytic(&g_tr, g1);
    g_tr.cfg.cpc_weight = 0;
    analytic(&g_tr, g0);
    g_tr.cfg.cpc_weight = 0.7f;
    const int shared[] = {m->conv1_w, m->fc_w, m->w_ih, m->w_hh};
    for (int i = 0; i < 4; i++) {
        const NNTensor *t = &m->p.t[shared[i]];
        double sd = 0, s1 = 0;
        for (size_t j = t->offset; j < t->offset + t->size; j++)
            sd += (double)(g1[j] - g0[j]) * (g1[j] - g0[j]), s1 += (double)g1[j] * g1[j];
        printf("  %-10s CPC share of |grad|: %.2f\n", t->name, sqrt(sd / s1));
        assert_true(sqrt(sd / s1) > CPC_MIN_SHARE);
    }
    UpdateStats st;
    trainer_forward_unroll(&g_tr);
    trainer_loss(&g_tr, &st);
    assert_true(st.cpc_count > 0);
    printf("  cpc loss %.4f over %d triples, accuracy k=1 %.2f\n", st.cpc_loss, st.cpc_count,
           st.cpc_acc[0]);
    check_fd(&g_tr);
}

static void test_grad_fd_a2c_only(void **state) {
    (void)state;
    scripted_trainer(0.0f);
    assert_false(g_tr.use_cpc);
    assert_int_equal(g_tr.model.cpc_w, -1);
    assert_int_equal(nn_params_find(&g_tr.model.p, "cpc.w"), -1);
    check_fd(&g_tr);
}

// Forward: an observation of env b at step t reaches env b's later outputs
// exactly up to its next episode start, and nothing else.
static void test_forward_state_crosses_time_and_resets(void **state) {
    (void)state;
    scripted_trainer(0.0f);
    Acts *a = &g_tr.acts;
    const int S = g_tr.obs_size;
    const size_t R = (size_t)(TT + 1) * TB;
    float *v0 = talloc(R * sizeof(float));
    trainer_forward_unroll(&g_tr);
    memcpy(v0, a->value, R * sizeof(float));
    int crossed = 0, cut = 0;
    for (int t = 0; t < TT; t++)
        for (int b = 0; b < TB; b++) {
            float *x = a->x0 + ((size_t)t * TB + b) * S;
            float keep[ENV_C];
            for (int k = 0; k < ENV_C; k++) keep[k] = x[k * TV * TV + 0]; // cell (0,0): move its kind
            for (int k = 0; k < ENV_C; k++) x[k * TV * TV] = keep[(k + 1) % ENV_C];
            trainer_forward_unroll(&g_tr);
            for (int s = 0; s <= TT; s++)
                for (int e = 0; e < TB; e++) {
                    size_t r = (size_t)s * TB + e;
                    int reach = e == b && s >= t && !start_between(t, s, b);
                    if (reach) {
                        if (v0[r] == a->value[r])
                            fail_msg("obs (t=%d, b=%d) did not reach V(t=%d, b=%d)", t, b, s, e);
                        crossed += s > t;
                    } else {
                        if (v0[r] != a->value[r])
                            fail_msg("obs (t=%d, b=%d) leaked into V(t=%d, b=%d)", t, b, s, e);
                        cut += e == b && s > t;
                    }
                }
            for (int k = 0; k < ENV_C; k++) x[k * TV * TV] = keep[k];
        }
    trainer_forward_unroll(&g_tr);
    assert_memory_equal(v0, a->value, R * sizeof(float));
    assert_true(crossed > 0);
    assert_true(cut > 0);
}


// A cue seen only at an episode's first step reaches the decisions of that
// episode in the next unroll through the carried state, and nothing else.
// Env 1's episode starts at t = 2 of the second unroll (call n = T+1 hands
// back its first observation); the third unroll continues it. Two trainers
// from the same seed, one with that first observation changed in one cell:
// (1) every logit of env 1 from t = 2 of unroll 2 through unroll 3 differs;
// (2) env 1's logits before t = 2 of unroll 2 and every logit of envs 0 and
// 2 are bit-identical. The gradient side (dL/dlogits at a decision reaches
// dL/dz at the episode's first step, and no earlier) is
// test_backward_mask_cuts_gradient's, for both heads.
static void run_cue(long cue_n, float *logits2, float *logits3) {
    Config c;
    tiny_config(&c, 0.0f);
    trainer_up(&c);
    script_attach(cue_n);
    const size_t L = (size_t)TT * TB * g_tr.model.A;
    trainer_rollout(&g_tr);
    trainer_rollout(&g_tr);
    memcpy(logits2, g_tr.acts.logits, L * sizeof(float));
    trainer_rollout(&g_tr);
    memcpy(logits3, g_tr.acts.logits, L * sizeof(float));
    trainer_free(&g_tr);
    g_tr_live = 0;
}

static void test_cue_crosses_unroll_boundary(void **state) {
    (void)state;
    enum { A = ENV_A };
    const size_t L = (size_t)TT * TB * A;
    float *p2 = talloc(L * sizeof(float)), *p3 = talloc(L * sizeof(float));
    float *q2 = talloc(L * sizeof(float)), *q3 = talloc(L * sizeof(float));
    run_cue(-1, p2, p3);
    run_cue(TT + 1, q2, q3);
    for (int u = 0; u < 2; u++)
        for (int t = 0; t < TT; t++)
            for (int b = 0; b < TB; b++) {
                const float *x = (u ? p3 : p2) + ((size_t)t * TB + b) * A;
                const float *y = (u ? q3 : q2) + ((size_t)t * TB + b) * A;
                int reach = b == 1 && (u == 1 || t >= 2);
                int same = memcmp(x, y, A * sizeof(float)) == 0;
                if (reach && same) fail_msg("cue at unroll 2 t=2 did not reach unroll %d t=%d", u + 2, t);
                if (!reach && !same) fail_msg("cue leaked into unroll %d t=%d env %d", u + 2, t, b);
            }
}

// Backward: dL/dV(t1, b) only (and then one logit of (t1, b) only: a
// decision) -> dL/dz(t, b) non-zero for t <= t1 without an
// episode start in (t, t1], exactly zero elsewhere; the gradient leaving the
// unroll start (g->dhc, dcc after the loop) is zero unless no start lies in
// [0, t1].
static void test_backward_mask_cuts_gradient(void **state) {
    (void)state;
    scripted_trainer(0.0f);
    Model *m = &g_tr.model;
    Grads *g = &g_tr.grads;
    const int N = TT * TB, D = m->D, H = m->H;
    int nonzero_far = 0;
    for (int head = 0; head < 2; head++) // value, then one policy logit (a decision)
    for (int t1 = 0; t1 < TT; t1++)
        for (int b = 0; b < TB; b++) {
            nn_zero_grad(&m->p);
            memset(g->dlogits, 0, (size_t)N * m->A * sizeof(float));
            memset(g->dvalue, 0, (size_t)N * sizeof(float));
            memset(g->dh, 0, (size_t)N * H * sizeof(float));
            memset(g->dz, 0, (size_t)N * D * sizeof(float));
            if (head) g->dlogits[((size_t)t1 * TB + b) * m->A + (size_t)(t1 + b) % m->A] = 1.0f;
            else g->dvalue[t1 * TB + b] = 1.0f;
            model_backward(m, &g_tr.acts, g, g_tr.mask, TT, TB);
            for (int t = 0; t < TT; t++)
                for (int e = 0; e < TB; e++) {
                    const float *dz = g->dz + ((size_t)t * TB + e) * D;
                    double s = 0;
                    for (int i = 0; i < D; i++) s += fabs(dz[i]);
                    int reach = e == b && t <= t1 && !start_between(t, t1, b);
                    if (reach && s == 0)
                        fail_msg("dV(%d,%d) does not reach z(%d,%d)", t1, b, t, e);
                    if (!reach && s != 0)
                        fail_msg("dV(%d,%d) leaks into z(%d,%d): |dz| %g", t1, b, t, e, s);
                    nonzero_far += reach && t < t1;
                }
            for (int e = 0; e < TB; e++) {
                double s = 0;
                for (int i = 0; i < H; i++)
                    s += fabs(g->dhc[(size_t)e * H + i]) + fabs(g->dcc[(size_t)e * H + i]);
                int out = e == b && !start_between(-1, t1, b);
                if (out != (s != 0))
                    fail_msg("dV(%d,%d): gradient leaving the unroll for env %d is %g", t1, b, e, s);
            }
        }
    assert_true(nonzero_far > 0);
}

// ----------------------------------------------------------------------------
// PyTorch fixtures

static const float *need(const char *name, size_t n) {
    const float *d = fix_data(&g_fix, name, n);
    if (!d) fail_msg("%s", g_fix.err);
    return d;
}

static void check_fixture(const char *path) {
    if (fix_load(&g_fix, path) != 0) fail_msg("%s", g_fix.err);
    const float *cf = need("config", 10), *hy = need("hyper", 6);
    const int T = (int)cf[0], B = (int)cf[1], C = (int)cf[2], V = (int)cf[3], A = (int)cf[4];
    const int c1 = (int)cf[5], c2 = (int)cf[6], D = (int)cf[7], H = (int)cf[8], K = (int)cf[9];
    assert_int_equal(C, ENV_C);
    assert_int_equal(A, ENV_A);
    Config c;
    tiny_config(&c, hy[5]);
    c.unroll = T, c.envs = B, c.view = V, c.conv1 = c1, c.conv2 = c2, c.latent = D, c.hidden = H;
    c.cpc_k = K > 0 ? K : 1;
    c.gamma = hy[0], c.gae_lambda = hy[1], c.value_coef = hy[2], c.entropy_coef = hy[3];
    c.reward_clip = hy[4];
    trainer_up(&c);
    Trainer *tr = &g_tr;
    Model *m = &tr->model;
    Acts *a = &tr->acts;
    assert_int_equal(m->K, K);
    assert_int_equal(tr->obs_size, C * V * V);

    // parameters, by name; every model tensor must be in the fixture
    for (int i = 0; i < m->p.n; i++)
        memcpy(nn_param(&m->p, i), need(m->p.t[i].name, m->p.t[i].size),
               m->p.t[i].size * sizeof(float));
    if (K == 0) assert_null(fix_get(&g_fix, "cpc.w")); // the fixture has no CPC either

    // inputs: observations and LSTM input tails of all T+1 slots, the carried
    // state at row 0 (masked, as trainer_prepare_step does), the step records
    const size_t R = (size_t)(T + 1) * B, S = (size_t)tr->obs_size;
    const int X = m->X;
    memcpy(a->x0, need("obs", R * S), R * S * sizeof(float));
    const float *xtail = need("xtail", R * (A + 1));
    for (size_t r = 0; r < R; r++)
        memcpy(a->xin + r * X + D, xtail + r * (A + 1), (size_t)(A + 1) * sizeof(float));
    const float *mask = need("mask", R), *h0 = need("h0", (size_t)B * H), *c0 = need("c0", (size_t)B * H);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < H; i++) {
            a->hprev[b * H + i] = mask[b] * h0[b * H + i];
            a->cprev[b * H + i] = mask[b] * c0[b * H + i];
        }
    const size_t N = (size_t)T * B;
    const float *act = need("actions", N), *rew = need("rewards", N), *done = need("dones", N);
    const float *starts = need("starts", N);
    for (size_t i = 0; i < N; i++) {
        tr->actions[i] = (int)act[i];
        tr->rew[i] = rew[i];
        tr->done[i] = done[i];
        tr->mask[i] = mask[i];
        tr->starts[i] = starts[i] > 0;
    }

    trainer_forward_unroll(tr);
    size_t bad = 0;
    bad += fix_compare("z", a->z, need("z", R * D), R * D, FIX_ATOL, FIX_RTOL);
    bad += fix_compare("h", a->h, need("h", R * H), R * H, FIX_ATOL, FIX_RTOL);
    bad += fix_compare("logits", a->logits, need("logits", R * A), R * A, FIX_ATOL, FIX_RTOL);
    bad += fix_compare("value", a->value, need("value", R), R, FIX_ATOL, FIX_RTOL);
    UpdateStats st;
    tr->fixed_targets = 0;
    trainer_loss(tr, &st);
    bad += fix_compare("adv", tr->adv, need("adv", N), N, FIX_ATOL, FIX_RTOL);
    bad += fix_compare("ret", tr->ret, need("ret", N), N, FIX_ATOL, FIX_RTOL);
    const float got[5] = {st.policy_loss, st.value_loss, st.entropy, st.cpc_loss, st.loss};
    bad += fix_compare("losses [policy value entropy cpc total]", got, need("losses", 5), 5,
                       FIX_ATOL, FIX_RTOL);
    model_backward(m, a, &tr->grads, tr->mask, T, B);
    for (int i = 0; i < m->p.n; i++) {
        char name[FIX_NAME_LEN];
        snprintf(name, sizeof name, "grad.%s", m->p.t[i].name);
        bad += fix_compare(name, nn_grad(&m->p, i), need(name, m->p.t[i].size), m->p.t[i].size,
                           GRAD_ATOL, GRAD_RTOL);
    }
    assert_int_equal(bad, 0);
}

static void test_fixture_a2c_cpc(void **state) {
    (void)state;
    check_fixture("tests/fixtures/model_a2c_cpc.bin");
}

static void test_fixture_a2c(void **state) {
    (void)state;
    check_fixture("tests/fixtures/model_a2c.bin");
}

// Truncation bootstrapping (bootstrap_trunc = 1). Env 2 is truncated at t = 2
// of the second unroll, env 1 terminated at t = 1. Checks: (1) only that row
// is marked truncated; (2) its V^fin is the value of a forward of the final
// observation the env handed back, built here by hand (one-hot previous
// action, clipped previous reward, the pre-reset state c_t and cell_t), bit
// for bit; (3) the advantages and returns equal trainer.h's formula evaluated
// in double with that V^fin; (4) with bootstrap_trunc = 0 the same unroll
// has V^fin = 0 and the return of the truncated step is r_t alone.
static void test_truncation_bootstrap(void **state) {
    (void)state;
    for (int on = 1; on >= 0; on--) {
        Config c;
        tiny_config(&c, 0.0f);
        c.bootstrap_trunc = on;
        trainer_up(&c);
        script_attach(-1);
        trainer_rollout(&g_tr);
        trainer_rollout(&g_tr);
        const int tt = 2, bt = 2;
        const size_t row = (size_t)tt * TB + bt;
        for (size_t i = 0; i < (size_t)TT * TB; i++) assert_int_equal(g_tr.truncs[i], i == row);
        assert_true(g_tr.done[(size_t)1 * TB + 1] == 1.0f && !g_tr.truncs[(size_t)1 * TB + 1]);

        Model *m = &g_tr.model;
        Acts ref;
        assert_int_equal(acts_alloc(&ref, m, 1), 0);
        const int S = g_tr.obs_size, H = m->H, D = m->D, X = m->X;
        for (int i = 0; i < S; i++) ref.x0[i] = (float)g_script.final[bt][i];
        for (int i = D; i < X; i++) ref.xin[i] = 0.0f;
        ref.xin[D + g_tr.actions[row]] = 1.0f;
        float r = g_tr.rew[row];
        ref.xin[D + m->A] = r > c.reward_clip ? c.reward_clip : (r < -c.reward_clip ? -c.reward_clip : r);
        memcpy(ref.hprev, g_tr.acts.h + row * H, (size_t)H * sizeof(float));
        memcpy(ref.cprev, g_tr.acts.cell + row * H, (size_t)H * sizeof(float));
        model_forward(m, &ref, 0, 1);
        const float vfin = on ? ref.value[0] : 0.0f;
        assert_true(g_tr.vtrunc[row] == vfin);
        for (size_t i = 0; i < (size_t)TT * TB; i++)
            if (i != row) assert_true(g_tr.vtrunc[i] == 0.0f);
        acts_free(&ref);
        if (on) assert_true(fabsf(vfin) > 1e-4f); // the bootstrap term is really there

        UpdateStats st;
        trainer_loss(&g_tr, &st);
        for (int b = 0; b < TB; b++) {
            double gae = 0;
            for (int t = TT - 1; t >= 0; t--) {
                size_t i = (size_t)t * TB + b;
                double nd = 1.0 - g_tr.done[i], v = g_tr.acts.value[i];
                double vn = g_tr.acts.value[(size_t)(t + 1) * TB + b];
                double rr = g_tr.rew[i];
                rr = rr > c.reward_clip ? c.reward_clip : (rr < -c.reward_clip ? -c.reward_clip : rr);
                double u = i == row && on ? 1.0 : 0.0;
                double delta = rr + c.gamma * (nd * vn + u * g_tr.vtrunc[i]) - v;
                gae = delta + c.gamma * c.gae_lambda * nd * gae;
                assert_float_equal(g_tr.adv[i], gae, 1e-5);
                assert_float_equal(g_tr.ret[i], gae + v, 1e-5);
            }
        }
        trainer_free(&g_tr);
        g_tr_live = 0;
    }
}

// ----------------------------------------------------------------------------
// Sample reuse (trainer.h): one group's PPO loss and gradient

static int g_envs[TB]; // the group the reuse tests look at

// The group's loss of trainer.h's header (sample reuse), in double from the
// group's float activations, with the standard min / clamp form of the
// clipped term (not the C code's branch rule); advantages, returns and old
// log-probs are the constants trainer_reuse_begin gathered.
static double reuse_loss_double(Trainer *tr) {
    const Model *m = &tr->model;
    const Acts *a = &tr->mb;
    const Config *c = &tr->cfg;
    const int N = tr->T * tr->Bm, A = m->A;
    const double eps = c->clip;
    double pl = 0, vl = 0, en = 0;
    for (int i = 0; i < N; i++) {
        const float *lg = a->logits + (size_t)i * A;
        double mx = lg[0], se = 0, e = 0;
        for (int k = 1; k < A; k++) mx = lg[k] > mx ? lg[k] : mx;
        for (int k = 0; k < A; k++) se += exp(lg[k] - mx);
        const double lse = mx + log(se), lp = lg[tr->mb_actions[i]] - lse, ad = tr->mb_adv[i];
        for (int k = 0; k < A; k++) e -= exp(lg[k] - lse) * (lg[k] - lse);
        if (eps > 0) {
            const double rho = exp(lp - tr->mb_logp_old[i]);
            pl -= fmin(rho * ad, fmin(fmax(rho, 1 - eps), 1 + eps) * ad);
        } else {
            pl -= lp * ad;
        }
        const double err = (double)tr->mb_ret[i] - a->value[i];
        vl += 0.5 * err * err;
        en += e;
    }
    double L = pl / N + c->value_coef * vl / N - c->entropy_coef * en / N;
    if (tr->use_cpc)
        L += c->cpc_weight * cpc_ref_loss(a->h, a->z, tr->model.p.params + m->p.t[m->cpc_w].offset,
                                          tr->mb_starts, tr->T, tr->Bm, m->D, m->H, m->K,
                                          c->cpc_negatives, NULL);
    return L;
}

static double reuse_loss_now(Trainer *tr) {
    UpdateStats st;
    trainer_reuse_loss(tr, g_envs, &st);
    return reuse_loss_double(tr);
}

static double reuse_analytic(Trainer *tr, float *grad) {
    UpdateStats st;
    tr->fixed_targets = 0;
    trainer_reuse_begin(tr);
    float loss = trainer_reuse_loss(tr, g_envs, &st);
    model_backward(&tr->model, &tr->mb, &tr->mbg, tr->mb_mask, tr->T, tr->Bm);
    memcpy(grad, tr->model.p.grads, tr->model.p.total * sizeof(float));
    tr->fixed_targets = 1;
    return loss;
}

// Where each group row's ratio lies: 0 inside [1 - eps, 1 + eps], 1 above,
// 2 below (the clipped term's kinks), in double from the group's logits.
static void ratio_regions(Trainer *tr, uint8_t *reg) {
    const int N = tr->T * tr->Bm, A = tr->model.A;
    const double eps = tr->cfg.clip;
    for (int i = 0; i < N; i++) {
        const float *lg = tr->mb.logits + (size_t)i * A;
        double mx = lg[0], se = 0;
        for (int k = 1; k < A; k++) mx = lg[k] > mx ? lg[k] : mx;
        for (int k = 0; k < A; k++) se += exp(lg[k] - mx);
        const double rho = exp(lg[tr->mb_actions[i]] - mx - log(se) - tr->mb_logp_old[i]);
        reg[i] = rho > 1 + eps ? 1 : rho < 1 - eps ? 2 : 0;
    }
}

static size_t reuse_pattern(Trainer *tr, uint8_t *pat) {
    const size_t N = (size_t)tr->T * tr->Bm;
    size_t k = relu_pattern_of(&tr->model, &tr->mb, N, pat);
    ratio_regions(tr, pat + k);
    return k + N;
}

static void check_fd_reuse(Trainer *tr) {
    const Model *m = &tr->model;
    const size_t N = (size_t)tr->T * tr->Bm;
    const FDCase fc = {reuse_loss_now, reuse_analytic, reuse_pattern,
                       N * (m->D + (size_t)(m->c1 + m->c2) * m->V * m->V) + N};
    check_fd_case(tr, &fc);
}

// (1) Forced through the sample-reuse path at epochs 1, minibatches 1,
// clip 0, the group's loss and gradient are A2C's: bit for bit when the
// group keeps the envs' order (the same rows, the same kernels), and up to
// summation order (1e-6 + 1e-5 |a2c|) when it permutes them. The ratio of
// the first pass is exactly 1 (approx KL 0). Then trainer_update on that
// path takes one optimizer step and counts one update.
static void test_reuse_identity_is_a2c(void **state) {
    (void)state;
    scripted_trainer(0.7f);
    assert_false(g_tr.reuse);
    char err[256];
    if (trainer_reuse_enable(&g_tr, err, sizeof err) != 0) fail_msg("%s", err);
    assert_true(g_tr.reuse);
    assert_int_equal(g_tr.Bm, TB);
    Model *m = &g_tr.model;
    const size_t P = m->p.total, N = (size_t)TT * TB;
    float *ga = talloc(P * sizeof(float)), *gr = talloc(P * sizeof(float));
    UpdateStats sa, sr;
    g_tr.fixed_targets = 0;
    trainer_forward_unroll(&g_tr);
    trainer_loss(&g_tr, &sa);
    model_backward(m, &g_tr.acts, &g_tr.grads, g_tr.mask, TT, TB);
    memcpy(ga, m->p.grads, P * sizeof(float));

    const int orders[2][TB] = {{0, 1, 2}, {2, 0, 1}};
    for (int o = 0; o < 2; o++) {
        memcpy(g_envs, orders[o], sizeof g_envs);
        trainer_reuse_begin(&g_tr);
        float lr = trainer_reuse_loss(&g_tr, g_envs, &sr);
        model_backward(m, &g_tr.mb, &g_tr.mbg, g_tr.mb_mask, TT, TB);
        memcpy(gr, m->p.grads, P * sizeof(float));
        printf("  order %d %d %d: loss %.9g (A2C %.9g), approx KL %g\n", g_envs[0], g_envs[1],
               g_envs[2], lr, sa.loss, sr.approx_kl);
        assert_true(sr.approx_kl == 0.0f && sr.clip_frac == 0.0f);
        if (o == 0) {
            assert_true(lr == sa.loss);
            assert_true(sr.policy_loss == sa.policy_loss && sr.value_loss == sa.value_loss);
            assert_true(sr.entropy == sa.entropy && sr.cpc_loss == sa.cpc_loss);
            assert_memory_equal(g_tr.mb.logits, g_tr.acts.logits, N * m->A * sizeof(float));
            assert_memory_equal(gr, ga, P * sizeof(float));
        } else {
            const float got[5] = {sr.policy_loss, sr.value_loss, sr.entropy, sr.cpc_loss, sr.loss};
            const float want[5] = {sa.policy_loss, sa.value_loss, sa.entropy, sa.cpc_loss, sa.loss};
            size_t bad = fix_compare("losses", got, want, 5, 1e-6, 1e-5);
            bad += fix_compare("grad", gr, ga, P, 1e-6, 1e-5);
            assert_int_equal(bad, 0);
        }
    }
    const long step0 = g_tr.opt.step;
    const int64_t u0 = g_tr.updates;
    assert_int_equal(trainer_update(&g_tr, &sr, 1e-3f), 0);
    assert_int_equal(sr.steps, 1);
    assert_int_equal(g_tr.opt.step, step0 + 1);
    assert_int_equal(g_tr.updates, u0 + 1);
}

// Sample-reuse trainer on the scripted env, its policy moved away from the
// one that acted (pi head, value head and the LSTM's input weights nudged by
// a fixed pattern), so that the ratios of the group's rows spread across
// both clip bounds. cpc.w x CPC_SCALE as in the A2C test.
static void reuse_trainer(int minibatches, float clip, int negatives, float cpc_weight) {
    Config c;
    tiny_config(&c, cpc_weight);
    c.epochs = 2, c.minibatches = minibatches, c.clip = clip, c.cpc_negatives = negatives;
    scripted_trainer_cfg(&c);
    assert_true(g_tr.reuse);
    Model *m = &g_tr.model;
    if (m->cpc_w >= 0) {
        float *w = nn_param(&m->p, m->cpc_w);
        for (size_t j = 0; j < m->p.t[m->cpc_w].size; j++) w[j] *= CPC_SCALE;
    }
    uint64_t r = 0xC13F;
    const int moved[3] = {m->pi_w, m->pi_b, m->w_ih};
    const float amp[3] = {1.5f, 1.0f, 0.2f};
    for (int i = 0; i < 3; i++) {
        float *w = nn_param(&m->p, moved[i]);
        for (size_t j = 0; j < m->p.t[moved[i]].size; j++) w[j] += amp[i] * (2 * rng_float(&r) - 1);
    }
}

// The group's rows by ratio region and advantage sign: how many the clip
// cuts (no policy gradient) and how many pass; both must occur.
static void expect_clipping(Trainer *tr) {
    const int N = tr->T * tr->Bm;
    uint8_t reg[TT * TB];
    UpdateStats st;
    tr->fixed_targets = 0;
    trainer_reuse_begin(tr);
    trainer_reuse_loss(tr, g_envs, &st);
    ratio_regions(tr, reg);
    int cut = 0, outside = 0;
    for (int i = 0; i < N; i++) {
        outside += reg[i] != 0;
        cut += (reg[i] == 1 && tr->mb_adv[i] > 0) || (reg[i] == 2 && tr->mb_adv[i] < 0);
    }
    printf("  group of %d rows: %d outside the clip range, %d of them clipped; clip_frac %.3f, "
           "approx KL %.3f\n", N, outside, cut, st.clip_frac, st.approx_kl);
    assert_true(fabs(st.clip_frac - (double)outside / N) < 1e-6);
    assert_true(cut > 0 && cut < N);
}

// (2) Finite differences of the clipped loss over every parameter: a group
// of all three envs in a shuffled order (CPC with batch negatives over the
// group), eps 0.2.
static void test_reuse_grad_fd_clip(void **state) {
    (void)state;
    reuse_trainer(1, 0.2f, CPC_NEG_BATCH, 0.7f);
    const int order[TB] = {2, 0, 1};
    memcpy(g_envs, order, sizeof g_envs);
    expect_clipping(&g_tr);
    check_fd_reuse(&g_tr);
}

// ... and a group of one env out of three (minibatches 3): env 1, which
// carries a state into the unroll and starts an episode at t = 2; CPC with
// every latent of the group as candidates (one env has no batch negatives).
static void test_reuse_grad_fd_group(void **state) {
    (void)state;
    reuse_trainer(3, 0.1f, CPC_NEG_ALL, 0.7f);
    assert_int_equal(g_tr.Bm, 1);
    g_envs[0] = 1;
    expect_clipping(&g_tr);
    check_fd_reuse(&g_tr);
}

// The update loop: E * M optimizer steps, one update, parameters moved, and
// the same bits from the same state (the shuffle is a function of the seed
// and the update count).
static void test_reuse_update_steps(void **state) {
    (void)state;
    float *p0 = NULL, *p1 = NULL;
    size_t P = 0;
    for (int run = 0; run < 2; run++) {
        reuse_trainer(3, 0.2f, CPC_NEG_ALL, 0.7f);
        Model *m = &g_tr.model;
        P = m->p.total;
        if (!p0) p0 = talloc(P * sizeof(float)), p1 = talloc(P * sizeof(float));
        float *p = run ? p1 : p0;
        memcpy(p, m->p.params, m->p.total * sizeof(float));
        UpdateStats st;
        assert_int_equal(trainer_update(&g_tr, &st, 1e-3f), 0);
        assert_int_equal(st.steps, 2 * 3);
        assert_int_equal(g_tr.opt.step, 2 * 3);
        assert_int_equal(g_tr.updates, 1);
        assert_true(st.approx_kl != 0 && st.clip_frac > 0);
        assert_true(memcmp(p, m->p.params, m->p.total * sizeof(float)) != 0);
        memcpy(p, m->p.params, m->p.total * sizeof(float));
        trainer_free(&g_tr);
        g_tr_live = 0;
    }
    assert_memory_equal(p0, p1, P * sizeof(float));
}

// trainer_init refuses a group size that does not divide B, and a group of
// one env with CPC's batch negatives.
static void test_reuse_refuses_bad_groups(void **state) {
    (void)state;
    char err[256];
    Config c;
    tiny_config(&c, 0.7f);
    c.minibatches = 2; // 3 envs
    assert_int_equal(config_check(&c, err, sizeof err), 0);
    assert_int_equal(trainer_init(&g_tr, &c, err, sizeof err), -1);
    printf("  %s\n", err);
    assert_non_null(strstr(err, "--minibatches 2"));
    c.minibatches = 3;
    assert_int_equal(trainer_init(&g_tr, &c, err, sizeof err), -1);
    printf("  %s\n", err);
    assert_non_null(strstr(err, "at least 2"));
    c.cpc_weight = 0; // no CPC: groups of one env are fine
    assert_int_equal(trainer_init(&g_tr, &c, err, sizeof err), 0);
    g_tr_live = 1;
    assert_true(g_tr.reuse && g_tr.Bm == 1);
}

// (3) The clipped objective (and the plain term at eps = 0) against
// PyTorch: tests/fixtures/ppo_clip.bin (scripts/make_fixtures_ppo.py, 64
// rows, 12 clipped, ratios 1e-3 or more from a bound). Tolerances: losses
// and dlogits 1e-7 + 1e-5 |torch| (float32 against float64).
static void test_fixture_ppo_clip(void **state) {
    (void)state;
    if (fix_load(&g_fix, "tests/fixtures/ppo_clip.bin") != 0) fail_msg("%s", g_fix.err);
    const int A = ENV_A;
    const FixTensor *lt = fix_get(&g_fix, "logits");
    assert_non_null(lt);
    const int N = lt->dims[0];
    assert_int_equal(lt->dims[1], A);
    const float *hy = need("hyper", 2), *logits = need("logits", (size_t)N * A);
    const float *act = need("actions", N), *lpo = need("logp_old", N), *adv = need("adv", N);
    int *actions = talloc((size_t)N * sizeof(int));
    for (int i = 0; i < N; i++) actions[i] = (int)act[i];
    float *logp = talloc((size_t)N * A * sizeof(float)), *dlogp = talloc((size_t)N * A * sizeof(float));
    float *ent = talloc((size_t)N * sizeof(float)), *dent = talloc((size_t)N * sizeof(float));
    float *dlogits = talloc((size_t)N * A * sizeof(float));
    size_t bad = 0;
    for (int v = 0; v < 2; v++) {
        const char *tag = v == 0 ? "clip" : "plain";
        const float eps = v == 0 ? hy[0] : 0.0f;
        PolicyTerms pt;
        a2c_policy_loss(dlogits, &pt, logp, dlogp, ent, dent, logits, actions, adv, lpo, eps, hy[1],
                        N, A);
        const float got[5] = {(float)pt.policy, (float)pt.entropy,
                              (float)(pt.policy - hy[1] * pt.entropy), (float)pt.clip_frac,
                              (float)pt.approx_kl};
        char name[64];
        snprintf(name, sizeof name, "%s.losses", tag);
        bad += fix_compare(name, got, need(name, 5), 5, 1e-7, 1e-5);
        snprintf(name, sizeof name, "%s.dlogits", tag);
        bad += fix_compare(name, dlogits, need(name, (size_t)N * A), (size_t)N * A, 1e-7, 1e-5);
        printf("  %s: policy %.6f entropy %.6f clip_frac %.4f approx KL %.6f\n", tag, pt.policy,
               pt.entropy, pt.clip_frac, pt.approx_kl);
    }
    assert_int_equal(bad, 0);
}

int main(void) {
    blas_set_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_forward_unroll_reproduces_rollout, teardown),
        cmocka_unit_test_teardown(test_grad_fd_a2c_cpc, teardown),
        cmocka_unit_test_teardown(test_grad_fd_a2c_only, teardown),
        cmocka_unit_test_teardown(test_forward_state_crosses_time_and_resets, teardown),
        cmocka_unit_test_teardown(test_backward_mask_cuts_gradient, teardown),
        cmocka_unit_test_teardown(test_fixture_a2c_cpc, teardown),
        cmocka_unit_test_teardown(test_fixture_a2c, teardown),
        cmocka_unit_test_teardown(test_truncation_bootstrap, teardown),
        cmocka_unit_test_teardown(test_cue_crosses_unroll_boundary, teardown),
        cmocka_unit_test_teardown(test_reuse_identity_is_a2c, teardown),
        cmocka_unit_test_teardown(test_reuse_grad_fd_clip, teardown),
        cmocka_unit_test_teardown(test_reuse_grad_fd_group, teardown),
        cmocka_unit_test_teardown(test_reuse_update_steps, teardown),
        cmocka_unit_test_teardown(test_reuse_refuses_bad_groups, teardown),
        cmocka_unit_test_teardown(test_fixture_ppo_clip, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
