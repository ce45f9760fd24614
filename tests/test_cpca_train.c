// test_cpca_train.c — CPC|A (--cpc-mode action) inside the learner:
// agent/trainer.c, agent/model.c, agent/ckpt.c with cpc/cpca.c, on the tiny
// Trainer of tests/a2c_check.h.
//
//   finite diffs    every entry of every parameter tensor (encoder, LSTM,
//                   heads and the seven cpca.* tensors) of the whole loss
//                   A2C + 0.7 CPC|A, batch and all negatives, against the
//                   4-point central difference of the loss in double (the
//                   CPC part by cpca_ref_loss), as test_a2c.c does for the
//                   linear head (same tolerances, a2c_check.h); cpca.w_out
//                   x8 and cpca.w_in x3 so that CPC weighs in the shared
//                   gradients (checked: >= 5% of |grad| of conv1, fc, w_ih,
//                   w_hh).
//   weight 0        --cpc-weight 0 with --cpc-mode action builds no CPC
//                   tensor and no CPC|A workspace (same parameter count as
//                   linear mode at weight 0).
//   init            the tensors before the CPC head are initialized bit for
//                   bit as in linear mode; the head itself the same for the
//                   same seed.
//   sample reuse    forced through the reuse path at 1/1/0: a group's loss and
//                   gradient equal A2C's to 1e-6 + 1e-5 |a2c|, the envs in
//                   order and shuffled (the actions are gathered with the
//                   group).
//   determinism     two runs of the real env, same seed: the same bits
//                   (parameters, optimizer state, every update's figures).
//   checkpoints     save after 3 updates, load into a trainer built from the
//                   file's config, 3 more updates: the same bits as the run
//                   that never stopped. A checkpoint of the other --cpc-mode
//                   is refused with a message naming both modes, and a
//                   linear checkpoint written before --cpc-mode existed (no
//                   cpc_mode key in its config) loads as linear.
#include "tests/a2c_check.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "agent/ckpt.h"

// ----------------------------------------------------------------------------
// helpers

static void action_config(Config *c, float cpc_weight, int negatives) {
    tiny_config(c, cpc_weight);
    c->cpc_mode = CPC_MODE_ACTION;
    c->cpc_action_hidden = 5;
    c->cpc_negatives = negatives;
}

static void scale_tensor(Trainer *tr, int idx, float s) {
    Model *m = &tr->model;
    float *w = nn_param(&m->p, idx);
    for (size_t j = 0; j < m->p.t[idx].size; j++) w[j] *= s;
}

// Scores O(1) (w_out x CPC_SCALE) and a context that reaches them (w_in x
// 3: the GRU state then carries c_t, not only its bias), so that both of
// CPC|A's paths into the shared layers (dz and dc) weigh in.
static void scale_head(Trainer *tr) {
    scale_tensor(tr, nn_params_find(&tr->model.p, "cpca.w_out"), CPC_SCALE);
    scale_tensor(tr, nn_params_find(&tr->model.p, "cpca.w_in"), 3.0f);
}

// ----------------------------------------------------------------------------
// finite differences of the whole learner

static void fd_action(int negatives) {
    Config c;
    action_config(&c, 0.7f, negatives);
    scripted_trainer_cfg(&c);
    Model *m = &g_tr.model;
    assert_true(g_tr.use_cpc && aux_state(&g_tr.aux, "cpca"));
    assert_int_equal(nn_params_find(&m->p, "cpc.w"), -1);
    assert_int_equal(m->G, 5);
    scale_head(&g_tr);
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
        printf("  %-10s CPC|A share of |grad|: %.2f\n", t->name, sqrt(sd / s1));
        assert_true(sqrt(sd / s1) > CPC_MIN_SHARE);
    }
    UpdateStats st;
    trainer_forward_unroll(&g_tr);
    trainer_loss(&g_tr, &st);
    assert_true(st.cpc_count > 0);
    printf("  cpc|a loss %.4f over %d triples, accuracy k=1 %.2f\n", st.cpc_loss, st.cpc_count,
           st.cpc_acc[0]);
    check_fd(&g_tr);
}

static void test_grad_fd_action_batch(void **state) { (void)state; fd_action(CPC_NEG_BATCH); }
static void test_grad_fd_action_all(void **state) { (void)state; fd_action(CPC_NEG_ALL); }

// ----------------------------------------------------------------------------
// what gets built

