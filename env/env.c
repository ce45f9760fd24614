// env.c — the gridworld: configs, maze generation, the five tasks, stepping,
// egocentric observations with MiniGrid occlusion, hashing, text rendering and
// the vectorized batch.
//
// Rules of the world (see env.h for the layout conventions)
//   FORWARD moves into the cell ahead when it is walkable: floor, goal, apple,
//   lemon. Walls, cue blocks, closed doors and keys block (keys are picked up
//   with INTERACT, as in MiniGrid). INTERACT on a key picks it up (swapping
//   with the key carried, if any); on a closed door of the carried key's
//   colour opens it (the cell becomes floor, the key is kept). Anything else
//   is a no-op.
//
// Tasks (reward; end of episode). Every task truncates at max_steps.
//   goal        maze (randomized DFS over odd cells + size/3 extra openings),
//               a visible goal fixed for the episode; reaching it: +1 and the
//               agent respawns at a random floor cell with a random heading.
//   watermaze   open arena whose four walls are cue blocks (N CUE0, E CUE1,
//               S CUE2, W CUE3); an invisible platform on an interior cell;
//               stepping onto it: +1 and respawn.
//   keys_doors  MiniGrid DoorKey-like room split by a wall with one closed
//               door of colour c; the key of colour c (+ `items` distractor
//               key of the other colour) in the left room, the goal in the
//               right room. +0.1 first pickup of the right key, +0.1 opening
//               the door, +1 reaching the goal (terminates, success).
//   seekavoid   open room, `items` apples (+1) and as many lemons (-1) that
//               vanish when walked over; terminates (success) when every
//               apple is eaten.
//   tmaze       corridor from the start (bottom, facing north) to a T junction;
//               a cue block left of the start (CUE0: reward in the left arm,
//               CUE1: right). Entering an arm end terminates: +1 for the cued
//               arm (success), 0 for the other. By default the corridor is
//               long enough (size = view + 4) that the cue cannot be seen from
//               the junction in any heading: the agent has to remember it.
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

const char *const ENV_TASK_NAMES[ENV_NTASKS] = {"goal", "watermaze", "keys_doors", "seekavoid",
                                                "tmaze"};
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

enum { TMAZE_W = 9 };

// ---------------------------------------------------------------------------
// Configuration

int env_task_from_name(const char *name) {
    if (!name) return -1;
    for (int t = 0; t < ENV_NTASKS; t++)
        if (strcmp(name, ENV_TASK_NAMES[t]) == 0) return t;
    return -1;
}

void env_config_defaults(EnvConfig *cfg) {
    if (cfg->view == 0) cfg->view = 7;
    static const int SIZE[ENV_NTASKS] = {9, 9, 6, 9, 0};
    static const int STEPS[ENV_NTASKS] = {100, 100, 100, 100, 100};
    if (cfg->task < 0 || cfg->task >= ENV_NTASKS) return; // env_config_check reports it
    if (cfg->size == 0) {
        cfg->size = SIZE[cfg->task];
        // tmaze: the cue must stay out of sight from the junction, whatever
        // the heading: corridor length size - 3 > view - 1.
        if (cfg->task == ENV_TASK_TMAZE) cfg->size = cfg->view + 4 > 9 ? cfg->view + 4 : 9;
    }
    if (cfg->max_steps == 0) cfg->max_steps = STEPS[cfg->task];
    switch (cfg->task) {
    case ENV_TASK_SEEKAVOID:
        if (cfg->items <= 0) cfg->items = 6;
        break;
    case ENV_TASK_KEYS_DOORS:
        if (cfg->items < 0) cfg->items = 1;
        break;
    default:
        if (cfg->items < 0) cfg->items = 0;
        break;
    }
}

