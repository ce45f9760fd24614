// probe.c — linear read-outs of c_t and z_t from a checkpoint (see probe.h).
#include "lab/probe.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/trainer.h"
#include "nn/blas.h"
#include "nn/gemm.h"
#include "agent/ckpt.h"
#include "base/errs.h"
#include "base/file.h"
#include "agent/train.h"
#include "env/tasks.h"

#include <cblas.h> // after the project headers: its complex.h defines I

const char *const PROBE_LABEL_NAMES[PROBE_NLABELS] = {"position", "heading", "goal"};

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void probe_defaults(ProbeOptions *o) {
    memset(o, 0, sizeof *o);
    o->episodes = 100;
    o->envs = 16;
    o->seed = 1;
    o->greedy = 0;
    o->lambda = 1e-2;
    o->threads = 0;
}

// ----------------------------------------------------------------------------
// Linear algebra

int probe_cholesky(double *A, int n) {
    for (int j = 0; j < n; j++) {
        double d = A[(size_t)j * n + j];
        for (int k = 0; k < j; k++) d -= A[(size_t)j * n + k] * A[(size_t)j * n + k];
        if (!(d > 0)) return -1; // also catches NaN
        double ljj = sqrt(d);
        A[(size_t)j * n + j] = ljj;
        for (int i = j + 1; i < n; i++) {
            double s = A[(size_t)i * n + j];
            for (int k = 0; k < j; k++) s -= A[(size_t)i * n + k] * A[(size_t)j * n + k];
            A[(size_t)i * n + j] = s / ljj;
        }
        for (int i = 0; i < j; i++) A[(size_t)i * n + j] = 0; // strict upper of column j
    }
    return 0;
}

void probe_cholesky_solve(const double *L, int n, double *B, int m) {
    // forward: L Y = B
    for (int i = 0; i < n; i++) {
        double *bi = B + (size_t)i * m;
        for (int k = 0; k < i; k++) {
            double l = L[(size_t)i * n + k];
            const double *bk = B + (size_t)k * m;
            for (int c = 0; c < m; c++) bi[c] -= l * bk[c];
        }
        double inv = 1.0 / L[(size_t)i * n + i];
        for (int c = 0; c < m; c++) bi[c] *= inv;
    }
    // backward: L^T X = Y
    for (int i = n - 1; i >= 0; i--) {
        double *bi = B + (size_t)i * m;
        for (int k = i + 1; k < n; k++) {
            double l = L[(size_t)k * n + i];
            const double *bk = B + (size_t)k * m;
            for (int c = 0; c < m; c++) bi[c] -= l * bk[c];
        }
        double inv = 1.0 / L[(size_t)i * n + i];
        for (int c = 0; c < m; c++) bi[c] *= inv;
    }
}

// G (F, F) holds X^T X in its lower triangle, W (F, M) holds X^T Y; adds
// lam to the diagonal, factors G and leaves the solution in W.
static int ridge_solve(double *G, int F, double lam, double *W, int M) {
    for (int i = 0; i < F; i++) G[(size_t)i * F + i] += lam;
    if (probe_cholesky(G, F) < 0) return -1;
    probe_cholesky_solve(G, F, W, M);
    return 0;
}

int probe_ridge(const double *X, int N, int F, const double *Y, int M, double lam, double *W,
                double *G) {
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, F, N, 1.0, X, F, 0.0, G, F);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, F, M, N, 1.0, X, F, Y, M, 0.0, W, M);
    return ridge_solve(G, F, lam, W, M);
}

void probe_fit_free(ProbeFit *pf) {
    free(pf->mu), free(pf->sc), free(pf->cls), free(pf->W), free(pf->p), free(pf->map);
    memset(pf, 0, sizeof *pf);
}

