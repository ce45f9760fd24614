// test_env.c — the gridworld: determinism, generated layouts, occlusion on
// hand-built maps, every task's rewards and episode ends, self-reset and the
// episode log, batch vs single envs, config validation, the oracle, and the
// fast observation against the plain MiniGrid port.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lab/bench.h"
#include "env/env.h"
#include "env/rng.h"

#define MAXOBS (ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW)

static const int DX[4] = {0, 1, 0, -1};
static const int DY[4] = {-1, 0, 1, 0};

static EnvConfig task_cfg(int task) {
    EnvConfig c = {.task = task, .items = -1};
    env_config_defaults(&c);
    return c;
}

static int kind_of_char(char ch) {
    for (int k = 0; k < ENV_C; k++)
        if (env_kind_char(k) == ch) return k;
    return -1;
}

// Replace e's world by a map drawn as text: kind chars of env_kind_char, the
// agent as ^ > v < (standing on floor). Episode counters are cleared.
static void load_map(Env *e, const char *map) {
    int w = (int)(strchr(map, '\n') - map), h = 0;
    for (const char *p = map; *p; p++) h += *p == '\n';
    assert_true(w > 0 && w <= ENV_MAX_SIZE && h > 0 && h <= ENV_MAX_SIZE);
    e->w = w;
    e->h = h;
    int y = 0, x = 0;
    for (const char *p = map; *p; p++) {
        if (*p == '\n') {
            assert_int_equal(x, w);
            y++;
            x = 0;
            continue;
        }
        const char *ag = strchr("^>v<", *p);
        if (ag) {
            e->ax = x;
            e->ay = y;
            e->dir = (int)(ag - "^>v<");
            e->grid[y * w + x] = ENV_EMPTY;
        } else {
            int k = kind_of_char(*p);
            assert_true(k > 0);
            e->grid[y * w + x] = (uint8_t)k;
        }
        x++;
    }
    e->steps = 0;
    e->ep_return = 0;
    e->ep_success = 0;
    e->carrying = 0;
    e->picked = 0;
}

static void check_view(const Env *e, const char *expect) {
    uint8_t obs[MAXOBS], ref[MAXOBS];
    char buf[(ENV_MAX_VIEW + 1) * ENV_MAX_VIEW + 1];
    env_observe(e, obs);
    env_render_obs(obs, e->cfg.view, buf);
    if (strcmp(buf, expect) != 0) print_error("got view:\n%s\nexpected:\n%s\n", buf, expect);
    assert_string_equal(buf, expect);
    env_observe_ref(e, ref);
    assert_memory_equal(obs, ref, (size_t)ENV_C * e->cfg.view * e->cfg.view);
}

static void check_one_hot(const uint8_t *obs, int V) {
    for (int i = 0; i < V * V; i++) {
        int n = 0;
        for (int k = 0; k < ENV_C; k++) {
            uint8_t b = obs[k * V * V + i];
            assert_true(b <= 1);
            n += b;
        }
        assert_int_equal(n, 1);
    }
}

// ---------------------------------------------------------------------------
// Determinism

static void test_determinism(void **state) {
    (void)state;
    for (int t = 0; t < ENV_NTASKS; t++) {
        EnvConfig c = task_cfg(t);
        Env *a = malloc(sizeof *a), *b = malloc(sizeof *b), *o = malloc(sizeof *o);
        assert_non_null(a);
        assert_non_null(b);
        assert_non_null(o);
        env_init(a, &c, 1234);
        env_init(b, &c, 1234);
        env_init(o, &c, 1235);
        uint64_t r = 99;
        int differs = 0;
        size_t n = (size_t)ENV_C * c.view * c.view;
        for (int s = 0; s < 10000; s++) {
            int act = rng_int(&r, ENV_A);
            uint8_t ta, tra, tb, trb, to, tro;
            float ra = env_step(a, act, &ta, &tra);
            float rb = env_step(b, act, &tb, &trb);
            env_step(o, act, &to, &tro);
            assert_true(ra == rb);
            assert_int_equal(ta, tb);
            assert_int_equal(tra, trb);
            uint8_t oa[MAXOBS], ob[MAXOBS], oo[MAXOBS];
            env_observe(a, oa);
            env_observe(b, ob);
            env_observe(o, oo);
            assert_memory_equal(oa, ob, n);
            assert_true(env_hash(a) == env_hash(b));
            differs |= memcmp(oa, oo, n) != 0;
            differs |= env_hash(a) != env_hash(o);
        }
        assert_true(differs);
        assert_true(a->episode > 10);
        free(a);
        free(b);
        free(o);
    }
}

// Re-running an episode from its recorded rng state rebuilds the same world.
static void test_episode_rng_replays(void **state) {
    (void)state;
    for (int t = 0; t < ENV_NTASKS; t++) {
        EnvConfig c = task_cfg(t);
        Env a, b;
        env_init(&a, &c, 5);
        uint64_t r = 3;
        for (int s = 0; s < 700; s++) {
            uint8_t te, tr;
            env_step(&a, rng_int(&r, ENV_A), &te, &tr);
        }
        assert_true(a.episode >= 2);
        env_init(&b, &c, 77);
        b.rng = a.episode_rng;
        b.episode = a.episode - 1;
        env_reset(&b);
        assert_int_equal(b.episode, a.episode);
        // a has moved on within its episode; compare the layouts only
        Env a0 = a;
        a0.rng = a.episode_rng;
        a0.episode = a.episode - 1;
        env_reset(&a0);
        assert_true(env_hash(&a0) == env_hash(&b));
    }
}

// ---------------------------------------------------------------------------
// Generated layouts

// Cells reachable from `start` moving through kinds in `pass` (bit per kind).
static int flood(const Env *e, int start, uint32_t pass, uint8_t *seen) {
    int16_t q[ENV_MAX_SIZE * ENV_MAX_SIZE];
    memset(seen, 0, (size_t)(e->w * e->h));
    int qh = 0, qt = 0;
    q[qt++] = (int16_t)start;
    seen[start] = 1;
    while (qh < qt) {
        int i = q[qh++], x = i % e->w, y = i / e->w;
        for (int d = 0; d < 4; d++) {
            int nx = x + DX[d], ny = y + DY[d];
            if (nx < 0 || nx >= e->w || ny < 0 || ny >= e->h) continue;
            int j = ny * e->w + nx;
            if (seen[j] || !((pass >> e->grid[j]) & 1)) continue;
            seen[j] = 1;
            q[qt++] = (int16_t)j;
        }
    }
    return qt;
}

