// policy.c — one acting step's input (see policy.h).
#include "agent/policy.h"

#include <string.h>

float policy_clip_reward(float r, float clip) {
    if (clip <= 0) return r;
    return r > clip ? clip : (r < -clip ? -clip : r);
}

void policy_input_row(const Model *m, Acts *a, size_t r, const uint8_t *obs, float keep,
                      int prev_action, float prev_reward, float reward_clip, const float *h,
                      const float *c) {
    const int H = m->H, D = m->D, X = m->X, S = m->C * m->V * m->V;
    float *x0 = a->x0 + r * (size_t)S;
    for (int i = 0; i < S; i++) x0[i] = (float)obs[i];
    float *tail = a->xin + r * (size_t)X + D;
    memset(tail, 0, (size_t)(X - D) * sizeof(float));
    if (keep > 0) {
        tail[prev_action] = 1.0f;
        tail[m->A] = policy_clip_reward(prev_reward, reward_clip);
    }
    for (int i = 0; i < H; i++) {
        a->hprev[r * H + i] = keep * h[i];
        a->cprev[r * H + i] = keep * c[i];
    }
}
