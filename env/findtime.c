// findtime.c — waits until a find, Kaplan-Meier, RMST and its bootstrap (findtime.h).
#include "env/findtime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "env/env.h"
#include "env/tasks.h"
#include "base/rng.h"

int findtime_applies(int task) {
    const EnvTask *T = env_task(task);
    return T && T->respawns;
}

void findtime_init(FindTimes *f) { memset(f, 0, sizeof *f); }

static void sample_free(FindSample *s) {
    free(s->t), free(s->ev), free(s->ep);
    memset(s, 0, sizeof *s);
}

void findtime_free(FindTimes *f) {
    sample_free(&f->first);
    sample_free(&f->later);
    memset(f, 0, sizeof *f);
}

static int sample_add(FindSample *s, int t, int ev, int ep) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        int *nt = realloc(s->t, cap * sizeof *nt);
        if (nt) s->t = nt;
        uint8_t *ne = realloc(s->ev, cap * sizeof *ne);
        if (ne) s->ev = ne;
        int *np = realloc(s->ep, cap * sizeof *np);
        if (np) s->ep = np;
        if (!nt || !ne || !np) return -1;
        s->cap = cap;
    }
    s->t[s->n] = t, s->ev[s->n] = (uint8_t)ev, s->ep[s->n] = ep;
    s->n++;
    return 0;
}

void findtime_step(FindTimes *f, int b, int found, int ended, int counted, int episode) {
    if (b < 0 || b >= FINDTIME_MAX_ENVS) return;
    f->since[b]++;
    if (counted && (found || ended) &&
        sample_add(f->found[b] ? &f->later : &f->first, f->since[b], found, episode) < 0)
        f->failed = 1;
    if (found) f->since[b] = 0, f->found[b]++;
    if (ended) f->since[b] = 0, f->found[b] = 0;
}

// Indices of s sorted by time, events before censorings at the same time
// (the usual convention: a wait censored at t was at risk at t).
static int cmp_obs(const void *x, const void *y, void *ctx) {
    const FindSample *s = ctx;
    const size_t i = *(const size_t *)x, j = *(const size_t *)y;
    if (s->t[i] != s->t[j]) return s->t[i] < s->t[j] ? -1 : 1;
    if (s->ev[i] != s->ev[j]) return s->ev[i] > s->ev[j] ? -1 : 1;
    return i < j ? -1 : i > j;
}

static size_t *sorted_order(const FindSample *s) {
    size_t *o = malloc((s->n ? s->n : 1) * sizeof *o);
    if (!o) return NULL;
    for (size_t i = 0; i < s->n; i++) o[i] = i;
    qsort_r(o, s->n, sizeof *o, cmp_obs, (void *)s);
    return o;
}

static double rmst_sorted(const FindSample *s, const size_t *o, double tau, const double *w) {
    double risk = 0;
    for (size_t i = 0; i < s->n; i++) risk += w ? w[s->ep[i]] : 1.0;
    if (!(risk > 0)) return NAN;
    double S = 1.0, area = 0.0, t0 = 0.0;
    for (size_t i = 0; i < s->n;) {
        const int t = s->t[o[i]];
        double d = 0, out = 0; // events and all leaving at t
        for (; i < s->n && s->t[o[i]] == t; i++) {
            const double wi = w ? w[s->ep[o[i]]] : 1.0;
            out += wi;
            if (s->ev[o[i]]) d += wi;
        }
        if (t >= tau) break;
        area += S * (t - t0), t0 = t;
        if (risk > 0) S *= 1.0 - d / risk;
        risk -= out;
    }
    if (t0 < tau) area += S * (tau - t0);
    return area;
}

double findtime_rmst(const FindSample *s, double tau, const double *w) {
    size_t *o = sorted_order(s);
    if (!o) return NAN;
    double r = rmst_sorted(s, o, tau, w);
    free(o);
    return r;
}

static int cmp_d(const void *x, const void *y) {
    const double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

double findtime_diff_ci(const FindSample *a, int na, const FindSample *b, int nb, double tau,
                        int nboot, uint64_t seed, double *lo, double *hi) {
    *lo = *hi = NAN;
    size_t *oa = sorted_order(a), *ob = sorted_order(b);
    double *wa = calloc((size_t)(na > 0 ? na : 1), sizeof *wa);
    double *wb = calloc((size_t)(nb > 0 ? nb : 1), sizeof *wb);
    double *d = malloc((size_t)(nboot > 0 ? nboot : 1) * sizeof *d);
    double est = NAN;
    if (oa && ob && wa && wb && d && a->n > 0 && b->n > 0 && na > 0 && nb > 0) {
        est = rmst_sorted(b, ob, tau, NULL) - rmst_sorted(a, oa, tau, NULL);
        uint64_t r = rng_derive(seed, 0xF1D7);
        int m = 0;
        for (int k = 0; k < nboot; k++) {
            memset(wa, 0, (size_t)na * sizeof *wa);
            memset(wb, 0, (size_t)nb * sizeof *wb);
            for (int i = 0; i < na; i++) wa[rng_int(&r, na)] += 1;
            for (int i = 0; i < nb; i++) wb[rng_int(&r, nb)] += 1;
            double x = rmst_sorted(b, ob, tau, wb) - rmst_sorted(a, oa, tau, wa);
            if (isfinite(x)) d[m++] = x;
        }
        if (m >= 20) {
            qsort(d, (size_t)m, sizeof *d, cmp_d);
            *lo = d[(int)floor(0.025 * (m - 1))];
            *hi = d[(int)ceil(0.975 * (m - 1))];
        }
    }
    free(oa), free(ob), free(wa), free(wb), free(d);
    return est;
}
