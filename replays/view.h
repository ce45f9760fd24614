// view.h — the thin SDL2 window: it owns an off-screen ARGB8888 surface the
// software renderer (draw.h) draws into, and only presents it (a blit to the
// window surface; no GPU renderer needed, so Xvfb works). Also the scripted
// input used by tests and the screenshot script: a list of key names pushed
// as SDL key events one every few frames, an automatic quit after N frames,
// and a PNG of the last frame presented.
#ifndef CPCRL_VIEW_H
#define CPCRL_VIEW_H

#include <SDL.h>
#include <stddef.h>

#include "replays/draw.h"

#define VIEW_MAX_SCRIPT 256

typedef struct {
    SDL_Window *win;
    SDL_Surface *surf;      // off-screen canvas surface (ARGB8888)
    Canvas canvas;          // points into surf
    int w, h;
    // scripted input
    SDL_Keycode script[VIEW_MAX_SCRIPT];
    int nscript, script_pos, key_every;
    long frame, auto_quit;  // frames presented; quit after auto_quit (0 = never)
    char screenshot[1024];  // PNG of the last frame, written by view_close ("" = none)
    int shots;              // F12 screenshots taken
} View;

// Parse "UP,UP,LEFT,q" (SDL key names, case-insensitive; WAIT = no key) into
// v->script. Returns 0, or -1 naming the bad key. Usable before view_open.
int view_set_script(View *v, const char *keys, char *err, size_t errlen);
// Open a resizable window of w x h. -1 with SDL's message when there is no display.
int view_open(View *v, const char *title, int w, int h, char *err, size_t errlen);
// Follow the window size (after a resize event). -1 on out of memory.
int view_sync_size(View *v, char *err, size_t errlen);
// Present the canvas, push the next scripted key. Returns 1 when the
// auto-quit frame count is reached, else 0.
int view_present(View *v);
// Write the canvas as PNG.
int view_save_png(View *v, const char *path, char *err, size_t errlen);
// Write the screenshot (if asked for) and close. Returns -1 when the
// screenshot could not be written (message in err).
int view_close(View *v, char *err, size_t errlen);

#endif
