// belief.c — the belief overlay of a frame (DrawBelief, draw.h): the
// decoded position and goal distributions as tints over the map (position:
// whole cells, goal: a disc in each cell), the true cells outlined, and the
// BELIEF block at the foot of the side panel (a cue task's belief as a bar).
#include "replays/drawkit.h"

#include <math.h>
#include <stdio.h>

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

int belief_pos_on(const DrawFrame *f) { return f->belief && f->belief->show_pos && f->belief->pos; }
static int belief_goal_on(const DrawFrame *f) {
    return f->belief && f->belief->show_goal && (f->belief->goal || f->belief->cue);
}
int belief_on(const DrawFrame *f) { return belief_pos_on(f) || belief_goal_on(f); }

int belief_lines(const DrawFrame *f) {
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
void belief_map(Canvas *c, const DrawFrame *f, int mx, int my, int n) {
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
void belief_truth(Canvas *c, const DrawFrame *f, int mx, int my, int n) {
    const DrawBelief *b = f->belief;
    const int m = n - (n >= 8 ? 1 : 0), t = n >= 24 ? 3 : n >= 12 ? 2 : 1;
    if (belief_pos_on(f) && (unsigned)f->ax < (unsigned)f->w && (unsigned)f->ay < (unsigned)f->h)
        draw_rect(c, mx + f->ax * n, my + f->ay * n, m, m, t, DRAW_BELIEF_POS_TRUE_COLOUR);
    if (b->show_goal && b->goal && (unsigned)f->tx < (unsigned)f->w && (unsigned)f->ty < (unsigned)f->h) {
        int cx, cy, r;
        goal_disc(mx + f->tx * n, my + f->ty * n, n, &cx, &cy, &r);
        draw_ring(c, cx, cy, r + t, t, DRAW_BELIEF_GOAL_TRUE_COLOUR);
    }
}

static float clamp01(float p) { return p > 0 ? (p < 1 ? p : 1) : 0; }

int belief_panel(Canvas *c, const DrawFrame *f, int x0, int y, int pw, int s, DrawLayout *L) {
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
