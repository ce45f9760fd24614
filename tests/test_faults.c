// test_faults.c — injected faults around checkpoints (agent/ckpt.c), the
// parts that tests/test_reliability.sh cannot reach without root:
//   - a write that fails half-way (RLIMIT_FSIZE: EFBIG, like a full disk)
//     returns -1 with a message naming NAME.tmp, keeps the previous NAME
//     byte for byte and leaves no NAME.tmp;
//   - a directory that cannot hold NAME.tmp (its parent is a file) fails
//     with a message, nothing created;
//   - loading is all-or-nothing: a checkpoint whose CRC is right but whose
//     state is not (an env carrying kind 99, a NaN weight, a negative
//     frame count) is refused by ckpt_load_trainer / ckpt_load_model
//     without changing one byte of the live trainer;
//   - a checkpoint written and read back restores the trainer exactly.
// Tiny nets; runs in well under a second.

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "agent/trainer.h"
#include "nn/blas.h"
#include "agent/ckpt.h"
#include "base/file.h"

static Trainer g_a, g_b;
static char g_dir[64];
static uint8_t *g_file;
static size_t g_len;

static void tiny_config(Config *c) {
    config_defaults(c);
    c->conv1 = 2, c->conv2 = 2, c->latent = 8, c->hidden = 8;
    c->envs = 3, c->unroll = 4, c->cpc_k = 2, c->view = 5;
}

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) { free(p); p = NULL; }
    fclose(f);
    *len = (size_t)n;
    return p;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

// Two trainers of the same config; A has trained 3 updates and is saved to
// g_dir/model.ckpt (bytes in g_file); B is fresh.
static int setup(void **state) {
    (void)state;
    blas_set_threads(1);
    Config c;
    tiny_config(&c);
    char err[512];
    snprintf(g_dir, sizeof g_dir, "/tmp/cpcrl-faults.XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    if (trainer_init(&g_a, &c, err, sizeof err) < 0 || trainer_init(&g_b, &c, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        UpdateStats st;
        trainer_rollout(&g_a);
        if (trainer_update(&g_a, &st, trainer_lr(&g_a)) < 0) return -1;
    }
    double extra[CKPT_EXTRA] = {0};
    extra[0] = g_a.frames + 1, extra[1] = g_a.frames + 1;
    char path[128];
    snprintf(path, sizeof path, "%s/model.ckpt", g_dir);
    if (ckpt_save(&g_a, extra, path, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    g_file = read_all(path, &g_len);
    return g_file ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    trainer_free(&g_a);
    trainer_free(&g_b);
    free(g_file);
    g_file = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

// ----------------------------------------------------------------------------
// Writing

static void test_failed_write_keeps_previous(void **state) {
    (void)state;
    char path[128], tmp[140], err[512] = "";
    snprintf(path, sizeof path, "%s/model.ckpt", g_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    // a file-size limit below the checkpoint: write() fails with EFBIG once
    // the limit is reached, as it would with ENOSPC on a full disk
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = g_len / 2;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    g_a.frames += 1000; // a different checkpoint
    double extra[CKPT_EXTRA] = {0};
    extra[0] = extra[1] = g_a.frames + 1;
    int rc = ckpt_save(&g_a, extra, path, err, sizeof err);
    g_a.frames -= 1000;
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, tmp));
    assert_non_null(strstr(err, "write failed"));
    size_t n;
    uint8_t *now = read_all(path, &n);
    assert_non_null(now);
    assert_int_equal(n, g_len);
    assert_memory_equal(now, g_file, g_len);
    free(now);
    assert_false(exists(tmp));
}

// A state that would not load (here a negative RMSProp square average, which
// turns the next update's weights into NaN) is never written: ckpt_save
// checks its own bytes as the loader would, returns -1 naming the record,
// and the previous checkpoint stays byte for byte.
static void test_save_refuses_state_that_would_not_load(void **state) {
    (void)state;
    char path[128], tmp[140], err[1024] = "";
    snprintf(path, sizeof path, "%s/model.ckpt", g_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    double extra[CKPT_EXTRA] = {0};
    extra[0] = extra[1] = g_a.frames + 1;
    float keep = g_a.opt.v[0];
    g_a.opt.v[0] = -1.0f;
    int rc = ckpt_save(&g_a, extra, path, err, sizeof err);
    g_a.opt.v[0] = keep;
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "opt/state"));
    assert_non_null(strstr(err, "previous checkpoint is kept"));
    // counters out of range are refused the same way
    int64_t u = g_a.updates;
    g_a.updates = INT64_MAX;
    rc = ckpt_save(&g_a, extra, path, err, sizeof err);
    g_a.updates = u;
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "state/updates"));
    size_t n;
    uint8_t *now = read_all(path, &n);
    assert_non_null(now);
    assert_int_equal(n, g_len);
    assert_memory_equal(now, g_file, g_len);
    free(now);
    assert_false(exists(tmp));
}