static int count_kind(const Env *e, int kind) {
    int n = 0;
    for (int i = 0; i < e->w * e->h; i++) n += e->grid[i] == kind;
    return n;
}

static int find_kind(const Env *e, int kind) {
    for (int i = 0; i < e->w * e->h; i++)
        if (e->grid[i] == kind) return i;
    return -1;
}

static int any_neighbour_seen(const Env *e, int i, const uint8_t *seen) {
    int x = i % e->w, y = i / e->w;
    for (int d = 0; d < 4; d++) {
        int nx = x + DX[d], ny = y + DY[d];
        if (nx >= 0 && nx < e->w && ny >= 0 && ny < e->h && seen[ny * e->w + nx]) return 1;
    }
    return 0;
}

#define B(k) (1u << (k))

static void check_border_opaque(const Env *e) {
    for (int y = 0; y < e->h; y++)
        for (int x = 0; x < e->w; x++) {
            if (x > 0 && y > 0 && x < e->w - 1 && y < e->h - 1) continue;
            int k = e->grid[y * e->w + x];
            assert_true(k == ENV_WALL || (k >= ENV_CUE0 && k <= ENV_CUE3));
        }
}

static void check_layout(const Env *e) {
    uint8_t seen[ENV_MAX_SIZE * ENV_MAX_SIZE];
    const int w = e->w, h = e->h, a = e->ay * w + e->ax;
    check_border_opaque(e);
    assert_int_equal(e->grid[a], ENV_EMPTY);
    assert_true(e->dir >= 0 && e->dir < 4);
    switch (e->cfg.task) {
    case ENV_TASK_GOAL: {
        assert_int_equal(count_kind(e, ENV_GOAL), 1);
        assert_int_equal(find_kind(e, ENV_GOAL), e->ty * w + e->tx);
        int n = flood(e, a, B(ENV_EMPTY) | B(ENV_GOAL), seen);
        assert_int_equal(n, w * h - count_kind(e, ENV_WALL)); // connected maze
        assert_true(seen[e->ty * w + e->tx]);
        // loops: more floor edges than a tree has
        int cells = n, edges = 0;
        for (int i = 0; i < w * h; i++) {
            if (e->grid[i] == ENV_WALL) continue;
            if (i % w + 1 < w && e->grid[i + 1] != ENV_WALL) edges++;
            if (i / w + 1 < h && e->grid[i + w] != ENV_WALL) edges++;
        }
        assert_true(edges >= cells); // cells - 1 edges would be a tree
        break;
    }
    case ENV_TASK_WATERMAZE:
        for (int x = 1; x < w - 1; x++) {
            assert_int_equal(e->grid[x], ENV_CUE0);
            assert_int_equal(e->grid[(h - 1) * w + x], ENV_CUE2);
        }
        for (int y = 1; y < h - 1; y++) {
            assert_int_equal(e->grid[y * w + w - 1], ENV_CUE1);
            assert_int_equal(e->grid[y * w], ENV_CUE3);
        }
        assert_true(e->tx >= 1 && e->tx <= w - 2 && e->ty >= 1 && e->ty <= h - 2);
        assert_false(e->tx == e->ax && e->ty == e->ay);
        assert_int_equal(flood(e, a, B(ENV_EMPTY), seen), (w - 2) * (h - 2));
        break;
    case ENV_TASK_KEYS_DOORS: {
        assert_int_equal(count_kind(e, ENV_DOOR0) + count_kind(e, ENV_DOOR1), 1);
        int door = find_kind(e, ENV_DOOR0) >= 0 ? find_kind(e, ENV_DOOR0) : find_kind(e, ENV_DOOR1);
        int colour = e->grid[door] - ENV_DOOR0, sx = door % w;
        int key = find_kind(e, ENV_KEY0 + colour), other = find_kind(e, ENV_KEY1 - colour);
        assert_int_equal(count_kind(e, ENV_KEY0 + colour), 1);
        assert_int_equal(count_kind(e, ENV_KEY1 - colour), e->cfg.items);
        assert_int_equal(count_kind(e, ENV_GOAL), 1);
        assert_int_equal(find_kind(e, ENV_GOAL), e->ty * w + e->tx);
        assert_true(key % w < sx && e->ax < sx && e->tx > sx);
        if (other >= 0) assert_true(other % w < sx);
        for (int y = 1; y < h - 1; y++)
            if (y * w + sx != door) assert_int_equal(e->grid[y * w + sx], ENV_WALL);
        // the key can be reached and, once taken, the door too; and with a
        // single key left on the floor at either key cell the left room
        // stays connected, so swapping keys never locks the agent in
        flood(e, a, B(ENV_EMPTY), seen);
        assert_true(any_neighbour_seen(e, key, seen));
        Env f = *e;
        f.grid[key] = ENV_EMPTY;
        flood(&f, a, B(ENV_EMPTY), seen);
        assert_true(seen[door - 1]);
        int left_floor = 0;
        for (int y = 1; y < h - 1; y++)
            for (int x = 1; x < sx; x++) left_floor += f.grid[y * w + x] == ENV_EMPTY;
        assert_int_equal(flood(&f, door - 1, B(ENV_EMPTY), seen), left_floor);
        if (other >= 0) {
            f = *e;
            f.grid[other] = ENV_EMPTY;
            assert_int_equal(flood(&f, door - 1, B(ENV_EMPTY), seen), left_floor);
        }
        f.grid[door] = ENV_EMPTY;
        flood(&f, a, B(ENV_EMPTY) | B(ENV_GOAL) | B(ENV_KEY0) | B(ENV_KEY1), seen);
        assert_true(seen[e->ty * w + e->tx]);
        break;
    }
    case ENV_TASK_SEEKAVOID:
        assert_int_equal(count_kind(e, ENV_APPLE), e->cfg.items);
        assert_int_equal(count_kind(e, ENV_LEMON), e->cfg.items);
        assert_int_equal(flood(e, a, B(ENV_EMPTY) | B(ENV_APPLE) | B(ENV_LEMON), seen),
                         (w - 2) * (h - 2));
        break;
    case ENV_TASK_TMAZE: {
        int cx = w / 2;
        assert_int_equal(e->ax, cx);
        assert_int_equal(e->ay, h - 2);
        assert_int_equal(e->dir, 0);
        assert_int_equal(e->grid[(h - 2) * w + cx - 1], ENV_CUE0 + e->cue);
        assert_int_equal(e->tx, e->cue == 0 ? 1 : w - 2);
        assert_int_equal(e->ty, 1);
        flood(e, a, B(ENV_EMPTY), seen);
        assert_true(seen[w + 1] && seen[w + w - 2]);
        break;
    }
    }
}

