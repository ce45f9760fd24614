// test_cpcbal.c — the two losses on the shared trunk (trainer.h: the trunk
// gradient norms of A2C and CPC, --cpc-trunk-ratio) and the per-k InfoNCE
// mean (--cpc-k-weighting per-k) in the whole learner, on the tiny scripted
// Trainer of tests/a2c_check.h (cpc.w x CPC_SCALE so that CPC weighs in the
// shared gradients).
//
// The references are computed here from separate model_backward calls, by
// hand: g_C (the combined backward trainer_update always took), g_A (CPC's
// incoming dh, dz zeroed: A2C alone), g_P (the heads' dlogits, dvalue
// zeroed: CPC alone). Checks:
//   linearity       trunk of g_A + g_P = trunk of g_C (1e-7 + 1e-5 |g_C| per
//                   entry: summation order only).
//   measuring       measure_trunk with the control off: the gradient is g_C
//                   bit for bit, the reported norms are |g_A|, |g_P| over the
//                   trunk (1e-6 relative); off and not measuring: g_C, no norms.
//   ratio rho       the trunk gradient is g_A + s g_P, s = rho |g_A| / |g_P|
//                   (1e-6 (|g_A| + s |g_P|) + 1e-12 per entry), so the CPC part
//                   entering the trunk, |G - g_A|, is rho |g_A| (1e-4 relative:
//                   the difference cancels); W_k's gradient is CPC's, unscaled,
//                   and the heads' A2C's, both bit for bit.
//   held scale      --cpc-balance-every 3: optimizer step 0 measures (the
//                   ratio's gradient bit for bit); steps 1, 2 take one pass
//                   whose trunk gradient is g_A + s0 g_P with the held s0
//                   (the same tolerance), W_k and the heads as with the
//                   control, no norms reported; step 3 measures again.
//   sample reuse    the reuse path at 1/1/0 (2 epochs) reports the same norms
//                   (1e-5 relative: envs shuffled) and applies the same scale.
//   per-k learner   finite differences of the whole learner's loss with the
//                   per-k mean (a2c_check.h's loss in double takes the
//                   trainer's k weighting): tolerances of test_a2c.c.
//   config          the two options round-trip through config.txt's text (a
//                   cpcrl config.txt without a key means its earlier value:
//                   ratio 0, precision fp32);
//                   bad values are refused with the flag named.
// Run from the repo root.
#include "tests/a2c_check.h"

#include "nn/gemm.h" // GEMM_FP32

// ----------------------------------------------------------------------------
// References by hand

typedef struct { float *C, *A, *P; } Parts;

static void scale_cpc_w(Trainer *tr) {
    Model *m = &tr->model;
    float *w = nn_param(&m->p, nn_params_find(&m->p, "cpc.w"));
    for (size_t j = 0; j < m->p.t[nn_params_find(&m->p, "cpc.w")].size; j++) w[j] *= CPC_SCALE;
}

// The three backward passes of the header, each from a fresh trainer_loss
// of the stored unroll (same parameters, same targets).
static void parts_by_hand(Trainer *tr, Parts *g) {
    Model *m = &tr->model;
    const size_t P = m->p.total, N = (size_t)tr->T * tr->B;
    UpdateStats st;
    g->C = talloc(P * sizeof(float));
    g->A = talloc(P * sizeof(float));
    g->P = talloc(P * sizeof(float));
    trainer_loss(tr, &st);
    model_backward(m, &tr->acts, &tr->grads, tr->mask, tr->T, tr->B);
    memcpy(g->C, m->p.grads, P * sizeof(float));
    trainer_loss(tr, &st);
    memset(tr->grads.dh, 0, N * m->H * sizeof(float));
    memset(tr->grads.dz, 0, N * m->D * sizeof(float));
    model_backward(m, &tr->acts, &tr->grads, tr->mask, tr->T, tr->B);
    memcpy(g->A, m->p.grads, P * sizeof(float));
    trainer_loss(tr, &st);
    memset(tr->grads.dlogits, 0, N * m->A * sizeof(float));
    memset(tr->grads.dvalue, 0, N * sizeof(float));
    model_backward(m, &tr->acts, &tr->grads, tr->mask, tr->T, tr->B);
    memcpy(g->P, m->p.grads, P * sizeof(float));
}

