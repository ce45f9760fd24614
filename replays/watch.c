// watch.c — `cpcrl watch`: a checkpoint (or a training run, reloaded whenever
// the trainer replaces model.ckpt) acting live in a window (see cmd.h); with
// two checkpoints, side by side on the same seeded episodes. Each pane draws
// its agent's belief overlay (overlay.h) when read-outs are found beside its
// checkpoint.
#include "replays/cmd.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/train.h"
#include "base/file.h"
#include "replays/actor.h"
#include "replays/overlay.h"
#include "replays/window.h"

#define WATCH_MAX_PANES 2

// One agent: its checkpoint, env, recording, the finished episode's last
// frame held on screen, and its overlay.
typedef struct {
    const char *arg;              // the checkpoint file or run directory given
    char ckpath[1100], stamp[128];
    int is_run;
    Actor ac;
    Env env, shown;
    int over;                     // the episode ended and the pane waits for the other one
    int end_kind;                 // how the episode in `shown` (its last frame) ended: 1 terminated, 2 time limit
    float last_reward;
    Recording rec;
    char label[64], lab[200];
    Overlay ov;
    char ro_path[1200], ro_stamp[128]; // the read-outs (loaded again when the file is replaced)
    float *final_c;               // c_t at the held last frame (H)
    int has_final_c;
    uint8_t obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW]; // the observation its frame draws
} Pane;

