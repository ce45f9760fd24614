// nn_conv.c — the convolution kernels of nn.h: conv2d by im2col^T and one
// small sgemm per frame, and the one-hot conv (gather / scatter-add).
//
//   conv2d  frame by frame: colT = im2col^T of the frame (Ci*K*K, Ho*Wo),
//           out_n (Co, Ho*Wo) = w colT in one small sgemm, straight into
//           NCHW. The backward recomputes colT (so the workspace can be
//           shared between layers): dw += dout_n colT^T, dcolT = w^T dout_n,
//           folded back (col2im) into dinp. "Same" convs (stride 1,
//           2P = K-1) build colT as masked shifts of zero-margined planes.
//   conv2d on one-hot input  a gather of weight columns (forward) and a
//           scatter-add (weight gradient); no GEMM.
#include "nn/nn.h"

#include <assert.h>
// Without this, OpenBLAS's header pulls in <complex.h>, whose macro `I` breaks
// every `int I` size parameter.
#define FORCE_OPENBLAS_COMPLEX_STRUCT
#include <cblas.h>
#include <stdint.h>
#include <string.h>

// Elementwise loops run over blocks of NN_LANES through restrict pointers:
// the shape GCC's -O2 vectoriser turns into straight vector code (as in nn.c).
#define NN_LANES 16

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

// db (Co) += the sum over the hw positions of each channel of d (Co,hw).
static void bias_backward(float *db, const float *d, int Co, int hw) {
    for (int co = 0; co < Co; co++) {
        float s = 0.0f;
        for (int p = 0; p < hw; p++) s += d[(size_t)co * hw + p];
        db[co] += s;
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
        if (db) bias_backward(db, d, Co, hw);
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
        if (db) bias_backward(db, d, Co, hw);
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