static void test_uncreatable_tmp(void **state) {
    (void)state;
    char file[128], path[160], err[512] = "";
    snprintf(file, sizeof file, "%s/a-file", g_dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/model.ckpt", file); // parent is not a directory
    assert_int_equal(file_write_atomic(path, "x", 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot create"));
    assert_non_null(strstr(err, file));
}

// ----------------------------------------------------------------------------
// Loading: all or nothing

// A copy of the saved file with `n` bytes at `off` inside record `name`'s
// data replaced, CRC recomputed.
static uint8_t *edited(const char *name, size_t off, const void *bytes, size_t n) {
    Ckpt ck;
    char err[512];
    assert_int_equal(ckpt_parse(&ck, g_file, g_len, "saved", err, sizeof err), 0);
    const CkptRecord *r = ckpt_find(&ck, name);
    assert_non_null(r);
    size_t at = (size_t)(r->data - ck.buf) + off;
    ckpt_free(&ck);
    uint8_t *p = malloc(g_len);
    assert_non_null(p);
    memcpy(p, g_file, g_len);
    memcpy(p + at, bytes, n);
    uint32_t crc = (uint32_t)crc32(0L, p, (uInt)(g_len - 4));
    for (int i = 0; i < 4; i++) p[g_len - 4 + i] = (uint8_t)(crc >> (8 * i));
    return p;
}

// Every byte a checkpoint restores, in one malloc'd buffer.
static uint8_t *live_state(const Trainer *tr, size_t *len) {
    const size_t B = (size_t)tr->B, H = (size_t)tr->model.H;
    struct { const void *p; size_t n; } part[] = {
        {tr->model.p.params, tr->model.p.total * sizeof(float)},
        {tr->opt.state, tr->opt.nstate * sizeof(float)},
        {&tr->opt.step, sizeof tr->opt.step},
        {tr->vec.envs, B * sizeof(Env)},
        {tr->obs, B * (size_t)tr->obs_size},
        {tr->h_carry, B * H * sizeof(float)},
        {tr->c_carry, B * H * sizeof(float)},
        {tr->prev_reward, B * sizeof(float)},
        {tr->prev_done, B * sizeof(float)},
        {tr->prev_action, B * sizeof(int)},
        {tr->rng, B * sizeof(uint64_t)},
        {&tr->frames, sizeof tr->frames},
        {&tr->updates, sizeof tr->updates},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof part / sizeof part[0]; i++) total += part[i].n;
    uint8_t *out = malloc(total), *q = out;
    assert_non_null(out);
    for (size_t i = 0; i < sizeof part / sizeof part[0]; i++) {
        memcpy(q, part[i].p, part[i].n);
        q += part[i].n;
    }
    *len = total;
    return out;
}

static void expect_refused(const char *name, size_t off, const void *bytes, size_t n,
                           const char *want) {
    uint8_t *bad = edited(name, off, bytes, n);
    Ckpt ck;
    char err[512] = "";
    assert_int_equal(ckpt_parse(&ck, bad, g_len, "edited", err, sizeof err), 0); // CRC is fine
    size_t l0, l1;
    uint8_t *before = live_state(&g_b, &l0);
    double extra[CKPT_EXTRA] = {0};
    int rc = ckpt_load_trainer(&ck, &g_b, extra, err, sizeof err);
    uint8_t *after = live_state(&g_b, &l1);
    if (rc == 0) fail_msg("%s: edited checkpoint was accepted", name);
    if (!strstr(err, want)) fail_msg("%s: message '%s' does not say '%s'", name, err, want);
    assert_int_equal(l0, l1);
    if (memcmp(before, after, l0) != 0) fail_msg("%s: refused load changed the trainer (%s)", name, err);
    free(before);
    free(after);
    ckpt_free(&ck);
    free(bad);
}

static void test_load_is_all_or_nothing(void **state) {
    (void)state;
    const int64_t kind99 = 99, neg = -1, w200 = 200; // the env fields' records are i64
    const int act7 = 7;
    const float nan_f = NAN;
    const double neg_frames = -64;
    // env 1 (not 0: the records before it must not be copied either)
    expect_refused("state/envs/carrying", sizeof kind99, &kind99, sizeof kind99, "state/envs");
    expect_refused("state/envs/w", sizeof w200, &w200, sizeof w200, "state/envs");
    expect_refused("state/envs/steps", 0, &neg, sizeof neg, "state/envs");
    expect_refused("state/prev_action", 2 * sizeof(int), &act7, sizeof act7, "prev_action");
    expect_refused("param/lstm.w_hh", 4 * 3, &nan_f, sizeof nan_f, "finite");
    expect_refused("state/frames", 0, &neg_frames, sizeof neg_frames, "state/frames");
}

static void test_load_model_refuses_nonfinite(void **state) {
    (void)state;
    const float inf = INFINITY;
    uint8_t *bad = edited("param/pi.w", 0, &inf, sizeof inf);
    Ckpt ck;
    char err[512] = "";
    assert_int_equal(ckpt_parse(&ck, bad, g_len, "edited", err, sizeof err), 0);
    size_t l0, l1;
    uint8_t *before = live_state(&g_b, &l0);
    assert_int_equal(ckpt_load_model(&ck, &g_b.model, err, sizeof err), -1);
    assert_non_null(strstr(err, "param/pi.w"));
    uint8_t *after = live_state(&g_b, &l1);
    assert_memory_equal(before, after, l0);
    free(before), free(after), free(bad);
    ckpt_free(&ck);
}

static void test_round_trip_restores_everything(void **state) {
    (void)state;
    Ckpt ck;
    char err[512] = "";
    assert_int_equal(ckpt_parse(&ck, g_file, g_len, "saved", err, sizeof err), 0);
    assert_int_equal(ck.len, g_len);
    double extra[CKPT_EXTRA];
    assert_int_equal(ckpt_load_trainer(&ck, &g_b, extra, err, sizeof err), 0);
    ckpt_free(&ck);
    size_t la, lb;
    uint8_t *a = live_state(&g_a, &la), *b = live_state(&g_b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a), free(b);
    // and both go on identically
    UpdateStats sa, sb;
    trainer_rollout(&g_a), trainer_rollout(&g_b);
    assert_int_equal(trainer_update(&g_a, &sa, trainer_lr(&g_a)), 0);
    assert_int_equal(trainer_update(&g_b, &sb, trainer_lr(&g_b)), 0);
    assert_memory_equal(g_a.model.p.params, g_b.model.p.params, g_a.model.p.total * sizeof(float));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_save_refuses_state_that_would_not_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_keeps_previous, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uncreatable_tmp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_is_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_model_refuses_nonfinite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_restores_everything, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