// The trunk: conv1.w .. lstm.b_hh, the head of the slab (named, not by offset
// arithmetic of the code under test).
static size_t trunk_end(const Model *m) {
    const NNTensor *t = &m->p.t[nn_params_find(&m->p, "lstm.b_hh")];
    assert_int_equal(m->p.t[nn_params_find(&m->p, "conv1.w")].offset, 0);
    return t->offset + t->size;
}

static double norm_of(const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s);
}

static int rel_close(double got, double want, double rtol) {
    return fabs(got - want) <= rtol * fabs(want);
}

static void up_with_cpc(void (*edit)(Config *c), float ratio) {
    Config c;
    tiny_config(&c, 0.7f);
    c.cpc_trunk_ratio = ratio;
    if (edit) edit(&c);
    scripted_trainer_cfg(&c);
    scale_cpc_w(&g_tr);
    g_tr.fixed_targets = 0;
    trainer_forward_unroll(&g_tr);
}

// ----------------------------------------------------------------------------
// Tests

static void test_parts_and_measuring(void **state) {
    (void)state;
    up_with_cpc(NULL, 0.0f);
    Model *m = &g_tr.model;
    const size_t P = m->p.total, nt = trunk_end(m);
    Parts g;
    parts_by_hand(&g_tr, &g);
    size_t bad = 0;
    for (size_t i = 0; i < nt; i++) {
        const float sum = g.A[i] + g.P[i];
        if (!(fabs(sum - g.C[i]) <= 1e-7 + 1e-5 * fabs(g.C[i]))) bad++;
    }
    assert_int_equal(bad, 0);
    const double na = norm_of(g.A, nt), np = norm_of(g.P, nt);
    printf("  trunk |g_a2c| %.4g, |g_cpc| %.4g\n", na, np);
    assert_true(na > 0 && np > 0.05 * na); // both parts present

    UpdateStats st;
    g_tr.measure_trunk = 1, g_tr.measure_outputs = 1;
    trainer_loss(&g_tr, &st);
    // by hand, where the two losses enter the trunk: A2C's gradient at h through
    // the heads (dlogits W_pi + dvalue W_v, in double), CPC's at h and z
    const Grads *gr = &g_tr.grads;
    const int N = g_tr.T * g_tr.B, H = m->H, A = m->A;
    const float *wpi = nn_param(&m->p, m->pi_w), *wv = nn_param(&m->p, m->v_w);
    double ua = 0, uc = 0;
    for (int n = 0; n < N; n++)
        for (int j = 0; j < H; j++) {
            double d = (double)gr->dvalue[n] * wv[j];
            for (int k = 0; k < A; k++) d += (double)gr->dlogits[(size_t)n * A + k] * wpi[(size_t)k * H + j];
            ua += d * d;
            uc += (double)gr->dh[(size_t)n * H + j] * gr->dh[(size_t)n * H + j];
        }
    for (size_t i = 0; i < (size_t)N * m->D; i++) uc += (double)gr->dz[i] * gr->dz[i];
    trainer_backward(&g_tr, &st);
    assert_memory_equal(m->p.grads, g.C, P * sizeof(float));
    assert_int_equal(st.trunk_n, 1);
    assert_true(st.cpc_trunk_scale == 1.0f);
    if (!rel_close(st.trunk_a2c, na, 1e-6) || !rel_close(st.trunk_cpc, np, 1e-6))
        fail_msg("measured %.8g / %.8g, by hand %.8g / %.8g", st.trunk_a2c, st.trunk_cpc, na, np);
    printf("  where they enter the trunk: |A2C at h| %.4g, |CPC at h, z| %.4g\n", st.out_a2c, st.out_cpc);
    if (!rel_close(st.out_a2c, sqrt(ua), 1e-5) || !rel_close(st.out_cpc, sqrt(uc), 1e-5) || !(ua > 0 && uc > 0))
        fail_msg("at the trunk's outputs %.8g / %.8g, by hand %.8g / %.8g", st.out_a2c, st.out_cpc, sqrt(ua),
                 sqrt(uc));

    g_tr.measure_trunk = 0;
    trainer_loss(&g_tr, &st);
    trainer_backward(&g_tr, &st);
    assert_memory_equal(m->p.grads, g.C, P * sizeof(float));
    assert_int_equal(st.trunk_n, 0);
    assert_true(st.trunk_a2c == 0.0f && st.trunk_cpc == 0.0f);
}

