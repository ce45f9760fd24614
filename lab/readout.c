// readout.c — fitting, saving, loading and applying the saved read-outs (see
// readout.h).
#include "lab/readout.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/bytes.h"
#include "base/errs.h"
#include "agent/train.h"
#include "base/file.h"
#include "base/rng.h"
#include "env/tasks.h"

#include <cblas.h> // after the project headers: its complex.h defines I

// ----------------------------------------------------------------------------
// Memory: one float slab, one int slab

static size_t label_floats(int F, int M) { return 2 * ((size_t)F * M + (size_t)M); }

// Allocate the slabs for F features and M[l] classes and point every array
// into them. -1 when out of memory.
static int readout_alloc(Readout *r, int F, const int *M) {
    size_t nf = 2 * (size_t)F, ni = 0;
    for (int l = 0; l < PROBE_NLABELS; l++) nf += label_floats(F, M[l]), ni += (size_t)M[l];
    r->fslab = calloc(nf, sizeof(float));
    r->islab = calloc(ni ? ni : 1, sizeof(int));
    if (!r->fslab || !r->islab) {
        free(r->fslab), free(r->islab);
        r->fslab = NULL, r->islab = NULL;
        return -1;
    }
    r->F = F;
    float *f = r->fslab;
    int *ip = r->islab;
    r->mu = f, f += F;
    r->inv_sd = f, f += F;
    for (int l = 0; l < PROBE_NLABELS; l++) {
        ReadoutLabel *L = &r->lab[l];
        const size_t FM = (size_t)F * M[l];
        L->M = M[l];
        L->cls = ip, ip += M[l];
        L->ridge_w = f, f += FM;
        L->ridge_b = f, f += M[l];
        L->soft_w = f, f += FM;
        L->soft_b = f, f += M[l];
    }
    return 0;
}

void readout_free(Readout *r) {
    free(r->fslab), free(r->islab);
    memset(r, 0, sizeof *r);
}

// ----------------------------------------------------------------------------
// Fitting the softmax read-out

// Largest eigenvalue of X^T X / N (X (N, F)) by power iteration from a fixed
// start (deterministic). An upper estimate is all the step size needs, so
// the Rayleigh quotient is grown by 5%.
static double gram_lambda_max(const double *X, int N, int F, double *v, double *u) {
    for (int f = 0; f < F; f++) v[f] = 1.0 / sqrt((double)F);
    double lam = 0;
    for (int it = 0; it < 60; it++) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, N, F, 1.0, X, F, v, 1, 0.0, u, 1);
        cblas_dgemv(CblasRowMajor, CblasTrans, N, F, 1.0 / N, X, F, u, 1, 0.0, v, 1);
        double nrm = cblas_dnrm2(F, v, 1);
        if (!(nrm > 0)) return 0;
        lam = nrm;
        cblas_dscal(F, 1.0 / nrm, v, 1);
    }
    return lam * 1.05;
}

// Row-wise softmax of S (N, M) in place.
static void softmax_rows(double *S, int N, int M) {
    for (int i = 0; i < N; i++) {
        double *s = S + (size_t)i * M, mx = s[0], z = 0;
        for (int j = 1; j < M; j++) mx = s[j] > mx ? s[j] : mx;
        for (int j = 0; j < M; j++) z += (s[j] = exp(s[j] - mx));
        for (int j = 0; j < M; j++) s[j] /= z;
    }
}

