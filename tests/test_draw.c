// test_draw.c — the software renderer and the image writers (replays/draw.c,
// replays/image.c), headless: frames are drawn into an off-screen
// SDL_Surface (no SDL_Init, no display) or a plain pixel buffer.
//
//   map pixels     the agent's cell shows the agent colour at its centre and
//                  its triangle points in its heading; walls, goal, floor
//                  (seen / not seen) cells show their colours, for every task
//   view panel     every cell of the egocentric view panel shows the colour of
//                  the kind in the observation (unseen dark), agent at the
//                  bottom centre
//   bars           probability bars are filled in proportion, the chosen
//                  action's in the highlight colour
//   sizes          frames of 320x200 .. 1920x1080 draw inside the canvas
//                  (canvas guard band untouched) and the map cell grows
//                  with the window (3x from 320x200 to 1920x1080)
//   font           glyph bits land where the font says
//   png            png_encode: chunk CRCs valid, pixels inflate back exactly
//   gif            a 3-frame GIF decoded by a reference LZW decoder written
//                  here gives back every frame exactly (incl. the
//                  changed-rectangle + transparency frames)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <SDL.h>
#include <cmocka.h>

#include "env/env.h"
#include "replays/draw.h"
#include "replays/image.h"

static const int DX[4] = {0, 1, 0, -1};
static const int DY[4] = {-1, 0, 1, 0};

static uint32_t px_at(const Canvas *c, int x, int y) {
    assert_true(x >= 0 && y >= 0 && x < c->w && y < c->h);
    return c->px[(size_t)y * c->stride + x] | 0xFF000000u;
}

static uint8_t g_obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];

static void frame_of(DrawFrame *f, const Env *e) {
    memset(f, 0, sizeof *f);
    f->task = e->cfg.task, f->w = e->w, f->h = e->h, f->view = e->cfg.view, f->grid = e->grid;
    f->ax = e->ax, f->ay = e->ay, f->dir = e->dir, f->carrying = e->carrying;
    f->tx = e->tx, f->ty = e->ty, f->cue = e->cue;
    env_observe(e, g_obs);
    f->obs = g_obs;
    f->has_policy = 1;
    f->probs[0] = 0.1f, f->probs[1] = 0.2f, f->probs[2] = 0.6f, f->probs[3] = 0.1f;
    f->value = 0.5f, f->action = 2;
    f->step = e->steps, f->max_steps = e->cfg.max_steps, f->seed = e->seed;
    f->mode = "TEST", f->status = "status", f->message = "message", f->label = "label";
    f->keys[0] = "Q quit", f->nkeys = 1;
    f->slider_pos = 3, f->slider_len = 10;
}

static int obs_kind(const uint8_t *obs, int V, int r, int c) {
    for (int k = 0; k < ENV_C; k++)
        if (obs[(size_t)k * V * V + r * V + c]) return k;
    return -1;
}

// Off-screen SDL surface as a canvas (no display needed).
static SDL_Surface *make_surface(int w, int h, Canvas *c) {
    SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(0, w, h, 32, SDL_PIXELFORMAT_ARGB8888);
    assert_non_null(s);
    *c = (Canvas){(uint32_t *)s->pixels, w, h, s->pitch / 4};
    return s;
}

