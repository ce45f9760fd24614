// window.c — what the window commands share (see window.h).
#include "replays/window.h"

#include <stdarg.h>
#include <string.h>

#include "replays/cmd.h"

const char *const WATCH_KEYS[WINDOW_NKEYS] = {"Space pause/run", "N/Right 1 step", "Up/Down speed", "G greedy/sample",
                                              "R new episode", "S save replay", "B/T belief layer", "F12 screenshot",
                                              "Q/Esc quit"};
const char *const PLAY_KEYS[WINDOW_NKEYS] = {"Left/Right turn", "Up forward", "Space interact", "Enter interact",
                                             "R new episode", "S save replay", "F12 screenshot", "Q/Esc save+quit",
                                             NULL};
const char *const REPLAY_KEYS[WINDOW_NKEYS] = {"Space play/pause", "Left/Right step", "PgUp/PgDn seek",
                                               "Home/End jump", "Up/Down speed", "L loop on/off", "B/T belief layer",
                                               "mouse: slider", "Q/Esc quit"};

static void keys_help(FILE *f, const char *const *keys) {
    fprintf(f, "\n  keys in the window:\n");
    for (int i = 0; i < WINDOW_NKEYS; i++)
        if (keys[i]) fprintf(f, "    %s\n", keys[i]);
}

void cmd_print_keys(FILE *f, const char *cmd) {
    if (!strcmp(cmd, "watch")) keys_help(f, WATCH_KEYS);
    if (!strcmp(cmd, "play")) keys_help(f, PLAY_KEYS);
    if (!strcmp(cmd, "replay")) keys_help(f, REPLAY_KEYS);
}

int window_usage(const char *cmd, const char *msg) {
    fprintf(stderr, "cpcrl %s: %s\nsee 'cpcrl help %s'\n", cmd, msg, cmd);
    return 2;
}

// ----------------------------------------------------------------------------
// Frames

void frame_from_env(DrawFrame *f, const Env *e, uint8_t *obs) {
    f->task = e->cfg.task, f->w = e->w, f->h = e->h, f->view = e->cfg.view;
    f->grid = e->grid;
    f->ax = e->ax, f->ay = e->ay, f->dir = e->dir, f->carrying = e->carrying;
    f->tx = e->tx, f->ty = e->ty, f->cue = e->cue;
    env_observe(e, obs);
    f->obs = obs;
    f->step = e->steps, f->max_steps = e->cfg.max_steps;
    f->seed = e->seed, f->episode = e->episode;
}

static void frame_set_keys(DrawFrame *f, const char *const *keys, int n) {
    f->nkeys = n < DRAW_MAX_KEYS ? n : DRAW_MAX_KEYS;
    for (int i = 0; i < f->nkeys; i++) f->keys[i] = keys[i];
}

void frame_from_replay(DrawFrame *f, const Replay *r, int t, Env *e, uint8_t *obs) {
    replay_frame_env(r, t, e);
    frame_from_env(f, e, obs);
    f->has_policy = r->has_policy;
    f->person = r->source == REPLAY_PERSON ? 2 : 0;
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


// ----------------------------------------------------------------------------
// Messages

double window_now(void) { return (double)SDL_GetPerformanceCounter() / (double)SDL_GetPerformanceFrequency(); }

void message_set(Message *m, double secs, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->text, sizeof m->text, fmt, ap);
    va_end(ap);
    m->until = window_now() + secs;
}

const char *message_get(const Message *m) { return m->text[0] && window_now() < m->until ? m->text : NULL; }

// ----------------------------------------------------------------------------
// The view, its events and shared keys

static void take_screenshot(View *v, Message *msg) {
    char path[64], err[300];
    snprintf(path, sizeof path, "cpcrl-shot-%d.png", ++v->shots);
    if (view_save_png(v, path, err, sizeof err) < 0) message_set(msg, 4, "%s", err);
    else message_set(msg, 3, "saved %s", path);
}


