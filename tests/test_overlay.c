// test_overlay.c — the belief overlay as drawn (replays/draw.c, DrawBelief)
// and the panel's "who acts" lines, headless into plain pixel buffers.
//
//   blend          draw_blend (red and blue packed in one word) equals the
//                  per-channel round((u (255-a) + o a) / 255) for every alpha
//   known belief   a position belief of p = 1, 0.36 and 0.04 at three known
//                  cells and a goal belief of 0.49 at another: each cell's
//                  pixels are the plain frame's blended with the layer colour
//                  at alpha round(230 sqrt(p)) (the goal's as a disc in the
//                  middle of the cell, over the position tint), cells of p 0
//                  are untouched; the true cells are outlined (position: the
//                  cell's edge, goal: a ring around its disc)
//   toggles        both layers off (or no belief) draws the plain frame byte
//                  for byte; one layer off leaves that layer's cells plain and
//                  its panel line says "off"
//   legend         each layer's line reads "NAME  p(true) P  [KEY]" with the
//                  probability of the true cell, glyph for glyph where the
//                  layout says, its swatch in the layer colour
//   tmaze cue      the cue bar splits at p(left) in the two cue colours
//   who acts       the last frame of an agent's episode (no policy) says
//                  POLICY and "next action: none", never the person's
//                  ACTIONS / "you pressed" (the bug of issue 26); a person
//                  playing and a person's replay say so
//   side by side   two frames drawn into the halves of one canvas equal each
//                  frame drawn alone at the half size
//   cost           frames drawn per second at 1280x720 with and without the
//                  overlay on one core (printed; the overlay must not cost more
//                  than plain time x 2 + 5 ms per frame)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "env/env.h"
#include "replays/draw.h"
#include "replays/window.h"

enum { W = 1280, H = 720, S = 2 }; // at 1280x720 the renderer draws text at scale 2

static uint8_t g_obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
static float g_pos[ENV_MAX_SIZE * ENV_MAX_SIZE], g_goal[ENV_MAX_SIZE * ENV_MAX_SIZE];

static uint32_t *canvas_new(Canvas *c, int w, int h) {
    uint32_t *px = calloc((size_t)w * h, sizeof *px);
    assert_non_null(px);
    *c = (Canvas){px, w, h, w};
    return px;
}

static uint32_t at(const Canvas *c, int x, int y) {
    assert_true(x >= 0 && y >= 0 && x < c->w && y < c->h);
    return c->px[(size_t)y * c->stride + x] | 0xFF000000u;
}

static void frame_of(DrawFrame *f, const Env *e) {
    memset(f, 0, sizeof *f);
    f->task = e->cfg.task, f->w = e->w, f->h = e->h, f->view = e->cfg.view, f->grid = e->grid;
    f->ax = e->ax, f->ay = e->ay, f->dir = e->dir;
    f->tx = e->tx, f->ty = e->ty, f->cue = e->cue;
    env_observe(e, g_obs);
    f->obs = g_obs;
    f->has_policy = 1;
    f->probs[2] = 1.0f, f->action = 2;
    f->step = e->steps, f->max_steps = e->cfg.max_steps, f->seed = e->seed;
    f->mode = "TEST", f->status = "status", f->label = "label";
    f->keys[0] = "Q quit", f->nkeys = 1;
}

// 1 when str is drawn at (x, y) at scale S: every pixel of its glyphs has one
// colour and every other pixel of its cells another.
static int text_at(const Canvas *c, int x, int y, const char *str) {
    const int tw = draw_text_width(str, S), th = 8 * S;
    Canvas m;
    uint32_t *mask = canvas_new(&m, tw, th);
    draw_text(&m, 0, 0, S, 0xFFFFFFFFu, str);
    uint32_t on = 0, off = 0;
    int have_on = 0, have_off = 0, ok = 1;
    for (int yy = 0; yy < th && ok; yy++)
        for (int xx = 0; xx < tw && ok; xx++) {
            uint32_t p = at(c, x + xx, y + yy);
            if (mask[yy * tw + xx]) {
                if (!have_on) on = p, have_on = 1;
                ok = p == on;
            } else {
                if (!have_off) off = p, have_off = 1;
                ok = p != on || !have_on;
            }
        }
    free(mask);
    return ok && have_on && (!have_off || on != off);
}

