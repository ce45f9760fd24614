// window.h — what the window commands (watch, play, replay) share: the frame
// drawn from an env or a replay, on-screen messages, opening and closing the
// view, the events and keys every mode handles alike, and the episode a mode
// records.
//
// Every window mode is the same loop: poll SDL events (keys, resize, slider
// drags), advance the simulation by wall-clock time at the chosen speed,
// fill a DrawFrame, draw it into the off-screen canvas, present. Each frame
// reuses buffers sized at start-up (and on resize); nothing is allocated
// per frame.
#ifndef CPCRL_WINDOW_H
#define CPCRL_WINDOW_H

#include <stdint.h>
#include <stdio.h>

#include "env/env.h"
#include "replays/cmd.h" // ViewOpts
#include "replays/draw.h"
#include "replays/replay.h"
#include "replays/view.h"

typedef ViewOpts Opts; // flags (cli/options.c's table, parsed by main.c)

// The keys of each mode's window (at most 16 characters each: two columns;
// NULL: none).
#define WINDOW_NKEYS 9
extern const char *const WATCH_KEYS[WINDOW_NKEYS], *const PLAY_KEYS[WINDOW_NKEYS],
    *const REPLAY_KEYS[WINDOW_NKEYS];

// "cpcrl CMD: msg" and the help hint on stderr; returns 2 (usage error).
int window_usage(const char *cmd, const char *msg);

// ---- frames
// f from env e (obs: the caller's buffer for the observation).
void frame_from_env(DrawFrame *f, const Env *e, uint8_t *obs);
// Frame t of a replay into f (env and obs are the caller's scratch).
void frame_from_replay(DrawFrame *f, const Replay *r, int t, Env *e, uint8_t *obs);

// ---- messages shown for a while
double window_now(void); // seconds (SDL's performance counter)
typedef struct {
    char text[256];
    double until;
} Message;
void message_set(Message *m, double secs, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *message_get(const Message *m); // NULL once expired

// ---- the view
// 0, 1 (cannot open) or 2 (bad --keys script), message on stderr.
int window_open(View *v, const Opts *o, const char *title);
int window_close(View *v); // 0, or 1 when the final screenshot failed
// Draw f with its status line, the current message and the mode's keys (a
// WINDOW_NKEYS array), present it, wait 10 ms. Returns view_present's result
// (non-zero: quit). lay (may be NULL) receives where the slider was drawn.
int window_show(View *v, DrawFrame *f, const char *status, const Message *msg, const char *const *keys,
                DrawLayout *lay);
// The same for n frames side by side, each in its own column of the canvas
// (watch with two checkpoints); each gets the status line, message and keys.
int window_show_panes(View *v, DrawFrame *f, int n, const char *status, const Message *msg, const char *const *keys,
                      DrawLayout *lay);
// Draw n frames side by side into c (equal columns); lay (may be NULL) gets
// the first frame's layout.
void window_draw_panes(Canvas *c, DrawFrame *f, int n, DrawLayout *lay);
// Window closed (quit) or resized (a failure to follow: quit with status 1).
void window_event(View *v, const SDL_Event *ev, const char *cmd, int *quit, int *status);
// Keys every mode shares: Q/Esc quit, F12 screenshot and, when speed is not
// NULL, Up/+/= and Down/- double and halve it (0.25..960 steps/s).
void window_key(View *v, SDL_Keycode sym, double *speed, Message *msg, int *quit);

// ---- the episode a window mode records
// A failed call is reported once — in the window, on stderr ("cpcrl CMD: ...")
// and in the exit status — and recording then pauses until the next begin.
typedef struct {
    Replay r;
    int ok;
    const char *cmd;
    Message *msg;
    int *status;
} Recording;
// Start recording e's episode (freeing the previous one). 0 or -1 (reported).
int recording_begin(Recording *rec, const Env *e, int source, const char *label, double train_frames);
void recording_state(Recording *rec, const Env *e);
void recording_action(Recording *rec, int action, float reward, float value, const float *probs, uint8_t term,
                      uint8_t trunc, const Env *after);

#endif