// Multinomial logistic regression of classes y (N, values 0..M-1) on the
// standardized X (N, F): W (F, M), b (M). Workspace S (N, M).
static void softmax_fit(const double *X, const int *y, int N, int F, int M, double lambda, double lmax,
                        const double *prior, double *W, double *b, double *S, double *Wold, double *bold,
                        double *Wla, double *bla, double *G) {
    const double L = 0.5 * (lmax > 1 ? lmax : 1) + lambda, eta = 1.0 / L;
    memset(W, 0, (size_t)F * M * sizeof *W);
    for (int j = 0; j < M; j++) b[j] = log(prior[j] > 1e-12 ? prior[j] : 1e-12);
    memcpy(Wold, W, (size_t)F * M * sizeof *W);
    memcpy(bold, b, (size_t)M * sizeof *b);
    memcpy(Wla, W, (size_t)F * M * sizeof *W);
    memcpy(bla, b, (size_t)M * sizeof *b);
    for (int it = 0; it < READOUT_ITERS; it++) {
        // gradient at the look-ahead point
        for (int i = 0; i < N; i++) memcpy(S + (size_t)i * M, bla, (size_t)M * sizeof *S);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, M, F, 1.0, X, F, Wla, M, 1.0, S, M);
        softmax_rows(S, N, M);
        for (int i = 0; i < N; i++) S[(size_t)i * M + y[i]] -= 1.0;
        memcpy(G, Wla, (size_t)F * M * sizeof *G);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, F, M, N, 1.0 / N, X, F, S, M, lambda, G, M);
        // step from the look-ahead, then the next look-ahead (Nesterov, k/(k+3))
        const double mom = (double)it / (it + 3);
        for (size_t k = 0; k < (size_t)F * M; k++) {
            double w = Wla[k] - eta * G[k];
            Wla[k] = w + mom * (w - Wold[k]);
            Wold[k] = W[k] = w;
        }
        for (int j = 0; j < M; j++) {
            double g = 0;
            for (int i = 0; i < N; i++) g += S[(size_t)i * M + j];
            double v = bla[j] - eta * g / N;
            bla[j] = v + mom * (v - bold[j]);
            bold[j] = b[j] = v;
        }
    }
}

// Held-out accuracy and mean p(true) of the softmax read-out (float weights,
// as stored and applied). Classes unseen in fitting count as misses with p 0.
static void softmax_eval(const Readout *r, const ReadoutLabel *L, const ProbeFit *pf, const ProbeSamples *te, int l,
                         ReadoutBelief *bel, double *acc, double *ptrue) {
    double hit = 0, pt = 0;
    for (int i = 0; i < te->n; i++) {
        readout_apply(r, te->c + (size_t)i * r->F, bel);
        int y = te->lab[l][i];
        int j = y >= 0 && y <= pf->maxlab ? pf->map[y] : -1, best = 0;
        for (int k = 1; k < L->M; k++)
            if (bel->p[l][L->cls[k]] > bel->p[l][L->cls[best]]) best = k;
        hit += j >= 0 && best == j;
        pt += j >= 0 ? bel->p[l][y] : 0.0;
    }
    *acc = te->n ? hit / te->n : NAN;
    *ptrue = te->n ? pt / te->n : NAN;
}

