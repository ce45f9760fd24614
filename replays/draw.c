// draw.c — software renderer and bitmap font (see draw.h).
//
// Layout of a frame (all sizes follow the canvas, so the window may be resized):
//   top bar    mode, task, seed, episode, label
//   left       the full map, square cells: items as glyphs, the agent as a
//              white triangle pointing in its heading, the V x V window in
//              front of it outlined in yellow and the cells it sees tinted;
//              a hidden target (goal_hidden in the task table: a platform,
//              a rewarded arm) dashed (the agent cannot see it; the viewer can)
//   right      step, reward, return; the agent's egocentric view (same
//              colours, unseen cells dark, agent at the bottom facing up);
//              action probabilities as bars, the chosen action marked; value
//              estimate; legend; keys
//   bottom     status line, transient message, replay slider
//   overlay    with a DrawBelief and a layer on: the decoded position and
//              goal distributions as tints over the map (position: whole
//              cells, goal: a disc in each cell), the true cells outlined, and
//              the BELIEF block at the foot of the side panel
#include "replays/draw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "env/tasks.h"

// ----------------------------------------------------------------------------
// Colours

const uint32_t DRAW_KIND_COLOUR[ENV_C] = {
    [ENV_UNSEEN] = DRAW_RGB(16, 16, 20),  [ENV_EMPTY] = DRAW_RGB(46, 48, 56),
    [ENV_WALL] = DRAW_RGB(128, 128, 138), [ENV_GOAL] = DRAW_RGB(40, 190, 80),
    [ENV_APPLE] = DRAW_RGB(225, 40, 50),  [ENV_LEMON] = DRAW_RGB(245, 215, 40),
    [ENV_KEY0] = DRAW_RGB(60, 130, 255),  [ENV_KEY1] = DRAW_RGB(190, 80, 230),
    [ENV_DOOR0] = DRAW_RGB(60, 130, 255), [ENV_DOOR1] = DRAW_RGB(190, 80, 230),
    [ENV_CUE0] = DRAW_RGB(0, 200, 200),   [ENV_CUE1] = DRAW_RGB(255, 140, 0),
    [ENV_CUE2] = DRAW_RGB(240, 100, 170), [ENV_CUE3] = DRAW_RGB(150, 220, 60),
};
const uint32_t DRAW_FLOOR_COLOUR = DRAW_RGB(46, 48, 56);
const uint32_t DRAW_FLOOR_SEEN_COLOUR = DRAW_RGB(92, 90, 62);
const uint32_t DRAW_AGENT_COLOUR = DRAW_RGB(255, 255, 255);
const uint32_t DRAW_BG_COLOUR = DRAW_RGB(24, 25, 30);
const char *const DRAW_ACTION_LABELS[ENV_A] = {"turn left", "turn right", "forward", "interact"};
const uint32_t DRAW_BELIEF_POS_COLOUR = DRAW_RGB(40, 150, 255);
const uint32_t DRAW_BELIEF_GOAL_COLOUR = DRAW_RGB(235, 60, 225);
const uint32_t DRAW_BELIEF_POS_TRUE_COLOUR = DRAW_RGB(170, 220, 255);
const uint32_t DRAW_BELIEF_GOAL_TRUE_COLOUR = DRAW_RGB(255, 175, 250);

static const uint32_t C_TEXT = DRAW_RGB(230, 230, 235);
static const uint32_t C_DIM = DRAW_RGB(150, 152, 160);
static const uint32_t C_HEAD = DRAW_RGB(255, 210, 90);
static const uint32_t C_PANEL = DRAW_RGB(34, 36, 44);
static const uint32_t C_GRIDLINE = DRAW_RGB(30, 31, 37);
static const uint32_t C_CONE = DRAW_RGB(255, 225, 60);
static const uint32_t C_TARGET = DRAW_RGB(120, 255, 150);
static const uint32_t C_BAR = DRAW_RGB(70, 150, 255);
static const uint32_t C_BAR_PICK = DRAW_RGB(255, 150, 30); // the chosen action, on the map too
static const uint32_t C_BAR_BG = DRAW_RGB(52, 54, 64);
static const uint32_t C_GOOD = DRAW_RGB(110, 230, 120);
static const uint32_t C_BAD = DRAW_RGB(255, 100, 100);
static const uint32_t C_OUTLINE = DRAW_RGB(0, 0, 0);

static uint32_t shade(uint32_t c, int num, int den) { // scale RGB by num/den (<= 255 clamp)
    uint32_t r = ((c >> 16) & 255) * (uint32_t)num / (uint32_t)den;
    uint32_t g = ((c >> 8) & 255) * (uint32_t)num / (uint32_t)den;
    uint32_t b = (c & 255) * (uint32_t)num / (uint32_t)den;
    return DRAW_RGB(r > 255 ? 255 : r, g > 255 ? 255 : g, b > 255 ? 255 : b);
}

// Per channel round((u (255 - a) + o a) / 255), red and blue at once in the
// two 16-bit halves of a word (each sum < 2^16), x/255 rounded as
// (t + (t >> 8)) >> 8 with t = x + 128 (exact for x < 2^16).
uint32_t draw_blend(uint32_t under, uint32_t over, int a) {
    const uint32_t A = (uint32_t)(a < 0 ? 0 : a > 255 ? 255 : a), B = 255 - A;
    uint32_t rb = (under & 0xFF00FFu) * B + (over & 0xFF00FFu) * A + 0x800080u;
    uint32_t g = (under >> 8 & 0xFFu) * B + (over >> 8 & 0xFFu) * A + 0x80u;
    rb = (rb + (rb >> 8 & 0xFF00FFu)) >> 8 & 0xFF00FFu;
    g = (g + (g >> 8)) >> 8 & 0xFFu;
    return 0xFF000000u | rb | g << 8;
}

int draw_belief_alpha(float p) {
    if (!(p > 0)) return 0;
    if (p > 1) p = 1;
    return (int)lrintf((float)DRAW_BELIEF_ALPHA * sqrtf(p));
}

// ----------------------------------------------------------------------------
// Font: the classic 5x7 LCD font, ASCII 32..126, one byte per column, bit 0 on
// top; g j p q y use an eighth row for their descenders.