static void test_weight_zero_builds_nothing(void **state) {
    (void)state;
    Config c;
    action_config(&c, 0.0f, CPC_NEG_BATCH);
    trainer_up(&c);
    const Model *m = &g_tr.model;
    assert_false(g_tr.use_cpc);
    assert_null(aux_state(&g_tr.aux, "cpca"));
    assert_int_equal(m->G, 0);
    assert_int_equal(nn_params_find(&m->p, "cpc.w"), -1);
    for (int i = 0; i < m->p.n; i++) assert_true(strncmp(m->p.t[i].name, "cpc", 3) != 0);
    assert_int_equal(g_tr.aux.n, 0);
    assert_null(aux_state(&g_tr.aux, "cpc"));
    const size_t total = m->p.total;
    trainer_free(&g_tr);
    g_tr_live = 0;
    tiny_config(&c, 0.0f); // linear mode, weight 0: the same network
    trainer_up(&c);
    assert_true(g_tr.model.p.total == total);
}

static void test_init_matches_linear(void **state) {
    (void)state;
    Config c;
    tiny_config(&c, 0.5f);
    trainer_up(&c);
    const Model *ml = &g_tr.model;
    const int head = nn_params_find(&ml->p, "cpc.w"); // everything before it
    assert_true(head > 0);
    const size_t before = ml->p.t[head].offset;
    float *lin = talloc(before * sizeof(float));
    memcpy(lin, ml->p.params, before * sizeof(float));
    trainer_free(&g_tr);
    g_tr_live = 0;

    action_config(&c, 0.5f, CPC_NEG_BATCH);
    trainer_up(&c);
    const Model *m = &g_tr.model;
    assert_int_equal(nn_params_find(&m->p, "cpca.w_in"), head); // the head takes cpc.w's place in the slab
    assert_memory_equal(m->p.params, lin, before * sizeof(float));
    const int G = 5, H = m->H, D = m->D, A = m->A;
    const struct { int idx, d0, d1; } want[] = {
        {nn_params_find(&m->p, "cpca.w_in"), G, H}, {nn_params_find(&m->p, "cpca.b_in"), G, 0}, {nn_params_find(&m->p, "cpca.w_ih"), 3 * G, A},
        {nn_params_find(&m->p, "cpca.w_hh"), 3 * G, G}, {nn_params_find(&m->p, "cpca.b_ih"), 3 * G, 0}, {nn_params_find(&m->p, "cpca.b_hh"), 3 * G, 0},
        {nn_params_find(&m->p, "cpca.w_out"), D, G}};
    size_t n = 0;
    for (int i = 0; i < 7; i++) {
        const NNTensor *t = &m->p.t[want[i].idx];
        assert_int_equal(t->shape[0], want[i].d0);
        if (want[i].d1) assert_int_equal(t->shape[1], want[i].d1);
        n += t->size;
    }
    assert_true(n == cpca_param_count(D, H, G, A));
    assert_true(m->p.total == before + n);
    // the same seed, the same head
    float *head1 = talloc(n * sizeof(float));
    memcpy(head1, m->p.params + before, n * sizeof(float));
    trainer_free(&g_tr);
    g_tr_live = 0;
    trainer_up(&c);
    assert_memory_equal(g_tr.model.p.params + before, head1, n * sizeof(float));
}

// ----------------------------------------------------------------------------
// sample reuse: the A2C identity

