// trainer_impl.h — what the Trainer's two files share (agent/trainer.c: the
// A2C update; agent/reuse.c: sample reuse). Internal to agent/: trainer.h is
// the interface.
#ifndef CPCRL_TRAINER_IMPL_H
#define CPCRL_TRAINER_IMPL_H

#include "agent/trainer.h"

// Advantages and returns of the stored unroll (GAE; trainer.h).
void compute_targets(Trainer *tr);
// The loss of N rows of activations (an unroll of N / B steps over B envs):
// policy, entropy, value, and the auxiliary heads of aux (NULL: none, g's dh
// and dz zero); fills g's incoming
// gradients and the heads' weight gradients (other parameter gradients
// zeroed). *t_cpc = the clock when the heads' work began.
float heads_and_aux_loss(Trainer *tr, AuxSet *aux, const Acts *a, Grads *g, const int *actions,
                         const float *rew, const float *adv, const float *ret,
                         const float *logp_old, const uint8_t *starts, int N, int B,
                         UpdateStats *st, double *t_cpc);
// The backward of one optimizer step (the trunk balance of trainer.h included).
void step_backward(Trainer *tr, Acts *a, Grads *g, const float *mask, int T, int B,
                   UpdateStats *st);
// The optimizer's step on the clipped gradient (MPI: the ranks' mean).
void optimizer_step(Trainer *tr, float lr);
// The sample-reuse update (agent/reuse.c): E passes of M groups.
int reuse_update(Trainer *tr, UpdateStats *st, float lr);

#endif
