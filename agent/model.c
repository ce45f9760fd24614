// model.c — forward and backward of the agent network (see model.h).
#include "agent/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FORCE_OPENBLAS_COMPLEX_STRUCT // keep <complex.h>'s macro I out
#include <cblas.h>

#include "env/rng.h"

// ----------------------------------------------------------------------------
// Parameters

int model_init(Model *m, int C, int V, int A, int c1, int c2, int D, int H, int K,
               int orthogonal, uint64_t seed) {
    memset(m, 0, sizeof *m);
    m->C = C, m->V = V, m->A = A, m->c1 = c1, m->c2 = c2, m->D = D, m->H = H, m->K = K;
    m->X = D + A + 1;
    NNParams *p = &m->p;
    int s[4];
    s[0] = c1, s[1] = C, s[2] = 3, s[3] = 3; m->conv1_w = nn_params_add(p, "conv1.w", 4, s);
    s[0] = c1;                                m->conv1_b = nn_params_add(p, "conv1.b", 1, s);
    s[0] = c2, s[1] = c1, s[2] = 3, s[3] = 3; m->conv2_w = nn_params_add(p, "conv2.w", 4, s);
    s[0] = c2;                                m->conv2_b = nn_params_add(p, "conv2.b", 1, s);
    s[0] = D, s[1] = c2 * V * V;              m->fc_w = nn_params_add(p, "fc.w", 2, s);
    s[0] = D;                                 m->fc_b = nn_params_add(p, "fc.b", 1, s);
    s[0] = 4 * H, s[1] = m->X;                m->w_ih = nn_params_add(p, "lstm.w_ih", 2, s);
    s[0] = 4 * H, s[1] = H;                   m->w_hh = nn_params_add(p, "lstm.w_hh", 2, s);
    s[0] = 4 * H;                             m->b_ih = nn_params_add(p, "lstm.b_ih", 1, s);
    s[0] = 4 * H;                             m->b_hh = nn_params_add(p, "lstm.b_hh", 1, s);
    s[0] = A, s[1] = H;                       m->pi_w = nn_params_add(p, "pi.w", 2, s);
    s[0] = A;                                 m->pi_b = nn_params_add(p, "pi.b", 1, s);
    s[0] = 1, s[1] = H;                       m->v_w = nn_params_add(p, "v.w", 2, s);
    s[0] = 1;                                 m->v_b = nn_params_add(p, "v.b", 1, s);
    m->cpc_w = -1;
    if (K > 0) { s[0] = K * D, s[1] = H;      m->cpc_w = nn_params_add(p, "cpc.w", 2, s); }
    if (nn_params_alloc(p) < 0) return -1;

    // PyTorch default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for conv/linear
    // weights and biases, U(-1/sqrt(H), 1/sqrt(H)) for every LSTM tensor.
    uint64_t rng = seed;
    float *work = NULL;
    if (orthogonal) {
        size_t big = 0;
        for (int i = 0; i < p->n; i++)
            if (p->t[i].ndim >= 2) {
                size_t rows = (size_t)p->t[i].shape[0], cols = p->t[i].size / rows;
                size_t need = rows * cols + (rows > cols ? rows : cols);
                if (need > big) big = need;
            }
        work = malloc(big * sizeof(float));
        if (!work) { nn_params_free(p); return -1; }
    }
    for (int i = 0; i < p->n; i++) {
        NNTensor *t = &p->t[i];
        float *w = nn_param(p, i);
        int lstm = i == m->w_ih || i == m->w_hh || i == m->b_ih || i == m->b_hh;
        float fan_in;
        if (lstm) fan_in = (float)H;
        else if (i == m->cpc_w) fan_in = (float)H;
        else if (t->ndim >= 2) fan_in = (float)(t->size / (size_t)t->shape[0]);
        else fan_in = (float)(p->t[i - 1].size / (size_t)p->t[i - 1].shape[0]); // bias: its weight's fan-in
        if (orthogonal && t->ndim >= 2) {
            int rows = t->shape[0], cols = (int)(t->size / (size_t)rows);
            // sqrt(2) for ReLU layers, 0.01 for the policy (near-uniform start), 1 elsewhere
            float gain = (i == m->pi_w) ? 0.01f : (i == m->conv1_w || i == m->conv2_w || i == m->fc_w)
                                                      ? sqrtf(2.0f) : 1.0f;
            nn_init_orthogonal(w, rows, cols, gain, &rng, work);
        } else if (orthogonal) {
            memset(w, 0, t->size * sizeof(float));
        } else {
            nn_init_uniform(w, t->size, 1.0f / sqrtf(fan_in), &rng);
        }
    }
    free(work);
    return 0;
}

void model_free(Model *m) { nn_params_free(&m->p); }

// ----------------------------------------------------------------------------
// Buffers

