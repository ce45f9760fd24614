// record.c — the recorders of `eval --record DIR` and `train --record-every N`
// (see record.h).
#include "replays/record.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ckpt.h"
#include "base/errs.h"
#include "base/file.h"
#include "base/stop.h"
#include "base/rng.h"
#include "replays/actor.h"
#include "replays/replay.h"

// Play one episode of `env` (at an episode start) with the actor into r.
static int record_episode(Actor *ac, Env *env, int greedy, const char *label, Replay *r, char *err, size_t errlen) {
    uint8_t obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
    if (replay_begin(r, env, greedy ? REPLAY_AGENT_GREEDY : REPLAY_AGENT_SAMPLED, label, ac->train_frames, err,
                     errlen) < 0)
        return -1;
    actor_reset(ac);
    while (!replay_ended(r)) {
        if (stop_requested()) return err_fail(err, errlen, "recording stopped: training was interrupted");
        if (replay_push_state(r, env, err, errlen) < 0) return -1;
        env_observe(env, obs);
        int a = actor_decide(ac, obs, greedy);
        uint8_t term, trunc;
        float rew = env_step(env, a, &term, &trunc);
        if (replay_push_action(r, a, rew, ac->value, ac->probs, term, trunc, env, err, errlen) < 0) return -1;
        actor_commit(ac, a, rew, term || trunc);
    }
    return 0;
}

// eval --record: an EvalHook (train.h) that records, for every env of eval's
// batch, each episode eval counts, from the very states, actions, values and
// probabilities eval used; the file of eval's i-th counted episode is
// DIR/ep<i>.rpl, so the files are exactly the evaluated episodes.
struct EvalRecorder {
    char dir[1024], label[64];
    int source;
    double train_frames;
    Replay rec[32];
    int active[32];
    float value[32], probs[32][ENV_A];
    int written;
};

static int evrec_before(void *ctx, const VecEnv *v, const int *act, const float *value, const float *logits, int A,
                        const uint8_t *counted, char *err, size_t errlen) {
    EvalRecorder *er = ctx;
    for (int b = 0; b < v->n; b++) {
        if (!counted[b]) continue;
        const Env *e = &v->envs[b];
        if (!er->active[b]) {
            if (replay_begin(&er->rec[b], e, er->source, er->label, er->train_frames, err, errlen) < 0) return -1;
            er->active[b] = 1;
        }
        if (replay_push_state(&er->rec[b], e, err, errlen) < 0) return -1;
        // the action probabilities as actor_decide computes them
        const float *lg = logits + (size_t)b * A;
        float mx = lg[0];
        for (int k = 1; k < A; k++) mx = lg[k] > mx ? lg[k] : mx;
        double z = 0;
        for (int k = 0; k < A; k++) z += exp((double)(lg[k] - mx));
        for (int k = 0; k < ENV_A; k++) er->probs[b][k] = k < A ? (float)(exp((double)(lg[k] - mx)) / z) : 0.0f;
        er->value[b] = value[b];
    }
    return 0;
}

static int evrec_after(void *ctx, const VecEnv *v, const int *act, const float *rew, const uint8_t *term,
                       const uint8_t *trunc, const int *slot, char *err, size_t errlen) {
    EvalRecorder *er = ctx;
    for (int b = 0; b < v->n; b++) {
        if (!er->active[b]) continue;
        Replay *r = &er->rec[b];
        if (replay_push_action(r, act[b], rew[b], er->value[b], er->probs[b], term[b], trunc[b], &v->envs[b], err,
                               errlen) < 0)
            return -1;
        if (!term[b] && !trunc[b]) continue;
        assert(slot[b] >= 0); // a recorded episode is a counted one
        char path[1200];
        snprintf(path, sizeof path, "%s/ep%04d.rpl", er->dir, slot[b]);
        int rc = replay_save(r, path, err, errlen);
        replay_free(r);
        er->active[b] = 0;
        if (rc < 0) return -1;
        er->written++;
    }
    return 0;
}

