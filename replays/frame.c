// frame.c — one frame of the viewer (draw_frame, see draw.h).
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
//              estimate
//   bottom     status line, transient message, replay slider, legend, keys
//              (legend.c)
//   overlay    with a DrawBelief and a layer on: the decoded position and
//              goal distributions as tints over the map (position: whole
//              cells, goal: a disc in each cell), the true cells outlined, and
//              the BELIEF block at the foot of the side panel (belief.c)
#include "replays/drawkit.h"

#include <stdio.h>
#include <string.h>

// Where the parts of a frame go: all sizes follow the canvas.
typedef struct {
    int W, H;             // canvas
    int s, cw, lh, pad;   // text scale, glyph width, line height, padding
    int P, px0;           // side panel: width, left edge
    int top, bottom;      // heights of the top bar and of the strip under the map
} Geom;

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
    draw_triangle(c, ox, oy, C_OUTLINE);
    draw_triangle(c, vx, vy, C_BAR_PICK);
}

static const char *kind_label(int kind) {
    switch (kind) {
    case ENV_KEY0: return "blue key";
    case ENV_KEY1: return "purple key";
    default: return "nothing";
    }
}

// ----------------------------------------------------------------------------
// Top bar and map

static void top_bar(Canvas *c, const DrawFrame *f, const Geom *g) {
    const int s = g->s, pad = g->pad;
    char buf[160];
    draw_fill(c, 0, 0, g->W, g->top - pad / 2, C_PANEL);
    int x = pad;
    x += draw_text(c, x, pad, s, C_HEAD, f->mode ? f->mode : "CPCRL");
    snprintf(buf, sizeof buf, "  task %s  seed %llu  episode %llu",
             f->task >= 0 && f->task < ENV_NTASKS ? ENV_TASK_NAMES[f->task] : "?",
             (unsigned long long)f->seed, (unsigned long long)f->episode);
    x += draw_text(c, x, pad, s, C_TEXT, buf);
    if (f->label) {
        int room = (g->W - pad - x) / g->cw - 2;
        if (room > 3) {
            snprintf(buf, sizeof buf, "  %.*s", room < 150 ? room : 150, f->label);
            draw_text(c, x, pad, s, C_DIM, buf);
        }
    }
}

// The map's cells, floor the agent sees now (from its observation) tinted.
static void map_cells(Canvas *c, const DrawFrame *f, int mx, int my, int n) {
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
}

// The agent's view window outlined, clipped to the map.
static void view_outline(Canvas *c, const DrawFrame *f, int mx, int my, int n) {
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
    draw_rect(c, mx + x0 * n - t / 2, my + y0 * n - t / 2, (x1 - x0 + 1) * n + t, (y1 - y0 + 1) * n + t, t, C_CONE);
}

// The map column: cells, belief tints, the hidden target, the view window,
// the agent with its next action and the key it carries, the end banner.
static void draw_map(Canvas *c, const DrawFrame *f, const Geom *g, DrawLayout *L) {
    const int s = g->s, lh = g->lh, pad = g->pad;
    int mw = g->px0 - 2 * pad, mh = g->H - g->top - g->bottom;
    int n = f->w > 0 && f->h > 0 ? (mw / f->w < mh / f->h ? mw / f->w : mh / f->h) : 1;
    if (n < 1) n = 1;
    int mx = pad + (mw - n * f->w) / 2, my = g->top + (mh - n * f->h) / 2;
    L->cell = n, L->map_x = mx, L->map_y = my;
    map_cells(c, f, mx, my, n);
    if (belief_on(f)) belief_map(c, f, mx, my, n);
    const EnvTask *T = env_task(f->task);
    int hidden = T && T->goal_hidden;
    if (hidden && (unsigned)f->tx < (unsigned)f->w && (unsigned)f->ty < (unsigned)f->h) {
        int t = n >= 16 ? 2 : 1;
        draw_dashed_rect(c, mx + f->tx * n + t, my + f->ty * n + t, n - 2 * t - 1, n - 2 * t - 1, t, C_TARGET);
    }
    if (f->view > 0) view_outline(c, f, mx, my, n);
    if (belief_on(f)) belief_truth(c, f, mx, my, n);
    draw_agent(c, mx + f->ax * n, my + f->ay * n, n, f->dir, DRAW_AGENT_COLOUR);
    if (f->has_policy && !f->ended) action_marker(c, mx + f->ax * n, my + f->ay * n, n, f->dir, f->action);
    if (f->carrying) // the key carried, small, in the agent's cell corner
        draw_cell(c, mx + f->ax * n + n * 3 / 5, my + f->ay * n + n * 3 / 5, n * 2 / 5, f->carrying,
                  DRAW_FLOOR_SEEN_COLOUR);
    if (f->ended) {
        char buf[160];
        const char *why = f->ended == 1 ? "EPISODE OVER (terminated)" : "EPISODE OVER (time limit)";
        snprintf(buf, sizeof buf, "%s  return %+.2f", why, (double)f->ret);
        int tw = draw_text_width(buf, s) + 2 * pad;
        int bx = mx + (n * f->w - tw) / 2, by = my + n * f->h / 2 - lh;
        draw_fill(c, bx, by, tw, 2 * lh, DRAW_RGB(0, 0, 0));
        draw_rect(c, bx, by, tw, 2 * lh, s, C_HEAD);
        draw_text(c, bx + pad, by + lh / 2 + s, s, C_HEAD, buf);
    }
}

// ----------------------------------------------------------------------------
// Side panel

