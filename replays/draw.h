// draw.h — the software renderer of the viewer: one frame of an env (map,
// agent and heading, view cone, items, the hidden target shown faintly) plus
// side panels (the agent's egocentric view, action probabilities, value,
// reward/return, step, task, seed, legend, keys) drawn into a plain pixel
// buffer. No SDL and no allocation: the window (replays/view.c), the GIF/PNG
// export and the tests all draw through this, so tests need no display.
//
// Pixels are 0xAARRGGBB (SDL_PIXELFORMAT_ARGB8888 on every host). Text uses
// a built-in 5x7 bitmap font (ASCII 32..126) scaled by whole numbers.
#ifndef CPCRL_DRAW_H
#define CPCRL_DRAW_H

#include <stddef.h>
#include <stdint.h>

#include "env/env.h"

typedef struct {
    uint32_t *px;
    int w, h, stride; // stride in pixels
} Canvas;

#define DRAW_RGB(r, g, b) (0xFF000000u | ((uint32_t)(r) << 16) | ((uint32_t)(g) << 8) | (uint32_t)(b))

// Colours, exported so tests can check pixels.
extern const uint32_t DRAW_KIND_COLOUR[ENV_C]; // fill of each cell kind (items: their glyph)
extern const uint32_t DRAW_FLOOR_COLOUR;       // floor under items, map and view
extern const uint32_t DRAW_FLOOR_SEEN_COLOUR;  // floor the agent currently sees (view cone)
extern const uint32_t DRAW_AGENT_COLOUR;
extern const uint32_t DRAW_BG_COLOUR;
extern const char *const DRAW_ACTION_LABELS[ENV_A]; // "turn left", ...

#define DRAW_MAX_KEYS 16

// The belief overlay: what the agent's LSTM state c_t says, decoded by the
// read-outs of `cpcrl probe --save` (replays/overlay.h fills this). Over the
// map, each cell is tinted by its probability, the position layer over the
// whole cell and the goal layer as a disc in its middle (radius 3/10 of the
// cell), alpha = DRAW_BELIEF_ALPHA * sqrt(p) (draw_belief_alpha); the true
// cell of each layer is outlined in a light shade of its colour (position:
// the cell's edge, goal: a ring around the disc). In the side
// panel, a line per layer gives p(true cell) with the read-out's held-out
// accuracy and chance, a cue belief is a bar (left arm | right arm),
// then a note (the fitting seed) and a warning. Both layers off draws the
// plain frame, pixel for pixel.
extern const uint32_t DRAW_BELIEF_POS_COLOUR, DRAW_BELIEF_GOAL_COLOUR;
extern const uint32_t DRAW_BELIEF_POS_TRUE_COLOUR, DRAW_BELIEF_GOAL_TRUE_COLOUR; // the true cells' outlines
#define DRAW_BELIEF_ALPHA 230
typedef struct {
    int show_pos, show_goal;        // the layers (keys B and T)
    const float *pos;               // [ENV_MAX_SIZE * ENV_MAX_SIZE]: p of cell y * ENV_MAX_SIZE + x (NULL: none)
    const float *goal;              // the same for the goal / platform cell (NULL: none)
    const float *cue;               // a cue task's [2] p(cue says left), p(cue says right) (NULL: none)
    const char *goal_name;          // "goal", "platform", "cue"
    float acc_pos, chance_pos;      // held-out accuracy of the read-out and chance
    float acc_goal, chance_goal;
    const char *note;               // a dim line, e.g. the fitting seed (NULL: none)
    const char *warn;               // a red line (NULL: none)
} DrawBelief;

// Everything one frame shows. Strings may be NULL.
typedef struct {
    // world
    int task, w, h, view;
    const uint8_t *grid;         // [h][w]
    int ax, ay, dir, carrying;
    int tx, ty, cue;             // target (a hidden one drawn dashed), the cue (0 left, 1 right)
    const uint8_t *obs;          // [ENV_C][view][view] the agent's observation
    // policy at this state (has_policy = 0: a person plays)
    int has_policy;
    float probs[ENV_A];
    float value;
    int action;                  // action taken from this state (-1: none yet)
    // episode
    int step, max_steps;
    float last_reward, ret;      // reward of the previous step, return so far
    uint64_t seed, episode;
    int ended;                   // 0, 1 terminated, 2 truncated (the final frame)
    const char *mode;            // "WATCH", "PLAY", "REPLAY"
    const char *label;           // checkpoint / source line
    const char *status;          // e.g. "playing  x4  greedy"
    const char *message;         // transient notice (saved file, reloaded model)
    const char *keys[DRAW_MAX_KEYS]; // help lines "SPACE pause", ...
    int nkeys;
    // replay slider (slider_len > 0 shows it): position pos of 0..slider_len
    int slider_pos, slider_len;
    // who acts: 0 an agent (has_policy 0 then means no decision at this frame,
    // e.g. the last one of an episode), 1 a person playing now, 2 a person's replay
    int person;
    const DrawBelief *belief;    // the belief overlay (NULL: none)
} DrawFrame;

// Where things landed (for mouse hits and for tests).
typedef struct {
    int cell, map_x, map_y;           // map cell size and origin
    int view_cell, view_x, view_y;    // egocentric view panel cell size and origin
    int panel_x;                      // left edge of the side panel
    int slider_x, slider_y, slider_w, slider_h; // slider track (w = 0: none)
    int bar_x[ENV_A], bar_y[ENV_A], bar_w, bar_h; // probability bars (full length)
    // belief block (belief_h = 0: not drawn): its lines' text origins, the
    // swatch of each layer line, the cue bar
    int belief_y, belief_h;
    int line_x, pos_line_y, goal_line_y;          // p(true) lines (y -1: none)
    int swatch_x, swatch_w;                       // each line's swatch at (swatch_x, line y)
    int cue_x, cue_y, cue_w, cue_h;               // the cue bar (w = 0: none)
} DrawLayout;

// Draw the whole frame into c. lay may be NULL.
void draw_frame(Canvas *c, const DrawFrame *f, DrawLayout *lay);

// Primitives (clipped to the canvas).
void draw_fill(Canvas *c, int x, int y, int w, int h, uint32_t col);
void draw_rect(Canvas *c, int x, int y, int w, int h, int t, uint32_t col);
// Text with the built-in font at scale s (glyph cell 6s x 8s). Returns the width.
int draw_text(Canvas *c, int x, int y, int s, uint32_t col, const char *str);
int draw_text_width(const char *str, int s);
// One map/view cell of kind `kind` at (x, y), size n (floor = background).
void draw_cell(Canvas *c, int x, int y, int n, int kind, uint32_t floor);
// Filled triangle pointing in heading dir (0 N, 1 E, 2 S, 3 W) inside a cell.
void draw_agent(Canvas *c, int x, int y, int n, int dir, uint32_t col);
// over blended onto under with alpha 0..255 (per channel, rounded).
uint32_t draw_blend(uint32_t under, uint32_t over, int alpha);
// The belief tint's alpha for probability p: round(DRAW_BELIEF_ALPHA * sqrt(p)), 0 for p <= 0.
int draw_belief_alpha(float p);

#endif