static const uint8_t FONT[95][5] = {
    {0x00, 0x00, 0x00, 0x00, 0x00}, {0x00, 0x00, 0x5F, 0x00, 0x00}, {0x00, 0x07, 0x00, 0x07, 0x00},
    {0x14, 0x7F, 0x14, 0x7F, 0x14}, {0x24, 0x2A, 0x7F, 0x2A, 0x12}, {0x23, 0x13, 0x08, 0x64, 0x62},
    {0x36, 0x49, 0x55, 0x22, 0x50}, {0x00, 0x05, 0x03, 0x00, 0x00}, {0x00, 0x1C, 0x22, 0x41, 0x00},
    {0x00, 0x41, 0x22, 0x1C, 0x00}, {0x08, 0x2A, 0x1C, 0x2A, 0x08}, {0x08, 0x08, 0x3E, 0x08, 0x08},
    {0x00, 0x50, 0x30, 0x00, 0x00}, {0x08, 0x08, 0x08, 0x08, 0x08}, {0x00, 0x60, 0x60, 0x00, 0x00},
    {0x20, 0x10, 0x08, 0x04, 0x02}, {0x3E, 0x51, 0x49, 0x45, 0x3E}, {0x00, 0x42, 0x7F, 0x40, 0x00},
    {0x42, 0x61, 0x51, 0x49, 0x46}, {0x21, 0x41, 0x45, 0x4B, 0x31}, {0x18, 0x14, 0x12, 0x7F, 0x10},
    {0x27, 0x45, 0x45, 0x45, 0x39}, {0x3C, 0x4A, 0x49, 0x49, 0x30}, {0x01, 0x71, 0x09, 0x05, 0x03},
    {0x36, 0x49, 0x49, 0x49, 0x36}, {0x06, 0x49, 0x49, 0x29, 0x1E}, {0x00, 0x36, 0x36, 0x00, 0x00},
    {0x00, 0x56, 0x36, 0x00, 0x00}, {0x08, 0x14, 0x22, 0x41, 0x00}, {0x14, 0x14, 0x14, 0x14, 0x14},
    {0x00, 0x41, 0x22, 0x14, 0x08}, {0x02, 0x01, 0x51, 0x09, 0x06}, {0x32, 0x49, 0x79, 0x41, 0x3E},
    {0x7E, 0x11, 0x11, 0x11, 0x7E}, {0x7F, 0x49, 0x49, 0x49, 0x36}, {0x3E, 0x41, 0x41, 0x41, 0x22},
    {0x7F, 0x41, 0x41, 0x22, 0x1C}, {0x7F, 0x49, 0x49, 0x49, 0x41}, {0x7F, 0x09, 0x09, 0x09, 0x01},
    {0x3E, 0x41, 0x49, 0x49, 0x7A}, {0x7F, 0x08, 0x08, 0x08, 0x7F}, {0x00, 0x41, 0x7F, 0x41, 0x00},
    {0x20, 0x40, 0x41, 0x3F, 0x01}, {0x7F, 0x08, 0x14, 0x22, 0x41}, {0x7F, 0x40, 0x40, 0x40, 0x40},
    {0x7F, 0x02, 0x0C, 0x02, 0x7F}, {0x7F, 0x04, 0x08, 0x10, 0x7F}, {0x3E, 0x41, 0x41, 0x41, 0x3E},
    {0x7F, 0x09, 0x09, 0x09, 0x06}, {0x3E, 0x41, 0x51, 0x21, 0x5E}, {0x7F, 0x09, 0x19, 0x29, 0x46},
    {0x46, 0x49, 0x49, 0x49, 0x31}, {0x01, 0x01, 0x7F, 0x01, 0x01}, {0x3F, 0x40, 0x40, 0x40, 0x3F},
    {0x1F, 0x20, 0x40, 0x20, 0x1F}, {0x3F, 0x40, 0x38, 0x40, 0x3F}, {0x63, 0x14, 0x08, 0x14, 0x63},
    {0x07, 0x08, 0x70, 0x08, 0x07}, {0x61, 0x51, 0x49, 0x45, 0x43}, {0x00, 0x7F, 0x41, 0x41, 0x00},
    {0x02, 0x04, 0x08, 0x10, 0x20}, {0x00, 0x41, 0x41, 0x7F, 0x00}, {0x04, 0x02, 0x01, 0x02, 0x04},
    {0x40, 0x40, 0x40, 0x40, 0x40}, {0x00, 0x01, 0x02, 0x04, 0x00}, {0x20, 0x54, 0x54, 0x54, 0x78},
    {0x7F, 0x48, 0x44, 0x44, 0x38}, {0x38, 0x44, 0x44, 0x44, 0x20}, {0x38, 0x44, 0x44, 0x48, 0x7F},
    {0x38, 0x54, 0x54, 0x54, 0x18}, {0x08, 0x7E, 0x09, 0x01, 0x02}, {0x18, 0xA4, 0xA4, 0xA4, 0x7C},
    {0x7F, 0x08, 0x04, 0x04, 0x78}, {0x00, 0x44, 0x7D, 0x40, 0x00}, {0x40, 0x80, 0x84, 0x7D, 0x00},
    {0x7F, 0x10, 0x28, 0x44, 0x00}, {0x00, 0x41, 0x7F, 0x40, 0x00}, {0x7C, 0x04, 0x18, 0x04, 0x78},
    {0x7C, 0x08, 0x04, 0x04, 0x78}, {0x38, 0x44, 0x44, 0x44, 0x38}, {0xFC, 0x24, 0x24, 0x24, 0x18},
    {0x18, 0x24, 0x24, 0x24, 0xFC}, {0x7C, 0x08, 0x04, 0x04, 0x08}, {0x48, 0x54, 0x54, 0x54, 0x20},
    {0x04, 0x3F, 0x44, 0x40, 0x20}, {0x3C, 0x40, 0x40, 0x20, 0x7C}, {0x1C, 0x20, 0x40, 0x20, 0x1C},
    {0x3C, 0x40, 0x30, 0x40, 0x3C}, {0x44, 0x28, 0x10, 0x28, 0x44}, {0x1C, 0xA0, 0xA0, 0xA0, 0x7C},
    {0x44, 0x64, 0x54, 0x4C, 0x44}, {0x00, 0x08, 0x36, 0x41, 0x00}, {0x00, 0x00, 0x7F, 0x00, 0x00},
    {0x00, 0x41, 0x36, 0x08, 0x00}, {0x08, 0x04, 0x08, 0x10, 0x08},
};

// ----------------------------------------------------------------------------
// Primitives