// An env with the agent and target where the test wants them.
static void world(Env *e, int task) {
    EnvConfig cfg = {.task = task, .items = -1};
    env_config_defaults(&cfg);
    env_init(e, &cfg, 5);
}

// Three floor cells away from the agent, its view outline and the target.
static void pick_cells(const Env *e, int *cx, int *cy, int k) {
    int got = 0;
    for (int y = 1; y < e->h - 1 && got < k; y++)
        for (int x = 1; x < e->w - 1 && got < k; x++) {
            if (e->grid[y * e->w + x] != ENV_EMPTY) continue;
            if (abs(x - e->ax) + abs(y - e->ay) < 3 || (x == e->tx && y == e->ty)) continue;
            cx[got] = x, cy[got] = y, got++;
        }
    assert_int_equal(got, k);
}

static DrawBelief belief_of(int pos_on, int goal_on) {
    DrawBelief b;
    memset(&b, 0, sizeof b);
    b.show_pos = pos_on, b.show_goal = goal_on;
    b.pos = g_pos, b.goal = g_goal, b.goal_name = "goal";
    b.acc_pos = 0.5f, b.chance_pos = 0.1f, b.acc_goal = 0.25f, b.chance_goal = 0.05f;
    b.note = "fitted on env seed 1000, 16 envs";
    return b;
}

// ----------------------------------------------------------------------------

