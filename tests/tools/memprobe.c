// memprobe.c — the delayed-memory probe behind results/learner's "Why tmaze was not
// learned": the real Trainer (any `cpcrl train` flags) on a probe env where a
// cue is shown at an episode's first step, L-1 steps of a blank observation
// follow, and the action at the last step pays +1 if it equals the cue (0 or
// 1), else 0; the episode then ends (terminated). A memoryless policy gets
// at most 0.5.
//
//   build/memprobe L FRAMES [--cue plane|tmaze] [train flags...]
//
// --cue plane: the cue fills a whole observation plane (cue0/cue1 on every
// cell; the blank is all floor). --cue tmaze: tmaze's own first observation,
// whose only difference between the two cues is one cell (cue0 vs cue1 left
// of the agent); the blank is that observation with the cue cell a wall.
// Prints the success rate of the episodes ended in each tenth of FRAMES.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/trainer.h"
#include "nn/blas.h"
#include "agent/config.h"
#include "base/rng.h"

enum { MAX_B = 4096 };

typedef struct {
    int B, S, L, tmaze;
    int phase[MAX_B], cue[MAX_B];
    uint64_t rng;
    long episodes, successes;
    uint8_t tmpl[3][ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW]; // tmaze cue0, cue1, blank
} Probe;

static void observe(const Probe *p, uint8_t *obs, int b) {
    uint8_t *o = obs + (size_t)b * p->S;
    if (p->tmaze) {
        memcpy(o, p->tmpl[p->phase[b] ? 2 : p->cue[b]], (size_t)p->S);
        return;
    }
    const int VV = p->S / ENV_C, plane = p->phase[b] ? ENV_EMPTY : ENV_CUE0 + p->cue[b];
    memset(o, 0, (size_t)p->S);
    memset(o + (size_t)plane * VV, 1, (size_t)VV);
}

static void new_episode(Probe *p, int b) {
    p->phase[b] = 0;
    p->cue[b] = rng_int(&p->rng, 2);
}

static void probe_step(void *ctx, const int *actions, uint8_t *obs, float *rewards,
                       uint8_t *terminated, uint8_t *truncated, uint8_t *final_obs) {
    Probe *p = ctx;
    for (int b = 0; b < p->B; b++) {
        const int end = p->phase[b] == p->L - 1, ok = actions[b] == p->cue[b];
        rewards[b] = end && ok ? 1.0f : 0.0f;
        terminated[b] = (uint8_t)end;
        truncated[b] = 0;
        if (end) {
            observe(p, final_obs, b);
            p->episodes++, p->successes += ok;
            new_episode(p, b);
        } else {
            p->phase[b]++;
        }
        observe(p, obs, b);
    }
}

// tmaze's first observation with its cue cell set to cue0, cue1 and wall.
static int tmaze_templates(Probe *p, const Config *c) {
    EnvConfig ec;
    config_env(c, &ec);
    ec.task = ENV_TASK_TMAZE, ec.size = 0, ec.max_steps = 0;
    env_config_defaults(&ec);
    if (env_config_check(&ec, NULL, 0) != 0) return -1;
    Env e;
    env_init(&e, &ec, 1);
    uint8_t o[sizeof p->tmpl[0]];
    env_observe(&e, o);
    const int VV = ec.view * ec.view;
    int cell = -1, plane = -1;
    for (int k = ENV_CUE0; k <= ENV_CUE1; k++)
        for (int i = 0; i < VV; i++)
            if (o[k * VV + i]) cell = i, plane = k;
    if (cell < 0) return -1;
    const int kinds[3] = {ENV_CUE0, ENV_CUE1, ENV_WALL};
    for (int q = 0; q < 3; q++) {
        memcpy(p->tmpl[q], o, (size_t)p->S);
        p->tmpl[q][plane * VV + cell] = 0;
        p->tmpl[q][kinds[q] * VV + cell] = 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: memprobe L FRAMES [--cue plane|tmaze] [train flags...]\n");
        return 2;
    }
    const int L = atoi(argv[1]);
    const double frames = atof(argv[2]);
    int tmaze = 0, first = 3;
    if (argc > 4 && !strcmp(argv[3], "--cue")) {
        tmaze = !strcmp(argv[4], "tmaze");
        first = 5;
    }
    Config c;
    config_defaults(&c);
    c.threads = 1, c.cpc_weight = 0;
    char err[512];
    char *pos[1];
    if (L < 1 || frames <= 0 ||
        config_parse_args(&c, NULL, argc - first, argv + first, G_TRAIN_ALL, pos, 0, NULL, NULL, err, sizeof err) < 0 ||
        config_check(&c, err, sizeof err) != 0) {
        fprintf(stderr, "memprobe: %s\n", L < 1 || frames <= 0 ? "bad L or FRAMES" : err);
        return 2;
    }
    blas_set_threads(1);
    static Trainer tr;
    if (trainer_init(&tr, &c, err, sizeof err) != 0) {
        fprintf(stderr, "memprobe: %s\n", err);
        return 1;
    }
    static Probe p;
    p.B = c.envs, p.S = tr.obs_size, p.L = L, p.tmaze = tmaze;
    p.rng = rng_derive(c.seed, 0xB0B);
    if (c.envs > MAX_B || (tmaze && tmaze_templates(&p, &c) != 0)) {
        fprintf(stderr, "memprobe: envs above %d or no tmaze cue in view\n", MAX_B);
        return 2;
    }
    for (int b = 0; b < p.B; b++) {
        new_episode(&p, b);
        observe(&p, tr.obs, b);
    }
    tr.env_step = probe_step;
    tr.env_ctx = &p;
    UpdateStats st;
    double next = frames / 10;
    while (tr.frames < frames) {
        trainer_rollout(&tr);
        if (trainer_update(&tr, &st, c.lr) != 0) {
            fprintf(stderr, "memprobe: loss not finite\n");
            return 1;
        }
        if (tr.frames >= next) {
            printf("L %d frames %.0f success %.3f episodes %ld entropy %.3f\n", L, tr.frames,
                   p.episodes ? (double)p.successes / (double)p.episodes : 0.0, p.episodes,
                   st.entropy);
            fflush(stdout);
            p.episodes = p.successes = 0;
            next += frames / 10;
        }
    }
    trainer_free(&tr);
    return 0;
}
