// cpc.c — InfoNCE forward/backward for the CPC head (see cpc.h for the
// formula and shapes).
//
// Layout of the work, for one unroll:
//   1. horizon[t*B+b] = first step s > t where env b starts an episode (or T);
//      triple (t,k,b) counts iff t+k < horizon. Counting first gives the
//      mean's denominator before any gradient is written.
//   2. P_k = c W_k^T for the contexts that have a step-k target inside the
//      unroll (steps 0..T-k-1), one sgemm per k into block k of P:
//      P[t*B+b, (k-1)*D + d] = (W_k c_{t,b})_d. Rows t >= T-k of block k are
//      never written nor read.
//   3. Scores, log-softmax and dL/dscores in place (the row of a triple that
//      does not count is zeroed), then dz += dS^T P_k and P_k := dS z, so
//      P's buffer ends up holding dL/dP. BATCH: one small sgemm per (t,k),
//      the (t,k) pairs split over nn_parallel's workers by target step.
//   4. Per k: dc += dP_k W_k and dW_k += dP_k^T c over the same rows as 2.
// The gradient scale of step k's triples (weight / count pooled, weight /
// (K' count_k) per-k) is folded into dS, so every later sgemm accumulates
// with alpha = 1, beta = 1 into the caller's gradients.
// Measured (B=32, D=H=256, 2 threads, this repo's VM): one sgemm over all
// (T-1)*B rows per product -> per-k products over the (T-k)*B valid rows and
// threaded scores: T=20/K=10 18.5 -> 13.9 ms per call, T=100/K=30 298 -> 238
// ms (~150 GFLOP/s, near the sgemm 1024^3 rate). The three per-k products
// are 2*(T-k)*B*D*H FLOPs each and none can be dropped: whichever side W_k
// is applied to (contexts, as here, or targets), the two gradients that the
// other side does not give for free plus the forward make three.
// Gathering the K*B predictions aimed at one target step into a single
// (K*B,D)x(D,B) sgemm was measured (T=100, K=30, one thread): score phase 5%
// faster, whole call ~1% — not worth the copies.
#include "cpc/cpc.h"

#include "nn/nn.h" // before cblas.h, whose complex.h defines I
#include "nn/pool.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// ----------------------------------------------------------------------------
// set-up

static size_t pred_rows(int T, int B) { return T > 1 ? (size_t)(T - 1) * B : 1; }

// BATCH: one (B,B) block per worker thread; ALL: the scores of one k.
static size_t scores_floats(int T, int B, int negatives) {
    if (negatives == CPC_NEG_ALL) return pred_rows(T, B) * (size_t)T * B;
    return (size_t)NN_MAX_THREADS * B * B;
}

size_t cpc_workspace_bytes(int T, int B, int D, int H, int K, int negatives) {
    (void)H;
    return pred_rows(T, B) * (size_t)K * D * sizeof(float)
         + scores_floats(T, B, negatives) * sizeof(float)
         + (size_t)T * B * sizeof(int)
         + (size_t)K * T * (sizeof(double) + sizeof(int));
}

int cpc_init(CPC *p, int T, int B, int D, int H, int K, int negatives, int stop_target) {
    memset(p, 0, sizeof *p);
    if (T < 1 || B < 1 || D < 1 || H < 1 || K < 1 || K > CPC_MAX_K) return -1;
    if (negatives != CPC_NEG_BATCH && negatives != CPC_NEG_ALL) return -1;
    p->T = T; p->B = B; p->D = D; p->H = H; p->K = K;
    p->negatives = negatives;
    p->stop_target = stop_target ? 1 : 0;
    p->pred = malloc(pred_rows(T, B) * (size_t)K * D * sizeof(float));
    p->scores = malloc(scores_floats(T, B, negatives) * sizeof(float));
    p->horizon = malloc((size_t)T * B * sizeof(int));
    p->loss_tk = malloc((size_t)K * T * sizeof(double));
    p->ok_tk = malloc((size_t)K * T * sizeof(int));
    if (!p->pred || !p->scores || !p->horizon || !p->loss_tk || !p->ok_tk) {
        cpc_free(p);
        return -1;
    }
    p->work_bytes = cpc_workspace_bytes(T, B, D, H, K, negatives);
    return 0;
}

