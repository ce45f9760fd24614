// nn.h — the shared neural-network kernels of cpcrl (used by agent/ and cpc/).
//
// Layers are paired functions over flat float arrays, llm.c style:
//   *_forward(out, inputs..., weights..., [workspace], sizes...)
//   *_backward(dinputs..., dweights..., dout, saved inputs..., weights..., [workspace], sizes...)
// Outputs first, sizes last. Backward functions ADD (+=) into every gradient
// they write (dinp, dw, db, ...), so shared weights and multiple consumers
// just work; a NULL gradient pointer means "not needed" and is skipped.
// Tensors use PyTorch layouts (row-major): Linear weight (O,I), Conv weight
// (Co,Ci,K,K), activations NCHW, LSTM weights (4H,I)/(4H,H) with gate order
// i, f, g, o. All matrix work goes through cblas_sgemm, or under
// --precision bf16 the learner's products through nn/gemm.h. No function here
// allocates: workspaces are passed in, sized by the *_workspace helpers.
// Each fast kernel has a naive reference (nn_ref_*, nn/nn_ref.h) kept for
// the tests. Definitions: nn.c, nn_conv.c (the convolutions); the worker
// threads callers split rows over are in nn/pool.h.
#ifndef CPCRL_NN_H
#define CPCRL_NN_H

#include <stddef.h>
#include <stdint.h>

// ----------------------------------------------------------------------------
// C (M,N) = alpha A (M,K) op(B) + beta C, row-major; op(B) = B^T with B (N,K)
// when transB, else B (K,N). The same as one cblas_sgemm, but few-row
// products (M <= 64) are split into column blocks small enough for
// OpenBLAS's unpacked small-matrix kernels, where it has them (AVX-512).
void nn_sgemm_rows(int transB, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc);

// C (M,N) = op(A) op(B) + beta C (row-major, beta 0 or 1): the learner's
// large products (all-rows backward, BPTT's dh_prev, CPC's P_k and its
// gradients). cblas_sgemm under --precision fp32; bf16 operands with fp32
// accumulation under --precision bf16 (nn/gemm.h's gemm_learner).
void nn_gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
             int ldb, float beta, float *C, int ldc);
// The same with B = W a parameter (op(W) = W^T when tb) and A not
// transposed: under bf16, W's bf16 copy is reused while parameters are fixed
// (nn/gemm.h's gemm_param).
void nn_gemm_w(int tb, int M, int N, int K, const float *A, int lda, const float *W, int ldw,
               float beta, float *C, int ldc);
// The general form: afixed / bfixed = the operand is a parameter, or an
// activation the update only reads (CPC's contexts): under bf16 its copy is
// reused while parameters are fixed (nn/gemm.h's gemm_fixed).
void nn_gemm_fixed(int ta, int tb, int M, int N, int K, const float *A, int lda, int afixed,
                   const float *B, int ldb, int bfixed, float beta, float *C, int ldc);

// ----------------------------------------------------------------------------
// Linear: inp (N,I) @ w^T (O,I) + b (O) -> out (N,O). b may be NULL.
void nn_linear_forward(float *out, const float *inp, const float *w, const float *b,
                       int N, int I, int O);
void nn_linear_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, int N, int I, int O);
// The same, but dinp (N,I) = dout @ w is written, not added (dw, db still
// add): for an input gradient nothing else feeds, which then needs no
// zeroing first.
void nn_linear_backward_set(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, int N, int I, int O);

// ----------------------------------------------------------------------------
// Conv2d, square kernel K, stride S, zero padding P:
// inp (N,Ci,H,W) * w (Co,Ci,K,K) + b (Co) -> out (N,Co,Ho,Wo),
// Ho = (H + 2P - K)/S + 1. Frame by frame: im2col^T of the frame, then one
// small sgemm w (Co,CKK) @ colT (CKK,Ho*Wo) straight into NCHW. `work` holds
// nn_conv2d_workspace(...) floats (colT and dcolT of one frame, whatever N);
// nothing in it needs to survive from forward to backward (backward
// recomputes colT from inp), so layers may share one workspace sized for the
// largest.
size_t nn_conv2d_workspace(int N, int Ci, int H, int W, int Co, int K, int S, int P);
void nn_conv2d_forward(float *out, const float *inp, const float *w, const float *b,
                       float *work, int N, int Ci, int H, int W, int Co, int K, int S, int P);
void nn_conv2d_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, float *work,
                        int N, int Ci, int H, int W, int Co, int K, int S, int P);

