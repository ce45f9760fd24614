// policy.h — one acting step's input, the one place it is built: the rollout,
// the bootstrap rows of truncated episodes, eval and probe (through the
// Trainer) and the viewer's actor (watch / play's agent / replay recording)
// all fill a network row with policy_input_row and run model_forward on it.
//
//   x0      = the observation as float
//   xin     = [z (written by the forward), one-hot(prev_action), clip(prev_reward)]
//   (h, c)  = the carried LSTM state
// and at an episode start (keep = 0) the action, reward and state are zeroed.
#ifndef CPCRL_POLICY_H
#define CPCRL_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "agent/model.h"

// r clipped to [-clip, clip]; clip <= 0 = no clipping.
float policy_clip_reward(float r, float clip);

// Fill row r of a with one step's input (see above).
void policy_input_row(const Model *m, Acts *a, size_t r, const uint8_t *obs, float keep,
                      int prev_action, float prev_reward, float reward_clip, const float *h,
                      const float *c);

#endif
