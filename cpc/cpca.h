// cpca.h — action-conditioned CPC (CPC|A; Guo et al. 2018, "Neural
// Predictive Belief Representations", and 2020, PBL): the prediction of
// z_{t+k} is made by a small GRU rolled forward from c_t over the actions
// taken in between, then scored with the same InfoNCE as cpc.h.
//
// Owns: its workspace (the rollout's activations and an InfoNCE instance).
// The parameters live in the caller's parameter slab, their gradients in the
// gradient slab (CPCAParams / CPCAGrads point into them); c, z, actions and
// starts are the caller's rollout buffers. Knows nothing of A2C.
//
// Shapes, one unroll of T steps over B envs (row index t*B + b), G = the
// core's size (--cpc-action-hidden), A actions, M = (T-1)*B:
//   c (T*B, H), z (T*B, D), actions (T*B) a_t in 0..A-1, starts (T*B)
//   w_in (G, H), b_in (G)                    context -> initial state
//   w_ih (3G, A), w_hh (3G, G), b_ih, b_hh (3G)  GRU, gates r, u, n (PyTorch's
//                                            r, z, n order and formula)
//   w_out (D, G)                             state -> prediction, shared over k
//
// Formula, for every context (t, b) with t < T-1:
//   g_0     = tanh(w_in c_{t,b} + b_in)
//   x_j     = onehot(a_{t+j-1,b})                                   j = 1..K
//   r_j     = sigmoid(W_ir x_j + b_ir + W_hr g_{j-1} + b_hr)
//   u_j     = sigmoid(W_iz x_j + b_iz + W_hz g_{j-1} + b_hz)
//   n_j     = tanh(W_in x_j + b_in' + r_j * (W_hn g_{j-1} + b_hn))
//   g_j     = (1 - u_j) * n_j + u_j * g_{j-1}
//   p_{t,k,b} = w_out g_k                   (g_k after k actions)
//   score(t,k,b,j) = z_{t+k,j}^T p_{t,k,b}
// then exactly cpc.h's InfoNCE: the same candidates (BATCH / ALL), the same
// masking (a triple counts when t+k < T and no episode starts in (t, t+k]:
// such a triple's actions all belong to the episode of c_t), the same mean,
// the same CPCStats. Step j of the rollout runs only the (T-j)*B contexts
// whose step-j target lies inside the unroll (a prefix of the rows), so the
// actions it reads, a_{t+j-1}, are the unroll's.
//
// Choices and why:
//   - w_out is shared over k (no per-k map, no bias): the core's state is
//     what changes with k, as in Guo et al.'s shared predictor; the
//     parameter count does not grow with K. A bias b would add z_j^T b, a
//     preference for some candidates that no context can inform.
//   - inputs are the one-hot actions only: the step index is implicit in
//     the number of GRU steps taken.
//   - g_0 = tanh(...) keeps the initial state in the GRU's own range (-1, 1).
//
// Cost (FLOPs, M_j = (T-j)*B): forward 2 M H G (g_0) + sum_j 2 M_j 3G G
// (the GRU's hidden products; the input product is a column gather) +
// sum_k 2 M_k D G (predictions), the backward twice that; plus the
// InfoNCE's scores as in linear mode. Linear mode's three products per k
// are 2 M_k D H each. Measured (B=32, D=H=256, one thread, CPU time per
// call, this repo's loaded 2-core VM): T=20/K=10 G=64 14.6 ms vs linear
// 18.7, G=128 30.3, G=256 72.7; T=100/K=30 G=64 297 ms vs linear 332.
// The G-wide products run at about half linear mode's GFLOP/s (skinny
// shapes), so G = 64, a quarter of H, costs about what linear mode does.
// The GRU's pointwise parts are vectorised (nn/nn_math.h): with libm's
// expf/tanhf the T=20/K=10 call took 22.3 ms.
// Memory: (K+1) (T-1) B G floats of states and K (T-1) B 4G of gates.
#ifndef CPCRL_CPCA_H
#define CPCRL_CPCA_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/cpc.h"

// Pointers into the parameter slab (or anywhere), and into the gradient slab.
typedef struct {
    const float *w_in, *b_in, *w_ih, *w_hh, *b_ih, *b_hh, *w_out;
} CPCAParams;
typedef struct {
    float *w_in, *b_in, *w_ih, *w_hh, *b_ih, *b_hh, *w_out;
} CPCAGrads;

typedef struct {
    int T, B, D, H, K, G, A;
    CPC nce;          // the InfoNCE (its pred buffer holds P, then dL/dP)
    float *g;         // (K+1) blocks of (M, G): g_0 .. g_K
    float *gates;     // K blocks of (M, 4G): r, u, n, hn = W_hn g_{j-1} + b_hn
    float *xa;        // (A, 3G): each action's input term, W_ih^T + b_ih (+ b_hh's r, z parts)
    float *dxa;       // (A, 3G): gradient into each action's input term
    float *dg, *dgp;  // (M, G): gradient into g_j, into g_{j-1}
    float *dgh;       // (M, 3G): gradient into W_hh g_{j-1} + b_hh
    float *dxn;       // (M, G): gradient into the n gate's input term
    size_t work_bytes;
} CPCA;

// Allocate for these sizes. Returns 0, or -1 when a size is out of range
// (T, B, D, H, G, A >= 1, 1 <= K <= CPC_MAX_K, negatives 0/1) or memory runs
// out (p is then left freed).
int cpca_init(CPCA *p, int T, int B, int D, int H, int K, int G, int A, int negatives,
              int stop_target);
void cpca_free(CPCA *p);
size_t cpca_workspace_bytes(int T, int B, int D, int H, int K, int G, int A, int negatives);

// Returns L_cpc (unweighted) and adds weight * dL/d(.) into dc (T*B, H),
// dz (T*B, D) and every tensor of dw (each may be NULL: dc, dz, or dw
// itself; dz skipped anyway when stop_target). stats may be NULL. When no
// triple counts it returns 0 and adds nothing. Never allocates.
float cpca_forward_backward(CPCA *p, float *dc, float *dz, const CPCAGrads *dw, const float *c,
                            const float *z, const int *actions, const CPCAParams *w,
                            const uint8_t *starts, float weight, CPCStats *stats);

// Parameters of the head for these sizes (for planning / checks).
size_t cpca_param_count(int D, int H, int G, int A);
// FLOPs of one cpca_forward_backward with gradients (scores included), for benchmarks.
double cpca_flops(int T, int B, int D, int H, int K, int G, int negatives);

// Naive reference: the same loss in double with plain loops (no BLAS, no
// workspace), for the tests. Fills stats like cpca_forward_backward.
double cpca_ref_loss(const float *c, const float *z, const int *actions, const CPCAParams *w,
                     const uint8_t *starts, int T, int B, int D, int H, int K, int G, int A,
                     int negatives, CPCStats *stats);

#endif
