// nn.c — the shared neural-network kernels of cpcrl (see nn.h for the contract).
//
// Every layer is a forward/backward pair over flat row-major arrays; backward
// ADDS into gradients and skips NULL ones. All matrix work is cblas_sgemm
// (under --precision bf16 the big products go to nn/gemm.h instead):
//   linear  out = inp w^T (+ b)                  one sgemm (nn_sgemm_rows)
//   LSTM    a = x W_ih^T + h_prev W_hh^T + b_ih + b_hh   two sgemms into (N,4H);
//           the pointwise parts with a vectorisable exp (nn_expf).
// Also: ReLU, categorical distributions, MSE, the parameter slab and its
// initialisation. The convolutions are in nn_conv.c, the worker threads in
// pool.c, the naive references the tests hold these kernels to in nn_ref.c.
// Nothing here allocates except nn_params_alloc.
#include "nn/nn.h"

#include <assert.h>
// Without this, OpenBLAS's header pulls in <complex.h>, whose macro `I` breaks
// every `int I` size parameter below.
#define FORCE_OPENBLAS_COMPLEX_STRUCT
#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_math.h"
#include "nn/gemm.h"
#include "base/rng.h"

// Elementwise loops run over blocks of NN_LANES (nn/nn_math.h) through restrict pointers.

// ----------------------------------------------------------------------------
// Products with few rows

// OpenBLAS's AVX-512 kernels (SkylakeX, Cooperlake, SapphireRapids) run
// products of up to ~100^3 multiply-adds through "small-matrix" kernels that
// read the operands in place. Bigger ones go through the packed path, which
// copies the whole of op(B) into a buffer first: for the acting forward's
// 32-row products (x W^T with W 1024x517, or 256x1568) that copy costs about
// as much as the arithmetic. Splitting N into blocks of 32 or 16 columns
// keeps each call under the limit. Measured here, 20 acting steps of the
// default net: 22.4 -> 20.0 ms on 1 thread, 17.0 -> 10.5 ms on 2 threads
// (16-row halves, where the packing weighs twice as much).
static int small_kernels(void) {
    static atomic_int cached = -1; // the first calls may come from two threads
    int v = atomic_load(&cached);
    if (v < 0) {
        const char *c = openblas_get_corename();
        v = c && (strcasestr(c, "skylakex") || strcasestr(c, "cooperlake") ||
                  strcasestr(c, "sapphire"));
        atomic_store(&cached, v);
    }
    return v;
}

void nn_sgemm_rows(int transB, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc) {
    if (alpha == 1.0f && gemm_param(transB, M, N, K, A, lda, B, ldb, beta, C, ldc) == 0)
        return; // --precision bf16 (B is always a parameter here)
    const CBLAS_TRANSPOSE tb = transB ? CblasTrans : CblasNoTrans;
    const double limit = 1e6;
    int chunk = N;
    if (M <= 64 && small_kernels() && (double)M * N * K > limit) {
        if ((double)M * 32 * K <= limit) chunk = 32;
        else if ((double)M * 16 * K <= limit) chunk = 16;
    }
    for (int j = 0; j < N; j += chunk) {
        int n = N - j < chunk ? N - j : chunk;
        const float *b = transB ? B + (size_t)j * ldb : B + j;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, M, n, K, alpha, A, lda, b, ldb, beta, C + j,
                    ldc);
    }
}