int env_config_check(const EnvConfig *cfg, char *err, size_t errlen) {
    if (cfg->task < 0 || cfg->task >= ENV_NTASKS)
        return err_fail(err, errlen,
                    "task: expected 0..%d (goal, watermaze, keys_doors, seekavoid, tmaze), "
                    "got %d",
                    ENV_NTASKS - 1, cfg->task);
    const char *tn = ENV_TASK_NAMES[cfg->task];
    if (cfg->view < 3 || cfg->view > ENV_MAX_VIEW || cfg->view % 2 == 0)
        return err_fail(err, errlen, "view: expected an odd number in 3..%d, got %d", ENV_MAX_VIEW,
                    cfg->view);
    if (cfg->max_steps < 1)
        return err_fail(err, errlen, "max_steps: expected >= 1, got %d", cfg->max_steps);
    int s = cfg->size;
    if (cfg->task == ENV_TASK_GOAL) {
        if (s < 5 || s > ENV_MAX_SIZE || s % 2 == 0)
            return err_fail(err, errlen,
                        "size: task goal builds a maze on odd coordinates and needs an odd size "
                        "in 5..%d, got %d",
                        ENV_MAX_SIZE, s);
    } else if (s < 5 || s > ENV_MAX_SIZE) {
        return err_fail(err, errlen, "size: task %s needs a size in 5..%d, got %d", tn,
                    ENV_MAX_SIZE, s);
    }
    switch (cfg->task) {
    case ENV_TASK_SEEKAVOID: {
        int free_cells = (s - 2) * (s - 2) - 1; // interior minus the agent's cell
        if (cfg->items < 1 || cfg->items > free_cells / 2)
            return err_fail(err, errlen,
                        "items: task seekavoid at size %d needs 1..%d apples (apples + lemons "
                        "<= %d free cells), got %d",
                        s, free_cells / 2, free_cells, cfg->items);
        break;
    }
    case ENV_TASK_KEYS_DOORS:
        if (cfg->items < 0 || cfg->items > 1)
            return err_fail(err, errlen,
                        "items: task keys_doors takes 0 or 1 distractor keys, got %d", cfg->items);
        break;
    default:
        if (cfg->items != 0)
            return err_fail(err, errlen, "items: task %s uses no items (expected 0), got %d", tn,
                        cfg->items);
        break;
    }
    return 0;
}

// ---------------------------------------------------------------------------
// Generation helpers

static void fill_rect(Env *e, int x0, int y0, int x1, int y1, int kind) {
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) e->grid[y * e->w + x] = (uint8_t)kind;
}

// Walls all round, floor inside.
static void make_room(Env *e) {
    fill_rect(e, 0, 0, e->w - 1, e->h - 1, ENV_WALL);
    fill_rect(e, 1, 1, e->w - 2, e->h - 2, ENV_EMPTY);
}

// A uniformly random cell of `kind` inside [x0..x1]x[y0..y1], skipping the
// cell index `skip` (-1: none). Returns the index, or -1 if there is none.
static int random_cell(Env *e, int kind, int x0, int y0, int x1, int y1, int skip) {
    // rejection sampling first (fast when such cells are common), then an
    // exact count; both are uniform and both are deterministic.
    int rw = x1 - x0 + 1, rh = y1 - y0 + 1;
    if (rw < 1 || rh < 1) return -1;
    for (int t = 0; t < 16; t++) {
        int i = (y0 + rng_int(&e->rng, rh)) * e->w + x0 + rng_int(&e->rng, rw);
        if (e->grid[i] == kind && i != skip) return i;
    }
    int n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            int i = y * e->w + x;
            n += e->grid[i] == kind && i != skip;
        }
    if (n == 0) return -1;
    int k = rng_int(&e->rng, n);
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            int i = y * e->w + x;
            if (e->grid[i] == kind && i != skip && k-- == 0) return i;
        }
    return -1;
}

// Put the agent on a random floor cell (not `skip`) with a random heading.
static void spawn_agent(Env *e, int skip) {
    int i = random_cell(e, ENV_EMPTY, 1, 1, e->w - 2, e->h - 2, skip);
    assert(i >= 0);
    e->ax = i % e->w;
    e->ay = i / e->w;
    e->dir = rng_int(&e->rng, 4);
}

