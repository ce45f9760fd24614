// test_observe.c — env/observe.c: occlusion on hand-built maps (views worked
// out by hand) and the fast observation against the plain MiniGrid port
// (shared helpers: tests/env_check.h).
#include "tests/env_check.h"

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


int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_occlusion_wall_ahead),
        cmocka_unit_test(test_occlusion_corridor),
        cmocka_unit_test(test_occlusion_corner),
        cmocka_unit_test(test_occlusion_rotated),
        cmocka_unit_test(test_observe_matches_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