int probe_fit(ProbeFit *pf, const float *Xtr, const int *ytr, int Ntr, int F, double lambda) {
    memset(pf, 0, sizeof *pf);
    if (Ntr < 1 || F < 1) return -1;
    int maxlab = 0;
    for (int i = 0; i < Ntr; i++) {
        if (ytr[i] < 0) return -1;
        maxlab = ytr[i] > maxlab ? ytr[i] : maxlab;
    }
    pf->F = F, pf->maxlab = maxlab;
    pf->map = malloc((size_t)(maxlab + 1) * sizeof(int));
    pf->mu = calloc((size_t)F, sizeof(double)), pf->sc = calloc((size_t)F, sizeof(double));
    double *X = malloc((size_t)Ntr * F * sizeof(double));
    double *G = malloc((size_t)F * F * sizeof(double));
    int *cnt = NULL, M = 0, rc = -1;
    if (!pf->map || !pf->mu || !pf->sc || !X || !G) goto done;
    for (int l = 0; l <= maxlab; l++) pf->map[l] = -1;
    for (int i = 0; i < Ntr; i++)
        if (pf->map[ytr[i]] < 0) pf->map[ytr[i]] = M++;
    pf->M = M;
    pf->W = calloc((size_t)F * M, sizeof(double));
    pf->p = calloc((size_t)M, sizeof(double));
    pf->cls = malloc((size_t)M * sizeof(int));
    cnt = calloc((size_t)M, sizeof(int));
    if (!pf->W || !pf->p || !pf->cls || !cnt) goto done;
    for (int l = 0; l <= maxlab; l++)
        if (pf->map[l] >= 0) pf->cls[pf->map[l]] = l;
    // standardize with the training statistics (constant features -> 0)
    double *mu = pf->mu, *sc = pf->sc;
    for (int i = 0; i < Ntr; i++)
        for (int f = 0; f < F; f++) mu[f] += Xtr[(size_t)i * F + f];
    for (int f = 0; f < F; f++) mu[f] /= Ntr;
    for (int i = 0; i < Ntr; i++)
        for (int f = 0; f < F; f++) {
            double d = Xtr[(size_t)i * F + f] - mu[f];
            sc[f] += d * d;
        }
    for (int f = 0; f < F; f++) {
        double sd = sqrt(sc[f] / Ntr);
        sc[f] = sd > 1e-8 ? 1.0 / sd : 0.0;
    }
    for (int i = 0; i < Ntr; i++)
        for (int f = 0; f < F; f++)
            X[(size_t)i * F + f] = (Xtr[(size_t)i * F + f] - mu[f]) * sc[f];
    // X^T (Y - mean Y) = X^T Y since the columns of X sum to zero: column j
    // of X^T Y is the sum of the rows of class j
    for (int i = 0; i < Ntr; i++) {
        int j = pf->map[ytr[i]];
        cnt[j]++;
        for (int f = 0; f < F; f++) pf->W[(size_t)f * M + j] += X[(size_t)i * F + f];
    }
    pf->major = 0;
    for (int j = 0; j < M; j++) {
        pf->p[j] = (double)cnt[j] / Ntr;
        if (cnt[j] > cnt[pf->major]) pf->major = j;
    }
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, F, Ntr, 1.0, X, F, 0.0, G, F);
    if (ridge_solve(G, F, lambda * Ntr, pf->W, M) < 0) goto done;
    rc = 0;
done:
    free(X), free(G), free(cnt);
    if (rc < 0) probe_fit_free(pf);
    return rc;
}

int probe_fit_eval(const ProbeFit *pf, const float *Xte, const int *yte, int Nte, double *acc,
                   double *chance) {
    *acc = *chance = NAN;
    if (Nte < 1) return -1;
    const int F = pf->F, M = pf->M;
    enum { CHUNK = 512 };
    double *S = malloc((size_t)CHUNK * M * sizeof(double));
    double *xs = malloc((size_t)CHUNK * F * sizeof(double));
    if (!S || !xs) {
        free(S), free(xs);
        return -1;
    }
    int hit = 0, hit_chance = 0;
    for (int i0 = 0; i0 < Nte; i0 += CHUNK) {
        int n = Nte - i0 < CHUNK ? Nte - i0 : CHUNK;
        for (int i = 0; i < n; i++)
            for (int f = 0; f < F; f++)
                xs[(size_t)i * F + f] = (Xte[(size_t)(i0 + i) * F + f] - pf->mu[f]) * pf->sc[f];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, M, F, 1.0, xs, F, pf->W, M, 0.0, S,
                    M);
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int j = 1; j < M; j++)
                if (S[(size_t)i * M + j] + pf->p[j] > S[(size_t)i * M + best] + pf->p[best]) best = j;
            int y = yte[i0 + i];
            int truth = y >= 0 && y <= pf->maxlab ? pf->map[y] : -1; // unseen in training: a miss
            hit += truth == best;
            hit_chance += truth == pf->major;
        }
    }
    *acc = (double)hit / Nte;
    *chance = (double)hit_chance / Nte;
    free(S), free(xs);
    return 0;
}