static void test_layouts_reachable(void **state) {
    (void)state;
    static const int sizes[ENV_NTASKS][4] = {
        {9, 5, 15, 41}, {9, 5, 12, 41}, {7, 5, 8, 20}, {9, 5, 6, 30}, {11, 5, 9, 41}};
    for (int t = 0; t < ENV_NTASKS; t++)
        for (int si = 0; si < 4; si++) {
            EnvConfig c = {.task = t, .size = sizes[t][si], .items = -1};
            if (t == ENV_TASK_SEEKAVOID && sizes[t][si] == 5) c.items = 4; // 8 of 8 free cells
            env_config_defaults(&c);
            char err[200];
            assert_int_equal(env_config_check(&c, err, sizeof err), 0);
            int seeds = si == 0 ? 3000 : 300;
            for (int s = 0; s < seeds; s++) {
                Env e;
                env_init(&e, &c, (uint64_t)s * 7919u + (uint64_t)t);
                check_layout(&e);
                if (t == ENV_TASK_KEYS_DOORS && s % 2) { // and with no distractor
                    EnvConfig c0 = c;
                    c0.items = 0;
                    env_init(&e, &c0, (uint64_t)s);
                    check_layout(&e);
                }
            }
        }
}

// ---------------------------------------------------------------------------
// Occlusion on hand-built maps (expected views worked out by hand)

static void test_occlusion_wall_ahead(void **state) {
    (void)state;
    EnvConfig c = task_cfg(ENV_TASK_GOAL);
    Env e;
    env_init(&e, &c, 1);
    // a pocket: wall ahead and at both sides; the goal behind stays hidden
    load_map(&e, "..G..\n"
                 ".....\n"
                 ".###.\n"
                 ".#^#.\n");
    check_view(&e, "???????\n"
                   "???????\n"
                   "???????\n"
                   "???????\n"
                   "???????\n"
                   "??###??\n"
                   "??#^#??\n");
    // MiniGrid light goes around a single block: with the sides open, the
    // cell behind the wall ahead is lit diagonally
    load_map(&e, "..G..\n"
                 ".....\n"
                 "..#..\n"
                 ".#^#.\n");
    check_view(&e, "???????\n"
                   "???????\n"
                   "???????\n"
                   "?..G..?\n"
                   "?.....?\n"
                   "?..#..?\n"
                   "??#^#??\n");
    load_map(&e, "..G..\n"
                 ".....\n"
                 "..#..\n"
                 "..^..\n");
    check_view(&e, "???????\n"
                   "???????\n"
                   "???????\n"
                   "?..G..?\n"
                   "?.....?\n"
                   "?..#..?\n"
                   "?..^..?\n");
}

static void test_occlusion_corridor(void **state) {
    (void)state;
    EnvConfig c = task_cfg(ENV_TASK_GOAL);
    Env e;
    env_init(&e, &c, 1);
    load_map(&e, "##G##\n"
                 "##.##\n"
                 "##.##\n"
                 "#...#\n"
                 "##.##\n"
                 "##.##\n"
                 "##^##\n"
                 "#####\n");
    check_view(&e, "??#G#??\n"
                   "??#.#??\n"
                   "?##.##?\n"
                   "?#...#?\n"
                   "??#.#??\n"
                   "??#.#??\n"
                   "??#^#??\n");
    e.carrying = ENV_KEY1; // the agent's cell shows the carried key
    check_view(&e, "??#G#??\n"
                   "??#.#??\n"
                   "?##.##?\n"
                   "?#...#?\n"
                   "??#.#??\n"
                   "??#.#??\n"
                   "??#K#??\n");
    // a closed door is opaque like a wall
    e.carrying = 0;
    e.grid[4 * 5 + 2] = ENV_DOOR0;
    check_view(&e, "???????\n"
                   "???????\n"
                   "???????\n"
                   "???????\n"
                   "??#d#??\n"
                   "??#.#??\n"
                   "??#^#??\n");
}

static void test_occlusion_corner(void **state) {
    (void)state;
    EnvConfig c = task_cfg(ENV_TASK_GOAL);
    Env e;
    env_init(&e, &c, 1);
    // a corridor turning east at the top; the room east of it stays hidden
    load_map(&e, "#######\n"
                 "#....G#\n"
                 "#.#####\n"
                 "#.#...#\n"
                 "#^#...#\n"
                 "#######\n");
    check_view(&e, "???????\n"
                   "???????\n"
                   "??#####\n"
                   "??#....\n"
                   "??#.#??\n"
                   "??#.#??\n"
                   "??#^#??\n");
}

static void test_occlusion_rotated(void **state) {
    (void)state;
    EnvConfig c = task_cfg(ENV_TASK_GOAL);
    Env e;
    env_init(&e, &c, 1);
    // facing east: the agent's right is south, where the light leaks
    load_map(&e, "....\n"
                 "##..\n"
                 ">#G.\n"
                 "#...\n");
    check_view(&e, "???????\n"
                   "???????\n"
                   "???????\n"
                   "?....??\n"
                   "?..G.??\n"
                   "??##.??\n"
                   "??#^#??\n");
    // the same map turned upside down, facing west: right is north
    load_map(&e, "...#\n"
                 ".G#<\n"
                 "..##\n"
                 "....\n");
    check_view(&e, "???????\n"
                   "???????\n"
                   "???????\n"
                   "?....??\n"
                   "?..G.??\n"
                   "??##.??\n"
                   "??#^#??\n");
    // facing south from the top: a 3x3 view
    c.view = 3;
    env_init(&e, &c, 1);
    load_map(&e, "#v.\n"
                 "aG#\n"
                 "l..\n");
    // right is west: columns run x = 2, 1, 0; rows y = 2, 1, 0
    check_view(&e, "..l\n"
                   "#Ga\n"
                   ".^#\n");
}

