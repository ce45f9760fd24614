// aux_rp.h — reward prediction, an auxiliary head (agent/aux.h): from the
// latents of three consecutive steps predict the sign of the reward that
// follows the last (UNREAL, Jaderberg et al. 2016, sec. 3.2).
//
//   x_t     = [z_{t-2}, z_{t-1}, z_t]                       (3D)
//   logits  = W x_t + b,  W (3, 3D), b (3)                  rp.w, rp.b
//   y_t     = 0 if r_t = 0, 1 if r_t > 0, 2 if r_t < 0      (r_t: the reward after a_t)
//   a row (t, b) counts when t >= 2 and no episode starts at t-1 or t
//   L_rp    = 1/|P| sum_{c in P} 1/n_c sum_{rows of class c} -log softmax(logits)[y]
//             P = the classes with a counted row, n_c their rows
// Each class present weighs the same: UNREAL samples rewarding and
// non-rewarding sequences equally from a replay; here the current unroll's
// rows are reweighted to the same effect (no replay). Gradients flow into W,
// b and the three latents (so into the encoder, not the LSTM). Log figures:
// rp_loss and rp_acc, the class-balanced accuracy (mean over the classes
// present of the fraction predicted right; 1/|P| by chance).
#ifndef CPCRL_AUX_RP_H
#define CPCRL_AUX_RP_H

#include <stdint.h>

#define RP_CLASSES 3
#define RP_FRAMES 3

// The class of a reward.
static inline int rp_class(float r) { return r > 0 ? 1 : r < 0 ? 2 : 0; }

// The loss, its gradients (each may be NULL) with weight 1, and the balanced
// accuracy; dW (3, 3D), db (3), dz (T*B, D) are added into. Plain loops, no
// workspace, independent of threads. Returns L_rp; *count = counted rows.
float rp_forward_backward(const float *z, const float *rewards, const uint8_t *starts,
                          const float *W, const float *b, int T, int B, int D, float weight,
                          float *dW, float *db, float *dz, int *count, float *acc);
// Naive reference in double (tests).
double rp_ref_loss(const float *z, const float *rewards, const uint8_t *starts, const double *W,
                   const double *b, int T, int B, int D);

#endif
