// seed_replay.c — writes the seed corpus of fuzz_replay with the real
// recorder (replays/replay.c): short episodes of every task played by the
// oracle or at random (cut short, time limit, terminated), each saved as a
// .rpl file and as its inflated body (fuzz_replay wraps bodies in a valid
// header), plus, given a checkpoint, one episode of the agent
// (replay_record_eval: values and action probabilities present).
// Built and run by `scripts/fuzz.sh seeds`.
//
// usage: seed_replay OUT_DIR [CKPT]
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "env/env.h"
#include "base/rng.h"
#include "replays/record.h"
#include "replays/replay.h"

static int save_body(const char *rpl, const char *out) {
    FILE *f = fopen(rpl, "rb");
    if (!f) return -1;
    static uint8_t file[1 << 20], body[1 << 22];
    size_t n = fread(file, 1, sizeof file, f);
    fclose(f);
    if (n < 24) return -1;
    uint32_t blen = (uint32_t)file[12] | (uint32_t)file[13] << 8 | (uint32_t)file[14] << 16 |
                    (uint32_t)file[15] << 24;
    uLongf got = sizeof body;
    if (blen > sizeof body || uncompress(body, &got, file + 20, (uLong)(n - 24)) != Z_OK || got != blen)
        return -1;
    f = fopen(out, "wb");
    if (!f) return -1;
    size_t w = fwrite(body, 1, got, f);
    return fclose(f) == 0 && w == got ? 0 : -1;
}

// One episode of `task`: `steps` actions at most (oracle or random), then
// cut short unless it ended by itself.
static int record(const char *dir, int task, int max_steps, int steps, int oracle, int idx) {
    EnvConfig ec = {.task = task, .size = 0, .view = 5, .max_steps = max_steps, .items = -1};
    env_config_defaults(&ec);
    char err[300], path[1200], bpath[1200];
    if (env_config_check(&ec, err, sizeof err) < 0) { fprintf(stderr, "%s\n", err); return -1; }
    static Env e;
    env_init(&e, &ec, 7 + (uint64_t)idx);
    uint64_t rng = 99 + (uint64_t)idx;
    Replay r;
    if (replay_begin(&r, &e, REPLAY_PERSON, "fuzz seed", 0, err, sizeof err) < 0) goto bad;
    for (int t = 0; t < steps && !replay_ended(&r); t++) {
        if (replay_push_state(&r, &e, err, sizeof err) < 0) goto bad;
        int a = oracle ? oracle_action(&e) : (int)(rng_next(&rng) % ENV_A);
        uint8_t term, trunc;
        float rew = env_step(&e, a, &term, &trunc);
        if (replay_push_action(&r, a, rew, 0, NULL, term, trunc, &e, err, sizeof err) < 0) goto bad;
    }
    if (replay_finish(&r, &e, err, sizeof err) < 0) goto bad;
    snprintf(path, sizeof path, "%s/rpl_%s_%d.rpl", dir, ENV_TASK_NAMES[task], idx);
    snprintf(bpath, sizeof bpath, "%s/body_%s_%d.bin", dir, ENV_TASK_NAMES[task], idx);
    if (replay_save(&r, path, err, sizeof err) < 0) goto bad;
    replay_free(&r);
    if (save_body(path, bpath) < 0) { fprintf(stderr, "%s: cannot inflate\n", path); return -1; }
    return 0;
bad:
    fprintf(stderr, "seed_replay: %s\n", err);
    replay_free(&r);
    return -1;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: seed_replay OUT_DIR [CKPT]\n"); return 2; }
    const char *dir = argv[1];
    int idx = 0, rc = 0;
    for (int task = 0; task < ENV_NTASKS; task++) {
        rc |= record(dir, task, 100, 6, 0, idx++);  // cut short, random
        rc |= record(dir, task, 10, 40, 0, idx++);  // time limit
        rc |= record(dir, task, 100, 60, 1, idx++); // oracle: usually terminates
    }
    if (argc > 2) {
        char err[600], sub[1100];
        snprintf(sub, sizeof sub, "%s/agent", dir);
        if (replay_record_eval(argv[2], sub, 1, 3, 0, err, sizeof err) < 0) {
            fprintf(stderr, "seed_replay: %s\n", err);
            rc = 1;
        }
    }
    return rc ? 1 : 0;
}