// Step, reward and return, what the agent carries. Returns the y below.
static int panel_stats(Canvas *c, const DrawFrame *f, const Geom *g, int x0, int y) {
    const int s = g->s, lh = g->lh;
    char buf[160];
    snprintf(buf, sizeof buf, "step %d / %d", f->step, f->max_steps);
    draw_text(c, x0, y, s, C_TEXT, buf);
    y += lh;
    int x = x0 + draw_text(c, x0, y, s, C_TEXT, "reward ");
    snprintf(buf, sizeof buf, "%+.2f", (double)f->last_reward);
    x += draw_text(c, x, y, s, f->last_reward > 0 ? C_GOOD : f->last_reward < 0 ? C_BAD : C_TEXT, buf);
    snprintf(buf, sizeof buf, "  return %+.2f", (double)f->ret);
    draw_text(c, x, y, s, C_TEXT, buf);
    y += lh;
    snprintf(buf, sizeof buf, "carrying %s", kind_label(f->carrying));
    draw_text(c, x0, y, s, C_DIM, buf);
    return y + lh + g->pad;
}

// The agent's egocentric view, as large as the room left above the policy
// and belief blocks allows. Returns the y below.
static int agent_view(Canvas *c, const DrawFrame *f, const Geom *g, int x0, int y, int pw, DrawLayout *L) {
    const int s = g->s, cw = g->cw, lh = g->lh, pad = g->pad;
    char buf[64];
    int below = lh + pad / 2 + ENV_A * (lh + s) + lh + pad; // the policy block
    const int blines = belief_lines(f);
    if (blines) below += blines * lh + pad;
    int vavail = g->H - y - lh - below - 2 * pad;
    int V = f->view > 0 ? f->view : 1;
    int vn = vavail / V < pw / V ? vavail / V : pw / V;
    if (vn > 24 * s + 16) vn = 24 * s + 16;
    if (vn < 3) vn = 3;
    draw_text(c, x0, y, s, C_HEAD, "AGENT VIEW");
    snprintf(buf, sizeof buf, "%dx%d, facing up", V, V);
    draw_text(c, x0 + 11 * cw, y, s, C_DIM, buf);
    y += lh;
    int vx = x0 + (pw - vn * V) / 2;
    L->view_cell = vn, L->view_x = vx, L->view_y = y;
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
    return y + vn * V + g->pad;
}

// The policy: its value and a bar per action (or who acts), the next action.
// Returns the y below.
static int policy_block(Canvas *c, const DrawFrame *f, const Geom *g, int x0, int y, int pw, DrawLayout *L) {
    const int s = g->s, cw = g->cw, lh = g->lh, pad = g->pad;
    char buf[160];
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
    L->bar_w = pw - labw - numw - cw;
    L->bar_h = lh - 2 * s;
    for (int a = 0; a < ENV_A; a++) {
        int pick = a == f->action;
        uint32_t tc = pick ? C_BAR_PICK : C_TEXT;
        if (pick) draw_text(c, x0, y, s, C_BAR_PICK, ">");
        draw_text(c, x0 + cw, y, s, tc, DRAW_ACTION_LABELS[a]);
        int bx = x0 + labw;
        L->bar_x[a] = bx, L->bar_y[a] = y;
        draw_fill(c, bx, y, L->bar_w, L->bar_h, C_BAR_BG);
        if (f->has_policy) {
            float p = f->probs[a] < 0 ? 0 : f->probs[a] > 1 ? 1 : f->probs[a];
            draw_fill(c, bx, y, (int)(p * (float)L->bar_w + 0.5f), L->bar_h, pick ? C_BAR_PICK : C_BAR);
            snprintf(buf, sizeof buf, "%.2f", (double)p);
            draw_text(c, bx + L->bar_w + cw / 2, y, s, tc, buf);
        } else if (pick) {
            draw_fill(c, bx, y, L->bar_w, L->bar_h, C_BAR_PICK);
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
    return y + lh + pad;
}

static void side_panel(Canvas *c, const DrawFrame *f, const Geom *g, DrawLayout *L) {
    draw_fill(c, g->px0, g->top, g->P, g->H - g->top, C_PANEL);
    const int x0 = g->px0 + g->pad, pw = g->P - 2 * g->pad;
    int y = panel_stats(c, f, g, x0, g->top + g->pad);
    y = agent_view(c, f, g, x0, y, pw, L);
    y = policy_block(c, f, g, x0, y, pw, L);
    if (belief_lines(f)) belief_panel(c, f, x0, y, pw, g->s, L);
}

// ----------------------------------------------------------------------------
// The frame

void draw_frame(Canvas *c, const DrawFrame *f, DrawLayout *lay) {
    DrawLayout L;
    memset(&L, 0, sizeof L);
    Geom g;
    g.W = c->w, g.H = c->h;
    draw_fill(c, 0, 0, g.W, g.H, DRAW_BG_COLOUR);
    g.s = g.H >= 1000 && g.W >= 1500 ? 3 : (g.H >= 560 && g.W >= 900 ? 2 : 1);
    g.cw = 6 * g.s, g.lh = 10 * g.s, g.pad = 6 * g.s;
    g.P = 34 * g.cw + 2 * g.pad;
    if (g.P > g.W * 45 / 100) g.P = g.W * 45 / 100;
    g.px0 = g.W - g.P;
    L.panel_x = g.px0;
    g.top = g.lh + 2 * g.pad;
    Strip st; // the strip under the map: its height first, the map takes the rest
    g.bottom = strip_layout(&st, f, g.s, g.pad, g.px0 - 2 * g.pad);
    top_bar(c, f, &g);
    draw_map(c, f, &g, &L);
    strip_draw(c, f, &st, g.s, g.pad, g.H - g.bottom + g.pad / 2, &L);
    side_panel(c, f, &g, &L);
    if (lay) *lay = L;
}
