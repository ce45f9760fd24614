// test_replay.c — replay files (replays/replay.c) and recording (replays/record.c).
//
//   round trip      record episodes of every task (oracle + random actions, so
//                   episodes end by termination, by the time limit and cut
//                   short), save, load: every field, step, map and hash equal
//                   bit for bit; encode(parse(x)) == x byte for byte
//   frames          replay_frame_env(t) equals the recorded env before step t
//   verify          accepts every good file; a tampered action (LEFT <-> RIGHT,
//                   CRC recomputed by re-saving) fails naming the step; a
//                   tampered reward and a tampered seed fail
//   bad files       wrong magic, every truncation length, a flipped byte
//                   (CRC), a newer and an unknown version, a trailing byte,
//                   a body with an out-of-range action under a valid CRC:
//                   each refused with its message, never a crash
//   mutants         3000 random body mutations under a valid CRC: parsed or
//                   refused, never a crash; accepted ones verify/observe safely
//   recorders       replay_record_eval writes verifiable files from a
//                   checkpoint; replay_record_trainer leaves the trainer's
//                   state and RNG untouched (two trainers, one recorded, stay
//                   bit-identical over the next update)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "agent/trainer.h"
#include "agent/ckpt.h"
#include "agent/config.h"
#include "env/env.h"
#include "base/rng.h"
#include "replays/actor.h"
#include "replays/record.h"
#include "replays/replay.h"

static char g_dir[256];

