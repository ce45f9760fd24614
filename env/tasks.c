// tasks.c — the five tasks, each in one section (config checks, episode
// generator, step rule, oracle), and the table that names them (tasks.h).
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
// The oracle plans with world_plan (a shortest plan in steps over poses):
//   goal, watermaze, tmaze  walk to the target cell (goal, hidden platform,
//                           cued arm end);
//   seekavoid               walk to the nearest apple without touching a lemon
//                           (through lemons only when no clean path exists);
//   keys_doors              fetch the key of the closed door's colour (swapping
//                           away a wrong key), face the door and open it, then
//                           walk to the goal.
#include "env/tasks.h"

#include <stdio.h>
#include <string.h>

#include "base/errs.h"
#include "base/rng.h"
#include "env/world.h"

#define ENV_COMMA_ ,
const char *const ENV_TASK_NAMES[ENV_NTASKS] = {ENV_TASK_LIST(ENV_TASK_STR_, ENV_COMMA_)};
_Static_assert(sizeof((const char *[]){ENV_TASK_LIST(ENV_TASK_STR_, ENV_COMMA_)}) ==
                   ENV_NTASKS * sizeof(const char *),
               "ENV_TASK_LIST names every ENV_TASK_* value once");

// ---------------------------------------------------------------------------
// Checks shared by several tasks

static int check_size(const EnvConfig *cfg, char *err, size_t errlen) {
    if (cfg->size < 5 || cfg->size > ENV_MAX_SIZE)
        return err_fail(err, errlen, "size: task %s needs a size in 5..%d, got %d", ENV_TASK_NAMES[cfg->task],
                        ENV_MAX_SIZE, cfg->size);
    return 0;
}

static int check_no_items(const EnvConfig *cfg, char *err, size_t errlen) {
    if (cfg->items != 0)
        return err_fail(err, errlen, "items: task %s uses no items (expected 0), got %d", ENV_TASK_NAMES[cfg->task],
                        cfg->items);
    return 0;
}

// A size in range and no items (watermaze, tmaze).
static int check_plain(const EnvConfig *cfg, char *err, size_t errlen) {
    return check_size(cfg, err, errlen) < 0 ? -1 : check_no_items(cfg, err, errlen);
}

// Walk to the target cell through floor (and the cells in `also`).
static int oracle_to_target(const Env *e, uint32_t also) {
    return world_plan(e, WORLD_KIND_BIT(ENV_EMPTY) | also, WORLD_REACH, e->ty * e->w + e->tx, -1);
}

// ---------------------------------------------------------------------------
// goal

static int goal_check(const EnvConfig *cfg, char *err, size_t errlen) {
    int s = cfg->size;
    if (s < 5 || s > ENV_MAX_SIZE || s % 2 == 0)
        return err_fail(err, errlen,
                        "size: task goal builds a maze on odd coordinates and needs an odd size "
                        "in 5..%d, got %d",
                        ENV_MAX_SIZE, s);
    return check_no_items(cfg, err, errlen);
}

static void goal_generate(Env *e) {
    world_maze(e, e->cfg.size / 3);
    int g = world_random_cell(e, ENV_EMPTY, 1, 1, e->w - 2, e->h - 2, -1);
    e->grid[g] = ENV_GOAL;
    e->tx = g % e->w;
    e->ty = g / e->w;
    world_spawn(e, -1);
}

static float goal_enter(Env *e, int i, int cell, int *term) {
    if (cell != ENV_GOAL) return 0.0f;
    e->ep_success++;
    world_spawn(e, -1);
    return 1.0f;
}

static int goal_oracle(const Env *e) { return oracle_to_target(e, WORLD_KIND_BIT(ENV_GOAL)); }

// ---------------------------------------------------------------------------
// watermaze

