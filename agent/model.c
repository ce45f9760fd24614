// model.c — forward and backward of the agent network (see model.h).
#include "agent/model.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/pool.h"
#include "base/rng.h"

// ----------------------------------------------------------------------------
// Parameters

int model_init_ext(Model *m, int C, int V, int A, int c1, int c2, int D, int H,
                   const ModelTensor *extra, int nextra, int orthogonal, uint64_t seed) {
    memset(m, 0, sizeof *m);
    m->C = C, m->V = V, m->A = A, m->c1 = c1, m->c2 = c2, m->D = D, m->H = H;
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
    m->aux0 = p->n;
    for (int i = 0; i < nextra; i++)
        if (nn_params_add(p, extra[i].name, extra[i].ndim, extra[i].shape) < 0) {
            nn_params_free(p);
            return -1;
        }
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
        else if (i >= m->aux0 && extra[i - m->aux0].fan_in > 0) fan_in = extra[i - m->aux0].fan_in;
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
    a->work_part = conv_work(m, N);
    size_t sizes[] = {n * m->C * VV, n * m->c1 * VV, n * m->c2 * VV, n * m->D, n * m->X,
                      n * m->H, n * m->H, n * 4 * m->H, n * m->H, n * m->H, n * m->A, n,
                      a->work_part * NN_MAX_THREADS};
    a->N = N;
    nn_pool_start(nn_threads()); // the worker threads, before any forward
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
    // the conv tensors lead the slab (model_init's order): one block per
    // extra thread for its share of their gradients
    assert(m->p.t[m->conv1_w].offset == 0 && m->conv2_b + 1 == m->fc_w);
    g->pgrad_part = m->p.t[m->fc_w].offset;
    float **ptrs[] = {&g->dh, &g->dz, &g->dpre, &g->da2, &g->da1, &g->dlogits, &g->dvalue,
                      &g->dgates, &g->dhc, &g->dcc, &g->bptt_work, &g->pgrad};
    size_t sizes[] = {n * m->H, n * m->D, n * m->D, n * m->c2 * VV, n * m->c1 * VV,
                      n * m->A, n, n * 4 * m->H, b * m->H, b * m->H,
                      nn_lstm_step_workspace(Bmax, m->H), g->pgrad_part * (NN_MAX_THREADS - 1)};
    g->N = N, g->Bmax = Bmax;
    if (alloc_all(ptrs, sizes, (int)(sizeof sizes / sizeof sizes[0])) < 0) {
        grads_free(g);
        return -1;
    }
    return 0;
}

void grads_free(Grads *g) {
    float *ptrs[] = {g->dh, g->dz, g->dpre, g->da2, g->da1, g->dlogits, g->dvalue,
                     g->dgates, g->dhc, g->dcc, g->bptt_work, g->pgrad};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) free(ptrs[i]);
    memset(g, 0, sizeof *g);
}

// ----------------------------------------------------------------------------
// Threads
//
// With more than one thread (the --threads setting, which OpenBLAS holds),
// the work that comes in small pieces is split over nn_parallel's workers:
// the rows of an acting step, the rows of a BPTT step, the frames of the
// conv backward. Each piece's products are few-row ones that OpenBLAS runs
// on the calling thread; OpenBLAS is held at 1 thread meanwhile so that no
// product of a piece forks again. The big products over all T*B rows stay
// on the trainer's thread with OpenBLAS's threads. A piece has at least 4
// rows: sample reuse's minibatches of B/4 = 8 rows then use both threads of
// a 2-core machine (with 8, they ran on one: 4 x 4 reuse at 2 threads 965-1,020
// frames/s, with 4 1,246-1,295 on tmaze, AMD EPYC Zen). B >= 16 splits as before.

#define MIN_ROWS_PER_PART 4

static int parts_for(int n) {
    int parts = nn_threads(), cap = n / MIN_ROWS_PER_PART;
    if (parts > cap) parts = cap;
    return parts < 1 ? 1 : parts;
}


// ----------------------------------------------------------------------------
// Forward

