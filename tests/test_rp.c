// test_rp.c — tests of reward prediction, the auxiliary head of agent/aux_rp.[ch]:
// against PyTorch (tests/fixtures/rp.bin, scripts/make_fixtures_rp.py), against
// finite differences of the double reference, the masking at episode starts,
// the class balance, and the head behind the interface (agent/aux.h).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/aux.h"
#include "agent/aux_rp.h"
#include "base/rng.h"
#include "tests/fixture.h"

#define T 6
#define B 3
#define D 4
#define X (RP_FRAMES * D)

typedef struct {
    float z[T * B * D], rew[T * B], W[RP_CLASSES * X], b[RP_CLASSES];
    uint8_t starts[T * B];
} Case;

static float unif(uint64_t *r) { return (float)(rng_next(r) >> 40) / (float)(1 << 24) * 2.0f - 1.0f; }

static void make_case(Case *c, uint64_t seed) {
    uint64_t r = seed;
    for (int i = 0; i < T * B * D; i++) c->z[i] = unif(&r);
    for (int i = 0; i < RP_CLASSES * X; i++) c->W[i] = 0.7f * unif(&r);
    for (int i = 0; i < RP_CLASSES; i++) c->b[i] = 0.1f * unif(&r);
    for (int i = 0; i < T * B; i++) {
        const float u = unif(&r);
        c->rew[i] = u < -0.4f ? -1.0f : u > 0.4f ? 0.5f : 0.0f;
    }
    memset(c->starts, 0, sizeof c->starts);
    c->starts[0 * B + 0] = 1, c->starts[3 * B + 1] = 1, c->starts[4 * B + 2] = 1;
}

static double ref(const Case *c, const float *z) {
    double W[RP_CLASSES * X], b[RP_CLASSES];
    for (int i = 0; i < RP_CLASSES * X; i++) W[i] = c->W[i];
    for (int i = 0; i < RP_CLASSES; i++) b[i] = c->b[i];
    return rp_ref_loss(z, c->rew, c->starts, W, b, T, B, D);
}

// The C loss and gradients against PyTorch's, on a case with all three classes.
static void test_fixture(void **state) {
    (void)state;
    Fixture f;
    if (fix_load(&f, "tests/fixtures/rp.bin") != 0) fail_msg("%s", f.err);
    const float *cfg = fix_data(&f, "config", 3);
    assert_non_null(cfg);
    const int t = (int)cfg[0], bb = (int)cfg[1], d = (int)cfg[2], N = t * bb, x = RP_FRAMES * d;
    const float *z = fix_data(&f, "z", (size_t)N * d), *rew = fix_data(&f, "rewards", N);
    const float *sf = fix_data(&f, "starts", N), *W = fix_data(&f, "W", (size_t)RP_CLASSES * x);
    const float *b = fix_data(&f, "b", RP_CLASSES), *loss = fix_data(&f, "loss", 1);
    const float *acc = fix_data(&f, "acc", 1), *count = fix_data(&f, "count", 1);
    const float *dW = fix_data(&f, "dW", (size_t)RP_CLASSES * x), *db = fix_data(&f, "db", RP_CLASSES);
    const float *dz = fix_data(&f, "dz", (size_t)N * d);
    assert_true(z && rew && sf && W && b && loss && acc && count && dW && db && dz);
    uint8_t *starts = calloc(N, 1);
    float *gW = calloc((size_t)RP_CLASSES * x, sizeof(float)), gb[RP_CLASSES] = {0};
    float *gz = calloc((size_t)N * d, sizeof(float));
    for (int i = 0; i < N; i++) starts[i] = sf[i] > 0;
    int n;
    float a;
    const float l = rp_forward_backward(z, rew, starts, W, b, t, bb, d, 1.0f, gW, gb, gz, &n, &a);
    printf("  loss %.6f (torch %.6f), %d rows, balanced accuracy %.3f (torch %.3f)\n", l, loss[0], n,
           a, acc[0]);
    assert_true(fabsf(l - loss[0]) <= 1e-5f * fmaxf(1.0f, fabsf(loss[0])));
    assert_int_equal(n, (int)count[0]);
    assert_true(fabsf(a - acc[0]) < 1e-6f);
    double worst = 0;
    for (int i = 0; i < RP_CLASSES * x; i++) worst = fmax(worst, fabs(gW[i] - dW[i]));
    for (int i = 0; i < RP_CLASSES; i++) worst = fmax(worst, fabs(gb[i] - db[i]));
    for (int i = 0; i < N * d; i++) worst = fmax(worst, fabs(gz[i] - dz[i]));
    printf("  max |grad - torch| %.2g\n", worst);
    assert_true(worst < 1e-5);
    free(starts), free(gW), free(gz);
    fix_free(&f);
}

