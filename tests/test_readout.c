// test_readout.c — the read-outs `cpcrl probe --save` writes (lab/readout.c).
//
//   fit            on synthetic c_t whose classes are linearly separable, the
//                  softmax read-out is right on > 95% of held-out rows and gives
//                  the true class p > 0.5 on average; its ridge twin scores what
//                  probe_classify scores (the table's figure); fitting twice
//                  gives the same bytes (deterministic)
//   apply          every distribution sums to 1 over the classes seen in
//                  fitting and is 0 elsewhere; equals a double-precision
//                  softmax of the stored weights within 1e-5
//   round trip     save, load: every field and weight equal; encode(parse(x))
//                  == x byte for byte
//   truncation     every length 0 .. len-1 refused with a message naming the
//                  file, the Readout left empty
//   flipped bytes  one bit flipped at every byte: refused (CRC, or magic)
//   version/magic  a newer version (CRC recomputed: the version check refuses,
//                  naming both versions), version 0, a wrong magic
//   structure      under a valid CRC: a class out of range, a class listed
//                  twice, a NaN weight, a trailing byte, a label the task
//                  lacks, a negative inv_sd: each refused with its message
//   checkpoint     readout_check refuses another hidden size or task, naming
//                  both; readout_fitted_seed knows the fitting envs' seeds
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "nn/blas.h"
#include "base/rng.h"
#include "lab/probe.h"
#include "lab/readout.h"

enum { F = 8, NTR = 600, NTE = 300 };
// position classes: 5 cells of a 9x9 map; heading 4; goal 3 cells
static const int POS[5] = {1 * ENV_MAX_SIZE + 1, 1 * ENV_MAX_SIZE + 2, 3 * ENV_MAX_SIZE + 4, 7 * ENV_MAX_SIZE + 7,
                           5 * ENV_MAX_SIZE + 2};
static const int GOAL[3] = {2 * ENV_MAX_SIZE + 6, 6 * ENV_MAX_SIZE + 6, 4 * ENV_MAX_SIZE + 1};

// c_t: features 0..4 carry the position class, 5..6 the heading (2 bits),
// 7 the goal class (3 levels), plus noise.
static void make_samples(ProbeSamples *s, int n, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->n = s->cap = n, s->H = F, s->D = F, s->envs = 4;
    s->c = calloc((size_t)n * F, sizeof(float));
    s->z = calloc((size_t)n * F, sizeof(float));
    for (int l = 0; l < PROBE_NLABELS; l++) s->lab[l] = calloc((size_t)n, sizeof(int));
    uint64_t rng = seed;
    for (int i = 0; i < n; i++) {
        int p = rng_int(&rng, 5), h = rng_int(&rng, 4), g = rng_int(&rng, 3);
        float *c = s->c + (size_t)i * F;
        for (int f = 0; f < F; f++) c[f] = 0.15f * (rng_float(&rng) - 0.5f);
        c[p] += 1.0f;
        c[5] += (float)(h & 1), c[6] += (float)(h >> 1);
        c[7] += (float)g;
        s->lab[PROBE_POS][i] = POS[p], s->lab[PROBE_HEADING][i] = h, s->lab[PROBE_GOAL][i] = GOAL[g];
    }
}

static ProbeSamples g_tr, g_te;
static ProbeResult g_pr;
static ProbeOptions g_po;
static Readout g_r;
static uint8_t *g_buf;
static size_t g_len;
static char g_path[256];

static int setup(void **state) {
    blas_set_threads(1);
    make_samples(&g_tr, NTR, 11);
    make_samples(&g_te, NTE, 12);
    memset(&g_pr, 0, sizeof g_pr);
    g_pr.task = ENV_TASK_GOAL, g_pr.hidden = F, g_pr.envs = 4, g_pr.has_ckpt = 1;
    g_pr.ckpt.frames = 12345, g_pr.ckpt.crc = 0xdeadbeef;
    for (int l = 0; l < PROBE_NLABELS; l++) g_pr.has[l] = 1;
    probe_defaults(&g_po);
    g_po.seed = 1000, g_po.episodes = 7;
    char err[512];
    if (readout_fit(&g_r, &g_pr, &g_tr, &g_te, &g_po, err, sizeof err) < 0) {
        fprintf(stderr, "fit: %s\n", err);
        return -1;
    }
    if (readout_encode(&g_r, &g_buf, &g_len, err, sizeof err) < 0) return -1;
    snprintf(g_path, sizeof g_path, "/tmp/cpcrl_test_readout_%d.bin", (int)getpid());
    return 0;
}