// Rows [r0, r0+n) of the encoder: conv1, conv2, fc and their ReLUs, z
// copied into xin's first D columns.
static void encode_rows(Model *m, Acts *a, int r0, int n, float *work) {
    NNParams *p = &m->p;
    const int C = m->C, V = m->V, VV = m->V * m->V, D = m->D, X = m->X;
    float *x0 = a->x0 + (size_t)r0 * C * VV;
    float *a1 = a->a1 + (size_t)r0 * m->c1 * VV;
    float *a2 = a->a2 + (size_t)r0 * m->c2 * VV;
    float *z = a->z + (size_t)r0 * D;
    float *xin = a->xin + (size_t)r0 * X;
    const float *w1 = nn_param(p, m->conv1_w), *b1 = nn_param(p, m->conv1_b);

    uint8_t *kind = a->kind + (size_t)r0 * VV;
    const int onehot = nn_onehot_index(kind, x0, n, C, VV) == 0;
    memset(a->onehot + r0, onehot, (size_t)n);
    if (onehot) nn_conv2d_onehot_forward(a1, kind, w1, b1, work, n, C, V, V, m->c1, 3, 1, 1);
    else nn_conv2d_forward(a1, x0, w1, b1, work, n, C, V, V, m->c1, 3, 1, 1);
    nn_relu_forward(a1, a1, (size_t)n * m->c1 * VV);
    nn_conv2d_forward(a2, a1, nn_param(p, m->conv2_w), nn_param(p, m->conv2_b), work,
                      n, m->c1, V, V, m->c2, 3, 1, 1);
    nn_relu_forward(a2, a2, (size_t)n * m->c2 * VV);
    nn_linear_forward(z, a2, nn_param(p, m->fc_w), nn_param(p, m->fc_b), n, m->c2 * VV, D);
    nn_relu_forward(z, z, (size_t)n * D);
    for (int i = 0; i < n; i++) memcpy(xin + (size_t)i * X, z + (size_t)i * D, D * sizeof(float));
}

// Rows [r0, r0+n) of the LSTM: h, cell, gates (work unused: a RowsFn).
static void lstm_rows(Model *m, Acts *a, int r0, int n, float *work) {
    NNParams *p = &m->p;
    const int H = m->H;
    nn_lstm_forward(a->h + (size_t)r0 * H, a->cell + (size_t)r0 * H, a->gates + (size_t)r0 * 4 * H,
                    a->xin + (size_t)r0 * m->X, a->hprev + (size_t)r0 * H,
                    a->cprev + (size_t)r0 * H, nn_param(p, m->w_ih), nn_param(p, m->w_hh),
                    nn_param(p, m->b_ih), nn_param(p, m->b_hh), n, m->X, H);
}

// Rows [r0, r0+n) of the heads: logits, value.
static void heads_rows(Model *m, Acts *a, int r0, int n) {
    NNParams *p = &m->p;
    const int H = m->H, A = m->A;
    nn_linear_forward(a->logits + (size_t)r0 * A, a->h + (size_t)r0 * H, nn_param(p, m->pi_w),
                      nn_param(p, m->pi_b), n, H, A);
    nn_linear_forward(a->value + r0, a->h + (size_t)r0 * H, nn_param(p, m->v_w),
                      nn_param(p, m->v_b), n, H, 1);
}

static void forward_rows(Model *m, Acts *a, int r0, int n, float *work) {
    encode_rows(m, a, r0, n, work);
    lstm_rows(m, a, r0, n, work);
    heads_rows(m, a, r0, n);
}

// Rows [r0, r0+n) split over the threads, each piece through `rows` with its
// own conv workspace.
typedef void RowsFn(Model *m, Acts *a, int r0, int n, float *work);
typedef struct { Model *m; Acts *a; int r0, n; RowsFn *rows; } ForwardJob;

static void rows_part(void *ctx, int part, int nparts) {
    ForwardJob *j = ctx;
    int lo, hi;
    nn_part_range(j->n, part, nparts, &lo, &hi);
    if (hi > lo)
        j->rows(j->m, j->a, j->r0 + lo, hi - lo, j->a->work + (size_t)part * j->a->work_part);
}