// dW, db, dz against central differences of the double reference.
static void test_fd(void **state) {
    (void)state;
    Case c;
    make_case(&c, 11);
    float gW[RP_CLASSES * X] = {0}, gb[RP_CLASSES] = {0}, gz[T * B * D] = {0};
    int n;
    float acc;
    const float w = 0.6f;
    const float l = rp_forward_backward(c.z, c.rew, c.starts, c.W, c.b, T, B, D, w, gW, gb, gz, &n, &acc);
    assert_true(n > 0);
    assert_true(fabs(l - ref(&c, c.z)) < 1e-5);
    const double h = 1e-3;
    double worst = 0;
    for (int i = 0; i < RP_CLASSES * X + RP_CLASSES; i++) { // W, then b, in double: exact steps
        double wb[RP_CLASSES * X + RP_CLASSES], d[2];
        for (int j = 0; j < RP_CLASSES * X; j++) wb[j] = c.W[j];
        for (int j = 0; j < RP_CLASSES; j++) wb[RP_CLASSES * X + j] = c.b[j];
        for (int k = 0; k < 2; k++) {
            wb[i] = (i < RP_CLASSES * X ? c.W[i] : c.b[i - RP_CLASSES * X]) + (k ? -h : h);
            d[k] = rp_ref_loss(c.z, c.rew, c.starts, wb, wb + RP_CLASSES * X, T, B, D);
        }
        const float g = i < RP_CLASSES * X ? gW[i] : gb[i - RP_CLASSES * X];
        worst = fmax(worst, fabs(w * (d[0] - d[1]) / (2 * h) - g));
    }
    float zp[T * B * D];
    for (int i = 0; i < T * B * D; i++) { // z is float: the perturbation as stored
        memcpy(zp, c.z, sizeof zp);
        zp[i] = c.z[i] + (float)h;
        const double hp = (double)zp[i] - c.z[i], lp = ref(&c, zp);
        zp[i] = c.z[i] - (float)h;
        const double hm = c.z[i] - (double)zp[i], lm = ref(&c, zp);
        worst = fmax(worst, fabs(w * (lp - lm) / (hp + hm) - gz[i]));
    }
    printf("  %d rows, max |fd - grad| %.2g\n", n, worst);
    assert_true(worst < 2e-4);
}

// A row whose window crosses an episode start does not count: the latents
// only such windows read get no gradient and change nothing; with no row
// left the loss is 0 and nothing is added.
static void test_masking(void **state) {
    (void)state;
    Case c;
    make_case(&c, 5);
    // env 1 starts an episode at t = 3: windows ending at t = 3, 4 do not count,
    // so z_{t=2, env 1} is read by the window ending at t = 2 only
    float gz[T * B * D] = {0}, gW[RP_CLASSES * X] = {0}, gb[RP_CLASSES] = {0};
    int n;
    float acc;
    rp_forward_backward(c.z, c.rew, c.starts, c.W, c.b, T, B, D, 1.0f, gW, gb, gz, &n, &acc);
    // env 2 starts at t = 4: z at t = 3 of env 2 is in windows ending at 3 (counts), 4, 5 (do not)
    int rows = 0;
    for (int t = 2; t < T; t++)
        for (int b = 0; b < B; b++) rows += !c.starts[(t - 1) * B + b] && !c.starts[t * B + b];
    assert_int_equal(n, rows);
    // z at t = 0 of env 1 (read only by the window ending at t = 2, which
    // counts) has a gradient; z of env 1 at t = 3 is read by windows ending at
    // 3, 4, 5: 3 and 4 do not count, 5 does
    double g = 0;
    for (int d = 0; d < D; d++) g += fabsf(gz[(0 * B + 1) * D + d]);
    assert_true(g > 0);
    // every latent of a batch where each window crosses a start: nothing
    uint8_t all[T * B];
    memset(all, 1, sizeof all);
    memset(gz, 0, sizeof gz);
    memset(gW, 0, sizeof gW);
    const float l = rp_forward_backward(c.z, c.rew, all, c.W, c.b, T, B, D, 1.0f, gW, gb, gz, &n, &acc);
    assert_true(l == 0.0f);
    assert_int_equal(n, 0);
    for (int i = 0; i < T * B * D; i++) assert_true(gz[i] == 0.0f);
    for (int i = 0; i < RP_CLASSES * X; i++) assert_true(gW[i] == 0.0f);
}

