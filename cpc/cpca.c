// cpca.c — action-conditioned CPC: a GRU rolled over the actions, scored
// with cpc.c's InfoNCE (see cpca.h for the formula and shapes).
//
// Layout of the work, for one unroll (M_j = (T-j)*B, a prefix of the rows):
//   1. cpc_count: the masking; nothing to do when no triple counts.
//   2. g_0 = tanh(c W_in^T + b_in) over the M_1 contexts: one sgemm.
//   3. step j = 1..K: W_hh g_{j-1} over M_j rows, then the pointwise
//      gates; the input term is a row of xa = W_ih^T + b_ih picked by the
//      action (one-hot input: no product). States and gates stay for the
//      backward.
//   4. P_k = g_k W_out^T into block k of the InfoNCE's pred (one sgemm per
//      k), then cpc_pred_forward_backward: loss, dz, and dP in place.
//   5. backward, j = K..1: dg_j += dP_j W_out and dW_out += dP_j^T g_j, the
//      pointwise GRU backward, dg_{j-1} = dg_j * u + dgh W_hh, dW_hh +=
//      dgh^T g_{j-1}; rows M_j..M_{j-1} of dg_{j-1} start at 0 (those
//      contexts took no step j). Then through the tanh into W_in, b_in, dc.
// The gradient scale weight / count is already in dP, so every product
// accumulates with alpha = 1 into the caller's gradients. Each GRU step's
// rows (its W_hh products and pointwise parts) split over nn_run_parts'
// workers in chunks fixed by the problem's size (step_chunks): rows are
// independent, and every sum over rows (dW_out, dW_hh, the biases, W_ih's
// columns) runs on the calling thread in row order, so the split does not
// depend on the number of threads (test_cpca checks 1 against 2 on problems
// below OpenBLAS's own threading threshold; the whole-unroll products
// outside the steps are OpenBLAS's, threaded by it, with no such promise). One sgemm per step over all rows with OpenBLAS's 2 threads
// measured ~2.6x slower per FLOP than linear mode's products in `cpcrl
// bench train` on a loaded machine: the per-step products are small.
#include "cpc/cpca.h"

#include "nn/nn.h" // before cblas.h, whose complex.h defines I
#include "nn/nn_math.h"
#include "nn/pool.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// set-up

static size_t rows_m(int T, int B) { return T > 1 ? (size_t)(T - 1) * B : 1; }

size_t cpca_workspace_bytes(int T, int B, int D, int H, int K, int G, int A, int negatives) {
    const size_t M = rows_m(T, B);
    return cpc_workspace_bytes(T, B, D, H, K, negatives)
         + ((size_t)(K + 1) * M * G + (size_t)K * M * 4 * G + (size_t)A * 6 * G
            + 3 * M * G + M * 3 * G) * sizeof(float);
}

size_t cpca_param_count(int D, int H, int G, int A) {
    return (size_t)G * H + G + 3 * (size_t)G * A + 3 * (size_t)G * G + 6 * (size_t)G
         + (size_t)D * G;
}

void cpca_free(CPCA *p) {
    cpc_free(&p->nce);
    free(p->g);
    free(p->gates);
    free(p->xa);
    free(p->dxa);
    free(p->dg);
    free(p->dgp);
    free(p->dgh);
    free(p->dxn);
    p->g = p->gates = p->xa = p->dxa = p->dg = p->dgp = p->dgh = p->dxn = NULL;
}

int cpca_init(CPCA *p, int T, int B, int D, int H, int K, int G, int A, int negatives,
              int stop_target) {
    memset(p, 0, sizeof *p);
    if (G < 1 || A < 1) return -1;
    if (cpc_init(&p->nce, T, B, D, H, K, negatives, stop_target) < 0) return -1;
    p->T = T, p->B = B, p->D = D, p->H = H, p->K = K, p->G = G, p->A = A;
    const size_t M = rows_m(T, B);
    p->g = malloc((size_t)(K + 1) * M * G * sizeof(float));
    p->gates = malloc((size_t)K * M * 4 * G * sizeof(float));
    p->xa = malloc((size_t)A * 3 * G * sizeof(float));
    p->dxa = malloc((size_t)A * 3 * G * sizeof(float));
    p->dg = malloc(M * G * sizeof(float));
    p->dgp = malloc(M * G * sizeof(float));
    p->dgh = malloc(M * 3 * G * sizeof(float));
    p->dxn = malloc(M * G * sizeof(float));
    if (!p->g || !p->gates || !p->xa || !p->dxa || !p->dg || !p->dgp || !p->dgh || !p->dxn) {
        cpca_free(p);
        return -1;
    }
    p->work_bytes = cpca_workspace_bytes(T, B, D, H, K, G, A, negatives);
    return 0;
}

