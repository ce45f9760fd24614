// nn.c — the shared neural-network kernels of cpcrl (see nn.h for the contract).
//
// Every layer is a forward/backward pair over flat row-major arrays; backward
// ADDS into gradients and skips NULL ones. All matrix work is cblas_sgemm:
//   linear  out = inp w^T (+ b)                  one sgemm (nn_sgemm_rows)
//   conv2d  frame by frame: colT = im2col^T of the frame (Ci*K*K, Ho*Wo),
//           out_n (Co, Ho*Wo) = w colT in one small sgemm, straight into
//           NCHW. The backward recomputes colT (so the workspace can be
//           shared between layers): dw += dout_n colT^T, dcolT = w^T dout_n,
//           folded back (col2im) into dinp. "Same" convs (stride 1,
//           2P = K-1) build colT as masked shifts of zero-margined planes.
//   conv2d on one-hot input  a gather of weight columns (forward) and a
//           scatter-add (weight gradient); no GEMM.
//   LSTM    a = x W_ih^T + h_prev W_hh^T + b_ih + b_hh   two sgemms into (N,4H);
//           the pointwise parts with a vectorisable exp (nn_expf).
// Also: the worker-thread pool (nn_parallel) the model splits its per-row
// and per-frame loops over. Nothing here allocates except nn_params_alloc
// (and the pool's threads, once); the naive nn_ref_* loops at the bottom
// are what the tests hold the fast kernels to.
#include "agent/nn.h"

#include <assert.h>
// Without this, OpenBLAS's header pulls in <complex.h>, whose macro `I` breaks
// every `int I` size parameter below.
#define FORCE_OPENBLAS_COMPLEX_STRUCT
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "env/rng.h"

// Elementwise loops run over blocks of NN_LANES through restrict pointers:
// the shape GCC's -O2 vectoriser (cost model "very cheap": no alias
// checks, no epilogues) turns into straight vector code.
#define NN_LANES 16

// ----------------------------------------------------------------------------
// Worker threads
//
// One pool for the process, started lazily: nn_parallel(n, fn, ctx) runs
// fn(ctx, 0, n) on the caller and fn(ctx, i, n) for i = 1..n-1 on workers.
// A job is published by bumping `gen`; workers spin a little (~20 us) on it
// before sleeping on the condition variable, so back-to-back jobs (one per
// acting step) hand over without a futex round trip, and idle workers do
// not keep spinning while OpenBLAS's own threads run the big products.
// Every started worker acknowledges every job (`pending`), so the caller
// never rewrites the job while a worker may still read it.

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int nworkers;
    atomic_uint gen;
    atomic_int pending;
    void (*fn)(void *ctx, int part, int nparts);
    void *ctx;
    int nparts;
} Pool;

static Pool g_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL, NULL, 0};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// The generation each worker was started at (it waits for the next one).
static unsigned g_pool_start[NN_MAX_THREADS];

static void *pool_worker(void *arg) {
    const int id = (int)(intptr_t)arg;
    unsigned seen = g_pool_start[id];
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load(&g_pool.gen)) == seen) {
            if (++spins < 512) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&g_pool.mu);
            while ((g = atomic_load(&g_pool.gen)) == seen)
                pthread_cond_wait(&g_pool.cv, &g_pool.mu);
            pthread_mutex_unlock(&g_pool.mu);
            break;
        }
        seen = g;
        if (id < g_pool.nparts) g_pool.fn(g_pool.ctx, id, g_pool.nparts);
        atomic_fetch_sub(&g_pool.pending, 1);
    }
    return NULL;
}

int nn_threads(void) {
    int n = openblas_get_num_threads();
    return n < 1 ? 1 : (n > NN_MAX_THREADS ? NN_MAX_THREADS : n);
}

int nn_pool_start(int nthreads) {
    if (nthreads > NN_MAX_THREADS) nthreads = NN_MAX_THREADS;
    while (g_pool.nworkers < nthreads - 1) {
        pthread_t th;
        pthread_attr_t at;
        g_pool_start[g_pool.nworkers + 1] = atomic_load(&g_pool.gen);
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&th, &at, pool_worker, (void *)(intptr_t)(g_pool.nworkers + 1));
        pthread_attr_destroy(&at);
        if (rc != 0) break;
        g_pool.nworkers++;
    }
    return g_pool.nworkers + 1;
}