// Randomized depth-first search over the cells at odd coordinates, then
// `extra` random interior walls between two cells knocked out (loops).
static void gen_maze(Env *e, int extra) {
    fill_rect(e, 0, 0, e->w - 1, e->h - 1, ENV_WALL);
    int cw = (e->w - 1) / 2, ch = (e->h - 1) / 2;
    uint8_t seen[(ENV_MAX_SIZE / 2) * (ENV_MAX_SIZE / 2)];
    int16_t stack[(ENV_MAX_SIZE / 2) * (ENV_MAX_SIZE / 2)];
    memset(seen, 0, sizeof seen);
    int top = 0;
    int start = rng_int(&e->rng, cw * ch);
    stack[top++] = (int16_t)start;
    seen[start] = 1;
    e->grid[(2 * (start / cw) + 1) * e->w + 2 * (start % cw) + 1] = ENV_EMPTY;
    while (top > 0) {
        int c = stack[top - 1], cx = c % cw, cy = c / cw;
        int nb[4], nn = 0;
        for (int d = 0; d < 4; d++) {
            int nx = cx + ENV_DX[d], ny = cy + ENV_DY[d];
            if (nx >= 0 && nx < cw && ny >= 0 && ny < ch && !seen[ny * cw + nx]) nb[nn++] = d;
        }
        if (nn == 0) {
            top--;
            continue;
        }
        int d = nb[rng_int(&e->rng, nn)];
        int nx = cx + ENV_DX[d], ny = cy + ENV_DY[d];
        seen[ny * cw + nx] = 1;
        stack[top++] = (int16_t)(ny * cw + nx);
        e->grid[(2 * cy + 1 + ENV_DY[d]) * e->w + 2 * cx + 1 + ENV_DX[d]] = ENV_EMPTY;
        e->grid[(2 * ny + 1) * e->w + 2 * nx + 1] = ENV_EMPTY;
    }
    for (int k = 0; k < extra; k++) {
        // candidate walls sit between two cells: exactly one coordinate even
        int n = 0;
        for (int y = 1; y < e->h - 1; y++)
            for (int x = 1; x < e->w - 1; x++)
                n += ((x ^ y) & 1) && e->grid[y * e->w + x] == ENV_WALL;
        if (n == 0) break;
        int pick = rng_int(&e->rng, n);
        for (int y = 1; y < e->h - 1 && pick >= 0; y++)
            for (int x = 1; x < e->w - 1; x++)
                if (((x ^ y) & 1) && e->grid[y * e->w + x] == ENV_WALL && pick-- == 0) {
                    e->grid[y * e->w + x] = ENV_EMPTY;
                    break;
                }
    }
}

// Is the part of [x0..x1]x[y0..y1] that is floor (cell `blocked` excluded)
// one connected piece? Used to keep keys_doors solvable.
static int region_connected(const Env *e, int x0, int y0, int x1, int y1, int blocked) {
    uint8_t seen[ENV_MAX_SIZE * ENV_MAX_SIZE];
    int16_t queue[ENV_MAX_SIZE * ENV_MAX_SIZE];
    memset(seen, 0, (size_t)(e->w * e->h));
    int total = 0, first = -1;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            int i = y * e->w + x;
            if (i != blocked && e->grid[i] == ENV_EMPTY) {
                total++;
                if (first < 0) first = i;
            }
        }
    if (total == 0) return 1;
    int qh = 0, qt = 0, reached = 0;
    queue[qt++] = (int16_t)first;
    seen[first] = 1;
    while (qh < qt) {
        int i = queue[qh++], x = i % e->w, y = i / e->w;
        reached++;
        for (int d = 0; d < 4; d++) {
            int nx = x + ENV_DX[d], ny = y + ENV_DY[d];
            if (nx < x0 || nx > x1 || ny < y0 || ny > y1) continue;
            int j = ny * e->w + nx;
            if (j == blocked || seen[j] || e->grid[j] != ENV_EMPTY) continue;
            seen[j] = 1;
            queue[qt++] = (int16_t)j;
        }
    }
    return reached == total;
}

// ---------------------------------------------------------------------------
// Tasks: generation

static void gen_goal(Env *e) {
    gen_maze(e, e->cfg.size / 3);
    int g = random_cell(e, ENV_EMPTY, 1, 1, e->w - 2, e->h - 2, -1);
    e->grid[g] = ENV_GOAL;
    e->tx = g % e->w;
    e->ty = g / e->w;
    spawn_agent(e, -1);
}