static int alloc_all(float **ptrs[], const size_t *sizes, int n) {
    for (int i = 0; i < n; i++) *ptrs[i] = NULL;
    for (int i = 0; i < n; i++) {
        *ptrs[i] = calloc(sizes[i] ? sizes[i] : 1, sizeof(float));
        if (!*ptrs[i]) return -1;
    }
    return 0;
}

static size_t conv_work(const Model *m, int N) {
    size_t w1 = nn_conv2d_workspace(N, m->C, m->V, m->V, m->c1, 3, 1, 1);
    size_t w2 = nn_conv2d_workspace(N, m->c1, m->V, m->V, m->c2, 3, 1, 1);
    size_t w0 = nn_conv2d_onehot_workspace(m->C, m->V, m->V, m->c1, 3, 1, 1);
    size_t w = w1 > w2 ? w1 : w2;
    return w > w0 ? w : w0;
}

int acts_alloc(Acts *a, const Model *m, int N) {
    size_t VV = (size_t)m->V * m->V, n = (size_t)N;
    float **ptrs[] = {&a->x0, &a->a1, &a->a2, &a->z, &a->xin, &a->hprev, &a->cprev,
                      &a->gates, &a->h, &a->cell, &a->logits, &a->value, &a->work};
    size_t sizes[] = {n * m->C * VV, n * m->c1 * VV, n * m->c2 * VV, n * m->D, n * m->X,
                      n * m->H, n * m->H, n * 4 * m->H, n * m->H, n * m->H, n * m->A, n,
                      conv_work(m, N)};
    a->N = N;
    a->kind = calloc(n * VV > 0 ? n * VV : 1, 1);
    a->onehot = calloc(n ? n : 1, 1);
    if (alloc_all(ptrs, sizes, (int)(sizeof sizes / sizeof sizes[0])) < 0 || !a->kind ||
        !a->onehot) {
        acts_free(a);
        return -1;
    }
    return 0;
}

void acts_free(Acts *a) {
    float *ptrs[] = {a->x0, a->a1, a->a2, a->z, a->xin, a->hprev, a->cprev,
                     a->gates, a->h, a->cell, a->logits, a->value, a->work};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) free(ptrs[i]);
    free(a->kind);
    free(a->onehot);
    memset(a, 0, sizeof *a);
}

int grads_alloc(Grads *g, const Model *m, int N, int Bmax) {
    size_t VV = (size_t)m->V * m->V, n = (size_t)N, b = (size_t)Bmax;
    float **ptrs[] = {&g->dh, &g->dz, &g->dpre, &g->da2, &g->da1, &g->dlogits, &g->dvalue,
                      &g->dgates, &g->dhc, &g->dcc, &g->dhp, &g->dcp};
    size_t sizes[] = {n * m->H, n * m->D, n * m->D, n * m->c2 * VV, n * m->c1 * VV,
                      n * m->A, n, n * 4 * m->H, b * m->H, b * m->H, b * m->H, b * m->H};
    g->N = N, g->Bmax = Bmax;
    if (alloc_all(ptrs, sizes, (int)(sizeof sizes / sizeof sizes[0])) < 0) {
        grads_free(g);
        return -1;
    }
    return 0;
}

void grads_free(Grads *g) {
    float *ptrs[] = {g->dh, g->dz, g->dpre, g->da2, g->da1, g->dlogits, g->dvalue,
                     g->dgates, g->dhc, g->dcc, g->dhp, g->dcp};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) free(ptrs[i]);
    memset(g, 0, sizeof *g);
}

// ----------------------------------------------------------------------------
// Forward

