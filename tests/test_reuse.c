// test_reuse.c — sample reuse (--epochs / --minibatches / --clip, trainer.h)
// on the tiny scripted Trainer of tests/a2c_check.h:
//
//   sample reuse    (trainer.h) forced through the reuse path at 1/1/0, a group's
//                   loss and gradient equal A2C's to 1e-6 + 1e-5 |a2c|, the
//                   envs in order and shuffled. Finite
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
#include "tests/a2c_check.h"

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
        L += c->cpc_weight * cpc_ref_loss(a->h, a->z, tr->model.p.params + m->p.t[nn_params_find(&m->p, "cpc.w")].offset,
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
// clip 0, the group's loss and gradient are A2C's up to summation order
// (1e-6 + 1e-5 |a2c|), in the envs' order and permuted: the recomputed
// forward runs the encoder and the heads over all T*B rows at once, the
// rollout's one step of B rows at a time, and a product's last bits may
// depend on its row count (OpenBLAS's kernels for few rows). The ratio of
// the first pass is 1 up to that (approx KL below 1e-6, nothing clipped).
// Then trainer_update on that path takes one optimizer step and counts one
// update.
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
        assert_true(fabsf(sr.approx_kl) < 1e-6f && sr.clip_frac == 0.0f);
        const size_t nl = N * (size_t)m->A;
        size_t bad = fix_compare("logits", g_tr.mb.logits, g_tr.acts.logits, o == 0 ? nl : 0,
                                 1e-6, 1e-5);
        const float got[5] = {sr.policy_loss, sr.value_loss, sr.entropy, sr.cpc_loss, sr.loss};
        const float want[5] = {sa.policy_loss, sa.value_loss, sa.entropy, sa.cpc_loss, sa.loss};
        bad += fix_compare("losses", got, want, 5, 1e-6, 1e-5);
        bad += fix_compare("grad", gr, ga, P, 1e-6, 1e-5);
        assert_int_equal(bad, 0);
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
    if (nn_params_find(&m->p, "cpc.w") >= 0) {
        float *w = nn_param(&m->p, nn_params_find(&m->p, "cpc.w"));
        for (size_t j = 0; j < m->p.t[nn_params_find(&m->p, "cpc.w")].size; j++) w[j] *= CPC_SCALE;
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

// --aux-epochs 1: the first pass's steps carry the auxiliary loss, the later
// passes' do not. On one group's loss (same parameters, pass 0 then pass 1):
// pass 1 gives CPC's incoming gradients dh, dz and cpc.w's gradient all zero,
// the heads' incoming gradients bit for bit those of pass 0, and the loss of
// pass 0 less its weighted CPC term; pass 0 has CPC's gradients. Then the
// update: --aux-epochs E (= every pass) gives the bits of 0, and 1 gives
// other parameters, with the logged CPC figures the means over the steps
// that had CPC (not diluted by the steps without it).
static void test_reuse_aux_epochs(void **state) {
    (void)state;
    reuse_trainer(1, 0.2f, CPC_NEG_BATCH, 0.7f);
    g_tr.cfg.aux_epochs = 1;
    const int order[TB] = {2, 0, 1};
    memcpy(g_envs, order, sizeof g_envs);
    Model *m = &g_tr.model;
    const size_t N = (size_t)g_tr.T * g_tr.Bm, A = (size_t)m->A;
    const int wk = nn_params_find(&m->p, "cpc.w");
    assert_true(wk >= 0);
    const size_t off = m->p.t[wk].offset, nk = m->p.t[wk].size;
    float *dl0 = talloc(N * (A + 1) * sizeof(float));
    UpdateStats s0, s1;
    trainer_reuse_begin(&g_tr);
    g_tr.reuse_epoch = 0;
    const float l0 = trainer_reuse_loss(&g_tr, g_envs, &s0);
    memcpy(dl0, g_tr.mbg.dlogits, N * A * sizeof(float));
    memcpy(dl0 + N * A, g_tr.mbg.dvalue, N * sizeof(float));
    double dh0 = 0, wk0 = 0;
    for (size_t i = 0; i < N * (size_t)m->H; i++) dh0 += fabs(g_tr.mbg.dh[i]);
    for (size_t i = 0; i < nk; i++) wk0 += fabs(m->p.grads[off + i]);
    assert_true(dh0 > 0 && wk0 > 0 && s0.cpc_loss > 0);
    g_tr.reuse_epoch = 1;
    const float l1 = trainer_reuse_loss(&g_tr, g_envs, &s1);
    for (size_t i = 0; i < N * (size_t)m->H; i++) assert_true(g_tr.mbg.dh[i] == 0.0f);
    for (size_t i = 0; i < N * (size_t)m->D; i++) assert_true(g_tr.mbg.dz[i] == 0.0f);
    for (size_t i = 0; i < nk; i++) assert_true(m->p.grads[off + i] == 0.0f);
    assert_memory_equal(dl0, g_tr.mbg.dlogits, N * A * sizeof(float));
    assert_memory_equal(dl0 + N * A, g_tr.mbg.dvalue, N * sizeof(float));
    const double want = (double)l0 - (double)g_tr.cfg.cpc_weight * s0.cpc_loss;
    printf("  pass 0: loss %.6f (CPC %.6f); pass 1: loss %.6f, A2C part of pass 0 %.6f\n", l0,
           s0.cpc_loss, l1, want);
    assert_true(fabs(l1 - want) <= 1e-6 + 1e-5 * fabs(want) && s1.cpc_loss == 0.0f);
    trainer_free(&g_tr);
    g_tr_live = 0;

    // the update: E = 2 passes of M = 3 groups
    float *p[3];
    UpdateStats st[3];
    const int aux[3] = {0, 2, 1};
    size_t P = 0;
    for (int run = 0; run < 3; run++) {
        reuse_trainer(3, 0.2f, CPC_NEG_ALL, 0.7f);
        g_tr.cfg.aux_epochs = aux[run];
        P = g_tr.model.p.total;
        assert_int_equal(trainer_update(&g_tr, &st[run], 1e-3f), 0);
        assert_int_equal(st[run].steps, 2 * 3);
        p[run] = talloc(P * sizeof(float));
        memcpy(p[run], g_tr.model.p.params, P * sizeof(float));
        trainer_free(&g_tr);
        g_tr_live = 0;
    }
    assert_memory_equal(p[0], p[1], P * sizeof(float));
    assert_memory_equal(&st[0], &st[1], sizeof st[0]);
    assert_true(memcmp(p[0], p[2], P * sizeof(float)) != 0);
    // the first pass is the same in both runs (same parameters, same order):
    // its CPC figures are of the same size as the every-pass run's
    printf("  update: CPC loss %.4f every pass, %.4f first pass only; pairs per step %d, %d\n",
           st[0].cpc_loss, st[2].cpc_loss, st[0].cpc_count, st[2].cpc_count);
    assert_true(st[2].cpc_loss > 0.75f * st[0].cpc_loss && st[2].cpc_loss < 1.33f * st[0].cpc_loss);
    assert_true(st[2].cpc_count > 0 && 4 * st[2].cpc_count >= 3 * st[0].cpc_count);
}

// trainer_init refuses a group size that does not divide B, and a group of
// one env with CPC's batch negatives.
static void test_reuse_refuses_bad_groups(void **state) {
    (void)state;
    char err[256];
    Config c;
    tiny_config(&c, 0.7f);
    c.minibatches = 2; // 3 envs: a settings error (config_check), and refused by the trainer too
    assert_int_equal(config_check(&c, err, sizeof err), -1);
    printf("  %s\n", err);
    assert_non_null(strstr(err, "--minibatches 2 must divide --envs 3"));
    assert_int_equal(trainer_init(&g_tr, &c, err, sizeof err), -1);
    printf("  %s\n", err);
    assert_non_null(strstr(err, "--minibatches 2"));
    c.minibatches = 3;
    assert_int_equal(trainer_init(&g_tr, &c, err, sizeof err), -1);
    printf("  %s\n", err);
    assert_non_null(strstr(err, "at least 2"));
    c.aux_epochs = 1, c.epochs = 1; // nothing to leave CPC out of
    assert_int_equal(config_check(&c, err, sizeof err), -1);
    printf("  %s\n", err);
    assert_non_null(strstr(err, "--aux-epochs 1"));
    c.aux_epochs = 0;
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
        cmocka_unit_test_teardown(test_reuse_identity_is_a2c, teardown),
        cmocka_unit_test_teardown(test_reuse_grad_fd_clip, teardown),
        cmocka_unit_test_teardown(test_reuse_grad_fd_group, teardown),
        cmocka_unit_test_teardown(test_reuse_update_steps, teardown),
        cmocka_unit_test_teardown(test_reuse_aux_epochs, teardown),
        cmocka_unit_test_teardown(test_reuse_refuses_bad_groups, teardown),
        cmocka_unit_test_teardown(test_fixture_ppo_clip, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
