// overlay.c — the belief overlay of watch and replay (see overlay.h).
#include "replays/overlay.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errs.h"
#include "base/file.h"
#include "env/tasks.h"

static const char *goal_name(int task) {
    const EnvTask *T = env_task(task);
    return T ? T->goal_name : "goal";
}

static void set_warn(Overlay *ov);

int overlay_load(Overlay *ov, const char *path, const char *ckpt, int task, int hidden, double ckpt_frames, int on,
                 char *err, size_t errlen) {
    memset(ov, 0, sizeof *ov);
    if (readout_load(&ov->ro, path, err, errlen) < 0) return -1;
    if (readout_check(&ov->ro, path, task, hidden, ckpt, err, errlen) < 0) {
        readout_free(&ov->ro);
        return -1;
    }
    ov->bel = malloc(sizeof *ov->bel);
    ov->last_c = malloc((size_t)ov->ro.F * sizeof(float));
    if (!ov->bel || !ov->last_c) {
        overlay_free(ov);
        return err_fail(err, errlen, "%s%s: out of memory", ERR_PATH(path));
    }
    snprintf(ov->path, sizeof ov->path, "%s", path);
    ov->loaded = 1;
    ov->frames = ckpt_frames;
    ov->show_pos = ov->show_goal = on;
    const Readout *r = &ov->ro;
    DrawBelief *b = &ov->db;
    const ReadoutLabel *P = &r->lab[PROBE_POS], *G = &r->lab[PROBE_GOAL];
    b->goal_name = goal_name(task);
    b->acc_pos = (float)P->acc_soft, b->chance_pos = (float)P->chance;
    b->acc_goal = (float)G->acc_soft, b->chance_goal = (float)G->chance;
    snprintf(ov->note, sizeof ov->note, "fit on other episodes: seed %llu", (unsigned long long)r->fit_seed);
    set_warn(ov);
    return 0;
}

void overlay_free(Overlay *ov) {
    if (ov->loaded) readout_free(&ov->ro);
    free(ov->bel), free(ov->last_c);
    memset(ov, 0, sizeof *ov);
}

// The warning line: the episode shown was fitted on (worst), else the
// read-outs were fitted on a checkpoint of other frames.
static void set_warn(Overlay *ov) {
    const Readout *r = &ov->ro;
    ov->warn[0] = 0;
    if (ov->fitted_here)
        snprintf(ov->warn, sizeof ov->warn, "this episode's seed was fitted on!");
    else if (ov->extra[0])
        snprintf(ov->warn, sizeof ov->warn, "%s", ov->extra);
    else if (fabs(ov->frames - r->ckpt_frames) > 0.5)
        snprintf(ov->warn, sizeof ov->warn, "fitted at %.3g frames, this is %.3g", r->ckpt_frames, ov->frames);
}

void overlay_set_frames(Overlay *ov, double ckpt_frames) {
    if (!ov->loaded) return;
    ov->frames = ckpt_frames;
    set_warn(ov);
}

void overlay_warn(Overlay *ov, const char *text) {
    if (!ov->loaded) return;
    snprintf(ov->extra, sizeof ov->extra, "%s", text ? text : "");
    set_warn(ov);
}

void overlay_set_seed(Overlay *ov, uint64_t env_seed) {
    if (!ov->loaded) return;
    ov->fitted_here = readout_fitted_seed(&ov->ro, env_seed);
    set_warn(ov);
}

const DrawBelief *overlay_frame(Overlay *ov, const float *c) {
    if (!ov->loaded || !c || (!ov->show_pos && !ov->show_goal)) return NULL;
    const size_t bytes = (size_t)ov->ro.F * sizeof(float);
    if (!ov->have_last || memcmp(c, ov->last_c, bytes) != 0) {
        readout_apply(&ov->ro, c, ov->bel);
        memcpy(ov->last_c, c, bytes);
        ov->have_last = 1;
    }
    DrawBelief *b = &ov->db; // (its strings point into ov, set here: an Overlay may have been copied)
    b->show_pos = ov->show_pos, b->show_goal = ov->show_goal;
    b->note = ov->note;
    b->warn = ov->warn[0] ? ov->warn : NULL;
    b->pos = ov->bel->has[PROBE_POS] ? ov->bel->p[PROBE_POS] : NULL;
    b->goal = b->cue = NULL;
    if (ov->bel->has[PROBE_GOAL]) {
        const EnvTask *T = env_task(ov->ro.task);
        if (T && T->goal_label == ENV_GOAL_CUE) b->cue = ov->bel->p[PROBE_GOAL];
        else b->goal = ov->bel->p[PROBE_GOAL];
    }
    return b;
}

