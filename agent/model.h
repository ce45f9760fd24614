// model.h — the agent's network: conv encoder -> z_t, LSTM -> c_t, policy and
// value heads, plus the tensors of the auxiliary heads (agent/aux.h) stored
// after them in the same parameter slab.
//
//   obs one-hot [C,V,V] -> conv1 3x3 (C->c1) ReLU -> conv2 3x3 (c1->c2) ReLU
//   -> fc (c2*V*V -> D) ReLU = z_t
//   x_t = [z_t, onehot(a_{t-1}), clip(r_{t-1})] -> LSTM(H), gates i,f,g,o -> c_t (= h_t)
//   logits = Linear(H->A)(c_t), value = Linear(H->1)(c_t)
//   auxiliary heads' tensors (agent/aux.h), after the value head: e.g. CPC's
//   cpc.w (K*D, H), W_k = rows (k-1)*D .. k*D-1; or CPC|A's cpca.w_in (G,H),
//   cpca.b_in (G), cpca.w_ih (3G,A), cpca.w_hh (3G,G), cpca.b_ih, cpca.b_hh
//   (3G), cpca.w_out (D,G) (cpc/cpca.h); then reward prediction's rp.w, rp.b
//
// "c_t" is the LSTM output h_t (the CPC paper's context); the LSTM cell state
// is called `cell` here to keep the two apart.
//
// Activations live in an Acts block of N rows (one row per env-step), written
// while acting and reused as-is by the learner's backward: no recomputation.
//
// Where the time goes and why (default net, B = 32, T = 20):
//   conv1   observations are one-hot, so conv1 is a gather of weight columns
//           (nn_conv2d_onehot_*), its weight gradient a scatter-add; rows
//           that are not one-hot fall back to the generic conv.
//   conv2   one small sgemm per frame straight into NCHW (nn_conv2d_*).
//   LSTM    the BPTT loop does only the pointwise backward and the carried
//           dh_prev = dgates W_hh per step (nn_lstm_backward_step); every
//           step's dgates stays in Grads.dgates (T*B, 4H), so dW_ih, dW_hh,
//           the biases and dz are one GEMM each over all T*B rows after the
//           loop (nn_lstm_backward_weights).
//   fc, heads  one GEMM each over all rows.
//   threads  with --threads > 1 the rows of an acting step, the rows of a
//           BPTT step and the frames of the conv backward are split over
//           nn_parallel's workers; the all-rows GEMMs use OpenBLAS's threads.
#ifndef CPCRL_MODEL_H
#define CPCRL_MODEL_H

#include <stdint.h>

#include "nn/nn.h"

typedef struct {
    int C, V, A;          // input planes, view side, actions
    int c1, c2, D, H;     // channels, latent, hidden
    int K, G;             // the CPC head's steps (0 = none) and CPC|A's GRU size (0 = linear maps)
    int X;                // LSTM input size D + A + 1
    NNParams p;
    int conv1_w, conv1_b, conv2_w, conv2_b, fc_w, fc_b;
    int w_ih, w_hh, b_ih, b_hh, pi_w, pi_b, v_w, v_b; // tensor indices
    int aux0;             // index of the auxiliary heads' first tensor (= the count of the others)
} Model;

// A tensor of an auxiliary head, declared to model_init_ext.
typedef struct {
    const char *name;
    int ndim, shape[4];
    float fan_in;  // PyTorch-default init's bound 1/sqrt(fan_in); 0: the fan-in of the
                   // tensor (weights) or of the tensor before it (biases)
} ModelTensor;

// Per-row activations (N rows of capacity).
typedef struct {
    int N;
    float *x0;     // (N, C, V, V) observation as float
    float *a1;     // (N, c1, V, V) after ReLU
    float *a2;     // (N, c2, V, V) after ReLU
    float *z;      // (N, D) after ReLU
    float *xin;    // (N, X) LSTM input
    float *hprev;  // (N, H) masked incoming state
    float *cprev;  // (N, H)
    float *gates;  // (N, 4H)
    float *h;      // (N, H)  c_t
    float *cell;   // (N, H)
    float *logits; // (N, A)
    float *value;  // (N)
    float *work;   // conv workspaces, one per thread (nn_conv2d_workspace and
                   // nn_conv2d_onehot_workspace, whichever is larger)
    size_t work_part; // floats of one thread's workspace
    uint8_t *kind; // (N, V*V) hot plane of each observation pixel (nn_onehot_index)
    uint8_t *onehot; // (N) 1 where the row's observation is one-hot (conv1 gathers)
} Acts;

