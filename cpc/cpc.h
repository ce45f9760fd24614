// cpc.h — the CPC head: linear prediction maps W_k and the InfoNCE loss
// (van den Oord et al. 2018, "Representation Learning with Contrastive
// Predictive Coding", sec. 3.4), forward and backward over one unroll.
//
// Owns: nothing but its workspace. W lives in the caller's parameter slab and
// dW in the gradient slab; c (contexts) and z (latents) are the caller's
// rollout buffers. Knows nothing of A2C.
//
// Shapes, for one unroll of T steps over B envs (row index t*B + b):
//   c      (T*B, H)  contexts c_t = LSTM outputs
//   z      (T*B, D)  latents z_t = encoder outputs (the prediction targets)
//   starts (T*B)     1 where step t is the first step of a new episode of env b
//   W      (K*D, H)  W_k = rows (k-1)*D .. k*D-1, for k = 1..K
//
// Formula:
//   score(t,k,b,j) = z_{t+k,j}^T W_k c_{t,b}
//   BATCH negatives: candidates j = the B envs' latents at the target step t+k,
//                    N = B, the positive is j = b.
//   ALL negatives:   candidates j = every latent of the unroll,
//                    N = T*B, the positive is j = (t+k)*B + b.
//   A triple (t,k,b) counts when t+k < T and starts[s*B+b] == 0 for every
//   s in t+1..t+k (no episode start in (t, t+k]).
//   L_cpc = mean over counted triples of -log softmax_j(score)_positive
//           (k_weighting CPC_KW_POOLED, the default: a k with more counted
//           triples weighs more, as the short horizons do)
//   L_cpc = 1/K' sum_k L_k, L_k = mean over the counted triples of step k,
//           K' = the number of k with a counted triple (CPC_KW_PER_K: each
//           k weighs the same, as in the paper's sum over k of per-k losses)
// Gradients flow into W (dW), into the contexts (dc, then back through the
// LSTM) and into every candidate latent (dz; the targets, positive and
// negative). stop_target = 1 treats z as a constant (no dz).
//
// Cost, for each k: P_k = c W_k^T over the (T-k)*B contexts whose target is
// inside the unroll ((T-k)*B x D x H), then per (t,k) a (B,D)x(D,B) score
// sgemm (BATCH, split over nn_parallel's workers) or per k one
// ((T-k)*B,D)x(D,T*B) sgemm (ALL). The backward reuses P's buffer for dL/dP
// and ends with two sgemms per k of P_k's size (dc and dW_k). The result
// does not depend on the number of threads.
#ifndef CPCRL_CPC_H
#define CPCRL_CPC_H

#include <stddef.h>
#include <stdint.h>

// The one limit on K (steps predicted): --cpc-k, compare's --cpc-ks, the
// per-k statistics of an update and the per-k columns of log.csv.
#define CPC_MAX_K 64

// Negative sampling modes (config's cpc_negatives holds one).
enum { CPC_NEG_BATCH = 0, CPC_NEG_ALL = 1 };
// How the triples' losses are averaged (config's cpc_k_weighting holds one).
enum { CPC_KW_POOLED = 0, CPC_KW_PER_K = 1 };

typedef struct {
    int T, B, D, H, K;
    int negatives;    // CPC_NEG_BATCH or CPC_NEG_ALL
    int stop_target;  // 1: no gradient into z
    int k_weighting;  // CPC_KW_POOLED (cpc_init's) or CPC_KW_PER_K; set after cpc_init
    // workspace, allocated once by cpc_init
    float *pred;      // ((T-1)*B, K*D): P = c W^T, overwritten with dL/dP
    float *scores;    // BATCH (B, B) per worker thread; ALL ((T-1)*B, T*B): scores, then dL/dscores
    int *horizon;     // (T*B): first step s > t where env b starts an episode, else T
    double *loss_tk;  // (K, T): BATCH loss sum of each (t,k)
    int *ok_tk;       // (K, T): BATCH correct count of each (t,k)
    int count_k[CPC_MAX_K]; // counted triples of each k, this call
    size_t work_bytes;
} CPC;