static void check_map_and_view(int task, uint64_t seed, int W, int H) {
    EnvConfig cfg = {.task = task, .items = -1};
    env_config_defaults(&cfg);
    Env e;
    env_init(&e, &cfg, seed);
    Canvas c;
    SDL_Surface *s = make_surface(W, H, &c);
    DrawFrame f;
    frame_of(&f, &e);
    DrawLayout L;
    draw_frame(&c, &f, &L);
    const int n = L.cell;
    assert_true(n >= 4);
    // agent: centre is the agent colour; the tip side (half-way to the cell edge
    // in its heading) is agent-coloured, the opposite corners are not
    int cx = L.map_x + e.ax * n + n / 2, cy = L.map_y + e.ay * n + n / 2;
    assert_int_equal(px_at(&c, cx, cy), DRAW_AGENT_COLOUR);
    assert_int_equal(px_at(&c, cx + DX[e.dir] * n * 3 / 10, cy + DY[e.dir] * n * 3 / 10), DRAW_AGENT_COLOUR);
    int bx = cx - DX[e.dir] * n * 4 / 10 + DY[e.dir] * n * 4 / 10, by = cy - DY[e.dir] * n * 4 / 10 - DX[e.dir] * n * 4 / 10;
    assert_int_not_equal(px_at(&c, bx, by), DRAW_AGENT_COLOUR);
    // every wall and goal cell (not the agent's) has its colour at the centre
    int walls = 0;
    uint8_t seen[ENV_MAX_SIZE * ENV_MAX_SIZE] = {0};
    int V = cfg.view, rd = (e.dir + 1) & 3;
    for (int r = 0; r < V; r++)
        for (int col = 0; col < V; col++) {
            int fwd = V - 1 - r, side = col - V / 2;
            int wx = e.ax + fwd * DX[e.dir] + side * DX[rd], wy = e.ay + fwd * DY[e.dir] + side * DY[rd];
            if (wx >= 0 && wy >= 0 && wx < e.w && wy < e.h && obs_kind(g_obs, V, r, col) != ENV_UNSEEN) seen[wy * e.w + wx] = 1;
        }
    for (int y = 0; y < e.h; y++)
        for (int x = 0; x < e.w; x++) {
            if (abs(x - e.ax) + abs(y - e.ay) <= 1) continue; // the agent and its next-action marker
            int k = e.grid[y * e.w + x];
            uint32_t p = px_at(&c, L.map_x + x * n + n / 2, L.map_y + y * n + n / 3);
            if (k == ENV_WALL) assert_int_equal(p, DRAW_KIND_COLOUR[ENV_WALL]), walls++;
            if (k == ENV_GOAL) // beside the inner frame, clear of a view outline on the cell edge
                assert_int_equal(px_at(&c, L.map_x + x * n + 5, L.map_y + y * n + n / 2), DRAW_KIND_COLOUR[ENV_GOAL]);
            if (k == ENV_EMPTY && !(task == ENV_TASK_WATERMAZE && x == e.tx && y == e.ty))
                assert_int_equal(p, seen[y * e.w + x] ? DRAW_FLOOR_SEEN_COLOUR : DRAW_FLOOR_COLOUR);
        }
    assert_true(walls > 0);
    // the view panel shows the observation
    const int vn = L.view_cell;
    assert_true(vn >= 3);
    for (int r = 0; r < V; r++)
        for (int col = 0; col < V; col++) {
            int k = obs_kind(g_obs, V, r, col);
            int x0 = L.view_x + col * vn, y0 = L.view_y + r * vn;
            if (r == V - 1 && col == V / 2) {
                assert_int_equal(px_at(&c, x0 + vn / 2, y0 + vn / 2), DRAW_AGENT_COLOUR);
                continue;
            }
            uint32_t p = px_at(&c, x0 + 1, y0 + 2);
            switch (k) {
            case ENV_UNSEEN: assert_int_equal(p, DRAW_KIND_COLOUR[ENV_UNSEEN]); break;
            case ENV_EMPTY: assert_int_equal(p, DRAW_FLOOR_SEEN_COLOUR); break;
            case ENV_WALL:
            case ENV_GOAL: assert_int_equal(p, DRAW_KIND_COLOUR[k]); break;
            case ENV_CUE0:
            case ENV_CUE1:
            case ENV_CUE2:
            case ENV_CUE3: { // striped: the colour shows between the stripes of the top row
                int hits = 0;
                for (int x = 0; x < vn - 1; x++) hits += px_at(&c, x0 + x, y0 + 1) == DRAW_KIND_COLOUR[k];
                assert_true(hits >= (vn - 1) / 3);
                break;
            }
            default: break;
            }
        }
    // bars: filled in proportion (0.6 of action 2, in another colour than the others)
    uint32_t bg = px_at(&c, L.bar_x[0] + L.bar_w - 2, L.bar_y[0] + 1);
    uint32_t fill0 = px_at(&c, L.bar_x[0] + 1, L.bar_y[0] + 1);
    uint32_t fill2 = px_at(&c, L.bar_x[2] + 1, L.bar_y[2] + 1);
    assert_int_not_equal(fill0, bg);
    assert_int_not_equal(fill2, fill0);
    assert_int_equal(px_at(&c, L.bar_x[2] + L.bar_w * 55 / 100, L.bar_y[2] + 1), fill2);
    assert_int_equal(px_at(&c, L.bar_x[2] + L.bar_w * 65 / 100, L.bar_y[2] + 1), bg);
    assert_int_equal(px_at(&c, L.bar_x[0] + L.bar_w * 8 / 100, L.bar_y[0] + 1), fill0);
    assert_int_equal(px_at(&c, L.bar_x[0] + L.bar_w * 12 / 100, L.bar_y[0] + 1), bg);
    assert_true(L.slider_w > 0);
    SDL_FreeSurface(s);
}

