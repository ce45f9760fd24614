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
// Run from the repo root (fixture paths).
#include "tests/a2c_check.h"

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
    assert_true(nn_params_find(&g_tr.model.p, "cpc.w") >= 0);
    Model *m = &g_tr.model;
    float *w = nn_param(&m->p, nn_params_find(&m->p, "cpc.w"));
    for (size_t j = 0; j < m->p.t[nn_params_find(&m->p, "cpc.w")].size; j++) w[j] *= CPC_SCALE;
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

// Reward prediction on (agent/aux_rp.h), CPC off: its gradient reaches the
// encoder and not the LSTM (it reads z only), and the whole gradient matches
// finite differences of the double reference.
static void test_grad_fd_a2c_rp(void **state) {
    (void)state;
    Config c;
    tiny_config(&c, 0.0f);
    c.rp_weight = 0.9f;
    scripted_trainer_cfg(&c);
    Model *m = &g_tr.model;
    const int rp = nn_params_find(&m->p, "rp.w");
    assert_true(rp >= 0 && nn_params_find(&m->p, "cpc.w") < 0);
    assert_int_equal(g_tr.aux.n, 1);
    float *w = nn_param(&m->p, rp);
    for (size_t j = 0; j < m->p.t[rp].size; j++) w[j] *= CPC_SCALE;
    const size_t P = m->p.total;
    float *g1 = talloc(P * sizeof(float)), *g0 = talloc(P * sizeof(float));
    analytic(&g_tr, g1);
    g_tr.cfg.rp_weight = 0;
    analytic(&g_tr, g0);
    g_tr.cfg.rp_weight = 0.9f;
    const int tensors[] = {m->conv1_w, m->fc_w, m->w_ih, m->w_hh};
    for (int i = 0; i < 4; i++) {
        const NNTensor *t = &m->p.t[tensors[i]];
        double sd = 0, s1 = 0;
        for (size_t j = t->offset; j < t->offset + t->size; j++)
            sd += (double)(g1[j] - g0[j]) * (g1[j] - g0[j]), s1 += (double)g1[j] * g1[j];
        printf("  %-10s RP share of |grad|: %.2f\n", t->name, sqrt(sd / s1));
        if (i < 2) assert_true(sqrt(sd / s1) > CPC_MIN_SHARE);
        else assert_true(sd == 0.0); // the LSTM's weights: untouched by a loss on z
    }
    UpdateStats st;
    trainer_forward_unroll(&g_tr);
    trainer_loss(&g_tr, &st);
    assert_true(st.aux_loss[0] > 0);
    printf("  rp loss %.4f, balanced accuracy %.2f\n", st.aux_loss[0], st.aux_col[0][0]);
    check_fd(&g_tr);
}

static void test_grad_fd_a2c_only(void **state) {
    (void)state;
    scripted_trainer(0.0f);
    assert_false(g_tr.use_cpc);
    assert_int_equal(nn_params_find(&g_tr.model.p, "cpc.w"), -1);
    assert_int_equal(g_tr.aux.n, 0);
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


int main(void) {
    blas_set_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_forward_unroll_reproduces_rollout, teardown),
        cmocka_unit_test_teardown(test_grad_fd_a2c_cpc, teardown),
        cmocka_unit_test_teardown(test_grad_fd_a2c_only, teardown),
        cmocka_unit_test_teardown(test_grad_fd_a2c_rp, teardown),
        cmocka_unit_test_teardown(test_forward_state_crosses_time_and_resets, teardown),
        cmocka_unit_test_teardown(test_backward_mask_cuts_gradient, teardown),
        cmocka_unit_test_teardown(test_fixture_a2c_cpc, teardown),
        cmocka_unit_test_teardown(test_fixture_a2c, teardown),
        cmocka_unit_test_teardown(test_truncation_bootstrap, teardown),
        cmocka_unit_test_teardown(test_cue_crosses_unroll_boundary, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