static int setup_dir(void **state) {
    snprintf(g_dir, sizeof g_dir, "/tmp/cpcrl_test_replay_%d", (int)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown_dir(void **state) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

// Record one episode of env `e` (at an episode start): policy 0 random, 1
// oracle; stop after `cut` steps (0 = until it ends). Fake policy outputs.
// Keeps a copy of the env before every step in `pre` (n+1 entries) if given.
static void record(Replay *r, Env *e, int policy, int cut, uint64_t *rng, Env *pre) {
    char err[300];
    assert_int_equal(replay_begin(r, e, REPLAY_AGENT_SAMPLED, "test", 1234.0, err, sizeof err), 0);
    int t = 0;
    while (!replay_ended(r)) {
        if (cut && t == cut) {
            assert_int_equal(replay_finish(r, e, err, sizeof err), 0);
            break;
        }
        if (pre) pre[t] = *e;
        assert_int_equal(replay_push_state(r, e, err, sizeof err), 0);
        int a = policy ? oracle_action(e) : rng_int(rng, ENV_A);
        if (policy && rng_int(rng, 5) == 0) a = rng_int(rng, ENV_A);
        float probs[ENV_A] = {0.1f, 0.2f, 0.3f, 0.4f};
        probs[a] += 0.0f;
        uint8_t term, trunc;
        float rew = env_step(e, a, &term, &trunc);
        assert_int_equal(replay_push_action(r, a, rew, 0.25f * (float)t, probs, term, trunc, e, err, sizeof err), 0);
        t++;
    }
}

static void assert_same(const Replay *a, const Replay *b) {
    assert_memory_equal(&a->cfg, &b->cfg, sizeof a->cfg);
    assert_true(a->seed == b->seed && a->episode == b->episode && a->episode_rng == b->episode_rng);
    assert_true(a->w == b->w && a->h == b->h && a->tx == b->tx && a->ty == b->ty && a->cue == b->cue);
    assert_true(a->source == b->source && a->has_policy == b->has_policy);
    assert_memory_equal(&a->train_frames, &b->train_frames, sizeof(double));
    assert_string_equal(a->label, b->label);
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->end, b->end);
    assert_memory_equal(&a->ret, &b->ret, sizeof(float));
    assert_int_equal(a->success, b->success);
    assert_int_equal(a->hash_every, b->hash_every);
    for (int t = 0; t < a->n; t++) assert_memory_equal(&a->steps[t], &b->steps[t], sizeof(ReplayStep));
    assert_memory_equal(&a->steps[a->n], &b->steps[b->n], offsetof(ReplayStep, action)); // final pose
    assert_memory_equal(a->grids, b->grids, (size_t)(a->n + 1) * a->w * a->h);
    assert_int_equal(a->nhash, b->nhash);
    assert_memory_equal(a->hash_step, b->hash_step, (size_t)a->nhash * sizeof(uint32_t));
    assert_memory_equal(a->hash, b->hash, (size_t)a->nhash * sizeof(uint64_t));
}

static void test_round_trip_all_tasks(void **state) {
    char err[300], path[400];
    uint64_t rng = 77;
    int ends[3] = {0, 0, 0};
    for (int task = 0; task < ENV_NTASKS; task++)
        for (int policy = 0; policy < 2; policy++)
            for (int cut = 0; cut <= 1; cut++) {
                EnvConfig cfg = {.task = task, .items = -1};
                env_config_defaults(&cfg);
                Env e;
                env_init(&e, &cfg, 1000 + (uint64_t)task * 10 + (uint64_t)policy);
                env_reset(&e); // episode 1: the rng state matters, not just the seed
                Replay r, back;
                record(&r, &e, policy, cut ? 37 : 0, &rng, NULL);
                ends[r.end]++;
                snprintf(path, sizeof path, "%s/rt_%d_%d_%d.rpl", g_dir, task, policy, cut);
                assert_int_equal(replay_save(&r, path, err, sizeof err), 0);
                if (replay_load(&back, path, err, sizeof err) != 0) fail_msg("%s", err);
                assert_same(&r, &back);
                // byte-exact re-encoding
                uint8_t *b1, *b2;
                size_t l1, l2;
                assert_int_equal(replay_encode(&r, &b1, &l1, err, sizeof err), 0);
                assert_int_equal(replay_encode(&back, &b2, &l2, err, sizeof err), 0);
                assert_int_equal(l1, l2);
                assert_memory_equal(b1, b2, l1);
                free(b1), free(b2);
                if (replay_verify(&back, err, sizeof err) != 0) fail_msg("task %d policy %d cut %d: %s", task, policy, cut, err);
                replay_free(&r), replay_free(&back);
            }
    // the suite above produced every kind of ending
    assert_true(ends[REPLAY_CUT] > 0 && ends[REPLAY_TERMINATED] > 0 && ends[REPLAY_TRUNCATED] > 0);
}

static void test_frames_match_recorded_states(void **state) {
    EnvConfig cfg = {.task = ENV_TASK_KEYS_DOORS, .items = -1};
    env_config_defaults(&cfg);
    Env e;
    env_init(&e, &cfg, 5);
    static Env pre[2000];
    uint64_t rng = 3;
    Replay r;
    record(&r, &e, 1, 0, &rng, pre);
    assert_int_equal(r.end, REPLAY_TERMINATED); // the oracle opens the door and reaches the goal
    assert_true(r.success);
    for (int t = 0; t < r.n; t++) {
        Env f;
        replay_frame_env(&r, t, &f);
        assert_int_equal(f.ax, pre[t].ax);
        assert_int_equal(f.ay, pre[t].ay);
        assert_int_equal(f.dir, pre[t].dir);
        assert_int_equal(f.carrying, pre[t].carrying);
        assert_memory_equal(f.grid, pre[t].grid, (size_t)e.w * e.h);
        uint8_t o1[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW], o2[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
        env_observe(&f, o1);
        env_observe(&pre[t], o2);
        assert_memory_equal(o1, o2, (size_t)ENV_C * cfg.view * cfg.view);
    }
    // the final frame shows the agent on the goal
    Env f;
    replay_frame_env(&r, r.n, &f);
    assert_int_equal(f.grid[f.ay * f.w + f.ax], ENV_GOAL);
    replay_free(&r);
}

static void save_and_reload(Replay *r, const char *name, Replay *back) {
    char err[300], path[400];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    assert_int_equal(replay_save(r, path, err, sizeof err), 0);
    if (replay_load(back, path, err, sizeof err) != 0) fail_msg("%s", err);
}

static void test_verify_catches_tampering(void **state) {
    char err[300];
    EnvConfig cfg = {.task = ENV_TASK_GOAL, .items = -1};
    env_config_defaults(&cfg);
    Env e;
    env_init(&e, &cfg, 11);
    uint64_t rng = 5;
    Replay r, back;
    record(&r, &e, 1, 0, &rng, NULL);
    assert_true(r.n > 20);
    assert_int_equal(replay_verify(&r, err, sizeof err), 0);

    // an action flipped (turn left <-> right, so the state really differs), file re-saved with a valid CRC
    int t = 20;
    while (t < r.n && r.steps[t].action != ENV_LEFT && r.steps[t].action != ENV_RIGHT) t++;
    assert_true(t < r.n);
    r.steps[t].action = r.steps[t].action == ENV_LEFT ? ENV_RIGHT : ENV_LEFT;
    save_and_reload(&r, "tampered_action.rpl", &back);
    assert_int_equal(replay_verify(&back, err, sizeof err), -1);
    char want[40];
    snprintf(want, sizeof want, "step %d:", t + 1);
    if (!strstr(err, want)) fail_msg("expected '%s' in: %s", want, err);
    assert_non_null(strstr(err, "heading"));
    replay_free(&back);
    r.steps[t].action = r.steps[t].action == ENV_LEFT ? ENV_RIGHT : ENV_LEFT;

    // a reward changed
    r.steps[3].reward += 0.5f;
    save_and_reload(&r, "tampered_reward.rpl", &back);
    assert_int_equal(replay_verify(&back, err, sizeof err), -1);
    assert_non_null(strstr(err, "step 3: reward"));
    replay_free(&back);
    r.steps[3].reward -= 0.5f;

    // another seed / rng state
    r.episode_rng ^= 1;
    save_and_reload(&r, "tampered_seed.rpl", &back);
    assert_int_equal(replay_verify(&back, err, sizeof err), -1);
    replay_free(&back);
    r.episode_rng ^= 1;

    save_and_reload(&r, "good.rpl", &back);
    assert_int_equal(replay_verify(&back, err, sizeof err), 0);
    replay_free(&back);
    replay_free(&r);
}

// A small good file in memory.
static void good_bytes(uint8_t **buf, size_t *len) {
    char err[300];
    EnvConfig cfg = {.task = ENV_TASK_SEEKAVOID, .items = -1};
    env_config_defaults(&cfg);
    Env e;
    env_init(&e, &cfg, 21);
    uint64_t rng = 9;
    Replay r;
    record(&r, &e, 1, 0, &rng, NULL);
    assert_int_equal(replay_encode(&r, buf, len, err, sizeof err), 0);
    replay_free(&r);
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static void fix_crc(uint8_t *buf, size_t len) { put32(buf + len - 4, (uint32_t)crc32(0L, buf, (uInt)(len - 4))); }

static void expect_refused(const uint8_t *buf, size_t len, const char *needle) {
    char err[400];
    Replay r;
    assert_int_equal(replay_parse(&r, buf, len, "f.rpl", err, sizeof err), -1);
    if (needle && !strstr(err, needle)) fail_msg("expected '%s' in: %s", needle, err);
    assert_non_null(strstr(err, "f.rpl"));
    assert_null(r.steps); // nothing half-loaded
}

static void test_bad_files_refused(void **state) {
    uint8_t *good;
    size_t len;
    good_bytes(&good, &len);
    uint8_t *b = malloc(len + 16);
    assert_non_null(b);

    memcpy(b, good, len);
    memcpy(b, "CPCRLCKP", 8);
    expect_refused(b, len, "not a cpcrl replay");

    for (size_t l = 0; l < len; l++) { // every truncation
        memcpy(b, good, l);
        expect_refused(b, l, l < 8 ? "not a cpcrl replay" : "truncated");
    }

    memcpy(b, good, len);
    b[len / 2] ^= 0x10;
    expect_refused(b, len, "CRC mismatch");

    memcpy(b, good, len);
    b[len] = 0;
    expect_refused(b, len + 1, "unexpected bytes");

    memcpy(b, good, len);
    put32(b + 8, REPLAY_VERSION + 1);
    fix_crc(b, len);
    expect_refused(b, len, "newer");
    char want[80];
    snprintf(want, sizeof want, "version %d", REPLAY_VERSION + 1);
    expect_refused(b, len, want);

    memcpy(b, good, len);
    put32(b + 8, 0);
    fix_crc(b, len);
    expect_refused(b, len, "field 'version': expected 1, got 0");

    // a valid CRC over a body holding an out-of-range action
    uint32_t body_len = (uint32_t)b[12] | (uint32_t)b[13] << 8 | (uint32_t)b[14] << 16 | (uint32_t)b[15] << 24;
    uint8_t *body = malloc(body_len);
    uLongf got = body_len;
    assert_int_equal(uncompress(body, &got, good + 20, (uLong)(len - 24)), Z_OK);
    Replay r;
    char err[300];
    assert_int_equal(replay_parse(&r, good, len, "good", err, sizeof err), 0);
    // offset of step 0's action: header fields (4*5 + 8*3 + 4*3 + 4*3 + 4*2 + 8 + 64 + 4*5) + grid + frames
    size_t off = 20 + 24 + 12 + 12 + 8 + 8 + 64 + 20 + (size_t)r.w * r.h;
    for (int t = 0; t <= r.n; t++) {
        unsigned nd = body[off + 4] | body[off + 5] << 8;
        off += 6 + 3 * (size_t)nd;
    }
    assert_true(body[off] < ENV_A);
    body[off] = 9;
    uLongf zl = compressBound(body_len);
    uint8_t *nb = malloc(24 + zl);
    memcpy(nb, good, 20);
    assert_int_equal(compress2(nb + 20, &zl, body, body_len, 6), Z_OK);
    put32(nb + 16, (uint32_t)zl);
    fix_crc(nb, 24 + zl);
    expect_refused(nb, 24 + zl, "step 0: action 9");
    // same body, wrong inflated length in the header
    put32(nb + 12, body_len + 1);
    fix_crc(nb, 24 + zl);
    expect_refused(nb, 24 + zl, "does not inflate");
    replay_free(&r);
    free(nb), free(body), free(b), free(good);

    // a missing file
    assert_int_equal(replay_load(&r, "/nonexistent/x.rpl", err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open"));
}

// Random damage inside the compressed body, CRC made valid again: every
// mutant is parsed (refused with a message, or accepted), and an accepted
// one is verified and each of its frames observed -- never a crash (run
// under ASan/UBSan by `make asan`).
static void test_mutated_bodies_never_crash(void **state) {
    uint8_t *good;
    size_t len;
    good_bytes(&good, &len);
    uint32_t body_len = (uint32_t)good[12] | (uint32_t)good[13] << 8 | (uint32_t)good[14] << 16 | (uint32_t)good[15] << 24;
    uint8_t *body = malloc(body_len), *mut = malloc(body_len);
    uLongf got = body_len;
    assert_int_equal(uncompress(body, &got, good + 20, (uLong)(len - 24)), Z_OK);
    uLongf cap = compressBound(body_len);
    uint8_t *file = malloc(24 + cap);
    uint64_t rng = 1234;
    int accepted = 0, refused = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(mut, body, body_len);
        int flips = 1 + rng_int(&rng, 4);
        for (int k = 0; k < flips; k++) {
            size_t at = it < 1000 ? (size_t)rng_int(&rng, 200) : (size_t)rng_int(&rng, (int)body_len); // header fields first
            mut[at] = (uint8_t)(rng_int(&rng, 3) == 0 ? rng_next(&rng) : mut[at] ^ (1u << rng_int(&rng, 8)));
        }
        uLongf zl = cap;
        memcpy(file, good, 20);
        assert_int_equal(compress2(file + 20, &zl, mut, body_len, 1), Z_OK);
        put32(file + 16, (uint32_t)zl);
        fix_crc(file, 24 + zl);
        Replay r;
        char err[400];
        if (replay_parse(&r, file, 24 + zl, "mut", err, sizeof err) < 0) {
            assert_true(strlen(err) > 5);
            refused++;
            continue;
        }
        accepted++;
        replay_verify(&r, err, sizeof err);
        for (int t = 0; t <= r.n; t++) {
            Env e;
            uint8_t obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
            replay_frame_env(&r, t, &e);
            env_observe(&e, obs);
        }
        replay_free(&r);
    }
    assert_true(accepted > 0 && refused > 0);
    free(file), free(mut), free(body), free(good);
}

// A tiny trainer config for the recorder tests.
static void tiny_config(Config *c, int task) {
    config_defaults(c);
    c->task = task;
    c->envs = 4, c->unroll = 5, c->conv1 = 4, c->conv2 = 4, c->latent = 16, c->hidden = 16, c->cpc_k = 2;
    c->seed = 3;
    snprintf(c->name, sizeof c->name, "tiny");
}

static void test_record_trainer_leaves_trainer_alone(void **state) {
    char err[300], path[400];
    Config c;
    tiny_config(&c, ENV_TASK_SEEKAVOID);
    Trainer a, b;
    assert_int_equal(trainer_init(&a, &c, err, sizeof err), 0);
    assert_int_equal(trainer_init(&b, &c, err, sizeof err), 0);
    UpdateStats st;
    trainer_rollout(&a), trainer_rollout(&b);
    assert_int_equal(trainer_update(&a, &st, trainer_lr(&a)), 0);
    assert_int_equal(trainer_update(&b, &st, trainer_lr(&b)), 0);
    snprintf(path, sizeof path, "%s/trainer.rpl", g_dir);
    if (replay_record_trainer(&a, path, 42, err, sizeof err) != 0) fail_msg("%s", err);
    for (int k = 0; k < 2; k++) {
        trainer_rollout(&a), trainer_rollout(&b);
        assert_int_equal(trainer_update(&a, &st, trainer_lr(&a)), 0);
        assert_int_equal(trainer_update(&b, &st, trainer_lr(&b)), 0);
    }
    assert_memory_equal(a.model.p.params, b.model.p.params, a.model.p.total * sizeof(float));
    assert_memory_equal(a.rng, b.rng, (size_t)a.B * sizeof *a.rng); // sampler state(s)
    assert_memory_equal(a.obs, b.obs, (size_t)a.B * a.obs_size);
    assert_memory_equal(a.h_carry, b.h_carry, (size_t)a.B * a.model.H * sizeof(float));
    trainer_free(&a), trainer_free(&b);
    Replay r;
    if (replay_load(&r, path, err, sizeof err) != 0) fail_msg("%s", err);
    assert_true(r.has_policy && r.n > 0);
    float s = 0;
    for (int i = 0; i < ENV_A; i++) s += r.steps[0].probs[i];
    assert_float_equal(s, 1.0f, 1e-5);
    assert_int_equal(replay_verify(&r, err, sizeof err), 0);
    replay_free(&r);
}

// One acting path: the viewer's actor (watch / play's agent / recordings),
// given the trained model and env 0's observations, rewards and ends, sees
// the same logits and value as training's rollout at every step, bit for bit
// — across unrolls and episode starts (tmaze with a 7-step time limit: a
// tiny 1-env trainer's 3 unrolls of 5 steps hold episode starts).
static void test_actor_matches_rollout(void **state) {
    char err[300];
    Config c;
    tiny_config(&c, ENV_TASK_TMAZE);
    c.envs = 1, c.cpc_weight = 0, c.max_steps = 7;
    Trainer tr;
    assert_int_equal(trainer_init(&tr, &c, err, sizeof err), 0);
    UpdateStats st;
    for (int u = 0; u < 3; u++) {
        trainer_rollout(&tr);
        assert_int_equal(trainer_update(&tr, &st, trainer_lr(&tr)), 0);
    }
    Actor ac;
    if (actor_init_shared(&ac, &tr.model, &c, 1, err, sizeof err) != 0) fail_msg("%s", err);
    // the actor starts from the trainer's carried state
    memcpy(ac.h, tr.h_carry, (size_t)tr.model.H * sizeof(float));
    memcpy(ac.c, tr.c_carry, (size_t)tr.model.H * sizeof(float));
    ac.prev_action = tr.prev_action[0], ac.prev_reward = tr.prev_reward[0];
    ac.prev_done = tr.prev_done[0] > 0;
    int starts = 0;
    for (int u = 0; u < 3; u++) {
        uint8_t obs0[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
        memcpy(obs0, tr.obs, (size_t)tr.obs_size);
        trainer_rollout(&tr); // no update: the same parameters for both
        const uint8_t *obs = obs0;
        uint8_t next[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW]; // step t+1's, from the rollout
        for (int t = 0; t < tr.T; t++) {
            actor_decide(&ac, t == 0 ? obs : next, 0);
            assert_memory_equal(ac.a.logits, tr.acts.logits + (size_t)t * tr.model.A,
                                (size_t)tr.model.A * sizeof(float));
            assert_true(ac.value == tr.acts.value[t]);
            starts += tr.starts[t];
            actor_commit(&ac, tr.actions[t], tr.rew[t], tr.done[t] > 0);
            if (t + 1 < tr.T) // the next row's observation, as the rollout stored it
                for (int i = 0; i < tr.obs_size; i++)
                    next[i] = (uint8_t)tr.acts.x0[(size_t)(t + 1) * tr.obs_size + i];
        }
    }
    assert_true(starts > 0);
    actor_free(&ac);
    trainer_free(&tr);
}

static void test_record_eval_from_checkpoint(void **state) {
    char err[300], path[400], dir[400];
    Config c;
    tiny_config(&c, ENV_TASK_TMAZE);
    Trainer tr;
    assert_int_equal(trainer_init(&tr, &c, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/tiny.ckpt", g_dir);
    double extra[CKPT_EXTRA] = {0};
    if (ckpt_save(&tr, extra, path, err, sizeof err) != 0) fail_msg("%s", err);
    trainer_free(&tr);
    snprintf(dir, sizeof dir, "%s/evalrec", g_dir);
    int n = replay_record_eval(path, dir, 3, 7, 1, err, sizeof err);
    if (n != 3) fail_msg("%d: %s", n, err);
    for (int i = 0; i < 3; i++) {
        char f[500];
        snprintf(f, sizeof f, "%s/ep%04d.rpl", dir, i);
        Replay r;
        if (replay_load(&r, f, err, sizeof err) != 0) fail_msg("%s", err);
        assert_int_equal(r.source, REPLAY_AGENT_GREEDY);
        assert_int_equal((int)r.episode, 0); // eval plays its 3 episodes on 3 envs at once
        assert_int_equal(r.cfg.task, ENV_TASK_TMAZE);
        assert_true(r.end == REPLAY_TERMINATED || r.end == REPLAY_TRUNCATED);
        if (replay_verify(&r, err, sizeof err) != 0) fail_msg("%s", err);
        replay_free(&r);
    }
    // a missing checkpoint is an error with a message
    assert_int_equal(replay_record_eval("/nonexistent.ckpt", dir, 1, 1, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent.ckpt"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_all_tasks),
        cmocka_unit_test(test_frames_match_recorded_states),
        cmocka_unit_test(test_verify_catches_tampering),
        cmocka_unit_test(test_bad_files_refused),
        cmocka_unit_test(test_mutated_bodies_never_crash),
        cmocka_unit_test(test_record_trainer_leaves_trainer_alone),
        cmocka_unit_test(test_record_eval_from_checkpoint),
        cmocka_unit_test(test_actor_matches_rollout),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