int probe_classify(const float *Xtr, const int *ytr, int Ntr, const float *Xte, const int *yte,
                   int Nte, int F, double lambda, double *acc, double *chance, int *classes) {
    *acc = *chance = NAN;
    if (classes) *classes = 0;
    if (Ntr < 1 || Nte < 1 || F < 1) return -1;
    ProbeFit pf;
    if (probe_fit(&pf, Xtr, ytr, Ntr, F, lambda) < 0) return -1;
    int rc = probe_fit_eval(&pf, Xte, yte, Nte, acc, chance);
    if (rc == 0 && classes) *classes = pf.M;
    probe_fit_free(&pf);
    return rc;
}

// ----------------------------------------------------------------------------
// Collecting representations with labels

typedef struct {
    Trainer *tr;
    int t;
    int *lab[PROBE_NLABELS]; // (T, B) labels of the unroll being collected
} Collector;

void probe_samples_free(ProbeSamples *s) {
    free(s->c), free(s->z);
    for (int l = 0; l < PROBE_NLABELS; l++) free(s->lab[l]);
    memset(s, 0, sizeof *s);
}

// Stands in for vec_step: records the state each observation of step t was
// taken in, then steps the envs as usual.
static void collect_step(void *ctx, const int *actions, uint8_t *obs, float *rewards,
                         uint8_t *terminated, uint8_t *truncated, uint8_t *final_obs) {
    Collector *cl = ctx;
    Trainer *tr = cl->tr;
    for (int b = 0; b < tr->B; b++) {
        const Env *e = &tr->vec.envs[b];
        size_t i = (size_t)cl->t * tr->B + b;
        cl->lab[PROBE_POS][i] = e->ay * ENV_MAX_SIZE + e->ax;
        cl->lab[PROBE_HEADING][i] = e->dir;
        cl->lab[PROBE_GOAL][i] = env_goal_label(e);
    }
    vec_step_final(&tr->vec, actions, obs, rewards, terminated, truncated, final_obs);
    cl->t = (cl->t + 1) % tr->T;
}

