// nn_ref.c — the naive references of nn.h's kernels (see nn_ref.h).
#include "nn/nn_ref.h"

#include <math.h>
#include <stddef.h>

static inline int conv_out(int X, int K, int S, int P) { return (X + 2 * P - K) / S + 1; }

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

// The gate derivatives of unit j of one row (both references below): da[j],
// da[H+j], da[2H+j], da[3H+j] from the gates g, c_t, c_{t-1}, dL/dh_t and the
// dL/dc_t coming from later; returns the whole dL/dc_t.
static float unit_backward(float *da, const float *g, int H, int j, float c, float c_prev, float dh,
                           float dc) {
    float i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
    float tc = tanhf(c);
    float dct = dc + dh * o * (1.0f - tc * tc);
    da[j] = dct * gg * i * (1.0f - i);
    da[H + j] = dct * c_prev * f * (1.0f - f);
    da[2 * H + j] = dct * i * (1.0f - gg * gg);
    da[3 * H + j] = dh * tc * o * (1.0f - o);
    return dct;
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
            float f = g[H + j];
            float dct = unit_backward(da, g, H, j, c[r], c_prev[r], dh ? dh[r] : 0.0f, dc ? dc[r] : 0.0f);
            if (dc_prev) dc_prev[r] += dct * f;
        }
    // every element's terms are added in the same order as one fused loop would
    nn_ref_lstm_backward_weights(dx, dw_ih, dw_hh, db_ih, db_hh, dgates, x, h_prev, w_ih, N, I, H, I);
    for (int n = 0; n < N && dh_prev; n++)
        for (int k = 0; k < G; k++)
            for (int j = 0; j < H; j++)
                dh_prev[(size_t)n * H + j] += dgates[(size_t)n * G + k] * w_hh[(size_t)k * H + j];
}

// Written per unit from the formulas (no workspace): dc_prev[r] is read as
// dc[r] just before it is written, so dc_prev may be dc here too.
void nn_ref_lstm_backward_step(float *dgates, float *dh_prev, float *dc_prev, const float *dh,
                               const float *dc, const float *mask, const float *gates,
                               const float *c, const float *c_prev, const float *w_hh, int N,
                               int H) {
    int G = 4 * H;
    for (int n = 0; n < N; n++) {
        const float *g = gates + (size_t)n * G;
        float *da = dgates + (size_t)n * G;
        float mk = mask ? mask[n] : 1.0f;
        for (int j = 0; j < H; j++) {
            size_t r = (size_t)n * H + j;
            float f = g[H + j];
            float dct = unit_backward(da, g, H, j, c[r], c_prev[r], dh ? dh[r] : 0.0f, dc ? dc[r] : 0.0f);
            if (dc_prev) dc_prev[r] = mk * dct * f;
        }
        if (dh_prev)
            for (int j = 0; j < H; j++) {
                double s = 0.0;
                for (int k = 0; k < G; k++) s += (double)da[k] * w_hh[(size_t)k * H + j];
                dh_prev[(size_t)n * H + j] += mk * (float)s;
            }
    }
}

void nn_ref_lstm_backward_weights(float *dx, float *dw_ih, float *dw_hh, float *db_ih,
                                  float *db_hh, const float *dgates, const float *x,
                                  const float *h_prev, const float *w_ih, int N, int I, int H,
                                  int Ix) {
    int G = 4 * H;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < G; k++) {
            float d = dgates[(size_t)n * G + k];
            if (db_ih) db_ih[k] += d;
            if (db_hh) db_hh[k] += d;
            for (int i = 0; i < I; i++) {
                if (dw_ih) dw_ih[(size_t)k * I + i] += d * x[(size_t)n * I + i];
                if (dx && i < Ix) dx[(size_t)n * Ix + i] += d * w_ih[(size_t)k * I + i];
            }
            for (int j = 0; j < H; j++)
                if (dw_hh) dw_hh[(size_t)k * H + j] += d * h_prev[(size_t)n * H + j];
        }
}