void nn_parallel(int nparts, void (*fn)(void *ctx, int part, int nparts), void *ctx) {
    if (nparts > NN_MAX_THREADS) nparts = NN_MAX_THREADS;
    if (nparts > g_pool.nworkers + 1) { // normally started already (nn_pool_start)
        int have = nn_pool_start(nparts);
        if (nparts > have) nparts = have;
    }
    if (nparts <= 1) {
        fn(ctx, 0, 1);
        return;
    }
    g_pool.fn = fn, g_pool.ctx = ctx, g_pool.nparts = nparts;
    atomic_store(&g_pool.pending, g_pool.nworkers);
    pthread_mutex_lock(&g_pool.mu);
    atomic_fetch_add(&g_pool.gen, 1);
    pthread_cond_broadcast(&g_pool.cv);
    pthread_mutex_unlock(&g_pool.mu);
    fn(ctx, 0, nparts);
    for (int spins = 0; atomic_load(&g_pool.pending) > 0; spins++)
        if (spins < 4096) cpu_relax();
        else sched_yield();
}

void nn_run_parts(int nparts, void (*fn)(void *ctx, int part, int nparts), void *ctx) {
    if (nparts <= 1) {
        fn(ctx, 0, 1);
        return;
    }
    int blas = openblas_get_num_threads();
    openblas_set_num_threads(1);
    nn_parallel(nparts, fn, ctx);
    openblas_set_num_threads(blas);
}

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

// dinp (N,I) += dout (N,O) @ w (O,I); dw (O,I) += dout^T @ inp; db (O) += colsum(dout)
void nn_linear_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, int N, int I, int O) {
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, I, O, 1.0f, dout, O, w, I,
                    1.0f, dinp, I);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, I, N, 1.0f, dout, O, inp, I,
                    1.0f, dw, I);
    if (db)
        for (int n = 0; n < N; n++) {
            const float *d = dout + (size_t)n * O;
            for (int o = 0; o < O; o++) db[o] += d[o];
        }
}

// ----------------------------------------------------------------------------
// Conv2d, one frame at a time: im2col^T then one small sgemm per frame
//
// For the network's shapes (7x7 images, 16-32 channels) a frame's GEMM is
// (Co x Ci*K*K) @ (Ci*K*K x Ho*Wo), e.g. 32x144 @ 144x49: OpenBLAS runs that
// through its small-matrix kernels without packing, about twice as fast as
// one batched (N*Ho*Wo x Ci*K*K) GEMM, and the result lands in NCHW directly
// (no transpose of the output, none of dout in the backward).

static inline int conv_out(int X, int K, int S, int P) { return (X + 2 * P - K) / S + 1; }

// "Same" convolutions (stride 1, 2P = K-1, so Ho = H and Wo = W) build colT
// faster: tap (ky,kx) reads the flattened plane shifted by
// s = (ky-P) W + (kx-P), except where a row wraps around or the shift leaves
// the plane, which a 0/1 mask per tap zeroes. Each plane is copied between
// zero margins of P W + P floats, so every colT row is one straight loop
// d[p] = mask[p] * plane[p + s] over p < H W, and the backward is the
// same loop adding the other way.
static int conv_same(int H, int W, int K, int S, int P) {
    (void)H, (void)W;
    return S == 1 && 2 * P == K - 1;
}

size_t nn_conv2d_workspace(int N, int Ci, int H, int W, int Co, int K, int S, int P) {
    (void)N, (void)Co;
    size_t hw = (size_t)conv_out(H, K, S, P) * conv_out(W, K, S, P);
    size_t n = 2 * (size_t)Ci * K * K * hw; // colT and dcolT of one frame
    if (conv_same(H, W, K, S, P))             // padded planes and tap masks
        n += (size_t)Ci * ((size_t)H * W + 2 * ((size_t)P * W + P)) + (size_t)K * K * hw;
    return n;
}