static void test_known_belief_colours(void **state) {
    Env e;
    world(&e, ENV_TASK_GOAL);
    int cx[4], cy[4];
    pick_cells(&e, cx, cy, 4);
    memset(g_pos, 0, sizeof g_pos), memset(g_goal, 0, sizeof g_goal);
    const float P[3] = {1.0f, 0.36f, 0.04f};
    for (int i = 0; i < 3; i++) g_pos[cy[i] * ENV_MAX_SIZE + cx[i]] = P[i];
    g_goal[cy[3] * ENV_MAX_SIZE + cx[3]] = 0.49f;
    g_goal[cy[1] * ENV_MAX_SIZE + cx[1]] = 0.25f; // a cell with both layers
    g_pos[e.ay * ENV_MAX_SIZE + e.ax] = 0.16f;     // the true cell's p
    g_goal[e.ty * ENV_MAX_SIZE + e.tx] = 0.09f;
    assert_int_equal(draw_belief_alpha(1.0f), 230);
    assert_int_equal(draw_belief_alpha(0.25f), 115);
    assert_int_equal(draw_belief_alpha(0.0f), 0);
    for (int a = 0; a <= 255; a++) // the packed blend against the per-channel formula
        for (int u = 0; u < 256; u += 5)
            for (int o = 0; o < 256; o += 3) {
                const int v = (u * (255 - a) + o * a + 127) / 255, w = ((255 - u) * (255 - a) + o * a + 127) / 255;
                assert_int_equal(draw_blend(DRAW_RGB(u, 255 - u, u), DRAW_RGB(o, o, o), a), DRAW_RGB(v, w, v));
            }
    assert_int_equal(draw_blend(DRAW_RGB(0, 0, 0), DRAW_RGB(255, 255, 255), 255), DRAW_RGB(255, 255, 255));
    assert_int_equal(draw_blend(DRAW_RGB(0, 100, 200), DRAW_RGB(200, 100, 0), 128), DRAW_RGB(100, 100, 100));

    Canvas plain, over;
    uint32_t *a = canvas_new(&plain, W, H), *b = canvas_new(&over, W, H);
    DrawFrame f;
    frame_of(&f, &e);
    DrawLayout L0, L;
    draw_frame(&plain, &f, &L0);
    DrawBelief bel = belief_of(1, 1);
    f.belief = &bel;
    draw_frame(&over, &f, &L);
    const int n = L.cell, r = n * 3 / 10, m = n - 1;
    assert_true(n >= 20);
    assert_int_equal(L.map_x, L0.map_x); // the map does not move
    assert_int_equal(L.cell, L0.cell);
    for (int i = 0; i < 4; i++) {
        const int x0 = L.map_x + cx[i] * n, y0 = L.map_y + cy[i] * n;
        const int px = x0 + 2, py = y0 + 2, gx = x0 + m / 2, gy = y0 + m / 2;
        const float pp = g_pos[cy[i] * ENV_MAX_SIZE + cx[i]], pg = g_goal[cy[i] * ENV_MAX_SIZE + cx[i]];
        // the corner: position layer only
        assert_int_equal(at(&over, px, py), draw_blend(at(&plain, px, py), DRAW_BELIEF_POS_COLOUR, draw_belief_alpha(pp)));
        // the middle: the goal disc over the position tint
        uint32_t want = draw_blend(at(&plain, gx, gy), DRAW_BELIEF_POS_COLOUR, draw_belief_alpha(pp));
        want = draw_blend(want, DRAW_BELIEF_GOAL_COLOUR, draw_belief_alpha(pg));
        assert_int_equal(at(&over, gx, gy), want);
        // just outside the disc (half-way to the corner past its radius): no goal colour
        assert_int_equal(at(&over, gx - r - 2, gy - r - 2),
                         draw_blend(at(&plain, gx - r - 2, gy - r - 2), DRAW_BELIEF_POS_COLOUR, draw_belief_alpha(pp)));
    }
    // p = 1: the layer colour at alpha 230 over the floor: a known colour
    assert_int_equal(at(&over, L.map_x + cx[0] * n + 3, L.map_y + cy[0] * n + 3),
                     draw_blend(DRAW_FLOOR_COLOUR, DRAW_BELIEF_POS_COLOUR, 230));
    // a cell of p 0 in both layers (a wall) is untouched
    for (int x = 0; x < e.w; x++) {
        const int x0 = L.map_x + x * n + n / 2, y0 = L.map_y + n / 2; // top wall row
        assert_int_equal(at(&over, x0, y0), at(&plain, x0, y0));
    }
    // the true cells outlined: the agent's cell edge, the ring round the goal's disc
    const int t = n >= 24 ? 3 : n >= 12 ? 2 : 1;
    assert_int_equal(at(&over, L.map_x + e.ax * n, L.map_y + e.ay * n + n / 2), DRAW_BELIEF_POS_TRUE_COLOUR);
    const int tgx = L.map_x + e.tx * n + m / 2, tgy = L.map_y + e.ty * n + m / 2;
    assert_int_equal(at(&over, tgx, tgy - r - t), DRAW_BELIEF_GOAL_TRUE_COLOUR);
    assert_int_equal(at(&over, tgx - r - t, tgy), DRAW_BELIEF_GOAL_TRUE_COLOUR);
    // the legend lines: p of the true cells, the swatches in the layer colours
    assert_true(L.belief_h > 0);
    assert_true(text_at(&over, L.line_x, L.pos_line_y + S, "position  p(true) 0.16  [B]"));
    assert_true(text_at(&over, L.line_x, L.goal_line_y + S, "goal  p(true) 0.09  [T]"));
    assert_true(text_at(&over, L.line_x, L.pos_line_y + 10 * S + S, "held-out acc 0.50, chance 0.10"));
    assert_int_equal(at(&over, L.swatch_x + L.swatch_w / 2, L.pos_line_y + L.swatch_w / 2), DRAW_BELIEF_POS_COLOUR);
    assert_int_equal(at(&over, L.swatch_x + L.swatch_w / 2, L.goal_line_y + L.swatch_w / 2), DRAW_BELIEF_GOAL_COLOUR);
    assert_false(text_at(&over, L.line_x, L.pos_line_y + S, "position  p(true) 0.17  [B]")); // the check can fail
    free(a), free(b);
}