int readout_fit(Readout *r, const ProbeResult *pr, const ProbeSamples *tr, const ProbeSamples *te,
                const ProbeOptions *o, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    const int N = tr->n, F = tr->H;
    if (N < 1 || te->n < 1 || F < 1 || F > READOUT_MAX_F || te->H != F)
        return err_fail(err, errlen, "read-outs: nothing to fit (%d training and %d held-out steps of size %d)",
                        N, te->n, F);
    ProbeFit pf[PROBE_NLABELS];
    memset(pf, 0, sizeof pf);
    int M[PROBE_NLABELS] = {0}, maxM = 1, rc = -1;
    double *X = NULL, *S = NULL, *W = NULL, *b = NULL, *ws = NULL, *prior = NULL;
    int *y = NULL;
    ReadoutBelief *bel = NULL;
    for (int l = 0; l < PROBE_NLABELS; l++) {
        if (!pr->has[l]) continue;
        if (probe_fit(&pf[l], tr->c, tr->lab[l], N, F, o->lambda) < 0) {
            err_fail(err, errlen, "read-outs: the ridge fit of %s failed (out of memory, or singular)",
                     PROBE_LABEL_NAMES[l]);
            goto done;
        }
        M[l] = pf[l].M;
        maxM = M[l] > maxM ? M[l] : maxM;
    }
    if (readout_alloc(r, F, M) < 0) {
        err_fail(err, errlen, "read-outs: out of memory");
        goto done;
    }
    r->task = pr->task;
    r->fit_seed = o->seed, r->fit_envs = tr->envs, r->episodes = o->episodes, r->greedy = o->greedy;
    r->n_train = N, r->n_test = te->n, r->lambda = o->lambda, r->iters = READOUT_ITERS;
    r->ckpt_frames = pr->has_ckpt ? pr->ckpt.frames : 0, r->ckpt_crc = pr->has_ckpt ? pr->ckpt.crc : 0;
    const ProbeFit *any = NULL;
    for (int l = 0; l < PROBE_NLABELS; l++)
        if (pr->has[l]) any = any ? any : &pf[l];
    if (!any) {
        err_fail(err, errlen, "read-outs: the task has no labels");
        goto done;
    }
    for (int f = 0; f < F; f++) r->mu[f] = (float)any->mu[f], r->inv_sd[f] = (float)any->sc[f];
    X = malloc((size_t)N * F * sizeof *X);
    S = malloc((size_t)N * maxM * sizeof *S);
    ws = malloc((5 * (size_t)F * maxM + 5 * (size_t)maxM + 2 * (size_t)(N > F ? N : F)) * sizeof *ws);
    prior = malloc((size_t)maxM * sizeof *prior);
    y = malloc((size_t)N * sizeof *y);
    bel = malloc(sizeof *bel);
    if (!X || !S || !ws || !prior || !y || !bel) {
        err_fail(err, errlen, "read-outs: out of memory (%d steps x %d features)", N, F);
        goto done;
    }
    // the features exactly as the ridge fit saw them
    for (int i = 0; i < N; i++)
        for (int f = 0; f < F; f++)
            X[(size_t)i * F + f] = (tr->c[(size_t)i * F + f] - any->mu[f]) * any->sc[f];
    const size_t FM = (size_t)F * maxM;
    W = ws, b = ws + FM;
    double *Wold = b + maxM, *bold = Wold + FM, *Wla = bold + maxM, *bla = Wla + FM, *G = bla + maxM;
    double *v = G + FM, *u = v + (N > F ? N : F);
    const double lmax = gram_lambda_max(X, N, F, v, u);
    for (int l = 0; l < PROBE_NLABELS; l++) {
        ReadoutLabel *L = &r->lab[l];
        if (!pr->has[l]) {
            L->chance = L->acc_ridge = L->acc_soft = L->ptrue_soft = NAN;
            continue;
        }
        L->has = 1;
        const int Ml = M[l];
        memcpy(L->cls, pf[l].cls, (size_t)Ml * sizeof(int));
        for (size_t k = 0; k < (size_t)F * Ml; k++) L->ridge_w[k] = (float)pf[l].W[k];
        for (int j = 0; j < Ml; j++) L->ridge_b[j] = (float)pf[l].p[j], prior[j] = pf[l].p[j];
        if (probe_fit_eval(&pf[l], te->c, te->lab[l], te->n, &L->acc_ridge, &L->chance) < 0) {
            err_fail(err, errlen, "read-outs: out of memory");
            goto done;
        }
        for (int i = 0; i < N; i++) y[i] = pf[l].map[tr->lab[l][i]];
        softmax_fit(X, y, N, F, Ml, o->lambda, lmax, prior, W, b, S, Wold, bold, Wla, bla, G);
        for (size_t k = 0; k < (size_t)F * Ml; k++) L->soft_w[k] = (float)W[k];
        for (int j = 0; j < Ml; j++) L->soft_b[j] = (float)b[j];
    }
    for (int l = 0; l < PROBE_NLABELS; l++)
        if (r->lab[l].has) softmax_eval(r, &r->lab[l], &pf[l], te, l, bel, &r->lab[l].acc_soft, &r->lab[l].ptrue_soft);
    rc = 0;
done:
    for (int l = 0; l < PROBE_NLABELS; l++) probe_fit_free(&pf[l]);
    free(X), free(S), free(ws), free(prior), free(y), free(bel);
    if (rc < 0) readout_free(r);
    return rc;
}

