// stats.c — comparison statistics and log.csv reading (see stats.h).
#include "lab/stats.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errs.h"
#include "base/file.h"
#include "base/rng.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// ----------------------------------------------------------------------------
// Aggregates over seeds

double stats_mean(const double *x, int n) {
    if (n < 1) return NAN;
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    return s / n;
}

double stats_percentile(const double *sorted, int n, double q) {
    if (n < 1) return NAN;
    double pos = q * (n - 1);
    int i = (int)floor(pos);
    if (i < 0) return sorted[0];
    if (i >= n - 1) return sorted[n - 1];
    double frac = pos - i;
    return sorted[i] + frac * (sorted[i + 1] - sorted[i]);
}

// Resampled means of x (and minus resampled means of y when y != NULL) into
// out[R], then the 2.5/97.5 percentiles.
static int bootstrap(const double *x, int nx, const double *y, int ny, int R, uint64_t seed,
                     double *lo, double *hi) {
    *lo = *hi = NAN;
    if (nx < 1 || (y && ny < 1) || R < 1) return -1;
    double *m = malloc((size_t)R * sizeof(double));
    if (!m) return -1;
    uint64_t s = seed;
    for (int r = 0; r < R; r++) {
        double sx = 0;
        for (int i = 0; i < nx; i++) sx += x[rng_int(&s, nx)];
        m[r] = sx / nx;
        if (y) {
            double sy = 0;
            for (int i = 0; i < ny; i++) sy += y[rng_int(&s, ny)];
            m[r] -= sy / ny;
        }
    }
    qsort(m, (size_t)R, sizeof(double), cmp_double);
    *lo = stats_percentile(m, R, 0.025);
    *hi = stats_percentile(m, R, 0.975);
    free(m);
    return 0;
}

int stats_bootstrap_ci(const double *x, int n, int resamples, uint64_t seed, double *lo,
                       double *hi) {
    return bootstrap(x, n, NULL, 0, resamples, seed, lo, hi);
}

int stats_bootstrap_diff_ci(const double *x, int nx, const double *y, int ny, int resamples,
                            uint64_t seed, double *lo, double *hi) {
    return bootstrap(x, nx, y, ny, resamples, seed, lo, hi);
}

// Sorted copy on the stack for the small n of seeds; larger n is an error.
#define STATS_MAX_SORT 4096

double stats_iqm(const double *x, int n) {
    if (n < 1 || n > STATS_MAX_SORT) return NAN;
    double s[STATS_MAX_SORT];
    memcpy(s, x, (size_t)n * sizeof(double));
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    double a = 0.25 * n, b = 0.75 * n, sum = 0;
    for (int i = 0; i < n; i++) {
        double l = i > a ? i : a, h = i + 1 < b ? i + 1 : b;
        if (h > l) sum += (h - l) * s[i];
    }
    return sum / (b - a);
}

double stats_trim_mean(const double *x, int n, double cut) {
    if (n < 1 || n > STATS_MAX_SORT) return NAN;
    double s[STATS_MAX_SORT];
    memcpy(s, x, (size_t)n * sizeof(double));
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    int k = (int)(cut * n);
    if (2 * k >= n) return NAN;
    return stats_mean(s + k, n - 2 * k);
}

double stats_prob_improvement(const double *x, int nx, const double *y, int ny) {
    if (nx < 1 || ny < 1) return NAN;
    double u = 0;
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < ny; j++) u += x[i] > y[j] ? 1.0 : x[i] == y[j] ? 0.5 : 0.0;
    return u / ((double)nx * ny);
}

int stats_verdict(double lo, double hi) {
    if (lo > 0) return VERDICT_BETTER;
    if (hi < 0) return VERDICT_WORSE;
    return VERDICT_NSD;
}

const char *stats_verdict_name(int v) {
    return v == VERDICT_BETTER  ? "better"
           : v == VERDICT_WORSE ? "worse"
           : v == VERDICT_MIXED ? "mixed"
                                : "no significant difference";
}

int stats_verdict_either(double lo1, double hi1, double lo2, double hi2) {
    const int a = stats_verdict(lo1, hi1), b = stats_verdict(lo2, hi2);
    const int up = a == VERDICT_BETTER || b == VERDICT_BETTER, down = a == VERDICT_WORSE || b == VERDICT_WORSE;
    return up && down ? VERDICT_MIXED : up ? VERDICT_BETTER : down ? VERDICT_WORSE : VERDICT_NSD;
}

// ----------------------------------------------------------------------------
// Per-run metrics

double stats_final_return(const double *frames, const double *ret, int n, double frac) {
    int last = -1;
    for (int i = n - 1; i >= 0 && last < 0; i--)
        if (isfinite(ret[i])) last = i;
    if (last < 0) return NAN;
    double flast = frames[n - 1], cut = (1.0 - frac) * flast, s = 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (frames[i] > cut && isfinite(ret[i])) s += ret[i], m++;
    return m ? s / m : ret[last];
}