void draw_fill(Canvas *c, int x, int y, int w, int h, uint32_t col) {
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > c->w ? c->w : x + w, y1 = y + h > c->h ? c->h : y + h;
    for (int yy = y0; yy < y1; yy++) {
        uint32_t *row = c->px + (size_t)yy * c->stride;
        for (int xx = x0; xx < x1; xx++) row[xx] = col;
    }
}

void draw_rect(Canvas *c, int x, int y, int w, int h, int t, uint32_t col) {
    draw_fill(c, x, y, w, t, col);
    draw_fill(c, x, y + h - t, w, t, col);
    draw_fill(c, x, y, t, h, col);
    draw_fill(c, x + w - t, y, t, h, col);
}

static void put_px(Canvas *c, int x, int y, uint32_t col) {
    if ((unsigned)x < (unsigned)c->w && (unsigned)y < (unsigned)c->h) c->px[(size_t)y * c->stride + x] = col;
}

// Blend col over a rectangle (clipped) with alpha a. A cell is mostly one
// colour: the last blend is reused while the pixel under it repeats.
static void tint_rect(Canvas *c, int x, int y, int w, int h, uint32_t col, int a) {
    if (a <= 0) return;
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > c->w ? c->w : x + w, y1 = y + h > c->h ? c->h : y + h;
    uint32_t under = 0, out = draw_blend(0, col, a);
    for (int yy = y0; yy < y1; yy++) {
        uint32_t *row = c->px + (size_t)yy * c->stride;
        for (int xx = x0; xx < x1; xx++) {
            if (row[xx] != under) under = row[xx], out = draw_blend(under, col, a);
            row[xx] = out;
        }
    }
}

int draw_text_width(const char *str, int s) { return (int)strlen(str) * 6 * s; }

int draw_text(Canvas *c, int x, int y, int s, uint32_t col, const char *str) {
    int x0 = x;
    for (const unsigned char *p = (const unsigned char *)str; *p; p++, x += 6 * s) {
        int ch = *p;
        if (ch < 32 || ch > 126) ch = '?';
        const uint8_t *g = FONT[ch - 32];
        for (int cx = 0; cx < 5; cx++)
            for (int cy = 0; cy < 8; cy++)
                if (g[cx] >> cy & 1) draw_fill(c, x + cx * s, y + cy * s, s, s, col);
    }
    return x - x0;
}

// Filled disc / ellipse centred at (cx, cy) with radii rx, ry.
static void fill_ellipse(Canvas *c, int cx, int cy, int rx, int ry, uint32_t col) {
    if (rx < 1) rx = 1;
    if (ry < 1) ry = 1;
    for (int dy = -ry; dy <= ry; dy++)
        for (int dx = -rx; dx <= rx; dx++)
            if ((long)dx * dx * ry * ry + (long)dy * dy * rx * rx <= (long)rx * rx * ry * ry)
                put_px(c, cx + dx, cy + dy, col);
}

static void ring(Canvas *c, int cx, int cy, int r, int t, uint32_t col) {
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++) {
            int d2 = dx * dx + dy * dy;
            if (d2 <= r * r && d2 >= (r - t) * (r - t)) put_px(c, cx + dx, cy + dy, col);
        }
}

// Triangle by edge functions over its bounding box (pixel centres).
static void fill_triangle(Canvas *c, const float *vx, const float *vy, uint32_t col) {
    float minx = fminf(vx[0], fminf(vx[1], vx[2])), maxx = fmaxf(vx[0], fmaxf(vx[1], vx[2]));
    float miny = fminf(vy[0], fminf(vy[1], vy[2])), maxy = fmaxf(vy[0], fmaxf(vy[1], vy[2]));
    float area = (vx[1] - vx[0]) * (vy[2] - vy[0]) - (vy[1] - vy[0]) * (vx[2] - vx[0]);
    float sg = area < 0 ? -1.0f : 1.0f;
    for (int y = (int)floorf(miny); y <= (int)ceilf(maxy); y++)
        for (int x = (int)floorf(minx); x <= (int)ceilf(maxx); x++) {
            float px = (float)x + 0.5f, py = (float)y + 0.5f;
            int in = 1;
            for (int k = 0; k < 3 && in; k++) {
                int j = (k + 1) % 3;
                float e = (vx[j] - vx[k]) * (py - vy[k]) - (vy[j] - vy[k]) * (px - vx[k]);
                if (e * sg < 0) in = 0;
            }
            if (in) put_px(c, x, y, col);
        }
}

void draw_agent(Canvas *c, int x, int y, int n, int dir, uint32_t col) {
    // pointing north, then rotated about the cell centre
    float cx = (float)x + (float)n / 2, cy = (float)y + (float)n / 2, r = (float)n * 0.42f;
    static const float BX[3] = {0.0f, -0.8f, 0.8f}, BY[3] = {-1.0f, 0.85f, 0.85f};
    float vx[3], vy[3], ox[3], oy[3];
    for (int k = 0; k < 3; k++) {
        float u = BX[k], v = BY[k], ru, rv;
        switch (dir & 3) {
        case 0: ru = u, rv = v; break;
        case 1: ru = -v, rv = u; break;
        case 2: ru = -u, rv = -v; break;
        default: ru = v, rv = -u; break;
        }
        vx[k] = cx + ru * r, vy[k] = cy + rv * r;
        ox[k] = cx + ru * (r + (float)n * 0.07f + 1.0f), oy[k] = cy + rv * (r + (float)n * 0.07f + 1.0f);
    }
    fill_triangle(c, ox, oy, C_OUTLINE);
    fill_triangle(c, vx, vy, col);
}