void model_forward(Model *m, Acts *a, int r0, int n) {
    NNParams *p = &m->p;
    const int C = m->C, V = m->V, VV = m->V * m->V, D = m->D, H = m->H, X = m->X, A = m->A;
    float *x0 = a->x0 + (size_t)r0 * C * VV;
    float *a1 = a->a1 + (size_t)r0 * m->c1 * VV;
    float *a2 = a->a2 + (size_t)r0 * m->c2 * VV;
    float *z = a->z + (size_t)r0 * D;
    float *xin = a->xin + (size_t)r0 * X;
    float *h = a->h + (size_t)r0 * H;
    const float *w1 = nn_param(p, m->conv1_w), *b1 = nn_param(p, m->conv1_b);

    uint8_t *kind = a->kind + (size_t)r0 * VV;
    const int onehot = nn_onehot_index(kind, x0, n, C, VV) == 0;
    memset(a->onehot + r0, onehot, (size_t)n);
    if (onehot) nn_conv2d_onehot_forward(a1, kind, w1, b1, a->work, n, C, V, V, m->c1, 3, 1, 1);
    else nn_conv2d_forward(a1, x0, w1, b1, a->work, n, C, V, V, m->c1, 3, 1, 1);
    nn_relu_forward(a1, a1, (size_t)n * m->c1 * VV);
    nn_conv2d_forward(a2, a1, nn_param(p, m->conv2_w), nn_param(p, m->conv2_b), a->work,
                      n, m->c1, V, V, m->c2, 3, 1, 1);
    nn_relu_forward(a2, a2, (size_t)n * m->c2 * VV);
    nn_linear_forward(z, a2, nn_param(p, m->fc_w), nn_param(p, m->fc_b), n, m->c2 * VV, D);
    nn_relu_forward(z, z, (size_t)n * D);
    for (int i = 0; i < n; i++) memcpy(xin + (size_t)i * X, z + (size_t)i * D, D * sizeof(float));
    nn_lstm_forward(h, a->cell + (size_t)r0 * H, a->gates + (size_t)r0 * 4 * H, xin,
                    a->hprev + (size_t)r0 * H, a->cprev + (size_t)r0 * H,
                    nn_param(p, m->w_ih), nn_param(p, m->w_hh), nn_param(p, m->b_ih),
                    nn_param(p, m->b_hh), n, X, H);
    nn_linear_forward(a->logits + (size_t)r0 * A, h, nn_param(p, m->pi_w), nn_param(p, m->pi_b),
                      n, H, A);
    nn_linear_forward(a->value + r0, h, nn_param(p, m->v_w), nn_param(p, m->v_b), n, H, 1);
}

// ----------------------------------------------------------------------------
// Backward (truncated BPTT over the unroll, then the encoder batched over T*B)

// Elementwise loops in blocks of LANES through restrict pointers, the shape
// GCC's -O2 vectoriser takes (see agent/nn.c).
#define LANES 16

// d (n) := d * (act > 0), in place: the ReLU's backward where nothing else
// has added into d.
static void relu_mask(float *restrict d, const float *restrict act, size_t n) {
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            float v = d[i + k];
            d[i + k] = act[i + k] > 0.0f ? v : 0.0f;
        }
    for (; i < n; i++) {
        float v = d[i];
        d[i] = act[i] > 0.0f ? v : 0.0f;
    }
}

// out (n) = d * (act > 0)
static void relu_grad(float *restrict out, const float *restrict d, const float *restrict act,
                      size_t n) {
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            float v = d[i + k];
            out[i + k] = act[i + k] > 0.0f ? v : 0.0f;
        }
    for (; i < n; i++) {
        float v = d[i];
        out[i] = act[i] > 0.0f ? v : 0.0f;
    }
}

// y (n) += a * x
static void axpy(float *restrict y, float a, const float *restrict x, int n) {
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) y[i + k] += a * x[i + k];
    for (; i < n; i++) y[i] += a * x[i];
}

// y (n) = a * x
static void scale_into(float *restrict y, float a, const float *restrict x, int n) {
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) y[i + k] = a * x[i + k];
    for (; i < n; i++) y[i] = a * x[i];
}

// db (O) += column sums of d (N, O)
static void colsum_add(float *db, const float *d, int N, int O) {
    for (int n = 0; n < N; n++) axpy(db, 1.0f, d + (size_t)n * O, O);
}