void cpc_free(CPC *p) {
    free(p->pred);
    free(p->scores);
    free(p->horizon);
    free(p->loss_tk);
    free(p->ok_tk);
    p->pred = NULL;
    p->scores = NULL;
    p->horizon = NULL;
    p->loss_tk = NULL;
    p->ok_tk = NULL;
}

// ----------------------------------------------------------------------------
// masking

// hz[t*B+b] = min{ s > t : starts[s*B+b] } or T. Returns the number of counted
// triples and fills count_k[0..K-1].
static int cpc_horizon(int *hz, int *count_k, const uint8_t *starts, int T, int B, int K) {
    for (int b = 0; b < B; b++) {
        int next = T;
        for (int t = T - 1; t >= 0; t--) {
            hz[t * B + b] = next;
            if (starts[t * B + b]) next = t;
        }
    }
    int total = 0;
    for (int k = 1; k <= K; k++) {
        int n = 0;
        for (int t = 0; t + k < T; t++)
            for (int b = 0; b < B; b++) n += t + k < hz[t * B + b];
        count_k[k - 1] = n;
        total += n;
    }
    return total;
}

// ----------------------------------------------------------------------------
// one softmax row

// Loss of one triple from its N scores (positive at index pos), max-shifted
// for stability. Overwrites the row: with scale * (softmax - onehot(pos))
// when grad, else with scratch. *correct = 1 when the positive is strictly
// above every other score (a tie is wrong).
static double cpc_row(float *row, int N, int pos, int grad, float scale, int *correct) {
    const float sp = row[pos];
    float mx = sp;
    int best = 1;
    for (int j = 0; j < N; j++) {
        mx = row[j] > mx ? row[j] : mx;
        best &= (j == pos) | (row[j] < sp);
    }
    double sum = 0.0;
    for (int j = 0; j < N; j++) {
        float e = expf(row[j] - mx);
        row[j] = e;
        sum += e;
    }
    if (grad) {
        const float g = (float)(scale / sum);
        for (int j = 0; j < N; j++) row[j] *= g;
        row[pos] -= scale;
    }
    *correct = best;
    return (double)mx + log(sum) - (double)sp;
}

// ----------------------------------------------------------------------------
// forward + backward

// BATCH scores of one (t,k): S (B,B) = P_k[t] z_{t+k}^T, the softmax rows in
// place, dz_{t+k} += dS^T P_k[t], then P_k[t] := dS z_{t+k} (= dL/dP_k[t]).
// The (t,k) loss sum and correct count go to loss_tk / ok_tk.
typedef struct {
    const CPC *p;
    const float *z;
    float *dz;
    int need_dp, grad;
    const float *scale; // [k-1]: the gradient scale of step k's triples
} ScoreJob;

static void score_pair(const ScoreJob *j, float *S, int t, int k) {
    const CPC *p = j->p;
    const int T = p->T, B = p->B, D = p->D, KD = p->K * p->D;
    const int *hz = p->horizon;
    float *Pt = p->pred + (size_t)t * B * KD + (size_t)(k - 1) * D;
    const float *zs = j->z + (size_t)(t + k) * B * D;
    double loss = 0.0;
    int correct = 0, any = 0;
    for (int b = 0; b < B; b++) any |= t + k < hz[t * B + b];
    if (!any) { // no triple counts: dP_k[t] = 0
        if (j->need_dp)
            for (int b = 0; b < B; b++) memset(Pt + (size_t)b * KD, 0, D * sizeof(float));
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, B, D, 1.0f, Pt, KD, zs, D, 0.0f,
                    S, B);
        for (int b = 0; b < B; b++) {
            float *row = S + (size_t)b * B;
            if (t + k >= hz[t * B + b]) {
                if (j->grad) memset(row, 0, B * sizeof(float));
                continue;
            }
            int ok;
            loss += cpc_row(row, B, b, j->grad, j->scale[k - 1], &ok);
            correct += ok;
        }
        if (j->dz)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, B, D, B, 1.0f, S, B, Pt, KD,
                        1.0f, j->dz + (size_t)(t + k) * B * D, D);
        if (j->need_dp)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, D, B, 1.0f, S, B, zs, D,
                        0.0f, Pt, KD);
    }
    p->loss_tk[(size_t)(k - 1) * T + t] = loss;
    p->ok_tk[(size_t)(k - 1) * T + t] = correct;
}

