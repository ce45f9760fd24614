// trainlog.c — log.csv, eval.csv and the accumulated log row (trainlog.h).
#include "agent/trainlog.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/errs.h"
#include "base/file.h"

// ----------------------------------------------------------------------------
// log.csv

void row_add(Row *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->buf + r->len, sizeof r->buf - r->len, fmt, ap);
    va_end(ap);
    if (n > 0) r->len += (size_t)n < sizeof r->buf - r->len ? (size_t)n : sizeof r->buf - r->len - 1;
}

// 0, or -1 with errno set
int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = ENOSPC;
            return -1;
        }
        p += w, n -= (size_t)w;
    }
    return 0;
}

// Sample reuse (trainer.h) appends clip_frac and approx_kl, CPC then
// grad_trunk_a2c and grad_trunk_cpc (trainer.h: the mean over the row's
// updates that measured them: the row's last one, or every one with
// --cpc-trunk-ratio); readers find columns by name, and the default (A2C)
// log keeps its columns.
int log_header(int fd, int K, int reuse, const AuxSet *aux) {
    Row r = {.len = 0};
    log_header_text(&r, K, reuse, aux);
    return write_all(fd, r.buf, r.len);
}
void log_header_text(Row *rp, int K, int reuse, const AuxSet *aux) {
    Row r = {.len = 0};
    row_add(&r, "frames,updates,sps,episodes,return_mean,success_rate,episode_length,"
                "policy_loss,value_loss,entropy,grad_norm,lr");
    if (K > 0) {
        row_add(&r, ",cpc_loss");
        for (int k = 1; k <= K; k++) row_add(&r, ",cpc_acc_%d", k);
        for (int k = 1; k <= K; k++) row_add(&r, ",cpc_bound_%d", k);
    }
    if (reuse) row_add(&r, ",clip_frac,approx_kl");
    if (K > 0) row_add(&r, ",grad_trunk_a2c,grad_trunk_cpc");
    for (int i = 0; i < aux->n; i++) {
        const AuxKind *k = aux->h[i].kind;
        if (k->horizons) continue;
        row_add(&r, ",%s_loss", k->name);
        for (int j = 0; j < k->ncols; j++) row_add(&r, ",%s_%s", k->name, k->cols[j]);
    }
    row_add(&r, "\n");
    *rp = r;
}

void logacc_add(LogAcc *a, const Trainer *tr, const UpdateStats *st) {
    a->n++, a->pl += st->policy_loss, a->vl += st->value_loss, a->ent += st->entropy;
    a->gn += st->grad_norm, a->lr += st->lr, a->cpc += st->cpc_loss;
    a->clipfrac += st->clip_frac, a->kl += st->approx_kl;
    a->gta += (double)st->trunk_a2c * st->trunk_n, a->gtc += (double)st->trunk_cpc * st->trunk_n;
    a->gtn += st->trunk_n;
    const int K = tr->use_cpc ? tr->model.K : 0;
    for (int k = 0; k < K; k++) {
        a->acc[k] += st->cpc_acc[k] * st->cpc_n[k];
        a->accn[k] += st->cpc_n[k];
        a->lossk[k] += st->cpc_loss_k[k] * st->cpc_n[k];
    }
    for (int i = 0; i < tr->aux.n; i++) {
        if (tr->aux.h[i].kind->horizons) continue;
        a->aux[i][0] += st->aux_loss[i];
        for (int j = 0; j < AUX_MAX_COLS; j++) a->aux[i][1 + j] += st->aux_col[i][j];
    }
}

int cpc_candidates(const Trainer *tr) {
    const int B = tr->reuse ? tr->B / tr->cfg.minibatches : tr->B;
    return tr->cfg.cpc_negatives == CPC_NEG_ALL ? tr->T * B : B;
}

