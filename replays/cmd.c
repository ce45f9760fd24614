// cmd.c — `cpcrl watch`, `cpcrl play`, `cpcrl replay` and the recorders of
// `eval --record` and `train --record-every` (see cmd.h).
//
// Every window mode is the same loop: poll SDL events (keys, resize, slider
// drags), advance the simulation by wall-clock time at the chosen speed,
// fill a DrawFrame, draw it into the off-screen canvas, present. Each frame
// reuses buffers sized at start-up (and on resize); nothing is allocated
// per frame.
#include "replays/cmd.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/ckpt.h"
#include "agent/config.h"
#include "base/errs.h"
#include "base/file.h"
#include "base/stop.h"
#include "agent/train.h"
#include "env/rng.h"
#include "replays/actor.h"
#include "replays/draw.h"
#include "replays/image.h"
#include "replays/replay.h"
#include "replays/view.h"

// ----------------------------------------------------------------------------
// Flags (agent/config.c's table, parsed by main.c) and keys

typedef ViewOpts Opts;

// At most 16 characters each: they are drawn in two columns.
static const char *const WATCH_KEYS[] = {"Space pause/run", "N/Right 1 step", "Up/Down speed", "G greedy/sample",
                                         "R new episode", "S save replay", "F12 screenshot", "Q/Esc quit"};
static const char *const PLAY_KEYS[] = {"Left/Right turn", "Up forward", "Space interact", "Enter interact",
                                        "R new episode", "S save replay", "F12 screenshot", "Q/Esc save+quit"};
static const char *const REPLAY_KEYS[] = {"Space play/pause", "Left/Right step", "PgUp/PgDn seek", "Home/End jump",
                                          "Up/Down speed", "L loop on/off", "mouse: slider", "Q/Esc quit"};

static void keys_help(FILE *f, const char *const *keys, int n) {
    fprintf(f, "\n  keys in the window:\n");
    for (int i = 0; i < n; i++) fprintf(f, "    %s\n", keys[i]);
}

#define NFL(a) ((int)(sizeof(a) / sizeof(a[0])))

void cmd_print_keys(FILE *f, const char *cmd) {
    if (!strcmp(cmd, "watch")) keys_help(f, WATCH_KEYS, NFL(WATCH_KEYS));
    if (!strcmp(cmd, "play")) keys_help(f, PLAY_KEYS, NFL(PLAY_KEYS));
    if (!strcmp(cmd, "replay")) keys_help(f, REPLAY_KEYS, NFL(REPLAY_KEYS));
}

static int usage_error(const char *cmd, const char *msg) {
    fprintf(stderr, "cpcrl %s: %s\nsee 'cpcrl help %s'\n", cmd, msg, cmd);
    return 2;
}

// ----------------------------------------------------------------------------
// Frames

static void frame_from_env(DrawFrame *f, const Env *e, uint8_t *obs) {
    f->task = e->cfg.task, f->w = e->w, f->h = e->h, f->view = e->cfg.view;
    f->grid = e->grid;
    f->ax = e->ax, f->ay = e->ay, f->dir = e->dir, f->carrying = e->carrying;
    f->tx = e->tx, f->ty = e->ty, f->cue = e->cue;
    env_observe(e, obs);
    f->obs = obs;
    f->step = e->steps, f->max_steps = e->cfg.max_steps;
    f->seed = e->seed, f->episode = e->episode;
}

static void set_keys(DrawFrame *f, const char *const *keys, int n) {
    f->nkeys = n < DRAW_MAX_KEYS ? n : DRAW_MAX_KEYS;
    for (int i = 0; i < f->nkeys; i++) f->keys[i] = keys[i];
}

// Frame t of a replay into f (env and obs are the caller's scratch).
static void frame_from_replay(DrawFrame *f, const Replay *r, int t, Env *e, uint8_t *obs) {
    replay_frame_env(r, t, e);
    frame_from_env(f, e, obs);
    f->has_policy = r->has_policy;
    if (t < r->n) {
        memcpy(f->probs, r->steps[t].probs, sizeof f->probs);
        f->value = r->steps[t].value;
        f->action = r->steps[t].action;
    } else {
        f->has_policy = 0;
        f->action = -1;
    }
    f->last_reward = t > 0 ? r->steps[t - 1].reward : 0.0f;
    f->ret = replay_return_at(r, t);
    f->ended = t == r->n ? r->end : 0;
}

static double now_s(void) { return (double)SDL_GetPerformanceCounter() / (double)SDL_GetPerformanceFrequency(); }

typedef struct {
    char text[256];
    double until;
} Message;

static void message_set(Message *m, double secs, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->text, sizeof m->text, fmt, ap);
    va_end(ap);
    m->until = now_s() + secs;
}
static const char *message_get(const Message *m) { return m->text[0] && now_s() < m->until ? m->text : NULL; }

