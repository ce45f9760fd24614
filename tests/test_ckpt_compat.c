// test_ckpt_compat.c — checkpoint versions (agent/ckpt.c): the envs written
// field by field (version 2), and the version-1 files written before it
// (raw Env structs in "state/envs") still loading and resuming exactly.
//
//   fixture      tests/fixtures/run_v0/model.ckpt, written by an older cpcrl
//                (version 1), loads; resumed to 14000 frames (which writes a
//                version-2 checkpoint) and from that to 2e4, its log.csv is
//                the older cpcrl's own resumed log (log_resumed_2e4.csv):
//                bit for bit but the sps column where the numbers are made
//                the same way (made_under.txt: the OpenBLAS kernel and CPU
//                class), else its rows (frames, updates)
//   round trip   a version-2 checkpoint has one record per Env field of the
//                right shape, no raw structs, and restores every env byte for
//                byte (and the trainers then go on identically)
//   refusals     a bad value in a field record (a carried kind 99, a width
//                past 2^31, an env of another config), a missing field record
//                and an unknown version are refused with a message naming it,
//                the live trainer untouched; a version-1 file's bad raw env too
//   coverage     CKPT_ENV_FIELDS covers every byte of Env but the compiler's
//                padding, in order: a field added to Env without a record fails
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "agent/ckpt.h"
#include "agent/train.h"
#include "agent/trainer.h"
#include "nn/blas.h"

#define FIXTURE "tests/fixtures/run_v0"

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

static void copy_file(const char *from, const char *to) {
    size_t n;
    uint8_t *p = read_all(from, &n);
    assert_non_null(p);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
    free(p);
}

static void fix_crc(uint8_t *p, size_t len) {
    uint32_t crc = (uint32_t)crc32(0L, p, (uInt)(len - 4));
    for (int i = 0; i < 4; i++) p[len - 4 + i] = (uint8_t)(crc >> (8 * i));
}

// A copy of file (len bytes) with n bytes at offset off of record `name`'s data replaced.
static uint8_t *edited(const uint8_t *file, size_t len, const char *name, size_t off, const void *bytes, size_t n) {
    Ckpt ck;
    char err[512];
    assert_int_equal(ckpt_parse(&ck, file, len, "file", err, sizeof err), 0);
    const CkptRecord *r = ckpt_find(&ck, name);
    if (!r) fail_msg("no record %s", name);
    size_t at = (size_t)(r->data - ck.buf) + off;
    ckpt_free(&ck);
    uint8_t *p = malloc(len);
    assert_non_null(p);
    memcpy(p, file, len);
    memcpy(p + at, bytes, n);
    fix_crc(p, len);
    return p;
}

static void tiny_config(Config *c) {
    config_defaults(c);
    c->conv1 = 2, c->conv2 = 2, c->latent = 8, c->hidden = 8;
    c->envs = 3, c->unroll = 4, c->cpc_k = 2, c->view = 5, c->task = ENV_TASK_KEYS_DOORS;
}

// ----------------------------------------------------------------------------
// The version-1 fixture

// log.csv without its sps column (3rd); cols12: only frames and updates.
static char *log_text(const char *path, int cols12) {
    size_t n;
    uint8_t *p = read_all(path, &n);
    assert_non_null(p);
    char *out = malloc(n + 1);
    assert_non_null(out);
    size_t o = 0;
    int col = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = (char)p[i];
        if (ch == '\n') { out[o++] = ch; col = 0; continue; }
        if (ch == ',') col++;
        if (cols12 ? col >= 2 : col == 2) continue;
        out[o++] = ch;
    }
    out[o] = 0;
    free(p);
    return out;
}

static void test_v1_fixture_loads(void **state) {
    (void)state;
    Ckpt ck;
    char err[512] = "";
    if (ckpt_read(&ck, FIXTURE "/model.ckpt", err, sizeof err) < 0) fail_msg("%s", err);
    assert_int_equal(ck.version, 1);
    const CkptRecord *raw = ckpt_find(&ck, "state/envs");
    assert_non_null(raw);
    assert_null(ckpt_find(&ck, "state/envs/w"));
    Config c = ck.cfg;
    Trainer tr;
    assert_int_equal(trainer_init(&tr, &c, err, sizeof err), 0);
    double extra[CKPT_EXTRA];
    if (ckpt_load_trainer(&ck, &tr, extra, err, sizeof err) < 0) fail_msg("%s", err);
    assert_int_equal(raw->count, (size_t)tr.B * sizeof(Env));
    assert_memory_equal(tr.vec.envs, raw->data, raw->count); // the raw structs, as they were
    for (int b = 0; b < tr.B; b++) assert_int_equal(env_state_check(&tr.vec.envs[b], err, sizeof err), 0);
    trainer_free(&tr);
    ckpt_free(&ck);
}