static void gen_watermaze(Env *e) {
    int w = e->w, h = e->h;
    make_room(e);
    fill_rect(e, 1, 0, w - 2, 0, ENV_CUE0);
    fill_rect(e, w - 1, 1, w - 1, h - 2, ENV_CUE1);
    fill_rect(e, 1, h - 1, w - 2, h - 1, ENV_CUE2);
    fill_rect(e, 0, 1, 0, h - 2, ENV_CUE3);
    int p = random_cell(e, ENV_EMPTY, 1, 1, w - 2, h - 2, -1);
    e->tx = p % w;
    e->ty = p / w;
    spawn_agent(e, p);
}

// Layout tried until the door's key and the door stay reachable whatever the
// agent does with the keys: with one key on the floor at either key cell the
// left room stays connected, and no key sits in front of the door.
static void gen_keys_doors(Env *e) {
    int w = e->w, h = e->h;
    for (int attempt = 0;; attempt++) {
        int distractor = e->cfg.items > 0 && attempt < 1000;
        make_room(e);
        int sx = 2 + rng_int(&e->rng, w - 4); // split column: 2..w-3
        fill_rect(e, sx, 1, sx, h - 2, ENV_WALL);
        int dy = 1 + rng_int(&e->rng, h - 2);
        int c = rng_int(&e->rng, 2);
        e->grid[dy * w + sx] = (uint8_t)(ENV_DOOR0 + c);
        int front = dy * w + sx - 1;
        int k = random_cell(e, ENV_EMPTY, 1, 1, sx - 1, h - 2, front);
        if (k < 0) continue;
        e->grid[k] = (uint8_t)(ENV_KEY0 + c);
        int dk = -1;
        if (distractor) {
            dk = random_cell(e, ENV_EMPTY, 1, 1, sx - 1, h - 2, front);
            if (dk < 0) continue;
            e->grid[dk] = (uint8_t)(ENV_KEY1 - c);
        }
        // connectivity with only one of the two keys on the floor
        e->grid[k] = ENV_EMPTY;
        int ok = region_connected(e, 1, 1, sx - 1, h - 2, dk);
        e->grid[k] = (uint8_t)(ENV_KEY0 + c);
        if (ok && dk >= 0) {
            e->grid[dk] = ENV_EMPTY;
            ok = region_connected(e, 1, 1, sx - 1, h - 2, k);
            e->grid[dk] = (uint8_t)(ENV_KEY1 - c);
        }
        if (!ok) continue;
        int a = random_cell(e, ENV_EMPTY, 1, 1, sx - 1, h - 2, -1);
        if (a < 0) continue;
        int g = random_cell(e, ENV_EMPTY, sx + 1, 1, w - 2, h - 2, -1);
        e->grid[g] = ENV_GOAL;
        e->tx = g % w;
        e->ty = g / w;
        e->ax = a % w;
        e->ay = a / w;
        e->dir = rng_int(&e->rng, 4);
        return;
    }
}

static void gen_seekavoid(Env *e) {
    make_room(e);
    for (int kind = ENV_APPLE; kind <= ENV_LEMON; kind++)
        for (int i = 0; i < e->cfg.items; i++) {
            int c = random_cell(e, ENV_EMPTY, 1, 1, e->w - 2, e->h - 2, -1);
            e->grid[c] = (uint8_t)kind;
        }
    spawn_agent(e, -1);
}

static void gen_tmaze(Env *e) {
    int w = e->w, h = e->h, cx = w / 2;
    fill_rect(e, 0, 0, w - 1, h - 1, ENV_WALL);
    fill_rect(e, 1, 1, w - 2, 1, ENV_EMPTY);      // the arms
    fill_rect(e, cx, 1, cx, h - 2, ENV_EMPTY);    // the corridor
    e->cue = rng_int(&e->rng, 2);
    e->grid[(h - 2) * w + cx - 1] = (uint8_t)(ENV_CUE0 + e->cue);
    e->tx = e->cue == 0 ? 1 : w - 2;
    e->ty = 1;
    e->ax = cx;
    e->ay = h - 2;
    e->dir = 0;
}

