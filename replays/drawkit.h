// drawkit.h — internal to the renderer: what the parts of a frame share.
// draw.c has the primitives and cells, frame.c draws a frame (draw_frame),
// legend.c the strip under the map (status, message, slider, legend, keys),
// belief.c the belief overlay. Nothing outside replays/draw*.c, frame.c,
// legend.c and belief.c includes this.
#ifndef CPCRL_DRAWKIT_H
#define CPCRL_DRAWKIT_H

#include <stdint.h>

#include "env/tasks.h"
#include "replays/draw.h"

// The panels' colours (the cells' are DRAW_KIND_COLOUR and friends, draw.h).
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

// ----------------------------------------------------------------------------
// Primitives beyond draw.h's (draw.c), clipped to the canvas

// Dashed outline of thickness t (a hidden target).
void draw_dashed_rect(Canvas *c, int x, int y, int w, int h, int t, uint32_t col);
// Ring of radius r and thickness t about (cx, cy).
void draw_ring(Canvas *c, int cx, int cy, int r, int t, uint32_t col);
// Filled triangle with vertices (vx[k], vy[k]), by edge functions over its
// bounding box (pixel centres).
void draw_triangle(Canvas *c, const float *vx, const float *vy, uint32_t col);

// ----------------------------------------------------------------------------
// The strip under the map (legend.c): status and message lines, the replay
// slider, the legend (agent, next action, seen, wall, then the task table's
// items) and the keys, each flowed in rows over the strip's width.

#define LEGEND_MAX (4 + ENV_LEGEND_MAX)
typedef struct { int kind; const char *name; int special; } LegendItem;
typedef struct {
    int width;                       // the strip's width (the map column's)
    LegendItem items[LEGEND_MAX];
    int nleg, lw[LEGEND_MAX];        // legend items and their widths
    int kw[DRAW_MAX_KEYS];           // widths of the key lines (0: none)
    int leg_rows, key_rows;
} Strip;

// Lay out f's strip over `width` pixels at text scale s; returns its height.
int strip_layout(Strip *st, const DrawFrame *f, int s, int pad, int width);
// Draw it with its first line at y (slider track into L).
void strip_draw(Canvas *c, const DrawFrame *f, const Strip *st, int s, int pad, int y, DrawLayout *L);

// ----------------------------------------------------------------------------
// The belief overlay (belief.c): see DrawBelief in draw.h

int belief_pos_on(const DrawFrame *f); // a position layer to draw
int belief_on(const DrawFrame *f);     // any layer to draw
// Lines of the side panel's BELIEF block (0: not drawn).
int belief_lines(const DrawFrame *f);
// The tints over the map of cell side n at (mx, my), drawn under the target and view outlines.
void belief_map(Canvas *c, const DrawFrame *f, int mx, int my, int n);
// The true cells outlined, drawn over them.
void belief_truth(Canvas *c, const DrawFrame *f, int mx, int my, int n);
// The BELIEF block at y in the side panel (x0, width pw). Returns the y below it.
int belief_panel(Canvas *c, const DrawFrame *f, int x0, int y, int pw, int s, DrawLayout *L);

#endif