static void check_ratio(float rho) {
    up_with_cpc(NULL, rho);
    Model *m = &g_tr.model;
    const size_t nt = trunk_end(m);
    Parts g;
    parts_by_hand(&g_tr, &g);
    const double na = norm_of(g.A, nt), np = norm_of(g.P, nt), s = rho * na / np;
    UpdateStats st;
    g_tr.measure_trunk = 0; // the control measures anyway
    trainer_loss(&g_tr, &st);
    trainer_backward(&g_tr, &st);
    const float *G = m->p.grads;
    assert_int_equal(st.trunk_n, 1);
    if (!rel_close(st.cpc_trunk_scale, s, 1e-6) || !rel_close(st.trunk_a2c, na, 1e-6) ||
        !rel_close(st.trunk_cpc, np, 1e-6))
        fail_msg("rho %g: scale %.8g (by hand %.8g), norms %.8g %.8g (%.8g %.8g)", rho,
                 st.cpc_trunk_scale, s, st.trunk_a2c, st.trunk_cpc, na, np);
    size_t bad = 0;
    double dn = 0;
    for (size_t i = 0; i < nt; i++) {
        const double want = (double)g.A[i] + s * g.P[i];
        if (!(fabs(G[i] - want) <= 1e-6 * (fabs(g.A[i]) + s * fabs(g.P[i])) + 1e-12)) bad++;
        dn += ((double)G[i] - g.A[i]) * ((double)G[i] - g.A[i]);
    }
    assert_int_equal(bad, 0);
    printf("  rho %g: s %.4g, CPC part in the trunk %.6g = %.6g x |g_a2c| %.6g\n", rho, s,
           sqrt(dn), sqrt(dn) / na, na);
    assert_true(rel_close(sqrt(dn), rho * na, 1e-4));
    // W_k: CPC's gradient, unscaled; the heads: A2C's
    const NNTensor *w = &m->p.t[nn_params_find(&m->p, "cpc.w")];
    assert_memory_equal(G + w->offset, g.P + w->offset, w->size * sizeof(float));
    assert_memory_equal(G + w->offset, g.C + w->offset, w->size * sizeof(float));
    const NNTensor *pi = &m->p.t[nn_params_find(&m->p, "pi.w")], *vb = &m->p.t[nn_params_find(&m->p, "v.b")];
    assert_int_equal(pi->offset, nt);
    assert_memory_equal(G + nt, g.A + nt, (vb->offset + vb->size - nt) * sizeof(float));
}

static void test_ratio_control(void **state) {
    (void)state;
    const float rhos[3] = {0.5f, 1.0f, 3.0f};
    for (int i = 0; i < 3; i++) {
        if (i) teardown(NULL);
        check_ratio(rhos[i]);
    }
}