static void test_toggles(void **state) {
    Env e;
    world(&e, ENV_TASK_WATERMAZE);
    int cx[1], cy[1];
    pick_cells(&e, cx, cy, 1);
    memset(g_pos, 0, sizeof g_pos), memset(g_goal, 0, sizeof g_goal);
    g_pos[cy[0] * ENV_MAX_SIZE + cx[0]] = 0.8f, g_goal[cy[0] * ENV_MAX_SIZE + cx[0]] = 0.6f;
    Canvas plain, c;
    uint32_t *a = canvas_new(&plain, W, H), *b = canvas_new(&c, W, H);
    DrawFrame f;
    frame_of(&f, &e);
    draw_frame(&plain, &f, NULL);
    // both layers off: the plain frame, byte for byte
    DrawBelief bel = belief_of(0, 0);
    f.belief = &bel;
    draw_frame(&c, &f, NULL);
    assert_memory_equal(a, b, (size_t)W * H * 4);
    // a belief whose arrays are missing draws nothing either
    DrawBelief none = belief_of(1, 1);
    none.pos = none.goal = NULL;
    f.belief = &none;
    draw_frame(&c, &f, NULL);
    assert_memory_equal(a, b, (size_t)W * H * 4);
    // the goal layer only: position corners plain, the goal disc tinted, the position line "off"
    bel = belief_of(0, 1);
    bel.goal_name = "platform";
    f.belief = &bel;
    DrawLayout L;
    draw_frame(&c, &f, &L);
    const int n = L.cell, m = n - 1, x0 = L.map_x + cx[0] * n, y0 = L.map_y + cy[0] * n;
    assert_int_equal(at(&c, x0 + 2, y0 + 2), at(&plain, x0 + 2, y0 + 2));
    assert_int_equal(at(&c, x0 + m / 2, y0 + m / 2),
                     draw_blend(at(&plain, x0 + m / 2, y0 + m / 2), DRAW_BELIEF_GOAL_COLOUR, draw_belief_alpha(0.6f)));
    assert_true(text_at(&c, L.line_x, L.pos_line_y + S, "position  off  [B]"));
    assert_int_not_equal(at(&c, L.swatch_x + L.swatch_w / 2, L.pos_line_y + L.swatch_w / 2), DRAW_BELIEF_POS_COLOUR);
    assert_true(text_at(&c, L.line_x, L.goal_line_y + S, "platform  p(true) 0.00  [T]"));
    // the position layer only: the goal disc is gone
    bel = belief_of(1, 0);
    f.belief = &bel;
    draw_frame(&c, &f, &L);
    assert_int_equal(at(&c, x0 + m / 2, y0 + m / 2),
                     draw_blend(at(&plain, x0 + m / 2, y0 + m / 2), DRAW_BELIEF_POS_COLOUR, draw_belief_alpha(0.8f)));
    assert_true(text_at(&c, L.line_x, L.goal_line_y + S, "goal  off  [T]"));
    free(a), free(b);
}

static void test_tmaze_cue_bar(void **state) {
    Env e;
    world(&e, ENV_TASK_TMAZE);
    e.cue = 1;
    memset(g_pos, 0, sizeof g_pos);
    g_pos[e.ay * ENV_MAX_SIZE + e.ax] = 0.5f;
    float cue[2] = {0.3f, 0.7f};
    Canvas c;
    uint32_t *a = canvas_new(&c, W, H);
    DrawFrame f;
    frame_of(&f, &e);
    DrawBelief bel = belief_of(1, 1);
    bel.goal = NULL, bel.cue = cue, bel.goal_name = "cue";
    f.belief = &bel;
    DrawLayout L;
    draw_frame(&c, &f, &L);
    assert_true(L.cue_w > 100);
    const int split = (int)lrintf(0.3f * (float)L.cue_w), mid = L.cue_y + L.cue_h / 2;
    assert_int_equal(at(&c, L.cue_x + split - 3, mid), DRAW_KIND_COLOUR[ENV_CUE0]);
    assert_int_equal(at(&c, L.cue_x + split + 3, mid), DRAW_KIND_COLOUR[ENV_CUE1]);
    assert_int_equal(at(&c, L.cue_x + split + L.cue_w / 4, mid), DRAW_KIND_COLOUR[ENV_CUE1]);
    // the true side (right: cue 1) is outlined, the other is not
    assert_int_not_equal(at(&c, L.cue_x + split + L.cue_w / 4, L.cue_y), DRAW_KIND_COLOUR[ENV_CUE1]);
    assert_int_equal(at(&c, L.cue_x + split - 3, L.cue_y), DRAW_KIND_COLOUR[ENV_CUE0]);
    assert_true(text_at(&c, L.line_x, L.goal_line_y + S, "cue  p(true) 0.70  [T]"));
    free(a);
}