// Blocks of NN_LANES through restrict pointers: what GCC's -O2 vectoriser
// takes. The masks are 0/1 multipliers (a select is not vectorised); the
// values they zero are finite activations or gradients.
static void row_mul(float *restrict d, const float *restrict s, const float *restrict m,
                       int n) {
    int i = 0;
    for (; i + NN_LANES <= n; i += NN_LANES)
        for (int k = 0; k < NN_LANES; k++) d[i + k] = m[i + k] * s[i + k];
    for (; i < n; i++) d[i] = m[i] * s[i];
}

static void row_add_mul(float *restrict d, const float *restrict s, const float *restrict m,
                           int n) {
    int i = 0;
    for (; i + NN_LANES <= n; i += NN_LANES)
        for (int k = 0; k < NN_LANES; k++) d[i + k] += m[i + k] * s[i + k];
    for (; i < n; i++) d[i] += m[i] * s[i];
}

static inline void row_add(float *restrict d, const float *restrict s, int n) {
    int i = 0;
    for (; i + NN_LANES <= n; i += NN_LANES)
        for (int k = 0; k < NN_LANES; k++) d[i + k] += s[i + k];
    for (; i < n; i++) d[i] += s[i];
}

// acc (n) += sum of the ncols vectors cols[j] (n): one call per output pixel
// of the one-hot conv, whatever the number of taps.
static void sum_cols(float *restrict acc, const float *const *cols, int ncols, int n) {
    int i = 0;
    for (; i + NN_LANES <= n; i += NN_LANES)
        for (int j = 0; j < ncols; j++) {
            const float *restrict c = cols[j] + i;
            for (int k = 0; k < NN_LANES; k++) acc[i + k] += c[k];
        }
    for (; i < n; i++)
        for (int j = 0; j < ncols; j++) acc[i] += cols[j][i];
}

// mask (K*K, H*W): 1 where tap (ky,kx) of output pixel (y,x) lands inside the image.
static void same_masks(float *mask, int H, int W, int K, int P) {
    for (int ky = 0; ky < K; ky++)
        for (int kx = 0; kx < K; kx++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int iy = y + ky - P, ix = x + kx - P;
                    mask[((size_t)(ky * K + kx) * H + y) * W + x] =
                        (iy >= 0 && iy < H && ix >= 0 && ix < W) ? 1.0f : 0.0f;
                }
}

// colT (Ci*K*K, H*W) of one frame img (Ci,H,W); pad holds Ci planes of
// H*W + 2*margin floats whose margins are zero.
static void im2colT_same(float *colT, const float *img, float *pad, const float *mask, int Ci,
                         int H, int W, int K, int P) {
    const int hw = H * W, margin = P * W + P, L = hw + 2 * margin;
    for (int ci = 0; ci < Ci; ci++)
        memcpy(pad + (size_t)ci * L + margin, img + (size_t)ci * hw, (size_t)hw * sizeof(float));
    for (int ci = 0; ci < Ci; ci++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                const int tap = ky * K + kx, shift = (ky - P) * W + (kx - P);
                row_mul(colT + ((size_t)ci * K * K + tap) * hw,
                           pad + (size_t)ci * L + margin + shift, mask + (size_t)tap * hw, hw);
            }
}

// img (Ci,H,W) += fold(dcolT), through pad (margins and interior zeroed here).
static void col2imT_same_add(float *img, const float *dcolT, float *pad, const float *mask,
                             int Ci, int H, int W, int K, int P) {
    const int hw = H * W, margin = P * W + P, L = hw + 2 * margin;
    memset(pad, 0, (size_t)Ci * L * sizeof(float));
    for (int ci = 0; ci < Ci; ci++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                const int tap = ky * K + kx, shift = (ky - P) * W + (kx - P);
                row_add_mul(pad + (size_t)ci * L + margin + shift,
                            dcolT + ((size_t)ci * K * K + tap) * hw, mask + (size_t)tap * hw,
                            hw);
            }
    for (int ci = 0; ci < Ci; ci++)
        row_add(img + (size_t)ci * hw, pad + (size_t)ci * L + margin, hw);
}

