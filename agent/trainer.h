// trainer.h — the Trainer: batched synchronous A2C with an optional CPC auxiliary loss.
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
//
// Sample reuse (--epochs E, --minibatches M, --clip eps; PPO, Schulman et al.
// 2017, on env sequences as in recurrent PPO). Off at the defaults 1 / 1 / 0,
// where trainer_update is the A2C update above and nothing below is allocated.
// Otherwise, per unroll:
//   - A_t, R_t once, from the rollout's values as above (incl. V^fin), and
//     logp_old_t = log pi_old(a_t|c_t) from the rollout's logits; all three
//     constants for the E passes. No advantage normalization, no value clip.
//   - each pass (epoch) e shuffles the B env columns with its own stream
//     rng_derive(seed ^ REUSE_SEED, updates * E + e) (deterministic, and
//     resumes without extra checkpoint state) into M groups of Bm = B / M
//     envs (B must divide; Bm >= 2 with CPC batch negatives);
//   - per group: gather its stored inputs (observations, previous action and
//     reward, masks, episode starts, and the LSTM state entering t = 0) into
//     a block of T * Bm rows, recompute the forward step by step under the
//     current parameters (the carried state zeroed where an episode starts,
//     as in trainer_forward_unroll), then one gradient step on
//       L = L_pi + value_coef * 1/2 * mean (R_t - V(c_t))^2
//             - entropy_coef * mean H(pi(.|c_t)) + cpc_weight * L_cpc
//       L_pi = -mean min(rho_t A_t, clip(rho_t, 1 - eps, 1 + eps) A_t),
//              rho_t = exp(log pi(a_t|c_t) - logp_old_t)           (eps > 0)
//       L_pi = -mean log pi(a_t|c_t) A_t                            (eps = 0)
//     means over the group's T * Bm rows; L_cpc over the group's envs (its
//     other envs are the negatives; a CPC instance sized for Bm); BPTT over
//     the group's sequences, gradient-norm clip, optimizer step. A row is
//     "clipped" (no policy gradient) when A > 0 and rho > 1 + eps, or A < 0
//     and rho < 1 - eps.
//   - --aux-epochs N > 0: the steps of passes e >= N leave the auxiliary
//     losses out (cpc_weight * L_cpc and the other heads': their incoming
//     gradients dh, dz and their weights' gradients zero), so each unroll
//     trains CPC N times and A2C E times.
//   - UpdateStats: every figure the mean over the E * M steps (the
//     auxiliary ones over the steps that had them); clip_frac =
//     fraction of rows with |rho - 1| > eps (0 when eps = 0), approx_kl =
//     mean (logp_old - log pi). E = M = 1, eps = 0 forced through this path
//     gives the A2C loss and gradient (up to summation order: tests).
// Costs per unroll over A2C: E forwards of T * B rows, E * M optimizer steps,
// one extra Acts/Grads pair of T * B / M rows; no allocation per update.
//
// The two losses on the shared trunk (encoder + LSTM: conv1 .. lstm.b_hh).
// The backward is linear in its incoming gradients, so the trunk's parameter
// gradient is exactly g_a2c + g_cpc: g_a2c from the heads' dlogits, dvalue
// alone, g_cpc from CPC's dc, dz alone, each one model_backward with the
// other's incoming gradients at zero. With CPC on, an update (or, with
// sample reuse, each optimizer step of it) takes these extra passes when
//   - cpc_trunk_ratio rho > 0 (every update): two passes instead of one, and
//     the trunk gradient used is g_a2c + s g_cpc, s = rho |g_a2c| / |g_cpc|
//     (0 when g_cpc = 0): the CPC part entering the trunk has rho times the
//     A2C part's norm; W_k's and the heads' gradients are unscaled (so
//     cpc_weight then sets W_k's step size only);
//   - tr->measure_trunk (the caller's: the update that closes a log.csv
//     row): the combined backward as without it, bit for bit, then the two
//     parts by two more passes, only to measure them; the gradient used is
//     the combined one, restored.
//   - cpc_balance_every N > 1 (with rho > 0): the two passes (and a new s)
//     only on optimizer steps N, 2N, ... (counted by the optimizer's step,
//     so it resumes); the steps between take one pass with CPC's incoming
//     gradients dc, dz times the held s, which is g_a2c + s g_cpc by the
//     same linearity (in another summation order: not bit for bit).
//   - with sample reuse (rho > 0), s is measured on the first optimizer step
//     of an update (of every N-th update, N = cpc_balance_every) and held for
//     the update's other E*M - 1 steps, one pass each: the E*M steps of an
//     update share their advantages, returns and old log-probabilities, and
//     now their s too.
// Either way UpdateStats gets the norms |g_a2c|, |g_cpc| (L2 over the trunk's
// parameters, before clipping and before s) when they were measured. Under MPI each rank measures
// and scales its own gradient before the mean over ranks.
#ifndef CPCRL_TRAINER_H
#define CPCRL_TRAINER_H

