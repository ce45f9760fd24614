// legend.c — the strip under the map: the status line and a transient
// message, the replay slider, the legend (the agent, its next action, the
// cells it sees, walls, then the items of the task's entry in the task
// table, env/tasks.h) and the key help, each flowed left to right in rows.
#include "replays/drawkit.h"

#include <stdio.h>

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

// Rows needed to lay items of widths w[] (0: none) left to right within `avail`.
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
        draw_dashed_rect(c, lx, ly, sw, sw, 1, C_TARGET);
        break;
    case L_NEXT: {
        float tx[3] = {(float)lx, (float)(lx + sw), (float)lx}, ty[3] = {(float)ly, (float)ly + (float)sw / 2, (float)(ly + sw)};
        draw_triangle(c, tx, ty, C_BAR_PICK);
        break;
    }
    default: draw_cell(c, lx, ly, sw, it->kind, DRAW_FLOOR_COLOUR); break;
    }
}

int strip_layout(Strip *st, const DrawFrame *f, int s, int pad, int width) {
    const int cw = 6 * s, lh = 10 * s, sw = lh - 2 * s;
    st->width = width;
    st->nleg = legend_items(f->task, f->has_policy, st->items);
    for (int i = 0; i < st->nleg; i++) st->lw[i] = sw + cw / 2 + draw_text_width(st->items[i].name, s) + 2 * cw;
    for (int i = 0; i < f->nkeys; i++) st->kw[i] = f->keys[i] ? draw_text_width(f->keys[i], s) + 3 * cw : 0;
    st->leg_rows = flow_rows(st->lw, st->nleg, width), st->key_rows = flow_rows(st->kw, f->nkeys, width);
    return 2 * lh + pad + (f->slider_len > 0 ? lh + pad : 0) + (st->leg_rows + st->key_rows) * lh + pad;
}

void strip_draw(Canvas *c, const DrawFrame *f, const Strip *st, int s, int pad, int y, DrawLayout *L) {
    const int cw = 6 * s, lh = 10 * s, sw = lh - 2 * s, LW = st->width;
    char buf[32];
    if (f->status) draw_text(c, pad, y, s, C_TEXT, f->status);
    if (f->message) draw_text(c, pad, y + lh, s, C_GOOD, f->message);
    y += 2 * lh;
    if (f->slider_len > 0) {
        snprintf(buf, sizeof buf, "%d/%d", f->slider_pos, f->slider_len);
        int tw = draw_text_width(buf, s);
        int sx = pad, slw = LW - pad - tw, sy = y + pad / 2, sh = lh - 2 * s;
        if (slw < 10) slw = 10;
        draw_fill(c, sx, sy + sh / 2 - s, slw, 2 * s, C_BAR_BG);
        int fillw = (int)((long)slw * f->slider_pos / f->slider_len);
        draw_fill(c, sx, sy + sh / 2 - s, fillw, 2 * s, C_BAR);
        draw_fill(c, sx + fillw - 2 * s, sy, 4 * s, sh, C_HEAD);
        draw_text(c, sx + slw + pad, sy, s, C_TEXT, buf);
        L->slider_x = sx, L->slider_y = sy, L->slider_w = slw, L->slider_h = sh;
        y += lh + pad;
    }
    y += pad / 2;
    int fx = LW, frow = -1;
    for (int i = 0; i < st->nleg; i++) {
        if (fx + st->lw[i] > LW && fx > 0) frow++, fx = 0;
        int lx = pad + fx, ly = y + frow * lh;
        legend_swatch(c, &st->items[i], lx, ly, sw);
        draw_text(c, lx + sw + cw / 2, ly + s, s, C_DIM, st->items[i].name);
        fx += st->lw[i];
    }
    y += st->leg_rows * lh;
    fx = LW, frow = -1;
    for (int i = 0; i < f->nkeys; i++) {
        if (st->kw[i] <= 0) continue;
        if (fx + st->kw[i] > LW && fx > 0) frow++, fx = 0;
        draw_text(c, pad + fx, y + frow * lh, s, C_HEAD, f->keys[i]);
        fx += st->kw[i];
    }
}