void model_backward(Model *m, Acts *a, Grads *g, const float *mask, int T, int B) {
    NNParams *p = &m->p;
    const int VV = m->V * m->V, D = m->D, H = m->H, X = m->X, A = m->A, G = 4 * H;
    const int N = T * B;
    const size_t BH = (size_t)B * H;
    const float *w_ih = nn_param(p, m->w_ih), *w_hh = nn_param(p, m->w_hh);

    // heads, batched over all rows: dh += dlogits W_pi + dvalue W_v
    nn_linear_backward(g->dh, nn_grad(p, m->pi_w), nn_grad(p, m->pi_b), g->dlogits, a->h,
                       nn_param(p, m->pi_w), N, H, A);
    nn_linear_backward(g->dh, nn_grad(p, m->v_w), nn_grad(p, m->v_b), g->dvalue, a->h,
                       nn_param(p, m->v_w), N, H, 1);

    // LSTM, backwards in time. Per step: the pointwise backward into this
    // step's rows of dgates, and the state gradient carried to step t-1,
    // dh_prev = dgates W_hh and dc_prev, cut where the incoming state was
    // reset (mask 0); at t = 0 it leaves the unroll (dhc, dcc).
    memset(g->dcc, 0, BH * sizeof(float));
    for (int t = T - 1; t >= 0; t--) {
        const size_t r = (size_t)t * B;
        float *dG = g->dgates + r * G;
        memset(g->dcp, 0, BH * sizeof(float));
        nn_lstm_backward_gates(dG, g->dcp, g->dh + r * H, g->dcc, a->gates + r * G,
                               a->cell + r * H, a->cprev + r * H, B, H);
        // dhp (B, H) = dG (B, 4H) @ W_hh (4H, H)
        nn_sgemm_rows(0, B, H, G, 1.0f, dG, G, w_hh, H, 0.0f, g->dhp, H);
        for (int b = 0; b < B; b++) {
            const float mk = mask[r + b];
            const float *dhp = g->dhp + (size_t)b * H, *dcp = g->dcp + (size_t)b * H;
            float *dcc = g->dcc + (size_t)b * H;
            if (t > 0) axpy(g->dh + (r - B + b) * H, mk, dhp, H);
            else scale_into(g->dhc + (size_t)b * H, mk, dhp, H);
            scale_into(dcc, mk, dcp, H);
        }
    }
    // ... and everything else of the LSTM as one GEMM over all T*B rows:
    // dW_ih (4H, X) += dG^T (4H, N) @ xin (N, X); dW_hh likewise with h_prev
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G, X, N, 1.0f, g->dgates, G, a->xin, X,
                1.0f, nn_grad(p, m->w_ih), X);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G, H, N, 1.0f, g->dgates, G, a->hprev,
                H, 1.0f, nn_grad(p, m->w_hh), H);
    colsum_add(nn_grad(p, m->b_ih), g->dgates, N, G);
    colsum_add(nn_grad(p, m->b_hh), g->dgates, N, G);
    // dz (N, D) += dG (N, 4H) @ W_ih[:, :D] (4H, D): the z part of dx (the
    // action/reward inputs need no gradient)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, D, G, 1.0f, g->dgates, G, w_ih, X,
                1.0f, g->dz, D);

    // encoder, batched over all T*B frames; each ReLU's backward is a mask
    // applied in place to the gradient the layer above wrote
    const int F2 = m->c2 * VV, F1 = m->c1 * VV;
    relu_grad(g->dpre, g->dz, a->z, (size_t)N * D);
    // da2 (N, F2) = dpre (N, D) @ W_fc (D, F2); dW_fc += dpre^T a2; db_fc += colsum(dpre)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, F2, D, 1.0f, g->dpre, D,
                nn_param(p, m->fc_w), F2, 0.0f, g->da2, F2);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, F2, N, 1.0f, g->dpre, D, a->a2, F2,
                1.0f, nn_grad(p, m->fc_w), F2);
    colsum_add(nn_grad(p, m->fc_b), g->dpre, N, D);
    relu_mask(g->da2, a->a2, (size_t)N * F2);
    memset(g->da1, 0, (size_t)N * F1 * sizeof(float));
    nn_conv2d_backward(g->da1, nn_grad(p, m->conv2_w), nn_grad(p, m->conv2_b), g->da2, a->a1,
                       nn_param(p, m->conv2_w), a->work, N, m->c1, m->V, m->V, m->c2, 3, 1, 1);
    relu_mask(g->da1, a->a1, (size_t)N * F1);
    if (!memchr(a->onehot, 0, (size_t)N))
        nn_conv2d_onehot_backward(nn_grad(p, m->conv1_w), nn_grad(p, m->conv1_b), g->da1,
                                  a->kind, a->work, N, m->C, m->V, m->V, m->c1, 3, 1, 1);
    else
        nn_conv2d_backward(NULL, nn_grad(p, m->conv1_w), nn_grad(p, m->conv1_b), g->da1, a->x0,
                           nn_param(p, m->conv1_w), a->work, N, m->C, m->V, m->V, m->c1, 3, 1, 1);
}

// ----------------------------------------------------------------------------
// FLOP counts (what the code above executes; one-hot conv1 counted as its adds)

double model_flops_forward(const Model *m, int n) {
    const double VV = (double)m->V * m->V, F2 = m->c2 * VV, G = 4.0 * m->H;
    double row = m->c1 * VV * 9                        // conv1 gather: one add per tap
               + 2.0 * m->c2 * VV * m->c1 * 9          // conv2
               + 2.0 * F2 * m->D                       // fc
               + 2.0 * G * (m->X + m->H) + 10.0 * G    // LSTM gates + pointwise
               + 2.0 * m->H * (m->A + 1);              // heads
    return row * n;
}

double model_flops_backward(const Model *m, int N) {
    const double VV = (double)m->V * m->V, F2 = m->c2 * VV, G = 4.0 * m->H;
    double row = 4.0 * m->H * (m->A + 1)                 // heads: dh and dW
               + 2.0 * G * (m->H + m->X + m->H + m->D)   // dh_prev, dW_ih, dW_hh, dz
               + 12.0 * G                                // pointwise
               + 4.0 * F2 * m->D                         // fc: dinp and dW
               + 4.0 * m->c2 * VV * m->c1 * 9            // conv2: dinp and dW
               + m->c1 * VV * 9;                         // conv1 scatter
    return row * N;
}