double cpca_flops(int T, int B, int D, int H, int K, int G, int negatives) {
    const double M = T > 1 ? (double)(T - 1) * B : 0;
    double f = 3 * 2.0 * M * H * G; // g_0: forward, dc, dW_in
    for (int k = 1; k <= K && k < T; k++) {
        const double Mk = (double)(T - k) * B;
        f += 3 * 2.0 * Mk * 3 * G * G;      // GRU hidden product: forward, dg, dW_hh
        f += 3 * 2.0 * Mk * D * G;          // predictions: forward, dg, dW_out
        const double N = negatives == CPC_NEG_ALL ? (double)T * B : B;
        f += 3 * 2.0 * Mk * N * D;          // scores, dz, dP
    }
    return f;
}

// ----------------------------------------------------------------------------
// the GRU's pointwise parts, one row in blocks of NN_LANES units through
// restrict pointers (nn/nn_math.h: the shape GCC vectorises)

// x* = the action's input term (b_ih, and b_hh's r and z parts, folded in),
// h* = W_hh g_{j-1}, bn = b_hh's n part; writes the gates and g_j.
#define GRU_UNIT(u)                                                                        \
    do {                                                                                   \
        float r_ = nn_sigmoidf(xr[u] + hr[u]), z_ = nn_sigmoidf(xz[u] + hz[u]);            \
        float hn_ = hn[u] + bn[u];                                                         \
        float n_ = nn_tanhf(xn[u] + r_ * hn_);                                             \
        gr[u] = r_, gz[u] = z_, gn[u] = n_, ghn[u] = hn_;                                  \
        gout[u] = (1.0f - z_) * n_ + z_ * gp[u];                                           \
    } while (0)

static void gru_row(float *restrict gr, float *restrict gz, float *restrict gn,
                    float *restrict ghn, float *restrict gout, const float *restrict xr,
                    const float *restrict xz, const float *restrict xn, const float *restrict hr,
                    const float *restrict hz, const float *restrict hn, const float *restrict bn,
                    const float *restrict gp, int G) {
    int j = 0;
    for (; j + NN_LANES <= G; j += NN_LANES)
        for (int k = 0; k < NN_LANES; k++) GRU_UNIT(j + k);
    for (; j < G; j++) GRU_UNIT(j);
}
#undef GRU_UNIT

// From dh = dL/dg_j: the gradients into W_hh g_{j-1} + b_hh (dr, dz, dn),
// the direct part of dL/dg_{j-1} (dprev = dh * z), and the n gate's input
// term (dxn; the r and z input terms get dr and dz, as b_hh's do).
#define GRU_UNIT_BACKWARD(u)                                                               \
    do {                                                                                   \
        float r_ = gr[u], z_ = gz[u], n_ = gn[u], d_ = dh[u];                              \
        float dpn_ = d_ * (1.0f - z_) * (1.0f - n_ * n_);                                  \
        float dpr_ = dpn_ * ghn[u] * r_ * (1.0f - r_);                                     \
        float dpz_ = d_ * (gp[u] - n_) * z_ * (1.0f - z_);                                 \
        dr[u] = dpr_, dz[u] = dpz_, dn[u] = dpn_ * r_, dxn[u] = dpn_;                      \
        dprev[u] = d_ * z_;                                                                \
    } while (0)

static void gru_row_backward(float *restrict dr, float *restrict dz, float *restrict dn,
                             float *restrict dxn, float *restrict dprev,
                             const float *restrict gr, const float *restrict gz,
                             const float *restrict gn, const float *restrict ghn,
                             const float *restrict gp, const float *restrict dh, int G) {
    int j = 0;
    for (; j + NN_LANES <= G; j += NN_LANES)
        for (int k = 0; k < NN_LANES; k++) GRU_UNIT_BACKWARD(j + k);
    for (; j < G; j++) GRU_UNIT_BACKWARD(j);
}
#undef GRU_UNIT_BACKWARD

// acc (n) += the n rows of x (rows, n), in row order
static void add_rows(float *restrict acc, const float *restrict x, size_t rows, int n) {
    for (size_t i = 0; i < rows; i++)
        for (int q = 0; q < n; q++) acc[q] += x[i * n + q];
}

static void tanh_inplace(float *restrict x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = nn_tanhf(x[i]);
}

static void add_into(float *restrict acc, const float *restrict x, int n) {
    for (int q = 0; q < n; q++) acc[q] += x[q];
}