// The file's identity (mtime, size, inode): a change means a new checkpoint.
static int file_stamp(const char *path, char *out, size_t n) {
    struct stat st;
    if (stat(path, &st) < 0) return -1;
    snprintf(out, n, "%lld.%ld/%lld/%llu", (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec,
             (long long)st.st_size, (unsigned long long)st.st_ino);
    return 0;
}

// WATCH_DIR/watch-<task>-s<seed>-e<episode>[-A|-B].rpl
static void watch_path(char *path, size_t n, const Opts *o, int task, uint64_t episode, int pane, int npanes) {
    snprintf(path, n, "%s/watch-%s-s%llu-e%llu%s.rpl", o->record[0] ? o->record : ".", ENV_TASK_NAMES[task],
             (unsigned long long)o->seed, (unsigned long long)episode,
             npanes > 1 ? (pane ? "-B" : "-A") : "");
}

static void pane_free(Pane *p) {
    replay_free(&p->rec.r);
    overlay_free(&p->ov);
    free(p->final_c);
    actor_free(&p->ac);
}

// Load pane p's checkpoint and, when the overlay is on, its read-outs:
// o->readout, else readout.bin beside the checkpoint when there (a bad or
// mismatched one found there is reported and left out). 0 or the exit code.
static int pane_load(Pane *p, const char *arg, const Opts *o) {
    char err[1400], *ro = p->ro_path;
    const size_t nro = sizeof p->ro_path;
    memset(p, 0, sizeof *p);
    p->arg = arg;
    ckpt_path_for(arg, p->ckpath, sizeof p->ckpath);
    struct stat sb;
    p->is_run = stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (p->is_run && !file_exists(p->ckpath)) {
        fprintf(stderr, "cpcrl watch: waiting for %s to appear (Ctrl+C to stop)\n", p->ckpath);
        while (!file_exists(p->ckpath)) usleep(500000);
    }
    if (actor_load(&p->ac, arg, o->seed, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl watch: %s\n", err);
        return 1;
    }
    file_stamp(p->ckpath, p->stamp, sizeof p->stamp);
    if (!o->overlay) return 0;
    int given = o->readout[0] != 0;
    if (given) snprintf(ro, nro, "%s", o->readout);
    else if (overlay_find(arg, ro, nro) < 0) {
        fprintf(stderr, "cpcrl watch: no read-outs at %s, so no belief overlay (cpcrl probe %s --save fits them)\n",
                ro, arg);
        return 0;
    }
    file_stamp(ro, p->ro_stamp, sizeof p->ro_stamp);
    if (overlay_load(&p->ov, ro, p->ckpath, p->ac.cfg.task, p->ac.m->H, p->ac.train_frames, 1, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl watch: %s%s\n", err, given ? "" : " (no belief overlay)");
        if (given) pane_free(p);
        return given ? 1 : 0;
    }
    if (!(p->final_c = malloc((size_t)p->ac.m->H * sizeof(float)))) {
        fprintf(stderr, "cpcrl watch: out of memory\n");
        pane_free(p);
        return 1;
    }
    fprintf(stderr, "cpcrl watch: belief overlay from %s (fitted on env seed %llu; B and T toggle its layers)\n", ro,
            (unsigned long long)p->ov.ro.fit_seed);
    return 0;
}

static int source_of(int greedy) { return greedy ? REPLAY_AGENT_GREEDY : REPLAY_AGENT_SAMPLED; }

// Start pane p on its env's current episode (at an episode start).
static void pane_begin(Pane *p, int greedy, uint8_t *obs) {
    actor_reset(&p->ac);
    if (recording_begin(&p->rec, &p->env, source_of(greedy), p->label, p->ac.train_frames) == 0)
        recording_state(&p->rec, &p->env);
    actor_decide(&p->ac, (env_observe(&p->env, obs), obs), greedy);
    p->last_reward = 0, p->over = 0; // (final_c stays: the held last frame may still be on screen)
    overlay_set_seed(&p->ov, p->env.seed);
}

// Save pane p's finished (or, with a snapshot, current) episode.
static int pane_save(Pane *p, const Replay *r, const Opts *o, int pane, int npanes, Message *msg, int *status) {
    char path[1200], err[600];
    watch_path(path, sizeof path, o, r->cfg.task, r->episode, pane, npanes);
    if (replay_save(r, path, err, sizeof err) < 0) { // a lost episode is an error: on stderr and in the exit status
        message_set(msg, 5, "%s", err);
        fprintf(stderr, "cpcrl watch: %s\n", err);
        *status = 1;
        return -1;
    }
    message_set(msg, 3, "saved %s", path);
    return 0;
}

// One step of pane p. Returns 1 when its episode ended.
static int pane_step(Pane *p, int greedy, const Opts *o, int pane, int npanes, Message *msg, int *status,
                     uint8_t *obs) {
    const int a = p->ac.action;
    uint8_t term, trunc, final_obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
    float r = env_step_final(&p->env, a, &term, &trunc, final_obs);
    recording_action(&p->rec, a, r, p->ac.value, p->ac.probs, term, trunc, &p->env);
    p->last_reward = r;
    if (!(term || trunc)) {
        actor_commit(&p->ac, a, r, 0);
        recording_state(&p->rec, &p->env);
        actor_decide(&p->ac, (env_observe(&p->env, obs), obs), greedy);
        return 0;
    }
    const Replay *done = &p->rec.r;
    message_set(msg, 4, "episode %llu over: return %+.2f in %d steps (%s)", (unsigned long long)done->episode,
                (double)done->ret, done->n, term ? "terminated" : "time limit");
    if (o->record[0] && p->rec.ok) pane_save(p, done, o, pane, npanes, msg, status);
    // hold the finished episode's last frame on screen
    if (p->rec.ok) replay_frame_env(done, done->n, &p->shown);
    else p->shown = p->env;
    p->shown.ep_return = done->ret;
    p->over = 1, p->end_kind = term ? 1 : 2;
    if (p->ov.loaded) { // its c_t: the network on the last observation (greedy: no draw from the sampler)
        actor_commit(&p->ac, a, r, 0);
        actor_decide(&p->ac, final_obs, 1);
        memcpy(p->final_c, p->ac.a.h, (size_t)p->ac.m->H * sizeof(float));
        p->has_final_c = 1;
    }
    actor_commit(&p->ac, a, r, 1);
    return 1;
}

// Read-outs written again (probe --save while watching): load them, keeping
// the layers' toggles; a bad file is reported once and the old ones stay.
static void pane_follow_readout(Pane *p, Message *msg) {
    char st[128], err[1400];
    if (!p->ro_path[0] || file_stamp(p->ro_path, st, sizeof st) != 0 || strcmp(st, p->ro_stamp) == 0) return;
    snprintf(p->ro_stamp, sizeof p->ro_stamp, "%s", st);
    Overlay fresh;
    if (!p->final_c && !(p->final_c = malloc((size_t)p->ac.m->H * sizeof(float)))) return;
    if (overlay_load(&fresh, p->ro_path, p->ckpath, p->ac.cfg.task, p->ac.m->H, p->ac.train_frames, 1, err,
                     sizeof err) < 0) {
        message_set(msg, 5, "read-outs not loaded: %s", err);
        fprintf(stderr, "cpcrl watch: read-outs not loaded: %s\n", err);
        return;
    }
    if (p->ov.loaded) fresh.show_pos = p->ov.show_pos, fresh.show_goal = p->ov.show_goal;
    overlay_free(&p->ov);
    p->ov = fresh;
    p->has_final_c = 0;
    overlay_set_seed(&p->ov, p->env.seed);
    message_set(msg, 3, "loaded the read-outs %s", p->ro_path);
    fprintf(stderr, "cpcrl watch: loaded the read-outs %s\n", p->ro_path);
}

// Follow the run: the trainer replaces model.ckpt atomically.
static void pane_follow(Pane *p, Message *msg) {
    char st2[128], err[600];
    pane_follow_readout(p, msg);
    if (!p->is_run || file_stamp(p->ckpath, st2, sizeof st2) != 0 || strcmp(st2, p->stamp) == 0) return;
    snprintf(p->stamp, sizeof p->stamp, "%s", st2); // a bad file is reported once, retried when replaced
    if (actor_reload(&p->ac, p->arg, err, sizeof err) == 0) {
        message_set(msg, 3, "reloaded %s (%.0f frames)", p->ckpath, p->ac.train_frames);
        fprintf(stderr, "cpcrl watch: reloaded %s (%.0f frames)\n", p->ckpath, p->ac.train_frames);
        p->rec.r.train_frames = p->ac.train_frames;
        overlay_set_frames(&p->ov, p->ac.train_frames);
    } else {
        message_set(msg, 5, "reload failed, keeping the old model: %s", err);
        fprintf(stderr, "cpcrl watch: reload failed, keeping the old model: %s\n", err);
    }
}

// The frame pane p shows now.
static void pane_frame(Pane *p, DrawFrame *f, int held, int npanes) {
    uint8_t *obs = p->obs;
    memset(f, 0, sizeof *f);
    if (held) { // the finished episode's last frame
        frame_from_env(f, &p->shown, obs);
        f->ended = p->end_kind;
        f->ret = p->shown.ep_return;
        f->action = -1;
        f->belief = overlay_frame(&p->ov, p->has_final_c ? p->final_c : NULL);
    } else {
        frame_from_env(f, &p->env, obs);
        f->has_policy = 1;
        memcpy(f->probs, p->ac.probs, sizeof f->probs);
        f->value = p->ac.value;
        f->action = p->ac.action;
        f->ret = p->env.ep_return;
        f->belief = overlay_frame(&p->ov, p->ac.a.h);
    }
    f->last_reward = p->last_reward;
    f->mode = "WATCH";
    // side by side, the paths given tell the panes apart (two runs may share a name)
    snprintf(p->lab, sizeof p->lab, "%s (%.0f frames)", p->ac.cfg.name[0] && npanes == 1 ? p->ac.cfg.name : p->arg,
             p->ac.train_frames);
    f->label = p->lab;
}

int cmd_watch(const ViewOpts *opts, char **pos, int np) {
    Opts o = *opts;
    char err[600];
    if (np != 1 && np != 2)
        return window_usage("watch", "expected a checkpoint file or a run directory (or two, side by side)");
    if (np == 2 && o.readout[0])
        return window_usage("watch", "--readout: with two checkpoints each pane's read-outs are the readout.bin "
                                     "beside its checkpoint");
    const int npanes = np;
    static Pane panes[WATCH_MAX_PANES];
    int loaded = 0, rc = 0;
    for (int i = 0; i < npanes && rc == 0; i++)
        if ((rc = pane_load(&panes[i], pos[i], &o)) == 0) loaded++;
    EnvConfig ec;
    if (rc == 0) {
        config_env(&panes[0].ac.cfg, &ec);
        if (env_config_check(&ec, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl watch: %s: %s\n", panes[0].ckpath, err);
            rc = 1;
        }
    }
    if (rc == 0 && npanes == 2) { // the same episodes: the same env settings
        EnvConfig e2;
        config_env(&panes[1].ac.cfg, &e2);
        env_config_defaults(&ec), env_config_defaults(&e2);
        if (memcmp(&ec, &e2, sizeof ec) != 0) {
            fprintf(stderr, "cpcrl watch: %s and %s act in different envs (task %s size %d view %d max_steps %d "
                            "items %d, and task %s size %d view %d max_steps %d items %d): side by side needs the "
                            "same\n", panes[0].ckpath, panes[1].ckpath, ENV_TASK_NAMES[ec.task], ec.size, ec.view,
                    ec.max_steps, ec.items, ENV_TASK_NAMES[e2.task], e2.size, e2.view, e2.max_steps, e2.items);
            rc = 1;
        }
    }
    if (rc == 0 && o.record[0] && file_mkdir_p(o.record) < 0) {
        fprintf(stderr, "cpcrl watch: cannot create %s: %s\n", o.record, strerror(errno));
        rc = 1;
    }
    if (rc) {
        for (int i = 0; i < loaded; i++) pane_free(&panes[i]);
        return rc;
    }
    if (npanes == 2 && o.win_w == 1280 && o.win_h == 720) o.win_w = 1800; // two panes at the default size
    View v;
    if ((rc = window_open(&v, &o, npanes == 2 ? "cpcrl watch (side by side)" : "cpcrl watch"))) {
        for (int i = 0; i < npanes; i++) pane_free(&panes[i]);
        return rc;
    }
    uint8_t obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
    int greedy = o.greedy, paused = o.paused, status = 0;
    double speed = o.speed;
    Message msg = {{0}, 0};
    // Side by side, both panes start every episode from one copy of `base`,
    // so they play the same maze; a pane that finishes first waits.
    Env base;
    env_init(&base, &ec, o.seed);
    for (int i = 0; i < npanes; i++) {
        Pane *p = &panes[i];
        char name[sizeof p->ac.cfg.name]; // a copy: the label goes into the same struct
        snprintf(name, sizeof name, "%s", p->ac.cfg.name);
        snprintf(p->label, sizeof p->label, "watch %.40s", name);
        p->rec = (Recording){.cmd = "watch", .msg = &msg, .status = &status};
        p->env = base;
        pane_begin(p, greedy, obs);
        if (!p->rec.ok) status = 1;
    }
    if (status) {
        for (int i = 0; i < npanes; i++) pane_free(&panes[i]);
        window_close(&v);
        return 1;
    }
    double t_last = window_now(), acc = 0, next_check = t_last + o.reload_every, hold_until = 0;
    int quit = 0, step_once = 0;
    while (!quit) {
        SDL_Event ev;
        int restart = 0;
        while (SDL_PollEvent(&ev)) {
            window_event(&v, &ev, "watch", &quit, &status);
            if (ev.type != SDL_KEYDOWN) continue;
            const SDL_Keycode sym = ev.key.keysym.sym;
            int ov_key = 0;
            for (int i = 0; i < npanes; i++) ov_key |= overlay_key(&panes[i].ov, sym, &msg);
            if (ov_key) continue;
            switch (sym) {
            case SDLK_SPACE: paused = !paused; break;
            case SDLK_n:
            case SDLK_RIGHT: paused = 1, step_once = 1; break;
            case SDLK_g:
                greedy = !greedy;
                for (int i = 0; i < npanes; i++) actor_repick(&panes[i].ac, greedy);
                message_set(&msg, 2, "%s actions", greedy ? "greedy (argmax)" : "sampled");
                break;
            case SDLK_r: restart = 1; break;
            case SDLK_s:
                for (int i = 0; i < npanes; i++) {
                    Pane *p = &panes[i];
                    Replay snap;
                    if (replay_ended(&p->rec.r)) { // a pane waiting for the other: its finished episode
                        pane_save(p, &p->rec.r, &o, i, npanes, &msg, &status);
                        continue;
                    }
                    if (replay_snapshot(&p->rec.r, &p->env, &snap, err, sizeof err) < 0) {
                        message_set(&msg, 5, "%s", err);
                        fprintf(stderr, "cpcrl watch: %s\n", err);
                        status = 1;
                        continue;
                    }
                    pane_save(p, &snap, &o, i, npanes, &msg, &status);
                    replay_free(&snap);
                }
                break;
            default: window_key(&v, sym, &speed, &msg, &quit); break;
            }
        }
        double t = window_now(), dt = t - t_last;
        t_last = t;
        if (t >= next_check) {
            next_check = t + o.reload_every;
            for (int i = 0; i < npanes; i++) pane_follow(&panes[i], &msg);
        }
        if (restart) { // R: a new episode (for both panes the same)
            if (npanes == 1) env_reset(&panes[0].env);
            else env_reset(&base);
            for (int i = 0; i < npanes; i++) {
                if (npanes > 1) panes[i].env = base;
                pane_begin(&panes[i], greedy, obs);
            }
            hold_until = 0;
            if (panes[0].rec.ok) message_set(&msg, 2, "new episode %llu", (unsigned long long)panes[0].env.episode);
        }
        int steps = 0;
        if (t >= hold_until) {
            if (!paused) {
                acc += dt * speed;
                steps = (int)acc;
                acc -= steps;
                if (steps > 64) steps = 64, acc = 0;
            } else if (step_once) {
                steps = 1;
            }
        }
        step_once = 0;
        for (int k = 0; k < steps && t >= hold_until; k++) {
            int over = 0;
            for (int i = 0; i < npanes; i++) {
                Pane *p = &panes[i];
                if (!p->over) pane_step(p, greedy, &o, i, npanes, &msg, &status, obs);
                over += p->over != 0;
            }
            if (over < npanes) continue;
            // every pane's episode is over: their last frames stay for a moment, then the next episode
            hold_until = t + (speed > 30 ? 0.3 : 1.0);
            if (npanes > 1) env_reset(&base);
            for (int i = 0; i < npanes; i++) {
                if (npanes > 1) panes[i].env = base; // (one pane: its env began the next episode itself)
                pane_begin(&panes[i], greedy, obs);
            }
        }
        DrawFrame f[WATCH_MAX_PANES];
        char status_line[200];
        for (int i = 0; i < npanes; i++) pane_frame(&panes[i], &f[i], t < hold_until || panes[i].over, npanes);
        snprintf(status_line, sizeof status_line, "%s  %g steps/s  %s%s%s", paused ? "PAUSED" : "RUNNING", speed,
                 greedy ? "greedy" : "sampled", npanes == 1 ? " actions" : "",
                 !panes[0].is_run ? "" : npanes == 1 ? "  following the run" : "  following");
        if (window_show_panes(&v, f, npanes, status_line, &msg, WATCH_KEYS, NULL)) quit = 1;
    }
    for (int i = 0; i < npanes; i++) pane_free(&panes[i]);
    if (window_close(&v)) status = 1;
    return status;
}