typedef struct {
    float loss;                // mean over counted triples (= the return value)
    int count;                 // counted triples
    int n_candidates;          // N: B (BATCH) or T*B (ALL)
    float acc[CPC_MAX_K];      // [k-1]: fraction with the positive strictly highest
    float loss_k[CPC_MAX_K];   // [k-1]: mean loss of the counted triples of step k
    int count_k[CPC_MAX_K];    // [k-1]: counted triples of step k
} CPCStats;

// Allocate the workspace for these sizes. Returns 0, or -1 when a size is out
// of range (T, B, D, H >= 1, 1 <= K <= CPC_MAX_K, negatives 0/1) or memory
// runs out (p is then left freed).
int cpc_init(CPC *p, int T, int B, int D, int H, int K, int negatives, int stop_target);
void cpc_free(CPC *p);
// Bytes of workspace cpc_init would allocate (for logging / planning).
size_t cpc_workspace_bytes(int T, int B, int D, int H, int K, int negatives);

// Returns L_cpc (unweighted) and adds weight * dL_cpc/d(.) into dc (T*B,H),
// dz (T*B,D) and dW (K*D,H); each may be NULL to skip it (dz is skipped
// anyway when stop_target). stats may be NULL. When no triple counts it
// returns 0 and adds nothing. Never allocates.
float cpc_forward_backward(CPC *p, float *dc, float *dz, float *dW, const float *c,
                           const float *z, const float *W, const uint8_t *starts,
                           float weight, CPCStats *stats);
// Loss and diagnostics only (no gradient work).
float cpc_forward(CPC *p, const float *c, const float *z, const float *W,
                  const uint8_t *starts, CPCStats *stats);

// The bound on the mutual information I(z_{t+k}; c_t) that InfoNCE gives for
// step k (1-based): log N - loss_k. 0 when no triple of step k counted.
float cpc_stats_bound(const CPCStats *s, int k);

// Naive reference: the same loss in double with plain loops (no BLAS, no
// workspace), kept for the tests. Fills stats like cpc_forward when non-NULL.
// cpc_ref_loss is the pooled mean; cpc_ref_loss_kw takes the k_weighting.
double cpc_ref_loss(const float *c, const float *z, const float *W,
                    const uint8_t *starts, int T, int B, int D, int H, int K,
                    int negatives, CPCStats *stats);
double cpc_ref_loss_kw(const float *c, const float *z, const float *W,
                       const uint8_t *starts, int T, int B, int D, int H, int K,
                       int negatives, int k_weighting, CPCStats *stats);
// The same reference for any head: predict(ctx, row, k, pred) writes, in
// double, the D-vector that predicts z_{t+k} from the context of row t*B+b
// (cpc_ref_loss_kw: W_k c_t; CPC|A's reference: its GRU). NaN when out of memory.
double cpc_ref_loss_pred(void (*predict)(void *ctx, int row_c, int k, double *pred), void *ctx,
                         const float *z, const uint8_t *starts, int T, int B, int D, int K,
                         int negatives, int k_weighting, CPCStats *stats);

// ----------------------------------------------------------------------------
// For heads that make their own predictions (CPC|A, cpc/cpca.h). The
// instance is sized as usual (H unused). cpc_count: the masking of
// cpc_forward_backward for these episode starts; returns the number of
// counted triples and fills p->count_k. cpc_pred_forward_backward: the
// caller has written P_k (the step-k predictions of the contexts t < T-k)
// into block k of p->pred, P[t*B+b, (k-1)*D + d]; returns L_cpc and adds
// weight * dL/dz into dz (NULL: none; none anyway when stop_target), and
// when need_dp overwrites the blocks with weight * dL/dP_k (the rows of
// uncounted triples zero). stats as cpc_forward_backward. Never allocates.
int cpc_count(CPC *p, const uint8_t *starts);
float cpc_pred_forward_backward(CPC *p, float *dz, const float *z, const uint8_t *starts,
                                float weight, int need_dp, CPCStats *stats);

#endif