// ----------------------------------------------------------------------------
// one GRU step over rows [lo, hi) of its M_j contexts, forward or backward:
// the rows are independent, so they split over nn_run_parts' workers (each
// part's W_hh products on one OpenBLAS thread) in whole chunks of a
// thread-independent size, so every row's numbers are the same whatever the
// number of threads

typedef struct {
    CPCA *p;
    const CPCAParams *w;
    const int *actions;
    int j, Mj, dp; // step, its rows, dP_j holds a gradient (count_k > 0)
    int nchunks;   // step_chunks(Mj)
} StepJob;


static void step_forward_rows(const StepJob *s, int lo, int hi) {
    CPCA *p = s->p;
    const int G = p->G, G3 = 3 * G, G4 = 4 * G, j = s->j;
    const size_t M = rows_m(p->T, p->B);
    const float *gp = p->g + (size_t)(j - 1) * M * G;
    float *gj = p->g + (size_t)j * M * G, *gt = p->gates + (size_t)(j - 1) * M * G4;
    float *hh = p->dgh; // scratch: W_hh g_{j-1}
    // hh (rows, 3G) = g_{j-1} (rows, G) @ W_hh^T (G, 3G)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, hi - lo, G3, G, 1.0f, gp + (size_t)lo * G,
                G, s->w->w_hh, G, 0.0f, hh + (size_t)lo * G3, G3);
    for (int i = lo; i < hi; i++) {
        const int a = s->actions[i + (j - 1) * p->B];
        assert(a >= 0 && a < p->A);
        const float *x = p->xa + (size_t)a * G3, *h = hh + (size_t)i * G3;
        float *o = gt + (size_t)i * G4;
        gru_row(o, o + G, o + 2 * G, o + 3 * G, gj + (size_t)i * G, x, x + G, x + 2 * G, h, h + G,
                h + 2 * G, s->w->b_hh + 2 * G, gp + (size_t)i * G, G);
    }
}

// Part `part`'s whole chunks of the step's rows, each through rows(s, lo, hi).
static void step_chunks_of_part(const StepJob *s, int part, int nparts,
                                void (*rows)(const StepJob *s, int lo, int hi)) {
    int c0, c1;
    nn_part_range(s->nchunks, part, nparts, &c0, &c1);
    for (int c = c0; c < c1; c++) {
        int lo, hi;
        nn_part_range(s->Mj, c, s->nchunks, &lo, &hi);
        if (hi > lo) rows(s, lo, hi);
    }
}

static void step_forward_part(void *ctx, int part, int nparts) {
    step_chunks_of_part(ctx, part, nparts, step_forward_rows);
}

// dg_j (rows) += dP_j W_out, the pointwise backward (dgh, dxn, dgp), and
// dg_{j-1}'s rows dgp = dg_j * z + dgh W_hh.

static void step_backward_rows(const StepJob *s, int lo, int hi) {
    CPCA *p = s->p;
    const int G = p->G, G3 = 3 * G, G4 = 4 * G, D = p->D, KD = p->K * p->D, j = s->j;
    const size_t M = rows_m(p->T, p->B);
    const float *gp = p->g + (size_t)(j - 1) * M * G, *gt = p->gates + (size_t)(j - 1) * M * G4;
    float *dg = p->dg + (size_t)lo * G, *dgp = p->dgp + (size_t)lo * G;
    float *dgh = p->dgh + (size_t)lo * G3;
    if (s->dp) // dg_j (rows, G) += dP_j (rows, D) @ W_out (D, G)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, hi - lo, G, D, 1.0f,
                    p->nce.pred + (size_t)lo * KD + (size_t)(j - 1) * D, KD, s->w->w_out, G, 1.0f,
                    dg, G);
    for (int i = lo; i < hi; i++) {
        const float *o = gt + (size_t)i * G4;
        float *d = p->dgh + (size_t)i * G3;
        gru_row_backward(d, d + G, d + 2 * G, p->dxn + (size_t)i * G, p->dgp + (size_t)i * G, o,
                         o + G, o + 2 * G, o + 3 * G, gp + (size_t)i * G, p->dg + (size_t)i * G, G);
    }
    // dgp (rows, G) += dgh (rows, 3G) @ W_hh (3G, G)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, hi - lo, G, G3, 1.0f, dgh, G3,
                s->w->w_hh, G, 1.0f, dgp, G);
}

static void step_backward_part(void *ctx, int part, int nparts) {
    step_chunks_of_part(ctx, part, nparts, step_backward_rows);
}