// Start an episode: everything drawn from e->rng, whose state is remembered.
static void start_episode(Env *e) {
    e->episode_rng = e->rng;
    e->w = e->h = e->cfg.size; // (a probe may have swapped in a hand-made map)
    if (e->cfg.task == ENV_TASK_TMAZE) e->w = TMAZE_W;
    e->steps = 0;
    e->ep_return = 0.0f;
    e->ep_success = 0;
    e->carrying = 0;
    e->picked = 0;
    e->cue = 0;
    e->tx = e->ty = 0;
    switch (e->cfg.task) {
    case ENV_TASK_GOAL: gen_goal(e); break;
    case ENV_TASK_WATERMAZE: gen_watermaze(e); break;
    case ENV_TASK_KEYS_DOORS: gen_keys_doors(e); break;
    case ENV_TASK_SEEKAVOID: gen_seekavoid(e); break;
    case ENV_TASK_TMAZE: gen_tmaze(e); break;
    default: assert(0 && "unknown task");
    }
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

static int count_kind(const Env *e, int kind) {
    int n = 0;
    for (int i = 0, N = e->w * e->h; i < N; i++) n += e->grid[i] == kind;
    return n;
}

float env_step(Env *e, int action, uint8_t *terminated, uint8_t *truncated) {
    return env_step_final(e, action, terminated, truncated, NULL);
}

float env_step_final(Env *e, int action, uint8_t *terminated, uint8_t *truncated,
                     uint8_t *final_obs) {
    assert(action >= 0 && action < ENV_A);
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
        int cell = e->grid[fi];
        switch (e->cfg.task) {
        case ENV_TASK_GOAL:
            if (cell == ENV_GOAL) {
                reward = 1.0f;
                e->ep_success++;
                spawn_agent(e, -1);
            }
            break;
        case ENV_TASK_WATERMAZE:
            if (fx == e->tx && fy == e->ty) {
                reward = 1.0f;
                e->ep_success++;
                spawn_agent(e, fi);
            }
            break;
        case ENV_TASK_KEYS_DOORS:
            if (cell == ENV_GOAL) {
                reward = 1.0f;
                e->ep_success = 1;
                term = 1;
            }
            break;
        case ENV_TASK_SEEKAVOID:
            if (cell == ENV_APPLE) {
                reward = 1.0f;
                e->grid[fi] = ENV_EMPTY;
                if (count_kind(e, ENV_APPLE) == 0) {
                    e->ep_success = 1;
                    term = 1;
                }
            } else if (cell == ENV_LEMON) {
                reward = -1.0f;
                e->grid[fi] = ENV_EMPTY;
            }
            break;
        case ENV_TASK_TMAZE:
            if (fy == 1 && (fx == 1 || fx == e->w - 2)) {
                term = 1;
                if (fx == e->tx && fy == e->ty) {
                    reward = 1.0f;
                    e->ep_success = 1;
                }
            }
            break;
        }
        break;
    }
    case ENV_INTERACT: {
        if (!inside) break;
        int cell = e->grid[fi];
        if (cell == ENV_KEY0 || cell == ENV_KEY1) {
            e->grid[fi] = (uint8_t)(e->carrying ? e->carrying : ENV_EMPTY);
            e->carrying = cell;
            // the key that opens a door still closed pays once per episode
            if (e->cfg.task == ENV_TASK_KEYS_DOORS && !e->picked &&
                count_kind(e, ENV_DOOR0 + (cell - ENV_KEY0)) > 0) {
                e->picked = 1;
                reward = 0.1f;
            }
        } else if ((cell == ENV_DOOR0 || cell == ENV_DOOR1) && e->carrying &&
                   e->carrying - ENV_KEY0 == cell - ENV_DOOR0) {
            e->grid[fi] = ENV_EMPTY;
            if (e->cfg.task == ENV_TASK_KEYS_DOORS) reward = 0.1f;
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
    char *p = buf;
    for (int y = 0; y < e->h; y++) {
        for (int x = 0; x < e->w; x++) {
            char ch = env_kind_char(e->grid[y * e->w + x]);
            if (e->cfg.task == ENV_TASK_WATERMAZE && x == e->tx && y == e->ty) ch = 'P';
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
