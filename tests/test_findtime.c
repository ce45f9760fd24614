// test_findtime.c — env/findtime.[ch]: waits until a find, censored at the
// episode's end; Kaplan-Meier restricted mean (RMST) and its bootstrap.
//
// Hand-computed values are worked out beside each case. The simulated cases
// use a memoryless searcher (a find with probability p at every step, the
// same before and after a respawn) over 100-step episodes: its first and
// later waits have one distribution, so a correct estimator gives them the
// same RMST, while the mean of the waits seen (the naive statistic) makes
// the later ones look shorter.

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "env/env.h"
#include "env/findtime.h"
#include "base/rng.h"

#define assert_close(a, b, tol)                                                                  \
    do {                                                                                         \
        double _a = (a), _b = (b);                                                               \
        if (!(fabs(_a - _b) <= (tol))) fail_msg("%s = %.12g, expected %.12g (tol %g)", #a, _a, _b, (double)(tol)); \
    } while (0)

static FindSample sample(const int *t, const uint8_t *ev, size_t n) {
    FindSample s = {0};
    s.t = malloc(n * sizeof(int)), s.ev = malloc(n), s.ep = malloc(n * sizeof(int));
    assert_non_null(s.t);
    for (size_t i = 0; i < n; i++) s.t[i] = t[i], s.ev[i] = ev[i], s.ep[i] = (int)i;
    s.n = s.cap = n;
    return s;
}
static void sample_free(FindSample *s) { free(s->t), free(s->ev), free(s->ep); }

// Waits 2 (find), 3 (censored), 4 (find), 5 (find), given in another order.
// KM: t=2: 4 at risk, 1 find -> S = 3/4; t=3: censored, 2 left at risk;
// t=4: 1 of 2 -> S = 3/8; t=5: 1 of 1 -> S = 0.
// RMST(10) = 1*2 + 3/4*(4-2) + 3/8*(5-4) = 3.875; RMST(3) = 2 + 3/4 = 2.75;
// RMST(1) = 1 (nothing happens before 1).
static void test_km_by_hand(void **state) {
    (void)state;
    int t[] = {4, 3, 5, 2};
    uint8_t ev[] = {1, 0, 1, 1};
    FindSample s = sample(t, ev, 4);
    assert_close(findtime_rmst(&s, 10, NULL), 3.875, 1e-12);
    assert_close(findtime_rmst(&s, 3, NULL), 2.75, 1e-12);
    assert_close(findtime_rmst(&s, 1, NULL), 1.0, 1e-12);
    // weights: episode 1 (the censored 3) counted twice, episode 3 (the 2)
    // not at all: waits 3, 3 (censored), 4, 5: t=3: risk 4 -> 2, S = 1;
    // t=4: 1 of 2 -> S = 1/2; t=5: S = 0. RMST(10) = 1*4 + 1/2*1 = 4.5
    double w[4] = {1, 2, 1, 0};
    assert_close(findtime_rmst(&s, 10, w), 4.5, 1e-12);
    sample_free(&s);
    FindSample e = {0};
    assert_true(isnan(findtime_rmst(&e, 10, NULL)));
}

// Censored at the same time as a find: the censored wait was at risk then.
// Waits 3 (find), 3 (censored): t=3: 1 of 2 -> S = 1/2; RMST(5) = 3 + 1/2*2 = 4.
static void test_ties(void **state) {
    (void)state;
    int t[] = {3, 3};
    uint8_t ev[] = {0, 1};
    FindSample s = sample(t, ev, 2);
    assert_close(findtime_rmst(&s, 5, NULL), 4.0, 1e-12);
    sample_free(&s);
}

// findtime_step: which wait goes where. Env 0: finds at steps 3 and 7 of a
// 10-step episode (first wait 3, later 4, later 3 censored); env 1: no find
// in 5 steps (first wait 5 censored); env 2's episode is not counted.
static void test_steps(void **state) {
    (void)state;
    FindTimes f;
    findtime_init(&f);
    for (int s = 1; s <= 10; s++) findtime_step(&f, 0, s == 3 || s == 7, s == 10, 1, 0);
    for (int s = 1; s <= 5; s++) findtime_step(&f, 1, 0, s == 5, 1, 1);
    for (int s = 1; s <= 5; s++) findtime_step(&f, 2, s == 2, s == 5, 0, 2);
    assert_int_equal(f.first.n, 2);
    assert_int_equal(f.first.t[0], 3), assert_int_equal(f.first.ev[0], 1);
    assert_int_equal(f.first.t[1], 5), assert_int_equal(f.first.ev[1], 0), assert_int_equal(f.first.ep[1], 1);
    assert_int_equal(f.later.n, 2);
    assert_int_equal(f.later.t[0], 4), assert_int_equal(f.later.ev[0], 1);
    assert_int_equal(f.later.t[1], 3), assert_int_equal(f.later.ev[1], 0);
    // the next episode of env 0 starts afresh: a find at its step 2 is a first find
    findtime_step(&f, 0, 0, 0, 1, 3);
    findtime_step(&f, 0, 1, 0, 1, 3);
    assert_int_equal(f.first.n, 3), assert_int_equal(f.first.t[2], 2);
    findtime_free(&f);
}

// A memoryless searcher, p per step, 100-step episodes, 4000 episodes.
static void memoryless(FindTimes *f, double p, int episodes, uint64_t seed, double *naive_first,
                       double *naive_later) {
    findtime_init(f);
    uint64_t r = rng_derive(seed, 1);
    double sf = 0, sl = 0;
    int nf = 0, nl = 0, since = 0, found = 0;
    for (int ep = 0; ep < episodes; ep++) {
        for (int s = 1; s <= 100; s++) {
            int hit = rng_float(&r) < p;
            since++;
            if (hit) {
                if (found) sl += since, nl++;
                else sf += since, nf++;
                since = 0, found = 1;
            }
            findtime_step(f, 0, hit, s == 100, 1, ep);
        }
        since = 0, found = 0;
    }
    *naive_first = sf / nf, *naive_later = sl / nl;
}

static void test_memoryless_unbiased(void **state) {
    (void)state;
    FindTimes f;
    double nf, nl;
    memoryless(&f, 0.03, 4000, 7, &nf, &nl);
    const double tau = 50;
    // the true RMST of a geometric wait: sum_{t=0}^{49} (1-p)^t = (1 - 0.97^50) / 0.03
    const double truth = (1 - pow(0.97, 50)) / 0.03;
    const double first = findtime_rmst(&f.first, tau, NULL), later = findtime_rmst(&f.later, tau, NULL);
    assert_close(first, truth, 0.02 * truth);
    assert_close(later, truth, 0.03 * truth);
    // the naive statistic: later waits look >= 8% shorter for a memoryless searcher
    assert_true(nl / nf < 0.92);
    // and the bootstrap of later(b) - later(a) between two memoryless runs covers 0
    FindTimes g;
    double x, y;
    memoryless(&g, 0.03, 4000, 8, &x, &y);
    double lo, hi;
    double d = findtime_diff_ci(&f.later, 4000, &g.later, 4000, tau, 400, 3, &lo, &hi);
    assert_true(lo <= d && d <= hi);
    assert_true(lo < 0 && hi > 0);
    findtime_free(&g);
    // a searcher twice as fast after a respawn is found different: later(slow) - later(fast) > 0
    FindTimes fast;
    memoryless(&fast, 0.06, 4000, 9, &x, &y);
    d = findtime_diff_ci(&fast.later, 4000, &f.later, 4000, tau, 400, 3, &lo, &hi);
    assert_true(lo > 0);
    findtime_free(&fast);
    findtime_free(&f);
}

// The random policy in goal: its first and later waits agree (it has no
// memory), within the bootstrap's spread; the oracle is several times faster.
static void test_baseline_scale(void **state) {
    (void)state;
    EnvConfig c = {0};
    c.task = ENV_TASK_GOAL;
    env_config_defaults(&c);
    BaselineResult r, o;
    assert_int_equal(env_baseline(&c, 0, 1500, 11, &r), 0);
    assert_int_equal(env_baseline(&c, 1, 200, 11, &o), 0);
    assert_close(r.find_tau, 0.5 * c.max_steps, 0);
    assert_close(r.find_later, r.find_first, 0.05 * r.find_first);
    assert_true(o.find_first < 0.3 * r.find_first);
    c.task = ENV_TASK_TMAZE;
    env_config_defaults(&c);
    assert_int_equal(env_baseline(&c, 0, 10, 11, &r), 0);
    assert_true(isnan(r.find_first) && isnan(r.find_tau));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_km_by_hand),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_steps),
        cmocka_unit_test(test_memoryless_unbiased),
        cmocka_unit_test(test_baseline_scale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
