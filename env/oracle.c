// oracle.c — reference policies and measurements over the env: the
// oracle's planner, the scripted oracle that reads the full state (each
// task's plan is its entry's oracle in tasks.c), the baseline runner (random
// or oracle policy, mean return with a 95% confidence interval).
//
// The planner is a breadth-first search over poses (x, y, heading) with the
// env's own actions (turn left, turn right, forward), so the plan it follows
// is a shortest one in steps.
#include "env/env.h"
#include "env/findtime.h"
#include "env/world.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"

// A cell satisfies the search when it is `tidx` or (tkind >= 0) holds tkind.
static int is_target(const Env *e, int i, int tidx, int tkind) {
    return i == tidx || (tkind >= 0 && e->grid[i] == tkind);
}

int world_plan(const Env *e, uint32_t pass, int mode, int tidx, int tkind) {
    const int w = e->w, h = e->h, n = w * h * 4;
    int8_t first[ENV_MAX_SIZE * ENV_MAX_SIZE * 4];
    int16_t queue[ENV_MAX_SIZE * ENV_MAX_SIZE * 4];
    memset(first, -1, (size_t)n);
    int root = (e->ay * w + e->ax) * 4 + e->dir;
    int qh = 0, qt = 0;
    queue[qt++] = (int16_t)root;
    first[root] = ENV_A; // visited marker for the root
    while (qh < qt) {
        int s = queue[qh++], cell = s >> 2, d = s & 3;
        int x = cell % w, y = cell / w;
        int fx = x + ENV_DX[d], fy = y + ENV_DY[d];
        int front_ok = fx >= 0 && fx < w && fy >= 0 && fy < h;
        if (mode == WORLD_FACE && front_ok && is_target(e, fy * w + fx, tidx, tkind))
            return s == root ? ENV_INTERACT : first[s];
        if (mode == WORLD_REACH && s != root && is_target(e, cell, tidx, tkind)) return first[s];
        int next[3], acts[3], nn = 0;
        if (front_ok && ((pass >> e->grid[fy * w + fx]) & 1)) {
            next[nn] = (fy * w + fx) * 4 + d;
            acts[nn++] = ENV_FORWARD;
        }
        next[nn] = cell * 4 + ((d + 3) & 3);
        acts[nn++] = ENV_LEFT;
        next[nn] = cell * 4 + ((d + 1) & 3);
        acts[nn++] = ENV_RIGHT;
        for (int k = 0; k < nn; k++) {
            if (first[next[k]] != -1) continue;
            first[next[k]] = (int8_t)(s == root ? acts[k] : first[s]);
            queue[qt++] = (int16_t)next[k];
        }
    }
    return -1;
}

int oracle_action(const Env *e) {
    const EnvTask *T = env_task(e->cfg.task);
    int a = T ? T->oracle(e) : -1;
    return a >= 0 ? a : ENV_LEFT;
}

// ---------------------------------------------------------------------------
// Baselines and benchmark

int env_baseline(const EnvConfig *cfg, int policy, int episodes, uint64_t seed,
                 BaselineResult *out) {
    memset(out, 0, sizeof *out);
    EnvConfig c = *cfg;
    env_config_defaults(&c);
    if (env_config_check(&c, NULL, 0) < 0 || (policy != 0 && policy != 1) || episodes < 1)
        return -1;
    Env *e = malloc(sizeof *e);
    if (!e) return -1;
    env_init(e, &c, seed);
    uint64_t prng = rng_derive(seed, 0x9A11C7ull); // the random policy's own stream
    double sum = 0, sumsq = 0, succ = 0, len = 0;
    int done = 0;
    FindTimes ft;
    findtime_init(&ft);
    const int finds = findtime_applies(c.task);
    while (done < episodes) {
        int a = policy ? oracle_action(e) : rng_int(&prng, ENV_A);
        uint8_t term, trunc;
        float r = env_step(e, a, &term, &trunc);
        if (finds) findtime_step(&ft, 0, r > 0, term || trunc, 1, done);
        if (term || trunc) {
            EnvLog l = {0};
            env_log_take(e, &l);
            sum += l.ret;
            sumsq += (double)l.ret * l.ret;
            succ += l.success;
            len += l.length;
            done++;
        }
    }
    free(e);
    out->find_tau = finds ? 0.5 * c.max_steps : NAN;
    out->find_first = finds && !ft.failed ? findtime_rmst(&ft.first, out->find_tau, NULL) : NAN;
    out->find_later = finds && !ft.failed ? findtime_rmst(&ft.later, out->find_tau, NULL) : NAN;
    findtime_free(&ft);
    double n = episodes, mean = sum / n;
    double var = n > 1 ? (sumsq - n * mean * mean) / (n - 1) : 0.0;
    out->episodes = episodes;
    out->mean_return = mean;
    out->ci95 = 1.96 * sqrt(var > 0 ? var : 0) / sqrt(n);
    out->success_rate = succ / n;
    out->mean_length = len / n;
    return 0;
}

