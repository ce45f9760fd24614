// aux_rp.c — reward prediction, an auxiliary head (see aux_rp.h).
#include "agent/aux_rp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent/aux.h"

// a row (t, b) counts: t >= 2 and no episode start at t-1 or t
static int rp_row_ok(const uint8_t *starts, int t, int b, int B) {
    return t >= RP_FRAMES - 1 && !starts[(size_t)(t - 1) * B + b] && !starts[(size_t)t * B + b];
}

float rp_forward_backward(const float *z, const float *rewards, const uint8_t *starts,
                          const float *W, const float *b, int T, int B, int D, float weight,
                          float *dW, float *db, float *dz, int *count, float *acc) {
    const int X = RP_FRAMES * D;
    int n_c[RP_CLASSES] = {0}, ok_c[RP_CLASSES] = {0}, n = 0;
    for (int t = 0; t < T; t++)
        for (int bb = 0; bb < B; bb++)
            if (rp_row_ok(starts, t, bb, B)) n_c[rp_class(rewards[(size_t)t * B + bb])]++, n++;
    int present = 0;
    for (int c = 0; c < RP_CLASSES; c++) present += n_c[c] > 0;
    *count = n;
    *acc = 0;
    if (n == 0) return 0.0f;
    double loss = 0;
    for (int t = 0; t < T; t++)
        for (int bb = 0; bb < B; bb++) {
            if (!rp_row_ok(starts, t, bb, B)) continue;
            const int y = rp_class(rewards[(size_t)t * B + bb]);
            const float *x[RP_FRAMES];
            for (int f = 0; f < RP_FRAMES; f++) x[f] = z + ((size_t)(t - RP_FRAMES + 1 + f) * B + bb) * D;
            float l[RP_CLASSES];
            for (int c = 0; c < RP_CLASSES; c++) {
                float s = b[c];
                for (int f = 0; f < RP_FRAMES; f++) {
                    const float *w = W + (size_t)c * X + (size_t)f * D;
                    for (int d = 0; d < D; d++) s += w[d] * x[f][d];
                }
                l[c] = s;
            }
            float mx = l[0];
            int arg = 0;
            for (int c = 1; c < RP_CLASSES; c++)
                if (l[c] > mx) mx = l[c], arg = c;
            double se = 0;
            for (int c = 0; c < RP_CLASSES; c++) se += exp((double)(l[c] - mx));
            const double lse = mx + log(se);
            const double rw = 1.0 / ((double)present * n_c[y]);
            loss += rw * (lse - l[y]);
            ok_c[y] += arg == y;
            if (!dW && !db && !dz) continue;
            float g[RP_CLASSES];
            for (int c = 0; c < RP_CLASSES; c++)
                g[c] = (float)(weight * rw * (exp(l[c] - lse) - (c == y)));
            for (int c = 0; c < RP_CLASSES; c++) {
                if (db) db[c] += g[c];
                for (int f = 0; f < RP_FRAMES; f++) {
                    const float *w = W + (size_t)c * X + (size_t)f * D;
                    if (dW) {
                        float *dw = dW + (size_t)c * X + (size_t)f * D;
                        for (int d = 0; d < D; d++) dw[d] += g[c] * x[f][d];
                    }
                    if (dz) {
                        float *dx = dz + ((size_t)(t - RP_FRAMES + 1 + f) * B + bb) * D;
                        for (int d = 0; d < D; d++) dx[d] += g[c] * w[d];
                    }
                }
            }
        }
    double a = 0;
    for (int c = 0; c < RP_CLASSES; c++)
        if (n_c[c] > 0) a += (double)ok_c[c] / n_c[c];
    *acc = (float)(a / present);
    return (float)loss;
}

double rp_ref_loss(const float *z, const float *rewards, const uint8_t *starts, const double *W,
                   const double *b, int T, int B, int D) {
    const int X = RP_FRAMES * D;
    int n_c[RP_CLASSES] = {0};
    for (int t = 0; t < T; t++)
        for (int bb = 0; bb < B; bb++)
            if (rp_row_ok(starts, t, bb, B)) n_c[rp_class(rewards[t * B + bb])]++;
    int present = 0;
    for (int c = 0; c < RP_CLASSES; c++) present += n_c[c] > 0;
    double loss = 0;
    for (int t = 0; t < T; t++)
        for (int bb = 0; bb < B; bb++) {
            if (!rp_row_ok(starts, t, bb, B)) continue;
            const int y = rp_class(rewards[t * B + bb]);
            double l[RP_CLASSES], se = 0;
            for (int c = 0; c < RP_CLASSES; c++) {
                l[c] = b[c];
                for (int f = 0; f < RP_FRAMES; f++)
                    for (int d = 0; d < D; d++)
                        l[c] += W[c * X + f * D + d] * z[((t - RP_FRAMES + 1 + f) * B + bb) * D + d];
            }
            for (int c = 0; c < RP_CLASSES; c++) se += exp(l[c]);
            loss += (log(se) - l[y]) / ((double)present * n_c[y]);
        }
    return loss;
}

// ----------------------------------------------------------------------------
// the head (agent/aux.h)

typedef struct { int T, B, D; } RP;

static float rp_weight(const Config *c) { return c->rp_weight; }

static int rp_tensors(const Config *c, const Model *m, ModelTensor *out) {
    out[0] = (ModelTensor){"rp.w", 2, {RP_CLASSES, RP_FRAMES * m->D}, 0};
    out[1] = (ModelTensor){"rp.b", 1, {RP_CLASSES}, 0};
    return 2;
}

static void *rp_create(const Config *c, const Model *m, int T, int B) {
    RP *p = malloc(sizeof *p);
    if (p) *p = (RP){T, B, m->D};
    return p;
}

static void rp_destroy(void *s) { free(s); }

static int rp_min_envs(const Config *c, const char **why) {
    *why = "reward prediction";
    return 1;
}

static float rp_loss(void *s, Model *m, int first, const AuxInput *in, float weight, float *dh,
                     float *dz, AuxStats *st) {
    const RP *p = s;
    NNParams *q = &m->p;
    float acc;
    float l = rp_forward_backward(in->z, in->rewards, in->starts, nn_param(q, first),
                                  nn_param(q, first + 1), in->T, in->B, p->D, weight,
                                  nn_grad(q, first), nn_grad(q, first + 1), dz, &st->count, &acc);
    st->col[0] = acc;
    return l;
}

const AuxKind AUX_RP = {
    .name = "rp", .horizons = 0, .ncols = 1, .cols = {"acc"},
    .weight = rp_weight, .check = NULL, .tensors = rp_tensors,
    .create = rp_create, .destroy = rp_destroy, .min_envs = rp_min_envs, .loss = rp_loss,
};
