// optim.c — RMSProp and Adam over a flat slab, as torch.optim (see optim.h).

#include "agent/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int opt_init(Optim *o, int kind, size_t n, float lr, float eps) {
    memset(o, 0, sizeof *o);
    if (kind != OPT_RMSPROP && kind != OPT_ADAM) return -1;
    size_t nstate = kind == OPT_ADAM ? 2 * n : n;
    float *state = calloc(nstate ? nstate : 1, sizeof(float));
    if (!state) return -1;
    o->kind = kind;
    o->lr = lr;
    o->eps = eps;
    o->alpha = 0.99f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->n = n;
    o->state = state;
    o->nstate = nstate;
    o->m = kind == OPT_ADAM ? state : NULL;
    o->v = kind == OPT_ADAM ? state + n : state;
    return 0;
}

// The element loops: restrict (the slabs never overlap) and a square root
// that cannot set errno (v >= 0) let them vectorize; the arithmetic is the
// same, element by element, so results do not change.
static inline float sqrt_nonneg(float x) { return __builtin_sqrtf(x); }

static void rmsprop_range(float *restrict params, const float *restrict grads,
                          float *restrict v, size_t n, float a, float lr, float eps) {
    for (size_t i = 0; i < n; i++) {
        float g = grads[i];
        v[i] = a * v[i] + (1.0f - a) * g * g;
        params[i] -= lr * g / (sqrt_nonneg(v[i]) + eps);
    }
}

static void adam_range(float *restrict params, const float *restrict grads, float *restrict m,
                       float *restrict v, size_t n, float b1, float b2, float step_size,
                       float bc2_sqrt, float eps) {
    for (size_t i = 0; i < n; i++) {
        float g = grads[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        params[i] -= step_size * m[i] / (sqrt_nonneg(v[i]) / bc2_sqrt + eps);
    }
}

void opt_step(Optim *o, float *params, const float *grads, float lr) {
    o->step++;
    if (o->kind == OPT_RMSPROP) {
        rmsprop_range(params, grads, o->v, o->n, o->alpha, lr, o->eps);
        return;
    }
    float b1 = o->beta1, b2 = o->beta2;
    double bc1 = 1.0 - pow((double)b1, (double)o->step);
    double bc2 = 1.0 - pow((double)b2, (double)o->step);
    float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    adam_range(params, grads, o->m, o->v, o->n, b1, b2, step_size, bc2_sqrt, o->eps);
}

void opt_reset(Optim *o) {
    if (o->state) memset(o->state, 0, o->nstate * sizeof(float));
    o->step = 0;
}

void opt_free(Optim *o) {
    free(o->state);
    o->state = o->m = o->v = NULL;
    o->nstate = o->n = 0;
}

const char *opt_kind_name(int kind) {
    return kind == OPT_RMSPROP ? "rmsprop" : kind == OPT_ADAM ? "adam" : "unknown";
}

int opt_kind_from_name(const char *name) {
    if (name && strcasecmp(name, "rmsprop") == 0) return OPT_RMSPROP;
    if (name && strcasecmp(name, "adam") == 0) return OPT_ADAM;
    return -1;
}
