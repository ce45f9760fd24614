// train.h — `cpcrl train` and `cpcrl eval`: the run directory, log.csv,
// progress line, checkpoint schedule, Ctrl+C handling, resume, evaluation.
#ifndef CPCRL_TRAIN_H
#define CPCRL_TRAIN_H

#include "agent/trainer.h"
#include "agent/config.h"

// Optional callbacks of the training loop, passed to train_main. after_update
// observes (e.g. replays/ recording an episode every N frames) and must not
// change the trainer's state or RNGs; before_update runs between the rollout
// and the update and may change the rollout (tests: main.c's fault injection
// CPCRL_FAULT_NAN_AT makes one update's loss NaN). NULL members are skipped.
typedef struct {
    void (*after_update)(void *ctx, Trainer *tr, const char *run_dir);
    void *ctx;
    void (*before_update)(void *ctx, Trainer *tr);
    void *before_ctx;
} TrainHook;

// Train per cfg; with resume_dir, continue the run stored there (its
// config.txt and model.ckpt; cfg is ignored except for --frames, which may
// extend the run). Returns 0 on success (also after Ctrl+C/SIGTERM/SIGHUP),
// 1 on error (message printed to stderr; also when another trainer holds the
// run directory's lock), 2 when config.txt disagrees with the checkpoint.
// hook may be NULL.
int train_main(Config *cfg, const char *resume_dir, int cfg_frames_given, const TrainHook *hook);

// goal and watermaze (env/findtime.h): restricted mean waits (steps, over
// [0, tau], tau = half the time limit) until the first find of an episode,
// until each later find, and the later ones again with the agent's memory
// wiped at every find; use = wiped - intact with its 95% bootstrap CI over
// episodes (> 0: memory makes the agent find the goal again sooner).
typedef struct {
    int valid;
    double tau, rmst_first, rmst_later, rmst_later_wiped, use, use_lo, use_hi, return_wiped;
    int n_first, n_later, n_later_wiped; // waits counted (finds and censored ones)
} EvalMemory;

typedef struct {
    int episodes;
    double mean_return, ci95, success, mean_length;
    EvalMemory memory;
    double cpc_acc[CPC_MAX_K]; // per k, when the checkpoint has a CPC head
    double cpc_bound[CPC_MAX_K]; // per k: log N - L_k (nats), the InfoNCE bound
    double cpc_loss_k[CPC_MAX_K]; // per k: the InfoNCE loss L_k (nats)
    double trunk_a2c, trunk_cpc; // trunk gradient norms of the two losses (trainer.h), mean over
                                 // eval's unrolls (T = K+1 steps of its envs; no update made)
    int K;
} EvalResult;

// Optional observer of eval's env steps (replays/ records the evaluated
// episodes with it, `eval --record`). For every batch step: `before` with
// the envs in the state the actions are taken in, the policy's value (B) and
// logits (B, A), and counted[b] = 1 when env b's current episode is one eval
// counts; `after` once the envs stepped (an env that ended has reset itself,
// its episode's stats still in its EnvLog), slot[b] = the index of the
// episode env b just finished among eval's counted ones, or -1. A hook
// returning -1 (message in err) stops eval with that error.
typedef struct {
    int (*before)(void *ctx, const VecEnv *v, const int *act, const float *value, const float *logits, int A,
                  const uint8_t *counted, char *err, size_t errlen);
    int (*after)(void *ctx, const VecEnv *v, const int *act, const float *rew, const uint8_t *term,
                 const uint8_t *trunc, const int *slot, char *err, size_t errlen);
    void *ctx;
} EvalHook;

// Evaluate a checkpoint (file, or run directory holding model.ckpt).
// hook (NULL: none) observes every env step.
int eval_main(const char *path, const Config *opts, const EvalHook *hook, EvalResult *out);

// train --eval-every: an acting-only trainer evaluating the learner's
// parameters every N frames on env seeds of its own (EVAL_SEED_OFFSET +
// seed: disjoint from training's, which are rng_derive(seed, env index)),
// the same episodes every time, so evaluations of one run compare checkpoints
// and not luck. evaluator_run(ev, m, out) equals `cpcrl eval` of a checkpoint
// holding m with --seed EVAL_SEED_OFFSET + seed --episodes E (--greedy).
#define EVAL_SEED_OFFSET 1000000ull
// compare's re-evaluation of a finished run's model.ckpt and best.ckpt
// (recheck.csv) uses env seed RECHECK_SEED_OFFSET + the run's seed.
#define RECHECK_SEED_OFFSET 2000000ull
typedef struct {
    Trainer tr;
    double *rets; // (episodes)
    int episodes, greedy, ready;
    uint64_t seed;
} Evaluator;
int evaluator_init(Evaluator *ev, const Config *cfg, char *err, size_t errlen);
int evaluator_run(Evaluator *ev, const Model *m, EvalResult *out); // 0 (no hook: cannot fail)
void evaluator_free(Evaluator *ev);

// N of InfoNCE's log N - L bound: the candidates each prediction is scored
// against (the envs of a batch or a sample-reuse group, times T with
// --cpc-negatives all).
int cpc_candidates(const Trainer *tr);

// Resolve "runs/NAME" or a file path to the checkpoint file path.
void ckpt_path_for(const char *path, char *out, size_t n);

#endif