// ----------------------------------------------------------------------------
// Applying

void readout_apply(const Readout *r, const float *c, ReadoutBelief *b) {
    const int F = r->F;
    // |xs| < 2^128 * 2^128 and |w| < 2^128: every product and the sum of up
    // to READOUT_MAX_F of them stay far inside double's range
    for (int f = 0; f < F; f++) {
        const double x = ((double)c[f] - r->mu[f]) * r->inv_sd[f];
        b->xs[f] = isfinite(x) ? x : 0.0;
    }
    for (int l = 0; l < PROBE_NLABELS; l++) {
        const ReadoutLabel *L = &r->lab[l];
        b->has[l] = L->has;
        memset(b->p[l], 0, sizeof b->p[l]);
        if (!L->has) continue;
        const int M = L->M;
        for (int j = 0; j < M; j++) b->s[j] = L->soft_b[j];
        for (int f = 0; f < F; f++) {
            const double x = b->xs[f];
            const float *w = L->soft_w + (size_t)f * M;
            if (x != 0.0)
                for (int j = 0; j < M; j++) b->s[j] += x * w[j];
        }
        double mx = b->s[0], z = 0;
        for (int j = 1; j < M; j++) mx = b->s[j] > mx ? b->s[j] : mx;
        for (int j = 0; j < M; j++) z += (b->s[j] = exp(b->s[j] - mx));
        for (int j = 0; j < M; j++) b->p[l][L->cls[j]] = (float)(b->s[j] / z);
    }
}

int readout_fitted_seed(const Readout *r, uint64_t env_seed) {
    for (int k = 0; k < r->fit_envs; k++)
        if (rng_derive(r->fit_seed, (uint64_t)k) == env_seed) return 1;
    return 0;
}

void readout_path_for(const char *path, char *out, size_t n) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(out, n, "%s/%s", path, READOUT_FILE);
        return;
    }
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(out, n, "%s", READOUT_FILE);
    else snprintf(out, n, "%.*s/%s", (int)(slash - path), path, READOUT_FILE);
}

int readout_check(const Readout *r, const char *path, int task, int hidden, const char *ckpt, char *err,
                  size_t errlen) {
    if (r->task == task && r->F == hidden) return 0;
    return err_fail(err, errlen,
                    "%s%s: read-outs fitted for task %s with hidden size %d, but %s%s is task %s with hidden size "
                    "%d; fit them for it with: cpcrl probe %s%s --save",
                    ERR_PATH(path), ENV_TASK_NAMES[r->task], r->F, ERR_PATH(ckpt),
                    task >= 0 && task < ENV_NTASKS ? ENV_TASK_NAMES[task] : "?", hidden, ERR_PATH(ckpt));
}

// ----------------------------------------------------------------------------
// The file