void model_forward(Model *m, Acts *a, int r0, int n) {
    ForwardJob j = {m, a, r0, n, forward_rows};
    nn_run_parts(parts_for(n), rows_part, &j);
}

// The encoder and the heads over all rows, the LSTM step by step in the
// pieces model_forward gives a step of B rows (the same products: on
// kernels whose results do not depend on a product's row count, bit for bit
// what T model_forward calls compute).
void model_forward_seq(Model *m, Acts *a, const float *mask, int T, int B) {
    const int H = m->H, N = T * B;
    ForwardJob all = {m, a, 0, N, encode_rows};
    nn_run_parts(parts_for(N), rows_part, &all);
    for (int t = 0; t < T; t++) {
        const size_t r0 = (size_t)t * B;
        if (t > 0)
            for (size_t r = r0; r < r0 + (size_t)B; r++) {
                const float mk = mask[r];
                for (int i = 0; i < H; i++) {
                    a->hprev[r * H + i] = mk * a->h[(r - B) * H + i];
                    a->cprev[r * H + i] = mk * a->cell[(r - B) * H + i];
                }
            }
        ForwardJob step = {m, a, (int)r0, B, lstm_rows};
        nn_run_parts(parts_for(B), rows_part, &step);
    }
    heads_rows(m, a, 0, N);
}

// ----------------------------------------------------------------------------
// Backward (truncated BPTT over the unroll, then the encoder batched over T*B)

typedef struct {
    Model *m;
    Acts *a;
    Grads *g;
    const float *mask;
    int T, B, t;
    int onehot; // every row's observation one-hot: conv1 scatters
} BackwardJob;

// Rows [b0, b1) of BPTT step t: the pointwise backward into this step's
// rows of dgates, and the state gradient carried to step t-1 (into its
// rows of dh, and dcc in place), cut where the incoming state was reset;
// at t = 0 it leaves the unroll (dhc, dcc).
static void bptt_part(void *ctx, int part, int nparts) {
    BackwardJob *j = ctx;
    Model *m = j->m;
    Acts *a = j->a;
    Grads *g = j->g;
    const int H = m->H, G = 4 * H, B = j->B, t = j->t;
    int b0, b1;
    nn_part_range(B, part, nparts, &b0, &b1);
    if (b1 <= b0) return;
    const size_t r = (size_t)t * B + b0;
    float *dh_prev = t > 0 ? g->dh + (r - B) * H : g->dhc + (size_t)b0 * H;
    float *dcc = g->dcc + (size_t)b0 * H;
    nn_lstm_backward_step(g->dgates + r * G, dh_prev, dcc, g->dh + r * H, dcc, j->mask + r,
                          a->gates + r * G, a->cell + r * H, a->cprev + r * H,
                          nn_param(&m->p, m->w_hh), g->bptt_work + nn_lstm_step_workspace(b0, H),
                          b1 - b0, H);
}

// Frames [lo, hi) of the encoder below fc: ReLU backward of da2 (in place),
// conv2 backward, ReLU backward of da1, conv1's weight gradient. Part 0
// adds into the gradient slab, the others into their own copy of the conv
// gradients (g->pgrad), summed by the caller.
static void encoder_part(void *ctx, int part, int nparts) {
    BackwardJob *j = ctx;
    Model *m = j->m;
    Acts *a = j->a;
    Grads *g = j->g;
    NNParams *p = &m->p;
    const int N = j->T * j->B, V = m->V, VV = V * V, F2 = m->c2 * VV, F1 = m->c1 * VV;
    int lo, hi;
    nn_part_range(N, part, nparts, &lo, &hi);
    if (hi <= lo) return;
    const int n = hi - lo;
    float *grads = p->grads; // conv1.w .. conv2.b lead the slab
    if (part > 0) {
        grads = g->pgrad + (size_t)(part - 1) * g->pgrad_part;
        memset(grads, 0, g->pgrad_part * sizeof(float));
    }
    float *work = a->work + (size_t)part * a->work_part;
    float *da2 = g->da2 + (size_t)lo * F2, *da1 = g->da1 + (size_t)lo * F1;
    nn_relu_backward_set(da2, da2, a->a2 + (size_t)lo * F2, (size_t)n * F2);
    memset(da1, 0, (size_t)n * F1 * sizeof(float));
    nn_conv2d_backward(da1, grads + p->t[m->conv2_w].offset, grads + p->t[m->conv2_b].offset, da2,
                       a->a1 + (size_t)lo * F1, nn_param(p, m->conv2_w), work, n, m->c1, V, V,
                       m->c2, 3, 1, 1);
    nn_relu_backward_set(da1, da1, a->a1 + (size_t)lo * F1, (size_t)n * F1);
    float *dw1 = grads + p->t[m->conv1_w].offset, *db1 = grads + p->t[m->conv1_b].offset;
    if (j->onehot)
        nn_conv2d_onehot_backward(dw1, db1, da1, a->kind + (size_t)lo * VV, work, n, m->C, V, V,
                                  m->c1, 3, 1, 1);
    else
        nn_conv2d_backward(NULL, dw1, db1, da1, a->x0 + (size_t)lo * m->C * VV,
                           nn_param(p, m->conv1_w), work, n, m->C, V, V, m->c1, 3, 1, 1);
}