// Roll out `episodes` episodes with env seed `seed` and append every step's
// c_t, z_t and labels to s (allocated here).
static int collect(const Ckpt *ck, const ProbeOptions *o, uint64_t seed, ProbeSamples *s, char *err,
                   size_t errlen) {
    memset(s, 0, sizeof *s);
    Config cfg = ck->cfg;
    const int E = o->episodes;
    cfg.seed = seed;
    cfg.envs = o->envs < E ? o->envs : E;
    const int use_cpc = cfg.cpc_weight > 0;
    if (use_cpc && cfg.envs < 2) cfg.envs = 2;
    cfg.epochs = cfg.minibatches = 1, cfg.clip = 0; // no updates: no sample-reuse buffers
    cfg.unroll = use_cpc && cfg.cpc_k + 1 > 20 ? cfg.cpc_k + 1 : 20;
    if (cfg.precision == GEMM_BF16 && !gemm_bf16_available()) { // trained elsewhere in bf16
        fprintf(stderr, "cpcrl probe: trained with --precision bf16, which this machine cannot run (%s); "
                        "probing with fp32 products\n", gemm_bf16_status());
        cfg.precision = GEMM_FP32;
    }
    Trainer tr;
    if (trainer_init(&tr, &cfg, err, errlen) < 0) return -1;
    Collector cl = {.tr = &tr};
    const int B = tr.B, T = tr.T;
    int *quota = calloc((size_t)B, sizeof(int)), *done = calloc((size_t)B, sizeof(int));
    for (int l = 0; l < PROBE_NLABELS; l++) cl.lab[l] = malloc((size_t)T * B * sizeof(int));
    s->H = tr.model.H, s->D = tr.model.D, s->envs = B;
    s->cap = E * tr.ecfg.max_steps;
    s->c = malloc((size_t)s->cap * s->H * sizeof(float));
    s->z = malloc((size_t)s->cap * s->D * sizeof(float));
    for (int l = 0; l < PROBE_NLABELS; l++) s->lab[l] = malloc((size_t)s->cap * sizeof(int));
    int rc = -1;
    if (!quota || !done || !cl.lab[0] || !cl.lab[1] || !cl.lab[2] || !s->c || !s->z ||
        !s->lab[0] || !s->lab[1] || !s->lab[2]) {
        err_fail(err, errlen, "out of memory (%d episodes of up to %d steps)", E, tr.ecfg.max_steps);
        goto done;
    }
    if (ckpt_load_model(ck, &tr.model, err, errlen) < 0) goto done;
    tr.greedy = o->greedy;
    tr.env_step = collect_step;
    tr.env_ctx = &cl;
    for (int b = 0; b < B; b++) quota[b] = E / B + (b < E % B);
    for (;;) {
        int left = 0;
        for (int b = 0; b < B; b++) left += done[b] < quota[b];
        if (!left) break;
        trainer_rollout(&tr);
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++) {
                if (done[b] >= quota[b]) continue;
                size_t i = (size_t)t * B + b;
                if (s->n >= s->cap) { // episodes never outlast max_steps
                    err_fail(err, errlen, "internal: more probe samples than %d", s->cap);
                    goto done;
                }
                memcpy(s->c + (size_t)s->n * s->H, tr.acts.h + i * s->H, (size_t)s->H * sizeof(float));
                memcpy(s->z + (size_t)s->n * s->D, tr.acts.z + i * s->D, (size_t)s->D * sizeof(float));
                for (int l = 0; l < PROBE_NLABELS; l++) s->lab[l][s->n] = cl.lab[l][i];
                s->n++;
                if (tr.done[i] > 0) done[b]++;
            }
        memset(&tr.ep, 0, sizeof tr.ep);
    }
    rc = 0;
done:
    free(quota), free(done);
    for (int l = 0; l < PROBE_NLABELS; l++) free(cl.lab[l]);
    trainer_free(&tr);
    if (rc < 0) probe_samples_free(s);
    return rc;
}

int probe_run_samples(const char *path_in, const ProbeOptions *o, ProbeResult *r, ProbeSamples *train,
                      ProbeSamples *test, char *err, size_t errlen) {
    char path[1100];
    memset(r, 0, sizeof *r);
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (o->episodes < 1 || o->envs < 1 || !(o->lambda > 0))
        return err_fail(err, errlen, "probe: episodes, envs and lambda must be positive");
    ckpt_path_for(path_in, path, sizeof path);
    Ckpt ck;
    if (ckpt_read(&ck, path, err, errlen) < 0) return -1;
    blas_set_threads(o->threads);
    ProbeSamples tr_s, te_s;
    char msg[512];
    if (collect(&ck, o, o->seed, &tr_s, msg, sizeof msg) < 0) {
        ckpt_free(&ck);
        return err_fail(err, errlen, "%s: %s", path, msg);
    }
    if (collect(&ck, o, o->seed + PROBE_TEST_SEED_OFFSET, &te_s, msg, sizeof msg) < 0) {
        probe_samples_free(&tr_s);
        ckpt_free(&ck);
        return err_fail(err, errlen, "%s: %s", path, msg);
    }
    r->task = ck.cfg.task;
    r->hidden = tr_s.H;
    r->envs = tr_s.envs;
    const CkptRecord *fr = ckpt_find(&ck, "state/frames"); // validated by ckpt_read
    if (fr && fr->dtype == CK_F64 && fr->count == 1 && ck.len >= 4) {
        memcpy(&r->ckpt.frames, fr->data, sizeof r->ckpt.frames);
        r->ckpt.crc = le32(ck.buf + ck.len - 4);
        r->has_ckpt = 1;
    }
    ckpt_free(&ck);
    r->n_train = tr_s.n, r->n_test = te_s.n, r->episodes = o->episodes;
    int rc = 0;
    for (int l = 0; l < PROBE_NLABELS && rc == 0; l++) {
        r->has[l] = tr_s.n > 0 && tr_s.lab[l][0] >= 0;
        r->acc_c[l] = r->acc_z[l] = r->chance[l] = NAN;
        if (!r->has[l]) continue;
        double ch;
        if (probe_classify(tr_s.c, tr_s.lab[l], tr_s.n, te_s.c, te_s.lab[l], te_s.n, tr_s.H,
                           o->lambda, &r->acc_c[l], &r->chance[l], &r->classes[l]) < 0 ||
            probe_classify(tr_s.z, tr_s.lab[l], tr_s.n, te_s.z, te_s.lab[l], te_s.n, tr_s.D,
                           o->lambda, &r->acc_z[l], &ch, NULL) < 0)
            rc = err_fail(err, errlen, "%s: ridge fit of the %s probe failed (out of memory?)", path,
                      PROBE_LABEL_NAMES[l]);
    }
    if (rc < 0) {
        probe_samples_free(&tr_s);
        probe_samples_free(&te_s);
        return rc;
    }
    *train = tr_s, *test = te_s;
    return 0;
}

