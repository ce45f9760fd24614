// actor.h — one agent acting in one env, for watching and recording: the
// trained network's forward pass on a single observation with its own LSTM
// state, sampler RNG and activation rows. It reads the model's parameters and
// never writes them, so it can run beside a live trainer (train hook).
#ifndef CPCRL_ACTOR_H
#define CPCRL_ACTOR_H

#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"
#include "agent/model.h"
#include "env/env.h"

typedef struct {
    Model own;          // the model when loaded from a checkpoint
    Model *m;           // the model acted with (own, or borrowed)
    int owns;
    Config cfg;         // the checkpoint's config (env settings, reward clip)
    double train_frames;// training frames of the loaded checkpoint
    Acts a;             // 1 row
    float *h, *c;       // LSTM carry (H)
    int prev_action;
    float prev_reward;
    int prev_done;      // next step starts an episode: zero state, no previous action
    uint64_t rng;
    // result of the last actor_decide
    float probs[ENV_A];
    float logits[ENV_A];
    float value;
    int action;
} Actor;

// Load a checkpoint (file or run directory) and build an actor for it.
int actor_load(Actor *ac, const char *path, uint64_t seed, char *err, size_t errlen);
// Re-read the checkpoint's parameters into the actor (same shapes). On error
// the current parameters stay.
int actor_reload(Actor *ac, const char *path, char *err, size_t errlen);
// An actor on a borrowed model (e.g. the trainer's): the caller keeps it alive.
int actor_init_shared(Actor *ac, Model *m, const Config *cfg, uint64_t seed, char *err, size_t errlen);
void actor_free(Actor *ac);
// Start of an episode: zero LSTM state and previous action/reward.
void actor_reset(Actor *ac);
// Forward on the observation of the current state: fills probs, logits,
// value and picks action (argmax when greedy, else sampled). Call once per
// state; actor_commit then carries the LSTM state to the next step.
int actor_decide(Actor *ac, const uint8_t *obs, int greedy);
// Re-pick the action of the last decision (greedy toggled) without a new forward.
int actor_repick(Actor *ac, int greedy);
// After env_step: the action taken, its reward, and whether the episode ended.
void actor_commit(Actor *ac, int action, float reward, int done);

#endif
