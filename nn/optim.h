// optim.h — optimizers over a flat parameter slab (see NNParams in nn.h).
//
// Both match PyTorch bit-for-bit in formula (torch.optim defaults otherwise:
// no weight decay, no momentum, not centered, no amsgrad):
//   RMSProp  v = alpha v + (1 - alpha) g^2
//            p -= lr g / (sqrt(v) + eps)
//   Adam     t += 1
//            m = beta1 m + (1 - beta1) g
//            v = beta2 v + (1 - beta2) g^2
//            p -= (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// Update clipping (Adafactor's, Shazeer & Stern 2018), opt_step_clipped: per
// tensor, the normalized step u = g / (sqrt(v) + eps) (Adam: m_hat /
// (sqrt(v_hat) + eps)) is scaled by 1 / max(1, RMS(u) / d) before lr. With
// v a running mean of g^2, RMS(u) ~ 1 while gradients keep their scale; after
// a quiet stretch (a solved task: small gradients, small v) one larger
// gradient makes RMS(u) >> 1 (up to 1 / sqrt(1 - alpha) = 10 for RMSProp's
// 0.99), a step many times the usual one in every parameter at once; the
// clip caps it at the usual size. d = 0 is opt_step.
//
// The optimizer state is one float slab (`state`, `nstate` floats: v for
// RMSProp; m then v for Adam) plus the step counter, so a checkpoint saves and
// restores it with one write/read. `m` and `v` point into the slab.
#ifndef CPCRL_OPTIM_H
#define CPCRL_OPTIM_H

#include <stddef.h>

enum { OPT_RMSPROP = 0, OPT_ADAM = 1 };

typedef struct {
    int kind;          // OPT_RMSPROP or OPT_ADAM
    float lr;          // configured learning rate (opt_step takes the one to use)
    float alpha;       // RMSProp decay (torch default 0.99)
    float beta1, beta2;// Adam (torch defaults 0.9, 0.999)
    float eps;         // added after the square root (RMSProp and Adam)
    long step;         // updates done (Adam's bias correction uses it)
    size_t n;          // parameters
    float *state;      // nstate floats, zero at start
    size_t nstate;
    float *m;          // Adam first moment (NULL for RMSProp)
    float *v;          // RMSProp square_avg / Adam second moment
} Optim;

// Allocates zeroed state for n parameters and sets the torch defaults for
// alpha, beta1, beta2; change those fields before the first step if needed.
// Returns -1 (and leaves *o empty) on an unknown kind or out of memory.
int opt_init(Optim *o, int kind, size_t n, float lr, float eps);
// One update: params (n) -= f(grads (n)), with learning rate lr.
void opt_step(Optim *o, float *params, const float *grads, float lr);
// The same with update clipping at d over the tensors given as (offset, size)
// pairs into the slab (they cover it; d <= 0: opt_step).
void opt_step_clipped(Optim *o, float *params, const float *grads, float lr, float d,
                      const size_t *offsets, const size_t *sizes, int ntensors);
// Zero the state and the step counter (same as a freshly initialised optimizer).
void opt_reset(Optim *o);
void opt_free(Optim *o);

// "rmsprop" / "adam" <-> OPT_*; opt_kind_from_name returns -1 when unknown.
const char *opt_kind_name(int kind);
int opt_kind_from_name(const char *name);

#endif