void nn_gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
             int ldb, float beta, float *C, int ldc) {
    gemm_learner(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

void nn_gemm_fixed(int ta, int tb, int M, int N, int K, const float *A, int lda, int afixed,
                   const float *B, int ldb, int bfixed, float beta, float *C, int ldc) {
    if (gemm_fixed(ta, tb, M, N, K, A, lda, afixed, B, ldb, bfixed, beta, C, ldc) != 0)
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

void nn_gemm_w(int tb, int M, int N, int K, const float *A, int lda, const float *W, int ldw,
               float beta, float *C, int ldc) {
    if (gemm_param(tb, M, N, K, A, lda, W, ldw, beta, C, ldc) != 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A,
                    lda, W, ldw, beta, C, ldc);
}

// ----------------------------------------------------------------------------
// Linear

// inp (N,I) @ w^T (O,I) + b (O) -> out (N,O)
void nn_linear_forward(float *out, const float *inp, const float *w, const float *b,
                       int N, int I, int O) {
    float beta = 0.0f;
    if (b) {
        for (int n = 0; n < N; n++) memcpy(out + (size_t)n * O, b, (size_t)O * sizeof(float));
        beta = 1.0f;
    }
    nn_sgemm_rows(1, N, O, I, 1.0f, inp, I, w, I, beta, out, O);
}

// dinp (N,I) = dout (N,O) @ w (O,I) + beta dinp; dw (O,I) += dout^T @ inp;
// db (O) += colsum(dout)
static void linear_backward(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, int N, int I, int O, float beta) {
    if (dinp) nn_gemm_w(0, N, I, O, dout, O, w, I, beta, dinp, I);
    if (dw) gemm_learner(1, 0, O, I, N, dout, O, inp, I, 1.0f, dw, I);
    if (db)
        for (int n = 0; n < N; n++) {
            const float *d = dout + (size_t)n * O;
            for (int o = 0; o < O; o++) db[o] += d[o];
        }
}

void nn_linear_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, int N, int I, int O) {
    linear_backward(dinp, dw, db, dout, inp, w, N, I, O, 1.0f);
}

void nn_linear_backward_set(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, int N, int I, int O) {
    linear_backward(dinp, dw, db, dout, inp, w, N, I, O, 0.0f);
}

// ----------------------------------------------------------------------------
// ReLU

static void relu_inplace(float *x, size_t n) {
    size_t i = 0;
    for (; i + NN_LANES <= n; i += NN_LANES)
        for (int k = 0; k < NN_LANES; k++) x[i + k] = x[i + k] > 0.0f ? x[i + k] : 0.0f;
    for (; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void nn_relu_forward(float *out, const float *inp, size_t n) {
    if (out != inp) memcpy(out, inp, n * sizeof(float));
    relu_inplace(out, n);
}

void nn_relu_backward(float *dinp, const float *dout, const float *out, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (out[i] > 0.0f) dinp[i] += dout[i];
}

// d (n) := d * (out > 0) as a select, not a multiply by a 0/1 mask (d may
// hold any value).
static void relu_select_inplace(float *restrict d, const float *restrict out, size_t n) {
    size_t i = 0;
    for (; i + NN_LANES <= n; i += NN_LANES)
        for (int k = 0; k < NN_LANES; k++) {
            float v = d[i + k];
            d[i + k] = out[i + k] > 0.0f ? v : 0.0f;
        }
    for (; i < n; i++) {
        float v = d[i];
        d[i] = out[i] > 0.0f ? v : 0.0f;
    }
}

void nn_relu_backward_set(float *dinp, const float *dout, const float *out, size_t n) {
    if (dinp != dout) memcpy(dinp, dout, n * sizeof(float));
    relu_select_inplace(dinp, out, n);
}

// ----------------------------------------------------------------------------
// Vectors (blocks of NN_LANES, as above)

// y (n) += a * x
static void axpy(float *restrict y, float a, const float *restrict x, size_t n) {
    size_t i = 0;
    for (; i + NN_LANES <= n; i += NN_LANES)
        for (int k = 0; k < NN_LANES; k++) y[i + k] += a * x[i + k];
    for (; i < n; i++) y[i] += a * x[i];
}

void nn_add(float *y, const float *x, size_t n) { axpy(y, 1.0f, x, n); }

// y (n) = a * x
static void scale_into(float *restrict y, float a, const float *restrict x, size_t n) {
    size_t i = 0;
    for (; i + NN_LANES <= n; i += NN_LANES)
        for (int k = 0; k < NN_LANES; k++) y[i + k] = a * x[i + k];
    for (; i < n; i++) y[i] = a * x[i];
}

// ----------------------------------------------------------------------------
// LSTM cell (PyTorch gate order i, f, g, o)
//
// The pointwise parts use exp/tanh written out below rather than libm's
// calls, and run over blocks of NN_LANES units through restrict pointers:
// that is the shape GCC's -O2 vectoriser (cost model "very cheap": no alias
// checks, no epilogues) turns into straight vector code, 16 lanes with
// AVX-512. With libm's scalar expf/tanhf the pointwise step cost ~15% of an
// acting step.


// nn_expf, nn_sigmoidf, nn_tanhf: nn/nn_math.h (CPC|A uses them too)

// One unit u: pre-activations -> post-activations in place, then c and h.
// Spelled out in the loops (a macro, not a function): GCC vectorises the
// blocks only then.
#define LSTM_UNIT(u)                                                                       \
    do {                                                                                   \
        float i_ = nn_sigmoidf(gi[u]), f_ = nn_sigmoidf(gf[u]), g_ = nn_tanhf(gg[u]);     \
        float o_ = nn_sigmoidf(go[u]);                                                     \
        gi[u] = i_, gf[u] = f_, gg[u] = g_, go[u] = o_;                                    \
        float c_ = f_ * cp[u] + i_ * g_;                                                   \
        cn[u] = c_;                                                                        \
        hn[u] = o_ * nn_tanhf(c_);                                                         \
    } while (0)

static void lstm_row(float *restrict gi, float *restrict gf, float *restrict gg,
                     float *restrict go, const float *restrict cp, float *restrict cn,
                     float *restrict hn, int H) {
    int j = 0;
    for (; j + NN_LANES <= H; j += NN_LANES)
        for (int k = 0; k < NN_LANES; k++) LSTM_UNIT(j + k);
    for (; j < H; j++) LSTM_UNIT(j);
}
#undef LSTM_UNIT

// Post-activations in place over the pre-activations a (N,4H), then c and h.
static void lstm_pointwise(float *h, float *c, float *gates, const float *c_prev, int N,
                           int H) {
    for (int n = 0; n < N; n++) {
        float *gi = gates + (size_t)n * 4 * H;
        lstm_row(gi, gi + H, gi + 2 * H, gi + 3 * H, c_prev + (size_t)n * H, c + (size_t)n * H,
                 h + (size_t)n * H, H);
    }
}

void nn_lstm_forward(float *h, float *c, float *gates, const float *x,
                     const float *h_prev, const float *c_prev,
                     const float *w_ih, const float *w_hh, const float *b_ih,
                     const float *b_hh, int N, int I, int H) {
    int G = 4 * H;
    for (int n = 0; n < N; n++) {
        float *a = gates + (size_t)n * G;
        for (int k = 0; k < G; k++) a[k] = b_ih[k] + b_hh[k];
    }
    nn_sgemm_rows(1, N, G, I, 1.0f, x, I, w_ih, I, 1.0f, gates, G);
    nn_sgemm_rows(1, N, G, H, 1.0f, h_prev, H, w_hh, H, 1.0f, gates, G);
    lstm_pointwise(h, c, gates, c_prev, N, H);
}

// One unit u of the pointwise backward, given the incoming dh, dc (a macro
// for the same reason as LSTM_UNIT); leaves dc_prev's contribution in dcp_.
#define LSTM_UNIT_BACKWARD(u, dh_, dc_)                                                    \
    float i_ = gi[u], f_ = gf[u], g_ = gg[u], o_ = go[u];                                  \
    float tc_ = nn_tanhf(cr[u]);                                                           \
    float dct_ = (dc_) + (dh_) * o_ * (1.0f - tc_ * tc_);                                  \
    di[u] = dct_ * g_ * i_ * (1.0f - i_);                                                  \
    df[u] = dct_ * cpr[u] * f_ * (1.0f - f_);                                              \
    dg[u] = dct_ * i_ * (1.0f - g_ * g_);                                                  \
    dob[u] = (dh_) * tc_ * o_ * (1.0f - o_);                                               \
    float dcp_ = dct_ * f_

// The BPTT case (dh, dc and dc_prev all present), in vector blocks.
static void lstm_row_backward(float *restrict di, float *restrict df, float *restrict dg,
                              float *restrict dob, float *restrict dcpr,
                              const float *restrict gi, const float *restrict gf,
                              const float *restrict gg, const float *restrict go,
                              const float *restrict cr, const float *restrict cpr,
                              const float *restrict dhr, const float *restrict dcr, int H) {
    int j = 0;
    for (; j + NN_LANES <= H; j += NN_LANES)
        for (int k = 0; k < NN_LANES; k++) {
            LSTM_UNIT_BACKWARD(j + k, dhr[j + k], dcr[j + k]);
            dcpr[j + k] += dcp_;
        }
    for (; j < H; j++) {
        LSTM_UNIT_BACKWARD(j, dhr[j], dcr[j]);
        dcpr[j] += dcp_;
    }
}

void nn_lstm_backward_gates(float *dgates, float *dc_prev, const float *dh, const float *dc,
                            const float *gates, const float *c, const float *c_prev, int N,
                            int H) {
    for (int n = 0; n < N; n++) {
        const float *gi = gates + (size_t)n * 4 * H, *gf = gi + H, *gg = gf + H, *go = gg + H;
        float *di = dgates + (size_t)n * 4 * H, *df = di + H, *dg = df + H, *dob = dg + H;
        const size_t r = (size_t)n * H;
        const float *cr = c + r, *cpr = c_prev + r;
        if (dh && dc && dc_prev) {
            lstm_row_backward(di, df, dg, dob, dc_prev + r, gi, gf, gg, go, cr, cpr, dh + r,
                              dc + r, H);
            continue;
        }
        for (int j = 0; j < H; j++) {
            LSTM_UNIT_BACKWARD(j, dh ? dh[r + j] : 0.0f, dc ? dc[r + j] : 0.0f);
            if (dc_prev) dc_prev[r + j] += dcp_;
        }
    }
}
#undef LSTM_UNIT_BACKWARD

size_t nn_lstm_step_workspace(int N, int H) { return 2 * (size_t)N * H; }

// dhp = dgates W_hh and dcp = dL/dc_prev of the step go through `work`
// before the mask scales them into dh_prev and dc_prev (so dc_prev may be dc).
void nn_lstm_backward_step(float *dgates, float *dh_prev, float *dc_prev, const float *dh,
                           const float *dc, const float *mask, const float *gates,
                           const float *c, const float *c_prev, const float *w_hh,
                           float *work, int N, int H) {
    const int G = 4 * H;
    float *dhp = work, *dcp = work + (size_t)N * H;
    if (dc_prev) memset(dcp, 0, (size_t)N * H * sizeof(float));
    nn_lstm_backward_gates(dgates, dc_prev ? dcp : NULL, dh, dc, gates, c, c_prev, N, H);
    // dhp (N,H) = dgates (N,4H) @ w_hh (4H,H)
    if (dh_prev) nn_sgemm_rows(0, N, H, G, 1.0f, dgates, G, w_hh, H, 0.0f, dhp, H);
    for (int n = 0; n < N; n++) {
        const float mk = mask ? mask[n] : 1.0f;
        const size_t r = (size_t)n * H;
        if (dh_prev) axpy(dh_prev + r, mk, dhp + r, (size_t)H);
        if (dc_prev) scale_into(dc_prev + r, mk, dcp + r, (size_t)H);
    }
}

void nn_lstm_backward_weights(float *dx, float *dw_ih, float *dw_hh, float *db_ih,
                              float *db_hh, const float *dgates, const float *x,
                              const float *h_prev, const float *w_ih, int N, int I, int H,
                              int Ix) {
    const int G = 4 * H;
    assert(Ix >= 0 && Ix <= I);
    // dw_ih (4H,I) += dgates^T (4H,N) @ x (N,I); dw_hh likewise with h_prev
    if (dw_ih) gemm_learner(1, 0, G, I, N, dgates, G, x, I, 1.0f, dw_ih, I);
    if (dw_hh) gemm_learner(1, 0, G, H, N, dgates, G, h_prev, H, 1.0f, dw_hh, H);
    for (int n = 0; n < N && db_ih; n++) axpy(db_ih, 1.0f, dgates + (size_t)n * G, (size_t)G);
    for (int n = 0; n < N && db_hh; n++) axpy(db_hh, 1.0f, dgates + (size_t)n * G, (size_t)G);
    // dx (N,Ix) += dgates (N,4H) @ w_ih[:, :Ix] (4H,Ix)
    if (dx && Ix > 0) nn_gemm_w(0, N, Ix, G, dgates, G, w_ih, I, 1.0f, dx, Ix);
}

void nn_lstm_backward(float *dx, float *dh_prev, float *dc_prev, float *dw_ih,
                      float *dw_hh, float *db_ih, float *db_hh, const float *dh,
                      const float *dc, const float *gates, const float *c,
                      const float *c_prev, const float *x, const float *h_prev,
                      const float *w_ih, const float *w_hh, float *dgates,
                      int N, int I, int H) {
    int G = 4 * H;
    nn_lstm_backward_gates(dgates, dc_prev, dh, dc, gates, c, c_prev, N, H);
    nn_lstm_backward_weights(dx, dw_ih, dw_hh, db_ih, db_hh, dgates, x, h_prev, w_ih, N, I, H, I);
    // dh_prev (N,H) += dgates (N,4H) @ w_hh (4H,H)
    if (dh_prev)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, H, G, 1.0f, dgates, G, w_hh,
                    H, 1.0f, dh_prev, H);
}

// ----------------------------------------------------------------------------
// Categorical distributions

void nn_log_softmax_forward(float *logp, const float *logits, int N, int A) {
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * A;
        float *lp = logp + (size_t)n * A;
        float mx = z[0];
        for (int a = 1; a < A; a++) mx = z[a] > mx ? z[a] : mx;
        double s = 0.0;
        for (int a = 0; a < A; a++) s += exp((double)(z[a] - mx));
        float lse = mx + (float)log(s);
        for (int a = 0; a < A; a++) lp[a] = z[a] - lse;
    }
}

void nn_log_softmax_backward(float *dlogits, const float *dlogp, const float *logp,
                             int N, int A) {
    for (int n = 0; n < N; n++) {
        const float *d = dlogp + (size_t)n * A, *lp = logp + (size_t)n * A;
        float *dz = dlogits + (size_t)n * A;
        float s = 0.0f;
        for (int a = 0; a < A; a++) s += d[a];
        for (int a = 0; a < A; a++) dz[a] += d[a] - expf(lp[a]) * s;
    }
}

void nn_entropy_forward(float *ent, const float *logp, int N, int A) {
    for (int n = 0; n < N; n++) {
        const float *lp = logp + (size_t)n * A;
        float e = 0.0f;
        for (int a = 0; a < A; a++) e -= expf(lp[a]) * lp[a];
        ent[n] = e;
    }
}

void nn_entropy_backward(float *dlogits, const float *dent, const float *logp,
                         const float *ent, int N, int A) {
    for (int n = 0; n < N; n++) {
        const float *lp = logp + (size_t)n * A;
        float *dz = dlogits + (size_t)n * A;
        for (int a = 0; a < A; a++) dz[a] += dent[n] * (-expf(lp[a]) * (lp[a] + ent[n]));
    }
}

// Inverse CDF on the softmax, in double so tiny probabilities are not lost.
int nn_sample_logits(const float *logits, int A, uint64_t *rng) {
    assert(A > 0);
    float mx = logits[nn_argmax(logits, A)];
    double total = 0.0;
    for (int a = 0; a < A; a++) total += exp((double)(logits[a] - mx));
    double u = (double)rng_float(rng) * total, cum = 0.0;
    int last = 0;
    for (int a = 0; a < A; a++) {
        double p = exp((double)(logits[a] - mx));
        if (p > 0.0) last = a;
        cum += p;
        if (u < cum) return a;
    }
    return last; // rounding: u landed at the very top
}

int nn_argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

// ----------------------------------------------------------------------------
// Mean squared error

float nn_mse_forward(const float *pred, const float *target, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)pred[i] - target[i];
        s += d * d;
    }
    return n ? (float)(s / (double)n) : 0.0f;
}