void draw_cell(Canvas *c, int x, int y, int n, int kind, uint32_t floor) {
    uint32_t col = kind >= 0 && kind < ENV_C ? DRAW_KIND_COLOUR[kind] : DRAW_RGB(255, 0, 255);
    int g = n >= 8 ? 1 : 0; // grid line
    draw_fill(c, x, y, n, n, C_GRIDLINE);
    int m = n - g;
    switch (kind) {
    case ENV_UNSEEN: {
        draw_fill(c, x, y, m, m, col);
        int d = n / 4 > 0 ? n / 4 : 1;
        for (int k = d; k < m; k += d) put_px(c, x + k, y + k, DRAW_RGB(40, 40, 48));
        break;
    }
    case ENV_EMPTY: draw_fill(c, x, y, m, m, floor); break;
    case ENV_WALL:
        draw_fill(c, x, y, m, m, col);
        draw_fill(c, x, y + m - (n + 7) / 8, m, (n + 7) / 8, shade(col, 3, 5));
        draw_fill(c, x + m - (n + 7) / 8, y, (n + 7) / 8, m, shade(col, 3, 5));
        break;
    case ENV_GOAL:
        draw_fill(c, x, y, m, m, col);
        draw_rect(c, x + n / 5, y + n / 5, m - 2 * (n / 5), m - 2 * (n / 5), n >= 12 ? 2 : 1,
                  shade(col, 7, 5));
        break;
    case ENV_APPLE:
        draw_fill(c, x, y, m, m, floor);
        fill_ellipse(c, x + n / 2, y + n * 11 / 20, n * 3 / 10, n * 3 / 10, col);
        draw_fill(c, x + n / 2, y + n / 8, n / 10 > 0 ? n / 10 : 1, n / 5, DRAW_RGB(60, 160, 60));
        break;
    case ENV_LEMON:
        draw_fill(c, x, y, m, m, floor);
        fill_ellipse(c, x + n / 2, y + n / 2, n * 7 / 20, n / 4, col);
        break;
    case ENV_KEY0:
    case ENV_KEY1: {
        draw_fill(c, x, y, m, m, floor);
        int t = n / 10 > 0 ? n / 10 : 1, r = n / 5 > 1 ? n / 5 : 1;
        ring(c, x + n / 3, y + n / 3, r, t + 1, col);
        draw_fill(c, x + n / 3 + r / 2, y + n / 3 + r / 2, t + 1, n / 2, col); // shaft (diagonal-ish)
        draw_fill(c, x + n / 3 + r / 2, y + n * 3 / 4, n / 4, t + 1, col);     // tooth
        draw_fill(c, x + n / 3 + r / 2, y + n * 3 / 5, n / 5, t + 1, col);     // tooth
        break;
    }
    case ENV_DOOR0:
    case ENV_DOOR1: {
        draw_fill(c, x, y, m, m, shade(col, 1, 2));
        int t = n / 12 > 0 ? n / 12 : 1;
        draw_rect(c, x + t, y + t, m - 2 * t, m - 2 * t, t, col);
        draw_fill(c, x + m * 2 / 3, y + m / 2 - t, 2 * t, 2 * t, col); // handle
        break;
    }
    case ENV_CUE0:
    case ENV_CUE1:
    case ENV_CUE2:
    case ENV_CUE3: {
        draw_fill(c, x, y, m, m, col);
        uint32_t dark = shade(col, 3, 4);
        int step = n / 4 > 2 ? n / 4 : 3;
        for (int yy = 0; yy < m; yy++)
            for (int xx = 0; xx < m; xx++)
                if ((xx + yy) % step < step / 3 + 1) put_px(c, x + xx, y + yy, dark);
        break;
    }
    default: draw_fill(c, x, y, m, m, col); break;
    }
}

// ----------------------------------------------------------------------------
// Frame


static int obs_kind(const uint8_t *obs, int V, int r, int col) {
    const int VV = V * V;
    for (int k = 0; k < ENV_C; k++)
        if (obs[(size_t)k * VV + r * V + col]) return k;
    return ENV_UNSEEN;
}

// World cell of view cell (r, col): the agent sits at (V-1, V/2) facing up.
static void view_to_world(const DrawFrame *f, int r, int col, int *wx, int *wy) {
    int fwd = f->view - 1 - r, side = col - f->view / 2, rd = (f->dir + 1) & 3;
    *wx = f->ax + fwd * ENV_DX[f->dir] + side * ENV_DX[rd];
    *wy = f->ay + fwd * ENV_DY[f->dir] + side * ENV_DY[rd];
}

static void dashed_rect(Canvas *c, int x, int y, int w, int h, int t, uint32_t col) {
    int d = w / 6 > 2 ? w / 6 : 2;
    for (int k = 0; k < w; k += 2 * d) {
        draw_fill(c, x + k, y, d < w - k ? d : w - k, t, col);
        draw_fill(c, x + k, y + h - t, d < w - k ? d : w - k, t, col);
    }
    for (int k = 0; k < h; k += 2 * d) {
        draw_fill(c, x, y + k, t, d < h - k ? d : h - k, col);
        draw_fill(c, x + w - t, y + k, t, d < h - k ? d : h - k, col);
    }
}

// The action about to be taken, on the map: a chevron in the cell ahead
// (forward), beside the agent (turns), or a frame around the cell ahead
// (interact). Points are (ahead, right) offsets from the agent cell centre.
static void action_marker(Canvas *c, int x, int y, int n, int dir, int action) {
    const float fx = (float)ENV_DX[dir], fy = (float)ENV_DY[dir];
    const float rx = (float)ENV_DX[(dir + 1) & 3], ry = (float)ENV_DY[(dir + 1) & 3];
    const float cx = (float)x + (float)n / 2, cy = (float)y + (float)n / 2, N = (float)n;
    float a[3], b[3];
    switch (action) {
    case ENV_FORWARD: a[0] = 1.0f, b[0] = 0; a[1] = 0.66f, b[1] = -0.24f; a[2] = 0.66f, b[2] = 0.24f; break;
    case ENV_LEFT: a[0] = 0, b[0] = -0.8f; a[1] = -0.2f, b[1] = -0.54f; a[2] = 0.2f, b[2] = -0.54f; break;
    case ENV_RIGHT: a[0] = 0, b[0] = 0.8f; a[1] = -0.2f, b[1] = 0.54f; a[2] = 0.2f, b[2] = 0.54f; break;
    case ENV_INTERACT: {
        int t = n >= 24 ? 3 : 2;
        draw_rect(c, x + ENV_DX[dir] * n + t, y + ENV_DY[dir] * n + t, n - 2 * t, n - 2 * t, t, C_BAR_PICK);
        return;
    }
    default: return;
    }
    float vx[3], vy[3], ox[3], oy[3];
    for (int k = 0; k < 3; k++) {
        vx[k] = cx + (a[k] * fx + b[k] * rx) * N, vy[k] = cy + (a[k] * fy + b[k] * ry) * N;
    }
    // outline: the same triangle grown about its centroid
    float gx = (vx[0] + vx[1] + vx[2]) / 3, gy = (vy[0] + vy[1] + vy[2]) / 3;
    for (int k = 0; k < 3; k++) ox[k] = gx + (vx[k] - gx) * 1.35f, oy[k] = gy + (vy[k] - gy) * 1.35f;
    fill_triangle(c, ox, oy, C_OUTLINE);
    fill_triangle(c, vx, vy, C_BAR_PICK);
}