int log_row(int fd, const Trainer *tr, const LogAcc *a, double sps, int K) {
    Row r = {.len = 0};
    double ne = a->ep.episodes, n = a->n > 0 ? a->n : 1;
    row_add(&r, "%.0f,%lld,%.0f,%.0f,", tr->frames, (long long)tr->updates, sps, ne);
    if (ne > 0)
        row_add(&r, "%.6g,%.6g,%.6g,", a->ep.ret / ne, a->ep.success / ne, a->ep.length / ne);
    else
        row_add(&r, "nan,nan,nan,");
    row_add(&r, "%.6g,%.6g,%.6g,%.6g,%.6g", a->pl / n, a->vl / n, a->ent / n, a->gn / n, a->lr / n);
    if (K > 0) {
        row_add(&r, ",%.6g", a->cpc / n);
        for (int k = 0; k < K; k++)
            row_add(&r, ",%.6g", a->accn[k] > 0 ? a->acc[k] / a->accn[k] : NAN);
        const double logn = log((double)cpc_candidates(tr));
        for (int k = 0; k < K; k++)
            row_add(&r, ",%.6g", a->accn[k] > 0 ? logn - a->lossk[k] / a->accn[k] : NAN);
    }
    if (tr->reuse) row_add(&r, ",%.6g,%.6g", a->clipfrac / n, a->kl / n);
    if (K > 0)
        row_add(&r, ",%.6g,%.6g", a->gtn > 0 ? a->gta / a->gtn : NAN,
                a->gtn > 0 ? a->gtc / a->gtn : NAN);
    for (int i = 0; i < tr->aux.n; i++) {
        const AuxKind *k = tr->aux.h[i].kind;
        if (k->horizons) continue;
        for (int j = 0; j <= k->ncols; j++) row_add(&r, ",%.6g", a->aux[i][j] / n);
    }
    row_add(&r, "\n");
    return write_all(fd, r.buf, r.len);
}

// The row being accumulated, in a checkpoint's "state/log" (CKPT_EXTRA_LOG
// doubles), so a checkpoint between two rows resumes to the same next row.
#define LOGACC_DOUBLES (16 + 2 * CPC_MAX_K + AUX_MAX_HEADS * (1 + AUX_MAX_COLS))
_Static_assert(LOGACC_DOUBLES <= CKPT_EXTRA_LOG, "state/log too small for LogAcc");
_Static_assert(CPC_MAX_K <= CKPT_EXTRA_LOGK, "state/logk too small for LogAcc");

// "state/log" holds LogAcc's fields in this order (a file layout: append
// only), each as doubles; the per-k loss sums go to "state/logk".
#define LF_D(f) {offsetof(LogAcc, f), sizeof(((LogAcc *)0)->f) / sizeof(double), 0}
#define LF_F(f) {offsetof(LogAcc, f), 1, 1}
static const struct { size_t off; int count, is_float; } LOG_FIELDS[] = {
    LF_D(n),           LF_D(pl),       LF_D(vl),          LF_D(ent),           LF_D(cpc), LF_D(gn), LF_D(lr),
    LF_F(ep.episodes), LF_F(ep.ret),   LF_F(ep.length),   LF_F(ep.success),    LF_D(acc), LF_D(accn),
    LF_D(clipfrac),    LF_D(kl),       LF_D(gta),         LF_D(gtc),           LF_D(gtn),
    LF_D(aux),
};
#undef LF_D
#undef LF_F

void logacc_pack(const LogAcc *a, double *x) {
    memset(x, 0, (CKPT_EXTRA_LOG + CKPT_EXTRA_LOGK) * sizeof *x);
    const char *base = (const char *)a;
    size_t i = 0;
    for (size_t f = 0; f < sizeof LOG_FIELDS / sizeof LOG_FIELDS[0]; f++)
        for (int j = 0; j < LOG_FIELDS[f].count; j++)
            x[i++] = LOG_FIELDS[f].is_float ? *(const float *)(base + LOG_FIELDS[f].off)
                                            : ((const double *)(base + LOG_FIELDS[f].off))[j];
    assert(i == LOGACC_DOUBLES);
    memcpy(x + CKPT_EXTRA_LOG, a->lossk, sizeof a->lossk); // "state/logk"
}