EvalRecorder *replay_eval_recorder_begin(const char *ckpt_path, const char *dir, int greedy, EvalHook *hook,
                                         char *err, size_t errlen) {
    char path[1100], msg[600];
    if (!dir[0]) return err_fail(err, errlen, "--record: empty directory name"), NULL;
    ckpt_path_for(ckpt_path, path, sizeof path);
    Ckpt ck;
    if (ckpt_read(&ck, path, msg, sizeof msg) < 0) return err_fail(err, errlen, "%s", msg), NULL;
    EvalRecorder *er = calloc(1, sizeof *er);
    if (!er) {
        ckpt_free(&ck);
        return err_fail(err, errlen, "out of memory"), NULL;
    }
    snprintf(er->dir, sizeof er->dir, "%s", dir);
    snprintf(er->label, sizeof er->label, "eval %.40s", ck.cfg.name);
    const CkptRecord *fr = ckpt_find(&ck, "state/frames");
    if (fr && fr->dtype == CK_F64 && fr->count == 1) memcpy(&er->train_frames, fr->data, sizeof er->train_frames);
    ckpt_free(&ck);
    er->source = greedy ? REPLAY_AGENT_GREEDY : REPLAY_AGENT_SAMPLED;
    // episodes of an earlier call there would mix with this one's (a run of
    // fewer episodes leaves the higher numbers): refused, nothing removed
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        char first[256] = "";
        int n = 0;
        while ((de = readdir(d))) {
            size_t l = strlen(de->d_name);
            if (l < 6 || strncmp(de->d_name, "ep", 2) || strcmp(de->d_name + l - 4, ".rpl")) continue;
            if (!n++) snprintf(first, sizeof first, "%s", de->d_name);
        }
        closedir(d);
        if (n) {
            err_fail(err, errlen, "%s already holds %d recorded episode%s (%s%s), which would mix with this "
                     "evaluation's: record into an empty or new directory, or remove them first", dir, n,
                     n == 1 ? "" : "s", first, n > 1 ? ", ..." : "");
            free(er);
            return NULL;
        }
    }
    if (file_check_out(dir, 1, err, errlen) < 0) { // a directory we can write into, before the episodes
        free(er);
        return NULL;
    }
    *hook = (EvalHook){evrec_before, evrec_after, er};
    return er;
}

int replay_eval_recorder_end(EvalRecorder *er) {
    if (!er) return 0;
    for (int b = 0; b < 32; b++) replay_free(&er->rec[b]); // episodes cut short by an error
    int n = er->written;
    free(er);
    return n;
}

int replay_record_eval(const char *ckpt_path, const char *dir, int episodes, uint64_t seed, int greedy, char *err,
                       size_t errlen) {
    EvalHook hook;
    EvalRecorder *er = replay_eval_recorder_begin(ckpt_path, dir, greedy, &hook, err, errlen);
    if (!er) return -1;
    Config opts;
    config_defaults(&opts);
    opts.episodes = episodes, opts.seed = seed, opts.greedy = greedy, opts.threads = 1;
    EvalResult res;
    int rc = eval_main(ckpt_path, &opts, &hook, &res);
    int n = replay_eval_recorder_end(er);
    if (rc != 0) return err_fail(err, errlen, "%s: evaluation failed (message above)", ckpt_path);
    return n;
}


int replay_record_trainer(Trainer *tr, const char *path, uint64_t seed, char *err, size_t errlen) {
    Actor ac;
    if (actor_init_shared(&ac, &tr->model, &tr->cfg, seed, err, errlen) < 0) return -1;
    ac.train_frames = tr->frames;
    Env env;
    env_init(&env, &tr->ecfg, seed);
    char label[64];
    snprintf(label, sizeof label, "train %.40s", tr->cfg.name);
    Replay r;
    int rc = record_episode(&ac, &env, 0, label, &r, err, errlen);
    if (rc == 0) rc = replay_save(&r, path, err, errlen);
    replay_free(&r);
    actor_free(&ac);
    return rc;
}

static void train_recorder_hook(void *ctx, Trainer *tr, const char *run_dir) {
    TrainRecorder *rec = ctx;
    if (tr->frames < rec->next || stop_requested()) return;
    // the next multiple of `every` past the current frames (no loop: any
    // `every` and frame count take one step)
    rec->next = (floor(tr->frames / rec->every) + 1) * rec->every;
    if (rec->next <= tr->frames) rec->next = nextafter(tr->frames, INFINITY);
    char dir[1100], path[1200], err[600];
    snprintf(dir, sizeof dir, "%s/replays", run_dir);
    if (file_mkdir_p(dir) < 0) {
        fprintf(stderr, "\ncpcrl train: --record-every: cannot create %s: %s\n", dir, strerror(errno));
        return;
    }
    snprintf(path, sizeof path, "%s/frames_%012.0f.rpl", dir, tr->frames);
    if (replay_record_trainer(tr, path, rng_derive(tr->cfg.seed, 0x7EC0 + (uint64_t)rec->count), err, sizeof err) < 0 &&
        !stop_requested())
        fprintf(stderr, "\ncpcrl train: --record-every: %s\n", err);
    rec->count++;
}

void replay_train_recorder(TrainRecorder *rec, double every_frames, TrainHook *hook) {
    rec->every = every_frames, rec->next = every_frames, rec->count = 0;
    rec->every = every_frames, rec->next = every_frames, rec->count = 0;
    hook->after_update = train_recorder_hook, hook->ctx = rec;
}