int probe_run(const char *path, const ProbeOptions *o, ProbeResult *r, char *err, size_t errlen) {
    ProbeSamples tr_s, te_s;
    int rc = probe_run_samples(path, o, r, &tr_s, &te_s, err, errlen);
    probe_samples_free(&tr_s);
    probe_samples_free(&te_s);
    return rc;
}

void probe_print_table(FILE *f, const char *path, const ProbeOptions *o, const ProbeResult *r) {
    fprintf(f, "probe %s: task %s, %d + %d episodes (%s, seeds %llu / %llu), %d train / %d held-out steps, "
               "ridge lambda %g\n",
            path, ENV_TASK_NAMES[r->task], o->episodes, o->episodes, o->greedy ? "greedy" : "sampled",
            (unsigned long long)o->seed, (unsigned long long)(o->seed + PROBE_TEST_SEED_OFFSET), r->n_train,
            r->n_test, o->lambda);
    fprintf(f, "  %-9s %8s %8s %8s %8s\n", "label", "classes", "chance", "c_t", "z_t");
    for (int l = 0; l < PROBE_NLABELS; l++) {
        if (!r->has[l]) {
            fprintf(f, "  %-9s %8s %8s %8s %8s\n", PROBE_LABEL_NAMES[l], "-", "-", "-", "-");
            continue;
        }
        fprintf(f, "  %-9s %8d %8.3f %8.3f %8.3f\n", PROBE_LABEL_NAMES[l], r->classes[l], r->chance[l],
                r->acc_c[l], r->acc_z[l]);
    }
}

// ----------------------------------------------------------------------------
// probe.csv

int probe_write_csv(const ProbeResult *r, const char *path, char *err, size_t errlen) {
    char *text = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&text, &len);
    if (!mf) return err_fail(err, errlen, "%s: out of memory", path);
    fprintf(mf, "label,has,classes,chance,acc_c,acc_z,n_train,n_test,task,episodes%s\n",
            r->has_ckpt ? ",ckpt_frames,ckpt_crc32" : "");
    for (int l = 0; l < PROBE_NLABELS; l++) {
        fprintf(mf, "%s,%d,%d,%.6g,%.6g,%.6g,%d,%d,%s,%d", PROBE_LABEL_NAMES[l], r->has[l],
                r->classes[l], r->chance[l], r->acc_c[l], r->acc_z[l], r->n_train, r->n_test,
                ENV_TASK_NAMES[r->task], r->episodes);
        if (r->has_ckpt) fprintf(mf, ",%.0f,%08x", r->ckpt.frames, (unsigned)r->ckpt.crc);
        fprintf(mf, "\n");
    }
    fclose(mf);
    int rc = file_write_atomic(path, text, len, err, errlen);
    free(text);
    return rc;
}