void logacc_unpack(LogAcc *a, const double *x) {
    char *base = (char *)a;
    size_t i = 0;
    for (size_t f = 0; f < sizeof LOG_FIELDS / sizeof LOG_FIELDS[0]; f++)
        for (int j = 0; j < LOG_FIELDS[f].count; j++, i++) {
            if (LOG_FIELDS[f].is_float) *(float *)(base + LOG_FIELDS[f].off) = (float)x[i];
            else ((double *)(base + LOG_FIELDS[f].off))[j] = x[i];
        }
    memcpy(a->lossk, x + CKPT_EXTRA_LOG, sizeof a->lossk);
}

// ----------------------------------------------------------------------------
// train

// On resume, drop log rows past the checkpoint (written after it by a run
// that was then killed) and a last row cut short (a full disk), so the
// resumed log continues exactly where the checkpointed state is. Rewritten
// atomically; untouched when nothing is dropped. Returns 0, 1 when there is
// no log to continue (missing, or not even a whole header: the caller starts
// a new one), or -1 with a message.
static int count_fields(const char *s) {
    int n = 1;
    for (; *s && *s != '\n'; s++) n += *s == ',';
    return n;
}

// On resume: drop rows past the checkpoint's frames and a cut last line (0,
// or 1 when there is no log or no header). A log begun by an older cpcrl,
// whose header the current one extends by appended columns, gets the current
// header and "nan" in the new columns of its rows, so every row has the
// header's fields. want: the current header line.
int log_truncate(const char *path, double frames, const char *want, char *err, size_t errlen) {
    const char *why = NULL;
    FILE *f = file_open_regular(path, &why);
    if (!f && errno == ENOENT) return 1;
    if (!f) return err_fail(err, errlen, "%s: cannot open: %s", path, why);
    char *out = NULL, line[8192];
    size_t outlen = 0;
    FILE *mf = open_memstream(&out, &outlen);
    if (!mf) { fclose(f); return err_fail(err, errlen, "out of memory"); }
    int lineno = 0, dropped = 0, header = 0, pad = 0;
    const size_t wl = strlen(want);
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t l = strlen(line);
        int whole = l > 0 && line[l - 1] == '\n';
        if (lineno == 1) {
            header = whole;
            // an older header: a prefix of the current one up to a ','
            if (whole && l < wl && !strncmp(line, want, l - 1) && want[l - 1] == ',') {
                pad = count_fields(want) - count_fields(line);
                fputs(want, mf);
                dropped = 1; // rewrite the file
                continue;
            }
        }
        if (!whole || (lineno > 1 && strtod(line, NULL) > frames)) { dropped = 1; continue; }
        if (lineno > 1 && pad > 0) {
            line[l - 1] = 0;
            fputs(line, mf);
            for (int i = 0; i < pad; i++) fputs(",nan", mf);
            fputs("\n", mf);
            continue;
        }
        fputs(line, mf);
    }
    int rerr = ferror(f);
    fclose(f);
    if (fclose(mf) != 0 || rerr) {
        free(out);
        return err_fail(err, errlen, "%s: %s", path, rerr ? "read error" : "out of memory");
    }
    int rc = !header ? 1 : dropped ? file_write_atomic(path, out, outlen, err, errlen) : 0;
    free(out);
    return rc;
}

// eval.csv: a row per evaluation (train --eval-every), written like log.csv's.
int eval_row(int fd, const Trainer *tr, const EvalResult *e, double best_before) {
    Row r = {.len = 0};
    row_add(&r, "%.0f,%lld,%d,%g,%g,%g,%g,%d\n", tr->frames, (long long)tr->updates, e->episodes,
            e->mean_return, e->ci95, e->success, e->mean_length, e->mean_return > best_before);
    return write_all(fd, r.buf, r.len);
}

