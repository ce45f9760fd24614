// test_lstm.c — tests of the LSTM kernels of nn/nn.[ch]: the cell, its
// pointwise backward, the batched step, BPTT with episode starts, vs the naive
// loops, finite differences and PyTorch fixtures
// (shared helpers and the three kinds of check: tests/nn_check.h).
#include "tests/nn_check.h"

// ============================================================================
// LSTM

static void test_lstm_vs_ref(void **state) {
    uint64_t rng = 41;
    for (int r = 0; r < 12; r++) {
        int N = 1 + rng_int(&rng, 9), I = 1 + rng_int(&rng, 20), H = 1 + rng_int(&rng, 20);
        size_t nx = (size_t)N * I, nh = (size_t)N * H, G = 4 * (size_t)H;
        float *x = frand(nx, 1, &rng), *hp = frand(nh, 1, &rng), *cp = frand(nh, 1, &rng);
        float *wih = frand(G * I, 0.5f, &rng), *whh = frand(G * H, 0.5f, &rng);
        float *bih = frand(G, 0.5f, &rng), *bhh = frand(G, 0.5f, &rng);
        float *h = fa(nh), *c = fa(nh), *gates = fa(N * G);
        float *rh = fa(nh), *rc = fa(nh), *rgates = fa(N * G);
        nn_lstm_forward(h, c, gates, x, hp, cp, wih, whh, bih, bhh, N, I, H);
        nn_ref_lstm_forward(rh, rc, rgates, x, hp, cp, wih, whh, bih, bhh, N, I, H);
        EXPECT_CLOSE("lstm h", h, rh, nh, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm c", c, rc, nh, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm gates", gates, rgates, N * G, REF_ATOL, REF_RTOL);
        float *dh = frand(nh, 1, &rng), *dc = r % 2 ? frand(nh, 1, &rng) : NULL;
        float *dx = frand(nx, 1, &rng), *dhp = frand(nh, 1, &rng), *dcp = frand(nh, 1, &rng);
        float *dwih = frand(G * I, 1, &rng), *dwhh = frand(G * H, 1, &rng);
        float *dbih = frand(G, 1, &rng), *dbhh = frand(G, 1, &rng);
        float *rdx = fcopy(dx, nx), *rdhp = fcopy(dhp, nh), *rdcp = fcopy(dcp, nh);
        float *rdwih = fcopy(dwih, G * I), *rdwhh = fcopy(dwhh, G * H);
        float *rdbih = fcopy(dbih, G), *rdbhh = fcopy(dbhh, G);
        float *dgates = fa(N * G), *rdgates = fa(N * G);
        nn_lstm_backward(dx, dhp, dcp, dwih, dwhh, dbih, dbhh, dh, dc, gates, c, cp, x, hp, wih,
                         whh, dgates, N, I, H);
        nn_ref_lstm_backward(rdx, rdhp, rdcp, rdwih, rdwhh, rdbih, rdbhh, dh, dc, rgates, rc, cp,
                             x, hp, wih, whh, rdgates, N, I, H);
        EXPECT_CLOSE("lstm dx", dx, rdx, nx, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm dh_prev", dhp, rdhp, nh, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm dc_prev", dcp, rdcp, nh, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm dw_ih", dwih, rdwih, G * I, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm dw_hh", dwhh, rdwhh, G * H, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm db_ih", dbih, rdbih, G, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm db_hh", dbhh, rdbhh, G, REF_ATOL, REF_RTOL);
    }
}