static int teardown(void **state) {
    probe_samples_free(&g_tr);
    probe_samples_free(&g_te);
    readout_free(&g_r);
    free(g_buf);
    unlink(g_path);
    return 0;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}
static void fix_crc(uint8_t *p, size_t n) { put32(p + n - 4, (uint32_t)crc32(0L, p, (uInt)(n - 4))); }

static void assert_empty(const Readout *r) {
    assert_null(r->fslab);
    assert_null(r->islab);
    assert_int_equal(r->F, 0);
}

// parse must fail, its message naming the origin and containing `what`
static void refused(const uint8_t *p, size_t n, const char *what) {
    Readout r;
    char err[512] = "";
    assert_int_equal(readout_parse(&r, p, n, "case.bin", err, sizeof err), -1);
    assert_non_null(strstr(err, "case.bin"));
    if (what && !strstr(err, what)) fail_msg("expected '%s' in: %s", what, err);
    assert_empty(&r);
}

// ----------------------------------------------------------------------------

static void test_fit(void **state) {
    const ReadoutLabel *P = &g_r.lab[PROBE_POS], *G = &g_r.lab[PROBE_GOAL], *Hd = &g_r.lab[PROBE_HEADING];
    assert_int_equal(P->M, 5);
    assert_int_equal(Hd->M, 4);
    assert_int_equal(G->M, 3);
    for (int l = 0; l < PROBE_NLABELS; l++) {
        const ReadoutLabel *L = &g_r.lab[l];
        if (L->acc_soft < 0.95) fail_msg("label %d: held-out softmax accuracy %.3f", l, L->acc_soft);
        if (L->ptrue_soft < 0.5) fail_msg("label %d: held-out mean p(true) %.3f", l, L->ptrue_soft);
        // the ridge figure is the probe table's
        double acc, chance;
        int classes;
        assert_int_equal(probe_classify(g_tr.c, g_tr.lab[l], NTR, g_te.c, g_te.lab[l], NTE, F, g_po.lambda, &acc,
                                        &chance, &classes),
                         0);
        assert_true(acc == L->acc_ridge);
        assert_true(chance == L->chance);
        assert_int_equal(classes, L->M);
    }
    assert_true(g_r.fit_seed == 1000);
    assert_int_equal(g_r.fit_envs, 4);
    assert_int_equal(g_r.episodes, 7);
    assert_int_equal(g_r.iters, READOUT_ITERS);
    assert_true(g_r.ckpt_crc == 0xdeadbeef);
    // deterministic
    Readout r2;
    char err[512];
    uint8_t *b2;
    size_t n2;
    assert_int_equal(readout_fit(&r2, &g_pr, &g_tr, &g_te, &g_po, err, sizeof err), 0);
    assert_int_equal(readout_encode(&r2, &b2, &n2, err, sizeof err), 0);
    assert_int_equal(n2, g_len);
    assert_memory_equal(b2, g_buf, g_len);
    free(b2);
    readout_free(&r2);
}

static void test_apply(void **state) {
    ReadoutBelief *b = malloc(sizeof *b);
    assert_non_null(b);
    for (int i = 0; i < 20; i++) {
        const float *c = g_te.c + (size_t)i * F;
        readout_apply(&g_r, c, b);
        for (int l = 0; l < PROBE_NLABELS; l++) {
            const ReadoutLabel *L = &g_r.lab[l];
            assert_int_equal(b->has[l], 1);
            double sum = 0, z = 0, s[8], mx = -1e300;
            for (int v = 0; v < READOUT_CELLS; v++) sum += b->p[l][v];
            assert_true(fabs(sum - 1.0) < 1e-5);
            for (int j = 0; j < L->M; j++) {
                s[j] = L->soft_b[j];
                for (int f = 0; f < F; f++) s[j] += (double)((c[f] - g_r.mu[f]) * g_r.inv_sd[f]) * L->soft_w[f * L->M + j];
                mx = s[j] > mx ? s[j] : mx;
            }
            for (int j = 0; j < L->M; j++) z += exp(s[j] - mx);
            for (int j = 0; j < L->M; j++) {
                double want = exp(s[j] - mx) / z;
                if (fabs(b->p[l][L->cls[j]] - want) > 1e-5) fail_msg("p %g, want %g", b->p[l][L->cls[j]], want);
            }
        }
        // a value never fitted has p 0
        assert_true(b->p[PROBE_POS][0] == 0.0f);
    }
    free(b);
}