static void test_reuse_identity(void **state) {
    (void)state;
    Config c;
    action_config(&c, 0.7f, CPC_NEG_BATCH);
    scripted_trainer_cfg(&c);
    scale_head(&g_tr);
    char err[256];
    if (trainer_reuse_enable(&g_tr, err, sizeof err) != 0) fail_msg("%s", err);
    assert_non_null(((CPCA *)aux_state(&g_tr.mb_aux, "cpca"))->g);
    Model *m = &g_tr.model;
    const size_t P = m->p.total;
    float *ga = talloc(P * sizeof(float)), *gr = talloc(P * sizeof(float));
    UpdateStats sa, sr;
    g_tr.fixed_targets = 0;
    trainer_forward_unroll(&g_tr);
    trainer_loss(&g_tr, &sa);
    assert_true(sa.cpc_count > 0);
    model_backward(m, &g_tr.acts, &g_tr.grads, g_tr.mask, TT, TB);
    memcpy(ga, m->p.grads, P * sizeof(float));
    const int orders[2][TB] = {{0, 1, 2}, {2, 0, 1}};
    for (int o = 0; o < 2; o++) {
        trainer_reuse_begin(&g_tr);
        float lr = trainer_reuse_loss(&g_tr, orders[o], &sr);
        model_backward(m, &g_tr.mb, &g_tr.mbg, g_tr.mb_mask, TT, TB);
        memcpy(gr, m->p.grads, P * sizeof(float));
        printf("  order %d %d %d: loss %.9g (A2C %.9g), cpc %.9g (%.9g)\n", orders[o][0],
               orders[o][1], orders[o][2], lr, sa.loss, sr.cpc_loss, sa.cpc_loss);
        // up to summation order in both orders: the recomputed forward's
        // encoder runs over all T*B rows at once (model_forward_seq), and a
        // product's last bits may depend on its row count
        const float got[2] = {sr.cpc_loss, sr.loss}, want[2] = {sa.cpc_loss, sa.loss};
        size_t bad = fix_compare("losses", got, want, 2, 1e-6, 1e-5);
        bad += fix_compare("grad", gr, ga, P, 1e-6, 1e-5);
        assert_int_equal(bad, 0);
    }
    // and the update loop runs (2 epochs x 3 groups would need B % M == 0: 1 group here)
    assert_int_equal(trainer_update(&g_tr, &sr, 1e-3f), 0);
    assert_true(isfinite(sr.loss) && sr.cpc_count > 0);
}

// ----------------------------------------------------------------------------
// runs on the real env: determinism and checkpoints

static char g_dir[64];

static void run_updates(Trainer *tr, int n, UpdateStats *st) {
    for (int i = 0; i < n; i++) {
        trainer_rollout(tr);
        assert_int_equal(trainer_update(tr, &st[i], 1e-3f), 0);
        assert_true(st[i].cpc_count > 0);
    }
}

static void build(Trainer *tr, const Config *c) {
    char err[256];
    if (config_check(c, err, sizeof err) != 0) fail_msg("config_check: %s", err);
    if (trainer_init(tr, c, err, sizeof err) != 0) fail_msg("trainer_init: %s", err);
}

static void same_state(const Trainer *a, const Trainer *b) {
    assert_true(a->model.p.total == b->model.p.total);
    assert_memory_equal(a->model.p.params, b->model.p.params, a->model.p.total * sizeof(float));
    assert_true(a->opt.nstate == b->opt.nstate);
    assert_memory_equal(a->opt.state, b->opt.state, a->opt.nstate * sizeof(float));
    assert_true(a->frames == b->frames && a->updates == b->updates);
}

static void test_deterministic_and_resume(void **state) {
    (void)state;
    Config c;
    action_config(&c, 0.5f, CPC_NEG_BATCH);
    c.unroll = 6, c.cpc_k = 3, c.envs = 4;
    Trainer a, b, r;
    UpdateStats sa[6], sb[6], sr[3];
    build(&a, &c);
    build(&b, &c);
    run_updates(&a, 3, sa);
    run_updates(&b, 6, sb);
    snprintf(g_dir, sizeof g_dir, "/tmp/cpcrl_test_cpca_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/model.ckpt", g_dir);
    double extra[CKPT_EXTRA] = {0};
    extra[0] = extra[1] = a.frames + 1;
    if (ckpt_save(&a, extra, path, err, sizeof err) != 0) fail_msg("%s", err);
    run_updates(&a, 3, sa + 3);
    // two runs, same seed: the same bits
    same_state(&a, &b);
    assert_memory_equal(sa, sb, sizeof sa);
    // resume from the file into a trainer built from its config
    Ckpt ck;
    if (ckpt_read(&ck, path, err, sizeof err) != 0) fail_msg("%s", err);
    assert_int_equal(ck.cfg.cpc_mode, CPC_MODE_ACTION);
    assert_int_equal(ck.cfg.cpc_action_hidden, 5);
    assert_non_null(ckpt_find(&ck, "param/cpca.w_hh"));
    assert_null(ckpt_find(&ck, "param/cpc.w"));
    build(&r, &ck.cfg);
    double ex[CKPT_EXTRA];
    if (ckpt_load_trainer(&ck, &r, ex, err, sizeof err) != 0) fail_msg("%s", err);
    run_updates(&r, 3, sr);
    same_state(&r, &a);
    assert_memory_equal(sr, sa + 3, sizeof sr);

    // the other mode is refused, naming both
    Config lc = ck.cfg;
    lc.cpc_mode = CPC_MODE_LINEAR;
    Trainer l;
    build(&l, &lc);
    err[0] = 0;
    assert_int_equal(ckpt_load_trainer(&ck, &l, ex, err, sizeof err), -1);
    printf("  refused: %s\n", err);
    assert_non_null(strstr(err, "--cpc-mode action"));
    assert_non_null(strstr(err, "--cpc-mode linear"));
    assert_int_equal(ckpt_load_model(&ck, &l.model, err, sizeof err), -1);
    ckpt_free(&ck);

    // and the reverse: a linear checkpoint into a CPC|A model
    snprintf(path, sizeof path, "%s/linear.ckpt", g_dir);
    extra[0] = extra[1] = l.frames + 1;
    if (ckpt_save(&l, extra, path, err, sizeof err) != 0) fail_msg("%s", err);
    if (ckpt_read(&ck, path, err, sizeof err) != 0) fail_msg("%s", err);
    assert_int_equal(ckpt_load_model(&ck, &r.model, err, sizeof err), -1);
    assert_non_null(strstr(err, "--cpc-mode linear"));
    ckpt_free(&ck);
    trainer_free(&l);
    trainer_free(&a);
    trainer_free(&b);
    trainer_free(&r);
}

