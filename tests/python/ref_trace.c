// ref_trace.c — the C side of the Python binding's equivalence test
// (tests/python/test_binding.py). Steps env/ straight from C with actions read
// from stdin and prints one line per step that the Python side must match.
//
//   ref_trace TASK SEED B STEPS < actions
//
// actions: int32 little-endian, STEPS * max(B, 1) of them.
// B = 0: one env, env_init(seed), stepped with env_step_final; the lines are
//   "t reward term trunc hash obs_crc next_crc" where obs_crc is the CRC32
//   of what Gymnasium's step returns (the pre-reset final observation when the
//   episode ended, else the current one), hash env_hash after the step, and
//   next_crc the CRC32 of the next episode's first observation (what reset()
//   returns) when the episode ended, else 0. Line "init hash obs_crc" first.
// B > 0: a VecEnv of B envs, vec_init(seed) (env i seeded rng_derive(seed, i)),
//   stepped with vec_step_final; the lines are
//   "t rew_crc term_crc trunc_crc obs_crc final_crc" with final_crc the CRC32
//   of the final_obs rows of the envs that ended, in env order. Line
//   "init obs_crc" first.
// CRC32 is zlib's, so Python's zlib.crc32 checks it independently.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "env/env.h"

static unsigned long crc(const void *p, size_t n) {
    return crc32(crc32(0L, Z_NULL, 0), (const Bytef *)p, (uInt)n);
}

static int read_actions(int *a, size_t n) {
    if (fread(a, sizeof *a, n, stdin) != n) {
        fprintf(stderr, "ref_trace: stdin: expected %zu int32 actions\n", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] < 0 || a[i] >= ENV_A) {
            fprintf(stderr, "ref_trace: action %zu is %d (expected 0..%d)\n", i, a[i], ENV_A - 1);
            return -1;
        }
    return 0;
}

static int trace_single(const EnvConfig *cfg, uint64_t seed, int steps) {
    size_t osz = (size_t)ENV_C * (size_t)cfg->view * (size_t)cfg->view;
    int *act = malloc(sizeof *act * (size_t)steps);
    uint8_t *obs = malloc(osz), *fin = malloc(osz);
    Env *e = malloc(sizeof *e);
    int rc = 1;
    if (!act || !obs || !fin || !e) {
        fprintf(stderr, "ref_trace: out of memory\n");
        goto out;
    }
    if (read_actions(act, (size_t)steps) < 0) goto out;
    env_init(e, cfg, seed);
    env_observe(e, obs);
    printf("init %016llx %08lx\n", (unsigned long long)env_hash(e), crc(obs, osz));
    for (int t = 0; t < steps; t++) {
        uint8_t term, trunc;
        float r = env_step_final(e, act[t], &term, &trunc, fin);
        env_observe(e, obs);
        int ended = term || trunc;
        printf("%d %.9g %d %d %016llx %08lx %08lx\n", t, (double)r, term, trunc,
               (unsigned long long)env_hash(e), crc(ended ? fin : obs, osz),
               ended ? crc(obs, osz) : 0ul);
    }
    rc = 0;
out:
    free(act), free(obs), free(fin), free(e);
    return rc;
}

static int trace_vec(const EnvConfig *cfg, uint64_t seed, int B, int steps) {
    VecEnv v;
    if (vec_init(&v, cfg, B, seed) < 0) {
        fprintf(stderr, "ref_trace: vec_init failed\n");
        return 1;
    }
    size_t osz = v.obs_size, n = (size_t)B;
    int *act = malloc(sizeof *act * n * (size_t)steps);
    uint8_t *obs = malloc(osz * n), *fin = malloc(osz * n), *ended = malloc(osz * n);
    float *rew = malloc(sizeof *rew * n);
    uint8_t *term = malloc(n), *trunc = malloc(n);
    int rc = 1;
    if (!act || !obs || !fin || !ended || !rew || !term || !trunc) {
        fprintf(stderr, "ref_trace: out of memory\n");
        goto out;
    }
    if (read_actions(act, n * (size_t)steps) < 0) goto out;
    vec_observe(&v, obs);
    printf("init %08lx\n", crc(obs, osz * n));
    for (int t = 0; t < steps; t++) {
        vec_step_final(&v, act + (size_t)t * n, obs, rew, term, trunc, fin);
        size_t m = 0; // the final rows of the envs that ended, packed in env order
        for (size_t i = 0; i < n; i++)
            if (term[i] || trunc[i]) memcpy(ended + osz * m++, fin + osz * i, osz);
        printf("%d %08lx %08lx %08lx %08lx %08lx\n", t, crc(rew, sizeof *rew * n), crc(term, n),
               crc(trunc, n), crc(obs, osz * n), crc(ended, osz * m));
    }
    rc = 0;
out:
    free(act), free(obs), free(fin), free(ended), free(rew), free(term), free(trunc);
    vec_free(&v);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: ref_trace TASK SEED B STEPS < int32 actions\n");
        return 2;
    }
    EnvConfig cfg = {.task = env_task_from_name(argv[1]), .items = -1};
    char err[256];
    env_config_defaults(&cfg);
    if (env_config_check(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "ref_trace: %s\n", err);
        return 2;
    }
    uint64_t seed = strtoull(argv[2], NULL, 10);
    int B = atoi(argv[3]), steps = atoi(argv[4]);
    if (B < 0 || steps < 1) {
        fprintf(stderr, "ref_trace: expected B >= 0 and STEPS >= 1\n");
        return 2;
    }
    return B == 0 ? trace_single(&cfg, seed, steps) : trace_vec(&cfg, seed, B, steps);
}