// Part `part` of the score work: the target steps j = part, part + nparts, ...
// Every (t,k) aiming at step j writes only dz_j and P_k[t], so parts never
// share an output, and dz_j sums its k = 1..K terms in the same order
// whatever the number of parts: the result does not depend on it.
static void score_part(void *ctx, int part, int nparts) {
    const ScoreJob *j = ctx;
    const CPC *p = j->p;
    float *S = p->scores + (size_t)part * p->B * p->B;
    for (int tj = 1 + part; tj < p->T; tj += nparts)
        for (int k = 1; k <= p->K && k <= tj; k++)
            if (p->count_k[k - 1] > 0) score_pair(j, S, tj - k, k);
}

float cpc_forward_backward(CPC *p, float *dc, float *dz, float *dW, const float *c,
                           const float *z, const float *W, const uint8_t *starts,
                           float weight, CPCStats *stats) {
    assert(p->pred && p->scores && p->horizon); // cpc_init succeeded
    const int T = p->T, B = p->B, D = p->D, H = p->H, K = p->K, KD = K * D;
    const int *count_k = p->count_k;
    if (cpc_count(p, starts) == 0) return cpc_pred_forward_backward(p, dz, z, starts, weight, 0, stats);
    const int need_dp = dc != NULL || dW != NULL;
    float *P = p->pred;

    // P_k (M_k, D) = c (M_k, H) @ W_k^T (H, D) over the M_k = (T-k)*B contexts
    // whose step-k target lies inside the unroll
    for (int k = 1; k <= K; k++)
        if (count_k[k - 1] > 0)
            nn_gemm_fixed(0, 1, (T - k) * B, D, H, c, H, 1, W + (size_t)(k - 1) * D * H, H, 1,
                          0.0f, P + (size_t)(k - 1) * D, KD);

    // scores, InfoNCE, dz, and dP_k over P_k
    const float loss = cpc_pred_forward_backward(p, dz, z, starts, weight, need_dp, stats);

    // dc (M_k, H) += dP_k (M_k, D) @ W_k (D, H); dW_k (D, H) += dP_k^T (D, M_k) @ c (M_k, H)
    for (int k = 1; k <= K && need_dp; k++) {
        if (count_k[k - 1] == 0) continue;
        const int M = (T - k) * B;
        const float *dPk = P + (size_t)(k - 1) * D;
        if (dc)
            nn_gemm_w(0, M, H, D, dPk, KD, W + (size_t)(k - 1) * D * H, H, 1.0f, dc, H);
        if (dW)
            nn_gemm_fixed(1, 0, D, H, M, dPk, KD, 0, c, H, 1, 1.0f, dW + (size_t)(k - 1) * D * H, H);
    }
    return loss;
}

float cpc_forward(CPC *p, const float *c, const float *z, const float *W,
                  const uint8_t *starts, CPCStats *stats) {
    return cpc_forward_backward(p, NULL, NULL, NULL, c, z, W, starts, 0.0f, stats);
}

float cpc_stats_bound(const CPCStats *s, int k) {
    assert(k >= 1 && k <= CPC_MAX_K);
    if (s->count_k[k - 1] == 0 || s->n_candidates < 1) return 0.0f;
    return logf((float)s->n_candidates) - s->loss_k[k - 1];
}

// ----------------------------------------------------------------------------
// naive reference

// W_k c_{t,b} in double: the linear head's prediction of z_{t+k}.
typedef struct { const float *c, *W; int D, H; } LinearRef;
static void ref_predict_linear(void *ctx, int row_c, int k, double *pred) {
    const LinearRef *r = ctx;
    const float *ct = r->c + (size_t)row_c * r->H;
    for (int d = 0; d < r->D; d++) {
        const float *w = r->W + ((size_t)(k - 1) * r->D + d) * r->H;
        double pd = 0.0;
        for (int h = 0; h < r->H; h++) pd += (double)w[h] * ct[h];
        pred[d] = pd;
    }
}