void nn_mse_backward(float *dpred, const float *pred, const float *target, size_t n,
                     float scale) {
    float k = 2.0f * scale / (float)n;
    for (size_t i = 0; i < n; i++) dpred[i] += k * (pred[i] - target[i]);
}

// ----------------------------------------------------------------------------
// Parameter slab

int nn_params_add(NNParams *p, const char *name, int ndim, const int *shape) {
    assert(p->params == NULL && "declare every tensor before nn_params_alloc");
    if (p->n >= NN_MAX_TENSORS || ndim < 1 || ndim > 4 || !name ||
        strlen(name) >= NN_NAME_LEN || nn_params_find(p, name) >= 0)
        return -1;
    NNTensor *t = &p->t[p->n];
    memset(t, 0, sizeof *t);
    strcpy(t->name, name);
    t->ndim = ndim;
    t->size = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 0) return -1;
        t->shape[d] = shape[d];
        t->size *= (size_t)shape[d];
    }
    t->offset = p->total;
    p->total += t->size;
    return p->n++;
}

int nn_params_alloc(NNParams *p) {
    assert(p->params == NULL && p->grads == NULL);
    size_t bytes = (p->total ? p->total : 1) * sizeof(float);
    void *a = NULL, *b = NULL;
    if (posix_memalign(&a, 64, bytes) != 0) return -1;
    if (posix_memalign(&b, 64, bytes) != 0) {
        free(a);
        return -1;
    }
    memset(a, 0, bytes);
    memset(b, 0, bytes);
    p->params = a;
    p->grads = b;
    return 0;
}