#include <stdint.h>

#include "agent/config.h"
#include "agent/model.h"
#include "nn/optim.h"
#include "agent/aux.h"
#include "cpc/cpc.h"
#include "env/env.h"

typedef struct {
    float loss, policy_loss, value_loss, entropy, grad_norm, lr;
    float cpc_loss;
    int cpc_count;
    float cpc_acc[CPC_MAX_K], cpc_loss_k[CPC_MAX_K], cpc_n[CPC_MAX_K]; // per k (index k-1)
    // every auxiliary head's loss (unweighted) and log figures, in tr->aux's order
    // (cpc_loss and the per-k figures above are the CPC head's)
    float aux_loss[AUX_MAX_HEADS], aux_col[AUX_MAX_HEADS][AUX_MAX_COLS];
    float clip_frac, approx_kl; // sample reuse only (0 otherwise)
    int steps;                  // optimizer steps this update took (E * M, or 1)
    // trunk gradient norms of the two losses (see the header), the mean over
    // the trunk_n optimizer steps that measured them (0: none measured)
    float trunk_a2c, trunk_cpc, cpc_trunk_scale; // scale s (1 without the ratio control)
    // ... and of their gradients where they enter the trunk (A2C's at h, from
    // the heads; CPC's at h and z), measured alongside when tr->measure_outputs
    // (diagnostics: trace.csv)
    float out_a2c, out_cpc;
    int trunk_n;
} UpdateStats;

// Time spent per phase (seconds, accumulated); forward = the learner's
// recomputed forward (sample reuse only).
typedef struct { double env, act, loss, cpc, backward, optim, forward; } PhaseTimes;