// A linear checkpoint as written before --cpc-mode existed: its embedded
// config has neither key. It parses as linear mode and loads.
static void test_old_linear_checkpoint_loads(void **state) {
    (void)state;
    Config c;
    tiny_config(&c, 0.5f);
    Trainer a;
    build(&a, &c);
    UpdateStats st[1];
    run_updates(&a, 1, st);
    snprintf(g_dir, sizeof g_dir, "/tmp/cpcrl_test_cpca_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/model.ckpt", g_dir);
    double extra[CKPT_EXTRA] = {0};
    extra[0] = extra[1] = a.frames + 1;
    if (ckpt_save(&a, extra, path, err, sizeof err) != 0) fail_msg("%s", err);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(len > 20 && len < sizeof buf);
    // cut the two lines out of the config text, fix its length and the CRC
    const char *cut = "cpc_mode = linear\ncpc_action_hidden = 64\n";
    const size_t cl = strlen(cut);
    uint8_t *at = memmem(buf, len, cut, cl);
    assert_non_null(at);
    memmove(at, at + cl, len - (size_t)(at - buf) - cl);
    len -= cl;
    uint32_t cfglen = (uint32_t)buf[12] | (uint32_t)buf[13] << 8 | (uint32_t)buf[14] << 16 |
                      (uint32_t)buf[15] << 24;
    cfglen -= (uint32_t)cl;
    for (int i = 0; i < 4; i++) buf[12 + i] = (uint8_t)(cfglen >> (8 * i));
    uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(len - 4));
    for (int i = 0; i < 4; i++) buf[len - 4 + i] = (uint8_t)(crc >> (8 * i));
    Ckpt ck;
    if (ckpt_parse(&ck, buf, len, "old.ckpt", err, sizeof err) != 0) fail_msg("%s", err);
    assert_null(memmem(ck.buf, ck.len, "cpc_mode", 8));
    assert_int_equal(ck.cfg.cpc_mode, CPC_MODE_LINEAR);
    Trainer b;
    build(&b, &ck.cfg);
    double ex[CKPT_EXTRA];
    if (ckpt_load_trainer(&ck, &b, ex, err, sizeof err) != 0) fail_msg("%s", err);
    same_state(&a, &b);
    ckpt_free(&ck);
    trainer_free(&a);
    trainer_free(&b);
}

static int rm_dir(void **state) {
    (void)state;
    if (g_dir[0]) {
        char p[128];
        const char *names[] = {"model.ckpt", "linear.ckpt"};
        for (int i = 0; i < 2; i++) {
            snprintf(p, sizeof p, "%s/%s", g_dir, names[i]);
            unlink(p);
        }
        rmdir(g_dir);
        g_dir[0] = 0;
    }
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_weight_zero_builds_nothing, teardown),
        cmocka_unit_test_teardown(test_init_matches_linear, teardown),
        cmocka_unit_test_teardown(test_grad_fd_action_batch, teardown),
        cmocka_unit_test_teardown(test_grad_fd_action_all, teardown),
        cmocka_unit_test_teardown(test_reuse_identity, teardown),
        cmocka_unit_test_teardown(test_deterministic_and_resume, rm_dir),
        cmocka_unit_test_teardown(test_old_linear_checkpoint_loads, rm_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