// A step's rows are cut into chunks by the problem's size alone (at most
// NN_MAX_THREADS, at least 8 rows each), one product per chunk, and the
// threads take whole chunks: a row's product is the same call whatever the
// thread count. (Splitting the rows by the thread count instead changed the
// bits under OpenBLAS's Haswell/Zen kernels, whose row tails sum in another
// order.)
static int step_chunks(int rows) {
    int n = rows / 8;
    if (n > NN_MAX_THREADS) n = NN_MAX_THREADS;
    return n < 1 ? 1 : n;
}

static int step_parts(int chunks) {
    int parts = nn_threads();
    return parts > chunks ? chunks : parts;
}

// ----------------------------------------------------------------------------
// forward + backward

float cpca_forward_backward(CPCA *p, float *dc, float *dz, const CPCAGrads *dw, const float *c,
                            const float *z, const int *actions, const CPCAParams *w,
                            const uint8_t *starts, float weight, CPCStats *stats) {
    assert(p->g && p->gates && p->dg); // cpca_init succeeded
    const int T = p->T, B = p->B, D = p->D, H = p->H, K = p->K, G = p->G, A = p->A;
    const int G3 = 3 * G, KD = K * D;
    const size_t M = rows_m(T, B);
    if (cpc_count(&p->nce, starts) == 0)
        return cpc_pred_forward_backward(&p->nce, NULL, z, starts, weight, 0, stats);
    const int *count_k = p->nce.count_k;
    const int kmax = K < T - 1 ? K : T - 1; // steps with a target inside the unroll
    float *P = p->nce.pred;

    // g_0 = tanh(c W_in^T + b_in) over the M contexts t < T-1
    float *g0 = p->g;
    for (size_t i = 0; i < M; i++) memcpy(g0 + i * G, w->b_in, (size_t)G * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, G, H, 1.0f, c, H, w->w_in, H,
                1.0f, g0, G);
    tanh_inplace(g0, M * G);

    // xa[a] = column a of W_ih + b_ih, plus b_hh's r and z parts (they add
    // outside the reset gate; its n part stays inside: r * (W_hn g + b_hn))
    for (int a = 0; a < A; a++)
        for (int q = 0; q < G3; q++)
            p->xa[(size_t)a * G3 + q] = w->w_ih[(size_t)q * A + a] + w->b_ih[q] +
                                        (q < 2 * G ? w->b_hh[q] : 0.0f);

    // the rollout: step j over the M_j contexts whose step-j target is inside
    StepJob job = {p, w, actions, 0, 0, 0, 1};
    for (int j = 1; j <= kmax; j++) {
        job.j = j, job.Mj = (T - j) * B, job.nchunks = step_chunks(job.Mj);
        nn_run_parts(step_parts(job.nchunks), step_forward_part, &job);
    }

    // P_k (M_k, D) = g_k (M_k, G) @ W_out^T (G, D) into block k
    for (int k = 1; k <= kmax; k++)
        if (count_k[k - 1] > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (T - k) * B, D, G, 1.0f,
                        p->g + (size_t)k * M * G, G, w->w_out, G, 0.0f, P + (size_t)(k - 1) * D,
                        KD);

    const int need_dp = dc != NULL || dw != NULL;
    const float loss = cpc_pred_forward_backward(&p->nce, dz, z, starts, weight, need_dp, stats);
    if (!need_dp) return loss;

    // backward through the rollout (p->dg and p->dgp swap roles every step)
    const float *dgh = p->dgh;
    memset(p->dg, 0, (size_t)(T - kmax) * B * G * sizeof(float));
    memset(p->dxa, 0, (size_t)A * G3 * sizeof(float));
    for (int j = kmax; j >= 1; j--) {
        const int Mj = (T - j) * B;
        const float *gp = p->g + (size_t)(j - 1) * M * G, *gj = p->g + (size_t)j * M * G;
        job.j = j, job.Mj = Mj, job.dp = count_k[j - 1] > 0, job.nchunks = step_chunks(Mj);
        nn_run_parts(step_parts(job.nchunks), step_backward_part, &job);
        // the sums over rows, on this thread in row order
        if (dw) {
            // dW_out (D, G) += dP_j^T (D, M_j) @ g_j; dW_hh (3G, G) += dgh^T (3G, M_j) @ g_{j-1}
            if (job.dp)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, G, Mj, 1.0f,
                            P + (size_t)(j - 1) * D, KD, gj, G, 1.0f, dw->w_out, G);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G3, G, Mj, 1.0f, dgh, G3, gp, G,
                        1.0f, dw->w_hh, G);
            add_rows(dw->b_hh, dgh, (size_t)Mj, G3);
            for (int i = 0; i < Mj; i++) { // each row's action input term: dr, dz and dxn
                float *ax = p->dxa + (size_t)actions[i + (j - 1) * B] * G3;
                add_into(ax, dgh + (size_t)i * G3, 2 * G);
                add_into(ax + 2 * G, p->dxn + (size_t)i * G, G);
            }
        }
        // the contexts that took no step j start g_{j-1}'s gradient at 0
        if (j > 1) memset(p->dgp + (size_t)Mj * G, 0, (size_t)B * G * sizeof(float));
        float *x = p->dg;
        p->dg = p->dgp, p->dgp = x;
    }
    float *dg = p->dg;
    if (dw) // the input terms: W_ih's column a and b_ih
        for (int a = 0; a < A; a++)
            for (int q = 0; q < G3; q++) {
                const float v = p->dxa[(size_t)a * G3 + q];
                dw->w_ih[(size_t)q * A + a] += v;
                dw->b_ih[q] += v;
            }

    // g_0 = tanh(pre): dpre = dg_0 (1 - g_0^2); dc += dpre W_in, dW_in += dpre^T c
    for (size_t i = 0; i < M * G; i++) dg[i] *= 1.0f - g0[i] * g0[i];
    if (dc)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, H, G, 1.0f, dg, G, w->w_in,
                    H, 1.0f, dc, H);
    if (dw) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G, H, (int)M, 1.0f, dg, G, c, H, 1.0f,
                    dw->w_in, H);
        add_rows(dw->b_in, dg, M, G);
    }
    return loss;
}