int overlay_key(Overlay *ov, SDL_Keycode sym, Message *msg) {
    if (sym != SDLK_b && sym != SDLK_t) return 0;
    if (!ov->loaded) {
        message_set(msg, 4, "no read-outs loaded: cpcrl probe RUN --save writes them (see --readout)");
        return 1;
    }
    if (sym == SDLK_t && !ov->ro.lab[PROBE_GOAL].has) {
        message_set(msg, 3, "%s has no goal to read out", ENV_TASK_NAMES[ov->ro.task]);
        return 1;
    }
    int *on = sym == SDLK_b ? &ov->show_pos : &ov->show_goal;
    *on = !*on;
    message_set(msg, 2, "belief: %s layer %s", sym == SDLK_b ? "position" : goal_name(ov->ro.task), *on ? "on" : "off");
    return 1;
}

int overlay_find(const char *ckpt_or_run, char *out, size_t n) {
    readout_path_for(ckpt_or_run, out, n);
    return file_exists(out) ? 0 : -1;
}

int overlay_find_for_replay(const char *rpl, char *ckpt, size_t nc, char *ro, size_t nr) {
    char dir[1100];
    const char *slash = strrchr(rpl, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - rpl), rpl);
    else snprintf(dir, sizeof dir, ".");
    for (int up = 0; up < 2; up++) {
        snprintf(ckpt, nc, "%s/model.ckpt", dir);
        snprintf(ro, nr, "%s/%s", dir, READOUT_FILE);
        if (file_exists(ckpt) && file_exists(ro)) return 0;
        size_t len = strlen(dir);
        if (len >= sizeof dir - 4) break;
        memcpy(dir + len, "/..", 4);
    }
    return -1;
}

int overlay_replay_states(Actor *ac, const Replay *r, float **out, double *maxdp, char *err, size_t errlen) {
    *out = NULL;
    *maxdp = -1;
    EnvConfig ec;
    config_env(&ac->cfg, &ec);
    if (ec.task != r->cfg.task || ec.view != r->cfg.view)
        return err_fail(err, errlen, "the checkpoint acts in task %s with view %d, the replay is task %s with view %d",
                        ENV_TASK_NAMES[ec.task], ec.view, ENV_TASK_NAMES[r->cfg.task], r->cfg.view);
    const int H = ac->m->H;
    const size_t rows = (size_t)r->n + 1;
    if (rows * (size_t)H > ((size_t)1 << 28)) // 1 GiB of floats
        return err_fail(err, errlen, "%d steps of c_t (%d floats each) are more than the overlay keeps in memory",
                        r->n, H);
    float *ct = malloc(rows * (size_t)H * sizeof(float));
    if (!ct) return err_fail(err, errlen, "out of memory for %zu rows of c_t", rows);
    Env e;
    uint8_t obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
    actor_reset(ac);
    double dp = -1;
    for (int t = 0; t <= r->n; t++) {
        replay_frame_env(r, t, &e);
        env_observe(&e, obs);
        actor_decide(ac, obs, 1);
        memcpy(ct + (size_t)t * H, ac->a.h, (size_t)H * sizeof(float));
        if (t < r->n) {
            if (r->has_policy)
                for (int a = 0; a < ENV_A; a++) {
                    double d = fabs((double)ac->probs[a] - r->steps[t].probs[a]);
                    dp = d > dp ? d : dp;
                }
            actor_commit(ac, r->steps[t].action, r->steps[t].reward, 0);
        }
    }
    actor_reset(ac);
    *out = ct;
    *maxdp = dp;
    return 0;
}