typedef struct {
    Config cfg;
    EnvConfig ecfg;
    int T, B, obs_size;
    Model model;
    Acts acts;    // (T+1)*B rows: slot T is the bootstrap forward
    Grads grads;  // T*B rows
    Optim opt;
    AuxSet aux;          // the auxiliary heads on (agent/aux.h), sized T x B
    int use_aux;         // aux.n > 0
    int use_cpc;         // a CPC head (linear or CPC|A) is among them
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
    // sample reuse (see the header comment); all 0 / NULL when off
    int reuse;           // 1: trainer_update takes the sample-reuse path
    int reuse_step;      // the optimizer step of the current update (0 .. E*M-1)
    int reuse_epoch;     // the pass of the current update (0 .. E-1): --aux-epochs looks at it
    int Bm;              // envs per minibatch, B / minibatches
    Acts mb;             // T*Bm rows: one group's forward, recomputed from the stored inputs
    Grads mbg;           // T*Bm rows
    AuxSet mb_aux;       // the auxiliary heads sized for one group's envs
    int *perm;           // (B) env order of the current pass; group g = perm[g*Bm .. (g+1)*Bm)
    float *logp_old;     // (T*B) log pi_old(a_t) of the taken actions, from the rollout
    int *mb_actions;     // (T*Bm) the group's rows, gathered
    float *mb_mask, *mb_adv, *mb_ret, *mb_logp_old;
    uint8_t *mb_starts;
    float *mb_rew;
    // the two losses on the trunk (see the header); NULL without auxiliary heads
    int measure_trunk;   // the caller's: this update measures |g_a2c|, |g_cpc|
    int measure_outputs; // the caller's (a traced update): ... and out_a2c, out_cpc where they are measured
    float *bal_dh, *bal_dz; // (T*B, H), (T*B, D) CPC's incoming gradients
    float *bal_zero;     // (T*B*(A+1)) zero dlogits, dvalue of the CPC pass
    float *bal_save;     // the heads-and-trunk gradient of the combined pass
    float *bal_a2c;      // the trunk gradient of the A2C pass
    float *bal_uh;       // (T*B, H) A2C's gradient at h from the heads (out_a2c)
    float bal_scale;     // the scale s last measured (cpc_balance_every > 1 holds it; checkpointed by train.c)
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
// The backward trainer_update takes after trainer_loss: model_backward of
// the stored unroll, or, with CPC on and cpc_trunk_ratio > 0 or
// tr->measure_trunk, the split one of the header (st gets the trunk norms).
void trainer_backward(Trainer *tr, UpdateStats *st);
// Recompute every activation of the stored unroll from the stored inputs
// (observations, previous actions/rewards, initial state, done flags) under
// the current parameters: what the learner would see with no caching. Tests.
void trainer_forward_unroll(Trainer *tr);
// Learning rate for the current frame count (linear decay when enabled).
float trainer_lr(const Trainer *tr);

// Fill the network input rows of step slot `t` from the current obs and carry.
void trainer_prepare_step(Trainer *tr, int t);

// ----------------------------------------------------------------------------
// Sample reuse (trainer_update calls these when tr->reuse)

// Allocate the sample-reuse buffers and set tr->reuse: trainer_init does it
// when the config asks for reuse; tests call it to force the path at 1/1/0.
// Returns 0, or -1 with a message (B not divisible, too few envs per group
// for CPC, out of memory).
int trainer_reuse_enable(Trainer *tr, char *err, size_t errlen);
// Advantages/returns (unless tr->fixed_targets) and tr->logp_old of the
// stored unroll: the constants of every pass.
void trainer_reuse_begin(Trainer *tr);
// One group's loss: gather the Bm envs `envs` (indices into 0..B-1) of the
// stored unroll into tr->mb, recompute its forward under the current
// parameters, and fill tr->mbg's dlogits, dvalue, dh, dz (CPC) and the CPC
// weight gradient (other parameter gradients zeroed); st gets this group's
// figures. From pass tr->reuse_epoch = --aux-epochs on (when > 0) the
// auxiliary losses are left out: dh, dz and their weights' gradients zero. Then model_backward(&tr->model, &tr->mb, &tr->mbg, tr->mb_mask,
// T, Bm) completes the gradient.
float trainer_reuse_loss(Trainer *tr, const int *envs, UpdateStats *st);

// The policy and entropy part of the loss over N rows (see the header):
//   clip > 0: -mean min(rho A, clip(rho, 1-clip, 1+clip) A), rho = exp(logp - logp_old)
//   clip = 0: -mean logp A    (logp_old unused, may be NULL)
// minus entropy_coef * mean H. dlogits (N,A) is overwritten with the
// gradient of that sum; logp, dlogp (N,A) and ent, dent (N) are workspaces
// (logp and ent keep the forward). Reports the means of the two terms and
// the clip fraction / approx KL (clip > 0 only).
typedef struct { double policy, entropy, clip_frac, approx_kl; } PolicyTerms;
void a2c_policy_loss(float *dlogits, PolicyTerms *out, float *logp, float *dlogp, float *ent,
                     float *dent, const float *logits, const int *actions, const float *adv,
                     const float *logp_old, float clip, float entropy_coef, int N, int A);

#endif