int readout_encode(const Readout *r, uint8_t **out, size_t *outlen, char *err, size_t errlen) {
    Buf b = {0};
    buf_put(&b, READOUT_MAGIC, 8);
    buf_u32(&b, READOUT_VERSION);
    buf_u32(&b, (uint32_t)r->task);
    buf_u32(&b, (uint32_t)r->F);
    buf_u32(&b, PROBE_NLABELS);
    buf_u64(&b, r->fit_seed);
    buf_u32(&b, (uint32_t)r->fit_envs);
    buf_u32(&b, (uint32_t)r->episodes);
    buf_u32(&b, (uint32_t)r->greedy);
    buf_u32(&b, (uint32_t)r->n_train);
    buf_u32(&b, (uint32_t)r->n_test);
    buf_f64(&b, r->lambda);
    buf_u32(&b, (uint32_t)r->iters);
    buf_f64(&b, r->ckpt_frames);
    buf_u32(&b, r->ckpt_crc);
    for (int f = 0; f < r->F; f++) buf_f32(&b, r->mu[f]);
    for (int f = 0; f < r->F; f++) buf_f32(&b, r->inv_sd[f]);
    for (int l = 0; l < PROBE_NLABELS; l++) {
        const ReadoutLabel *L = &r->lab[l];
        buf_u32(&b, (uint32_t)L->has);
        buf_u32(&b, (uint32_t)L->M);
        buf_f64(&b, L->chance);
        buf_f64(&b, L->acc_ridge);
        buf_f64(&b, L->acc_soft);
        buf_f64(&b, L->ptrue_soft);
        const size_t FM = (size_t)r->F * L->M;
        for (int j = 0; j < L->M; j++) buf_u32(&b, (uint32_t)L->cls[j]);
        for (size_t k = 0; k < FM; k++) buf_f32(&b, L->ridge_w[k]);
        for (int j = 0; j < L->M; j++) buf_f32(&b, L->ridge_b[j]);
        for (size_t k = 0; k < FM; k++) buf_f32(&b, L->soft_w[k]);
        for (int j = 0; j < L->M; j++) buf_f32(&b, L->soft_b[j]);
    }
    buf_u32(&b, (uint32_t)crc32(0L, b.p, (uInt)b.len));
    if (b.oom) {
        free(b.p);
        return err_fail(err, errlen, "read-outs: out of memory encoding them");
    }
    *out = b.p, *outlen = b.len;
    return 0;
}

int readout_save(const Readout *r, const char *path, char *err, size_t errlen) {
    uint8_t *p;
    size_t n;
    if (readout_encode(r, &p, &n, err, errlen) < 0) return -1;
    int rc = file_write_atomic(path, p, n, err, errlen);
    free(p);
    return rc;
}

// A bounded little-endian reader over the file's bytes (the length is checked
// up front, so a read past the end is a programming error).
typedef struct {
    const uint8_t *p;
    size_t off, len;
} Rd;