// --cpc-balance-every 3 on one stored unroll: the optimizer's step counter
// decides (set by hand here; trainer_update counts it).
static void test_held_scale(void **state) {
    (void)state;
    const float rho = 0.5f;
    up_with_cpc(NULL, rho);
    g_tr.cfg.cpc_balance_every = 3;
    Model *m = &g_tr.model;
    const size_t P = m->p.total, nt = trunk_end(m);
    Parts g;
    parts_by_hand(&g_tr, &g);
    const double na = norm_of(g.A, nt), np = norm_of(g.P, nt), s0 = rho * na / np;
    UpdateStats st;
    // step 0: measured, as every step without the option
    g_tr.opt.step = 0;
    trainer_loss(&g_tr, &st);
    trainer_backward(&g_tr, &st);
    float *measured = talloc(P * sizeof(float));
    memcpy(measured, m->p.grads, P * sizeof(float));
    assert_int_equal(st.trunk_n, 1);
    assert_true(rel_close(g_tr.bal_scale, s0, 1e-6));
    g_tr.cfg.cpc_balance_every = 1;
    g_tr.opt.step = 0;
    trainer_loss(&g_tr, &st);
    trainer_backward(&g_tr, &st);
    assert_memory_equal(m->p.grads, measured, P * sizeof(float));
    // steps 1 and 2: one pass with the held scale (made different from the
    // one these parameters would give, to see that it is held)
    g_tr.cfg.cpc_balance_every = 3;
    g_tr.bal_scale = (float)(2.0 * s0);
    const double s = g_tr.bal_scale;
    for (long step = 1; step <= 2; step++) {
        g_tr.opt.step = step;
        g_tr.measure_trunk = 1; // a log row's update: the schedule alone decides
        trainer_loss(&g_tr, &st);
        trainer_backward(&g_tr, &st);
        assert_int_equal(st.trunk_n, 0);
        const float *G = m->p.grads;
        size_t bad = 0;
        for (size_t i = 0; i < nt; i++) {
            const double want = (double)g.A[i] + s * g.P[i];
            // the linearity check's tolerance: the single pass sums in another order
            if (!(fabs(G[i] - want) <= 1e-7 + 1e-5 * (fabs(g.A[i]) + s * fabs(g.P[i])))) {
                if (bad < 3) printf("  entry %zu: %.9g vs %.9g (A %.6g P %.6g)\n", i, G[i], want, g.A[i], g.P[i]);
                bad++;
            }
        }
        assert_int_equal(bad, 0);
        const NNTensor *w = &m->p.t[nn_params_find(&m->p, "cpc.w")];
        assert_memory_equal(G + w->offset, g.P + w->offset, w->size * sizeof(float));
        const NNTensor *vb = &m->p.t[nn_params_find(&m->p, "v.b")];
        for (size_t i = nt; i < vb->offset + vb->size; i++)
            if (!(fabs(G[i] - g.A[i]) <= 1e-7 + 1e-6 * fabs(g.A[i]))) bad++;
        assert_int_equal(bad, 0);
        assert_true(g_tr.bal_scale == (float)s);
    }
    // step 3: measured again, the scale is these parameters' s0
    g_tr.opt.step = 3;
    trainer_loss(&g_tr, &st);
    trainer_backward(&g_tr, &st);
    assert_int_equal(st.trunk_n, 1);
    assert_memory_equal(m->p.grads, measured, P * sizeof(float));
    assert_true(rel_close(g_tr.bal_scale, s0, 1e-6));
}

// The sample-reuse path (forced at 1 minibatch, clip 0, 2 epochs): the first
// step's gradient is A2C's up to the shuffled env order, so its norms and
// scale match; trainer_update averages over the 2 steps it measured.
static void test_ratio_reuse_path(void **state) {
    (void)state;
    up_with_cpc(NULL, 1.0f);
    UpdateStats sa, sr;
    trainer_loss(&g_tr, &sa);
    trainer_backward(&g_tr, &sa);
    g_tr.cfg.epochs = 1;
    char err[256];
    if (trainer_reuse_enable(&g_tr, err, sizeof err) != 0) fail_msg("%s", err);
    assert_int_equal(trainer_update(&g_tr, &sr, 0.0f), 0); // lr 0: the step leaves the parameters
    assert_int_equal(sr.trunk_n, 1);
    if (!rel_close(sr.trunk_a2c, sa.trunk_a2c, 1e-5) || !rel_close(sr.trunk_cpc, sa.trunk_cpc, 1e-5) ||
        !rel_close(sr.cpc_trunk_scale, sa.cpc_trunk_scale, 1e-5))
        fail_msg("reuse %.8g %.8g %.8g, A2C path %.8g %.8g %.8g", sr.trunk_a2c, sr.trunk_cpc,
                 sr.cpc_trunk_scale, sa.trunk_a2c, sa.trunk_cpc, sa.cpc_trunk_scale);
    // two steps per update: the scale measured on the first (two passes) and
    // held for the second (one pass), every update anew
    g_tr.cfg.epochs = 2;
    for (int u = 0; u < 2; u++) {
        assert_int_equal(trainer_update(&g_tr, &sr, 0.0f), 0);
        assert_int_equal(sr.steps, 2);
        assert_int_equal(sr.trunk_n, 1);
        assert_true(rel_close(sr.trunk_a2c, sa.trunk_a2c, 1e-5));
        assert_true(g_tr.bal_scale == sr.cpc_trunk_scale);
    }
}

static void per_k(Config *c) { c->cpc_k_weighting = CPC_KW_PER_K; }

static void test_per_k_whole_learner_fd(void **state) {
    (void)state;
    up_with_cpc(per_k, 0.0f);
    assert_int_equal(((CPC *)aux_state(&g_tr.aux, "cpc"))->k_weighting, CPC_KW_PER_K);
    // with these episode starts the two k count different numbers of
    // triples, so per-k is not the pooled mean
    UpdateStats st;
    trainer_loss(&g_tr, &st);
    assert_true(st.cpc_n[0] != st.cpc_n[1] && st.cpc_n[1] > 0);
    const double pk = (st.cpc_loss_k[0] + st.cpc_loss_k[1]) / 2;
    assert_true(rel_close(st.cpc_loss, pk, 1e-6));
    check_fd(&g_tr);
}