// Fast observation == the plain MiniGrid port on random worlds and poses.
static void test_observe_matches_reference(void **state) {
    (void)state;
    uint64_t r = 2024;
    EnvConfig c = task_cfg(ENV_TASK_GOAL);
    Env e;
    env_init(&e, &c, 1);
    uint8_t obs[MAXOBS + 1], ref[MAXOBS];
    for (int it = 0; it < 30000; it++) {
        e.w = 1 + rng_int(&r, 20);
        e.h = 1 + rng_int(&r, 20);
        int open = rng_int(&r, 100); // % of floor
        for (int i = 0; i < e.w * e.h; i++)
            e.grid[i] = (uint8_t)(rng_int(&r, 100) < open ? ENV_EMPTY : 1 + rng_int(&r, ENV_C - 1));
        e.ax = rng_int(&r, e.w);
        e.ay = rng_int(&r, e.h);
        e.dir = rng_int(&r, 4);
        e.carrying = (int[]){0, ENV_KEY0, ENV_KEY1}[rng_int(&r, 3)];
        e.cfg.view = 3 + 2 * rng_int(&r, (ENV_MAX_VIEW - 1) / 2);
        size_t n = (size_t)ENV_C * e.cfg.view * e.cfg.view;
        memset(obs, 0xAB, sizeof obs);
        env_observe(&e, obs);
        env_observe_ref(&e, ref);
        assert_memory_equal(obs, ref, n);
        check_one_hot(obs, e.cfg.view);
        assert_int_equal(obs[n], 0xAB); // nothing written past the block
    }
}

// ---------------------------------------------------------------------------
// Tasks: scripted episodes on hand-set states

static float step(Env *e, int a, uint8_t *term, uint8_t *trunc) {
    return env_step(e, a, term, trunc);
}

static void test_moves_and_blocking(void **state) {
    (void)state;
    EnvConfig c = task_cfg(ENV_TASK_GOAL);
    Env e;
    env_init(&e, &c, 1);
    load_map(&e, "#####\n"
                 "#k1D#\n"
                 "#.^.#\n"
                 "#...#\n"
                 "#####\n");
    uint8_t te, tr;
    assert_true(step(&e, ENV_FORWARD, &te, &tr) == 0.0f); // cue block
    assert_int_equal(e.ay, 2);
    assert_int_equal(step(&e, ENV_INTERACT, &te, &tr), 0); // no-op on a cue
    assert_int_equal(e.grid[1 * 5 + 2], ENV_CUE1);
    step(&e, ENV_LEFT, &te, &tr);
    assert_int_equal(e.dir, 3);
    step(&e, ENV_FORWARD, &te, &tr);
    assert_int_equal(e.ax, 1);
    step(&e, ENV_RIGHT, &te, &tr);
    assert_int_equal(e.dir, 0);
    step(&e, ENV_FORWARD, &te, &tr); // key blocks
    assert_int_equal(e.ay, 2);
    step(&e, ENV_INTERACT, &te, &tr); // pick it up
    assert_int_equal(e.carrying, ENV_KEY0);
    assert_int_equal(e.grid[1 * 5 + 1], ENV_EMPTY);
    step(&e, ENV_FORWARD, &te, &tr);
    assert_int_equal(e.ay, 1);
    step(&e, ENV_FORWARD, &te, &tr); // outer wall
    assert_int_equal(e.ay, 1);
    // a door of the other colour stays shut
    load_map(&e, "#####\n"
                 "#..D#\n"
                 "#..^#\n"
                 "#####\n");
    e.carrying = ENV_KEY0;
    step(&e, ENV_INTERACT, &te, &tr);
    assert_int_equal(e.grid[1 * 5 + 3], ENV_DOOR1);
    step(&e, ENV_FORWARD, &te, &tr);
    assert_int_equal(e.ay, 2);
    e.carrying = ENV_KEY1;
    step(&e, ENV_INTERACT, &te, &tr);
    assert_int_equal(e.grid[1 * 5 + 3], ENV_EMPTY);
    assert_int_equal(e.carrying, ENV_KEY1);
    step(&e, ENV_FORWARD, &te, &tr);
    assert_int_equal(e.ay, 1);
    assert_int_equal(e.steps, 4); // since load_map
}

static void test_task_goal(void **state) {
    (void)state;
    EnvConfig c = task_cfg(ENV_TASK_GOAL);
    Env e;
    env_init(&e, &c, 1);
    load_map(&e, "#####\n"
                 "#.G.#\n"
                 "#.^.#\n"
                 "#####\n");
    e.tx = 2;
    e.ty = 1;
    uint8_t te, tr;
    float r = step(&e, ENV_FORWARD, &te, &tr);
    assert_true(r == 1.0f);
    assert_int_equal(te, 0);
    assert_int_equal(tr, 0);
    assert_int_equal(e.ep_success, 1);
    assert_int_equal(e.grid[1 * 5 + 2], ENV_GOAL); // the goal stays put
    assert_int_equal(e.grid[e.ay * 5 + e.ax], ENV_EMPTY); // respawned on floor
    for (int s = 1; s < c.max_steps - 1; s++) {
        assert_true(step(&e, ENV_LEFT, &te, &tr) == 0.0f);
        assert_int_equal(te | tr, 0);
    }
    assert_int_equal(e.steps, c.max_steps - 1);
    assert_true(step(&e, ENV_LEFT, &te, &tr) == 0.0f);
    assert_int_equal(te, 0);
    assert_int_equal(tr, 1); // time limit
    assert_int_equal(e.steps, 0); // reset itself
    assert_int_equal(e.episode, 1);
    EnvLog log = {0};
    env_log_take(&e, &log);
    assert_true(log.episodes == 1.0f && log.ret == 1.0f && log.success == 1.0f);
    assert_true(log.length == (float)c.max_steps);
    EnvLog empty = {0};
    env_log_take(&e, &empty);
    assert_true(empty.episodes == 0.0f && empty.ret == 0.0f);
}

