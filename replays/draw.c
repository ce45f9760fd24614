// draw.c — the renderer's primitives (see draw.h): colours and blending, the
// bitmap font, rectangles, text, discs, rings, triangles, the agent glyph and
// one glyph per cell kind. A whole frame is drawn by frame.c, its strip by
// legend.c and the belief overlay by belief.c, all with these (drawkit.h).
#include "replays/draw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "replays/drawkit.h"

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

void draw_ring(Canvas *c, int cx, int cy, int r, int t, uint32_t col) {
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++) {
            int d2 = dx * dx + dy * dy;
            if (d2 <= r * r && d2 >= (r - t) * (r - t)) put_px(c, cx + dx, cy + dy, col);
        }
}

void draw_triangle(Canvas *c, const float *vx, const float *vy, uint32_t col) {
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
    draw_triangle(c, ox, oy, C_OUTLINE);
    draw_triangle(c, vx, vy, col);
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
        draw_ring(c, x + n / 3, y + n / 3, r, t + 1, col);
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

void draw_dashed_rect(Canvas *c, int x, int y, int w, int h, int t, uint32_t col) {
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
