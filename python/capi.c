// capi.c — the C side of the Python binding (python/cpcrl): a few flat entry
// points over env/ that ctypes can call without mirroring env/env.h's structs.
//
// Owns: nothing but the glue. Env and VecEnv are allocated here (their size
// stays private to C, so a change of env.h's struct layout cannot silently
// break the binding), configs travel as five ints, and the vectorized step
// checks the actions before env/ asserts on them (a bad action from Python
// must raise, not abort the interpreter). Pointers come from the Python side,
// which checks them (not NULL, not freed) under a lock before every call. Linked with env/*.c into
// libcpcrl_env.so (`make lib`, or the package's build step); no SDL, no BLAS.
#include <stdlib.h>
#include <string.h>

#include "env/env.h"
#include "env/tasks.h"
#include "base/rng.h"

#define CPCRL_CAPI_VERSION 4

int cpcrl_capi_version(void) { return CPCRL_CAPI_VERSION; }
int cpcrl_num_channels(void) { return ENV_C; }
int cpcrl_num_actions(void) { return ENV_A; }
int cpcrl_num_tasks(void) { return ENV_NTASKS; }
const char *cpcrl_task_name(int t) { return t >= 0 && t < ENV_NTASKS ? ENV_TASK_NAMES[t] : NULL; }
// 1 when task t's target is hidden from the agent (watermaze's platform, tmaze's
// rewarded arm): renders outline it, as the viewer does; -1 for no such task.
int cpcrl_task_goal_hidden(int t) {
    const EnvTask *T = env_task(t);
    return T ? T->goal_hidden : -1;
}
const char *cpcrl_kind_name(int k) { return k >= 0 && k < ENV_C ? ENV_KIND_NAMES[k] : NULL; }
const char *cpcrl_action_name(int a) { return a >= 0 && a < ENV_A ? ENV_ACTION_NAMES[a] : NULL; }
uint64_t cpcrl_rng_derive(uint64_t seed, uint64_t i) { return rng_derive(seed, i); }

// ---------------------------------------------------------------------------
// Config: cfg[5] = task, size, view, max_steps, items (EnvConfig's order).
// Fills the task's defaults in place; 0 when valid, else -1 and a message.

static void cfg_from(EnvConfig *c, const int *cfg) {
    c->task = cfg[0];
    c->size = cfg[1];
    c->view = cfg[2];
    c->max_steps = cfg[3];
    c->items = cfg[4];
}

int cpcrl_config(int *cfg, char *err, size_t errlen) {
    EnvConfig c;
    cfg_from(&c, cfg);
    env_config_defaults(&c);
    if (env_config_check(&c, err, errlen) < 0) return -1;
    cfg[0] = c.task, cfg[1] = c.size, cfg[2] = c.view, cfg[3] = c.max_steps, cfg[4] = c.items;
    return 0;
}

// ---------------------------------------------------------------------------
// One env. cfg must have passed cpcrl_config.

Env *cpcrl_env_new(const int *cfg, uint64_t seed) {
    EnvConfig c;
    cfg_from(&c, cfg);
    env_config_defaults(&c);
    if (env_config_check(&c, NULL, 0) < 0) return NULL;
    Env *e = malloc(sizeof *e);
    if (e) env_init(e, &c, seed);
    return e;
}

void cpcrl_env_free(Env *e) { free(e); }

// An independent copy of e (Env holds no pointers): copy.copy / deepcopy.
Env *cpcrl_env_clone(const Env *e) {
    Env *c = malloc(sizeof *c);
    if (c) memcpy(c, e, sizeof *c);
    return c;
}
void cpcrl_env_seed(Env *e, uint64_t seed) {
    EnvConfig c = e->cfg; // env_init clears *e before it copies the config
    env_init(e, &c, seed);
}
void cpcrl_env_reset(Env *e) { env_reset(e); }
void cpcrl_env_observe(const Env *e, uint8_t *obs) { env_observe(e, obs); }
uint64_t cpcrl_env_hash(const Env *e) { return env_hash(e); }
int cpcrl_env_oracle(const Env *e) { return oracle_action(e); }
const uint8_t *cpcrl_env_grid(const Env *e) { return e->grid; }
void cpcrl_env_render_map(const Env *e, char *buf) { env_render_map(e, buf); }

// out[12] = w, h, ax, ay, dir, carrying, tx, ty, steps, task, episode, ep_success
void cpcrl_env_state(const Env *e, int *out) {
    int v[12] = {e->w, e->h, e->ax, e->ay, e->dir, e->carrying, e->tx, e->ty, e->steps,
                 e->cfg.task, (int)e->episode, e->ep_success};
    memcpy(out, v, sizeof v);
}

// One step; *ended = terminated | truncated. Returns -1 on a bad action
// (nothing changes), else 0 with the reward in *reward.
int cpcrl_env_step(Env *e, int action, float *reward, uint8_t *terminated, uint8_t *truncated,
                   uint8_t *final_obs) {
    if (action < 0 || action >= ENV_A) return -1;
    *reward = env_step_final(e, action, terminated, truncated, final_obs);
    return 0;
}

// out[4] = episodes, return sum, length sum, success sum (then cleared).
void cpcrl_env_log_take(Env *e, float *out) {
    EnvLog l = {0};
    env_log_take(e, &l);
    out[0] = l.episodes, out[1] = l.ret, out[2] = l.length, out[3] = l.success;
}