// The forward in reverse: heads, LSTM (BPTT over the unroll, then its
// weights over all T*B rows), fc, convs.
void model_backward(Model *m, Acts *a, Grads *g, const float *mask, int T, int B) {
    NNParams *p = &m->p;
    const int VV = m->V * m->V, D = m->D, H = m->H, X = m->X, A = m->A, F2 = m->c2 * VV;
    const int N = T * B;
    BackwardJob j = {m, a, g, mask, T, B, 0, !memchr(a->onehot, 0, (size_t)N)};

    // heads, batched over all rows: dh += dlogits W_pi + dvalue W_v
    nn_linear_backward(g->dh, nn_grad(p, m->pi_w), nn_grad(p, m->pi_b), g->dlogits, a->h,
                       nn_param(p, m->pi_w), N, H, A);
    nn_linear_backward(g->dh, nn_grad(p, m->v_w), nn_grad(p, m->v_b), g->dvalue, a->h,
                       nn_param(p, m->v_w), N, H, 1);

    // LSTM, backwards in time: per step only the pointwise backward and the
    // carried state gradient (bptt_part), the rows split over the threads ...
    memset(g->dhc, 0, (size_t)B * H * sizeof(float));
    memset(g->dcc, 0, (size_t)B * H * sizeof(float));
    const int parts = parts_for(B);
    for (int t = T - 1; t >= 0; t--) {
        j.t = t;
        nn_run_parts(parts, bptt_part, &j);
    }
    // ... and everything else of it once over all T*B rows; dz gets the z
    // part of the input gradient (the action and reward inputs need none)
    nn_lstm_backward_weights(g->dz, nn_grad(p, m->w_ih), nn_grad(p, m->w_hh), nn_grad(p, m->b_ih),
                             nn_grad(p, m->b_hh), g->dgates, a->xin, a->hprev,
                             nn_param(p, m->w_ih), N, X, H, D);

    // fc and its ReLU, batched over all T*B frames
    nn_relu_backward_set(g->dpre, g->dz, a->z, (size_t)N * D);
    nn_linear_backward_set(g->da2, nn_grad(p, m->fc_w), nn_grad(p, m->fc_b), g->dpre, a->a2,
                           nn_param(p, m->fc_w), N, F2, D);

    // the convs and their ReLUs, frame by frame, the frames split over the threads
    const int eparts = parts_for(N);
    nn_run_parts(eparts, encoder_part, &j);
    for (int i = 1; i < eparts; i++)
        nn_add(p->grads, g->pgrad + (size_t)(i - 1) * g->pgrad_part, g->pgrad_part);
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

// ----------------------------------------------------------------------------
// Init options

void model_add_forget_bias(Model *m, float bias) {
    const int H = m->H;
    float *b = nn_param(&m->p, m->b_ih) + H; // gates i, f, g, o: f is rows [H, 2H)
    for (int i = 0; i < H; i++) b[i] += bias;
}