typedef struct { int kind; const char *name; int special; } LegendItem;
enum { L_CELL = 0, L_AGENT, L_SEEN, L_TARGET, L_NEXT };

static int legend_items(int task, int has_policy, LegendItem *it) {
    int n = 0;
    it[n++] = (LegendItem){0, "agent", L_AGENT};
    if (has_policy) it[n++] = (LegendItem){0, "next action", L_NEXT};
    it[n++] = (LegendItem){0, "seen by agent", L_SEEN};
    it[n++] = (LegendItem){ENV_WALL, "wall", L_CELL};
    const EnvTask *T = env_task(task);
    for (int i = 0; T && i < ENV_LEGEND_MAX && T->legend[i].name; i++) {
        const EnvLegendItem *l = &T->legend[i];
        it[n++] = l->kind == ENV_LEGEND_TARGET ? (LegendItem){0, l->name, L_TARGET} : (LegendItem){l->kind, l->name, L_CELL};
    }
    return n;
}

static const char *kind_label(int kind) {
    switch (kind) {
    case ENV_KEY0: return "blue key";
    case ENV_KEY1: return "purple key";
    default: return "nothing";
    }
}

// Rows needed to lay items of widths w[] left to right within `avail`, and
// the position of each (row, x offset) when pos is given.
static int flow_rows(const int *w, int n, int avail) {
    int rows = 0, x = avail;
    for (int i = 0; i < n; i++) {
        if (w[i] <= 0) continue;
        if (x + w[i] > avail && x > 0) rows++, x = 0;
        x += w[i];
    }
    return rows;
}

static void legend_swatch(Canvas *c, const LegendItem *it, int lx, int ly, int sw) {
    switch (it->special) {
    case L_AGENT:
        draw_fill(c, lx, ly, sw, sw, DRAW_FLOOR_COLOUR);
        draw_agent(c, lx, ly, sw, 1, DRAW_AGENT_COLOUR);
        break;
    case L_SEEN:
        draw_fill(c, lx, ly, sw, sw, DRAW_FLOOR_SEEN_COLOUR);
        draw_rect(c, lx, ly, sw, sw, 1, C_CONE);
        break;
    case L_TARGET:
        draw_fill(c, lx, ly, sw, sw, DRAW_FLOOR_COLOUR);
        dashed_rect(c, lx, ly, sw, sw, 1, C_TARGET);
        break;
    case L_NEXT: {
        float tx[3] = {(float)lx, (float)(lx + sw), (float)lx}, ty[3] = {(float)ly, (float)ly + (float)sw / 2, (float)(ly + sw)};
        fill_triangle(c, tx, ty, C_BAR_PICK);
        break;
    }
    default: draw_cell(c, lx, ly, sw, it->kind, DRAW_FLOOR_COLOUR); break;
    }
}

// ----------------------------------------------------------------------------
// The belief overlay

static int belief_pos_on(const DrawFrame *f) { return f->belief && f->belief->show_pos && f->belief->pos; }
static int belief_goal_on(const DrawFrame *f) {
    return f->belief && f->belief->show_goal && (f->belief->goal || f->belief->cue);
}
static int belief_on(const DrawFrame *f) { return belief_pos_on(f) || belief_goal_on(f); }

// Lines of the side panel's BELIEF block (0: not drawn).
static int belief_lines(const DrawFrame *f) {
    if (!belief_on(f)) return 0;
    const DrawBelief *b = f->belief;
    int n = 1 + (b->pos ? 2 : 0) + (b->goal || b->cue ? 2 : 0) + (b->cue ? 1 : 0);
    return n + (b->note != NULL) + (b->warn != NULL);
}

// A disc of radius r about (cx, cy), blended, by rows.
static void tint_disc(Canvas *c, int cx, int cy, int r, uint32_t col, int a) {
    for (int dy = -r; dy <= r; dy++) {
        int w = (int)floor(sqrt((double)(r * r - dy * dy)));
        tint_rect(c, cx - w, cy + dy, 2 * w + 1, 1, col, a);
    }
}

// Geometry of the goal layer's disc in a cell of side n at (x, y).
static void goal_disc(int x, int y, int n, int *cx, int *cy, int *r) {
    const int m = n - (n >= 8 ? 1 : 0);
    *cx = x + m / 2, *cy = y + m / 2, *r = n * 3 / 10 > 1 ? n * 3 / 10 : 1;
}

// The tints over the map's cells: the position layer over each cell's
// interior (n minus its grid line), the goal layer as a disc in its middle.
static void belief_map(Canvas *c, const DrawFrame *f, int mx, int my, int n) {
    const DrawBelief *b = f->belief;
    const int m = n - (n >= 8 ? 1 : 0);
    for (int y = 0; y < f->h; y++)
        for (int x = 0; x < f->w; x++) {
            const int v = y * ENV_MAX_SIZE + x;
            if (belief_pos_on(f))
                tint_rect(c, mx + x * n, my + y * n, m, m, DRAW_BELIEF_POS_COLOUR, draw_belief_alpha(b->pos[v]));
            if (b->show_goal && b->goal) {
                int cx, cy, r;
                goal_disc(mx + x * n, my + y * n, n, &cx, &cy, &r);
                tint_disc(c, cx, cy, r, DRAW_BELIEF_GOAL_COLOUR, draw_belief_alpha(b->goal[v]));
            }
        }
}

// The true cell of each layer outlined in a light shade of the layer's
// colour (seen on the layer's full colour too): the position cell's edge, a
// ring around the goal cell's disc.
static void belief_truth(Canvas *c, const DrawFrame *f, int mx, int my, int n) {
    const DrawBelief *b = f->belief;
    const int m = n - (n >= 8 ? 1 : 0), t = n >= 24 ? 3 : n >= 12 ? 2 : 1;
    if (belief_pos_on(f) && (unsigned)f->ax < (unsigned)f->w && (unsigned)f->ay < (unsigned)f->h)
        draw_rect(c, mx + f->ax * n, my + f->ay * n, m, m, t, DRAW_BELIEF_POS_TRUE_COLOUR);
    if (b->show_goal && b->goal && (unsigned)f->tx < (unsigned)f->w && (unsigned)f->ty < (unsigned)f->h) {
        int cx, cy, r;
        goal_disc(mx + f->tx * n, my + f->ty * n, n, &cx, &cy, &r);
        ring(c, cx, cy, r + t, t, DRAW_BELIEF_GOAL_TRUE_COLOUR);
    }
}