static void test_map_and_view_every_task(void **state) {
    for (int task = 0; task < ENV_NTASKS; task++)
        for (uint64_t seed = 1; seed <= 6; seed++) check_map_and_view(task, seed, 1280, 720);
    check_map_and_view(ENV_TASK_KEYS_DOORS, 3, 960, 540);
    check_map_and_view(ENV_TASK_GOAL, 3, 1920, 1080);
}

static void test_every_heading(void **state) {
    EnvConfig cfg = {.task = ENV_TASK_WATERMAZE, .items = -1};
    env_config_defaults(&cfg);
    Env e;
    env_init(&e, &cfg, 1);
    for (int d = 0; d < 4; d++) {
        e.dir = d;
        Canvas c;
        SDL_Surface *s = make_surface(1280, 720, &c);
        DrawFrame f;
        frame_of(&f, &e);
        DrawLayout L;
        draw_frame(&c, &f, &L);
        int n = L.cell, cx = L.map_x + e.ax * n + n / 2, cy = L.map_y + e.ay * n + n / 2;
        // the tip (0.3 n ahead) is agent-coloured, the point 0.3 n behind the centre along the
        // heading is too (the base), but the back corners beside the tip are not
        assert_int_equal(px_at(&c, cx + DX[d] * n * 3 / 10, cy + DY[d] * n * 3 / 10), DRAW_AGENT_COLOUR);
        int sx = DX[(d + 1) & 3], sy = DY[(d + 1) & 3];
        assert_int_not_equal(px_at(&c, cx + DX[d] * n * 3 / 10 + sx * n * 3 / 10, cy + DY[d] * n * 3 / 10 + sy * n * 3 / 10),
                             DRAW_AGENT_COLOUR);
        assert_int_equal(px_at(&c, cx - DX[d] * n * 3 / 10 + sx * n * 2 / 10, cy - DY[d] * n * 3 / 10 + sy * n * 2 / 10),
                         DRAW_AGENT_COLOUR);
        SDL_FreeSurface(s);
    }
}

static void test_sizes_stay_inside(void **state) {
    static const int SZ[][2] = {{320, 200}, {400, 300}, {640, 360}, {800, 450}, {1024, 768}, {1280, 720}, {1920, 1080}};
    EnvConfig cfg = {.task = ENV_TASK_GOAL, .size = 21, .items = -1};
    env_config_defaults(&cfg);
    Env e;
    env_init(&e, &cfg, 2);
    int prev_cell = 0, first_cell = 0;
    for (size_t i = 0; i < sizeof SZ / sizeof SZ[0]; i++) {
        int W = SZ[i][0], H = SZ[i][1], G = 16; // guard band around the canvas
        size_t stride = (size_t)W + 2 * G;
        uint32_t *buf = malloc(stride * ((size_t)H + 2 * G) * 4);
        assert_non_null(buf);
        for (size_t k = 0; k < stride * ((size_t)H + 2 * G); k++) buf[k] = 0x12345678u;
        Canvas c = {buf + G * stride + G, W, H, (int)stride};
        DrawFrame f;
        frame_of(&f, &e);
        DrawLayout L;
        draw_frame(&c, &f, &L);
        for (size_t y = 0; y < (size_t)H + 2 * G; y++)
            for (size_t x = 0; x < stride; x++) {
                int inside = y >= (size_t)G && y < (size_t)G + H && x >= (size_t)G && x < (size_t)G + W;
                if (!inside) assert_int_equal(buf[y * stride + x], 0x12345678u);
            }
        if (i == 0) first_cell = L.cell;
        prev_cell = L.cell;
        assert_true(L.map_x + L.cell * e.w <= L.panel_x);
        assert_true(L.view_y + L.view_cell * cfg.view <= H);
        free(buf);
    }
    assert_true(prev_cell >= 30 && prev_cell >= 3 * first_cell); // the map grows with the window
}

static void test_font_bits(void **state) {
    uint32_t buf[16 * 16];
    memset(buf, 0, sizeof buf);
    Canvas c = {buf, 16, 16, 16};
    int w = draw_text(&c, 0, 0, 1, 0xFFFFFFFFu, "A");
    assert_int_equal(w, 6);
    // 'A' = columns 7E 11 11 11 7E (bit 0 on top)
    static const uint8_t A[5] = {0x7E, 0x11, 0x11, 0x11, 0x7E};
    for (int x = 0; x < 6; x++)
        for (int y = 0; y < 8; y++) {
            int on = x < 5 && (A[x] >> y & 1);
            assert_int_equal(buf[y * 16 + x] != 0, on);
        }
    assert_int_equal(draw_text_width("hello", 2), 60);
}