static void test_task_watermaze(void **state) {
    (void)state;
    EnvConfig c = task_cfg(ENV_TASK_WATERMAZE);
    Env e;
    env_init(&e, &c, 1);
    int w = e.w;
    e.tx = 3;
    e.ty = 3;
    e.ax = 3;
    e.ay = 4;
    e.dir = 0;
    uint8_t te, tr;
    uint8_t obs[MAXOBS];
    env_observe(&e, obs);
    check_one_hot(obs, c.view);
    assert_int_equal(obs[ENV_EMPTY * 49 + 5 * 7 + 3], 1); // the platform looks like floor
    float r = step(&e, ENV_FORWARD, &te, &tr);
    assert_true(r == 1.0f);
    assert_int_equal(te | tr, 0);
    assert_int_equal(e.ep_success, 1);
    assert_false(e.ax == 3 && e.ay == 3);
    assert_true(e.ax >= 1 && e.ax <= w - 2 && e.ay >= 1 && e.ay <= e.h - 2);
    // standing on it without a forward move pays nothing
    e.ax = 3;
    e.ay = 3;
    e.dir = 0;
    assert_true(step(&e, ENV_LEFT, &te, &tr) == 0.0f);
    assert_true(step(&e, ENV_INTERACT, &te, &tr) == 0.0f);
    char map[(ENV_MAX_SIZE + 1) * ENV_MAX_SIZE + 1];
    env_render_map(&e, map);
    assert_int_equal(map[0 * (w + 1) + 1], '0');
    assert_int_equal(map[3 * (w + 1) + 0], '3');
    assert_int_equal(map[3 * (w + 1) + 3], '<'); // agent drawn over the platform
    e.ax = 1;
    e.ay = 1;
    env_render_map(&e, map);
    assert_int_equal(map[3 * (w + 1) + 3], 'P');
}

static void test_task_keys_doors(void **state) {
    (void)state;
    EnvConfig c = task_cfg(ENV_TASK_KEYS_DOORS);
    Env e;
    env_init(&e, &c, 1);
    load_map(&e, "#######\n"
                 "#K..#.#\n"
                 "#>k.d.#\n"
                 "#...#G#\n"
                 "#...#.#\n"
                 "#...#.#\n"
                 "#######\n");
    e.tx = 5;
    e.ty = 3;
    uint8_t te = 0, tr = 0;
    float ret = 0;
    struct { int a; float r; } script[] = {
        {ENV_LEFT, 0},      {ENV_INTERACT, 0},   // take the distractor (no reward)
        {ENV_RIGHT, 0},     {ENV_INTERACT, 0.1f}, // swap it for the door's key: +0.1
        {ENV_INTERACT, 0},  {ENV_INTERACT, 0},   // swap back and again: paid once
        {ENV_FORWARD, 0},                        // the dropped key blocks
        {ENV_RIGHT, 0},     {ENV_FORWARD, 0},    {ENV_LEFT, 0}, {ENV_FORWARD, 0},
        {ENV_FORWARD, 0},   {ENV_FORWARD, 0},    // wall at (4,3)
        {ENV_LEFT, 0},      {ENV_FORWARD, 0},    {ENV_RIGHT, 0},
        {ENV_FORWARD, 0},                        // closed door blocks
        {ENV_INTERACT, 0.1f},                    // open: +0.1
        {ENV_FORWARD, 0},   {ENV_FORWARD, 0},    {ENV_RIGHT, 0},
        {ENV_FORWARD, 1.0f},                     // goal: +1, terminated
    };
    int n = (int)(sizeof script / sizeof script[0]);
    for (int i = 0; i < n; i++) {
        float r = step(&e, script[i].a, &te, &tr);
        assert_true(r == script[i].r);
        ret += r;
        if (i == 1) assert_int_equal(e.carrying, ENV_KEY1);
        if (i == 3) {
            assert_int_equal(e.carrying, ENV_KEY0);
            assert_int_equal(e.grid[2 * 7 + 2], ENV_KEY1);
        }
        if (i == 6) assert_int_equal(e.ax, 1);
        if (i == 12) assert_int_equal(e.ax, 3);
        if (i == 16) assert_int_equal(e.ax, 3);
        if (i == 17) {
            assert_int_equal(e.grid[2 * 7 + 4], ENV_EMPTY);
            assert_int_equal(e.carrying, ENV_KEY0);
        }
        if (i < n - 1) assert_int_equal(te | tr, 0);
    }
    assert_int_equal(te, 1);
    assert_int_equal(tr, 0);
    EnvLog log = {0};
    env_log_take(&e, &log);
    assert_true(log.episodes == 1.0f && log.success == 1.0f);
    assert_true(log.length == (float)n);
    assert_true(log.ret == ret);
    assert_float_equal(log.ret, 1.2f, 1e-6);
    assert_int_equal(e.steps, 0);
    assert_int_equal(e.picked, 0);
    // truncation without success
    for (int s = 0; s < c.max_steps; s++) step(&e, ENV_LEFT, &te, &tr);
    assert_int_equal(tr, 1);
    assert_int_equal(te, 0);
    env_log_take(&e, &log);
    assert_true(log.episodes == 2.0f && log.success == 1.0f);
}

