// test_tasks.c — every task's rewards and episode ends, scripted on
// hand-set states, moves and blocking, and the task table (env/tasks.h)
// (shared helpers: tests/env_check.h).
#include "tests/env_check.h"

#include "env/tasks.h"

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
// The task table

static void test_table_complete(void **state) {
    (void)state;
    assert_null(env_task(-1));
    assert_null(env_task(ENV_NTASKS));
    for (int t = 0; t < ENV_NTASKS; t++) {
        const EnvTask *T = env_task(t);
        assert_non_null(T);
        assert_non_null(ENV_TASK_NAMES[t]);
        assert_int_equal(env_task_from_name(ENV_TASK_NAMES[t]), t);
        assert_non_null(T->check);
        assert_non_null(T->generate);
        assert_non_null(T->enter);
        assert_non_null(T->oracle);
        assert_non_null(T->goal_name);
        assert_true(T->size >= 5 && T->max_steps >= 1);
        assert_true(T->goal_label >= ENV_GOAL_NONE && T->goal_label <= ENV_GOAL_CUE);
        int n = 0;
        while (n < ENV_LEGEND_MAX && T->legend[n].name) {
            assert_true(T->legend[n].kind == ENV_LEGEND_TARGET ||
                        (T->legend[n].kind > ENV_EMPTY && T->legend[n].kind < ENV_C));
            n++;
        }
        assert_true(n >= 1);
        // a hidden target is what the legend's dashed item stands for
        int target_item = 0;
        for (int i = 0; i < n; i++) target_item |= T->legend[i].kind == ENV_LEGEND_TARGET;
        assert_int_equal(target_item, T->goal_hidden);
        // the defaults are a valid config
        EnvConfig c = task_cfg(t);
        char err[300];
        if (env_config_check(&c, err, sizeof err) < 0) fail_msg("task %s: defaults invalid: %s", ENV_TASK_NAMES[t], err);
    }
    assert_int_equal(env_task_from_name("nope"), -1);
    assert_int_equal(env_task_from_name(NULL), -1);
}

// The documented defaults (env.h, docs/usage.md), filled from the table.
static void test_table_defaults(void **state) {
    (void)state;
    static const int SIZE[ENV_NTASKS] = {9, 9, 6, 9, 11}, ITEMS[ENV_NTASKS] = {0, 0, 1, 6, 0};
    for (int t = 0; t < ENV_NTASKS; t++) {
        EnvConfig c = task_cfg(t);
        assert_int_equal(c.view, 7);
        assert_int_equal(c.size, SIZE[t]);
        assert_int_equal(c.max_steps, 100);
        assert_int_equal(c.items, ITEMS[t]);
    }
    EnvConfig c = {.task = ENV_TASK_TMAZE, .view = 9, .items = -1};
    env_config_defaults(&c);
    assert_int_equal(c.size, 13); // view + 4: the cue out of sight from the junction
    c = (EnvConfig){.task = ENV_TASK_SEEKAVOID, .items = 0};
    env_config_defaults(&c);
    assert_int_equal(c.items, 6);
    c = (EnvConfig){.task = ENV_TASK_KEYS_DOORS, .items = 0};
    env_config_defaults(&c);
    assert_int_equal(c.items, 0); // taken literally: no distractor key
}

static void test_task_list(void **state) {
    (void)state;
    char buf[200];
    assert_int_equal(env_task_list(buf, sizeof buf, "|"), (int)strlen(ENV_TASK_CHOICES));
    assert_string_equal(buf, ENV_TASK_CHOICES);
    env_task_list(buf, sizeof buf, ", ");
    assert_string_equal(buf, ENV_TASK_VALID);
    env_task_list(buf, sizeof buf, ",");
    assert_string_equal(buf, "goal,watermaze,keys_doors,seekavoid,tmaze");
    // truncated: terminated, and the length of the whole list returned
    char small[8];
    assert_int_equal(env_task_list(small, sizeof small, ","), (int)strlen(buf));
    assert_string_equal(small, "goal,wa");
    assert_int_equal(env_task_list(NULL, 0, ","), (int)strlen(buf));
}

// The probe's goal label takes env_goal_classes values and follows the target.
static void test_goal_labels(void **state) {
    (void)state;
    assert_int_equal(env_goal_classes(ENV_TASK_GOAL), ENV_MAX_SIZE * ENV_MAX_SIZE);
    assert_int_equal(env_goal_classes(ENV_TASK_WATERMAZE), ENV_MAX_SIZE * ENV_MAX_SIZE);
    assert_int_equal(env_goal_classes(ENV_TASK_KEYS_DOORS), ENV_MAX_SIZE * ENV_MAX_SIZE);
    assert_int_equal(env_goal_classes(ENV_TASK_SEEKAVOID), 0);
    assert_int_equal(env_goal_classes(ENV_TASK_TMAZE), 2);
    assert_int_equal(env_goal_classes(-1), 0);
    for (int t = 0; t < ENV_NTASKS; t++) {
        EnvConfig c = task_cfg(t);
        Env e;
        env_init(&e, &c, 7);
        uint64_t r = 11;
        for (int i = 0; i < 300; i++) {
            int lab = env_goal_label(&e), n = env_goal_classes(t);
            if (n == 0) assert_int_equal(lab, -1);
            else assert_true(lab >= 0 && lab < n);
            if (env_task(t)->goal_label == ENV_GOAL_CELL) assert_int_equal(lab, e.ty * ENV_MAX_SIZE + e.tx);
            if (env_task(t)->goal_label == ENV_GOAL_CUE) assert_int_equal(lab, e.cue);
            uint8_t term, trunc;
            env_step(&e, rng_int(&r, ENV_A), &term, &trunc);
        }
    }
}

// env_render_map marks the target with the task's map_mark (watermaze: 'P').
static void test_map_mark(void **state) {
    (void)state;
    for (int t = 0; t < ENV_NTASKS; t++) {
        EnvConfig c = task_cfg(t);
        Env e;
        env_init(&e, &c, 3);
        char map[(ENV_MAX_SIZE + 1) * ENV_MAX_SIZE + 1];
        env_render_map(&e, map);
        char at = map[e.ty * (e.w + 1) + e.tx];
        if (env_task(t)->map_mark) assert_int_equal(at, env_task(t)->map_mark);
        else if (!(e.tx == e.ax && e.ty == e.ay)) assert_int_equal(at, env_kind_char(e.grid[e.ty * e.w + e.tx]));
    }
}


int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moves_and_blocking),
        cmocka_unit_test(test_task_goal),
        cmocka_unit_test(test_task_watermaze),
        cmocka_unit_test(test_task_keys_doors),
        cmocka_unit_test(test_task_seekavoid),
        cmocka_unit_test(test_task_tmaze),
        cmocka_unit_test(test_table_complete),
        cmocka_unit_test(test_table_defaults),
        cmocka_unit_test(test_task_list),
        cmocka_unit_test(test_goal_labels),
        cmocka_unit_test(test_map_mark),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