void nn_params_free(NNParams *p) {
    free(p->params);
    free(p->grads);
    p->params = p->grads = NULL;
}

int nn_params_find(const NNParams *p, const char *name) {
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->t[i].name, name) == 0) return i;
    return -1;
}

void nn_zero_grad(NNParams *p) {
    if (p->grads) memset(p->grads, 0, p->total * sizeof(float));
}

// Sum of squares of g (n): NN_LANES float partial sums, flushed into a
// double every 256 blocks (so each float sum has at most 256 terms), which
// the vectoriser keeps in one register.
static double sum_squares(const float *restrict g, size_t n) {
    double total = 0.0;
    size_t i = 0;
    while (i + NN_LANES <= n) {
        float acc[NN_LANES] = {0};
        for (int b = 0; b < 256 && i + NN_LANES <= n; b++, i += NN_LANES)
            for (int k = 0; k < NN_LANES; k++) acc[k] += g[i + k] * g[i + k];
        for (int k = 0; k < NN_LANES; k++) total += acc[k];
    }
    for (; i < n; i++) total += (double)g[i] * g[i];
    return total;
}

static void scale_inplace(float *restrict g, float k, size_t n) {
    size_t i = 0;
    for (; i + NN_LANES <= n; i += NN_LANES)
        for (int j = 0; j < NN_LANES; j++) g[i + j] *= k;
    for (; i < n; i++) g[i] *= k;
}