// Gradient buffers and workspaces for the backward over N rows.
typedef struct {
    int N, Bmax;
    float *dh;     // (N, H) gradient into c_t from the heads and CPC
    float *dz;     // (N, D) gradient into z_t from the LSTM input and CPC
    float *dpre;   // (N, D) gradient into the fc pre-activation
    float *da2;    // (N, c2 V V)
    float *da1;    // (N, c1 V V)
    float *dlogits;// (N, A)
    float *dvalue; // (N)
    float *dgates; // (N, 4H) every step's gradient into the gate pre-activations
    float *dhc, *dcc; // (B, H) the state gradient carried through the BPTT loop;
                      // after the backward, what leaves the unroll start
    float *bptt_work; // nn_lstm_step_workspace(Bmax, H): per-step scratch
    float *pgrad;      // (NN_MAX_THREADS-1, pgrad_part) conv gradients of the extra threads
    size_t pgrad_part; // floats of the conv tensors at the head of the slab
} Grads;

// The network with `nextra` auxiliary tensors after the value head, every
// tensor initialized in slab order from one stream: orthogonal (gain sqrt(2)
// for the ReLU layers, 0.01 for the policy, 1 elsewhere; biases 0) or
// PyTorch's default U(+-1/sqrt(fan_in)). agent/aux.h builds the tensors of a
// config's heads (aux_model_init). 0, or -1 out of memory.
int model_init_ext(Model *m, int C, int V, int A, int c1, int c2, int D, int H,
                   const ModelTensor *extra, int nextra, int orthogonal, uint64_t seed);
void model_free(Model *m);
int acts_alloc(Acts *a, const Model *m, int N);
void acts_free(Acts *a);
int grads_alloc(Grads *g, const Model *m, int N, int Bmax);
void grads_free(Grads *g);

// Add `bias` to the LSTM forget gate's input bias (b_ih rows [H, 2H)) after
// init: a forget gate open at the start (sigmoid(1) = 0.73 vs 0.5 carries a
// cue ~10x further over 10 steps; Jozefowicz et al. 2015).
void model_add_forget_bias(Model *m, float bias);

// Forward rows [r0, r0+n): reads a->x0 rows, a->xin[:, D:] (previous action
// and reward, set by the caller), a->hprev, a->cprev; writes everything else.
void model_forward(Model *m, Acts *a, int r0, int n);

// The forward of a stored sequence of T steps x B envs, rows [0, T*B): what
// T model_forward calls of B rows compute, with the encoder and the heads
// each over all T*B rows at once (fewer, larger products) and the LSTM step
// by step. Reads a->x0, a->xin[:, D:], the rows of step 0 of a->hprev,
// a->cprev; step t > 0 gets its incoming state from step t-1's rows times
// mask[t*B+b] (0 where an episode starts).
void model_forward_seq(Model *m, Acts *a, const float *mask, int T, int B);

// Backward over an unroll of T steps x B envs stored in rows [0, T*B):
// g->dlogits, g->dvalue (T*B) and g->dh, g->dz (CPC contributions, may be
// all zero) must be filled; mask[t*B+b] = 0 where the incoming LSTM state of
// step t was reset (episode start), 1 elsewhere. Adds into m->p.grads.
void model_backward(Model *m, Acts *a, Grads *g, const float *mask, int T, int B);

// Floating-point operations (a multiply-add counts 2) this implementation
// executes, for benchmarks: the forward of n rows, and the backward over
// N = T*B rows (CPC's own work not included).
double model_flops_forward(const Model *m, int n);
double model_flops_backward(const Model *m, int N);

#endif