double cpc_ref_loss(const float *c, const float *z, const float *W,
                    const uint8_t *starts, int T, int B, int D, int H, int K,
                    int negatives, CPCStats *stats) {
    return cpc_ref_loss_kw(c, z, W, starts, T, B, D, H, K, negatives, CPC_KW_POOLED, stats);
}

double cpc_ref_loss_kw(const float *c, const float *z, const float *W,
                       const uint8_t *starts, int T, int B, int D, int H, int K,
                       int negatives, int k_weighting, CPCStats *stats) {
    LinearRef r = {c, W, D, H};
    return cpc_ref_loss_pred(ref_predict_linear, &r, z, starts, T, B, D, K, negatives, k_weighting, stats);
}

double cpc_ref_loss_pred(void (*predict)(void *ctx, int row_c, int k, double *pred), void *ctx,
                         const float *z, const uint8_t *starts, int T, int B, int D, int K,
                         int negatives, int k_weighting, CPCStats *stats) {
    const int all = negatives == CPC_NEG_ALL;
    const int N = all ? T * B : B;
    double total = 0.0, sum_means = 0.0;
    int count = 0, kused = 0;
    double *pred = malloc((size_t)D * sizeof(double));
    if (!pred) return NAN;
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->n_candidates = N;
    }
    for (int k = 1; k <= K; k++) {
        double sum_k = 0.0;
        int n_k = 0, correct = 0;
        for (int t = 0; t + k < T; t++)
            for (int b = 0; b < B; b++) {
                int straddles = 0;
                for (int s = t + 1; s <= t + k; s++) straddles |= starts[s * B + b] != 0;
                if (straddles) continue;
                predict(ctx, t * B + b, k, pred);
                const int first = all ? 0 : (t + k) * B; // row of z of candidate 0
                const int pos = (t + k) * B + b;         // row of z of the positive
                double sp = 0.0;
                for (int d = 0; d < D; d++) sp += (double)z[(size_t)pos * D + d] * pred[d];
                double mx = sp, se = 0.0; // running log-sum-exp: mx + log(se)
                int best = 1;
                for (int j = 0; j < N; j++) {
                    double sc = 0.0;
                    for (int d = 0; d < D; d++) sc += (double)z[(size_t)(first + j) * D + d] * pred[d];
                    if (first + j != pos && !(sc < sp)) best = 0;
                    if (sc > mx) {
                        se = se * exp(mx - sc);
                        mx = sc;
                    }
                    se += exp(sc - mx);
                }
                sum_k += mx + log(se) - sp;
                n_k++;
                correct += best;
            }
        total += sum_k;
        count += n_k;
        if (n_k > 0) sum_means += sum_k / n_k, kused++;
        if (stats && k <= CPC_MAX_K) {
            stats->count_k[k - 1] = n_k;
            if (n_k > 0) {
                stats->loss_k[k - 1] = (float)(sum_k / n_k);
                stats->acc[k - 1] = (float)correct / (float)n_k;
            }
        }
    }
    free(pred);
    double loss = count > 0 ? total / count : 0.0;
    if (k_weighting == CPC_KW_PER_K) loss = kused > 0 ? sum_means / kused : 0.0;
    if (stats) {
        stats->count = count;
        stats->loss = (float)loss;
    }
    return loss;
}

// ----------------------------------------------------------------------------
// InfoNCE on predictions made elsewhere (CPC|A, cpc/cpca.c)
//
// The middle of cpc_forward_backward, which calls it: masking, scores,
// softmax rows (weighted per k_weighting), statistics and threading; the
// caller has written P_k into the pred blocks and applies dP itself.

int cpc_count(CPC *p, const uint8_t *starts) {
    assert(p->horizon);
    return cpc_horizon(p->horizon, p->count_k, starts, p->T, p->B, p->K);
}