static void watermaze_generate(Env *e) {
    int w = e->w, h = e->h;
    world_room(e);
    world_fill(e, 1, 0, w - 2, 0, ENV_CUE0);
    world_fill(e, w - 1, 1, w - 1, h - 2, ENV_CUE1);
    world_fill(e, 1, h - 1, w - 2, h - 1, ENV_CUE2);
    world_fill(e, 0, 1, 0, h - 2, ENV_CUE3);
    int p = world_random_cell(e, ENV_EMPTY, 1, 1, w - 2, h - 2, -1);
    e->tx = p % w;
    e->ty = p / w;
    world_spawn(e, p);
}

static float watermaze_enter(Env *e, int i, int cell, int *term) {
    if (e->ax != e->tx || e->ay != e->ty) return 0.0f;
    e->ep_success++;
    world_spawn(e, i);
    return 1.0f;
}

static int watermaze_oracle(const Env *e) { return oracle_to_target(e, 0); }

// ---------------------------------------------------------------------------
// keys_doors

static int keys_doors_check(const EnvConfig *cfg, char *err, size_t errlen) {
    if (check_size(cfg, err, errlen) < 0) return -1;
    if (cfg->items < 0 || cfg->items > 1)
        return err_fail(err, errlen, "items: task keys_doors takes 0 or 1 distractor keys, got %d", cfg->items);
    return 0;
}

// Layout tried until the door's key and the door stay reachable whatever the
// agent does with the keys: with one key on the floor at either key cell the
// left room stays connected, and no key sits in front of the door.
static void keys_doors_generate(Env *e) {
    int w = e->w, h = e->h;
    for (int attempt = 0;; attempt++) {
        int distractor = e->cfg.items > 0 && attempt < 1000;
        world_room(e);
        int sx = 2 + rng_int(&e->rng, w - 4); // split column: 2..w-3
        world_fill(e, sx, 1, sx, h - 2, ENV_WALL);
        int dy = 1 + rng_int(&e->rng, h - 2);
        int c = rng_int(&e->rng, 2);
        e->grid[dy * w + sx] = (uint8_t)(ENV_DOOR0 + c);
        int front = dy * w + sx - 1;
        int k = world_random_cell(e, ENV_EMPTY, 1, 1, sx - 1, h - 2, front);
        if (k < 0) continue;
        e->grid[k] = (uint8_t)(ENV_KEY0 + c);
        int dk = -1;
        if (distractor) {
            dk = world_random_cell(e, ENV_EMPTY, 1, 1, sx - 1, h - 2, front);
            if (dk < 0) continue;
            e->grid[dk] = (uint8_t)(ENV_KEY1 - c);
        }
        // connectivity with only one of the two keys on the floor
        e->grid[k] = ENV_EMPTY;
        int ok = world_connected(e, 1, 1, sx - 1, h - 2, dk);
        e->grid[k] = (uint8_t)(ENV_KEY0 + c);
        if (ok && dk >= 0) {
            e->grid[dk] = ENV_EMPTY;
            ok = world_connected(e, 1, 1, sx - 1, h - 2, k);
            e->grid[dk] = (uint8_t)(ENV_KEY1 - c);
        }
        if (!ok) continue;
        int a = world_random_cell(e, ENV_EMPTY, 1, 1, sx - 1, h - 2, -1);
        if (a < 0) continue;
        int g = world_random_cell(e, ENV_EMPTY, sx + 1, 1, w - 2, h - 2, -1);
        e->grid[g] = ENV_GOAL;
        e->tx = g % w;
        e->ty = g / w;
        e->ax = a % w;
        e->ay = a / w;
        e->dir = rng_int(&e->rng, 4);
        return;
    }
}

static float keys_doors_enter(Env *e, int i, int cell, int *term) {
    if (cell != ENV_GOAL) return 0.0f;
    e->ep_success = 1;
    *term = 1;
    return 1.0f;
}

