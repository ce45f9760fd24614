// world.c — map building, cell sampling and spawning for the task rules
// (world.h). Everything random is drawn from e->rng.
#include "env/world.h"

#include <assert.h>
#include <string.h>

#include "base/rng.h"

void world_fill(Env *e, int x0, int y0, int x1, int y1, int kind) {
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) e->grid[y * e->w + x] = (uint8_t)kind;
}

void world_room(Env *e) {
    world_fill(e, 0, 0, e->w - 1, e->h - 1, ENV_WALL);
    world_fill(e, 1, 1, e->w - 2, e->h - 2, ENV_EMPTY);
}

int world_random_cell(Env *e, int kind, int x0, int y0, int x1, int y1, int skip) {
    // rejection sampling first (fast when such cells are common), then an
    // exact count; both are uniform and both are deterministic.
    int rw = x1 - x0 + 1, rh = y1 - y0 + 1;
    if (rw < 1 || rh < 1) return -1;
    for (int t = 0; t < 16; t++) {
        int i = (y0 + rng_int(&e->rng, rh)) * e->w + x0 + rng_int(&e->rng, rw);
        if (e->grid[i] == kind && i != skip) return i;
    }
    int n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            int i = y * e->w + x;
            n += e->grid[i] == kind && i != skip;
        }
    if (n == 0) return -1;
    int k = rng_int(&e->rng, n);
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            int i = y * e->w + x;
            if (e->grid[i] == kind && i != skip && k-- == 0) return i;
        }
    return -1;
}

void world_spawn(Env *e, int skip) {
    int i = world_random_cell(e, ENV_EMPTY, 1, 1, e->w - 2, e->h - 2, skip);
    assert(i >= 0);
    e->ax = i % e->w;
    e->ay = i / e->w;
    e->dir = rng_int(&e->rng, 4);
}

void world_maze(Env *e, int extra) {
    world_fill(e, 0, 0, e->w - 1, e->h - 1, ENV_WALL);
    int cw = (e->w - 1) / 2, ch = (e->h - 1) / 2;
    uint8_t seen[(ENV_MAX_SIZE / 2) * (ENV_MAX_SIZE / 2)];
    int16_t stack[(ENV_MAX_SIZE / 2) * (ENV_MAX_SIZE / 2)];
    memset(seen, 0, sizeof seen);
    int top = 0;
    int start = rng_int(&e->rng, cw * ch);
    stack[top++] = (int16_t)start;
    seen[start] = 1;
    e->grid[(2 * (start / cw) + 1) * e->w + 2 * (start % cw) + 1] = ENV_EMPTY;
    while (top > 0) {
        int c = stack[top - 1], cx = c % cw, cy = c / cw;
        int nb[4], nn = 0;
        for (int d = 0; d < 4; d++) {
            int nx = cx + ENV_DX[d], ny = cy + ENV_DY[d];
            if (nx >= 0 && nx < cw && ny >= 0 && ny < ch && !seen[ny * cw + nx]) nb[nn++] = d;
        }
        if (nn == 0) {
            top--;
            continue;
        }
        int d = nb[rng_int(&e->rng, nn)];
        int nx = cx + ENV_DX[d], ny = cy + ENV_DY[d];
        seen[ny * cw + nx] = 1;
        stack[top++] = (int16_t)(ny * cw + nx);
        e->grid[(2 * cy + 1 + ENV_DY[d]) * e->w + 2 * cx + 1 + ENV_DX[d]] = ENV_EMPTY;
        e->grid[(2 * ny + 1) * e->w + 2 * nx + 1] = ENV_EMPTY;
    }
    for (int k = 0; k < extra; k++) {
        // candidate walls sit between two cells: exactly one coordinate even
        int n = 0;
        for (int y = 1; y < e->h - 1; y++)
            for (int x = 1; x < e->w - 1; x++)
                n += ((x ^ y) & 1) && e->grid[y * e->w + x] == ENV_WALL;
        if (n == 0) break;
        int pick = rng_int(&e->rng, n);
        for (int y = 1; y < e->h - 1 && pick >= 0; y++)
            for (int x = 1; x < e->w - 1; x++)
                if (((x ^ y) & 1) && e->grid[y * e->w + x] == ENV_WALL && pick-- == 0) {
                    e->grid[y * e->w + x] = ENV_EMPTY;
                    break;
                }
    }
}

int world_connected(const Env *e, int x0, int y0, int x1, int y1, int blocked) {
    uint8_t seen[ENV_MAX_SIZE * ENV_MAX_SIZE];
    int16_t queue[ENV_MAX_SIZE * ENV_MAX_SIZE];
    memset(seen, 0, (size_t)(e->w * e->h));
    int total = 0, first = -1;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            int i = y * e->w + x;
            if (i != blocked && e->grid[i] == ENV_EMPTY) {
                total++;
                if (first < 0) first = i;
            }
        }
    if (total == 0) return 1;
    int qh = 0, qt = 0, reached = 0;
    queue[qt++] = (int16_t)first;
    seen[first] = 1;
    while (qh < qt) {
        int i = queue[qh++], x = i % e->w, y = i / e->w;
        reached++;
        for (int d = 0; d < 4; d++) {
            int nx = x + ENV_DX[d], ny = y + ENV_DY[d];
            if (nx < x0 || nx > x1 || ny < y0 || ny > y1) continue;
            int j = ny * e->w + nx;
            if (j == blocked || seen[j] || e->grid[j] != ENV_EMPTY) continue;
            seen[j] = 1;
            queue[qt++] = (int16_t)j;
        }
    }
    return reached == total;
}

int world_count(const Env *e, int kind) {
    int n = 0;
    for (int i = 0, N = e->w * e->h; i < N; i++) n += e->grid[i] == kind;
    return n;
}

int world_find(const Env *e, int kind) {
    for (int i = 0, n = e->w * e->h; i < n; i++)
        if (e->grid[i] == kind) return i;
    return -1;
}
