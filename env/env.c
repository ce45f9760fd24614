// env.c — the gridworld: configs, episodes, stepping, state checks, hashing,
// text rendering and the vectorized batch.
//
// Rules of the world (see env.h for the layout conventions)
//   FORWARD moves into the cell ahead when it is walkable: floor, goal, apple,
//   lemon. Walls, cue blocks, closed doors and keys block (keys are picked up
//   with INTERACT, as in MiniGrid). INTERACT on a key picks it up (swapping
//   with the key carried, if any); on a closed door of the carried key's
//   colour opens it (the cell becomes floor, the key is kept). Anything else
//   is a no-op.
//
// Tasks: each task's generator, step rule and checks are its entry in the
// table of tasks.h (tasks.c); this file steps every task through it.
//
// The observation (env_observe) is computed in observe.c.
#include "env/env.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errs.h"
#include "base/rng.h"
#include "env/world.h"

const char *const ENV_KIND_NAMES[ENV_C] = {"unseen", "empty", "wall",  "goal",  "apple",
                                           "lemon",  "key0",  "key1",  "door0", "door1",
                                           "cue0",   "cue1",  "cue2",  "cue3"};
const char *const ENV_ACTION_NAMES[ENV_A] = {"left", "right", "forward", "interact"};

static const char KIND_CHARS[ENV_C] = {'?', '.', '#', 'G', 'a', 'l', 'k',
                                       'K', 'd', 'D', '0', '1', '2', '3'};

// Cells the agent can walk into (observe.c has the cells that stop light).
#define WALKABLE_MASK ((1u << ENV_EMPTY) | (1u << ENV_GOAL) | (1u << ENV_APPLE) | (1u << ENV_LEMON))

const int ENV_DX[4] = {0, 1, 0, -1};
const int ENV_DY[4] = {-1, 0, 1, 0};

// ---------------------------------------------------------------------------
// Configuration

void env_config_defaults(EnvConfig *cfg) {
    if (cfg->view == 0) cfg->view = 7;
    const EnvTask *T = env_task(cfg->task);
    if (!T) return; // env_config_check reports it
    if (cfg->size == 0) {
        cfg->size = T->size;
        if (T->size_past_view > 0 && cfg->view + T->size_past_view > cfg->size)
            cfg->size = cfg->view + T->size_past_view;
    }
    if (cfg->max_steps == 0) cfg->max_steps = T->max_steps;
    if (cfg->items < T->items_min) cfg->items = T->items;
}

int env_config_check(const EnvConfig *cfg, char *err, size_t errlen) {
    const EnvTask *T = env_task(cfg->task);
    if (!T)
        return err_fail(err, errlen, "task: expected 0..%d (" ENV_TASK_VALID "), got %d", ENV_NTASKS - 1,
                        cfg->task);
    if (cfg->view < 3 || cfg->view > ENV_MAX_VIEW || cfg->view % 2 == 0)
        return err_fail(err, errlen, "view: expected an odd number in 3..%d, got %d", ENV_MAX_VIEW,
                    cfg->view);
    if (cfg->max_steps < 1)
        return err_fail(err, errlen, "max_steps: expected >= 1, got %d", cfg->max_steps);
    return T->check(cfg, err, errlen);
}

// ---------------------------------------------------------------------------
// Episodes

// Start an episode: everything drawn from e->rng, whose state is remembered.
static void start_episode(Env *e) {
    e->episode_rng = e->rng;
    const EnvTask *T = &ENV_TASK_TABLE[e->cfg.task];
    e->w = e->h = e->cfg.size; // (a probe may have swapped in a hand-made map)
    if (T->width > 0) e->w = T->width;
    e->steps = 0;
    e->ep_return = 0.0f;
    e->ep_success = 0;
    e->carrying = 0;
    e->picked = 0;
    e->cue = 0;
    e->tx = e->ty = 0;
    T->generate(e);
}

void env_init(Env *e, const EnvConfig *cfg, uint64_t seed) {
    memset(e, 0, sizeof *e);
    e->cfg = *cfg;
    env_config_defaults(&e->cfg);
    assert(env_config_check(&e->cfg, NULL, 0) == 0 && "env_init: invalid config");
    e->seed = seed;
    e->rng = seed;
    e->episode = 0;
    start_episode(e);
}

void env_reset(Env *e) {
    e->episode++;
    start_episode(e);
}

// ---------------------------------------------------------------------------
// Stepping

float env_step(Env *e, int action, uint8_t *terminated, uint8_t *truncated) {
    return env_step_final(e, action, terminated, truncated, NULL);
}

