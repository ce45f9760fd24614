// observe.c — what the agent sees: env_observe (see env.h) and its plain
// reference env_observe_ref.
//
// The V x V window is gathered row by row with a per-heading
// forward/right vector (no modulo). Visibility is MiniGrid's process_vis on
// bit masks, one row at a time: its left-to-right and right-to-left passes
// together light each run of see-through cells that holds a lit cell plus the
// cell at either end of the run, found with one add (the carry leaves the run)
// and one Kogge-Stone fill. The obs block is cleared with one memset, then one
// byte per cell is set; rows no light reaches are marked unseen in one go.
// env_observe_ref is the plain port the tests hold the fast version to.
#include "env/env.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

// Cells that stop light (off-map cells are given the ENV_UNSEEN kind and
// count as opaque too).
#define OPAQUE_MASK                                                                          \
    ((1u << ENV_UNSEEN) | (1u << ENV_WALL) | (1u << ENV_DOOR0) | (1u << ENV_DOOR1) |        \
     (1u << ENV_CUE0) | (1u << ENV_CUE1) | (1u << ENV_CUE2) | (1u << ENV_CUE3))

// Light spreading down a row (bit i = view column i): every cell of `g` and
// every see-through cell (`p`) reached from it through see-through cells
// toward column 0 (a Kogge-Stone occluded fill, 15 columns at most).
static inline uint32_t fill_down(uint32_t g, uint32_t p) {
    g |= p & (g >> 1);
    p &= p >> 1;
    g |= p & (g >> 2);
    p &= p >> 2;
    g |= p & (g >> 4);
    p &= p >> 4;
    g |= p & (g >> 8);
    return g;
}

void env_observe(const Env *e, uint8_t *obs) {
    const int V = e->cfg.view, VV = V * V, half = V / 2, w = e->w, h = e->h;
    const int d = e->dir & 3, fx = ENV_DX[d], fy = ENV_DY[d], rx = -fy, ry = fx;
    const uint32_t full = (1u << V) - 1u;
    const int step = ry * w + rx; // grid index step from one view column to the next
    uint8_t kr[ENV_MAX_VIEW];
    memset(obs, 0, (size_t)ENV_C * (size_t)VV);

    // Rows from the agent's up, as process_vis goes: gather row r (view
    // (r, c) = agent + (V-1-r) * forward + (c - V/2) * right), light it from
    // the row below, write it. Once no light reaches a row, the rest is unseen.
    uint32_t m = 1u << half; // lit cells of the current row
    int r = V - 1;
    for (; r >= 0 && m; r--) {
        int f = V - 1 - r;
        int x0 = e->ax + f * fx - half * rx, y0 = e->ay + f * fy - half * ry;
        int x1 = x0 + (V - 1) * rx, y1 = y0 + (V - 1) * ry;
        uint32_t op = 0;
        if ((unsigned)x0 < (unsigned)w && (unsigned)y0 < (unsigned)h &&
            (unsigned)x1 < (unsigned)w && (unsigned)y1 < (unsigned)h) {
            const uint8_t *g = e->grid + y0 * w + x0;
            for (int c = 0; c < V; c++, g += step) {
                kr[c] = *g;
                op |= ((OPAQUE_MASK >> *g) & 1u) << c;
            }
        } else {
            int x = x0, y = y0;
            for (int c = 0; c < V; c++, x += rx, y += ry) {
                int k = ((unsigned)x < (unsigned)w && (unsigned)y < (unsigned)h) ? e->grid[y * w + x]
                                                                                 : ENV_UNSEEN;
                kr[c] = (uint8_t)k;
                op |= ((OPAQUE_MASK >> k) & 1u) << c;
            }
        }
        // The two passes light every run of see-through cells that holds a
        // lit cell, plus the cell on each side of such a run. s + (m & s)
        // carries out of exactly those runs, one bit above each; a downward
        // fill from there recovers the runs.
        uint32_t s = ~op & full;
        uint32_t tops = (s + (m & s)) & ~s;
        uint32_t runs = fill_down(tops >> 1, s);
        uint32_t next = (runs | (runs << 1) | (runs >> 1)) & full;
        m |= next;
        if (r == V - 1) kr[half] = (uint8_t)(e->carrying ? e->carrying : ENV_EMPTY);
        uint8_t *o = obs + r * V;
        for (int c = 0; c < V; c++) o[(size_t)(kr[c] * ((m >> c) & 1u)) * VV + c] = 1; // UNSEEN = 0
        m = next; // a lit see-through cell lights the three cells above it
    }
    if (r >= 0) memset(obs + (size_t)ENV_UNSEEN * VV, 1, (size_t)(r + 1) * V);
}

void env_observe_ref(const Env *e, uint8_t *obs) {
    const int V = e->cfg.view, VV = V * V;
    assert(V >= 3 && V <= ENV_MAX_VIEW);
    if (V < 1 || V > ENV_MAX_VIEW) return; // (tells the compiler the bounds)
    uint8_t grid[ENV_MAX_VIEW][ENV_MAX_VIEW]; // [i = column][j = row], as MiniGrid
    uint8_t mask[ENV_MAX_VIEW][ENV_MAX_VIEW];
    // slice + rotate: view cell (i, j) lies (V-1-j) ahead and (i - V/2) right
    for (int j = 0; j < V; j++)
        for (int i = 0; i < V; i++) {
            int f = V - 1 - j, l = i - V / 2;
            int x = e->ax + f * ENV_DX[e->dir] + l * ENV_DX[(e->dir + 1) % 4];
            int y = e->ay + f * ENV_DY[e->dir] + l * ENV_DY[(e->dir + 1) % 4];
            int inside = x >= 0 && x < e->w && y >= 0 && y < e->h;
            grid[i][j] = inside ? e->grid[y * e->w + x] : ENV_UNSEEN;
            mask[i][j] = 0;
        }
    // process_vis(grid, agent_pos=(V // 2, V - 1))
    mask[V / 2][V - 1] = 1;
    for (int j = V - 1; j >= 0; j--) {
        for (int i = 0; i < V - 1; i++) {
            if (!mask[i][j]) continue;
            if ((OPAQUE_MASK >> grid[i][j]) & 1) continue;
            mask[i + 1][j] = 1;
            if (j > 0) {
                mask[i + 1][j - 1] = 1;
                mask[i][j - 1] = 1;
            }
        }
        for (int i = V - 1; i > 0; i--) {
            if (!mask[i][j]) continue;
            if ((OPAQUE_MASK >> grid[i][j]) & 1) continue;
            mask[i - 1][j] = 1;
            if (j > 0) {
                mask[i - 1][j - 1] = 1;
                mask[i][j - 1] = 1;
            }
        }
    }
    grid[V / 2][V - 1] = (uint8_t)(e->carrying ? e->carrying : ENV_EMPTY);
    memset(obs, 0, (size_t)ENV_C * VV);
    for (int j = 0; j < V; j++)
        for (int i = 0; i < V; i++) {
            int k = mask[i][j] ? grid[i][j] : ENV_UNSEEN;
            obs[k * VV + j * V + i] = 1;
        }
}