// ---------------------------------------------------------------------------
// PNG

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static void test_png_round_trip(void **state) {
    const int W = 37, H = 23;
    uint32_t px[W * H];
    for (int i = 0; i < W * H; i++) px[i] = DRAW_RGB((i * 7) & 255, (i * 13) & 255, (i / 3) & 255);
    uint8_t *png;
    size_t len;
    assert_int_equal(png_encode(px, W, H, W, &png, &len), 0);
    static const uint8_t SIG[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    assert_memory_equal(png, SIG, 8);
    size_t off = 8;
    uint8_t *idat = NULL;
    size_t idat_len = 0;
    int chunks = 0;
    while (off < len) {
        uint32_t l = be32(png + off);
        assert_true(off + 12 + l <= len);
        uint32_t crc = (uint32_t)crc32(0L, png + off + 4, l + 4);
        assert_int_equal(crc, be32(png + off + 8 + l));
        if (!memcmp(png + off + 4, "IHDR", 4)) {
            assert_int_equal(be32(png + off + 8), W);
            assert_int_equal(be32(png + off + 12), H);
            assert_int_equal(png[off + 16], 8);
            assert_int_equal(png[off + 17], 2);
        }
        if (!memcmp(png + off + 4, "IDAT", 4)) idat = png + off + 8, idat_len = l;
        off += 12 + l;
        chunks++;
    }
    assert_int_equal(off, len);
    assert_int_equal(chunks, 3);
    size_t row = (size_t)W * 3 + 1;
    uint8_t *raw = malloc(row * H);
    uLongf rl = row * H;
    assert_int_equal(uncompress(raw, &rl, idat, idat_len), Z_OK);
    assert_int_equal(rl, row * H);
    for (int y = 0; y < H; y++) {
        uint8_t *r = raw + y * row;
        assert_int_equal(r[0], 1); // Sub filter
        for (int x = 3; x < W * 3; x++) r[1 + x] = (uint8_t)(r[1 + x] + r[1 + x - 3]);
        for (int x = 0; x < W; x++) {
            uint32_t p = px[y * W + x];
            assert_int_equal(r[1 + 3 * x], (p >> 16) & 255);
            assert_int_equal(r[2 + 3 * x], (p >> 8) & 255);
            assert_int_equal(r[3 + 3 * x], p & 255);
        }
    }
    free(raw), free(png);
}

// ---------------------------------------------------------------------------
// GIF: a plain reference decoder (LZW with growing code size, clear codes,
// local colour tables, transparency, disposal "leave in place")

typedef struct { const uint8_t *p; size_t len, pos; } Rd;
static uint8_t rd8(Rd *r) { assert_true(r->pos < r->len); return r->p[r->pos++]; }
static unsigned rd16(Rd *r) { unsigned a = rd8(r); return a | (unsigned)rd8(r) << 8; }

// Decode all frames into out[f][W*H] (0xAARRGGBB); returns the frame count.
static int gif_decode(const uint8_t *buf, size_t len, uint32_t *out, int maxf, int *W, int *H) {
    Rd r = {buf, len, 0};
    assert_memory_equal(buf, "GIF89a", 6);
    r.pos = 6;
    *W = (int)rd16(&r), *H = (int)rd16(&r);
    uint8_t flags = rd8(&r);
    rd8(&r), rd8(&r);
    assert_int_equal(flags & 0x80, 0); // no global table
    uint32_t *canvas = calloc((size_t)*W * *H, 4);
    int frames = 0, transp = -1;
    for (;;) {
        uint8_t b = rd8(&r);
        if (b == 0x3B) break;
        if (b == 0x21) { // extension
            uint8_t label = rd8(&r);
            uint8_t n;
            if (label == 0xF9) {
                n = rd8(&r);
                uint8_t fl = rd8(&r);
                rd16(&r);
                uint8_t ti = rd8(&r);
                transp = (fl & 1) ? ti : -1;
                r.pos += n - 4;
            }
            while ((n = rd8(&r)) != 0) r.pos += n;
            continue;
        }
        assert_int_equal(b, 0x2C);
        int x0 = (int)rd16(&r), y0 = (int)rd16(&r), w = (int)rd16(&r), h = (int)rd16(&r);
        uint8_t fl = rd8(&r);
        assert_true(fl & 0x80);
        int ncol = 1 << ((fl & 7) + 1);
        uint32_t pal[256];
        for (int i = 0; i < ncol; i++) {
            uint8_t cr = rd8(&r), cg = rd8(&r), cb = rd8(&r);
            pal[i] = DRAW_RGB(cr, cg, cb);
        }
        int mcs = rd8(&r);
        // gather sub-blocks
        uint8_t *data = malloc(len);
        size_t dl = 0;
        uint8_t n;
        while ((n = rd8(&r)) != 0) {
            memcpy(data + dl, r.p + r.pos, n);
            dl += n, r.pos += n;
        }
        // LZW decode
        static uint16_t prefix[4096];
        static uint8_t suffix[4096], stack[4097];
        int clear = 1 << mcs, eoi = clear + 1, size = mcs + 1, next = clear + 2, prev = -1;
        uint8_t first = 0;
        size_t bitpos = 0, npx = 0, total = (size_t)w * h;
        uint8_t *idx = malloc(total + 4096);
        for (;;) {
            if (bitpos + (size_t)size > dl * 8) break;
            int code = 0;
            for (int k = 0; k < size; k++, bitpos++) code |= ((data[bitpos >> 3] >> (bitpos & 7)) & 1) << k;
            if (code == clear) { size = mcs + 1, next = clear + 2, prev = -1; continue; }
            if (code == eoi) break;
            int sp = 0, c = code;
            if (prev < 0) {
                assert_true(code < clear);
                idx[npx++] = (uint8_t)code, prev = code, first = (uint8_t)code;
                continue;
            }
            if (code >= next) { // KwKwK
                assert_int_equal(code, next);
                stack[sp++] = first;
                c = prev;
            }
            while (c >= clear) stack[sp++] = suffix[c], c = prefix[c];
            stack[sp++] = (uint8_t)c;
            first = (uint8_t)c;
            while (sp) idx[npx++] = stack[--sp];
            if (next < 4096) {
                prefix[next] = (uint16_t)prev, suffix[next] = first, next++;
                if (next == (1 << size) && size < 12) size++;
            }
            prev = code;
        }
        assert_int_equal(npx, total);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int i = idx[y * w + x];
                if (i != transp) canvas[(size_t)(y + y0) * *W + x + x0] = pal[i];
            }
        free(idx), free(data);
        assert_true(frames < maxf);
        memcpy(out + (size_t)frames * *W * *H, canvas, (size_t)*W * *H * 4);
        frames++;
    }
    free(canvas);
    return frames;
}