// The pointwise backward alone, completed with the GEMMs nn_lstm_backward
// does, equals the naive backward; over widths with and without a partial
// vector block, saturated gates (pre-activations up to +-40), and every
// combination of absent dh / dc / dc_prev. The forward's fast exp/tanh
// against the naive libm one at the same widths.
static void test_lstm_gates_vs_ref(void **state) {
    uint64_t rng = 46;
    static const int Hs[] = {1, 5, 16, 37, 64};
    for (int r = 0; r < 20; r++) {
        int N = 1 + rng_int(&rng, 5), I = 1 + rng_int(&rng, 12), H = Hs[r % 5], G = 4 * H;
        float scale = r % 3 == 0 ? 20.0f : 1.0f; // saturation
        size_t nx = (size_t)N * I, nh = (size_t)N * H;
        float *x = frand(nx, scale, &rng), *hp = frand(nh, 1, &rng), *cp = frand(nh, 2, &rng);
        float *wih = frand((size_t)G * I, 0.5f, &rng), *whh = frand((size_t)G * H, 0.5f, &rng);
        float *bih = frand(G, 0.5f, &rng), *bhh = frand(G, 0.5f, &rng);
        float *h = fa(nh), *c = fa(nh), *gates = fa((size_t)N * G);
        float *rh = fa(nh), *rc = fa(nh), *rgates = fa((size_t)N * G);
        nn_lstm_forward(h, c, gates, x, hp, cp, wih, whh, bih, bhh, N, I, H);
        nn_ref_lstm_forward(rh, rc, rgates, x, hp, cp, wih, whh, bih, bhh, N, I, H);
        EXPECT_CLOSE("lstm h (fast exp)", h, rh, nh, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm c (fast exp)", c, rc, nh, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm gates (fast exp)", gates, rgates, (size_t)N * G, REF_ATOL, REF_RTOL);
        int has_dh = (r & 3) != 1, has_dc = (r & 3) != 2, has_dcp = (r & 3) != 3;
        float *dh = has_dh ? frand(nh, 1, &rng) : NULL, *dc = has_dc ? frand(nh, 1, &rng) : NULL;
        float *dcp = has_dcp ? frand(nh, 1, &rng) : NULL, *rdcp = has_dcp ? fcopy(dcp, nh) : NULL;
        float *dgates = frand((size_t)N * G, 1, &rng), *rdgates = fa((size_t)N * G);
        nn_lstm_backward_gates(dgates, dcp, dh, dc, gates, c, cp, N, H);
        // the rest of the reference's outputs, from the same dgates
        float *dx = fa(nx), *dhp = fa(nh), *dwih = fa((size_t)G * I), *dwhh = fa((size_t)G * H);
        float *dbih = fa(G), *dbhh = fa(G);
        float *rdx = fa(nx), *rdhp = fa(nh), *rdwih = fa((size_t)G * I), *rdwhh = fa((size_t)G * H);
        float *rdbih = fa(G), *rdbhh = fa(G);
        nn_ref_lstm_backward(rdx, rdhp, rdcp, rdwih, rdwhh, rdbih, rdbhh, dh, dc, rgates, rc, cp, x,
                             hp, wih, whh, rdgates, N, I, H);
        EXPECT_CLOSE("lstm dgates", dgates, rdgates, (size_t)N * G, REF_ATOL, REF_RTOL);
        if (has_dcp) EXPECT_CLOSE("lstm dc_prev (gates)", dcp, rdcp, nh, REF_ATOL, REF_RTOL);
        nn_ref_sgemm(0, 0, N, I, G, 1.0f, dgates, G, wih, I, 0.0f, dx, I);
        nn_ref_sgemm(0, 0, N, H, G, 1.0f, dgates, G, whh, H, 0.0f, dhp, H);
        nn_ref_sgemm(1, 0, G, I, N, 1.0f, dgates, G, x, I, 0.0f, dwih, I);
        nn_ref_sgemm(1, 0, G, H, N, 1.0f, dgates, G, hp, H, 0.0f, dwhh, H);
        for (int n = 0; n < N; n++)
            for (int k = 0; k < G; k++) dbih[k] += dgates[(size_t)n * G + k];
        memcpy(dbhh, dbih, (size_t)G * sizeof(float));
        EXPECT_CLOSE("lstm dx (gates + GEMM)", dx, rdx, nx, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm dh_prev (gates + GEMM)", dhp, rdhp, nh, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm dw_ih (gates + GEMM)", dwih, rdwih, (size_t)G * I, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm dw_hh (gates + GEMM)", dwhh, rdwhh, (size_t)G * H, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm db_ih (gates)", dbih, rdbih, G, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm db_hh (gates)", dbhh, rdbhh, G, REF_ATOL, REF_RTOL);
        teardown(NULL); // this round's buffers
    }
}

// The batched BPTT pair against its references: the step over widths with
// and without a partial vector block, with a mask that cuts some rows,
// dc_prev in place over dc or in a buffer of its own, dh_prev added into;
// the weights with Ix < I and with NULL outputs.
static void test_lstm_step_vs_ref(void **state) {
    uint64_t rng = 48;
    static const int Hs[] = {1, 5, 16, 37, 64};
    for (int r = 0; r < 20; r++) {
        int N = 1 + rng_int(&rng, 9), I = 1 + rng_int(&rng, 12), H = Hs[r % 5], G = 4 * H;
        size_t nx = (size_t)N * I, nh = (size_t)N * H, ng = (size_t)N * G;
        float *x = frand(nx, 1, &rng), *hp = frand(nh, 1, &rng), *cp = frand(nh, 2, &rng);
        float *wih = frand((size_t)G * I, 0.5f, &rng), *whh = frand((size_t)G * H, 0.5f, &rng);
        float *bih = frand(G, 0.5f, &rng), *bhh = frand(G, 0.5f, &rng);
        float *h = fa(nh), *c = fa(nh), *gates = fa(ng);
        nn_lstm_forward(h, c, gates, x, hp, cp, wih, whh, bih, bhh, N, I, H);
        float *mask = fa(N);
        for (int n = 0; n < N; n++) mask[n] = rng_int(&rng, 3) ? 1.0f : 0.0f;
        const int in_place = r % 2, no_mask = r % 7 == 3;
        float *dh = frand(nh, 1, &rng), *dc = frand(nh, 1, &rng), *rdc = fcopy(dc, nh);
        float *dhp = frand(nh, 1, &rng), *rdhp = fcopy(dhp, nh);
        float *dcp = in_place ? dc : frand(nh, 1, &rng), *rdcp = in_place ? rdc : fa(nh);
        float *dgates = frand(ng, 1, &rng), *rdgates = fa(ng);
        float *work = frand(nn_lstm_step_workspace(N, H), 1, &rng);
        nn_lstm_backward_step(dgates, dhp, dcp, dh, dc, no_mask ? NULL : mask, gates, c, cp, whh,
                              work, N, H);
        nn_ref_lstm_backward_step(rdgates, rdhp, rdcp, dh, rdc, no_mask ? NULL : mask, gates, c,
                                  cp, whh, N, H);
        EXPECT_CLOSE("lstm step dgates", dgates, rdgates, ng, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm step dh_prev", dhp, rdhp, nh, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm step dc_prev", dcp, rdcp, nh, REF_ATOL, REF_RTOL);
        for (int n = 0; n < N && !no_mask; n++)
            for (int j = 0; j < H; j++)
                if (mask[n] == 0.0f) assert_true(dcp[(size_t)n * H + j] == 0.0f);

        int Ix = r % 3 ? I : 1 + rng_int(&rng, I);
        float *dx = frand((size_t)N * Ix, 1, &rng), *rdx = fcopy(dx, (size_t)N * Ix);
        float *dwih = frand((size_t)G * I, 1, &rng), *rdwih = fcopy(dwih, (size_t)G * I);
        float *dwhh = frand((size_t)G * H, 1, &rng), *rdwhh = fcopy(dwhh, (size_t)G * H);
        float *dbih = frand(G, 1, &rng), *rdbih = fcopy(dbih, G);
        float *dbhh = frand(G, 1, &rng), *rdbhh = fcopy(dbhh, G);
        nn_lstm_backward_weights(dx, dwih, dwhh, dbih, dbhh, dgates, x, hp, wih, N, I, H, Ix);
        nn_ref_lstm_backward_weights(rdx, rdwih, rdwhh, rdbih, rdbhh, dgates, x, hp, wih, N, I, H,
                                     Ix);
        EXPECT_CLOSE("lstm weights dx", dx, rdx, (size_t)N * Ix, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm weights dw_ih", dwih, rdwih, (size_t)G * I, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm weights dw_hh", dwhh, rdwhh, (size_t)G * H, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm weights db_ih", dbih, rdbih, G, REF_ATOL, REF_RTOL);
        EXPECT_CLOSE("lstm weights db_hh", dbhh, rdbhh, G, REF_ATOL, REF_RTOL);
        // NULL outputs skipped, the others the same
        float *dwhh2 = fa((size_t)G * H), *rdwhh2 = fa((size_t)G * H);
        nn_lstm_backward_weights(NULL, NULL, dwhh2, NULL, NULL, dgates, x, hp, wih, N, I, H, Ix);
        nn_ref_lstm_backward_weights(NULL, NULL, rdwhh2, NULL, NULL, dgates, x, hp, wih, N, I, H,
                                     Ix);
        EXPECT_CLOSE("lstm weights dw_hh alone", dwhh2, rdwhh2, (size_t)G * H, REF_ATOL, REF_RTOL);
        teardown(NULL); // this round's buffers
    }
}

typedef struct {
    int T, N, I, H;
    double *xs, *h0, *c0, *wih, *whh, *bih, *bhh, *proj, *proj_c; // proj_c may be NULL
    double *h, *c, *hn, *cn;
    const double *mask; // (T,N): the state entering step t is scaled by mask[t]; NULL = 1
} LstmCtx;

// loss = sum_t sum(h_t * proj_t) + sum(c_T * proj_c)
static double lstm_loss(void *p) {
    LstmCtx *k = p;
    size_t nh = (size_t)k->N * k->H;
    memcpy(k->h, k->h0, nh * sizeof(double));
    memcpy(k->c, k->c0, nh * sizeof(double));
    double loss = 0.0;
    for (int t = 0; t < k->T; t++) {
        for (size_t i = 0; i < nh && k->mask; i++) {
            k->h[i] *= k->mask[(size_t)t * k->N + i / k->H];
            k->c[i] *= k->mask[(size_t)t * k->N + i / k->H];
        }
        lstm_d(k->hn, k->cn, k->xs + (size_t)t * k->N * k->I, k->h, k->c, k->wih, k->whh,
               k->bih, k->bhh, k->N, k->I, k->H);
        memcpy(k->h, k->hn, nh * sizeof(double));
        memcpy(k->c, k->cn, nh * sizeof(double));
        loss += dot_d(k->h, k->proj + t * nh, nh);
    }
    if (k->proj_c) loss += dot_d(k->c, k->proj_c, nh);
    return loss;
}

// The float BPTT the model will do, with nn_lstm_forward/backward: T steps
// forward keeping every cache, then backward from t = T-1 to 0 carrying dh and
// dc into the previous step. hs (T,N,H) gets h_1..h_T, c_last c_T; gradients
// are added into the d* arrays (dh0, dc0 included).
typedef struct {
    int T, N, I, H;
    const float *xs, *h0, *c0, *wih, *whh, *bih, *bhh, *proj, *proj_c;
    float *hs, *cs, *gates, *dgates, *dh, *dc, *dh_next, *dc_next;
    float *dxs, *dh0, *dc0, *dwih, *dwhh, *dbih, *dbhh;
} Bptt;

static void bptt_alloc(Bptt *b, int T, int N, int I, int H) {
    size_t nh = (size_t)N * H, G = 4 * (size_t)H;
    b->T = T; b->N = N; b->I = I; b->H = H;
    b->hs = fa(T * nh); b->cs = fa(T * nh); b->gates = fa(T * N * G); b->dgates = fa(N * G);
    b->dh = fa(nh); b->dc = fa(nh); b->dh_next = fa(nh); b->dc_next = fa(nh);
    b->dxs = fa((size_t)T * N * I); b->dh0 = fa(nh); b->dc0 = fa(nh);
    b->dwih = fa(G * I); b->dwhh = fa(G * H); b->dbih = fa(G); b->dbhh = fa(G);
}

static void bptt_run(Bptt *b) {
    int T = b->T, N = b->N, I = b->I, H = b->H;
    size_t nh = (size_t)N * H, G = 4 * (size_t)H;
    for (int t = 0; t < T; t++) {
        const float *hp = t ? b->hs + (t - 1) * nh : b->h0, *cp = t ? b->cs + (t - 1) * nh : b->c0;
        nn_lstm_forward(b->hs + t * nh, b->cs + t * nh, b->gates + t * N * G,
                        b->xs + (size_t)t * N * I, hp, cp, b->wih, b->whh, b->bih, b->bhh, N, I, H);
    }
    memset(b->dh_next, 0, nh * sizeof(float));
    if (b->proj_c) memcpy(b->dc_next, b->proj_c, nh * sizeof(float));
    for (int t = T - 1; t >= 0; t--) {
        const float *hp = t ? b->hs + (t - 1) * nh : b->h0, *cp = t ? b->cs + (t - 1) * nh : b->c0;
        for (size_t i = 0; i < nh; i++) b->dh[i] = b->proj[t * nh + i] + b->dh_next[i];
        memcpy(b->dc, b->dc_next, nh * sizeof(float));
        float *dhp = t ? b->dh_next : b->dh0, *dcp = t ? b->dc_next : b->dc0;
        if (t) {
            memset(b->dh_next, 0, nh * sizeof(float));
            memset(b->dc_next, 0, nh * sizeof(float));
        }
        // the last step has no gradient arriving into c unless proj_c is set
        const float *dc = (t == T - 1 && !b->proj_c) ? NULL : b->dc;
        nn_lstm_backward(b->dxs + (size_t)t * N * I, dhp, dcp, b->dwih, b->dwhh, b->dbih, b->dbhh,
                         b->dh, dc, b->gates + t * N * G, b->cs + t * nh, cp,
                         b->xs + (size_t)t * N * I, hp, b->wih, b->whh, b->dgates, N, I, H);
    }
}

static void lstm_fd(int T, int N, int I, int H, int with_pc, uint64_t seed) {
    uint64_t rng = seed;
    size_t nh = (size_t)N * H, G = 4 * (size_t)H, nx = (size_t)T * N * I;
    Bptt b;
    bptt_alloc(&b, T, N, I, H);
    b.xs = frand(nx, 1, &rng); b.h0 = frand(nh, 1, &rng); b.c0 = frand(nh, 1, &rng);
    b.wih = frand(G * I, 0.5f, &rng); b.whh = frand(G * H, 0.5f, &rng);
    b.bih = frand(G, 0.5f, &rng); b.bhh = frand(G, 0.5f, &rng);
    b.proj = frand(T * nh, 1, &rng); b.proj_c = with_pc ? frand(nh, 1, &rng) : NULL;
    bptt_run(&b);
    LstmCtx k = {T, N, I, H, dcopy(b.xs, nx), dcopy(b.h0, nh), dcopy(b.c0, nh),
                 dcopy(b.wih, G * I), dcopy(b.whh, G * H), dcopy(b.bih, G), dcopy(b.bhh, G),
                 dcopy(b.proj, T * nh), with_pc ? dcopy(b.proj_c, nh) : NULL,
                 dalloc(nh), dalloc(nh), dalloc(nh), dalloc(nh), NULL};
    lstm_loss(&k);
    EXPECT_CLOSE("lstm h_T vs double", b.hs + (T - 1) * nh, f_from_d(k.h, nh), nh, 1e-5, 1e-5);
    EXPECT_CLOSE("lstm c_T vs double", b.cs + (T - 1) * nh, f_from_d(k.c, nh), nh, 1e-5, 1e-5);
    fd_check("x", k.xs, nx, b.dxs, lstm_loss, &k);
    fd_check("h0", k.h0, nh, b.dh0, lstm_loss, &k);
    fd_check("c0", k.c0, nh, b.dc0, lstm_loss, &k);
    fd_check("w_ih", k.wih, G * I, b.dwih, lstm_loss, &k);
    fd_check("w_hh", k.whh, G * H, b.dwhh, lstm_loss, &k);
    fd_check("b_ih", k.bih, G, b.dbih, lstm_loss, &k);
    fd_check("b_hh", k.bhh, G, b.dbhh, lstm_loss, &k);
}

static void test_lstm_cell_fd(void **state) {
    lstm_fd(1, 3, 4, 5, 1, 42); // one cell, gradient into both h and c
    lstm_fd(1, 2, 6, 3, 0, 43); // dc = NULL
}

static void test_lstm_bptt_fd(void **state) {
    lstm_fd(5, 3, 4, 5, 1, 44);
    lstm_fd(4, 2, 3, 6, 0, 45);
}

// Truncated BPTT the way the model batches it, with episode starts: the
// state entering step t is h_{t-1} * mask_t (h0, c0 before step 0); per
// step nn_lstm_backward_step carries dh, dc back (cut where mask = 0), then
// nn_lstm_backward_weights once over all T*N rows. Held to finite
// differences of the double forward with the same masks.
static void lstm_masked_fd(int T, int N, int I, int H, uint64_t seed) {
    uint64_t rng = seed;
    size_t nh = (size_t)N * H, G = 4 * (size_t)H, nx = (size_t)T * N * I, TN = (size_t)T * N;
    float *xs = frand(nx, 1, &rng), *h0 = frand(nh, 1, &rng), *c0 = frand(nh, 1, &rng);
    float *wih = frand(G * I, 0.5f, &rng), *whh = frand(G * H, 0.5f, &rng);
    float *bih = frand(G, 0.5f, &rng), *bhh = frand(G, 0.5f, &rng);
    float *proj = frand(T * nh, 1, &rng), *mask = fa(TN);
    for (size_t i = 0; i < TN; i++) mask[i] = rng_int(&rng, 3) ? 1.0f : 0.0f;
    mask[0] = 1.0f, mask[N] = 0.0f; // some gradient reaches h0; some is cut
    float *hps = fa(T * nh), *cps = fa(T * nh), *hs = fa(T * nh), *cs = fa(T * nh);
    float *gates = fa(TN * G), *dgates = fa(TN * G), *work = fa(nn_lstm_step_workspace(N, H));
    for (int t = 0; t < T; t++) {
        const float *h = t ? hs + (t - 1) * nh : h0, *c = t ? cs + (t - 1) * nh : c0;
        for (size_t i = 0; i < nh; i++) {
            hps[t * nh + i] = mask[(size_t)t * N + i / H] * h[i];
            cps[t * nh + i] = mask[(size_t)t * N + i / H] * c[i];
        }
        nn_lstm_forward(hs + t * nh, cs + t * nh, gates + t * N * G, xs + (size_t)t * N * I,
                        hps + t * nh, cps + t * nh, wih, whh, bih, bhh, N, I, H);
    }
    float *dh = fcopy(proj, T * nh), *dh0 = fa(nh), *dc = fa(nh);
    for (int t = T - 1; t >= 0; t--)
        nn_lstm_backward_step(dgates + t * N * G, t ? dh + (t - 1) * nh : dh0, dc, dh + t * nh,
                              dc, mask + (size_t)t * N, gates + t * N * G, cs + t * nh,
                              cps + t * nh, whh, work, N, H);
    float *dxs = fa(nx), *dwih = fa(G * I), *dwhh = fa(G * H), *dbih = fa(G), *dbhh = fa(G);
    nn_lstm_backward_weights(dxs, dwih, dwhh, dbih, dbhh, dgates, xs, hps, wih, (int)TN, I, H, I);
    double *dmask = dcopy(mask, TN);
    LstmCtx k = {T, N, I, H, dcopy(xs, nx), dcopy(h0, nh), dcopy(c0, nh),
                 dcopy(wih, G * I), dcopy(whh, G * H), dcopy(bih, G), dcopy(bhh, G),
                 dcopy(proj, T * nh), NULL, dalloc(nh), dalloc(nh), dalloc(nh), dalloc(nh), dmask};
    lstm_loss(&k);
    EXPECT_CLOSE("masked lstm h_T vs double", hs + (T - 1) * nh, f_from_d(k.h, nh), nh, 1e-5,
                 1e-5);
    fd_check("x (masked)", k.xs, nx, dxs, lstm_loss, &k);
    fd_check("h0 (masked)", k.h0, nh, dh0, lstm_loss, &k);
    fd_check("c0 (masked)", k.c0, nh, dc, lstm_loss, &k);
    fd_check("w_ih (masked)", k.wih, G * I, dwih, lstm_loss, &k);
    fd_check("w_hh (masked)", k.whh, G * H, dwhh, lstm_loss, &k);
    fd_check("b_ih (masked)", k.bih, G, dbih, lstm_loss, &k);
    fd_check("b_hh (masked)", k.bhh, G, dbhh, lstm_loss, &k);
}

static void test_lstm_masked_bptt_fd(void **state) {
    lstm_masked_fd(5, 3, 4, 5, 49);
    lstm_masked_fd(4, 4, 3, 17, 50); // a full vector block of units and a partial one
}

static void test_lstm_cell_fixture(void **state) {
    Fixture *f = fix_open("lstm_cell.bin");
    const FixTensor *tx = need_t(f, "x", 2), *th = need_t(f, "h_prev", 2);
    int N = tx->dims[0], I = tx->dims[1], H = th->dims[1];
    size_t nh = (size_t)N * H, G = 4 * (size_t)H;
    const float *x = tx->data, *hp = th->data, *cp = need(f, "c_prev", nh);
    const float *wih = need(f, "w_ih", G * I), *whh = need(f, "w_hh", G * H);
    const float *bih = need(f, "b_ih", G), *bhh = need(f, "b_hh", G);
    float *h = fa(nh), *c = fa(nh), *gates = fa(N * G), *dgates = fa(N * G);
    nn_lstm_forward(h, c, gates, x, hp, cp, wih, whh, bih, bhh, N, I, H);
    EXPECT_CLOSE("lstm h", h, need(f, "h", nh), nh, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("lstm c", c, need(f, "c", nh), nh, FIX_ATOL, FIX_RTOL);
    float *dx = fa(N * I), *dhp = fa(nh), *dcp = fa(nh), *dwih = fa(G * I), *dwhh = fa(G * H);
    float *dbih = fa(G), *dbhh = fa(G);
    nn_lstm_backward(dx, dhp, dcp, dwih, dwhh, dbih, dbhh, need(f, "dh", nh), need(f, "dc", nh),
                     gates, c, cp, x, hp, wih, whh, dgates, N, I, H);
    EXPECT_CLOSE("lstm dx", dx, need(f, "dx", N * I), N * I, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("lstm dh_prev", dhp, need(f, "dh_prev", nh), nh, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("lstm dc_prev", dcp, need(f, "dc_prev", nh), nh, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("lstm dw_ih", dwih, need(f, "dw_ih", G * I), G * I, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("lstm dw_hh", dwhh, need(f, "dw_hh", G * H), G * H, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("lstm db_ih", dbih, need(f, "db_ih", G), G, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("lstm db_hh", dbhh, need(f, "db_hh", G), G, FIX_ATOL, FIX_RTOL);
}

// 5 steps of BPTT against torch.nn.LSTMCell unrolled with autograd.
static void test_lstm_bptt_fixture(void **state) {
    Fixture *f = fix_open("lstm_bptt.bin");
    const FixTensor *tx = need_t(f, "xs", 3), *th = need_t(f, "h0", 2);
    int T = tx->dims[0], N = tx->dims[1], I = tx->dims[2], H = th->dims[1];
    size_t nh = (size_t)N * H, G = 4 * (size_t)H, nx = tx->size;
    Bptt b;
    bptt_alloc(&b, T, N, I, H);
    b.xs = tx->data; b.h0 = th->data; b.c0 = need(f, "c0", nh);
    b.wih = need(f, "w_ih", G * I); b.whh = need(f, "w_hh", G * H);
    b.bih = need(f, "b_ih", G); b.bhh = need(f, "b_hh", G);
    b.proj = need(f, "proj", T * nh); b.proj_c = need(f, "proj_c", nh);
    bptt_run(&b);
    EXPECT_CLOSE("bptt hs", b.hs, need(f, "hs", T * nh), T * nh, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("bptt c_T", b.cs + (T - 1) * nh, need(f, "c_last", nh), nh, FIX_ATOL, FIX_RTOL);
    double loss = 0.0;
    for (size_t i = 0; i < T * nh; i++) loss += (double)b.hs[i] * b.proj[i];
    for (size_t i = 0; i < nh; i++) loss += (double)b.cs[(T - 1) * nh + i] * b.proj_c[i];
    float lossf = (float)loss;
    EXPECT_CLOSE("bptt loss", &lossf, need(f, "loss", 1), 1, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("bptt dxs", b.dxs, need(f, "dxs", nx), nx, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("bptt dh0", b.dh0, need(f, "dh0", nh), nh, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("bptt dc0", b.dc0, need(f, "dc0", nh), nh, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("bptt dw_ih", b.dwih, need(f, "dw_ih", G * I), G * I, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("bptt dw_hh", b.dwhh, need(f, "dw_hh", G * H), G * H, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("bptt db_ih", b.dbih, need(f, "db_ih", G), G, FIX_ATOL, FIX_RTOL);
    EXPECT_CLOSE("bptt db_hh", b.dbhh, need(f, "db_hh", G), G, FIX_ATOL, FIX_RTOL);
}


// ============================================================================

int main(int argc, char **argv) {
    blas_select_kernel(argc, argv, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_lstm_vs_ref, teardown),
        cmocka_unit_test_teardown(test_lstm_gates_vs_ref, teardown),
        cmocka_unit_test_teardown(test_lstm_step_vs_ref, teardown),
        cmocka_unit_test_teardown(test_lstm_cell_fd, teardown),
        cmocka_unit_test_teardown(test_lstm_bptt_fd, teardown),
        cmocka_unit_test_teardown(test_lstm_masked_bptt_fd, teardown),
        cmocka_unit_test_teardown(test_lstm_cell_fixture, teardown),
        cmocka_unit_test_teardown(test_lstm_bptt_fixture, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