// ----------------------------------------------------------------------------
// Conv2d on one-hot input (the first layer on observations). When every pixel
// of inp (N,Ci,H,W) has at most one non-zero plane and that plane holds 1, the
// conv is a gather of weight columns:
//   out[n,co,y,x] = b[co] + sum_{ky,kx} w[co, kind(n, yS-P+ky, xS-P+kx), ky, kx]
// over the taps inside the image (zero padding adds nothing, nor does a pixel
// with no plane set), and its weight gradient a scatter-add of dout. There is
// no input gradient (nothing upstream of the observation).
// kind (N, H*W): the hot plane of each pixel, NN_ONEHOT_NONE when none is.
// nn_onehot_index fills it from inp (Ci < NN_ONEHOT_NONE); returns 0, or -1
// when some pixel is not one-hot (two planes set, or a value other than 0 or
// 1): the caller then uses nn_conv2d_forward/backward, which give the same
// numbers on one-hot input. `work`: nn_conv2d_onehot_workspace(...) floats.
#define NN_ONEHOT_NONE 255
int nn_onehot_index(uint8_t *kind, const float *inp, int N, int C, int HW);
size_t nn_conv2d_onehot_workspace(int Ci, int H, int W, int Co, int K, int S, int P);
void nn_conv2d_onehot_forward(float *out, const uint8_t *kind, const float *w, const float *b,
                              float *work, int N, int Ci, int H, int W, int Co, int K, int S,
                              int P);
// dw (Co,Ci,K,K) += scatter of dout by kind; db (Co) += sum of dout. Either may be NULL.
void nn_conv2d_onehot_backward(float *dw, float *db, const float *dout, const uint8_t *kind,
                               float *work, int N, int Ci, int H, int W, int Co, int K, int S,
                               int P);

// ----------------------------------------------------------------------------
// ReLU (in place allowed for forward: out may equal inp).
void nn_relu_forward(float *out, const float *inp, size_t n);
// dinp += dout * (out > 0)
void nn_relu_backward(float *dinp, const float *dout, const float *out, size_t n);
// dinp = dout * (out > 0), written, not added; dinp may equal dout (in place).
void nn_relu_backward_set(float *dinp, const float *dout, const float *out, size_t n);

// ----------------------------------------------------------------------------
// LSTM cell, PyTorch semantics and gate order (i, f, g, o):
//   a = x W_ih^T + b_ih + h_prev W_hh^T + b_hh            (N,4H)
//   i = sig(a_i) f = sig(a_f) g = tanh(a_g) o = sig(a_o)
//   c = f * c_prev + i * g ;  h = o * tanh(c)
// x (N,I), h_prev/c_prev (N,H) -> h, c (N,H). `gates` (N,4H) is the cache the
// backward needs (post-activation i,f,g,o); keep it and c, c_prev, x, h_prev.
void nn_lstm_forward(float *h, float *c, float *gates, const float *x,
                     const float *h_prev, const float *c_prev,
                     const float *w_ih, const float *w_hh, const float *b_ih,
                     const float *b_hh, int N, int I, int H);
// Given dh, dc (N,H) (dc = gradient arriving into c from the next step, may be
// NULL), adds into dx (N,I), dh_prev, dc_prev (N,H), dw_ih, dw_hh, db_ih, db_hh.
// `dgates` is a (N,4H) workspace.
// = nn_lstm_backward_gates, then nn_lstm_backward_weights (Ix = I) and
// dh_prev += dgates w_hh.
void nn_lstm_backward(float *dx, float *dh_prev, float *dc_prev, float *dw_ih,
                      float *dw_hh, float *db_ih, float *db_hh, const float *dh,
                      const float *dc, const float *gates, const float *c,
                      const float *c_prev, const float *x, const float *h_prev,
                      const float *w_ih, const float *w_hh, float *dgates,
                      int N, int I, int H);

// The pointwise part alone: dgates (N,4H) = dL/d(pre-activation gates a),
// written (not added), from dh and dc (either may be NULL = zero);
// dc_prev (N,H) += dL/dc_prev (skipped when NULL). The matrix products are
// left to the caller, who may batch them over the unroll (truncated BPTT only
// needs dgates W_hh inside the loop; every weight gradient can be one GEMM
// over all steps' dgates at the end).
void nn_lstm_backward_gates(float *dgates, float *dc_prev, const float *dh, const float *dc,
                            const float *gates, const float *c, const float *c_prev, int N,
                            int H);

// A sequence's LSTM backward the way truncated BPTT batches it: per step
// (t = T-1 .. 0) nn_lstm_backward_step, which needs only dgates W_hh inside
// the loop; then, once over all steps' dgates, nn_lstm_backward_weights.
//
// One step over N rows (e.g. the B envs of step t), given dh (N,H), all the
// gradient into this step's h, and dc (N,H), the one carried into its c
// (either may be NULL = zero); mask (N) 0 where the row's incoming state was
// reset (an episode start: no gradient reaches the step before), 1
// elsewhere (NULL = all 1):
//   dgates  (N,4H) = dL/d(gate pre-activations), written
//   dc_prev (N,H)  = mask * dL/dc_prev, written: the carried state, not a
//                    gradient of a shared tensor; may equal dc (in place)
//   dh_prev (N,H) += mask * (dgates @ w_hh)
// dh_prev or dc_prev NULL: not needed. `work`: nn_lstm_step_workspace floats.
size_t nn_lstm_step_workspace(int N, int H);
void nn_lstm_backward_step(float *dgates, float *dh_prev, float *dc_prev, const float *dh,
                           const float *dc, const float *mask, const float *gates,
                           const float *c, const float *c_prev, const float *w_hh,
                           float *work, int N, int H);