// First and one-past-last output column ox whose tap kx lands inside [0, W).
static inline void conv_valid_range(int *lo, int *hi, int W, int Wo, int kx, int S, int P) {
    int a = P - kx, l = a > 0 ? (a + S - 1) / S : 0;       // ox*S - P + kx >= 0
    int b = W - 1 + P - kx, h = b >= 0 ? b / S + 1 : 0;      // ox*S - P + kx <= W-1
    *lo = l < Wo ? l : Wo;
    *hi = h < Wo ? h : Wo;
    if (*hi < *lo) *hi = *lo;
}

// One frame img (Ci,H,W) -> colT (Ci*K*K, Ho*Wo): row (ci,ky,kx) holds the
// input each output pixel sees through that tap (0 outside the image). Row
// order matches the flattening of w (Co,Ci,K,K).
static void im2colT(float *colT, const float *img, int Ci, int H, int W, int K, int S, int P,
                    int Ho, int Wo) {
    const size_t hw = (size_t)Ho * Wo;
    for (int ci = 0; ci < Ci; ci++) {
        const float *plane = img + (size_t)ci * H * W;
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                float *row = colT + (((size_t)ci * K + ky) * K + kx) * hw;
                int lo, hi;
                conv_valid_range(&lo, &hi, W, Wo, kx, S, P);
                for (int oy = 0; oy < Ho; oy++) {
                    float *d = row + (size_t)oy * Wo;
                    int iy = oy * S - P + ky;
                    if (iy < 0 || iy >= H) {
                        memset(d, 0, (size_t)Wo * sizeof(float));
                        continue;
                    }
                    const float *s = plane + (size_t)iy * W - P + kx;
                    for (int ox = 0; ox < lo; ox++) d[ox] = 0.0f;
                    if (S == 1) memcpy(d + lo, s + lo, (size_t)(hi - lo) * sizeof(float));
                    else for (int ox = lo; ox < hi; ox++) d[ox] = s[(size_t)ox * S];
                    for (int ox = hi; ox < Wo; ox++) d[ox] = 0.0f;
                }
            }
    }
}

// The adjoint of im2colT: img (Ci,H,W) += fold(dcolT).
static void col2imT_add(float *img, const float *dcolT, int Ci, int H, int W, int K, int S,
                        int P, int Ho, int Wo) {
    const size_t hw = (size_t)Ho * Wo;
    for (int ci = 0; ci < Ci; ci++) {
        float *plane = img + (size_t)ci * H * W;
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                const float *row = dcolT + (((size_t)ci * K + ky) * K + kx) * hw;
                int lo, hi;
                conv_valid_range(&lo, &hi, W, Wo, kx, S, P);
                for (int oy = 0; oy < Ho; oy++) {
                    int iy = oy * S - P + ky;
                    if (iy < 0 || iy >= H) continue;
                    const float *s = row + (size_t)oy * Wo;
                    float *d = plane + (size_t)iy * W - P + kx;
                    for (int ox = lo; ox < hi; ox++) d[(size_t)ox * S] += s[ox];
                }
            }
    }
}

// inp (N,Ci,H,W) * w (Co,Ci,K,K) + b (Co) -> out (N,Co,Ho,Wo)
void nn_conv2d_forward(float *out, const float *inp, const float *w, const float *b,
                       float *work, int N, int Ci, int H, int W, int Co, int K, int S, int P) {
    int Ho = conv_out(H, K, S, P), Wo = conv_out(W, K, S, P);
    assert(Ho > 0 && Wo > 0);
    const int hw = Ho * Wo, ckk = Ci * K * K, same = conv_same(H, W, K, S, P);
    float *colT = work, *pad = work + 2 * (size_t)ckk * hw;
    float *mask = pad + (size_t)Ci * (hw + 2 * (P * W + P));
    if (same) {
        memset(pad, 0, (size_t)Ci * (hw + 2 * (P * W + P)) * sizeof(float));
        same_masks(mask, H, W, K, P);
    }
    for (int n = 0; n < N; n++) {
        const float *img = inp + (size_t)n * Ci * H * W;
        float *o = out + (size_t)n * Co * hw;
        if (same) im2colT_same(colT, img, pad, mask, Ci, H, W, K, P);
        else im2colT(colT, img, Ci, H, W, K, S, P, Ho, Wo);
        if (b)
            for (int co = 0; co < Co; co++)
                for (int p = 0; p < hw; p++) o[(size_t)co * hw + p] = b[co];
        // o (Co, HW) = w (Co, CKK) @ colT (CKK, HW) (+ b)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Co, hw, ckk, 1.0f, w, ckk, colT,
                    hw, b ? 1.0f : 0.0f, o, hw);
    }
}

