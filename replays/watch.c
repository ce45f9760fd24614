// watch.c — `cpcrl watch`: a checkpoint (or a training run, reloaded whenever
// the trainer replaces model.ckpt) acting live in a window (see cmd.h).
#include "replays/cmd.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/train.h"
#include "base/file.h"
#include "replays/actor.h"
#include "replays/window.h"

// The file's identity (mtime, size, inode): a change means a new checkpoint.
static int file_stamp(const char *path, char *out, size_t n) {
    struct stat st;
    if (stat(path, &st) < 0) return -1;
    snprintf(out, n, "%lld.%ld/%lld/%llu", (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec,
             (long long)st.st_size, (unsigned long long)st.st_ino);
    return 0;
}

// WATCH_DIR/watch-<task>-s<seed>-e<episode>.rpl
static void watch_path(char *path, size_t n, const Opts *o, int task, uint64_t episode) {
    snprintf(path, n, "%s/watch-%s-s%llu-e%llu.rpl", o->record[0] ? o->record : ".", ENV_TASK_NAMES[task],
             (unsigned long long)o->seed, (unsigned long long)episode);
}

int cmd_watch(const ViewOpts *opts, char **pos, int np) {
    const Opts o = *opts;
    char err[600];
    if (np != 1) return window_usage("watch", "expected a checkpoint file or a run directory");
    char ckpath[1100], stamp[128] = "", st2[128];
    ckpt_path_for(pos[0], ckpath, sizeof ckpath);
    struct stat sb;
    int is_run = stat(pos[0], &sb) == 0 && S_ISDIR(sb.st_mode);
    if (is_run && !file_exists(ckpath)) {
        fprintf(stderr, "cpcrl watch: waiting for %s to appear (Ctrl+C to stop)\n", ckpath);
        while (!file_exists(ckpath)) usleep(500000);
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
    int rc = window_open(&v, &o, "cpcrl watch");
    if (rc) {
        actor_free(&ac);
        return rc;
    }
    Env env, shown;
    uint8_t obs[ENV_C * ENV_MAX_VIEW * ENV_MAX_VIEW];
    memset(&shown, 0, sizeof shown);
    env_init(&env, &ec, o.seed);
    int greedy = o.greedy, paused = o.paused;
    double speed = o.speed;
    Replay snap;
    char label[64];
    snprintf(label, sizeof label, "watch %.40s", ac.cfg.name);
    Message msg = {{0}, 0};
    float last_reward = 0;
    int status = 0;
    Recording rec = {.cmd = "watch", .msg = &msg, .status = &status};
    if (recording_begin(&rec, &env, greedy ? REPLAY_AGENT_GREEDY : REPLAY_AGENT_SAMPLED, label, ac.train_frames) < 0 ||
        (recording_state(&rec, &env), !rec.ok)) {
        replay_free(&rec.r);
        window_close(&v);
        actor_free(&ac);
        return 1;
    }
    actor_decide(&ac, (env_observe(&env, obs), obs), greedy);
    double t_last = window_now(), acc = 0, next_check = t_last + o.reload_every, hold_until = 0;
    int quit = 0, step_once = 0;
    while (!quit) {
        SDL_Event ev;
        while (SDL_PollEvent(&ev)) {
            window_event(&v, &ev, "watch", &quit, &status);
            if (ev.type != SDL_KEYDOWN) continue;
            switch (ev.key.keysym.sym) {
            case SDLK_SPACE: paused = !paused; break;
            case SDLK_n:
            case SDLK_RIGHT: paused = 1, step_once = 1; break;
            case SDLK_g:
                greedy = !greedy;
                actor_repick(&ac, greedy);
                message_set(&msg, 2, "%s actions", greedy ? "greedy (argmax)" : "sampled");
                break;
            case SDLK_r:
                env_reset(&env);
                actor_reset(&ac);
                if (recording_begin(&rec, &env, greedy ? REPLAY_AGENT_GREEDY : REPLAY_AGENT_SAMPLED, label,
                                    ac.train_frames) == 0)
                    recording_state(&rec, &env);
                actor_decide(&ac, (env_observe(&env, obs), obs), greedy);
                last_reward = 0, hold_until = 0;
                if (rec.ok) message_set(&msg, 2, "new episode %llu", (unsigned long long)env.episode);
                break;
            case SDLK_s: {
                char path[1200];
                watch_path(path, sizeof path, &o, ec.task, env.episode);
                int saved = replay_snapshot(&rec.r, &env, &snap, err, sizeof err) == 0;
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
            default: window_key(&v, ev.key.keysym.sym, &speed, &msg, &quit); break;
            }
        }
        double t = window_now(), dt = t - t_last;
        t_last = t;
        // follow the run: the trainer replaces model.ckpt atomically
        if (is_run && t >= next_check) {
            next_check = t + o.reload_every;
            if (file_stamp(ckpath, st2, sizeof st2) == 0 && strcmp(st2, stamp) != 0) {
                snprintf(stamp, sizeof stamp, "%s", st2); // a bad file is reported once, retried when replaced
                if (actor_reload(&ac, pos[0], err, sizeof err) == 0) {
                    message_set(&msg, 3, "reloaded %s (%.0f frames)", ckpath, ac.train_frames);
                    fprintf(stderr, "cpcrl watch: reloaded %s (%.0f frames)\n", ckpath, ac.train_frames);
                    rec.r.train_frames = ac.train_frames;
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
            recording_action(&rec, a, r, ac.value, ac.probs, term, trunc, &env);
            actor_commit(&ac, a, r, term || trunc);
            last_reward = r;
            if (term || trunc) {
                const Replay *done = &rec.r;
                message_set(&msg, 4, "episode %llu over: return %+.2f in %d steps (%s)",
                            (unsigned long long)done->episode, (double)done->ret, done->n,
                            term ? "terminated" : "time limit");
                if (o.record[0] && rec.ok) {
                    char path[1200];
                    watch_path(path, sizeof path, &o, ec.task, done->episode);
                    if (replay_save(done, path, err, sizeof err) < 0) {
                        message_set(&msg, 5, "%s", err);
                        fprintf(stderr, "cpcrl watch: %s\n", err);
                        status = 1;
                    }
                }
                // show the last frame of the finished episode for a moment
                if (rec.ok) replay_frame_env(done, done->n, &shown);
                else shown = env;
                shown.ep_return = done->ret;
                hold_until = t + (speed > 30 ? 0.3 : 1.0);
                recording_begin(&rec, &env, greedy ? REPLAY_AGENT_GREEDY : REPLAY_AGENT_SAMPLED, label,
                                ac.train_frames);
            }
            recording_state(&rec, &env);
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
        if (window_show(&v, &f, status_line, &msg, WATCH_KEYS, NULL)) quit = 1;
    }
    replay_free(&rec.r);
    actor_free(&ac);
    if (window_close(&v)) status = 1;
    return status;
}