// The panel's policy header and action line of frame f (scale S layout).
static void who(const DrawFrame *f, const char *head, const char *sub, const char *line) {
    Canvas c;
    uint32_t *a = canvas_new(&c, W, H);
    DrawLayout L;
    draw_frame(&c, f, &L);
    const int cw = 6 * S, lh = 10 * S, pad = 6 * S, x0 = L.panel_x + pad;
    const int hy = L.bar_y[0] - (lh + pad / 2);
    if (!text_at(&c, x0, hy, head)) fail_msg("header is not '%s'", head);
    if (!text_at(&c, x0 + 8 * cw, hy, sub)) fail_msg("header note is not '%s'", sub);
    if (!text_at(&c, x0, L.bar_y[ENV_A - 1] + lh + S, line)) fail_msg("action line is not '%s'", line);
    free(a);
}

static void test_who_acts(void **state) {
    Env e;
    world(&e, ENV_TASK_GOAL);
    DrawFrame f;
    frame_of(&f, &e);
    // the last frame of an agent's episode (watch's held frame, replay's frame n)
    f.has_policy = 0, f.action = -1, f.ended = 2;
    who(&f, "POLICY", "(episode over)", "next action: none");
    // a person playing
    f.ended = 0, f.person = 1, f.action = ENV_FORWARD;
    who(&f, "ACTIONS", "(a person plays)", "you pressed: forward");
    f.action = -1;
    who(&f, "ACTIONS", "(a person plays)", "you pressed: -");
    // a person's replay
    f.person = 2, f.action = ENV_LEFT;
    who(&f, "ACTIONS", "(a person played)", "next action: turn left");
    // an agent deciding
    f.person = 0, f.has_policy = 1, f.action = ENV_FORWARD;
    who(&f, "POLICY", "value V(s) +0.000", "next action: forward");
}

static void test_side_by_side(void **state) {
    Env e1, e2;
    world(&e1, ENV_TASK_WATERMAZE);
    world(&e2, ENV_TASK_WATERMAZE);
    e2.ax = e1.ax == 2 ? 3 : 2;
    memset(g_pos, 0, sizeof g_pos);
    g_pos[3 * ENV_MAX_SIZE + 3] = 0.5f;
    DrawBelief bel = belief_of(1, 0);
    DrawFrame f[2];
    frame_of(&f[0], &e1);
    uint8_t obs2[sizeof g_obs];
    frame_of(&f[1], &e2);
    env_observe(&e2, obs2);
    f[1].obs = obs2;
    f[1].belief = &bel;
    Canvas both, one;
    uint32_t *a = canvas_new(&both, 1800, H), *b = canvas_new(&one, 900, H);
    window_draw_panes(&both, f, 2, NULL);
    for (int i = 0; i < 2; i++) {
        draw_frame(&one, &f[i], NULL);
        for (int y = 0; y < H; y++)
            for (int x = i ? 1 : 0; x < 900; x++) // (pane 2's first column is the rule between them)
                if (at(&both, 900 * i + x, y) != at(&one, x, y)) fail_msg("pane %d differs at (%d, %d)", i, x, y);
    }
    free(a), free(b);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_cost(void **state) {
    Env e;
    world(&e, ENV_TASK_WATERMAZE);
    for (int k = 0; k < ENV_MAX_SIZE * ENV_MAX_SIZE; k++) g_pos[k] = g_goal[k] = 1.0f / 49;
    Canvas c;
    uint32_t *a = canvas_new(&c, W, H);
    DrawFrame f;
    frame_of(&f, &e);
    DrawBelief bel = belief_of(1, 1);
    double sec[2];
    const int N = 120;
    for (int with = 0; with < 2; with++) {
        f.belief = with ? &bel : NULL;
        draw_frame(&c, &f, NULL); // warm
        double t0 = now_s();
        for (int i = 0; i < N; i++) {
            g_pos[i % 49] += 1e-6f; // a new belief every frame
            draw_frame(&c, &f, NULL);
        }
        sec[with] = (now_s() - t0) / N;
    }
    printf("draw_frame 1280x720, watermaze, one core: %.0f frames/s plain, %.0f frames/s with both belief layers "
           "(%.2f ms -> %.2f ms per frame)\n",
           1 / sec[0], 1 / sec[1], 1e3 * sec[0], 1e3 * sec[1]);
    assert_true(sec[1] < 2 * sec[0] + 0.005);
    free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_belief_colours), cmocka_unit_test(test_toggles),
        cmocka_unit_test(test_tmaze_cue_bar),        cmocka_unit_test(test_who_acts),
        cmocka_unit_test(test_side_by_side),         cmocka_unit_test(test_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