static float clamp01(float p) { return p > 0 ? (p < 1 ? p : 1) : 0; }

// The block at y in the side panel (x0, width pw). Returns the y below it.
static int belief_panel(Canvas *c, const DrawFrame *f, int x0, int y, int pw, int s, DrawLayout *L) {
    const DrawBelief *b = f->belief;
    const int cw = 6 * s, lh = 10 * s, sw = lh - 2 * s, tx = x0 + sw + cw;
    char buf[96];
    L->belief_y = y, L->line_x = tx, L->swatch_x = x0, L->swatch_w = sw;
    L->pos_line_y = L->goal_line_y = -1;
    draw_text(c, x0, y, s, C_HEAD, "BELIEF");
    draw_text(c, x0 + 7 * cw, y, s, C_DIM, "read from c_t");
    y += lh;
    for (int layer = 0; layer < 2; layer++) {
        const int on = layer == 0 ? belief_pos_on(f) : belief_goal_on(f);
        const uint32_t col = layer == 0 ? DRAW_BELIEF_POS_COLOUR : DRAW_BELIEF_GOAL_COLOUR;
        if (layer == 0 && !b->pos) continue;
        if (layer == 1 && !b->goal && !b->cue) continue;
        const char *name = layer == 0 ? "position" : b->goal_name ? b->goal_name : "goal";
        const char *key = layer == 0 ? "B" : "T";
        float pt = 0;
        if (layer == 0 && (unsigned)f->ax < ENV_MAX_SIZE && (unsigned)f->ay < ENV_MAX_SIZE)
            pt = b->pos[f->ay * ENV_MAX_SIZE + f->ax];
        if (layer == 1 && b->goal && (unsigned)f->tx < ENV_MAX_SIZE && (unsigned)f->ty < ENV_MAX_SIZE)
            pt = b->goal[f->ty * ENV_MAX_SIZE + f->tx];
        if (layer == 1 && !b->goal && b->cue) pt = b->cue[f->cue ? 1 : 0];
        if (on) draw_fill(c, x0, y, sw, sw, col);
        else draw_rect(c, x0, y, sw, sw, s, col);
        if (on) snprintf(buf, sizeof buf, "%s  p(true) %.2f  [%s]", name, (double)clamp01(pt), key);
        else snprintf(buf, sizeof buf, "%s  off  [%s]", name, key);
        draw_text(c, tx, y + s, s, on ? C_TEXT : C_DIM, buf);
        if (layer == 0) L->pos_line_y = y;
        else L->goal_line_y = y;
        y += lh;
        const float acc = layer == 0 ? b->acc_pos : b->acc_goal, ch = layer == 0 ? b->chance_pos : b->chance_goal;
        snprintf(buf, sizeof buf, "held-out acc %.2f, chance %.2f", (double)acc, (double)ch);
        draw_text(c, tx, y + s, s, C_DIM, buf);
        y += lh;
        if (layer == 1 && b->cue) { // the cue: left arm | right arm, the true side outlined
            const int bw = pw - (tx - x0), bh = lh - 2 * s;
            const float pl = clamp01(b->cue[0]);
            const int split = (int)lrintf(pl * (float)bw);
            draw_fill(c, tx, y, bw, bh, C_BAR_BG);
            if (on) {
                draw_fill(c, tx, y, split, bh, DRAW_KIND_COLOUR[ENV_CUE0]);
                draw_fill(c, tx + split, y, bw - split, bh, DRAW_KIND_COLOUR[ENV_CUE1]);
                if (f->cue) draw_rect(c, tx + split, y, bw - split, bh, s, C_TEXT);
                else draw_rect(c, tx, y, split, bh, s, C_TEXT);
                snprintf(buf, sizeof buf, "L %.2f", (double)pl);
                draw_text(c, tx + s * 2, y + s / 2, s, DRAW_RGB(0, 0, 0), buf);
                snprintf(buf, sizeof buf, "R %.2f", (double)(1 - pl));
                draw_text(c, tx + bw - draw_text_width(buf, s) - 2 * s, y + s / 2, s, DRAW_RGB(0, 0, 0), buf);
            }
            L->cue_x = tx, L->cue_y = y, L->cue_w = bw, L->cue_h = bh;
            y += lh;
        }
    }
    if (b->note) draw_text(c, x0, y + s, s, C_DIM, b->note), y += lh;
    if (b->warn) draw_text(c, x0, y + s, s, C_BAD, b->warn), y += lh;
    L->belief_h = y - L->belief_y;
    return y;
}