static void test_config_options(void **state) {
    (void)state;
    Config c, back;
    config_defaults(&c);
    assert_int_equal(c.cpc_k_weighting, CPC_KW_POOLED);
    assert_true(c.cpc_trunk_ratio == 0.5f); // the default since issue #16's experiment
    assert_true(c.cpc_weight == 1.0f);
    char err[512];
    char *argv[] = {"--cpc-k-weighting", "per-k", "--cpc-trunk-ratio=0.25"};
    assert_int_equal(config_parse_args(&c, NULL, 3, argv, G_TRAIN_ALL, NULL, 0, NULL, NULL, err,
                                       sizeof err), 0);
    assert_int_equal(c.cpc_k_weighting, CPC_KW_PER_K);
    assert_true(c.cpc_trunk_ratio == 0.25f);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(config_write(&c, f), 0);
    fclose(f);
    assert_non_null(strstr(text, "cpc_k_weighting = per-k\n"));
    assert_non_null(strstr(text, "cpc_trunk_ratio = 0.25\n"));
    config_defaults(&back);
    assert_int_equal(config_parse_text(&back, text, len, "test", err, sizeof err), 0);
    assert_int_equal(back.cpc_k_weighting, CPC_KW_PER_K);
    assert_true(back.cpc_trunk_ratio == 0.25f);
    // A config.txt written by a cpcrl older than --cpc-trunk-ratio (cpcrl's
    // header, no cpc_trunk_ratio line) meant no ratio control: 0, not today's
    // default. A file without the header (a user's partial --config) gets
    // the defaults for what it leaves out.
    char *line = strstr(text, "cpc_trunk_ratio = 0.25\n");
    memmove(line, line + strlen("cpc_trunk_ratio = 0.25\n"), strlen(line + strlen("cpc_trunk_ratio = 0.25\n")) + 1);
    config_defaults(&back);
    assert_int_equal(config_parse_text(&back, text, strlen(text), "old", err, sizeof err), 0);
    assert_true(back.cpc_trunk_ratio == 0.0f);
    assert_true(back.cpc_weight == c.cpc_weight); // present: as written
    // the same for --precision: a cpcrl config.txt without the key predates
    // bf16, so fp32 whatever the struct held (auto here)
    line = strstr(text, "precision = fp32\n");
    assert_non_null(line);
    memmove(line, line + strlen("precision = fp32\n"), strlen(line + strlen("precision = fp32\n")) + 1);
    config_defaults(&back);
    back.precision = CONFIG_PRECISION_AUTO;
    assert_int_equal(config_parse_text(&back, text, strlen(text), "old", err, sizeof err), 0);
    assert_int_equal(back.precision, GEMM_FP32);
    free(text);
    const char *partial = "cpc_weight = 0.1\n";
    config_defaults(&back);
    assert_int_equal(config_parse_text(&back, partial, strlen(partial), "user", err, sizeof err), 0);
    assert_true(back.cpc_trunk_ratio == 0.5f);
    assert_true(back.cpc_weight == 0.1f);
    char *bad1[] = {"--cpc-k-weighting", "equal"}, *bad2[] = {"--cpc-trunk-ratio", "-1"};
    assert_int_equal(config_parse_args(&c, NULL, 2, bad1, G_TRAIN_ALL, NULL, 0, NULL, NULL, err,
                                       sizeof err), -1);
    assert_non_null(strstr(err, "cpc-k-weighting"));
    assert_int_equal(config_parse_args(&c, NULL, 2, bad2, G_TRAIN_ALL, NULL, 0, NULL, NULL, err,
                                       sizeof err), -1);
    assert_non_null(strstr(err, "cpc-trunk-ratio"));
}

int main(void) {
    blas_set_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_parts_and_measuring, teardown),
        cmocka_unit_test_teardown(test_ratio_control, teardown),
        cmocka_unit_test_teardown(test_held_scale, teardown),
        cmocka_unit_test_teardown(test_ratio_reuse_path, teardown),
        cmocka_unit_test_teardown(test_per_k_whole_learner_fd, teardown),
        cmocka_unit_test(test_config_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
