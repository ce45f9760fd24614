// optim.c — RMSProp and Adam over a flat slab, as torch.optim (see optim.h).

#include "nn/optim.h"

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

// RMSProp / Adam over [lo, hi): the state update, then the sum of u^2 (u the
// normalized step before lr), then the step times `scale` (a second pass, so
// the scale can depend on the whole tensor).
static double state_and_u2(Optim *o, const float *restrict grads, size_t lo, size_t hi, float b1,
                           float b2, float bc1, float bc2_sqrt) {
    double u2 = 0.0;
    float *restrict v = o->v, *restrict m = o->m;
    if (o->kind == OPT_RMSPROP) {
        const float a = o->alpha;
        for (size_t i = lo; i < hi; i++) {
            const float g = grads[i];
            v[i] = a * v[i] + (1.0f - a) * g * g;
            const float u = g / (sqrt_nonneg(v[i]) + o->eps);
            u2 += (double)u * u;
        }
    } else {
        for (size_t i = lo; i < hi; i++) {
            const float g = grads[i];
            m[i] = b1 * m[i] + (1.0f - b1) * g;
            v[i] = b2 * v[i] + (1.0f - b2) * g * g;
            const float u = (m[i] / bc1) / (sqrt_nonneg(v[i]) / bc2_sqrt + o->eps);
            u2 += (double)u * u;
        }
    }
    return u2;
}

void opt_step_clipped(Optim *o, float *params, const float *grads, float lr, float d,
                      const size_t *offsets, const size_t *sizes, int ntensors) {
    if (!(d > 0)) {
        opt_step(o, params, grads, lr);
        return;
    }
    o->step++;
    const float b1 = o->beta1, b2 = o->beta2;
    const float bc1 = o->kind == OPT_ADAM ? (float)(1.0 - pow((double)b1, (double)o->step)) : 1.0f;
    const float bc2_sqrt = o->kind == OPT_ADAM ? (float)sqrt(1.0 - pow((double)b2, (double)o->step)) : 1.0f;
    for (int t = 0; t < ntensors; t++) {
        const size_t lo = offsets[t], hi = offsets[t] + sizes[t];
        if (hi <= lo) continue;
        const double rms = sqrt(state_and_u2(o, grads, lo, hi, b1, b2, bc1, bc2_sqrt) / (double)(hi - lo));
        const float step = lr / (float)(rms > d ? rms / d : 1.0);
        if (o->kind == OPT_RMSPROP)
            for (size_t i = lo; i < hi; i++) params[i] -= step * grads[i] / (sqrt_nonneg(o->v[i]) + o->eps);
        else
            for (size_t i = lo; i < hi; i++)
                params[i] -= step * (o->m[i] / bc1) / (sqrt_nonneg(o->v[i]) / bc2_sqrt + o->eps);
    }
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
