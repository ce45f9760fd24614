// env_check.h — what the gridworld test programs (test_env, test_observe,
// test_tasks) share: task configs, worlds drawn as text (load_map), views
// checked against text, one-hot checks, flood fill and cell counts.
#ifndef CPCRL_ENV_CHECK_H
#define CPCRL_ENV_CHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "env/env.h"
#include "base/rng.h"

#define MAXOBS (ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW)

static const int DX[4] = {0, 1, 0, -1};
static const int DY[4] = {-1, 0, 1, 0};

static inline EnvConfig task_cfg(int task) {
    EnvConfig c = {.task = task, .items = -1};
    env_config_defaults(&c);
    return c;
}

static inline int kind_of_char(char ch) {
    for (int k = 0; k < ENV_C; k++)
        if (env_kind_char(k) == ch) return k;
    return -1;
}

// Replace e's world by a map drawn as text: kind chars of env_kind_char, the
// agent as ^ > v < (standing on floor). Episode counters are cleared.
static inline void load_map(Env *e, const char *map) {
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

static inline void check_view(const Env *e, const char *expect) {
    uint8_t obs[MAXOBS], ref[MAXOBS];
    char buf[(ENV_MAX_VIEW + 1) * ENV_MAX_VIEW + 1];
    env_observe(e, obs);
    env_render_obs(obs, e->cfg.view, buf);
    if (strcmp(buf, expect) != 0) print_error("got view:\n%s\nexpected:\n%s\n", buf, expect);
    assert_string_equal(buf, expect);
    env_observe_ref(e, ref);
    assert_memory_equal(obs, ref, (size_t)ENV_C * e->cfg.view * e->cfg.view);
}

static inline void check_one_hot(const uint8_t *obs, int V) {
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


// Cells reachable from `start` moving through kinds in `pass` (bit per kind).
static inline int flood(const Env *e, int start, uint32_t pass, uint8_t *seen) {
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

static inline int count_kind(const Env *e, int kind) {
    int n = 0;
    for (int i = 0; i < e->w * e->h; i++) n += e->grid[i] == kind;
    return n;
}

static inline int find_kind(const Env *e, int kind) {
    for (int i = 0; i < e->w * e->h; i++)
        if (e->grid[i] == kind) return i;
    return -1;
}

static inline int any_neighbour_seen(const Env *e, int i, const uint8_t *seen) {
    int x = i % e->w, y = i / e->w;
    for (int d = 0; d < 4; d++) {
        int nx = x + DX[d], ny = y + DY[d];
        if (nx >= 0 && nx < e->w && ny >= 0 && ny < e->h && seen[ny * e->w + nx]) return 1;
    }
    return 0;
}

#define B(k) (1u << (k))


#endif