void draw_frame(Canvas *c, const DrawFrame *f, DrawLayout *lay) {
    DrawLayout L;
    memset(&L, 0, sizeof L);
    const int W = c->w, H = c->h;
    draw_fill(c, 0, 0, W, H, DRAW_BG_COLOUR);
    int s = H >= 1000 && W >= 1500 ? 3 : (H >= 560 && W >= 900 ? 2 : 1);
    const int cw = 6 * s, lh = 10 * s, pad = 6 * s;
    char buf[160];

    // --- panel geometry
    int P = 34 * cw + 2 * pad;
    if (P > W * 45 / 100) P = W * 45 / 100;
    int px0 = W - P;
    L.panel_x = px0;
    int top = lh + 2 * pad;                       // top bar
    // bottom strip under the map: status, message, slider, legend, keys (flowed in rows)
    LegendItem items[12];
    const int nleg = legend_items(f->task, f->has_policy, items);
    const int LW = px0 - 2 * pad, sw = lh - 2 * s;
    int lw[12], kw[DRAW_MAX_KEYS];
    for (int i = 0; i < nleg; i++) lw[i] = sw + cw / 2 + draw_text_width(items[i].name, s) + 2 * cw;
    for (int i = 0; i < f->nkeys; i++) kw[i] = f->keys[i] ? draw_text_width(f->keys[i], s) + 3 * cw : 0;
    const int leg_rows = flow_rows(lw, nleg, LW), key_rows = flow_rows(kw, f->nkeys, LW);
    int bottom = 2 * lh + pad + (f->slider_len > 0 ? lh + pad : 0) + (leg_rows + key_rows) * lh + pad;

    // --- top bar
    draw_fill(c, 0, 0, W, top - pad / 2, C_PANEL);
    int x = pad;
    x += draw_text(c, x, pad, s, C_HEAD, f->mode ? f->mode : "CPCRL");
    snprintf(buf, sizeof buf, "  task %s  seed %llu  episode %llu",
             f->task >= 0 && f->task < ENV_NTASKS ? ENV_TASK_NAMES[f->task] : "?",
             (unsigned long long)f->seed, (unsigned long long)f->episode);
    x += draw_text(c, x, pad, s, C_TEXT, buf);
    if (f->label) {
        int room = (W - pad - x) / cw - 2;
        if (room > 3) {
            snprintf(buf, sizeof buf, "  %.*s", room < 150 ? room : 150, f->label);
            draw_text(c, x, pad, s, C_DIM, buf);
        }
    }

    // --- map
    int mw = px0 - 2 * pad, mh = H - top - bottom;
    int n = f->w > 0 && f->h > 0 ? (mw / f->w < mh / f->h ? mw / f->w : mh / f->h) : 1;
    if (n < 1) n = 1;
    int mx = pad + (mw - n * f->w) / 2, my = top + (mh - n * f->h) / 2;
    L.cell = n, L.map_x = mx, L.map_y = my;
    // which map cells the agent sees now (from its observation)
    uint8_t seen[ENV_MAX_SIZE * ENV_MAX_SIZE];
    memset(seen, 0, sizeof seen);
    if (f->obs && f->view > 0)
        for (int r = 0; r < f->view; r++)
            for (int col = 0; col < f->view; col++) {
                int wx, wy;
                view_to_world(f, r, col, &wx, &wy);
                if ((unsigned)wx < (unsigned)f->w && (unsigned)wy < (unsigned)f->h &&
                    obs_kind(f->obs, f->view, r, col) != ENV_UNSEEN)
                    seen[wy * f->w + wx] = 1;
            }
    for (int y = 0; y < f->h; y++)
        for (int xx = 0; xx < f->w; xx++) {
            int k = f->grid[y * f->w + xx];
            draw_cell(c, mx + xx * n, my + y * n, n, k,
                      seen[y * f->w + xx] ? DRAW_FLOOR_SEEN_COLOUR : DRAW_FLOOR_COLOUR);
        }
    if (belief_on(f)) belief_map(c, f, mx, my, n);
    const EnvTask *T = env_task(f->task);
    int hidden = T && T->goal_hidden;
    if (hidden && (unsigned)f->tx < (unsigned)f->w && (unsigned)f->ty < (unsigned)f->h) {
        int t = n >= 16 ? 2 : 1;
        dashed_rect(c, mx + f->tx * n + t, my + f->ty * n + t, n - 2 * t - 1, n - 2 * t - 1, t, C_TARGET);
    }
    // view window outline (clipped to the map)
    if (f->view > 0) {
        int x0 = 1 << 20, y0 = 1 << 20, x1 = -(1 << 20), y1 = -(1 << 20);
        int corners[4][2] = {{0, 0}, {0, f->view - 1}, {f->view - 1, 0}, {f->view - 1, f->view - 1}};
        for (int k = 0; k < 4; k++) {
            int wx, wy;
            view_to_world(f, corners[k][0], corners[k][1], &wx, &wy);
            x0 = wx < x0 ? wx : x0, x1 = wx > x1 ? wx : x1;
            y0 = wy < y0 ? wy : y0, y1 = wy > y1 ? wy : y1;
        }
        x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
        x1 = x1 >= f->w ? f->w - 1 : x1, y1 = y1 >= f->h ? f->h - 1 : y1;
        int t = n >= 20 ? 3 : (n >= 10 ? 2 : 1);
        draw_rect(c, mx + x0 * n - t / 2, my + y0 * n - t / 2, (x1 - x0 + 1) * n + t, (y1 - y0 + 1) * n + t,
                  t, C_CONE);
    }
    if (belief_on(f)) belief_truth(c, f, mx, my, n);
    draw_agent(c, mx + f->ax * n, my + f->ay * n, n, f->dir, DRAW_AGENT_COLOUR);
    if (f->has_policy && !f->ended) action_marker(c, mx + f->ax * n, my + f->ay * n, n, f->dir, f->action);
    if (f->carrying) // the key carried, small, in the agent's cell corner
        draw_cell(c, mx + f->ax * n + n * 3 / 5, my + f->ay * n + n * 3 / 5, n * 2 / 5, f->carrying,
                  DRAW_FLOOR_SEEN_COLOUR);
    if (f->ended) {
        const char *why = f->ended == 1 ? "EPISODE OVER (terminated)" : "EPISODE OVER (time limit)";
        snprintf(buf, sizeof buf, "%s  return %+.2f", why, (double)f->ret);
        int tw = draw_text_width(buf, s) + 2 * pad;
        int bx = mx + (n * f->w - tw) / 2, by = my + n * f->h / 2 - lh;
        draw_fill(c, bx, by, tw, 2 * lh, DRAW_RGB(0, 0, 0));
        draw_rect(c, bx, by, tw, 2 * lh, s, C_HEAD);
        draw_text(c, bx + pad, by + lh / 2 + s, s, C_HEAD, buf);
    }

    // --- bottom strip: status, message, slider, legend, keys
    int by = H - bottom + pad / 2;
    if (f->status) draw_text(c, pad, by, s, C_TEXT, f->status);
    if (f->message) draw_text(c, pad, by + lh, s, C_GOOD, f->message);
    by += 2 * lh;
    if (f->slider_len > 0) {
        snprintf(buf, sizeof buf, "%d/%d", f->slider_pos, f->slider_len);
        int tw = draw_text_width(buf, s);
        int sx = pad, slw = px0 - 3 * pad - tw, sy = by + pad / 2, sh = lh - 2 * s;
        if (slw < 10) slw = 10;
        draw_fill(c, sx, sy + sh / 2 - s, slw, 2 * s, C_BAR_BG);
        int fillw = (int)((long)slw * f->slider_pos / f->slider_len);
        draw_fill(c, sx, sy + sh / 2 - s, fillw, 2 * s, C_BAR);
        draw_fill(c, sx + fillw - 2 * s, sy, 4 * s, sh, C_HEAD);
        draw_text(c, sx + slw + pad, sy, s, C_TEXT, buf);
        L.slider_x = sx, L.slider_y = sy, L.slider_w = slw, L.slider_h = sh;
        by += lh + pad;
    }
    by += pad / 2;
    int fx = LW, frow = -1;
    for (int i = 0; i < nleg; i++) {
        if (fx + lw[i] > LW && fx > 0) frow++, fx = 0;
        int lx = pad + fx, ly = by + frow * lh;
        legend_swatch(c, &items[i], lx, ly, sw);
        draw_text(c, lx + sw + cw / 2, ly + s, s, C_DIM, items[i].name);
        fx += lw[i];
    }
    by += leg_rows * lh;
    fx = LW, frow = -1;
    for (int i = 0; i < f->nkeys; i++) {
        if (kw[i] <= 0) continue;
        if (fx + kw[i] > LW && fx > 0) frow++, fx = 0;
        draw_text(c, pad + fx, by + frow * lh, s, C_HEAD, f->keys[i]);
        fx += kw[i];
    }

    // --- side panel
    draw_fill(c, px0, top, P, H - top, C_PANEL);
    int x0 = px0 + pad, y = top + pad, pw = P - 2 * pad;
    snprintf(buf, sizeof buf, "step %d / %d", f->step, f->max_steps);
    draw_text(c, x0, y, s, C_TEXT, buf);
    y += lh;
    x = x0 + draw_text(c, x0, y, s, C_TEXT, "reward ");
    snprintf(buf, sizeof buf, "%+.2f", (double)f->last_reward);
    x += draw_text(c, x, y, s, f->last_reward > 0 ? C_GOOD : f->last_reward < 0 ? C_BAD : C_TEXT, buf);
    snprintf(buf, sizeof buf, "  return %+.2f", (double)f->ret);
    draw_text(c, x, y, s, C_TEXT, buf);
    y += lh;
    snprintf(buf, sizeof buf, "carrying %s", kind_label(f->carrying));
    draw_text(c, x0, y, s, C_DIM, buf);
    y += lh + pad;

    // below the view: the policy (heading, A bars, next action)
    int below = lh + pad / 2 + ENV_A * (lh + s) + lh + pad;
    const int blines = belief_lines(f);
    if (blines) below += blines * lh + pad;
    int vavail = H - y - lh - below - 2 * pad;
    int V = f->view > 0 ? f->view : 1;
    int vn = vavail / V < pw / V ? vavail / V : pw / V;
    if (vn > 24 * s + 16) vn = 24 * s + 16;
    if (vn < 3) vn = 3;
    draw_text(c, x0, y, s, C_HEAD, "AGENT VIEW");
    snprintf(buf, sizeof buf, "%dx%d, facing up", V, V);
    draw_text(c, x0 + 11 * cw, y, s, C_DIM, buf);
    y += lh;
    int vx = x0 + (pw - vn * V) / 2;
    L.view_cell = vn, L.view_x = vx, L.view_y = y;
    if (f->obs) {
        for (int r = 0; r < V; r++)
            for (int col = 0; col < V; col++) {
                int k = obs_kind(f->obs, V, r, col);
                if (r == V - 1 && col == V / 2) k = ENV_EMPTY; // the agent's cell: what it carries is drawn small below
                draw_cell(c, vx + col * vn, y + r * vn, vn, k, DRAW_FLOOR_SEEN_COLOUR);
            }
        int ar = V - 1, ac = V / 2;
        draw_agent(c, vx + ac * vn, y + ar * vn, vn, 0, DRAW_AGENT_COLOUR);
        int k = obs_kind(f->obs, V, ar, ac);
        if (k == ENV_KEY0 || k == ENV_KEY1)
            draw_cell(c, vx + ac * vn + vn * 3 / 5, y + ar * vn + vn * 3 / 5, vn * 2 / 5, k, DRAW_FLOOR_SEEN_COLOUR);
    }
    draw_rect(c, vx - s, y - s, vn * V + 2 * s, vn * V + 2 * s, s, C_CONE);
    y += vn * V + pad;

    // policy
    if (f->has_policy) {
        draw_text(c, x0, y, s, C_HEAD, "POLICY");
        snprintf(buf, sizeof buf, "value V(s) %+.3f", (double)f->value);
        draw_text(c, x0 + 8 * cw, y, s, C_TEXT, buf);
    } else if (f->person) {
        draw_text(c, x0, y, s, C_HEAD, "ACTIONS");
        draw_text(c, x0 + 8 * cw, y, s, C_DIM, f->person == 1 ? "(a person plays)" : "(a person played)");
    } else { // an agent with no decision here: the episode's last frame, or a replay without one
        draw_text(c, x0, y, s, C_HEAD, "POLICY");
        draw_text(c, x0 + 8 * cw, y, s, C_DIM, f->ended ? "(episode over)" : "(none recorded here)");
    }
    y += lh + pad / 2;
    int labw = 12 * cw, numw = 5 * cw;
    L.bar_w = pw - labw - numw - cw;
    L.bar_h = lh - 2 * s;
    for (int a = 0; a < ENV_A; a++) {
        int pick = a == f->action;
        uint32_t tc = pick ? C_BAR_PICK : C_TEXT;
        if (pick) draw_text(c, x0, y, s, C_BAR_PICK, ">");
        draw_text(c, x0 + cw, y, s, tc, DRAW_ACTION_LABELS[a]);
        int bx = x0 + labw;
        L.bar_x[a] = bx, L.bar_y[a] = y;
        draw_fill(c, bx, y, L.bar_w, L.bar_h, C_BAR_BG);
        if (f->has_policy) {
            float p = f->probs[a] < 0 ? 0 : f->probs[a] > 1 ? 1 : f->probs[a];
            draw_fill(c, bx, y, (int)(p * (float)L.bar_w + 0.5f), L.bar_h, pick ? C_BAR_PICK : C_BAR);
            snprintf(buf, sizeof buf, "%.2f", (double)p);
            draw_text(c, bx + L.bar_w + cw / 2, y, s, tc, buf);
        } else if (pick) {
            draw_fill(c, bx, y, L.bar_w, L.bar_h, C_BAR_PICK);
        }
        y += lh + s;
    }
    const char *what = f->person == 1 ? "you pressed" : "next action";
    if (f->action >= 0 && f->action < ENV_A)
        snprintf(buf, sizeof buf, "%s: %s", what, DRAW_ACTION_LABELS[f->action]);
    else if (!f->person && f->ended)
        snprintf(buf, sizeof buf, "%s: none", what);
    else
        snprintf(buf, sizeof buf, "%s: -", what);
    draw_text(c, x0, y, s, C_BAR_PICK, buf);
    y += lh + pad;
    if (blines) y = belief_panel(c, f, x0, y, pw, s, &L);
    if (lay) *lay = L;
}