void nn_conv2d_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, float *work,
                        int N, int Ci, int H, int W, int Co, int K, int S, int P) {
    int Ho = conv_out(H, K, S, P), Wo = conv_out(W, K, S, P);
    assert(Ho > 0 && Wo > 0);
    const int hw = Ho * Wo, ckk = Ci * K * K, same = conv_same(H, W, K, S, P);
    float *colT = work, *dcolT = work + (size_t)ckk * hw, *pad = work + 2 * (size_t)ckk * hw;
    float *mask = pad + (size_t)Ci * (hw + 2 * (P * W + P));
    if (same) same_masks(mask, H, W, K, P);
    for (int n = 0; n < N; n++) {
        const float *d = dout + (size_t)n * Co * hw;
        if (db)
            for (int co = 0; co < Co; co++) {
                float s = 0.0f;
                for (int p = 0; p < hw; p++) s += d[(size_t)co * hw + p];
                db[co] += s;
            }
        if (dw) {
            const float *img = inp + (size_t)n * Ci * H * W;
            if (same) {
                memset(pad, 0, (size_t)Ci * (hw + 2 * (P * W + P)) * sizeof(float));
                im2colT_same(colT, img, pad, mask, Ci, H, W, K, P);
            } else {
                im2colT(colT, img, Ci, H, W, K, S, P, Ho, Wo);
            }
            // dw (Co, CKK) += dout_n (Co, HW) @ colT^T (HW, CKK)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Co, ckk, hw, 1.0f, d, hw, colT,
                        hw, 1.0f, dw, ckk);
        }
        if (dinp) {
            // dcolT (CKK, HW) = w^T (CKK, Co) @ dout_n (Co, HW)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, hw, Co, 1.0f, w, ckk, d, hw,
                        0.0f, dcolT, hw);
            float *dimg = dinp + (size_t)n * Ci * H * W;
            if (same) col2imT_same_add(dimg, dcolT, pad, mask, Ci, H, W, K, P);
            else col2imT_add(dimg, dcolT, Ci, H, W, K, S, P, Ho, Wo);
        }
    }
}

// ----------------------------------------------------------------------------
// Conv2d on one-hot input: a gather of weight columns
//
// wt, the weights regrouped (Ci, K, K, Co) so that one tap of one input kind
// is a contiguous Co-vector: out pixel (Co) = b + sum over taps of wt[kind, tap].
// Per frame the sums build up in tmp (Ho*Wo, Co), then go out transposed.

#define NN_ONEHOT_MAX_TAPS 32

size_t nn_conv2d_onehot_workspace(int Ci, int H, int W, int Co, int K, int S, int P) {
    size_t hw = (size_t)conv_out(H, K, S, P) * conv_out(W, K, S, P);
    return (size_t)Ci * K * K * Co + hw * Co;
}

int nn_onehot_index(uint8_t *kind, const float *inp, int N, int C, int HW) {
    assert(C < NN_ONEHOT_NONE);
    int ok = 1;
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C * HW;
        uint8_t *k = kind + (size_t)n * HW;
        memset(k, NN_ONEHOT_NONE, (size_t)HW);
        for (int c = 0; c < C; c++)
            for (int p = 0; p < HW; p++) {
                float v = x[(size_t)c * HW + p];
                if (v == 0.0f) continue;
                ok &= v == 1.0f && k[p] == NN_ONEHOT_NONE;
                k[p] = (uint8_t)c;
            }
    }
    return ok ? 0 : -1;
}

