// play.c — `cpcrl play`: a person plays a task with the arrow keys; episodes
// are saved as replays (see cmd.h).
#include "replays/cmd.h"

#include <errno.h>
#include <string.h>

#include "base/file.h"
#include "replays/window.h"

// OUT/play-<task>-s<seed>-e<episode>.rpl: the finished episode, or a finished
// copy of the one in progress.
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
    if (np != 1) return window_usage("play", "expected a task (" ENV_TASK_VALID ")");
    EnvConfig ec = {0};
    ec.task = env_task_from_name(pos[0]);
    if (ec.task < 0) {
        snprintf(err, sizeof err, "unknown task '%s' (valid: " ENV_TASK_VALID ")", pos[0]);
        return window_usage("play", err);
    }
    ec.size = o.size, ec.view = o.view, ec.max_steps = o.max_steps, ec.items = o.items;
    env_config_defaults(&ec);
    if (env_config_check(&ec, err, sizeof err) < 0) return window_usage("play", err);
    if (o.save && file_mkdir_p(o.out) < 0) {
        fprintf(stderr, "cpcrl play: cannot create %s: %s\n", o.out, strerror(errno));
        return 1;
    }
    View v;
    int rc = window_open(&v, &o, "cpcrl play");
    if (rc) return rc;
    Env env, shown;
    uint8_t obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
    memset(&shown, 0, sizeof shown);
    env_init(&env, &ec, o.seed);
    Message msg = {{0}, 0};
    int quit = 0, status = 0, last_action = -1;
    Recording rec = {.cmd = "play", .msg = &msg, .status = &status};
    if (recording_begin(&rec, &env, REPLAY_PERSON, "keyboard", 0) < 0) {
        replay_free(&rec.r);
        window_close(&v);
        return 1;
    }
    float last_reward = 0;
    double hold_until = 0;
    message_set(&msg, 6, "arrow keys move, Space/Enter interacts");
    while (!quit) {
        SDL_Event ev;
        int act = -1;
        while (SDL_PollEvent(&ev)) {
            window_event(&v, &ev, "play", &quit, &status);
            if (ev.type != SDL_KEYDOWN || act >= 0) continue;
            switch (ev.key.keysym.sym) {
            case SDLK_LEFT: act = ENV_LEFT; break;
            case SDLK_RIGHT: act = ENV_RIGHT; break;
            case SDLK_UP: act = ENV_FORWARD; break;
            case SDLK_SPACE:
            case SDLK_RETURN:
            case SDLK_KP_ENTER: act = ENV_INTERACT; break;
            case SDLK_r:
                env_reset(&env);
                recording_begin(&rec, &env, REPLAY_PERSON, "keyboard", 0);
                last_reward = 0, last_action = -1, hold_until = 0;
                if (rec.ok) message_set(&msg, 2, "new episode %llu", (unsigned long long)env.episode);
                break;
            case SDLK_s:
                if (rec.r.n > 0) {
                    if (play_save(&rec.r, &env, &o, &msg) < 0) status = 1;
                } else {
                    message_set(&msg, 2, "nothing to save yet");
                }
                break;
            default: window_key(&v, ev.key.keysym.sym, NULL, &msg, &quit); break;
            }
        }
        double t = window_now();
        if (act >= 0 && !quit) {
            hold_until = 0;
            recording_state(&rec, &env);
            uint8_t term, trunc;
            float r = env_step(&env, act, &term, &trunc);
            recording_action(&rec, act, r, 0, NULL, term, trunc, &env);
            last_reward = r, last_action = act;
            if (term || trunc) {
                const Replay *done = &rec.r;
                if (rec.ok) replay_frame_env(done, done->n, &shown);
                else shown = env;
                shown.ep_return = done->ret;
                if (o.save && rec.ok && play_save(done, &env, &o, &msg) < 0) status = 1; // its message stays up
                else if (rec.ok) message_set(&msg, 4, "episode over: return %+.2f in %d steps (%s); a key starts the next",
                                             (double)done->ret, done->n, term ? "terminated" : "time limit");
                hold_until = t + 2.0;
                recording_begin(&rec, &env, REPLAY_PERSON, "keyboard", 0);
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
        f.person = 1;
        f.action = last_action;
        f.last_reward = last_reward;
        f.mode = "PLAY";
        f.label = "you are the white triangle";
        char status_line[160];
        snprintf(status_line, sizeof status_line, "PLAYING  %s%.100s", o.save ? "episodes saved to " : "saving off",
                 o.save ? o.out : "");
        if (window_show(&v, &f, status_line, &msg, PLAY_KEYS, NULL)) quit = 1;
    }
    if (o.save && rec.ok && rec.r.n > 0 && play_save(&rec.r, &env, &o, &msg) < 0) status = 1;
    replay_free(&rec.r);
    if (window_close(&v)) status = 1;
    return status;
}