static void test_gif_round_trip(void **state) {
    const int W = 160, H = 90, F = 3;
    char path[256], err[300];
    snprintf(path, sizeof path, "/tmp/cpcrl_test_draw_%d.gif", (int)getpid());
    uint32_t *frames = malloc((size_t)F * W * H * 4);
    EnvConfig cfg = {.task = ENV_TASK_KEYS_DOORS, .items = -1};
    env_config_defaults(&cfg);
    Env e;
    env_init(&e, &cfg, 4);
    GifWriter g;
    assert_int_equal(gif_open(&g, path, W, H, err, sizeof err), 0);
    for (int f = 0; f < F; f++) {
        Canvas c = {frames + (size_t)f * W * H, W, H, W};
        DrawFrame df;
        frame_of(&df, &e);
        draw_frame(&c, &df, NULL);
        if (f == 2) // many colours: > 256 forces nearest-colour matching
            for (int i = W * H - 600; i < W * H; i++) c.px[i] = DRAW_RGB(i & 255, (i * 3) & 255, 128);
        assert_int_equal(gif_frame(&g, c.px, W, 10, err, sizeof err), 0);
        uint8_t term, trunc;
        env_step(&e, f == 0 ? ENV_LEFT : ENV_FORWARD, &term, &trunc);
    }
    assert_int_equal(gif_close(&g, err, sizeof err), 0);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static uint8_t buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    unlink(path);
    uint32_t *dec = malloc((size_t)F * W * H * 4);
    int dw, dh;
    assert_int_equal(gif_decode(buf, len, dec, F, &dw, &dh), F);
    assert_int_equal(dw, W);
    assert_int_equal(dh, H);
    for (int f = 0; f < 2; f++) // exact where a frame has at most 255 colours
        for (int i = 0; i < W * H; i++) assert_int_equal(dec[(size_t)f * W * H + i], frames[(size_t)f * W * H + i] | 0xFF000000u);
    for (int i = 0; i < W * H - 600; i++) // colours met before the table filled stay exact
        assert_int_equal(dec[(size_t)2 * W * H + i], frames[(size_t)2 * W * H + i] | 0xFF000000u);
    free(dec), free(frames);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_and_view_every_task),
        cmocka_unit_test(test_every_heading),
        cmocka_unit_test(test_sizes_stay_inside),
        cmocka_unit_test(test_font_bits),
        cmocka_unit_test(test_png_round_trip),
        cmocka_unit_test(test_gif_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
