// test_eval_memory.c — eval's memory measure on goal (agent/evaluate.c with
// env/findtime.h): the same checkpoint run again with its memory wiped at
// every find.
//   - An agent that cannot remember (its LSTM forgets everything every step:
//     recurrent weights 0, forget gate shut, the previous action and reward
//     not used) acts the same with and without the wipe, step for step: the
//     control gives the very same waits and return, memory use exactly 0.
//   - An agent with a memory (the same network at its random init) acts
//     differently once wiped: the control is not a no-op.
//   - Training's evaluation (evaluator_run) equals eval_main of a checkpoint
//     of the same parameters on the seed 1000000 + seed.

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/ckpt.h"
#include "agent/train.h"

static char g_dir[256];

static void tiny(Config *c) {
    config_defaults(c);
    c->task = ENV_TASK_GOAL;
    c->envs = 8, c->unroll = 5, c->conv1 = 4, c->conv2 = 4, c->latent = 16, c->hidden = 16;
    c->cpc_weight = 0;
    c->seed = 4;
    c->threads = 1, c->episodes = 300;
    snprintf(c->name, sizeof c->name, "mem");
}

// forget all: W_hh = 0, forget-gate bias -1e4 (f = 0), W_ih's columns of the
// previous action and reward 0; the policy then reads the current view only
static void make_memoryless(Model *m) {
    const int H = m->H, X = m->X, D = m->D;
    memset(nn_param(&m->p, m->w_hh), 0, (size_t)4 * H * H * sizeof(float));
    float *w = nn_param(&m->p, m->w_ih), *b = nn_param(&m->p, m->b_ih);
    for (int r = 0; r < 4 * H; r++)
        for (int x = D; x < X; x++) w[(size_t)r * X + x] = 0.0f;
    for (int r = H; r < 2 * H; r++) b[r] = -1e4f; // gate order i, f, g, o
}

// a policy that reads its state strongly (logits x gain), so that what the
// state holds changes the actions
static void sharpen(Model *m, float gain) {
    float *pw = nn_param(&m->p, m->pi_w);
    for (int i = 0; i < m->A * m->H; i++) pw[i] *= gain;
}

static void save(const Config *c, int memoryless, float gain, const char *path) {
    char err[300];
    Trainer tr;
    assert_int_equal(trainer_init(&tr, c, err, sizeof err), 0);
    if (!memoryless) { // a state that lasts: forget gate open (bias +5)
        float *b = nn_param(&tr.model.p, tr.model.b_ih);
        for (int r = tr.model.H; r < 2 * tr.model.H; r++) b[r] += 5.0f;
    }
    if (memoryless) make_memoryless(&tr.model);
    sharpen(&tr.model, gain);
    double extra[CKPT_EXTRA] = {0};
    extra[0] = extra[1] = 1e9;
    if (ckpt_save(&tr, extra, path, err, sizeof err) != 0) fail_msg("ckpt_save: %s", err);
    trainer_free(&tr);
}

// A checkpoint of the tiny goal net saved as g_dir/NAME, then eval_main of it
// (c: its config); the memory measure must be there.
static void eval_saved(Config *c, const char *name, int memoryless, float gain, EvalResult *r) {
    tiny(c);
    char path[300];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    save(c, memoryless, gain, path);
    assert_int_equal(eval_main(path, c, NULL, r), 0);
    assert_true(r->memory.valid);
}

static void test_memoryless_scores_no_memory(void **state) {
    (void)state;
    Config c;
    EvalResult r;
    eval_saved(&c, "memoryless.ckpt", 1, 5.0f, &r);
    assert_true(r.memory.n_later > 20); // it finds the goal, again and again
    assert_true(r.memory.rmst_later == r.memory.rmst_later_wiped);
    assert_true(r.memory.n_later == r.memory.n_later_wiped);
    assert_true(r.memory.use == 0.0);
    assert_true(r.memory.return_wiped == r.mean_return);
    assert_true(r.memory.use_lo <= 0 && r.memory.use_hi >= 0);
}

static void test_wipe_changes_an_agent_with_memory(void **state) {
    (void)state;
    Config c;
    EvalResult r;
    eval_saved(&c, "lstm.ckpt", 0, 300.0f, &r);
    assert_true(r.memory.n_later > 0);
    assert_true(r.memory.rmst_later != r.memory.rmst_later_wiped || r.memory.return_wiped != r.mean_return ||
                r.memory.n_later != r.memory.n_later_wiped);
    // tmaze has no finds to time
    char path[300];
    c.task = ENV_TASK_TMAZE;
    snprintf(path, sizeof path, "%s/tmaze.ckpt", g_dir);
    save(&c, 0, 1.0f, path);
    assert_int_equal(eval_main(path, &c, NULL, &r), 0);
    assert_false(r.memory.valid);
}

static void test_evaluator_equals_eval(void **state) {
    (void)state;
    Config c;
    tiny(&c);
    c.eval_episodes = 20, c.eval_greedy = 0;
    char err[300], path[300];
    snprintf(path, sizeof path, "%s/ev.ckpt", g_dir);
    save(&c, 0, 1.0f, path);
    Trainer tr;
    assert_int_equal(trainer_init(&tr, &c, err, sizeof err), 0);
    Evaluator ev;
    assert_int_equal(evaluator_init(&ev, &c, err, sizeof err), 0);
    EvalResult a, a2, b;
    assert_int_equal(evaluator_run(&ev, &tr.model, &a), 0);
    assert_int_equal(evaluator_run(&ev, &tr.model, &a2), 0); // the same episodes every time
    Config o = c;
    o.seed = EVAL_SEED_OFFSET + c.seed, o.episodes = 20, o.greedy = 0;
    assert_int_equal(eval_main(path, &o, NULL, &b), 0);
    assert_true(a.mean_return == b.mean_return && a.mean_length == b.mean_length && a.success == b.success);
    assert_true(a2.mean_return == a.mean_return && a2.mean_length == a.mean_length);
    evaluator_free(&ev);
    trainer_free(&tr);
}

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/cpcrl-evalmem.XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memoryless_scores_no_memory),
        cmocka_unit_test(test_wipe_changes_an_agent_with_memory),
        cmocka_unit_test(test_evaluator_equals_eval),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