static uint32_t rd_u32(Rd *d) {
    const uint8_t *p = d->p + d->off;
    d->off += 4;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd_u64(Rd *d) {
    uint64_t lo = rd_u32(d);
    return lo | (uint64_t)rd_u32(d) << 32;
}
static double rd_f64(Rd *d) {
    uint64_t u = rd_u64(d);
    double v;
    memcpy(&v, &u, 8);
    return v;
}
static float rd_f32(Rd *d) {
    uint32_t u = rd_u32(d);
    float v;
    memcpy(&v, &u, 4);
    return v;
}

enum { HEAD_BYTES = 8 + 4 * 4 + 8 + 5 * 4 + 8 + 4 + 8 + 4, LABEL_HEAD = 2 * 4 + 4 * 8 };

// Every f32 of n at d finite: -1 (and its index in *bad) otherwise.
static int read_floats(Rd *d, float *out, size_t n, size_t *bad) {
    for (size_t k = 0; k < n; k++) {
        out[k] = rd_f32(d);
        if (!isfinite(out[k])) {
            *bad = k;
            return -1;
        }
    }
    return 0;
}

static int fail_parse(Readout *r, char *err, size_t errlen, const char *origin, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail_parse(Readout *r, char *err, size_t errlen, const char *origin, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    readout_free(r);
    return err_fail(err, errlen, "%s%s: %s", ERR_PATH(origin), msg);
}

int readout_parse(Readout *r, const uint8_t *buf, size_t len, const char *origin, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    if (len < 12 || memcmp(buf, READOUT_MAGIC, 8) != 0)
        return fail_parse(r, err, errlen, origin, "not a cpcrl read-out file (magic \"%s\" expected)", READOUT_MAGIC);
    Rd d = {buf, 8, len};
    uint32_t version = rd_u32(&d);
    if (version == 0 || version > READOUT_VERSION)
        return fail_parse(r, err, errlen, origin, "read-out file version %u; this cpcrl reads version %d%s", version,
                          READOUT_VERSION, version > READOUT_VERSION ? " (written by a newer cpcrl)" : "");
    if (len < HEAD_BYTES + 4)
        return fail_parse(r, err, errlen, origin, "truncated: %zu bytes, the header alone takes %d", len,
                          HEAD_BYTES + 4);
    uint32_t want = rd_u32(&(Rd){buf, len - 4, len});
    uint32_t got = (uint32_t)crc32(0L, buf, (uInt)(len - 4));
    if (want != got)
        return fail_parse(r, err, errlen, origin, "CRC32 mismatch (stored %08x, computed %08x): truncated or corrupt",
                          want, got);
    d.len = len - 4; // the CRC is not a field
    uint32_t task = rd_u32(&d), F = rd_u32(&d), nl = rd_u32(&d);
    if (task >= ENV_NTASKS) return fail_parse(r, err, errlen, origin, "task %u: expected 0..%d", task, ENV_NTASKS - 1);
    if (F < 1 || F > READOUT_MAX_F)
        return fail_parse(r, err, errlen, origin, "feature count %u: expected 1..%d (the LSTM size)", F, READOUT_MAX_F);
    if (nl != PROBE_NLABELS)
        return fail_parse(r, err, errlen, origin, "%u labels: expected %d (position, heading, goal)", nl, PROBE_NLABELS);
    r->fit_seed = rd_u64(&d);
    uint32_t envs = rd_u32(&d), eps = rd_u32(&d), greedy = rd_u32(&d), ntr = rd_u32(&d), nte = rd_u32(&d);
    double lambda = rd_f64(&d);
    uint32_t iters = rd_u32(&d);
    double frames = rd_f64(&d);
    uint32_t ckcrc = rd_u32(&d);
    if (envs < 1 || envs > 4096) return fail_parse(r, err, errlen, origin, "fit_envs %u: expected 1..4096", envs);
    if (eps < 1 || eps > 1000000) return fail_parse(r, err, errlen, origin, "episodes %u: expected 1..1000000", eps);
    if (greedy > 1) return fail_parse(r, err, errlen, origin, "greedy %u: expected 0 or 1", greedy);
    if (ntr < 1 || nte < 1 || ntr > INT32_MAX || nte > INT32_MAX)
        return fail_parse(r, err, errlen, origin, "%u training / %u held-out steps: expected at least 1 each", ntr, nte);
    if (!(lambda > 0) || !isfinite(lambda))
        return fail_parse(r, err, errlen, origin, "lambda %g: expected a positive number", lambda);
    if (iters > 1000000) return fail_parse(r, err, errlen, origin, "iters %u: expected at most 1000000", iters);
    if (!(frames >= 0) || !isfinite(frames))
        return fail_parse(r, err, errlen, origin, "ckpt_frames %g: expected a finite count", frames);
    // the class counts come after variable-length parts: walk the file once
    // for the sizes (every offset checked against its length) before allocating
    int M[PROBE_NLABELS];
    size_t off = d.off + 8 * (size_t)F;
    for (int l = 0; l < PROBE_NLABELS; l++) {
        if (off > d.len || d.len - off < LABEL_HEAD)
            return fail_parse(r, err, errlen, origin, "truncated in the %s read-out's header", PROBE_LABEL_NAMES[l]);
        Rd h = {buf, off, d.len};
        uint32_t has = rd_u32(&h), m = rd_u32(&h);
        if (has > 1) return fail_parse(r, err, errlen, origin, "%s: has %u, expected 0 or 1", PROBE_LABEL_NAMES[l], has);
        if ((has && (m < 1 || m > READOUT_CELLS)) || (!has && m != 0))
            return fail_parse(r, err, errlen, origin, "%s: %u classes, expected %s", PROBE_LABEL_NAMES[l], m,
                              has ? "1..1681" : "0 (no such label)");
        M[l] = (int)m;
        const uint64_t body = 4ull * m + 4ull * (2ull * F * m + 2ull * m);
        off += LABEL_HEAD;
        if (body > d.len - off)
            return fail_parse(r, err, errlen, origin, "truncated: the %s read-out needs %llu bytes, %zu are left",
                              PROBE_LABEL_NAMES[l], (unsigned long long)body, d.len - off);
        off += (size_t)body;
    }
    if (off != d.len)
        return fail_parse(r, err, errlen, origin, "%zu bytes after the last read-out (expected the CRC32)", d.len - off);
    // which labels the task has
    const int goal_classes = env_goal_classes((int)task), has_goal = goal_classes > 0;
    if (!M[PROBE_POS] || !M[PROBE_HEADING] || (M[PROBE_GOAL] > 0) != has_goal)
        return fail_parse(r, err, errlen, origin, "task %s has position, heading%s read-outs; the file has %s%s%s",
                          ENV_TASK_NAMES[task], has_goal ? " and goal" : " and no goal",
                          M[PROBE_POS] ? "position " : "", M[PROBE_HEADING] ? "heading " : "",
                          M[PROBE_GOAL] ? "goal" : "no goal");
    if (readout_alloc(r, (int)F, M) < 0) return fail_parse(r, err, errlen, origin, "out of memory");
    r->task = (int)task;
    r->fit_envs = (int)envs, r->episodes = (int)eps, r->greedy = (int)greedy;
    r->n_train = (int)ntr, r->n_test = (int)nte, r->lambda = lambda, r->iters = (int)iters;
    r->ckpt_frames = frames, r->ckpt_crc = ckcrc;
    size_t bad;
    if (read_floats(&d, r->mu, F, &bad) < 0)
        return fail_parse(r, err, errlen, origin, "mu[%zu] is not finite", bad);
    if (read_floats(&d, r->inv_sd, F, &bad) < 0)
        return fail_parse(r, err, errlen, origin, "inv_sd[%zu] is not finite", bad);
    for (uint32_t f = 0; f < F; f++)
        if (r->inv_sd[f] < 0) return fail_parse(r, err, errlen, origin, "inv_sd[%u] = %g: expected >= 0", f, r->inv_sd[f]);
    uint8_t seen[READOUT_CELLS];
    for (int l = 0; l < PROBE_NLABELS; l++) {
        ReadoutLabel *L = &r->lab[l];
        const char *name = PROBE_LABEL_NAMES[l];
        L->has = rd_u32(&d) != 0;
        (void)rd_u32(&d); // M, read above
        L->chance = rd_f64(&d), L->acc_ridge = rd_f64(&d), L->acc_soft = rd_f64(&d), L->ptrue_soft = rd_f64(&d);
        const double fig[4] = {L->chance, L->acc_ridge, L->acc_soft, L->ptrue_soft};
        for (int k = 0; k < 4 && L->has; k++)
            if (!(fig[k] >= 0 && fig[k] <= 1))
                return fail_parse(r, err, errlen, origin, "%s: held-out figure %d is %g, expected 0..1", name, k, fig[k]);
        const int lim = l == PROBE_HEADING ? 4 : l == PROBE_GOAL ? goal_classes : READOUT_CELLS;
        memset(seen, 0, sizeof seen);
        for (int j = 0; j < L->M; j++) {
            uint32_t v = rd_u32(&d);
            if (v >= (uint32_t)lim)
                return fail_parse(r, err, errlen, origin, "%s: class %d is label %u, expected 0..%d", name, j, v, lim - 1);
            if (seen[v]++) return fail_parse(r, err, errlen, origin, "%s: label %u listed twice", name, v);
            L->cls[j] = (int)v;
        }
        const size_t FM = (size_t)F * L->M;
        if (read_floats(&d, L->ridge_w, FM, &bad) < 0 || read_floats(&d, L->ridge_b, (size_t)L->M, &bad) < 0 ||
            read_floats(&d, L->soft_w, FM, &bad) < 0 || read_floats(&d, L->soft_b, (size_t)L->M, &bad) < 0)
            return fail_parse(r, err, errlen, origin, "%s: a weight is not finite", name);
    }
    return 0;
}

int readout_load(Readout *r, const char *path, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); // a FIFO must not block
    if (fd < 0) return err_fail(err, errlen, "%s%s: cannot open: %s", ERR_PATH(path), strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_fail(err, errlen, "%s%s: not a regular file", ERR_PATH(path));
    }
    if (st.st_size > (off_t)1 << 30) {
        close(fd);
        return err_fail(err, errlen, "%s%s: %lld bytes, more than a read-out file can hold (1 GiB)", ERR_PATH(path),
                        (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        close(fd);
        return err_fail(err, errlen, "%s%s: out of memory", ERR_PATH(path));
    }
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            int e = errno;
            free(buf);
            close(fd);
            return err_fail(err, errlen, "%s%s: read failed: %s", ERR_PATH(path), k < 0 ? strerror(e) : "file shrank");
        }
        got += (size_t)k;
    }
    close(fd);
    int rc = readout_parse(r, buf, n, path, err, errlen);
    free(buf);
    return rc;
}

// ----------------------------------------------------------------------------
// cpcrl probe --save

int readout_cmd_probe(const ProbeCli *cli, char **pos, int npos) {
    if (npos != 1) {
        fprintf(stderr, "cpcrl probe: expected one checkpoint file or run directory\nsee 'cpcrl help probe'\n");
        return 2;
    }
    ProbeOptions o;
    probe_defaults(&o);
    o.episodes = cli->episodes, o.envs = cli->envs, o.seed = cli->seed, o.greedy = cli->greedy;
    o.lambda = cli->lambda, o.threads = cli->threads;
    char err[1024], ckpath[1100], path[1200];
    ProbeResult pr;
    ProbeSamples tr, te;
    if (probe_run_samples(pos[0], &o, &pr, &tr, &te, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl probe: %s\n", err);
        return 1;
    }
    probe_print_table(stdout, pos[0], &o, &pr);
    fflush(stdout);
    int rc = 0;
    if (cli->out[0] && probe_write_csv(&pr, cli->out, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl probe: %s\n", err);
        rc = 1;
    }
    Readout r;
    if (rc == 0 && readout_fit(&r, &pr, &tr, &te, &o, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl probe: %s\n", err);
        rc = 1;
    }
    probe_samples_free(&tr);
    probe_samples_free(&te);
    if (rc) return rc;
    ckpt_path_for(pos[0], ckpath, sizeof ckpath);
    readout_path_for(ckpath, path, sizeof path);
    if (readout_save(&r, path, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl probe: %s\n", err);
        readout_free(&r);
        return 1;
    }
    printf("read-outs of c_t saved to %s (fitted on env seed %llu, %d envs; softmax, %d steps):\n", path,
           (unsigned long long)r.fit_seed, r.fit_envs, r.iters);
    printf("  %-9s %8s %9s %9s %9s\n", "label", "chance", "ridge acc", "soft acc", "p(true)");
    for (int l = 0; l < PROBE_NLABELS; l++) {
        const ReadoutLabel *L = &r.lab[l];
        if (L->has)
            printf("  %-9s %8.3f %9.3f %9.3f %9.3f\n", PROBE_LABEL_NAMES[l], L->chance, L->acc_ridge, L->acc_soft,
                   L->ptrue_soft);
    }
    printf("  (held out: env seed %llu; watch and replay draw them: see docs/usage.md, the belief overlay)\n",
           (unsigned long long)(r.fit_seed + PROBE_TEST_SEED_OFFSET));
    readout_free(&r);
    return 0;
}