static int keys_doors_oracle(const Env *e) {
    const uint32_t floor = WORLD_KIND_BIT(ENV_EMPTY);
    int door = world_find(e, ENV_DOOR0);
    if (door < 0) door = world_find(e, ENV_DOOR1);
    if (door < 0) return world_plan(e, floor | WORLD_KIND_BIT(ENV_GOAL), WORLD_REACH, -1, ENV_GOAL);
    int key = ENV_KEY0 + (e->grid[door] - ENV_DOOR0);
    if (e->carrying == key) return world_plan(e, floor, WORLD_FACE, door, -1);
    return world_plan(e, floor, WORLD_FACE, -1, key);
}

// ---------------------------------------------------------------------------
// seekavoid

static int seekavoid_check(const EnvConfig *cfg, char *err, size_t errlen) {
    if (check_size(cfg, err, errlen) < 0) return -1;
    int s = cfg->size, free_cells = (s - 2) * (s - 2) - 1; // interior minus the agent's cell
    if (cfg->items < 1 || cfg->items > free_cells / 2)
        return err_fail(err, errlen,
                        "items: task seekavoid at size %d needs 1..%d apples (apples + lemons "
                        "<= %d free cells), got %d",
                        s, free_cells / 2, free_cells, cfg->items);
    return 0;
}

static void seekavoid_generate(Env *e) {
    world_room(e);
    for (int kind = ENV_APPLE; kind <= ENV_LEMON; kind++)
        for (int i = 0; i < e->cfg.items; i++) {
            int c = world_random_cell(e, ENV_EMPTY, 1, 1, e->w - 2, e->h - 2, -1);
            e->grid[c] = (uint8_t)kind;
        }
    world_spawn(e, -1);
}

static float seekavoid_enter(Env *e, int i, int cell, int *term) {
    if (cell == ENV_APPLE) {
        e->grid[i] = ENV_EMPTY;
        if (world_count(e, ENV_APPLE) == 0) {
            e->ep_success = 1;
            *term = 1;
        }
        return 1.0f;
    }
    if (cell == ENV_LEMON) {
        e->grid[i] = ENV_EMPTY;
        return -1.0f;
    }
    return 0.0f;
}

static int seekavoid_oracle(const Env *e) {
    const uint32_t pass = WORLD_KIND_BIT(ENV_EMPTY) | WORLD_KIND_BIT(ENV_APPLE);
    int a = world_plan(e, pass, WORLD_REACH, -1, ENV_APPLE);
    if (a < 0) a = world_plan(e, pass | WORLD_KIND_BIT(ENV_LEMON), WORLD_REACH, -1, ENV_APPLE);
    return a;
}

// ---------------------------------------------------------------------------
// tmaze

static void tmaze_generate(Env *e) {
    int w = e->w, h = e->h, cx = w / 2;
    world_fill(e, 0, 0, w - 1, h - 1, ENV_WALL);
    world_fill(e, 1, 1, w - 2, 1, ENV_EMPTY);   // the arms
    world_fill(e, cx, 1, cx, h - 2, ENV_EMPTY); // the corridor
    e->cue = rng_int(&e->rng, 2);
    e->grid[(h - 2) * w + cx - 1] = (uint8_t)(ENV_CUE0 + e->cue);
    e->tx = e->cue == 0 ? 1 : w - 2;
    e->ty = 1;
    e->ax = cx;
    e->ay = h - 2;
    e->dir = 0;
}

static float tmaze_enter(Env *e, int i, int cell, int *term) {
    if (e->ay != 1 || (e->ax != 1 && e->ax != e->w - 2)) return 0.0f;
    *term = 1;
    if (e->ax != e->tx || e->ay != e->ty) return 0.0f;
    e->ep_success = 1;
    return 1.0f;
}

static int tmaze_oracle(const Env *e) { return oracle_to_target(e, 0); }

// ---------------------------------------------------------------------------
// The table