float env_step_final(Env *e, int action, uint8_t *terminated, uint8_t *truncated,
                     uint8_t *final_obs) {
    assert(action >= 0 && action < ENV_A);
    const EnvTask *T = &ENV_TASK_TABLE[e->cfg.task];
    float reward = 0.0f;
    int term = 0;
    e->steps++;
    int fx = e->ax + ENV_DX[e->dir], fy = e->ay + ENV_DY[e->dir];
    int inside = (unsigned)fx < (unsigned)e->w && (unsigned)fy < (unsigned)e->h;
    int fi = fy * e->w + fx;
    switch (action) {
    case ENV_LEFT: e->dir = (e->dir + 3) & 3; break;
    case ENV_RIGHT: e->dir = (e->dir + 1) & 3; break;
    case ENV_FORWARD: {
        if (!inside || !((WALKABLE_MASK >> e->grid[fi]) & 1)) break;
        e->ax = fx;
        e->ay = fy;
        reward = T->enter(e, fi, e->grid[fi], &term);
        break;
    }
    case ENV_INTERACT: {
        if (!inside) break;
        int cell = e->grid[fi];
        if (cell == ENV_KEY0 || cell == ENV_KEY1) {
            e->grid[fi] = (uint8_t)(e->carrying ? e->carrying : ENV_EMPTY);
            e->carrying = cell;
            // the key that opens a door still closed pays once per episode
            if (T->key_reward != 0.0f && !e->picked && world_count(e, ENV_DOOR0 + (cell - ENV_KEY0)) > 0) {
                e->picked = 1;
                reward = T->key_reward;
            }
        } else if ((cell == ENV_DOOR0 || cell == ENV_DOOR1) && e->carrying &&
                   e->carrying - ENV_KEY0 == cell - ENV_DOOR0) {
            e->grid[fi] = ENV_EMPTY;
            reward = T->key_reward;
        }
        break;
    }
    }
    e->ep_return += reward;
    int trunc = !term && e->steps >= e->cfg.max_steps;
    *terminated = (uint8_t)term;
    *truncated = (uint8_t)trunc;
    if (term || trunc) {
        e->log.episodes += 1.0f;
        e->log.ret += e->ep_return;
        e->log.length += (float)e->steps;
        e->log.success += e->ep_success > 0 ? 1.0f : 0.0f;
        if (final_obs) env_observe(e, final_obs);
        env_reset(e);
    }
    return reward;
}

void env_log_take(Env *e, EnvLog *out) {
    out->episodes += e->log.episodes;
    out->ret += e->log.ret;
    out->length += e->log.length;
    out->success += e->log.success;
    memset(&e->log, 0, sizeof e->log);
}

// Invariants of a state that env_step may continue from (a checkpoint's env
// is checked with this before it is used): sizes and pose inside the map,
// known cell kinds, counters that cannot overflow before the time limit ends
// the episode, and a floor cell to respawn on (goal/watermaze respawn the
// agent on a random floor cell other than the platform).
int env_state_check(const Env *e, char *err, size_t errlen) {
    EnvConfig c = e->cfg;
    env_config_defaults(&c);
    if (memcmp(&c, &e->cfg, sizeof c) != 0 || env_config_check(&c, NULL, 0) < 0)
        return err_fail(err, errlen, "config invalid or not in its defaulted form");
    if (e->w < 3 || e->h < 3 || e->w > ENV_MAX_SIZE || e->h > ENV_MAX_SIZE)
        return err_fail(err, errlen, "map %dx%d, expected 3..%d a side", e->w, e->h, ENV_MAX_SIZE);
    if (e->ax < 0 || e->ay < 0 || e->ax >= e->w || e->ay >= e->h || e->dir < 0 || e->dir > 3)
        return err_fail(err, errlen, "agent at (%d,%d) heading %d, outside the %dx%d map", e->ax, e->ay,
                    e->dir, e->w, e->h);
    if (e->tx < 0 || e->ty < 0 || e->tx >= e->w || e->ty >= e->h)
        return err_fail(err, errlen, "target (%d,%d) outside the %dx%d map", e->tx, e->ty, e->w, e->h);
    if (e->carrying != 0 && e->carrying != ENV_KEY0 && e->carrying != ENV_KEY1)
        return err_fail(err, errlen, "carrying kind %d, expected 0 or a key", e->carrying);
    if (e->cue < 0 || e->cue > 1 || e->picked < 0 || e->picked > 1)
        return err_fail(err, errlen, "cue %d / key flag %d, expected 0 or 1", e->cue, e->picked);
    if (e->steps < 0 || e->steps > c.max_steps)
        return err_fail(err, errlen, "steps %d, expected 0..%d (the time limit)", e->steps, c.max_steps);
    if (e->ep_success < 0 || e->ep_success > e->steps)
        return err_fail(err, errlen, "successes %d, expected 0..%d (one per step at most)", e->ep_success,
                    e->steps);
    if (!isfinite(e->ep_return) || !isfinite(e->log.episodes) || !isfinite(e->log.ret) ||
        !isfinite(e->log.length) || !isfinite(e->log.success) || e->log.episodes < 0)
        return err_fail(err, errlen, "episode return or statistics not finite (or negative count)");
    int nfloor = 0;
    for (int y = 0; y < e->h; y++)
        for (int x = 0; x < e->w; x++) {
            int k = e->grid[y * e->w + x];
            if (k >= ENV_C) return err_fail(err, errlen, "cell (%d,%d) of kind %d, expected 0..%d", x, y, k, ENV_C - 1);
            nfloor += k == ENV_EMPTY && x > 0 && y > 0 && x < e->w - 1 && y < e->h - 1 &&
                     !(x == e->tx && y == e->ty);
        }
    if (nfloor == 0) return err_fail(err, errlen, "no floor cell inside the walls to respawn on");
    return 0;
}

