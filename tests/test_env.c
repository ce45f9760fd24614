// test_env.c — the gridworld: determinism, generated layouts, self-reset
// and the episode log, batch vs single envs, config validation, the oracle,
// hash and text; occlusion: test_observe.c, the tasks: test_tasks.c
// (shared helpers: tests/env_check.h).
#include "tests/env_check.h"

#include "lab/bench.h"

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
        cmocka_unit_test(test_log_matches_steps),
        cmocka_unit_test(test_batch_equals_singles),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_oracle_solves_every_task),
        cmocka_unit_test(test_bench_runs),
        cmocka_unit_test(test_hash_and_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