void nn_conv2d_onehot_forward(float *out, const uint8_t *kind, const float *w, const float *b,
                              float *work, int N, int Ci, int H, int W, int Co, int K, int S,
                              int P) {
    int Ho = conv_out(H, K, S, P), Wo = conv_out(W, K, S, P);
    assert(Ho > 0 && Wo > 0);
    const int KK = K * K, hw = Ho * Wo;
    float *wt = work, *tmp = work + (size_t)Ci * KK * Co;
    for (int co = 0; co < Co; co++)
        for (int j = 0; j < Ci * KK; j++) wt[(size_t)j * Co + co] = w[(size_t)co * Ci * KK + j];
    for (int n = 0; n < N; n++) {
        const uint8_t *kn = kind + (size_t)n * H * W;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                float *acc = tmp + ((size_t)oy * Wo + ox) * Co;
                for (int co = 0; co < Co; co++) acc[co] = b ? b[co] : 0.0f;
                const float *cols[NN_ONEHOT_MAX_TAPS];
                int ncols = 0;
                for (int ky = 0; ky < K; ky++) {
                    int iy = oy * S - P + ky;
                    if (iy < 0 || iy >= H) continue;
                    for (int kx = 0; kx < K; kx++) {
                        int ix = ox * S - P + kx, k;
                        if (ix < 0 || ix >= W || (k = kn[(size_t)iy * W + ix]) >= Ci) continue;
                        cols[ncols++] = wt + ((size_t)k * KK + ky * K + kx) * Co;
                        if (ncols == NN_ONEHOT_MAX_TAPS) {
                            sum_cols(acc, cols, ncols, Co);
                            ncols = 0;
                        }
                    }
                }
                sum_cols(acc, cols, ncols, Co);
            }
        float *o = out + (size_t)n * Co * hw;
        for (int p = 0; p < hw; p++)
            for (int co = 0; co < Co; co++) o[(size_t)co * hw + p] = tmp[(size_t)p * Co + co];
    }
}

void nn_conv2d_onehot_backward(float *dw, float *db, const float *dout, const uint8_t *kind,
                               float *work, int N, int Ci, int H, int W, int Co, int K, int S,
                               int P) {
    int Ho = conv_out(H, K, S, P), Wo = conv_out(W, K, S, P);
    assert(Ho > 0 && Wo > 0);
    const int KK = K * K, hw = Ho * Wo;
    float *dwt = work, *dT = work + (size_t)Ci * KK * Co;
    if (dw) memset(dwt, 0, (size_t)Ci * KK * Co * sizeof(float));
    for (int n = 0; n < N; n++) {
        const float *d = dout + (size_t)n * Co * hw;
        if (db)
            for (int co = 0; co < Co; co++) {
                float s = 0.0f;
                for (int p = 0; p < hw; p++) s += d[(size_t)co * hw + p];
                db[co] += s;
            }
        if (!dw) continue;
        for (int co = 0; co < Co; co++)
            for (int p = 0; p < hw; p++) dT[(size_t)p * Co + co] = d[(size_t)co * hw + p];
        const uint8_t *kn = kind + (size_t)n * H * W;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                const float *g = dT + ((size_t)oy * Wo + ox) * Co;
                for (int ky = 0; ky < K; ky++) {
                    int iy = oy * S - P + ky;
                    if (iy < 0 || iy >= H) continue;
                    for (int kx = 0; kx < K; kx++) {
                        int ix = ox * S - P + kx, k;
                        if (ix < 0 || ix >= W || (k = kn[(size_t)iy * W + ix]) >= Ci) continue;
                        row_add(dwt + ((size_t)k * KK + ky * K + kx) * Co, g, Co);
                    }
                }
            }
    }
    if (dw)
        for (int co = 0; co < Co; co++)
            for (int j = 0; j < Ci * KK; j++)
                dw[(size_t)co * Ci * KK + j] += dwt[(size_t)j * Co + co];
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

// ----------------------------------------------------------------------------
// LSTM cell (PyTorch gate order i, f, g, o)
//
// The pointwise parts use exp/tanh written out below rather than libm's
// calls, and run over blocks of NN_LANES units through restrict pointers:
// that is the shape GCC's -O2 vectoriser (cost model "very cheap": no alias
// checks, no epilogues) turns into straight vector code, 16 lanes with
// AVX-512. With libm's scalar expf/tanhf the pointwise step cost ~15% of an
// acting step.


