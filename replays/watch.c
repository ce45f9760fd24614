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

// ----------------------------------------------------------------------------
// The session

// A watch session: the panes, the episode they share and the window's state.
typedef struct {
    Opts o;
    Pane panes[WATCH_MAX_PANES];
    int npanes;
    Env base; // side by side, both panes start every episode from one copy of it
    uint8_t obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
    int greedy, paused, step_once, quit, status;
    double speed, acc, hold_until;
    Message msg;
} Watch;

static void watch_free(Watch *w, int npanes) {
    for (int i = 0; i < npanes; i++) pane_free(&w->panes[i]);
}

// Load the panes of the checkpoints pos[] and check that they can be shown:
// their env (*ec) valid and, side by side, the same; the recording directory
// made. 0, or the exit code (the panes freed).
static int watch_load(Watch *w, char **pos, EnvConfig *ec) {
    char err[600];
    int loaded = 0, rc = 0;
    for (int i = 0; i < w->npanes && rc == 0; i++)
        if ((rc = pane_load(&w->panes[i], pos[i], &w->o)) == 0) loaded++;
    const Pane *p0 = &w->panes[0], *p1 = &w->panes[1];
    if (rc == 0) {
        config_env(&p0->ac.cfg, ec);
        if (env_config_check(ec, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl watch: %s: %s\n", p0->ckpath, err);
            rc = 1;
        }
    }
    if (rc == 0 && w->npanes == 2) { // the same episodes: the same env settings
        EnvConfig e2;
        config_env(&p1->ac.cfg, &e2);
        env_config_defaults(ec), env_config_defaults(&e2);
        if (memcmp(ec, &e2, sizeof *ec) != 0) {
            fprintf(stderr, "cpcrl watch: %s and %s act in different envs (task %s size %d view %d max_steps %d "
                            "items %d, and task %s size %d view %d max_steps %d items %d): side by side needs the "
                            "same\n", p0->ckpath, p1->ckpath, ENV_TASK_NAMES[ec->task], ec->size, ec->view,
                    ec->max_steps, ec->items, ENV_TASK_NAMES[e2.task], e2.size, e2.view, e2.max_steps, e2.items);
            rc = 1;
        }
    }
    if (rc == 0 && w->o.record[0] && file_mkdir_p(w->o.record) < 0) {
        fprintf(stderr, "cpcrl watch: cannot create %s: %s\n", w->o.record, strerror(errno));
        rc = 1;
    }
    if (rc) watch_free(w, loaded);
    return rc;
}

// Every pane on the first episode of env config ec: 0, or -1 when a
// recording could not start (reported).
static int watch_start(Watch *w, const EnvConfig *ec) {
    w->greedy = w->o.greedy, w->paused = w->o.paused, w->speed = w->o.speed;
    env_init(&w->base, ec, w->o.seed);
    for (int i = 0; i < w->npanes; i++) {
        Pane *p = &w->panes[i];
        char name[sizeof p->ac.cfg.name]; // a copy: the label goes into the same struct
        snprintf(name, sizeof name, "%s", p->ac.cfg.name);
        snprintf(p->label, sizeof p->label, "watch %.40s", name);
        p->rec = (Recording){.cmd = "watch", .msg = &w->msg, .status = &w->status};
        p->env = w->base;
        pane_begin(p, w->greedy, w->obs);
        if (!p->rec.ok) w->status = 1;
    }
    return w->status ? -1 : 0;
}

// S: each pane's episode so far (or, waiting for the other pane, its finished one).
static void watch_save(Watch *w) {
    char err[600];
    for (int i = 0; i < w->npanes; i++) {
        Pane *p = &w->panes[i];
        Replay snap;
        if (replay_ended(&p->rec.r)) { // a pane waiting for the other: its finished episode
            pane_save(p, &p->rec.r, &w->o, i, w->npanes, &w->msg, &w->status);
            continue;
        }
        if (replay_snapshot(&p->rec.r, &p->env, &snap, err, sizeof err) < 0) {
            message_set(&w->msg, 5, "%s", err);
            fprintf(stderr, "cpcrl watch: %s\n", err);
            w->status = 1;
            continue;
        }
        pane_save(p, &snap, &w->o, i, w->npanes, &w->msg, &w->status);
        replay_free(&snap);
    }
}

// The events since the last frame. Returns 1 when R asked for a new episode.
static int watch_events(Watch *w, View *v) {
    SDL_Event ev;
    int restart = 0;
    while (SDL_PollEvent(&ev)) {
        window_event(v, &ev, "watch", &w->quit, &w->status);
        if (ev.type != SDL_KEYDOWN) continue;
        const SDL_Keycode sym = ev.key.keysym.sym;
        int ov_key = 0;
        for (int i = 0; i < w->npanes; i++) ov_key |= overlay_key(&w->panes[i].ov, sym, &w->msg);
        if (ov_key) continue;
        switch (sym) {
        case SDLK_SPACE: w->paused = !w->paused; break;
        case SDLK_n:
        case SDLK_RIGHT: w->paused = 1, w->step_once = 1; break;
        case SDLK_g:
            w->greedy = !w->greedy;
            for (int i = 0; i < w->npanes; i++) actor_repick(&w->panes[i].ac, w->greedy);
            message_set(&w->msg, 2, "%s actions", w->greedy ? "greedy (argmax)" : "sampled");
            break;
        case SDLK_r: restart = 1; break;
        case SDLK_s: watch_save(w); break;
        default: window_key(v, sym, &w->speed, &w->msg, &w->quit); break;
        }
    }
    return restart;
}

// Every pane on the next episode: the one its env began itself (one pane)
// or a copy of the next episode of base (side by side).
static void watch_next_episode(Watch *w) {
    if (w->npanes > 1) env_reset(&w->base);
    for (int i = 0; i < w->npanes; i++) {
        if (w->npanes > 1) w->panes[i].env = w->base;
        pane_begin(&w->panes[i], w->greedy, w->obs);
    }
}

// The steps due by wall-clock time t (dt since the last frame); when every
// pane's episode is over, their last frames stay for a moment, then the
// next episode.
static void watch_advance(Watch *w, double t, double dt) {
    int steps = 0;
    if (t >= w->hold_until) {
        if (!w->paused) {
            w->acc += dt * w->speed;
            steps = (int)w->acc;
            w->acc -= steps;
            if (steps > 64) steps = 64, w->acc = 0;
        } else if (w->step_once) {
            steps = 1;
        }
    }
    w->step_once = 0;
    for (int k = 0; k < steps && t >= w->hold_until; k++) {
        int over = 0;
        for (int i = 0; i < w->npanes; i++) {
            Pane *p = &w->panes[i];
            if (!p->over) pane_step(p, w->greedy, &w->o, i, w->npanes, &w->msg, &w->status, w->obs);
            over += p->over != 0;
        }
        if (over < w->npanes) continue;
        w->hold_until = t + (w->speed > 30 ? 0.3 : 1.0);
        watch_next_episode(w);
    }
}

// Draw and present the panes at time t: non-zero to quit.
static int watch_show(Watch *w, View *v, double t) {
    DrawFrame f[WATCH_MAX_PANES];
    char status_line[200];
    const int n = w->npanes;
    for (int i = 0; i < n; i++) pane_frame(&w->panes[i], &f[i], t < w->hold_until || w->panes[i].over, n);
    snprintf(status_line, sizeof status_line, "%s  %g steps/s  %s%s%s", w->paused ? "PAUSED" : "RUNNING", w->speed,
             w->greedy ? "greedy" : "sampled", n == 1 ? " actions" : "",
             !w->panes[0].is_run ? "" : n == 1 ? "  following the run" : "  following");
    return window_show_panes(v, f, n, status_line, &w->msg, WATCH_KEYS, NULL);
}

int cmd_watch(const ViewOpts *opts, char **pos, int np) {
    if (np != 1 && np != 2)
        return window_usage("watch", "expected a checkpoint file or a run directory (or two, side by side)");
    if (np == 2 && opts->readout[0])
        return window_usage("watch", "--readout: with two checkpoints each pane's read-outs are the readout.bin "
                                     "beside its checkpoint");
    static Watch w; // (large: two actors and their envs)
    memset(&w, 0, sizeof w);
    w.o = *opts, w.npanes = np;
    EnvConfig ec;
    int rc = watch_load(&w, pos, &ec);
    if (rc) return rc;
    if (w.npanes == 2 && w.o.win_w == 1280 && w.o.win_h == 720) w.o.win_w = 1800; // two panes at the default size
    View v;
    if ((rc = window_open(&v, &w.o, w.npanes == 2 ? "cpcrl watch (side by side)" : "cpcrl watch"))) {
        watch_free(&w, w.npanes);
        return rc;
    }
    if (watch_start(&w, &ec) < 0) {
        watch_free(&w, w.npanes);
        window_close(&v);
        return 1;
    }
    double t_last = window_now(), next_check = t_last + w.o.reload_every;
    while (!w.quit) {
        const int restart = watch_events(&w, &v);
        double t = window_now(), dt = t - t_last;
        t_last = t;
        if (t >= next_check) {
            next_check = t + w.o.reload_every;
            for (int i = 0; i < w.npanes; i++) pane_follow(&w.panes[i], &w.msg);
        }
        if (restart) { // R: a new episode (for both panes the same)
            if (w.npanes == 1) env_reset(&w.panes[0].env);
            watch_next_episode(&w);
            w.hold_until = 0;
            if (w.panes[0].rec.ok)
                message_set(&w.msg, 2, "new episode %llu", (unsigned long long)w.panes[0].env.episode);
        }
        watch_advance(&w, t, dt);
        if (watch_show(&w, &v, t)) w.quit = 1;
    }
    watch_free(&w, w.npanes);
    if (window_close(&v)) w.status = 1;
    return w.status;
}