// Each class present weighs the same: doubling every row of one class (a
// second env with the same latents and rewards) leaves the loss unchanged.
static void test_class_balance(void **state) {
    (void)state;
    float z1[T * 1 * D], rew1[T], W[RP_CLASSES * X], b[RP_CLASSES] = {0.1f, -0.2f, 0.05f};
    uint8_t st1[T] = {0};
    uint64_t r = 9;
    for (int i = 0; i < T * D; i++) z1[i] = unif(&r);
    for (int i = 0; i < RP_CLASSES * X; i++) W[i] = unif(&r);
    for (int t = 0; t < T; t++) rew1[t] = t % 3 == 0 ? 1.0f : t % 3 == 1 ? -1.0f : 0.0f;
    int n1, n2;
    float a1, a2;
    const float l1 = rp_forward_backward(z1, rew1, st1, W, b, T, 1, D, 1.0f, NULL, NULL, NULL, &n1, &a1);
    float z2[T * 2 * D], rew2[T * 2];
    uint8_t st2[T * 2] = {0};
    for (int t = 0; t < T; t++)
        for (int e = 0; e < 2; e++) {
            memcpy(z2 + ((size_t)t * 2 + e) * D, z1 + (size_t)t * D, D * sizeof(float));
            rew2[t * 2 + e] = rew1[t];
        }
    const float l2 = rp_forward_backward(z2, rew2, st2, W, b, T, 2, D, 1.0f, NULL, NULL, NULL, &n2, &a2);
    assert_int_equal(n2, 2 * n1);
    assert_true(fabsf(l1 - l2) < 1e-6f && a1 == a2);
    // the loss of one class alone is its mean cross-entropy: a constant
    // prediction of that class gives loss -> 0 as the logit grows
    float Wz[RP_CLASSES * X] = {0}, bz[RP_CLASSES] = {0, 30.0f, 0};
    float pos[T];
    for (int t = 0; t < T; t++) pos[t] = 1.0f;
    const float l3 = rp_forward_backward(z1, pos, st1, Wz, bz, T, 1, D, 1.0f, NULL, NULL, NULL, &n1, &a1);
    assert_true(l3 < 1e-6f && a1 == 1.0f);
}

// The head behind the interface: --rp-weight turns it on, its tensors sit after
// the value head (and after CPC's), it is named in the log columns.
static void test_registered(void **state) {
    (void)state;
    Config c;
    config_defaults(&c);
    c.conv1 = 2, c.conv2 = 3, c.latent = 8, c.hidden = 6, c.cpc_k = 2;
    char err[256];
    Model m;
    c.rp_weight = 0.5f;
    assert_int_equal(aux_model_init(&m, &c, 7, 1, err, sizeof err), 0);
    const int cpc = nn_params_find(&m.p, "cpc.w"), rp = nn_params_find(&m.p, "rp.w");
    assert_true(cpc == m.aux0 && rp == cpc + 1 && nn_params_find(&m.p, "rp.b") == rp + 1);
    assert_int_equal(m.p.t[rp].shape[0], RP_CLASSES);
    assert_int_equal(m.p.t[rp].shape[1], RP_FRAMES * 8);
    AuxSet s;
    assert_int_equal(aux_init(&s, &c, &m, 5, 4, err, sizeof err), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.h[1].kind->name, "rp");
    assert_int_equal(aux_plain_count(&s), 1);
    assert_non_null(aux_state(&s, "rp"));
    aux_free(&s);
    model_free(&m);
    // off: no tensor, no head; the model before the heads is the same
    Model m0;
    c.rp_weight = 0;
    assert_int_equal(aux_model_init(&m0, &c, 7, 1, err, sizeof err), 0);
    assert_int_equal(nn_params_find(&m0.p, "rp.w"), -1);
    assert_int_equal(aux_init(&s, &c, &m0, 5, 4, err, sizeof err), 0);
    assert_int_equal(s.n, 1);
    assert_null(aux_state(&s, "rp"));
    aux_free(&s);
    model_free(&m0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_fd),
        cmocka_unit_test(test_masking),
        cmocka_unit_test(test_class_balance),
        cmocka_unit_test(test_registered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
