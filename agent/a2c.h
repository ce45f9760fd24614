// a2c.h — batched synchronous A2C with an optional CPC auxiliary loss.
//
// One update = an unroll of T steps over B envs, then one gradient step on
//
//   L = L_a2c + cpc_weight * L_cpc
//   L_a2c = -mean_{t,b}[ log pi(a_t|c_t) * A_t ]                (A_t held constant)
//           + value_coef * 1/2 * mean_{t,b}[ (R_t - V(c_t))^2 ]
//           - entropy_coef * mean_{t,b}[ H(pi(.|c_t)) ]
//   delta_t = r_t + gamma [(1 - d_t) V_{t+1} + u_t V^fin_t] - V_t,
//             r_t clipped to [-reward_clip, reward_clip]
//   A_t     = delta_t + gamma lambda (1 - d_t) A_{t+1},   R_t = A_t + V_t
//   V_T     = V(c_T) bootstraps the unroll; d_t = terminated or truncated at t;
//   u_t     = 1 where step t was truncated by the time limit and
//             bootstrap_trunc is on (a time limit is not a terminal state:
//             Pardo et al. 2018), else 0; V^fin_t = V of the episode's final
//             observation, with the env's pre-reset LSTM state (c_t) and
//             inputs (a_t, r_t): one extra forward of those rows while acting.
//   (lambda = 1 gives plain n-step returns R_t = r_t + gamma (1 - d_t) R_{t+1}).
//
// The LSTM state is carried across unrolls (truncated BPTT) and zeroed where
// an episode starts, in the forward and in the backward. Activations computed
// while acting are stored and reused by the backward, so the learner does no
// second forward pass.
#ifndef CPCRL_A2C_H
#define CPCRL_A2C_H

#include <stdint.h>

#include "agent/config.h"
#include "agent/model.h"
#include "agent/optim.h"
#include "cpc/cpc.h"
#include "env/env.h"

#define A2C_MAX_K 64

typedef struct {
    float loss, policy_loss, value_loss, entropy, grad_norm, lr;
    float cpc_loss;
    int cpc_count;
    float cpc_acc[A2C_MAX_K], cpc_loss_k[A2C_MAX_K], cpc_n[A2C_MAX_K]; // per k (index k-1)
} UpdateStats;

// Time spent per phase (seconds, accumulated).
typedef struct { double env, act, loss, cpc, backward, optim; } PhaseTimes;

typedef struct {
    Config cfg;
    EnvConfig ecfg;
    int T, B, obs_size;
    Model model;
    Acts acts;    // (T+1)*B rows: slot T is the bootstrap forward
    Grads grads;  // T*B rows
    Optim opt;
    CPC cpc;
    int use_cpc;
    VecEnv vec;
    uint8_t *obs;        // (B, obs_size) observation to act on next
    uint8_t *final_obs;  // (B, obs_size) last observation of episodes that ended this step
    float *vtrunc;       // (T, B) V(final observation) where step t was truncated, else 0
    uint8_t *truncs;     // (T, B) step t ended its episode by the time limit
    Acts boot;           // B rows: the forward of the final observations (bootstrap_trunc)
    float *rewards;      // (B) scratch for vec_step
    uint8_t *term, *trunc;
    int *actions;        // (T, B)
    float *rew;          // (T, B) raw rewards
    float *done;         // (T, B)
    float *mask;         // (T, B) 1 - episode start at step t
    uint8_t *starts;     // (T, B) episode start at step t (for CPC)
    float *logp, *ent, *dent, *adv, *ret, *dlogp; // (T*B, A) / (T*B)
    int fixed_targets;   // tests: keep adv/ret from the last trainer_loss
    // state carried from one unroll to the next
    float *h_carry, *c_carry; // (B, H) unmasked LSTM output state
    int *prev_action;         // (B) action taken at the previous step
    float *prev_reward;       // (B)
    float *prev_done;         // (B) 1 when the previous step ended an episode
    uint64_t *rng;            // (B) action sampler per env
    double frames;
    int64_t updates;
    EnvLog ep;                // episode stats since last taken
    PhaseTimes times;
    int greedy;
    // Optional replacement of vec_step_final (probe environments in tests):
    // same contract, B envs, observations of obs_size bytes; final_obs rows
    // of envs that ended this step get their pre-reset observation.
    void (*env_step)(void *ctx, const int *actions, uint8_t *obs, float *rewards,
                     uint8_t *terminated, uint8_t *truncated, uint8_t *final_obs);
    void *env_ctx;
    int world;           // MPI ranks (1 = single process)
} Trainer;

// Build everything from a validated config. Returns 0, or -1 with a message.
int trainer_init(Trainer *tr, const Config *cfg, char *err, size_t errlen);
void trainer_free(Trainer *tr);
// Collect T steps from all B envs (acting forward, sampling, env steps).
void trainer_rollout(Trainer *tr);
// Loss, backward through CPC/heads/LSTM/encoder, clip, optimizer step.
// Returns 0, or -1 when the loss or gradient is not finite (params untouched).
int trainer_update(Trainer *tr, UpdateStats *st, float lr);
// The loss of the stored unroll (A2C + weighted CPC) and its gradients wrt
// logits, values, c_t and z_t (in tr->grads); parameter grads zeroed, CPC
// weight grads filled. trainer_update = this + model_backward + clip + step.
float trainer_loss(Trainer *tr, UpdateStats *st);
// Recompute every activation of the stored unroll from the stored inputs
// (observations, previous actions/rewards, initial state, done flags) under
// the current parameters: what the learner would see with no caching. Tests.
void trainer_forward_unroll(Trainer *tr);
// CPC diagnostics of the last unroll without touching parameters (eval).
void trainer_update_stats_only(Trainer *tr, UpdateStats *st);
// Learning rate for the current frame count (linear decay when enabled).
float trainer_lr(const Trainer *tr);

// Fill the network input rows of step slot `t` from the current obs and carry.
void trainer_prepare_step(Trainer *tr, int t);

#endif