// The older cpcrl's run resumed by this one, through a version-2 checkpoint
// half-way, goes on exactly as the older cpcrl's resumed run did.
static void test_v1_fixture_resumes_through_v2(void **state) {
    (void)state;
    char dir[64], path[160], err[512];
    snprintf(dir, sizeof dir, "/tmp/cpcrl-ckcompat.XXXXXX");
    assert_non_null(mkdtemp(dir));
    static const char *const FILES[] = {"config.txt", "log.csv", "model.ckpt"};
    for (int i = 0; i < 3; i++) {
        char from[160];
        snprintf(from, sizeof from, FIXTURE "/%s", FILES[i]);
        snprintf(path, sizeof path, "%s/%s", dir, FILES[i]);
        copy_file(from, path);
    }
    snprintf(path, sizeof path, "%s/model.ckpt", dir);
    Config c; // what `train --resume DIR --frames N --threads 1 --progress 0` passes
    config_defaults(&c);
    c.threads = 1, c.progress = 0;
    c.frames = 14000;
    assert_int_equal(train_main(&c, dir, 1, NULL), 0);
    Ckpt ck;
    if (ckpt_read(&ck, path, err, sizeof err) < 0) fail_msg("%s", err);
    assert_int_equal(ck.version, CKPT_VERSION);
    assert_null(ckpt_find(&ck, "state/envs"));
    assert_non_null(ckpt_find(&ck, "state/envs/grid"));
    ckpt_free(&ck);
    c.frames = 2e4;
    assert_int_equal(train_main(&c, dir, 1, NULL), 0);
    // bit for bit only where the numbers are made the same way (see test_train_eval.sh)
    size_t n;
    uint8_t *mu = read_all(FIXTURE "/made_under.txt", &n);
    assert_non_null(mu);
    char made[200];
    snprintf(made, sizeof made, "%.*s", (int)(n && mu[n - 1] == '\n' ? n - 1 : n), (const char *)mu);
    free(mu);
    char here[200];
    snprintf(here, sizeof here, "OpenBLAS kernel %s (library default; CPU has %s)", blas_kernel_name(),
             blas_class_name(blas_cpu_class()));
    const char *env_core = getenv("OPENBLAS_CORETYPE");
    const int exact = strcmp(made, here) == 0 && !(env_core && *env_core);
    snprintf(path, sizeof path, "%s/log.csv", dir);
    char *want = log_text(FIXTURE "/log_resumed_2e4.csv", !exact), *got = log_text(path, !exact);
    if (strcmp(want, got) != 0) { // the first line that differs
        const char *a = want, *b = got;
        int line = 1;
        for (; *a && *a == *b; a++, b++) line += *a == '\n';
        while (a > want && a[-1] != '\n') a--, b--;
        fail_msg("resumed log.csv (%s) differs from the older cpcrl's at line %d:\n  want %.*s\n  got  %.*s",
                 exact ? "bit for bit, but sps" : "frames and updates", line, (int)strcspn(a, "\n"), a,
                 (int)strcspn(b, "\n"), b);
    }
    if (!exact) fprintf(stderr, "note: '%s' is not '%s': frames and updates compared\n", here, made);
    free(want), free(got);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

// ----------------------------------------------------------------------------
// Version 2

static Trainer g_a, g_b;
static char g_dir[64];
static uint8_t *g_file;
static size_t g_len;

// A trained 3 updates and saved to g_dir/model.ckpt (bytes in g_file); B fresh.
static int setup(void **state) {
    (void)state;
    blas_set_threads(1);
    Config c;
    tiny_config(&c);
    char err[512], path[128];
    snprintf(g_dir, sizeof g_dir, "/tmp/cpcrl-ckv2.XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    if (trainer_init(&g_a, &c, err, sizeof err) < 0 || trainer_init(&g_b, &c, err, sizeof err) < 0) return -1;
    for (int i = 0; i < 3; i++) {
        UpdateStats st;
        trainer_rollout(&g_a);
        if (trainer_update(&g_a, &st, trainer_lr(&g_a)) < 0) return -1;
    }
    g_a.vec.envs[1].carrying = ENV_KEY1; // a value of every kind differs from a fresh env's
    double extra[CKPT_EXTRA] = {0};
    extra[0] = extra[1] = g_a.frames + 1;
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

static void test_v2_records(void **state) {
    (void)state;
    Ckpt ck;
    char err[512];
    assert_int_equal(ckpt_parse(&ck, g_file, g_len, "saved", err, sizeof err), 0);
    assert_int_equal(ck.version, 2);
    assert_null(ckpt_find(&ck, "state/envs"));
    const int B = g_a.B;
    for (int k = 0; k < CKPT_ENV_NFIELDS; k++) {
        const CkptEnvField *f = &CKPT_ENV_FIELDS[k];
        char name[64];
        snprintf(name, sizeof name, "state/envs/%s", f->name);
        const CkptRecord *r = ckpt_find(&ck, name);
        if (!r) fail_msg("no record %s", name);
        assert_int_equal(r->dtype, f->dtype);
        assert_int_equal(r->dims[0], (uint32_t)B);
        assert_int_equal(r->ndim, f->dtype == CK_U8 ? 2 : 1);
        if (f->dtype == CK_U8) assert_int_equal(r->dims[1], (uint32_t)f->size);
        for (int b = 0; b < B; b++) { // each value is the field's, little-endian
            const uint8_t *mem = (const uint8_t *)&g_a.vec.envs[b] + f->off;
            if (f->dtype == CK_I64) {
                int64_t v, want;
                memcpy(&v, r->data + 8 * (size_t)b, 8);
                if (f->size == 4) { int i; memcpy(&i, mem, 4); want = i; }
                else memcpy(&want, mem, 8);
                assert_true(v == want);
            } else {
                assert_memory_equal(r->data + (size_t)b * f->size, mem, f->size);
            }
        }
    }
    const CkptRecord *c = ckpt_find(&ck, "state/envs/carrying");
    int64_t carried;
    memcpy(&carried, c->data + 8, 8);
    assert_true(carried == ENV_KEY1);
    ckpt_free(&ck);
}

static void test_v2_round_trip(void **state) {
    (void)state;
    Ckpt ck;
    char err[512] = "";
    assert_int_equal(ckpt_parse(&ck, g_file, g_len, "saved", err, sizeof err), 0);
    double extra[CKPT_EXTRA];
    if (ckpt_load_trainer(&ck, &g_b, extra, err, sizeof err) < 0) fail_msg("%s", err);
    ckpt_free(&ck);
    assert_memory_equal(g_a.vec.envs, g_b.vec.envs, (size_t)g_a.B * sizeof(Env));
    assert_memory_equal(g_a.obs, g_b.obs, (size_t)g_a.B * g_a.obs_size);
    assert_memory_equal(g_a.rng, g_b.rng, (size_t)g_a.B * sizeof(uint64_t));
    assert_memory_equal(g_a.model.p.params, g_b.model.p.params, g_a.model.p.total * sizeof(float));
    assert_true(g_a.frames == g_b.frames && g_a.updates == g_b.updates);
    for (int u = 0; u < 2; u++) { // and both go on identically
        UpdateStats sa, sb;
        trainer_rollout(&g_a), trainer_rollout(&g_b);
        assert_int_equal(trainer_update(&g_a, &sa, trainer_lr(&g_a)), 0);
        assert_int_equal(trainer_update(&g_b, &sb, trainer_lr(&g_b)), 0);
    }
    assert_memory_equal(g_a.model.p.params, g_b.model.p.params, g_a.model.p.total * sizeof(float));
    assert_memory_equal(g_a.vec.envs, g_b.vec.envs, (size_t)g_a.B * sizeof(Env));
}

// A refused load leaves the live trainer as it was.
static void expect_refused(const uint8_t *file, size_t len, const char *want) {
    Ckpt ck;
    char err[512] = "";
    if (ckpt_parse(&ck, file, len, "edited", err, sizeof err) < 0) {
        if (!strstr(err, want)) fail_msg("message '%s' does not say '%s'", err, want);
        return;
    }
    Env *before = malloc((size_t)g_b.B * sizeof(Env));
    float *pbefore = malloc(g_b.model.p.total * sizeof(float));
    assert_non_null(before), assert_non_null(pbefore);
    memcpy(before, g_b.vec.envs, (size_t)g_b.B * sizeof(Env));
    memcpy(pbefore, g_b.model.p.params, g_b.model.p.total * sizeof(float));
    double extra[CKPT_EXTRA] = {0};
    int rc = ckpt_load_trainer(&ck, &g_b, extra, err, sizeof err);
    ckpt_free(&ck);
    if (rc == 0) fail_msg("edited checkpoint accepted (want '%s')", want);
    if (!strstr(err, want)) fail_msg("message '%s' does not say '%s'", err, want);
    assert_memory_equal(before, g_b.vec.envs, (size_t)g_b.B * sizeof(Env));
    assert_memory_equal(pbefore, g_b.model.p.params, g_b.model.p.total * sizeof(float));
    free(before), free(pbefore);
}

static void test_v2_refusals(void **state) {
    (void)state;
    const int64_t kind99 = 99, wide = (int64_t)1 << 40, size7 = 7, neg = -1;
    struct { const char *rec; size_t off; int64_t v; const char *want; } cases[] = {
        {"state/envs/carrying", 8, kind99, "env 1 state is inconsistent: carrying kind 99"},
        {"state/envs/w", 16, wide, "'state/envs/w': env 2 value 1099511627776, expected a 32-bit int"},
        {"state/envs/cfg.size", 0, size7, "env 0 config differs from the run's"},
        {"state/envs/steps", 8, neg, "state/envs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *bad = edited(g_file, g_len, cases[i].rec, cases[i].off, &cases[i].v, 8);
        expect_refused(bad, g_len, cases[i].want);
        free(bad);
    }
    // a field's record missing (renamed): named
    uint8_t *p = malloc(g_len);
    assert_non_null(p);
    memcpy(p, g_file, g_len);
    uint8_t *at = memmem(p, g_len, "state/envs/picked", 17);
    assert_non_null(at);
    at[16] = 'D';
    fix_crc(p, g_len);
    expect_refused(p, g_len, "missing record 'state/envs/picked'");
    // versions this cpcrl does not read
    for (uint32_t v = 0; v < 5; v += 3) {
        memcpy(p, g_file, g_len);
        for (int i = 0; i < 4; i++) p[8 + i] = (uint8_t)(v >> (8 * i));
        fix_crc(p, g_len);
        char want[64];
        snprintf(want, sizeof want, "checkpoint version %u, this cpcrl reads versions 1 to %d", v, CKPT_VERSION);
        expect_refused(p, g_len, want);
    }
    free(p);
}

// A version-1 file is checked as before: an env carrying kind 99 in its raw structs is refused.
static void test_v1_refusal(void **state) {
    (void)state;
    size_t len;
    uint8_t *file = read_all(FIXTURE "/model.ckpt", &len);
    assert_non_null(file);
    Ckpt ck;
    char err[512];
    assert_int_equal(ckpt_parse(&ck, file, len, "fixture", err, sizeof err), 0);
    Config c = ck.cfg;
    ckpt_free(&ck);
    Trainer tr;
    assert_int_equal(trainer_init(&tr, &c, err, sizeof err), 0);
    const int kind99 = 99;
    uint8_t *bad = edited(file, len, "state/envs", sizeof(Env) + offsetof(Env, carrying), &kind99, sizeof kind99);
    assert_int_equal(ckpt_parse(&ck, bad, len, "edited", err, sizeof err), 0);
    double extra[CKPT_EXTRA];
    assert_int_equal(ckpt_load_trainer(&ck, &tr, extra, err, sizeof err), -1);
    assert_non_null(strstr(err, "record 'state/envs': env 1 state is inconsistent: carrying kind 99"));
    ckpt_free(&ck);
    trainer_free(&tr);
    free(bad), free(file);
}

// The field table tiles Env in order, with only the padding a C compiler
// puts before a field of wider alignment and at the end.
static void test_fields_cover_env(void **state) {
    (void)state;
    size_t at = 0;
    for (int k = 0; k < CKPT_ENV_NFIELDS; k++) {
        const CkptEnvField *f = &CKPT_ENV_FIELDS[k];
        size_t align = f->dtype == CK_U8 ? 1 : f->size; // int, float 4; uint64_t 8
        size_t expect = (at + align - 1) / align * align;
        if (f->off != expect) fail_msg("field %s at byte %zu, expected %zu: a field of Env has no record", f->name, f->off, expect);
        at = f->off + f->size;
        for (int j = 0; j < k; j++) assert_string_not_equal(f->name, CKPT_ENV_FIELDS[j].name);
    }
    size_t end = (at + 7) / 8 * 8;
    if (end != sizeof(Env)) fail_msg("the fields end at byte %zu, Env has %zu: a field has no record", at, sizeof(Env));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_cover_env),
        cmocka_unit_test(test_v1_fixture_loads),
        cmocka_unit_test(test_v1_refusal),
        cmocka_unit_test(test_v1_fixture_resumes_through_v2),
        cmocka_unit_test_setup_teardown(test_v2_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