static void test_task_seekavoid(void **state) {
    (void)state;
    EnvConfig c = task_cfg(ENV_TASK_SEEKAVOID);
    Env e;
    env_init(&e, &c, 1);
    load_map(&e, "######\n"
                 "#>al.#\n"
                 "#...a#\n"
                 "######\n");
    e.cfg.max_steps = 5; // the last apple comes on the last step: terminated wins
    uint8_t te, tr;
    assert_true(step(&e, ENV_FORWARD, &te, &tr) == 1.0f);
    assert_int_equal(e.grid[1 * 6 + 2], ENV_EMPTY);
    assert_int_equal(te | tr, 0);
    assert_true(step(&e, ENV_FORWARD, &te, &tr) == -1.0f);
    assert_int_equal(e.grid[1 * 6 + 3], ENV_EMPTY);
    assert_true(step(&e, ENV_FORWARD, &te, &tr) == 0.0f);
    assert_true(step(&e, ENV_RIGHT, &te, &tr) == 0.0f);
    assert_int_equal(te | tr, 0);
    assert_true(step(&e, ENV_FORWARD, &te, &tr) == 1.0f); // last apple
    assert_int_equal(te, 1);
    assert_int_equal(tr, 0);
    EnvLog log = {0};
    env_log_take(&e, &log);
    assert_true(log.episodes == 1.0f && log.ret == 1.0f && log.success == 1.0f &&
                log.length == 5.0f);
    // the new episode is a fresh generated room
    assert_int_equal(count_kind(&e, ENV_APPLE), c.items);
    assert_int_equal(e.w, c.size);
}

static void test_task_tmaze(void **state) {
    (void)state;
    EnvConfig c = task_cfg(ENV_TASK_TMAZE);
    Env e;
    env_init(&e, &c, 3);
    const int V = c.view, VV = V * V;
    uint8_t te = 0, tr = 0, obs[MAXOBS];
    int seen_cue[2] = {0, 0};
    for (int ep = 0; ep < 40; ep++) {
        int cue = e.cue, cx = e.w / 2;
        // visible at the start, in the agent's row, left of it
        env_observe(&e, obs);
        assert_int_equal(obs[(ENV_CUE0 + cue) * VV + (V - 1) * V + V / 2 - 1], 1);
        seen_cue[cue] = 1;
        float ret = 0;
        for (int s = 0; s < e.h - 3; s++) ret += step(&e, ENV_FORWARD, &te, &tr);
        assert_int_equal(e.ax, cx);
        assert_int_equal(e.ay, 1);
        // from the junction the cue is out of sight whatever the heading
        for (int d = 0; d < 4; d++) {
            env_observe(&e, obs);
            for (int k = ENV_CUE0; k <= ENV_CUE3; k++)
                for (int i = 0; i < VV; i++) assert_int_equal(obs[k * VV + i], 0);
            step(&e, ENV_LEFT, &te, &tr);
        }
        int want = ep % 3; // 0: cued arm, 1: other arm, 2: time out
        if (want == 2) {
            while (!tr) {
                ret += step(&e, ENV_LEFT, &te, &tr);
                assert_int_equal(te, 0);
            }
            assert_true(ret == 0.0f);
            continue;
        }
        int go_left = (cue == 0) == (want == 0);
        ret += step(&e, go_left ? ENV_LEFT : ENV_RIGHT, &te, &tr);
        int arm = cx - 1;
        for (int s = 0; s < arm; s++) {
            assert_int_equal(te, 0);
            ret += step(&e, ENV_FORWARD, &te, &tr);
        }
        assert_int_equal(te, 1);
        assert_int_equal(tr, 0);
        assert_true(ret == (want == 0 ? 1.0f : 0.0f));
    }
    assert_true(seen_cue[0] && seen_cue[1]);
    EnvLog log = {0};
    env_log_take(&e, &log);
    assert_true(log.episodes == 40.0f);
    assert_true(log.success == 14.0f && log.ret == 14.0f); // ep % 3 == 0
}

// ---------------------------------------------------------------------------
// Self-reset and the log: the stats equal what the steps summed

static void test_log_matches_steps(void **state) {
    (void)state;
    for (int t = 0; t < ENV_NTASKS; t++) {
        EnvConfig c = task_cfg(t);
        if (t == ENV_TASK_TMAZE) c.max_steps = 200; // let random walks finish some
        Env e;
        env_init(&e, &c, 11);
        uint64_t r = 8;
        double ret = 0, ep_ret = 0, len = 0;
        int episodes = 0, successes = 0, ep_len = 0, ep_succ = 0, terms = 0;
        uint64_t ep_index = 0;
        for (int s = 0; s < 30000; s++) {
            uint8_t te, tr;
            float rw = env_step(&e, rng_int(&r, ENV_A), &te, &tr);
            ep_ret += rw;
            ep_len++;
            assert_false(te && tr);
            if (t == ENV_TASK_GOAL || t == ENV_TASK_WATERMAZE || t == ENV_TASK_TMAZE)
                ep_succ |= rw == 1.0f;
            else
                ep_succ |= te;
            if (te || tr) {
                assert_true(ep_len <= c.max_steps);
                if (tr) assert_int_equal(ep_len, c.max_steps);
                terms += te;
                episodes++;
                successes += ep_succ;
                ret += ep_ret;
                len += ep_len;
                ep_ret = 0;
                ep_len = 0;
                ep_succ = 0;
                ep_index++;
                assert_int_equal(e.episode, ep_index);
                assert_int_equal(e.steps, 0);
                assert_true(e.ep_return == 0.0f);
            }
        }
        EnvLog log = {0};
        env_log_take(&e, &log);
        assert_true(episodes > 50);
        assert_true(log.episodes == (float)episodes);
        assert_true(log.length == (float)len);
        assert_true(log.success == (float)successes);
        assert_float_equal(log.ret, ret, 1e-3);
        if (t == ENV_TASK_KEYS_DOORS || t == ENV_TASK_TMAZE) assert_true(terms > 0);
    }
}

// ---------------------------------------------------------------------------
// A batch of B envs is B single envs

