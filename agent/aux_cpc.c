// aux_cpc.c — the CPC heads behind the auxiliary-head interface (agent/aux.h):
// linear maps W_k (cpc/cpc.h) and CPC|A's GRU over the actions (cpc/cpca.h).
#include <stdlib.h>
#include <string.h>

#include "agent/aux.h"
#include "base/errs.h"
#include "cpc/cpc.h"
#include "cpc/cpca.h"

_Static_assert(AUX_MAX_K == CPC_MAX_K, "a CPC head reports CPC_MAX_K horizons");

static float cpc_weight_linear(const Config *c) {
    return c->cpc_mode == CPC_MODE_LINEAR ? c->cpc_weight : 0.0f;
}
static float cpc_weight_action(const Config *c) {
    return c->cpc_mode == CPC_MODE_ACTION ? c->cpc_weight : 0.0f;
}

static int cpc_check(const Config *c, char *err, size_t errlen) {
    if (c->cpc_k > CPC_MAX_K) return err_fail(err, errlen, "--cpc-k %d: at most %d", c->cpc_k, CPC_MAX_K);
    return 0;
}

static int cpc_min_envs(const Config *c, const char **why) {
    *why = "CPC with batch negatives";
    return c->cpc_negatives == CPC_NEG_BATCH ? 2 : 1;
}

static void copy_stats(AuxStats *st, const CPCStats *cs, int K) {
    st->count = cs->count;
    st->nk = K < AUX_MAX_K ? K : AUX_MAX_K;
    for (int k = 0; k < st->nk; k++) {
        st->acc_k[k] = cs->acc[k];
        st->loss_k[k] = cs->loss_k[k];
        st->n_k[k] = (float)cs->count_k[k];
    }
}

// ----------------------------------------------------------------------------
// linear maps: cpc.w (K*D, H)

static int cpc_tensors(const Config *c, const Model *m, ModelTensor *out) {
    out[0] = (ModelTensor){"cpc.w", 2, {c->cpc_k * m->D, m->H}, (float)m->H};
    return 1;
}

static void *cpc_create(const Config *c, const Model *m, int T, int B) {
    CPC *p = calloc(1, sizeof *p);
    if (!p || cpc_init(p, T, B, m->D, m->H, c->cpc_k, c->cpc_negatives, c->cpc_stop_target) < 0) {
        free(p);
        return NULL;
    }
    p->k_weighting = c->cpc_k_weighting;
    return p;
}

static void cpc_destroy(void *s) {
    cpc_free(s);
    free(s);
}

static float cpc_loss(void *s, Model *m, int first, const AuxInput *in, float weight, float *dh,
                      float *dz, AuxStats *st) {
    CPC *p = s;
    CPCStats cs;
    float l = cpc_forward_backward(p, dh, dz, nn_grad(&m->p, first), in->h, in->z,
                                   nn_param(&m->p, first), in->starts, weight, &cs);
    copy_stats(st, &cs, p->K);
    return l;
}

const AuxKind AUX_CPC = {
    .name = "cpc", .horizons = 1, .ncols = 0,
    .weight = cpc_weight_linear, .check = cpc_check, .tensors = cpc_tensors,
    .create = cpc_create, .destroy = cpc_destroy, .min_envs = cpc_min_envs, .loss = cpc_loss,
};

// ----------------------------------------------------------------------------
// CPC|A: cpca.w_in (G,H), cpca.b_in (G), cpca.w_ih (3G,A), cpca.w_hh (3G,G),
// cpca.b_ih, cpca.b_hh (3G), cpca.w_out (D,G); the GRU's tensors take
// PyTorch's GRU init U(+-1/sqrt(G))

static int cpca_tensors(const Config *c, const Model *m, ModelTensor *out) {
    const int G = c->cpc_action_hidden, H = m->H, A = m->A, D = m->D;
    out[0] = (ModelTensor){"cpca.w_in", 2, {G, H}, 0};
    out[1] = (ModelTensor){"cpca.b_in", 1, {G}, 0};
    out[2] = (ModelTensor){"cpca.w_ih", 2, {3 * G, A}, (float)G};
    out[3] = (ModelTensor){"cpca.w_hh", 2, {3 * G, G}, (float)G};
    out[4] = (ModelTensor){"cpca.b_ih", 1, {3 * G}, (float)G};
    out[5] = (ModelTensor){"cpca.b_hh", 1, {3 * G}, (float)G};
    out[6] = (ModelTensor){"cpca.w_out", 2, {D, G}, 0};
    return 7;
}

static void *cpca_create(const Config *c, const Model *m, int T, int B) {
    CPCA *p = calloc(1, sizeof *p);
    if (!p || cpca_init(p, T, B, m->D, m->H, c->cpc_k, c->cpc_action_hidden, m->A,
                        c->cpc_negatives, c->cpc_stop_target) < 0) {
        free(p);
        return NULL;
    }
    p->nce.k_weighting = c->cpc_k_weighting;
    return p;
}

static void cpca_destroy(void *s) {
    cpca_free(s);
    free(s);
}

static float cpca_loss(void *s, Model *m, int first, const AuxInput *in, float weight, float *dh,
                       float *dz, AuxStats *st) {
    CPCA *p = s;
    NNParams *q = &m->p;
    const CPCAParams w = {nn_param(q, first), nn_param(q, first + 1), nn_param(q, first + 2),
                          nn_param(q, first + 3), nn_param(q, first + 4), nn_param(q, first + 5),
                          nn_param(q, first + 6)};
    const CPCAGrads dw = {nn_grad(q, first), nn_grad(q, first + 1), nn_grad(q, first + 2),
                          nn_grad(q, first + 3), nn_grad(q, first + 4), nn_grad(q, first + 5),
                          nn_grad(q, first + 6)};
    CPCStats cs;
    float l = cpca_forward_backward(p, dh, dz, &dw, in->h, in->z, in->actions, &w, in->starts,
                                    weight, &cs);
    copy_stats(st, &cs, p->K);
    return l;
}

const AuxKind AUX_CPCA = {
    .name = "cpca", .horizons = 1, .ncols = 0,
    .weight = cpc_weight_action, .check = cpc_check, .tensors = cpca_tensors,
    .create = cpca_create, .destroy = cpca_destroy, .min_envs = cpc_min_envs, .loss = cpca_loss,
};

// ----------------------------------------------------------------------------

int model_init_cpc(Model *m, int C, int V, int A, int c1, int c2, int D, int H, int K, int G,
                   int orthogonal, uint64_t seed) {
    Config c;
    memset(&c, 0, sizeof c);
    c.cpc_k = K, c.cpc_action_hidden = G, c.cpc_mode = G > 0 ? CPC_MODE_ACTION : CPC_MODE_LINEAR;
    Model dims;
    memset(&dims, 0, sizeof dims);
    dims.A = A, dims.D = D, dims.H = H;
    ModelTensor t[AUX_MAX_TENSORS];
    memset(t, 0, sizeof t);
    int n = K <= 0 ? 0 : G > 0 ? cpca_tensors(&c, &dims, t) : cpc_tensors(&c, &dims, t);
    if (model_init_ext(m, C, V, A, c1, c2, D, H, t, n, orthogonal, seed) < 0) return -1;
    if (K > 0) m->K = K, m->G = G;
    return 0;
}