// e^x to ~2 ulp for x in [-87, 88] (Cephes expf: 2^n * e^r, |r| <= ln2/2);
// saturates outside (e^-87 and e^88 stand in for underflow and overflow).
// n is rounded with the 1.5 * 2^23 trick, not floorf, which GCC will not
// vectorise under the default -ftrapping-math.
static inline float nn_expf(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    n = n == n ? n : 0.0f; // NaN in: keep the (NaN) result, avoid UB in the int conversion
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &e, sizeof scale);
    return p * scale;
}

static inline float nn_sigmoidf(float x) { return 1.0f / (1.0f + nn_expf(-x)); }

// tanh: Cephes' odd polynomial below |x| = 0.625 (no cancellation near 0),
// 1 - 2 / (e^{2|x|} + 1) with the sign put back above.
static inline float nn_tanhf(float x) {
    float ax = fabsf(x), z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = p * z * x + x;
    float big = 1.0f - 2.0f / (nn_expf(2.0f * ax) + 1.0f);
    big = x < 0.0f ? -big : big;
    return ax < 0.625f ? small : big;
}

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

void nn_lstm_backward(float *dx, float *dh_prev, float *dc_prev, float *dw_ih,
                      float *dw_hh, float *db_ih, float *db_hh, const float *dh,
                      const float *dc, const float *gates, const float *c,
                      const float *c_prev, const float *x, const float *h_prev,
                      const float *w_ih, const float *w_hh, float *dgates,
                      int N, int I, int H) {
    int G = 4 * H;
    nn_lstm_backward_gates(dgates, dc_prev, dh, dc, gates, c, c_prev, N, H);
    for (int n = 0; n < N; n++) {
        const float *da = dgates + (size_t)n * G;
        for (int k = 0; k < G; k++) {
            if (db_ih) db_ih[k] += da[k];
            if (db_hh) db_hh[k] += da[k];
        }
    }
    // dw_ih (4H,I) += da^T (4H,N) @ x (N,I); dw_hh likewise with h_prev
    if (dw_ih)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G, I, N, 1.0f, dgates, G, x, I,
                    1.0f, dw_ih, I);
    if (dw_hh)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G, H, N, 1.0f, dgates, G, h_prev,
                    H, 1.0f, dw_hh, H);
    // dx (N,I) += da (N,4H) @ w_ih (4H,I); dh_prev likewise with w_hh
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, I, G, 1.0f, dgates, G, w_ih,
                    I, 1.0f, dx, I);
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

// ----------------------------------------------------------------------------
// Naive references

void nn_ref_sgemm(int transA, int transB, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta,
                  float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < K; k++) {
                float a = transA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = transB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += (double)a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = alpha * (float)s + (beta == 0.0f ? 0.0f : beta * *c);
        }
}

void nn_ref_linear_forward(float *out, const float *inp, const float *w, const float *b,
                           int N, int I, int O) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double s = b ? b[o] : 0.0f;
            for (int i = 0; i < I; i++) s += (double)inp[(size_t)n * I + i] * w[(size_t)o * I + i];
            out[(size_t)n * O + o] = (float)s;
        }
}

void nn_ref_linear_backward(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, int N, int I, int O) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            float d = dout[(size_t)n * O + o];
            if (db) db[o] += d;
            for (int i = 0; i < I; i++) {
                if (dinp) dinp[(size_t)n * I + i] += d * w[(size_t)o * I + i];
                if (dw) dw[(size_t)o * I + i] += d * inp[(size_t)n * I + i];
            }
        }
}

void nn_ref_conv2d_forward(float *out, const float *inp, const float *w, const float *b,
                           int N, int Ci, int H, int W, int Co, int K, int S, int P) {
    int Ho = conv_out(H, K, S, P), Wo = conv_out(W, K, S, P);
    for (int n = 0; n < N; n++)
        for (int co = 0; co < Co; co++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    double s = b ? b[co] : 0.0f;
                    for (int ci = 0; ci < Ci; ci++)
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++) {
                                int iy = oy * S - P + ky, ix = ox * S - P + kx;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                s += (double)inp[(((size_t)n * Ci + ci) * H + iy) * W + ix] *
                                     w[(((size_t)co * Ci + ci) * K + ky) * K + kx];
                            }
                    out[(((size_t)n * Co + co) * Ho + oy) * Wo + ox] = (float)s;
                }
}