static void test_batch_equals_singles(void **state) {
    (void)state;
    enum { NB = 7 };
    for (int t = 0; t < ENV_NTASKS; t++) {
        EnvConfig c = task_cfg(t);
        VecEnv v;
        assert_int_equal(vec_init(&v, &c, NB, 42), 0);
        assert_int_equal(v.obs_size, (size_t)ENV_C * c.view * c.view);
        Env *s = malloc(sizeof(Env) * NB);
        uint8_t *obs = malloc(v.obs_size * NB), *o1 = malloc(v.obs_size);
        assert_non_null(s);
        assert_non_null(obs);
        assert_non_null(o1);
        for (int i = 0; i < NB; i++) env_init(&s[i], &c, rng_derive(42, (uint64_t)i));
        vec_observe(&v, obs);
        for (int i = 0; i < NB; i++) {
            env_observe(&s[i], o1);
            assert_memory_equal(obs + i * v.obs_size, o1, v.obs_size);
        }
        uint64_t r = 17;
        for (int step_i = 0; step_i < 3000; step_i++) {
            int act[NB];
            float rew[NB];
            uint8_t te[NB], tr[NB];
            for (int i = 0; i < NB; i++) act[i] = rng_int(&r, ENV_A);
            vec_step(&v, act, obs, rew, te, tr);
            for (int i = 0; i < NB; i++) {
                uint8_t te1, tr1;
                float r1 = env_step(&s[i], act[i], &te1, &tr1);
                env_observe(&s[i], o1);
                assert_memory_equal(&rew[i], &r1, sizeof r1);
                assert_int_equal(te[i], te1);
                assert_int_equal(tr[i], tr1);
                assert_memory_equal(obs + i * v.obs_size, o1, v.obs_size);
                check_one_hot(obs + i * v.obs_size, c.view);
            }
        }
        EnvLog lv = {0}, ls = {0};
        vec_log_take(&v, &lv);
        for (int i = 0; i < NB; i++) env_log_take(&s[i], &ls);
        assert_memory_equal(&lv, &ls, sizeof lv);
        assert_true(lv.episodes > 0);
        free(s);
        free(obs);
        free(o1);
        vec_free(&v);
        assert_null(v.envs);
    }
}

// ---------------------------------------------------------------------------
// Configs

static void expect_bad(EnvConfig c, const char *field) {
    char err[256] = "";
    env_config_defaults(&c);
    assert_int_equal(env_config_check(&c, err, sizeof err), -1);
    if (!strstr(err, field)) print_error("message '%s' does not name '%s'\n", err, field);
    assert_non_null(strstr(err, field));
    assert_true(strstr(err, "got") != NULL);
    char tiny[8];
    assert_int_equal(env_config_check(&c, tiny, sizeof tiny), -1);
    assert_true(strlen(tiny) < sizeof tiny);
    assert_int_equal(env_config_check(&c, NULL, 0), -1);
    VecEnv v;
    assert_int_equal(vec_init(&v, &c, 4, 1), -1);
    assert_null(v.envs);
    BaselineResult br;
    assert_int_equal(env_baseline(&c, 1, 10, 1, &br), -1);
    assert_true(bench_env(&c, 4, 0.01, 1) < 0);
}

static void test_bad_configs(void **state) {
    (void)state;
    expect_bad((EnvConfig){.task = 99}, "task");
    expect_bad((EnvConfig){.task = -1}, "task");
    expect_bad((EnvConfig){.task = ENV_TASK_GOAL, .size = 8}, "size");
    expect_bad((EnvConfig){.task = ENV_TASK_GOAL, .size = 3}, "size");
    expect_bad((EnvConfig){.task = ENV_TASK_WATERMAZE, .size = 42}, "size");
    expect_bad((EnvConfig){.task = ENV_TASK_KEYS_DOORS, .size = 4}, "size");
    expect_bad((EnvConfig){.task = ENV_TASK_TMAZE, .size = -3}, "size");
    expect_bad((EnvConfig){.task = ENV_TASK_GOAL, .view = 6}, "view");
    expect_bad((EnvConfig){.task = ENV_TASK_GOAL, .view = 1}, "view");
    expect_bad((EnvConfig){.task = ENV_TASK_GOAL, .view = 17}, "view");
    expect_bad((EnvConfig){.task = ENV_TASK_SEEKAVOID, .max_steps = -5}, "max_steps");
    expect_bad((EnvConfig){.task = ENV_TASK_SEEKAVOID, .items = 25}, "items");
    expect_bad((EnvConfig){.task = ENV_TASK_SEEKAVOID, .size = 5, .items = 5}, "items");
    expect_bad((EnvConfig){.task = ENV_TASK_KEYS_DOORS, .items = 2}, "items");
    expect_bad((EnvConfig){.task = ENV_TASK_GOAL, .items = 3}, "items");

    // defaults fill only what is 0 (items: < 0), and the result is valid
    for (int t = 0; t < ENV_NTASKS; t++) {
        EnvConfig c = {.task = t};
        env_config_defaults(&c);
        assert_int_equal(env_config_check(&c, NULL, 0), 0);
        assert_int_equal(c.view, 7);
        assert_true(c.size >= 5 && c.max_steps >= 1);
        EnvConfig d = c;
        env_config_defaults(&d);
        assert_memory_equal(&c, &d, sizeof c);
    }
    EnvConfig k = {.task = ENV_TASK_KEYS_DOORS, .items = 0};
    env_config_defaults(&k);
    assert_int_equal(k.items, 0);
    k.items = -1;
    env_config_defaults(&k);
    assert_int_equal(k.items, 1);
    EnvConfig g = {.task = ENV_TASK_GOAL, .size = 13, .view = 9, .max_steps = 7, .items = -1};
    env_config_defaults(&g);
    assert_true(g.size == 13 && g.view == 9 && g.max_steps == 7 && g.items == 0);

    assert_int_equal(env_task_from_name("keys_doors"), ENV_TASK_KEYS_DOORS);
    assert_int_equal(env_task_from_name("tmaze"), ENV_TASK_TMAZE);
    assert_int_equal(env_task_from_name("lasertag"), -1);
    assert_int_equal(env_task_from_name(NULL), -1);
    VecEnv v;
    EnvConfig ok = task_cfg(ENV_TASK_GOAL);
    assert_int_equal(vec_init(&v, &ok, 0, 1), -1);
    BaselineResult br;
    assert_int_equal(env_baseline(&ok, 2, 10, 1, &br), -1);
    assert_int_equal(env_baseline(&ok, 0, 0, 1, &br), -1);
}

// ---------------------------------------------------------------------------
// Oracle and baselines