static void take_screenshot(View *v, Message *msg) {
    char path[64], err[300];
    snprintf(path, sizeof path, "cpcrl-shot-%d.png", ++v->shots);
    if (view_save_png(v, path, err, sizeof err) < 0) message_set(msg, 4, "%s", err);
    else message_set(msg, 3, "saved %s", path);
}

static int open_view(View *v, const Opts *o, const char *title) {
    char err[400];
    memset(v, 0, sizeof *v);
    if (view_set_script(v, o->keys, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl: %s\n", err);
        return 2;
    }
    v->auto_quit = o->auto_quit;
    snprintf(v->screenshot, sizeof v->screenshot, "%s", o->screenshot);
    if (view_open(v, title, o->win_w, o->win_h, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl: %s\n", err);
        return 1;
    }
    return 0;
}

static int close_view(View *v) {
    char err[400];
    if (view_close(v, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl: screenshot: %s\n", err);
        return 1;
    }
    return 0;
}

// ----------------------------------------------------------------------------
// watch

static int file_stamp(const char *path, char *out, size_t n) {
    struct stat st;
    if (stat(path, &st) < 0) return -1;
    snprintf(out, n, "%lld.%ld/%lld/%llu", (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec,
             (long long)st.st_size, (unsigned long long)st.st_ino);
    return 0;
}

int cmd_watch(const ViewOpts *opts, char **pos, int np) {
    const Opts o = *opts;
    char err[600];
    if (np != 1) return usage_error("watch", "expected a checkpoint file or a run directory");
    char ckpath[1100], stamp[128] = "", st2[128];
    ckpt_path_for(pos[0], ckpath, sizeof ckpath);
    struct stat sb;
    int is_run = stat(pos[0], &sb) == 0 && S_ISDIR(sb.st_mode);
    if (is_run && access(ckpath, F_OK) != 0) {
        fprintf(stderr, "cpcrl watch: waiting for %s to appear (Ctrl+C to stop)\n", ckpath);
        while (access(ckpath, F_OK) != 0) usleep(500000);
    }
    Actor ac;
    if (actor_load(&ac, pos[0], o.seed, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl watch: %s\n", err);
        return 1;
    }
    file_stamp(ckpath, stamp, sizeof stamp);
    EnvConfig ec;
    config_env(&ac.cfg, &ec);
    if (env_config_check(&ec, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl watch: %s: %s\n", ckpath, err);
        actor_free(&ac);
        return 1;
    }
    if (o.record[0] && file_mkdir_p(o.record) < 0) {
        fprintf(stderr, "cpcrl watch: cannot create %s: %s\n", o.record, strerror(errno));
        actor_free(&ac);
        return 1;
    }
    View v;
    int rc = open_view(&v, &o, "cpcrl watch");
    if (rc) {
        actor_free(&ac);
        return rc;
    }
    static Env env, shown;
    static uint8_t obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
    env_init(&env, &ec, o.seed);
    int greedy = o.greedy, paused = o.paused;
    double speed = o.speed;
    Replay rec, snap;
    char label[64];
    snprintf(label, sizeof label, "watch %.40s", ac.cfg.name);
    Message msg = {{0}, 0};
    float last_reward = 0;
    int status = 0;
    if (replay_begin(&rec, &env, greedy ? REPLAY_AGENT_GREEDY : REPLAY_AGENT_SAMPLED, label, ac.train_frames, err,
                     sizeof err) < 0 ||
        replay_push_state(&rec, &env, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl watch: %s\n", err);
        close_view(&v);
        actor_free(&ac);
        return 1;
    }
    actor_decide(&ac, (env_observe(&env, obs), obs), greedy);
    double t_last = now_s(), acc = 0, next_check = t_last + o.reload_every, hold_until = 0;
    int quit = 0, step_once = 0;
    while (!quit) {
        SDL_Event ev;
        while (SDL_PollEvent(&ev)) {
            if (ev.type == SDL_QUIT) quit = 1;
            if (ev.type == SDL_WINDOWEVENT && ev.window.event == SDL_WINDOWEVENT_SIZE_CHANGED &&
                view_sync_size(&v, err, sizeof err) < 0) {
                fprintf(stderr, "cpcrl watch: %s\n", err);
                quit = 1, status = 1;
            }
            if (ev.type != SDL_KEYDOWN) continue;
            switch (ev.key.keysym.sym) {
            case SDLK_q:
            case SDLK_ESCAPE: quit = 1; break;
            case SDLK_SPACE: paused = !paused; break;
            case SDLK_n:
            case SDLK_RIGHT: paused = 1, step_once = 1; break;
            case SDLK_UP:
            case SDLK_PLUS:
            case SDLK_EQUALS: speed = speed * 2 > 960 ? 960 : speed * 2; break;
            case SDLK_DOWN:
            case SDLK_MINUS: speed = speed / 2 < 0.25 ? 0.25 : speed / 2; break;
            case SDLK_g:
                greedy = !greedy;
                actor_repick(&ac, greedy);
                message_set(&msg, 2, "%s actions", greedy ? "greedy (argmax)" : "sampled");
                break;
            case SDLK_r:
                env_reset(&env);
                actor_reset(&ac);
                replay_free(&rec);
                replay_begin(&rec, &env, greedy ? REPLAY_AGENT_GREEDY : REPLAY_AGENT_SAMPLED, label, ac.train_frames,
                             err, sizeof err);
                replay_push_state(&rec, &env, err, sizeof err);
                actor_decide(&ac, (env_observe(&env, obs), obs), greedy);
                last_reward = 0, hold_until = 0;
                message_set(&msg, 2, "new episode %llu", (unsigned long long)env.episode);
                break;
            case SDLK_s: {
                char path[1200];
                snprintf(path, sizeof path, "%s/watch-%s-s%llu-e%llu.rpl", o.record[0] ? o.record : ".",
                         ENV_TASK_NAMES[ec.task], (unsigned long long)o.seed, (unsigned long long)env.episode);
                int saved = replay_snapshot(&rec, &env, &snap, err, sizeof err) == 0;
                if (saved) {
                    saved = replay_save(&snap, path, err, sizeof err) == 0;
                    replay_free(&snap);
                }
                if (saved) {
                    message_set(&msg, 3, "saved %s", path);
                } else { // a lost episode is an error: on stderr and in the exit status too
                    message_set(&msg, 5, "%s", err);
                    fprintf(stderr, "cpcrl watch: %s\n", err);
                    status = 1;
                }
                break;
            }
            case SDLK_F12: take_screenshot(&v, &msg); break;
            default: break;
            }
        }
        double t = now_s(), dt = t - t_last;
        t_last = t;
        // follow the run: the trainer replaces model.ckpt atomically
        if (is_run && t >= next_check) {
            next_check = t + o.reload_every;
            if (file_stamp(ckpath, st2, sizeof st2) == 0 && strcmp(st2, stamp) != 0) {
                snprintf(stamp, sizeof stamp, "%s", st2); // a bad file is reported once, retried when replaced
                if (actor_reload(&ac, pos[0], err, sizeof err) == 0) {
                    message_set(&msg, 3, "reloaded %s (%.0f frames)", ckpath, ac.train_frames);
                    fprintf(stderr, "cpcrl watch: reloaded %s (%.0f frames)\n", ckpath, ac.train_frames);
                    rec.train_frames = ac.train_frames;
                } else {
                    message_set(&msg, 5, "reload failed, keeping the old model: %s", err);
                    fprintf(stderr, "cpcrl watch: reload failed, keeping the old model: %s\n", err);
                }
            }
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
            int a = ac.action;
            uint8_t term, trunc;
            float r = env_step(&env, a, &term, &trunc);
            replay_push_action(&rec, a, r, ac.value, ac.probs, term, trunc, &env, err, sizeof err);
            actor_commit(&ac, a, r, term || trunc);
            last_reward = r;
            if (term || trunc) {
                message_set(&msg, 4, "episode %llu over: return %+.2f in %d steps (%s)",
                            (unsigned long long)rec.episode, (double)rec.ret, rec.n, term ? "terminated" : "time limit");
                if (o.record[0]) {
                    char path[1200];
                    snprintf(path, sizeof path, "%s/watch-%s-s%llu-e%llu.rpl", o.record, ENV_TASK_NAMES[ec.task],
                             (unsigned long long)o.seed, (unsigned long long)rec.episode);
                    if (replay_save(&rec, path, err, sizeof err) < 0) {
                        message_set(&msg, 5, "%s", err);
                        fprintf(stderr, "cpcrl watch: %s\n", err);
                        status = 1;
                    }
                }
                // show the last frame of the finished episode for a moment
                replay_frame_env(&rec, rec.n, &shown);
                shown.ep_return = rec.ret;
                hold_until = t + (speed > 30 ? 0.3 : 1.0);
                replay_free(&rec);
                replay_begin(&rec, &env, greedy ? REPLAY_AGENT_GREEDY : REPLAY_AGENT_SAMPLED, label, ac.train_frames,
                             err, sizeof err);
            }
            if (replay_push_state(&rec, &env, err, sizeof err) < 0) message_set(&msg, 5, "%s", err);
            actor_decide(&ac, (env_observe(&env, obs), obs), greedy);
        }

        DrawFrame f;
        memset(&f, 0, sizeof f);
        char status_line[200], lab[200];
        if (t < hold_until) {
            frame_from_env(&f, &shown, obs); // the finished episode's last frame
            f.ended = 1;
            f.ret = shown.ep_return;
            f.action = -1;
        } else {
            frame_from_env(&f, &env, obs);
            f.has_policy = 1;
            memcpy(f.probs, ac.probs, sizeof f.probs);
            f.value = ac.value;
            f.action = ac.action;
            f.ret = env.ep_return;
        }
        f.last_reward = last_reward;
        f.mode = "WATCH";
        snprintf(lab, sizeof lab, "%s (%.0f frames)", ac.cfg.name[0] ? ac.cfg.name : pos[0], ac.train_frames);
        f.label = lab;
        snprintf(status_line, sizeof status_line, "%s  %g steps/s  %s actions%s", paused ? "PAUSED" : "RUNNING", speed,
                 greedy ? "greedy" : "sampled", is_run ? "  following the run" : "");
        f.status = status_line;
        f.message = message_get(&msg);
        set_keys(&f, WATCH_KEYS, NFL(WATCH_KEYS));
        draw_frame(&v.canvas, &f, NULL);
        if (view_present(&v)) quit = 1;
        SDL_Delay(10);
    }
    replay_free(&rec);
    actor_free(&ac);
    if (close_view(&v)) status = 1;
    return status;
}

// ----------------------------------------------------------------------------
// play

static int play_save(const Replay *r, const Env *now, const Opts *o, Message *msg) {
    char path[1200], err[600];
    snprintf(path, sizeof path, "%s/play-%s-s%llu-e%llu.rpl", o->out, ENV_TASK_NAMES[r->cfg.task],
             (unsigned long long)o->seed, (unsigned long long)r->episode);
    Replay snap;
    int rc;
    if (replay_ended(r)) rc = replay_save(r, path, err, sizeof err);
    else if ((rc = replay_snapshot(r, now, &snap, err, sizeof err)) == 0) {
        rc = replay_save(&snap, path, err, sizeof err);
        replay_free(&snap);
    }
    if (rc < 0) {
        message_set(msg, 5, "%s", err);
        fprintf(stderr, "cpcrl play: %s\n", err);
        return -1;
    }
    message_set(msg, 3, "saved %s", path);
    fprintf(stderr, "cpcrl play: saved %s (%d steps, return %+.2f)\n", path, r->n, (double)r->ret);
    return 0;
}

int cmd_play(const ViewOpts *opts, char **pos, int np) {
    const Opts o = *opts;
    char err[600];
    if (np != 1) return usage_error("play", "expected a task (goal, watermaze, keys_doors, seekavoid, tmaze)");
    EnvConfig ec = {0};
    ec.task = env_task_from_name(pos[0]);
    if (ec.task < 0) {
        snprintf(err, sizeof err, "unknown task '%s' (valid: goal, watermaze, keys_doors, seekavoid, tmaze)", pos[0]);
        return usage_error("play", err);
    }
    ec.size = o.size, ec.view = o.view, ec.max_steps = o.max_steps, ec.items = o.items;
    env_config_defaults(&ec);
    if (env_config_check(&ec, err, sizeof err) < 0) return usage_error("play", err);
    if (o.save && file_mkdir_p(o.out) < 0) {
        fprintf(stderr, "cpcrl play: cannot create %s: %s\n", o.out, strerror(errno));
        return 1;
    }
    View v;
    int rc = open_view(&v, &o, "cpcrl play");
    if (rc) return rc;
    static Env env, shown;
    static uint8_t obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
    env_init(&env, &ec, o.seed);
    Replay rec;
    Message msg = {{0}, 0};
    if (replay_begin(&rec, &env, REPLAY_PERSON, "keyboard", 0, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl play: %s\n", err);
        close_view(&v);
        return 1;
    }
    int quit = 0, status = 0, last_action = -1;
    float last_reward = 0;
    double hold_until = 0;
    message_set(&msg, 6, "arrow keys move, Space/Enter interacts");
    while (!quit) {
        SDL_Event ev;
        int act = -1;
        while (SDL_PollEvent(&ev)) {
            if (ev.type == SDL_QUIT) quit = 1;
            if (ev.type == SDL_WINDOWEVENT && ev.window.event == SDL_WINDOWEVENT_SIZE_CHANGED &&
                view_sync_size(&v, err, sizeof err) < 0) {
                fprintf(stderr, "cpcrl play: %s\n", err);
                quit = 1, status = 1;
            }
            if (ev.type != SDL_KEYDOWN || act >= 0) continue;
            switch (ev.key.keysym.sym) {
            case SDLK_q:
            case SDLK_ESCAPE: quit = 1; break;
            case SDLK_LEFT: act = ENV_LEFT; break;
            case SDLK_RIGHT: act = ENV_RIGHT; break;
            case SDLK_UP: act = ENV_FORWARD; break;
            case SDLK_SPACE:
            case SDLK_RETURN:
            case SDLK_KP_ENTER: act = ENV_INTERACT; break;
            case SDLK_r:
                env_reset(&env);
                replay_free(&rec);
                replay_begin(&rec, &env, REPLAY_PERSON, "keyboard", 0, err, sizeof err);
                last_reward = 0, last_action = -1, hold_until = 0;
                message_set(&msg, 2, "new episode %llu", (unsigned long long)env.episode);
                break;
            case SDLK_s:
                if (rec.n > 0) {
                    if (play_save(&rec, &env, &o, &msg) < 0) status = 1;
                } else {
                    message_set(&msg, 2, "nothing to save yet");
                }
                break;
            case SDLK_F12: take_screenshot(&v, &msg); break;
            default: break;
            }
        }
        double t = now_s();
        if (act >= 0 && !quit) {
            hold_until = 0;
            if (replay_push_state(&rec, &env, err, sizeof err) < 0) message_set(&msg, 5, "%s", err);
            uint8_t term, trunc;
            float r = env_step(&env, act, &term, &trunc);
            replay_push_action(&rec, act, r, 0, NULL, term, trunc, &env, err, sizeof err);
            last_reward = r, last_action = act;
            if (term || trunc) {
                replay_frame_env(&rec, rec.n, &shown);
                shown.ep_return = rec.ret;
                if (o.save && play_save(&rec, &env, &o, &msg) < 0) status = 1; // its message stays up
                else message_set(&msg, 4, "episode over: return %+.2f in %d steps (%s); a key starts the next", (double)rec.ret,
                            rec.n, term ? "terminated" : "time limit");
                hold_until = t + 2.0;
                replay_free(&rec);
                replay_begin(&rec, &env, REPLAY_PERSON, "keyboard", 0, err, sizeof err);
            }
        }
        DrawFrame f;
        memset(&f, 0, sizeof f);
        if (t < hold_until) {
            frame_from_env(&f, &shown, obs);
            f.ended = 1;
            f.ret = shown.ep_return;
        } else {
            frame_from_env(&f, &env, obs);
            f.ret = env.ep_return;
        }
        f.has_policy = 0;
        f.action = last_action;
        f.last_reward = last_reward;
        f.mode = "PLAY";
        f.label = "you are the white triangle";
        char status_line[160];
        snprintf(status_line, sizeof status_line, "PLAYING  %s%.100s", o.save ? "episodes saved to " : "saving off",
                 o.save ? o.out : "");
        f.status = status_line;
        f.message = message_get(&msg);
        set_keys(&f, PLAY_KEYS, NFL(PLAY_KEYS));
        draw_frame(&v.canvas, &f, NULL);
        if (view_present(&v)) quit = 1;
        SDL_Delay(10);
    }
    if (o.save && rec.n > 0 && play_save(&rec, &env, &o, &msg) < 0) status = 1;
    replay_free(&rec);
    if (close_view(&v)) status = 1;
    return status;
}

// ----------------------------------------------------------------------------
// replay

static void replay_info(const Replay *r, const char *path, FILE *out) {
    static const char *SRC[3] = {"a person", "an agent (greedy)", "an agent (sampled)"};
    static const char *END[3] = {"cut short (recording stopped)", "terminated", "time limit"};
    fprintf(out, "%s: cpcrl replay v%d\n", path, REPLAY_VERSION);
    fprintf(out, "  task %s (size %d, view %d, max_steps %d, items %d), map %dx%d\n", ENV_TASK_NAMES[r->cfg.task],
            r->cfg.size, r->cfg.view, r->cfg.max_steps, r->cfg.items, r->w, r->h);
    fprintf(out, "  seed %llu, episode %llu, episode rng %016llx\n", (unsigned long long)r->seed,
            (unsigned long long)r->episode, (unsigned long long)r->episode_rng);
    // the label is free text from the file: control characters (terminal
    // escape sequences) are shown as \xNN, never sent to the terminal
    char label[4 * sizeof r->label + 1];
    size_t k = 0;
    for (size_t i = 0; i < sizeof r->label && r->label[i]; i++) {
        unsigned char ch = (unsigned char)r->label[i];
        if (ch < 0x20 || ch == 0x7f || ch == '\\') k += (size_t)snprintf(label + k, sizeof label - k, "\\x%02x", ch);
        else label[k++] = (char)ch;
    }
    label[k] = 0;
    fprintf(out, "  played by %s%s%s", SRC[r->source], label[0] ? ", " : "", label);
    if (r->has_policy) fprintf(out, ", checkpoint at %.0f frames", r->train_frames);
    fprintf(out, "\n  steps %d, end: %s, return %+.3f, success %s\n", r->n, END[r->end], (double)r->ret,
            r->success ? "yes" : "no");
    int cnt[ENV_A] = {0}, pos = 0, neg = 0;
    double vsum = 0, hsum = 0;
    for (int t = 0; t < r->n; t++) {
        const ReplayStep *s = &r->steps[t];
        cnt[s->action]++;
        pos += s->reward > 0, neg += s->reward < 0;
        vsum += s->value;
        for (int a = 0; a < ENV_A; a++)
            if (s->probs[a] > 0) hsum -= s->probs[a] * log(s->probs[a]);
    }
    fprintf(out, "  actions:");
    for (int a = 0; a < ENV_A; a++) fprintf(out, " %s %d", ENV_ACTION_NAMES[a], cnt[a]);
    fprintf(out, "\n  rewards: %d positive, %d negative\n", pos, neg);
    if (r->has_policy && r->n > 0)
        fprintf(out, "  mean value %+.3f, mean policy entropy %.3f nats (uniform %.3f)\n", vsum / r->n, hsum / r->n,
                log(ENV_A));
    fprintf(out, "  state hashes: %d (every %d steps and after the last)\n", r->nhash, r->hash_every);
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

// The video encoder: ffmpeg started from an argument vector (no shell, so a
// file name reaches it as it is), raw BGRA frames written into its stdin.
// SIGPIPE is ignored while it runs: an encoder that quits early shows up as
// a failed write, and its exit status is what gets reported.
typedef struct {
    pid_t pid;
    FILE *in;
    struct sigaction old_pipe;
} Encoder;

static int encoder_close(Encoder *enc, char *err, size_t n);

static int encoder_open(Encoder *enc, const char *path, int W, int H, double fps, char *err, size_t n) {
    char size[32], rate[32], out[1100];
    snprintf(size, sizeof size, "%dx%d", W, H);
    snprintf(rate, sizeof rate, "%g", fps);
    snprintf(out, sizeof out, "file:%s", path); // never an option or a protocol
    char *argv[] = {"ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgra",
                    "-s", size, "-r", rate, "-i", "pipe:0", "-pix_fmt", "yuv420p", out, NULL};
    int fds[2];
    memset(enc, 0, sizeof *enc);
    if (pipe2(fds, O_CLOEXEC) < 0) return err_fail(err, n, "--export %s: pipe: %s", path, strerror(errno));
    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO);
    if (rc == 0) rc = posix_spawnp(&enc->pid, "ffmpeg", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]);
    if (rc != 0) {
        close(fds[1]);
        enc->pid = 0;
        if (rc == ENOENT)
            return err_fail(err, n, "--export %s: ffmpeg not found; install it (apt-get install ffmpeg) or "
                                    "export a .gif, which needs nothing", path);
        return err_fail(err, n, "--export %s: cannot start ffmpeg: %s", path, strerror(rc));
    }
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &enc->old_pipe);
    if (!(enc->in = fdopen(fds[1], "w"))) {
        close(fds[1]); // the encoder sees end of input and exits
        encoder_close(enc, NULL, 0);
        return err_fail(err, n, "--export %s: out of memory", path);
    }
    return 0;
}

// Close the encoder's input and wait for it. 0 when it exited with status 0.
static int encoder_close(Encoder *enc, char *err, size_t n) {
    int werr = enc->in && fclose(enc->in) != 0, status = 0;
    enc->in = NULL;
    pid_t w;
    while ((w = waitpid(enc->pid, &status, 0)) < 0 && errno == EINTR) {}
    sigaction(SIGPIPE, &enc->old_pipe, NULL);
    enc->pid = 0;
    if (w < 0) return err_fail(err, n, "ffmpeg: waitpid: %s", strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        return err_fail(err, n, "ffmpeg failed (exit status %d)", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return err_fail(err, n, "ffmpeg killed by signal %d", WTERMSIG(status));
    if (werr) return err_fail(err, n, "writing frames to ffmpeg failed");
    return 0;
}

static int replay_export(const Replay *r, const Opts *o) {
    char err[600];
    const int W = o->win_w, H = o->win_h;
    uint32_t *px = malloc((size_t)W * H * sizeof *px);
    if (!px) {
        fprintf(stderr, "cpcrl replay: out of memory for %dx%d frames\n", W, H);
        return 1;
    }
    Canvas c = {px, W, H, W};
    static Env e;
    static uint8_t obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
    char label[128], status_line[128];
    snprintf(label, sizeof label, "%s", r->label);
    int rc = 0;
    GifWriter g;
    Encoder enc;
    memset(&enc, 0, sizeof enc);
    int gif = o->export_path[0] && ends_with(o->export_path, ".gif");
    if (o->export_path[0] && !gif) {
        if (!ends_with(o->export_path, ".mp4") && !ends_with(o->export_path, ".webm") && !ends_with(o->export_path, ".mkv")) {
            free(px);
            fprintf(stderr, "cpcrl replay: --export %s: expected a .gif, .mp4, .webm or .mkv file name\n", o->export_path);
            return 2;
        }
        if (encoder_open(&enc, o->export_path, W, H, o->fps, err, sizeof err) < 0) {
            free(px);
            fprintf(stderr, "cpcrl replay: %s\n", err);
            return 1;
        }
    }
    if (gif && gif_open(&g, o->export_path, W, H, err, sizeof err) < 0) {
        free(px);
        fprintf(stderr, "cpcrl replay: %s\n", err);
        return 1;
    }
    if (o->frames[0] && file_mkdir_p(o->frames) < 0) {
        fprintf(stderr, "cpcrl replay: cannot create %s: %s\n", o->frames, strerror(errno));
        rc = 1;
    }
    int delay = (int)lround(100.0 / o->fps);
    for (int t = 0; t <= r->n && rc == 0; t++) {
        DrawFrame f;
        memset(&f, 0, sizeof f);
        frame_from_replay(&f, r, t, &e, obs);
        f.mode = "REPLAY";
        f.label = label;
        snprintf(status_line, sizeof status_line, "frame %d of %d", t, r->n);
        f.status = status_line;
        f.slider_pos = t, f.slider_len = r->n > 0 ? r->n : 1;
        draw_frame(&c, &f, NULL);
        if (gif && gif_frame(&g, px, W, t == r->n ? delay * 4 + 100 : delay, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl replay: %s\n", err);
            rc = 1;
        }
        if (enc.in) {
            int copies = t == r->n ? (int)o->fps * 2 : 1; // hold the last frame ~2 s
            for (int k = 0; k < copies && rc == 0; k++)
                if (fwrite(px, sizeof *px, (size_t)W * H, enc.in) != (size_t)W * H) rc = -1; // reported below
        }
        if (o->frames[0]) {
            char path[1200];
            snprintf(path, sizeof path, "%s/frame_%05d.png", o->frames, t);
            if (png_write(path, px, W, H, W, err, sizeof err) < 0) {
                fprintf(stderr, "cpcrl replay: %s\n", err);
                rc = 1;
            }
        }
    }
    if (gif) {
        if (rc == 0 && gif_close(&g, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl replay: %s\n", err);
            rc = 1;
        } else if (rc != 0) {
            gif_abort(&g);
        }
    }
    if (enc.pid > 0) { // the encoder's own failure is the one to report
        int wrote = rc != -1;
        if (encoder_close(&enc, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl replay: --export %s: %s\n", o->export_path, err);
            rc = 1;
        } else if (!wrote) {
            fprintf(stderr, "cpcrl replay: writing frames to ffmpeg failed (%s)\n", o->export_path);
            rc = 1;
        }
    }
    if (rc == 0 && o->export_path[0]) fprintf(stderr, "cpcrl replay: wrote %s (%d frames, %dx%d)\n", o->export_path, r->n + 1, W, H);
    if (rc == 0 && o->frames[0]) fprintf(stderr, "cpcrl replay: wrote %d PNG frames to %s\n", r->n + 1, o->frames);
    free(px);
    return rc;
}

int cmd_replay(const ViewOpts *opts, char **pos, int np) {
    const Opts o = *opts;
    char err[600];
    if (np != 1) return usage_error("replay", "expected one replay file (.rpl)");
    Replay r;
    if (replay_load(&r, pos[0], err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl replay: %s\n", err);
        return 1;
    }
    int headless = o.info || o.verify || o.export_path[0] || o.frames[0];
    int status = 0;
    if (o.info) replay_info(&r, pos[0], stdout);
    if (o.verify) {
        if (replay_verify(&r, err, sizeof err) < 0) {
            fprintf(stderr, "cpcrl replay: %s: verify FAILED: %s\n", pos[0], err);
            status = 1;
        } else {
            printf("%s: verified: %d steps re-simulated from seed %llu, %d state hashes match\n", pos[0], r.n,
                   (unsigned long long)r.seed, r.nhash);
        }
    }
    if (status == 0 && (o.export_path[0] || o.frames[0])) status = replay_export(&r, &o);
    if (headless) {
        replay_free(&r);
        return status;
    }

    View v;
    int rc = open_view(&v, &o, "cpcrl replay");
    if (rc) {
        replay_free(&r);
        return rc;
    }
    static Env e;
    static uint8_t obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
    int t = o.start > r.n ? r.n : (int)o.start, playing = !o.paused, loop = o.loop, quit = 0, drag = 0;
    double speed = o.speed, acc = 0, t_last = now_s();
    DrawLayout lay;
    memset(&lay, 0, sizeof lay);
    Message msg = {{0}, 0};
    char label[128];
    const char *base = strrchr(pos[0], '/');
    snprintf(label, sizeof label, "%.60s  %.60s", base ? base + 1 : pos[0], r.label);
    const int step10 = r.n / 10 > 1 ? r.n / 10 : 1;
    while (!quit) {
        SDL_Event ev;
        while (SDL_PollEvent(&ev)) {
            if (ev.type == SDL_QUIT) quit = 1;
            if (ev.type == SDL_WINDOWEVENT && ev.window.event == SDL_WINDOWEVENT_SIZE_CHANGED &&
                view_sync_size(&v, err, sizeof err) < 0) {
                fprintf(stderr, "cpcrl replay: %s\n", err);
                quit = 1, status = 1;
            }
            int mx = -1;
            if (ev.type == SDL_MOUSEBUTTONDOWN && ev.button.button == SDL_BUTTON_LEFT && lay.slider_w > 0 &&
                ev.button.y >= lay.slider_y - lay.slider_h && ev.button.y <= lay.slider_y + 2 * lay.slider_h)
                drag = 1, mx = ev.button.x;
            if (ev.type == SDL_MOUSEBUTTONUP) drag = 0;
            if (ev.type == SDL_MOUSEMOTION && drag) mx = ev.motion.x;
            if (mx >= 0) {
                long p = lround((double)(mx - lay.slider_x) * r.n / (lay.slider_w > 0 ? lay.slider_w : 1));
                t = p < 0 ? 0 : p > r.n ? r.n : (int)p;
                playing = 0;
            }
            if (ev.type != SDL_KEYDOWN) continue;
            switch (ev.key.keysym.sym) {
            case SDLK_q:
            case SDLK_ESCAPE: quit = 1; break;
            case SDLK_SPACE:
                playing = !playing;
                if (playing && t >= r.n) t = 0;
                break;
            case SDLK_RIGHT:
            case SDLK_PERIOD: playing = 0, t = t < r.n ? t + 1 : r.n; break;
            case SDLK_LEFT:
            case SDLK_COMMA: playing = 0, t = t > 0 ? t - 1 : 0; break;
            case SDLK_PAGEUP: t = t - step10 > 0 ? t - step10 : 0; break;
            case SDLK_PAGEDOWN: t = t + step10 < r.n ? t + step10 : r.n; break;
            case SDLK_HOME: t = 0; break;
            case SDLK_END: t = r.n; break;
            case SDLK_UP:
            case SDLK_PLUS:
            case SDLK_EQUALS: speed = speed * 2 > 960 ? 960 : speed * 2; break;
            case SDLK_DOWN:
            case SDLK_MINUS: speed = speed / 2 < 0.25 ? 0.25 : speed / 2; break;
            case SDLK_l:
                loop = !loop;
                message_set(&msg, 2, "loop %s", loop ? "on" : "off");
                break;
            case SDLK_F12: take_screenshot(&v, &msg); break;
            default: break;
            }
        }
        double tn = now_s(), dt = tn - t_last;
        t_last = tn;
        if (playing) {
            acc += dt * speed;
            while (acc >= 1) {
                acc -= 1;
                if (t < r.n) t++;
                else if (loop) t = 0;
                else playing = 0, acc = 0;
            }
        } else {
            acc = 0;
        }
        DrawFrame f;
        memset(&f, 0, sizeof f);
        frame_from_replay(&f, &r, t, &e, obs);
        f.mode = "REPLAY";
        f.label = label;
        char status_line[160];
        snprintf(status_line, sizeof status_line, "%s  %g steps/s  loop %s  frame %d of %d", playing ? "PLAYING" : "PAUSED",
                 speed, loop ? "on" : "off", t, r.n);
        f.status = status_line;
        f.message = message_get(&msg);
        f.slider_pos = t, f.slider_len = r.n > 0 ? r.n : 1;
        set_keys(&f, REPLAY_KEYS, NFL(REPLAY_KEYS));
        draw_frame(&v.canvas, &f, &lay);
        if (view_present(&v)) quit = 1;
        SDL_Delay(10);
    }
    replay_free(&r);
    if (close_view(&v)) status = 1;
    return status;
}

// ----------------------------------------------------------------------------
// Recording for eval and train

// Play one episode of `env` (at an episode start) with the actor into r.
static int record_episode(Actor *ac, Env *env, int greedy, const char *label, Replay *r, char *err, size_t errlen) {
    static uint8_t obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
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
    if (file_mkdir_p(dir) < 0) {
        err_fail(err, errlen, "cannot create %s: %s", dir, strerror(errno));
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
    static Env env;
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
    hook->after_update = train_recorder_hook, hook->ctx = rec;
}