// ---------------------------------------------------------------------------
// Hash and text

static uint64_t fnv(uint64_t hsh, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) hsh = (hsh ^ b[i]) * 0x100000001B3ull;
    return hsh;
}

uint64_t env_hash(const Env *e) {
    uint64_t hsh = 0xCBF29CE484222325ull;
    int32_t v[12] = {e->cfg.task, e->w, e->h, e->ax, e->ay, e->dir, e->carrying,
                     e->steps, e->tx, e->ty, e->cue, e->picked};
    hsh = fnv(hsh, e->grid, (size_t)(e->w * e->h));
    hsh = fnv(hsh, v, sizeof v);
    hsh = fnv(hsh, &e->rng, sizeof e->rng);
    return hsh;
}

char env_kind_char(int kind) {
    return kind >= 0 && kind < ENV_C ? KIND_CHARS[kind] : '!';
}

void env_render_map(const Env *e, char *buf) {
    static const char AGENT[4] = {'^', '>', 'v', '<'};
    const EnvTask *T = env_task(e->cfg.task);
    const char mark = T ? T->map_mark : 0;
    char *p = buf;
    for (int y = 0; y < e->h; y++) {
        for (int x = 0; x < e->w; x++) {
            char ch = env_kind_char(e->grid[y * e->w + x]);
            if (mark && x == e->tx && y == e->ty) ch = mark;
            if (x == e->ax && y == e->ay) ch = AGENT[e->dir & 3];
            *p++ = ch;
        }
        *p++ = '\n';
    }
    *p = '\0';
}

void env_render_obs(const uint8_t *obs, int view, char *buf) {
    const int VV = view * view;
    char *p = buf;
    for (int r = 0; r < view; r++) {
        for (int c = 0; c < view; c++) {
            int kind = -1;
            for (int k = 0; k < ENV_C; k++)
                if (obs[k * VV + r * view + c]) {
                    kind = kind < 0 ? k : ENV_C; // ENV_C: not one-hot -> '!'
                }
            char ch = env_kind_char(kind);
            if (r == view - 1 && c == view / 2 && kind == ENV_EMPTY) ch = '^';
            *p++ = ch;
        }
        *p++ = '\n';
    }
    *p = '\0';
}

// ---------------------------------------------------------------------------
// Vectorized batch

int vec_init(VecEnv *v, const EnvConfig *cfg, int n, uint64_t seed) {
    memset(v, 0, sizeof *v);
    EnvConfig c = *cfg;
    env_config_defaults(&c);
    if (n < 1 || env_config_check(&c, NULL, 0) < 0) return -1;
    v->envs = calloc((size_t)n, sizeof *v->envs);
    if (!v->envs) return -1;
    v->n = n;
    v->obs_size = (size_t)ENV_C * (size_t)c.view * (size_t)c.view;
    for (int i = 0; i < n; i++) env_init(&v->envs[i], &c, rng_derive(seed, (uint64_t)i));
    return 0;
}

void vec_free(VecEnv *v) {
    free(v->envs);
    memset(v, 0, sizeof *v);
}

void vec_observe(const VecEnv *v, uint8_t *obs) {
    for (int i = 0; i < v->n; i++) env_observe(&v->envs[i], obs + (size_t)i * v->obs_size);
}

void vec_step(VecEnv *v, const int *actions, uint8_t *obs, float *rewards, uint8_t *terminated,
              uint8_t *truncated) {
    vec_step_final(v, actions, obs, rewards, terminated, truncated, NULL);
}

void vec_step_final(VecEnv *v, const int *actions, uint8_t *obs, float *rewards,
                    uint8_t *terminated, uint8_t *truncated, uint8_t *final_obs) {
    for (int i = 0; i < v->n; i++) {
        const size_t off = (size_t)i * v->obs_size;
        rewards[i] = env_step_final(&v->envs[i], actions[i], &terminated[i], &truncated[i],
                                    final_obs ? final_obs + off : NULL);
        env_observe(&v->envs[i], obs + off);
    }
}

void vec_log_take(VecEnv *v, EnvLog *out) {
    for (int i = 0; i < v->n; i++) env_log_take(&v->envs[i], out);
}