static void test_oracle_solves_every_task(void **state) {
    (void)state;
    for (int t = 0; t < ENV_NTASKS; t++) {
        EnvConfig c = task_cfg(t);
        BaselineResult o, r;
        assert_int_equal(env_baseline(&c, 1, 200, 9, &o), 0);
        assert_int_equal(env_baseline(&c, 0, 200, 9, &r), 0);
        if (o.success_rate < 0.95)
            print_error("oracle on %s: success %.3f\n", ENV_TASK_NAMES[t], o.success_rate);
        assert_true(o.success_rate >= 0.95);
        assert_int_equal(o.episodes, 200);
        assert_true(o.mean_return > r.mean_return + r.ci95 + o.ci95);
        assert_true(o.ci95 >= 0 && r.ci95 >= 0);
        assert_true(o.mean_length >= 1 && o.mean_length <= c.max_steps);
    }
    // same seed, same numbers
    EnvConfig c = task_cfg(ENV_TASK_SEEKAVOID);
    BaselineResult a, b;
    env_baseline(&c, 0, 50, 4, &a);
    env_baseline(&c, 0, 50, 4, &b);
    assert_true(a.mean_return == b.mean_return && a.ci95 == b.ci95 &&
                a.success_rate == b.success_rate && a.mean_length == b.mean_length);
}

static void test_bench_runs(void **state) {
    (void)state;
    EnvConfig c = task_cfg(ENV_TASK_GOAL);
    double sps = bench_env(&c, 8, 0.02, 1);
    assert_true(sps > 1e4);
}

// ---------------------------------------------------------------------------
// Hash and text

static void test_hash_and_render(void **state) {
    (void)state;
    EnvConfig c = task_cfg(ENV_TASK_KEYS_DOORS);
    Env e;
    env_init(&e, &c, 1);
    const char *map = "#######\n"
                      "#K..#.#\n"
                      "#>k.d.#\n"
                      "#...D1#\n"
                      "#0a.l2#\n"
                      "#...3G#\n"
                      "#######\n";
    load_map(&e, map);
    char buf[(ENV_MAX_SIZE + 1) * ENV_MAX_SIZE + 1];
    env_render_map(&e, buf);
    assert_string_equal(buf, map);
    uint64_t h0 = env_hash(&e);
    assert_true(env_hash(&e) == h0);
    Env f = e;
    f.grid[3 * 7 + 2] = ENV_WALL;
    assert_true(env_hash(&f) != h0);
    f = e;
    f.dir = 2;
    assert_true(env_hash(&f) != h0);
    f = e;
    f.carrying = ENV_KEY0;
    assert_true(env_hash(&f) != h0);
    f = e;
    f.steps++;
    assert_true(env_hash(&f) != h0);
    f = e;
    f.rng++;
    assert_true(env_hash(&f) != h0);
    for (int k = 0; k < ENV_C; k++) {
        assert_int_equal(kind_of_char(env_kind_char(k)), k); // chars are distinct
        assert_non_null(ENV_KIND_NAMES[k]);
    }
    assert_string_equal(ENV_TASK_NAMES[ENV_TASK_WATERMAZE], "watermaze");
    assert_string_equal(ENV_ACTION_NAMES[ENV_INTERACT], "interact");
}

// vec_step_final hands back, for each env that ended, the observation of the
// state it ended in (before the reset): the same as observing a copy of the
// env that takes the same step with a time limit one step longer (so it does
// not truncate). Rows of envs that go on are untouched; vec_step_final with
// NULL and vec_step give the same next observations.
static void test_final_obs_before_reset(void **state) {
    (void)state;
    for (int t = 0; t < ENV_NTASKS; t++) {
        EnvConfig c = task_cfg(t);
        c.max_steps = 7;
        enum { NB = 3 };
        VecEnv v, w;
        assert_int_equal(vec_init(&v, &c, NB, 77), 0);
        assert_int_equal(vec_init(&w, &c, NB, 77), 0);
        const size_t S = v.obs_size;
        uint8_t obs[NB * MAXOBS], obs2[NB * MAXOBS], fin[NB * MAXOBS], ref[MAXOBS];
        uint64_t r = 5;
        int ended = 0, truncs = 0;
        for (int s = 0; s < 60; s++) {
            int act[NB];
            Env before[NB];
            for (int i = 0; i < NB; i++) act[i] = rng_int(&r, ENV_A), before[i] = v.envs[i];
            float rew[NB], rew2[NB];
            uint8_t te[NB], tr[NB], te2[NB], tr2[NB];
            memset(fin, 0xAB, sizeof fin);
            vec_step_final(&v, act, obs, rew, te, tr, fin);
            vec_step(&w, act, obs2, rew2, te2, tr2);
            assert_memory_equal(obs, obs2, NB * S);
            for (int i = 0; i < NB; i++) {
                uint8_t *row = fin + (size_t)i * S;
                if (!te[i] && !tr[i]) {
                    for (size_t k = 0; k < S; k++) assert_int_equal(row[k], 0xAB);
                    continue;
                }
                ended++, truncs += tr[i];
                Env longer = before[i];
                longer.cfg.max_steps = c.max_steps + 1;
                uint8_t lt, ltr;
                env_step(&longer, act[i], &lt, &ltr);
                if (lt) continue; // terminated: the copy resets too; checked by truncations
                env_observe(&longer, ref);
                assert_memory_equal(row, ref, S);
            }
        }
        assert_true(ended > 0 && truncs > 0);
        vec_free(&v);
        vec_free(&w);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_final_obs_before_reset),
        cmocka_unit_test(test_episode_rng_replays),
        cmocka_unit_test(test_layouts_reachable),
        cmocka_unit_test(test_occlusion_wall_ahead),
        cmocka_unit_test(test_occlusion_corridor),
        cmocka_unit_test(test_occlusion_corner),
        cmocka_unit_test(test_occlusion_rotated),
        cmocka_unit_test(test_observe_matches_reference),
        cmocka_unit_test(test_moves_and_blocking),
        cmocka_unit_test(test_task_goal),
        cmocka_unit_test(test_task_watermaze),
        cmocka_unit_test(test_task_keys_doors),
        cmocka_unit_test(test_task_seekavoid),
        cmocka_unit_test(test_task_tmaze),
        cmocka_unit_test(test_log_matches_steps),
        cmocka_unit_test(test_batch_equals_singles),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_oracle_solves_every_task),
        cmocka_unit_test(test_bench_runs),
        cmocka_unit_test(test_hash_and_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