static void test_round_trip(void **state) {
    char err[512];
    assert_int_equal(readout_save(&g_r, g_path, err, sizeof err), 0);
    Readout r;
    if (readout_load(&r, g_path, err, sizeof err) < 0) fail_msg("%s", err);
    assert_int_equal(r.task, g_r.task);
    assert_int_equal(r.F, F);
    assert_true(r.fit_seed == g_r.fit_seed);
    assert_int_equal(r.fit_envs, g_r.fit_envs);
    assert_int_equal(r.n_train, NTR);
    assert_int_equal(r.n_test, NTE);
    assert_true(r.lambda == g_r.lambda);
    assert_true(r.ckpt_frames == g_r.ckpt_frames);
    assert_memory_equal(r.mu, g_r.mu, F * sizeof(float));
    assert_memory_equal(r.inv_sd, g_r.inv_sd, F * sizeof(float));
    for (int l = 0; l < PROBE_NLABELS; l++) {
        const ReadoutLabel *a = &r.lab[l], *b = &g_r.lab[l];
        assert_int_equal(a->has, b->has);
        assert_int_equal(a->M, b->M);
        assert_true(a->acc_soft == b->acc_soft && a->acc_ridge == b->acc_ridge && a->chance == b->chance &&
                    a->ptrue_soft == b->ptrue_soft);
        assert_memory_equal(a->cls, b->cls, (size_t)a->M * sizeof(int));
        assert_memory_equal(a->soft_w, b->soft_w, (size_t)F * a->M * sizeof(float));
        assert_memory_equal(a->ridge_w, b->ridge_w, (size_t)F * a->M * sizeof(float));
        assert_memory_equal(a->soft_b, b->soft_b, (size_t)a->M * sizeof(float));
        assert_memory_equal(a->ridge_b, b->ridge_b, (size_t)a->M * sizeof(float));
    }
    uint8_t *again;
    size_t n;
    assert_int_equal(readout_encode(&r, &again, &n, err, sizeof err), 0);
    assert_int_equal(n, g_len);
    assert_memory_equal(again, g_buf, n);
    free(again);
    readout_free(&r);
    // a missing file and a directory: refused with the path
    assert_int_equal(readout_load(&r, "/nonexistent/readout.bin", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/readout.bin"));
    assert_int_equal(readout_load(&r, "/tmp", err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
}

static void test_truncations(void **state) {
    for (size_t k = 0; k < g_len; k++) refused(g_buf, k, NULL);
}

static void test_flipped_bytes(void **state) {
    uint8_t *p = malloc(g_len);
    assert_non_null(p);
    for (size_t k = 0; k < g_len; k++)
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(p, g_buf, g_len);
            p[k] ^= (uint8_t)(1u << bit);
            refused(p, g_len, NULL);
        }
    free(p);
}

static void test_version_and_magic(void **state) {
    uint8_t *p = malloc(g_len);
    memcpy(p, g_buf, g_len);
    put32(p + 8, READOUT_VERSION + 1);
    fix_crc(p, g_len);
    refused(p, g_len, "newer");
    put32(p + 8, 0);
    fix_crc(p, g_len);
    refused(p, g_len, "version 0");
    memcpy(p, g_buf, g_len);
    memcpy(p, "CPCRLCKP", 8);
    fix_crc(p, g_len);
    refused(p, g_len, "magic");
    free(p);
}

// Offsets inside the file: the header, then mu, inv_sd, then per label.
static size_t label_off(int l) {
    size_t off = 76 + 8 * (size_t)F;
    for (int k = 0; k < l; k++) off += 40 + 4 * (size_t)g_r.lab[k].M + 4 * (2 * (size_t)F * g_r.lab[k].M + 2 * (size_t)g_r.lab[k].M);
    return off;
}

static void test_structure(void **state) {
    uint8_t *p = malloc(g_len + 4);
    // a position class out of range
    memcpy(p, g_buf, g_len);
    put32(p + label_off(PROBE_POS) + 40, READOUT_CELLS);
    fix_crc(p, g_len);
    refused(p, g_len, "position: class 0");
    // a heading class of 4
    memcpy(p, g_buf, g_len);
    put32(p + label_off(PROBE_HEADING) + 40, 4);
    fix_crc(p, g_len);
    refused(p, g_len, "heading");
    // a class listed twice
    memcpy(p, g_buf, g_len);
    put32(p + label_off(PROBE_GOAL) + 44, (uint32_t)g_r.lab[PROBE_GOAL].cls[0]);
    fix_crc(p, g_len);
    refused(p, g_len, "twice");
    // a NaN weight
    memcpy(p, g_buf, g_len);
    put32(p + label_off(PROBE_GOAL) + 40 + 4 * 3 + 8, 0x7fc00000u);
    fix_crc(p, g_len);
    refused(p, g_len, "not finite");
    // a negative inv_sd
    memcpy(p, g_buf, g_len);
    put32(p + 76 + 4 * F, 0xbf800000u);
    fix_crc(p, g_len);
    refused(p, g_len, "inv_sd");
    // an accuracy above 1
    memcpy(p, g_buf, g_len);
    double two = 2.0;
    memcpy(p + label_off(PROBE_POS) + 8, &two, 8);
    fix_crc(p, g_len);
    refused(p, g_len, "held-out");
    // a trailing byte
    memcpy(p, g_buf, g_len - 4);
    p[g_len - 4] = 0;
    fix_crc(p, g_len + 1);
    refused(p, g_len + 1, "after the last");
    // seekavoid has no goal label: this file (with one) is refused for it
    memcpy(p, g_buf, g_len);
    put32(p + 12, ENV_TASK_SEEKAVOID);
    fix_crc(p, g_len);
    refused(p, g_len, "no goal");
    // a class count past the end of the file
    memcpy(p, g_buf, g_len);
    put32(p + label_off(PROBE_POS) + 4, READOUT_CELLS);
    fix_crc(p, g_len);
    refused(p, g_len, "truncated");
    free(p);
}

static void test_checkpoint_match(void **state) {
    char err[512];
    assert_int_equal(readout_check(&g_r, "run/readout.bin", ENV_TASK_GOAL, F, "run/model.ckpt", err, sizeof err), 0);
    assert_int_equal(readout_check(&g_r, "run/readout.bin", ENV_TASK_GOAL, 256, "run/model.ckpt", err, sizeof err), -1);
    assert_non_null(strstr(err, "run/readout.bin"));
    assert_non_null(strstr(err, "hidden size 8"));
    assert_non_null(strstr(err, "hidden size 256"));
    assert_int_equal(readout_check(&g_r, "run/readout.bin", ENV_TASK_WATERMAZE, F, "run/model.ckpt", err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "task goal"));
    assert_non_null(strstr(err, "task watermaze"));
    for (int b = 0; b < 4; b++) assert_int_equal(readout_fitted_seed(&g_r, rng_derive(1000, (uint64_t)b)), 1);
    assert_int_equal(readout_fitted_seed(&g_r, rng_derive(1000, 4)), 0);
    assert_int_equal(readout_fitted_seed(&g_r, 1000), 0);
    assert_int_equal(readout_fitted_seed(&g_r, 1), 0);
    char path[300];
    readout_path_for("/tmp", path, sizeof path);
    assert_string_equal(path, "/tmp/readout.bin");
    readout_path_for("runs/x/best.ckpt", path, sizeof path);
    assert_string_equal(path, "runs/x/readout.bin");
    readout_path_for("model.ckpt", path, sizeof path);
    assert_string_equal(path, "readout.bin");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit),          cmocka_unit_test(test_apply),
        cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_flipped_bytes), cmocka_unit_test(test_version_and_magic),
        cmocka_unit_test(test_structure),    cmocka_unit_test(test_checkpoint_match),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