float cpc_pred_forward_backward(CPC *p, float *dz, const float *z, const uint8_t *starts,
                                float weight, int need_dp, CPCStats *stats) {
    assert(p->pred && p->scores && p->horizon); // cpc_init succeeded
    const int T = p->T, B = p->B, D = p->D, K = p->K;
    const int KD = K * D, N = p->negatives == CPC_NEG_ALL ? T * B : B;
    int *count_k = p->count_k;
    double loss_k[CPC_MAX_K];
    int correct_k[CPC_MAX_K];
    const int count = cpc_horizon(p->horizon, count_k, starts, T, B, K);
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->n_candidates = N;
        for (int k = 0; k < K; k++) stats->count_k[k] = count_k[k];
    }
    if (count == 0) return 0.0f;
    if (p->stop_target) dz = NULL;
    need_dp = need_dp != 0;
    const int grad = need_dp || dz != NULL;
    // pooled: every triple weighs weight / count; per-k: step k's triples
    // weigh weight / (K' count_k), K' = the steps with a counted triple
    float scale[CPC_MAX_K];
    int kused = 0;
    for (int k = 0; k < K; k++) kused += count_k[k] > 0;
    for (int k = 0; k < K; k++)
        scale[k] = p->k_weighting == CPC_KW_PER_K
                       ? (count_k[k] > 0 ? weight / ((float)kused * (float)count_k[k]) : 0.0f)
                       : weight / (float)count;
    const int *hz = p->horizon;
    float *P = p->pred, *S = p->scores;

    if (p->negatives == CPC_NEG_BATCH) {
        ScoreJob job = {p, z, dz, need_dp, grad, scale};
        int parts = nn_threads();
        if (parts > T - 1) parts = T - 1;
        nn_run_parts(parts, score_part, &job);
        for (int k = 1; k <= K; k++) { // fixed order: independent of the parts
            loss_k[k - 1] = 0.0;
            correct_k[k - 1] = 0;
            if (count_k[k - 1] == 0) continue;
            for (int t = 0; t + k < T; t++) {
                loss_k[k - 1] += p->loss_tk[(size_t)(k - 1) * T + t];
                correct_k[k - 1] += p->ok_tk[(size_t)(k - 1) * T + t];
            }
        }
    } else {
        for (int k = 1; k <= K; k++) {
            loss_k[k - 1] = 0.0;
            correct_k[k - 1] = 0;
            if (count_k[k - 1] == 0) continue;
            const int tmax = T - k, M = tmax * B; // t < tmax has its target inside
            float *Pk = P + (size_t)(k - 1) * D;  // block k, row stride KD
            // S (M, TB) = P_k (M, D) @ z^T (D, TB)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, D, 1.0f, Pk, KD, z, D,
                        0.0f, S, N);
            for (int t = 0; t < tmax; t++)
                for (int b = 0; b < B; b++) {
                    float *row = S + (size_t)(t * B + b) * N;
                    if (t + k >= hz[t * B + b]) {
                        if (grad) memset(row, 0, N * sizeof(float));
                        continue;
                    }
                    int ok;
                    loss_k[k - 1] += cpc_row(row, N, (t + k) * B + b, grad, scale[k - 1], &ok);
                    correct_k[k - 1] += ok;
                }
            // dz (TB, D) += dS^T (TB, M) @ P_k (M, D)
            if (dz)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, D, M, 1.0f, S, N, Pk,
                            KD, 1.0f, dz, D);
            // dP_k (M, D) = dS (M, TB) @ z (TB, D), over P_k
            if (need_dp)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, D, N, 1.0f, S, N, z,
                            D, 0.0f, Pk, KD);
        }
    }

    double total = 0.0, means = 0.0;
    for (int k = 0; k < K; k++) total += loss_k[k];
    for (int k = 0; k < K; k++)
        if (count_k[k] > 0) means += loss_k[k] / count_k[k];
    const float loss = (float)(p->k_weighting == CPC_KW_PER_K ? means / kused : total / count);
    if (stats) {
        stats->loss = loss;
        stats->count = count;
        for (int k = 0; k < K; k++)
            if (count_k[k] > 0) {
                stats->loss_k[k] = (float)(loss_k[k] / count_k[k]);
                stats->acc[k] = (float)correct_k[k] / (float)count_k[k];
            }
    }
    return loss;
}