void nn_ref_conv2d_backward(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w,
                            int N, int Ci, int H, int W, int Co, int K, int S, int P) {
    int Ho = conv_out(H, K, S, P), Wo = conv_out(W, K, S, P);
    for (int n = 0; n < N; n++)
        for (int co = 0; co < Co; co++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    float d = dout[(((size_t)n * Co + co) * Ho + oy) * Wo + ox];
                    if (db) db[co] += d;
                    for (int ci = 0; ci < Ci; ci++)
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++) {
                                int iy = oy * S - P + ky, ix = ox * S - P + kx;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                size_t ii = (((size_t)n * Ci + ci) * H + iy) * W + ix;
                                size_t wi = (((size_t)co * Ci + ci) * K + ky) * K + kx;
                                if (dinp) dinp[ii] += d * w[wi];
                                if (dw) dw[wi] += d * inp[ii];
                            }
                }
}

void nn_ref_lstm_forward(float *h, float *c, float *gates, const float *x,
                         const float *h_prev, const float *c_prev,
                         const float *w_ih, const float *w_hh, const float *b_ih,
                         const float *b_hh, int N, int I, int H) {
    int G = 4 * H;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < G; k++) {
            double s = (double)b_ih[k] + b_hh[k];
            for (int i = 0; i < I; i++) s += (double)x[(size_t)n * I + i] * w_ih[(size_t)k * I + i];
            for (int j = 0; j < H; j++)
                s += (double)h_prev[(size_t)n * H + j] * w_hh[(size_t)k * H + j];
            gates[(size_t)n * G + k] = (float)s;
        }
    for (int n = 0; n < N; n++)
        for (int j = 0; j < H; j++) {
            float *g = gates + (size_t)n * G;
            g[j] = 1.0f / (1.0f + expf(-g[j]));
            g[H + j] = 1.0f / (1.0f + expf(-g[H + j]));
            g[2 * H + j] = tanhf(g[2 * H + j]);
            g[3 * H + j] = 1.0f / (1.0f + expf(-g[3 * H + j]));
            size_t r = (size_t)n * H + j;
            c[r] = g[H + j] * c_prev[r] + g[j] * g[2 * H + j];
            h[r] = g[3 * H + j] * tanhf(c[r]);
        }
}

void nn_ref_lstm_backward(float *dx, float *dh_prev, float *dc_prev, float *dw_ih,
                          float *dw_hh, float *db_ih, float *db_hh, const float *dh,
                          const float *dc, const float *gates, const float *c,
                          const float *c_prev, const float *x, const float *h_prev,
                          const float *w_ih, const float *w_hh, float *dgates,
                          int N, int I, int H) {
    int G = 4 * H;
    for (int n = 0; n < N; n++)
        for (int j = 0; j < H; j++) {
            const float *g = gates + (size_t)n * G;
            float *da = dgates + (size_t)n * G;
            size_t r = (size_t)n * H + j;
            float i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
            float tc = tanhf(c[r]), dhr = dh ? dh[r] : 0.0f;
            float dct = (dc ? dc[r] : 0.0f) + dhr * o * (1.0f - tc * tc);
            da[j] = dct * gg * i * (1.0f - i);
            da[H + j] = dct * c_prev[r] * f * (1.0f - f);
            da[2 * H + j] = dct * i * (1.0f - gg * gg);
            da[3 * H + j] = dhr * tc * o * (1.0f - o);
            if (dc_prev) dc_prev[r] += dct * f;
        }
    for (int n = 0; n < N; n++)
        for (int k = 0; k < G; k++) {
            float d = dgates[(size_t)n * G + k];
            if (db_ih) db_ih[k] += d;
            if (db_hh) db_hh[k] += d;
            for (int i = 0; i < I; i++) {
                if (dw_ih) dw_ih[(size_t)k * I + i] += d * x[(size_t)n * I + i];
                if (dx) dx[(size_t)n * I + i] += d * w_ih[(size_t)k * I + i];
            }
            for (int j = 0; j < H; j++) {
                if (dw_hh) dw_hh[(size_t)k * H + j] += d * h_prev[(size_t)n * H + j];
                if (dh_prev) dh_prev[(size_t)n * H + j] += d * w_hh[(size_t)k * H + j];
            }
        }
}