int window_open(View *v, const Opts *o, const char *title) {
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


int window_close(View *v) {
    char err[400];
    if (view_close(v, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl: screenshot: %s\n", err);
        return 1;
    }
    return 0;
}


int window_show(View *v, DrawFrame *f, const char *status, const Message *msg, const char *const *keys,
                DrawLayout *lay) {
    f->status = status;
    f->message = message_get(msg);
    frame_set_keys(f, keys, WINDOW_NKEYS);
    draw_frame(&v->canvas, f, lay);
    int quit = view_present(v);
    SDL_Delay(10);
    return quit;
}

void window_draw_panes(Canvas *c, DrawFrame *f, int n, DrawLayout *lay) {
    for (int i = 0; i < n; i++) {
        const int x0 = c->w * i / n, x1 = c->w * (i + 1) / n;
        Canvas sub = {c->px + x0, x1 - x0, c->h, c->stride};
        DrawLayout L;
        draw_frame(&sub, &f[i], &L);
        if (i == 0 && lay) *lay = L;
    }
    for (int i = 1; i < n; i++) draw_fill(c, c->w * i / n, 0, 1, c->h, DRAW_RGB(0, 0, 0)); // a rule between
}

int window_show_panes(View *v, DrawFrame *f, int n, const char *status, const Message *msg, const char *const *keys,
                      DrawLayout *lay) {
    if (n == 1) return window_show(v, f, status, msg, keys, lay);
    for (int i = 0; i < n; i++) {
        f[i].status = status;
        f[i].message = message_get(msg);
        frame_set_keys(&f[i], keys, WINDOW_NKEYS);
    }
    window_draw_panes(&v->canvas, f, n, lay);
    int quit = view_present(v);
    SDL_Delay(10);
    return quit;
}

void window_event(View *v, const SDL_Event *ev, const char *cmd, int *quit, int *status) {
    char err[400];
    if (ev->type == SDL_QUIT) *quit = 1;
    if (ev->type == SDL_WINDOWEVENT && ev->window.event == SDL_WINDOWEVENT_SIZE_CHANGED &&
        view_sync_size(v, err, sizeof err) < 0) {
        fprintf(stderr, "cpcrl %s: %s\n", cmd, err);
        *quit = 1, *status = 1;
    }
}

void window_key(View *v, SDL_Keycode sym, double *speed, Message *msg, int *quit) {
    switch (sym) {
    case SDLK_q:
    case SDLK_ESCAPE: *quit = 1; break;
    case SDLK_F12: take_screenshot(v, msg); break;
    case SDLK_UP:
    case SDLK_PLUS:
    case SDLK_EQUALS:
        if (speed) *speed = *speed * 2 > 960 ? 960 : *speed * 2;
        break;
    case SDLK_DOWN:
    case SDLK_MINUS:
        if (speed) *speed = *speed / 2 < 0.25 ? 0.25 : *speed / 2;
        break;
    default: break;
    }
}

// ----------------------------------------------------------------------------
// The episode a window mode records

static void recording_failed(Recording *rec, const char *err) {
    message_set(rec->msg, 5, "%s", err);
    fprintf(stderr, "cpcrl %s: %s\n", rec->cmd, err);
    *rec->status = 1;
    rec->ok = 0;
}

int recording_begin(Recording *rec, const Env *e, int source, const char *label, double train_frames) {
    char err[600];
    replay_free(&rec->r);
    rec->ok = 1;
    if (replay_begin(&rec->r, e, source, label, train_frames, err, sizeof err) < 0) {
        recording_failed(rec, err);
        return -1;
    }
    return 0;
}

void recording_state(Recording *rec, const Env *e) {
    char err[600];
    if (rec->ok && replay_push_state(&rec->r, e, err, sizeof err) < 0) recording_failed(rec, err);
}

void recording_action(Recording *rec, int action, float reward, float value, const float *probs, uint8_t term,
                      uint8_t trunc, const Env *after) {
    char err[600];
    if (rec->ok && replay_push_action(&rec->r, action, reward, value, probs, term, trunc, after, err, sizeof err) < 0)
        recording_failed(rec, err);
}