double stats_auc(const double *frames, const double *ret, int n) {
    double area = 0, pf = 0, pr = NAN;
    for (int i = 0; i < n; i++) {
        if (!isfinite(ret[i])) continue;
        if (!isfinite(pr)) area += ret[i] * frames[i]; // held at r_1 on [0, f_1]
        else area += 0.5 * (pr + ret[i]) * (frames[i] - pf);
        pf = frames[i], pr = ret[i];
    }
    if (!isfinite(pr)) return NAN;
    if (pf <= 0) return pr;
    return area / pf;
}

double stats_frames_to(const double *frames, const double *ret, int n, double target, int *reached) {
    *reached = 0;
    if (n <= 0) return NAN;
    for (int i = 0; i < n; i++)
        if (isfinite(ret[i]) && ret[i] >= target) {
            *reached = 1;
            return frames[i];
        }
    return frames[n - 1];
}

// ----------------------------------------------------------------------------
// log.csv

void runlog_free(RunLog *lg) {
    free(lg->frames), free(lg->ret), free(lg->success), free(lg->acc1), free(lg->accK);
    memset(lg, 0, sizeof *lg);
}

int runlog_read(RunLog *lg, const char *path, char *err, size_t errlen) {
    memset(lg, 0, sizeof *lg);
    const char *why = NULL;
    FILE *f = file_open_regular(path, &why);
    if (!f) return err_fail(err, errlen, "%s: cannot open: %s", path, why);
    char line[16384];
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return err_fail(err, errlen, "%s: empty file (no header)", path);
    }
    int cf = -1, cr = -1, cs = -1, ca1 = -1, caK = -1, K = 0, ncol = 0;
    for (char *tok = strtok(line, ",\r\n"); tok; tok = strtok(NULL, ",\r\n"), ncol++) {
        if (!strcmp(tok, "frames")) cf = ncol;
        else if (!strcmp(tok, "return_mean")) cr = ncol;
        else if (!strcmp(tok, "success_rate")) cs = ncol;
        else if (!strncmp(tok, "cpc_acc_", 8)) {
            int k = atoi(tok + 8);
            if (k == 1) ca1 = ncol;
            if (k > K) K = k, caK = ncol;
        }
    }
    if (cf < 0 || cr < 0 || cs < 0) {
        fclose(f);
        return err_fail(err, errlen, "%s: header lacks %s", path,
                    cf < 0 ? "'frames'" : cr < 0 ? "'return_mean'" : "'success_rate'");
    }
    if (ca1 < 0) K = 0;
    int cap = 0, lineno = 1, rc = 0;
    double *vals = malloc((size_t)ncol * sizeof(double));
    if (!vals) { fclose(f); return err_fail(err, errlen, "out of memory"); }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t l = strlen(line);
        if (l == 0 || line[l - 1] != '\n') break; // a row still being written
        int c = 0;
        char *p = line;
        for (; c < ncol; c++) {
            char *end;
            vals[c] = strtod(p, &end);
            if (end == p) break;
            p = end;
            if (*p == ',') p++;
        }
        if (c < ncol) {
            rc = err_fail(err, errlen, "%s:%d: expected %d numbers", path, lineno, ncol);
            break;
        }
        if (lg->n == cap) {
            cap = cap ? 2 * cap : 64;
            double **arr[5] = {&lg->frames, &lg->ret, &lg->success, &lg->acc1, &lg->accK};
            int bad = 0;
            for (int a = 0; a < (K > 0 ? 5 : 3); a++) {
                double *q = realloc(*arr[a], (size_t)cap * sizeof(double));
                if (!q) { bad = 1; break; }
                *arr[a] = q;
            }
            if (bad) { rc = err_fail(err, errlen, "out of memory"); break; }
        }
        lg->frames[lg->n] = vals[cf];
        lg->ret[lg->n] = vals[cr];
        lg->success[lg->n] = vals[cs];
        if (K > 0) lg->acc1[lg->n] = vals[ca1], lg->accK[lg->n] = vals[caK];
        lg->n++;
    }
    free(vals);
    fclose(f);
    lg->K = K;
    if (rc < 0) runlog_free(lg);
    return rc;
}

double runlog_last_frames(const char *path) {
    FILE *f = file_open_regular(path, NULL);
    if (!f) return -1;
    char buf[8192];
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return -1; }
    long size = ftell(f);
    long off = size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0;
    if (size < 0 || fseek(f, off, SEEK_SET) != 0) { fclose(f); return -1; }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    // the last complete line (ends in '\n'), if it is not the header
    while (n > 0 && buf[n - 1] != '\n') n--; // drop a partial line
    if (n == 0) return -1;
    buf[n - 1] = 0;
    char *start = strrchr(buf, '\n');
    start = start ? start + 1 : (off == 0 ? buf : NULL);
    if (!start) return -1;
    char *end;
    double fr = strtod(start, &end);
    if (end == start) return -1; // header only
    return fr;
}

double runlog_interp(const double *frames, const double *y, int n, double f) {
    int prev = -1;
    for (int i = 0; i < n; i++) {
        if (!isfinite(y[i])) continue;
        if (frames[i] >= f) {
            if (prev < 0 || frames[i] == f) return y[i];
            double w = (f - frames[prev]) / (frames[i] - frames[prev]);
            return y[prev] + w * (y[i] - y[prev]);
        }
        prev = i;
    }
    return NAN;
}