const EnvTask ENV_TASK_TABLE[ENV_NTASKS] = {
    [ENV_TASK_GOAL] = {
        .size = 9, .max_steps = 100,
        .check = goal_check, .generate = goal_generate, .enter = goal_enter, .respawns = 1,
        .oracle = goal_oracle, .goal_label = ENV_GOAL_CELL, .goal_name = "goal",
        .legend = {{ENV_GOAL, "goal +1"}},
    },
    [ENV_TASK_WATERMAZE] = {
        .size = 9, .max_steps = 100,
        .check = check_plain, .generate = watermaze_generate, .enter = watermaze_enter, .respawns = 1,
        .oracle = watermaze_oracle, .goal_label = ENV_GOAL_CELL, .goal_name = "platform", .goal_hidden = 1,
        .map_mark = 'P',
        .legend = {{ENV_CUE0, "cue N"}, {ENV_CUE1, "cue E"}, {ENV_CUE2, "cue S"}, {ENV_CUE3, "cue W"},
                   {ENV_LEGEND_TARGET, "platform +1 (hidden)"}},
    },
    [ENV_TASK_KEYS_DOORS] = {
        .size = 6, .max_steps = 100, .items = 1,
        .check = keys_doors_check, .generate = keys_doors_generate, .enter = keys_doors_enter,
        .key_reward = 0.1f,
        .oracle = keys_doors_oracle, .goal_label = ENV_GOAL_CELL, .goal_name = "goal",
        .legend = {{ENV_KEY0, "key blue"}, {ENV_DOOR0, "door blue"}, {ENV_KEY1, "key purple"},
                   {ENV_DOOR1, "door purple"}, {ENV_GOAL, "goal +1"}},
    },
    [ENV_TASK_SEEKAVOID] = {
        .size = 9, .max_steps = 100, .items = 6, .items_min = 1,
        .check = seekavoid_check, .generate = seekavoid_generate, .enter = seekavoid_enter,
        .oracle = seekavoid_oracle, .goal_label = ENV_GOAL_NONE, .goal_name = "goal",
        .legend = {{ENV_APPLE, "apple +1"}, {ENV_LEMON, "lemon -1"}},
    },
    // 9 wide (the arms); the side is the corridor's length + 3
    [ENV_TASK_TMAZE] = {
        .size = 9, .size_past_view = 4, .width = 9, .max_steps = 100,
        .check = check_plain, .generate = tmaze_generate, .enter = tmaze_enter,
        .oracle = tmaze_oracle, .goal_label = ENV_GOAL_CUE, .goal_name = "cue", .goal_hidden = 1,
        .legend = {{ENV_CUE0, "cue: go left"}, {ENV_CUE1, "cue: go right"},
                   {ENV_LEGEND_TARGET, "rewarded arm (hidden)"}},
    },
};

const EnvTask *env_task(int task) {
    return task >= 0 && task < ENV_NTASKS ? &ENV_TASK_TABLE[task] : NULL;
}

int env_task_from_name(const char *name) {
    if (!name) return -1;
    for (int t = 0; t < ENV_NTASKS; t++)
        if (strcmp(name, ENV_TASK_NAMES[t]) == 0) return t;
    return -1;
}

int env_task_list(char *out, size_t n, const char *sep) {
    size_t len = 0;
    if (n > 0) out[0] = '\0';
    for (int t = 0; t < ENV_NTASKS; t++) {
        int k = snprintf(len < n ? out + len : NULL, len < n ? n - len : 0, "%s%s", t ? sep : "", ENV_TASK_NAMES[t]);
        if (k < 0) return -1;
        len += (size_t)k;
    }
    return (int)len;
}

int env_goal_label(const Env *e) {
    const EnvTask *T = env_task(e->cfg.task);
    switch (T ? T->goal_label : ENV_GOAL_NONE) {
    case ENV_GOAL_CELL: return e->ty * ENV_MAX_SIZE + e->tx;
    case ENV_GOAL_CUE: return e->cue;
    default: return -1;
    }
}

int env_goal_classes(int task) {
    const EnvTask *T = env_task(task);
    switch (T ? T->goal_label : ENV_GOAL_NONE) {
    case ENV_GOAL_CELL: return ENV_MAX_SIZE * ENV_MAX_SIZE;
    case ENV_GOAL_CUE: return 2;
    default: return 0;
    }
}
