// test_stats.c — tests of agent/stats.[ch] (the comparison statistics) and of
// the linear algebra of agent/probe.[ch] (Cholesky, ridge, linear probe).
//
// Every expected value is worked out by hand in the comment beside it.
// Tolerances: 1e-12 for closed-form values (exact in double up to rounding);
// bootstrap percentiles whose true value is an atom of the bootstrap
// distribution (hand-computed below) must match exactly; the large-n
// bootstrap CI must be within 10% of the normal-theory interval.

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

#include "lab/probe.h"
#include "lab/stats.h"
#include "base/rng.h"

#define TOL 1e-12
#define assert_close(a, b, tol)                                                                  \
    do {                                                                                         \
        double _a = (a), _b = (b);                                                               \
        if (!(fabs(_a - _b) <= (tol)))                                                           \
            fail_msg("%s = %.15g, expected %.15g (tolerance %g)", #a, _a, _b, (double)(tol));     \
    } while (0)

// ----------------------------------------------------------------------------
// Means, percentiles, bootstrap

static void test_percentile_linear(void **state) {
    (void)state;
    const double s[4] = {1, 2, 3, 4};
    assert_close(stats_percentile(s, 4, 0.5), 2.5, TOL);   // index 1.5
    assert_close(stats_percentile(s, 4, 0.25), 1.75, TOL); // index 0.75
    assert_close(stats_percentile(s, 4, 0.0), 1.0, TOL);
    assert_close(stats_percentile(s, 4, 1.0), 4.0, TOL);
    assert_close(stats_mean(s, 4), 2.5, TOL);
}

// x = {0, 0, 0, 10}: a resample's mean is 10 B / 4 with B ~ Binomial(4, 1/4).
// P(B = 0) = 0.316 > 0.025, so the 2.5th percentile is 0; P(B <= 2) = 0.949
// and P(B <= 3) = 0.996, so the 97.5th percentile is 10 * 3 / 4 = 7.5.
static void test_bootstrap_ci_hand(void **state) {
    (void)state;
    const double x[4] = {0, 10, 0, 0};
    double lo, hi;
    assert_int_equal(stats_bootstrap_ci(x, 4, 10000, STATS_SEED, &lo, &hi), 0);
    assert_close(lo, 0.0, TOL);
    assert_close(hi, 7.5, TOL);
    // {0, 1}: resampled means 0 (1/4), 0.5 (1/2), 1 (1/4) -> CI [0, 1]
    const double y[2] = {0, 1};
    assert_int_equal(stats_bootstrap_ci(y, 2, 10000, STATS_SEED, &lo, &hi), 0);
    assert_close(lo, 0.0, TOL);
    assert_close(hi, 1.0, TOL);
}

static void test_bootstrap_ci_degenerate(void **state) {
    (void)state;
    const double c[5] = {3, 3, 3, 3, 3};
    double lo, hi;
    assert_int_equal(stats_bootstrap_ci(c, 5, 1000, 1, &lo, &hi), 0);
    assert_close(lo, 3.0, TOL);
    assert_close(hi, 3.0, TOL);
    const double one[1] = {7};
    assert_int_equal(stats_bootstrap_ci(one, 1, 1000, 1, &lo, &hi), 0);
    assert_close(lo, 7.0, TOL);
    assert_close(hi, 7.0, TOL);
    assert_int_equal(stats_bootstrap_ci(one, 0, 1000, 1, &lo, &hi), -1);
}

// Same seed, same interval; and for n = 100 values 0..99 (population variance
// 833.25) the interval is close to 49.5 +- 1.96 sqrt(833.25 / 100) = 49.5 +- 5.66.
static void test_bootstrap_ci_normal(void **state) {
    (void)state;
    double x[100];
    for (int i = 0; i < 100; i++) x[i] = i;
    double lo, hi, lo2, hi2;
    assert_int_equal(stats_bootstrap_ci(x, 100, 10000, 42, &lo, &hi), 0);
    assert_int_equal(stats_bootstrap_ci(x, 100, 10000, 42, &lo2, &hi2), 0);
    assert_true(lo == lo2 && hi == hi2);
    // resampling the empirical distribution: sd of a mean = sqrt(833.25 / 100)
    double half = 1.96 * sqrt(833.25) / 10.0;
    assert_close(lo, 49.5 - half, 0.1 * half);
    assert_close(hi, 49.5 + half, 0.1 * half);
}

// Difference of means: {10, 11, 12} vs {0, 1, 2}: every resampled difference
// lies in [10 - 2, 12 - 0] = [8, 12], so the CI is above 0: "better".
static void test_diff_ci_and_verdict(void **state) {
    (void)state;
    const double a[3] = {10, 11, 12}, b[3] = {0, 1, 2};
    double lo, hi;
    assert_int_equal(stats_bootstrap_diff_ci(a, 3, b, 3, 10000, STATS_SEED, &lo, &hi), 0);
    assert_true(lo >= 8 && hi <= 12 && lo > 0);
    assert_int_equal(stats_verdict(lo, hi), VERDICT_BETTER);
    assert_int_equal(stats_bootstrap_diff_ci(b, 3, a, 3, 10000, STATS_SEED, &lo, &hi), 0);
    assert_int_equal(stats_verdict(lo, hi), VERDICT_WORSE);
    assert_int_equal(stats_verdict(-0.1, 0.2), VERDICT_NSD);
    assert_int_equal(stats_verdict(0.0, 0.2), VERDICT_NSD); // touching 0 is not significant
    assert_string_equal(stats_verdict_name(VERDICT_NSD), "no significant difference");
    // final return or AUC: one significant side decides, both sides disagreeing is mixed
    assert_int_equal(stats_verdict_either(-0.1, 0.2, 0.05, 0.3), VERDICT_BETTER);
    assert_int_equal(stats_verdict_either(0.1, 0.2, -0.05, 0.3), VERDICT_BETTER);
    assert_int_equal(stats_verdict_either(-0.1, 0.2, -0.3, -0.05), VERDICT_WORSE);
    assert_int_equal(stats_verdict_either(0.1, 0.2, -0.3, -0.05), VERDICT_MIXED);
    assert_int_equal(stats_verdict_either(-0.1, 0.2, -0.3, 0.05), VERDICT_NSD);
    assert_int_equal(stats_verdict_either(NAN, NAN, 0.1, 0.2), VERDICT_BETTER); // no final-return CI
    assert_string_equal(stats_verdict_name(VERDICT_MIXED), "mixed");
    // identical samples: the CI of the difference straddles 0
    assert_int_equal(stats_bootstrap_diff_ci(a, 3, a, 3, 10000, STATS_SEED, &lo, &hi), 0);
    assert_true(lo < 0 && hi > 0);
}

// ----------------------------------------------------------------------------
// IQM, trim mean, probability of improvement

static void test_iqm(void **state) {
    (void)state;
    // n = 4: keep [1, 3] -> values 2 and 3 -> 2.5
    const double a[4] = {4, 1, 3, 2};
    assert_close(stats_iqm(a, 4), 2.5, TOL);
    // n = 5: keep [1.25, 3.75]: 2 * 0.75 + 3 + 4 * 0.75 over 2.5 = 7.5 / 2.5 = 3
    const double b[5] = {100, 2, 3, 1, 4}; // the outlier 100 has no weight
    assert_close(stats_iqm(b, 5), 3.0, TOL);
    // n = 3: keep [0.75, 2.25]: 1 * 0.25 + 2 + 10 * 0.25 over 1.5 = 4.75 / 1.5
    const double c[3] = {10, 1, 2};
    assert_close(stats_iqm(c, 3), 4.75 / 1.5, TOL);
    // n = 6: keep [1.5, 4.5]: 2 * 0.5 + 4 + 8 + 16 * 0.5 over 3 = 21 / 3 = 7
    const double d[6] = {1, 2, 4, 8, 16, 32};
    assert_close(stats_iqm(d, 6), 7.0, TOL);
    const double e[1] = {5};
    assert_close(stats_iqm(e, 1), 5.0, TOL);
    assert_true(isnan(stats_iqm(e, 0)));
}

static void test_trim_mean_scipy(void **state) {
    (void)state;
    // scipy.stats.trim_mean(x, 0.25) drops int(0.25 n) values from each end
    const double d[6] = {1, 2, 4, 8, 16, 32};
    assert_close(stats_trim_mean(d, 6, 0.25), 7.5, TOL); // mean(2, 4, 8, 16)
    const double c[3] = {10, 1, 2};
    assert_close(stats_trim_mean(c, 3, 0.25), 13.0 / 3, TOL); // drops nothing
    double x[10];
    for (int i = 0; i < 10; i++) x[i] = i + 1;
    assert_close(stats_trim_mean(x, 10, 0.25), 5.5, TOL); // mean(3..8)
    assert_close(stats_iqm(x, 10), 5.5, TOL);             // 3/2 + 4+5+6+7 + 8/2 over 5
    // multiples of 4: IQM == trim_mean
    const double y[8] = {9, 1, 7, 3, 100, -50, 4, 4};
    assert_close(stats_iqm(y, 8), stats_trim_mean(y, 8, 0.25), TOL);
}

static void test_prob_improvement(void **state) {
    (void)state;
    // X = {1, 2, 3}, Y = {2, 2, 4}: x=1 wins 0; x=2 ties twice (0.5 + 0.5);
    // x=3 beats both 2s: 2. Total 3 of 9 pairs.
    const double x[3] = {1, 2, 3}, y[3] = {2, 2, 4};
    assert_close(stats_prob_improvement(x, 3, y, 3), 1.0 / 3, TOL);
    assert_close(stats_prob_improvement(y, 3, x, 3), 2.0 / 3, TOL); // P(X>Y) + P(Y>X) = 1
    const double a[2] = {5, 6}, b[1] = {0};
    assert_close(stats_prob_improvement(a, 2, b, 1), 1.0, TOL);
    assert_close(stats_prob_improvement(b, 1, a, 2), 0.0, TOL);
    assert_close(stats_prob_improvement(a, 2, a, 2), 0.5, TOL);
    assert_true(isnan(stats_prob_improvement(a, 0, b, 1)));
}

// ----------------------------------------------------------------------------
// Per-run metrics

static void test_final_return(void **state) {
    (void)state;
    double f[20], r[20];
    // 10 rows at 10, 20, ..., 100: only the row at 100 is past 0.9 * 100
    for (int i = 0; i < 10; i++) f[i] = 10 * (i + 1), r[i] = i + 1;
    assert_close(stats_final_return(f, r, 10, 0.1), 10.0, TOL);
    // 20 rows at 5, 10, ..., 100: rows 95 and 100 -> mean(19, 20)
    for (int i = 0; i < 20; i++) f[i] = 5 * (i + 1), r[i] = i + 1;
    assert_close(stats_final_return(f, r, 20, 0.1), 19.5, TOL);
    // NaN rows skipped; all-NaN tail falls back to the last finite row
    r[19] = NAN;
    assert_close(stats_final_return(f, r, 20, 0.1), 19.0, TOL);
    r[18] = NAN;
    assert_close(stats_final_return(f, r, 20, 0.1), 18.0, TOL);
    double g[2] = {1, 2}, nanr[2] = {NAN, NAN};
    assert_true(isnan(stats_final_return(g, nanr, 2, 0.1)));
}

static void test_auc(void **state) {
    (void)state;
    // rows (10, 1), (20, 3), (40, 2): 1 * 10 (held from 0) + (1+3)/2 * 10 +
    // (3+2)/2 * 20 = 10 + 20 + 50 = 80, over 40 frames = 2
    const double f[3] = {10, 20, 40}, r[3] = {1, 3, 2};
    assert_close(stats_auc(f, r, 3), 2.0, TOL);
    // a NaN row in between is skipped: (10,1), (40,2): 10 + 1.5 * 30 = 55 / 40
    const double f2[3] = {10, 20, 40}, r2[3] = {1, NAN, 2};
    assert_close(stats_auc(f2, r2, 3), 55.0 / 40, TOL);
    // constant return c: AUC = c
    const double f3[4] = {3, 7, 8, 20}, r3[4] = {0.5, 0.5, 0.5, 0.5};
    assert_close(stats_auc(f3, r3, 4), 0.5, TOL);
}

static void test_frames_to(void **state) {
    (void)state;
    // rows (10, 1), (20, NaN), (30, 3), (40, 2.5): >= 2.5 first at 30 (the
    // NaN row skipped, equality counts); >= 3 at 30; >= 1 at 10 (first row)
    const double f[4] = {10, 20, 30, 40}, r[4] = {1, NAN, 3, 2.5};
    int hit = -1;
    assert_close(stats_frames_to(f, r, 4, 2.5, &hit), 30, TOL);
    assert_int_equal(hit, 1);
    assert_close(stats_frames_to(f, r, 4, 1, &hit), 10, TOL);
    assert_int_equal(hit, 1);
    // never reached: the last row's frames, flagged as not reached
    assert_close(stats_frames_to(f, r, 4, 3.5, &hit), 40, TOL);
    assert_int_equal(hit, 0);
    // an empty log: NaN
    assert_true(isnan(stats_frames_to(f, r, 0, 1, &hit)));
    assert_int_equal(hit, 0);
}

static void test_runlog(void **state) {
    (void)state;
    char path[] = "/tmp/cpcrl_test_stats_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fprintf(f, "frames,updates,sps,episodes,return_mean,success_rate,episode_length,policy_loss,"
               "value_loss,entropy,grad_norm,lr,cpc_loss,cpc_acc_1,cpc_acc_2,cpc_acc_3\n"
               "10,1,100,0,nan,nan,nan,0,0,0,0,0,0,0.1,0.2,0.3\n"
               "20,2,100,4,1.5,0.25,100,0,0,0,0,0,0,0.4,0.5,0.6\n"
               "40,3,100,4,2.5,0.5,100,0,0,0,0,0,0,0.7,0.8,0.9\n"
               "50,4,1"); // a row still being written
    fclose(f);
    RunLog lg;
    char err[256];
    assert_int_equal(runlog_read(&lg, path, err, sizeof err), 0);
    assert_int_equal(lg.n, 3);
    assert_int_equal(lg.K, 3);
    assert_true(isnan(lg.ret[0]));
    assert_close(lg.ret[2], 2.5, TOL);
    assert_close(lg.success[1], 0.25, TOL);
    assert_close(lg.acc1[1], 0.4, TOL);
    assert_close(lg.accK[2], 0.9, TOL);
    assert_close(runlog_last_frames(path), 40.0, TOL);
    // interpolation: held before the first finite row, linear between, NaN after
    assert_close(runlog_interp(lg.frames, lg.ret, lg.n, 5), 1.5, TOL);
    assert_close(runlog_interp(lg.frames, lg.ret, lg.n, 30), 2.0, TOL);
    assert_true(isnan(runlog_interp(lg.frames, lg.ret, lg.n, 41)));
    runlog_free(&lg);
    unlink(path);
    assert_int_equal(runlog_read(&lg, path, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_close(runlog_last_frames(path), -1.0, TOL);
}

// ----------------------------------------------------------------------------
// Probe linear algebra

// A = [[4,2,2],[2,5,3],[2,3,6]] = L L^T with L = [[2,0,0],[1,2,0],[1,1,2]]
static void test_cholesky(void **state) {
    (void)state;
    double A[9] = {4, 2, 2, 2, 5, 3, 2, 3, 6};
    const double L[9] = {2, 0, 0, 1, 2, 0, 1, 1, 2};
    assert_int_equal(probe_cholesky(A, 3), 0);
    for (int i = 0; i < 9; i++) assert_close(A[i], L[i], TOL);
    // A x = b with x = (1, -1, 2): b = (4 - 2 + 4, 2 - 5 + 6, 2 - 3 + 12) = (6, 3, 11)
    double b[3] = {6, 3, 11};
    probe_cholesky_solve(A, 3, b, 1);
    assert_close(b[0], 1.0, TOL);
    assert_close(b[1], -1.0, TOL);
    assert_close(b[2], 2.0, TOL);
    double bad[4] = {1, 2, 2, 1}; // eigenvalues 3 and -1
    assert_int_equal(probe_cholesky(bad, 2), -1);
}

// X = [[1,0],[0,1],[1,1]], y = (1, 2, 3) = x1 + 2 x2. X^T X = [[2,1],[1,2]],
// X^T y = (4, 5). lam = 0: w = (1, 2). lam = 1: [[3,1],[1,3]] w = (4, 5)
// -> w = (1/8) (3*4 - 5, -4 + 3*5) = (7/8, 11/8). Second column y2 = 2 y.
static void test_ridge(void **state) {
    (void)state;
    const double X[6] = {1, 0, 0, 1, 1, 1};
    const double Y[6] = {1, 2, 2, 4, 3, 6};
    double W[4], G[4];
    assert_int_equal(probe_ridge(X, 3, 2, Y, 2, 0.0, W, G), 0);
    assert_close(W[0], 1.0, 1e-12);
    assert_close(W[2], 2.0, 1e-12);
    assert_close(W[1], 2.0, 1e-12);
    assert_close(W[3], 4.0, 1e-12);
    assert_int_equal(probe_ridge(X, 3, 2, Y, 2, 1.0, W, G), 0);
    assert_close(W[0], 7.0 / 8, 1e-12);
    assert_close(W[2], 11.0 / 8, 1e-12);
    assert_close(W[1], 14.0 / 8, 1e-12);
    assert_close(W[3], 22.0 / 8, 1e-12);
    // rank-deficient X (two equal columns) with lam = 0 is singular
    const double Xs[6] = {1, 1, 2, 2, 3, 3};
    assert_int_equal(probe_ridge(Xs, 3, 2, Y, 1, 0.0, W, G), -1);
}

// Linear probe on data whose class is linearly readable: 3 classes, features
// = one-hot(class) * 2 + noise in [-0.5, 0.5] plus two pure-noise features.
// Accuracy must be 1; chance = the majority training class's share of the
// test set.
static void test_classify(void **state) {
    (void)state;
    enum { N = 300, F = 5 };
    float Xtr[N * F], Xte[N * F];
    int ytr[N], yte[N];
    uint64_t s = 7;
    for (int i = 0; i < N; i++) {
        ytr[i] = (i % 5 == 0) ? 2 : (i % 2 ? 40 : 7); // labels need not be 0..M-1
        yte[i] = (i % 3 == 0) ? 2 : (i % 3 == 1 ? 40 : 7);
        for (int f = 0; f < F; f++) {
            Xtr[i * F + f] = rng_float(&s) - 0.5f;
            Xte[i * F + f] = rng_float(&s) - 0.5f;
        }
        int ctr = ytr[i] == 2 ? 0 : ytr[i] == 7 ? 1 : 2, cte = yte[i] == 2 ? 0 : yte[i] == 7 ? 1 : 2;
        Xtr[i * F + ctr] += 2.0f;
        Xte[i * F + cte] += 2.0f;
    }
    double acc, chance;
    int classes;
    assert_int_equal(probe_classify(Xtr, ytr, N, Xte, yte, N, F, 1e-3, &acc, &chance, &classes), 0);
    assert_int_equal(classes, 3);
    assert_close(acc, 1.0, TOL);
    // training majority: 40 (odd i not divisible by 5: 120 of 300); in the test set 40 is 1/3
    assert_close(chance, 1.0 / 3, TOL);
    // pure noise features: accuracy near chance, far from 1
    float Xn[N * F];
    for (int i = 0; i < N * F; i++) Xn[i] = rng_float(&s);
    assert_int_equal(probe_classify(Xn, ytr, N, Xn, yte, N, F, 1e-3, &acc, &chance, &classes), 0);
    assert_true(acc < 0.6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentile_linear),
        cmocka_unit_test(test_bootstrap_ci_hand),
        cmocka_unit_test(test_bootstrap_ci_degenerate),
        cmocka_unit_test(test_bootstrap_ci_normal),
        cmocka_unit_test(test_diff_ci_and_verdict),
        cmocka_unit_test(test_iqm),
        cmocka_unit_test(test_trim_mean_scipy),
        cmocka_unit_test(test_prob_improvement),
        cmocka_unit_test(test_final_return),
        cmocka_unit_test(test_auc),
        cmocka_unit_test(test_frames_to),
        cmocka_unit_test(test_runlog),
        cmocka_unit_test(test_cholesky),
        cmocka_unit_test(test_ridge),
        cmocka_unit_test(test_classify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