// ----------------------------------------------------------------------------
// naive reference

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

// p (D) = the step-k prediction of context row `row` in double.
static void ref_predict(double *pred, const float *c, const int *actions, const CPCAParams *w,
                        int row, int k, int B, int D, int H, int G, int A, double *g, double *gn) {
    for (int q = 0; q < G; q++) {
        double s = w->b_in[q];
        for (int h = 0; h < H; h++)
            s += (double)w->w_in[(size_t)q * H + h] * c[(size_t)row * H + h];
        g[q] = tanh(s);
    }
    for (int j = 1; j <= k; j++) {
        const int a = actions[row + (j - 1) * B];
        for (int q = 0; q < G; q++) {
            double hr = w->b_hh[q], hu = w->b_hh[G + q], hn = w->b_hh[2 * G + q];
            for (int h = 0; h < G; h++) {
                hr += (double)w->w_hh[(size_t)q * G + h] * g[h];
                hu += (double)w->w_hh[(size_t)(G + q) * G + h] * g[h];
                hn += (double)w->w_hh[(size_t)(2 * G + q) * G + h] * g[h];
            }
            const double r = sigm(w->w_ih[(size_t)q * A + a] + (double)w->b_ih[q] + hr);
            const double u = sigm(w->w_ih[(size_t)(G + q) * A + a] + (double)w->b_ih[G + q] + hu);
            const double n =
                tanh(w->w_ih[(size_t)(2 * G + q) * A + a] + (double)w->b_ih[2 * G + q] + r * hn);
            gn[q] = (1 - u) * n + u * g[q];
        }
        memcpy(g, gn, (size_t)G * sizeof(double));
    }
    for (int d = 0; d < D; d++) {
        double s = 0;
        for (int q = 0; q < G; q++) s += (double)w->w_out[(size_t)d * G + q] * g[q];
        pred[d] = s;
    }
}

typedef struct {
    const float *c;
    const int *actions;
    const CPCAParams *w;
    int B, D, H, G, A;
    double *g, *gn;
} ActionRef;
static void ref_predict_action(void *ctx, int row_c, int k, double *pred) {
    const ActionRef *r = ctx;
    ref_predict(pred, r->c, r->actions, r->w, row_c, k, r->B, r->D, r->H, r->G, r->A, r->g, r->gn);
}

double cpca_ref_loss(const float *c, const float *z, const int *actions, const CPCAParams *w,
                     const uint8_t *starts, int T, int B, int D, int H, int K, int G, int A,
                     int negatives, CPCStats *stats) {
    double *g = malloc((size_t)2 * G * sizeof(double));
    if (!g) return NAN;
    ActionRef r = {c, actions, w, B, D, H, G, A, g, g + G};
    double loss = cpc_ref_loss_pred(ref_predict_action, &r, z, starts, T, B, D, K, negatives, CPC_KW_POOLED,
                                    stats);
    free(g);
    return loss;
}
