// actor.c — single-env acting with a trained model (see actor.h): the input row
// is policy_input_row's, as in the trainer's rollout; the sampler is the same.
#include "replays/actor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ckpt.h"
#include "base/errs.h"
#include "agent/policy.h"
#include "agent/train.h"
#include "base/rng.h"

static int alloc_state(Actor *ac, uint64_t seed, char *err, size_t errlen) {
    const int H = ac->m->H;
    if (acts_alloc(&ac->a, ac->m, 1) < 0) return err_fail(err, errlen, "out of memory (actor)");
    ac->h = calloc((size_t)H, sizeof(float));
    ac->c = calloc((size_t)H, sizeof(float));
    if (!ac->h || !ac->c) return err_fail(err, errlen, "out of memory (actor)");
    ac->rng = rng_derive(seed, 0xAC7);
    actor_reset(ac);
    return 0;
}

static double ckpt_frames(const Ckpt *ck) {
    const CkptRecord *fr = ckpt_find(ck, "state/frames");
    double v = 0;
    if (fr && fr->dtype == CK_F64 && fr->count == 1) memcpy(&v, fr->data, sizeof v);
    return v;
}

int actor_load(Actor *ac, const char *path_in, uint64_t seed, char *err, size_t errlen) {
    memset(ac, 0, sizeof *ac);
    char path[1100], msg[512];
    ckpt_path_for(path_in, path, sizeof path);
    Ckpt ck;
    if (ckpt_read(&ck, path, msg, sizeof msg) < 0) return err_fail(err, errlen, "%s", msg);
    ac->cfg = ck.cfg;
    EnvConfig e;
    config_env(&ac->cfg, &e);
    // the run's network with every auxiliary head it trained (agent/aux.h), so the
    // checkpoint's slab loads whole; the init is overwritten by the checkpoint
    if (aux_model_init(&ac->own, &ac->cfg, e.view, 1, msg, sizeof msg) < 0) {
        ckpt_free(&ck);
        return err_fail(err, errlen, "%s: %s", path, msg);
    }
    ac->m = &ac->own;
    ac->owns = 1;
    if (ckpt_load_model(&ck, ac->m, msg, sizeof msg) < 0) {
        ckpt_free(&ck);
        actor_free(ac);
        return err_fail(err, errlen, "%s: %s", path, msg);
    }
    ac->train_frames = ckpt_frames(&ck);
    ckpt_free(&ck);
    if (alloc_state(ac, seed, err, errlen) < 0) {
        actor_free(ac);
        return -1;
    }
    return 0;
}

int actor_reload(Actor *ac, const char *path_in, char *err, size_t errlen) {
    char path[1100], msg[512];
    ckpt_path_for(path_in, path, sizeof path);
    Ckpt ck;
    if (ckpt_read(&ck, path, msg, sizeof msg) < 0) return err_fail(err, errlen, "%s", msg);
    int rc = ckpt_load_model(&ck, ac->m, msg, sizeof msg); // validates every tensor first
    if (rc == 0) ac->train_frames = ckpt_frames(&ck);
    ckpt_free(&ck);
    if (rc < 0) return err_fail(err, errlen, "%s: %s", path, msg);
    return 0;
}

int actor_init_shared(Actor *ac, Model *m, const Config *cfg, uint64_t seed, char *err, size_t errlen) {
    memset(ac, 0, sizeof *ac);
    ac->m = m;
    ac->cfg = *cfg;
    if (alloc_state(ac, seed, err, errlen) < 0) {
        actor_free(ac);
        return -1;
    }
    return 0;
}

void actor_free(Actor *ac) {
    if (ac->owns) model_free(&ac->own);
    acts_free(&ac->a);
    free(ac->h), free(ac->c);
    memset(ac, 0, sizeof *ac);
}

void actor_reset(Actor *ac) {
    ac->prev_done = 1;
    ac->prev_action = 0;
    ac->prev_reward = 0;
    ac->action = -1;
}

int actor_decide(Actor *ac, const uint8_t *obs, int greedy) {
    Model *m = ac->m;
    Acts *a = &ac->a;
    policy_input_row(m, a, 0, obs, ac->prev_done ? 0.0f : 1.0f, ac->prev_action, ac->prev_reward,
                     ac->cfg.reward_clip, ac->h, ac->c);
    model_forward(m, a, 0, 1);
    float mx = a->logits[0];
    for (int k = 1; k < m->A; k++) mx = a->logits[k] > mx ? a->logits[k] : mx;
    double z = 0;
    for (int k = 0; k < m->A; k++) z += exp((double)(a->logits[k] - mx));
    for (int k = 0; k < ENV_A; k++) {
        ac->logits[k] = k < m->A ? a->logits[k] : -INFINITY;
        ac->probs[k] = k < m->A ? (float)(exp((double)(a->logits[k] - mx)) / z) : 0.0f;
    }
    ac->value = a->value[0];
    return actor_repick(ac, greedy);
}

int actor_repick(Actor *ac, int greedy) {
    ac->action = greedy ? nn_argmax(ac->a.logits, ac->m->A) : nn_sample_logits(ac->a.logits, ac->m->A, &ac->rng);
    return ac->action;
}

void actor_commit(Actor *ac, int action, float reward, int done) {
    const int H = ac->m->H;
    memcpy(ac->h, ac->a.h, (size_t)H * sizeof(float));
    memcpy(ac->c, ac->a.cell, (size_t)H * sizeof(float));
    ac->prev_action = action;
    ac->prev_reward = reward;
    ac->prev_done = done;
    ac->action = -1;
}