int probe_ckpt_id(const char *path, ProbeCkptId *id) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); // a FIFO there must not block
    struct stat st;
    if (fd < 0) return -1;
    FILE *f = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? fdopen(fd, "rb") : NULL;
    if (!f) {
        close(fd);
        return -1;
    }
    int rc = -1, found = 0;
    uint8_t b[16];
    if (st.st_size < 24) goto done;
    const uint64_t end = (uint64_t)st.st_size - 4; // the CRC
    if (fread(b, 1, 16, f) != 16 || memcmp(b, "CPCRLCKP", 8)) goto done;
    uint64_t off = 16 + (uint64_t)le32(b + 12); // the config text
    if (off + 4 > end || fseeko(f, (off_t)off, SEEK_SET) != 0 || fread(b, 1, 4, f) != 4) goto done;
    uint32_t nrec = le32(b);
    off += 4;
    for (uint32_t i = 0; i < nrec && !found; i++) {
        char name[64];
        if (off + 4 > end || fread(b, 1, 4, f) != 4) goto done;
        uint32_t nl = le32(b);
        if (nl == 0 || nl >= sizeof name || off + 4 + nl + 8 > end || fread(name, 1, nl, f) != nl ||
            fread(b, 1, 8, f) != 8)
            goto done;
        name[nl] = 0;
        uint32_t dtype = le32(b), ndim = le32(b + 4);
        static const uint64_t SIZE[4] = {4, 1, 8, 8};
        if (dtype > 3 || ndim > 4) goto done;
        off += 4 + nl + 8 + 4ull * ndim;
        uint64_t count = 1;
        for (uint32_t d = 0; d < ndim; d++) {
            if (fread(b, 1, 4, f) != 4) goto done;
            const uint64_t dim = le32(b);
            if (dim && count > end / dim) goto done;
            count *= dim;
        }
        const uint64_t bytes = count * SIZE[dtype];
        if (off + bytes > end) goto done;
        if (!strcmp(name, "state/frames")) {
            double v;
            if (dtype != CK_F64 || count != 1 || fread(&v, 8, 1, f) != 1 || !isfinite(v)) goto done;
            id->frames = v, found = 1;
        }
        off += bytes;
        if (fseeko(f, (off_t)off, SEEK_SET) != 0) goto done;
    }
    if (found && fseeko(f, (off_t)end, SEEK_SET) == 0 && fread(b, 1, 4, f) == 4) {
        id->crc = le32(b);
        rc = 0;
    }
done:
    fclose(f);
    return rc;
}

int probe_read_csv(ProbeResult *r, const char *path, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    for (int l = 0; l < PROBE_NLABELS; l++) r->acc_c[l] = r->acc_z[l] = r->chance[l] = NAN;
    const char *why = NULL;
    FILE *f = file_open_regular(path, &why);
    if (!f) return err_fail(err, errlen, "%s: cannot open: %s", path, why);
    char line[512];
    int rows = 0, rc = 0;
    if (!fgets(line, sizeof line, f) || strncmp(line, "label,has,classes,", 18) != 0)
        rc = err_fail(err, errlen, "%s: not a probe.csv (bad header)", path);
    while (rc == 0 && fgets(line, sizeof line, f)) {
        char name[32], task[32];
        int has, cls, ntr, nte, eps;
        double ch, ac, az, ckf = 0;
        unsigned ckc = 0;
        int nf = sscanf(line, "%31[^,],%d,%d,%lf,%lf,%lf,%d,%d,%31[^,],%d,%lf,%x", name, &has, &cls, &ch, &ac,
                        &az, &ntr, &nte, task, &eps, &ckf, &ckc);
        if ((nf != 10 && nf != 12) || (rows > 0 && (nf == 12) != r->has_ckpt)) {
            rc = err_fail(err, errlen, "%s:%d: expected 10 or 12 fields, as in every row", path, rows + 2);
            break;
        }
        r->has_ckpt = nf == 12;
        if (nf == 12) r->ckpt.frames = ckf, r->ckpt.crc = ckc;
        r->episodes = eps;
        for (int l = 0; l < PROBE_NLABELS; l++) {
            if (strcmp(name, PROBE_LABEL_NAMES[l])) continue;
            r->has[l] = has, r->classes[l] = cls, r->chance[l] = ch;
            r->acc_c[l] = ac, r->acc_z[l] = az;
        }
        r->n_train = ntr, r->n_test = nte;
        int t = env_task_from_name(task);
        r->task = t < 0 ? 0 : t;
        rows++;
    }
    fclose(f);
    if (rc == 0 && rows == 0) rc = err_fail(err, errlen, "%s: no rows", path);
    return rc;
}