// ---------------------------------------------------------------------------
// A batch of n envs, env i seeded rng_derive(seed, i) (vec_init).

VecEnv *cpcrl_vec_new(const int *cfg, int n, uint64_t seed) {
    EnvConfig c;
    cfg_from(&c, cfg);
    VecEnv *v = malloc(sizeof *v);
    if (v && vec_init(v, &c, n, seed) < 0) {
        free(v);
        return NULL;
    }
    return v;
}

void cpcrl_vec_free(VecEnv *v) {
    if (!v) return;
    vec_free(v);
    free(v);
}

// An independent copy of v and its envs; NULL when out of memory.
VecEnv *cpcrl_vec_clone(const VecEnv *v) {
    VecEnv *c = malloc(sizeof *c);
    if (!c) return NULL;
    *c = *v;
    c->envs = malloc(sizeof *c->envs * (size_t)v->n);
    if (!c->envs) {
        free(c);
        return NULL;
    }
    memcpy(c->envs, v->envs, sizeof *c->envs * (size_t)v->n);
    return c;
}

// Re-seed all envs in place (same as a fresh cpcrl_vec_new with this seed).
void cpcrl_vec_seed(VecEnv *v, uint64_t seed) {
    for (int i = 0; i < v->n; i++) {
        EnvConfig c = v->envs[i].cfg;
        env_init(&v->envs[i], &c, rng_derive(seed, (uint64_t)i));
    }
}

// Start the next episode of every env (drawn from each env's own rng).
void cpcrl_vec_reset(VecEnv *v) {
    for (int i = 0; i < v->n; i++) env_reset(&v->envs[i]);
}

Env *cpcrl_vec_env(VecEnv *v, int i) { return i >= 0 && i < v->n ? &v->envs[i] : NULL; }
void cpcrl_vec_observe(const VecEnv *v, uint8_t *obs) { vec_observe(v, obs); }

// vec_step_final over caller-owned arrays, plus dones[i] = terminated[i] |
// truncated[i]. actions are int64 (what numpy gives, so Python checks nothing
// per element and nothing wraps on the way): each is checked and narrowed into
// scratch[n]. Returns -1 - i when actions[i] is not in 0..ENV_A-1 (nothing is
// stepped), else 0.
int cpcrl_vec_step(VecEnv *v, const int64_t *actions, int *scratch, uint8_t *obs,
                   float *rewards, uint8_t *terminated, uint8_t *truncated, uint8_t *final_obs,
                   uint8_t *dones) {
    for (int i = 0; i < v->n; i++) {
        if ((uint64_t)actions[i] >= ENV_A) return -1 - i;
        scratch[i] = (int)actions[i];
    }
    vec_step_final(v, scratch, obs, rewards, terminated, truncated, final_obs);
    for (int i = 0; i < v->n; i++) dones[i] = terminated[i] | truncated[i];
    return 0;
}

// Gymnasium's next-step autoreset over the same arrays. On entry dones[i]
// says env i ended at the previous step: its next episode (started by C inside
// that step) is not stepped now, obs[i] is that episode's first observation,
// rewards[i] 0 and no flag set. Every other env steps, and obs[i] of one that
// ends now is its episode's last observation. On return dones[i] = env i
// ended at this step. Returns -1 - i when actions[i] is not in 0..ENV_A-1
// (nothing is stepped), else 0.
int cpcrl_vec_step_next(VecEnv *v, const int64_t *actions, uint8_t *obs, float *rewards,
                        uint8_t *terminated, uint8_t *truncated, uint8_t *dones) {
    for (int i = 0; i < v->n; i++)
        if ((uint64_t)actions[i] >= ENV_A) return -1 - i;
    for (int i = 0; i < v->n; i++) {
        Env *e = &v->envs[i];
        uint8_t *o = obs + (size_t)i * v->obs_size;
        if (dones[i]) {
            env_observe(e, o);
            rewards[i] = 0.0f;
            terminated[i] = truncated[i] = dones[i] = 0;
            continue;
        }
        rewards[i] = env_step_final(e, (int)actions[i], &terminated[i], &truncated[i], o);
        dones[i] = terminated[i] | truncated[i];
        if (!dones[i]) env_observe(e, o);
    }
    return 0;
}

// T steps in a C loop with actions[T][n] (checked first): the C side of the
// binding's benchmark, stepping the same envs into the same arrays.
int cpcrl_vec_run(VecEnv *v, const int *actions, int T, uint8_t *obs, float *rewards,
                  uint8_t *terminated, uint8_t *truncated, uint8_t *final_obs) {
    for (long i = 0; i < (long)T * v->n; i++)
        if ((unsigned)actions[i] >= ENV_A) return -1;
    for (int t = 0; t < T; t++)
        vec_step_final(v, actions + (size_t)t * (size_t)v->n, obs, rewards, terminated, truncated,
                       final_obs);
    return 0;
}

// Summed stats of the episodes finished since the last call, as cpcrl_env_log_take.
void cpcrl_vec_log_take(VecEnv *v, float *out) {
    EnvLog l = {0};
    vec_log_take(v, &l);
    out[0] = l.episodes, out[1] = l.ret, out[2] = l.length, out[3] = l.success;
}