// Same rule as torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6).
float nn_clip_grad_norm(NNParams *p, float max_norm) {
    float norm = (float)sqrt(sum_squares(p->grads, p->total));
    if (max_norm > 0.0f && norm > max_norm)
        scale_inplace(p->grads, max_norm / (norm + 1e-6f), p->total);
    return norm;
}

// ----------------------------------------------------------------------------
// Initialisation

void nn_init_uniform(float *w, size_t n, float bound, uint64_t *rng) {
    for (size_t i = 0; i < n; i++) w[i] = (2.0f * rng_float(rng) - 1.0f) * bound;
}

// Standard normal by Box-Muller; u1 is kept away from 0 so log() is finite.
static double gaussian(uint64_t *rng) {
    double u1 = ((double)(rng_next(rng) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double u2 = (double)(rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

// Like torch.nn.init.orthogonal_: the Q of a Gaussian matrix with R's diagonal
// made positive, which is what Gram-Schmidt yields. With big = max(rows, cols)
// and small = min(rows, cols), we orthonormalise `small` Gaussian vectors of
// length `big` (modified Gram-Schmidt, two passes for float accuracy); they
// become the columns of w when rows >= cols, its rows otherwise.
void nn_init_orthogonal(float *w, int rows, int cols, float gain, uint64_t *rng,
                        float *work) {
    int big = rows > cols ? rows : cols, small = rows > cols ? cols : rows;
    for (int k = 0; k < small; k++) {
        float *v = work + (size_t)k * big;
        for (int r = 0; r < big; r++) v[r] = (float)gaussian(rng);
        for (int pass = 0; pass < 2; pass++)
            for (int j = 0; j < k; j++) {
                const float *u = work + (size_t)j * big;
                double d = 0.0;
                for (int r = 0; r < big; r++) d += (double)u[r] * v[r];
                for (int r = 0; r < big; r++) v[r] -= (float)d * u[r];
            }
        double nrm = 0.0;
        for (int r = 0; r < big; r++) nrm += (double)v[r] * v[r];
        nrm = sqrt(nrm);
        float inv = nrm > 0.0 ? (float)(1.0 / nrm) : 0.0f;
        for (int r = 0; r < big; r++) v[r] *= inv;
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            w[(size_t)r * cols + c] = gain * (rows >= cols ? work[(size_t)c * big + r]
                                                           : work[(size_t)r * big + c]);
}