// The weight gradients of N rows' dgates (N,4H) at once, and their input
// gradient: dw_ih (4H,I) += dgates^T x; dw_hh (4H,H) += dgates^T h_prev;
// db_ih, db_hh (4H) += colsum(dgates); dx (N,Ix) += dgates @ w_ih[:, :Ix],
// the gradient into the first Ix <= I input columns only (the others, e.g.
// an action or reward fed to the LSTM, may need none). NULL: skipped.
void nn_lstm_backward_weights(float *dx, float *dw_ih, float *dw_hh, float *db_ih,
                              float *db_hh, const float *dgates, const float *x,
                              const float *h_prev, const float *w_ih, int N, int I, int H,
                              int Ix);

// ----------------------------------------------------------------------------
// y (n) += x: e.g. summing per-thread copies of gradients into the slab.
void nn_add(float *y, const float *x, size_t n);

// ----------------------------------------------------------------------------
// Categorical distributions over A actions, row-wise over N rows.
// logp (N,A) = log_softmax(logits)
void nn_log_softmax_forward(float *logp, const float *logits, int N, int A);
// dlogits += dlogp - softmax * sum(dlogp)
void nn_log_softmax_backward(float *dlogits, const float *dlogp, const float *logp,
                             int N, int A);
// ent (N) = -sum_a p log p, from logp
void nn_entropy_forward(float *ent, const float *logp, int N, int A);
// dlogits += dent * d(entropy)/d(logits) = dent * (-p (logp + H))
void nn_entropy_backward(float *dlogits, const float *dent, const float *logp,
                         const float *ent, int N, int A);
// Sample an action from logits (A) with the caller's rng; greedy = argmax.
int nn_sample_logits(const float *logits, int A, uint64_t *rng);
int nn_argmax(const float *x, int n);

// ----------------------------------------------------------------------------
// Mean squared error: returns mean((pred - target)^2) over n;
// backward: dpred += scale * 2 (pred - target) / n
float nn_mse_forward(const float *pred, const float *target, size_t n);
void nn_mse_backward(float *dpred, const float *pred, const float *target, size_t n,
                     float scale);

// ----------------------------------------------------------------------------
// Parameter slab: every tensor of a model is a named slice of one float array
// (params), with a twin array for gradients. Checkpoints, clipping, zeroing and
// MPI reductions are one loop over the slab.

#define NN_MAX_TENSORS 64
#define NN_NAME_LEN 32

typedef struct {
    char name[NN_NAME_LEN];
    int ndim;
    int shape[4];
    size_t offset; // in floats, into params / grads
    size_t size;   // product of shape
} NNTensor;

typedef struct {
    NNTensor t[NN_MAX_TENSORS];
    int n;
    size_t total;  // floats
    float *params;
    float *grads;
} NNParams;

// Start from a zeroed NNParams. Declare a tensor before nn_params_alloc;
// returns its index, or -1 when full, on a duplicate or too long name, or a
// bad shape. Tensors are contiguous in declaration order (no padding).
int nn_params_add(NNParams *p, const char *name, int ndim, const int *shape);
int nn_params_alloc(NNParams *p); // zeroed; -1 on out of memory
void nn_params_free(NNParams *p);
int nn_params_find(const NNParams *p, const char *name); // index or -1
static inline float *nn_param(NNParams *p, int i) { return p->params + p->t[i].offset; }
static inline float *nn_grad(NNParams *p, int i) { return p->grads + p->t[i].offset; }
void nn_zero_grad(NNParams *p);
// L2 norm of all gradients; scales them down to max_norm when above (and
// max_norm > 0). Returns the norm before clipping.
float nn_clip_grad_norm(NNParams *p, float max_norm);

// ----------------------------------------------------------------------------
// Initialisation (PyTorch defaults):
//   Linear/Conv weight: kaiming_uniform(a = sqrt 5) = U(-1/sqrt(fan_in), +1/sqrt(fan_in))
//   Linear/Conv bias:   U(-1/sqrt(fan_in), +1/sqrt(fan_in))
//   LSTM all weights and biases: U(-1/sqrt(H), +1/sqrt(H))
void nn_init_uniform(float *w, size_t n, float bound, uint64_t *rng);
// Orthogonal init of a (rows, cols) matrix times gain (Gram-Schmidt on
// Gaussian samples); `work` holds rows*cols + max(rows, cols) floats.
void nn_init_orthogonal(float *w, int rows, int cols, float gain, uint64_t *rng,
                        float *work);

#endif
